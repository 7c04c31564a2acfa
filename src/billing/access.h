/* access.h: portal access without single sign-on: login links mailed to a customer's
 * address, the confirmation that uses a mailed link (login links and the links other mails
 * carry, in mail_links), and the rate limits behind them, kept in PostgreSQL so every
 * worker and host counts together. Knows no HTTP: the portal's sign-in pages call it. */
#ifndef PORTALD_ACCESS_H
#define PORTALD_ACCESS_H

#include <stdbool.h>

#include "billing/domain.h"
#include "billing/portal_settings.h"
#include "core/token.h"

/* Link requests: per client address and per recipient address, in a window on the
 * site's clock. Both are counted for every request, whether or not the address belongs
 * to a customer, so the limits behave the same for both. */
#define ACCESS_LINK_WINDOW	3600
#define ACCESS_LINK_PER_IP	20
#define ACCESS_LINK_PER_TO	5
#define ACCESS_MAX_ACCOUNTS	20	/* customers of one site sharing an address */

/* A customer asks for a login link to email. The same work is done whether or not the
 * address belongs to a customer of the site (both counters, the look-up, a token made and
 * the message rendered); only a customer's link and message are written. *limited is set
 * when a limit was passed (nothing is sent then). ip may be NULL. The caller commits.
 * 0, or -1 with e (the database, no randomness, login links switched off). */
int	access_request_link(struct dctx *d, const struct portal_settings *s, const char *email,
	    const char *ip, bool *limited, struct derr *e);

/* A mailed link, as its confirmation page shows it. */
struct access_account {
	char	id[DOM_ID_MAX];
	char	name[208];
};
struct access_link {
	char			link_id[DOM_ID_MAX];
	char			customer_id[DOM_ID_MAX];
	char			purpose[48];	/* login_link, card_update, invoice_payment */
	char			path[520];	/* where it signs in: /portal/<site>/... */
	long long		expires_at;
	/* the accounts the link may sign in to: a login link's address may belong to
	 * several customers of the site (the customer chooses); other links name one */
	struct access_account	accounts[ACCESS_MAX_ACCOUNTS];
	int			n_accounts;
};

/* Reads a link without using it (a GET or HEAD of the link changes nothing).
 * DERR_NOT_FOUND "link_invalid" (no such link of this site, a wrong secret),
 * DERR_CONFLICT "link_expired" (used, or too late), DERR_FORBIDDEN "access_revoked". */
int	access_link_check(struct dctx *d, const char *token, struct access_link *out,
	    struct derr *e);

/* What a confirmed link gives: a new logged-in session and its cookie. */
struct access_signin {
	char	session_id[DOM_ID_MAX];
	char	cookie[TOKEN_MAX];	/* "<site>.<session>.<secret>": only its hash is kept */
	char	path[520];		/* where to go now */
};

/* The confirmation (a POST): uses the link up, once, and signs in as customer_id (one
 * of the link's accounts; NULL when it has only one, else DERR_INVALID
 * "account_required"). The session is new (its id is never one the browser had before);
 * old_session (may be NULL), the browser's previous session of this site, is logged out.
 * Emits portal_session.logged_in. The caller commits. */
int	access_link_use(struct dctx *d, const char *token, const char *customer_id,
	    const char *ip, const char *redirect_url, const char *old_session,
	    struct access_signin *out, struct derr *e);

/* "in 15 minutes", "in 2 hours": a lifetime as the mails say it (out: 48 bytes). */
void	access_ttl_words(long long ttl, char out[48]);

#endif
