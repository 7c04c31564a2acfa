/* api_events.c: /api/v1/events (list, retrieve with deliveries, resend) and
 * /api/v1/webhook_endpoints (create with a signing secret shown once, list, delete). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "core/crypto.h"

static const char *
check_event_type(const char *v)
{
	if (strcmp(v, "*") == 0)
		return NULL;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '.'))
			return "must be an event type such as invoice.paid, or *";
	return *v ? NULL : "must not be empty";
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

/* Writes the event; leaves the object open when more members follow. */
static void
write_event(struct jw *w, PGresult *res, int row, bool close)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", db_val(res, row, 0));
	jw_str(w, "object", "event");
	jw_str(w, "type", db_val(res, row, 1));
	jw_str(w, "object_id", db_val(res, row, 2));
	jw_raw(w, "data", db_val(res, row, 3));
	jw_int_text(w, "created_at", db_val(res, row, 4));
	if (close)
		jw_obj_end(w);
}

void
h_event_list(struct ctx *c)
{
	int limit = api_list_limit(c);
	const char *after = api_arg(c, "starting_after"), *type = api_arg(c, "type");
	char lim[24], created[24];
	PGresult *res;
	struct jw w;
	int rc;

	buf_lltoa(limit + 1, lim);
	if ((rc = api_cursor(c, STMT_EVENT_GET, 4, "event", created)) < 0)
		return;
	if (rc == 1)
		res = db_exec(c->db, STMT_EVENT_LIST_AFTER, (const char *[]){ c->site.id, lim, type,
		    created, after });
	else
		res = db_exec(c->db, STMT_EVENT_LIST_FIRST, (const char *[]){ c->site.id, lim, type });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res) && i < limit; i++)
		write_event(&w, res, i, true);
	api_list_end(c, &w, PQntuples(res) > limit);
	PQclear(res);
}

/* The path's event, or NULL once a 404 or the database error is answered. */
static PGresult *
load_event(struct ctx *c)
{
	PGresult *res = db_exec(c->db, STMT_EVENT_GET, (const char *[]){ c->site.id,
	    c->req->path_params[0] });

	if (res == NULL) {
		api_db_error(c);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_not_found(c, "event", c->req->path_params[0]);
		return NULL;
	}
	return res;
}

void
h_event_get(struct ctx *c)
{
	PGresult *res = load_event(c);
	PGresult *d;
	struct jw w;

	if (res == NULL)
		return;
	d = db_exec(c->db, STMT_DELIV_LIST, (const char *[]){ c->site.id, c->req->path_params[0] });
	if (d == NULL) {
		PQclear(res);
		api_db_error(c);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	write_event(&w, res, 0, false);
	jw_arr_begin(&w, "deliveries");
	for (int i = 0; i < PQntuples(d); i++) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "id", db_val(d, i, 0));
		jw_str(&w, "webhook_endpoint_id", db_val(d, i, 1));
		jw_str(&w, "status", db_val(d, i, 2));
		jw_int_text(&w, "attempts", db_val(d, i, 3));
		jw_int_text(&w, "next_attempt_at", db_val(d, i, 4));
		jw_int_text(&w, "last_http_status", db_val(d, i, 5));
		jw_str(&w, "last_error", db_val(d, i, 6));
		jw_int_text(&w, "created_at", db_val(d, i, 7));
		jw_int_text(&w, "updated_at", db_val(d, i, 8));
		{
			PGresult *att = db_exec(c->db, STMT_WH_ATTEMPT_LIST, (const char *[]){
			    c->site.id, db_val(d, i, 0) });

			jw_arr_begin(&w, "attempt_log");
			for (int k = 0; att != NULL && k < PQntuples(att); k++) {
				jw_obj_begin(&w, NULL);
				jw_int_text(&w, "attempted_at", db_val(att, k, 0));
				jw_int_text(&w, "http_status", db_val(att, k, 1));
				jw_str(&w, "error", db_val(att, k, 2));
				jw_obj_end(&w);
			}
			jw_arr_end(&w);
			PQclear(att);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	PQclear(d);
	PQclear(res);
}

/* Queues a new delivery of the event to every endpoint that wants it now. */
void
h_event_resend(struct ctx *c)
{
	PGresult *res = load_event(c);
	PGresult *eps;
	char now[24];

	if (res == NULL)
		return;
	eps = db_exec(c->db, STMT_WH_MATCHING, (const char *[]){ c->site.id, db_val(res, 0, 1) });
	PQclear(res);
	if (eps == NULL) {
		api_db_error(c);
		return;
	}
	buf_lltoa(c->now, now);
	for (int i = 0; i < PQntuples(eps); i++) {
		char did[40], hex[25];
		PGresult *ins;

		if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
			PQclear(eps);
			api_no_randomness(c);
			return;
		}
		snprintf(did, sizeof(did), "whd_%s", hex);
		ins = db_exec(c->db, STMT_DELIV_INSERT, (const char *[]){ c->site.id, did,
		    db_val(eps, i, 0), c->req->path_params[0], now });
		if (ins == NULL) {
			PQclear(eps);
			api_db_error(c);
			return;
		}
		PQclear(ins);
	}
	PQclear(eps);
	PQclear(db_exec(c->db, STMT_NOTIFY, (const char *[]){ c->site.id }));
	h_event_get(c);
}

void
h_wh_create(struct ctx *c)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(c->body, "enabled_events");
	char id[40], hex[25], secret[CRYPTO_SECRET_B64_LEN + 8], events[4096] = "", now[24];
	PGresult *res;
	struct jw w;
	const cJSON *e;

	if (ev == NULL)
		snprintf(events, sizeof(events), "*");
	else
		cJSON_ArrayForEach(e, ev) {
			if (events[0])
				strncat(events, ",", sizeof(events) - strlen(events) - 1);
			strncat(events, e->valuestring, sizeof(events) - strlen(events) - 1);
		}
	memcpy(secret, "whsec_", 6);
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0 ||
	    crypto_random_b64url(CRYPTO_SECRET_BYTES, secret + 6, sizeof(secret) - 6) != 0) {
		api_no_randomness(c);
		return;
	}
	snprintf(id, sizeof(id), "we_%s", hex);
	res = db_exec(c->db, STMT_WH_INSERT, (const char *[]){ c->site.id, id,
	    json_str(c->body, "url"), secret, events, buf_lltoa(c->now, now) });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "id", id);
	jw_str(&w, "object", "webhook_endpoint");
	jw_str(&w, "url", db_val(res, 0, 1));
	jw_arr_begin(&w, "enabled_events");
	{
		char list[4096], *tok, *save = NULL;

		snprintf(list, sizeof(list), "%s", db_val(res, 0, 2));
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			jw_str(&w, NULL, tok);
	}
	jw_arr_end(&w);
	jw_str(&w, "secret", secret);	/* shown here only */
	jw_int_text(&w, "created_at", db_val(res, 0, 3));
	jw_obj_end(&w);
	PQclear(res);
}

void
h_wh_list(struct ctx *c)
{
	PGresult *res = db_exec(c->db, STMT_WH_LIST, (const char *[]){ c->site.id });
	struct jw w;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res); i++) {
		char list[4096], *tok, *save = NULL;

		jw_obj_begin(&w, NULL);
		jw_str(&w, "id", db_val(res, i, 0));
		jw_str(&w, "object", "webhook_endpoint");
		jw_str(&w, "url", db_val(res, i, 1));
		jw_arr_begin(&w, "enabled_events");
		snprintf(list, sizeof(list), "%s", db_val(res, i, 2));
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			jw_str(&w, NULL, tok);
		jw_arr_end(&w);
		jw_int_text(&w, "created_at", db_val(res, i, 3));
		jw_obj_end(&w);
	}
	api_list_end(c, &w, false);
	PQclear(res);
}

void
h_wh_delete(struct ctx *c)
{
	PGresult *res = db_exec(c->db, STMT_WH_DELETE, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	struct jw w;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_not_found(c, "webhook_endpoint", c->req->path_params[0]);
	else {
		api_json_start(c, 200);
		jw_init(&w, &c->resp->body);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "id", c->req->path_params[0]);
		jw_str(&w, "object", "webhook_endpoint");
		jw_bool(&w, "deleted", true);
		jw_obj_end(&w);
	}
	PQclear(res);
}
