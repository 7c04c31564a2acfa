/* access.c: login links by email, the use of mailed links, and the rate limits behind them. */
#include <stdio.h>
#include <string.h>

#include "billing/access.h"
#include "billing/customers.h"
#include "billing/notify.h"
#include "billing/sessions.h"
#include "billing/events.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/passhash.h"
#include "core/password_policy.h"

void
access_ttl_words(long long ttl, char out[48])
{
	if (ttl >= 2 * 86400 && ttl % 86400 == 0)
		snprintf(out, 48, "in %lld days", ttl / 86400);
	else if (ttl >= 7200 && ttl % 3600 == 0)
		snprintf(out, 48, "in %lld hours", ttl / 3600);
	else if (ttl == 3600)
		snprintf(out, 48, "in 1 hour");
	else if (ttl >= 120)
		snprintf(out, 48, "in %lld minutes", ttl / 60);
	else
		snprintf(out, 48, "in %lld seconds", ttl);
}

/* Counts a hit in bucket; *over is set when the window's hits pass max. */
static int
rate_hit_in(struct dctx *d, const char *bucket, int max, long long window, bool *over,
    struct derr *e)
{
	char now[24], win[24], stale[24];
	PGresult *res = db_exec(d->db, STMT_RATE_PRUNE, (const char *[]){ d->site.id,
	    buf_lltoa(d->now - ACCESS_RATE_KEEP, stale) });

	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_RATE_HIT, (const char *[]){ d->site.id, bucket,
	    buf_lltoa(d->now, now), buf_lltoa(window, win) });
	if (res == NULL)
		return derr_db(e, d->db);
	if (db_ll(res, 0, 0, 0) > max)
		*over = true;
	PQclear(res);
	return 0;
}

static int
rate_hit(struct dctx *d, const char *bucket, int max, bool *over, struct derr *e)
{
	return rate_hit_in(d, bucket, max, ACCESS_LINK_WINDOW, over, e);
}

/* An address lower-cased (ASCII: the domain part is case-blind, and the local part is
 * matched case-blind everywhere in Portald) into out, cut to n - 1 bytes; its length. */
static size_t
lower_address(const char *email, char *out, size_t n)
{
	size_t i = 0;

	for (; email[i] != '\0' && i < n - 1; i++)
		out[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] - 'A' + 'a' :
		    email[i]);
	out[i] = '\0';
	return i;
}

/* The recipient's bucket: a hash of the lower-cased address, so the table holds none. */
static void
recipient_bucket(const char *email, char out[96])
{
	char lower[256], hex[65];
	unsigned char h[CRYPTO_SHA256_LEN];
	size_t n = lower_address(email, lower, sizeof(lower));

	crypto_sha256(lower, n, h);
	crypto_hex(h, sizeof(h), hex);
	snprintf(out, 96, "link_to:%s", hex);
}

int
access_request_link(struct dctx *d, const struct portal_settings *s, const char *email,
    const char *ip, bool *limited, bool *found, struct derr *e)
{
	const struct config *cfg = notify_config();
	char bucket[96], lid[DOM_ID_MAX], token[TOKEN_MAX], hash[65], a[2][24], words[48];
	char url[CONFIG_STR_MAX + TOKEN_MAX + 64], path[120], customer[DOM_ID_MAX] = "";
	char base[CONFIG_STR_MAX + 1], *json;
	cJSON *data, *link;
	PGresult *res;
	bool over = false;
	int rc;

	*limited = false;
	*found = false;
	if (!s->login_link)
		return derr_set(e, DERR_FORBIDDEN, "login_link_off", NULL,
		    "This portal does not send login links.");
	if (cfg == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Mail is not set up in this process.");
	snprintf(bucket, sizeof(bucket), "link_ip:%.80s", ip != NULL ? ip : "unknown");
	if (rate_hit(d, bucket, ACCESS_LINK_PER_IP, &over, e) != 0)
		return -1;
	recipient_bucket(email, bucket);
	if (rate_hit(d, bucket, ACCESS_LINK_PER_TO, &over, e) != 0)
		return -1;
	/* The first customer of the address that may sign in; any other that shares it is
	 * offered after the link is confirmed. */
	res = db_exec(d->db, STMT_CUSTOMERS_BY_EMAIL, (const char *[]){ d->site.id, email });
	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(db_val(res, i, 3), "revoked") != 0) {
			snprintf(customer, sizeof(customer), "%s", db_val(res, i, 0));
			break;
		}
	PQclear(res);
	*found = customer[0] != '\0';
	if (over) {
		*limited = true;
		return 0;
	}
	/* From here the same statements run in the same order for an address that names
	 * nobody (customer ""): the link's and the message's inserts are conditional on the
	 * customer and write no row for nobody. */
	if (dom_new_id("lnk", lid, e) != 0)
		return -1;
	if (token_new(d->site.id, lid, token, sizeof(token), hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	if (notify_site_url(d, base, sizeof(base), e) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/portal/%s/link/%s", base, d->site.id, token);
	access_ttl_words(s->login_link_ttl, words);
	snprintf(path, sizeof(path), "/portal/%s", d->site.id);
	res = db_exec(d->db, STMT_MAIL_LINK_INSERT, (const char *[]){ d->site.id, lid, customer,
	    "login_link", path, hash, buf_lltoa(d->now, a[0]),
	    buf_lltoa(d->now + s->login_link_ttl, a[1]) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	data = cJSON_CreateObject();
	link = cJSON_AddObjectToObject(data, "link");
	cJSON_AddStringToObject(link, "url", url);
	cJSON_AddStringToObject(link, "expires", words);
	json = cJSON_PrintUnformatted(data);
	rc = notify_queue_alike(d, "login_link", customer, email, json, NULL, e);
	cJSON_free(json);
	cJSON_Delete(data);
	return rc;
}

static int
invalid(struct derr *e)
{
	return derr_set(e, DERR_NOT_FOUND, "link_invalid", "token", "The link is not valid.");
}

int
access_link_check(struct dctx *d, const char *token, struct access_link *out,
    struct derr *e)
{
	struct token t;
	char hash[65], email[256] = "";
	PGresult *res;
	bool used, revoked;

	memset(out, 0, sizeof(*out));
	if (token_parse(token, &t) != 0 || strcmp(t.site_id, d->site.id) != 0)
		return invalid(e);
	res = db_exec(d->db, STMT_MAIL_LINK_GET, (const char *[]){ d->site.id, t.session_id });
	if (res == NULL)
		return derr_db(e, d->db);
	token_hash_hex(token, hash);
	if (PQntuples(res) != 1 || !crypto_equal(hash, db_val(res, 0, ML_HASH), 64)) {
		PQclear(res);
		return invalid(e);
	}
	snprintf(out->link_id, sizeof(out->link_id), "%s", t.session_id);
	snprintf(out->customer_id, sizeof(out->customer_id), "%s", db_val(res, 0, ML_CUSTOMER));
	snprintf(out->purpose, sizeof(out->purpose), "%s", db_val(res, 0, ML_PURPOSE));
	snprintf(out->path, sizeof(out->path), "%s", db_val(res, 0, ML_PATH));
	snprintf(email, sizeof(email), "%s", db_val(res, 0, ML_EMAIL) ? db_val(res, 0, ML_EMAIL) :
	    "");
	out->expires_at = db_ll(res, 0, ML_EXPIRES, 0);
	used = db_val(res, 0, ML_USED) != NULL;
	revoked = strcmp(db_val(res, 0, ML_STATE), "revoked") == 0;
	PQclear(res);
	if (used || out->expires_at <= d->now)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "The link was used already, or it has expired.");
	/* A login link is for the address: every customer of the site that has it and may
	 * sign in. Other links are for their customer alone. */
	if (strcmp(out->purpose, "login_link") == 0 && email[0] != '\0') {
		res = db_exec(d->db, STMT_CUSTOMERS_BY_EMAIL, (const char *[]){ d->site.id,
		    email });
		if (res == NULL)
			return derr_db(e, d->db);
		for (int i = 0; i < PQntuples(res) && out->n_accounts < ACCESS_MAX_ACCOUNTS; i++) {
			struct access_account *acc = &out->accounts[out->n_accounts];

			if (strcmp(db_val(res, i, 3), "revoked") == 0)
				continue;
			snprintf(acc->id, sizeof(acc->id), "%s", db_val(res, i, 0));
			snprintf(acc->name, sizeof(acc->name), "%s", db_val(res, i, 1) ?
			    db_val(res, i, 1) : db_val(res, i, 0));
			out->n_accounts++;
		}
		PQclear(res);
	} else if (!revoked) {
		snprintf(out->accounts[0].id, sizeof(out->accounts[0].id), "%s", out->customer_id);
		out->n_accounts = 1;
	}
	if (out->n_accounts == 0)
		return derr_set(e, DERR_FORBIDDEN, "access_revoked", "token",
		    "The customer's portal access is revoked.");
	return 0;
}

int
access_link_use(struct dctx *d, const char *token, const char *customer_id,
    const char *ip, const char *redirect_url, const char *old_session,
    struct access_signin *out, struct derr *e)
{
	struct access_link l;
	const char *who = NULL;
	char now[24];
	PGresult *res;
	int n;

	memset(out, 0, sizeof(*out));
	if (access_link_check(d, token, &l, e) != 0)
		return -1;
	if (customer_id == NULL || customer_id[0] == '\0') {
		if (l.n_accounts != 1)
			return derr_set(e, DERR_INVALID, "account_required", "customer_id",
			    "Choose the account to sign in to.");
		who = l.accounts[0].id;
	} else {
		for (int i = 0; i < l.n_accounts; i++)
			if (strcmp(l.accounts[i].id, customer_id) == 0)
				who = l.accounts[i].id;
		if (who == NULL)
			return derr_set(e, DERR_INVALID, "account_required", "customer_id",
			    "Choose one of the accounts offered.");
	}
	/* Single use: of two confirmations at once, the second finds the link used. */
	res = db_exec(d->db, STMT_MAIL_LINK_USE, (const char *[]){ d->site.id, l.link_id,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "The link was used already, or it has expired.");
	if (old_session != NULL && sessions_logout(d, old_session, ip, e) != 0 &&
	    e->kind != DERR_NOT_FOUND)
		return -1;
	/* Every mailed link proves the mailbox: it signs in as a login link does. */
	if (sessions_sign_in(d, who, "login_link", ip, redirect_url, out->session_id, out->cookie,
	    e) != 0)
		return -1;
	snprintf(out->path, sizeof(out->path), "%s", l.path);
	return 0;
}

/* ---- passwords ---- */

bool
access_link_sets_password(const struct access_link *l)
{
	return strcmp(l->purpose, "set_password") == 0 || strcmp(l->purpose, "invitation") == 0;
}

/* The first customer of the address whose access is not revoked, or "". */
static int
first_customer(struct dctx *d, const char *email, char out[DOM_ID_MAX], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_CUSTOMERS_BY_EMAIL, (const char *[]){ d->site.id,
	    email });

	out[0] = '\0';
	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(db_val(res, i, 3), "revoked") != 0) {
			snprintf(out, DOM_ID_MAX, "%s", db_val(res, i, 0));
			break;
		}
	PQclear(res);
	return 0;
}

/* The slow-down's key: the SHA-256 of "<lower-cased address>\n<client address>", so a
 * guesser slows only itself, and an address that is nobody's slows alike. */
static void
failure_key(const char *email, const char *ip, char out[65])
{
	char text[400];
	unsigned char h[CRYPTO_SHA256_LEN];
	size_t n = lower_address(email, text, 255);

	n += (size_t)snprintf(text + n, sizeof(text) - n, "\n%.80s",
	    ip != NULL ? ip : "unknown");
	crypto_sha256(text, n, h);
	crypto_hex(h, sizeof(h), out);
}

int
access_password_sign_in(struct dctx *d, const struct portal_settings *s,
    const char *email, const char *pw, const char *ip, const char *redirect_url,
    const char *old_session, struct access_signin *out, enum access_pw *result,
    long long *wait, struct derr *e)
{
	char bucket[96], key[65], now[24], stale[24], ids[ACCESS_MAX_ACCOUNTS][DOM_ID_MAX];
	const char *who = NULL;
	PGresult *res;
	bool over = false, checked = false;
	long long next;
	int n = 0;

	memset(out, 0, sizeof(*out));
	*result = ACCESS_PW_WRONG;
	*wait = 0;
	if (!s->login_password)
		return derr_set(e, DERR_FORBIDDEN, "password_off",
		    NULL, "This portal does not sign in with passwords.");
	snprintf(bucket, sizeof(bucket), "password_ip:%.80s", ip != NULL ? ip : "unknown");
	if (rate_hit(d, bucket, ACCESS_PASSWORD_PER_IP, &over, e) != 0)
		return -1;
	if (over) {
		*result = ACCESS_PW_LIMITED;
		return 0;
	}
	/* Slowed down after wrong passwords from this client for this address: not even
	 * checked, so guessing goes no faster (the customer elsewhere, or with a login link,
	 * is not held up). */
	failure_key(email, ip, key);
	res = db_exec(d->db, STMT_PWFAIL_GET, (const char *[]){ d->site.id, key });
	if (res == NULL)
		return derr_db(e, d->db);
	next = PQntuples(res) == 1 ? db_ll(res, 0, 0, 0) : 0;
	PQclear(res);
	if (next > d->now) {
		*result = ACCESS_PW_WAIT;
		*wait = next - d->now;
		return 0;
	}
	res = db_exec(d->db, STMT_CUSTOMERS_BY_EMAIL, (const char *[]){ d->site.id, email });
	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res) && n < ACCESS_MAX_ACCOUNTS; i++)
		if (strcmp(db_val(res, i, 3), "revoked") != 0)
			snprintf(ids[n++], DOM_ID_MAX, "%s", db_val(res, i, 0));
	PQclear(res);
	/* Every active account of the address is tried (usually one); the first that takes
	 * the password signs in. An address without one costs a hash all the same. */
	for (int i = 0; i < n && who == NULL; i++) {
		char hash[PASSHASH_MAX];
		int ok;

		res = db_exec(d->db, STMT_ACCOUNT_GET, (const char *[]){ d->site.id, ids[i] });
		if (res == NULL)
			return derr_db(e, d->db);
		if (PQntuples(res) != 1 || strcmp(db_val(res, 0, 0), "active") != 0) {
			PQclear(res);
			continue;
		}
		snprintf(hash, sizeof(hash), "%s", db_val(res, 0, 1) ? db_val(res, 0, 1) : "");
		PQclear(res);
		checked = true;
		if ((ok = passhash_check(hash, pw)) < 0)
			return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
			    "The password could not be checked.");
		if (ok == 1)
			who = ids[i];
	}
	if (!checked)
		(void)passhash_burn(pw);
	res = who != NULL ?
	    db_exec(d->db, STMT_PWFAIL_CLEAR, (const char *[]){ d->site.id, key }) :
	    db_exec(d->db, STMT_PWFAIL_HIT, (const char *[]){ d->site.id, key,
	    buf_lltoa(d->now, now), buf_lltoa(d->now - ACCESS_RATE_KEEP, stale) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (who == NULL)
		return 0;
	*result = ACCESS_PW_OK;
	if (old_session != NULL && sessions_logout(d, old_session, ip, e) != 0 &&
	    e->kind != DERR_NOT_FOUND)
		return -1;
	if (sessions_sign_in(d, who, "password", ip, redirect_url, out->session_id, out->cookie,
	    e) != 0)
		return -1;
	snprintf(out->path, sizeof(out->path), "/portal/%s", d->site.id);
	return 0;
}

/* Writes a set-password link for customer and queues its mail (reset: the forgotten-
 * password wording). typed (NULL: none) is the address a sign-in form was given: the
 * same work is then done for customer "" (nobody), writing nothing. */
static int
password_link(struct dctx *d, const char *customer, const char *typed, const char *purpose,
    bool reset, long long ttl, char hash_out[65], struct derr *e)
{
	const struct config *cfg = notify_config();
	char lid[DOM_ID_MAX], token[TOKEN_MAX], hash[65], a[2][24], words[48], path[120];
	char url[CONFIG_STR_MAX + TOKEN_MAX + 64], base[CONFIG_STR_MAX + 1];
	const char *type = strcmp(purpose, "invitation") == 0 ? "invitation" : "set_password";
	cJSON *data, *link;
	PGresult *res;
	char *json;
	int rc;

	if (cfg == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Mail is not set up in this process.");
	if (dom_new_id("lnk", lid, e) != 0)
		return -1;
	if (token_new(d->site.id, lid, token, sizeof(token), hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	snprintf(path, sizeof(path), "/portal/%s", d->site.id);
	res = db_exec(d->db, STMT_MAIL_LINK_INSERT, (const char *[]){ d->site.id, lid, customer,
	    purpose, path, hash, buf_lltoa(d->now, a[0]), buf_lltoa(d->now + ttl, a[1]) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (hash_out != NULL)
		memcpy(hash_out, hash, 65);
	if (notify_site_url(d, base, sizeof(base), e) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/portal/%s/link/%s", base, d->site.id, token);
	access_ttl_words(ttl, words);
	data = cJSON_CreateObject();
	link = cJSON_AddObjectToObject(data, "link");
	cJSON_AddStringToObject(link, "url", url);
	cJSON_AddStringToObject(link, "expires", words);
	cJSON_AddBoolToObject(data, "reset", reset);
	json = cJSON_PrintUnformatted(data);
	rc = typed != NULL ? notify_queue_alike(d, type, customer, typed, json, NULL, e) :
	    notify_queue(d, type, customer, json, NULL, e);
	cJSON_free(json);
	cJSON_Delete(data);
	return rc;
}

/* A portal account that waits for its first password: pending, and the customer invited. */
static int
mark_pending(struct dctx *d, const char *customer, struct derr *e)
{
	char now[24];
	PGresult *res = db_exec(d->db, STMT_ACCOUNT_PENDING, (const char *[]){ d->site.id,
	    customer, buf_lltoa(d->now, now) });

	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_CUSTOMER_PORTAL_STATE, (const char *[]){ d->site.id, customer,
	    "invited" });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}

int
access_request_password_link(struct dctx *d, const struct portal_settings *s,
    const char *email, const char *ip, bool *limited, struct derr *e)
{
	char bucket[96], customer[DOM_ID_MAX];
	PGresult *res;
	bool over = false, active;

	*limited = false;
	if (!s->login_password)
		return derr_set(e, DERR_FORBIDDEN, "password_off", NULL,
		    "This portal does not sign in with passwords.");
	snprintf(bucket, sizeof(bucket), "link_ip:%.80s", ip != NULL ? ip : "unknown");
	if (rate_hit(d, bucket, ACCESS_LINK_PER_IP, &over, e) != 0)
		return -1;
	recipient_bucket(email, bucket);
	if (rate_hit(d, bucket, ACCESS_LINK_PER_TO, &over, e) != 0)
		return -1;
	if (first_customer(d, email, customer, e) != 0)
		return -1;
	if (over) {
		*limited = true;
		return 0;
	}
	/* The same statements in the same order for nobody (customer ""), and for an
	 * account that is active already (marked pending as nobody, which changes nothing):
	 * every write below is conditional on the customer. */
	res = db_exec(d->db, STMT_ACCOUNT_GET, (const char *[]){ d->site.id, customer });
	if (res == NULL)
		return derr_db(e, d->db);
	active = PQntuples(res) == 1 && strcmp(db_val(res, 0, 0), "active") == 0;
	PQclear(res);
	if (mark_pending(d, active ? "" : customer, e) != 0)
		return -1;
	return password_link(d, customer, email, "set_password", active,
	    active ? ACCESS_RESET_TTL : ACCESS_CONFIRM_TTL, NULL, e);
}

static int
emit_activated(struct dctx *d, const char *customer, struct derr *e)
{
	struct buf data;
	struct jw w;
	int rc;

	buf_init(&data);
	jw_init(&w, &data);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "portal_account");
	jw_str(&w, "customer_id", customer);
	jw_str(&w, "status", "active");
	jw_int(&w, "activated_at", d->now);
	jw_obj_end(&w);
	rc = events_emit(d, "portal_account.activated", customer, data.data, e);
	buf_free(&data);
	return rc;
}

int
access_set_password(struct dctx *d, const char *token, const char *pw, const char *ip,
    const char *redirect_url, const char *old_session, struct access_signin *out,
    struct derr *e)
{
	struct access_link l;
	const char *why;
	char hash[PASSHASH_MAX], now[24], email[256] = "", name[208] = "", when[48];
	PGresult *res;
	bool was_active;
	int n;

	memset(out, 0, sizeof(*out));
	if (access_link_check(d, token, &l, e) != 0)
		return -1;
	if (!access_link_sets_password(&l))
		return derr_set(e, DERR_INVALID, "link_invalid", "token",
		    "This link does not set a password.");
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, l.customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1) {
		snprintf(email, sizeof(email), "%s", db_val(res, 0, CUST_EMAIL) ?
		    db_val(res, 0, CUST_EMAIL) : "");
		snprintf(name, sizeof(name), "%s", db_val(res, 0, CUST_NAME) ?
		    db_val(res, 0, CUST_NAME) : "");
	}
	PQclear(res);
	if ((why = password_policy_check(pw, email, name)) != NULL)
		return derr_set(e, DERR_INVALID, "password_invalid", "password", "%s", why);
	res = db_exec(d->db, STMT_MAIL_LINK_USE, (const char *[]){ d->site.id, l.link_id,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "The link was used already, or it has expired.");
	res = db_exec(d->db, STMT_ACCOUNT_GET, (const char *[]){ d->site.id, l.customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	was_active = PQntuples(res) == 1 && strcmp(db_val(res, 0, 0), "active") == 0;
	PQclear(res);
	if (passhash_make(pw, hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "The password could not be hashed; retry shortly.");
	res = db_exec(d->db, STMT_ACCOUNT_ACTIVATE, (const char *[]){ d->site.id, l.customer_id,
	    hash, now });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_CUSTOMER_PORTAL_STATE, (const char *[]){ d->site.id,
	    l.customer_id, "active" });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	/* An invitation's session is activated; then a new password ends every session,
	 * this browser's previous one included. */
	(void)old_session;
	res = db_exec(d->db, STMT_PSESS_INVITE_ACCEPT, (const char *[]){ d->site.id,
	    l.customer_id, now });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (sessions_end_all(d, l.customer_id, ip, NULL, e) != 0)
		return -1;
	if (!was_active && emit_activated(d, l.customer_id, e) != 0)
		return -1;
	if (was_active) {
		char url[CONFIG_STR_MAX + 120], base[CONFIG_STR_MAX + 1], *json;
		cJSON *data;
		int rc;

		if (notify_site_url(d, base, sizeof(base), e) != 0)
			return -1;
		notify_datetime(d->now, when);
		snprintf(url, sizeof(url), "%s/portal/%s/login", base, d->site.id);
		data = cJSON_CreateObject();
		cJSON_AddStringToObject(data, "changed_at", when);
		cJSON_AddStringToObject(data, "signin_url", url);
		json = cJSON_PrintUnformatted(data);
		rc = notify_queue(d, "password_changed", l.customer_id, json, NULL, e);
		cJSON_free(json);
		cJSON_Delete(data);
		if (rc != 0)
			return -1;
	}
	if (sessions_sign_in(d, l.customer_id, "password", ip, redirect_url, out->session_id,
	    out->cookie, e) != 0)
		return -1;
	snprintf(out->path, sizeof(out->path), "%s", l.path);
	return 0;
}

/* ---- invitations and revocation ---- */

int
access_invite(struct dctx *d, const char *customer_id, char session_id[DOM_ID_MAX],
    bool *limited, struct derr *e)
{
	struct portal_settings s;
	char bucket[96], hash[65];
	PGresult *res;
	bool has_email, revoked, active;
	int rc;

	session_id[0] = '\0';
	*limited = false;
	if ((rc = portal_settings_load(d->db, d->site.id, NULL, &s)) <= 0)
		return rc < 0 ? derr_db(e, d->db) : derr_not_found(e, "site", d->site.id);
	if (!s.login_password)
		return derr_set(e, DERR_FORBIDDEN, "password_off", NULL, "Invitations set a "
		    "password: turn on sign_in.password in the portal configuration first.");
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", customer_id);
	}
	has_email = db_val(res, 0, CUST_EMAIL) != NULL && db_val(res, 0, CUST_EMAIL)[0] != '\0';
	revoked = strcmp(db_val(res, 0, CUST_PORTAL_STATE), "revoked") == 0;
	PQclear(res);
	if (revoked)
		return derr_set(e, DERR_CONFLICT, "access_revoked", "customer_id",
		    "The customer's portal access is revoked; restore it first.");
	if (!has_email)
		return derr_set(e, DERR_INVALID, "customer_email_missing", "customer_id",
		    "The customer has no email address to invite.");
	res = db_exec(d->db, STMT_ACCOUNT_GET, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	active = PQntuples(res) == 1 && strcmp(db_val(res, 0, 0), "active") == 0;
	PQclear(res);
	if (active)
		return derr_set(e, DERR_CONFLICT, "portal_account_active", "customer_id",
		    "The customer has set a password already.");
	{
		bool over = false;

		snprintf(bucket, sizeof(bucket), "invite:%.64s", customer_id);
		if (rate_hit_in(d, bucket, ACCESS_INVITE_MAX, ACCESS_INVITE_WINDOW, &over, e) != 0)
			return -1;
		if (over) {
			*limited = true;
			return 0;
		}
	}
	if (mark_pending(d, customer_id, e) != 0)
		return -1;
	if (password_link(d, customer_id, NULL, "invitation", false, ACCESS_INVITE_TTL, hash,
	    e) != 0)
		return -1;
	return sessions_invite(d, customer_id, hash, d->now + ACCESS_INVITE_TTL,
	    s.website_url, session_id, e);
}

int
access_on_event(struct dctx *d, const char *type, const char *data, struct derr *e)
{
	struct portal_settings s;
	char customer[DOM_ID_MAX] = "", sid[DOM_ID_MAX];
	PGresult *res;
	cJSON *o;
	bool limited, fresh;
	int rc;

	if (strcmp(type, "subscription.created") != 0)
		return 0;
	if ((rc = portal_settings_load(d->db, d->site.id, NULL, &s)) <= 0)
		return rc < 0 ? derr_db(e, d->db) : 0;
	if (!s.invite_on_subscription || !s.login_password)
		return 0;
	o = cJSON_Parse(data);
	if (json_str(o, "customer_id") != NULL)
		snprintf(customer, sizeof(customer), "%s", json_str(o, "customer_id"));
	cJSON_Delete(o);
	if (customer[0] == '\0')
		return 0;
	/* Only a customer with no portal account yet: a second subscription invites nobody. */
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, customer });
	if (res == NULL)
		return derr_db(e, d->db);
	fresh = PQntuples(res) == 1 && strcmp(db_val(res, 0, CUST_PORTAL_STATE), "none") == 0 &&
	    db_val(res, 0, CUST_EMAIL) != NULL && db_val(res, 0, CUST_EMAIL)[0] != '\0';
	PQclear(res);
	if (!fresh)
		return 0;
	/* An invitation that cannot go out (too many, no mail set up in this process) is no
	 * reason to refuse the subscription, but it leaves nothing behind either (a customer
	 * marked invited with no mail would never be invited again); a lost database is. */
	if (db_savepoint_named(d->db, "invite") != 0)
		return derr_db(e, d->db);
	if (access_invite(d, customer, sid, &limited, e) != 0) {
		if (d->db->status == DB_UNAVAILABLE || db_rollback_named(d->db, "invite") != 0)
			return derr_db(e, d->db);
		log_warn("site %s: customer %s not invited: %s", d->site.id, customer,
		    e->message);
		return 0;
	}
	return db_release_named(d->db, "invite") != 0 ? derr_db(e, d->db) : 0;
}

int
access_revoke(struct dctx *d, const char *customer_id, struct derr *e)
{
	char now[24];
	struct buf data;
	struct jw w;
	PGresult *res;
	int n, links, rc;

	/* The management link first: a confirm in flight holds its row (access_mlink_use), so
	 * it either finishes before this goes on (and its session is ended below) or waits
	 * and finds the link dead; and neither waits for a row the other holds. */
	res = db_exec(d->db, STMT_MLINK_BUMP, (const char *[]){ d->site.id, customer_id,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_CUSTOMER_REVOKE, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return derr_not_found(e, "customer", customer_id);
	if (sessions_end_all(d, customer_id, NULL, &n, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_MAIL_LINKS_END, (const char *[]){ d->site.id, customer_id,
	    now });
	if (res == NULL)
		return derr_db(e, d->db);
	links = PQntuples(res);
	PQclear(res);
	buf_init(&data);
	jw_init(&w, &data);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "portal_access");
	jw_str(&w, "customer_id", customer_id);
	jw_str(&w, "status", "revoked");
	jw_int(&w, "sessions_ended", n);
	jw_int(&w, "links_ended", links);
	jw_int(&w, "revoked_at", d->now);
	jw_obj_end(&w);
	rc = events_emit(d, "portal_access.revoked", customer_id, data.data, e);
	buf_free(&data);
	return rc;
}

int
access_restore(struct dctx *d, const char *customer_id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_CUSTOMER_RESTORE, (const char *[]){ d->site.id,
	    customer_id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 1)
		return 0;
	if (customers_exists(d, customer_id, e) != 0)
		return -1;
	return derr_set(e, DERR_CONFLICT, "access_not_revoked", "customer_id",
	    "The customer's portal access is not revoked.");
}

/* ---- management links ---- */

/* The token "<customer>.<generation>.<mac>": mac is base64url of the HMAC. */
static int
mlink_mac(struct dctx *d, const char *customer, const char *generation,
    const char *created_at, char out[48])
{
	unsigned char mac[32];
	char msg[256];

	if (d->secrets == NULL)
		return -1;
	snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s", d->site.id, customer, generation,
	    created_at);
	if (secrets_derive(d->secrets, "portal management link v1", msg, strlen(msg), mac) != 0)
		return -1;
	crypto_b64url(mac, sizeof(mac), out, 48);
	return 0;
}

int
access_mlink_read(struct dctx *d, const char *customer_id, bool regenerate,
    const char *base_url, struct access_mlink *out, bool *limited, struct derr *e)
{
	struct portal_settings s;
	char now[24], ttl[24], renew[24], mac[48];
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	*limited = false;
	if ((rc = portal_settings_load(d->db, d->site.id, NULL, &s)) <= 0)
		return rc < 0 ? derr_db(e, d->db) : derr_not_found(e, "site", d->site.id);
	res = db_exec(d->db, STMT_MLINK_READ, (const char *[]){ d->site.id, customer_id,
	    buf_lltoa(d->now, now), buf_lltoa(s.management_link_ttl, ttl),
	    buf_lltoa(ACCESS_MLINK_RENEW, renew), regenerate ? "true" : "false" });
	if (res == NULL)
		return derr_db(e, d->db);
	/* No row: the customer does not exist, or the read is beyond the limit, which the
	 * statement counted not (a refused read keeps nothing, transaction or not). */
	if (PQntuples(res) != 1) {
		PQclear(res);
		res = db_exec(d->db, STMT_MLINK_GET, (const char *[]){ d->site.id, customer_id });
		if (res == NULL)
			return derr_db(e, d->db);
		if (PQntuples(res) != 1) {
			PQclear(res);
			return derr_not_found(e, "customer", customer_id);
		}
		*limited = true;
	}
	out->created_at = db_ll(res, 0, 1, 0);
	out->expires_at = db_ll(res, 0, 2, 0);
	out->fetch_count = (int)db_ll(res, 0, 3, 0);
	out->new_link_available_at = db_ll(res, 0, 4, 0);
	if (mlink_mac(d, customer_id, db_val(res, 0, 0), db_val(res, 0, 1), mac) != 0) {
		PQclear(res);
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "No server key to derive the management link with.");
	}
	snprintf(out->url, sizeof(out->url), "%s/portal/%s/manage/%s.%s.%s", base_url,
	    d->site.id, customer_id, db_val(res, 0, 0), mac);
	PQclear(res);
	return 0;
}

/* lock: read the link's row under a share lock (inside the caller's transaction), so a
 * regeneration or revocation in flight decides first. */
static int
mlink_check(struct dctx *d, const char *token, bool lock, char customer[DOM_ID_MAX],
    struct derr *e)
{
	char copy[256], *gen, *mac, want[48];
	PGresult *res;
	bool ok, expired, revoked = false;

	customer[0] = '\0';
	if (strlen(token) >= sizeof(copy))
		return invalid(e);
	snprintf(copy, sizeof(copy), "%s", token);
	if ((gen = strchr(copy, '.')) == NULL || (mac = strchr(gen + 1, '.')) == NULL)
		return invalid(e);
	*gen++ = '\0';
	*mac++ = '\0';
	if (check_id(copy) != NULL || strlen(mac) != 43)
		return invalid(e);
	res = db_exec(d->db, lock ? STMT_MLINK_LOCK : STMT_MLINK_GET,
	    (const char *[]){ d->site.id, copy });
	if (res == NULL)
		return derr_db(e, d->db);
	ok = PQntuples(res) == 1 && strcmp(db_val(res, 0, 0), gen) == 0 &&
	    mlink_mac(d, copy, db_val(res, 0, 0), db_val(res, 0, 1), want) == 0 &&
	    strlen(want) == 43 && crypto_equal(want, mac, 43);
	expired = ok && db_ll(res, 0, 2, 0) <= d->now;
	PQclear(res);
	if (!ok)
		return invalid(e);
	if (expired)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "The management link has expired.");
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, copy });
	if (res == NULL)
		return derr_db(e, d->db);
	revoked = PQntuples(res) != 1 ||
	    strcmp(db_val(res, 0, CUST_PORTAL_STATE), "revoked") == 0;
	PQclear(res);
	if (revoked)
		return derr_set(e, DERR_FORBIDDEN, "access_revoked", "token",
		    "The customer's portal access is revoked.");
	snprintf(customer, DOM_ID_MAX, "%.*s", DOM_ID_MAX - 1, copy);
	return 0;
}

int
access_mlink_check(struct dctx *d, const char *token, char customer[DOM_ID_MAX],
    struct derr *e)
{
	return mlink_check(d, token, false, customer, e);
}

int
access_mlink_use(struct dctx *d, const char *token, const char *ip,
    const char *redirect_url, const char *old_session, struct access_signin *out,
    struct derr *e)
{
	char customer[DOM_ID_MAX];

	memset(out, 0, sizeof(*out));
	/* One transaction from the check to the session, the link's row held meanwhile: a
	 * link regenerated or revoked while this runs signs nobody in once that commits. */
	if (db_begin(d->db) != 0)
		return derr_db(e, d->db);
	if (mlink_check(d, token, true, customer, e) != 0)
		goto fail;
	if (old_session != NULL && sessions_logout(d, old_session, ip, e) != 0 &&
	    e->kind != DERR_NOT_FOUND)
		goto fail;
	if (sessions_sign_in(d, customer, "management_link", ip, redirect_url, out->session_id,
	    out->cookie, e) != 0)
		goto fail;
	/* A commit that fails has ended its level: no rollback after it. */
	if (db_commit(d->db) != 0) {
		memset(out, 0, sizeof(*out));
		return derr_db(e, d->db);
	}
	snprintf(out->path, sizeof(out->path), "/portal/%s", d->site.id);
	return 0;
fail:
	db_rollback(d->db);
	memset(out, 0, sizeof(*out));
	return -1;
}

int
access_verified_value(struct dctx *d, const char *customer_id, char out[160])
{
	unsigned char mac[32];
	char msg[600], b64[48], email[256] = "", changed[24] = "";
	PGresult *res;
	int found;

	out[0] = '\0';
	if (d->secrets == NULL)
		return -1;
	/* Bound to the address the browser proved (lower-cased: its case is no change) and
	 * to the password's last change, so a new address or a new password (which signs
	 * out everywhere) voids every earlier proof. */
	res = db_exec(d->db, STMT_VERIFIED_BASIS, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		lower_address(db_val(res, 0, 0) ? db_val(res, 0, 0) : "", email, sizeof(email));
		snprintf(changed, sizeof(changed), "%s", db_val(res, 0, 1) ? db_val(res, 0, 1) :
		    "");
	}
	PQclear(res);
	if (!found || email[0] == '\0')
		return -1;
	snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s", d->site.id, customer_id, email, changed);
	if (secrets_derive(d->secrets, "portal verified browser v2", msg, strlen(msg),
	    mac) != 0)
		return -1;
	crypto_b64url(mac, sizeof(mac), b64, sizeof(b64));
	snprintf(out, 160, "%.72s.%s", customer_id, b64);
	return 0;
}

bool
access_verified_ok(struct dctx *d, const char *value, const char *customer_id)
{
	char want[160];

	return value != NULL && access_verified_value(d, customer_id, want) == 0 &&
	    strlen(value) == strlen(want) && crypto_equal(value, want, strlen(want));
}
