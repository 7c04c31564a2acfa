/* api_customers.c: /api/v1/customers: create, retrieve, update, list, delete; a customer's
 * credit ledger and entitlements. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/customers.h"
#include "billing/taxid.h"
#include "core/currency.h"

static const struct field address_fields[] = {
	{ .name = "first_name", .type = FT_STRING, .max_len = 150 },
	{ .name = "last_name", .type = FT_STRING, .max_len = 150 },
	{ .name = "company", .type = FT_STRING, .max_len = 250 },
	{ .name = "line1", .type = FT_STRING, .max_len = 200 },
	{ .name = "line2", .type = FT_STRING, .max_len = 200 },
	{ .name = "line3", .type = FT_STRING, .max_len = 200 },
	{ .name = "city", .type = FT_STRING, .max_len = 100 },
	{ .name = "state", .type = FT_STRING, .max_len = 100 },
	{ .name = "postal_code", .type = FT_STRING, .max_len = 20 },
	{ .name = "country", .type = FT_STRING, .max_len = 2, .check = check_country },
	{ .name = NULL }
};

static const char *
check_tax_type(const char *v)
{
	return taxid_type_known(v) ? NULL : "is not a tax id type Portald knows (see the README)";
}

static const struct field tax_id_fields[] = {
	{ .name = "type", .type = FT_STRING, .required = true, .max_len = 16,
	  .check = check_tax_type },
	{ .name = "value", .type = FT_STRING, .required = true, .max_len = 64 },
	{ .name = NULL }
};

const struct field customer_create_fields[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "email", .type = FT_STRING, .max_len = 254, .check = check_email,
	  .nullable = true },
	{ .name = "name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "phone", .type = FT_STRING, .max_len = 50, .nullable = true },
	{ .name = "company", .type = FT_STRING, .max_len = 250, .nullable = true },
	{ .name = "tax_id", .type = FT_OBJECT, .fields = tax_id_fields, .nullable = true },
	{ .name = "billing_address", .type = FT_OBJECT, .fields = address_fields,
	  .nullable = true },
	{ .name = "metadata", .type = FT_MAP, .max_len = 500 },
	{ .name = NULL }
};

/* The same, less the id, which is fixed at creation. */
const struct field customer_update_fields[] = {
	{ .name = "email", .type = FT_STRING, .max_len = 254, .check = check_email,
	  .nullable = true },
	{ .name = "name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "phone", .type = FT_STRING, .max_len = 50, .nullable = true },
	{ .name = "company", .type = FT_STRING, .max_len = 250, .nullable = true },
	{ .name = "tax_id", .type = FT_OBJECT, .fields = tax_id_fields, .nullable = true },
	{ .name = "billing_address", .type = FT_OBJECT, .fields = address_fields,
	  .nullable = true },
	{ .name = "metadata", .type = FT_MAP, .max_len = 500, .nullable = true },
	{ .name = NULL }
};

const struct field credit_grant_fields[] = {
	{ .name = "amount", .type = FT_INT, .required = true, .min = 1,
	  .max = 100000000000LL },
	{ .name = "currency", .type = FT_STRING, .required = true, .max_len = 3 },
	{ .name = "description", .type = FT_STRING, .max_len = 240 },
	{ .name = NULL }
};

const struct qparam customer_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "email", .type = QT_STRING },
	{ .name = NULL }
};

/* Serialises a validated sub-object for a jsonb parameter (arena copy), or NULL. */
static const char *
json_param(struct ctx *c, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->body, name);
	char *s, *copy;

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	s = cJSON_PrintUnformatted(v);
	if (s == NULL)
		return NULL;
	copy = arena_strndup(&c->req->arena, s, strlen(s));
	cJSON_free(s);
	return copy;
}

/* Metadata merge: "" deletes a key (sent to SQL as null, which jsonb_strip_nulls drops);
 * metadata: null or {} leaves it; to clear everything send each key with "". */
static const char *
metadata_merge_param(struct ctx *c)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(c->body, "metadata");
	cJSON *copy;
	const cJSON *kv;
	char *s, *out;

	if (m == NULL || cJSON_IsNull(m))
		return NULL;
	copy = cJSON_CreateObject();
	cJSON_ArrayForEach(kv, m) {
		if (kv->valuestring[0] == '\0')
			cJSON_AddNullToObject(copy, kv->string);
		else
			cJSON_AddStringToObject(copy, kv->string, kv->valuestring);
	}
	s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (s == NULL)
		return NULL;
	out = arena_strndup(&c->req->arena, s, strlen(s));
	cJSON_free(s);
	return out;
}

/* Fills the request from the validated body (the domain checks the tax id). */
static int
fill(struct ctx *c, struct customer_req *r, bool create)
{
	const cJSON *tax = cJSON_GetObjectItemCaseSensitive(c->body, "tax_id");

	memset(r, 0, sizeof(*r));
	r->id = create ? json_str(c->body, "id") : NULL;
	r->set_email = json_has(c->body, "email");
	r->email = json_str(c->body, "email");
	r->set_name = json_has(c->body, "name");
	r->name = json_str(c->body, "name");
	r->set_phone = json_has(c->body, "phone");
	r->phone = json_str(c->body, "phone");
	r->set_company = json_has(c->body, "company");
	r->company = json_str(c->body, "company");
	r->set_address = json_has(c->body, "billing_address");
	r->address_json = json_param(c, "billing_address");
	r->metadata_json = create ? json_param(c, "metadata") : metadata_merge_param(c);
	r->set_tax_id = tax != NULL;
	if (tax != NULL && !cJSON_IsNull(tax)) {
		r->tax_id_type = json_str(tax, "type");
		r->tax_id_value = json_str(tax, "value");
	}
	return 0;
}

void
h_customer_create(struct ctx *c)
{
	struct customer_req r;
	struct derr e;
	char id[DOM_ID_MAX];

	if (fill(c, &r, true) != 0)
		return;
	if (customers_create(&c->d, &r, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_CUSTOMER, id);
}

void
h_customer_get(struct ctx *c)
{
	api_get(c, OBJ_CUSTOMER, c->req->path_params[0]);
}

void
h_customer_update(struct ctx *c)
{
	struct customer_req r;
	struct derr e;

	if (fill(c, &r, false) != 0)
		return;
	if (customers_update(&c->d, c->req->path_params[0], &r, NULL, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_CUSTOMER, c->req->path_params[0]);
}

void
h_customer_delete(struct ctx *c)
{
	struct derr e;
	struct jw w;

	if (customers_delete(&c->d, c->req->path_params[0], &e) != 0) {
		api_derr(c, &e);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_deleted(&w, "customer", c->req->path_params[0]);
}

void
h_customer_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_CUSTOMER, STMT_CUSTOMER_LIST_FIRST,
	    STMT_CUSTOMER_LIST_AFTER, { "email" }, CURSOR_CREATED, CUST_CREATED };

	api_list(c, &spec);
}

void
h_customer_credit_grant(struct ctx *c)
{
	struct derr e;
	char entry[DOM_ID_MAX];

	if (customers_grant_credit(&c->d, c->req->path_params[0], json_int(c->body, "amount", 0),
	    json_str(c->body, "currency"), json_str(c->body, "description"), entry, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_CREDIT_ENTRY, entry);
}

void
h_customer_credit_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_CREDIT_ENTRY, STMT_CREDIT_LIST_FIRST,
	    STMT_CREDIT_LIST_AFTER, { "path:0" }, CURSOR_SEQ, CRE_SEQ };
	struct derr e;

	if (customers_exists(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_list(c, &spec);
}

void
h_customer_entitlements(struct ctx *c)
{
	struct derr e;

	if (customers_exists(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_get(c, OBJ_ENTITLEMENTS, c->req->path_params[0]);
}
