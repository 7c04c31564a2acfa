/* objects.c: the object writers and their registry. Every object is written here once;
 * the API, the events and portalctl use these, so an object looks the same everywhere. */
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/objects.h"
#include "billing/subscriptions.h"

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
 * or the plan's, less the credit in its currency; nothing when it will not renew. */
static int
write_subscription(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	long long at, amount;

	(void)d;
	(void)e;
	jw_obj_begin(w, NULL);
	jw_str(w, "id", V(SUB_ID));
	jw_str(w, "object", "subscription");
	jw_str(w, "customer_id", V(SUB_CUSTOMER));
	jw_str(w, "plan_id", V(SUB_PLAN));
	jw_str(w, "status", V(SUB_STATUS));
	jw_int_text(w, "current_term_start", V(SUB_TERM_START));
	jw_int_text(w, "current_term_end", V(SUB_TERM_END));
	if (subs_next_charge(res, row, &at, &amount)) {
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

static int
write_invoice(struct dctx *d, struct jw *w, PGresult *res, int row, struct derr *e)
{
	const char *id = V(INV_ID);
	PGresult *lines, *pays;

	lines = db_exec(d->db, STMT_INV_LINES, (const char *[]){ d->site.id, id });
	if (lines == NULL)
		return derr_db(e, d->db);
	pays = db_exec(d->db, STMT_PAY_LIST, (const char *[]){ d->site.id, id });
	if (pays == NULL) {
		PQclear(lines);
		return derr_db(e, d->db);
	}
	jw_obj_begin(w, NULL);
	jw_str(w, "id", id);
	jw_str(w, "object", "invoice");
	jw_int_text(w, "number", V(INV_NUMBER));
	jw_str(w, "customer_id", V(INV_CUSTOMER));
	jw_str(w, "subscription_id", V(INV_SUBSCRIPTION));
	jw_str(w, "status", V(INV_STATUS));
	jw_str(w, "currency", V(INV_CURRENCY));
	jw_int_text(w, "subtotal", V(INV_SUBTOTAL));
	jw_int_text(w, "credit_applied", V(INV_CREDIT));
	jw_int_text(w, "total", V(INV_TOTAL));
	jw_int_text(w, "amount_due", V(INV_DUE));
	jw_int_text(w, "amount_paid", V(INV_PAID));
	jw_int_text(w, "amount_refunded", V(INV_REFUNDED));
	jw_int_text(w, "attempt_count", V(INV_ATTEMPTS));
	jw_int_text(w, "next_attempt_at", V(INV_NEXT_ATTEMPT));
	jw_int_text(w, "created_at", V(INV_CREATED));
	jw_int_text(w, "paid_at", V(INV_PAID_AT));
	jw_int_text(w, "voided_at", V(INV_VOIDED_AT));
	/* As they were when it was issued: later edits never change an issued invoice. */
	jw_raw(w, "customer_details", V(INV_CUSTOMER_DETAILS) ? V(INV_CUSTOMER_DETAILS) : "{}");
	jw_raw(w, "seller_details", V(INV_SELLER_DETAILS) ? V(INV_SELLER_DETAILS) : "{}");
	jw_arr_begin(w, "lines");
	for (int i = 0; i < PQntuples(lines); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "kind", db_val(lines, i, LINE_KIND));
		jw_str(w, "description", db_val(lines, i, LINE_DESCRIPTION));
		jw_int_text(w, "amount", db_val(lines, i, LINE_AMOUNT));
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
		jw_str(w, "gateway", db_val(pays, i, PAY_GATEWAY));
		jw_str(w, "gateway_reference", db_val(pays, i, PAY_REF));
		jw_int_text(w, "created_at", db_val(pays, i, PAY_CREATED));
		jw_int_text(w, "completed_at", db_val(pays, i, PAY_COMPLETED));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	PQclear(lines);
	PQclear(pays);
	return 0;
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
	jw_str(w, "gateway", "test");
	jw_str(w, "gateway_token", V(PM_TOKEN));
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
obj_render(struct dctx *d, enum obj_kind k, const char *id, struct buf *out, struct derr *e)
{
	struct jw w;

	buf_reset(out);
	jw_init(&w, out);
	return obj_write(d, k, id, &w, e);
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
