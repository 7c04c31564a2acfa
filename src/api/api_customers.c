/* api_customers.c: /api/v1/customers: create, retrieve, update, list, delete. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "billing/customers.h"
#include "core/crypto.h"

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
	return customer_tax_id_label(v) != NULL ? NULL :
	    "must be a tax id type such as \"eu_vat\", \"gb_vat\", \"us_ein\" or \"other\"";
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
	{ .name = "billing_address", .type = FT_OBJECT, .fields = address_fields,
	  .nullable = true },
	{ .name = "company", .type = FT_STRING, .max_len = 250, .nullable = true },
	{ .name = "tax_id", .type = FT_OBJECT, .fields = tax_id_fields, .nullable = true },
	{ .name = "metadata", .type = FT_MAP, .max_len = 500 },
	{ .name = NULL }
};

/* The same, less the id, which is fixed at creation. */
const struct field customer_update_fields[] = {
	{ .name = "email", .type = FT_STRING, .max_len = 254, .check = check_email,
	  .nullable = true },
	{ .name = "name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "phone", .type = FT_STRING, .max_len = 50, .nullable = true },
	{ .name = "billing_address", .type = FT_OBJECT, .fields = address_fields,
	  .nullable = true },
	{ .name = "company", .type = FT_STRING, .max_len = 250, .nullable = true },
	{ .name = "tax_id", .type = FT_OBJECT, .fields = tax_id_fields, .nullable = true },
	{ .name = "metadata", .type = FT_MAP, .max_len = 500, .nullable = true },
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

/* An empty string clears a text field, like null. */
static const char *
text_param(struct ctx *c, const char *name)
{
	const char *v = json_str(c->body, name);

	return v && *v ? v : NULL;
}

static void
answer_customer(struct ctx *c, int status, PGresult *res)
{
	struct jw w;

	api_json_start(c, status);
	jw_init(&w, &c->resp->body);
	billing_write_customer(&w, NULL, res, 0);
}

/* Answers with the customer and records the event in the same transaction. */
static void
answer_and_emit(struct ctx *c, PGresult *res, const char *type)
{
	struct bctx b = { c->db, c->site.id, c->now };

	answer_customer(c, 200, res);
	if (events_emit(&b, type, db_val(res, 0, CUST_ID), c->resp->body.data) != 0)
		api_db_error(c);
}

void
h_customer_create(struct ctx *c)
{
	char id[40], now[24];
	const char *params[11];
	const cJSON *tax = cJSON_GetObjectItemCaseSensitive(c->body, "tax_id");
	PGresult *res;

	params[0] = c->site.id;
	params[1] = json_str(c->body, "id");
	if (params[1] == NULL) {
		char hex[25];

		if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
			api_error(c, 500, "api_error", "internal_error", NULL, "No randomness.");
			return;
		}
		snprintf(id, sizeof(id), "cus_%s", hex);
		params[1] = id;
	}
	params[2] = text_param(c, "email");
	params[3] = text_param(c, "name");
	params[4] = text_param(c, "phone");
	params[5] = json_param(c, "billing_address");
	params[6] = json_param(c, "metadata");
	params[7] = buf_lltoa(c->now, now);
	params[8] = text_param(c, "company");
	params[9] = json_str(tax, "type");
	params[10] = json_str(tax, "value");
	res = db_exec(c->db, STMT_CUSTOMER_INSERT, params);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		api_error(c, 409, "invalid_request_error", "resource_already_exists", "id",
		    "A customer with id '%s' already exists.", params[1]);
		return;
	}
	answer_and_emit(c, res, "customer.created");
	PQclear(res);
}

void
h_customer_get(struct ctx *c)
{
	const char *params[2] = { c->site.id, c->req->path_params[0] };
	PGresult *res = db_exec(c->db, STMT_CUSTOMER_GET, params);

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0)
		api_not_found(c, "customer", params[1]);
	else
		answer_customer(c, 200, res);
	PQclear(res);
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

void
h_customer_update(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	const cJSON *tax = cJSON_GetObjectItemCaseSensitive(c->body, "tax_id");
	struct customer_details d = {
		.set_email = json_has(c->body, "email"), .email = json_str(c->body, "email"),
		.set_name = json_has(c->body, "name"), .name = json_str(c->body, "name"),
		.set_phone = json_has(c->body, "phone"), .phone = json_str(c->body, "phone"),
		.set_company = json_has(c->body, "company"),
		.company = json_str(c->body, "company"),
		.set_address = json_has(c->body, "billing_address"),
		.address_json = json_param(c, "billing_address"),
		.set_tax_id = tax != NULL, .tax_id_type = json_str(tax, "type"),
		.tax_id_value = json_str(tax, "value"),
		.metadata_json = metadata_merge_param(c),
	};
	struct billing_error err;
	PGresult *res;

	if (customer_update_details(&b, c->req->path_params[0], &d, NULL, &res, &err) != 0) {
		if (strcmp(err.code, "database_error") == 0)
			api_db_error(c);
		else if (strcmp(err.code, "resource_missing") == 0)
			api_not_found(c, "customer", c->req->path_params[0]);
		else
			api_error(c, 400, "invalid_request_error", err.code, err.param, "%s",
			    err.message);
		return;
	}
	answer_customer(c, 200, res);
	PQclear(res);
}

void
h_customer_delete(struct ctx *c)
{
	const char *params[2] = { c->site.id, c->req->path_params[0] };
	PGresult *res = db_exec(c->db, STMT_CUSTOMER_BILLING_REFS, params);
	struct jw w;

	if (res == NULL) {
		api_db_error(c);
		return;
	}
	/* Invoices are numbered records and live subscriptions still bill: deleting the
	 * customer would take them along, so it is refused while they exist. */
	if (PQntuples(res) == 1 && (db_ll(res, 0, 0, 0) > 0 || db_ll(res, 0, 1, 0) > 0)) {
		api_error(c, 409, "invalid_request_error", "customer_has_billing_history", "id",
		    "Customer '%s' has %lld invoice(s) and %lld subscription(s) still billing; "
		    "a customer with billing history cannot be deleted.", params[1],
		    db_ll(res, 0, 0, 0), db_ll(res, 0, 1, 0));
		PQclear(res);
		return;
	}
	PQclear(res);
	res = db_exec(c->db, STMT_CUSTOMER_DELETE, params);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) == 0) {
		api_not_found(c, "customer", params[1]);
	} else {
		api_json_start(c, 200);
		jw_init(&w, &c->resp->body);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "id", params[1]);
		jw_str(&w, "object", "customer");
		jw_bool(&w, "deleted", true);
		jw_obj_end(&w);
		{
			struct bctx b = { c->db, c->site.id, c->now };

			if (events_emit(&b, "customer.deleted", params[1], c->resp->body.data) != 0)
				api_db_error(c);
		}
	}
	PQclear(res);
}

void
h_customer_list(struct ctx *c)
{
	int limit = api_list_limit(c);
	const char *after = api_arg(c, "starting_after");
	const char *email = api_arg(c, "email");
	char lim[24], created[24];
	PGresult *res;
	struct jw w;
	int n, rc;

	buf_lltoa(limit + 1, lim);	/* one more row tells whether there are more */
	if ((rc = api_cursor(c, STMT_CUSTOMER_GET, CUST_CREATED, "customer", created)) < 0)
		return;
	if (rc == 1)
		res = db_exec(c->db, STMT_CUSTOMER_LIST_AFTER, (const char *[]){ c->site.id,
		    created, after, lim, email });
	else
		res = db_exec(c->db, STMT_CUSTOMER_LIST_FIRST, (const char *[]){ c->site.id, lim,
		    email });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	n = PQntuples(res);
	api_list_begin(c, &w);
	for (int i = 0; i < n && i < limit; i++)
		billing_write_customer(&w, NULL, res, i);
	api_list_end(c, &w, n > limit);
	PQclear(res);
}
