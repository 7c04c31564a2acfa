/* portal.c: portal tokens and the session cookie, timeouts, CSRF, and page rendering. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing/sessions.h"
#include "core/log.h"
#include "portal/portal.h"
#include "core/tmpl.h"

/* The CSRF token is an HMAC of the session id under the cookie's secret: bound to this
 * login, nothing stored, and useless without the cookie. */
static void
csrf_for(const char *cookie_secret, const char *session_id, char out[48])
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	char msg[64];

	snprintf(msg, sizeof(msg), "csrf:%s", session_id);
	crypto_hmac_sha256(cookie_secret, strlen(cookie_secret), msg, strlen(msg), mac);
	crypto_b64url(mac, sizeof(mac), out, 48);
}

bool
portal_csrf_ok(const struct portal_user *u, const char *token)
{
	return token != NULL && strlen(token) == strlen(u->csrf) &&
	    crypto_equal(token, u->csrf, strlen(u->csrf));
}

void
portal_user_free(struct portal_user *u)
{
	if (u == NULL)
		return;
	PQclear(u->res);
	u->res = NULL;
}

static void
signed_out(struct ctx *c, const char *redirect_url, const char *why)
{
	http_set_cookie(c->resp, PORTAL_COOKIE, "", 0);
	portal_message(c, 401, "You are signed out", why, redirect_url,
	    "Back to your account");
}

int
portal_logout(struct ctx *c, const char *site_id, const char *session_id)
{
	struct site site;
	struct dctx d;
	struct derr e;

	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", site_id);
	dctx_init(&d, c->db, &site, c->now, ACTOR_PORTAL_SESSION, session_id);
	if (db_begin(c->db) != 0)
		return -1;
	if (sessions_logout(&d, session_id, c->req->remote_addr, &e) != 0 ||
	    db_commit(c->db) != 0) {
		db_rollback(c->db);
		return -1;
	}
	return 0;
}

enum { PG_ID, PG_COOKIE, PG_STATUS, PG_LOGIN, PG_SEEN, PG_REDIRECT, PG_CUSTOMER, PG_CNAME,
	PG_CEMAIL, PG_SNAME, PG_SMODE, PG_OFFSET, PG_IDLE, PG_ABS, PG_FEATURES };

int
portal_auth(struct ctx *c, struct portal_user *u)
{
	const char *cookie = http_kvs_get(&c->req->cookies, PORTAL_COOKIE);
	struct token t;
	char hash[65], now[24];
	const char *params[4];
	const char *stored;
	PGresult *res;
	long long login, seen;

	memset(u, 0, sizeof(*u));
	if (cookie == NULL || token_parse(cookie, &t) != 0) {
		signed_out(c, NULL, cookie ? "Your session is not valid. Open the billing "
		    "portal again from your account." : "Open the billing portal from your "
		    "account to sign in.");
		return -1;
	}
	params[0] = t.site_id;
	params[1] = t.session_id;
	res = db_exec(c->db, STMT_PSESS_PORTAL_GET, params);
	if (res == NULL) {
		portal_message(c, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return -1;
	}
	token_hash_hex(cookie, hash);
	stored = PQntuples(res) == 1 ? db_val(res, 0, PG_COOKIE) : NULL;
	if (stored == NULL || strlen(stored) != 64 || !crypto_equal(hash, stored, 64) ||
	    strcmp(db_val(res, 0, PG_STATUS), "logged_in") != 0) {
		const char *redir = PQntuples(res) == 1 && stored == NULL ?
		    db_val(res, 0, PG_REDIRECT) : NULL;

		/* The session exists but ended: offer the way back to the merchant. */
		signed_out(c, redir, "Your billing portal session has ended.");
		PQclear(res);
		return -1;
	}
	c->now = (long long)time(NULL) + db_ll(res, 0, PG_OFFSET, 0);
	login = db_ll(res, 0, PG_LOGIN, 0);
	seen = db_ll(res, 0, PG_SEEN, login);
	if (c->now - seen > db_ll(res, 0, PG_IDLE, 1800) ||
	    c->now - login > db_ll(res, 0, PG_ABS, 43200)) {
		(void)portal_logout(c, t.site_id, t.session_id);	/* signed out either way */
		signed_out(c, db_val(res, 0, PG_REDIRECT), "Your billing portal session timed "
		    "out. Open it again from your account.");
		PQclear(res);
		return -1;
	}
	/* Record activity at most once a minute: the idle timeout needs no finer grain. */
	if (c->now - seen >= 60) {
		PGresult *touch;

		params[2] = buf_lltoa(c->now, now);
		touch = db_exec(c->db, STMT_PSESS_TOUCH, params);
		PQclear(touch);
	}
	snprintf(u->site_id, sizeof(u->site_id), "%s", t.site_id);
	snprintf(u->session_id, sizeof(u->session_id), "%s", t.session_id);
	u->res = res;
	u->customer_id = db_val(res, 0, PG_CUSTOMER);
	u->customer_name = db_val(res, 0, PG_CNAME);
	u->customer_email = db_val(res, 0, PG_CEMAIL);
	u->site_name = db_val(res, 0, PG_SNAME);
	u->redirect_url = db_val(res, 0, PG_REDIRECT);
	csrf_for(t.secret, t.session_id, u->csrf);
	return 0;
}

void
portal_render(struct ctx *c, int status, const char *title, const char *tpl, cJSON *data)
{
	struct buf content;
	char path[96], err[128];
	cJSON *layout;

	buf_init(&content);
	snprintf(path, sizeof(path), "templates/%s.html", tpl);
	c->resp->status = status;
	c->resp->content_type = "text/html; charset=utf-8";
	buf_reset(&c->resp->body);
	if (tmpl_render_file(path, data, &content, err, sizeof(err)) != 0) {
		log_error("template %s: %s", path, err);
		c->resp->status = 500;
		buf_puts(&content, "<p>Something went wrong.</p>");
	}
	layout = cJSON_CreateObject();
	cJSON_AddStringToObject(layout, "title", title);
	cJSON_AddStringToObject(layout, "content", content.data ? content.data : "");
	cJSON_AddItemToObject(layout, "page", data);	/* layout reads brand etc. from here */
	if (tmpl_render_file("templates/layout.html", layout, &c->resp->body, err,
	    sizeof(err)) != 0) {
		log_error("template layout: %s", err);
		c->resp->status = 500;
	}
	cJSON_Delete(layout);
	buf_free(&content);
	http_header(c->resp, "Cache-Control", "no-store");
	http_header(c->resp, "Content-Security-Policy", "default-src 'self'; img-src 'self' "
	    "https: data:; style-src 'self'; form-action 'self' https: http:; "
	    "frame-ancestors 'none'; base-uri 'none'");
	http_header(c->resp, "X-Content-Type-Options", "nosniff");
	http_header(c->resp, "Referrer-Policy", "no-referrer");
}

void
portal_message(struct ctx *c, int status, const char *title, const char *text,
    const char *link, const char *link_text)
{
	cJSON *d = cJSON_CreateObject();

	/* Unavailable for a moment (the database): say when to come back. */
	if (status == 503)
		http_header(c->resp, "Retry-After", "1");
	cJSON_AddStringToObject(d, "heading", title);
	cJSON_AddStringToObject(d, "text", text);
	if (link != NULL) {
		cJSON_AddStringToObject(d, "link", link);
		cJSON_AddStringToObject(d, "link_text", link_text ? link_text : link);
	}
	portal_render(c, status, title, "message", d);
}
