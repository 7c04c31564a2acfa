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
#define ACCESS_RATE_KEEP	86400	/* a counter older than any window: dropped */
#define ACCESS_LINK_PER_IP	20
#define ACCESS_LINK_PER_TO	5
#define ACCESS_MAX_ACCOUNTS	20	/* customers of one site sharing an address */

/* A customer asks for a login link to email. The same work is done whether or not the
 * address belongs to a customer of the site (both counters, the look-up, a token made and
 * the message rendered); only a customer's link and message are written. *limited is set
 * when a limit was passed (nothing is sent then); *found when the address names a customer
 * who may sign in (for a site that answers "not found": s->reveal_unknown_email). ip may
 * be NULL. The caller commits. 0, or -1 with e (the database, no randomness, login links
 * switched off). */
int	access_request_link(struct dctx *d, const struct portal_settings *s, const char *email,
	    const char *ip, bool *limited, bool *found, struct derr *e);

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

/* ---- passwords ---- */
#define ACCESS_PASSWORD_PER_IP	30	/* sign-in attempts per client address per window */
#define ACCESS_CONFIRM_TTL	86400	/* a sign-up's or invitation's set-password link */
#define ACCESS_RESET_TTL	3600	/* a forgotten password's link */

enum access_pw {
	ACCESS_PW_OK,		/* signed in: out is filled */
	ACCESS_PW_WRONG,	/* no such account, or not its password (one answer) */
	ACCESS_PW_WAIT,		/* the delay after failures: *wait seconds */
	ACCESS_PW_LIMITED	/* too many attempts from this client address */
};

/* Signs in with an address and a password. An address that names no active account
 * costs one Argon2id computation, as a wrong password does. A wrong password counts a
 * failure for the address from this client address, whether or not the address is a
 * customer's (from the fourth on, that client's next attempt waits 5, 10, 20, at most
 * 30 s: slower guessing, and no lockout anyone else can cause); attempts from ip are
 * limited. The caller commits whatever the result (the counters must stay). */
int	access_password_sign_in(struct dctx *d, const struct portal_settings *s,
	    const char *email, const char *pw, const char *ip, const char *redirect_url,
	    const char *old_session, struct access_signin *out, enum access_pw *result,
	    long long *wait, struct derr *e);

/* Sign-up and forgotten password: mails the customer of email a set-password link (the
 * confirmation wording while the account is pending, which it becomes now if it was
 * none; the reset wording once it is active). The same answer and work for an address
 * that names nobody; counted in the login-link buckets. */
int	access_request_password_link(struct dctx *d, const struct portal_settings *s,
	    const char *email, const char *ip, bool *limited, struct derr *e);

/* Uses a set-password link (purpose set_password or invitation): checks pw against the
 * password policy (DERR_INVALID "password_invalid" with the sentence to show, and the
 * link is not used), stores its Argon2id hash, makes the account active (emitting
 * portal_account.activated the first time), ends every session of the customer, mails
 * password_changed when a password was replaced, and signs in under a new session. */
int	access_set_password(struct dctx *d, const char *token, const char *pw, const char *ip,
	    const char *redirect_url, const char *old_session, struct access_signin *out,
	    struct derr *e);

/* Whether a link's purpose sets a password (its page shows a password form). */
bool	access_link_sets_password(const struct access_link *l);

/* ---- invitations and revocation ---- */
#define ACCESS_INVITE_TTL	(7 * 86400)	/* an invitation's link */
#define ACCESS_INVITE_MAX	5		/* invitations (and resends) per customer ... */
#define ACCESS_INVITE_WINDOW	1800		/* ... per 30 minutes */

/* Invites the customer (the site must have passwords on: DERR_FORBIDDEN "password_off"):
 * the account becomes pending (portal_state invited), an invitation mail carries a link
 * to set the password, and a portal session with status not_yet_activated stands for it
 * (session_id; activated when the password is set). Sending again is a resend; more than
 * 5 in 30 minutes sets *limited and sends nothing. A revoked customer, one without an
 * address or one whose password is set already is refused (409, 400, 409). */
int	access_invite(struct dctx *d, const char *customer_id, char session_id[DOM_ID_MAX],
	    bool *limited, struct derr *e);
/* events_emit's reaction (events_set_reaction): subscription.created invites the
 * customer when the site says so (sign_in.invite_on_subscription) and the customer has no
 * portal account yet. */
int	access_on_event(struct dctx *d, const char *type, const char *data, struct derr *e);
/* Revokes the customer's portal access at once: every session ended, every mailed link
 * unusable, no new sign-in until restored. Emits portal_access.revoked. */
int	access_revoke(struct dctx *d, const char *customer_id, struct derr *e);
/* Lets a revoked customer in again (portal_state active with a password, else none). */
int	access_restore(struct dctx *d, const char *customer_id, struct derr *e);

/* ---- management links ---- */
#define ACCESS_MLINK_RENEW	86400	/* a new link is available a day after the last */
#define ACCESS_MLINK_READS	15	/* reads before that; more is a 429 */

struct access_mlink {
	char		url[1024];
	long long	created_at, expires_at, new_link_available_at;
	int		fetch_count;
};

/* Reads the customer's management link (made on first read): the URL is derived by HMAC
 * under the server key from the site, the customer, its generation and creation time,
 * and never stored. Every read counts, in the one statement that answers it; more than
 * 15 before new_link_available_at sets *limited and is not counted (the caller answers
 * 429; out shows the link as it stands). A read after that time once 15
 * reads were made, or of an expired link, makes a new one; so does regenerate, at once
 * (the old link stops working). base_url: the portal's base ("https://host"). */
int	access_mlink_read(struct dctx *d, const char *customer_id, bool regenerate,
	    const char *base_url, struct access_mlink *out, bool *limited, struct derr *e);
/* Checks a management link's token: the customer it is for, in customer.
 * DERR_NOT_FOUND "link_invalid" (forged, or an old generation), DERR_CONFLICT
 * "link_expired", DERR_FORBIDDEN "access_revoked". Reads only. */
int	access_mlink_check(struct dctx *d, const char *token, char customer[DOM_ID_MAX],
	    struct derr *e);
/* Signs in with a management link (its confirmation's POST): a new session, method
 * management_link, portal_session.logged_in. The link stays usable until it expires. */
int	access_mlink_use(struct dctx *d, const char *token, const char *ip,
	    const char *redirect_url, const char *old_session, struct access_signin *out,
	    struct derr *e);
/* The browser's proof that it signed in by email as customer (a cookie value,
 * "<customer>.<HMAC>"), and its check. The HMAC covers the site, the customer, the
 * customer's address as it is now (lower-cased) and the time its password was last set:
 * a changed address or a new password voids every proof made before. -1 / false when
 * the customer has no address (or the database fails). */
int	access_verified_value(struct dctx *d, const char *customer_id, char out[160]);
bool	access_verified_ok(struct dctx *d, const char *value, const char *customer_id);

/* "in 15 minutes", "in 2 hours": a lifetime as the mails say it (out: 48 bytes). */
void	access_ttl_words(long long ttl, char out[48]);

#endif
