/* customers.c: updating a customer's details, with the portal's limits enforced here so
 * a form posted directly is refused as surely as a hidden button. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "billing/customers.h"

const struct tax_id_type customer_tax_id_types[] = {
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
customer_tax_id_label(const char *code)
{
	for (const struct tax_id_type *t = customer_tax_id_types; t->code != NULL; t++)
		if (code != NULL && strcmp(t->code, code) == 0)
			return t->label;
	return NULL;
}

static const char *
nonempty(const char *v)
{
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Same text, treating NULL and "" alike and ignoring case (email addresses). */
static bool
same_email(const char *a, const char *b)
{
	a = nonempty(a);
	b = nonempty(b);
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

static int
check(const struct customer_details *d, struct billing_error *err)
{
	const char *why;

	if (d->set_email && nonempty(d->email) && (why = check_email(d->email)) != NULL) {
		billing_error_set(err, "parameter_invalid", "email", "email %s", why);
		return -1;
	}
	if (d->set_tax_id) {
		const char *t = nonempty(d->tax_id_type), *v = nonempty(d->tax_id_value);

		if ((t == NULL) != (v == NULL)) {
			billing_error_set(err, "parameter_invalid", t ? "tax_id.value" : "tax_id.type",
			    "A tax id needs both its type and its value.");
			return -1;
		}
		if (t != NULL && customer_tax_id_label(t) == NULL) {
			billing_error_set(err, "parameter_invalid", "tax_id.type",
			    "tax_id.type is not a known tax id type.");
			return -1;
		}
		if (v != NULL && strlen(v) > 64) {
			billing_error_set(err, "parameter_invalid", "tax_id.value",
			    "tax_id.value must be at most 64 characters long.");
			return -1;
		}
	}
	return 0;
}

int
customer_update_details(struct bctx *b, const char *customer_id,
    const struct customer_details *d, const struct portal_settings *limits, PGresult **out,
    struct billing_error *err)
{
	char now[24];
	const char *p[17];
	PGresult *res;
	struct buf data;
	struct jw w;
	int rc;

	*out = NULL;
	if (limits != NULL && !limits->edit_billing_details) {
		billing_error_set(err, "feature_disabled", NULL,
		    "Billing details cannot be changed in this portal.");
		return -1;
	}
	if (check(d, err) != 0)
		return -1;
	if (limits != NULL && d->set_email && !limits->email_editable) {
		/* The portal never offers the field then; a posted one must not change it. */
		res = db_exec(b->db, STMT_CUSTOMER_GET, (const char *[]){ b->site_id, customer_id });
		if (res == NULL) {
			billing_error_set(err, "database_error", NULL, "database error");
			return -1;
		}
		rc = PQntuples(res) == 1 && !same_email(db_val(res, 0, CUST_EMAIL), d->email);
		PQclear(res);
		if (rc) {
			billing_error_set(err, "email_not_editable", "email",
			    "The email address cannot be changed here.");
			return -1;
		}
	}
	p[0] = b->site_id;
	p[1] = customer_id;
	p[2] = d->set_email ? "true" : "false";
	p[3] = nonempty(d->email);
	p[4] = d->set_name ? "true" : "false";
	p[5] = nonempty(d->name);
	p[6] = d->set_phone ? "true" : "false";
	p[7] = nonempty(d->phone);
	p[8] = d->set_address ? "true" : "false";
	p[9] = d->address_json;
	p[10] = d->metadata_json;
	p[11] = buf_lltoa(b->now, now);
	p[12] = d->set_company ? "true" : "false";
	p[13] = nonempty(d->company);
	p[14] = d->set_tax_id ? "true" : "false";
	p[15] = nonempty(d->tax_id_type);
	p[16] = nonempty(d->tax_id_value);
	res = db_exec(b->db, STMT_CUSTOMER_UPDATE, p);
	if (res == NULL) {
		billing_error_set(err, "database_error", NULL, "database error");
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		billing_error_set(err, "resource_missing", "id", "No such customer: '%s'",
		    customer_id);
		return -1;
	}
	buf_init(&data);
	jw_init(&w, &data);
	billing_write_customer(&w, NULL, res, 0);
	rc = events_emit(b, "customer.updated", customer_id, data.data);
	buf_free(&data);
	if (rc != 0) {
		PQclear(res);
		billing_error_set(err, "database_error", NULL, "database error");
		return -1;
	}
	*out = res;
	return 0;
}
