/* sessions.c: portal sessions created, logged out and activated, each with its event. */
#include <stdio.h>
#include <string.h>

#include "billing/customers.h"
#include "billing/events.h"
#include "billing/objects.h"
#include "billing/portal_settings.h"
#include "billing/sessions.h"
#include "billing/subscriptions.h"
#include "core/crypto.h"

static int
emit(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_PORTAL_SESSION, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

/* What the API's field tables cannot check: overrides that name plans of the site and fit
 * its settings, and a flow's subscription belonging to the customer. */
static int
check_extras(struct dctx *d, const struct session_req *r, struct derr *e)
{
	struct portal_settings s;
	struct sub sub;
	cJSON *f;
	const char *type, *sid;
	int rc = 0;

	if (r->features_json != NULL) {
		f = cJSON_Parse(r->features_json);
		if (portal_settings_check_plans(d, f, "features.change_plan_plans", e) != 0)
			rc = -1;
		else if ((rc = portal_settings_load(d->db, d->site.id, NULL, &s)) <= 0)
			rc = rc < 0 ? derr_db(e, d->db) : derr_not_found(e, "site", d->site.id);
		else
			rc = portal_settings_apply(&s, f, e);
		cJSON_Delete(f);
		if (rc != 0)
			return -1;
	}
	if (r->flow_json == NULL)
		return 0;
	f = cJSON_Parse(r->flow_json);
	type = json_str(f, "type");
	sid = json_str(f, "subscription_id");
	if (sid == NULL) {
		if (type == NULL || strcmp(type, "payment_method_update") != 0)
			rc = derr_set(e, DERR_INVALID, "parameter_missing", "flow.subscription_id",
			    "A %s flow needs flow.subscription_id.", type ? type : "");
	} else if (customers_exists(d, r->customer_id, e) != 0) {
		rc = e->kind != DERR_NOT_FOUND ? -1 : derr_set(e, DERR_NOT_FOUND,
		    "resource_missing", "customer_id", "No such customer: '%s'", r->customer_id);
	} else if (subs_load_own(d, r->customer_id, sid, false, &sub, e) != 0) {
		rc = e->kind != DERR_NOT_FOUND ? -1 : derr_set(e, DERR_INVALID,
		    "resource_missing", "flow.subscription_id",
		    "The customer has no subscription '%s'.", sid);
	}
	cJSON_Delete(f);
	return rc;
}

int
sessions_create(struct dctx *d, const struct session_req *r, char id[DOM_ID_MAX],
    char token[TOKEN_MAX], struct derr *e)
{
	char hash[65], now[24], exp[24];
	PGresult *res;
	int n;

	if (check_extras(d, r, e) != 0)
		return -1;
	/* Revoked access stays revoked: not even the merchant's backend signs them in. */
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, r->customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res) == 1 && strcmp(db_val(res, 0, CUST_PORTAL_STATE), "revoked") == 0;
	PQclear(res);
	if (n)
		return derr_set(e, DERR_FORBIDDEN, "access_revoked", "customer_id",
		    "The customer's portal access is revoked.");
	if (dom_new_id("ps", id, e) != 0)
		return -1;
	if (token_new(d->site.id, id, token, TOKEN_MAX, hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	res = db_exec(d->db, STMT_PSESS_INSERT, (const char *[]){ d->site.id, id, r->customer_id,
	    hash, r->redirect_url, r->forward_path, r->features_json, buf_lltoa(d->now, now),
	    buf_lltoa(d->now + PORTAL_SESSION_TTL, exp), r->flow_json });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_NOT_FOUND, "resource_missing", "customer_id",
		    "No such customer: '%s'", r->customer_id);
	return emit(d, "portal_session.created", id, e);
}

int
sessions_logout(struct dctx *d, const char *id, const char *ip, struct derr *e)
{
	char now[24];
	PGresult *res = db_exec(d->db, STMT_PSESS_LOGOUT, (const char *[]){ d->site.id, id,
	    buf_lltoa(d->now, now), ip });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 1)
		return emit(d, "portal_session.logged_out", id, e);
	/* Already logged out (succeeds, changes nothing), or no such session. */
	res = db_exec(d->db, STMT_PSESS_GET, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : derr_not_found(e, "portal_session", id);
}

int
sessions_activate(struct dctx *d, const char *id, const char *token, const char *ip,
    struct derr *e)
{
	struct token t;
	char hash[65], now[24], status[24];
	PGresult *res;
	long long expires;
	bool ours;

	res = db_exec(d->db, STMT_PSESS_GET, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_not_found(e, "portal_session", id);
	}
	token_hash_hex(token, hash);
	ours = token_parse(token, &t) == 0 && strcmp(t.site_id, d->site.id) == 0 &&
	    strcmp(t.session_id, id) == 0 &&
	    crypto_equal(hash, db_val(res, 0, PS_TOKEN_HASH), 64);
	snprintf(status, sizeof(status), "%s", db_val(res, 0, PS_STATUS));
	expires = db_ll(res, 0, PS_EXPIRES, 0);
	PQclear(res);
	if (!ours)
		return derr_set(e, DERR_INVALID, "token_invalid", "token",
		    "The token does not belong to this portal session.");
	if (strcmp(status, "created") != 0 || expires <= d->now)
		return derr_set(e, DERR_CONFLICT, "portal_session_not_activatable", "token",
		    "The portal session cannot be activated: it is %s.",
		    strcmp(status, "created") == 0 ? "expired" : status);
	res = db_exec(d->db, STMT_PSESS_ACTIVATE, (const char *[]){ d->site.id, id,
	    buf_lltoa(d->now, now), ip });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_set(e, DERR_CONFLICT, "portal_session_not_activatable", "token",
		    "The portal session was used in the meantime.");
	}
	PQclear(res);
	return emit(d, "portal_session.activated", id, e);
}

int
sessions_enter(struct dctx *d, const char *token, const char *ip, const char *cookie_hash,
    struct derr *e)
{
	struct token t;
	char hash[65], now[24];
	PGresult *res;
	bool ok;

	if (token_parse(token, &t) != 0 || strcmp(t.site_id, d->site.id) != 0)
		return derr_set(e, DERR_NOT_FOUND, "link_invalid", "token",
		    "The sign-in link is not valid.");
	res = db_exec(d->db, STMT_PSESS_GET, (const char *[]){ d->site.id, t.session_id });
	if (res == NULL)
		return derr_db(e, d->db);
	token_hash_hex(token, hash);
	if (PQntuples(res) == 0 || !crypto_equal(hash, db_val(res, 0, PS_TOKEN_HASH), 64)) {
		PQclear(res);
		return derr_set(e, DERR_NOT_FOUND, "link_invalid", "token",
		    "The sign-in link is not valid.");
	}
	ok = strcmp(db_val(res, 0, PS_STATUS), "created") == 0 &&
	    db_ll(res, 0, PS_EXPIRES, 0) > d->now;
	PQclear(res);
	if (!ok)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "Sign-in links work once, within an hour.");
	/* Single use: a second use of the link in the meantime finds nothing to update. */
	res = db_exec(d->db, STMT_PSESS_CONSUME, (const char *[]){ d->site.id, t.session_id,
	    buf_lltoa(d->now, now), ip, cookie_hash });
	if (res == NULL)
		return derr_db(e, d->db);
	ok = PQntuples(res) == 1;
	PQclear(res);
	if (!ok)
		return derr_set(e, DERR_CONFLICT, "link_expired", "token",
		    "Sign-in links work once.");
	return 0;
}

int
sessions_sign_in(struct dctx *d, const char *customer_id, const char *method,
    const char *ip, const char *redirect_url, char id[DOM_ID_MAX], char cookie[TOKEN_MAX],
    struct derr *e)
{
	char cookie_hash[65], unused[TOKEN_MAX], unused_hash[65], now[24];
	PGresult *res;
	int n;

	if (dom_new_id("ps", id, e) != 0)
		return -1;
	/* No access link: the token column holds the hash of a secret nobody is given. */
	if (token_new(d->site.id, id, cookie, TOKEN_MAX, cookie_hash) != 0 ||
	    token_new(d->site.id, id, unused, sizeof(unused), unused_hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	res = db_exec(d->db, STMT_PSESS_SIGN_IN, (const char *[]){ d->site.id, id, customer_id,
	    unused_hash, cookie_hash, redirect_url ? redirect_url : "", buf_lltoa(d->now, now),
	    ip, method });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_FORBIDDEN, "access_revoked", "customer_id",
		    "The customer's portal access is revoked, or there is no such customer.");
	/* The session acts for itself from here on: its sign-in is its own doing. */
	d->actor.type = ACTOR_PORTAL_SESSION;
	snprintf(d->actor.id, sizeof(d->actor.id), "%s", id);
	return emit(d, "portal_session.logged_in", id, e);
}

int
sessions_end_all(struct dctx *d, const char *customer_id, const char *ip, int *n,
    struct derr *e)
{
	char now[24], ids[64][DOM_ID_MAX];
	PGresult *res = db_exec(d->db, STMT_PSESS_END_ALL, (const char *[]){ d->site.id,
	    customer_id, buf_lltoa(d->now, now), ip });
	int k;

	if (res == NULL)
		return derr_db(e, d->db);
	/* Each ended session gets its event; a customer with more than 64 has the rest
	 * ended too, with the first 64 reported. */
	k = PQntuples(res) < 64 ? PQntuples(res) : 64;
	if (n != NULL)
		*n = PQntuples(res);
	for (int i = 0; i < k; i++)
		snprintf(ids[i], DOM_ID_MAX, "%s", db_val(res, i, 0));
	PQclear(res);
	for (int i = 0; i < k; i++)
		if (emit(d, "portal_session.logged_out", ids[i], e) != 0)
			return -1;
	return 0;
}

int
sessions_invite(struct dctx *d, const char *customer_id, const char *token_hash,
    long long expires, const char *redirect_url, char id[DOM_ID_MAX], struct derr *e)
{
	char now[24], exp[24];
	PGresult *res;
	int n;

	if (dom_new_id("ps", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_PSESS_INVITE, (const char *[]){ d->site.id, id, customer_id,
	    token_hash, redirect_url ? redirect_url : "", buf_lltoa(d->now, now),
	    buf_lltoa(expires, exp) });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_not_found(e, "customer", customer_id);
	return emit(d, "portal_session.created", id, e);
}
