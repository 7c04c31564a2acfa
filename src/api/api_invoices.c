/* api_invoices.c: /api/v1/invoices: retrieve, list, pay (collect now), void, refund. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/invoices.h"
#include "billing/payments.h"

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
done(struct ctx *c, int rc, const struct derr *e)
{
	if (rc != 0)
		api_derr(c, e);
	else
		api_answer(c, OBJ_INVOICE, c->req->path_params[0]);
}

void
h_inv_get(struct ctx *c)
{
	api_get(c, OBJ_INVOICE, c->req->path_params[0]);
}

void
h_inv_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_INVOICE, STMT_INV_LIST_FIRST,
	    STMT_INV_LIST_AFTER, { "customer_id", "subscription_id", "status" }, CURSOR_SEQ,
	    INV_NUMBER };

	api_list(c, &spec);
}

/* Collects now. A declined card is recorded on the invoice (200, see payment_attempts),
 * not an error: the attempt must be kept. */
void
h_inv_pay(struct ctx *c)
{
	struct derr e;

	done(c, payments_pay_invoice(&c->d, NULL, c->req->path_params[0], &e), &e);
}

void
h_inv_void(struct ctx *c)
{
	struct derr e;

	done(c, invoices_void(&c->d, c->req->path_params[0], true, &e), &e);
}

/* Refunds part or all of a paid invoice through the gateway of its charge. */
void
h_inv_refund(struct ctx *c)
{
	struct derr e;

	done(c, payments_refund(&c->d, c->req->path_params[0], json_int(c->body, "amount", -1),
	    &e), &e);
}
