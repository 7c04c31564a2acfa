/* payments.c: charges and refunds in three steps (DESIGN, rulings): the intent is recorded
 * as a pending attempt with a stable idempotency key and committed; the gateway is called
 * outside any transaction; the answer is recorded in a new transaction, which marks the
 * invoice paid or runs dunning and moves the subscription. An attempt whose answer was
 * lost stays pending and is resolved from its key by the job runner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/cnotes.h"
#include "billing/credit.h"
#include "billing/events.h"
#include "billing/gateways.h"
#include "billing/invoices.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/setups.h"
#include "billing/subscriptions.h"
#include "core/log.h"

/* The invoice's event; row: the invoice as a statement just returned it (INV_COLS),
 * else it is read. */
static int
emit_invoice_row(struct dctx *d, const char *type, const char *id, PGresult *row,
    struct derr *e)
{
	struct buf data;
	int rc;

	/* These events may send mail, which shows the number: a batch's invoices get theirs
	 * first (invoices_number_deferred). */
	if (invoices_number_deferred(d, e) != 0)
		return -1;
	buf_init(&data);
	rc = row != NULL ? obj_render_row(d, OBJ_INVOICE, row, 0, &data, e) :
	    obj_render(d, OBJ_INVOICE, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

static int
emit_invoice(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	return emit_invoice_row(d, type, id, NULL, e);
}

void
payments_queue(struct dctx *d, const char *attempt_id)
{
	if (d->npending == DOM_PENDING_MAX) {
		d->pending_overflow = true;	/* the runner resolves it shortly */
		return;
	}
	snprintf(d->pending[d->npending++], DOM_ID_MAX, "%s", attempt_id);
}

/* The site's dunning schedule (seconds after the invoice) and its final action. */
static int
dunning(struct dctx *d, long long sched[16], int *n, bool *cancel, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_SITE_BILLING, (const char *[]){ d->site.id });
	char list[256], *tok, *save = NULL;

	if (res == NULL)
		return derr_db(e, d->db);
	snprintf(list, sizeof(list), "%s", PQntuples(res) == 1 && db_val(res, 0, 0) ?
	    db_val(res, 0, 0) : "");
	*cancel = PQntuples(res) != 1 || strcmp(db_val(res, 0, 1), "cancel") == 0;
	PQclear(res);
	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok && *n < 16; tok = strtok_r(NULL, ",", &save))
		sched[(*n)++] = atoll(tok);
	return 0;
}

/* A charge failed: the next retry, or the end of dunning. */
static int
charge_failed(struct dctx *d, const char *inv_id, struct derr *e)
{
	PGresult *inv;
	long long sched[16], created, attempts, next = -1;
	char sub[DOM_ID_MAX], a[2][24];
	bool cancel = true, give_up = false;
	int n = 0;

	inv = db_exec(d->db, STMT_INV_LOCK, (const char *[]){ d->site.id, inv_id });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) != 1 || strcmp(db_val(inv, 0, INV_STATUS), "open") != 0) {
		PQclear(inv);
		return 0;
	}
	created = db_ll(inv, 0, INV_CREATED, d->now);
	attempts = db_ll(inv, 0, INV_ATTEMPTS, 1);
	snprintf(sub, sizeof(sub), "%s", db_val(inv, 0, INV_SUBSCRIPTION) ?
	    db_val(inv, 0, INV_SUBSCRIPTION) : "");
	PQclear(inv);
	if (dunning(d, sched, &n, &cancel, e) != 0)
		return -1;
	if (attempts <= n) {
		next = created + sched[attempts - 1];
		if (next < d->now)
			next = d->now;	/* overdue after time travel: the next pass */
	} else
		give_up = true;
	if (db_exec_later(d->db, STMT_INV_SET_ATTEMPT, (const char *[]){ d->site.id, inv_id,
	    buf_lltoa(attempts, a[0]), dom_opt(next, a[1]) }) != 0)
		return derr_db(e, d->db);
	if (give_up && !cancel) {
		inv = db_exec(d->db, STMT_INV_SET_STATUS, (const char *[]){ d->site.id, inv_id,
		    "uncollectible" });
		if (inv == NULL)
			return derr_db(e, d->db);
		PQclear(inv);
	}
	if (emit_invoice(d, "invoice.payment_failed", inv_id, e) != 0)
		return -1;
	if (give_up && !cancel && (emit_invoice(d, "invoice.marked_uncollectible", inv_id,
	    e) != 0 || credit_source_settled(d, inv_id, false, e) != 0))
		return -1;
	if (sub[0] == '\0')
		return 0;
	if (subs_payment_failed(d, sub, e) != 0)
		return -1;
	return give_up ? subs_dunning_exhausted(d, sub, cancel, e) : 0;
}

static int
charge_succeeded(struct dctx *d, const char *inv_id, long long amount, struct derr *e)
{
	PGresult *inv;
	char sub[DOM_ID_MAX], a[2][24];
	int rc;

	/* Paid if still open, and the invoice as it is now for its event: one statement. */
	inv = db_exec(d->db, STMT_INV_MARK_PAID, (const char *[]){ d->site.id, inv_id,
	    buf_lltoa(amount, a[0]), buf_lltoa(d->now, a[1]) });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) != 1) {
		/* Cannot happen while voiding waits for charges in flight; keep the money's
		 * trace loud rather than silent. */
		log_error("site %s: charge succeeded on invoice %s that is not open", d->site.id,
		    inv_id);
		PQclear(inv);
		return 0;
	}
	snprintf(sub, sizeof(sub), "%s", db_val(inv, 0, INV_SUBSCRIPTION) ?
	    db_val(inv, 0, INV_SUBSCRIPTION) : "");
	rc = emit_invoice_row(d, "invoice.paid", inv_id, inv, e);
	PQclear(inv);
	if (rc != 0 || credit_source_settled(d, inv_id, true, e) != 0)
		return -1;
	return sub[0] != '\0' ? subs_invoice_settled(d, sub, e) : 0;
}

/* gateway: the card's (or, for a refund, the charge's) gateway, which answers for the
 * attempt even after the site changes gateway. return_url: an on-session charge. */
static int
insert_attempt(struct dctx *d, const char *id, const char *inv, const char *pm,
    long long amount, const char *outcome, const char *idem, const char *kind,
    const char *currency, const char *gateway, const char *return_url, struct derr *e)
{
	char a[3][24];
	bool done = strcmp(outcome, "pending") != 0;
	if (db_exec_later(d->db, STMT_PAY_INSERT, (const char *[]){ d->site.id, id, inv, pm,
	    buf_lltoa(amount, a[0]), outcome, idem, buf_lltoa(d->now, a[1]), kind, NULL,
	    gateway[0] ? gateway : "test", currency, done ? buf_lltoa(d->now, a[2]) : NULL,
	    return_url }) != 0)
		return derr_db(e, d->db);
	return 0;
}

static void
due_from_row(struct due_invoice *v, PGresult *inv)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%s", db_val(inv, 0, INV_ID));
	snprintf(v->customer_id, sizeof(v->customer_id), "%s", db_val(inv, 0, INV_CUSTOMER));
	snprintf(v->currency, sizeof(v->currency), "%s", db_val(inv, 0, INV_CURRENCY));
	v->due = db_ll(inv, 0, INV_DUE, 0);
	v->attempts = db_ll(inv, 0, INV_ATTEMPTS, 0);
}

/* Phase one of a charge of the open invoice (locked by the caller, or issued in this
 * transaction), on-session when return_url is given. */
static int
collect(struct dctx *d, const struct due_invoice *v, const char *return_url,
    struct derr *e)
{
	PGresult *pm, *res = NULL;
	long long attempts = v->attempts + 1;
	char idem[DOM_ID_MAX + 24], id[DOM_ID_MAX], a[24], gw[16];
	int rc;

	if (v->fresh) {
		pm = db_exec(d->db, STMT_PM_DEFAULT, (const char *[]){ d->site.id,
		    v->customer_id });
		if (pm == NULL)
			return derr_db(e, d->db);
	} else {
		/* A charge in flight, and the card a new one would use: one round trip where
		 * the connection pipelines. */
		const enum stmt_id ids[2] = { STMT_PAY_PENDING_CHARGE, STMT_PM_DEFAULT };
		PGresult *r[2];

		if (db_exec_all(d->db, 2, ids, (const char *const *const[]){
		    (const char *[]){ d->site.id, v->id },
		    (const char *[]){ d->site.id, v->customer_id } }, r) != 0)
			return derr_db(e, d->db);
		res = r[0];
		pm = r[1];
	}
	rc = res != NULL && PQntuples(res) > 0;
	/* The customer is back for a charge still waiting for them at the bank's page: the
	 * same attempt again (its gateway gives the same page, or its answer by now). */
	if (rc && return_url != NULL && db_val(res, 0, PAY_RETURN_URL) != NULL)
		payments_queue(d, db_val(res, 0, PAY_ID));
	PQclear(res);
	if (rc) {
		PQclear(pm);
		return 0;	/* a charge is in flight: its answer decides */
	}
	/* The key a gateway gets: one charge per invoice attempt, ever. */
	snprintf(idem, sizeof(idem), "%s-%lld", v->id, attempts);
	/* The attempt is counted now, or, for the first charge of an invoice a job runner's
	 * batch has yet to number, by that numbering: the row is not updated once more for
	 * it. Not when the charge fails here: charge_failed reads the count back. */
	if (dom_new_id("pay", id, e) != 0 || ((PQntuples(pm) == 0 || !v->fresh ||
	    attempts != 1 || !invoices_first_attempt_deferred(d, v->id)) &&
	    db_exec_later(d->db, STMT_INV_SET_ATTEMPT, (const char *[]){ d->site.id, v->id,
	    buf_lltoa(attempts, a), NULL }) != 0)) {
		PQclear(pm);
		return d->db->status == DB_OK ? -1 : derr_db(e, d->db);
	}
	if (PQntuples(pm) == 0) {
		PQclear(pm);
		if (gateways_site_name(d, gw, e) != 0 || insert_attempt(d, id, v->id, NULL,
		    v->due, "no_payment_method", idem, "charge", v->currency, gw, NULL, e) != 0)
			return -1;
		return charge_failed(d, v->id, e);
	}
	/* Only a gateway that can send the customer to their bank charges on-session. */
	if (return_url != NULL && strcmp(db_val(pm, 0, PM_GATEWAY), "stripe") != 0)
		return_url = NULL;
	rc = insert_attempt(d, id, v->id, db_val(pm, 0, PM_ID), v->due, "pending", idem,
	    "charge", v->currency, db_val(pm, 0, PM_GATEWAY), return_url, e);
	PQclear(pm);
	if (rc != 0)
		return -1;
	payments_queue(d, id);
	return 0;
}

int
payments_collect(struct dctx *d, const char *invoice_id, struct derr *e)
{
	struct due_invoice v;
	PGresult *inv;

	/* Issued just now, here: open, never charged, and seen by no one else yet. */
	if (d->issued.id[0] != '\0' && strcmp(d->issued.id, invoice_id) == 0) {
		v = d->issued;
		d->issued.id[0] = '\0';
		return collect(d, &v, NULL, e);
	}
	inv = db_exec(d->db, STMT_INV_LOCK, (const char *[]){ d->site.id, invoice_id });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) != 1 || strcmp(db_val(inv, 0, INV_STATUS), "open") != 0) {
		PQclear(inv);
		return 0;
	}
	due_from_row(&v, inv);
	PQclear(inv);
	return collect(d, &v, NULL, e);
}

/* Phase one of paying one open invoice now, of customer_id unless NULL; on-session when
 * return_url is set. */
static int
pay_open(struct dctx *d, const char *invoice_id, const char *customer_id,
    const char *return_url, struct derr *e)
{
	PGresult *inv = db_exec(d->db, STMT_INV_LOCK, (const char *[]){ d->site.id,
	    invoice_id });
	struct due_invoice v;

	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) != 1 || (customer_id != NULL &&
	    strcmp(db_val(inv, 0, INV_CUSTOMER), customer_id) != 0)) {
		PQclear(inv);
		return derr_not_found(e, "invoice", invoice_id);
	}
	if (strcmp(db_val(inv, 0, INV_STATUS), "open") != 0) {
		derr_set(e, DERR_CONFLICT, "invoice_not_open", NULL,
		    "The invoice is %s; only open invoices can be paid.",
		    db_val(inv, 0, INV_STATUS));
		PQclear(inv);
		return -1;
	}
	due_from_row(&v, inv);
	PQclear(inv);
	return collect(d, &v, return_url, e);
}

int
payments_pay_invoice(struct dctx *d, const char *customer_id, const char *invoice_id,
    struct derr *e)
{
	return pay_open(d, invoice_id, customer_id, NULL, e);
}

int
payments_collect_on_session(struct dctx *d, const char *invoice_id, const char *customer_id,
    const char *return_url, struct derr *e)
{
	if (return_url == NULL || check_http_url(return_url) != NULL ||
	    strlen(return_url) > 2000)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "return_url",
		    "return_url must be an http(s) address of at most 2000 characters.");
	return pay_open(d, invoice_id, customer_id, return_url, e);
}

int
payments_retry_customer(struct dctx *d, const char *customer_id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_INV_OPEN_FOR_CUSTOMER, (const char *[]){ d->site.id,
	    customer_id });
	int rc = 0;

	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = payments_collect(d, db_val(res, i, 0), e);
	PQclear(res);
	return rc;
}

int
payments_refund(struct dctx *d, const char *invoice_id, long long amount, struct derr *e)
{
	PGresult *inv, *res;
	long long left, total;
	char id[DOM_ID_MAX], idem[DOM_ID_MAX * 2 + 16], pm[DOM_ID_MAX] = "", currency[4];
	char gw[16];
	int rc;

	inv = db_exec(d->db, STMT_INV_LOCK, (const char *[]){ d->site.id, invoice_id });
	if (inv == NULL)
		return derr_db(e, d->db);
	if (PQntuples(inv) == 0) {
		PQclear(inv);
		return derr_not_found(e, "invoice", invoice_id);
	}
	if (strcmp(db_val(inv, 0, INV_STATUS), "paid") != 0) {
		derr_set(e, DERR_CONFLICT, "invoice_not_paid", NULL,
		    "The invoice is %s; only paid invoices can be refunded.",
		    db_val(inv, 0, INV_STATUS));
		PQclear(inv);
		return -1;
	}
	left = db_ll(inv, 0, INV_PAID, 0) - db_ll(inv, 0, INV_REFUNDED, 0);
	total = db_ll(inv, 0, INV_TOTAL, 0);
	snprintf(currency, sizeof(currency), "%s", db_val(inv, 0, INV_CURRENCY));
	PQclear(inv);
	res = db_exec(d->db, STMT_PAY_REFUNDING, (const char *[]){ d->site.id, invoice_id });
	if (res == NULL)
		return derr_db(e, d->db);
	left -= db_ll(res, 0, 0, 0);	/* refunds still in flight */
	PQclear(res);
	/* Each refund gets a credit note, and an invoice's credit notes never exceed its
	 * total: what was credited to the balance already (unused time) is not refunded too. */
	res = db_exec(d->db, STMT_INV_CREDITED, (const char *[]){ d->site.id, invoice_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (total - db_ll(res, 0, 0, 0) < left)
		left = total - db_ll(res, 0, 0, 0);
	PQclear(res);
	if (amount < 0)
		amount = left;
	if (amount <= 0 || amount > left)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "amount",
		    "amount must be between 1 and the %lld still refundable.", left);
	res = db_exec(d->db, STMT_PAY_LAST_CHARGE, (const char *[]){ d->site.id, invoice_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_set(e, DERR_CONFLICT, "nothing_charged", NULL,
		    "No card charge paid this invoice.");
	}
	snprintf(pm, sizeof(pm), "%s", db_val(res, 0, PAY_PM) ? db_val(res, 0, PAY_PM) : "");
	snprintf(gw, sizeof(gw), "%s", db_val(res, 0, PAY_GATEWAY));
	PQclear(res);
	if (dom_new_id("pay", id, e) != 0)
		return -1;
	/* One key per refund, stable across retries of this refund. */
	snprintf(idem, sizeof(idem), "%s-refund-%s", invoice_id, id);
	rc = insert_attempt(d, id, invoice_id, pm[0] ? pm : NULL, amount, "pending", idem,
	    "refund", currency, gw, NULL, e);
	if (rc == 0)
		payments_queue(d, id);
	return rc;
}

static void
outcome_text(const struct gw_result *r, char out[48])
{
	if (r->outcome == GW_SUCCEEDED)
		snprintf(out, 48, "succeeded");
	else if (r->outcome == GW_REQUIRES_ACTION)
		snprintf(out, 48, "authentication_required");
	else if (strcmp(r->code, "insufficient_funds") == 0 || strcmp(r->code, "expired_card") == 0
	    || strcmp(r->code, "no_payment_method") == 0 ||
	    strcmp(r->code, "authentication_required") == 0)
		snprintf(out, 48, "%s", r->code);
	else if (strcmp(r->code, "processing_error") == 0)
		snprintf(out, 48, "processing_error");
	else
		snprintf(out, 48, "declined");
}

int
payments_record(struct dctx *d, const char *attempt_id, const struct gw_result *r,
    struct derr *e)
{
	PGresult *res;
	char outcome[48], now[24], inv[DOM_ID_MAX], kind[16];
	long long amount;

	if (r->outcome == GW_UNKNOWN || r->outcome == GW_PENDING || r->outcome == GW_NOT_FOUND)
		return 0;	/* still in flight: asked again later with the same key */
	if (r->outcome == GW_REQUIRES_ACTION && r->action_url[0] != '\0')
		return 0;	/* the customer is on their way to their bank; the gateway's
				 * webhook (or the runner, once abandoned) gives the answer */
	outcome_text(r, outcome);
	res = db_exec(d->db, STMT_PAY_COMPLETE, (const char *[]){ d->site.id, attempt_id,
	    outcome, r->ref[0] ? r->ref : NULL, r->message[0] ? r->message : NULL,
	    buf_lltoa(d->now, now), r->decline_code[0] ? r->decline_code : NULL });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;	/* recorded already, by another runner */
	}
	snprintf(inv, sizeof(inv), "%s", db_val(res, 0, PAY_INVOICE));
	snprintf(kind, sizeof(kind), "%s", db_val(res, 0, PAY_KIND));
	amount = db_ll(res, 0, PAY_AMOUNT, 0);
	if (r->outcome == GW_SUCCEEDED && strcmp(kind, "charge") == 0) {
		/* What a paid invoice's event, its receipt and its subscription's settling
		 * read (its lines, payments and taxes, the customer's address, the
		 * subscription's lock) travel with the statement that marks it paid: nothing
		 * in between changes them. So the subscription is locked before the invoice
		 * here, as a renewal and a cancellation lock them; the gateway's webhook path
		 * locks the invoice first, which cannot deadlock with this one: both hold
		 * the attempt's row first, and an invoice has one charge in flight at most. */
		obj_read_ahead_invoice(d, inv);
		if (db_val(res, 0, PAYC_CUSTOMER) != NULL)
			db_read_ahead(d->db, STMT_CUSTOMER_ADDRESS, (const char *[]){ d->site.id,
			    db_val(res, 0, PAYC_CUSTOMER) });
		if (db_val(res, 0, PAYC_SUBSCRIPTION) != NULL)
			db_read_ahead(d->db, STMT_SUB_STATUS_LOCK, (const char *[]){ d->site.id,
			    db_val(res, 0, PAYC_SUBSCRIPTION) });
	}
	PQclear(res);
	if (strcmp(kind, "refund") == 0) {
		char a[24];

		if (r->outcome != GW_SUCCEEDED)
			return 0;	/* the failed refund stays on record; nothing moved */
		res = db_exec(d->db, STMT_INV_ADD_REFUND, (const char *[]){ d->site.id, inv,
		    buf_lltoa(amount, a) });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
		if (cnotes_for_refund(d, inv, amount, attempt_id, e) != 0)
			return -1;
		return emit_invoice(d, "invoice.refunded", inv, e);
	}
	if (r->outcome == GW_SUCCEEDED)
		return charge_succeeded(d, inv, amount, e);
	if (charge_failed(d, inv, e) != 0)
		return -1;
	/* The bank wants the customer: the portal's "Complete payment" (and its mail). */
	if (strcmp(outcome, "authentication_required") == 0) {
		char status[16];

		if (invoices_status(d, inv, status, e) != 0)
			return -1;
		if (strcmp(status, "open") == 0)
			return emit_invoice(d, "invoice.payment_action_required", inv, e);
	}
	return 0;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

bool
payments_gateway_spent(const struct dctx *d)
{
	return d->gateway_trouble || d->gateway_seconds >= PAYMENTS_ROUND_SECONDS;
}

/* Phase two of one attempt: asks the gateway (with the recorded key), outside any
 * transaction, on the site's clock of the moment the intent was recorded (a renewal the
 * job runner made at its due date, possibly after time travel). 1: r holds an answer to
 * record at *at; 0: nothing to record (not pending, or the gateway refused to answer);
 * -1: the database or the gateway is unreachable. */
static int
call_gateway_row(struct dctx *d, PGresult *att, int row, bool recovering,
    struct gw_result *r, long long *at, struct derr *e)
{
	const struct gateway *gw;
	char idem[DOM_ID_MAX * 2 + 16], inv[DOM_ID_MAX], kind[16], currency[4];
	char token[DOM_ID_MAX * 2], return_url[DOM_URL_MAX] = "";
	long long amount, now = d->now;
	struct timespec t0;
	double took = 0;
	int rc = 1, called;

	if (strcmp(db_val(att, row, PAY_OUTCOME), "pending") != 0)
		return 0;
	*at = db_ll(att, row, PAY_CREATED, now);
	snprintf(idem, sizeof(idem), "%s", db_val(att, row, PAY_IDEM));
	snprintf(inv, sizeof(inv), "%s", db_val(att, row, PAY_INVOICE));
	snprintf(kind, sizeof(kind), "%s", db_val(att, row, PAY_KIND));
	snprintf(currency, sizeof(currency), "%s", db_val(att, row, PAY_CURRENCY) ?
	    db_val(att, row, PAY_CURRENCY) : "");
	/* The card's token with the attempt: gone with the card (detached) since. */
	snprintf(token, sizeof(token), "%s", db_val(att, row, PAY_CARD_TOKEN) ?
	    db_val(att, row, PAY_CARD_TOKEN) : "");
	amount = db_ll(att, row, PAY_AMOUNT, 0);
	if (db_val(att, row, PAY_RETURN_URL) != NULL)
		snprintf(return_url, sizeof(return_url), "%s", db_val(att, row, PAY_RETURN_URL));
	gw = gateway_get(db_val(att, row, PAY_GATEWAY));
	if (gw == NULL)
		return derr_set(e, DERR_INTERNAL, "gateway_unknown", NULL,
		    "The attempt names a gateway this build does not have.");
	d->now = *at;
	memset(r, 0, sizeof(*r));
	r->outcome = GW_NOT_FOUND;
	/* After a crash, ask first: the gateway may have acted on the key already. */
	if (recovering) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		called = gw->retrieve(d, kind, idem, NULL, r, e);
		took += seconds_since(&t0);
		if (called != 0) {
			rc = e->kind == DERR_UNAVAILABLE ? -1 : 0;
			goto out;
		}
	}
	if (r->outcome == GW_NOT_FOUND && strcmp(kind, "refund") == 0) {
		PGresult *ch = db_exec(d->db, STMT_PAY_LAST_CHARGE, (const char *[]){ d->site.id,
		    inv });

		if (ch == NULL) {
			rc = derr_db(e, d->db);
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		called = gw->refund(d, PQntuples(ch) == 1 ? db_val(ch, 0, PAY_REF) : NULL, amount,
		    currency, idem, r, e);
		took += seconds_since(&t0);
		if (called != 0)
			rc = e->kind == DERR_UNAVAILABLE ? -1 : 0;
		PQclear(ch);
		if (rc != 1)
			goto out;
	} else if (r->outcome == GW_NOT_FOUND) {
		struct gw_charge c;

		if (token[0] == '\0') {
			/* The card went away before it was charged: a failed attempt. */
			r->outcome = GW_DECLINED;
			snprintf(r->code, sizeof(r->code), "no_payment_method");
		} else {
			memset(&c, 0, sizeof(c));
			c.token = token;
			c.amount = amount;
			c.currency = currency;
			c.idem = idem;
			c.invoice_id = inv;
			c.return_url = return_url[0] ? return_url : NULL;
			c.off_session = c.return_url == NULL;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			called = gw->charge(d, &c, r, e);
			took += seconds_since(&t0);
			if (called != 0) {
				rc = e->kind == DERR_UNAVAILABLE ? -1 : 0;
				goto out;
			}
		}
	}
	if (r->outcome == GW_REQUIRES_ACTION && r->action_url[0] != '\0' && return_url[0]) {
		snprintf(d->action_invoice, sizeof(d->action_invoice), "%s", inv);
		snprintf(d->action_url, sizeof(d->action_url), "%s", r->action_url);
	}
out:
	/* Only the gateway's own time and failures count: a database that went away is not
	 * the gateway's trouble. */
	if (took > 0) {
		d->gateway_calls++;
		d->gateway_seconds += took;
	}
	if (took >= PAYMENTS_GATEWAY_SLOW || (rc < 0 &&
	    strcmp(e->code, "database_unavailable") != 0))
		d->gateway_trouble = true;
	d->now = now;
	return rc;
}

static int
call_gateway(struct dctx *d, const char *attempt_id, bool recovering, struct gw_result *r,
    long long *at, struct derr *e)
{
	PGresult *att = db_exec(d->db, STMT_PAY_GET_CARD, (const char *[]){ d->site.id,
	    attempt_id });
	int rc;

	if (att == NULL)
		return derr_db(e, d->db);
	rc = PQntuples(att) == 1 ? call_gateway_row(d, att, 0, recovering, r, at, e) : 0;
	PQclear(att);
	return rc;
}

/* Phase three of one attempt, in the caller's transaction, on the attempt's clock. */
static int
record_at(struct dctx *d, const char *attempt_id, const struct gw_result *r, long long at,
    struct derr *e)
{
	long long now = d->now;
	int rc;

	d->now = at;
	rc = payments_record(d, attempt_id, r, e);
	d->now = now;
	return rc;
}

int
payments_resolve(struct dctx *d, const char *attempt_id, bool recovering, struct derr *e)
{
	struct gw_result r;
	long long at = d->now;
	int rc = call_gateway(d, attempt_id, recovering, &r, &at, e);

	if (rc <= 0)
		return rc;
	if (db_begin(d->db) != 0)
		return derr_db(e, d->db);
	if (record_at(d, attempt_id, &r, at, e) != 0 ||
	    (db_sync(d->db) != 0 && derr_db(e, d->db) != 0)) {
		bool lost = d->db->status == DB_UNAVAILABLE;

		db_rollback(d->db);
		if (!lost)
			log_error("site %s: recording payment attempt %s failed: %s", d->site.id,
			    attempt_id, e->message);
		return lost ? -1 : 0;
	}
	if (db_commit(d->db) != 0)
		return derr_db(e, d->db);
	return 0;
}

struct answer {
	char		 id[DOM_ID_MAX];
	long long	 at;
	struct gw_result r;
};

/* Phase three for several answers in one transaction (one commit, one fsync), each in a
 * savepoint of its own: an outcome that cannot be recorded (a conflict, a bug) is rolled
 * back alone, logged, and stays pending for the runner, as it would in a transaction of
 * its own. -1 only when the database is gone (then nothing of this round was recorded and
 * the attempts stay pending; their keys make the runner's retry safe); 1 when the events
 * kept (keep) could not be written at the end (nothing recorded either). */
static int
record_round(struct dctx *d, const struct answer *a, int n, bool keep, struct derr *e)
{
	bool nest = n > 1;

	if (db_begin(d->db) != 0)
		return derr_db(e, d->db);
	/* A runner's answers write their events together, just before this transaction
	 * commits (events_flush): only here, where every way out flushes or forgets them. */
	if (d->facts != NULL)
		d->facts->defer_events = keep;
	for (int i = 0; i < n; i++) {
		struct events_mark em;
		int rc;

		if (nest && db_begin(d->db) != 0)
			goto lost;
		events_mark(d, &em);
		rc = record_at(d, a[i].id, &a[i].r, a[i].at, e);
		/* Statements sent ahead are read with the savepoint's release: one of them that
		 * failed fails it, and the release rolls the level back (db_commit). */
		if (rc == 0 && !nest && db_sync(d->db) != 0)
			rc = derr_db(e, d->db);
		if (rc == 0) {
			if (!nest || db_commit(d->db) == 0)
				continue;
			rc = derr_db(e, d->db);
		} else if (nest && d->db->status != DB_UNAVAILABLE && db_rollback(d->db) != 0)
			goto lost;
		if (d->db->status == DB_UNAVAILABLE)
			goto lost;
		events_restore(d, &em);
		log_error("site %s: recording payment attempt %s failed: %s", d->site.id,
		    a[i].id, e->message);
		if (!nest) {
			db_rollback(d->db);
			events_forget(d);
			return 0;
		}
	}
	if (events_flush(d, e) != 0) {
		if (d->db->status == DB_UNAVAILABLE)
			goto lost;
		db_rollback(d->db);
		events_forget(d);
		return 1;
	}
	events_forget(d);
	if (db_commit(d->db) != 0)
		return derr_db(e, d->db);
	return 0;
lost:
	db_abort(d->db);
	events_forget(d);
	return derr_db(e, d->db);
}

/* The answers' outcomes in one transaction, each attempt in a savepoint of its own. Their
 * events are written together at the end; should that fail, the round is recorded again
 * with each event written as it is emitted, so the attempt at fault fails alone. */
static int
record_answers(struct dctx *d, const struct answer *a, int n, struct derr *e)
{
	int npending = d->npending, rc;
	bool overflow = d->pending_overflow;

	if (n == 0)
		return 0;
	rc = record_round(d, a, n, d->facts != NULL, e);
	if (rc > 0) {
		log_error("site %s: writing the events of %d payment answers together: %s; "
		    "recording them again one event at a time", d->site.id, n, e->message);
		/* What the round queued was rolled back with it. */
		d->npending = npending;
		d->pending_overflow = overflow;
		rc = record_round(d, a, n, false, e);
	}
	return rc;
}

/* The pending attempts from..to of d (set-ups left out) with their cards' tokens
 * (STMT_PAY_GET_CARD's rows); NULL when the database failed. */
static PGresult *
attempts_of(struct dctx *d, int from, int to, struct derr *e)
{
	struct buf ids;
	PGresult *res;

	buf_init(&ids);
	buf_putc(&ids, '{');
	for (int i = from; i < to; i++) {
		if (strncmp(d->pending[i], "setup_", 6) == 0)
			continue;
		if (ids.len > 1)
			buf_putc(&ids, ',');
		buf_puts(&ids, d->pending[i]);	/* ids are [A-Za-z0-9_] */
	}
	buf_putc(&ids, '}');
	res = db_exec(d->db, STMT_PAY_GET_CARDS, (const char *[]){ d->site.id, ids.data });
	buf_free(&ids);
	if (res == NULL)
		derr_db(e, d->db);
	return res;
}

int
payments_settle(struct dctx *d, struct derr *e)
{
	struct answer *a = NULL;
	int done = 0, rc = 0;

	/* In rounds: the gateway calls of every attempt queued so far (one by one, outside
	 * any transaction), then their outcomes in one transaction. Recording may queue more
	 * (a stored card pays what is overdue): the next round takes those. */
	while (rc == 0 && done < d->npending && !payments_gateway_spent(d)) {
		int end = d->npending, n = 0;
		PGresult *atts;

		a = calloc((size_t)(end - done), sizeof(*a));
		if (a == NULL)
			return derr_set(e, DERR_UNAVAILABLE, "out_of_memory", NULL,
			    "Out of memory.");
		/* The round's attempts read in one statement. One answered meanwhile (the
		 * reconciler, after a slow gateway) is asked again with its key, which changes
		 * nothing, and found recorded already (payments_record). A card detached
		 * during the round's earlier calls is still charged, as one detached just
		 * after its own call would be: the charge was recorded before the detach. */
		if ((atts = attempts_of(d, done, end, e)) == NULL) {
			free(a);
			d->npending = 0;	/* left pending, for the reconciler */
			return -1;
		}
		/* A gateway in trouble, or whose calls took the round's time, is not called
		 * again: the other attempts stay pending and are asked about, by key, later. */
		for (int i = done; i < end && rc == 0; i++) {
			int got = 0;

			if (payments_gateway_spent(d)) {
				log_warn("site %s: %d gateway call(s) left for the job runner: %s",
				    d->site.id, d->npending - i, d->gateway_trouble ? "the gateway "
				    "is slow or unreachable" : "this round's calls took their time");
				break;
			}

			if (strncmp(d->pending[i], "setup_", 6) == 0) {
				rc = setups_settle(d, d->pending[i], e);
				continue;
			}
			snprintf(a[n].id, sizeof(a[n].id), "%s", d->pending[i]);
			a[n].at = d->now;
			for (int j = 0; j < PQntuples(atts); j++)
				if (strcmp(db_val(atts, j, PAY_ID), a[n].id) == 0) {
					got = call_gateway_row(d, atts, j, false, &a[n].r,
					    &a[n].at, e);
					break;
				}
			if (got < 0)
				rc = -1;
			else if (got > 0)
				n++;
		}
		PQclear(atts);
		/* Answers already given are recorded even when a later call failed. */
		if (record_answers(d, a, n, e) != 0)
			rc = -1;
		free(a);
		a = NULL;
		done = end;
	}
	d->npending = 0;
	return rc;
}
