/* api_invoicing.c: what makes invoices fileable: /api/v1/legal_details, /api/v1/tax_rates,
 * one-off invoices (POST /api/v1/invoices), /api/v1/credit_notes, and the PDFs of both
 * (one file, or a customer's year as a ZIP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "billing/documents.h"
#include "billing/invoices.h"
#include "billing/legal.h"
#include "billing/taxes.h"

/* ---- legal details ---- */

void
h_legal_get(struct ctx *c)
{
	api_get(c, OBJ_LEGAL_DETAILS, c->site.id);
}

void
h_legal_update(struct ctx *c)
{
	struct derr e;

	if (legal_update(&c->d, c->body, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_LEGAL_DETAILS, c->site.id);
}

/* ---- tax rates ---- */

const struct qparam tax_rate_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "country", .type = QT_STRING },
	{ .name = "active", .type = QT_STRING },
	{ .name = NULL }
};

void
h_tax_rate_create(struct ctx *c)
{
	struct derr e;
	char id[DOM_ID_MAX];

	if (taxes_rate_create(&c->d, c->body, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_TAX_RATE, id);
}

void
h_tax_rate_get(struct ctx *c)
{
	api_get(c, OBJ_TAX_RATE, c->req->path_params[0]);
}

void
h_tax_rate_update(struct ctx *c)
{
	struct derr e;

	if (taxes_rate_update(&c->d, c->req->path_params[0], c->body, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_TAX_RATE, c->req->path_params[0]);
}

void
h_tax_rate_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_TAX_RATE, STMT_TAXRATE_LIST_FIRST,
	    STMT_TAXRATE_LIST_AFTER, { "country", "active" }, CURSOR_CREATED, TXR_CREATED };
	const char *active = api_arg(c, "active");

	if (active != NULL && strcmp(active, "true") != 0 && strcmp(active, "false") != 0) {
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "active",
		    "active must be true or false.");
		return;
	}
	api_list(c, &spec);
}

/* ---- one-off invoices ---- */

static const struct field inv_line_fields[] = {
	{ .name = "description", .type = FT_STRING, .required = true, .max_len = 239 },
	{ .name = "amount", .type = FT_INT, .required = true, .min = 0,
	  .max = 100000000000LL },
	{ .name = "period_start", .type = FT_INT, .min = 0, .max = 253402300799LL },
	{ .name = "period_end", .type = FT_INT, .min = 0, .max = 253402300799LL },
	{ .name = NULL }
};

const struct field inv_create_fields[] = {
	{ .name = "customer_id", .type = FT_STRING, .required = true, .max_len = 64,
	  .check = check_id },
	{ .name = "currency", .type = FT_STRING, .required = true, .max_len = 3 },
	{ .name = "lines", .type = FT_OBJLIST, .required = true, .fields = inv_line_fields,
	  .max = INV_MAX_LINES },
	{ .name = NULL }
};

/* Bills what the body lists, taxed like every invoice, and collects it at once. */
void
h_inv_create(struct ctx *c)
{
	struct inv_draft *dr = arena_alloc(&c->req->arena, sizeof(*dr));
	const cJSON *l;
	struct derr e;
	char id[DOM_ID_MAX];

	if (dr == NULL) {
		api_error(c, 500, "api_error", "internal_error", NULL, "out of memory");
		return;
	}
	inv_draft_init(dr, json_str(c->body, "customer_id"), NULL, json_str(c->body, "currency"));
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(c->body, "lines"))
		inv_draft_add(dr, "one_off", json_str(l, "description"), json_int(l, "amount", 0),
		    NULL, json_int(l, "period_start", -1), json_int(l, "period_end", -1));
	if (invoices_create(&c->d, dr, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_INVOICE, id);
}

/* ---- credit notes ---- */

const struct qparam cn_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "customer_id", .type = QT_ID },
	{ .name = "invoice_id", .type = QT_ID },
	{ .name = NULL }
};

void
h_cn_get(struct ctx *c)
{
	api_get(c, OBJ_CREDIT_NOTE, c->req->path_params[0]);
}

void
h_cn_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_CREDIT_NOTE, STMT_CN_LIST_FIRST,
	    STMT_CN_LIST_AFTER, { "customer_id", "invoice_id" }, CURSOR_SEQ, CN_NUMBER };

	api_list(c, &spec);
}

/* ---- PDFs ---- */

/* A document not rendered yet is a 409 with Retry-After: it will be there in seconds. */
static void
document_error(struct ctx *c, const struct derr *e)
{
	if (e->kind == DERR_CONFLICT)
		http_header(c->resp, "Retry-After", "2");
	api_derr(c, e);
}

/* ?customer_id=: a merchant serving its own signed-in customer can have Portald check the
 * document is theirs (another customer's is then a 404, as in the portal). */
const struct qparam pdf_params[] = {
	{ .name = "customer_id", .type = QT_ID },
	{ .name = NULL }
};

static void
pdf(struct ctx *c, enum doc_kind k)
{
	char filename[DOC_FILENAME_MAX];
	struct buf b;
	struct derr e;

	buf_init(&b);
	if (documents_get(&c->d, k, c->req->path_params[0], api_arg(c, "customer_id"), &b,
	    filename, &e) != 0)
		document_error(c, &e);
	else
		api_binary(c, "application/pdf", filename, &b);
	buf_free(&b);
}

void
h_inv_pdf(struct ctx *c)
{
	pdf(c, DOC_INVOICE);
}

void
h_cn_pdf(struct ctx *c)
{
	pdf(c, DOC_CREDIT_NOTE);
}

const struct qparam documents_zip_params[] = {
	{ .name = "year", .type = QT_INT, .min = 1970, .max = 9998 },
	{ .name = NULL }
};

/* A customer's invoices and credit notes of one year (in the site's time zone), built
 * into the response's body. A HEAD checks and names the archive and builds nothing. */
void
h_customer_documents_zip(struct ctx *c)
{
	const char *year = api_arg(c, "year");
	bool head = c->req->method == HTTP_HEAD;
	char filename[DOC_FILENAME_MAX];
	struct derr e;

	if (year == NULL) {
		api_error(c, 400, "invalid_request_error", "parameter_missing", "year",
		    "year is required, such as ?year=2027.");
		return;
	}
	buf_reset(&c->resp->body);
	if (documents_archive(&c->d, c->req->path_params[0], atoi(year), NULL, head ? NULL :
	    &c->resp->body, filename, &e) != 0) {
		document_error(c, &e);
		return;
	}
	api_binary(c, "application/zip", filename, NULL);	/* in the body already */
}
