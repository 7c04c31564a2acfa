/* sessions.h: portal sessions: created for a customer by the merchant's backend (single
 * sign-on), entered once through the access link, ended by logout or timeout. Tokens are
 * stored as SHA-256 hashes only. */
#ifndef PORTALD_SESSIONS_H
#define PORTALD_SESSIONS_H

#include "billing/domain.h"
#include "core/token.h"

struct session_req {
	const char	*customer_id, *redirect_url;
	const char	*forward_path;		/* validated: a path under /portal, or NULL */
	const char	*features_json;		/* per-session overrides, or NULL */
	const char	*flow_json;		/* a deep link {"type", "subscription_id"}, or
						 * NULL */
};

/* Creates the session; token receives the one-time access token (shown once). Overrides
 * must name plans of the site and fit the site's settings (idle <= absolute timeout), a
 * flow's subscription must be the customer's: else DERR_INVALID. */
int	sessions_create(struct dctx *d, const struct session_req *r, char id[DOM_ID_MAX],
	    char token[TOKEN_MAX], struct derr *e);
/* Logging out a logged-out session succeeds and changes nothing. ip may be NULL. */
int	sessions_logout(struct dctx *d, const char *id, const char *ip, struct derr *e);
/* The merchant's backend redeems the token (the link is used up). */
int	sessions_activate(struct dctx *d, const char *id, const char *token, const char *ip,
	    struct derr *e);

/* The customer opens the access link: the token is checked and used up (once, within its
 * hour), and the session is logged in under a new cookie secret, of which only its hash
 * is given. DERR_NOT_FOUND "link_invalid" for a token that names no session of this site,
 * DERR_CONFLICT "link_expired" for a link used before or too late. */
int	sessions_enter(struct dctx *d, const char *token, const char *ip,
	    const char *cookie_hash, struct derr *e);

/* A session signed in on the portal itself (a mailed login link; method names how): it is
 * created logged in, under a new id and a new cookie secret (cookie receives the cookie's
 * text, of which only the hash is kept). A revoked customer gets DERR_FORBIDDEN
 * "access_revoked". Emits portal_session.logged_in. ip may be NULL. */
int	sessions_sign_in(struct dctx *d, const char *customer_id, const char *method,
	    const char *ip, const char *redirect_url, char id[DOM_ID_MAX],
	    char cookie[TOKEN_MAX], struct derr *e);

/* An invitation's session: status not_yet_activated, its token hash the invitation
 * link's, until expires. Emits portal_session.created. */
int	sessions_invite(struct dctx *d, const char *customer_id, const char *token_hash,
	    long long expires, const char *redirect_url, char id[DOM_ID_MAX], struct derr *e);
/* Ends every session of the customer that is signed in or may still be entered (a
 * password change, revoked access), each with portal_session.logged_out. *n (may be NULL)
 * receives how many. */
int	sessions_end_all(struct dctx *d, const char *customer_id, const char *ip, int *n,
	    struct derr *e);

#endif
