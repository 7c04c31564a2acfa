/* sessions.c: portal sessions created, logged out and activated, each with its event. */
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/objects.h"
#include "billing/sessions.h"
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

int
sessions_create(struct dctx *d, const struct session_req *r, char id[DOM_ID_MAX],
    char token[TOKEN_MAX], struct derr *e)
{
	char hash[65], now[24], exp[24];
	PGresult *res;
	int n;

	if (dom_new_id("ps", id, e) != 0)
		return -1;
	if (token_new(d->site.id, id, token, TOKEN_MAX, hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	res = db_exec(d->db, STMT_PSESS_INSERT, (const char *[]){ d->site.id, id, r->customer_id,
	    hash, r->redirect_url, r->forward_path, r->features_json, buf_lltoa(d->now, now),
	    buf_lltoa(d->now + PORTAL_SESSION_TTL, exp) });
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
