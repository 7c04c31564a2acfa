/* documents.c: the PDFs of invoices and credit notes. The model (src/pdf's struct pdf_doc)
 * is filled from the rows frozen at issue only, amounts formatted with currency_format and
 * dates in the site's time zone, so rendering the same document again gives the same
 * bytes; the job runner renders each once and the bytes are stored. Downloads and the
 * yearly ZIP hand out the stored bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zip.h>

#include "billing/documents.h"
#include "billing/invoices.h"
#include "billing/portal_settings.h"
#include "billing/taxes.h"
#include "core/crypto.h"
#include "core/currency.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tz.h"
#include "pdf/pdf.h"

static const char *const kind_names[] = {
	[DOC_INVOICE] = "invoice", [DOC_CREDIT_NOTE] = "credit_note",
};

const char *
documents_kind_name(enum doc_kind k)
{
	return kind_names[k];
}

int
documents_queue(struct dctx *d, enum doc_kind k, const char *id, const char *number,
    const char *customer_id, struct derr *e)
{
	char now[24];
	if (db_exec_later(d->db, STMT_DOC_QUEUE, (const char *[]){ d->site.id,
	    kind_names[k], id, number, customer_id, buf_lltoa(d->now, now) }) != 0)
		return derr_db(e, d->db);
	return 0;
}

/* ---- what documents take from the portal's configuration ---- */

/*
 * The site's time zone (IANA name) and its logo (PNG bytes), from the portal's
 * configuration (its time zone, its uploaded logo: DESIGN, rulings: no document fetches
 * a merchant URL). A document is rendered once, so it keeps the look of the day it was
 * rendered. A failed statement is an error, not a document without its logo.
 */
static int
site_look(struct dctx *d, char zone[64], struct buf *logo, struct derr *e)
{
	struct portal_settings set;
	unsigned char *png = NULL;
	size_t n = 0;
	int rc;

	snprintf(zone, 64, "UTC");
	rc = portal_settings_load(d->db, d->site.id, NULL, &set);
	if (rc < 0)
		return derr_db(e, d->db);
	if (rc == 0)
		return 0;
	if (strlen(set.time_zone) < 64 && tz_valid(set.time_zone))
		snprintf(zone, 64, "%s", set.time_zone);
	if (set.logo_sha256[0] == '\0')
		return 0;
	rc = portal_logo_get(d->db, d->site.id, set.logo_sha256, &png, &n);
	if (rc < 0)
		return derr_db(e, d->db);
	if (rc == 1)
		buf_append(logo, (const char *)png, n);
	free(png);
	return 0;
}

/* ---- dates in a time zone ---- */

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

void
documents_format_date(long long ts, const char *zone, char out[32])
{
	struct tm tm;

	tz_localtime(ts, zone, &tm);
	snprintf(out, 32, "%d %s %d", tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900);
}

long long
documents_year_start(int year, const char *zone)
{
	return tz_mktime(year, 1, 1, 0, 0, zone);
}

/* ---- the model ---- */

struct model {
	struct pdf_doc	 doc;
	struct pdf_line	*lines;
	struct pdf_tax	 taxes[TAX_MAX_RATES + 1];
	struct pdf_total totals[8];
	const char	*party_lines[2][PDF_PARTY_LINES];
	char		**strs;		/* every string the model points to */
	size_t		 nstrs, cap;
	bool		 oom;
	cJSON		*buyer, *seller;
	char		 zone[64];
	char		 currency[4];
	struct buf	 logo;
};

static void
model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->logo);
}

static void
model_free(struct model *m)
{
	for (size_t i = 0; i < m->nstrs; i++)
		free(m->strs[i]);
	free(m->strs);
	free(m->lines);
	cJSON_Delete(m->buyer);
	cJSON_Delete(m->seller);
	buf_free(&m->logo);
}

/* A string the model keeps until model_free. */
static const char *
S(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *
S(struct model *m, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (m->nstrs == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		char **grown = realloc(m->strs, cap * sizeof(*grown));

		if (grown == NULL) {
			m->oom = true;
			return "";
		}
		m->strs = grown;
		m->cap = cap;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		m->oom = true;
		return "";
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	m->strs[m->nstrs++] = s;
	return s;
}

static const char *
money(struct model *m, long long minor)
{
	char out[CURRENCY_FMT_MAX];

	if (currency_format(minor, m->currency, out, sizeof(out)) != 0)
		snprintf(out, sizeof(out), "%lld %s", minor, m->currency);
	return S(m, "%s", out);
}

static const char *
date(struct model *m, long long ts)
{
	char out[32];

	documents_format_date(ts, m->zone, out);
	return S(m, "%s", out);
}

/* "1 Mar 2026 – 1 Apr 2026", or NULL without a period. */
static const char *
period(struct model *m, long long start, long long end)
{
	char a[32], b[32];

	if (start < 0 || end < 0)
		return NULL;
	documents_format_date(start, m->zone, a);
	documents_format_date(end, m->zone, b);
	return S(m, "%s \u2013 %s", a, b);
}

static const char *
str(const cJSON *o, const char *key)
{
	const char *v = json_str(o, key);

	return v != NULL && *v != '\0' ? v : NULL;
}

static void
party_add(struct pdf_party *p, const char *line)
{
	if (line != NULL && *line != '\0' && p->nlines < PDF_PARTY_LINES)
		p->lines[p->nlines++] = line;
}

static void
address(struct model *m, struct pdf_party *p, const cJSON *a)
{
	const char *pc = str(a, "postal_code"), *city = str(a, "city");

	if (a == NULL || !cJSON_IsObject(a))
		return;
	party_add(p, str(a, "line1"));
	party_add(p, str(a, "line2"));
	party_add(p, str(a, "line3"));
	if (pc != NULL || city != NULL)
		party_add(p, S(m, "%s%s%s", pc ? pc : "", pc && city ? " " : "",
		    city ? city : ""));
	party_add(p, str(a, "state"));
	party_add(p, str(a, "country"));
}

/* "VAT: DE123456789": the name a tax id goes by on invoices. */
static const char *
tax_id_line(struct model *m, const char *type, const char *value)
{
	static const struct {
		const char	*type, *label;
	} labels[] = {
		{ "eu_vat", "VAT" }, { "gb_vat", "VAT" }, { "ch_vat", "VAT" },
		{ "no_vat", "VAT" }, { "au_abn", "ABN" }, { "nz_gst", "GST" },
		{ "ca_bn", "BN" }, { "ca_gst_hst", "GST/HST" }, { "us_ein", "EIN" },
		{ "in_gst", "GSTIN" }, { "br_cnpj", "CNPJ" }, { "br_cpf", "CPF" },
		{ "jp_cn", "Corporate number" }, { "jp_trn", "Registration number" },
	};
	const char *label = "Tax ID";

	if (type == NULL || value == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].type, type) == 0)
			label = labels[i].label;
	return S(m, "%s: %s", label, value);
}

static void
seller_party(struct model *m)
{
	struct pdf_party *p = &m->doc.seller;
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(m->seller, "tax_ids"), *id;

	p->heading = "From";
	party_add(p, str(m->seller, "name"));
	address(m, p, cJSON_GetObjectItemCaseSensitive(m->seller, "address"));
	cJSON_ArrayForEach(id, ids)
		party_add(p, tax_id_line(m, str(id, "type"), str(id, "value")));
	party_add(p, str(m->seller, "email"));
	party_add(p, str(m->seller, "phone"));
}

static void
buyer_party(struct model *m)
{
	struct pdf_party *p = &m->doc.buyer;
	const cJSON *tax = cJSON_GetObjectItemCaseSensitive(m->buyer, "tax_id");

	p->heading = "Bill to";
	/* The company is the party when there is one; the name then says who in it. */
	party_add(p, str(m->buyer, "company"));
	party_add(p, str(m->buyer, "name"));
	address(m, p, cJSON_GetObjectItemCaseSensitive(m->buyer, "address"));
	if (tax != NULL)
		party_add(p, tax_id_line(m, str(tax, "type"), str(tax, "value")));
	party_add(p, str(m->buyer, "email"));
}

/* The site's look and the frozen parties; paper and footer come with the seller. */
static int
model_parties(struct dctx *d, struct model *m, const char *buyer, const char *seller,
    const char *currency, struct derr *e)
{
	const char *paper;

	if (site_look(d, m->zone, &m->logo, e) != 0)
		return -1;
	snprintf(m->currency, sizeof(m->currency), "%s", currency);
	m->buyer = cJSON_Parse(buyer ? buyer : "{}");
	m->seller = cJSON_Parse(seller ? seller : "{}");
	if (m->buyer == NULL || m->seller == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The frozen details are not JSON.");
	seller_party(m);
	buyer_party(m);
	paper = str(m->seller, "paper");
	m->doc.paper = paper != NULL && strcmp(paper, "letter") == 0 ? PDF_LETTER : PDF_A4;
	m->doc.footer = str(m->seller, "footer");
	if (m->logo.len > 0) {
		m->doc.logo = (const unsigned char *)m->logo.data;
		m->doc.logo_len = m->logo.len;
	}
	return 0;
}

/* The tax summary: one row per tax line, and the reverse charge's zero. */
static size_t
model_taxes(struct model *m, PGresult *t, const char *treatment)
{
	size_t n = 0;
	char pct[24];

	for (int i = 0; i < PQntuples(t) && n < TAX_MAX_RATES; i++) {
		bool incl = strcmp(db_val(t, i, DTAX_INCLUSIVE), "t") == 0;

		taxes_format_percentage((long)db_ll(t, i, DTAX_PPM, 0), pct);
		m->taxes[n].label = S(m, "%s%s %s%% on %s", incl ? "Includes " : "",
		    db_val(t, i, DTAX_NAME), pct, money(m, db_ll(t, i, DTAX_TAXABLE, 0)));
		m->taxes[n++].amount = money(m, db_ll(t, i, DTAX_AMOUNT, 0));
	}
	if (treatment != NULL && strcmp(treatment, "reverse_charge") == 0) {
		m->taxes[n].label = "VAT 0% (reverse charge)";
		m->taxes[n++].amount = money(m, 0);
	}
	m->doc.taxes = m->taxes;
	m->doc.ntaxes = n;
	return n;
}

static void
total(struct model *m, const char *label, long long v, int bold)
{
	struct pdf_total *t = &m->totals[m->doc.ntotals++];

	t->label = label;
	t->amount = money(m, v);
	t->bold = bold;
}

/* Where one kind of document keeps what every document shows: the head row, its lines and
 * its taxes, and the columns of each. Invoices and credit notes are read the same way. */
struct doc_shape {
	const char *object;
	enum stmt_id get, lines, taxes;
	int customer_details, seller_details, currency;
	int line_description, line_amount, line_start, line_end;
};

static const struct doc_shape invoice_shape = {
	"invoice", STMT_INV_GET, STMT_INV_LINES, STMT_INV_TAXES,
	INV_CUSTOMER_DETAILS, INV_SELLER_DETAILS, INV_CURRENCY,
	LINE_DESCRIPTION, LINE_AMOUNT, LINE_START, LINE_END
};

static const struct doc_shape credit_note_shape = {
	"credit_note", STMT_CN_GET, STMT_CN_LINES, STMT_CN_TAXES,
	CN_CUSTOMER_DETAILS, CN_SELLER_DETAILS, CN_CURRENCY,
	CNL_DESCRIPTION, CNL_AMOUNT, CNL_START, CNL_END
};

/* Reads the document's rows into r[0] (the head), r[1] (lines) and r[2] (taxes), and fills
 * the parties and the lines; *start and *end become the span of the lines' periods (-1
 * when none has one). The caller clears the three results, also on failure. */
static int
model_document(struct dctx *d, struct model *m, const struct doc_shape *sh, const char *id,
    PGresult *r[3], long long *start, long long *end, struct derr *e)
{
	const char *params[] = { d->site.id, id };
	int n;

	*start = *end = -1;
	r[0] = db_exec(d->db, sh->get, params);
	if (r[0] == NULL || PQntuples(r[0]) != 1)
		return r[0] == NULL ? derr_db(e, d->db) : derr_not_found(e, sh->object, id);
	r[1] = db_exec(d->db, sh->lines, params);
	r[2] = db_exec(d->db, sh->taxes, params);
	if (r[1] == NULL || r[2] == NULL)
		return derr_db(e, d->db);
	if (model_parties(d, m, db_val(r[0], 0, sh->customer_details),
	    db_val(r[0], 0, sh->seller_details), db_val(r[0], 0, sh->currency), e) != 0)
		return -1;
	n = PQntuples(r[1]);
	m->lines = calloc(n > 0 ? (size_t)n : 1, sizeof(*m->lines));
	if (m->lines == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	for (int i = 0; i < n; i++) {
		long long s = db_ll(r[1], i, sh->line_start, -1);
		long long t = db_ll(r[1], i, sh->line_end, -1);

		m->lines[i].description = S(m, "%s", db_val(r[1], i, sh->line_description));
		m->lines[i].period = period(m, s, t);
		m->lines[i].amount = money(m, db_ll(r[1], i, sh->line_amount, 0));
		if (s >= 0 && (*start < 0 || s < *start))
			*start = s;
		if (t >= 0 && t > *end)
			*end = t;
	}
	m->doc.lines = m->lines;
	m->doc.nlines = (size_t)n;
	return 0;
}

static void
clear3(PGresult *r[3])
{
	for (int i = 0; i < 3; i++)
		PQclear(r[i]);
}

static int
model_invoice(struct dctx *d, struct model *m, const char *id, struct derr *e)
{
	PGresult *r[3] = { NULL, NULL, NULL }, *inv;
	long long start, end, subtotal, tot, due, credit;

	if (model_document(d, m, &invoice_shape, id, r, &start, &end, e) != 0) {
		clear3(r);
		return -1;
	}
	inv = r[0];
	m->doc.title = "Invoice";
	m->doc.number = db_val(inv, 0, INV_NUMBER_TEXT) ? S(m, "%s",
	    db_val(inv, 0, INV_NUMBER_TEXT)) : S(m, "%s", db_val(inv, 0, INV_NUMBER));
	m->doc.created = db_ll(inv, 0, INV_CREATED, 0);
	m->doc.issue_date = date(m, m->doc.created);
	m->doc.supply_date = start >= 0 && end > start ? period(m, start, end) :
	    m->doc.issue_date;
	subtotal = db_ll(inv, 0, INV_SUBTOTAL, 0);
	tot = db_ll(inv, 0, INV_TOTAL, 0);
	credit = db_ll(inv, 0, INV_CREDIT, 0);
	due = db_ll(inv, 0, INV_DUE, 0);
	/* As issued: what is paid later is the portal's to show, never a change of the PDF. */
	m->doc.status = due == 0 ? "Paid" : "Due";
	m->doc.due_date = due > 0 ? m->doc.issue_date : NULL;
	model_taxes(m, r[2], db_val(inv, 0, INV_TAX_TREATMENT));
	total(m, "Subtotal", subtotal, 0);
	if (tot > subtotal)
		total(m, "Tax", tot - subtotal, 0);
	total(m, "Total", tot, 1);
	if (credit > 0)
		total(m, "Credit applied", -credit, 0);
	total(m, "Amount due", due, 1);
	m->doc.totals = m->totals;
	m->doc.note = db_val(inv, 0, INV_TAX_NOTE) ? S(m, "%s", db_val(inv, 0, INV_TAX_NOTE)) :
	    NULL;
	clear3(r);
	return 0;
}

static const char *
reason_text(const char *reason)
{
	if (strcmp(reason, "plan_change") == 0)
		return "Unused time credited after a change of plan.";
	if (strcmp(reason, "cancellation") == 0)
		return "Unused time credited after the subscription was cancelled.";
	if (strcmp(reason, "pause") == 0)
		return "Unused time credited after the subscription was paused.";
	if (strcmp(reason, "refund") == 0)
		return "Refund to the original payment method.";
	if (strcmp(reason, "void") == 0)
		return "The invoice is cancelled in full.";
	return NULL;
}

static int
model_credit_note(struct dctx *d, struct model *m, const char *id, struct derr *e)
{
	PGresult *r[3] = { NULL, NULL, NULL }, *cn;
	long long start, end, subtotal, tot, v;
	const char *why, *note;

	if (model_document(d, m, &credit_note_shape, id, r, &start, &end, e) != 0) {
		clear3(r);
		return -1;
	}
	cn = r[0];
	m->doc.title = "Credit note";
	m->doc.number = S(m, "%s", db_val(cn, 0, CN_NUMBER_TEXT));
	m->doc.created = db_ll(cn, 0, CN_CREATED, 0);
	m->doc.issue_date = date(m, m->doc.created);
	m->doc.supply_date = start >= 0 && end > start ? period(m, start, end) : NULL;
	m->doc.reference = S(m, "Corrects invoice %s of %s",
	    db_val(cn, 0, CN_INVOICE_NUMBER_TEXT) ? db_val(cn, 0, CN_INVOICE_NUMBER_TEXT) : "",
	    date(m, db_ll(cn, 0, CN_INVOICE_CREATED, 0)));
	subtotal = db_ll(cn, 0, CN_SUBTOTAL, 0);
	tot = db_ll(cn, 0, CN_TOTAL, 0);
	model_taxes(m, r[2], db_val(cn, 0, CN_TAX_TREATMENT));
	total(m, "Subtotal", subtotal, 0);
	if (tot > subtotal)
		total(m, "Tax", tot - subtotal, 0);
	total(m, "Total credited", tot, 1);
	if ((v = db_ll(cn, 0, CN_CREDIT_AMOUNT, 0)) > 0)
		total(m, "To your account balance", v, 0);
	if ((v = db_ll(cn, 0, CN_REFUND_AMOUNT, 0)) > 0)
		total(m, "Refunded to your payment method", v, 0);
	if ((v = db_ll(cn, 0, CN_VOID_AMOUNT, 0)) > 0)
		total(m, "No longer due", v, 0);
	m->doc.totals = m->totals;
	why = reason_text(db_val(cn, 0, CN_REASON));
	note = db_val(cn, 0, CN_TAX_NOTE);
	m->doc.note = why && note ? S(m, "%s\n%s", why, note) : why ? why : note ? S(m, "%s",
	    note) : NULL;
	clear3(r);
	return 0;
}

int
documents_render(struct dctx *d, enum doc_kind k, const char *id, struct buf *pdf,
    struct derr *e)
{
	struct model m;
	char err[256];
	int rc;

	model_init(&m);
	rc = k == DOC_INVOICE ? model_invoice(d, &m, id, e) : model_credit_note(d, &m, id, e);
	if (rc == 0 && m.oom)
		rc = derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	if (rc == 0 && pdf_render(&m.doc, pdf, err, sizeof(err)) != 0)
		rc = derr_set(e, DERR_INTERNAL, "render_failed", NULL, "%s", err);
	model_free(&m);
	return rc;
}

/* ---- the job ---- */

/* Renders the document and appends its bytes to pdf, with their SHA-256 (hex) in sum,
 * and stores them; 0 or -1 with e set. */
static int
render_and_store(struct dctx *d, const char *kind, const char *id, struct buf *pdf,
    struct derr *e)
{
	PGresult *res;
	char now[24], sum[CRYPTO_SHA256_LEN * 2 + 1];
	unsigned char digest[CRYPTO_SHA256_LEN];
	char *hex;

	if (documents_render(d, strcmp(kind, "credit_note") == 0 ? DOC_CREDIT_NOTE :
	    DOC_INVOICE, id, pdf, e) != 0)
		return -1;
	hex = malloc(pdf->len * 2 + 1);
	if (hex == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	crypto_hex((const unsigned char *)pdf->data, pdf->len, hex);
	crypto_sha256(pdf->data, pdf->len, digest);
	crypto_hex(digest, sizeof(digest), sum);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	res = db_exec(d->db, STMT_DOC_STORE, (const char *[]){ d->site.id, kind, id, hex, sum,
	    now });
	free(hex);
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}

/* Whether the database refused for a reason that passes (a conflict with another
 * transaction, a full disk, a cancelled statement, a lock not granted): not the
 * document's fault, so not one of its five tries. */
static bool
passing(const struct db *db, const struct derr *e)
{
	static const char *const classes[] = { "40", "53", "55", "57" };

	if (e->kind == DERR_CONFLICT || e->kind == DERR_UNAVAILABLE)
		return true;
	if (db->status != DB_ERROR)
		return false;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(db->sqlstate, classes[i], 2) == 0)
			return true;
	return false;
}

/* Renders and stores the claimed document kind/id: 1 when it was handled (one that cannot
 * be rendered or stored is recorded with its error instead, and tried at most five
 * times), 0 when the database refused for a reason that passes (it stays waiting, its
 * tries untouched), -1 when the database went away or a savepoint could not be ended. */
static int
render_one(struct dctx *d, const char *kind, const char *id, struct derr *e)
{
	PGresult *res;
	struct buf pdf;
	bool retry;
	int rc;

	/* A document that fails (bad data, a bug, a statement refused) is undone to here and
	 * recorded alone, so it cannot hold up the documents after it. */
	if (db_savepoint_named(d->db, "render") != 0)
		return derr_db(e, d->db);
	buf_init(&pdf);
	rc = render_and_store(d, kind, id, &pdf, e);
	buf_free(&pdf);
	if (rc == 0)
		return db_release_named(d->db, "render") == 0 ? 1 : derr_db(e, d->db);
	if (d->db->status == DB_UNAVAILABLE)
		return -1;
	retry = passing(d->db, e);
	if (db_rollback_named(d->db, "render") != 0 || db_release_named(d->db, "render") != 0)
		return derr_db(e, d->db);
	if (retry) {
		log_warn("documents: site %s: %s %s waits for another try: %s", d->site.id,
		    kind, id, e->message);
		return 0;
	}
	log_error("documents: site %s: %s %s cannot be rendered: %s", d->site.id, kind, id,
	    e->message);
	res = db_exec(d->db, STMT_DOC_FAIL, (const char *[]){ d->site.id, kind, id,
	    e->message });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 1;
}

int
documents_render_batch(struct dctx *d, int max, struct derr *e)
{
	PGresult *res;
	char kinds[DOCUMENTS_BATCH_MAX][16], ids[DOCUMENTS_BATCH_MAX][DOM_ID_MAX], lim[16];
	int n, done = 0;

	if (max < 1)
		return 0;
	if (max > DOCUMENTS_BATCH_MAX)
		max = DOCUMENTS_BATCH_MAX;
	snprintf(lim, sizeof(lim), "%d", max);
	res = db_exec(d->db, STMT_DOC_CLAIM, (const char *[]){ d->site.id, lim });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		snprintf(kinds[i], sizeof(kinds[i]), "%s", db_val(res, i, 0));
		snprintf(ids[i], sizeof(ids[i]), "%s", db_val(res, i, 1));
	}
	PQclear(res);
	for (int i = 0, rc; i < n; i++) {
		if ((rc = render_one(d, kinds[i], ids[i], e)) < 0)
			return -1;
		done += rc;
	}
	return done;
}

/* ---- downloads ---- */

static int
unhex(const char *hex, struct buf *out)
{
	size_t n = strlen(hex);

	if (n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi, lo;
		char c;

		hi = hex[i] >= 'a' ? hex[i] - 'a' + 10 : hex[i] - '0';
		lo = hex[i + 1] >= 'a' ? hex[i + 1] - 'a' + 10 : hex[i + 1] - '0';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return -1;
		c = (char)(hi << 4 | lo);
		buf_append(out, &c, 1);
	}
	return 0;
}

static int
not_ready(struct derr *e, PGresult *res, int row)
{
	const char *what = strcmp(db_val(res, row, DOC_KIND), "invoice") == 0 ? "invoice" :
	    "credit note";

	if (db_ll(res, row, DOC_ATTEMPTS, 0) >= 5)
		return derr_set(e, DERR_INTERNAL, "document_failed", NULL,
		    "The PDF of %s %s could not be made: %s", what,
		    db_val(res, row, DOC_NUMBER_TEXT), db_val(res, row, DOC_ERROR) ?
		    db_val(res, row, DOC_ERROR) : "unknown error");
	return derr_set(e, DERR_CONFLICT, "document_not_ready", NULL,
	    "The PDF of %s %s is being made; ask again in a few seconds.", what,
	    db_val(res, row, DOC_NUMBER_TEXT));
}

int
documents_get(struct dctx *d, enum doc_kind k, const char *id, const char *customer_scope,
    struct buf *pdf, char filename[DOC_FILENAME_MAX], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_DOC_GET, (const char *[]){ d->site.id,
	    kind_names[k], id });
	int rc;

	filename[0] = '\0';
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1 || (customer_scope != NULL &&
	    strcmp(db_val(res, 0, DOC_CUSTOMER), customer_scope) != 0)) {
		PQclear(res);
		return derr_not_found(e, kind_names[k], id);
	}
	if (db_val(res, 0, DOC_PDF_HEX) == NULL) {
		rc = not_ready(e, res, 0);
		PQclear(res);
		return rc;
	}
	snprintf(filename, DOC_FILENAME_MAX, "%s.pdf", db_val(res, 0, DOC_NUMBER_TEXT));
	rc = unhex(db_val(res, 0, DOC_PDF_HEX), pdf);
	PQclear(res);
	if (rc != 0)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The stored PDF cannot be read.");
	return 0;
}

/* ---- the yearly archive ---- */

static int
zip_fail(zip_t *za, zip_source_t *src, struct derr *e, const char *what)
{
	const char *why = za != NULL ? zip_strerror(za) : "libzip";

	derr_set(e, DERR_INTERNAL, "internal_error", NULL, "The archive cannot be made (%s: %s).",
	    what, why);
	if (za != NULL)
		zip_discard(za);
	if (src != NULL)
		zip_source_free(src);
	return -1;
}

/* Adds the rows' PDFs (read one by one, so no result holds them all as text) to a ZIP
 * made in memory, then copies the archive into out. */
static int
build_zip(struct dctx *d, PGresult *res, struct buf *out, struct derr *e)
{
	int n = PQntuples(res);
	struct buf *pdfs = calloc(n > 0 ? (size_t)n : 1, sizeof(*pdfs));
	zip_error_t ze;
	zip_source_t *src;
	zip_stat_t st;
	zip_t *za;
	int rc = -1;

	if (pdfs == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "out of memory");
	if (n == 0) {
		/* libzip writes nothing for an archive without files: an empty ZIP is just its
		 * end-of-central-directory record. */
		static const char empty[22] = { 'P', 'K', 5, 6 };

		buf_append(out, empty, sizeof(empty));
		free(pdfs);
		return 0;
	}
	zip_error_init(&ze);
	src = zip_source_buffer_create(NULL, 0, 0, &ze);
	za = src != NULL ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
	if (za == NULL) {
		zip_error_fini(&ze);
		rc = zip_fail(NULL, src, e, "open");
		goto out;
	}
	zip_error_fini(&ze);
	zip_source_keep(src);	/* it outlives zip_close, which writes the archive into it */
	for (int i = 0; i < n; i++) {
		bool invoice = strcmp(db_val(res, i, DOC_KIND), "invoice") == 0;
		const char *folder = invoice ? "invoices" : "credit_notes";
		char name[DOC_FILENAME_MAX + 16], fn[DOC_FILENAME_MAX];
		zip_source_t *s;
		zip_int64_t idx;

		if (documents_get(d, invoice ? DOC_INVOICE : DOC_CREDIT_NOTE,
		    db_val(res, i, DOC_OBJECT), NULL, &pdfs[i], fn, e) != 0) {
			zip_discard(za);
			zip_source_free(src);
			rc = -1;
			goto out;
		}
		snprintf(name, sizeof(name), "%s/%s.pdf", folder, db_val(res, i, DOC_NUMBER_TEXT));
		/* Two prefixes over the years may print the same number: keep both files. */
		if (zip_name_locate(za, name, 0) >= 0)
			snprintf(name, sizeof(name), "%s/%s-%s.pdf", folder,
			    db_val(res, i, DOC_NUMBER_TEXT), db_val(res, i, DOC_OBJECT));
		s = zip_source_buffer(za, pdfs[i].data, pdfs[i].len, 0);
		if (s == NULL) {
			rc = zip_fail(za, src, e, "add");
			goto out;
		}
		idx = zip_file_add(za, name, s, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(s);
			rc = zip_fail(za, src, e, "add");
			goto out;
		}
		/* PDFs are compressed inside already. */
		zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
		zip_file_set_mtime(za, (zip_uint64_t)idx, (time_t)db_ll(res, i, DOC_ISSUED, 0), 0);
	}
	if (zip_close(za) != 0) {
		rc = zip_fail(za, src, e, "close");
		goto out;
	}
	/* The archive holds its own copy now: the PDFs go before it is copied out. */
	for (int i = 0; i < n; i++)
		buf_free(&pdfs[i]);
	if (zip_source_stat(src, &st) != 0 || zip_source_open(src) != 0) {
		rc = zip_fail(NULL, src, e, "read");
		goto out;
	}
	{
		char chunk[16384];
		zip_int64_t got;

		while ((got = zip_source_read(src, chunk, sizeof(chunk))) > 0)
			buf_append(out, chunk, (size_t)got);
		zip_source_close(src);
		rc = got < 0 ? zip_fail(NULL, src, e, "read") : 0;
		if (rc == 0)
			zip_source_free(src);
	}
out:
	for (int i = 0; i < n; i++)
		buf_free(&pdfs[i]);
	free(pdfs);
	return rc;
}

int
documents_archive(struct dctx *d, const char *customer_id, int year,
    const char *customer_scope, struct buf *zip, char filename[DOC_FILENAME_MAX],
    struct derr *e)
{
	char zone[64], from[24], to[24];
	struct buf logo;
	PGresult *res;
	int rc;

	filename[0] = '\0';
	if (customer_scope != NULL && strcmp(customer_scope, customer_id) != 0)
		return derr_not_found(e, "customer", customer_id);
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	rc = PQntuples(res);
	PQclear(res);
	if (rc != 1)
		return derr_not_found(e, "customer", customer_id);
	if (year < 1970 || year > 9998)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "year",
		    "year must be between 1970 and 9998.");
	buf_init(&logo);
	rc = site_look(d, zone, &logo, e);
	buf_free(&logo);
	if (rc != 0)
		return -1;
	res = db_exec(d->db, STMT_DOC_YEAR, (const char *[]){ d->site.id, customer_id,
	    buf_lltoa(documents_year_start(year, zone), from),
	    buf_lltoa(documents_year_start(year + 1, zone), to) });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) > DOC_ARCHIVE_MAX) {
		PQclear(res);
		return derr_set(e, DERR_INVALID, "too_many_documents", "year",
		    "More than %d documents in %d: ask for them one by one.", DOC_ARCHIVE_MAX,
		    year);
	}
	{
		long long bytes = 0;

		for (int i = 0; i < PQntuples(res); i++) {
			if (db_val(res, i, DOC_PDF_HEX) == NULL) {
				rc = not_ready(e, res, i);
				PQclear(res);
				return rc;
			}
			bytes += db_ll(res, i, DOC_PDF_HEX, 0);
		}
		/* The archive is built in memory (and sent from there): bounded. */
		if (bytes > DOC_ARCHIVE_BYTES) {
			PQclear(res);
			return derr_set(e, DERR_INVALID, "archive_too_large", "year",
			    "The documents of %d come to more than %ld MB: download them one "
			    "by one.", year, DOC_ARCHIVE_BYTES / (1024 * 1024));
		}
	}
	if (zip == NULL) {
		PQclear(res);
		snprintf(filename, DOC_FILENAME_MAX, "documents-%s-%d.zip", customer_id, year);
		return 0;
	}
	rc = build_zip(d, res, zip, e);
	PQclear(res);
	if (rc == 0)
		snprintf(filename, DOC_FILENAME_MAX, "documents-%s-%d.zip", customer_id, year);
	return rc;
}
