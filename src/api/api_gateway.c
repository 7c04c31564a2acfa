/* api_gateway.c: the site's payment gateway (/api/v1/gateway), hosted card set-ups, the
 * on-session "complete payment" of an invoice, and Stripe's webhook deliveries
 * (/gateway/stripe/{site}/webhook, outside API-key authentication). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "billing/gateway_events.h"
#include "billing/gateways.h"
#include "billing/payments.h"
#include "billing/setups.h"
#include "core/log.h"

static const char *
check_gateway_name(const char *v)
{
	return strcmp(v, "test") == 0 || strcmp(v, "stripe") == 0 ? NULL :
	    "must be \"test\" or \"stripe\"";
}

const struct field gateway_set_fields[] = {
	{ .name = "gateway", .type = FT_STRING, .required = true, .max_len = 16,
	  .check = check_gateway_name },
	{ .name = "stripe_secret_key", .type = FT_STRING, .max_len = 255 },
	{ .name = "stripe_webhook_secret", .type = FT_STRING, .max_len = 255 },
	{ .name = NULL }
};

const struct field setup_create_fields[] = {
	{ .name = "success_url", .type = FT_STRING, .required = true, .max_len = 2000,
	  .check = check_http_url },
	{ .name = "cancel_url", .type = FT_STRING, .max_len = 2000, .check = check_http_url },
	{ .name = "default", .type = FT_BOOL },
	{ .name = NULL }
};

const struct field complete_payment_fields[] = {
	{ .name = "return_url", .type = FT_STRING, .required = true, .max_len = 2000,
	  .check = check_http_url },
	{ .name = NULL }
};

void
h_gateway_get(struct ctx *c)
{
	api_get(c, OBJ_GATEWAY, c->site.id);
}

/* The keys come in and are sealed; the answer shows only which key is set. */
void
h_gateway_set(struct ctx *c)
{
	struct gateway_site_req r = { json_str(c->body, "gateway"),
	    json_str(c->body, "stripe_secret_key"), json_str(c->body, "stripe_webhook_secret") };
	struct derr e;

	if (gateways_site_set(&c->d, &r, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_GATEWAY, c->site.id);
}

/* A card set up on Stripe's page: the answer's url is where to send the customer. */
void
h_setup_create(struct ctx *c)
{
	const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(c->body, "default");
	struct setup_req r = { c->req->path_params[0], json_str(c->body, "success_url"),
	    json_str(c->body, "cancel_url"), dflt == NULL ? -1 : cJSON_IsTrue(dflt) };
	char id[DOM_ID_MAX];
	struct derr e;

	if (setups_begin(&c->d, &r, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_SETUP, id);
}

void
h_setup_get(struct ctx *c)
{
	api_get(c, OBJ_SETUP, c->req->path_params[0]);
}

/* Asks Stripe now whether the customer finished (instead of waiting for its webhook). */
void
h_setup_sync(struct ctx *c)
{
	char id[DOM_ID_MAX];
	struct derr e;

	if (setups_queue(&c->d, NULL, c->req->path_params[0], id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_SETUP, id);
}

/* An on-session charge: the answer's next_action.redirect_url is the bank's page. */
void
h_inv_complete_payment(struct ctx *c)
{
	struct derr e;

	if (payments_collect_on_session(&c->d, c->req->path_params[0], NULL,
	    json_str(c->body, "return_url"), &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_INVOICE, c->req->path_params[0]);
}

/* POST /gateway/stripe/{site}/webhook: Stripe's deliveries. The raw body is what the
 * signature covers; nothing is applied unless it verifies. */
void
h_gateway_stripe_webhook(struct ctx *c)
{
	const char *site_id = c->req->path_params[0];
	struct http_request *r = c->req;
	struct site site;
	struct dctx d;
	struct derr e;
	PGresult *res;
	char what[16];
	struct jw w;

	if (check_id(site_id) != NULL || strlen(site_id) >= sizeof(site.id)) {
		api_error(c, 404, "invalid_request_error", "resource_missing", NULL,
		    "No such site.");
		return;
	}
	if (r->body_too_large) {
		api_error(c, 413, "invalid_request_error", "body_too_large", NULL,
		    "The request body is larger than %zu bytes.", c->cfg->max_body);
		return;
	}
	res = db_exec(c->db, STMT_SITE_GET, (const char *[]){ site_id });
	if (res == NULL) {
		api_db_error(c);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		api_error(c, 404, "invalid_request_error", "resource_missing", NULL,
		    "No such site.");
		return;
	}
	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", db_val(res, 0, SITE_ID));
	snprintf(site.mode, sizeof(site.mode), "%s", db_val(res, 0, SITE_MODE));
	site.clock_offset = db_ll(res, 0, SITE_OFFSET, 0);
	PQclear(res);
	dctx_init(&d, c->db, &site, (long long)time(NULL) + site.clock_offset, ACTOR_GATEWAY,
	    "stripe");
	if (gwevents_stripe(&d, r->stripe_signature, r->body ? r->body : "", r->body_len, what,
	    &e) != 0) {
		if (e.kind == DERR_CONFLICT)
			e.kind = DERR_INVALID;	/* not connected: Stripe should not retry */
		api_derr(c, &e);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_bool(&w, "received", true);
	jw_str(&w, "result", what);
	jw_obj_end(&w);
}
