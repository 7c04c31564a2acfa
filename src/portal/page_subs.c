/* page_subs.c: /portal/{site}/subscriptions/...: the customer's subscriptions, one page
 * each with what it grants and the actions its status and the settings allow, and every
 * action as steps: change plan (choose, review the exact bill, confirm), cancel (when,
 * why, review, confirm, confirmation), keep or reactivate, pause and resume. Every review
 * is the domain's own preview (the operation run and rolled back); every confirm is the
 * domain call with the session's policy, so a setting that forbids it is refused there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/plans.h"
#include "billing/subscriptions.h"
#include "billing/taxes.h"
#include "core/tz.h"
#include "portal/form.h"
#include "portal/portal.h"
#include "portal/view.h"

/* ---- finding the subscription ---- */

/* The subscription the URL names (STMT_SUB_* columns), if it is the signed-in customer's;
 * another customer's, like one that does not exist, is a 404. */
static PGresult *
sub_row(struct page *p)
{
	const char *id = view_path_id(p, 1);
	PGresult *res;

	if (id == NULL)
		return NULL;
	res = db_exec(p->c->db, STMT_SUB_GET, (const char *[]){ p->set.site_id, id });
	if (res == NULL) {
		page_unavailable(p);
		return NULL;
	}
	if (PQntuples(res) != 1 || strcmp(db_val(res, 0, SUB_CUSTOMER), p->customer_id) != 0) {
		PQclear(res);
		(void)page_message(p, 404, "Page not found", "There is nothing here, or it belongs "
		    "to another account.", page_url(p, ""), "Go to your account");
		return NULL;
	}
	return res;
}

static enum sub_status
row_status(PGresult *res)
{
	return subs_status_parse(db_val(res, 0, SUB_STATUS));
}

static const char *
sub_url(struct page *p, PGresult *res, const char *tail)
{
	char suffix[200];

	snprintf(suffix, sizeof(suffix), "/subscriptions/%s%s", db_val(res, 0, SUB_ID), tail);
	return page_url(p, suffix);
}

static void
redirect_sub(struct page *p, const char *id, const char *tail)
{
	char suffix[200];

	snprintf(suffix, sizeof(suffix), "/subscriptions/%s%s", id, tail);
	page_redirect(p, suffix);
}

static void
not_available(struct page *p, PGresult *res, const char *what)
{
	char text[200];

	snprintf(text, sizeof(text), "%s is not available for this subscription. Nothing was "
	    "changed.", what);
	page_message(p, 403, "Not available", text, sub_url(p, res, ""),
	    "Back to the subscription");
}

/* A domain refusal on a step's page: 403 for a setting, the page's own words otherwise. */
static void
refused(struct page *p, PGresult *res, const struct derr *e)
{
	if (e->kind == DERR_FORBIDDEN) {
		page_message(p, 403, "Not available", "This is not available in this portal. "
		    "Nothing was changed.", sub_url(p, res, ""), "Back to the subscription");
		return;
	}
	if (e->kind == DERR_CONFLICT || e->kind == DERR_INVALID) {
		page_message(p, e->kind == DERR_CONFLICT ? 409 : 400, "This could not be done",
		    e->message, sub_url(p, res, ""), "Back to the subscription");
		return;
	}
	page_derr(p, e);
}

/* ---- what the subscription page offers ---- */

static bool
can_change(struct page *p, enum sub_status st)
{
	return subs_op_allowed("change_plan", NULL, st) && p->pol.sub.change_allowed &&
	    p->set.n_change_plan_plans > 0;
}

static bool
can_cancel(struct page *p, enum sub_status st)
{
	if (!p->pol.sub.cancel_allowed)
		return false;
	if (subs_op_allowed("cancel", "end_of_term", st))
		return true;
	return p->pol.sub.cancel_now_allowed && subs_op_allowed("cancel", "now", st);
}

/* ---- the list and the subscription page ---- */

void
page_subs_list(struct page *p)
{
	PGresult *res = db_exec(p->c->db, STMT_SUB_LIST_CUST_FIRST, (const char *[]){
	    p->set.site_id, "100", p->customer_id, NULL });
	cJSON *d, *cur, *past;

	if (res == NULL) {
		page_unavailable(p);
		return;
	}
	d = cJSON_CreateObject();
	cur = cJSON_AddArrayToObject(d, "subs");
	past = cJSON_AddArrayToObject(d, "past");
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *c = cJSON_CreateObject();

		view_sub(p, res, i, c);
		cJSON_AddItemToArray(strcmp(db_val(res, i, SUB_STATUS), "cancelled") == 0 ? past :
		    cur, c);
	}
	cJSON_AddBoolToObject(d, "has_past", cJSON_GetArraySize(past) > 0);
	p->nav = "subscriptions";
	page_render(p, 200, "Subscriptions", "subscriptions", d, false);
	PQclear(res);
}

/* What ?done= says happened, in words, with the charge when the change billed. */
static void
add_done(struct page *p, PGresult *res, cJSON *d)
{
	const char *done = http_kvs_get(&p->c->req->args, "done");
	const char *inv = db_val(res, 0, SUB_TERM_INVOICE);
	char text[400];

	if (done == NULL)
		return;
	text[0] = '\0';
	if (strcmp(done, "changed") == 0)
		snprintf(text, sizeof(text), "Your plan is now %s.", db_val(res, 0, SUB_PLAN_NAME));
	else if (strcmp(done, "scheduled") == 0 && db_val(res, 0, SUB_SCHEDULED_PLAN) != NULL)
		snprintf(text, sizeof(text), "Your plan changes on %s.",
		    view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
	else if (strcmp(done, "kept") == 0 || strcmp(done, "reactivated") == 0)
		snprintf(text, sizeof(text), "Your subscription continues.");
	else if (strcmp(done, "paused") == 0)
		snprintf(text, sizeof(text), "Your subscription is paused.");
	else if (strcmp(done, "pause_scheduled") == 0)
		snprintf(text, sizeof(text), "Your subscription pauses at the end of the term.");
	else if (strcmp(done, "resumed") == 0)
		snprintf(text, sizeof(text), "Your subscription has resumed.");
	if (text[0] == '\0')
		return;
	cJSON_AddStringToObject(d, "notice", text);
	/* A change that billed: what became of the charge (the gateway has answered). */
	if (inv != NULL && (strcmp(done, "changed") == 0 || strcmp(done, "reactivated") == 0 ||
	    strcmp(done, "resumed") == 0)) {
		PGresult *ir = db_exec(p->c->db, STMT_INV_GET, (const char *[]){ p->set.site_id,
		    inv });

		if (ir != NULL && PQntuples(ir) == 1 && db_ll(ir, 0, INV_CREATED, 0) >= p->c->now -
		    3600) {
			const char *st = db_val(ir, 0, INV_STATUS), *cur = db_val(ir, 0, INV_CURRENCY);

			if (strcmp(st, "paid") == 0 && db_ll(ir, 0, INV_PAID, 0) > 0)
				snprintf(text, sizeof(text), "We charged %s (invoice %s).",
				    view_money(p, db_ll(ir, 0, INV_PAID, 0), cur),
				    db_val(ir, 0, INV_NUMBER));
			else if (strcmp(st, "paid") == 0)
				snprintf(text, sizeof(text), "Invoice %s was paid from your credit.",
				    db_val(ir, 0, INV_NUMBER));
			else if (strcmp(st, "open") == 0 && db_ll(ir, 0, INV_ATTEMPTS, 0) > 0)
				snprintf(text, sizeof(text), "The payment of %s for invoice %s did not "
				    "go through. Pay it now or update your card.",
				    view_money(p, db_ll(ir, 0, INV_DUE, 0), cur),
				    db_val(ir, 0, INV_NUMBER));
			else
				text[0] = '\0';
			if (text[0] != '\0')
				cJSON_AddStringToObject(d, "charge", text);
		}
		PQclear(ir);
	}
	view_flow_done(p, d);
}

/* The status in a sentence, for every status. */
static void
add_status_message(struct page *p, PGresult *res, cJSON *d)
{
	enum sub_status st = row_status(res);
	long long term_end = db_ll(res, 0, SUB_TERM_END, -1);
	long long resume = db_ll(res, 0, SUB_RESUME_AT, -1), pause_at = db_ll(res, 0, SUB_PAUSE_AT,
	    -1);
	char text[400];

	switch (st) {
	case SS_IN_TRIAL:
		snprintf(text, sizeof(text), "Your free trial ends on %s. Your first payment is "
		    "taken then.", view_date(p, db_ll(res, 0, SUB_TRIAL_END, term_end)));
		break;
	case SS_ACTIVE:
		if (pause_at >= 0)
			snprintf(text, sizeof(text), "Your subscription pauses on %s%s%s.",
			    view_date(p, pause_at), resume >= 0 ? " and resumes on " : "",
			    resume >= 0 ? view_date(p, resume) : "");
		else
			snprintf(text, sizeof(text), "Your subscription renews automatically on %s.",
			    view_date(p, term_end));
		break;
	case SS_NON_RENEWING:
		snprintf(text, sizeof(text), "Your subscription is cancelled and ends on %s. You "
		    "keep access until then.", view_date(p, term_end));
		break;
	case SS_PAST_DUE:
		snprintf(text, sizeof(text), "Your last payment did not go through. Pay the open "
		    "invoice or update your card to keep your subscription.");
		break;
	case SS_PAUSED:
		if (resume >= 0)
			snprintf(text, sizeof(text), "Your subscription is paused: you are not billed "
			    "until it resumes on %s.", view_date(p, resume));
		else
			snprintf(text, sizeof(text), "Your subscription is paused: you are not billed "
			    "until you resume it.");
		break;
	case SS_CANCELLED:
		snprintf(text, sizeof(text), "Your subscription was cancelled on %s.",
		    view_date(p, db_ll(res, 0, SUB_CANCELLED_AT, term_end)));
		break;
	default:
		snprintf(text, sizeof(text), "This subscription cannot be shown right now.");
		break;
	}
	cJSON_AddStringToObject(d, "message", text);
	cJSON_AddStringToObject(d, "message_tone", st == SS_PAST_DUE ? "danger" :
	    st == SS_NON_RENEWING || st == SS_PAUSED || st == SS_CANCELLED ? "warning" : "info");
}

/* What the subscription grants now: the customer's entitlements (the domain's object)
 * that come from this subscription. */
static void
add_grants(struct page *p, PGresult *res, cJSON *d)
{
	struct buf b;
	struct derr e;
	cJSON *ents, *list = cJSON_AddArrayToObject(d, "grants");
	const cJSON *it;
	const char *id = db_val(res, 0, SUB_ID);

	buf_init(&b);
	if (obj_render(&p->d, OBJ_ENTITLEMENTS, p->customer_id, &b, &e) != 0) {
		buf_free(&b);
		return;
	}
	ents = cJSON_Parse(b.data);
	buf_free(&b);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(ents, "data")) {
		const cJSON *subs = cJSON_GetObjectItemCaseSensitive(it, "subscription_ids"), *s;
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
		bool mine = false;

		cJSON_ArrayForEach(s, subs)
			if (cJSON_IsString(s) && strcmp(s->valuestring, id) == 0)
				mine = true;
		if (!mine)
			continue;
		if (cJSON_IsNumber(value)) {
			char text[300];

			snprintf(text, sizeof(text), "%s: %lld", json_str(it, "name"),
			    (long long)value->valuedouble);
			cJSON_AddItemToArray(list, cJSON_CreateString(text));
		} else
			cJSON_AddItemToArray(list, cJSON_CreateString(json_str(it, "name")));
	}
	cJSON_Delete(ents);
	cJSON_AddBoolToObject(d, "has_grants", cJSON_GetArraySize(list) > 0);
	switch (row_status(res)) {
	case SS_IN_TRIAL: case SS_ACTIVE: case SS_NON_RENEWING: case SS_PAST_DUE:
		cJSON_AddStringToObject(d, "no_grants", "This plan lists no features.");
		break;
	default:
		cJSON_AddStringToObject(d, "no_grants", "While it is paused or cancelled, this "
		    "subscription gives you no access.");
		break;
	}
}

static void
add_terms(struct page *p, PGresult *res, cJSON *d)
{
	cJSON *t = cJSON_AddArrayToObject(d, "terms");
	enum sub_status st = row_status(res);

#define ROW(k, v) do { cJSON *o = cJSON_CreateObject(); \
	cJSON_AddStringToObject(o, "k", (k)); cJSON_AddStringToObject(o, "v", (v)); \
	cJSON_AddItemToArray(t, o); } while (0)
	ROW("Plan", db_val(res, 0, SUB_PLAN_NAME));
	ROW("Price", view_price(p, db_ll(res, 0, SUB_AMOUNT, 0), db_val(res, 0, SUB_CURRENCY),
	    db_val(res, 0, SUB_UNIT), (int)db_ll(res, 0, SUB_COUNT, 1)));
	ROW("Started", view_date(p, db_ll(res, 0, SUB_CREATED, 0)));
	if (st != SS_CANCELLED && st != SS_PAUSED && db_val(res, 0, SUB_TERM_START) != NULL) {
		char text[200];

		snprintf(text, sizeof(text), "%s to %s", view_date(p, db_ll(res, 0,
		    SUB_TERM_START, 0)), view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
		ROW(st == SS_IN_TRIAL ? "Trial period" : "Current term", text);
	}
	if (db_val(res, 0, SUB_SCHEDULED_PLAN) != NULL) {
		struct plan np;
		struct derr e;

		if (plans_load(&p->d, db_val(res, 0, SUB_SCHEDULED_PLAN), "plan_id", false, &np,
		    &e) == 0) {
			char text[400];

			snprintf(text, sizeof(text), "%s (%s) from %s", np.name, view_price(p, np.amount,
			    np.currency, np.unit, np.count), view_date(p, db_ll(res, 0, SUB_TERM_END,
			    0)));
			ROW("Changes to", text);
		}
	}
#undef ROW
}

static void
add_actions(struct page *p, PGresult *res, cJSON *d)
{
	enum sub_status st = row_status(res);
	cJSON *a = cJSON_AddObjectToObject(d, "actions");
	bool scheduled_pause = db_val(res, 0, SUB_PAUSE_AT) != NULL;
	bool any = false;

#define ACT(key, cond, tail) do { if (cond) { \
	cJSON_AddStringToObject(a, key, sub_url(p, res, tail)); any = true; } } while (0)
	ACT("change", can_change(p, st) && !scheduled_pause, "/change_plan");
	ACT("pause", p->pol.sub.pause_allowed && subs_op_allowed("pause", NULL, st) &&
	    !scheduled_pause, "/pause");
	ACT("resume", p->pol.sub.pause_allowed && (st == SS_PAUSED || scheduled_pause),
	    "/resume");
	ACT("keep", st == SS_NON_RENEWING && p->pol.sub.reactivate_allowed, "/keep");
	ACT("reactivate", st == SS_CANCELLED && p->pol.sub.reactivate_allowed &&
	    subs_op_allowed("reactivate", "now", st), "/reactivate");
	ACT("cancel", can_cancel(p, st), "/cancel");
#undef ACT
	if (st == SS_PAST_DUE) {
		if (p->set.payment_methods)
			cJSON_AddStringToObject(a, "card", page_url(p, "/payment_methods/new"));
		if (p->set.invoice_history)
			cJSON_AddStringToObject(a, "invoices", page_url(p, "/invoices"));
		any = true;
	}
	cJSON_AddBoolToObject(d, "has_actions", any);
}

void
page_sub_show(struct page *p)
{
	PGresult *res = sub_row(p);
	cJSON *d, *card;

	if (res == NULL)
		return;
	d = cJSON_CreateObject();
	card = cJSON_AddObjectToObject(d, "sub");
	view_sub(p, res, 0, card);
	add_done(p, res, d);
	add_status_message(p, res, d);
	add_terms(p, res, d);
	add_grants(p, res, d);
	add_actions(p, res, d);
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	cJSON_AddStringToObject(d, "back", page_url(p, "/subscriptions"));
	p->nav = "subscriptions";
	page_render(p, 200, db_val(res, 0, SUB_PLAN_NAME), "subscription", d, false);
	PQclear(res);
}

/* ---- change plan ---- */

static const struct form_field plan_fields[] = {
	{ .name = "plan", .label = "Choose your new plan", .kind = FORM_RADIOS,
	  .required = true, .max_len = 64, .missing = "Select the plan you want to change to" },
	{ .name = NULL }
};

#define PLAN_CHOICES_MAX	PORTAL_MAX_PLANS

struct plan_choices {
	struct form_option	opts[PLAN_CHOICES_MAX];
	struct plan		plans[PLAN_CHOICES_MAX];
	int			n;
};

/* The plans the settings allow, other than the current one, in the same currency. */
static void
plan_choices(struct page *p, PGresult *res, struct plan_choices *c)
{
	c->n = 0;
	for (int i = 0; i < p->set.n_change_plan_plans && c->n < PLAN_CHOICES_MAX; i++) {
		struct plan *pl = &c->plans[c->n];
		struct derr e;

		if (plans_load(&p->d, p->set.change_plan_plans[i], "plan_id", true, pl, &e) != 0 ||
		    strcmp(pl->id, db_val(res, 0, SUB_PLAN)) == 0 ||
		    strcmp(pl->currency, db_val(res, 0, SUB_CURRENCY)) != 0)
			continue;
		c->opts[c->n].value = pl->id;
		c->opts[c->n].label = pl->name;
		c->opts[c->n].hint = view_price(p, pl->amount, pl->currency, pl->unit, pl->count);
		c->n++;
	}
}

static void
render_choose(struct page *p, PGresult *res, struct form *f, int status)
{
	cJSON *d = cJSON_CreateObject();
	char err[128];

	if (form_view(f, d, err, sizeof(err)) != 0) {
		cJSON_Delete(d);
		page_message(p, 500, "Something went wrong", "Please try again.", NULL, NULL);
		return;
	}
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	cJSON_AddStringToObject(d, "price", view_price(p, db_ll(res, 0, SUB_AMOUNT, 0),
	    db_val(res, 0, SUB_CURRENCY), db_val(res, 0, SUB_UNIT),
	    (int)db_ll(res, 0, SUB_COUNT, 1)));
	cJSON_AddStringToObject(d, "action", sub_url(p, res, "/change_plan/review"));
	cJSON_AddStringToObject(d, "cancel", sub_url(p, res, ""));
	cJSON_AddBoolToObject(d, "at_end", p->set.change_plan_timing == PORTAL_CHANGE_END_OF_TERM);
	cJSON_AddStringToObject(d, "term_end", view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
	p->nav = "subscriptions";
	page_render(p, status, "Change plan", "change_plan", d, f->n_errors > 0);
}

void
page_change_choose(struct page *p)
{
	PGresult *res = sub_row(p);
	struct plan_choices c;
	struct form f;

	if (res == NULL)
		return;
	if (!can_change(p, row_status(res))) {
		not_available(p, res, "Changing the plan");
		PQclear(res);
		return;
	}
	plan_choices(p, res, &c);
	if (c.n == 0) {
		page_message(p, 200, "No other plans", "There is no other plan you can change to "
		    "right now.", sub_url(p, res, ""), "Back to the subscription");
		PQclear(res);
		return;
	}
	form_init(&f, plan_fields);
	form_options(&f, "plan", c.opts, c.n);
	render_choose(p, res, &f, 200);
	PQclear(res);
}

static void
write_line(struct page *p, cJSON *lines, const char *desc, long long amount,
    const char *currency, long long start, long long end)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "description", desc);
	cJSON_AddStringToObject(o, "amount", view_money(p, amount, currency));
	if (start >= 0 && end > start) {
		char period[160];

		snprintf(period, sizeof(period), "%s to %s", view_date(p, start), view_date(p, end));
		cJSON_AddStringToObject(o, "period", period);
	}
	cJSON_AddItemToArray(lines, o);
}

/* The tax an invoice carries, as the invoice and its PDF show it: exclusive rates added
 * to the subtotal, inclusive ones named inside it, the reverse charge's 0%; then the total.
 * Nothing when the invoice carries no tax. */
static void
add_taxes(struct page *p, cJSON *d, const struct sub_preview_tax *tx, int n,
    const char *treatment, long long total, const char *cur)
{
	bool reverse = strcmp(treatment, "reverse_charge") == 0;
	cJSON *taxes;
	char pct[24], label[120];

	if (n == 0 && !reverse)
		return;
	taxes = cJSON_AddArrayToObject(d, "taxes");
	for (int i = 0; i < n; i++) {
		cJSON *t = cJSON_CreateObject();

		taxes_format_percentage(tx[i].ppm, pct);
		snprintf(label, sizeof(label), "%s%s (%s%%)", tx[i].inclusive ? "Includes " : "",
		    tx[i].name, pct);
		cJSON_AddStringToObject(t, "label", label);
		cJSON_AddStringToObject(t, "amount", view_money(p, tx[i].amount, cur));
		cJSON_AddItemToArray(taxes, t);
	}
	if (reverse) {
		cJSON *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "label", "VAT 0% (reverse charge)");
		cJSON_AddStringToObject(t, "amount", view_money(p, 0, cur));
		cJSON_AddItemToArray(taxes, t);
	}
	cJSON_AddStringToObject(d, "total", view_money(p, total, cur));
}

/* The review: exactly what subs_preview says the change bills. */
static void
render_change_review(struct page *p, PGresult *res, const struct plan *np,
    const struct sub_preview *pv, int status, const char *notice)
{
	cJSON *d = cJSON_CreateObject(), *lines = cJSON_AddArrayToObject(d, "lines");
	const char *cur = pv->currency;
	char a[2][24];

	if (notice != NULL)
		cJSON_AddStringToObject(d, "warning", notice);
	cJSON_AddStringToObject(d, "from_plan", db_val(res, 0, SUB_PLAN_NAME));
	cJSON_AddStringToObject(d, "from_price", view_price(p, db_ll(res, 0, SUB_AMOUNT, 0),
	    db_val(res, 0, SUB_CURRENCY), db_val(res, 0, SUB_UNIT),
	    (int)db_ll(res, 0, SUB_COUNT, 1)));
	cJSON_AddStringToObject(d, "to_plan", np->name);
	cJSON_AddStringToObject(d, "to_price", view_price(p, np->amount, np->currency, np->unit,
	    np->count));
	cJSON_AddBoolToObject(d, "at_end", pv->end_of_term);
	cJSON_AddStringToObject(d, "effective", pv->end_of_term ? view_date(p, pv->proration_date) :
	    "Today");
	for (int i = 0; i < pv->draft.n; i++)
		write_line(p, lines, pv->draft.lines[i].description, pv->draft.lines[i].amount, cur,
		    pv->draft.lines[i].start, pv->draft.lines[i].end);
	cJSON_AddBoolToObject(d, "has_lines", pv->draft.n > 0);
	cJSON_AddStringToObject(d, "subtotal", view_money(p, inv_draft_total(&pv->draft), cur));
	/* Unused time is credited to the balance first; the invoice then takes credit from
	 * the balance: two steps, shown as such so the sums add up. */
	if (pv->credit_granted > 0) {
		cJSON *u = cJSON_AddObjectToObject(d, "unused");
		char period[160];

		cJSON_AddStringToObject(u, "description", pv->credit_description);
		cJSON_AddStringToObject(u, "amount", view_money(p, pv->credit_granted, cur));
		snprintf(period, sizeof(period), "%s to %s", view_date(p, pv->credit_start),
		    view_date(p, pv->credit_end));
		cJSON_AddStringToObject(u, "period", period);
	}
	add_taxes(p, d, pv->taxes, pv->ntaxes, pv->tax_treatment, pv->total, cur);
	if (pv->credit_applied > 0)
		cJSON_AddStringToObject(d, "credit_applied", view_money(p, -pv->credit_applied, cur));
	cJSON_AddStringToObject(d, "due_now", view_money(p, pv->amount_due, cur));
	if (pv->next_at >= 0) {
		cJSON *n = cJSON_AddObjectToObject(d, "next");

		cJSON_AddStringToObject(n, "date", view_date(p, pv->next_at));
		cJSON_AddStringToObject(n, "amount", view_money(p, pv->next_amount, cur));
	}
	cJSON_AddStringToObject(d, "action", sub_url(p, res, "/change_plan"));
	cJSON_AddStringToObject(d, "back", sub_url(p, res, "/change_plan"));
	cJSON_AddStringToObject(d, "cancel", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	cJSON_AddStringToObject(d, "plan_id", np->id);
	cJSON_AddStringToObject(d, "when", pv->end_of_term ? "end_of_term" : "now");
	cJSON_AddStringToObject(d, "proration_date", buf_lltoa(pv->proration_date, a[0]));
	cJSON_AddStringToObject(d, "expect_due", buf_lltoa(pv->amount_due, a[1]));
	p->nav = "subscriptions";
	page_render(p, status, "Review your plan change", "change_review", d, false);
}

/* Previews the change to np: now where the settings allow it (a downgrade the settings keep
 * for the end of the term is refused by the domain with param "when", and so waits), else at
 * the end of the term. */
static int
preview_change(struct page *p, const char *sub_id, const char *plan_id, const char *when,
    struct sub_preview *pv, struct derr *e)
{
	struct sub_change_req r = { plan_id, false, -1, -1 };

	if (when != NULL) {
		r.end_of_term = strcmp(when, "end_of_term") == 0;
		return subs_preview(&p->d, sub_id, &r, &p->pol.sub, pv, e);
	}
	r.end_of_term = !p->pol.sub.change_now_allowed;
	if (subs_preview(&p->d, sub_id, &r, &p->pol.sub, pv, e) == 0)
		return 0;
	if (r.end_of_term || e->kind != DERR_FORBIDDEN || strcmp(e->param, "when") != 0)
		return -1;
	r.end_of_term = true;
	return subs_preview(&p->d, sub_id, &r, &p->pol.sub, pv, e);
}

void
page_change_review(struct page *p)
{
	PGresult *res = sub_row(p);
	struct plan_choices c;
	struct form f;
	struct sub_preview pv;
	struct derr e;
	int k;

	if (res == NULL)
		return;
	plan_choices(p, res, &c);
	form_init(&f, plan_fields);
	form_options(&f, "plan", c.opts, c.n);
	if (form_read(&f, &p->c->req->args, &p->c->req->arena) > 0) {
		render_choose(p, res, &f, 422);
		PQclear(res);
		return;
	}
	for (k = 0; k < c.n && strcmp(c.plans[k].id, form_get(&f, "plan")) != 0; k++)
		;
	if (preview_change(p, db_val(res, 0, SUB_ID), c.plans[k].id, NULL, &pv, &e) != 0)
		refused(p, res, &e);
	else
		render_change_review(p, res, &c.plans[k], &pv, 200, NULL);
	PQclear(res);
}

static long long
num_field(struct page *p, const char *name)
{
	const char *v = http_kvs_get(&p->c->req->form, name);
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return -1;
	n = strtoll(v, &end, 10);
	return *end == '\0' && n >= 0 ? n : -2;
}

/* The confirm bills what the review showed (expect_due), or shows a fresh review. */
void
page_change_confirm(struct page *p)
{
	PGresult *res = sub_row(p);
	const char *plan = http_kvs_get(&p->c->req->form, "plan_id");
	const char *when = http_kvs_get(&p->c->req->form, "when");
	struct sub_change_req r;
	struct sub_preview pv;
	struct plan np;
	struct derr e;

	if (res == NULL)
		return;
	if (plan == NULL || check_id(plan) != NULL || when == NULL ||
	    (strcmp(when, "now") != 0 && strcmp(when, "end_of_term") != 0) ||
	    num_field(p, "proration_date") == -2 || num_field(p, "expect_due") == -2) {
		page_message(p, 400, "Something was wrong with the form", "The form could not be "
		    "read. Nothing was changed.", sub_url(p, res, "/change_plan"),
		    "Start the change again");
		PQclear(res);
		return;
	}
	r.plan_id = plan;
	r.end_of_term = strcmp(when, "end_of_term") == 0;
	r.proration_date = num_field(p, "proration_date");
	r.expect_due = num_field(p, "expect_due");
	if (subs_change(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &e) == 0) {
		redirect_sub(p, db_val(res, 0, SUB_ID), r.end_of_term ? "?done=scheduled" :
		    "?done=changed");
		PQclear(res);
		return;
	}
	if (e.kind == DERR_CONFLICT && strcmp(e.code, "preview_changed") == 0 &&
	    plans_load(&p->d, plan, "plan_id", false, &np, &e) == 0) {
		r.proration_date = r.expect_due = -1;
		if (subs_preview(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &pv, &e) == 0) {
			render_change_review(p, res, &np, &pv, 409, "The amount changed since you "
			    "reviewed it. Check the new amount below and confirm again.");
			PQclear(res);
			return;
		}
	}
	refused(p, res, &e);
	PQclear(res);
}

/* ---- cancel ---- */

static const struct form_field cancel_fields[] = {
	{ .name = "when", .label = "When should your subscription end?", .kind = FORM_RADIOS,
	  .required = true, .max_len = 16, .missing = "Select when your subscription should end" },
	{ .name = "reason", .label = "Why are you cancelling?", .kind = FORM_RADIOS,
	  .max_len = 40, .missing = "Select why you are cancelling" },
	{ .name = "comment", .label = "Anything else you would like to tell us?",
	  .noun = "Your comment", .kind = FORM_TEXTAREA, .max_len = 500, .rows = 4,
	  .hint = "We read every comment. 500 characters at most." },
	{ .name = NULL }
};

struct cancel_form {
	struct form		f;
	struct form_option	when[2];
	struct form_option	reasons[PORTAL_MAX_REASONS];
};

static void
cancel_form(struct page *p, PGresult *res, struct cancel_form *cf)
{
	enum sub_status st = row_status(res);
	int n = 0;
	char *hint = arena_alloc(&p->c->req->arena, 200);

	form_init(&cf->f, cancel_fields);
	snprintf(hint, 200, "On %s. You keep access until then.",
	    view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
	if (subs_op_allowed("cancel", "end_of_term", st))
		cf->when[n++] = (struct form_option){ "end_of_term", "At the end of the current "
		    "term", hint };
	if (p->pol.sub.cancel_now_allowed && subs_op_allowed("cancel", "now", st))
		cf->when[n++] = (struct form_option){ "now", "Immediately", "Access ends now. "
		    "Unused time you paid for goes to your account as credit." };
	form_options(&cf->f, "when", cf->when, n);
	/* One choice is no choice: not a field, the page says when instead. */
	if (n == 1)
		form_fix(&cf->f, "when", cf->when[0].value, NULL);
	if (p->set.cancel_reason == PORTAL_REASON_OFF || p->set.n_cancel_reasons == 0)
		form_hide(&cf->f, "reason");
	else {
		for (int i = 0; i < p->set.n_cancel_reasons; i++)
			cf->reasons[i] = (struct form_option){ p->set.cancel_reasons[i].code,
			    p->set.cancel_reasons[i].label, NULL };
		form_options(&cf->f, "reason", cf->reasons, p->set.n_cancel_reasons);
		form_require(&cf->f, "reason", p->set.cancel_reason == PORTAL_REASON_REQUIRED);
	}
	if (!p->set.cancel_comment)
		form_hide(&cf->f, "comment");
}

/* A fixed field's value (the one choice), else the answer. */
static const char *
answer(struct form *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0 && f->fixed[i] == NULL &&
		    !f->hidden[i])
			return form_get(f, name);
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0 && f->hidden[i] && f->value[i] != NULL)
			return f->value[i];
	return "";
}

static void
render_cancel(struct page *p, PGresult *res, struct cancel_form *cf, int status)
{
	cJSON *d = cJSON_CreateObject();
	char err[128];

	if (form_view(&cf->f, d, err, sizeof(err)) != 0) {
		cJSON_Delete(d);
		page_message(p, 500, "Something went wrong", "Please try again.", NULL, NULL);
		return;
	}
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	if (form_hidden(&cf->f, "when")) {
		char ends[96];

		snprintf(ends, sizeof(ends), "%s%s", strcmp(answer(&cf->f, "when"), "now") == 0 ?
		    "today" : "on ", strcmp(answer(&cf->f, "when"), "now") == 0 ? "" :
		    view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
		cJSON_AddStringToObject(d, "ends", ends);
	}
	cJSON_AddStringToObject(d, "action", sub_url(p, res, "/cancel/review"));
	cJSON_AddStringToObject(d, "cancel", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	p->nav = "subscriptions";
	page_render(p, status, "Cancel your subscription", "cancel", d, cf->f.n_errors > 0);
}

void
page_cancel_choose(struct page *p)
{
	PGresult *res = sub_row(p);
	struct cancel_form cf;

	if (res == NULL)
		return;
	if (!can_cancel(p, row_status(res))) {
		not_available(p, res, "Cancelling");
		PQclear(res);
		return;
	}
	cancel_form(p, res, &cf);
	render_cancel(p, res, &cf, 200);
	PQclear(res);
}

/* The request as posted: a field the page does not offer (a setting turned it off) is
 * still passed on when posted, so the domain refuses it rather than the page ignoring it. */
static void
cancel_req(struct page *p, struct cancel_form *cf, struct sub_cancel_req *r)
{
	const char *reason = answer(&cf->f, "reason"), *comment = answer(&cf->f, "comment");
	const char *when = answer(&cf->f, "when");

	if (form_hidden(&cf->f, "when") && http_kvs_get(&p->c->req->form, "when") != NULL)
		when = http_kvs_get(&p->c->req->form, "when");
	if (form_hidden(&cf->f, "reason") && http_kvs_get(&p->c->req->form, "reason") != NULL)
		reason = http_kvs_get(&p->c->req->form, "reason");
	if (form_hidden(&cf->f, "comment") && http_kvs_get(&p->c->req->form, "comment") != NULL)
		comment = http_kvs_get(&p->c->req->form, "comment");
	memset(r, 0, sizeof(*r));
	r->now = strcmp(when, "now") == 0;
	r->reason = *reason ? reason : NULL;
	r->comment = *comment ? comment : NULL;
}

void
page_cancel_review(struct page *p)
{
	PGresult *res = sub_row(p);
	struct cancel_form cf;
	struct sub_cancel_req r;
	struct sub_effect x;
	struct derr e;
	cJSON *d, *voided;

	if (res == NULL)
		return;
	cancel_form(p, res, &cf);
	if (form_read(&cf.f, &p->c->req->form, &p->c->req->arena) > 0) {
		render_cancel(p, res, &cf, 422);
		PQclear(res);
		return;
	}
	cancel_req(p, &cf, &r);
	if (subs_cancel_preview(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &x, &e) != 0) {
		if (e.kind == DERR_INVALID && strcmp(e.param, "reason") == 0 &&
		    !form_hidden(&cf.f, "reason")) {
			form_error(&cf.f, "reason", e.message);
			render_cancel(p, res, &cf, 422);
		} else
			refused(p, res, &e);
		PQclear(res);
		return;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	cJSON_AddBoolToObject(d, "now", r.now);
	cJSON_AddStringToObject(d, "ends", r.now ? view_datetime(p, x.at) : view_date(p, x.at));
	if (x.credit_granted > 0) {
		cJSON_AddStringToObject(d, "credit", view_money(p, x.credit_granted, x.currency));
		cJSON_AddStringToObject(d, "credit_period", view_date(p, x.credit_start));
	}
	voided = cJSON_AddArrayToObject(d, "voided");
	for (int i = 0; i < x.n_voided; i++) {
		cJSON *o = cJSON_CreateObject();
		char num[24];

		cJSON_AddStringToObject(o, "number", buf_lltoa(x.voided[i].number, num));
		cJSON_AddStringToObject(o, "amount", view_money(p, x.voided[i].amount_due,
		    x.currency));
		cJSON_AddItemToArray(voided, o);
	}
	cJSON_AddBoolToObject(d, "has_voided", x.n_voided > 0);
	if (r.reason != NULL) {
		const char *label = portal_settings_reason(&p->set, r.reason);

		cJSON_AddStringToObject(d, "reason_label", label ? label : r.reason);
		cJSON_AddStringToObject(d, "reason", r.reason);
	}
	if (r.comment != NULL)
		cJSON_AddStringToObject(d, "comment", r.comment);
	cJSON_AddStringToObject(d, "when", r.now ? "now" : "end_of_term");
	cJSON_AddStringToObject(d, "action", sub_url(p, res, "/cancel"));
	cJSON_AddStringToObject(d, "back", sub_url(p, res, "/cancel"));
	cJSON_AddStringToObject(d, "keep", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "subscriptions";
	page_render(p, 200, "Review your cancellation", "cancel_review", d, false);
	PQclear(res);
}

void
page_cancel_confirm(struct page *p)
{
	PGresult *res = sub_row(p);
	const char *when = http_kvs_get(&p->c->req->form, "when");
	const char *reason = http_kvs_get(&p->c->req->form, "reason");
	const char *comment = http_kvs_get(&p->c->req->form, "comment");
	struct sub_cancel_req r;
	struct derr e;

	if (res == NULL)
		return;
	if (when == NULL || (strcmp(when, "now") != 0 && strcmp(when, "end_of_term") != 0) ||
	    (comment != NULL && strlen(comment) > 500) || (reason != NULL && strlen(reason) > 40)) {
		page_message(p, 400, "Something was wrong with the form", "The form could not be "
		    "read. Nothing was changed.", sub_url(p, res, "/cancel"), "Start again");
		PQclear(res);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.now = strcmp(when, "now") == 0;
	r.reason = reason && *reason ? reason : NULL;
	r.comment = comment && *comment ? comment : NULL;
	if (subs_cancel(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &e) != 0)
		refused(p, res, &e);
	else
		redirect_sub(p, db_val(res, 0, SUB_ID), "/cancelled");
	PQclear(res);
}

/* The confirmation: what was done, when, and its reference (the event the merchant's
 * systems received), and the way back. */
void
page_cancelled(struct page *p)
{
	PGresult *res = sub_row(p), *ev;
	enum sub_status st;
	cJSON *d;

	if (res == NULL)
		return;
	st = row_status(res);
	if (st != SS_CANCELLED && st != SS_NON_RENEWING) {
		redirect_sub(p, db_val(res, 0, SUB_ID), "");
		PQclear(res);
		return;
	}
	ev = db_exec(p->c->db, STMT_EVENT_LATEST_OF, (const char *[]){ p->set.site_id,
	    st == SS_CANCELLED ? "subscription.cancelled" : "subscription.cancellation_scheduled",
	    db_val(res, 0, SUB_ID) });
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	cJSON_AddBoolToObject(d, "now", st == SS_CANCELLED);
	cJSON_AddStringToObject(d, "ends", view_date(p, st == SS_CANCELLED ?
	    db_ll(res, 0, SUB_CANCELLED_AT, 0) : db_ll(res, 0, SUB_TERM_END, 0)));
	if (ev != NULL && PQntuples(ev) == 1) {
		cJSON_AddStringToObject(d, "reference", db_val(ev, 0, 0));
		cJSON_AddStringToObject(d, "at", view_datetime(p, db_ll(ev, 0, 1, 0)));
	}
	PQclear(ev);
	if (st == SS_NON_RENEWING && p->pol.sub.reactivate_allowed)
		cJSON_AddStringToObject(d, "keep", sub_url(p, res, "/keep"));
	cJSON_AddStringToObject(d, "sub_url", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	view_flow_done(p, d);
	p->nav = "subscriptions";
	page_render(p, 200, "Subscription cancelled", "cancelled", d, false);
	PQclear(res);
}

/* ---- keep, reactivate, pause, resume ---- */

/* "Keep my subscription": a scheduled cancellation undone; nothing is billed. */
void
page_keep(struct page *p)
{
	PGresult *res = sub_row(p);
	struct derr e;

	if (res == NULL)
		return;
	if (row_status(res) != SS_NON_RENEWING)
		page_message(p, 409, "This could not be done", "This subscription is not set to "
		    "end.", sub_url(p, res, ""), "Back to the subscription");
	else if (subs_reactivate(&p->d, db_val(res, 0, SUB_ID), NULL, &p->pol.sub, &e) != 0)
		refused(p, res, &e);
	else
		redirect_sub(p, db_val(res, 0, SUB_ID), "?done=kept");
	PQclear(res);
}

/* A review of what an operation bills and credits (the effect the domain previewed). */
static void
render_effect(struct page *p, PGresult *res, const struct sub_effect *x, const char *title,
    const char *heading, const char *lead, const char *button, const char *tail, cJSON *d,
    int status)
{
	cJSON_AddStringToObject(d, "heading", heading);
	cJSON_AddStringToObject(d, "lead", lead);
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	if (x->bills) {
		cJSON_AddStringToObject(d, "term", view_money(p, x->subtotal, x->currency));
		add_taxes(p, d, x->taxes, x->ntaxes, x->tax_treatment, x->invoice_total,
		    x->currency);
		if (x->credit_applied > 0)
			cJSON_AddStringToObject(d, "credit_applied", view_money(p, -x->credit_applied,
			    x->currency));
		cJSON_AddStringToObject(d, "due_now", view_money(p, x->amount_due, x->currency));
	} else
		cJSON_AddStringToObject(d, "due_now", view_money(p, 0, x->currency));
	if (x->credit_granted > 0)
		cJSON_AddStringToObject(d, "credit", view_money(p, x->credit_granted, x->currency));
	if (x->next_at >= 0) {
		cJSON *n = cJSON_AddObjectToObject(d, "next");

		cJSON_AddStringToObject(n, "date", view_date(p, x->next_at));
		cJSON_AddStringToObject(n, "amount", view_money(p, x->next_amount, x->currency));
	}
	cJSON_AddStringToObject(d, "button", button);
	cJSON_AddStringToObject(d, "action", sub_url(p, res, tail));
	cJSON_AddStringToObject(d, "cancel", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "subscriptions";
	page_render(p, status, title, "effect_review", d, false);
}

/* A review the confirm checks against: the amount due now goes with the form (expect_due),
 * and a different amount at confirm shows the review again (409) with warning. */
static cJSON *
confirmable(const struct sub_effect *x, const char *warning)
{
	cJSON *d = cJSON_CreateObject();
	char due[24];

	if (warning != NULL)
		cJSON_AddStringToObject(d, "warning", warning);
	cJSON_AddStringToObject(d, "expect_due", buf_lltoa(x->bills ? x->amount_due : 0, due));
	return d;
}

#define REVIEW_AGAIN	"The amount changed since you reviewed it. Check the new amount " \
			"below and confirm again."

static void
show_reactivate(struct page *p, PGresult *res, int status, const char *warning)
{
	struct sub_effect x;
	struct derr e;
	char lead[300];

	if (subs_reactivate_preview(&p->d, db_val(res, 0, SUB_ID), NULL, &p->pol.sub, &x,
	    &e) != 0) {
		refused(p, res, &e);
		return;
	}
	if (x.bills)
		snprintf(lead, sizeof(lead), "Your subscription starts again today with a new "
		    "term, billed now.");
	else
		snprintf(lead, sizeof(lead), "Your subscription continues in the term you already "
		    "paid for, until %s. Nothing is billed now.", view_date(p, x.term_end_after));
	render_effect(p, res, &x, "Reactivate your subscription", "Reactivate your subscription",
	    lead, "Reactivate subscription", "/reactivate", confirmable(&x, warning), status);
}

void
page_reactivate_review(struct page *p)
{
	PGresult *res = sub_row(p);

	if (res == NULL)
		return;
	if (row_status(res) != SS_CANCELLED || !p->pol.sub.reactivate_allowed)
		not_available(p, res, "Reactivating");
	else
		show_reactivate(p, res, 200, NULL);
	PQclear(res);
}

/* The form's expect_due: -1 when absent (a form from before reviews carried it), -2 when
 * it is not an amount (the 400 page is rendered). */
static long long
expect_field(struct page *p, PGresult *res)
{
	long long v = num_field(p, "expect_due");

	if (v == -2)
		page_message(p, 400, "Something was wrong with the form", "The form could not be "
		    "read. Nothing was changed.", sub_url(p, res, ""), "Back to the subscription");
	return v;
}

static bool
changed_since_review(const struct derr *e)
{
	return e->kind == DERR_CONFLICT && strcmp(e->code, "preview_changed") == 0;
}

void
page_reactivate_confirm(struct page *p)
{
	PGresult *res = sub_row(p);
	long long expect;
	struct derr e;

	if (res == NULL)
		return;
	if ((expect = expect_field(p, res)) == -2) {
		PQclear(res);
		return;
	}
	if (subs_reactivate_expect(&p->d, db_val(res, 0, SUB_ID), NULL, expect,
	    &p->pol.sub, &e) == 0)
		redirect_sub(p, db_val(res, 0, SUB_ID), "?done=reactivated");
	else if (changed_since_review(&e))
		show_reactivate(p, res, 409, REVIEW_AGAIN);
	else
		refused(p, res, &e);
	PQclear(res);
}

static const struct form_field pause_fields[] = {
	{ .name = "when", .label = "When should the pause start?", .kind = FORM_RADIOS,
	  .required = true, .max_len = 16, .missing = "Select when the pause should start" },
	{ .name = "resume", .label = "Resume on", .kind = FORM_DATE, .required = true,
	  .max_len = 10, .width = "w-10", .missing = "Enter the date your subscription resumes" },
	{ .name = NULL }
};

struct pause_form {
	struct form		f;
	struct form_option	when[2];
};

static void
pause_form(struct page *p, PGresult *res, struct pause_form *pf)
{
	char *end_hint = arena_alloc(&p->c->req->arena, 160);
	const char *now_hint = "Billing stops today. Unused time you paid for goes to your "
	    "account as credit.";

	form_init(&pf->f, pause_fields);
	snprintf(end_hint, 160, "On %s, when the term you paid for ends.",
	    view_date(p, db_ll(res, 0, SUB_TERM_END, 0)));
	pf->when[0] = (struct form_option){ "now", "Today", now_hint };
	pf->when[1] = (struct form_option){ "end_of_term", "At the end of the current term",
	    end_hint };
	form_options(&pf->f, "when", pf->when, 2);
}

static void
render_pause(struct page *p, PGresult *res, struct pause_form *pf, int status)
{
	cJSON *d = cJSON_CreateObject();
	char err[128], hint[160];

	if (form_view(&pf->f, d, err, sizeof(err)) != 0) {
		cJSON_Delete(d);
		page_message(p, 500, "Something went wrong", "Please try again.", NULL, NULL);
		return;
	}
	snprintf(hint, sizeof(hint), "A pause lasts at most %d days.", p->set.pause_max_days);
	cJSON_AddStringToObject(d, "limit", hint);
	cJSON_AddStringToObject(d, "plan", db_val(res, 0, SUB_PLAN_NAME));
	cJSON_AddStringToObject(d, "action", sub_url(p, res, "/pause/review"));
	cJSON_AddStringToObject(d, "cancel", sub_url(p, res, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	p->nav = "subscriptions";
	page_render(p, status, "Pause your subscription", "pause", d, pf->f.n_errors > 0);
}

static bool
can_pause(struct page *p, PGresult *res)
{
	return p->pol.sub.pause_allowed && subs_op_allowed("pause", NULL, row_status(res)) &&
	    db_val(res, 0, SUB_PAUSE_AT) == NULL;
}

void
page_pause_choose(struct page *p)
{
	PGresult *res = sub_row(p);
	struct pause_form pf;

	if (res == NULL)
		return;
	if (!can_pause(p, res)) {
		not_available(p, res, "Pausing");
		PQclear(res);
		return;
	}
	pause_form(p, res, &pf);
	render_pause(p, res, &pf, 200);
	PQclear(res);
}

/* The pause as posted: when, and the resume date at the start of that day in the site's
 * time zone. -1 and a field error when the date is not one. */
static int
pause_req(struct page *p, PGresult *res, struct pause_form *pf, struct sub_pause_req *r)
{
	int y, m, dd;
	long long start;

	r->end_of_term = strcmp(form_get(&pf->f, "when"), "end_of_term") == 0;
	if (tz_parse_date(form_get(&pf->f, "resume"), &y, &m, &dd) != 0) {
		form_error(&pf->f, "resume", "Enter a real date, like 2027-03-27");
		return -1;
	}
	r->resume_at = tz_mktime(y, m, dd, 0, 0, p->set.time_zone);
	start = r->end_of_term ? db_ll(res, 0, SUB_TERM_END, 0) : p->c->now;
	if (r->resume_at <= start) {
		form_error(&pf->f, "resume", "The resume date must be after the pause starts");
		return -1;
	}
	return 0;
}

void
page_pause_review(struct page *p)
{
	PGresult *res = sub_row(p);
	struct pause_form pf;
	struct sub_pause_req r;
	struct sub_effect x;
	struct derr e;
	cJSON *d;
	char lead[400];
	const char *y = NULL;

	if (res == NULL)
		return;
	pause_form(p, res, &pf);
	if (form_read(&pf.f, &p->c->req->form, &p->c->req->arena) > 0 ||
	    pause_req(p, res, &pf, &r) != 0) {
		render_pause(p, res, &pf, 422);
		PQclear(res);
		return;
	}
	if (subs_pause_preview(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &x, &e) != 0) {
		if (e.kind == DERR_INVALID && strcmp(e.param, "resume_at") == 0) {
			form_error(&pf.f, "resume", e.message);
			render_pause(p, res, &pf, 422);
		} else
			refused(p, res, &e);
		PQclear(res);
		return;
	}
	y = view_date(p, r.resume_at);
	snprintf(lead, sizeof(lead), "Your subscription pauses %s%s and resumes on %s. You are "
	    "not billed while it is paused; when it resumes, a new term starts and is billed.",
	    r.end_of_term ? "on " : "today", r.end_of_term ? view_date(p, x.at) : "", y);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "when", r.end_of_term ? "end_of_term" : "now");
	cJSON_AddStringToObject(d, "resume", form_get(&pf.f, "resume"));
	render_effect(p, res, &x, "Review your pause", "Review your pause", lead,
	    "Pause subscription", "/pause", d, 200);
	PQclear(res);
}

void
page_pause_confirm(struct page *p)
{
	PGresult *res = sub_row(p);
	struct pause_form pf;
	struct sub_pause_req r;
	struct derr e;

	if (res == NULL)
		return;
	pause_form(p, res, &pf);
	if (form_read(&pf.f, &p->c->req->form, &p->c->req->arena) > 0 ||
	    pause_req(p, res, &pf, &r) != 0) {
		render_pause(p, res, &pf, 422);
		PQclear(res);
		return;
	}
	if (subs_pause(&p->d, db_val(res, 0, SUB_ID), &r, &p->pol.sub, &e) != 0)
		refused(p, res, &e);
	else
		redirect_sub(p, db_val(res, 0, SUB_ID), r.end_of_term ? "?done=pause_scheduled" :
		    "?done=paused");
	PQclear(res);
}

static void
show_resume(struct page *p, PGresult *res, int status, const char *warning)
{
	struct sub_effect x;
	struct derr e;
	char lead[300];

	if (subs_resume_preview(&p->d, db_val(res, 0, SUB_ID), &p->pol.sub, &x, &e) != 0) {
		refused(p, res, &e);
		return;
	}
	if (row_status(res) == SS_PAUSED)
		snprintf(lead, sizeof(lead), "Your subscription starts again today with a new "
		    "term, billed now.");
	else
		snprintf(lead, sizeof(lead), "The pause planned for %s is called off. Your "
		    "subscription keeps renewing as before.", view_date(p, db_ll(res, 0,
		    SUB_PAUSE_AT, 0)));
	render_effect(p, res, &x, "Resume your subscription", "Resume your subscription", lead,
	    "Resume subscription", "/resume", confirmable(&x, warning), status);
}

void
page_resume_review(struct page *p)
{
	PGresult *res = sub_row(p);

	if (res == NULL)
		return;
	if (!p->pol.sub.pause_allowed || (row_status(res) != SS_PAUSED &&
	    db_val(res, 0, SUB_PAUSE_AT) == NULL))
		not_available(p, res, "Resuming");
	else
		show_resume(p, res, 200, NULL);
	PQclear(res);
}

void
page_resume_confirm(struct page *p)
{
	PGresult *res = sub_row(p);
	long long expect;
	struct derr e;

	if (res == NULL)
		return;
	if ((expect = expect_field(p, res)) == -2) {
		PQclear(res);
		return;
	}
	if (subs_resume_expect(&p->d, db_val(res, 0, SUB_ID), expect, &p->pol.sub,
	    &e) == 0)
		redirect_sub(p, db_val(res, 0, SUB_ID), "?done=resumed");
	else if (changed_since_review(&e))
		show_resume(p, res, 409, REVIEW_AGAIN);
	else
		refused(p, res, &e);
	PQclear(res);
}
