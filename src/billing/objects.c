/* objects.c: the object writers and their registry. Every object is written here once;
 * the API, the events and portalctl use these, so an object looks the same everywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/events.h"
#include "billing/gateways.h"
#include "billing/objects.h"
#include "billing/subscriptions.h"
#include "billing/taxes.h"
#include "core/log.h"

#define V(col)	db_val(res, row, (col))

/* "t"/"f" columns */
static bool
is_true(const char *v)
{
	return v != NULL && strcmp(v, "t") == 0;
}

static void
csv_array(struct jw *w, const char *key, const char *csv)
{
	char list[4096], *tok, *save = NULL;

	jw_arr_begin(w, key);
	snprintf(list, sizeof(list), "%s", csv ? csv : "");
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		jw_str(w, NULL, tok);
	jw_arr_end(w);
}

static int
write_customer(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(CUST_ID));
	jw_str(w, "object", "customer");
	jw_str(w, "email", V(CUST_EMAIL));
	jw_str(w, "name", V(CUST_NAME));
	jw_str(w, "company", V(CUST_COMPANY));
	jw_str(w, "phone", V(CUST_PHONE));
	jw_raw(w, "billing_address", V(CUST_BILLING));
	if (V(CUST_TAX_TYPE) != NULL) {
		jw_obj_begin(w, "tax_id");
		jw_str(w, "type", V(CUST_TAX_TYPE));
		jw_str(w, "value", V(CUST_TAX_VALUE));
		jw_obj_end(w);
	} else
		jw_null(w, "tax_id");
	jw_raw(w, "credit_balances", V(CUST_BALANCES) ? V(CUST_BALANCES) : "{}");
	jw_raw(w, "metadata", V(CUST_METADATA));
	jw_str(w, "portal_state", V(CUST_PORTAL_STATE));
	jw_int_text(w, "created_at", V(CUST_CREATED));
	jw_int_text(w, "updated_at", V(CUST_UPDATED));
	jw_obj_end(w);
	return 0;
}

static void
portal_session(struct jw *w, PGresult *res, int row, const char *token, const char *url)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(PS_ID));
	jw_str(w, "object", "portal_session");
	/* The token is stored only as a hash: it is shown in the create response alone. */
	jw_str(w, "token", token);
	jw_str(w, "access_url", url);
	jw_str(w, "redirect_url", V(PS_REDIRECT));
	jw_str(w, "forward_url", V(PS_FORWARD));
	jw_str(w, "status", V(PS_STATUS));
	jw_int_text(w, "created_at", V(PS_CREATED));
	jw_int_text(w, "expires_at", V(PS_EXPIRES));
	jw_int_text(w, "login_at", V(PS_LOGIN_AT));
	jw_int_text(w, "logout_at", V(PS_LOGOUT_AT));
	jw_str(w, "login_ipaddress", V(PS_LOGIN_IP));
	jw_str(w, "logout_ipaddress", V(PS_LOGOUT_IP));
	jw_str(w, "customer_id", V(PS_CUSTOMER));
	jw_raw(w, "features", V(PS_FEATURES));
	jw_raw(w, "flow", V(PS_FLOW));
	/* How it was signed in: "sso" (the access URL), "login_link", "password". */
	jw_str(w, "login_method", V(PS_LOGIN_METHOD) ? V(PS_LOGIN_METHOD) : "sso");
	jw_obj_end(w);
}

void
obj_write_portal_session_secret(struct jw *w, PGresult *res, int row, const char *token,
    const char *access_url)
{
	portal_session(w, res, row, token, access_url);
}

static int
write_portal_session(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	portal_session(w, res, row, NULL, NULL);
	return 0;
}

static int
write_plan(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(PLAN_ID));
	jw_str(w, "object", "plan");
	jw_str(w, "name", V(PLAN_NAME));
	jw_int_text(w, "amount", V(PLAN_AMOUNT));
	jw_str(w, "currency", V(PLAN_CURRENCY));
	jw_str(w, "interval", V(PLAN_UNIT));
	jw_int_text(w, "interval_count", V(PLAN_COUNT));
	jw_int_text(w, "trial_days", V(PLAN_TRIAL));
	jw_raw(w, "features", V(PLAN_FEATURES) ? V(PLAN_FEATURES) : "[]");
	jw_str(w, "status", V(PLAN_STATUS));
	jw_int_text(w, "created_at", V(PLAN_CREATED));
	jw_obj_end(w);
	return 0;
}

/* What the next renewal charges if nothing else changes first: the scheduled plan's price
 * or the plan's, with the tax the customer pays on it today, less the credit in its
 * currency; nothing when it will not renew. */
static int
write_subscription(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	long long at, amount;
	int renews = subs_next_charge(d, res, row, &at, &amount, e);

	if (renews < 0)
		return -1;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(SUB_ID));
	jw_str(w, "object", "subscription");
	jw_str(w, "customer_id", V(SUB_CUSTOMER));
	jw_str(w, "plan_id", V(SUB_PLAN));
	jw_str(w, "status", V(SUB_STATUS));
	jw_int_text(w, "current_term_start", V(SUB_TERM_START));
	jw_int_text(w, "current_term_end", V(SUB_TERM_END));
	if (renews) {
		jw_int(w, "next_billing_at", at);
		jw_int(w, "next_amount", amount);
	} else {
		jw_null(w, "next_billing_at");
		jw_null(w, "next_amount");
	}
	jw_str(w, "currency", V(SUB_CURRENCY));
	jw_int_text(w, "trial_end", V(SUB_TRIAL_END));
	jw_bool(w, "cancel_at_period_end", is_true(V(SUB_CANCEL_AT_END)));
	jw_int_text(w, "cancelled_at", V(SUB_CANCELLED_AT));
	jw_str(w, "cancel_reason", V(SUB_CANCEL_REASON));
	jw_str(w, "cancel_comment", V(SUB_CANCEL_COMMENT));
	jw_int_text(w, "pause_at", V(SUB_PAUSE_AT));
	jw_int_text(w, "paused_at", V(SUB_PAUSED_AT));
	jw_int_text(w, "resume_at", V(SUB_RESUME_AT));
	jw_str(w, "scheduled_plan_id", V(SUB_SCHEDULED_PLAN));
	jw_str(w, "latest_invoice_id", V(SUB_TERM_INVOICE));
	jw_int_text(w, "created_at", V(SUB_CREATED));
	jw_int_text(w, "updated_at", V(SUB_UPDATED));
	jw_obj_end(w);
	return 0;
}

/* The tax lines of an invoice or credit note (STMT_INV_TAXES / STMT_CN_TAXES rows). */
static void
write_taxes(struct jw *w, const char *key, PGresult *t)
{
	char pct[24];

	jw_arr_begin(w, key);
	for (int i = 0; i < PQntuples(t); i++) {
		taxes_format_percentage((long)db_ll(t, i, DTAX_PPM, 0), pct);
		jw_obj_begin(w, NULL);
		jw_str(w, "tax_rate_id", db_val(t, i, DTAX_RATE_ID));
		jw_str(w, "display_name", db_val(t, i, DTAX_NAME));
		jw_str(w, "percentage", pct);
		jw_bool(w, "inclusive", is_true(db_val(t, i, DTAX_INCLUSIVE)));
		jw_str(w, "country", db_val(t, i, DTAX_COUNTRY));
		jw_str(w, "region", db_val(t, i, DTAX_REGION));
		jw_int_text(w, "taxable_amount", db_val(t, i, DTAX_TAXABLE));
		jw_int_text(w, "amount", db_val(t, i, DTAX_AMOUNT));
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* Where the document's PDF is, once the job runner has rendered it. */
static void
write_pdf_url(struct jw *w, const char *key, const char *ready, const char *what,
    const char *id)
{
	char url[DOM_ID_MAX + 48];

	if (!is_true(ready)) {
		jw_null(w, key);
		return;
	}
	snprintf(url, sizeof(url), "/api/v1/%s/%s/pdf", what, id);
	jw_str(w, key, url);
}

/* An invoice's row (INV_COLS) with its lines, payment attempts and tax lines. */
static void
write_invoice_parts(struct dctx *d, struct jw *w, PGresult *res, int row, PGresult *lines,
    PGresult *pays, PGresult *taxes)
{
	const char *id = V(INV_ID);

	jw_obj_begin(w, NULL);
	jw_str(w, "id", id);
	jw_str(w, "object", "invoice");
	jw_int_text(w, "number", V(INV_NUMBER));
	jw_str(w, "formatted_number", V(INV_NUMBER_TEXT));
	jw_str(w, "customer_id", V(INV_CUSTOMER));
	jw_str(w, "subscription_id", V(INV_SUBSCRIPTION));
	jw_str(w, "status", V(INV_STATUS));
	jw_str(w, "currency", V(INV_CURRENCY));
	jw_int_text(w, "subtotal", V(INV_SUBTOTAL));
	jw_int_text(w, "tax", V(INV_TAX));
	jw_int(w, "total_excluding_tax", db_ll(res, row, INV_TOTAL, 0) -
	    db_ll(res, row, INV_TAX, 0));
	jw_int_text(w, "total", V(INV_TOTAL));
	jw_int_text(w, "credit_applied", V(INV_CREDIT));
	jw_int_text(w, "amount_due", V(INV_DUE));
	jw_int_text(w, "amount_paid", V(INV_PAID));
	jw_int_text(w, "amount_refunded", V(INV_REFUNDED));
	jw_int_text(w, "amount_credited", V(INV_CREDITED));
	jw_str(w, "tax_treatment", V(INV_TAX_TREATMENT));
	jw_str(w, "tax_note", V(INV_TAX_NOTE));
	write_taxes(w, "tax_amounts", taxes);
	write_pdf_url(w, "invoice_pdf", V(INV_PDF_READY), "invoices", id);
	jw_int_text(w, "attempt_count", V(INV_ATTEMPTS));
	jw_int_text(w, "next_attempt_at", V(INV_NEXT_ATTEMPT));
	jw_int_text(w, "created_at", V(INV_CREATED));
	jw_int_text(w, "paid_at", V(INV_PAID_AT));
	jw_int_text(w, "voided_at", V(INV_VOIDED_AT));
	/* A chargeback: the customer's bank took the payment back pending review. */
	jw_bool(w, "disputed", V(INV_DISPUTED_AT) != NULL);
	jw_int_text(w, "disputed_at", V(INV_DISPUTED_AT));
	jw_str(w, "dispute_reason", V(INV_DISPUTE_REASON));
	/* Only the answer to the request that started an on-session charge carries where the
	 * customer must go (never an event: the address is the customer's alone). */
	if (d->action_url[0] != '\0' && strcmp(d->action_invoice, id) == 0) {
		jw_obj_begin(w, "next_action");
		jw_str(w, "type", "redirect_to_url");
		jw_str(w, "redirect_url", d->action_url);
		jw_obj_end(w);
	} else
		jw_null(w, "next_action");
	/* As they were when it was issued: later edits never change an issued invoice. */
	jw_raw(w, "customer_details", V(INV_CUSTOMER_DETAILS) ? V(INV_CUSTOMER_DETAILS) : "{}");
	jw_raw(w, "seller_details", V(INV_SELLER_DETAILS) ? V(INV_SELLER_DETAILS) : "{}");
	jw_arr_begin(w, "lines");
	for (int i = 0; i < PQntuples(lines); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "kind", db_val(lines, i, LINE_KIND));
		jw_str(w, "description", db_val(lines, i, LINE_DESCRIPTION));
		jw_int_text(w, "amount", db_val(lines, i, LINE_AMOUNT));
		jw_int_text(w, "tax_amount", db_val(lines, i, LINE_TAX));
		jw_str(w, "plan_id", db_val(lines, i, LINE_PLAN));
		jw_int_text(w, "period_start", db_val(lines, i, LINE_START));
		jw_int_text(w, "period_end", db_val(lines, i, LINE_END));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr_begin(w, "payment_attempts");
	for (int i = 0; i < PQntuples(pays); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "id", db_val(pays, i, PAY_ID));
		jw_str(w, "payment_method_id", db_val(pays, i, PAY_PM));
		jw_int_text(w, "amount", db_val(pays, i, PAY_AMOUNT));
		jw_str(w, "kind", db_val(pays, i, PAY_KIND));
		jw_str(w, "outcome", db_val(pays, i, PAY_OUTCOME));
		jw_str(w, "decline_code", db_val(pays, i, PAY_DECLINE));
		jw_str(w, "failure_message", db_val(pays, i, PAY_MESSAGE));
		jw_bool(w, "on_session", db_val(pays, i, PAY_RETURN_URL) != NULL);
		jw_str(w, "gateway", db_val(pays, i, PAY_GATEWAY));
		jw_str(w, "gateway_reference", db_val(pays, i, PAY_REF));
		jw_int_text(w, "created_at", db_val(pays, i, PAY_CREATED));
		jw_int_text(w, "completed_at", db_val(pays, i, PAY_COMPLETED));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static int
write_invoice(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	const char *p[] = { d->site.id, V(INV_ID) };
	const enum stmt_id ids[3] = { STMT_INV_LINES, STMT_PAY_LIST, STMT_INV_TAXES };
	PGresult *r[3];

	/* One round trip where the connection pipelines (the job runner's). */
	if (db_exec_all(d->db, 3, ids, (const char *const *const[]){ p, p, p }, r) != 0)
		return derr_db(e, d->db);
	write_invoice_parts(d, w, res, row, r[0], r[1], r[2]);
	for (int i = 0; i < 3; i++)
		PQclear(r[i]);
	return 0;
}

void
obj_read_ahead_invoice(struct dctx *d, const char *id)
{
	/* write_invoice's reads */
	db_read_ahead(d->db, STMT_INV_LINES, (const char *[]){ d->site.id, id });
	db_read_ahead(d->db, STMT_PAY_LIST, (const char *[]){ d->site.id, id });
	db_read_ahead(d->db, STMT_INV_TAXES, (const char *[]){ d->site.id, id });
}

void
obj_render_invoice(struct dctx *d, PGresult *inv, PGresult *lines, PGresult *pays,
    PGresult *taxes, struct buf *out)
{
	struct jw w;

	buf_reset(out);
	jw_init(&w, out);
	write_invoice_parts(d, &w, inv, 0, lines, pays, taxes);
}

static int
write_payment_method(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(PM_ID));
	jw_str(w, "object", "payment_method");
	jw_str(w, "customer_id", V(PM_CUSTOMER));
	jw_str(w, "gateway", V(PM_GATEWAY));
	jw_str(w, "gateway_token", V(PM_TOKEN));
	/* A card of a gateway the site no longer uses: kept for the record, never charged. */
	jw_bool(w, "usable", !is_true(V(PM_UNUSABLE)));
	jw_str(w, "brand", V(PM_BRAND));
	jw_str(w, "last4", V(PM_LAST4));
	jw_int_text(w, "exp_month", V(PM_EXP_MONTH));
	jw_int_text(w, "exp_year", V(PM_EXP_YEAR));
	jw_bool(w, "is_default", is_true(V(PM_DEFAULT)));
	jw_int_text(w, "created_at", V(PM_CREATED));
	jw_obj_end(w);
	return 0;
}

static void
event_fields(struct jw *w, PGresult *res, int row)
{
	jw_str(w, "id", V(EVT_ID));
	jw_str(w, "object", "event");
	jw_str(w, "type", V(EVT_TYPE));
	jw_int_text(w, "sequence", V(EVT_SEQ));
	jw_str(w, "object_id", V(EVT_OBJECT));
	jw_obj_begin(w, "actor");
	jw_str(w, "type", V(EVT_ACTOR_TYPE));
	jw_str(w, "id", V(EVT_ACTOR_ID));
	jw_obj_end(w);
	jw_raw(w, "data", V(EVT_DATA));
	jw_int_text(w, "created_at", V(EVT_CREATED));
}

static int
write_event(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	event_fields(w, res, row);
	jw_obj_end(w);
	return 0;
}

/* The event with its webhook deliveries and each attempt: the API's retrieve. */
static int
write_event_detail(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	PGresult *dl = db_exec(d->db, STMT_DELIV_LIST, (const char *[]){ d->site.id,
	    V(EVT_ID) });

	if (dl == NULL)
		return derr_db(e, d->db);
	jw_obj_begin(w, NULL);
	event_fields(w, res, row);
	jw_arr_begin(w, "deliveries");
	for (int i = 0; i < PQntuples(dl); i++) {
		PGresult *att = db_exec(d->db, STMT_WH_ATTEMPT_LIST, (const char *[]){ d->site.id,
		    db_val(dl, i, DLV_ID) });

		if (att == NULL) {
			PQclear(dl);
			return derr_db(e, d->db);
		}
		jw_obj_begin(w, NULL);
		jw_str(w, "id", db_val(dl, i, DLV_ID));
		jw_str(w, "webhook_endpoint_id", db_val(dl, i, DLV_ENDPOINT));
		jw_str(w, "status", db_val(dl, i, DLV_STATUS));
		jw_int_text(w, "attempts", db_val(dl, i, DLV_ATTEMPTS));
		jw_int_text(w, "next_attempt_at", db_val(dl, i, DLV_NEXT));
		jw_int_text(w, "last_http_status", db_val(dl, i, DLV_LAST_STATUS));
		jw_str(w, "last_error", db_val(dl, i, DLV_LAST_ERROR));
		jw_int_text(w, "created_at", db_val(dl, i, DLV_CREATED));
		jw_int_text(w, "updated_at", db_val(dl, i, DLV_UPDATED));
		jw_arr_begin(w, "attempt_log");
		for (int k = 0; k < PQntuples(att); k++) {
			jw_obj_begin(w, NULL);
			jw_int_text(w, "attempted_at", db_val(att, k, WHA_AT));
			jw_int_text(w, "http_status", db_val(att, k, WHA_STATUS));
			jw_str(w, "error", db_val(att, k, WHA_ERROR));
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
		PQclear(att);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	PQclear(dl);
	return 0;
}

static void
webhook_endpoint(struct jw *w, PGresult *res, int row, const char *secret)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(WH_ID));
	jw_str(w, "object", "webhook_endpoint");
	jw_str(w, "url", V(WH_URL));
	csv_array(w, "enabled_events", V(WH_EVENTS));
	if (secret != NULL)
		jw_str(w, "secret", secret);
	jw_int_text(w, "created_at", V(WH_CREATED));
	jw_obj_end(w);
}

void
obj_write_webhook_endpoint_secret(struct jw *w, PGresult *res, int row, const char *secret)
{
	webhook_endpoint(w, res, row, secret);
}

static int
write_webhook_endpoint(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	webhook_endpoint(w, res, row, NULL);
	return 0;
}

static int
write_credit_entry(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(CRE_ID));
	jw_str(w, "object", "credit_entry");
	jw_str(w, "customer_id", V(CRE_CUSTOMER));
	jw_str(w, "currency", V(CRE_CURRENCY));
	jw_int_text(w, "amount", V(CRE_AMOUNT));
	jw_str(w, "source", V(CRE_SOURCE));
	jw_str(w, "status", V(CRE_STATUS));
	jw_str(w, "description", V(CRE_DESCRIPTION));
	jw_str(w, "invoice_id", V(CRE_INVOICE));
	jw_str(w, "source_invoice_id", V(CRE_SOURCE_INVOICE));
	jw_str(w, "subscription_id", V(CRE_SUBSCRIPTION));
	jw_int_text(w, "period_start", V(CRE_START));
	jw_int_text(w, "period_end", V(CRE_END));
	jw_int_text(w, "created_at", V(CRE_CREATED));
	jw_obj_end(w);
	return 0;
}

/* All rows: what the customer is entitled to now. */
static int
write_entitlements(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)d;
	(void)e;
	(void)row;
	jw_obj_begin(w, NULL);
	jw_str(w, "object", "list");
	jw_arr_begin(w, "data");
	for (int i = 0; i < PQntuples(res); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "object", "entitlement");
		jw_str(w, "key", db_val(res, i, ENT_KEY));
		jw_str(w, "name", db_val(res, i, ENT_NAME));
		jw_int_text(w, "value", db_val(res, i, ENT_VALUE));
		csv_array(w, "subscription_ids", db_val(res, i, ENT_SUBS));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_bool(w, "has_more", false);
	jw_obj_end(w);
	return 0;
}

static int
write_tax_rate(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	char pct[24];

	(void)d;
	(void)e;
	taxes_format_percentage((long)db_ll(res, row, TXR_PPM, 0), pct);
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(TXR_ID));
	jw_str(w, "object", "tax_rate");
	jw_str(w, "display_name", V(TXR_NAME));
	jw_str(w, "description", V(TXR_DESCRIPTION));
	jw_str(w, "percentage", pct);
	jw_bool(w, "inclusive", is_true(V(TXR_INCLUSIVE)));
	jw_str(w, "country", V(TXR_COUNTRY));
	jw_str(w, "region", V(TXR_REGION));
	jw_bool(w, "active", is_true(V(TXR_ACTIVE)));
	jw_int_text(w, "created_at", V(TXR_CREATED));
	jw_obj_end(w);
	return 0;
}

static int
write_credit_note(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	const char *id = V(CN_ID);
	PGresult *lines, *taxes;

	lines = db_exec(d->db, STMT_CN_LINES, (const char *[]){ d->site.id, id });
	if (lines == NULL)
		return derr_db(e, d->db);
	taxes = db_exec(d->db, STMT_CN_TAXES, (const char *[]){ d->site.id, id });
	if (taxes == NULL) {
		PQclear(lines);
		return derr_db(e, d->db);
	}
	jw_obj_begin(w, NULL);
	jw_str(w, "id", id);
	jw_str(w, "object", "credit_note");
	jw_int_text(w, "number", V(CN_NUMBER));
	jw_str(w, "formatted_number", V(CN_NUMBER_TEXT));
	jw_str(w, "invoice_id", V(CN_INVOICE));
	jw_str(w, "invoice_number", V(CN_INVOICE_NUMBER_TEXT));
	jw_str(w, "customer_id", V(CN_CUSTOMER));
	jw_str(w, "currency", V(CN_CURRENCY));
	jw_str(w, "reason", V(CN_REASON));
	jw_int_text(w, "subtotal", V(CN_SUBTOTAL));
	jw_int_text(w, "tax", V(CN_TAX));
	jw_int(w, "total_excluding_tax", db_ll(res, row, CN_TOTAL, 0) -
	    db_ll(res, row, CN_TAX, 0));
	jw_int_text(w, "total", V(CN_TOTAL));
	jw_int_text(w, "credit_amount", V(CN_CREDIT_AMOUNT));
	jw_int_text(w, "refund_amount", V(CN_REFUND_AMOUNT));
	jw_int_text(w, "void_amount", V(CN_VOID_AMOUNT));
	jw_str(w, "credit_entry_id", V(CN_CREDIT_ENTRY));
	jw_str(w, "payment_attempt_id", V(CN_PAYMENT_ATTEMPT));
	jw_str(w, "tax_treatment", V(CN_TAX_TREATMENT));
	jw_str(w, "tax_note", V(CN_TAX_NOTE));
	write_taxes(w, "tax_amounts", taxes);
	jw_arr_begin(w, "lines");
	for (int i = 0; i < PQntuples(lines); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "description", db_val(lines, i, CNL_DESCRIPTION));
		jw_int_text(w, "amount", db_val(lines, i, CNL_AMOUNT));
		jw_int_text(w, "tax_amount", db_val(lines, i, CNL_TAX));
		jw_int_text(w, "period_start", db_val(lines, i, CNL_START));
		jw_int_text(w, "period_end", db_val(lines, i, CNL_END));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_raw(w, "customer_details", V(CN_CUSTOMER_DETAILS));
	jw_raw(w, "seller_details", V(CN_SELLER_DETAILS));
	write_pdf_url(w, "credit_note_pdf", V(CN_PDF_READY), "credit_notes", id);
	jw_int_text(w, "created_at", V(CN_CREATED));
	jw_obj_end(w);
	PQclear(lines);
	PQclear(taxes);
	return 0;
}

static int
write_legal_details(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "object", "legal_details");
	jw_str(w, "site_id", d->site.id);
	jw_str(w, "legal_name", V(LEGAL_NAME));
	jw_str(w, "name_on_documents", V(LEGAL_NAME) ? V(LEGAL_NAME) : V(LEGAL_SITE_NAME));
	jw_raw(w, "address", V(LEGAL_ADDRESS));
	jw_raw(w, "tax_ids", V(LEGAL_TAX_IDS));
	jw_str(w, "email", V(LEGAL_EMAIL));
	jw_str(w, "phone", V(LEGAL_PHONE));
	jw_str(w, "invoice_prefix", V(LEGAL_INVOICE_PREFIX));
	jw_str(w, "credit_note_prefix", V(LEGAL_CN_PREFIX));
	jw_str(w, "footer", V(LEGAL_FOOTER));
	jw_str(w, "paper_size", V(LEGAL_PAPER));
	jw_int_text(w, "updated_at", V(LEGAL_UPDATED));
	jw_obj_end(w);
	return 0;
}

static int
write_setup(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	char purpose[DOM_ID_MAX + 16];
	struct buf url;
	long long dflt = db_ll(res, row, SETUP_DEFAULT, -1);

	(void)e;
	buf_init(&url);
	snprintf(purpose, sizeof(purpose), "setup_url/%s", V(SETUP_ID));
	if (strcmp(V(SETUP_STATUS), "open") == 0 && V(SETUP_URL_SEALED) != NULL &&
	    gateways_open(d, purpose, V(SETUP_URL_SEALED), &url) != 0)
		buf_reset(&url);
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(SETUP_ID));
	jw_str(w, "object", "payment_method_setup");
	jw_str(w, "customer_id", V(SETUP_CUSTOMER));
	jw_str(w, "gateway", V(SETUP_GATEWAY));
	jw_str(w, "status", V(SETUP_STATUS));
	jw_str(w, "url", url.len > 0 ? url.data : NULL);
	jw_int_text(w, "expires_at", V(SETUP_EXPIRES));
	jw_str(w, "success_url", V(SETUP_SUCCESS_URL));
	jw_str(w, "cancel_url", V(SETUP_CANCEL_URL));
	if (dflt < 0)
		jw_null(w, "default");
	else
		jw_bool(w, "default", dflt == 1);
	jw_str(w, "payment_method_id", V(SETUP_PM));
	jw_str(w, "failure_message", V(SETUP_FAILURE));
	jw_int_text(w, "created_at", V(SETUP_CREATED));
	jw_int_text(w, "completed_at", V(SETUP_COMPLETED));
	jw_obj_end(w);
	buf_free(&url);
	return 0;
}

/* The keys themselves never: which key is set (its hint) and where Stripe must send its
 * events. */
static int
write_gateway(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	struct gateway_site g;

	(void)res;
	(void)row;
	if (gateways_site_get(d, &g, e) != 0)
		return -1;
	jw_obj_begin(w, NULL);
	jw_str(w, "object", "gateway_configuration");
	jw_str(w, "site", d->site.id);
	jw_str(w, "gateway", g.name[0] ? g.name : NULL);
	if (strcmp(g.name, "stripe") == 0) {
		jw_obj_begin(w, "stripe");
		jw_str(w, "secret_key_hint", g.key_hint);
		jw_bool(w, "webhook_secret_set", g.webhook_secret_set);
		jw_str(w, "webhook_url", g.webhook_url);
		jw_obj_end(w);
	} else
		jw_null(w, "stripe");
	jw_obj_end(w);
	return 0;
}

const struct obj_type obj_types[OBJ__MAX] = {
	[OBJ_CUSTOMER] = { "customer", STMT_CUSTOMER_GET, write_customer },
	[OBJ_PORTAL_SESSION] = { "portal_session", STMT_PSESS_GET, write_portal_session },
	[OBJ_PLAN] = { "plan", STMT_PLAN_GET, write_plan },
	[OBJ_SUBSCRIPTION] = { "subscription", STMT_SUB_GET, write_subscription },
	[OBJ_INVOICE] = { "invoice", STMT_INV_GET, write_invoice },
	[OBJ_PAYMENT_METHOD] = { "payment_method", STMT_PM_GET, write_payment_method },
	[OBJ_EVENT] = { "event", STMT_EVENT_GET, write_event },
	[OBJ_EVENT_DETAIL] = { "event", STMT_EVENT_GET, write_event_detail },
	[OBJ_WEBHOOK_ENDPOINT] = { "webhook_endpoint", STMT_WH_GET, write_webhook_endpoint },
	[OBJ_CREDIT_ENTRY] = { "credit_entry", STMT_CREDIT_GET, write_credit_entry },
	[OBJ_ENTITLEMENTS] = { "customer", STMT_ENTITLEMENTS, write_entitlements },
	[OBJ_TAX_RATE] = { "tax_rate", STMT_TAXRATE_GET, write_tax_rate },
	[OBJ_CREDIT_NOTE] = { "credit_note", STMT_CN_GET, write_credit_note },
	/* By site: the id is the site's; STMT_LEGAL_GET takes only $1. */
	[OBJ_LEGAL_DETAILS] = { "site", STMT_LEGAL_GET, write_legal_details },
	[OBJ_SETUP] = { "payment_method_setup", STMT_SETUP_GET, write_setup },
	[OBJ_GATEWAY] = { "gateway_configuration", STMT_SITE_GATEWAY_GET, write_gateway },
};

int
obj_write_row(struct dctx *d, enum obj_kind k, struct jw *w, PGresult *res, int row,
    struct derr *e)
{
	return obj_types[k].write(d, w, res, row, e);
}

int
obj_write(struct dctx *d, enum obj_kind k, const char *id, struct jw *w, struct derr *e)
{
	const struct obj_type *t = &obj_types[k];
	PGresult *res = db_exec(d->db, t->get, (const char *[]){ d->site.id, id });
	int rc;

	if (res == NULL)
		return derr_db(e, d->db);
	if (k != OBJ_ENTITLEMENTS && PQntuples(res) == 0) {
		PQclear(res);
		return derr_not_found(e, t->name, id);
	}
	rc = t->write(d, w, res, 0, e);
	PQclear(res);
	return rc;
}

int
obj_render_row(struct dctx *d, enum obj_kind k, PGresult *res, int row, struct buf *out,
    struct derr *e)
{
	struct jw w;

	buf_reset(out);
	jw_init(&w, out);
	return obj_types[k].write(d, &w, res, row, e);
}

int
obj_render(struct dctx *d, enum obj_kind k, const char *id, struct buf *out, struct derr *e)
{
	struct jw w;

	buf_reset(out);
	jw_init(&w, out);
	return obj_write(d, k, id, &w, e);
}

int
obj_check_render(struct dctx *d, enum obj_kind k, const char *id, const char *data,
    struct derr *e)
{
	const char *on = getenv("PORTALD_CHECK_RENDER");
	struct buf back;
	int rc;

	if (on == NULL || strcmp(on, "1") != 0)
		return 0;
	buf_init(&back);
	rc = obj_render(d, k, id, &back, e);
	if (rc == 0 && strcmp(back.data, data) != 0) {
		size_t at = 0;

		/* Where they part, with a little of each (not the whole: buyer details). */
		while (data[at] != '\0' && data[at] == back.data[at])
			at++;
		log_error("render check: %s %s differs at byte %zu: as written \"%.60s\", "
		    "read back \"%.60s\"", obj_types[k].name, id, at, data + at,
		    back.data + at);
		rc = derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The %s rendered from what was written differs from its row.",
		    obj_types[k].name);
	}
	buf_free(&back);
	return rc;
}

void
obj_write_deleted(struct jw *w, const char *object, const char *id)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", id);
	jw_str(w, "object", object);
	jw_bool(w, "deleted", true);
	jw_obj_end(w);
}
