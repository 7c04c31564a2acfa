/* credit.c: the credit ledger. A balance is the sum of a customer's available entries in
 * one currency; spending a positive balance locks the customer row and reads it again, so
 * it never goes below zero. */
#include <stdio.h>
#include <string.h>

#include "billing/credit.h"
#include "billing/events.h"

static int
insert(struct dctx *d, const struct credit_grant *g, const char *status, long long amount,
    char id[DOM_ID_MAX], struct derr *e)
{
	char a[4][24];
	PGresult *res;

	if (dom_new_id("cre", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_CREDIT_INSERT, (const char *[]){ d->site.id, id,
	    g->customer_id, g->currency, buf_lltoa(amount, a[0]), g->source, status,
	    g->description, g->invoice_id, g->source_invoice_id, g->subscription_id,
	    dom_opt(g->period_start, a[1]), dom_opt(g->period_end, a[2]),
	    buf_lltoa(d->now, a[3]) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}

int
credit_grant(struct dctx *d, const struct credit_grant *g, char id[DOM_ID_MAX],
    struct derr *e)
{
	const char *status = "available";

	id[0] = '\0';
	if (g->amount <= 0)
		return 0;
	if (g->source_invoice_id != NULL && g->source_invoice_id[0] != '\0') {
		PGresult *res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id,
		    g->source_invoice_id });
		const char *s;

		if (res == NULL)
			return derr_db(e, d->db);
		s = PQntuples(res) == 1 ? db_val(res, 0, INV_STATUS) : "void";
		/* Credit from a term that was never paid is never spendable. */
		if (strcmp(s, "void") == 0 || strcmp(s, "uncollectible") == 0) {
			PQclear(res);
			return 0;
		}
		if (strcmp(s, "open") == 0)
			status = "pending";
		PQclear(res);
	}
	return insert(d, g, status, g->amount, id, e);
}

int
credit_balance(struct dctx *d, const char *customer_id, const char *currency,
    long long *bal, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_CREDIT_BALANCE, (const char *[]){ d->site.id,
	    customer_id, currency });

	if (res == NULL)
		return derr_db(e, d->db);
	*bal = db_ll(res, 0, 0, 0);
	PQclear(res);
	return 0;
}

void
credit_read_ahead(struct dctx *d, const char *customer_id, const char *currency)
{
	/* credit_apply's first credit_balance */
	db_read_ahead(d->db, STMT_CREDIT_BALANCE, (const char *[]){ d->site.id, customer_id,
	    currency });
}

int
credit_apply(struct dctx *d, const char *customer_id, const char *currency, long long max,
    const char *invoice_id, long long *applied, struct derr *e)
{
	struct credit_grant spend;
	long long bal = 0;
	char id[DOM_ID_MAX];

	*applied = 0;
	if (max <= 0)
		return 0;
	/* Most customers have no credit: nothing to spend, so nothing to lock (credit
	 * granted meanwhile is spent by their next invoice). Otherwise the customer is
	 * locked, which serialises spending, and the balance read again under the lock:
	 * another transaction may have spent it meanwhile. */
	if (credit_balance(d, customer_id, currency, &bal, e) != 0)
		return -1;
	if (bal <= 0)
		return 0;
	/* Only the lock matters: sent ahead where the connection pipelines. */
	if (db_exec_later(d->db, STMT_CUSTOMER_LOCK, (const char *[]){ d->site.id,
	    customer_id }) != 0)
		return derr_db(e, d->db);
	if (credit_balance(d, customer_id, currency, &bal, e) != 0)
		return -1;
	if (bal <= 0)
		return 0;
	*applied = bal < max ? bal : max;
	memset(&spend, 0, sizeof(spend));
	spend.customer_id = customer_id;
	spend.currency = currency;
	spend.source = "applied";
	spend.description = "Applied to an invoice";
	spend.invoice_id = invoice_id;
	spend.period_start = spend.period_end = -1;
	return insert(d, &spend, "available", -*applied, id, e);
}

int
credit_invoice_voided(struct dctx *d, const char *invoice_id, const char *customer_id,
    const char *currency, struct derr *e)
{
	struct credit_grant back;
	PGresult *res;
	long long spent;
	char id[DOM_ID_MAX];

	if (credit_source_settled(d, invoice_id, false, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_CREDIT_APPLIED_TO, (const char *[]){ d->site.id, invoice_id });
	if (res == NULL)
		return derr_db(e, d->db);
	spent = db_ll(res, 0, 0, 0);
	PQclear(res);
	if (spent <= 0)
		return 0;
	memset(&back, 0, sizeof(back));
	back.customer_id = customer_id;
	back.currency = currency;
	back.source = "void";
	back.description = "Given back by a voided invoice";
	back.invoice_id = invoice_id;
	back.period_start = back.period_end = -1;
	return insert(d, &back, "available", spent, id, e);
}

int
credit_source_settled(struct dctx *d, const char *invoice_id, bool paid, struct derr *e)
{
	/* Nothing waits for its answer: sent ahead with the next statement where the
	 * connection pipelines (the job runner's), and a failure fails the level's commit. */
	if (db_exec_later(d->db, STMT_CREDIT_SETTLE_SOURCE, (const char *[]){ d->site.id,
	    invoice_id, paid ? "available" : "void" }) != 0)
		return derr_db(e, d->db);
	return 0;
}
