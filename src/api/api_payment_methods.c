/* api_payment_methods.c: a customer's cards (attach a gateway token, list, make default,
 * detach) and the test gateway's tokenizer. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/customers.h"
#include "billing/gateway_test.h"
#include "billing/pms.h"

const struct field pm_attach_fields[] = {
	{ .name = "token", .type = FT_STRING, .required = true, .max_len = 64, .check = check_id },
	{ .name = "default", .type = FT_BOOL },
	{ .name = NULL }
};
const struct field token_create_fields[] = {
	{ .name = "number", .type = FT_STRING, .required = true, .max_len = 19 },
	{ .name = "exp_month", .type = FT_INT, .required = true, .min = 1, .max = 12 },
	{ .name = "exp_year", .type = FT_INT, .required = true, .min = 2000, .max = 2200 },
	{ .name = "cvc", .type = FT_STRING, .max_len = 4 },
	{ .name = NULL }
};

void
h_token_create(struct ctx *c)
{
	char tok[DOM_ID_MAX], brand[16];
	struct derr e;
	struct jw w;
	int month = (int)json_int(c->body, "exp_month", 1), year = (int)json_int(c->body,
	    "exp_year", 2000);
	const char *number = json_str(c->body, "number");

	if (gateway_test_tokenize(&c->d, number, month, year, tok, brand, &e) != 0) {
		api_derr(c, &e);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "id", tok);
	jw_str(&w, "object", "token");
	jw_obj_begin(&w, "card");
	jw_str(&w, "brand", brand);
	jw_str(&w, "last4", number + strlen(number) - 4);
	jw_int(&w, "exp_month", month);
	jw_int(&w, "exp_year", year);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

void
h_pm_attach(struct ctx *c)
{
	const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(c->body, "default");
	struct pm_attach_req r = { c->req->path_params[0], json_str(c->body, "token"),
	    dflt == NULL ? -1 : cJSON_IsTrue(dflt) };
	char id[DOM_ID_MAX];
	struct derr e;

	if (pms_attach(&c->d, &r, NULL, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PAYMENT_METHOD, id);
}

void
h_pm_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_PAYMENT_METHOD, STMT_PM_LIST_PAGE,
	    STMT_PM_LIST_PAGE, { "path:0" }, CURSOR_NONE, 0 };
	struct derr e;

	if (customers_exists(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_list(c, &spec);
}

void
h_pm_default(struct ctx *c)
{
	struct derr e;

	if (pms_make_default(&c->d, c->req->path_params[0], c->req->path_params[1], NULL,
	    &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PAYMENT_METHOD, c->req->path_params[1]);
}

void
h_pm_detach(struct ctx *c)
{
	struct derr e;
	struct jw w;

	if (pms_detach(&c->d, c->req->path_params[0], c->req->path_params[1], NULL, &e) != 0) {
		api_derr(c, &e);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	obj_write_deleted(&w, "payment_method", c->req->path_params[1]);
}
