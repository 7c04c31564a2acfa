/* portal.c: the steps the dispatcher runs for portal routes: the site from the URL, the
 * per-site session cookie with its timeouts, CSRF, one-time form nonces, and the headers
 * every portal response carries. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "billing/sessions.h"
#include "core/log.h"
#include "portal/portal.h"

void
portal_page_free(struct page *p)
{
	if (p == NULL)
		return;
	PQclear(p->session_row);
	p->session_row = NULL;
	PQclear(p->entry);
	p->entry = NULL;
}

static const char *
cookie_name(struct page *p)
{
	size_t n = strlen(PORTAL_COOKIE_PREFIX) + strlen(p->set.site_id) + 1;
	char *name = arena_alloc(&p->c->req->arena, n);

	snprintf(name, n, PORTAL_COOKIE_PREFIX "%s", p->set.site_id);
	return name;
}

/* Whether host is the authority of public_url ("https://billing.example.com/..."). */
static bool
public_host(const char *public_url, const char *host)
{
	const char *a = strstr(public_url, "://"), *end;

	if (a == NULL)
		return false;
	a += 3;
	end = strchr(a, '/');
	return strlen(host) == (end ? (size_t)(end - a) : strlen(a)) &&
	    strncasecmp(a, host, strlen(host)) == 0;
}

/* The site's session cookie, parsed into t, or NULL (no cookie, or not one of this
 * site's): the one reader of it. */
static const char *
site_cookie(struct page *p, const char *site_id, struct token *t)
{
	char name[96];
	const char *cookie;

	snprintf(name, sizeof(name), PORTAL_COOKIE_PREFIX "%s", site_id);
	cookie = http_kvs_get(&p->c->req->cookies, name);
	if (cookie == NULL || token_parse(cookie, t) != 0 || strcmp(t->site_id, site_id) != 0)
		return NULL;
	return cookie;
}

/* The session id the site's cookie names, or NULL. */
static const char *
cookie_session(struct page *p, const char *site_id)
{
	struct token t;

	if (site_cookie(p, site_id, &t) == NULL)
		return NULL;
	return arena_strndup(&p->c->req->arena, t.session_id, strlen(t.session_id));
}

/* STMT_PSESS_PORTAL_GET's columns; in STMT_PORTAL_ENTRY they follow the configuration's. */
enum { PG_ID, PG_COOKIE, PG_STATUS, PG_LOGIN, PG_SEEN, PG_REDIRECT, PG_CUSTOMER, PG_CNAME,
	PG_CEMAIL, PG_FEATURES, PG_FLOW };

/* The session row's stored cookie hash, if the row is there (NULL: none, or its cookie
 * is gone). */
static const char *
row_cookie_hash(PGresult *res, int o)
{
	return PQntuples(res) == 1 && db_val(res, 0, o + PG_ID) != NULL ?
	    db_val(res, 0, o + PG_COOKIE) : NULL;
}

/* Whether the row is a signed-in session whose cookie is this one (constant time). */
static bool
row_signed_in(PGresult *res, int o, const char *cookie)
{
	const char *stored = row_cookie_hash(res, o);
	char hash[65];

	token_hash_hex(cookie, hash);
	return stored != NULL && strlen(stored) == 64 && crypto_equal(hash, stored, 64) &&
	    strcmp(db_val(res, 0, o + PG_STATUS), "logged_in") == 0;
}

int
portal_site(struct page *p, const char *site_id, bool with_session)
{
	int rc = 0;

	/* A signed-in page reads the site and the session in one statement. */
	if (check_id(site_id) == NULL && with_session)
		rc = portal_settings_load_entry(p->c->db, site_id, cookie_session(p, site_id),
		    &p->set, &p->entry);
	else if (check_id(site_id) == NULL)
		rc = portal_settings_load(p->c->db, site_id, NULL, &p->set);

	if (rc < 0) {
		portal_plain_message(p->c, 503, "Please try again", "The billing portal is "
		    "briefly unavailable. Please try again in a moment.");
		return -1;
	}
	if (rc == 0) {
		portal_plain_message(p->c, 404, "Page not found", "There is no billing portal "
		    "at this address. Open the billing portal from your account.");
		return -1;
	}
	p->c->now = (long long)time(NULL) + p->set.clock_offset;
	memset(&p->site, 0, sizeof(p->site));
	snprintf(p->site.id, sizeof(p->site.id), "%s", p->set.site_id);
	snprintf(p->site.mode, sizeof(p->site.mode), "%s", p->set.test_mode ? "test" : "live");
	p->site.clock_offset = p->set.clock_offset;
	dctx_init(&p->d, p->c->db, &p->site, p->c->now, ACTOR_NONE, NULL);
	portal_policy(&p->set, &p->pol);
	/* A host that is another site's own portal host never shows this site's pages
	 * (the installation's own host, the usual case, costs no lookup). */
	if (p->c->req->host != NULL && strcasecmp(p->c->req->host, p->set.custom_host) != 0 &&
	    !public_host(p->c->cfg->public_url, p->c->req->host)) {
		PGresult *res = db_exec(p->c->db, STMT_SITE_BY_HOST,
		    (const char *[]){ p->c->req->host });

		rc = res != NULL && PQntuples(res) == 1;
		PQclear(res);
		if (rc) {
			portal_plain_message(p->c, 404, "Page not found", "There is no billing "
			    "portal at this address. Open the billing portal from your account.");
			return -1;
		}
	}
	return 0;
}

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

int
portal_csrf(struct page *p)
{
	const char *t = http_kvs_get(&p->c->req->form, PORTAL_CSRF_FIELD);

	if (t != NULL && strlen(t) == strlen(p->csrf) && crypto_equal(t, p->csrf, strlen(t)))
		return 0;
	page_message(p, 403, "This form has expired", "The form was out of date or did not "
	    "come from this page, so nothing was changed. Go back, reload the page and try "
	    "again.", page_url(p, ""), "Go to your account");
	return -1;
}

static const char *
pre_cookie_name(struct page *p)
{
	size_t n = strlen(PORTAL_PRE_PREFIX) + strlen(p->set.site_id) + 1;
	char *name = arena_alloc(&p->c->req->arena, n);

	snprintf(name, n, PORTAL_PRE_PREFIX "%s", p->set.site_id);
	return name;
}

const char *
portal_pre_token(struct page *p)
{
	const char *have = http_kvs_get(&p->c->req->cookies, pre_cookie_name(p));
	char *v;

	if (have != NULL && strlen(have) == 22 && crypto_is_b64url(have, 23))
		return have;
	v = arena_alloc(&p->c->req->arena, 32);
	if (crypto_random_b64url(16, v, 32) != 0)
		return "";	/* the POST is then refused: fail closed */
	http_set_cookie(p->c->resp, pre_cookie_name(p), v, -1);
	return v;
}

int
portal_pre_check(struct page *p)
{
	const char *have = http_kvs_get(&p->c->req->cookies, pre_cookie_name(p));
	const char *t = http_kvs_get(&p->c->req->form, PORTAL_CSRF_FIELD);

	if (have != NULL && t != NULL && strlen(have) == 22 && strlen(t) == 22 &&
	    crypto_equal(have, t, 22))
		return 0;
	page_message(p, 403, "This form has expired", "The form was out of date or did not "
	    "come from this page, so nothing was changed. Go back, reload the page and try "
	    "again.", page_url(p, "/login"), "Sign in");
	return -1;
}

const char *
portal_cookie_session(struct page *p)
{
	struct token t;
	const char *cookie = site_cookie(p, p->set.site_id, &t), *id = NULL;
	PGresult *res;

	if (cookie == NULL)
		return NULL;
	res = db_exec(p->c->db, STMT_PSESS_PORTAL_GET, (const char *[]){ t.site_id,
	    t.session_id });
	if (res != NULL && row_signed_in(res, 0, cookie))
		id = arena_strndup(&p->c->req->arena, t.session_id, strlen(t.session_id));
	PQclear(res);
	return id;
}

static void
signed_out(struct page *p, const char *redirect_url, const char *why)
{
	http_set_cookie(p->c->resp, cookie_name(p), "", 0);
	p->redirect_url = redirect_url;
	page_message(p, 401, "You are signed out", why, NULL, NULL);
}

/* Logs the session out and records portal_session.logged_out, in one transaction. */
static int
logout(struct page *p)
{
	struct derr e;

	if (db_begin(p->c->db) != 0)
		return -1;
	if (sessions_logout(&p->d, p->session_id, p->c->req->remote_addr, &e) != 0) {
		db_rollback(p->c->db);
		return -1;
	}
	/* A commit that fails has ended its level: no rollback after it. */
	return db_commit(p->c->db) == 0 ? 0 : -1;
}

int
portal_sign_in_check(struct page *p)
{
	struct ctx *c = p->c;
	struct token t;
	const char *cookie = site_cookie(p, p->set.site_id, &t);
	char now[24];
	PGresult *res;
	long long login, seen;
	int o = 0;	/* where the session's columns start in res */

	if (cookie == NULL) {
		bool had = http_kvs_get(&c->req->cookies, cookie_name(p)) != NULL;

		signed_out(p, NULL, had ? "Your session is not valid. Open the billing portal "
		    "again from your account." : "Open the billing portal from your account to "
		    "sign in.");
		return -1;
	}
	if (p->entry != NULL) {
		/* portal_site read it with the configuration: the row is ours now. */
		res = p->entry;
		p->entry = NULL;
		o = PE_ID;
	} else
		res = db_exec(c->db, STMT_PSESS_PORTAL_GET, (const char *[]){ t.site_id,
		    t.session_id });
	if (res == NULL) {
		page_message(p, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return -1;
	}
	if (!row_signed_in(res, o, cookie)) {
		/* The session exists but ended: offer the way back to the merchant. */
		const char *redir = PQntuples(res) == 1 && db_val(res, 0, o + PG_ID) != NULL &&
		    row_cookie_hash(res, o) == NULL ? arena_strndup(&c->req->arena, db_val(res, 0, o + PG_REDIRECT),
		    strlen(db_val(res, 0, o + PG_REDIRECT))) : NULL;

		PQclear(res);
		signed_out(p, redir, "Your billing portal session has ended.");
		return -1;
	}
	snprintf(p->session_id, sizeof(p->session_id), "%s", t.session_id);
	(void)portal_settings_override(&p->set, db_val(res, 0, o + PG_FEATURES));
	portal_policy(&p->set, &p->pol);
	dctx_init(&p->d, c->db, &p->site, c->now, ACTOR_PORTAL_SESSION, p->session_id);
	login = db_ll(res, 0, o + PG_LOGIN, 0);
	seen = db_ll(res, 0, o + PG_SEEN, login);
	if (c->now - seen > p->set.session_idle_timeout ||
	    c->now - login > p->set.session_absolute_timeout) {
		const char *redir = arena_strndup(&c->req->arena, db_val(res, 0, o + PG_REDIRECT),
		    strlen(db_val(res, 0, o + PG_REDIRECT)));

		PQclear(res);
		(void)logout(p);	/* signed out either way */
		signed_out(p, redir, "Your billing portal session timed out. Open it again "
		    "from your account.");
		return -1;
	}
	/* Activity, at most once a minute (the idle timeout needs no finer grain); a HEAD
	 * changes nothing, not even this. */
	if (c->now - seen >= 60 && c->req->method != HTTP_HEAD)
		PQclear(db_exec(c->db, STMT_PSESS_TOUCH, (const char *[]){ t.site_id,
		    t.session_id, buf_lltoa(c->now, now) }));
	p->signed_in = true;
	p->session_row = res;
	p->customer_id = db_val(res, 0, o + PG_CUSTOMER);
	p->customer_name = db_val(res, 0, o + PG_CNAME);
	p->customer_email = db_val(res, 0, o + PG_CEMAIL);
	p->redirect_url = db_val(res, 0, o + PG_REDIRECT);
	p->flow_json = db_val(res, 0, o + PG_FLOW);
	csrf_for(t.secret, t.session_id, p->csrf);
	return 0;
}

/* Nonces are what page_nonce makes: 22 base64url characters (128 bits). */
static bool
nonce_ok(const char *n)
{
	return n != NULL && strlen(n) == 22 && crypto_is_b64url(n, 23);
}

int
portal_once_claim(struct page *p)
{
	struct ctx *c = p->c;
	char now[24];
	PGresult *res;
	int claimed;

	p->nonce = http_kvs_get(&c->req->form, PORTAL_NONCE_FIELD);
	if (!nonce_ok(p->nonce)) {
		p->nonce = NULL;
		page_message(p, 400, "This form has expired", "The form was incomplete, so "
		    "nothing was changed. Go back, reload the page and try again.",
		    page_url(p, ""), "Go to your account");
		return 0;
	}
	res = db_exec(c->db, STMT_FORM_CLAIM, (const char *[]){ p->set.site_id, p->session_id,
	    p->nonce, buf_lltoa(c->now, now) });
	if (res == NULL)
		goto db_error;
	claimed = PQntuples(res);
	PQclear(res);
	if (claimed == 1)
		return 1;
	/* Sent before: a double click or a reload. Do nothing again; show the first result. */
	res = db_exec(c->db, STMT_FORM_GET, (const char *[]){ p->set.site_id, p->session_id,
	    p->nonce });
	if (res == NULL)
		goto db_error;
	if (PQntuples(res) == 1 && db_val(res, 0, 0) != NULL) {
		http_redirect(c->resp, 303, db_val(res, 0, 0));
		PQclear(res);
		return 0;
	}
	PQclear(res);
	page_message(p, 409, "We are still working on this", "This form was already sent "
	    "and is still being processed. Nothing was done twice. Check the result in a "
	    "moment.", page_url(p, ""), "Go to your account");
	return 0;
db_error:
	page_message(p, 503, "Please try again", "The billing portal is briefly unavailable. "
	    "Nothing was changed. Please try again in a moment.", NULL, NULL);
	return -1;
}

int
portal_once_finish(struct page *p, bool keep)
{
	PGresult *res;

	if (p->nonce == NULL)
		return 0;
	if (keep)
		res = db_exec(p->c->db, STMT_FORM_DONE, (const char *[]){ p->set.site_id,
		    p->session_id, p->nonce, p->location });
	else
		res = db_exec(p->c->db, STMT_FORM_RELEASE, (const char *[]){ p->set.site_id,
		    p->session_id, p->nonce });
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Sign out: ends the session (an event), clears the cookie, and shows the signed-out
 * page, which offers the way back to the merchant. The redirect stays on this origin:
 * form-action 'self' also governs where a form's redirect may go. */
void
page_sign_out(struct page *p)
{
	char suffix[96];

	if (logout(p) != 0) {
		page_message(p, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return;
	}
	http_set_cookie(p->c->resp, cookie_name(p), "", 0);
	snprintf(suffix, sizeof(suffix), "/signed_out?session=%s", p->session_id);
	page_redirect(p, suffix);
}

void
page_signed_out(struct page *p)
{
	const char *sid = http_kvs_get(&p->c->req->args, "session");
	PGresult *res = NULL;

	/* The ended session tells the way back; its id is 96 random bits, its redirect URL
	 * is the merchant's own page. A live session is not signed out here. */
	if (sid != NULL && check_id(sid) == NULL)
		res = db_exec(p->c->db, STMT_PSESS_GET, (const char *[]){ p->set.site_id, sid });
	if (res != NULL && PQntuples(res) == 1 &&
	    strcmp(db_val(res, 0, PS_STATUS), "logged_out") == 0)
		p->redirect_url = arena_strndup(&p->c->req->arena, db_val(res, 0, PS_REDIRECT),
		    strlen(db_val(res, 0, PS_REDIRECT)));
	PQclear(res);
	page_message(p, 200, "You have signed out", "You have signed out of the billing "
	    "portal. To come back, open it again from your account.", NULL, NULL);
}
