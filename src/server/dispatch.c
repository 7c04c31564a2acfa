/* dispatch.c: the route table, and the one path every request takes through it:
 * route -> (API) authenticate -> validate query and body -> transaction + idempotency ->
 * handler -> commit or roll back; (portal) site from the URL -> form body -> session ->
 * CSRF -> transaction + form nonce -> page -> commit or roll back -> headers.
 * Handlers see only validated input. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/dispatch.h"
#include "api/auth.h"
#include "api/idempotency.h"
#include "billing/legal.h"
#include "billing/payments.h"
#include "billing/taxes.h"
#include "core/crypto.h"
#include "core/log.h"
#include "db/migrate.h"
#include "portal/portal.h"
#include "http/router.h"

enum route_kind { RK_API, RK_PORTAL, RK_HEALTH, RK_GATEWAY };

struct route {
	struct route_pattern	 p;	/* first, for router_match */
	enum route_kind		 kind;
	void			(*handler)(struct ctx *);
	const struct field	*body;	/* POST: accepted JSON fields */
	const struct qparam	*query;	/* accepted query parameters */
	bool			 redact;	/* the path holds a secret: log the pattern */
	const char		*raw_type;	/* API POST: a raw body of this type, not JSON */
	page_fn			 page;	/* portal */
	unsigned		 pflags;	/* portal: PAGE_* */
};

/* API rows leave the portal's fields (and raw_type) out: they are zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct route routes[] = {
	{ { HTTP_POST, "/api/v1/customers" }, RK_API, h_customer_create,
	  customer_create_fields, no_params, false },
	{ { HTTP_GET, "/api/v1/customers" }, RK_API, h_customer_list,
	  NULL, customer_list_params, false },
	{ { HTTP_GET, "/api/v1/customers/:id" }, RK_API, h_customer_get,
	  NULL, no_params, false },
	{ { HTTP_POST, "/api/v1/customers/:id" }, RK_API, h_customer_update,
	  customer_update_fields, no_params, false },
	{ { HTTP_DELETE, "/api/v1/customers/:id" }, RK_API, h_customer_delete,
	  NULL, no_params, false },
	{ { HTTP_POST, "/api/v1/portal_sessions" }, RK_API, h_psess_create,
	  psess_create_fields, no_params, false },
	{ { HTTP_GET, "/api/v1/portal_sessions/:id" }, RK_API, h_psess_get,
	  NULL, no_params, false },
	{ { HTTP_POST, "/api/v1/portal_sessions/:id/logout" }, RK_API, h_psess_logout,
	  empty_fields, no_params, false },
	{ { HTTP_POST, "/api/v1/portal_sessions/:id/activate" }, RK_API, h_psess_activate,
	  psess_activate_fields, no_params, false },
	{ { HTTP_GET, "/api/v1/time_machine" }, RK_API, h_time_machine_get,
	  NULL, no_params, false },
	{ { HTTP_POST, "/api/v1/time_machine/travel_forward" }, RK_API, h_time_machine_travel,
	  time_travel_fields, no_params, false },
#define API(m, path, h, body, query) { { m, path }, RK_API, h, body, query, false }
	API(HTTP_POST, "/api/v1/plans", h_plan_create, plan_create_fields, no_params),
	API(HTTP_GET, "/api/v1/plans", h_plan_list, NULL, plan_list_params),
	API(HTTP_GET, "/api/v1/plans/:id", h_plan_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/plans/:id", h_plan_update, plan_update_fields, no_params),
	API(HTTP_POST, "/api/v1/plans/:id/archive", h_plan_archive, empty_fields, no_params),
	API(HTTP_POST, "/api/v1/subscriptions", h_sub_create, sub_create_fields, no_params),
	API(HTTP_GET, "/api/v1/subscriptions", h_sub_list, NULL, sub_list_params),
	API(HTTP_GET, "/api/v1/subscriptions/:id", h_sub_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/change_plan", h_sub_change, sub_change_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/change_plan/preview", h_sub_change_preview,
	    sub_change_fields, no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/cancel", h_sub_cancel, sub_cancel_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/reactivate", h_sub_reactivate,
	    sub_reactivate_fields, no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/pause", h_sub_pause, sub_pause_fields, no_params),
	API(HTTP_POST, "/api/v1/subscriptions/:id/resume", h_sub_resume, empty_fields, no_params),
	API(HTTP_GET, "/api/v1/invoices", h_inv_list, NULL, inv_list_params),
	API(HTTP_GET, "/api/v1/invoices/:id", h_inv_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/invoices/:id/pay", h_inv_pay, empty_fields, no_params),
	API(HTTP_POST, "/api/v1/invoices/:id/void", h_inv_void, empty_fields, no_params),
	API(HTTP_POST, "/api/v1/invoices/:id/refund", h_inv_refund, inv_refund_fields, no_params),
	API(HTTP_POST, "/api/v1/test_gateway/tokens", h_token_create, token_create_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/customers/:id/payment_methods", h_pm_attach, pm_attach_fields,
	    no_params),
	API(HTTP_GET, "/api/v1/customers/:id/payment_methods", h_pm_list, NULL, list_params),
	API(HTTP_POST, "/api/v1/customers/:id/credit_entries", h_customer_credit_grant,
	    credit_grant_fields, no_params),
	API(HTTP_GET, "/api/v1/customers/:id/credit_entries", h_customer_credit_list, NULL,
	    list_params),
	API(HTTP_GET, "/api/v1/customers/:id/entitlements", h_customer_entitlements, NULL,
	    no_params),
	API(HTTP_POST, "/api/v1/customers/:id/payment_methods/:pm/default", h_pm_default,
	    empty_fields, no_params),
	API(HTTP_DELETE, "/api/v1/customers/:id/payment_methods/:pm", h_pm_detach, NULL,
	    no_params),
	/* A customer's portal access without single sign-on. */
	API(HTTP_POST, "/api/v1/customers/:id/portal_invitations", h_portal_invite, empty_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/customers/:id/portal_access/revoke", h_portal_revoke,
	    empty_fields, no_params),
	API(HTTP_POST, "/api/v1/customers/:id/portal_access/restore", h_portal_restore,
	    empty_fields, no_params),
	API(HTTP_GET, "/api/v1/customers/:id/portal_sessions", h_customer_psess_list, NULL,
	    list_params),
	/* Every read of the management link counts (fetch_count): the read is the point. */
	API(HTTP_GET, "/api/v1/customers/:id/management_link", h_mlink_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/customers/:id/management_link/regenerate", h_mlink_regenerate,
	    empty_fields, no_params),
	API(HTTP_GET, "/api/v1/events", h_event_list, NULL, event_list_params),
	API(HTTP_GET, "/api/v1/events/:id", h_event_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/events/:id/resend", h_event_resend, empty_fields, no_params),
	API(HTTP_POST, "/api/v1/webhook_endpoints", h_wh_create, wh_create_fields, no_params),
	API(HTTP_GET, "/api/v1/webhook_endpoints", h_wh_list, NULL, list_params),
	API(HTTP_DELETE, "/api/v1/webhook_endpoints/:id", h_wh_delete, NULL, no_params),
	API(HTTP_GET, "/api/v1/mail_settings", h_mail_settings_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/mail_settings", h_mail_settings_update, mail_settings_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/mail_settings/test", h_mail_test, mail_test_fields, no_params),
	/* Invoicing: legal details, tax rates, one-off invoices, credit notes, PDFs. */
	API(HTTP_GET, "/api/v1/legal_details", h_legal_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/legal_details", h_legal_update, legal_fields, no_params),
	API(HTTP_POST, "/api/v1/tax_rates", h_tax_rate_create, tax_rate_create_fields,
	    no_params),
	API(HTTP_GET, "/api/v1/tax_rates", h_tax_rate_list, NULL, tax_rate_list_params),
	API(HTTP_GET, "/api/v1/tax_rates/:id", h_tax_rate_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/tax_rates/:id", h_tax_rate_update, tax_rate_update_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/invoices", h_inv_create, inv_create_fields, no_params),
	API(HTTP_GET, "/api/v1/invoices/:id/pdf", h_inv_pdf, NULL, pdf_params),
	API(HTTP_GET, "/api/v1/credit_notes", h_cn_list, NULL, cn_list_params),
	API(HTTP_GET, "/api/v1/credit_notes/:id", h_cn_get, NULL, no_params),
	API(HTTP_GET, "/api/v1/credit_notes/:id/pdf", h_cn_pdf, NULL, pdf_params),
	API(HTTP_GET, "/api/v1/customers/:id/documents.zip", h_customer_documents_zip, NULL,
	    documents_zip_params),
	API(HTTP_GET, "/api/v1/gateway", h_gateway_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/gateway", h_gateway_set, gateway_set_fields, no_params),
	API(HTTP_POST, "/api/v1/customers/:id/payment_methods/setup_session", h_setup_create,
	    setup_create_fields, no_params),
	API(HTTP_GET, "/api/v1/payment_method_setups/:id", h_setup_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/payment_method_setups/:id/sync", h_setup_sync, empty_fields,
	    no_params),
	API(HTTP_POST, "/api/v1/invoices/:id/complete_payment", h_inv_complete_payment,
	    complete_payment_fields, no_params),
	API(HTTP_GET, "/api/v1/portal_configuration", h_pconf_get, NULL, no_params),
	API(HTTP_POST, "/api/v1/portal_configuration", h_pconf_update,
	    portal_configuration_fields, no_params),
	{ { HTTP_POST, "/api/v1/portal_configuration/logo" }, RK_API, h_pconf_logo_put,
	  empty_fields, no_params, false, .raw_type = "image/png" },
	API(HTTP_DELETE, "/api/v1/portal_configuration/logo", h_pconf_logo_delete, NULL,
	    no_params),
#undef API
	/* A gateway's webhook: its signature, not an API key, authenticates it; the handler
	 * keeps the raw body and runs its own transactions (it reads from the gateway). */
	{ { HTTP_POST, "/gateway/stripe/:site/webhook" }, RK_GATEWAY, h_gateway_stripe_webhook,
	  NULL, NULL, false },
	/* The portal: every path names its site (/portal/:site/...); each page declares what
	 * it needs (PAGE_* in portal/portal.h) and dispatch_portal does it. */
#define PAGE(m, path, fn, flags) { { m, path }, RK_PORTAL, .page = fn, .pflags = (flags) }
	PAGE(HTTP_GET, "/portal", page_portal_root, PAGE_NO_SITE),
	{ { HTTP_GET, "/portal/access/:token" }, RK_PORTAL, .redact = true,
	  .page = page_access_legacy, .pflags = PAGE_NO_SITE },
	{ { HTTP_GET, "/portal/:site/access/:token" }, RK_PORTAL, .redact = true,
	  .page = page_access, .pflags = PAGE_GET_WRITES },
	/* Signing in without single sign-on: the sign-in page, and the links mails carry
	 * (a GET shows what the link does; only the POST of its button uses it). */
	PAGE(HTTP_GET, "/portal/:site/login", page_login, 0),
	PAGE(HTTP_POST, "/portal/:site/login", page_login_request, PAGE_PRE | PAGE_TXN),
	PAGE(HTTP_GET, "/portal/:site/login/sent", page_login_sent, 0),
	PAGE(HTTP_GET, "/portal/:site/login/unknown", page_login_unknown, 0),
	/* Passwords: the sign-in answers every attempt in its own committed transaction. */
	PAGE(HTTP_POST, "/portal/:site/login/password", page_login_password, PAGE_PRE),
	PAGE(HTTP_GET, "/portal/:site/login/forgot", page_password_link_form, 0),
	PAGE(HTTP_POST, "/portal/:site/login/forgot", page_password_link_request,
	    PAGE_PRE | PAGE_TXN),
	PAGE(HTTP_GET, "/portal/:site/login/signup", page_password_link_form, 0),
	PAGE(HTTP_POST, "/portal/:site/login/signup", page_password_link_request,
	    PAGE_PRE | PAGE_TXN),
	PAGE(HTTP_GET, "/portal/:site/login/password_sent", page_password_sent, 0),
	{ { HTTP_GET, "/portal/:site/link/:token" }, RK_PORTAL, .redact = true,
	  .page = page_link, .pflags = 0 },
	{ { HTTP_POST, "/portal/:site/link/:token" }, RK_PORTAL, .redact = true,
	  .page = page_link_confirm, .pflags = PAGE_PRE | PAGE_TXN },
	/* A customer's management link: the same confirmation (or, with email verification,
	 * a login link first in a browser that never signed in by email). */
	{ { HTTP_GET, "/portal/:site/manage/:token" }, RK_PORTAL, .redact = true,
	  .page = page_manage, .pflags = 0 },
	{ { HTTP_POST, "/portal/:site/manage/:token" }, RK_PORTAL, .redact = true,
	  .page = page_manage_confirm, .pflags = PAGE_PRE | PAGE_TXN },
	PAGE(HTTP_GET, "/portal/:site", page_overview, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/billing_details", page_details_show, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/billing_details", page_details_save,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions", page_subs_list, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id", page_sub_show, PAGE_SESSION),
	/* Reviews run the operation in a savepoint and roll it back: they need a transaction
	 * (never committed: they do not redirect). Confirms commit on their 303; the payments
	 * they queue are settled after the commit. */
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/change_plan", page_change_choose,
	    PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/change_plan/review", page_change_review,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/change_plan", page_change_confirm,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/cancel", page_cancel_choose,
	    PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/cancel/review", page_cancel_review,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/cancel", page_cancel_confirm,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/cancelled", page_cancelled, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/keep", page_keep,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/reactivate", page_reactivate_review,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/reactivate", page_reactivate_confirm,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/pause", page_pause_choose, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/pause/review", page_pause_review,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/pause", page_pause_confirm,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/subscriptions/:id/resume", page_resume_review,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/subscriptions/:id/resume", page_resume_confirm,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/payment_methods", page_pms_list, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/payment_methods/new", page_pm_new, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/payment_methods/new", page_pm_add,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/payment_methods/:id/default", page_pm_default_review,
	    PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/payment_methods/:id/default", page_pm_default,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/payment_methods/:id/remove", page_pm_remove_confirm,
	    PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/payment_methods/:id/remove", page_pm_remove,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	/* Hosted card set-up (a Stripe site): the POST above starts it and sends the browser
	 * to the gateway's page, which returns here; GET reads, "check now" asks. */
	PAGE(HTTP_GET, "/portal/:site/payment_methods/setups/:id", page_setup_show,
	    PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/payment_methods/setups/:id/check", page_setup_check,
	    PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/invoices", page_invoices, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/invoices/:id/pay", page_invoice_pay_review, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/invoices/:id/pay", page_invoice_pay,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/invoices/:id/paid", page_invoice_paid, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/invoices/:id/pdf", page_invoice_pdf, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/credit_notes/:id/pdf", page_credit_note_pdf, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/invoices/archive/:year", page_invoice_archive,
	    PAGE_SESSION),
	/* "Complete payment": a charge the bank wants the customer to confirm, on-session,
	 * through the bank's page; the page it returns to reads, "check now" asks. */
	PAGE(HTTP_GET, "/portal/:site/invoices/:id/complete", page_complete_review,
	    PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/invoices/:id/complete", page_complete,
	    PAGE_SESSION | PAGE_TXN | PAGE_ONCE),
	PAGE(HTTP_GET, "/portal/:site/invoices/:id/completed", page_complete_show, PAGE_SESSION),
	PAGE(HTTP_POST, "/portal/:site/invoices/:id/completed/check", page_complete_check,
	    PAGE_SESSION | PAGE_TXN),
	PAGE(HTTP_POST, "/portal/:site/sign_out", page_sign_out, PAGE_SESSION),
	PAGE(HTTP_GET, "/portal/:site/signed_out", page_signed_out, 0),
	PAGE(HTTP_GET, "/portal/:site/theme/:file", page_theme_css, PAGE_ASSET),
	PAGE(HTTP_GET, "/portal/:site/logo/:file", page_logo, PAGE_ASSET),
#undef PAGE
	{ { HTTP_GET, "/healthz" }, RK_HEALTH, NULL, NULL, NULL, false },
};
#pragma GCC diagnostic pop

/* true when s contains word, in any case */
static bool
has_ci(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

static bool
is_api_path(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

/* GET /healthz, for load balancers: 200 while this host can serve (database reachable,
 * every migration this binary needs applied), 503 otherwise. The job runner's lag is
 * reported, not judged: runners lagging is no reason to take a web host out of rotation.
 * Nothing in it names a version, host or site. */
static void
health(struct ctx *c)
{
	static char versions[MIGRATE_MAX * 8], names[MIGRATE_MAX * 48];
	static int nversions = -1;
	const char *params[2];
	const char *schema;
	PGresult *res;
	long long lag;

	if (nversions < 0) {
		struct migration m[MIGRATE_MAX];

		nversions = migrate_list(m, MIGRATE_MAX);
		migrate_versions_literal(versions, sizeof(versions));
		migrate_names_literal(names, sizeof(names));
	}
	params[0] = versions;
	params[1] = names;
	http_header(c->resp, "Cache-Control", "no-store");
	res = db_exec(c->db, STMT_HEALTH, params);
	if (res == NULL) {
		api_json_start(c, 503);
		http_header(c->resp, "Retry-After", "5");
		buf_puts(&c->resp->body, "{\"status\":\"unavailable\",\"database\":\"unreachable\","
		    "\"schema\":\"unknown\",\"jobs\":\"unknown\"}");
		return;
	}
	/* "conflict": a number of this build's applied as another file (another build's
	 * schema, see portalctl migrate --status). */
	schema = db_ll(res, 0, 0, 0) != nversions ? "behind" :
	    db_ll(res, 0, 2, 0) != nversions ? "conflict" : "current";
	lag = db_ll(res, 0, 1, 0);
	PQclear(res);
	if (lag < 0)
		lag = 0;
	api_json_start(c, strcmp(schema, "current") == 0 ? 200 : 503);
	buf_printf(&c->resp->body, "{\"status\":\"%s\",\"database\":\"ok\",\"schema\":\"%s\","
	    "\"jobs\":\"%s\",\"jobs_lag_seconds\":%lld}", strcmp(schema, "current") == 0 ?
	    "ok" : "unavailable", schema, lag > c->cfg->jobs_max_lag ? "lagging" : "ok", lag);
}

/* Parses and validates the JSON body of an API POST; answers 4xx and returns -1. */
static int
api_body(struct ctx *c, const struct route *rt)
{
	struct http_request *r = c->req;
	struct json_error e;

	if (r->body_too_large) {
		api_error(c, 413, "invalid_request_error", "body_too_large", NULL,
		    "The request body is larger than %zu bytes.", c->cfg->max_body);
		return -1;
	}
	if (rt->raw_type != NULL) {
		/* The handler reads the raw bytes; only their type is checked here. */
		if (r->content_type == NULL || strncasecmp(r->content_type, rt->raw_type,
		    strlen(rt->raw_type)) != 0 || (r->content_type[strlen(rt->raw_type)] != '\0' &&
		    r->content_type[strlen(rt->raw_type)] != ';')) {
			api_error(c, 415, "invalid_request_error", "unsupported_media_type", NULL,
			    "Send the body with 'Content-Type: %s'.", rt->raw_type);
			return -1;
		}
		c->body = cJSON_CreateObject();
		return 0;
	}
	if (r->body_len == 0) {
		c->body = cJSON_CreateObject();
	} else {
		if (!http_content_type_is_json(r->content_type)) {
			api_error(c, 415, "invalid_request_error", "unsupported_media_type", NULL,
			    "Send the body as JSON with 'Content-Type: application/json' (a charset, "
			    "if any, must be utf-8).");
			return -1;
		}
		c->body = json_parse(r->body, r->body_len, c->cfg->json_max_depth, &e);
		if (c->body == NULL) {
			api_invalid(c, &e);
			return -1;
		}
	}
	if (json_validate(c->body, rt->body, NULL, &e) != 0) {
		api_invalid(c, &e);
		return -1;
	}
	return 0;
}

/* Money moves in three steps (DESIGN, rulings): the handler's changes, with each charge
 * or refund recorded as intent, commit first; then the gateway calls run outside any
 * transaction and record their outcomes; then the answer is rendered from what is now
 * true and stored for the Idempotency-Key. */
static void
settle_and_answer(struct ctx *c, enum idem_result idem)
{
	struct derr e;

	if ((idem == IDEM_CLAIMED && idem_set_answer(c) != 0) || db_commit(c->db) != 0) {
		db_rollback(c->db);
		api_db_error(c);
		return;
	}
	if (payments_settle(&c->d, &e) != 0)
		log_warn("request %s: a gateway call is left to the job runner: %s",
		    c->req->request_id, e.message);
	api_render_answer(c);
	if (idem == IDEM_CLAIMED && c->resp->status < 500 && idem_store(c) != 0)
		log_warn("request %s: its answer could not be stored for its Idempotency-Key",
		    c->req->request_id);
}

/* Runs a mutating handler in one transaction, so a failed request changes nothing. */
static void
api_mutation(struct ctx *c, const struct route *rt)
{
	enum idem_result idem = IDEM_NONE;
	unsigned long random_failures = crypto_random_failures();

	if (db_begin(c->db) != 0) {
		api_db_error(c);
		return;
	}
	if (c->req->method == HTTP_POST)
		idem = idem_begin(c);
	if (idem == IDEM_ANSWERED) {
		if (c->resp->status >= 500 ? db_rollback(c->db) : db_commit(c->db))
			api_db_error(c);
		return;
	}
	if (idem == IDEM_CLAIMED && db_savepoint(c->db) != 0) {
		db_rollback(c->db);
		api_db_error(c);
		return;
	}
	rt->handler(c);
	/* Randomness failed somewhere in the handler, checked or not: nothing it did can be
	 * trusted (an id or a secret may be empty). Keep nothing, say so. */
	if (crypto_random_failures() != random_failures) {
		db_rollback(c->db);
		api_no_randomness(c);
		return;
	}
	/* A statement that failed (a conflict with a concurrent request, a lost connection, a
	 * bug) ends the request: roll back everything, the idempotency claim too, so a retry
	 * with the same key runs afresh instead of replaying a transient failure. */
	if (c->resp->status >= 500 || c->db->status != DB_OK) {
		db_rollback(c->db);
		if (c->resp->status < 400)
			api_db_error(c);
		return;
	}
	if (c->resp->status >= 400) {
		/* Keep the claim and the stored 4xx (a retry gets the same answer), drop
		 * whatever the handler wrote before it failed. */
		if (idem != IDEM_CLAIMED) {
			db_rollback(c->db);
			return;
		}
		if (db_rollback_savepoint(c->db) != 0) {
			db_rollback(c->db);
			api_db_error(c);
			return;
		}
	} else if (c->answer_set && (c->d.npending > 0 || c->d.pending_overflow)) {
		settle_and_answer(c, idem);
		return;
	} else if (c->answer_set) {
		api_render_answer(c);
		if (c->resp->status >= 400) {
			db_rollback(c->db);
			return;
		}
	}
	if ((idem == IDEM_CLAIMED && idem_store(c) != 0) || db_commit(c->db) != 0) {
		db_rollback(c->db);
		if (crypto_random_failures() != random_failures)
			api_no_randomness(c);	/* sealing the stored answer needs a nonce */
		else
			api_db_error(c);
	}
}

static void
dispatch_api(struct ctx *c, const struct route *rt)
{
	/* Ids are [A-Za-z0-9_-]{1,64}: anything else cannot name an object. */
	for (int i = 0; i < c->req->n_path_params; i++) {
		if (check_id(c->req->path_params[i]) != NULL) {
			api_error(c, 404, "invalid_request_error", "resource_missing", "id",
			    "No such object.");
			return;
		}
	}
	if (auth_api_request(c) != 0)
		return;
	dctx_init(&c->d, c->db, &c->site, c->now, ACTOR_API_KEY, c->key_id);
	c->d.secrets = &c->cfg->secrets;
	if (api_check_query(c, rt->query) != 0)
		return;
	if (c->req->method == HTTP_POST && api_body(c, rt) != 0)
		return;
	if (c->req->method == HTTP_GET || c->req->method == HTTP_HEAD) {
		rt->handler(c);	/* HEAD: inside dispatch's rolled-back transaction */
		if (c->answer_set)
			api_render_answer(c);
	} else
		api_mutation(c, rt);
}

/* No route: a path under /portal/<site>/ gets that site's branded page, anything else a
 * plain one. */
static void
portal_not_found(struct ctx *c, int status)
{
	struct page p = { .c = c };
	const char *path = c->req->path, *end;
	char site[48];

	if (strncmp(path, "/portal/", 8) == 0 && (end = strchr(path + 8, '/')) != NULL &&
	    (size_t)(end - path - 8) < sizeof(site)) {
		snprintf(site, sizeof(site), "%.*s", (int)(end - path - 8), path + 8);
		if (portal_site(&p, site, false) != 0)
			return;
		page_message(&p, status, status == 405 ? "Not allowed" : "Page not found",
		    status == 405 ? "This page cannot be used that way." : "There is no page at "
		    "this address. Check the address, or go to your account.", page_url(&p, ""),
		    "Go to your account");
		page_headers(&p, false);
		return;
	}
	portal_plain_message(c, status, status == 405 ? "Not allowed" : "Page not found",
	    "There is no page at this address. Open the billing portal from your account.");
}

/* The portal's path: what the route's flags declare, in one place, around the page. */
static void
dispatch_portal(struct ctx *c, const struct route *rt)
{
	struct http_request *r = c->req;
	struct page p = { .c = c };
	unsigned fl = rt->pflags;
	bool post = r->method == HTTP_POST, txn = false;
	unsigned long random_failures = crypto_random_failures();

	/* A POST always has a session, or before signing in the sign-in cookie, to check its
	 * CSRF token against. */
	assert(!post || (fl & (PAGE_SESSION | PAGE_PRE)));
	if (fl & PAGE_NO_SITE) {
		rt->page(&p);
		page_headers(&p, false);
		return;
	}
	if (portal_site(&p, r->path_params[0], (fl & PAGE_SESSION) != 0) != 0)
		return;
	if (fl & PAGE_ASSET) {
		rt->page(&p);
		page_headers(&p, true);
		return;
	}
	if (post) {
		if (r->body_too_large) {
			page_message(&p, 413, "Too much data", "The form sent too much data. "
			    "Nothing was changed.", page_url(&p, ""), "Go to your account");
			goto done;
		}
		if (r->content_type != NULL &&
		    strncasecmp(r->content_type, "application/x-www-form-urlencoded", 33) == 0)
			http_parse_urlencoded(&r->arena, r->body ? r->body : "", r->body_len,
			    &r->form);
		if (r->form.bad) {
			page_message(&p, 400, "Something was wrong with the form", "The form could "
			    "not be read. Nothing was changed. Go back and try again.",
			    page_url(&p, ""), "Go to your account");
			goto done;
		}
	}
	if ((fl & PAGE_GET_WRITES) && r->method == HTTP_HEAD) {
		/* HEAD never changes state: link checkers must not use up a one-time link. */
		c->resp->status = 200;
		c->resp->content_type = "text/html; charset=utf-8";
		goto done;
	}
	if ((fl & PAGE_SESSION) && portal_sign_in_check(&p) != 0)
		goto done;
	if (post && (fl & PAGE_SESSION) && portal_csrf(&p) != 0)
		goto done;
	if (post && (fl & PAGE_PRE) && portal_pre_check(&p) != 0)
		goto done;
	if (fl & PAGE_TXN) {
		if (db_begin(c->db) != 0) {
			page_message(&p, 503, "Please try again", "The billing portal is briefly "
			    "unavailable. Nothing was changed. Please try again in a moment.", NULL,
			    NULL);
			goto done;
		}
		txn = true;
	}
	if (post && (fl & PAGE_ONCE) && portal_once_claim(&p) != 1)
		goto finish;
	rt->page(&p);
	if (post && (fl & PAGE_ONCE) && c->db->status == DB_OK)
		(void)portal_once_finish(&p, c->resp->status == 303);
finish:
	if (txn) {
		/* Post/redirect/get: a page that redirects did its work; anything else (a form
		 * with errors, a refusal, a failed statement) leaves nothing behind. */
		bool redirected = c->resp->status == 303;
		/* Randomness failed in the page: an id or a secret may be empty. */
		bool trusted = crypto_random_failures() == random_failures;

		if (!redirected || !trusted || c->db->status != DB_OK || db_commit(c->db) != 0) {
			db_rollback(c->db);
			/* A redirect promises the work was done: it was not, so say so. */
			if (redirected) {
				buf_reset(&c->resp->headers);
				http_header(c->resp, "X-Request-Id", "%s", r->request_id);
				page_message(&p, 503, "Please try again", "The billing portal is "
				    "briefly unavailable. Nothing was changed. Please try again in a "
				    "moment.", NULL, NULL);
			}
		} else {
			/* Money moves in three steps (DESIGN, rulings): the intent is committed
			 * now; the gateway is called outside any transaction and each outcome
			 * recorded in its own; the page the browser is sent to shows it. */
			struct derr e;

			if ((p.d.npending > 0 || p.d.pending_overflow) &&
			    payments_settle(&p.d, &e) != 0)
				log_warn("request %s: a gateway call is left to the job runner: %s",
				    r->request_id, e.message);
			/* The gateway's page, when the call gave one (else p.location). */
			if (p.after_settle != NULL)
				p.after_settle(&p);
		}
	}
done:
	page_headers(&p, false);
	portal_page_free(&p);
}

void
dispatch(struct worker_state *ws, const char **log_path)
{
	struct http_request *r = &ws->req;
	struct ctx c = { .cfg = ws->cfg, .db = &ws->db, .req = r, .resp = &ws->resp };
	size_t idx;
	enum router_result rr;
	const struct route *rt;
	unsigned long random_failures = crypto_random_failures();

	*log_path = r->path;
	http_header(&ws->resp, "X-Request-Id", "%s", r->request_id);
	rr = router_match(routes, sizeof(routes) / sizeof(routes[0]), sizeof(routes[0]), r, &idx);
	if (rr != ROUTE_FOUND) {
		bool api = is_api_path(r->path);
		int status = rr == ROUTE_BAD_METHOD ? 405 : 404;

		/* The access path spelled another way (case, %-escapes) may still carry a
		 * live token: keep it out of the log as well. */
		if (strncasecmp(r->path, "/portal/access/", 15) == 0)
			*log_path = "/portal/access/:token";
		else if (has_ci(r->path, "portal") &&
		    (strchr(r->path, '%') != NULL || has_ci(r->path, "access") ||
		    has_ci(r->path, "/link/") ||
		    has_ci(r->path, "/manage/")))
			*log_path = "/portal/[redacted]";
		if (api)
			api_error(&c, status, "invalid_request_error",
			    status == 405 ? "method_not_allowed" : "route_missing", NULL,
			    status == 405 ? "This method is not allowed here." :
			    "Unrecognised request URL.");
		else
			portal_not_found(&c, status);
		return;
	}
	rt = &routes[idx];
	if (rt->redact)
		*log_path = rt->p.pattern;
	if (r->content_length_bad) {
		api_error(&c, 400, "invalid_request_error", "invalid_request", NULL,
		    "Content-Length is not a number.");
		return;
	}
	/* HEAD answers what GET would and changes nothing: the GET handler runs in a
	 * transaction that is always rolled back (one a handler opens nests inside it),
	 * and the client is given no cookie. */
	if (r->method == HTTP_HEAD) {
		if (db_begin(c.db) != 0) {
			if (rt->kind == RK_PORTAL)
				portal_plain_message(&c, 503, "Please try again", "The billing "
				    "portal is briefly unavailable. Please try again in a moment.");
			else
				api_db_error(&c);
			return;
		}
	}
	switch (rt->kind) {
	case RK_HEALTH:
		health(&c);
		break;
	case RK_GATEWAY:
		rt->handler(&c);
		break;
	case RK_API:
		dispatch_api(&c, rt);
		break;
	case RK_PORTAL:
		dispatch_portal(&c, rt);
		break;
	}
	if (r->method == HTTP_HEAD) {
		db_abort(c.db);	/* every level a handler left open */
		http_header_remove(c.resp, "Set-Cookie");
	}
	/* The last line of defence for paths outside api_mutation: an answer built on a
	 * failed random draw is not given out. */
	if (crypto_random_failures() != random_failures && c.resp->status < 500) {
		if (rt->kind == RK_API)
			api_no_randomness(&c);
		else
			portal_plain_message(&c, 503, "Please try again", "The billing portal is "
			    "briefly unavailable. Please try again in a moment.");
	}
	cJSON_Delete(c.body);
}
