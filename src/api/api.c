/* api.c: the error envelope, query validation, list envelopes and object writers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "billing/portal_settings.h"
#include "core/log.h"

const struct field empty_fields[] = { { .name = NULL } };
const struct qparam no_params[] = { { .name = NULL } };

void
api_json_start(struct ctx *c, int status)
{
	c->resp->status = status;
	c->resp->content_type = "application/json";
	buf_reset(&c->resp->body);
}

void
api_error(struct ctx *c, int status, const char *type, const char *code, const char *param,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct jw w;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_json_start(c, status);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_obj_begin(&w, "error");
	jw_str(&w, "type", type);
	jw_str(&w, "code", code);
	jw_str(&w, "message", msg);
	jw_str(&w, "param", param && *param ? param : NULL);
	jw_str(&w, "request_id", c->req->request_id);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

void
api_db_error(struct ctx *c)
{
	if (c->db->status == DB_UNAVAILABLE) {
		http_header(c->resp, "Retry-After", "1");
		api_error(c, 503, "api_error", "database_unavailable", NULL,
		    "The database is not reachable right now; retry shortly.");
		return;
	}
	/* Two requests racing for the same rows (a unique key both want, a row the other just
	 * deleted, a deadlock): the transaction rolls back and the client may simply retry. */
	if (strcmp(c->db->sqlstate, "23505") == 0 || strcmp(c->db->sqlstate, "23503") == 0 ||
	    strcmp(c->db->sqlstate, "40001") == 0 || strcmp(c->db->sqlstate, "40P01") == 0) {
		log_warn("request %s: conflict with a concurrent request (%s)",
		    c->req->request_id, c->db->sqlstate);
		api_error(c, 409, "invalid_request_error", "concurrent_modification", NULL,
		    "Another request changed the same data at the same time; nothing was "
		    "changed by this one. Retry it.");
		return;
	}
	log_error("request %s: database error %s", c->req->request_id, c->db->sqlstate);
	api_error(c, 500, "api_error", "internal_error", NULL,
	    "Something went wrong on our side (request %s).", c->req->request_id);
}

void
api_not_found(struct ctx *c, const char *what, const char *id)
{
	api_error(c, 404, "invalid_request_error", "resource_missing", "id",
	    "No such %s: '%s'", what, id);
}

void
api_invalid(struct ctx *c, const struct json_error *e)
{
	api_error(c, 400, "invalid_request_error", e->code, e->param, "%s", e->message);
}

const char *
api_arg(struct ctx *c, const char *name)
{
	return http_kvs_get(&c->req->args, name);
}

int
api_check_query(struct ctx *c, const struct qparam *params)
{
	struct http_kvs *args = &c->req->args;

	if (args->bad) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid",
		    args->bad_key, "The query string is malformed (a bad %%-escape, a NUL "
		    "byte or more than %d parameters).", HTTP_MAX_KV);
		return -1;
	}
	for (int i = 0; i < args->n; i++) {
		const char *k = args->items[i].key, *v = args->items[i].value;
		const struct qparam *p;
		const char *why = NULL;

		for (p = params; p->name != NULL; p++)
			if (strcmp(p->name, k) == 0)
				break;
		if (p->name == NULL || !json_utf8_valid(k, strlen(k))) {
			api_error(c, 400, "invalid_request_error", "parameter_unknown",
			    json_utf8_valid(k, strlen(k)) && strlen(k) < 64 ? k : NULL,
			    "Unknown query parameter.");
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(args->items[j].key, k) == 0) {
				api_error(c, 400, "invalid_request_error", "parameter_duplicate",
				    k, "%s is given more than once.", k);
				return -1;
			}
		if (p->type == QT_INT) {
			char *end;
			long long n;

			errno = 0;
			n = strtoll(v, &end, 10);
			if (errno != 0 || *v == '\0' || *end != '\0' || n < p->min || n > p->max) {
				api_error(c, 400, "invalid_request_error", "parameter_invalid", k,
				    "%s must be an integer between %lld and %lld.", k, p->min,
				    p->max);
				return -1;
			}
		} else if (p->type == QT_ID)
			why = check_id(v);
		else if (!json_utf8_valid(v, strlen(v)) || strlen(v) > 255)
			why = "must be valid UTF-8 of at most 255 bytes";
		if (why != NULL) {
			api_error(c, 400, "invalid_request_error", "parameter_invalid", k,
			    "%s %s.", k, why);
			return -1;
		}
	}
	return 0;
}

int
api_list_limit(struct ctx *c)
{
	const char *v = api_arg(c, "limit");

	return v ? atoi(v) : 10;
}

int
api_cursor(struct ctx *c, enum stmt_id stmt, int col, const char *what, char created[24])
{
	const char *after = api_arg(c, "starting_after");
	PGresult *cur;

	if (after == NULL)
		return 0;
	cur = db_exec(c->db, stmt, (const char *[]){ c->site.id, after });
	if (cur == NULL) {
		api_db_error(c);
		return -1;
	}
	if (PQntuples(cur) == 0) {
		PQclear(cur);
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "starting_after",
		    "starting_after names no %s of this site.", what);
		return -1;
	}
	snprintf(created, 24, "%s", db_val(cur, 0, col));
	PQclear(cur);
	return 1;
}

void
api_list_begin(struct ctx *c, struct jw *w)
{
	api_json_start(c, 200);
	jw_init(w, &c->resp->body);
	jw_obj_begin(w, NULL);
	jw_str(w, "object", "list");
	jw_arr_begin(w, "data");
}

void
api_list_end(struct ctx *c, struct jw *w, bool has_more)
{
	jw_arr_end(w);
	jw_bool(w, "has_more", has_more);
	jw_obj_end(w);
}

char *
api_access_url(struct ctx *c, const char *token)
{
	struct portal_settings s;
	char base[CONFIG_STR_MAX + 300];
	size_t n;
	char *url;
	const char *dot = strchr(token, '.');

	/* On the site's own host name when it has one. */
	if (portal_settings_load(c->db, c->site.id, NULL, &s) == 1)
		portal_base_url(&s, c->cfg->public_url, base, sizeof(base));
	else
		snprintf(base, sizeof(base), "%s", c->cfg->public_url);
	n = strlen(base) + 2 * strlen(token) + 32;
	url = arena_alloc(&c->req->arena, n);
	/* The token starts with its site: the URL names the site as every portal URL does. */
	snprintf(url, n, "%s/portal/%.*s/access/%s", base, dot ? (int)(dot - token) : 0, token,
	    token);
	return url;
}

void
api_write_portal_session(struct ctx *c, struct jw *w, PGresult *res, int row, const char *token)
{
	billing_write_portal_session(w, res, row, token, token ? api_access_url(c, token) : NULL);
}
