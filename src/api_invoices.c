/* api_invoices.c: /api/v1/invoices: retrieve, list, pay (collect now), void. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "billing.h"

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
	char lim[24];
	PGresult *res;
	struct jw w;

	api_lltoa(limit + 1, lim);
	if (after != NULL) {
		PGresult *cur = db_exec(c->db, STMT_INV_GET, (const char *[]){ c->site.id, after });
		char created[24];

		if (cur == NULL) {
			api_db_error(c);
			return;
		}
		if (PQntuples(cur) == 0) {
			PQclear(cur);
			api_error(c, 400, "invalid_request_error", "parameter_invalid",
			    "starting_after", "starting_after names no invoice of this site.");
			return;
		}
		snprintf(created, sizeof(created), "%s", db_val(cur, 0, INV_CREATED));
		PQclear(cur);
		res = db_exec(c->db, STMT_INV_LIST_AFTER, (const char *[]){ c->site.id, lim, cust,
		    sub, status, created, after });
	} else
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

/* Collects now. A declined card is recorded on the invoice (200, see payment_attempts),
 * not an error: the attempt must be kept. */
void
h_inv_pay(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	PGresult *res = db_exec(c->db, STMT_INV_LOCK, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	bool paid;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_not_found(c, "invoice", c->req->path_params[0]);
		return;
	}
	if (strcmp(db_val(res, 0, INV_STATUS), "open") != 0) {
		api_error(c, 409, "invalid_request_error", "invoice_not_open", NULL,
		    "The invoice is %s; only open invoices can be paid.", db_val(res, 0, INV_STATUS));
		PQclear(res);
		return;
	}
	PQclear(res);
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
	PGresult *res = db_exec(c->db, STMT_INV_LOCK, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	char now[24], attempts[24];
	struct buf data;
	struct jw w;
	int rc;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_not_found(c, "invoice", c->req->path_params[0]);
		return;
	}
	if (strcmp(db_val(res, 0, INV_STATUS), "open") != 0) {
		api_error(c, 409, "invalid_request_error", "invoice_not_open", NULL,
		    "The invoice is %s; only open invoices can be voided.", db_val(res, 0, INV_STATUS));
		PQclear(res);
		return;
	}
	snprintf(attempts, sizeof(attempts), "%s", db_val(res, 0, INV_ATTEMPTS));
	PQclear(res);
	res = db_exec(c->db, STMT_INV_SET_STATE, (const char *[]){ c->site.id,
	    c->req->path_params[0], "void", "0", attempts, NULL, NULL, api_lltoa(c->now, now) });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	buf_init(&data);
	jw_init(&w, &data);
	rc = billing_write_invoice(&b, &w, NULL, res, 0);
	if (rc == 0)
		rc = events_emit(&b, "invoice.voided", c->req->path_params[0], data.data);
	buf_free(&data);
	PQclear(res);
	if (rc != 0) {
		api_db_error(c);
		return;
	}
	answer_invoice(c, c->req->path_params[0]);
}
