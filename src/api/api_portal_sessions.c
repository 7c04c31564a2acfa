/* api_portal_sessions.c: /api/v1/portal_sessions: create, retrieve, logout, activate. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "billing/portal_settings.h"
#include "core/crypto.h"
#include "core/token.h"

static const char *
check_flow_type(const char *v)
{
	return strcmp(v, "cancel") == 0 || strcmp(v, "change_plan") == 0 ||
	    strcmp(v, "payment_method_update") == 0 ? NULL :
	    "must be \"cancel\", \"change_plan\" or \"payment_method_update\"";
}

/* A deep link: the portal opens at this step for this subscription. */
static const struct field flow_fields[] = {
	{ .name = "type", .type = FT_STRING, .required = true, .max_len = 32,
	  .check = check_flow_type },
	{ .name = "subscription_id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = NULL }
};

const struct field psess_create_fields[] = {
	{ .name = "customer_id", .type = FT_STRING, .required = true, .max_len = 64,
	  .check = check_id },
	{ .name = "redirect_url", .type = FT_STRING, .required = true, .max_len = 2048,
	  .check = check_http_url },
	{ .name = "forward_url", .type = FT_STRING, .max_len = 2048, .nullable = true },
	{ .name = "features", .type = FT_OBJECT, .fields = portal_features_fields },
	{ .name = "flow", .type = FT_OBJECT, .fields = flow_fields, .nullable = true },
	{ .name = NULL }
};

const struct field psess_activate_fields[] = {
	{ .name = "token", .type = FT_STRING, .required = true, .max_len = TOKEN_MAX },
	{ .name = NULL }
};

/* forward_url must land inside this site's portal, never elsewhere (no open redirect):
 * a path under /portal/{site} (or /portal alone, which means the same), or that as an
 * absolute URL under public_url. Returns the path, in the /portal/{site} form. */
static const char *
forward_path(struct ctx *c, const char *v)
{
	size_t n = strlen(c->cfg->public_url), sn = strlen(c->site.id);
	char *out;

	if (strncmp(v, c->cfg->public_url, n) == 0 && v[n] == '/')
		v += n;
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == '\\' || *p == '"' || *p == '<' ||
		    *p == '>' || (p[0] == '/' && p[1] == '/') || (p[0] == '.' && p[1] == '.'))
			return NULL;
	if (strncmp(v, "/portal", 7) == 0 && (v[7] == '\0' || v[7] == '?')) {
		out = arena_alloc(&c->req->arena, strlen(v) + sn + 2);
		sprintf(out, "/portal/%s%s", c->site.id, v + 7);
		return out;
	}
	if (strncmp(v, "/portal/", 8) != 0 || strncmp(v + 8, c->site.id, sn) != 0 ||
	    (v[8 + sn] != '\0' && v[8 + sn] != '/' && v[8 + sn] != '?'))
		return NULL;
	return v;
}

/* Checks what the API field tables cannot: overrides that name plans of the site and fit
 * the site's settings, and a flow's subscription belonging to the customer. */
static int
check_session_extras(struct ctx *c, const cJSON *features, const cJSON *flow)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct billing_error err;
	struct portal_settings s;
	const char *type, *sub;
	PGresult *res;
	int rc;

	if (features != NULL) {
		if (portal_settings_check_plans(&b, features, "features.change_plan_plans",
		    &err) != 0) {
			if (strcmp(err.code, "database_error") == 0)
				api_db_error(c);
			else
				api_error(c, 400, "invalid_request_error", err.code, err.param, "%s",
				    err.message);
			return -1;
		}
		if ((rc = portal_settings_load(c->db, c->site.id, NULL, &s)) <= 0) {
			api_db_error(c);
			return -1;
		}
		if (portal_settings_apply(&s, features, &err) != 0) {
			api_error(c, 400, "invalid_request_error", err.code, err.param, "%s",
			    err.message);
			return -1;
		}
	}
	if (flow == NULL || cJSON_IsNull(flow))
		return 0;
	type = json_str(flow, "type");
	sub = json_str(flow, "subscription_id");
	if (sub == NULL) {
		if (strcmp(type, "payment_method_update") == 0)
			return 0;
		api_error(c, 400, "invalid_request_error", "parameter_missing",
		    "flow.subscription_id", "A %s flow needs flow.subscription_id.", type);
		return -1;
	}
	res = db_exec(c->db, STMT_SUB_OF_CUSTOMER, (const char *[]){ c->site.id,
	    json_str(c->body, "customer_id"), sub });
	if (res == NULL) {
		api_db_error(c);
		return -1;
	}
	rc = PQntuples(res);
	PQclear(res);
	if (rc == 0) {
		api_error(c, 400, "invalid_request_error", "resource_missing",
		    "flow.subscription_id", "The customer has no subscription '%s'.", sub);
		return -1;
	}
	return 0;
}

static void
answer_session(struct ctx *c, PGresult *res, const char *token)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	api_write_portal_session(c, &w, res, 0, token);
}

/* The event carries the session without its token. */
static int
emit_session(struct ctx *c, PGresult *res, const char *type)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct buf data;
	struct jw w;
	int rc;

	buf_init(&data);
	jw_init(&w, &data);
	billing_write_portal_session(&w, res, 0, NULL, NULL);
	rc = events_emit(&b, type, db_val(res, 0, PS_ID), data.data);
	buf_free(&data);
	if (rc != 0)
		api_db_error(c);
	return rc;
}

void
h_psess_create(struct ctx *c)
{
	char sid[40], hex[25], token[TOKEN_MAX], hash[65], now[24], exp[24];
	const char *fwd = json_str(c->body, "forward_url");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(c->body, "features");
	const cJSON *flow = cJSON_GetObjectItemCaseSensitive(c->body, "flow");
	char *features_json = NULL, *flow_json = NULL;
	const char *params[10];
	PGresult *res;

	if (fwd != NULL && *fwd != '\0' && (fwd = forward_path(c, fwd)) == NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "forward_url",
		    "forward_url must be a path of this site's portal, such as /portal/%s or "
		    "%s/portal/%s/...", c->site.id, c->cfg->public_url, c->site.id);
		return;
	}
	if (fwd != NULL && *fwd != '\0' && flow != NULL && !cJSON_IsNull(flow)) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "flow",
		    "Give forward_url or flow, not both: a flow decides where the portal opens.");
		return;
	}
	if (check_session_extras(c, features, flow) != 0)
		return;
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
		api_error(c, 500, "api_error", "internal_error", NULL, "No randomness.");
		return;
	}
	snprintf(sid, sizeof(sid), "ps_%s", hex);
	if (token_new(c->site.id, sid, token, sizeof(token), hash) != 0) {
		api_error(c, 500, "api_error", "internal_error", NULL, "No randomness.");
		return;
	}
	if (features != NULL)
		features_json = cJSON_PrintUnformatted(features);
	if (flow != NULL && !cJSON_IsNull(flow))
		flow_json = cJSON_PrintUnformatted(flow);
	params[0] = c->site.id;
	params[1] = sid;
	params[2] = json_str(c->body, "customer_id");
	params[3] = hash;
	params[4] = json_str(c->body, "redirect_url");
	params[5] = fwd && *fwd ? fwd : NULL;
	params[6] = features_json;
	params[7] = buf_lltoa(c->now, now);
	params[8] = buf_lltoa(c->now + PORTAL_SESSION_TTL, exp);
	params[9] = flow_json;
	res = db_exec(c->db, STMT_PSESS_INSERT, params);
	cJSON_free(features_json);
	cJSON_free(flow_json);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_error(c, 404, "invalid_request_error", "resource_missing", "customer_id",
		    "No such customer: '%s'", params[2]);
	else if (emit_session(c, res, "portal_session.created") == 0)
		answer_session(c, res, token);
	PQclear(res);
}

static PGresult *
get_session(struct ctx *c)
{
	const char *params[2] = { c->site.id, c->req->path_params[0] };
	PGresult *res = db_exec(c->db, STMT_PSESS_GET, params);

	if (res == NULL) {
		api_db_error(c);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_not_found(c, "portal_session", params[1]);
		return NULL;
	}
	return res;
}

void
h_psess_get(struct ctx *c)
{
	PGresult *res = get_session(c);

	if (res == NULL)
		return;
	answer_session(c, res, NULL);
	PQclear(res);
}

void
h_psess_logout(struct ctx *c)
{
	char now[24];
	const char *params[4] = { c->site.id, c->req->path_params[0],
	    buf_lltoa(c->now, now), c->req->remote_addr };
	PGresult *res = db_exec(c->db, STMT_PSESS_LOGOUT, params);

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		/* Already logged out (succeeds, changes nothing) or no such session. */
		PQclear(res);
		if ((res = get_session(c)) == NULL)
			return;
	} else if (emit_session(c, res, "portal_session.logged_out") != 0) {
		PQclear(res);
		return;
	}
	answer_session(c, res, NULL);
	PQclear(res);
}

void
h_psess_activate(struct ctx *c)
{
	struct token t;
	const char *token = json_str(c->body, "token");
	char hash[65], now[24];
	const char *params[4];
	PGresult *res, *done;
	const char *status;

	if ((res = get_session(c)) == NULL)
		return;
	token_hash_hex(token, hash);
	if (token_parse(token, &t) != 0 || strcmp(t.site_id, c->site.id) != 0 ||
	    strcmp(t.session_id, c->req->path_params[0]) != 0 ||
	    !crypto_equal(hash, db_val(res, 0, PS_TOKEN_HASH), 64)) {
		PQclear(res);
		api_error(c, 400, "invalid_request_error", "token_invalid", "token",
		    "The token does not belong to this portal session.");
		return;
	}
	status = db_val(res, 0, PS_STATUS);
	if (strcmp(status, "created") != 0 || db_ll(res, 0, PS_EXPIRES, 0) <= c->now) {
		api_error(c, 409, "invalid_request_error", "portal_session_not_activatable",
		    "token", "The portal session cannot be activated: it is %s.",
		    strcmp(status, "created") == 0 ? "expired" : status);
		PQclear(res);
		return;
	}
	PQclear(res);
	params[0] = c->site.id;
	params[1] = c->req->path_params[0];
	params[2] = buf_lltoa(c->now, now);
	params[3] = c->req->remote_addr;
	done = db_exec(c->db, STMT_PSESS_ACTIVATE, params);
	if (done == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(done) == 0)	/* used in the meantime */
		api_error(c, 409, "invalid_request_error", "portal_session_not_activatable",
		    "token", "The portal session was used in the meantime.");
	else if (emit_session(c, done, "portal_session.activated") == 0)
		answer_session(c, done, NULL);
	PQclear(done);
}
