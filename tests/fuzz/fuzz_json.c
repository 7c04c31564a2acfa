/* fuzz_json.c: JSON request bodies: the bounded parse, then validation against every field
 * table the API declares. A body that passes a table must give in-range values to the
 * accessors handlers use. */
#include "fuzz.h"

#include "api/api.h"
#include "billing/legal.h"
#include "billing/portal_settings.h"
#include "billing/taxes.h"
#include "core/json.h"

static const struct field *const tables[] = {
	customer_create_fields, customer_update_fields, psess_create_fields,
	psess_activate_fields, time_travel_fields, plan_create_fields, sub_create_fields,
	sub_change_fields, sub_cancel_fields, sub_reactivate_fields, sub_pause_fields,
	inv_refund_fields, pm_attach_fields, token_create_fields, wh_create_fields, empty_fields,
	plan_update_fields, credit_grant_fields, mail_settings_fields, mail_test_fields,
	inv_create_fields, gateway_set_fields, setup_create_fields, complete_payment_fields,
	portal_configuration_fields, portal_features_fields, legal_fields,
	tax_rate_create_fields, tax_rate_update_fields,
};

static void
check_valid(const cJSON *obj, const struct field *fields)
{
	for (const struct field *f = fields; f->name != NULL; f++) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, f->name);

		if (item == NULL || cJSON_IsNull(item))
			continue;
		if (f->type == FT_INT) {
			int64_t v = json_int(obj, f->name, 0);

			FUZZ_CHECK(v >= f->min && v <= f->max);
		} else if (f->type == FT_STRING) {
			const char *s = json_str(obj, f->name);

			FUZZ_CHECK(s != NULL);
			FUZZ_CHECK(json_utf8_valid(s, strlen(s)));
			FUZZ_CHECK(strlen(s) <= (f->max_len ? f->max_len : 255));
		} else if (f->type == FT_OBJECT)
			check_valid(item, f->fields);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error e;
	char *body;
	cJSON *root;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	(void)json_utf8_valid((const char *)data, size);
	body = fuzz_cstr(data, size);
	root = json_parse(body, size, 16, &e);
	if (root == NULL) {
		FUZZ_CHECK(e.code[0] != '\0' && e.message[0] != '\0');
		free(body);
		return 0;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (json_validate(root, tables[i], NULL, &e) == 0)
			check_valid(root, tables[i]);
		else
			FUZZ_CHECK(e.code[0] != '\0' && e.message[0] != '\0');
	}
	cJSON_Delete(root);
	/* A portal session's feature overrides (stored JSON, applied on every page). */
	{
		struct portal_settings ps;

		memset(&ps, 0, sizeof(ps));
		(void)portal_settings_override(&ps, body);
	}
	free(body);
	return 0;
}
