/* api_invoices.c: /api/v1/invoices: retrieve, list, pay (collect now), void. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "core/crypto.h"
#include "billing/gateway.h"

const struct field inv_refund_fields[] = {
	{ .name = "amount", .type = FT_INT, .min = 1, .max = 100000000000LL },
	{ .name = NULL }
};

const struct qparam inv_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "customer_id", .type = QT_ID },
	{ .name = "subscription_id", .type = QT_ID },
	{ .name = "status", .type = QT_STRING },
	{ .name = NULL }
};

static void
answer_invoice(struct ctx *c, const char *id)
{
	struct bctx b = { c->db, c->site.id, c->now };
	PGresult *res = db_exec(c->db, STMT_INV_GET, (const char *[]){ c->site.id, id });
	struct jw w;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_not_found(c, "invoice", id);
	else {
		api_json_start(c, 200);
		jw_init(&w, &c->resp->body);
		if (billing_write_invoice(&b, &w, NULL, res, 0) != 0)
			api_db_error(c);
	}
	PQclear(res);
}

void
h_inv_get(struct ctx *c)
{
	answer_invoice(c, c->req->path_params[0]);
}

void
h_inv_list(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	int limit = api_list_limit(c);
	const char *after = api_arg(c, "starting_after");
	const char *cust = api_arg(c, "customer_id"), *sub = api_arg(c, "subscription_id");
	const char *status = api_arg(c, "status");
	char lim[24], created[24];
	PGresult *res;
	struct jw w;
	int rc;

	buf_lltoa(limit + 1, lim);
	if ((rc = api_cursor(c, STMT_INV_GET, INV_CREATED, "invoice", created)) < 0)
		return;
	if (rc == 1)
		res = db_exec(c->db, STMT_INV_LIST_AFTER, (const char *[]){ c->site.id, lim, cust,
		    sub, status, created, after });
	else
		res = db_exec(c->db, STMT_INV_LIST_FIRST, (const char *[]){ c->site.id, lim, cust,
		    sub, status });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res) && i < limit; i++)
		if (billing_write_invoice(&b, &w, NULL, res, i) != 0) {
			PQclear(res);
			api_db_error(c);
			return;
		}
	api_list_end(c, &w, PQntuples(res) > limit);
	PQclear(res);
}

/* Locks the path's invoice; answers 404/409/503 and returns -1 unless it is open.
 * attempts receives its attempt count. */
static int
lock_open(struct ctx *c, const char *verb, char attempts[24])
{
	PGresult *res = db_exec(c->db, STMT_INV_LOCK, (const char *[]){ c->site.id,
	    c->req->path_params[0] });

	if (res == NULL) {
		api_db_error(c);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_not_found(c, "invoice", c->req->path_params[0]);
		return -1;
	}
	if (strcmp(db_val(res, 0, INV_STATUS), "open") != 0) {
		api_error(c, 409, "invalid_request_error", "invoice_not_open", NULL,
		    "The invoice is %s; only open invoices can be %s.", db_val(res, 0, INV_STATUS),
		    verb);
		PQclear(res);
		return -1;
	}
	snprintf(attempts, 24, "%s", db_val(res, 0, INV_ATTEMPTS));
	PQclear(res);
	return 0;
}

/* Collects now. A declined card is recorded on the invoice (200, see payment_attempts),
 * not an error: the attempt must be kept. */
void
h_inv_pay(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	char attempts[24];
	bool paid;

	if (lock_open(c, "paid", attempts) != 0)
		return;
	if (billing_collect(&b, c->req->path_params[0], &paid) != 0) {
		api_db_error(c);
		return;
	}
	answer_invoice(c, c->req->path_params[0]);
}

void
h_inv_void(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	char now[24], attempts[24];
	PGresult *res;
	struct buf data;
	struct jw w;
	int rc;

	if (lock_open(c, "voided", attempts) != 0)
		return;
	res = db_exec(c->db, STMT_INV_SET_STATE, (const char *[]){ c->site.id,
	    c->req->path_params[0], "void", "0", attempts, NULL, NULL, buf_lltoa(c->now, now) });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	buf_init(&data);
	jw_init(&w, &data);
	rc = billing_write_invoice(&b, &w, NULL, res, 0);
	if (rc == 0)
		rc = events_emit(&b, "invoice.voided", c->req->path_params[0], data.data);
	if (rc == 0 && db_val(res, 0, INV_SUBSCRIPTION) != NULL)
		rc = billing_invoice_closed(&b, db_val(res, 0, INV_SUBSCRIPTION));
	buf_free(&data);
	PQclear(res);
	if (rc != 0) {
		api_db_error(c);
		return;
	}
	answer_invoice(c, c->req->path_params[0]);
}

/* Refunds part or all of a paid invoice through the gateway of its charge. */
void
h_inv_refund(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	const char *id = c->req->path_params[0];
	PGresult *inv = db_exec(c->db, STMT_INV_LOCK, (const char *[]){ c->site.id, id });
	PGresult *charge, *res;
	struct gateway_result result;
	long long left, amount;
	char a[4][24], rid[40], hex[25], idem[80], pm[72] = "";
	struct buf data;
	struct jw w;
	int rc;

	if (inv == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(inv) == 0) {
		PQclear(inv);
		api_not_found(c, "invoice", id);
		return;
	}
	if (strcmp(db_val(inv, 0, INV_STATUS), "paid") != 0) {
		api_error(c, 409, "invalid_request_error", "invoice_not_paid", NULL,
		    "The invoice is %s; only paid invoices can be refunded.",
		    db_val(inv, 0, INV_STATUS));
		PQclear(inv);
		return;
	}
	left = db_ll(inv, 0, INV_PAID, 0) - db_ll(inv, 0, INV_REFUNDED, 0);
	PQclear(inv);
	amount = json_int(c->body, "amount", left);
	if (amount <= 0 || amount > left) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "amount",
		    "amount must be between 1 and the %lld still refundable.", left);
		return;
	}
	charge = db_exec(c->db, STMT_PAY_LAST_CHARGE, (const char *[]){ c->site.id, id });
	if (charge == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(charge) == 0) {	/* paid from the credit balance: nothing to refund */
		PQclear(charge);
		api_error(c, 409, "invalid_request_error", "nothing_charged", NULL,
		    "No card charge paid this invoice.");
		return;
	}
	/* One key per refund: the API's Idempotency-Key guards against the client retrying. */
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
		PQclear(charge);
		api_no_randomness(c);
		return;
	}
	snprintf(rid, sizeof(rid), "pay_%s", hex);
	snprintf(idem, sizeof(idem), "%s-refund-%s", id, hex);
	snprintf(pm, sizeof(pm), "%s", db_val(charge, 0, 1) ? db_val(charge, 0, 1) : "");
	rc = gateway_get("test")->refund(&b, db_val(charge, 0, 0), amount, idem, &result);
	PQclear(charge);
	if (rc != 0) {
		api_db_error(c);
		return;
	}
	res = db_exec(c->db, STMT_PAY_INSERT, (const char *[]){ c->site.id, rid, id,
	    pm[0] ? pm : NULL, buf_lltoa(amount, a[0]), result.outcome, idem,
	    buf_lltoa(c->now, a[1]), "refund", result.ref });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	PQclear(res);
	if (strcmp(result.outcome, "succeeded") != 0) {
		/* Keep the failed attempt on record (200), the invoice unchanged. */
		answer_invoice(c, id);
		return;
	}
	res = db_exec(c->db, STMT_INV_ADD_REFUND, (const char *[]){ c->site.id, id,
	    buf_lltoa(amount, a[2]) });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		api_db_error(c);
		return;
	}
	buf_init(&data);
	jw_init(&w, &data);
	rc = billing_write_invoice(&b, &w, NULL, res, 0);
	if (rc == 0)
		rc = events_emit(&b, "invoice.refunded", id, data.data);
	buf_free(&data);
	PQclear(res);
	if (rc != 0) {
		api_db_error(c);
		return;
	}
	answer_invoice(c, id);
}
