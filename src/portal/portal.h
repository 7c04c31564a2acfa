/* portal.h: portal tokens and cookies, the signed-in customer, and page rendering. */
#ifndef PORTALD_PORTAL_H
#define PORTALD_PORTAL_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/crypto.h"
#include "core/token.h"
#include "http/ctx.h"

#define PORTAL_COOKIE		"__Host-portald_session"

/* The signed-in customer, from the session cookie. */
struct portal_user {
	char		 session_id[48];
	char		 site_id[48];
	const char	*customer_id;
	const char	*customer_name;
	const char	*customer_email;
	const char	*site_name;
	const char	*redirect_url;
	char		 csrf[48];
	PGresult	*res;	/* owns the strings above; portal_user_free */
};

/* Checks the cookie, the session status and the site's idle and absolute timeouts.
 * On failure renders the "signed out" page, clears the cookie, returns -1. */
int	portal_auth(struct ctx *c, struct portal_user *u);
void	portal_user_free(struct portal_user *u);
bool	portal_csrf_ok(const struct portal_user *u, const char *token);

/* Logs the session out and records portal_session.logged_out, in one transaction.
 * Returns -1 when the database failed. */
int	portal_logout(struct ctx *c, const char *site_id, const char *session_id);

/* Renders templates/<name>.html into the layout. data is consumed. */
void	portal_render(struct ctx *c, int status, const char *title, const char *tpl,
	    cJSON *data);
/* A plain message page: heading, text and an optional link back. */
void	portal_message(struct ctx *c, int status, const char *title, const char *text,
	    const char *link, const char *link_text);

void	page_access(struct ctx *c);
void	page_home(struct ctx *c);
void	page_logout(struct ctx *c);

#endif
