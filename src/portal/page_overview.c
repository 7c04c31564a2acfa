/* page_overview.c: GET /portal/{site}: what the signed-in customer pays and how: a card per
 * subscription with its next charge, the default card, anything overdue, the latest
 * invoices, credit, and the billing details. Four reads, each by the session's customer:
 * the site and the session (the dispatcher), the customer with its default card and what is
 * overdue, the subscriptions, the latest invoices. */
#include <stdio.h>
#include <string.h>

#include "billing/customers.h"
#include "core/country.h"
#include "portal/portal.h"
#include "portal/view.h"

#define OVERVIEW_INVOICES	5

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

/* {"USD": 1250, ...}: the customer's credit, per currency, as the customer row has it. */
static void
add_credit(struct page *p, cJSON *d, const char *json)
{
	cJSON *bal = json ? cJSON_Parse(json) : NULL, *list = NULL;
	const cJSON *it;

	cJSON_ArrayForEach(it, bal) {
		cJSON *o;

		if (!cJSON_IsNumber(it) || it->valuedouble <= 0)
			continue;
		if (list == NULL)
			list = cJSON_AddArrayToObject(d, "credit");
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "amount", view_money(p, (long long)it->valuedouble,
		    it->string));
		cJSON_AddItemToArray(list, o);
	}
	cJSON_Delete(bal);
}

static void
add_customer(struct page *p, cJSON *d, PGresult *res)
{
	const char *tax = db_val(res, 0, CUST_TAX_TYPE);

	cJSON_AddStringToObject(d, "customer_name", p->customer_name ? p->customer_name : "");
	cJSON_AddStringToObject(d, "customer_email", p->customer_email ? p->customer_email : "");
	cJSON_AddStringToObject(d, "customer_id", p->customer_id);
	if (db_val(res, 0, CUST_COMPANY))
		cJSON_AddStringToObject(d, "company", db_val(res, 0, CUST_COMPANY));
	if (tax != NULL) {
		const char *label = customers_tax_type_label(tax);

		cJSON_AddStringToObject(d, "tax_label", label ? label : "Tax ID");
		cJSON_AddStringToObject(d, "tax_value", db_val(res, 0, CUST_TAX_VALUE));
	}
	add_address(d, db_val(res, 0, CUST_BILLING));
	add_credit(p, d, db_val(res, 0, CUST_BALANCES));
	if (p->set.edit_billing_details)
		cJSON_AddStringToObject(d, "details_url", page_url(p, "/billing_details"));
}

static void
add_subs(struct page *p, cJSON *d, PGresult *res)
{
	cJSON *cards = cJSON_AddArrayToObject(d, "subs");
	int ended = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *c;

		if (strcmp(db_val(res, i, SUB_STATUS), "cancelled") == 0) {
			ended++;
			continue;
		}
		c = cJSON_CreateObject();
		view_sub(p, res, i, c);
		cJSON_AddItemToArray(cards, c);
	}
	if (ended > 0)
		cJSON_AddNumberToObject(d, "ended", ended);
	cJSON_AddStringToObject(d, "subs_url", page_url(p, "/subscriptions"));
}

/* Overdue invoices ([{currency, amount, count, invoice}] per currency): the amount, and the
 * way to pay it (the invoice itself when there is one, else the list), or to give a card
 * that pays it. */
static void
add_overdue(struct page *p, cJSON *d, const char *json)
{
	cJSON *due = json ? cJSON_Parse(json) : NULL, *o, *amounts;
	const cJSON *it;
	long long n = 0;
	char url[160];

	if (cJSON_GetArraySize(due) == 0) {
		cJSON_Delete(due);
		return;
	}
	o = cJSON_AddObjectToObject(d, "overdue");
	amounts = cJSON_AddArrayToObject(o, "amounts");
	cJSON_ArrayForEach(it, due) {
		n += (long long)json_int(it, "count", 0);
		cJSON_AddItemToArray(amounts, cJSON_CreateString(view_money(p,
		    json_int(it, "amount", 0), json_str(it, "currency"))));
	}
	cJSON_AddNumberToObject(o, "count", (double)n);
	cJSON_AddBoolToObject(o, "several", n > 1);
	if (n == 1 && json_str(cJSON_GetArrayItem(due, 0), "invoice") != NULL &&
	    check_id(json_str(cJSON_GetArrayItem(due, 0), "invoice")) == NULL) {
		snprintf(url, sizeof(url), "/invoices/%s/pay",
		    json_str(cJSON_GetArrayItem(due, 0), "invoice"));
		cJSON_AddStringToObject(o, "pay_url", page_url(p, url));
		cJSON_AddStringToObject(o, "invoice", json_str(cJSON_GetArrayItem(due, 0),
		    "invoice"));
	} else if (p->set.invoice_history)
		cJSON_AddStringToObject(o, "pay_url", page_url(p, "/invoices"));
	if (p->set.payment_methods)
		cJSON_AddStringToObject(o, "card_url", page_url(p, "/payment_methods/new"));
	cJSON_Delete(due);
}

void
page_overview(struct page *p)
{
	const char *site = p->set.site_id, *cus = p->customer_id;
	PGresult *cr = NULL, *subs = NULL, *inv = NULL;
	cJSON *d;

	cr = db_exec(p->c->db, STMT_OVERVIEW, (const char *[]){ site, cus });
	if (cr != NULL && PQntuples(cr) == 1)
		subs = db_exec(p->c->db, STMT_SUB_LIST_CUST_FIRST, (const char *[]){ site, "50", cus,
		    NULL });
	if (subs != NULL && p->set.invoice_history)
		inv = db_exec(p->c->db, STMT_INV_OLDER, (const char *[]){ site, cus,
		    "9223372036854775807", "5" });
	if (subs == NULL || (p->set.invoice_history && inv == NULL)) {
		page_unavailable(p);
		goto done;
	}
	d = cJSON_CreateObject();
	p->nav = "overview";
	if (notice(p) != NULL)
		cJSON_AddStringToObject(d, "notice", notice(p));
	add_customer(p, d, cr);
	add_subs(p, d, subs);
	add_overdue(p, d, db_val(cr, 0, OV_OVERDUE));
	if (db_val(cr, 0, OV_PM + PM_ID) != NULL) {
		cJSON *card = cJSON_AddObjectToObject(d, "card");

		view_card(p, cr, 0, OV_PM, card);
	}
	if (p->set.payment_methods)
		cJSON_AddStringToObject(d, "cards_url", page_url(p, "/payment_methods"));
	if (inv != NULL) {
		cJSON *list = cJSON_AddArrayToObject(d, "invoices");

		for (int i = 0; i < PQntuples(inv) && i < OVERVIEW_INVOICES; i++) {
			cJSON *o = cJSON_CreateObject();

			view_invoice(p, inv, i, o);
			cJSON_AddItemToArray(list, o);
		}
		view_needs_action(p, list, cJSON_GetObjectItem(d, "overdue"));
		cJSON_AddBoolToObject(d, "has_invoices", PQntuples(inv) > 0);
		cJSON_AddBoolToObject(d, "history", true);
		cJSON_AddStringToObject(d, "invoices_url", page_url(p, "/invoices"));
	}
	if (inv == NULL)
		view_needs_action(p, NULL, cJSON_GetObjectItem(d, "overdue"));
	page_render(p, 200, "Your account", "overview", d, false);
done:
	PQclear(cr);
	PQclear(subs);
	PQclear(inv);
}
