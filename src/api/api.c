/* api.c: the error envelope and domain errors, query validation, lists, look-ups and
 * answers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "billing/portal_settings.h"
#include "core/log.h"

const struct field empty_fields[] = { { .name = NULL } };
const struct qparam no_params[] = { { .name = NULL } };
const struct qparam list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = NULL }
};

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
	jw_str(&w, "param", param && *param && json_utf8_valid(param, strlen(param)) ? param : NULL);
	jw_str(&w, "request_id", c->req->request_id);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

void
api_no_randomness(struct ctx *c)
{
	log_error("request %s: no randomness available", c->req->request_id);
	http_header(c->resp, "Retry-After", "1");
	api_error(c, 503, "api_error", "randomness_unavailable",  NULL,
	    "The server could not make secure random numbers; nothing was changed. Retry "
	    "shortly.");
}

void
api_db_error(struct ctx *c)
{
	struct derr e;

	if (c->db->status != DB_OK) {
		derr_db(&e, c->db);
		api_derr(c, &e);
		return;
	}
	log_error("request %s: database error %s", c->req->request_id, c->db->sqlstate);
	api_error(c, 500, "api_error", "internal_error", NULL,
	    "Something went wrong on our side (request %s).", c->req->request_id);
}

void
api_derr(struct ctx *c, const struct derr *e)
{
	static const struct {
		int		 status;
		const char	*type;
	} map[] = {
		[DERR_NONE] = { 500, "api_error" },
		[DERR_INVALID] = { 400, "invalid_request_error" },
		[DERR_NOT_FOUND] = { 404, "invalid_request_error" },
		[DERR_CONFLICT] = { 409, "invalid_request_error" },
		[DERR_FORBIDDEN] = { 403, "invalid_request_error" },
		[DERR_CARD] = { 402, "card_error" },
		[DERR_UNAVAILABLE] = { 503, "api_error" },
		[DERR_INTERNAL] = { 500, "api_error" },
	};

	if (e->kind == DERR_UNAVAILABLE)
		http_header(c->resp, "Retry-After", "1");
	if (e->kind == DERR_INTERNAL) {
		log_error("request %s: %s (%s)", c->req->request_id, e->message, e->code);
		api_error(c, 500, "api_error", "internal_error", NULL,
		    "Something went wrong on our side (request %s).", c->req->request_id);
		return;
	}
	api_error(c, map[e->kind].status, map[e->kind].type, e->code, e->param, "%s",
	    e->message);
}

void
api_answer(struct ctx *c, enum obj_kind kind, const char *id)
{
	c->answer_set = true;
	c->answer_kind = kind;
	snprintf(c->answer_id, sizeof(c->answer_id), "%s", id);
}

void
api_render_answer(struct ctx *c)
{
	struct derr e;
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	if (obj_write(&c->d, c->answer_kind, c->answer_id, &w, &e) != 0)
		api_derr(c, &e);
}

void
api_binary(struct ctx *c, const char *content_type, const char *filename,
    const struct buf *data)
{
	c->resp->status = 200;
	c->resp->content_type = content_type;
	/* data NULL: the body was built in place (no copy); on a HEAD, maybe not at all. */
	if (data != NULL) {
		buf_reset(&c->resp->body);
		buf_append(&c->resp->body, data->data ? data->data : "", data->len);
	} else
		c->resp->no_length = c->req->method == HTTP_HEAD;
	http_header(c->resp, "Content-Disposition", "attachment; filename=\"%s\"", filename);
	http_header(c->resp, "Cache-Control", "private, no-store");
	http_header(c->resp, "X-Content-Type-Options", "nosniff");
}

void
api_get(struct ctx *c, enum obj_kind kind, const char *id)
{
	api_answer(c, kind, id);
	api_render_answer(c);
	c->answer_set = false;
}

/* The cursor row's created_at or seq, from the kind's own get statement. */
static int
list_cursor(struct ctx *c, const struct list_spec *spec, char created[24], char id[72])
{
	const char *after = api_arg(c, "starting_after");
	PGresult *cur;

	if (after == NULL || spec->cursor == CURSOR_NONE)
		return 0;
	cur = db_exec(c->db, obj_types[spec->kind].get, (const char *[]){ c->site.id, after });
	if (cur == NULL) {
		api_db_error(c);
		return -1;
	}
	if (PQntuples(cur) == 0) {
		PQclear(cur);
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "starting_after",
		    "starting_after names no %s of this site.", obj_types[spec->kind].name);
		return -1;
	}
	snprintf(created, 24, "%s", db_val(cur, 0, spec->cursor_col));
	snprintf(id, 72, "%s", after);
	PQclear(cur);
	return 1;
}

void
api_list(struct ctx *c, const struct list_spec *spec)
{
	const char *p[10];
	const char *lv = api_arg(c, "limit");
	int limit = lv ? atoi(lv) : 10, np = 0, rc, n;
	char lim[24], created[24], id[72];
	PGresult *res;
	struct derr e;
	struct jw w;

	if ((rc = list_cursor(c, spec, created, id)) < 0)
		return;
	p[np++] = c->site.id;
	p[np++] = buf_lltoa(limit + 1, lim);	/* one more row tells whether there are more */
	for (int i = 0; i < 4 && spec->filters[i] != NULL; i++)
		p[np++] = strncmp(spec->filters[i], "path:", 5) == 0 ?
		    c->req->path_params[atoi(spec->filters[i] + 5)] : api_arg(c, spec->filters[i]);
	if (rc == 1) {
		p[np++] = created;
		if (spec->cursor == CURSOR_CREATED)
			p[np++] = id;
	}
	res = db_exec(c->db, rc == 1 ? spec->after : spec->first, p);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	n = PQntuples(res);
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "list");
	jw_arr_begin(&w, "data");
	for (int i = 0; i < n && i < limit; i++)
		if (obj_write_row(&c->d, spec->kind, &w, res, i, &e) != 0) {
			PQclear(res);
			api_derr(c, &e);
			return;
		}
	jw_arr_end(&w);
	jw_bool(&w, "has_more", n > limit);
	jw_obj_end(&w);
	PQclear(res);
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

/* A name from the request may be echoed only when it is short, valid UTF-8 and free of
 * control characters; otherwise the answer names no parameter. */
static const char *
echoable(const char *name)
{
	if (name == NULL || strlen(name) > 64 || !json_utf8_valid(name, strlen(name)))
		return NULL;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return NULL;
	return name;
}

int
api_check_query(struct ctx *c, const struct qparam *params)
{
	struct http_kvs *args = &c->req->args;

	if (args->bad) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid",
		    echoable(args->bad_key), "The query string is malformed (a bad %%-escape, a NUL "
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
		if (p->name == NULL) {
			api_error(c, 400, "invalid_request_error", "parameter_unknown",
			    echoable(k), "Unknown query parameter.");
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
