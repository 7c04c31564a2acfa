/* invoices.c: issuing invoices (gapless per-site numbers, taxes, credit applied, buyer and
 * seller details frozen at issue, the PDF queued) and voiding them (with a credit note). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/cnotes.h"
#include "billing/credit.h"
#include "billing/documents.h"
#include "billing/events.h"
#include "billing/invoices.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/subscriptions.h"
#include "billing/taxes.h"
#include "core/currency.h"
#include "core/log.h"

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
	snprintf(l->kind, sizeof(l->kind), "%s", kind ? kind : "");
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

/* "INV-0042": the prefix as the site's legal details had it, then at least four digits. */
void
inv_number_text(const char *prefix, long long seq, char out[48])
{
	snprintf(out, 48, "%s%04lld", prefix ? prefix : "", seq);
}

/* The taxes of the draft's lines, one rounding per line and rate (taxes.h), and the
 * invoice's tax lines: per rate, the net it applied to and the tax. */
static int
insert_taxes(struct dctx *d, const char *id, const struct tax_ctx *tc,
    const struct tax_amounts *la, int n, PGresult *rows, struct derr *e)
{
	for (int r = 0; r < tc->n; r++) {
		const struct tax_rate *rt = &tc->rates[r];
		long long taxable = 0, amount = 0;
		char a[4][24];

		for (int i = 0; i < n; i++) {
			taxable += la[i].net;
			amount += la[i].tax[r];
		}
		const char *v[DTAX_AMOUNT + 1] = { buf_lltoa(r + 1, a[0]),
		    rt->id[0] ? rt->id : NULL, rt->name, buf_lltoa(rt->ppm, a[1]),
		    rt->inclusive ? "t" : "f", rt->country, rt->region[0] ? rt->region : NULL,
		    buf_lltoa(taxable, a[2]), buf_lltoa(amount, a[3]) };

		if (db_exec_later(d->db, STMT_INV_TAX_INSERT, (const char *[]){ d->site.id, id,
		    v[DTAX_NO], v[DTAX_RATE_ID], v[DTAX_NAME], v[DTAX_PPM], v[DTAX_INCLUSIVE],
		    v[DTAX_COUNTRY], v[DTAX_REGION], v[DTAX_TAXABLE], v[DTAX_AMOUNT] }) != 0)
			return derr_db(e, d->db);
		for (int c = 0; c <= DTAX_AMOUNT; c++)
			if (db_result_set(rows, r, c, v[c]) != 0)
				return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL,
				    "Out of memory.");
	}
	return 0;
}

/* invoice.created, from what was just written (the invoice row, its lines and tax lines
 * as a read back would give them; no payment attempt yet): no statement. */
static int
emit_issued(struct dctx *d, const char *id, PGresult *inv, PGresult *lines,
    PGresult *taxes, struct derr *e)
{
	PGresult *pays = db_result_new(PAY_WALL_CREATED + 1);
	struct buf data;
	int rc;

	if (inv == NULL || lines == NULL || taxes == NULL || pays == NULL) {
		PQclear(pays);
		return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL, "Out of memory.");
	}
	buf_init(&data);
	obj_render_invoice(d, inv, lines, pays, taxes, &data);
	PQclear(pays);
	rc = obj_check_render(d, OBJ_INVOICE, id, data.data, e);
	if (rc == 0)
		rc = events_emit(d, "invoice.created", id, data.data, e);
	buf_free(&data);
	return rc;
}

/* An invoice about to be written, its number and parties settled and its taxes worked
 * out. */
struct issue {
	const struct inv_draft	*dr;
	const char		*id, *number, *number_text, *buyer, *seller;
	bool			 deferred;	/* number is a placeholder */
	const struct tax_ctx	*tc;
	const struct tax_amounts *la;	/* per line */
	long long		 subtotal, tax, total;
};

/* Writes the invoice (its row, lines, tax lines, the credit it takes), queues its PDF
 * unless its number is deferred, and emits its events; inv, lines and taxes are filled
 * with the rows written, for invoice.created. */
static int
issue(struct dctx *d, const struct issue *is, PGresult *inv, PGresult *lines,
    PGresult *taxes, struct derr *e)
{
	const struct inv_draft *dr = is->dr;
	const struct tax_ctx *tc = is->tc;
	const char *id = is->id, *number_text = is->number_text;
	long long subtotal = is->subtotal, total = is->total, credit = 0, due;
	char a[8][24];
	const char *v[INV_DISPUTE_REASON + 1] = { NULL };
	bool oom = inv == NULL || lines == NULL || taxes == NULL;

	if (oom)
		return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL, "Out of memory.");
	/* The invoice row first, then the credit it takes (which refers to it). */
	v[INV_ID] = id;
	v[INV_NUMBER] = is->number;
	v[INV_CUSTOMER] = dr->customer_id;
	v[INV_SUBSCRIPTION] = dr->subscription_id[0] ? dr->subscription_id : NULL;
	v[INV_STATUS] = "open";
	v[INV_CURRENCY] = dr->currency;
	v[INV_SUBTOTAL] = buf_lltoa(subtotal, a[0]);
	v[INV_CREDIT] = "0";
	v[INV_TOTAL] = buf_lltoa(total, a[1]);
	v[INV_DUE] = v[INV_TOTAL];
	v[INV_PAID] = "0";
	v[INV_ATTEMPTS] = "0";
	v[INV_CREATED] = buf_lltoa(d->now, a[3]);
	v[INV_REFUNDED] = "0";
	v[INV_CUSTOMER_DETAILS] = is->buyer;
	v[INV_SELLER_DETAILS] = is->seller;
	v[INV_NUMBER_TEXT] = number_text;
	v[INV_TAX] = buf_lltoa(is->tax, a[7]);
	v[INV_TAX_TREATMENT] = taxes_treatment_name(tc->treatment);
	v[INV_TAX_NOTE] = tc->treatment == TAX_REVERSE_CHARGE ? TAX_REVERSE_CHARGE_NOTE : NULL;
	v[INV_CREDITED] = "0";
	if (db_exec_later(d->db, STMT_INV_INSERT, (const char *[]){ d->site.id, id,
	    is->number, v[INV_CUSTOMER], v[INV_SUBSCRIPTION], v[INV_STATUS], dr->currency,
	    v[INV_SUBTOTAL], "0", v[INV_TOTAL], v[INV_DUE], "0", NULL, v[INV_CREATED],
	    is->buyer, is->seller, number_text, v[INV_TAX], v[INV_TAX_TREATMENT],
	    v[INV_TAX_NOTE] }) != 0)
		return derr_db(e, d->db);
	for (int i = 0; i < dr->n; i++) {
		const struct inv_line *l = &dr->lines[i];
		char ln[24], amt[24], s0[24], s1[24], tx[24];
		const char *lv[LINE_TAX + 1] = { buf_lltoa(i + 1, ln), l->kind, l->description,
		    buf_lltoa(l->amount, amt), l->plan_id[0] ? l->plan_id : NULL,
		    dom_opt(l->start, s0), dom_opt(l->end, s1),
		    buf_lltoa(is->la[i].tax_total, tx) };

		if (db_exec_later(d->db, STMT_INV_LINE_INSERT, (const char *[]){ d->site.id, id,
		    lv[LINE_NO], lv[LINE_KIND], lv[LINE_DESCRIPTION], lv[LINE_AMOUNT],
		    lv[LINE_PLAN], lv[LINE_START], lv[LINE_END], lv[LINE_TAX] }) != 0)
			return derr_db(e, d->db);
		for (int c = 0; c <= LINE_TAX && !oom; c++)
			oom = db_result_set(lines, i, c, lv[c]) != 0;
	}
	if (insert_taxes(d, id, tc, is->la, dr->n, taxes, e) != 0)
		return -1;
	if (total > 0 && credit_apply(d, dr->customer_id, dr->currency, total, id, &credit,
	    e) != 0)
		return -1;
	due = total - credit;
	if (credit > 0 || due == 0) {
		v[INV_CREDIT] = buf_lltoa(credit, a[4]);
		v[INV_DUE] = buf_lltoa(due, a[5]);
		v[INV_STATUS] = due == 0 ? "paid" : "open";
		v[INV_PAID_AT] = due == 0 ? buf_lltoa(d->now, a[6]) : NULL;
		if (db_exec_later(d->db, STMT_INV_SET_TOTALS, (const char *[]){ d->site.id, id,
		    v[INV_CREDIT], v[INV_DUE], v[INV_STATUS], v[INV_PAID_AT] }) != 0)
			return derr_db(e, d->db);
	}
	for (int c = 0; c <= INV_DISPUTE_REASON && !oom; c++)
		oom = db_result_set(inv, 0, c, v[c]) != 0;
	if (oom)
		return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL, "Out of memory.");
	/* A deferred number queues the PDF with it (invoices_number_deferred). */
	if (!is->deferred && documents_queue(d, DOC_INVOICE, id, number_text,
	    dr->customer_id, e) != 0)
		return -1;
	if (emit_issued(d, id, inv, lines, taxes, e) != 0)
		return -1;
	if (due == 0) {
		if (emit(d, "invoice.paid", id, e) != 0 ||
		    credit_source_settled(d, id, true, e) != 0)
			return -1;
		return 0;
	}
	memset(&d->issued, 0, sizeof(d->issued));
	snprintf(d->issued.id, sizeof(d->issued.id), "%s", id);
	snprintf(d->issued.customer_id, sizeof(d->issued.customer_id), "%s", dr->customer_id);
	snprintf(d->issued.currency, sizeof(d->issued.currency), "%s", dr->currency);
	d->issued.due = due;
	d->issued.fresh = true;
	return 0;
}

int
invoices_raise_as(struct dctx *d, const struct inv_draft *dr, const char *id,
    struct derr *e)
{
	long long subtotal = inv_draft_total(dr), total, tax = 0, excl = 0;
	char number[24], number_text[48], buyer[4096] = "{}", seller[4096] = "{}";
	struct tax_amounts la[INV_MAX_LINES];
	struct tax_ctx tc;
	PGresult *res, *inv, *lines, *taxes;
	bool deferred;
	int rc;

	d->issued.id[0] = '\0';	/* set again below once this one is issued open */

	if (subtotal < 0)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "An invoice cannot have a negative total.");
	/* A job runner's batch numbers its invoices at its end (invoices_number_deferred).
	 * Past FACTS_DEFER_MAX of them, the list is numbered and the rest of the batch takes
	 * numbers at once (the counter is held to the commit from then on anyway), so numbers
	 * still follow the order of issue. */
	deferred = d->facts != NULL && d->facts->defer_numbers;
	if (deferred && d->facts->nunnumbered == FACTS_DEFER_MAX) {
		if (invoices_number_deferred(d, e) != 0)
			return -1;
		deferred = false;
	}
	if (!deferred) {
		res = db_exec(d->db, STMT_COUNTER_NEXT, (const char *[]){ d->site.id });
		if (res == NULL)
			return derr_db(e, d->db);
		snprintf(number, sizeof(number), "%s", db_val(res, 0, 0));
		PQclear(res);
	}
	/* The balance its credit is spent from travels with its parties. */
	credit_read_ahead(d, dr->customer_id, dr->currency);
	res = db_exec(d->db, STMT_INV_PARTIES, (const char *[]){ d->site.id, dr->customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", dr->customer_id);
	}
	snprintf(buyer, sizeof(buyer), "%s", db_val(res, 0, PARTY_BUYER));
	snprintf(seller, sizeof(seller), "%s", db_val(res, 0, PARTY_SELLER));
	if (deferred) {
		struct site_facts *f = d->facts;

		/* Until then a number no committed invoice has: negative, and unique among all
		 * transactions (the server's id of this one, and the slot). */
		_Static_assert(FACTS_DEFER_MAX < 64, "a placeholder's slot fits in 6 bits");
		if (f->txid == 0) {
			PGresult *x = db_exec(d->db, STMT_TXID, NULL);

			if (x == NULL) {
				PQclear(res);
				return derr_db(e, d->db);
			}
			f->txid = db_ll(x, 0, 0, 0);
			PQclear(x);
		}
		snprintf(number, sizeof(number), "%lld", -(f->txid * 64 + f->nunnumbered + 1));
		snprintf(number_text, sizeof(number_text), "%s", number);
		snprintf(f->unnumbered[f->nunnumbered], DOM_ID_MAX, "%s", id);
		snprintf(f->unnumbered_prefix[f->nunnumbered], sizeof(f->unnumbered_prefix[0]),
		    "%s", db_val(res, 0, PARTY_INVOICE_PREFIX));
		f->unnumbered_charged[f->nunnumbered] = false;
		f->nunnumbered++;
	} else
		inv_number_text(db_val(res, 0, PARTY_INVOICE_PREFIX), atoll(number), number_text);
	if (taxes_from_parties(d, res, &tc, e) != 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	for (int i = 0; i < dr->n; i++) {
		taxes_line(&tc, dr->lines[i].amount, &la[i]);
		tax += la[i].tax_total;
		excl += la[i].excl;
	}
	/* Exclusive tax is added to the lines; inclusive tax is inside them already. */
	total = subtotal + excl;
	inv = db_result_new(INV_DISPUTE_REASON + 1);
	lines = db_result_new(LINE_TAX + 1);
	taxes = db_result_new(DTAX_AMOUNT + 1);
	rc = issue(d, &(struct issue){ .dr = dr, .id = id, .number = number,
	    .number_text = number_text, .buyer = buyer, .seller = seller, .deferred = deferred,
	    .tc = &tc, .la = la, .subtotal = subtotal, .tax = tax, .total = total }, inv, lines,
	    taxes, e);
	PQclear(inv);
	PQclear(lines);
	PQclear(taxes);
	return rc;
}

int
invoices_raise(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
    struct derr *e)
{
	if (dom_new_id("inv", id, e) != 0)
		return -1;
	return invoices_raise_as(d, dr, id, e);
}

/* The batch's invoices issued since the last call, numbered in one statement in the
 * order of issue (STMT_INV_NUMBER_BATCH): the row and its events get the number, its
 * first charge is counted if it went out in the batch (invoices_first_attempt_deferred),
 * and its PDF is queued; the batch's events not written yet are written with it.
 * Called before anything else reads a placeholder (a mail, a credit note) and before the
 * batch commits. */
int
invoices_number_deferred(struct dctx *d, struct derr *e)
{
	struct site_facts *f = d->facts;
	struct buf ids, prefixes, atts, evs;
	char n[24];
	PGresult *res;
	int rc = 0;

	if (f == NULL || f->numbered == f->nunnumbered)
		return 0;
	buf_init(&ids);
	buf_init(&prefixes);
	buf_init(&atts);
	buf_init(&evs);
	events_pending_json(d, &evs);
	/* Array literals: ids are [A-Za-z0-9_-]; prefixes are quoted and escaped. */
	buf_puts(&ids, "{");
	buf_puts(&prefixes, "{");
	buf_puts(&atts, "{");
	for (int i = f->numbered; i < f->nunnumbered; i++) {
		buf_puts(&ids, i > f->numbered ? "," : "");
		buf_puts(&ids, f->unnumbered[i]);
		buf_puts(&atts, i > f->numbered ? "," : "");
		buf_puts(&atts, f->unnumbered_charged[i] ? "1" : "NULL");
		buf_puts(&prefixes, i > f->numbered ? ",\"" : "\"");
		for (const char *p = f->unnumbered_prefix[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_puts(&prefixes, "\\");
			buf_putc(&prefixes, *p);
		}
		buf_puts(&prefixes, "\"");
	}
	buf_puts(&ids, "}");
	buf_puts(&prefixes, "}");
	buf_puts(&atts, "}");
	res = db_exec(d->db, STMT_INV_NUMBER_BATCH, (const char *[]){ d->site.id, ids.data,
	    prefixes.data, buf_lltoa(f->nunnumbered - f->numbered, n), evs.data, atts.data });
	if (res == NULL)
		rc = derr_db(e, d->db);
	else if (db_ll(res, 0, 0, -1) != f->nunnumbered - f->numbered ||
	    db_ll(res, 0, 1, -1) != f->nevents - f->nevents_written) {
		rc = derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Numbering the batch's invoices found %s of %d (events: %s of %d).",
		    db_val(res, 0, 0), f->nunnumbered - f->numbered, db_val(res, 0, 1),
		    f->nevents - f->nevents_written);
	} else {
		f->numbered = f->nunnumbered;
		events_written(d);
	}
	PQclear(res);
	buf_free(&ids);
	buf_free(&prefixes);
	buf_free(&atts);
	buf_free(&evs);
	return rc;
}

bool
invoices_first_attempt_deferred(struct dctx *d, const char *invoice_id)
{
	struct site_facts *f = d->facts;

	if (f == NULL)
		return false;
	for (int i = f->numbered; i < f->nunnumbered; i++)
		if (strcmp(f->unnumbered[i], invoice_id) == 0) {
			f->unnumbered_charged[i] = true;
			return true;
		}
	return false;
}

int
invoices_create(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
    struct derr *e)
{
	const struct currency *cur = currency_get(dr->currency);
	PGresult *res;
	int n;

	if (cur == NULL || !cur->billable)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "currency",
		    "currency must be a current ISO 4217 code such as \"EUR\".");
	if (dr->n == 0)
		return derr_set(e, DERR_INVALID, "parameter_missing", "lines",
		    "An invoice needs at least one line.");
	for (int i = 0; i < dr->n; i++) {
		if ((dr->lines[i].start >= 0) != (dr->lines[i].end >= 0) ||
		    dr->lines[i].end < dr->lines[i].start) {
			derr_set(e, DERR_INVALID, "parameter_invalid", NULL,
			    "A line's period needs both period_start and period_end, in order.");
			snprintf(e->param, sizeof(e->param), "lines[%d].period_end", i);
			return -1;
		}
	}
	if (inv_draft_total(dr) <= 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "lines",
		    "An invoice must charge something.");
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, dr->customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return derr_set(e, DERR_NOT_FOUND, "resource_missing", "customer_id",
		    "No such customer: '%s'", dr->customer_id);
	if (invoices_raise(d, dr, id, e) != 0)
		return -1;
	return payments_collect(d, id, e);
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
	long long credit, due;

	if (invoices_number_deferred(d, e) != 0)
		return -1;
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
	credit = db_ll(inv, 0, INV_CREDIT, 0);
	due = db_ll(inv, 0, INV_DUE, 0) - db_ll(inv, 0, INV_PAID, 0);
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
	/* The credit it used comes back to the balance; the credit note cancels the whole
	 * invoice: that credit, and what was still due. */
	if (credit_invoice_voided(d, id, customer, currency, e) != 0 ||
	    cnotes_for_void(d, id, credit, due, e) != 0 ||
	    emit(d, "invoice.voided", id, e) != 0)
		return -1;
	if (settle_sub && sub[0] != '\0')
		return subs_invoice_settled(d, sub, e);
	return 0;
}
