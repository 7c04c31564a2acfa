/* api_subscriptions.c: /api/v1/subscriptions and its state machine.
 *
 *   create        -> in_trial (trial days) | active (first term paid) | past_due (not paid)
 *   cancel now    in_trial, active, non_renewing, past_due, paused -> cancelled
 *   cancel at end in_trial, active -> non_renewing (cancelled when the term ends)
 *   reactivate    non_renewing -> active; cancelled -> new paid term (active | past_due)
 *   pause         active -> paused (billing stops; optional resume_at)
 *   resume        paused -> new paid term from now (active | past_due)
 *   change plan   active, in_trial: now (prorated) or at end of term (scheduled)
 *   renewal       (job runner) active, past_due -> new term; in_trial -> first paid term;
 *                 non_renewing -> cancelled; payment failure -> past_due, dunning
 * Anything else is a 409 that names the status. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "billing/billing.h"
#include "billing/portal_settings.h"
#include "core/crypto.h"

static const char *
check_when(const char *v)
{
	return strcmp(v, "now") && strcmp(v, "end_of_term") ? "must be now or end_of_term" : NULL;
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
	{ .name = NULL }
};
const struct field sub_reactivate_fields[] = {
	{ .name = "plan_id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = NULL }
};
const struct field sub_pause_fields[] = {
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

static void
answer_sub(struct ctx *c, const char *id)
{
	PGresult *res = db_exec(c->db, STMT_SUB_GET, (const char *[]){ c->site.id, id });
	struct jw w;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		api_not_found(c, "subscription", id);
	} else {
		api_json_start(c, 200);
		jw_init(&w, &c->resp->body);
		billing_write_sub(&w, NULL, res, 0);
	}
	PQclear(res);
}

static void
illegal(struct ctx *c, const struct sub *s, const char *action)
{
	api_error(c, 409, "invalid_request_error", "invalid_state_transition", NULL,
	    "A subscription that is %s cannot be %s.", s->status, action);
}

/* Loads the path's subscription locked; answers 404 or the database error itself. */
static int
load(struct ctx *c, struct bctx *b, struct sub *s)
{
	int found = sub_load(b, c->req->path_params[0], true, s);

	if (found < 0)
		api_db_error(c);
	else if (found == 0)
		api_not_found(c, "subscription", c->req->path_params[0]);
	return found == 1 ? 0 : -1;
}

static int
load_plan(struct ctx *c, struct bctx *b, const char *id, struct plan *p)
{
	int found = plan_load(b, id, p);

	if (found < 0) {
		api_db_error(c);
		return -1;
	}
	if (found == 0) {
		api_error(c, 404, "invalid_request_error", "resource_missing", "plan_id",
		    "No such plan: '%s'", id);
		return -1;
	}
	if (strcmp(p->status, "archived") == 0) {
		api_error(c, 400, "invalid_request_error", "plan_archived", "plan_id",
		    "Plan '%s' is archived and takes no new subscriptions.", id);
		return -1;
	}
	return 0;
}

static bool
is(const struct sub *s, const char *st)
{
	return strcmp(s->status, st) == 0;
}



/* Emits the event and answers with the subscription; errors answer themselves. */
static void
finish(struct ctx *c, struct bctx *b, const struct sub *s, const char *event)
{
	if ((event && billing_emit_sub(b, event, s->id) != 0)) {
		api_db_error(c);
		return;
	}
	answer_sub(c, s->id);
}

void
h_sub_create(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct plan p;
	struct sub s;
	const char *cid = json_str(c->body, "customer_id");
	char id[40], hex[25], a[6][24];
	PGresult *res;
	long long trial;

	res = db_exec(c->db, STMT_CUSTOMER_GET, (const char *[]){ c->site.id, cid });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_error(c, 404, "invalid_request_error", "resource_missing", "customer_id",
		    "No such customer: '%s'", cid);
		return;
	}
	PQclear(res);
	if (load_plan(c, &b, json_str(c->body, "plan_id"), &p) != 0)
		return;
	if (json_str(c->body, "id") != NULL)
		snprintf(id, sizeof(id), "%s", json_str(c->body, "id"));
	else {
		crypto_random_hex(12, hex, sizeof(hex));
		snprintf(id, sizeof(id), "sub_%s", hex);
	}
	switch (sub_load(&b, id, false, &s)) {
	case 0:
		break;
	case 1:
		api_error(c, 409, "invalid_request_error", "resource_already_exists", "id",
		    "A subscription with id '%s' already exists.", id);
		return;
	default:
		api_db_error(c);
		return;
	}
	trial = json_int(c->body, "trial_days", p.trial_days);
	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.customer_id, sizeof(s.customer_id), "%s", cid);
	sub_apply_plan(&s, &p);
	s.anchor_day = billing_anchor_day(c->now);
	s.term_start = c->now;
	s.term_end = trial > 0 ? c->now + trial * 86400 : c->now;
	snprintf(s.status, sizeof(s.status), "%s", trial > 0 ? "in_trial" : "active");
	res = db_exec(c->db, STMT_SUB_INSERT, (const char *[]){ c->site.id, s.id, s.customer_id,
	    s.plan_id, s.status, buf_lltoa(s.anchor_day, a[0]), buf_lltoa(s.term_start, a[1]),
	    buf_lltoa(s.term_end, a[2]), trial > 0 ? a[2] : NULL, trial > 0 ? a[2] : NULL,
	    buf_lltoa(c->now, a[3]) });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	PQclear(res);
	if (billing_emit_sub(&b, "subscription.created", s.id) != 0) {
		api_db_error(c);
		return;
	}
	if (trial == 0) {
		s.next_billing_at = -1;
		s.trial_end = -1;
		s.cancelled_at = s.paused_at = s.resume_at = -1;
		if (billing_start_term(&b, &s, c->now) != 0) {
			api_db_error(c);
			return;
		}
	}
	answer_sub(c, s.id);
}

void
h_sub_get(struct ctx *c)
{
	answer_sub(c, c->req->path_params[0]);
}

void
h_sub_list(struct ctx *c)
{
	int limit = api_list_limit(c);
	const char *after = api_arg(c, "starting_after");
	const char *cust = api_arg(c, "customer_id"), *status = api_arg(c, "status");
	char lim[24], created[24];
	PGresult *res;
	struct jw w;
	int rc;

	buf_lltoa(limit + 1, lim);
	if ((rc = api_cursor(c, STMT_SUB_GET, SUB_CREATED, "subscription", created)) < 0)
		return;
	if (rc == 1)
		res = db_exec(c->db, cust ? STMT_SUB_LIST_CUST_AFTER : STMT_SUB_LIST_AFTER,
		    (const char *[]){ c->site.id, lim, cust, status, created, after });
	else
		res = db_exec(c->db, cust ? STMT_SUB_LIST_CUST_FIRST : STMT_SUB_LIST_FIRST,
		    (const char *[]){ c->site.id, lim, cust, status });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res) && i < limit; i++)
		billing_write_sub(&w, NULL, res, i);
	api_list_end(c, &w, PQntuples(res) > limit);
	PQclear(res);
}

/* The invoice a plan change now would raise, and the term it leaves: shared by the
 * preview and the change, so the preview is exactly what the change bills. */
static int
change_draft(struct ctx *c, struct sub *s, const struct plan *np, long long *at,
    struct inv_draft *d)
{
	long long pd = json_int(c->body, "proration_date", c->now);

	if (pd > c->now || pd < s->term_start || pd > s->term_end) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "proration_date",
		    "proration_date must lie in the current term and not in the future.");
		return -1;
	}
	*at = pd;
	memset(d, 0, sizeof(*d));
	if (strcmp(s->unit, np->unit) == 0 && s->count == np->count) {
		billing_change_lines(s, np, pd, d);
	} else {
		/* Another billing period: credit the unused time, start a new term now. */
		char desc[240];
		long long end = billing_add_interval(pd, np->unit, np->count, billing_anchor_day(pd));

		snprintf(d->customer_id, sizeof(d->customer_id), "%s", s->customer_id);
		snprintf(d->subscription_id, sizeof(d->subscription_id), "%s", s->id);
		snprintf(d->currency, sizeof(d->currency), "%s", np->currency);
		snprintf(desc, sizeof(desc), "Unused time on %s", s->plan_name);
		inv_add_line(d, "proration_credit", desc, -billing_prorate(s->amount,
		    s->term_end - pd, s->term_end - s->term_start), s->plan_id, pd, s->term_end);
		inv_add_line(d, "plan_charge", np->name, np->amount, np->id, pd, end);
	}
	return 0;
}

static int
change_checks(struct ctx *c, struct bctx *b, struct sub *s, struct plan *np)
{
	if (load(c, b, s) != 0 || load_plan(c, b, json_str(c->body, "plan_id"), np) != 0)
		return -1;
	if (!is(s, "active") && !is(s, "in_trial")) {
		illegal(c, s, "changed to another plan");
		return -1;
	}
	if (strcmp(np->id, s->plan_id) == 0) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "plan_id",
		    "The subscription is on plan '%s' already.", np->id);
		return -1;
	}
	if (strcmp(np->currency, s->currency) != 0) {
		api_error(c, 400, "invalid_request_error", "currency_mismatch", "plan_id",
		    "Plan '%s' is in %s; the subscription is in %s.", np->id, np->currency,
		    s->currency);
		return -1;
	}
	return 0;
}

static void
write_draft(struct jw *w, const struct inv_draft *d, long long at)
{
	long long total = inv_draft_total(d);

	jw_obj_begin(w, NULL);
	jw_str(w, "object", "invoice_preview");
	jw_str(w, "customer_id", d->customer_id);
	jw_str(w, "subscription_id", d->subscription_id);
	jw_str(w, "currency", d->currency);
	jw_int(w, "proration_date", at);
	jw_int(w, "subtotal", total);
	jw_int(w, "total", total);
	jw_arr_begin(w, "lines");
	for (int i = 0; i < d->n; i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "kind", d->lines[i].kind);
		jw_str(w, "description", d->lines[i].description);
		jw_int(w, "amount", d->lines[i].amount);
		jw_str(w, "plan_id", d->lines[i].plan_id);
		jw_int(w, "period_start", d->lines[i].start);
		jw_int(w, "period_end", d->lines[i].end);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void
h_sub_change_preview(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;
	struct plan np;
	struct inv_draft d;
	long long at;
	struct jw w;

	if (change_checks(c, &b, &s, &np) != 0)
		return;
	if (is(&s, "in_trial")) {
		memset(&d, 0, sizeof(d));
		snprintf(d.customer_id, sizeof(d.customer_id), "%s", s.customer_id);
		snprintf(d.subscription_id, sizeof(d.subscription_id), "%s", s.id);
		snprintf(d.currency, sizeof(d.currency), "%s", np.currency);
		at = c->now;
	} else if (change_draft(c, &s, &np, &at, &d) != 0)
		return;
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	write_draft(&w, &d, at);
	/* Nothing changes: the dispatcher commits nothing but row locks. */
}

void
h_sub_change(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;
	struct plan np;
	struct inv_draft d;
	const char *when = json_str(c->body, "when");
	char inv[40];
	long long at;
	bool paid;

	if (change_checks(c, &b, &s, &np) != 0)
		return;
	if (when != NULL && strcmp(when, "end_of_term") == 0) {
		snprintf(s.scheduled_plan, sizeof(s.scheduled_plan), "%s", np.id);
		if (sub_save(&b, &s) != 0) {
			api_db_error(c);
			return;
		}
		finish(c, &b, &s, "subscription.change_scheduled");
		return;
	}
	if (is(&s, "in_trial")) {
		sub_apply_plan(&s, &np);
		s.scheduled_plan[0] = '\0';
		if (sub_save(&b, &s) != 0) {
			api_db_error(c);
			return;
		}
		finish(c, &b, &s, "subscription.changed");
		return;
	}
	if (change_draft(c, &s, &np, &at, &d) != 0)
		return;
	if (strcmp(s.unit, np.unit) != 0 || s.count != np.count) {
		s.term_start = at;
		s.anchor_day = billing_anchor_day(at);
		s.term_end = billing_add_interval(at, np.unit, np.count, s.anchor_day);
		s.next_billing_at = s.term_end;
	}
	sub_apply_plan(&s, &np);
	s.scheduled_plan[0] = '\0';
	if (sub_save(&b, &s) != 0 || billing_raise_invoice(&b, &d, inv) != 0 ||
	    billing_collect(&b, inv, &paid) != 0) {
		api_db_error(c);
		return;
	}
	finish(c, &b, &s, "subscription.changed");
}

/* The reason must be one of the site's cancellation reasons (the portal configuration). */
static int
check_reason(struct ctx *c, const char *reason)
{
	struct portal_settings ps;

	if (reason == NULL)
		return 0;
	if (portal_settings_load(c->db, c->site.id, NULL, &ps) <= 0) {
		api_db_error(c);
		return -1;
	}
	if (portal_settings_reason(&ps, reason) == NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "reason",
		    "reason is not one of this site's cancellation reasons.");
		return -1;
	}
	return 0;
}

void
h_sub_cancel(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;
	const char *when = json_str(c->body, "when");
	bool now = when != NULL && strcmp(when, "now") == 0;

	if (load(c, &b, &s) != 0 || check_reason(c, json_str(c->body, "reason")) != 0)
		return;
	if (is(&s, "cancelled")) {
		illegal(c, &s, "cancelled again");
		return;
	}
	if (!now && !is(&s, "active") && !is(&s, "in_trial")) {
		illegal(c, &s, "cancelled at the end of its term (cancel it now instead)");
		return;
	}
	snprintf(s.cancel_reason, sizeof(s.cancel_reason), "%s",
	    json_str(c->body, "reason") ? json_str(c->body, "reason") : "");
	snprintf(s.cancel_comment, sizeof(s.cancel_comment), "%s",
	    json_str(c->body, "comment") ? json_str(c->body, "comment") : "");
	if (now) {
		snprintf(s.status, sizeof(s.status), "cancelled");
		s.cancelled_at = c->now;
		s.next_billing_at = -1;
		s.cancel_at_end = false;
		s.resume_at = -1;
		s.scheduled_plan[0] = '\0';
	} else {
		snprintf(s.status, sizeof(s.status), "non_renewing");
		s.cancel_at_end = true;
	}
	if (sub_save(&b, &s) != 0) {
		api_db_error(c);
		return;
	}
	finish(c, &b, &s, now ? "subscription.cancelled" : "subscription.cancellation_scheduled");
}

void
h_sub_reactivate(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;
	struct plan np;
	const char *plan = json_str(c->body, "plan_id");

	if (load(c, &b, &s) != 0)
		return;
	if (is(&s, "non_renewing")) {
		if (plan != NULL) {
			api_error(c, 400, "invalid_request_error", "parameter_invalid", "plan_id",
			    "Change the plan separately: this subscription's term is still running.");
			return;
		}
		snprintf(s.status, sizeof(s.status), "%s", s.trial_end >= 0 &&
		    s.trial_end == s.next_billing_at ? "in_trial" : "active");
		s.cancel_at_end = false;
		s.cancel_reason[0] = s.cancel_comment[0] = '\0';
		if (sub_save(&b, &s) != 0) {
			api_db_error(c);
			return;
		}
		finish(c, &b, &s, "subscription.reactivated");
		return;
	}
	if (!is(&s, "cancelled")) {
		illegal(c, &s, "reactivated");
		return;
	}
	if (plan != NULL) {
		if (load_plan(c, &b, plan, &np) != 0)
			return;
		sub_apply_plan(&s, &np);
	}
	snprintf(s.status, sizeof(s.status), "active");
	s.cancelled_at = -1;
	s.cancel_at_end = false;
	s.cancel_reason[0] = s.cancel_comment[0] = '\0';
	s.anchor_day = billing_anchor_day(c->now);
	if (billing_start_term(&b, &s, c->now) != 0) {
		api_db_error(c);
		return;
	}
	finish(c, &b, &s, "subscription.reactivated");
}

void
h_sub_pause(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;
	long long resume = json_int(c->body, "resume_at", -1);

	if (load(c, &b, &s) != 0)
		return;
	if (!is(&s, "active")) {
		illegal(c, &s, "paused");
		return;
	}
	if (resume >= 0 && resume <= c->now) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "resume_at",
		    "resume_at must be in the future (now is %lld).", c->now);
		return;
	}
	snprintf(s.status, sizeof(s.status), "paused");
	s.paused_at = c->now;
	s.resume_at = resume;
	s.next_billing_at = -1;
	s.scheduled_plan[0] = '\0';
	if (sub_save(&b, &s) != 0) {
		api_db_error(c);
		return;
	}
	finish(c, &b, &s, "subscription.paused");
}

void
h_sub_resume(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	struct sub s;

	if (load(c, &b, &s) != 0)
		return;
	if (!is(&s, "paused")) {
		illegal(c, &s, "resumed");
		return;
	}
	snprintf(s.status, sizeof(s.status), "active");
	s.paused_at = -1;
	s.resume_at = -1;
	s.anchor_day = billing_anchor_day(c->now);
	if (billing_start_term(&b, &s, c->now) != 0) {
		api_db_error(c);
		return;
	}
	finish(c, &b, &s, "subscription.resumed");
}
