/* legal.c: the site's legal details, as the API and portalctl set them. */
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/legal.h"
#include "billing/objects.h"
#include "billing/taxid.h"

static const char *
check_prefix(const char *v)
{
	for (const char *p = v; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return "may hold only letters, digits, '.', '_' and '-' (it is part of "
			    "file names)";
	return NULL;
}

static const char *
check_paper(const char *v)
{
	return strcmp(v, "a4") == 0 || strcmp(v, "letter") == 0 ? NULL :
	    "must be \"a4\" or \"letter\"";
}

static const char *
check_tax_type(const char *v)
{
	return taxid_type_known(v) ? NULL : "is not a tax id type Portald knows (see the README)";
}

static const struct field address_fields[] = {
	{ .name = "line1", .type = FT_STRING, .max_len = 200 },
	{ .name = "line2", .type = FT_STRING, .max_len = 200 },
	{ .name = "line3", .type = FT_STRING, .max_len = 200 },
	{ .name = "city", .type = FT_STRING, .max_len = 100 },
	{ .name = "state", .type = FT_STRING, .max_len = 100 },
	{ .name = "postal_code", .type = FT_STRING, .max_len = 20 },
	{ .name = "country", .type = FT_STRING, .max_len = 2, .check = check_country },
	{ .name = NULL }
};

static const struct field tax_id_fields[] = {
	{ .name = "type", .type = FT_STRING, .required = true, .max_len = 16,
	  .check = check_tax_type },
	{ .name = "value", .type = FT_STRING, .required = true, .max_len = 64 },
	{ .name = NULL }
};

const struct field legal_fields[] = {
	{ .name = "legal_name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "address", .type = FT_OBJECT, .fields = address_fields, .nullable = true },
	{ .name = "tax_ids", .type = FT_OBJLIST, .fields = tax_id_fields,
	  .max = LEGAL_MAX_TAX_IDS, .nullable = true },
	{ .name = "email", .type = FT_STRING, .max_len = 254, .check = check_email,
	  .nullable = true },
	{ .name = "phone", .type = FT_STRING, .max_len = 50, .nullable = true },
	{ .name = "invoice_prefix", .type = FT_STRING, .max_len = 20, .check = check_prefix },
	{ .name = "credit_note_prefix", .type = FT_STRING, .max_len = 20,
	  .check = check_prefix },
	{ .name = "footer", .type = FT_STRING, .max_len = 2000, .multiline = true,
	  .nullable = true },
	{ .name = "paper_size", .type = FT_STRING, .max_len = 6, .check = check_paper },
	{ .name = NULL }
};

/* The new value of a text field: the body's when it names the field, else the current. */
static const char *
pick(const cJSON *body, const char *name, const char *current)
{
	if (!json_has(body, name))
		return current;
	return json_str(body, name) != NULL && *json_str(body, name) != '\0' ?
	    json_str(body, name) : NULL;
}

/* Serialises a validated JSON value (NULL for absent or null); free with cJSON_free. */
static char *
json_text(const cJSON *v)
{
	return v == NULL || cJSON_IsNull(v) ? NULL : cJSON_PrintUnformatted(v);
}

/* The tax ids in canonical form, as a JSON array. */
static int
tax_ids(const cJSON *list, char **out, struct derr *e)
{
	cJSON *arr = cJSON_CreateArray();
	const cJSON *id;
	int i = 0;

	*out = NULL;
	cJSON_ArrayForEach(id, list) {
		char norm[TAXID_MAX], err[160], cc[3];
		cJSON *o;

		if (taxid_validate(json_str(id, "type"), json_str(id, "value"), norm, sizeof(norm),
		    err, sizeof(err)) != 0) {
			cJSON_Delete(arr);
			derr_set(e, DERR_INVALID, "tax_id_invalid", NULL, "%s", err);
			snprintf(e->param, sizeof(e->param), "tax_ids[%d].value", i);
			return -1;
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", json_str(id, "type"));
		cJSON_AddStringToObject(o, "value", norm);
		if (taxid_country(json_str(id, "type"), norm, cc) != NULL)
			cJSON_AddStringToObject(o, "country", cc);
		cJSON_AddItemToArray(arr, o);
		i++;
	}
	*out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return 0;
}

int
legal_update(struct dctx *d, const cJSON *body, struct derr *e)
{
	PGresult *cur, *res;
	char *address = NULL, *ids = NULL, now[24];
	const char *inv_prefix, *cn_prefix;
	int rc = -1;

	cur = db_exec(d->db, STMT_LEGAL_GET, (const char *[]){ d->site.id });
	if (cur == NULL)
		return derr_db(e, d->db);
	if (PQntuples(cur) != 1) {
		PQclear(cur);
		return derr_not_found(e, "site", d->site.id);
	}
	if (json_has(body, "address"))
		address = json_text(cJSON_GetObjectItemCaseSensitive(body, "address"));
	if (json_has(body, "tax_ids")) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "tax_ids");

		if (!cJSON_IsNull(list) && tax_ids(list, &ids, e) != 0)
			goto out;
	}
	inv_prefix = json_has(body, "invoice_prefix") ? json_str(body, "invoice_prefix") :
	    db_val(cur, 0, LEGAL_INVOICE_PREFIX);
	cn_prefix = json_has(body, "credit_note_prefix") ? json_str(body, "credit_note_prefix") :
	    db_val(cur, 0, LEGAL_CN_PREFIX);
	if (strcmp(inv_prefix, cn_prefix) == 0) {
		derr_set(e, DERR_INVALID, "parameter_invalid", "credit_note_prefix",
		    "credit_note_prefix must differ from invoice_prefix, so the two series never "
		    "share a number.");
		goto out;
	}
	res = db_exec(d->db, STMT_LEGAL_UPSERT, (const char *[]){ d->site.id,
	    pick(body, "legal_name", db_val(cur, 0, LEGAL_NAME)),
	    json_has(body, "address") ? address : db_val(cur, 0, LEGAL_ADDRESS),
	    json_has(body, "tax_ids") ? (ids ? ids : "[]") : db_val(cur, 0, LEGAL_TAX_IDS),
	    pick(body, "email", db_val(cur, 0, LEGAL_EMAIL)),
	    pick(body, "phone", db_val(cur, 0, LEGAL_PHONE)), inv_prefix, cn_prefix,
	    pick(body, "footer", db_val(cur, 0, LEGAL_FOOTER)),
	    json_has(body, "paper_size") ? json_str(body, "paper_size") :
	    db_val(cur, 0, LEGAL_PAPER), buf_lltoa(d->now, now) });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(res);
	{
		struct buf data;

		buf_init(&data);
		rc = obj_render(d, OBJ_LEGAL_DETAILS, d->site.id, &data, e);
		if (rc == 0)
			rc = events_emit(d, "legal_details.updated", d->site.id, data.data, e);
		buf_free(&data);
	}
out:
	PQclear(cur);
	cJSON_free(address);
	cJSON_free(ids);
	return rc;
}
