/* api_portal_sessions.c: /api/v1/portal_sessions: create, retrieve, logout, activate. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/sessions.h"

static const struct field feature_fields[] = {
	{ .name = "edit_billing_details", .type = FT_BOOL },
	{ .name = "payment_methods", .type = FT_BOOL },
	{ .name = "invoice_history", .type = FT_BOOL },
	{ .name = "cancel_subscription", .type = FT_BOOL },
	{ .name = "change_plan", .type = FT_BOOL },
	{ .name = "pause_subscription", .type = FT_BOOL },
	{ .name = NULL }
};

const struct field psess_create_fields[] = {
	{ .name = "customer_id", .type = FT_STRING, .required = true, .max_len = 64,
	  .check = check_id },
	{ .name = "redirect_url", .type = FT_STRING, .required = true, .max_len = 2048,
	  .check = check_http_url },
	{ .name = "forward_url", .type = FT_STRING, .max_len = 2048, .nullable = true },
	{ .name = "features", .type = FT_OBJECT, .fields = feature_fields },
	{ .name = NULL }
};

const struct field psess_activate_fields[] = {
	{ .name = "token", .type = FT_STRING, .required = true, .max_len = TOKEN_MAX },
	{ .name = NULL }
};

/* forward_url must land inside the portal, never elsewhere (no open redirect): a path
 * under /portal, or the same as an absolute URL under public_url. Returns the path. */
static const char *
forward_path(struct ctx *c, const char *v)
{
	size_t n = strlen(c->cfg->public_url);

	if (strncmp(v, c->cfg->public_url, n) == 0 && v[n] == '/')
		v += n;
	if (strncmp(v, "/portal", 7) != 0 || (v[7] != '\0' && v[7] != '/' && v[7] != '?'))
		return NULL;
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == '\\' || *p == '"' || *p == '<' ||
		    *p == '>' || (p[0] == '/' && p[1] == '/') || (p[0] == '.' && p[1] == '.'))
			return NULL;
	return v;
}

void
h_psess_create(struct ctx *c)
{
	const char *fwd = json_str(c->body, "forward_url");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(c->body, "features");
	char id[DOM_ID_MAX], token[TOKEN_MAX], *url;
	struct session_req r = { json_str(c->body, "customer_id"),
	    json_str(c->body, "redirect_url"), NULL, NULL };
	struct derr e;
	PGresult *res;
	struct jw w;
	size_t n;
	int rc;

	if (fwd != NULL && *fwd != '\0' && (r.forward_path = forward_path(c, fwd)) == NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "forward_url",
		    "forward_url must be a portal path such as /portal or %s/portal/...",
		    c->cfg->public_url);
		return;
	}
	if (features != NULL) {
		char *s = cJSON_PrintUnformatted(features);

		if (s != NULL) {
			r.features_json = arena_strndup(&c->req->arena, s, strlen(s));
			cJSON_free(s);
		}
	}
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
	n = strlen(c->cfg->public_url) + strlen(token) + 32;
	url = arena_alloc(&c->req->arena, n);
	snprintf(url, n, "%s/portal/access/%s", c->cfg->public_url, token);
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_portal_session_secret(&w, res, 0, token, url);
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
