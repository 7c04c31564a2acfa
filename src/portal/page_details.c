/* page_details.c: /portal/{site}/billing_details: the customer's name, company, tax id,
 * phone, address and (where the merchant allows it) email address. The POST goes through
 * customers_update, the same domain call as the API's customer update, with the
 * session's policy: the domain refuses what the settings forbid. */
#include <stdio.h>
#include <string.h>

#include "billing/customers.h"
#include "core/country.h"
#include "portal/form.h"
#include "portal/portal.h"

static struct form_option
country_option(size_t i)
{
	if (i == 0)
		return (struct form_option){ "", "Select a country", NULL };
	return (struct form_option){ countries[i - 1].code, countries[i - 1].name, NULL };
}

static struct form_option
tax_type_option(size_t i)
{
	if (i == 0)
		return (struct form_option){ "", "No tax ID", NULL };
	return (struct form_option){ customers_tax_types[i - 1].code,
	    customers_tax_types[i - 1].label, NULL };
}

static const char *
check_email_field(const char *v)
{
	return check_email(v) == NULL ? NULL :
	    "Enter an email address in the correct format, like name@example.com";
}

static const char *
check_phone(const char *v)
{
	int digits = 0;

	for (; *v != '\0'; v++) {
		if (*v >= '0' && *v <= '9')
			digits++;
		else if (strchr(" +-().", *v) == NULL)
			return "Enter a phone number, like 01632 960 001 or +44 808 157 0192";
	}
	return digits >= 5 ? NULL : "Enter a phone number, like 01632 960 001 or +44 808 157 0192";
}

static const struct form_field details_fields[] = {
	{ .name = "name", .label = "Full name", .required = true, .max_len = 200,
	  .autocomplete = "name", .missing = "Enter your full name", .group = "Contact" },
	{ .name = "email", .label = "Email address", .kind = FORM_EMAIL, .required = true,
	  .max_len = 254, .autocomplete = "email", .check = check_email_field,
	  .missing = "Enter your email address", .hint = "We send receipts and billing "
	  "messages here.", .group = "Contact" },
	{ .name = "phone", .label = "Phone number", .kind = FORM_TEL, .max_len = 50,
	  .autocomplete = "tel", .width = "w-20", .check = check_phone, .group = "Contact" },
	{ .name = "company", .label = "Company name", .max_len = 250,
	  .autocomplete = "organization", .hint = "Shown on your invoices.", .group = "Company" },
	{ .name = "tax_id_type", .label = "Tax ID type", .kind = FORM_SELECT,
	  .option = tax_type_option, .group = "Company" },
	{ .name = "tax_id_value", .label = "Tax ID", .max_len = 64, .width = "w-20",
	  .hint = "For example, a VAT number like DE123456789.", .group = "Company" },
	{ .name = "line1", .label = "Address line 1", .required = true, .max_len = 200,
	  .autocomplete = "address-line1", .missing = "Enter address line 1, typically the "
	  "building and street", .group = "Billing address" },
	{ .name = "line2", .label = "Address line 2", .max_len = 200,
	  .autocomplete = "address-line2", .group = "Billing address" },
	{ .name = "city", .label = "Town or city", .required = true, .max_len = 100,
	  .autocomplete = "address-level2", .width = "w-20", .missing = "Enter town or city",
	  .group = "Billing address" },
	{ .name = "state", .label = "State, county or region", .max_len = 100,
	  .autocomplete = "address-level1", .width = "w-20", .group = "Billing address" },
	{ .name = "postal_code", .label = "Postcode or ZIP code", .max_len = 20,
	  .autocomplete = "postal-code", .width = "w-10", .group = "Billing address" },
	{ .name = "country", .label = "Country", .kind = FORM_SELECT, .required = true,
	  .autocomplete = "country", .option = country_option, .missing = "Select your country",
	  .group = "Billing address" },
	{ .name = NULL }
};

/* Loads the signed-in customer. NULL (and a rendered error) when it fails. */
static PGresult *
load_customer(struct page *p)
{
	PGresult *res = db_exec(p->c->db, STMT_CUSTOMER_GET, (const char *[]){ p->set.site_id,
	    p->customer_id });

	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		page_unavailable(p);
		return NULL;
	}
	return res;
}

static bool
disabled(struct page *p)
{
	if (p->set.edit_billing_details)
		return false;
	page_message(p, 403, "Billing details cannot be changed here", "To change your "
	    "billing details, contact us.", page_url(p, ""), "Go to your account");
	return true;
}

static void
render(struct page *p, struct form *f, int status)
{
	cJSON *d = cJSON_CreateObject();
	char err[128];

	p->nav = "billing_details";
	if (form_view(f, d, err, sizeof(err)) != 0) {
		cJSON_Delete(d);
		page_message(p, 500, "Something went wrong", "Please try again.", NULL, NULL);
		return;
	}
	cJSON_AddStringToObject(d, "action", page_url(p, "/billing_details"));
	cJSON_AddStringToObject(d, "cancel", page_url(p, ""));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	page_render(p, status, "Billing details", "billing_details", d, f->n_errors > 0);
}

static void
fill(struct form *f, PGresult *res)
{
	form_set(f, "name", db_val(res, 0, CUST_NAME));
	form_set(f, "email", db_val(res, 0, CUST_EMAIL));
	form_set(f, "phone", db_val(res, 0, CUST_PHONE));
	form_set(f, "company", db_val(res, 0, CUST_COMPANY));
	form_set(f, "tax_id_type", db_val(res, 0, CUST_TAX_TYPE));
	form_set(f, "tax_id_value", db_val(res, 0, CUST_TAX_VALUE));
}

void
page_details_show(struct page *p)
{
	struct form f;
	PGresult *res;
	cJSON *addr;
	static const char *const parts[] = { "line1", "line2", "city", "state", "postal_code",
	    "country" };

	if (disabled(p) || (res = load_customer(p)) == NULL)
		return;
	form_init(&f, details_fields);
	fill(&f, res);
	if (!p->set.email_editable)
		form_fix(&f, "email", p->customer_email ? p->customer_email : "",
		    "To change your email address, contact us.");
	addr = db_val(res, 0, CUST_BILLING) ? cJSON_Parse(db_val(res, 0, CUST_BILLING)) : NULL;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *v = json_str(addr, parts[i]);

		if (v != NULL)
			form_set(&f, parts[i], arena_strndup(&p->c->req->arena, v, strlen(v)));
	}
	cJSON_Delete(addr);
	render(p, &f, 200);
	PQclear(res);
}

/* The address as stored: the form's parts over what the customer had (the API may have
 * set names the form does not show, such as first_name). */
static char *
address_json(const struct form *f, PGresult *res)
{
	static const char *const parts[] = { "line1", "line2", "city", "state", "postal_code",
	    "country" };
	cJSON *addr = db_val(res, 0, CUST_BILLING) ? cJSON_Parse(db_val(res, 0, CUST_BILLING)) :
	    NULL;
	char *out;

	if (!cJSON_IsObject(addr)) {
		cJSON_Delete(addr);
		addr = cJSON_CreateObject();
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(addr, parts[i]);
		if (*form_get(f, parts[i]) != '\0')
			cJSON_AddStringToObject(addr, parts[i], form_get(f, parts[i]));
	}
	out = cJSON_PrintUnformatted(addr);
	cJSON_Delete(addr);
	return out;
}

void
page_details_save(struct page *p)
{
	struct customer_req r;
	struct derr e;
	struct form f;
	PGresult *res;
	char *addr;
	const char *type, *value;

	/* No check of the setting here: the domain call below refuses a form posted while
	 * editing is off, as it refuses the same change from any other page. */
	if ((res = load_customer(p)) == NULL)
		return;
	form_init(&f, details_fields);
	if (!p->set.email_editable)
		form_fix(&f, "email", p->customer_email ? p->customer_email : "",
		    "To change your email address, contact us.");
	form_read(&f, &p->c->req->form, &p->c->req->arena);
	type = form_get(&f, "tax_id_type");
	value = form_get(&f, "tax_id_value");
	if (*type != '\0' && *value == '\0')
		form_error(&f, "tax_id_value", "Enter your tax ID, or choose \"No tax ID\"");
	if (*type == '\0' && *value != '\0')
		form_error(&f, "tax_id_type", "Select the type of your tax ID");
	if (f.n_errors > 0 && p->set.edit_billing_details) {
		render(p, &f, 422);
		PQclear(res);
		return;
	}
	addr = address_json(&f, res);
	memset(&r, 0, sizeof(r));
	r.set_name = r.set_phone = r.set_company = r.set_address = r.set_tax_id = true;
	r.name = form_get(&f, "name");
	r.phone = form_get(&f, "phone");
	r.company = form_get(&f, "company");
	r.address_json = addr;
	r.tax_id_type = type;
	r.tax_id_value = value;
	if (!form_hidden(&f, "email")) {
		r.set_email = true;
		r.email = form_get(&f, "email");
	} else if (http_kvs_get(&p->c->req->form, "email") != NULL) {
		/* The page offers no email field then; one posted anyway goes to the domain
		 * call, which refuses a change rather than this page ignoring it. */
		r.set_email = true;
		r.email = http_kvs_get(&p->c->req->form, "email");
	}
	if (customers_update(&p->d, p->customer_id, &r, &p->pol.customer, &e) != 0) {
		cJSON_free(addr);
		PQclear(res);
		if (e.kind == DERR_FORBIDDEN && strcmp(e.code, "email_not_editable") == 0) {
			page_message(p, 403, "Your email address cannot be changed here", "Nothing "
			    "was changed. To change your email address, contact us.",
			    page_url(p, "/billing_details"), "Back to billing details");
			return;
		}
		if (e.kind == DERR_FORBIDDEN) {
			page_message(p, 403, "Billing details cannot be changed here", "Nothing was "
			    "changed. To change your billing details, contact us.", page_url(p, ""),
			    "Go to your account");
			return;
		}
		if (e.kind != DERR_INVALID) {
			page_derr(p, &e);
			return;
		}
		form_error(&f, strncmp(e.param, "tax_id.", 7) == 0 ? (strcmp(e.param,
		    "tax_id.type") == 0 ? "tax_id_type" : "tax_id_value") : e.param[0] ?
		    e.param : "name", e.message);
		render(p, &f, 422);
		return;
	}
	cJSON_free(addr);
	PQclear(res);
	page_redirect(p, "?updated=billing_details");
}
