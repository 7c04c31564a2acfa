/* page_access.c: GET /portal/{site}/access/{token}: the one-time SSO entry into the
 * portal (the old /portal/access/{token} links redirect there), and /portal itself. */
#include <stdio.h>
#include <string.h>

#include "billing/sessions.h"
#include "portal/portal.h"

static void
invalid_link(struct page *p)
{
	page_message(p, 404, "This link is not valid", "The sign-in link is not valid. "
	    "Open the billing portal again from your account.", NULL, NULL);
}


void
page_access(struct page *p)
{
	struct ctx *c = p->c;
	const char *token = c->req->path_params[1];
	struct token t;
	char cookie[TOKEN_MAX], cookie_hash[65], name[96];
	struct derr e;
	PGresult *sess;

	if (token_parse(token, &t) != 0 || strcmp(t.site_id, p->set.site_id) != 0) {
		invalid_link(p);
		return;
	}
	/* The cookie gets a fresh secret: the token in the URL never becomes the session. */
	if (token_new(t.site_id, t.session_id, cookie, sizeof(cookie), cookie_hash) != 0) {
		page_unavailable(p);
		return;
	}
	if (sessions_enter(&p->d, token, c->req->remote_addr, cookie_hash, &e) != 0) {
		if (e.kind == DERR_NOT_FOUND)
			invalid_link(p);
		else if (e.kind != DERR_CONFLICT)
			page_unavailable(p);
		else {
			/* Used or expired: the session still knows the way back. */
			sess = db_exec(c->db, STMT_PSESS_GET, (const char *[]){ t.site_id,
			    t.session_id });
			if (sess != NULL && PQntuples(sess) == 1)
				p->redirect_url = arena_strndup(&c->req->arena,
				    db_val(sess, 0, PS_REDIRECT), strlen(db_val(sess, 0, PS_REDIRECT)));
			PQclear(sess);
			page_message(p, 410, "This link has expired", "Sign-in links work once, "
			    "within an hour. Open the billing portal again from your account.",
			    NULL, NULL);
		}
		return;
	}
	sess = db_exec(c->db, STMT_PSESS_GET, (const char *[]){ t.site_id, t.session_id });
	if (sess == NULL || PQntuples(sess) != 1) {
		PQclear(sess);
		page_unavailable(p);
		return;
	}
	snprintf(name, sizeof(name), PORTAL_COOKIE_PREFIX "%s", t.site_id);
	http_set_cookie(c->resp, name, cookie, -1);
	snprintf(p->location, sizeof(p->location), "%s", db_val(sess, 0, PS_FLOW) != NULL ?
	    portal_flow_target(p, db_val(sess, 0, PS_FLOW)) :
	    db_val(sess, 0, PS_FORWARD) != NULL ? db_val(sess, 0, PS_FORWARD) : page_url(p, ""));
	http_redirect(c->resp, 303, p->location);
	PQclear(sess);
}

/* Links sent before portal URLs named their site: the token names it, so send the
 * browser to the same link under /portal/{site}. Nothing is consumed here. */
void
page_access_legacy(struct page *p)
{
	const char *token = p->c->req->path_params[0];
	struct token t;
	char url[TOKEN_MAX + 80];

	if (token_parse(token, &t) != 0) {
		portal_plain_message(p->c, 404, "This link is not valid", "The sign-in link is "
		    "not valid. Open the billing portal again from your account.");
		return;
	}
	snprintf(url, sizeof(url), "/portal/%s/access/%s", t.site_id, token);
	http_redirect(p->c->resp, 302, url);
}

/* /portal names no site: on a site's own host name it means that site; elsewhere there
 * is nothing to show but how to get in. */
void
page_portal_root(struct page *p)
{
	PGresult *res = p->c->req->host ? db_exec(p->c->db, STMT_SITE_BY_HOST,
	    (const char *[]){ p->c->req->host }) : NULL;

	if (res != NULL && PQntuples(res) == 1) {
		char url[96];

		snprintf(url, sizeof(url), "/portal/%s", db_val(res, 0, 0));
		PQclear(res);
		http_redirect(p->c->resp, 302, url);
		return;
	}
	PQclear(res);
	portal_plain_message(p->c, 404, "Open the billing portal from your account", "Each "
	    "business has its own billing portal. Open it from your account on the business's "
	    "website.");
}
