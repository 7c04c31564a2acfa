/* api_subscriptions.c: /api/v1/subscriptions. The rules are the billing domain's
 * (src/billing/subscriptions.c); each handler validates, fills a request, calls, answers. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/subscriptions.h"

static const char *
check_when(const char *v)
{
	return strcmp(v, "now") && strcmp(v, "end_of_term") ? "must be now or end_of_term" : NULL;
}

static const char *
check_credit(const char *v)
{
	return strcmp(v, "prorate") && strcmp(v, "none") ? "must be prorate or none" : NULL;
}

const struct field sub_create_fields[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "customer_id", .type = FT_STRING, .required = true, .max_len = 64,
	  .check = check_id },
	{ .name = "plan_id", .type = FT_STRING, .required = true, .max_len = 64, .check = check_id },
	{ .name = "trial_days", .type = FT_INT, .min = 0, .max = 730 },
	{ .name = NULL }
};
const struct field sub_change_fields[] = {
	{ .name = "plan_id", .type = FT_STRING, .required = true, .max_len = 64, .check = check_id },
	{ .name = "when", .type = FT_STRING, .max_len = 11, .check = check_when },
	{ .name = "proration_date", .type = FT_INT, .min = 0, .max = 32503680000LL },
	{ .name = NULL }
};
const struct field sub_cancel_fields[] = {
	{ .name = "when", .type = FT_STRING, .max_len = 11, .check = check_when },
	{ .name = "reason", .type = FT_STRING, .max_len = 60 },
	{ .name = "comment", .type = FT_STRING, .max_len = 500, .multiline = true },
	{ .name = "credit", .type = FT_STRING, .max_len = 7, .check = check_credit },
	{ .name = NULL }
};
const struct field sub_reactivate_fields[] = {
	{ .name = "plan_id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = NULL }
};
const struct field sub_pause_fields[] = {
	{ .name = "when", .type = FT_STRING, .max_len = 11, .check = check_when },
	{ .name = "resume_at", .type = FT_INT, .min = 0, .max = 32503680000LL },
	{ .name = NULL }
};
const struct qparam sub_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "customer_id", .type = QT_ID },
	{ .name = "status", .type = QT_STRING },
	{ .name = NULL }
};

static bool
when_is(struct ctx *c, const char *v)
{
	const char *when = json_str(c->body, "when");

	return when != NULL && strcmp(when, v) == 0;
}

/* The operation's outcome: the subscription, or the domain's error. */
static void
done(struct ctx *c, int rc, const struct derr *e, const char *id)
{
	if (rc != 0)
		api_derr(c, e);
	else
		api_answer(c, OBJ_SUBSCRIPTION, id);
}

void
h_sub_create(struct ctx *c)
{
	struct sub_create_req r = { json_str(c->body, "id"), json_str(c->body, "customer_id"),
	    json_str(c->body, "plan_id"), (int)json_int(c->body, "trial_days", -1) };
	char id[DOM_ID_MAX];
	struct derr e;

	done(c, subs_create(&c->d, &r, id, &e), &e, id);
}

void
h_sub_get(struct ctx *c)
{
	api_get(c, OBJ_SUBSCRIPTION, c->req->path_params[0]);
}

void
h_sub_list(struct ctx *c)
{
	/* A customer's subscriptions have statements of their own, so the plan always walks
	 * the (site_id, customer_id, created_at, id) index however deep the cursor. */
	static const struct list_spec all = { OBJ_SUBSCRIPTION, STMT_SUB_LIST_FIRST,
	    STMT_SUB_LIST_AFTER, { "customer_id", "status" }, CURSOR_CREATED, SUB_CREATED };
	static const struct list_spec own = { OBJ_SUBSCRIPTION, STMT_SUB_LIST_CUST_FIRST,
	    STMT_SUB_LIST_CUST_AFTER, { "customer_id", "status" }, CURSOR_CREATED, SUB_CREATED };

	api_list(c, api_arg(c, "customer_id") != NULL ? &own : &all);
}

static void
change_req(struct ctx *c, struct sub_change_req *r)
{
	r->plan_id = json_str(c->body, "plan_id");
	r->end_of_term = when_is(c, "end_of_term");
	r->proration_date = json_int(c->body, "proration_date", -1);
	r->expect_due = -1;
}

void
h_sub_change(struct ctx *c)
{
	struct sub_change_req r;
	struct derr e;

	change_req(c, &r);
	done(c, subs_change(&c->d, c->req->path_params[0], &r, NULL, &e), &e,
	    c->req->path_params[0]);
}

static void
write_line(struct jw *w, const struct inv_line *l)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "kind", l->kind);
	jw_str(w, "description", l->description);
	jw_int(w, "amount", l->amount);
	jw_str(w, "plan_id", l->plan_id[0] ? l->plan_id : NULL);
	jw_int(w, "period_start", l->start);
	jw_int(w, "period_end", l->end);
	jw_obj_end(w);
}

/* Exactly what the change would bill now, the credit it would grant, and the renewal
 * after it; nothing is changed. */
void
h_sub_change_preview(struct ctx *c)
{
	struct sub_change_req r;
	struct sub_preview p;
	struct derr e;
	struct jw w;
	long long total;

	change_req(c, &r);
	if (subs_preview(&c->d, c->req->path_params[0], &r, NULL, &p, &e) != 0) {
		api_derr(c, &e);
		return;
	}
	total = inv_draft_total(&p.draft);
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "invoice_preview");
	jw_str(&w, "subscription_id", c->req->path_params[0]);
	jw_str(&w, "customer_id", p.draft.customer_id);
	jw_str(&w, "currency", p.currency);
	jw_str(&w, "when", p.end_of_term ? "end_of_term" : "now");
	jw_int(&w, "proration_date", p.proration_date);
	jw_arr_begin(&w, "lines");
	for (int i = 0; i < p.draft.n; i++)
		write_line(&w, &p.draft.lines[i]);
	jw_arr_end(&w);
	jw_int(&w, "subtotal", total);
	jw_int(&w, "credit_applied", p.credit_applied);
	jw_int(&w, "total", total);
	jw_int(&w, "amount_due", p.amount_due);
	jw_arr_begin(&w, "credits");
	if (p.credit_granted > 0) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "description", p.credit_description);
		jw_int(&w, "amount", p.credit_granted);
		jw_int(&w, "period_start", p.credit_start);
		jw_int(&w, "period_end", p.credit_end);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	if (p.next_at >= 0) {
		jw_obj_begin(&w, "next_renewal");
		jw_int(&w, "at", p.next_at);
		jw_str(&w, "plan_id", p.next_plan);
		jw_int(&w, "amount", p.next_amount);
		jw_obj_end(&w);
	} else
		jw_null(&w, "next_renewal");
	jw_obj_end(&w);
}

void
h_sub_cancel(struct ctx *c)
{
	const char *credit = json_str(c->body, "credit");
	struct sub_cancel_req r = { when_is(c, "now"), json_str(c->body, "reason"),
	    json_str(c->body, "comment"), credit != NULL && strcmp(credit, "none") == 0 };
	struct derr e;

	done(c, subs_cancel(&c->d, c->req->path_params[0], &r, NULL, &e), &e,
	    c->req->path_params[0]);
}

void
h_sub_reactivate(struct ctx *c)
{
	struct derr e;

	done(c, subs_reactivate(&c->d, c->req->path_params[0], json_str(c->body, "plan_id"),
	    NULL, &e), &e, c->req->path_params[0]);
}

void
h_sub_pause(struct ctx *c)
{
	struct sub_pause_req r = { when_is(c, "end_of_term"), json_int(c->body, "resume_at", -1) };
	struct derr e;

	done(c, subs_pause(&c->d, c->req->path_params[0], &r, NULL, &e), &e,
	    c->req->path_params[0]);
}

void
h_sub_resume(struct ctx *c)
{
	struct derr e;

	done(c, subs_resume(&c->d, c->req->path_params[0], NULL, &e), &e,
	    c->req->path_params[0]);
}
