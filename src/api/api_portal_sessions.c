/* api_portal_sessions.c: /api/v1/portal_sessions: create, retrieve, logout, activate. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/portal_settings.h"
#include "billing/sessions.h"

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

/* A validated sub-object as JSON text (arena copy), or NULL. */
static const char *
json_text(struct ctx *c, const cJSON *v)
{
	char *s, *copy;

	if (v == NULL)
		return NULL;
	s = cJSON_PrintUnformatted(v);
	if (s == NULL)
		return NULL;
	copy = arena_strndup(&c->req->arena, s, strlen(s));
	cJSON_free(s);
	return copy;
}

void
h_psess_create(struct ctx *c)
{
	const char *fwd = json_str(c->body, "forward_url");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(c->body, "features");
	const cJSON *flow = cJSON_GetObjectItemCaseSensitive(c->body, "flow");
	char id[DOM_ID_MAX], token[TOKEN_MAX];
	struct session_req r = { json_str(c->body, "customer_id"),
	    json_str(c->body, "redirect_url"), NULL, NULL, NULL };
	struct derr e;
	PGresult *res;
	struct jw w;
	int rc;

	if (fwd != NULL && *fwd != '\0' && (r.forward_path = forward_path(c, fwd)) == NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "forward_url",
		    "forward_url must be a path of this site's portal, such as /portal/%s or "
		    "%s/portal/%s/...", c->site.id, c->cfg->public_url, c->site.id);
		return;
	}
	if (cJSON_IsNull(flow))
		flow = NULL;
	if (r.forward_path != NULL && flow != NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "flow",
		    "Give forward_url or flow, not both: a flow decides where the portal opens.");
		return;
	}
	r.features_json = json_text(c, features);
	r.flow_json = json_text(c, flow);
	rc = sessions_create(&c->d, &r, id, token, &e);
	if (rc != 0) {
		api_derr(c, &e);
		return;
	}
	/* The token exists in clear only in this answer. */
	res = db_exec(c->db, STMT_PSESS_GET, (const char *[]){ c->site.id, id });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		api_db_error(c);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_portal_session_secret(&w, res, 0, token, api_access_url(c, token));
	PQclear(res);
}

void
h_psess_get(struct ctx *c)
{
	api_get(c, OBJ_PORTAL_SESSION, c->req->path_params[0]);
}

void
h_psess_logout(struct ctx *c)
{
	struct derr e;

	if (sessions_logout(&c->d, c->req->path_params[0], c->req->remote_addr, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PORTAL_SESSION, c->req->path_params[0]);
}

void
h_psess_activate(struct ctx *c)
{
	struct derr e;

	if (sessions_activate(&c->d, c->req->path_params[0], json_str(c->body, "token"),
	    c->req->remote_addr, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PORTAL_SESSION, c->req->path_params[0]);
}
