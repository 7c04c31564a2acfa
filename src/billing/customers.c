/* customers.c: customers, their manual credit and their entitlements. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "billing/credit.h"
#include "billing/customers.h"
#include "billing/events.h"
#include "billing/notify.h"
#include "billing/objects.h"
#include "billing/taxid.h"
#include "core/crypto.h"
#include "core/currency.h"

static int
emit(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_CUSTOMER, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

const struct customer_tax_type customers_tax_types[] = {
	{ "eu_vat", "EU VAT number" },
	{ "gb_vat", "UK VAT number" },
	{ "ch_vat", "Swiss VAT number" },
	{ "no_vat", "Norwegian VAT number" },
	{ "au_abn", "Australian Business Number (ABN)" },
	{ "ca_bn", "Canadian Business Number (BN)" },
	{ "us_ein", "US Employer Identification Number (EIN)" },
	{ "in_gst", "Indian GST number" },
	{ "br_cnpj", "Brazilian CNPJ number" },
	{ "jp_cn", "Japanese Corporate Number" },
	{ "other", "Other tax ID" },
	{ NULL, NULL }
};

const char *
customers_tax_type_label(const char *code)
{
	for (const struct customer_tax_type *t = customers_tax_types; t->code != NULL; t++)
		if (code != NULL && strcmp(t->code, code) == 0)
			return t->label;
	return NULL;
}

/* An empty string clears a text field, like null. */
static const char *
text(const char *v)
{
	return v && *v ? v : NULL;
}

/* The tax id of r checked and in its canonical form (into norm), or NULL to clear it. */
static int
tax_id(const struct customer_req *r, char norm[TAXID_MAX], const char **value,
    struct derr *e)
{
	const char *t = text(r->tax_id_type), *v = text(r->tax_id_value);
	char why[160];

	*value = NULL;
	if (!r->set_tax_id || (t == NULL && v == NULL))
		return 0;
	if (t == NULL || v == NULL)
		return derr_set(e, DERR_INVALID, "parameter_invalid",
		    t == NULL ? "tax_id.type" : "tax_id.value",
		    "A tax id needs both its type and its value.");
	if (taxid_validate(t, v, norm, TAXID_MAX, why, sizeof(why)) != 0)
		return derr_set(e, DERR_INVALID, "tax_id_invalid", "tax_id.value", "%s", why);
	*value = norm;
	return 0;
}

/* Same address, treating NULL and "" alike and ignoring case. */
static bool
same_email(const char *a, const char *b)
{
	a = text(a);
	b = text(b);
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

/* The portal's limits: editing at all, and the email address (the sign-in identity). A
 * form that posts the address unchanged is fine; a different one is refused. */
static int
check_policy(struct dctx *d, const char *id, const struct customer_req *r,
    const struct customer_policy *pol, struct derr *e)
{
	PGresult *res;
	bool changed;

	if (pol == NULL)
		return 0;
	if (!pol->edit_allowed)
		return derr_set(e, DERR_FORBIDDEN, "action_not_allowed", NULL,
		    "Billing details cannot be changed here.");
	if (!r->set_email || pol->email_editable)
		return 0;
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", id);
	}
	changed = !same_email(db_val(res, 0, CUST_EMAIL), r->email);
	PQclear(res);
	if (changed)
		return derr_set(e, DERR_FORBIDDEN, "email_not_editable", "email",
		    "The email address cannot be changed here.");
	return 0;
}

int
customers_exists(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : derr_not_found(e, "customer", id);
}

int
customers_create(struct dctx *d, const struct customer_req *r, char id[DOM_ID_MAX],
    struct derr *e)
{
	char now[24], norm[TAXID_MAX];
	const char *tax;
	PGresult *res;
	int n;

	if (tax_id(r, norm, &tax, e) != 0)
		return -1;
	if (r->id != NULL)
		snprintf(id, DOM_ID_MAX, "%s", r->id);
	else if (dom_new_id("cus", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_CUSTOMER_INSERT, (const char *[]){ d->site.id, id,
	    text(r->email), text(r->name), text(r->phone), r->address_json, r->metadata_json,
	    buf_lltoa(d->now, now), text(r->company), tax ? r->tax_id_type : NULL, tax });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_CONFLICT, "resource_already_exists", "id",
		    "A customer with id '%s' already exists.", id);
	return emit(d, "customer.created", id, e);
}

/* The email address is the portal's sign-in identity: when it changes, the links already
 * mailed to the old one stop working (a link must not open the account at its new
 * address), and the old address is told, which is the only warning a customer gets of a
 * change they did not make. */
static int
email_changed(struct dctx *d, const char *id, const char *old_email, const char *new_email,
    struct derr *e)
{
	char now[24], when[48];
	PGresult *res = db_exec(d->db, STMT_MAIL_LINKS_END, (const char *[]){ d->site.id, id,
	    buf_lltoa(d->now, now) });
	cJSON *data;
	char *json;
	int rc;

	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (old_email == NULL)
		return 0;
	notify_date(d->now, when);
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "to", old_email);
	cJSON_AddStringToObject(data, "old_email", old_email);
	cJSON_AddStringToObject(data, "new_email", new_email != NULL ? new_email : "");
	cJSON_AddStringToObject(data, "changed_at", when);
	json = cJSON_PrintUnformatted(data);
	cJSON_Delete(data);
	if (json == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL, "Out of memory.");
	rc = notify_queue(d, "email_changed", id, json, NULL, e);
	cJSON_free(json);
	return rc;
}

int
customers_update(struct dctx *d, const char *id, const struct customer_req *r,
    const struct customer_policy *pol, struct derr *e)
{
	char now[24], norm[TAXID_MAX], old_email[256] = "";
	const char *tax;
	PGresult *res;
	bool had_email = false;
	int n;

	if (check_policy(d, id, r, pol, e) != 0 || tax_id(r, norm, &tax, e) != 0)
		return -1;
	if (r->set_email) {
		res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, id });
		if (res == NULL)
			return derr_db(e, d->db);
		if (PQntuples(res) == 1 && text(db_val(res, 0, CUST_EMAIL)) != NULL) {
			snprintf(old_email, sizeof(old_email), "%s", db_val(res, 0, CUST_EMAIL));
			had_email = true;
		}
		PQclear(res);
	}
	res = db_exec(d->db, STMT_CUSTOMER_UPDATE, (const char *[]){ d->site.id, id,
	    r->set_email ? "true" : "false", text(r->email),
	    r->set_name ? "true" : "false", text(r->name),
	    r->set_phone ? "true" : "false", text(r->phone),
	    r->set_address ? "true" : "false", r->address_json,
	    r->metadata_json, buf_lltoa(d->now, now),
	    r->set_company ? "true" : "false", text(r->company),
	    r->set_tax_id ? "true" : "false", tax ? r->tax_id_type : NULL, tax });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_not_found(e, "customer", id);
	if (r->set_email && !same_email(had_email ? old_email : NULL, r->email) &&
	    email_changed(d, id, had_email ? old_email : NULL, text(r->email), e) != 0)
		return -1;
	return emit(d, "customer.updated", id, e);
}

int
customers_delete(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_CUSTOMER_BILLING_REFS, (const char *[]){ d->site.id,
	    id });
	struct buf data;
	struct jw w;
	int rc;

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_not_found(e, "customer", id);
	}
	/* Invoices are numbered records and live subscriptions still bill: deleting the
	 * customer would take them along, so it is refused while they exist. */
	if (db_ll(res, 0, 0, 0) > 0 || db_ll(res, 0, 1, 0) > 0) {
		derr_set(e, DERR_CONFLICT, "customer_has_billing_history", "id",
		    "Customer '%s' has %lld invoice(s) and %lld subscription(s) still billing; "
		    "a customer with billing history cannot be deleted.", id,
		    db_ll(res, 0, 0, 0), db_ll(res, 0, 1, 0));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	res = db_exec(d->db, STMT_CUSTOMER_DELETE, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	buf_init(&data);
	jw_init(&w, &data);
	obj_write_deleted(&w, "customer", id);
	rc = events_emit(d, "customer.deleted", id, data.data, e);
	buf_free(&data);
	return rc;
}

int
customers_grant_credit(struct dctx *d, const char *id, long long amount,
    const char *currency, const char *description, char entry[DOM_ID_MAX], struct derr *e)
{
	const struct currency *cur = currency_get(currency);
	struct credit_grant g;
	struct buf data;
	int rc;

	if (cur == NULL || !cur->billable)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "currency",
		    "currency must be a current ISO 4217 code such as USD or EUR.");
	if (amount <= 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "amount",
		    "amount must be a positive number of minor units.");
	if (customers_exists(d, id, e) != 0)
		return -1;
	memset(&g, 0, sizeof(g));
	g.customer_id = id;
	g.currency = cur->code;
	g.amount = amount;
	g.source = "manual";
	g.description = description && *description ? description : "Credit granted";
	g.period_start = g.period_end = -1;
	if (credit_grant(d, &g, entry, e) != 0)
		return -1;
	buf_init(&data);
	rc = obj_render(d, OBJ_CREDIT_ENTRY, entry, &data, e);
	if (rc == 0)
		rc = events_emit(d, "customer.credit_granted", id, data.data, e);
	buf_free(&data);
	return rc;
}

int
customers_entitlements_refresh(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *res;
	struct buf data;
	unsigned char h[CRYPTO_SHA256_LEN];
	char digest[65];
	int rc = 0;

	res = db_exec(d->db, STMT_CUSTOMER_LOCK, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	buf_init(&data);
	if (obj_render(d, OBJ_ENTITLEMENTS, id, &data, e) != 0) {
		PQclear(res);
		buf_free(&data);
		return -1;
	}
	crypto_sha256(data.data, data.len, h);
	crypto_hex(h, sizeof(h), digest);
	if (strcmp(db_val(res, 0, 1), digest) != 0 &&
	    !(db_val(res, 0, 1)[0] == '\0' && strstr(data.data, "\"data\":[]") != NULL)) {
		PGresult *upd = db_exec(d->db, STMT_CUSTOMER_SET_DIGEST, (const char *[]){
		    d->site.id, id, digest });

		if (upd == NULL)
			rc = derr_db(e, d->db);
		PQclear(upd);
		if (rc == 0)
			rc = events_emit(d, "entitlements.updated", id, data.data, e);
	}
	PQclear(res);
	buf_free(&data);
	return rc;
}
