/* page_overview.c: GET /portal/{site}: the signed-in customer's account. The billing
 * cards (subscriptions, next charge, card, invoices) join it with the billing domain. */
#include <string.h>

#include "billing/customers.h"
#include "core/country.h"
#include "portal/portal.h"

/* What the POST that redirected here did, by its ?updated= value. */
static const char *
notice(struct page *p)
{
	const char *u = http_kvs_get(&p->c->req->args, "updated");

	if (u != NULL && strcmp(u, "billing_details") == 0)
		return "Your billing details have been updated.";
	return NULL;
}

static void
add_address(cJSON *d, const char *json)
{
	static const char *const parts[] = { "line1", "line2", "city", "state", "postal_code" };
	cJSON *addr = json ? cJSON_Parse(json) : NULL;
	cJSON *lines = cJSON_CreateArray();
	const char *country = json_str(addr, "country");

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (json_str(addr, parts[i]) && *json_str(addr, parts[i]))
			cJSON_AddItemToArray(lines, cJSON_CreateString(json_str(addr, parts[i])));
	if (country != NULL && country_name(country) != NULL)
		cJSON_AddItemToArray(lines, cJSON_CreateString(country_name(country)));
	cJSON_AddItemToObject(d, "address", lines);
	cJSON_Delete(addr);
}

void
page_overview(struct page *p)
{
	PGresult *res = db_exec(p->c->db, STMT_CUSTOMER_GET, (const char *[]){ p->set.site_id,
	    p->customer_id });
	cJSON *d;
	char date[64];

	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		page_message(p, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		return;
	}
	d = cJSON_CreateObject();
	p->nav = "overview";
	if (notice(p) != NULL)
		cJSON_AddStringToObject(d, "notice", notice(p));
	cJSON_AddStringToObject(d, "customer_name", p->customer_name ? p->customer_name : "");
	cJSON_AddStringToObject(d, "customer_email", p->customer_email ? p->customer_email : "");
	cJSON_AddStringToObject(d, "customer_id", p->customer_id);
	if (db_val(res, 0, CUST_COMPANY))
		cJSON_AddStringToObject(d, "company", db_val(res, 0, CUST_COMPANY));
	if (db_val(res, 0, CUST_TAX_TYPE)) {
		const char *label = customers_tax_type_label(db_val(res, 0, CUST_TAX_TYPE));

		cJSON_AddStringToObject(d, "tax_label", label ? label : "Tax ID");
		cJSON_AddStringToObject(d, "tax_value", db_val(res, 0, CUST_TAX_VALUE));
	}
	add_address(d, db_val(res, 0, CUST_BILLING));
	cJSON_AddStringToObject(d, "updated", page_date(p, db_ll(res, 0, CUST_UPDATED, 0), date));
	if (p->set.edit_billing_details)
		cJSON_AddStringToObject(d, "details_url", page_url(p, "/billing_details"));
	page_render(p, 200, "Your account", "overview", d, false);
	PQclear(res);
}
