/* view.c: billing things in words for the portal's pages (see view.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/currency.h"
#include "core/json.h"
#include "core/tz.h"
#include "portal/view.h"

static const char *
dup(struct page *p, const char *s)
{
	return arena_strndup(&p->c->req->arena, s, strlen(s));
}

const char *
view_money(struct page *p, long long minor, const char *currency)
{
	char out[CURRENCY_FMT_MAX + 8];

	if (currency == NULL || currency_format(minor, currency, out, sizeof(out)) != 0)
		snprintf(out, sizeof(out), "%lld %s", minor, currency ? currency : "");
	return dup(p, out);
}

const char *
view_date(struct page *p, long long ts)
{
	char out[64];

	tz_format(out, sizeof(out), "%-d %B %Y", ts, p->set.time_zone);
	return dup(p, out);
}

const char *
view_datetime(struct page *p, long long ts)
{
	char out[96];

	tz_format(out, sizeof(out), "%-d %B %Y at %H:%M %Z", ts, p->set.time_zone);
	return dup(p, out);
}

const char *
view_interval(struct page *p, const char *unit, int count)
{
	char out[48];

	if (count <= 1)
		snprintf(out, sizeof(out), "per %s", unit);
	else
		snprintf(out, sizeof(out), "every %d %ss", count, unit);
	return dup(p, out);
}

const char *
view_price(struct page *p, long long amount, const char *currency, const char *unit,
    int count)
{
	char out[128];

	snprintf(out, sizeof(out), "%s %s", view_money(p, amount, currency),
	    view_interval(p, unit, count));
	return dup(p, out);
}

const char *
view_brand(const char *brand)
{
	static const struct { const char *code, *name; } names[] = {
		{ "visa", "Visa" }, { "mastercard", "Mastercard" }, { "amex", "American Express" },
		{ "discover", "Discover" }, { "diners", "Diners Club" }, { "jcb", "JCB" },
		{ "unionpay", "UnionPay" },
	};

	for (size_t i = 0; brand != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].code, brand) == 0)
			return names[i].name;
	return "Card";
}

const char *
view_status(enum sub_status s)
{
	switch (s) {
	case SS_IN_TRIAL: return "Trial";
	case SS_ACTIVE: return "Active";
	case SS_NON_RENEWING: return "Cancels at end of term";
	case SS_PAST_DUE: return "Past due";
	case SS_PAUSED: return "Paused";
	case SS_CANCELLED: return "Cancelled";
	default: return "Unknown";
	}
}

/* The colour family of a status badge: good, info, warning, danger, neutral. */
static const char *
status_tone(enum sub_status s)
{
	switch (s) {
	case SS_ACTIVE: return "good";
	case SS_IN_TRIAL: return "info";
	case SS_NON_RENEWING: case SS_PAUSED: return "warning";
	case SS_PAST_DUE: return "danger";
	default: return "neutral";
	}
}

static void
add(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
}

void
view_sub(struct page *p, PGresult *res, int row, cJSON *into)
{
	enum sub_status st = subs_status_parse(db_val(res, row, SUB_STATUS));
	const char *cur = db_val(res, row, SUB_CURRENCY);
	long long term_end = db_ll(res, row, SUB_TERM_END, -1);
	long long trial_end = db_ll(res, row, SUB_TRIAL_END, -1);
	long long pause_at = db_ll(res, row, SUB_PAUSE_AT, -1);
	long long resume_at = db_ll(res, row, SUB_RESUME_AT, -1);
	long long at, amount;
	struct derr e;
	char line[320], url[160];
	bool trial_ends_term = trial_end >= 0 && trial_end == term_end;

	snprintf(url, sizeof(url), "/subscriptions/%s", db_val(res, row, SUB_ID));
	add(into, "id", db_val(res, row, SUB_ID));
	add(into, "url", page_url(p, url));
	add(into, "plan", db_val(res, row, SUB_PLAN_NAME));
	add(into, "price", view_price(p, db_ll(res, row, SUB_AMOUNT, 0), cur,
	    db_val(res, row, SUB_UNIT), (int)db_ll(res, row, SUB_COUNT, 1)));
	add(into, "status", view_status(st));
	add(into, "tone", status_tone(st));
	line[0] = '\0';
	switch (st) {
	case SS_IN_TRIAL:
		snprintf(line, sizeof(line), "Trial ends on %s", view_date(p, trial_end));
		break;
	case SS_ACTIVE:
		if (pause_at >= 0)
			snprintf(line, sizeof(line), "Pauses on %s", view_date(p, pause_at));
		else
			snprintf(line, sizeof(line), "Renews on %s", view_date(p, term_end));
		break;
	case SS_NON_RENEWING:
		snprintf(line, sizeof(line), "%s on %s", trial_ends_term ? "Trial ends, then cancels," :
		    "Cancels", view_date(p, term_end));
		break;
	case SS_PAST_DUE:
		snprintf(line, sizeof(line), "Payment failed: renews on %s once paid",
		    view_date(p, term_end));
		break;
	case SS_PAUSED:
		if (resume_at >= 0)
			snprintf(line, sizeof(line), "Paused until %s", view_date(p, resume_at));
		else
			snprintf(line, sizeof(line), "Paused until you resume it");
		break;
	case SS_CANCELLED:
		snprintf(line, sizeof(line), "Cancelled on %s",
		    view_date(p, db_ll(res, row, SUB_CANCELLED_AT, term_end)));
		break;
	default:
		break;
	}
	add(into, "when", line);
	/* A database error leaves the next charge out; the page's other reads report it. */
	if (subs_next_charge(&p->d, res, row, &at, &amount, &e) > 0) {
		cJSON *n = cJSON_AddObjectToObject(into, "next");

		add(n, "amount", view_money(p, amount, cur));
		add(n, "date", view_date(p, at));
		if (db_val(res, row, SUB_SCHEDULED_PLAN) != NULL)
			cJSON_AddBoolToObject(n, "new_plan", true);
	}
}

void
view_card(struct page *p, PGresult *res, int row, int col, cJSON *into)
{
	int month = (int)db_ll(res, row, col + PM_EXP_MONTH, 1);
	int year = (int)db_ll(res, row, col + PM_EXP_YEAR, 1970);
	time_t t = (time_t)p->c->now;
	struct tm tm;
	int now_m, left;
	char text[96], exp[24];

	gmtime_r(&t, &tm);
	now_m = (tm.tm_year + 1900) * 12 + tm.tm_mon;
	left = year * 12 + (month - 1) - now_m;	/* months until the expiry month */
	snprintf(text, sizeof(text), "%s ending %s", view_brand(db_val(res, row, col + PM_BRAND)),
	    db_val(res, row, col + PM_LAST4));
	snprintf(exp, sizeof(exp), "%02d/%d", month, year);
	add(into, "id", db_val(res, row, col + PM_ID));
	add(into, "name", text);
	add(into, "brand", view_brand(db_val(res, row, col + PM_BRAND)));
	add(into, "expires", exp);
	cJSON_AddBoolToObject(into, "is_default", strcmp(db_val(res, row, col + PM_DEFAULT),
	    "t") == 0);
	/* Good through the last day of the month it names (gateway_test_expired's rule). */
	cJSON_AddBoolToObject(into, "expired", left < 0);
	cJSON_AddBoolToObject(into, "expiring", left >= 0 && left <= 1);
}

void
view_invoice(struct page *p, PGresult *res, int row, cJSON *into)
{
	const char *status = db_val(res, row, INV_STATUS), *cur = db_val(res, row, INV_CURRENCY);
	const char *label = "Open", *tone = "warning";
	char url[160];

	if (strcmp(status, "paid") == 0)
		label = "Paid", tone = "good";
	else if (strcmp(status, "void") == 0)
		label = "Void", tone = "neutral";
	else if (strcmp(status, "uncollectible") == 0)
		label = "Uncollectible", tone = "danger";
	else if (db_ll(res, row, INV_ATTEMPTS, 0) > 0)
		label = "Overdue", tone = "danger";
	add(into, "id", db_val(res, row, INV_ID));
	/* The number as printed on the invoice (with the site's prefix). */
	add(into, "number", db_val(res, row, INV_NUMBER_TEXT) != NULL &&
	    *db_val(res, row, INV_NUMBER_TEXT) != '\0' ? db_val(res, row, INV_NUMBER_TEXT) :
	    db_val(res, row, INV_NUMBER));
	add(into, "date", view_date(p, db_ll(res, row, INV_CREATED, 0)));
	add(into, "amount", view_money(p, db_ll(res, row, INV_TOTAL, 0), cur));
	add(into, "status", label);
	add(into, "tone", tone);
	if (strcmp(status, "open") == 0) {
		add(into, "due", view_money(p, db_ll(res, row, INV_DUE, 0), cur));
		snprintf(url, sizeof(url), "/invoices/%s/pay", db_val(res, row, INV_ID));
		add(into, "pay_url", page_url(p, url));
	}
	/* Every issued invoice has its PDF (rendered by the job runner within seconds; the
	 * download page says so when it is not there yet), where invoice history is shown. */
	if (p->set.invoice_history) {
		snprintf(url, sizeof(url), "/invoices/%s/pdf", db_val(res, row, INV_ID));
		add(into, "pdf_url", page_url(p, url));
	}
}

void
view_needs_action(struct page *p, cJSON *list, cJSON *overdue)
{
	const cJSON *it;
	const char *only = overdue ? json_str(overdue, "invoice") : NULL;
	bool open = overdue != NULL;
	PGresult *res;
	char tail[160];

	cJSON_ArrayForEach(it, list)
		open = open || cJSON_GetObjectItem(it, "pay_url") != NULL;
	if (!open)
		return;
	res = db_exec(p->c->db, STMT_INV_NEEDS_ACTION, (const char *[]){ p->set.site_id,
	    p->customer_id });
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		const char *id = db_val(res, i, 0);
		cJSON *o;

		snprintf(tail, sizeof(tail), "/invoices/%s/complete", id);
		cJSON_ArrayForEach(o, list) {
			if (json_str(o, "id") == NULL || strcmp(json_str(o, "id"), id) != 0)
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(o, "pay_url");
			add(o, "complete_url", page_url(p, tail));
		}
		if (only != NULL && strcmp(only, id) == 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(overdue, "pay_url");
			add(overdue, "complete_url", page_url(p, tail));
		}
	}
	PQclear(res);
}

static const char *
outcome_words(const char *outcome)
{
	static const struct { const char *code, *words; } w[] = {
		{ "declined", "was declined by your bank" },
		{ "insufficient_funds", "was declined: insufficient funds" },
		{ "expired_card", "was declined: the card has expired" },
		{ "no_payment_method", "could not be taken: there is no card on file" },
		{ "authentication_required", "needs your bank's confirmation" },
		{ "processing_error", "could not be processed; try again later" },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(w[i].code, outcome) == 0)
			return w[i].words;
	return "did not go through";
}

void
view_attempts(struct page *p, const char *ids, cJSON *into)
{
	char list[8 * DOM_ID_MAX], *tok, *save = NULL;
	cJSON *out = cJSON_AddArrayToObject(into, "payments");
	bool ok = true;
	int n = 0;

	snprintf(list, sizeof(list), "%s", ids ? ids : "");
	for (tok = strtok_r(list, ",", &save); tok != NULL && n < 8;
	    tok = strtok_r(NULL, ",", &save), n++) {
		PGresult *a, *inv;
		const char *outcome, *tone = "danger";
		char text[400];
		cJSON *o;

		if (check_id(tok) != NULL)
			continue;
		a = db_exec(p->c->db, STMT_PAY_GET, (const char *[]){ p->set.site_id, tok });
		if (a == NULL || PQntuples(a) != 1) {
			PQclear(a);
			continue;
		}
		inv = db_exec(p->c->db, STMT_INV_GET, (const char *[]){ p->set.site_id,
		    db_val(a, 0, PAY_INVOICE) });
		if (inv == NULL || PQntuples(inv) != 1 ||
		    strcmp(db_val(inv, 0, INV_CUSTOMER), p->customer_id) != 0) {
			PQclear(inv);
			PQclear(a);
			continue;
		}
		outcome = db_val(a, 0, PAY_OUTCOME);
		if (strcmp(outcome, "succeeded") == 0) {
			snprintf(text, sizeof(text), "Invoice %s: %s paid.", db_val(inv, 0, INV_NUMBER),
			    view_money(p, db_ll(a, 0, PAY_AMOUNT, 0), db_val(inv, 0, INV_CURRENCY)));
			tone = "good";
		} else if (strcmp(outcome, "pending") == 0 || strcmp(outcome, "unknown") == 0) {
			snprintf(text, sizeof(text), "Invoice %s: the payment of %s is being processed. "
			    "This page shows the result once your bank answers.",
			    db_val(inv, 0, INV_NUMBER), view_money(p, db_ll(a, 0, PAY_AMOUNT, 0),
			    db_val(inv, 0, INV_CURRENCY)));
			tone = "info";
			ok = false;
		} else {
			snprintf(text, sizeof(text), "Invoice %s: the payment of %s %s.",
			    db_val(inv, 0, INV_NUMBER), view_money(p, db_ll(a, 0, PAY_AMOUNT, 0),
			    db_val(inv, 0, INV_CURRENCY)), outcome_words(outcome));
			ok = false;
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "text", text);
		cJSON_AddStringToObject(o, "tone", tone);
		cJSON_AddItemToArray(out, o);
		PQclear(inv);
		PQclear(a);
	}
	cJSON_AddBoolToObject(into, "has_payments", cJSON_GetArraySize(out) > 0);
	cJSON_AddBoolToObject(into, "payments_ok", ok && cJSON_GetArraySize(out) > 0);
}

const char *
view_pending(struct page *p)
{
	size_t n = (size_t)(p->d.npending > 8 ? 8 : p->d.npending) * DOM_ID_MAX + 1;
	char *out = arena_alloc(&p->c->req->arena, n);

	out[0] = '\0';
	for (int i = 0; i < p->d.npending && i < 8; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", p->d.pending[i]);
	return out;
}

void
view_flow_done(struct page *p, cJSON *into)
{
	const char *href = p->redirect_url && *p->redirect_url ? p->redirect_url :
	    p->set.website_url[0] ? p->set.website_url : NULL;
	char text[240];
	cJSON *d;

	if (p->flow_json == NULL || href == NULL)
		return;
	snprintf(text, sizeof(text), "Return to %s", p->set.business_name);
	d = cJSON_AddObjectToObject(into, "done");
	cJSON_AddStringToObject(d, "href", href);
	cJSON_AddStringToObject(d, "text", text);
}

const char *
view_path_id(struct page *p, int i)
{
	const char *id = i < p->c->req->n_path_params ? p->c->req->path_params[i] : NULL;

	if (id == NULL || check_id(id) != NULL) {
		page_message(p, 404, "Page not found", "There is nothing here, or it belongs to "
		    "another account.", page_url(p, ""), "Go to your account");
		return NULL;
	}
	return id;
}

PGresult *
view_own_row(struct page *p, enum stmt_id st, int customer_col, const char *back,
    const char *back_text)
{
	const char *id = view_path_id(p, 1);
	PGresult *res;

	if (id == NULL)
		return NULL;
	res = db_exec(p->c->db, st, (const char *[]){ p->set.site_id, id });
	if (res == NULL) {
		page_unavailable(p);
		return NULL;
	}
	if (PQntuples(res) != 1 ||
	    strcmp(db_val(res, 0, customer_col), p->customer_id) != 0) {
		PQclear(res);
		page_message(p, 404, "Page not found", "There is nothing here, or it belongs to "
		    "another account.", page_url(p, back), back_text);
		return NULL;
	}
	return res;
}
