/* api_events.c: /api/v1/events (list, retrieve with deliveries, resend) and
 * /api/v1/webhook_endpoints (create with a signing secret shown once, list, delete). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/endpoints.h"
#include "billing/events.h"

static const char *
check_event_type(const char *v)
{
	if (strcmp(v, "*") == 0 || events_type_known(v))
		return NULL;
	return "must name event types Portald sends (see the README), or *";
}

const struct field wh_create_fields[] = {
	{ .name = "url", .type = FT_STRING, .required = true, .max_len = 2048,
	  .check = check_http_url },
	{ .name = "enabled_events", .type = FT_LIST, .max_len = 64, .check = check_event_type },
	{ .name = NULL }
};
const struct qparam event_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "type", .type = QT_STRING },
	{ .name = NULL }
};

void
h_event_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_EVENT, STMT_EVENT_LIST_FIRST,
	    STMT_EVENT_LIST_AFTER, { "type" }, CURSOR_SEQ, EVT_SEQ };

	api_list(c, &spec);
}

void
h_event_get(struct ctx *c)
{
	api_get(c, OBJ_EVENT_DETAIL, c->req->path_params[0]);
}

void
h_event_resend(struct ctx *c)
{
	struct derr e;

	if (endpoints_resend(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_EVENT_DETAIL, c->req->path_params[0]);
}

void
h_wh_create(struct ctx *c)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(c->body, "enabled_events"), *it;
	const char *types[ENDPOINT_EVENTS_MAX];
	char id[DOM_ID_MAX], secret[ENDPOINT_SECRET_MAX];
	int n = 0;
	struct derr e;
	struct jw w;
	PGresult *res;

	cJSON_ArrayForEach(it, ev)
		if (n < ENDPOINT_EVENTS_MAX)
			types[n++] = it->valuestring;
	if (endpoints_create(&c->d, json_str(c->body, "url"), types, n, id, secret, &e) != 0) {
		api_derr(c, &e);
		return;
	}
	res = db_exec(c->db, STMT_WH_GET, (const char *[]){ c->site.id, id });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		api_db_error(c);
		return;
	}
	/* The signing secret is shown here only. */
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_webhook_endpoint_secret(&w, res, 0, secret);
	PQclear(res);
}

void
h_wh_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_WEBHOOK_ENDPOINT, STMT_WH_LIST, STMT_WH_LIST,
	    { NULL }, CURSOR_NONE, 0 };

	api_list(c, &spec);
}

void
h_wh_delete(struct ctx *c)
{
	struct derr e;
	struct jw w;

	if (endpoints_delete(&c->d, c->req->path_params[0], &e) != 0) {
		api_derr(c, &e);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_deleted(&w, "webhook_endpoint", c->req->path_params[0]);
}
