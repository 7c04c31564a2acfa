/* billing.c: the billing engine. Terms and calendar months, proration, invoices with
 * sequential numbers, collection through the test gateway, dunning, renewals, and the
 * events every change emits. All writes happen in the caller's transaction, so a renewal
 * (invoice, charge, new term) commits whole or not at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/billing.h"
#include "core/crypto.h"
#include "billing/gateway.h"
#include "core/log.h"

static const char *
lltoa(long long v, char buf[24])
{
	if (v < 0)
		return NULL;	/* -1 stands for SQL NULL */
	snprintf(buf, 24, "%lld", v);
	return buf;
}

static void
new_id(const char *prefix, char out[40])
{
	char hex[25];

	if (crypto_random_hex(12, hex, sizeof(hex)) != 0)
		abort();	/* no randomness: nothing safe to do */
	snprintf(out, 40, "%s_%s", prefix, hex);
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

long long
billing_add_interval(long long ts, const char *unit, int count, int anchor_day)
{
	time_t t = (time_t)ts;
	struct tm tm;
	long months, total;
	int y, m, dim;

	if (strcmp(unit, "day") == 0)
		return ts + (long long)count * 86400;
	if (strcmp(unit, "week") == 0)
		return ts + (long long)count * 7 * 86400;
	months = strcmp(unit, "year") == 0 ? 12L * count : count;
	gmtime_r(&t, &tm);
	total = (long)(tm.tm_year + 1900) * 12 + tm.tm_mon + months;
	y = (int)(total / 12);
	m = (int)(total % 12) + 1;
	dim = days_in_month(y, m);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = anchor_day < dim ? anchor_day : dim;
	return (long long)timegm(&tm);
}

long long
billing_prorate(long long amount, long long part, long long whole)
{
	__int128 num;
	long long q;

	if (whole <= 0 || part <= 0)
		return 0;
	if (part > whole)
		part = whole;
	num = (__int128)amount * part;
	q = (long long)((num * 2 + whole) / (2 * (__int128)whole));
	return q;
}

int
billing_anchor_day(long long ts)
{
	time_t t = (time_t)ts;
	struct tm tm;

	gmtime_r(&t, &tm);
	return tm.tm_mday;
}

int
sub_from_row(PGresult *res, int row, struct sub *s)
{
#define STR(f, col) snprintf(s->f, sizeof(s->f), "%s", db_val(res, row, col) ? db_val(res, row, col) : "")
	memset(s, 0, sizeof(*s));
	STR(id, SUB_ID);
	STR(customer_id, SUB_CUSTOMER);
	STR(plan_id, SUB_PLAN);
	STR(status, SUB_STATUS);
	STR(cancel_reason, SUB_CANCEL_REASON);
	STR(cancel_comment, SUB_CANCEL_COMMENT);
	STR(scheduled_plan, SUB_SCHEDULED_PLAN);
	STR(currency, SUB_CURRENCY);
	STR(unit, SUB_UNIT);
	STR(plan_name, SUB_PLAN_NAME);
#undef STR
	s->term_start = db_ll(res, row, SUB_TERM_START, -1);
	s->term_end = db_ll(res, row, SUB_TERM_END, -1);
	s->next_billing_at = db_ll(res, row, SUB_NEXT, -1);
	s->trial_end = db_ll(res, row, SUB_TRIAL_END, -1);
	s->cancel_at_end = strcmp(db_val(res, row, SUB_CANCEL_AT_END), "t") == 0;
	s->cancelled_at = db_ll(res, row, SUB_CANCELLED_AT, -1);
	s->paused_at = db_ll(res, row, SUB_PAUSED_AT, -1);
	s->resume_at = db_ll(res, row, SUB_RESUME_AT, -1);
	s->anchor_day = (int)db_ll(res, row, SUB_ANCHOR, 1);
	s->amount = db_ll(res, row, SUB_AMOUNT, 0);
	s->count = (int)db_ll(res, row, SUB_COUNT, 1);
	return 0;
}

int
sub_load(struct bctx *b, const char *id, bool lock, struct sub *s)
{
	const char *p[2] = { b->site_id, id };
	PGresult *res = db_exec(b->db, lock ? STMT_SUB_LOCK : STMT_SUB_GET, p);
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n == 1)
		sub_from_row(res, 0, s);
	PQclear(res);
	return n == 1 ? 1 : 0;
}

int
sub_save(struct bctx *b, const struct sub *s)
{
	char a[10][24];
	const char *p[17];
	PGresult *res;

	p[0] = b->site_id;
	p[1] = s->id;
	p[2] = s->plan_id;
	p[3] = s->status;
	p[4] = lltoa(s->term_start, a[0]);
	p[5] = lltoa(s->term_end, a[1]);
	p[6] = lltoa(s->next_billing_at, a[2]);
	p[7] = lltoa(s->trial_end, a[3]);
	p[8] = s->cancel_at_end ? "true" : "false";
	p[9] = lltoa(s->cancelled_at, a[4]);
	p[10] = s->cancel_reason[0] ? s->cancel_reason : NULL;
	p[11] = s->cancel_comment[0] ? s->cancel_comment : NULL;
	p[12] = lltoa(s->paused_at, a[5]);
	p[13] = lltoa(s->resume_at, a[6]);
	p[14] = s->scheduled_plan[0] ? s->scheduled_plan : NULL;
	p[15] = lltoa(s->anchor_day, a[7]);
	p[16] = lltoa(b->now, a[8]);
	res = db_exec(b->db, STMT_SUB_UPDATE, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
plan_load(struct bctx *b, const char *id, struct plan *pl)
{
	const char *p[2] = { b->site_id, id };
	PGresult *res = db_exec(b->db, STMT_PLAN_GET, p);
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n == 1) {
		memset(pl, 0, sizeof(*pl));
		snprintf(pl->id, sizeof(pl->id), "%s", db_val(res, 0, PLAN_ID));
		snprintf(pl->name, sizeof(pl->name), "%s", db_val(res, 0, PLAN_NAME));
		snprintf(pl->currency, sizeof(pl->currency), "%s", db_val(res, 0, PLAN_CURRENCY));
		snprintf(pl->unit, sizeof(pl->unit), "%s", db_val(res, 0, PLAN_UNIT));
		snprintf(pl->status, sizeof(pl->status), "%s", db_val(res, 0, PLAN_STATUS));
		pl->amount = db_ll(res, 0, PLAN_AMOUNT, 0);
		pl->count = (int)db_ll(res, 0, PLAN_COUNT, 1);
		pl->trial_days = (int)db_ll(res, 0, PLAN_TRIAL, 0);
	}
	PQclear(res);
	return n == 1 ? 1 : 0;
}

void
inv_add_line(struct inv_draft *d, const char *kind, const char *desc, long long amount,
    const char *plan_id, long long start, long long end)
{
	struct inv_line *l;

	if (d->n == INV_MAX_LINES)
		return;
	l = &d->lines[d->n++];
	l->kind = kind;
	snprintf(l->description, sizeof(l->description), "%s", desc);
	l->amount = amount;
	snprintf(l->plan_id, sizeof(l->plan_id), "%s", plan_id ? plan_id : "");
	l->start = start;
	l->end = end;
}

long long
inv_draft_total(const struct inv_draft *d)
{
	long long t = 0;

	for (int i = 0; i < d->n; i++)
		t += d->lines[i].amount;
	return t;
}

void
billing_change_lines(const struct sub *s, const struct plan *np, long long at,
    struct inv_draft *d)
{
	long long term = s->term_end - s->term_start;
	long long rest = s->term_end - at;
	char desc[240];

	snprintf(d->customer_id, sizeof(d->customer_id), "%s", s->customer_id);
	snprintf(d->subscription_id, sizeof(d->subscription_id), "%s", s->id);
	snprintf(d->currency, sizeof(d->currency), "%s", np->currency);
	snprintf(desc, sizeof(desc), "Unused time on %s", s->plan_name);
	inv_add_line(d, "proration_credit", desc, -billing_prorate(s->amount, rest, term),
	    s->plan_id, at, s->term_end);
	snprintf(desc, sizeof(desc), "Remaining time on %s", np->name);
	inv_add_line(d, "proration_charge", desc, billing_prorate(np->amount, rest, term),
	    np->id, at, s->term_end);
}

int
billing_raise_invoice(struct bctx *b, const struct inv_draft *d, char id[40])
{
	long long subtotal = inv_draft_total(d), credit = 0, total, due;
	char a[8][24], number[24];
	const char *p[14];
	PGresult *res;
	struct buf data;
	struct jw w;

	res = db_exec(b->db, STMT_COUNTER_NEXT, (const char *[]){ b->site_id });
	if (res == NULL)
		return -1;
	snprintf(number, sizeof(number), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (subtotal < 0) {
		/* A downgrade: the difference waits on the customer's balance. */
		res = db_exec(b->db, STMT_CUST_CREDIT_ADD, (const char *[]){ b->site_id,
		    d->customer_id, lltoa(-subtotal, a[0]) });
		if (res == NULL)
			return -1;
		PQclear(res);
	} else if (subtotal > 0) {
		res = db_exec(b->db, STMT_CUST_CREDIT_TAKE, (const char *[]){ b->site_id,
		    d->customer_id, lltoa(subtotal, a[0]) });
		if (res == NULL)
			return -1;
		credit = PQntuples(res) == 1 ? db_ll(res, 0, 0, 0) : 0;
		PQclear(res);
	}
	total = subtotal;
	due = subtotal > 0 ? subtotal - credit : 0;
	new_id("inv", id);
	p[0] = b->site_id;
	p[1] = id;
	p[2] = number;
	p[3] = d->customer_id;
	p[4] = d->subscription_id[0] ? d->subscription_id : NULL;
	p[5] = due > 0 ? "open" : "paid";
	p[6] = d->currency;
	snprintf(a[1], 24, "%lld", subtotal);
	p[7] = a[1];
	p[8] = lltoa(credit, a[2]);
	snprintf(a[3], 24, "%lld", total);
	p[9] = a[3];
	p[10] = lltoa(due, a[4]);
	p[11] = due > 0 ? "0" : "0";
	p[12] = due > 0 ? NULL : lltoa(b->now, a[5]);
	p[13] = lltoa(b->now, a[6]);
	res = db_exec(b->db, STMT_INV_INSERT, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	for (int i = 0; i < d->n; i++) {
		const struct inv_line *l = &d->lines[i];
		char ln[24], amt[24], s0[24], s1[24];
		const char *lp[9] = { b->site_id, id, lltoa(i + 1, ln), l->kind, l->description,
		    NULL, l->plan_id[0] ? l->plan_id : NULL, lltoa(l->start, s0), lltoa(l->end, s1) };

		snprintf(amt, sizeof(amt), "%lld", l->amount);
		lp[5] = amt;
		res = db_exec(b->db, STMT_INV_LINE_INSERT, lp);
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	res = db_exec(b->db, STMT_INV_GET, (const char *[]){ b->site_id, id });
	if (res == NULL)
		return -1;
	buf_init(&data);
	jw_init(&w, &data);
	if (billing_write_invoice(b, &w, NULL, res, 0) != 0 ||
	    events_emit(b, "invoice.created", id, data.data) != 0 ||
	    (due == 0 && events_emit(b, "invoice.paid", id, data.data) != 0)) {
		PQclear(res);
		buf_free(&data);
		return -1;
	}
	PQclear(res);
	buf_free(&data);
	return 0;
}

/* Loads the site's dunning settings. */
static int
dunning_settings(struct bctx *b, long long sched[8], int *n, bool *cancel)
{
	PGresult *res = db_exec(b->db, STMT_SITE_BILLING, (const char *[]){ b->site_id });
	char list[256], *tok, *save = NULL;

	if (res == NULL)
		return -1;
	snprintf(list, sizeof(list), "%s", db_val(res, 0, 0) ? db_val(res, 0, 0) : "");
	*cancel = strcmp(db_val(res, 0, 1), "cancel") == 0;
	PQclear(res);
	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok && *n < 8; tok = strtok_r(NULL, ",", &save))
		sched[(*n)++] = atoll(tok);
	return 0;
}

static int
emit_invoice(struct bctx *b, const char *type, PGresult *inv)
{
	struct buf data;
	struct jw w;
	int rc;

	buf_init(&data);
	jw_init(&w, &data);
	rc = billing_write_invoice(b, &w, NULL, inv, 0);
	if (rc == 0)
		rc = events_emit(b, type, db_val(inv, 0, INV_ID), data.data);
	buf_free(&data);
	return rc;
}

/* Moves the invoice's subscription to match its payment state. */
static int
settle_subscription(struct bctx *b, const char *sub_id, bool paid, bool give_up, bool cancel)
{
	struct sub s;
	const char *type = NULL;
	int found = sub_load(b, sub_id, true, &s);

	if (found <= 0)
		return found;
	if (paid) {
		return billing_invoice_closed(b, sub_id);
	} else if (!paid && !give_up && (strcmp(s.status, "active") == 0 ||
	    strcmp(s.status, "non_renewing") == 0 || strcmp(s.status, "in_trial") == 0)) {
		snprintf(s.status, sizeof(s.status), "past_due");
		type = "subscription.past_due";
	} else if (give_up && cancel && strcmp(s.status, "cancelled") != 0) {
		snprintf(s.status, sizeof(s.status), "cancelled");
		s.cancelled_at = b->now;
		s.next_billing_at = -1;
		snprintf(s.cancel_reason, sizeof(s.cancel_reason), "not_paid");
		type = "subscription.cancelled";
	} else if (give_up && !cancel && strcmp(s.status, "past_due") == 0) {
		snprintf(s.status, sizeof(s.status), "%s", s.cancel_at_end ? "non_renewing" : "active");
		type = "subscription.activated";
	}
	if (type == NULL)
		return 0;
	if (sub_save(b, &s) != 0)
		return -1;
	return billing_emit_sub(b, type, s.id);
}

int
billing_invoice_closed(struct bctx *b, const char *sub_id)
{
	struct sub s;
	PGresult *res;
	long long open;
	int found = sub_load(b, sub_id, true, &s);

	if (found <= 0 || strcmp(s.status, "past_due") != 0)
		return found < 0 ? -1 : 0;
	res = db_exec(b->db, STMT_INV_OPEN_COUNT_SUB, (const char *[]){ b->site_id, sub_id });
	if (res == NULL)
		return -1;
	open = db_ll(res, 0, 0, 0);
	PQclear(res);
	if (open > 0)
		return 0;
	snprintf(s.status, sizeof(s.status), "%s", s.cancel_at_end ? "non_renewing" : "active");
	if (sub_save(b, &s) != 0)
		return -1;
	return billing_emit_sub(b, "subscription.activated", s.id);
}

int
billing_collect(struct bctx *b, const char *invoice_id, bool *paid)
{
	PGresult *inv, *pm, *res;
	const char *outcome, *pm_id = NULL;
	struct gateway_result result;
	char a[8][24], pay_id[40], idem[80], sub_id[72], customer[72], currency[4];
	long long due, created, attempts, next = -1, sched[8];
	int nsched;
	bool cancel = true, give_up = false;

	*paid = false;
	inv = db_exec(b->db, STMT_INV_LOCK, (const char *[]){ b->site_id, invoice_id });
	if (inv == NULL)
		return -1;
	if (PQntuples(inv) != 1 || strcmp(db_val(inv, 0, INV_STATUS), "open") != 0) {
		PQclear(inv);
		return 0;
	}
	due = db_ll(inv, 0, INV_DUE, 0);
	created = db_ll(inv, 0, INV_CREATED, 0);
	attempts = db_ll(inv, 0, INV_ATTEMPTS, 0) + 1;
	snprintf(sub_id, sizeof(sub_id), "%s", db_val(inv, 0, INV_SUBSCRIPTION) ?
	    db_val(inv, 0, INV_SUBSCRIPTION) : "");
	snprintf(customer, sizeof(customer), "%s", db_val(inv, 0, INV_CUSTOMER));
	snprintf(currency, sizeof(currency), "%s", db_val(inv, 0, INV_CURRENCY));
	PQclear(inv);

	pm = db_exec(b->db, STMT_PM_DEFAULT, (const char *[]){ b->site_id, customer });
	if (pm == NULL)
		return -1;
	/* The key a real gateway would get: one charge per invoice attempt, ever. */
	snprintf(idem, sizeof(idem), "%s-%lld", invoice_id, attempts);
	result.ref[0] = '\0';
	if (PQntuples(pm) == 0) {
		outcome = "no_payment_method";
	} else {
		pm_id = db_val(pm, 0, PM_ID);
		if (gateway_get("test")->charge(b, db_val(pm, 0, PM_TOKEN), due, currency, idem,
		    &result) != 0) {
			PQclear(pm);
			return -1;
		}
		outcome = result.outcome;
	}
	new_id("pay", pay_id);
	res = db_exec(b->db, STMT_PAY_INSERT, (const char *[]){ b->site_id, pay_id, invoice_id,
	    pm_id, lltoa(due, a[0]), outcome, idem, lltoa(b->now, a[1]), "charge",
	    result.ref[0] ? result.ref : NULL });
	PQclear(pm);
	if (res == NULL)
		return -1;
	PQclear(res);

	*paid = strcmp(outcome, "succeeded") == 0;
	if (!*paid) {
		if (dunning_settings(b, sched, &nsched, &cancel) != 0)
			return -1;
		if (attempts <= nsched)
			next = created + sched[attempts - 1];
		else
			give_up = true;
		/* A retry that falls due before now (time travel) runs on the next pass. */
		if (next >= 0 && next < b->now)
			next = b->now;
	}
	res = db_exec(b->db, STMT_INV_SET_STATE, (const char *[]){ b->site_id, invoice_id,
	    *paid ? "paid" : (give_up && !cancel ? "uncollectible" : "open"),
	    *paid ? lltoa(due, a[2]) : "0", lltoa(attempts, a[3]), lltoa(next, a[4]),
	    *paid ? lltoa(b->now, a[5]) : NULL, NULL });
	if (res == NULL)
		return -1;
	if (emit_invoice(b, *paid ? "invoice.paid" : "invoice.payment_failed", res) != 0 ||
	    (give_up && !cancel && emit_invoice(b, "invoice.marked_uncollectible", res) != 0)) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (sub_id[0] != '\0')
		return settle_subscription(b, sub_id, *paid, give_up, cancel) < 0 ? -1 : 0;
	return 0;
}

int
billing_retry_customer(struct bctx *b, const char *customer_id)
{
	PGresult *res = db_exec(b->db, STMT_INV_OPEN_FOR_CUSTOMER, (const char *[]){ b->site_id,
	    customer_id });
	int rc = 0;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		bool paid;

		rc = billing_collect(b, db_val(res, i, 0), &paid);
	}
	PQclear(res);
	return rc;
}

int
billing_start_term(struct bctx *b, struct sub *s, long long start)
{
	struct inv_draft d;
	char inv_id[40], desc[240];
	bool paid;

	memset(&d, 0, sizeof(d));
	s->term_start = start;
	s->term_end = billing_add_interval(start, s->unit, s->count, s->anchor_day);
	s->next_billing_at = s->term_end;
	snprintf(d.customer_id, sizeof(d.customer_id), "%s", s->customer_id);
	snprintf(d.subscription_id, sizeof(d.subscription_id), "%s", s->id);
	snprintf(d.currency, sizeof(d.currency), "%s", s->currency);
	snprintf(desc, sizeof(desc), "%s", s->plan_name);
	inv_add_line(&d, "plan_charge", desc, s->amount, s->plan_id, s->term_start, s->term_end);
	if (sub_save(b, s) != 0 || billing_raise_invoice(b, &d, inv_id) != 0)
		return -1;
	return billing_collect(b, inv_id, &paid);
}

void
sub_apply_plan(struct sub *s, const struct plan *p)
{
	snprintf(s->plan_id, sizeof(s->plan_id), "%s", p->id);
	snprintf(s->plan_name, sizeof(s->plan_name), "%s", p->name);
	snprintf(s->currency, sizeof(s->currency), "%s", p->currency);
	snprintf(s->unit, sizeof(s->unit), "%s", p->unit);
	s->amount = p->amount;
	s->count = p->count;
}

int
billing_process_due(struct bctx *b, const char *sub_id)
{
	struct sub s;
	int found = sub_load(b, sub_id, true, &s);
	long long at;

	/* Just claimed, so "not found" means its plan is gone: an error, not nothing to do. */
	if (found <= 0)
		return -1;
	if (s.next_billing_at < 0 || s.next_billing_at > b->now)
		return 0;
	at = s.next_billing_at;
	/* Work at the moment it fell due, so time travel bills each term on its own date. */
	{
		struct bctx due = *b;

		due.now = at;
		if (s.cancel_at_end || strcmp(s.status, "non_renewing") == 0) {
			snprintf(s.status, sizeof(s.status), "cancelled");
			s.cancelled_at = at;
			s.next_billing_at = -1;
			if (sub_save(&due, &s) != 0)
				return -1;
			return billing_emit_sub(&due, "subscription.cancelled", s.id);
		}
		if (s.scheduled_plan[0] != '\0') {
			struct plan np;

			if (plan_load(&due, s.scheduled_plan, &np) != 1)
				return -1;
			sub_apply_plan(&s, &np);
			s.scheduled_plan[0] = '\0';
			if (sub_save(&due, &s) != 0 || billing_emit_sub(&due, "subscription.changed",
			    s.id) != 0)
				return -1;
		}
		if (strcmp(s.status, "in_trial") == 0) {
			snprintf(s.status, sizeof(s.status), "active");
			if (billing_start_term(&due, &s, at) != 0)
				return -1;
			return billing_emit_sub(&due, "subscription.trial_ended", s.id);
		}
		if (billing_start_term(&due, &s, at) != 0)
			return -1;
		return billing_emit_sub(&due, "subscription.renewed", s.id);
	}
}

int
billing_process_resume(struct bctx *b, const char *sub_id)
{
	struct sub s;
	int found = sub_load(b, sub_id, true, &s);
	struct bctx at = *b;

	if (found <= 0)
		return found;
	if (strcmp(s.status, "paused") != 0 || s.resume_at < 0 || s.resume_at > b->now)
		return 0;
	at.now = s.resume_at;
	snprintf(s.status, sizeof(s.status), "active");
	s.paused_at = -1;
	s.resume_at = -1;
	if (billing_start_term(&at, &s, at.now) != 0)
		return -1;
	return billing_emit_sub(&at, "subscription.resumed", s.id);
}

void
billing_write_plan(struct jw *w, const char *key, PGresult *res, int row)
{
	jw_obj_begin(w, key);
	jw_str(w, "id", db_val(res, row, PLAN_ID));
	jw_str(w, "object", "plan");
	jw_str(w, "name", db_val(res, row, PLAN_NAME));
	jw_int_text(w, "amount", db_val(res, row, PLAN_AMOUNT));
	jw_str(w, "currency", db_val(res, row, PLAN_CURRENCY));
	jw_str(w, "interval", db_val(res, row, PLAN_UNIT));
	jw_int_text(w, "interval_count", db_val(res, row, PLAN_COUNT));
	jw_int_text(w, "trial_days", db_val(res, row, PLAN_TRIAL));
	jw_str(w, "status", db_val(res, row, PLAN_STATUS));
	jw_int_text(w, "created_at", db_val(res, row, PLAN_CREATED));
	jw_obj_end(w);
}

void
billing_write_sub(struct jw *w, const char *key, PGresult *res, int row)
{
	const char *status = db_val(res, row, SUB_STATUS);
	bool billing = db_val(res, row, SUB_NEXT) != NULL;

	jw_obj_begin(w, key);
	jw_str(w, "id", db_val(res, row, SUB_ID));
	jw_str(w, "object", "subscription");
	jw_str(w, "customer_id", db_val(res, row, SUB_CUSTOMER));
	jw_str(w, "plan_id", db_val(res, row, SUB_PLAN));
	jw_str(w, "status", status);
	jw_int_text(w, "current_term_start", db_val(res, row, SUB_TERM_START));
	jw_int_text(w, "current_term_end", db_val(res, row, SUB_TERM_END));
	jw_int_text(w, "next_billing_at", db_val(res, row, SUB_NEXT));
	/* What the next renewal charges (before any credit balance): nothing when it ends. */
	if (billing && strcmp(status, "non_renewing") != 0 &&
	    strcmp(db_val(res, row, SUB_CANCEL_AT_END), "t") != 0)
		jw_int_text(w, "next_amount", db_val(res, row, SUB_AMOUNT));
	else
		jw_null(w, "next_amount");
	jw_str(w, "currency", db_val(res, row, SUB_CURRENCY));
	jw_int_text(w, "trial_end", db_val(res, row, SUB_TRIAL_END));
	jw_bool(w, "cancel_at_period_end", strcmp(db_val(res, row, SUB_CANCEL_AT_END), "t") == 0);
	jw_int_text(w, "cancelled_at", db_val(res, row, SUB_CANCELLED_AT));
	jw_str(w, "cancel_reason", db_val(res, row, SUB_CANCEL_REASON));
	jw_str(w, "cancel_comment", db_val(res, row, SUB_CANCEL_COMMENT));
	jw_int_text(w, "paused_at", db_val(res, row, SUB_PAUSED_AT));
	jw_int_text(w, "resume_at", db_val(res, row, SUB_RESUME_AT));
	jw_str(w, "scheduled_plan_id", db_val(res, row, SUB_SCHEDULED_PLAN));
	jw_int_text(w, "created_at", db_val(res, row, SUB_CREATED));
	jw_int_text(w, "updated_at", db_val(res, row, SUB_UPDATED));
	jw_obj_end(w);
}

int
billing_write_invoice(struct bctx *b, struct jw *w, const char *key, PGresult *res, int row)
{
	const char *id = db_val(res, row, INV_ID);
	PGresult *lines = db_exec(b->db, STMT_INV_LINES, (const char *[]){ b->site_id, id });
	PGresult *pays;

	if (lines == NULL)
		return -1;
	pays = db_exec(b->db, STMT_PAY_LIST, (const char *[]){ b->site_id, id });
	if (pays == NULL) {
		PQclear(lines);
		return -1;
	}
	jw_obj_begin(w, key);
	jw_str(w, "id", id);
	jw_str(w, "object", "invoice");
	jw_int_text(w, "number", db_val(res, row, INV_NUMBER));
	jw_str(w, "customer_id", db_val(res, row, INV_CUSTOMER));
	jw_str(w, "subscription_id", db_val(res, row, INV_SUBSCRIPTION));
	jw_str(w, "status", db_val(res, row, INV_STATUS));
	jw_str(w, "currency", db_val(res, row, INV_CURRENCY));
	jw_int_text(w, "subtotal", db_val(res, row, INV_SUBTOTAL));
	jw_int_text(w, "credit_applied", db_val(res, row, INV_CREDIT));
	jw_int_text(w, "total", db_val(res, row, INV_TOTAL));
	jw_int_text(w, "amount_due", db_val(res, row, INV_DUE));
	jw_int_text(w, "amount_paid", db_val(res, row, INV_PAID));
	jw_int_text(w, "amount_refunded", db_val(res, row, INV_REFUNDED));
	jw_int_text(w, "attempt_count", db_val(res, row, INV_ATTEMPTS));
	jw_int_text(w, "next_attempt_at", db_val(res, row, INV_NEXT_ATTEMPT));
	jw_int_text(w, "created_at", db_val(res, row, INV_CREATED));
	jw_int_text(w, "paid_at", db_val(res, row, INV_PAID_AT));
	jw_int_text(w, "voided_at", db_val(res, row, INV_VOIDED_AT));
	jw_arr_begin(w, "lines");
	for (int i = 0; i < PQntuples(lines); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "kind", db_val(lines, i, 1));
		jw_str(w, "description", db_val(lines, i, 2));
		jw_int_text(w, "amount", db_val(lines, i, 3));
		jw_str(w, "plan_id", db_val(lines, i, 4));
		jw_int_text(w, "period_start", db_val(lines, i, 5));
		jw_int_text(w, "period_end", db_val(lines, i, 6));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr_begin(w, "payment_attempts");
	for (int i = 0; i < PQntuples(pays); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "id", db_val(pays, i, 0));
		jw_str(w, "payment_method_id", db_val(pays, i, 1));
		jw_int_text(w, "amount", db_val(pays, i, 2));
		jw_str(w, "kind", db_val(pays, i, 5));
		jw_str(w, "outcome", db_val(pays, i, 3));
		jw_int_text(w, "created_at", db_val(pays, i, 4));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	PQclear(lines);
	PQclear(pays);
	return 0;
}

int
billing_emit_sub(struct bctx *b, const char *type, const char *sub_id)
{
	PGresult *res = db_exec(b->db, STMT_SUB_GET, (const char *[]){ b->site_id, sub_id });
	struct buf data;
	struct jw w;
	int rc;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	buf_init(&data);
	jw_init(&w, &data);
	billing_write_sub(&w, NULL, res, 0);
	PQclear(res);
	rc = events_emit(b, type, sub_id, data.data);
	buf_free(&data);
	return rc;
}

void
billing_write_customer(struct jw *w, const char *key, PGresult *res, int row)
{
	jw_obj_begin(w, key);
	jw_str(w, "id", db_val(res, row, CUST_ID));
	jw_str(w, "object", "customer");
	jw_str(w, "email", db_val(res, row, CUST_EMAIL));
	jw_str(w, "name", db_val(res, row, CUST_NAME));
	jw_str(w, "phone", db_val(res, row, CUST_PHONE));
	jw_raw(w, "billing_address", db_val(res, row, CUST_BILLING));
	jw_raw(w, "metadata", db_val(res, row, CUST_METADATA));
	jw_str(w, "company", db_val(res, row, CUST_COMPANY));
	if (db_val(res, row, CUST_TAX_TYPE) != NULL) {
		jw_obj_begin(w, "tax_id");
		jw_str(w, "type", db_val(res, row, CUST_TAX_TYPE));
		jw_str(w, "value", db_val(res, row, CUST_TAX_VALUE));
		jw_obj_end(w);
	} else
		jw_null(w, "tax_id");
	jw_str(w, "portal_state", db_val(res, row, CUST_PORTAL_STATE));
	jw_int_text(w, "created_at", db_val(res, row, CUST_CREATED));
	jw_int_text(w, "updated_at", db_val(res, row, CUST_UPDATED));
	jw_obj_end(w);
}

void
billing_write_portal_session(struct jw *w, PGresult *res, int row, const char *token,
    const char *access_url)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", db_val(res, row, PS_ID));
	jw_str(w, "object", "portal_session");
	/* The token is stored only as a hash: it is shown in the create response alone. */
	jw_str(w, "token", token);
	jw_str(w, "access_url", access_url);
	jw_str(w, "redirect_url", db_val(res, row, PS_REDIRECT));
	jw_str(w, "forward_url", db_val(res, row, PS_FORWARD));
	jw_str(w, "status", db_val(res, row, PS_STATUS));
	jw_int_text(w, "created_at", db_val(res, row, PS_CREATED));
	jw_int_text(w, "expires_at", db_val(res, row, PS_EXPIRES));
	jw_int_text(w, "login_at", db_val(res, row, PS_LOGIN_AT));
	jw_int_text(w, "logout_at", db_val(res, row, PS_LOGOUT_AT));
	jw_str(w, "login_ipaddress", db_val(res, row, PS_LOGIN_IP));
	jw_str(w, "logout_ipaddress", db_val(res, row, PS_LOGOUT_IP));
	jw_str(w, "customer_id", db_val(res, row, PS_CUSTOMER));
	jw_raw(w, "features", db_val(res, row, PS_FEATURES));
	jw_raw(w, "flow", db_val(res, row, PS_FLOW));
	jw_obj_end(w);
}
