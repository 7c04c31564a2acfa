/* api_payment_methods.c: a customer's cards (attach a gateway token, list, make default,
 * detach) and the test gateway's tokenizer. Only the token, brand, last four digits and
 * expiry are stored; adding or defaulting a card retries the customer's open invoices. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/billing.h"
#include "core/crypto.h"
#include "billing/gateway_test.h"

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

static void
write_pm(struct jw *w, PGresult *res, int row)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", db_val(res, row, PM_ID));
	jw_str(w, "object", "payment_method");
	jw_str(w, "customer_id", db_val(res, row, PM_CUSTOMER));
	jw_str(w, "gateway", "test");
	jw_str(w, "gateway_token", db_val(res, row, PM_TOKEN));
	jw_str(w, "brand", db_val(res, row, PM_BRAND));
	jw_str(w, "last4", db_val(res, row, PM_LAST4));
	jw_int_text(w, "exp_month", db_val(res, row, PM_EXP_MONTH));
	jw_int_text(w, "exp_year", db_val(res, row, PM_EXP_YEAR));
	jw_bool(w, "is_default", strcmp(db_val(res, row, PM_DEFAULT), "t") == 0);
	jw_int_text(w, "created_at", db_val(res, row, PM_CREATED));
	jw_obj_end(w);
}

static int
customer_exists(struct ctx *c)
{
	PGresult *res = db_exec(c->db, STMT_CUSTOMER_GET, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	int n;

	if (res == NULL) {
		api_db_error(c);
		return -1;
	}
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		api_not_found(c, "customer", c->req->path_params[0]);
	return n == 1 ? 0 : -1;
}

static int
emit_pm(struct ctx *c, struct bctx *b, const char *type, PGresult *res)
{
	struct buf data;
	struct jw w;
	int rc;

	buf_init(&data);
	jw_init(&w, &data);
	write_pm(&w, res, 0);
	rc = events_emit(b, type, db_val(res, 0, PM_ID), data.data);
	buf_free(&data);
	if (rc != 0)
		api_db_error(c);
	return rc;
}

static void
answer_pm(struct ctx *c, PGresult *res)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	write_pm(&w, res, 0);
}

void
h_token_create(struct ctx *c)
{
	struct test_card card;
	const char *why;
	char tok[40], hex[25], a[3][24];
	PGresult *res;
	struct jw w;

	if (strcmp(c->site.mode, "test") != 0) {
		api_error(c, 400, "invalid_request_error", "live_site", NULL,
		    "The test gateway serves test sites only.");
		return;
	}
	if ((why = gateway_test_card(json_str(c->body, "number"), &card)) != NULL) {
		api_error(c, 400, "card_error", "invalid_number", "number", "number %s.", why);
		return;
	}
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
		api_no_randomness(c);
		return;
	}
	snprintf(tok, sizeof(tok), "tok_%s", hex);
	res = db_exec(c->db, STMT_GWTOKEN_INSERT, (const char *[]){ c->site.id, tok, card.brand,
	    card.last4, buf_lltoa(json_int(c->body, "exp_month", 1), a[0]),
	    buf_lltoa(json_int(c->body, "exp_year", 2000), a[1]), card.behavior,
	    buf_lltoa(c->now, a[2]) });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	PQclear(res);
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "id", tok);
	jw_str(&w, "object", "token");
	jw_obj_begin(&w, "card");
	jw_str(&w, "brand", card.brand);
	jw_str(&w, "last4", card.last4);
	jw_int(&w, "exp_month", json_int(c->body, "exp_month", 1));
	jw_int(&w, "exp_year", json_int(c->body, "exp_year", 2000));
	jw_obj_end(&w);
	jw_obj_end(&w);
}

void
h_pm_attach(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	const char *token = json_str(c->body, "token");
	const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(c->body, "default");
	PGresult *tok, *cur, *res;
	char id[40], hex[25], now[24];
	bool make_default;

	if (customer_exists(c) != 0)
		return;
	tok = db_exec(c->db, STMT_GWTOKEN_GET, (const char *[]){ c->site.id, token });
	if (tok == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(tok) == 0) {
		PQclear(tok);
		api_error(c, 400, "invalid_request_error", "parameter_invalid", "token",
		    "No such gateway token: '%s'", token);
		return;
	}
	cur = db_exec(c->db, STMT_PM_DEFAULT, (const char *[]){ c->site.id, c->req->path_params[0] });
	if (cur == NULL) {
		PQclear(tok);
		api_db_error(c);
		return;
	}
	/* The first card becomes the default; later ones when asked, or, unless told not to,
	 * when the customer has unpaid invoices: a card added after a failed charge is the
	 * card the customer means to pay with. */
	make_default = PQntuples(cur) == 0 || cJSON_IsTrue(dflt);
	PQclear(cur);
	if (!make_default && dflt == NULL) {
		PGresult *open = db_exec(c->db, STMT_INV_OPEN_FOR_CUSTOMER, (const char *[]){
		    c->site.id, c->req->path_params[0] });

		if (open == NULL) {
			PQclear(tok);
			api_db_error(c);
			return;
		}
		make_default = PQntuples(open) > 0;
		PQclear(open);
	}
	if (make_default) {
		res = db_exec(c->db, STMT_PM_CLEAR_DEFAULT, (const char *[]){ c->site.id,
		    c->req->path_params[0] });
		PQclear(res);
	}
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
		PQclear(tok);
		api_no_randomness(c);
		return;
	}
	snprintf(id, sizeof(id), "pm_%s", hex);
	res = db_exec(c->db, STMT_PM_INSERT, (const char *[]){ c->site.id, id,
	    c->req->path_params[0], token, db_val(tok, 0, 0), db_val(tok, 0, 1), db_val(tok, 0, 2),
	    db_val(tok, 0, 3), make_default ? "true" : "false", buf_lltoa(c->now, now) });
	PQclear(tok);
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (emit_pm(c, &b, "payment_method.attached", res) == 0) {
		if (make_default && billing_retry_customer(&b, c->req->path_params[0]) != 0)
			api_db_error(c);
		else
			answer_pm(c, res);
	}
	PQclear(res);
}

void
h_pm_list(struct ctx *c)
{
	PGresult *res;
	struct jw w;

	if (customer_exists(c) != 0)
		return;
	res = db_exec(c->db, STMT_PM_LIST, (const char *[]){ c->site.id, c->req->path_params[0] });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	api_list_begin(c, &w);
	for (int i = 0; i < PQntuples(res); i++)
		write_pm(&w, res, i);
	api_list_end(c, &w, false);
	PQclear(res);
}

/* The path's card of the path's customer, or a 404. */
static PGresult *
own_pm(struct ctx *c)
{
	PGresult *res = db_exec(c->db, STMT_PM_GET, (const char *[]){ c->site.id,
	    c->req->path_params[1] });

	if (res == NULL) {
		api_db_error(c);
		return NULL;
	}
	if (PQntuples(res) == 0 || strcmp(db_val(res, 0, PM_CUSTOMER), c->req->path_params[0])) {
		PQclear(res);
		api_not_found(c, "payment_method", c->req->path_params[1]);
		return NULL;
	}
	return res;
}

void
h_pm_default(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	PGresult *res = own_pm(c);

	if (res == NULL)
		return;
	PQclear(res);
	res = db_exec(c->db, STMT_PM_CLEAR_DEFAULT, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	PQclear(res);
	res = db_exec(c->db, STMT_PM_SET_DEFAULT, (const char *[]){ c->site.id,
	    c->req->path_params[1] });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (emit_pm(c, &b, "payment_method.made_default", res) == 0) {
		if (billing_retry_customer(&b, c->req->path_params[0]) != 0)
			api_db_error(c);
		else
			answer_pm(c, res);
	}
	PQclear(res);
}

void
h_pm_detach(struct ctx *c)
{
	struct bctx b = { c->db, c->site.id, c->now };
	PGresult *res = own_pm(c), *all, *live;
	bool was_default;

	if (res == NULL)
		return;
	was_default = strcmp(db_val(res, 0, PM_DEFAULT), "t") == 0;
	PQclear(res);
	all = db_exec(c->db, STMT_PM_LIST, (const char *[]){ c->site.id, c->req->path_params[0] });
	live = db_exec(c->db, STMT_SUB_COUNT_LIVE, (const char *[]){ c->site.id,
	    c->req->path_params[0] });
	if (all == NULL || live == NULL) {
		PQclear(all);
		PQclear(live);
		api_db_error(c);
		return;
	}
	if (PQntuples(all) == 1 && db_ll(live, 0, 0, 0) > 0) {
		api_error(c, 409, "invalid_request_error", "last_payment_method", NULL,
		    "This is the customer's only card and %lld subscription(s) still bill it: "
		    "add another card first, or cancel them.", db_ll(live, 0, 0, 0));
		PQclear(all);
		PQclear(live);
		return;
	}
	PQclear(live);
	res = db_exec(c->db, STMT_PM_DELETE, (const char *[]){ c->site.id, c->req->path_params[1] });
	if (res == NULL) {
		PQclear(all);
		api_db_error(c);
		return;
	}
	if (emit_pm(c, &b, "payment_method.detached", res) == 0) {
		/* The newest remaining card takes over as the default. */
		for (int i = 0; was_default && i < PQntuples(all); i++) {
			if (strcmp(db_val(all, i, PM_ID), c->req->path_params[1]) != 0) {
				PGresult *d = db_exec(c->db, STMT_PM_SET_DEFAULT, (const char *[]){
				    c->site.id, db_val(all, i, PM_ID) });
				PQclear(d);
				break;
			}
		}
		answer_pm(c, res);
	}
	PQclear(all);
	PQclear(res);
}
