/* api_plans.c: /api/v1/plans: create, retrieve, list, archive. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "core/crypto.h"

static const char *
check_currency(const char *v)
{
	if (strlen(v) != 3 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' ||
	    v[2] < 'A' || v[2] > 'Z')
		return "must be an ISO 4217 code in capitals, such as \"USD\"";
	return NULL;
}

static const char *
check_unit(const char *v)
{
	if (strcmp(v, "day") && strcmp(v, "week") && strcmp(v, "month") && strcmp(v, "year"))
		return "must be day, week, month or year";
	return NULL;
}

const struct field plan_create_fields[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "name", .type = FT_STRING, .required = true, .max_len = 200 },
	{ .name = "amount", .type = FT_INT, .required = true, .min = 0, .max = 100000000000LL },
	{ .name = "currency", .type = FT_STRING, .required = true, .max_len = 3,
	  .check = check_currency },
	{ .name = "interval", .type = FT_STRING, .required = true, .max_len = 5,
	  .check = check_unit },
	{ .name = "interval_count", .type = FT_INT, .min = 1, .max = 365 },
	{ .name = "trial_days", .type = FT_INT, .min = 0, .max = 730 },
	{ .name = NULL }
};

const struct qparam plan_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "status", .type = QT_STRING },
	{ .name = NULL }
};

static void
answer_plan(struct ctx *c, PGresult *res)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	billing_write_plan(&w, NULL, res, 0);
}

void
h_plan_create(struct ctx *c)
{
	char id[40], hex[25], a[4][24];
	const char *p[9];
	PGresult *res;

	p[0] = c->site.id;
	p[1] = json_str(c->body, "id");
	if (p[1] == NULL) {
		if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
			api_no_randomness(c);
			return;
		}
		snprintf(id, sizeof(id), "plan_%s", hex);
		p[1] = id;
	}
	p[2] = json_str(c->body, "name");
	p[3] = buf_lltoa(json_int(c->body, "amount", 0), a[0]);
	p[4] = json_str(c->body, "currency");
	p[5] = json_str(c->body, "interval");
	p[6] = buf_lltoa(json_int(c->body, "interval_count", 1), a[1]);
	p[7] = buf_lltoa(json_int(c->body, "trial_days", 0), a[2]);
	p[8] = buf_lltoa(c->now, a[3]);
	res = db_exec(c->db, STMT_PLAN_INSERT, p);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_error(c, 409, "invalid_request_error", "resource_already_exists", "id",
		    "A plan with id '%s' already exists.", p[1]);
	else {
		struct bctx b = { c->db, c->site.id, c->now };
		struct buf data;
		struct jw w;

		buf_init(&data);
		jw_init(&w, &data);
		billing_write_plan(&w, NULL, res, 0);
		if (events_emit(&b, "plan.created", p[1], data.data) != 0)
			api_db_error(c);
		else
			answer_plan(c, res);
		buf_free(&data);
	}
	PQclear(res);
}

/* Runs stmt on the path's plan and answers with it; event, when given, is recorded. */
static void
plan_by_path(struct ctx *c, enum stmt_id stmt, const char *event)
{
	struct bctx b = { c->db, c->site.id, c->now };
	PGresult *res = db_exec(c->db, stmt, (const char *[]){ c->site.id,
	    c->req->path_params[0] });

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_not_found(c, "plan", c->req->path_params[0]);
	else {
		answer_plan(c, res);
		if (event && events_emit(&b, event, c->req->path_params[0], c->resp->body.data))
			api_db_error(c);
	}
	PQclear(res);
}

void
h_plan_get(struct ctx *c)
{
	plan_by_path(c, STMT_PLAN_GET, NULL);
}

void
h_plan_archive(struct ctx *c)
{
	plan_by_path(c, STMT_PLAN_ARCHIVE, "plan.archived");
}

void
h_plan_list(struct ctx *c)
{
	int limit = api_list_limit(c);
	const char *after = api_arg(c, "starting_after"), *status = api_arg(c, "status");
	char lim[24], created[24];
	PGresult *res;
	struct jw w;
	int rc;

	buf_lltoa(limit + 1, lim);
	if ((rc = api_cursor(c, STMT_PLAN_GET, PLAN_CREATED, "plan", created)) < 0)
		return;
	if (rc == 1)
		res = db_exec(c->db, STMT_PLAN_LIST_AFTER, (const char *[]){ c->site.id, created,
		    after, lim, status });
	else
		res = db_exec(c->db, STMT_PLAN_LIST_FIRST, (const char *[]){ c->site.id, lim,
		    status });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res) && i < limit; i++)
		billing_write_plan(&w, NULL, res, i);
	api_list_end(c, &w, PQntuples(res) > limit);
	PQclear(res);
}
