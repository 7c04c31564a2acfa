/* page_invoices.c: /portal/{site}/invoices/...: the customer's invoice history, newest first,
 * a page at a time (previous and next by invoice number, so a new invoice never shifts a
 * page), with the credit notes that correct each invoice; the stored PDFs of both and a
 * year's documents as one ZIP, for the signed-in customer only; and "Pay now" for an open
 * invoice: a review of what is paid and with which card, the charge (recorded, committed,
 * then sent to the gateway), and its outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/documents.h"
#include "billing/payments.h"
#include "core/log.h"
#include "core/tz.h"
#include "portal/portal.h"
#include "portal/view.h"

#define INVOICES_PAGE	10
#define ARCHIVE_YEARS	10	/* yearly archives offered, newest first */

/* A page cursor from the query: a positive invoice number, or -1. */
static long long
cursor(struct page *p, const char *name)
{
	const char *v = http_kvs_get(&p->c->req->args, name);
	char *end;
	long long n;

	if (v == NULL || *v == '\0' || strlen(v) > 18)
		return -1;
	n = strtoll(v, &end, 10);
	return *end == '\0' && n > 0 ? n : -1;
}

/* The credit notes correcting the invoices listed (each a cJSON object with "id"): under
 * their invoice, each with its PDF. -1 when the statement failed. */
static int
add_credit_notes(struct page *p, cJSON *list)
{
	struct buf ids;
	cJSON *inv;
	PGresult *res;

	if (cJSON_GetArraySize(list) == 0)
		return 0;
	buf_init(&ids);
	buf_puts(&ids, "{");
	cJSON_ArrayForEach(inv, list)
		buf_printf(&ids, "%s%s", ids.len > 1 ? "," : "",
		    cJSON_GetStringValue(cJSON_GetObjectItem(inv, "id")));	/* [A-Za-z0-9_-] */
	buf_puts(&ids, "}");
	res = db_exec(p->c->db, STMT_CN_OF_INVOICES, (const char *[]){ p->set.site_id,
	    p->customer_id, ids.data });
	buf_free(&ids);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON_ArrayForEach(inv, list) {
			cJSON *cns, *cn;
			char url[160];

			if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(inv, "id")),
			    db_val(res, i, CNI_INVOICE)) != 0)
				continue;
			if ((cns = cJSON_GetObjectItem(inv, "credit_notes")) == NULL)
				cns = cJSON_AddArrayToObject(inv, "credit_notes");
			cn = cJSON_CreateObject();
			cJSON_AddStringToObject(cn, "number", db_val(res, i, CNI_NUMBER_TEXT));
			cJSON_AddStringToObject(cn, "amount", view_money(p, db_ll(res, i, CNI_TOTAL,
			    0), db_val(res, i, CNI_CURRENCY)));
			cJSON_AddStringToObject(cn, "date", view_date(p, db_ll(res, i, CNI_CREATED,
			    0)));
			snprintf(url, sizeof(url), "/credit_notes/%s/pdf", db_val(res, i, CNI_ID));
			cJSON_AddStringToObject(cn, "pdf_url", page_url(p, url));
			cJSON_AddItemToArray(cns, cn);
		}
	}
	PQclear(res);
	return 0;
}

/* The year of ts in the site's time zone. */
static int
year_of(struct page *p, long long ts)
{
	char y[16];

	tz_format(y, sizeof(y), "%Y", ts, p->set.time_zone);
	return atoi(y);
}

/* "Download all invoices of 2026": one link per year from the customer's first document to
 * this year (the site's clock and time zone), newest first. -1 when the statement failed. */
static int
add_years(struct page *p, cJSON *d)
{
	PGresult *res = db_exec(p->c->db, STMT_DOC_FIRST, (const char *[]){ p->set.site_id,
	    p->customer_id });
	cJSON *years;
	int first, last;

	if (res == NULL)
		return -1;
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return 0;
	}
	first = year_of(p, db_ll(res, 0, 0, 0));
	PQclear(res);
	last = year_of(p, p->c->now);
	years = cJSON_AddArrayToObject(d, "archives");
	for (int y = last; y >= first && y > last - ARCHIVE_YEARS; y--) {
		cJSON *o = cJSON_CreateObject();
		char url[64];

		snprintf(url, sizeof(url), "/invoices/archive/%d", y);
		cJSON_AddNumberToObject(o, "year", y);
		cJSON_AddStringToObject(o, "url", page_url(p, url));
		cJSON_AddItemToArray(years, o);
	}
	cJSON_AddBoolToObject(d, "has_archives", cJSON_GetArraySize(years) > 0);
	return 0;
}

void
page_invoices(struct page *p)
{
	long long older = cursor(p, "older"), newer = cursor(p, "newer");
	bool back = newer > 0 && older < 0;
	char at[24], lim[24], url[96];
	PGresult *res;
	cJSON *d, *list;
	int n, first, last, step;

	if (!p->set.invoice_history) {
		page_message(p, 403, "Invoice history is not available", "To get a copy of an "
		    "invoice, contact us.", page_url(p, ""), "Go to your account");
		return;
	}
	buf_lltoa(back ? newer : older > 0 ? older : 9223372036854775807LL, at);
	buf_lltoa(INVOICES_PAGE + 1, lim);
	res = db_exec(p->c->db, back ? STMT_INV_NEWER : STMT_INV_OLDER, (const char *[]){
	    p->set.site_id, p->customer_id, at, lim });
	if (res == NULL) {
		page_unavailable(p);
		return;
	}
	n = PQntuples(res) > INVOICES_PAGE ? INVOICES_PAGE : PQntuples(res);
	d = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(d, "invoices");
	/* Going back, the rows come oldest first: show them newest first like every page. */
	first = back ? n - 1 : 0;
	last = back ? -1 : n;
	step = back ? -1 : 1;
	for (int i = first; i != last; i += step) {
		cJSON *o = cJSON_CreateObject();

		view_invoice(p, res, i, o);
		cJSON_AddItemToArray(list, o);
	}
	view_needs_action(p, list, NULL);
	if (add_credit_notes(p, list) != 0 || add_years(p, d) != 0) {
		cJSON_Delete(d);
		PQclear(res);
		page_unavailable(p);
		return;
	}
	cJSON_AddBoolToObject(d, "has_invoices", n > 0);
	if (n > 0) {
		long long top = db_ll(res, back ? n - 1 : 0, INV_NUMBER, 0);
		long long bottom = db_ll(res, back ? 0 : n - 1, INV_NUMBER, 0);
		bool more = PQntuples(res) > INVOICES_PAGE;

		if ((back && more) || (!back && older > 0)) {
			snprintf(url, sizeof(url), "/invoices?newer=%lld", top);
			cJSON_AddStringToObject(d, "newer_url", page_url(p, url));
		}
		if ((!back && more) || back) {
			snprintf(url, sizeof(url), "/invoices?older=%lld", bottom);
			cJSON_AddStringToObject(d, "older_url", page_url(p, url));
		}
	}
	cJSON_AddBoolToObject(d, "paging", cJSON_GetObjectItem(d, "newer_url") != NULL ||
	    cJSON_GetObjectItem(d, "older_url") != NULL);
	p->nav = "invoices";
	page_render(p, 200, "Invoices", "invoices", d, false);
	PQclear(res);
}

static int	last_charge(struct page *p, const char *inv_id, char outcome[48],
		    bool *waiting);

/* The customer's own invoice named in the URL; another's is a 404. */
static PGresult *
own_invoice(struct page *p)
{
	return view_own_row(p, STMT_INV_GET, INV_CUSTOMER, "", "Go to your account");
}

static void
add_invoice(struct page *p, PGresult *res, cJSON *d)
{
	cJSON *inv = cJSON_AddObjectToObject(d, "invoice");

	view_invoice(p, res, 0, inv);
	cJSON_AddStringToObject(inv, "due_amount", view_money(p, db_ll(res, 0, INV_DUE, 0),
	    db_val(res, 0, INV_CURRENCY)));
}

static void
not_open(struct page *p, const char *status)
{
	page_message(p, 200, strcmp(status, "paid") == 0 ? "This invoice is paid" :
	    "Nothing to pay", strcmp(status, "paid") == 0 ? "There is nothing left to pay on "
	    "it." : "This invoice is not open: there is nothing to pay on it.",
	    page_url(p, p->set.invoice_history ? "/invoices" : ""),
	    p->set.invoice_history ? "Back to invoices" : "Go to your account");
}

/* What a payment review shows: the open invoice, the card it is charged to (or the way to
 * add one), and the form that posts to /invoices/{id}/{step}. NULL when the page was
 * already answered (a database error). */
static cJSON *
pay_form(struct page *p, PGresult *inv, const char *step)
{
	PGresult *pm = db_exec(p->c->db, STMT_PM_DEFAULT, (const char *[]){ p->set.site_id,
	    p->customer_id });
	char tail[160];
	cJSON *d;

	if (pm == NULL) {
		page_unavailable(p);
		return NULL;
	}
	d = cJSON_CreateObject();
	add_invoice(p, inv, d);
	if (PQntuples(pm) == 1)
		view_card(p, pm, 0, 0, cJSON_AddObjectToObject(d, "card"));
	else if (p->set.payment_methods)
		cJSON_AddStringToObject(d, "add_card", page_url(p, "/payment_methods/new"));
	PQclear(pm);
	snprintf(tail, sizeof(tail), "/invoices/%s/%s", db_val(inv, 0, INV_ID), step);
	cJSON_AddStringToObject(d, "action", page_url(p, tail));
	cJSON_AddStringToObject(d, "cancel", page_url(p, p->set.invoice_history ? "/invoices" :
	    ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "invoices";
	return d;
}

/* The review: what is paid, and the card it is charged to. */
void
page_invoice_pay_review(struct page *p)
{
	PGresult *res = own_invoice(p);
	cJSON *d;
	char tail[160], outcome[48];
	bool waiting;

	if (res == NULL)
		return;
	if (strcmp(db_val(res, 0, INV_STATUS), "open") != 0) {
		not_open(p, db_val(res, 0, INV_STATUS));
		PQclear(res);
		return;
	}
	/* The bank wants the customer: charging the card again off-session would only be
	 * refused again. Complete payment instead (a redirect; nothing changes). */
	if (last_charge(p, db_val(res, 0, INV_ID), outcome, &waiting) == 0 &&
	    (waiting || strcmp(outcome, "authentication_required") == 0)) {
		snprintf(tail, sizeof(tail), "/invoices/%s/complete", db_val(res, 0, INV_ID));
		page_redirect(p, tail);
		PQclear(res);
		return;
	}
	if ((d = pay_form(p, res, "pay")) != NULL) {
		if (p->set.payment_methods)
			cJSON_AddStringToObject(d, "cards_url", page_url(p, "/payment_methods"));
		page_render(p, 200, "Pay invoice", "invoice_pay", d, false);
	}
	PQclear(res);
}

/* Phase one (the attempt recorded); the dispatcher commits, calls the gateway, records the
 * answer; the result page shows it. */
void
page_invoice_pay(struct page *p)
{
	const char *id = view_path_id(p, 1);
	struct derr e;
	char url[400];

	if (id == NULL)
		return;
	if (payments_pay_invoice(&p->d, p->customer_id, id, &e) != 0) {
		if (e.kind == DERR_CONFLICT)
			page_message(p, 409, "Nothing to pay", "This invoice is not open any more: "
			    "nothing was charged.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	snprintf(url, sizeof(url), "/invoices/%s/paid%s%s", id, p->d.npending > 0 ?
	    "?attempt=" : "", view_pending(p));
	page_redirect(p, url);
}

void
page_invoice_paid(struct page *p)
{
	PGresult *res = own_invoice(p);
	const char *status;
	cJSON *d;

	if (res == NULL)
		return;
	d = cJSON_CreateObject();
	add_invoice(p, res, d);
	status = db_val(res, 0, INV_STATUS);
	view_attempts(p, http_kvs_get(&p->c->req->args, "attempt"), d);
	cJSON_AddBoolToObject(d, "paid", strcmp(status, "paid") == 0);
	cJSON_AddBoolToObject(d, "failed", strcmp(status, "open") == 0 &&
	    !cJSON_IsTrue(cJSON_GetObjectItem(d, "payments_ok")));
	if (strcmp(status, "open") == 0) {
		char outcome[48], tail[160];
		bool waiting;

		if (last_charge(p, db_val(res, 0, INV_ID), outcome, &waiting) == 0 &&
		    strcmp(outcome, "authentication_required") == 0) {
			snprintf(tail, sizeof(tail), "/invoices/%s/complete", db_val(res, 0, INV_ID));
			cJSON_AddStringToObject(d, "complete_url", page_url(p, tail));
		}
	}
	if (p->set.payment_methods)
		cJSON_AddStringToObject(d, "card_url", page_url(p, "/payment_methods/new"));
	cJSON_AddStringToObject(d, "home", page_url(p, ""));
	if (p->set.invoice_history)
		cJSON_AddStringToObject(d, "invoices_url", page_url(p, "/invoices"));
	p->nav = "invoices";
	page_render(p, 200, strcmp(status, "paid") == 0 ? "Payment received" : "Payment not "
	    "completed", "invoice_paid", d, false);
	PQclear(res);
}

/* ---- downloads: the stored PDF, or a year as a ZIP ---- */

/* Invoice history is where documents are offered: a site that hides it offers none. */
static bool
documents_shown(struct page *p)
{
	if (p->set.invoice_history)
		return true;
	page_message(p, 403, "Invoice history is not available", "To get a copy of an invoice, "
	    "contact us.", page_url(p, ""), "Go to your account");
	return false;
}

/* The file itself: the bytes as stored, as an attachment named after the document. */
static void
send_file(struct page *p, const char *type, const char *filename, const struct buf *b)
{
	struct http_response *r = p->c->resp;

	r->status = 200;
	r->content_type = type;
	buf_reset(&r->body);
	buf_append(&r->body, b->data ? b->data : "", b->len);
	http_header(r, "Content-Disposition", "attachment; filename=\"%s\"", filename);
}

/* Why a document cannot be handed out, as a page: not made yet (409, ask again in a few
 * seconds), another customer's or none (404), not makeable (500, logged). */
static void
document_refused(struct page *p, const struct derr *e, const char *again)
{
	const char *back = page_url(p, "/invoices");

	if (e->kind == DERR_CONFLICT && strcmp(e->code, "document_not_ready") == 0) {
		http_header(p->c->resp, "Retry-After", "2");
		page_message(p, 409, "Your document is being prepared", "We make the PDF of "
		    "each invoice and credit note once it is issued, and this one is not ready "
		    "yet. It usually takes a few seconds: try the download again in a moment.",
		    again, "Try the download again");
		return;
	}
	if (e->kind == DERR_INTERNAL) {
		log_error("request %s: %s (%s)", p->c->req->request_id, e->message, e->code);
		page_message(p, 500, "This document cannot be downloaded", "Its PDF could not be "
		    "made. We have been told; to get a copy now, contact us.", back,
		    "Back to invoices");
		return;
	}
	page_derr(p, e);
}

static void
document_pdf(struct page *p, enum doc_kind k, const char *tail)
{
	const char *id = view_path_id(p, 1);
	char filename[DOC_FILENAME_MAX], again[160];
	struct derr e;
	struct buf b;

	if (id == NULL || !documents_shown(p))
		return;
	buf_init(&b);
	if (documents_get(&p->d, k, id, p->customer_id, &b, filename, &e) != 0) {
		snprintf(again, sizeof(again), "/%s/%s/pdf", tail, id);
		document_refused(p, &e, page_url(p, again));
	} else
		send_file(p, "application/pdf", filename, &b);
	buf_free(&b);
}

void
page_invoice_pdf(struct page *p)
{
	document_pdf(p, DOC_INVOICE, "invoices");
}

void
page_credit_note_pdf(struct page *p)
{
	document_pdf(p, DOC_CREDIT_NOTE, "credit_notes");
}

/* Every invoice and credit note of a year, in the site's time zone, as one ZIP, built
 * into the response's body (no other copy of it). A HEAD checks and names it, and builds
 * nothing. */
void
page_invoice_archive(struct page *p)
{
	const char *y = p->c->req->n_path_params > 1 ? p->c->req->path_params[1] : "";
	struct http_response *r = p->c->resp;
	bool head = p->c->req->method == HTTP_HEAD;
	char filename[DOC_FILENAME_MAX], again[64];
	struct derr e;
	int year;

	if (strlen(y) != 4 || strspn(y, "0123456789") != 4 || (year = atoi(y)) < 1970) {
		page_message(p, 404, "Page not found", "There is nothing here, or it belongs to "
		    "another account.", page_url(p, ""), "Go to your account");
		return;
	}
	if (!documents_shown(p))
		return;
	buf_reset(&r->body);
	if (documents_archive(&p->d, p->customer_id, year, p->customer_id, head ? NULL :
	    &r->body, filename, &e) != 0) {
		snprintf(again, sizeof(again), "/invoices/archive/%d", year);
		document_refused(p, &e, page_url(p, again));
		return;
	}
	r->status = 200;
	r->content_type = "application/zip";
	r->no_length = head;
	http_header(r, "Content-Disposition", "attachment; filename=\"%s\"", filename);
}

/* ---- "Complete payment": a charge the customer's bank wants them to confirm ---- */

/* The invoice's latest charge attempt: its outcome ("" when none) and whether it is an
 * on-session charge still waiting for the bank (then *waiting). -1 on a database error. */
static int
last_charge(struct page *p, const char *inv_id, char outcome[48], bool *waiting)
{
	PGresult *res = db_exec(p->c->db, STMT_PAY_LIST, (const char *[]){ p->set.site_id,
	    inv_id });

	outcome[0] = '\0';
	*waiting = false;
	if (res == NULL)
		return -1;
	for (int i = PQntuples(res) - 1; i >= 0; i--) {
		if (strcmp(db_val(res, i, PAY_KIND), "charge") != 0)
			continue;
		snprintf(outcome, 48, "%s", db_val(res, i, PAY_OUTCOME));
		*waiting = strcmp(outcome, "pending") == 0 &&
		    db_val(res, i, PAY_RETURN_URL) != NULL;
		break;
	}
	PQclear(res);
	return 0;
}

/* The review: what the bank is asked to confirm, on which card, and that the next page is
 * the bank's. */
void
page_complete_review(struct page *p)
{
	PGresult *res = own_invoice(p);
	cJSON *d;

	if (res == NULL)
		return;
	if (strcmp(db_val(res, 0, INV_STATUS), "open") != 0) {
		not_open(p, db_val(res, 0, INV_STATUS));
		PQclear(res);
		return;
	}
	if ((d = pay_form(p, res, "complete")) != NULL) {
		p->form_leaves = true;	/* its POST is redirected to the bank's page */
		page_render(p, 200, "Complete payment", "invoice_complete", d, false);
	}
	PQclear(res);
}

/* After the commit and the gateway's answer: to the bank's page when it wants the
 * customer (else the result page, p->location, shows the answer). */
static void
complete_away(struct page *p)
{
	if (p->d.action_url[0] != '\0' && strcmp(p->d.action_invoice, p->ref) == 0)
		page_redirect_away(p, p->d.action_url);
}

/* Phase one of the on-session charge (recorded with its key, in the page's transaction);
 * the dispatcher commits, confirms it with the gateway and runs complete_away. A repeated
 * POST, or a second one later, confirms the same waiting charge again: never a second. */
void
page_complete(struct page *p)
{
	const char *id = view_path_id(p, 1);
	char tail[160];
	struct derr e;

	if (id == NULL)
		return;
	snprintf(tail, sizeof(tail), "/invoices/%s/completed", id);
	if (payments_collect_on_session(&p->d, id, p->customer_id, page_abs_url(p, tail),
	    &e) != 0) {
		if (e.kind == DERR_NOT_FOUND)
			page_message(p, 404, "Page not found", "There is nothing here, or it "
			    "belongs to another account.", page_url(p, ""), "Go to your account");
		else if (e.kind == DERR_CONFLICT)
			page_message(p, 409, "Nothing to pay", "This invoice is not open any more: "
			    "nothing was charged.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	page_redirect(p, tail);
	snprintf(p->ref, sizeof(p->ref), "%s", id);
	p->after_settle = complete_away;
}

/* Where the bank sends the customer back; reads only (GET and HEAD change nothing): paid,
 * still waiting for the bank's answer ("check now" asks; no automatic reload, as for a
 * set-up), or not completed (try again, or another card). */
void
page_complete_show(struct page *p)
{
	PGresult *res = own_invoice(p);
	const char *status;
	char outcome[48], tail[160];
	bool waiting, paid;
	cJSON *d;

	if (res == NULL)
		return;
	if (last_charge(p, db_val(res, 0, INV_ID), outcome, &waiting) != 0) {
		PQclear(res);
		page_unavailable(p);
		return;
	}
	status = db_val(res, 0, INV_STATUS);
	paid = strcmp(status, "paid") == 0;
	d = cJSON_CreateObject();
	add_invoice(p, res, d);
	cJSON_AddBoolToObject(d, "paid", paid);
	if (!paid && strcmp(status, "open") == 0 &&
	    (waiting || strcmp(outcome, "pending") == 0)) {
		cJSON_AddBoolToObject(d, "waiting", true);
		snprintf(tail, sizeof(tail), "/invoices/%s/completed/check",
		    db_val(res, 0, INV_ID));
		cJSON_AddStringToObject(d, "check", page_url(p, tail));
		cJSON_AddStringToObject(d, "csrf", p->csrf);
		/* Left the bank's page unfinished: the same charge, the same page again. */
		snprintf(tail, sizeof(tail), "/invoices/%s/complete", db_val(res, 0, INV_ID));
		cJSON_AddStringToObject(d, "resume_url", page_url(p, tail));
	} else if (!paid) {
		cJSON_AddBoolToObject(d, "failed", true);
		cJSON_AddBoolToObject(d, "needs_action", strcmp(outcome,
		    "authentication_required") == 0);
		if (strcmp(status, "open") == 0) {
			snprintf(tail, sizeof(tail), "/invoices/%s/complete",
			    db_val(res, 0, INV_ID));
			cJSON_AddStringToObject(d, "again_url", page_url(p, tail));
		}
		if (p->set.payment_methods)
			cJSON_AddStringToObject(d, "card_url",
			    page_url(p, "/payment_methods/new"));
	}
	cJSON_AddStringToObject(d, "home", page_url(p, ""));
	if (p->set.invoice_history)
		cJSON_AddStringToObject(d, "invoices_url", page_url(p, "/invoices"));
	p->nav = "invoices";
	page_render(p, 200, paid ? "Payment received" : cJSON_IsTrue(cJSON_GetObjectItem(d,
	    "waiting")) ? "Waiting for your bank" : "Payment not completed", "invoice_completed",
	    d, false);
	PQclear(res);
}

/* "Check now": the waiting on-session charge is confirmed again (phase one queues it; the
 * dispatcher asks the gateway after the commit and records its answer). Nothing else is
 * started: an invoice without a waiting charge is only shown again. */
void
page_complete_check(struct page *p)
{
	PGresult *res = own_invoice(p);
	char outcome[48], tail[160];
	bool waiting;
	struct derr e;

	if (res == NULL)
		return;
	snprintf(tail, sizeof(tail), "/invoices/%s/completed", db_val(res, 0, INV_ID));
	if (last_charge(p, db_val(res, 0, INV_ID), outcome, &waiting) != 0) {
		PQclear(res);
		page_unavailable(p);
		return;
	}
	if (waiting && strcmp(db_val(res, 0, INV_STATUS), "open") == 0 &&
	    payments_collect_on_session(&p->d, db_val(res, 0, INV_ID), p->customer_id,
	    page_abs_url(p, tail), &e) != 0 && e.kind != DERR_CONFLICT) {
		PQclear(res);
		page_derr(p, &e);
		return;
	}
	PQclear(res);
	snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), "?returned=1");
	page_redirect(p, tail);
}
