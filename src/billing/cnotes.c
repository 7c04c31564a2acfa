/* cnotes.c: credit notes: built from the invoice they correct (its frozen buyer, its tax
 * rates), numbered in their own series, stored with their lines and tax lines, their PDF
 * queued, and announced with credit_note.created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/cnotes.h"
#include "billing/documents.h"
#include "billing/events.h"
#include "billing/invoices.h"
#include "billing/objects.h"
#include "billing/taxes.h"

#define CN_MAX_LINES	INV_MAX_LINES

struct cn_line {
	char		 description[240];
	long long	 amount, tax, start, end;
};

/* A credit note being made. */
struct cn {
	/* the invoice it corrects */
	char		 invoice[DOM_ID_MAX], customer[DOM_ID_MAX], currency[4];
	char		 invoice_number[48];
	char		*buyer;			/* the invoice's customer_details */
	long long	 inv_subtotal, inv_tax, inv_total, credited;
	struct tax_ctx	 tc;
	char		 tax_note[240];
	/* what it credits */
	const char	*reason;
	struct cn_line	 lines[CN_MAX_LINES];
	int		 n;
	long long	 taxable[TAX_MAX_RATES], tax[TAX_MAX_RATES];
	long long	 subtotal, tax_total, total;
	long long	 credit_amount, refund_amount, void_amount;
	const char	*credit_entry, *attempt;
};

static void
cn_free(struct cn *c)
{
	free(c->buyer);
	c->buyer = NULL;
}

/* The invoice, its tax lines and what it has credited so far. */
static int
load(struct dctx *d, const char *invoice_id, struct cn *c, struct derr *e)
{
	PGresult *inv, *rows;

	memset(c, 0, sizeof(*c));
	/* A credit note prints the invoice's number: a batch's invoices get theirs first. */
	if (invoices_number_deferred(d, e) != 0)
		return -1;
	inv = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, invoice_id });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) != 1) {
		PQclear(inv);
		return derr_not_found(e, "invoice", invoice_id);
	}
	snprintf(c->invoice, sizeof(c->invoice), "%s", invoice_id);
	snprintf(c->customer, sizeof(c->customer), "%s", db_val(inv, 0, INV_CUSTOMER));
	snprintf(c->currency, sizeof(c->currency), "%s", db_val(inv, 0, INV_CURRENCY));
	if (db_val(inv, 0, INV_NUMBER_TEXT) != NULL)
		snprintf(c->invoice_number, sizeof(c->invoice_number), "%s",
		    db_val(inv, 0, INV_NUMBER_TEXT));
	else
		inv_number_text("INV-", db_ll(inv, 0, INV_NUMBER, 0), c->invoice_number);
	c->buyer = strdup(db_val(inv, 0, INV_CUSTOMER_DETAILS) ?
	    db_val(inv, 0, INV_CUSTOMER_DETAILS) : "{}");
	c->inv_subtotal = db_ll(inv, 0, INV_SUBTOTAL, 0);
	c->inv_tax = db_ll(inv, 0, INV_TAX, 0);
	c->inv_total = db_ll(inv, 0, INV_TOTAL, 0);
	snprintf(c->tax_note, sizeof(c->tax_note), "%s", db_val(inv, 0, INV_TAX_NOTE) ?
	    db_val(inv, 0, INV_TAX_NOTE) : "");
	rows = db_exec(d->db, STMT_INV_TAXES, (const char *[]){ d->site.id, invoice_id });
	if (rows == NULL) {
		PQclear(inv);
		return derr_db(e, d->db);
	}
	taxes_from_rows(rows, taxes_treatment_parse(db_val(inv, 0, INV_TAX_TREATMENT)), &c->tc);
	PQclear(rows);
	PQclear(inv);
	if (c->buyer == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	/* With refunds still in flight: a credit note never takes more than the total. */
	rows = db_exec(d->db, STMT_INV_CREDITED, (const char *[]){ d->site.id, invoice_id });
	if (rows == NULL)
		return derr_db(e, d->db);
	c->credited = db_ll(rows, 0, 0, 0);
	PQclear(rows);
	return 0;
}

/* One line from an amount and its taxes (taxes_line or taxes_share). */
static void
add_line(struct cn *c, const char *desc, const struct tax_amounts *ta, long long start,
    long long end)
{
	struct cn_line *l = &c->lines[c->n++];

	snprintf(l->description, sizeof(l->description), "%s", desc);
	l->amount = ta->amount;
	l->tax = ta->tax_total;
	l->start = start;
	l->end = end;
	for (int r = 0; r < c->tc.n; r++) {
		c->taxable[r] += ta->net;
		c->tax[r] += ta->tax[r];
	}
	c->subtotal += ta->amount;
	c->tax_total += ta->tax_total;
	c->total += ta->gross;
}

/* The invoice's own lines and tax lines, for a credit note that cancels all of it. */
static int
mirror(struct dctx *d, struct cn *c, struct derr *e)
{
	PGresult *lines, *taxes;

	lines = db_exec(d->db, STMT_INV_LINES, (const char *[]){ d->site.id, c->invoice });
	if (lines == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(lines) && c->n < CN_MAX_LINES; i++) {
		struct cn_line *l = &c->lines[c->n++];

		snprintf(l->description, sizeof(l->description), "%s",
		    db_val(lines, i, LINE_DESCRIPTION));
		l->amount = db_ll(lines, i, LINE_AMOUNT, 0);
		l->tax = db_ll(lines, i, LINE_TAX, 0);
		l->start = db_ll(lines, i, LINE_START, -1);
		l->end = db_ll(lines, i, LINE_END, -1);
	}
	PQclear(lines);
	taxes = db_exec(d->db, STMT_INV_TAXES, (const char *[]){ d->site.id, c->invoice });
	if (taxes == NULL)
		return derr_db(e, d->db);
	for (int r = 0; r < PQntuples(taxes) && r < c->tc.n; r++) {
		c->taxable[r] = db_ll(taxes, r, DTAX_TAXABLE, 0);
		c->tax[r] = db_ll(taxes, r, DTAX_AMOUNT, 0);
	}
	PQclear(taxes);
	c->subtotal = c->inv_subtotal;
	c->tax_total = c->inv_tax;
	c->total = c->inv_total;
	return 0;
}

static int
emit(struct dctx *d, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_CREDIT_NOTE, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, "credit_note.created", id, data.data, e);
	buf_free(&data);
	return rc;
}

/* Numbers, stores and announces the credit note; its PDF is queued. */
static int
issue(struct dctx *d, struct cn *c, struct derr *e)
{
	char id[DOM_ID_MAX], seq[24], number[48], a[10][24];
	char *seller;
	PGresult *res;
	int rc;

	if (c->total != c->credit_amount + c->refund_amount + c->void_amount)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "A credit note's total must be what it credits, refunds and cancels.");
	if (dom_new_id("cn", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_CN_COUNTER_NEXT, (const char *[]){ d->site.id });
	if (res == NULL)
		return derr_db(e, d->db);
	snprintf(seq, sizeof(seq), "%s", db_val(res, 0, 0));
	PQclear(res);
	/* The seller as it stands now (the credit note is issued now), the buyer as the
	 * invoice named it (the supply it corrects was made to them). */
	res = db_exec(d->db, STMT_INV_PARTIES, (const char *[]){ d->site.id, c->customer });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", c->customer);
	}
	inv_number_text(db_val(res, 0, PARTY_CREDIT_NOTE_PREFIX), atoll(seq), number);
	seller = strdup(db_val(res, 0, PARTY_SELLER));
	PQclear(res);
	if (seller == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	res = db_exec(d->db, STMT_CN_INSERT, (const char *[]){ d->site.id, id, seq, number,
	    c->invoice, c->customer, c->currency, c->reason, buf_lltoa(c->subtotal, a[0]),
	    buf_lltoa(c->tax_total, a[1]), buf_lltoa(c->total, a[2]),
	    buf_lltoa(c->credit_amount, a[3]), buf_lltoa(c->refund_amount, a[4]),
	    buf_lltoa(c->void_amount, a[5]), c->credit_entry, c->attempt,
	    taxes_treatment_name(c->tc.treatment), c->tax_note[0] ? c->tax_note : NULL,
	    c->buyer, seller, buf_lltoa(d->now, a[6]) });
	free(seller);
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	for (int i = 0; i < c->n; i++) {
		const struct cn_line *l = &c->lines[i];

		res = db_exec(d->db, STMT_CN_LINE_INSERT, (const char *[]){ d->site.id, id,
		    buf_lltoa(i + 1, a[0]), l->description, buf_lltoa(l->amount, a[1]),
		    buf_lltoa(l->tax, a[2]), dom_opt(l->start, a[3]), dom_opt(l->end, a[4]) });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
	}
	for (int r = 0; r < c->tc.n; r++) {
		const struct tax_rate *rt = &c->tc.rates[r];

		res = db_exec(d->db, STMT_CN_TAX_INSERT, (const char *[]){ d->site.id, id,
		    buf_lltoa(r + 1, a[0]), rt->id[0] ? rt->id : NULL, rt->name,
		    buf_lltoa(rt->ppm, a[1]), rt->inclusive ? "true" : "false", rt->country,
		    rt->region[0] ? rt->region : NULL, buf_lltoa(c->taxable[r], a[2]),
		    buf_lltoa(c->tax[r], a[3]) });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
	}
	rc = documents_queue(d, DOC_CREDIT_NOTE, id, number, c->customer, e);
	return rc == 0 ? emit(d, id, e) : rc;
}

static const char *
reason_of(const char *source)
{
	if (strcmp(source, "proration") == 0)
		return "plan_change";
	return source;		/* cancellation, pause */
}

int
cnotes_credit_unused(struct dctx *d, const struct credit_grant *g, long long *granted,
    struct derr *e)
{
	struct credit_grant grant = *g;
	struct tax_amounts ta;
	struct cn c;
	char entry[DOM_ID_MAX];
	long long cap;
	int rc = -1;

	*granted = 0;
	if (g->amount <= 0 || g->source_invoice_id == NULL)
		return 0;
	if (load(d, g->source_invoice_id, &c, e) != 0)
		goto out;
	/* Never more back than the invoice brought in, less what it credited already. */
	cap = c.inv_total - c.credited;
	rc = 0;
	if (cap <= 0)
		goto out;
	taxes_line(&c.tc, g->amount, &ta);
	if (ta.gross > cap)
		taxes_share(&c.tc, cap, &ta);
	c.reason = reason_of(g->source);
	add_line(&c, g->description ? g->description : "Unused time", &ta, g->period_start,
	    g->period_end);
	grant.amount = c.total;
	if ((rc = credit_grant(d, &grant, entry, e)) != 0 || entry[0] == '\0')
		goto out;	/* a term never paid grants nothing, and needs no credit note */
	c.credit_amount = c.total;
	c.credit_entry = entry;
	if ((rc = issue(d, &c, e)) == 0)
		*granted = c.total;
out:
	cn_free(&c);
	return rc;
}

int
cnotes_for_refund(struct dctx *d, const char *invoice_id, long long amount,
    const char *attempt_id, struct derr *e)
{
	struct tax_amounts ta;
	struct cn c;
	char desc[240];
	int rc = -1;

	if (amount <= 0)
		return 0;
	if (load(d, invoice_id, &c, e) != 0)
		goto out;
	c.reason = "refund";
	if (amount == c.inv_total && c.credited == 0) {
		if (mirror(d, &c, e) != 0)
			goto out;
	} else {
		taxes_share(&c.tc, amount, &ta);
		snprintf(desc, sizeof(desc), "Refund on invoice %s", c.invoice_number);
		add_line(&c, desc, &ta, -1, -1);
	}
	c.refund_amount = amount;
	c.attempt = attempt_id;
	rc = issue(d, &c, e);
out:
	cn_free(&c);
	return rc;
}

int
cnotes_for_void(struct dctx *d, const char *invoice_id, long long credit, long long due,
    struct derr *e)
{
	struct cn c;
	int rc = -1;

	if (load(d, invoice_id, &c, e) != 0)
		goto out;
	/* Nothing of an open invoice was ever refunded or credited: it is cancelled whole. */
	if (c.credited != 0 || credit + due != c.inv_total) {
		rc = derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Invoice %s cannot be cancelled whole: %lld credited, %lld + %lld of %lld.",
		    invoice_id, c.credited, credit, due, c.inv_total);
		goto out;
	}
	rc = 0;
	if (c.inv_total <= 0)
		goto out;
	c.reason = "void";
	if ((rc = mirror(d, &c, e)) != 0)
		goto out;
	c.credit_amount = credit;
	c.void_amount = due;
	rc = issue(d, &c, e);
out:
	cn_free(&c);
	return rc;
}
