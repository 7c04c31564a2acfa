/* invoices.c: issuing invoices (gapless per-site numbers, credit applied, buyer and seller
 * details frozen at issue) and voiding them. */
#include <stdio.h>
#include <string.h>

#include "billing/credit.h"
#include "billing/events.h"
#include "billing/invoices.h"
#include "billing/objects.h"
#include "billing/subscriptions.h"

void
inv_draft_init(struct inv_draft *dr, const char *customer_id, const char *sub_id,
    const char *currency)
{
	memset(dr, 0, sizeof(*dr));
	snprintf(dr->customer_id, sizeof(dr->customer_id), "%s", customer_id);
	snprintf(dr->subscription_id, sizeof(dr->subscription_id), "%s", sub_id ? sub_id : "");
	snprintf(dr->currency, sizeof(dr->currency), "%s", currency);
}

void
inv_draft_add(struct inv_draft *dr, const char *kind, const char *desc, long long amount,
    const char *plan_id, long long start, long long end)
{
	struct inv_line *l;

	if (dr->n == INV_MAX_LINES)
		return;
	l = &dr->lines[dr->n++];
	l->kind = kind;
	snprintf(l->description, sizeof(l->description), "%s", desc ? desc : "");
	l->amount = amount;
	snprintf(l->plan_id, sizeof(l->plan_id), "%s", plan_id ? plan_id : "");
	l->start = start;
	l->end = end;
}

long long
inv_draft_total(const struct inv_draft *dr)
{
	long long t = 0;

	for (int i = 0; i < dr->n; i++)
		t += dr->lines[i].amount;
	return t;
}

static int
emit(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_INVOICE, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

int
invoices_raise(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
    struct derr *e)
{
	long long subtotal = inv_draft_total(dr), credit = 0, due;
	char a[8][24], number[24], buyer[4096] = "{}", seller[1024] = "{}";
	PGresult *res;

	if (subtotal < 0)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "An invoice cannot have a negative total.");
	if (dom_new_id("inv", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_COUNTER_NEXT, (const char *[]){ d->site.id });
	if (res == NULL)
		return derr_db(e, d->db);
	snprintf(number, sizeof(number), "%s", db_val(res, 0, 0));
	PQclear(res);
	res = db_exec(d->db, STMT_INV_PARTIES, (const char *[]){ d->site.id, dr->customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1) {
		snprintf(buyer, sizeof(buyer), "%s", db_val(res, 0, 0));
		snprintf(seller, sizeof(seller), "%s", db_val(res, 0, 1));
	}
	PQclear(res);
	/* The invoice row first, then the credit it takes (which refers to it). */
	res = db_exec(d->db, STMT_INV_INSERT, (const char *[]){ d->site.id, id, number,
	    dr->customer_id, dr->subscription_id[0] ? dr->subscription_id : NULL, "open",
	    dr->currency, buf_lltoa(subtotal, a[0]), "0", buf_lltoa(subtotal, a[1]),
	    buf_lltoa(subtotal, a[2]), "0", NULL, buf_lltoa(d->now, a[3]), buyer, seller });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	for (int i = 0; i < dr->n; i++) {
		const struct inv_line *l = &dr->lines[i];
		char ln[24], amt[24], s0[24], s1[24];

		res = db_exec(d->db, STMT_INV_LINE_INSERT, (const char *[]){ d->site.id, id,
		    buf_lltoa(i + 1, ln), l->kind, l->description, buf_lltoa(l->amount, amt),
		    l->plan_id[0] ? l->plan_id : NULL, dom_opt(l->start, s0), dom_opt(l->end, s1) });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
	}
	if (subtotal > 0 && credit_apply(d, dr->customer_id, dr->currency, subtotal, id,
	    &credit, e) != 0)
		return -1;
	due = subtotal - credit;
	if (credit > 0 || due == 0) {
		res = db_exec(d->db, STMT_INV_SET_TOTALS, (const char *[]){ d->site.id, id,
		    buf_lltoa(credit, a[4]), buf_lltoa(due, a[5]), due == 0 ? "paid" : "open",
		    due == 0 ? buf_lltoa(d->now, a[6]) : NULL });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
	}
	if (emit(d, "invoice.created", id, e) != 0)
		return -1;
	if (due == 0) {
		if (emit(d, "invoice.paid", id, e) != 0 ||
		    credit_source_settled(d, id, true, e) != 0)
			return -1;
	}
	return 0;
}

int
invoices_status(struct dctx *d, const char *id, char out[16], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	if (n == 1)
		snprintf(out, 16, "%s", db_val(res, 0, INV_STATUS));
	PQclear(res);
	return n == 1 ? 0 : derr_not_found(e, "invoice", id);
}

int
invoices_void(struct dctx *d, const char *id, bool settle_sub, struct derr *e)
{
	PGresult *inv, *res;
	char status[16], customer[DOM_ID_MAX], currency[4], sub[DOM_ID_MAX], now[24];

	inv = db_exec(d->db, STMT_INV_LOCK, (const char *[]){ d->site.id, id });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) == 0) {
		PQclear(inv);
		return derr_not_found(e, "invoice", id);
	}
	snprintf(status, sizeof(status), "%s", db_val(inv, 0, INV_STATUS));
	snprintf(customer, sizeof(customer), "%s", db_val(inv, 0, INV_CUSTOMER));
	snprintf(currency, sizeof(currency), "%s", db_val(inv, 0, INV_CURRENCY));
	snprintf(sub, sizeof(sub), "%s", db_val(inv, 0, INV_SUBSCRIPTION) ?
	    db_val(inv, 0, INV_SUBSCRIPTION) : "");
	PQclear(inv);
	if (strcmp(status, "open") != 0 && strcmp(status, "uncollectible") != 0)
		return derr_set(e, DERR_CONFLICT, "invoice_not_open", NULL,
		    "The invoice is %s; only open or uncollectible invoices can be voided.",
		    status);
	res = db_exec(d->db, STMT_PAY_PENDING_COUNT, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (db_ll(res, 0, 0, 0) > 0) {
		PQclear(res);
		return derr_set(e, DERR_CONFLICT, "payment_in_progress", NULL,
		    "A charge of this invoice is in progress; try again in a moment.");
	}
	PQclear(res);
	res = db_exec(d->db, STMT_INV_VOID, (const char *[]){ d->site.id, id,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (credit_invoice_voided(d, id, customer, currency, e) != 0 ||
	    emit(d, "invoice.voided", id, e) != 0)
		return -1;
	if (settle_sub && sub[0] != '\0')
		return subs_invoice_settled(d, sub, e);
	return 0;
}
