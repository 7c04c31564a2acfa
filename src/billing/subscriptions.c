/* subscriptions.c: subscriptions. The state machine is the table below; sm_run() is the
 * only code that writes a subscription's status, and every operation (API, portal, job
 * runner, payment outcomes) goes through it. Operations check the request and the
 * merchant's policy, pick the table row, and hand it what the row needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/cnotes.h"
#include "billing/credit.h"
#include "billing/customers.h"
#include "billing/events.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/subscriptions.h"
#include "billing/taxes.h"
#include "billing/terms.h"

#define B(s)		SS_BIT(SS_##s)
#define SERVING_NOW	(B(ACTIVE) | B(NON_RENEWING) | B(PAST_DUE))

/*	action			name			op		variant
 *	from								to
 *	charges	event							effects */
const struct sub_rule sub_rules[SA__MAX] = {
	[SA_CREATE_TRIAL] = { SA_CREATE_TRIAL, "create_trial", "create", "trial",
	    B(NONE), SS_IN_TRIAL,
	    false, "subscription.created", 0, NULL, "created" },
	[SA_CREATE] = { SA_CREATE, "create", "create", "now",
	    B(NONE), SS_ACTIVE,
	    true, "subscription.created", FX_NEW_TERM | FX_MOVE_ANCHOR, NULL, "created" },
	[SA_CHANGE_NOW] = { SA_CHANGE_NOW, "change_now", "change_plan", "now",
	    B(IN_TRIAL) | B(ACTIVE), SS_NONE,
	    true, "subscription.changed", FX_CREDIT_UNUSED | FX_APPLY_PLAN | FX_INVOICE,
	    "proration", "changed to another plan" },
	[SA_CHANGE_SCHEDULED] = { SA_CHANGE_SCHEDULED, "change_scheduled", "change_plan",
	    "end_of_term",
	    B(IN_TRIAL) | B(ACTIVE), SS_NONE,
	    false, "subscription.change_scheduled", FX_SCHEDULE_PLAN, NULL,
	    "changed to another plan" },
	[SA_CANCEL_SCHEDULED] = { SA_CANCEL_SCHEDULED, "cancel_scheduled", "cancel",
	    "end_of_term",
	    B(IN_TRIAL) | B(ACTIVE), SS_NON_RENEWING,
	    false, "subscription.cancellation_scheduled", FX_SCHEDULE_CANCEL, NULL,
	    "cancelled at the end of its term (cancel it now instead)" },
	[SA_CANCEL_NOW] = { SA_CANCEL_NOW, "cancel_now", "cancel", "now",
	    B(IN_TRIAL) | B(ACTIVE) | B(NON_RENEWING) | B(PAST_DUE) | B(PAUSED), SS_CANCELLED,
	    false, "subscription.cancelled",
	    FX_CREDIT_UNUSED | FX_VOID_OPEN | FX_RECORD_CANCEL | FX_CLEAR_PLAN | FX_CLEAR_PAUSE,
	    "cancellation", "cancelled" },
	[SA_UNCANCEL] = { SA_UNCANCEL, "uncancel", "reactivate", "scheduled",
	    B(NON_RENEWING), SS_ACTIVE,
	    false, "subscription.reactivated", FX_CLEAR_CANCEL, NULL, "reactivated" },
	[SA_UNCANCEL_TRIAL] = { SA_UNCANCEL_TRIAL, "uncancel_trial", "reactivate", "scheduled",
	    B(NON_RENEWING), SS_IN_TRIAL,
	    false, "subscription.reactivated", FX_CLEAR_CANCEL, NULL, "reactivated" },
	[SA_REACTIVATE_TRIAL] = { SA_REACTIVATE_TRIAL, "reactivate_trial", "reactivate", "now",
	    B(CANCELLED), SS_IN_TRIAL,
	    false, "subscription.reactivated", FX_CLEAR_CANCEL, NULL, "reactivated" },
	[SA_REACTIVATE_RESTORE] = { SA_REACTIVATE_RESTORE, "reactivate_restore", "reactivate",
	    "now",
	    B(CANCELLED), SS_ACTIVE,
	    false, "subscription.reactivated", FX_CLEAR_CANCEL | FX_RESTORE_TERM, NULL,
	    "reactivated" },
	[SA_REACTIVATE_NEW_TERM] = { SA_REACTIVATE_NEW_TERM, "reactivate", "reactivate", "now",
	    B(CANCELLED), SS_ACTIVE,
	    true, "subscription.reactivated",
	    FX_CREDIT_UNUSED | FX_CLEAR_CANCEL | FX_APPLY_PLAN | FX_NEW_TERM | FX_MOVE_ANCHOR,
	    "proration", "reactivated" },
	[SA_PAUSE_NOW] = { SA_PAUSE_NOW, "pause_now", "pause", "now",
	    B(ACTIVE), SS_PAUSED,
	    false, "subscription.paused", FX_CREDIT_UNUSED | FX_RECORD_PAUSE, "pause", "paused" },
	[SA_PAUSE_SCHEDULED] = { SA_PAUSE_SCHEDULED, "pause_scheduled", "pause", "end_of_term",
	    B(ACTIVE), SS_NONE,
	    false, "subscription.pause_scheduled", FX_SCHEDULE_PAUSE, NULL, "paused" },
	[SA_UNPAUSE_SCHEDULED] = { SA_UNPAUSE_SCHEDULED, "unpause_scheduled", "resume",
	    "scheduled",
	    B(ACTIVE), SS_NONE,
	    false, "subscription.resumed", FX_CLEAR_PAUSE, NULL, "resumed" },
	[SA_RESUME] = { SA_RESUME, "resume", "resume", "now",
	    B(PAUSED), SS_ACTIVE,
	    true, "subscription.resumed",
	    FX_CLEAR_PAUSE | FX_APPLY_PLAN | FX_NEW_TERM | FX_MOVE_ANCHOR, NULL, "resumed" },
	[SA_AUTO_RESUME] = { SA_AUTO_RESUME, "auto_resume", NULL, NULL,
	    B(PAUSED), SS_ACTIVE,
	    true, "subscription.resumed",
	    FX_CLEAR_PAUSE | FX_APPLY_PLAN | FX_NEW_TERM | FX_MOVE_ANCHOR, NULL, "resumed" },
	[SA_RENEW] = { SA_RENEW, "renew", NULL, NULL,
	    B(ACTIVE) | B(PAST_DUE), SS_NONE,
	    true, "subscription.renewed", FX_APPLY_PLAN | FX_NEW_TERM, NULL, "renewed" },
	[SA_TRIAL_END] = { SA_TRIAL_END, "trial_end", NULL, NULL,
	    B(IN_TRIAL), SS_ACTIVE,
	    true, "subscription.trial_ended", FX_APPLY_PLAN | FX_NEW_TERM | FX_MOVE_ANCHOR, NULL,
	    "ended" },
	[SA_TERM_END_CANCEL] = { SA_TERM_END_CANCEL, "term_end_cancel", NULL, NULL,
	    B(NON_RENEWING), SS_CANCELLED,
	    false, "subscription.cancelled", FX_RECORD_CANCEL | FX_CLEAR_PLAN, NULL,
	    "cancelled" },
	[SA_TERM_END_PAUSE] = { SA_TERM_END_PAUSE, "term_end_pause", NULL, NULL,
	    B(ACTIVE) | B(PAST_DUE), SS_PAUSED,
	    false, "subscription.paused", FX_RECORD_PAUSE, NULL, "paused" },
	[SA_PAYMENT_FAILED] = { SA_PAYMENT_FAILED, "payment_failed", NULL, NULL,
	    B(ACTIVE) | B(NON_RENEWING), SS_PAST_DUE,
	    false, "subscription.past_due", 0, NULL, "made past due" },
	[SA_PAYMENT_RECOVERED] = { SA_PAYMENT_RECOVERED, "payment_recovered", NULL, NULL,
	    B(PAST_DUE), SS_SERVING,
	    false, "subscription.activated", 0, NULL, "activated" },
	[SA_DUNNING_CANCEL] = { SA_DUNNING_CANCEL, "dunning_cancel", NULL, NULL,
	    B(PAST_DUE), SS_CANCELLED,
	    false, "subscription.cancelled",
	    FX_VOID_OPEN | FX_RECORD_CANCEL | FX_CLEAR_PLAN | FX_CLEAR_PAUSE, NULL, "cancelled" },
	[SA_DUNNING_WRITE_OFF] = { SA_DUNNING_WRITE_OFF, "dunning_write_off", NULL, NULL,
	    B(PAST_DUE), SS_SERVING,
	    false, "subscription.activated", 0, NULL, "activated" },
};

static const char *const status_names[SS__MAX] = {
	[SS_NONE] = "new", [SS_IN_TRIAL] = "in_trial", [SS_ACTIVE] = "active",
	[SS_NON_RENEWING] = "non_renewing", [SS_PAST_DUE] = "past_due", [SS_PAUSED] = "paused",
	[SS_CANCELLED] = "cancelled", [SS_SERVING] = "active",
};

const char *
subs_status_name(enum sub_status s)
{
	return s < SS__MAX ? status_names[s] : "?";
}

enum sub_status
subs_status_parse(const char *name)
{
	for (int s = SS_IN_TRIAL; s <= SS_CANCELLED; s++)
		if (name != NULL && strcmp(status_names[s], name) == 0)
			return (enum sub_status)s;
	return SS_NONE;
}

bool
subs_op_allowed(const char *op, const char *variant, enum sub_status from)
{
	for (int a = 0; a < SA__MAX; a++) {
		const struct sub_rule *r = &sub_rules[a];

		if (r->op == NULL || strcmp(r->op, op) != 0)
			continue;
		if (variant != NULL && strcmp(r->variant, variant) != 0)
			continue;
		if (r->from & SS_BIT(from))
			return true;
	}
	return false;
}

/* ---- loading and saving ---- */

static void
copy(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v ? v : "");
}

static void
from_row(PGresult *res, int row, struct sub *s)
{
	memset(s, 0, sizeof(*s));
	copy(s->id, sizeof(s->id), db_val(res, row, SUB_ID));
	copy(s->customer_id, sizeof(s->customer_id), db_val(res, row, SUB_CUSTOMER));
	copy(s->plan_id, sizeof(s->plan_id), db_val(res, row, SUB_PLAN));
	copy(s->scheduled_plan, sizeof(s->scheduled_plan), db_val(res, row, SUB_SCHEDULED_PLAN));
	copy(s->term_invoice, sizeof(s->term_invoice), db_val(res, row, SUB_TERM_INVOICE));
	copy(s->cancel_reason, sizeof(s->cancel_reason), db_val(res, row, SUB_CANCEL_REASON));
	copy(s->cancel_comment, sizeof(s->cancel_comment), db_val(res, row, SUB_CANCEL_COMMENT));
	copy(s->currency, sizeof(s->currency), db_val(res, row, SUB_CURRENCY));
	copy(s->unit, sizeof(s->unit), db_val(res, row, SUB_UNIT));
	copy(s->plan_name, sizeof(s->plan_name), db_val(res, row, SUB_PLAN_NAME));
	s->status = subs_status_parse(db_val(res, row, SUB_STATUS));
	s->term_start = db_ll(res, row, SUB_TERM_START, -1);
	s->term_end = db_ll(res, row, SUB_TERM_END, -1);
	s->due_at = db_ll(res, row, SUB_NEXT, -1);
	s->trial_end = db_ll(res, row, SUB_TRIAL_END, -1);
	s->cancel_at_end = strcmp(db_val(res, row, SUB_CANCEL_AT_END), "t") == 0;
	s->cancelled_at = db_ll(res, row, SUB_CANCELLED_AT, -1);
	s->paused_at = db_ll(res, row, SUB_PAUSED_AT, -1);
	s->resume_at = db_ll(res, row, SUB_RESUME_AT, -1);
	s->pause_at = db_ll(res, row, SUB_PAUSE_AT, -1);
	s->anchor_day = (int)db_ll(res, row, SUB_ANCHOR, 1);
	s->amount = db_ll(res, row, SUB_AMOUNT, 0);
	s->count = (int)db_ll(res, row, SUB_COUNT, 1);
	s->created_at = db_ll(res, row, SUB_CREATED, 0);
	s->scheduled_amount = db_ll(res, row, SUB_SCHEDULED_AMOUNT, -1);
	copy(s->credit, sizeof(s->credit), db_val(res, row, SUB_CREDIT));
	s->site_taxes = strcmp(db_val(res, row, SUB_SITE_TAXES), "t") == 0;
}

int
subs_next_charge(struct dctx *d, PGresult *res, int row, long long *at, long long *amount,
    struct derr *e)
{
	const char *status = db_val(res, row, SUB_STATUS);
	long long price, credit;

	*at = *amount = -1;
	if (db_val(res, row, SUB_NEXT) == NULL ||
	    strcmp(db_val(res, row, SUB_CANCEL_AT_END), "t") == 0 ||
	    db_val(res, row, SUB_PAUSE_AT) != NULL || (strcmp(status, "active") != 0 &&
	    strcmp(status, "in_trial") != 0 && strcmp(status, "past_due") != 0))
		return 0;
	price = db_val(res, row, SUB_SCHEDULED_AMOUNT) ? db_ll(res, row, SUB_SCHEDULED_AMOUNT, 0) :
	    db_ll(res, row, SUB_AMOUNT, 0);
	/* Only a site with tax rates can charge tax (the reverse charge charges none). */
	if (strcmp(db_val(res, row, SUB_SITE_TAXES), "t") == 0 && taxes_gross_for(d,
	    db_val(res, row, SUB_CUSTOMER), price, &price, e) != 0)
		return -1;
	credit = db_ll(res, row, SUB_CREDIT, 0);
	*at = db_ll(res, row, SUB_NEXT, -1);
	*amount = price > credit ? price - credit : 0;
	return 1;
}

int
subs_load(struct dctx *d, const char *id, bool lock, struct sub *s, struct derr *e)
{
	PGresult *res = db_exec(d->db, lock ? STMT_SUB_LOCK : STMT_SUB_GET,
	    (const char *[]){ d->site.id, id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	if (n == 1)
		from_row(res, 0, s);
	PQclear(res);
	return n == 1 ? 0 : derr_not_found(e, "subscription", id);
}

int
subs_load_own(struct dctx *d, const char *customer_id, const char *id, bool lock,
    struct sub *s, struct derr *e)
{
	if (subs_load(d, id, lock, s, e) != 0)
		return -1;
	if (strcmp(s->customer_id, customer_id) != 0)
		return derr_not_found(e, "subscription", id);
	return 0;
}

static void
apply_plan(struct sub *s, const struct plan *p)
{
	copy(s->plan_id, sizeof(s->plan_id), p->id);
	copy(s->plan_name, sizeof(s->plan_name), p->name);
	copy(s->currency, sizeof(s->currency), p->currency);
	copy(s->unit, sizeof(s->unit), p->unit);
	s->amount = p->amount;
	s->count = p->count;
}

/* When the job runner must next act: a trial's end, a term's end; nothing when paused
 * (the resume date has its own claim) or cancelled. Derived, never set by hand. */
static long long
due_of(const struct sub *s)
{
	switch (s->status) {
	case SS_IN_TRIAL:
		return s->trial_end;
	case SS_ACTIVE:
	case SS_NON_RENEWING:
	case SS_PAST_DUE:
		return s->term_end;
	default:
		return -1;
	}
}

static int
save(struct dctx *d, const struct sub *s, struct derr *e)
{
	char a[12][24];
	if (db_exec_later(d->db, STMT_SUB_UPDATE, (const char *[]){ d->site.id, s->id,
	    s->plan_id, dom_opt(s->term_start, a[0]), dom_opt(s->term_end, a[1]),
	    dom_opt(s->due_at, a[2]), dom_opt(s->trial_end, a[3]),
	    s->cancel_at_end ? "true" : "false", dom_opt(s->cancelled_at, a[4]),
	    s->cancel_reason[0] ? s->cancel_reason : NULL,
	    s->cancel_comment[0] ? s->cancel_comment : NULL, dom_opt(s->paused_at, a[5]),
	    dom_opt(s->resume_at, a[6]), s->scheduled_plan[0] ? s->scheduled_plan : NULL,
	    dom_opt(s->anchor_day, a[7]), dom_opt(s->pause_at, a[8]),
	    s->term_invoice[0] ? s->term_invoice : NULL, dom_opt(d->now, a[9]) }) != 0)
		return derr_db(e, d->db);
	return 0;
}

static int
insert(struct dctx *d, const struct sub *s, struct derr *e)
{
	char a[6][24];
	PGresult *res = db_exec(d->db, STMT_SUB_INSERT, (const char *[]){ d->site.id, s->id,
	    s->customer_id, s->plan_id, subs_status_name(s->status),
	    dom_opt(s->anchor_day, a[0]), dom_opt(s->term_start, a[1]),
	    dom_opt(s->term_end, a[2]), dom_opt(s->due_at, a[3]), dom_opt(s->trial_end, a[4]),
	    dom_opt(d->now, a[5]), s->term_invoice[0] ? s->term_invoice : NULL });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_CONFLICT, "resource_already_exists", "id",
		    "A subscription with id '%s' already exists.", s->id);
	return 0;
}

/* s as a read back would give it (SUB_COLS), just after save() wrote it at d->now: NULL
 * when out of memory. */
static PGresult *
written_row(struct dctx *d, const struct sub *s)
{
	PGresult *res = db_result_new(SUB_SITE_TAXES + 1);
	char a[14][24];
	const char *v[SUB_SITE_TAXES + 1] = {
		[SUB_ID] = s->id, [SUB_CUSTOMER] = s->customer_id, [SUB_PLAN] = s->plan_id,
		[SUB_STATUS] = subs_status_name(s->status),
		[SUB_TERM_START] = dom_opt(s->term_start, a[0]),
		[SUB_TERM_END] = dom_opt(s->term_end, a[1]),
		[SUB_NEXT] = dom_opt(s->due_at, a[2]), [SUB_TRIAL_END] = dom_opt(s->trial_end, a[3]),
		[SUB_CANCEL_AT_END] = s->cancel_at_end ? "t" : "f",
		[SUB_CANCELLED_AT] = dom_opt(s->cancelled_at, a[4]),
		[SUB_CANCEL_REASON] = s->cancel_reason[0] ? s->cancel_reason : NULL,
		[SUB_CANCEL_COMMENT] = s->cancel_comment[0] ? s->cancel_comment : NULL,
		[SUB_PAUSED_AT] = dom_opt(s->paused_at, a[5]),
		[SUB_RESUME_AT] = dom_opt(s->resume_at, a[6]),
		[SUB_SCHEDULED_PLAN] = s->scheduled_plan[0] ? s->scheduled_plan : NULL,
		[SUB_CREATED] = buf_lltoa(s->created_at, a[7]),
		[SUB_UPDATED] = buf_lltoa(d->now, a[8]),
		[SUB_ANCHOR] = dom_opt(s->anchor_day, a[9]),
		[SUB_AMOUNT] = buf_lltoa(s->amount, a[10]), [SUB_CURRENCY] = s->currency,
		[SUB_UNIT] = s->unit, [SUB_COUNT] = buf_lltoa(s->count, a[11]),
		[SUB_PLAN_NAME] = s->plan_name, [SUB_PAUSE_AT] = dom_opt(s->pause_at, a[12]),
		[SUB_TERM_INVOICE] = s->term_invoice[0] ? s->term_invoice : NULL,
		[SUB_SCHEDULED_AMOUNT] = s->scheduled_plan[0] ?
		    dom_opt(s->scheduled_amount, a[13]) : NULL,
		[SUB_CREDIT] = s->credit, [SUB_SITE_TAXES] = s->site_taxes ? "t" : "f",
	};

	if (res == NULL)
		return NULL;
	for (int c = 0; c <= SUB_SITE_TAXES; c++)
		if (db_result_set(res, 0, c, v[c]) != 0) {
			PQclear(res);
			return NULL;
		}
	return res;
}

/* The subscription's event: rendered from s as just written when written is set (no
 * statement), else read back. */
static int
emit(struct dctx *d, const char *type, const struct sub *s, bool written, struct derr *e)
{
	struct buf data;
	PGresult *row = NULL;
	int rc;

	buf_init(&data);
	if (written && (row = written_row(d, s)) == NULL) {
		buf_free(&data);
		return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL, "Out of memory.");
	}
	rc = row != NULL ? obj_render_row(d, OBJ_SUBSCRIPTION, row, 0, &data, e) :
	    obj_render(d, OBJ_SUBSCRIPTION, s->id, &data, e);
	PQclear(row);
	if (rc == 0 && written)
		rc = obj_check_render(d, OBJ_SUBSCRIPTION, s->id, data.data, e);
	if (rc == 0)
		rc = events_emit(d, type, s->id, data.data, e);
	buf_free(&data);
	return rc;
}

/* ---- the executor ---- */

struct sm_args {
	long long		 at;		/* -1: d->now */
	const struct plan	*plan;		/* FX_APPLY_PLAN: this plan now */
	bool			 set_term;	/* a plan change to another period */
	long long		 term_start, term_end;
	int			 anchor;
	const struct inv_draft	*draft;		/* FX_INVOICE */
	const char		*scheduled_plan;
	const char		*reason, *comment;
	long long		 resume_at;
	bool			 no_credit;
};

/* What a run produced, for previews. */
struct sm_result {
	char		invoice[DOM_ID_MAX];
	long long	credit;
	char		credit_description[240];
	long long	credit_start, credit_end;
};

static bool
term_paid(struct dctx *d, const struct sub *s, long long *cap, struct derr *e, int *err)
{
	PGresult *res;
	bool paid;

	*err = 0;
	if (s->term_invoice[0] == '\0')
		return false;
	res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, s->term_invoice });
	if (res == NULL) {
		*err = derr_db(e, d->db);
		return false;
	}
	paid = PQntuples(res) == 1 && strcmp(db_val(res, 0, INV_STATUS), "paid") == 0;
	if (paid)
		*cap = db_ll(res, 0, INV_TOTAL, 0) - db_ll(res, 0, INV_REFUNDED, 0);
	PQclear(res);
	return paid;
}

/* Was the unused time of the current term credited already (a cancel or pause)? */
static int
term_credited(struct dctx *d, const struct sub *s, bool *yes, struct derr *e)
{
	char end[24];
	PGresult *res;

	*yes = false;
	if (s->term_invoice[0] == '\0')
		return 0;
	res = db_exec(d->db, STMT_CREDIT_FOR_TERM, (const char *[]){ d->site.id, s->id,
	    s->term_invoice, dom_opt(s->term_end, end) });

	if (res == NULL)
		return derr_db(e, d->db);
	*yes = db_ll(res, 0, 0, 0) > 0;
	PQclear(res);
	return 0;
}

/* The unused part of a paid term goes to the customer's credit, prorated by the
 * documented rule, with a credit note on the term's invoice (which adds the tax the
 * invoice charged on it and caps it by what the invoice has not credited yet). A term in
 * trial, unpaid, already credited or over gives nothing. */
static int
credit_unused(struct dctx *d, struct sub *s, long long at, const char *source,
    struct sm_result *out, struct derr *e)
{
	struct credit_grant g;
	char desc[240];
	long long amount, cap = 0, granted;
	bool done;
	int err;

	/* A cancelled subscription's paid term may still run: reactivated onto another plan,
	 * its rest is credited rather than billed twice. */
	if (!((SERVING_NOW | B(CANCELLED)) & SS_BIT(s->status)) || at >= s->term_end ||
	    at < s->term_start)
		return 0;
	if (!term_paid(d, s, &cap, e, &err))
		return err;
	if (term_credited(d, s, &done, e) != 0)
		return -1;
	if (done)
		return 0;
	amount = terms_prorate(s->amount, s->term_end - at, s->term_end - s->term_start);
	if (amount <= 0 || cap <= 0)
		return 0;
	snprintf(desc, sizeof(desc), "Unused time on %s", s->plan_name);
	memset(&g, 0, sizeof(g));
	g.customer_id = s->customer_id;
	g.currency = s->currency;
	g.amount = amount;
	g.source = source;
	g.description = desc;
	g.source_invoice_id = s->term_invoice;
	g.subscription_id = s->id;
	g.period_start = at;
	g.period_end = s->term_end;
	if (cnotes_credit_unused(d, &g, &granted, e) != 0)
		return -1;
	if (out != NULL && granted > 0) {
		out->credit = granted;
		copy(out->credit_description, sizeof(out->credit_description), desc);
		out->credit_start = at;
		out->credit_end = s->term_end;
	}
	return 0;
}

static int
void_open(struct dctx *d, const struct sub *s, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_SUB_OPEN_INVOICES, (const char *[]){ d->site.id,
	    s->id });
	int rc = 0;

	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = invoices_void(d, db_val(res, i, 0), false, e);
	PQclear(res);
	return rc;
}

static int
history(struct dctx *d, const struct sub *s, const struct sub_rule *r, enum sub_status from,
    struct derr *e)
{
	char at[24];
	if (db_exec_later(d->db, STMT_SUB_HISTORY_INSERT, (const char *[]){ d->site.id,
	    s->id, r->name, from == SS_NONE ? NULL : subs_status_name(from),
	    subs_status_name(s->status), dom_opt(d->now, at) }) != 0)
		return derr_db(e, d->db);
	return 0;
}

static int
sm_run(struct dctx *d, struct sub *s, enum sub_action action, const struct sm_args *args,
    struct sm_result *out, struct derr *e)
{
	const struct sub_rule *r = &sub_rules[action];
	enum sub_status from = s->status;
	long long at = args->at >= 0 ? args->at : d->now;
	struct inv_draft term;
	const struct inv_draft *bill = NULL;
	char inv[DOM_ID_MAX] = "", old_plan[DOM_ID_MAX];
	bool scheduled_applied = false, written;

	if (!(r->from & SS_BIT(from)))
		return derr_state(e, "subscription", subs_status_name(from), r->verb);
	copy(old_plan, sizeof(old_plan), s->plan_id);
	if ((r->effects & FX_CREDIT_UNUSED) && !args->no_credit &&
	    credit_unused(d, s, at, r->credit_source, out, e) != 0)
		return -1;
	if ((r->effects & FX_VOID_OPEN) && void_open(d, s, e) != 0)
		return -1;
	if (r->effects & FX_RECORD_CANCEL) {
		s->cancelled_at = at;
		s->cancel_at_end = false;
		if (action == SA_DUNNING_CANCEL)
			copy(s->cancel_reason, sizeof(s->cancel_reason), "not_paid");
		else if (action == SA_CANCEL_NOW) {
			copy(s->cancel_reason, sizeof(s->cancel_reason), args->reason);
			copy(s->cancel_comment, sizeof(s->cancel_comment), args->comment);
		}
	}
	if (r->effects & FX_SCHEDULE_CANCEL) {
		s->cancel_at_end = true;
		s->pause_at = -1;
		copy(s->cancel_reason, sizeof(s->cancel_reason), args->reason);
		copy(s->cancel_comment, sizeof(s->cancel_comment), args->comment);
	}
	if (r->effects & FX_CLEAR_CANCEL) {
		s->cancel_at_end = false;
		s->cancelled_at = -1;
		s->cancel_reason[0] = s->cancel_comment[0] = '\0';
	}
	if (r->effects & FX_RECORD_PAUSE) {
		s->paused_at = at;
		s->pause_at = -1;
		if (action == SA_PAUSE_NOW)
			s->resume_at = args->resume_at;
	}
	if (r->effects & FX_SCHEDULE_PAUSE) {
		s->pause_at = s->term_end;
		s->resume_at = args->resume_at;
	}
	if (r->effects & FX_CLEAR_PAUSE)
		s->paused_at = s->resume_at = s->pause_at = -1;
	if (r->effects & FX_SCHEDULE_PLAN)
		copy(s->scheduled_plan, sizeof(s->scheduled_plan), args->scheduled_plan);
	if (r->effects & FX_CLEAR_PLAN)
		s->scheduled_plan[0] = '\0';
	if (r->effects & FX_APPLY_PLAN) {
		if (args->plan != NULL) {
			apply_plan(s, args->plan);
		} else if (s->scheduled_plan[0] != '\0') {
			struct plan p;

			if (plans_load(d, s->scheduled_plan, "scheduled_plan_id", false, &p, e) != 0)
				return -1;
			apply_plan(s, &p);
			scheduled_applied = true;
		}
		s->scheduled_plan[0] = '\0';
	}
	if (args->set_term) {
		s->term_start = args->term_start;
		s->term_end = args->term_end;
		s->anchor_day = args->anchor;
	}
	if (r->effects & FX_NEW_TERM) {
		if (r->effects & FX_MOVE_ANCHOR)
			s->anchor_day = terms_anchor_day(at);
		s->term_start = at;
		s->term_end = terms_add(at, s->unit, s->count, s->anchor_day);
		inv_draft_init(&term, s->customer_id, s->id, s->currency);
		inv_draft_add(&term, "plan_charge", s->plan_name, s->amount, s->plan_id,
		    s->term_start, s->term_end);
		bill = &term;
	} else if ((r->effects & FX_INVOICE) && args->draft != NULL)
		bill = args->draft;

	if (r->to == SS_SERVING)
		s->status = s->cancel_at_end ? SS_NON_RENEWING : SS_ACTIVE;
	else if (r->to != SS_NONE)
		s->status = r->to;
	s->due_at = due_of(s);
	/* A pause scheduled for the end of the term follows the term's end when a change
	 * moves it; a resume date the new end would pass is refused, never a pause that ends
	 * before it begins (and a paid term it would cut short). */
	if (s->pause_at >= 0 && s->due_at >= 0) {
		s->pause_at = s->term_end;	/* as FX_SCHEDULE_PAUSE sets it */
		if (s->resume_at >= 0 && s->resume_at <= s->pause_at)
			return derr_set(e, DERR_CONFLICT, "pause_resume_conflict", NULL,
			    "A pause is scheduled that would end before this change's new term "
			    "ends. Resume the subscription first (which drops the scheduled "
			    "pause), or make the change at the end of the term.");
	}
	/* A term with something to pay gets its invoice's id now, so the subscription is
	 * written once (and its events name the invoice the term is billed on). */
	if (bill != NULL && inv_draft_total(bill) > 0) {
		if (dom_new_id("inv", inv, e) != 0)
			return -1;
		copy(s->term_invoice, sizeof(s->term_invoice), inv);
	}
	if (from == SS_NONE) {
		if (insert(d, s, e) != 0)
			return -1;
	} else {
		if (save(d, s, e) != 0)
			return -1;
		if (s->status != from) {
			char now[24];
			if (db_exec_later(d->db, STMT_SUB_SET_STATUS, (const char *[]){
			    d->site.id, s->id, subs_status_name(s->status),
			    dom_opt(d->now, now) }) != 0)
				return derr_db(e, d->db);
		}
	}
	if (history(d, s, r, from, e) != 0)
		return -1;
	/* Rendered from s as written, unless something it did not read changed: credit
	 * (given back, or in another currency), a plan it did not load, a new row. */
	written = from != SS_NONE && args->plan == NULL && !scheduled_applied &&
	    !(r->effects & (FX_CREDIT_UNUSED | FX_VOID_OPEN | FX_SCHEDULE_PLAN));
	if (scheduled_applied && emit(d, "subscription.changed", s, written, e) != 0)
		return -1;
	if (emit(d, r->event, s, written, e) != 0)
		return -1;
	if (inv[0] != '\0') {
		/* The card its charge will use travels with the invoice's first read
		 * (payments_collect asks for it; nothing in between changes a card). */
		db_read_ahead(d->db, STMT_PM_DEFAULT, (const char *[]){ d->site.id,
		    bill->customer_id });
		if (invoices_raise_as(d, bill, inv, e) != 0)
			return -1;
		if (out != NULL)
			copy(out->invoice, sizeof(out->invoice), inv);
		/* Last: a customer without a card fails at once, which moves the subscription
		 * through this executor again; nothing below may use s. */
		if (payments_collect(d, inv, e) != 0)
			return -1;
	}
	if (s->status != from || strcmp(old_plan, s->plan_id) != 0 || from == SS_NONE)
		return customers_entitlements_refresh(d, s->customer_id, e);
	return 0;
}

static void
args_init(struct sm_args *a)
{
	memset(a, 0, sizeof(*a));
	a->at = -1;
	a->resume_at = -1;
}

/* ---- policy ---- */

static bool
listed(const char *const *list, const char *v)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, v) == 0)
			return true;
	return false;
}

static int
forbidden(struct derr *e, const char *param, const char *what)
{
	return derr_set(e, DERR_FORBIDDEN, "action_not_allowed", param,
	    "%s is not available for this subscription.", what);
}

/* The reason must be one of the site's cancellation reasons (its portal configuration), or
 * of the policy's list; a comment only where the policy takes one. */
static int
check_reason(struct dctx *d, const char *reason, const char *comment,
    const struct sub_policy *pol, struct derr *e)
{
	PGresult *res;
	bool ok;

	if (pol != NULL && !pol->comment_allowed && comment != NULL && *comment != '\0')
		return derr_set(e, DERR_FORBIDDEN, "action_not_allowed", "comment",
		    "A comment is not taken here.");
	if (reason == NULL || *reason == '\0') {
		if (pol != NULL && pol->reason_required)
			return derr_set(e, DERR_INVALID, "parameter_missing", "reason",
			    "Choose a reason for cancelling.");
		return 0;
	}
	if (pol != NULL && pol->reasons != NULL) {
		if (listed(pol->reasons, reason))
			return 0;
		return derr_set(e, DERR_INVALID, "parameter_invalid", "reason",
		    "reason is not one of this site's cancellation reasons.");
	}
	res = db_exec(d->db, STMT_PCONF_REASON, (const char *[]){ d->site.id, reason });
	if (res == NULL)
		return derr_db(e, d->db);
	ok = db_ll(res, 0, 0, 0) > 0;
	PQclear(res);
	if (!ok)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "reason",
		    "reason is not one of this site's cancellation reasons.");
	return 0;
}

/* ---- operations ---- */

int
subs_create(struct dctx *d, const struct sub_create_req *r, char id[DOM_ID_MAX],
    struct derr *e)
{
	struct sm_args a;
	struct plan p;
	struct sub s;
	int trial;
	PGresult *res;

	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, r->customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_set(e, DERR_NOT_FOUND, "resource_missing", "customer_id",
		    "No such customer: '%s'", r->customer_id);
	}
	PQclear(res);
	if (plans_load(d, r->plan_id, "plan_id", true, &p, e) != 0)
		return -1;
	if (r->id != NULL)
		copy(id, DOM_ID_MAX, r->id);
	else if (dom_new_id("sub", id, e) != 0)
		return -1;
	trial = r->trial_days >= 0 ? r->trial_days : p.trial_days;
	memset(&s, 0, sizeof(s));
	copy(s.id, sizeof(s.id), id);
	copy(s.customer_id, sizeof(s.customer_id), r->customer_id);
	apply_plan(&s, &p);
	s.status = SS_NONE;
	s.trial_end = s.cancelled_at = s.paused_at = s.resume_at = s.pause_at = -1;
	args_init(&a);
	if (trial > 0) {
		s.term_start = d->now;
		s.term_end = s.trial_end = d->now + (long long)trial * 86400;
		/* The first paid term starts when the trial ends, anchored there. */
		s.anchor_day = terms_anchor_day(s.trial_end);
		return sm_run(d, &s, SA_CREATE_TRIAL, &a, NULL, e);
	}
	s.anchor_day = terms_anchor_day(d->now);
	return sm_run(d, &s, SA_CREATE, &a, NULL, e);
}

static int
change_checks(struct dctx *d, struct sub *s, const struct sub_change_req *r,
    const struct sub_policy *pol, struct plan *np, struct derr *e)
{
	if (plans_load(d, r->plan_id, "plan_id", true, np, e) != 0)
		return -1;
	if (!subs_op_allowed("change_plan", r->end_of_term ? "end_of_term" : "now", s->status))
		return derr_state(e, "subscription", subs_status_name(s->status),
		    "changed to another plan");
	if (strcmp(np->id, s->plan_id) == 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "plan_id",
		    "The subscription is on plan '%s' already.", np->id);
	if (strcmp(np->currency, s->currency) != 0)
		return derr_set(e, DERR_INVALID, "currency_mismatch", "plan_id",
		    "Plan '%s' is in %s; the subscription is in %s.", np->id, np->currency,
		    s->currency);
	if (pol != NULL) {
		if (!pol->change_allowed || (pol->plans != NULL && !listed(pol->plans, np->id)))
			return forbidden(e, "plan_id", "Changing to this plan");
		if (!r->end_of_term && !pol->change_now_allowed)
			return forbidden(e, "when", "Changing the plan before the term ends");
		if (!r->end_of_term && pol->downgrade_at_end_only && np->amount < s->amount &&
		    strcmp(np->unit, s->unit) == 0 && np->count == s->count)
			return forbidden(e, "when", "A downgrade before the term ends");
	}
	return 0;
}

/* Runs a plan change (now or scheduled); out receives the invoice and credit. */
static int
change_run(struct dctx *d, const char *id, const struct sub_change_req *r,
    const struct sub_policy *pol, struct sm_result *out, long long *at_out, struct derr *e)
{
	struct sub s;
	struct plan np;
	struct sm_args a;
	struct inv_draft dr;
	long long at;
	char desc[240];

	if (subs_load(d, id, true, &s, e) != 0 || change_checks(d, &s, r, pol, &np, e) != 0)
		return -1;
	args_init(&a);
	if (r->end_of_term) {
		a.scheduled_plan = np.id;
		*at_out = s.term_end;
		return sm_run(d, &s, SA_CHANGE_SCHEDULED, &a, out, e);
	}
	a.plan = &np;
	if (s.status == SS_IN_TRIAL) {
		*at_out = d->now;
		return sm_run(d, &s, SA_CHANGE_NOW, &a, out, e);
	}
	at = r->proration_date >= 0 ? r->proration_date : d->now;
	if (at > d->now || at < s.term_start || at > s.term_end)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "proration_date",
		    "proration_date must lie in the current term and not in the future.");
	*at_out = at;
	a.at = at;
	inv_draft_init(&dr, s.customer_id, s.id, np.currency);
	if (strcmp(s.unit, np.unit) == 0 && s.count == np.count) {
		snprintf(desc, sizeof(desc), "Remaining time on %s", np.name);
		inv_draft_add(&dr, "proration_charge", desc, terms_prorate(np.amount,
		    s.term_end - at, s.term_end - s.term_start), np.id, at, s.term_end);
	} else {
		/* Another billing period: the unused time is credited, a new term starts. */
		a.set_term = true;
		a.anchor = terms_anchor_day(at);
		a.term_start = at;
		a.term_end = terms_add(at, np.unit, np.count, a.anchor);
		inv_draft_add(&dr, "plan_charge", np.name, np.amount, np.id, at, a.term_end);
	}
	a.draft = &dr;
	return sm_run(d, &s, SA_CHANGE_NOW, &a, out, e);
}

/* The tax lines of an invoice just raised (in the preview's savepoint), as a review shows
 * them. */
static int
invoice_taxes(struct dctx *d, const char *inv, struct sub_preview_tax taxes[TAX_MAX_RATES],
    int *n, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_INV_TAXES, (const char *[]){ d->site.id, inv });

	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res) && *n < TAX_MAX_RATES; i++) {
		struct sub_preview_tax *t = &taxes[(*n)++];

		copy(t->name, sizeof(t->name), db_val(res, i, DTAX_NAME));
		t->ppm = (long)db_ll(res, i, DTAX_PPM, 0);
		t->inclusive = strcmp(db_val(res, i, DTAX_INCLUSIVE), "t") == 0;
		t->taxable = db_ll(res, i, DTAX_TAXABLE, 0);
		t->amount = db_ll(res, i, DTAX_AMOUNT, 0);
	}
	PQclear(res);
	return 0;
}

static int
invoice_totals(struct dctx *d, const char *inv, struct sub_preview *p, struct derr *e)
{
	PGresult *res, *lines;

	res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, inv });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1) {
		p->credit_applied = db_ll(res, 0, INV_CREDIT, 0);
		p->amount_due = db_ll(res, 0, INV_DUE, 0);
		p->tax = db_ll(res, 0, INV_TAX, 0);
		p->total = db_ll(res, 0, INV_TOTAL, 0);
		copy(p->tax_treatment, sizeof(p->tax_treatment), db_val(res, 0, INV_TAX_TREATMENT));
	}
	PQclear(res);
	if (invoice_taxes(d, inv, p->taxes, &p->ntaxes, e) != 0)
		return -1;
	lines = db_exec(d->db, STMT_INV_LINES, (const char *[]){ d->site.id, inv });
	if (lines == NULL)
		return derr_db(e, d->db);
	/* A line's kind is kept by pointer: one of the two literals, never the result's text,
	 * which is freed below. */
	for (int i = 0; i < PQntuples(lines) && p->draft.n < INV_MAX_LINES; i++)
		inv_draft_add(&p->draft, strcmp(db_val(lines, i, LINE_KIND), "proration_charge") == 0 ?
		    "proration_charge" : "plan_charge",
		    db_val(lines, i, LINE_DESCRIPTION), db_ll(lines, i, LINE_AMOUNT, 0),
		    db_val(lines, i, LINE_PLAN), db_ll(lines, i, LINE_START, -1),
		    db_ll(lines, i, LINE_END, -1));
	PQclear(lines);
	return 0;
}

/* The next renewal of s as it stands: when, on which plan, for how much (with the tax
 * the customer pays today, credit off). */
static int
next_renewal(struct dctx *d, const struct sub *s, long long *at, long long *amount,
    char plan[DOM_ID_MAX], struct derr *e)
{
	long long price = s->amount, credit = 0;

	*at = -1;
	*amount = -1;
	copy(plan, DOM_ID_MAX, s->scheduled_plan[0] ? s->scheduled_plan : s->plan_id);
	if (s->cancel_at_end || s->pause_at >= 0 || (s->status != SS_ACTIVE &&
	    s->status != SS_IN_TRIAL && s->status != SS_PAST_DUE))
		return 0;
	if (s->scheduled_plan[0] != '\0') {
		struct plan p;

		if (plans_load(d, s->scheduled_plan, "plan_id", false, &p, e) != 0)
			return -1;
		price = p.amount;
	}
	if (taxes_gross_for(d, s->customer_id, price, &price, e) != 0)
		return -1;
	if (credit_balance(d, s->customer_id, s->currency, &credit, e) != 0)
		return -1;
	*at = s->due_at;
	*amount = price > credit ? price - credit : 0;
	return 0;
}

int
subs_preview(struct dctx *d, const char *id, const struct sub_change_req *r,
    const struct sub_policy *pol, struct sub_preview *p, struct derr *e)
{
	struct sm_result out;
	struct sub after;
	int npending = d->npending, rc;

	memset(p, 0, sizeof(*p));
	memset(&out, 0, sizeof(out));
	p->end_of_term = r->end_of_term;
	/* Run the change itself and undo it: the preview is what the change bills. */
	if (db_savepoint_named(d->db, "preview") != 0)
		return derr_db(e, d->db);
	rc = change_run(d, id, r, pol, &out, &p->proration_date, e);
	if (rc == 0 && subs_load(d, id, false, &after, e) != 0)
		rc = -1;
	if (rc == 0) {
		copy(p->currency, sizeof(p->currency), after.currency);
		inv_draft_init(&p->draft, after.customer_id, after.id, after.currency);
		if (out.invoice[0] != '\0')
			rc = invoice_totals(d, out.invoice, p, e);
		p->credit_granted = out.credit;
		copy(p->credit_description, sizeof(p->credit_description),
		    out.credit_description);
		p->credit_start = out.credit_start;
		p->credit_end = out.credit_end;
	}
	if (rc == 0)
		rc = next_renewal(d, &after, &p->next_at, &p->next_amount, p->next_plan, e);
	d->npending = npending;	/* nothing was charged: the attempts are rolled back */
	if (db_rollback_named(d->db, "preview") != 0 || db_release_named(d->db, "preview") != 0)
		return derr_db(e, d->db);
	return rc;
}

int
subs_change(struct dctx *d, const char *id, const struct sub_change_req *r,
    const struct sub_policy *pol, struct derr *e)
{
	struct sm_result out;
	long long at;

	if (r->expect_due >= 0) {
		struct sub_preview p;

		if (subs_preview(d, id, r, pol, &p, e) != 0)
			return -1;
		if (p.amount_due != r->expect_due)
			return derr_set(e, DERR_CONFLICT, "preview_changed", NULL,
			    "The amount changed since the review; review the change again.");
	}
	memset(&out, 0, sizeof(out));
	return change_run(d, id, r, pol, &out, &at, e);
}

static int
cancel_run(struct dctx *d, const char *id, const struct sub_cancel_req *r,
    const struct sub_policy *pol, struct sm_result *out, struct derr *e)
{
	struct sub s;
	struct sm_args a;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (pol != NULL && (!pol->cancel_allowed || (r->now && !pol->cancel_now_allowed)))
		return forbidden(e, "when", r->now ? "Cancelling now" : "Cancelling");
	if (!subs_op_allowed("cancel", r->now ? "now" : "end_of_term", s.status))
		return derr_state(e, "subscription", subs_status_name(s.status),
		    sub_rules[r->now ? SA_CANCEL_NOW : SA_CANCEL_SCHEDULED].verb);
	if (check_reason(d, r->reason, r->comment, pol, e) != 0)
		return -1;
	args_init(&a);
	a.reason = r->reason;
	a.comment = r->comment;
	a.no_credit = r->no_credit;
	return sm_run(d, &s, r->now ? SA_CANCEL_NOW : SA_CANCEL_SCHEDULED, &a, out, e);
}

int
subs_cancel(struct dctx *d, const char *id, const struct sub_cancel_req *r,
    const struct sub_policy *pol, struct derr *e)
{
	return cancel_run(d, id, r, pol, NULL, e);
}

static int
reactivate_run(struct dctx *d, const char *id, const char *plan_id,
    const struct sub_policy *pol, struct sm_result *out, struct derr *e)
{
	struct sub s;
	struct sm_args a;
	struct plan np;
	long long cap;
	bool credited;
	int err;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (pol != NULL && !pol->reactivate_allowed)
		return forbidden(e, NULL, "Reactivating");
	args_init(&a);
	if (s.status == SS_NON_RENEWING) {
		if (plan_id != NULL)
			return derr_set(e, DERR_INVALID, "parameter_invalid", "plan_id",
			    "Change the plan separately: this subscription's term is still "
			    "running.");
		return sm_run(d, &s, s.trial_end >= 0 && s.trial_end == s.term_end ?
		    SA_UNCANCEL_TRIAL : SA_UNCANCEL, &a, out, e);
	}
	if (s.status != SS_CANCELLED)
		return derr_state(e, "subscription", subs_status_name(s.status), "reactivated");
	if (plan_id != NULL && strcmp(plan_id, s.plan_id) != 0) {
		if (plans_load(d, plan_id, "plan_id", true, &np, e) != 0)
			return -1;
		a.plan = &np;
		return sm_run(d, &s, SA_REACTIVATE_NEW_TERM, &a, out, e);
	}
	/* Back into what was already given or paid: a trial still running, or a paid term
	 * whose unused time was not credited. Otherwise a new term, billed now. */
	if (s.trial_end >= 0 && s.term_end == s.trial_end && d->now < s.trial_end)
		return sm_run(d, &s, SA_REACTIVATE_TRIAL, &a, out, e);
	if (d->now < s.term_end && s.term_start <= d->now) {
		bool paid = term_paid(d, &s, &cap, e, &err);

		if (err != 0 || term_credited(d, &s, &credited, e) != 0)
			return -1;
		if (paid && !credited)
			return sm_run(d, &s, SA_REACTIVATE_RESTORE, &a, out, e);
	}
	return sm_run(d, &s, SA_REACTIVATE_NEW_TERM, &a, out, e);
}

int
subs_reactivate(struct dctx *d, const char *id, const char *plan_id,
    const struct sub_policy *pol, struct derr *e)
{
	return reactivate_run(d, id, plan_id, pol, NULL, e);
}

static int
pause_run(struct dctx *d, const char *id, const struct sub_pause_req *r,
    const struct sub_policy *pol, struct sm_result *out, struct derr *e)
{
	struct sub s;
	struct sm_args a;
	long long start;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (pol != NULL && !pol->pause_allowed)
		return forbidden(e, NULL, "Pausing");
	if (!subs_op_allowed("pause", r->end_of_term ? "end_of_term" : "now", s.status))
		return derr_state(e, "subscription", subs_status_name(s.status), "paused");
	start = r->end_of_term ? s.term_end : d->now;
	if (r->resume_at >= 0 && r->resume_at <= start)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "resume_at",
		    "resume_at must be after the pause begins (%lld).", start);
	if (pol != NULL && pol->pause_max_days > 0 && (r->resume_at < 0 ||
	    r->resume_at - start > (long long)pol->pause_max_days * 86400))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "resume_at",
		    "A pause can last at most %d days.", pol->pause_max_days);
	args_init(&a);
	a.resume_at = r->resume_at;
	return sm_run(d, &s, r->end_of_term ? SA_PAUSE_SCHEDULED : SA_PAUSE_NOW, &a, out, e);
}

int
subs_pause(struct dctx *d, const char *id, const struct sub_pause_req *r,
    const struct sub_policy *pol, struct derr *e)
{
	return pause_run(d, id, r, pol, NULL, e);
}

static int
resume_run(struct dctx *d, const char *id, const struct sub_policy *pol,
    struct sm_result *out, struct derr *e)
{
	struct sub s;
	struct sm_args a;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (pol != NULL && !pol->pause_allowed)
		return forbidden(e, NULL, "Resuming");
	args_init(&a);
	if (s.status == SS_ACTIVE && s.pause_at >= 0)
		return sm_run(d, &s, SA_UNPAUSE_SCHEDULED, &a, out, e);
	return sm_run(d, &s, SA_RESUME, &a, out, e);
}

int
subs_resume(struct dctx *d, const char *id, const struct sub_policy *pol, struct derr *e)
{
	return resume_run(d, id, pol, NULL, e);
}

/* ---- previews of the other operations ---- */

enum effect_op { EFF_CANCEL, EFF_REACTIVATE, EFF_PAUSE, EFF_RESUME };

struct effect_req {
	enum effect_op			 op;
	const struct sub_cancel_req	*cancel;
	const char			*plan_id;
	const struct sub_pause_req	*pause;
};

/* Runs the operation in a savepoint, reads what it did, and rolls it back: the invoice it
 * raised, the credit it granted, the open invoices it voided, the renewal after it. */
static int
effect(struct dctx *d, const char *id, const struct effect_req *q,
    const struct sub_policy *pol, struct sub_effect *x, struct derr *e)
{
	struct sm_result out;
	struct sub before, after;
	PGresult *open = NULL, *res;
	int npending = d->npending, rc;

	memset(x, 0, sizeof(*x));
	memset(&out, 0, sizeof(out));
	x->next_at = x->next_amount = -1;
	if (db_savepoint_named(d->db, "preview") != 0)
		return derr_db(e, d->db);
	rc = subs_load(d, id, false, &before, e);
	if (rc == 0 && (open = db_exec(d->db, STMT_SUB_OPEN_INVOICES, (const char *[]){
	    d->site.id, id })) == NULL)
		rc = derr_db(e, d->db);
	if (rc == 0) {
		switch (q->op) {
		case EFF_CANCEL:
			rc = cancel_run(d, id, q->cancel, pol, &out, e);
			x->at = q->cancel->now ? d->now : before.term_end;
			break;
		case EFF_REACTIVATE:
			rc = reactivate_run(d, id, q->plan_id, pol, &out, e);
			x->at = d->now;
			break;
		case EFF_PAUSE:
			rc = pause_run(d, id, q->pause, pol, &out, e);
			x->at = q->pause->end_of_term ? before.term_end : d->now;
			break;
		case EFF_RESUME:
			rc = resume_run(d, id, pol, &out, e);
			x->at = d->now;
			break;
		}
	}
	if (rc == 0 && subs_load(d, id, false, &after, e) != 0)
		rc = -1;
	if (rc == 0) {
		copy(x->currency, sizeof(x->currency), after.currency);
		x->status_after = after.status;
		x->term_end_after = after.term_end;
		x->resume_at_after = after.resume_at;
		x->credit_granted = out.credit;
		copy(x->credit_description, sizeof(x->credit_description),
		    out.credit_description);
		x->credit_start = out.credit_start;
		x->credit_end = out.credit_end;
	}
	if (rc == 0 && out.invoice[0] != '\0') {
		res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, out.invoice });
		if (res == NULL)
			rc = derr_db(e, d->db);
		else if (PQntuples(res) == 1) {
			x->bills = true;
			x->invoice_total = db_ll(res, 0, INV_TOTAL, 0);
			x->subtotal = db_ll(res, 0, INV_SUBTOTAL, 0);
			x->credit_applied = db_ll(res, 0, INV_CREDIT, 0);
			x->amount_due = db_ll(res, 0, INV_DUE, 0);
			copy(x->tax_treatment, sizeof(x->tax_treatment),
			    db_val(res, 0, INV_TAX_TREATMENT));
		}
		PQclear(res);
		if (x->bills)
			rc = invoice_taxes(d, out.invoice, x->taxes, &x->ntaxes, e);
	}
	/* The invoices that were open before and are void now. */
	for (int i = 0; rc == 0 && open != NULL && i < PQntuples(open); i++) {
		res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id,
		    db_val(open, i, 0) });
		if (res == NULL) {
			rc = derr_db(e, d->db);
			break;
		}
		if (PQntuples(res) == 1 && strcmp(db_val(res, 0, INV_STATUS), "void") == 0) {
			if (x->n_voided < SUB_EFFECT_VOIDED_MAX) {
				copy(x->voided[x->n_voided].id, DOM_ID_MAX, db_val(res, 0, INV_ID));
				x->voided[x->n_voided].number = db_ll(res, 0, INV_NUMBER, 0);
				x->voided[x->n_voided].amount_due = db_ll(res, 0, INV_DUE, 0);
				x->n_voided++;
			}
			x->voided_total += db_ll(res, 0, INV_DUE, 0);
		}
		PQclear(res);
	}
	PQclear(open);
	if (rc == 0)
		rc = next_renewal(d, &after, &x->next_at, &x->next_amount,
		    (char [DOM_ID_MAX]){ 0 }, e);
	d->npending = npending;	/* nothing was charged: the attempts are rolled back */
	if (db_rollback_named(d->db, "preview") != 0 || db_release_named(d->db, "preview") != 0)
		return derr_db(e, d->db);
	return rc;
}

int
subs_cancel_preview(struct dctx *d, const char *id, const struct sub_cancel_req *r,
    const struct sub_policy *pol, struct sub_effect *out, struct derr *e)
{
	struct effect_req q = { EFF_CANCEL, r, NULL, NULL };

	return effect(d, id, &q, pol, out, e);
}

int
subs_reactivate_preview(struct dctx *d, const char *id, const char *plan_id,
    const struct sub_policy *pol, struct sub_effect *out, struct derr *e)
{
	struct effect_req q = { EFF_REACTIVATE, NULL, plan_id, NULL };

	return effect(d, id, &q, pol, out, e);
}

int
subs_pause_preview(struct dctx *d, const char *id, const struct sub_pause_req *r,
    const struct sub_policy *pol, struct sub_effect *out, struct derr *e)
{
	struct effect_req q = { EFF_PAUSE, NULL, NULL, r };

	return effect(d, id, &q, pol, out, e);
}

int
subs_resume_preview(struct dctx *d, const char *id, const struct sub_policy *pol,
    struct sub_effect *out, struct derr *e)
{
	struct effect_req q = { EFF_RESUME, NULL, NULL, NULL };

	return effect(d, id, &q, pol, out, e);
}

/* What an effect bills now: the amount its review page showed as due today. */
static long long
effect_due(const struct sub_effect *x)
{
	return x->bills ? x->amount_due : 0;
}

static int
preview_changed(struct derr *e)
{
	return derr_set(e, DERR_CONFLICT, "preview_changed", NULL,
	    "The amount changed since the review; review it again.");
}

int
subs_reactivate_expect(struct dctx *d, const char *id, const char *plan_id,
    long long expect_due, const struct sub_policy *pol, struct derr *e)
{
	struct sub_effect x;

	if (expect_due >= 0) {
		if (subs_reactivate_preview(d, id, plan_id, pol, &x, e) != 0)
			return -1;
		if (effect_due(&x) != expect_due)
			return preview_changed(e);
	}
	return reactivate_run(d, id, plan_id, pol, NULL, e);
}

int
subs_resume_expect(struct dctx *d, const char *id, long long expect_due,
    const struct sub_policy *pol, struct derr *e)
{
	struct sub_effect x;

	if (expect_due >= 0) {
		if (subs_resume_preview(d, id, pol, &x, e) != 0)
			return -1;
		if (effect_due(&x) != expect_due)
			return preview_changed(e);
	}
	return resume_run(d, id, pol, NULL, e);
}

/* ---- the job runner ---- */

/* Runs a row at the moment its work fell due (time travel bills each term on its own
 * date); d keeps what the row queued for the gateway. */
static int
run_at(struct dctx *d, long long at, struct sub *s, enum sub_action a, struct derr *e)
{
	long long now = d->now;
	struct sm_args args;
	int rc;

	args_init(&args);
	args.at = at;
	d->now = at;
	rc = sm_run(d, s, a, &args, NULL, e);
	d->now = now;
	return rc;
}

int
subs_process_due(struct dctx *d, const char *id, struct derr *e)
{
	struct sub s;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (s.due_at < 0 || s.due_at > d->now)
		return 0;
	if (s.status == SS_NON_RENEWING)
		return run_at(d, s.due_at, &s, SA_TERM_END_CANCEL, e);
	if (s.pause_at >= 0 && s.pause_at <= s.due_at)
		return run_at(d, s.due_at, &s, SA_TERM_END_PAUSE, e);
	if (s.status == SS_IN_TRIAL)
		return run_at(d, s.due_at, &s, SA_TRIAL_END, e);
	return run_at(d, s.due_at, &s, SA_RENEW, e);
}

void
subs_read_ahead(struct dctx *d, const char *id)
{
	/* subs_load(d, id, true, ...) */
	db_read_ahead(d->db, STMT_SUB_LOCK, (const char *[]){ d->site.id, id });
}

int
subs_process_resume(struct dctx *d, const char *id, struct derr *e)
{
	struct sub s;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (s.status != SS_PAUSED || s.resume_at < 0 || s.resume_at > d->now)
		return 0;
	return run_at(d, s.resume_at, &s, SA_AUTO_RESUME, e);
}

/* ---- payment outcomes ---- */

int
subs_invoice_settled(struct dctx *d, const char *id, struct derr *e)
{
	struct sub s;
	struct sm_args a;
	PGresult *res;
	long long open;
	bool past_due;

	/* Locked first, then read whole only when it is past due. */
	res = db_exec(d->db, STMT_SUB_STATUS_LOCK, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "subscription", id);
	}
	past_due = subs_status_parse(db_val(res, 0, 0)) == SS_PAST_DUE;
	PQclear(res);
	if (!past_due)
		return 0;
	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (s.status != SS_PAST_DUE)
		return 0;
	res = db_exec(d->db, STMT_INV_OPEN_COUNT_SUB, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	open = db_ll(res, 0, 0, 0);
	PQclear(res);
	if (open > 0)
		return 0;
	args_init(&a);
	return sm_run(d, &s, SA_PAYMENT_RECOVERED, &a, NULL, e);
}

int
subs_payment_failed(struct dctx *d, const char *id, struct derr *e)
{
	struct sub s;
	struct sm_args a;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (!(sub_rules[SA_PAYMENT_FAILED].from & SS_BIT(s.status)))
		return 0;	/* past due already, or no longer billing */
	args_init(&a);
	return sm_run(d, &s, SA_PAYMENT_FAILED, &a, NULL, e);
}

int
subs_dunning_exhausted(struct dctx *d, const char *id, bool cancel, struct derr *e)
{
	struct sub s;
	struct sm_args a;

	if (subs_load(d, id, true, &s, e) != 0)
		return -1;
	if (s.status != SS_PAST_DUE)
		return 0;
	args_init(&a);
	return sm_run(d, &s, cancel ? SA_DUNNING_CANCEL : SA_DUNNING_WRITE_OFF, &a, NULL, e);
}
