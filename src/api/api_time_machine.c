/* api_time_machine.c: /api/v1/time_machine: a test site's clock, moved forward on demand. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

/* The most billing periods one travel may make the runner create. */
#define TRAVEL_MAX_PERIODS	10000

const struct field time_travel_fields[] = {
	{ .name = "seconds", .type = FT_INT, .min = 1, .max = 20LL * 365 * 86400 },
	{ .name = "destination_time", .type = FT_INT, .min = 0, .max = 32503680000LL },
	{ .name = NULL }
};

static void
answer(struct ctx *c)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "id", c->site.id);
	jw_str(&w, "object", "time_machine");
	jw_str(&w, "mode", c->site.mode);
	jw_int(&w, "now", c->now);
	jw_int(&w, "offset", c->site.clock_offset);
	/* What the job runner still has to do at this clock: 0 once it has caught up. */
	{
		char now[24];
		PGresult *res = db_exec(c->db, STMT_DUE_COUNT, (const char *[]){ c->site.id,
		    buf_lltoa(c->now, now) });

		if (res != NULL) {
			jw_int(&w, "pending_jobs", db_ll(res, 0, 0, 0));
			PQclear(res);
		}
	}
	jw_obj_end(&w);
}

void
h_time_machine_get(struct ctx *c)
{
	answer(c);
}

void
h_time_machine_travel(struct ctx *c)
{
	long long delta;
	char id[48], d[24];
	const char *params[2];
	PGresult *res;

	if (strcmp(c->site.mode, "test") != 0) {
		api_error(c, 400, "invalid_request_error", "live_site", NULL,
		    "Only test sites have a time machine.");
		return;
	}
	if (json_has(c->body, "seconds") == json_has(c->body, "destination_time")) {
		api_error(c, 400, "invalid_request_error", "parameter_missing", "seconds",
		    "Give exactly one of seconds and destination_time.");
		return;
	}
	if (json_has(c->body, "seconds"))
		delta = json_int(c->body, "seconds", 0);
	else {
		delta = json_int(c->body, "destination_time", 0) - c->now;
		if (delta <= 0) {
			api_error(c, 400, "invalid_request_error", "parameter_invalid",
			    "destination_time", "The clock only moves forward: "
			    "destination_time must be after %lld.", c->now);
			return;
		}
	}
	/* One test site may not make the runner create an unbounded amount of work. */
	{
		char to[24];
		PGresult *n = db_exec(c->db, STMT_PERIODS_UNTIL, (const char *[]){ c->site.id,
		    buf_lltoa(c->now + delta, to) });

		if (n == NULL) {
			api_db_error(c);
			return;
		}
		if (db_ll(n, 0, 0, 0) > TRAVEL_MAX_PERIODS) {
			api_error(c, 400, "invalid_request_error", "travel_too_far",
			    json_has(c->body, "seconds") ? "seconds" : "destination_time",
			    "This travel would make about %lld billing periods, more than the %d "
			    "one travel may make; travel in smaller steps.", db_ll(n, 0, 0, 0),
			    TRAVEL_MAX_PERIODS);
			PQclear(n);
			return;
		}
		PQclear(n);
	}
	snprintf(id, sizeof(id), "%s", c->site.id);
	params[0] = id;
	params[1] = buf_lltoa(delta, d);
	res = db_exec(c->db, STMT_SITE_TRAVEL, params);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 1) {
		c->site.clock_offset = db_ll(res, 0, 0, 0);
		c->now = (long long)time(NULL) + c->site.clock_offset;
	}
	PQclear(res);
	/* Wake the job runner: everything that just fell due should run now. */
	PQclear(db_exec(c->db, STMT_NOTIFY, (const char *[]){ c->site.id }));
	answer(c);
}
