/* page_access.c: GET /portal/access/{token}: the one-time SSO entry into the portal. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portal/portal.h"

static void
invalid_link(struct ctx *c)
{
	portal_message(c, 404, "This link is not valid", "The sign-in link is not valid. "
	    "Open the billing portal again from your account.", NULL, NULL);
}

void
page_access(struct ctx *c)
{
	const char *token = c->req->path_params[0];
	struct token t;
	char hash[65], cookie[TOKEN_MAX], cookie_hash[65], now[24];
	const char *params[5];
	PGresult *site, *sess, *done;
	const char *fwd;

	if (token_parse(token, &t) != 0) {
		invalid_link(c);
		return;
	}
	params[0] = t.site_id;
	site = db_exec(c->db, STMT_SITE_GET, params);
	if (site == NULL) {
		portal_message(c, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return;
	}
	if (PQntuples(site) == 0) {
		PQclear(site);
		invalid_link(c);
		return;
	}
	c->now = (long long)time(NULL) + db_ll(site, 0, 3, 0);
	PQclear(site);

	params[1] = t.session_id;
	sess = db_exec(c->db, STMT_PSESS_GET, params);
	if (sess == NULL) {
		portal_message(c, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return;
	}
	token_hash_hex(token, hash);
	if (PQntuples(sess) == 0 || !crypto_equal(hash, db_val(sess, 0, PS_TOKEN_HASH), 64)) {
		PQclear(sess);
		invalid_link(c);
		return;
	}
	if (strcmp(db_val(sess, 0, PS_STATUS), "created") != 0 ||
	    db_ll(sess, 0, PS_EXPIRES, 0) <= c->now) {
		portal_message(c, 410, "This link has expired", "Sign-in links work once, "
		    "within an hour. Open the billing portal again from your account.",
		    db_val(sess, 0, PS_REDIRECT), "Back to your account");
		PQclear(sess);
		return;
	}
	/* The cookie gets a fresh secret: the token in the URL never becomes the session. */
	if (token_new(t.site_id, t.session_id, cookie, sizeof(cookie), cookie_hash) != 0) {
		PQclear(sess);
		portal_message(c, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return;
	}
	params[2] = buf_lltoa(c->now, now);
	params[3] = c->req->remote_addr;
	params[4] = cookie_hash;
	done = db_exec(c->db, STMT_PSESS_CONSUME, params);
	if (done == NULL || PQntuples(done) == 0) {
		/* Lost a race with another use of the same link, or the database went away. */
		if (done == NULL)
			portal_message(c, 503, "Please try again", "The billing portal is "
			    "briefly unavailable. Please try again in a moment.", NULL, NULL);
		else
			portal_message(c, 410, "This link has expired", "Sign-in links work "
			    "once. Open the billing portal again from your account.",
			    db_val(sess, 0, PS_REDIRECT), "Back to your account");
		PQclear(done);
		PQclear(sess);
		return;
	}
	fwd = db_val(sess, 0, PS_FORWARD);
	http_set_cookie(c->resp, PORTAL_COOKIE, cookie, -1);
	http_header(c->resp, "Cache-Control", "no-store");
	http_header(c->resp, "Referrer-Policy", "no-referrer");
	http_redirect(c->resp, 303, fwd ? fwd : "/portal");
	PQclear(done);
	PQclear(sess);
}
