/* setups.c: hosted card set-ups: the intent is recorded, Stripe makes a Checkout Session in
 * setup mode for the customer, and the card it saved (brand, last four digits, expiry, and
 * Stripe's id) is stored once, made default as asked. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing/customers.h"
#include "billing/events.h"
#include "billing/gateway_stripe.h"
#include "billing/gateways.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/pms.h"
#include "billing/setups.h"
#include "core/log.h"

#define URL_MAX	2000

static void
url_purpose(const char *id, char out[DOM_ID_MAX + 16])
{
	snprintf(out, DOM_ID_MAX + 16, "setup_url/%s", id);
}

static int
check_url(const char *url, const char *param, bool required, struct derr *e)
{
	if (url == NULL && !required)
		return 0;
	if (url == NULL || check_http_url(url) != NULL || strlen(url) > URL_MAX)
		return derr_set(e, DERR_INVALID, "parameter_invalid", param,
		    "%s must be an http(s) address of at most %d characters.", param, URL_MAX);
	return 0;
}

/* url with every {SETUP_ID} replaced by id (the portal's return page names its set-up);
 * NULL stays NULL. */
static const char *
fill_setup_id(const char *url, const char *id, char *out, size_t n)
{
	static const char mark[] = "{SETUP_ID}";
	size_t k = 0;

	if (url == NULL)
		return NULL;
	out[0] = '\0';
	while (*url != '\0' && k + 1 < n) {
		if (strncmp(url, mark, sizeof(mark) - 1) == 0) {
			k += (size_t)snprintf(out + k, n - k, "%s", id);
			if (k >= n)
				return NULL;
			url += sizeof(mark) - 1;
		} else
			out[k++] = *url++;
	}
	out[k < n ? k : n - 1] = '\0';
	return *url == '\0' ? out : NULL;
}

int
setups_begin(struct dctx *d, const struct setup_req *r, char id[DOM_ID_MAX], struct derr *e)
{
	PGresult *res;
	char gw[16], now[24], dflt[8], ok[URL_MAX + 1], cancel[URL_MAX + 1];
	const char *success_url, *cancel_url;

	if (check_url(r->success_url, "success_url", true, e) != 0 ||
	    check_url(r->cancel_url, "cancel_url", false, e) != 0)
		return -1;
	if (customers_exists(d, r->customer_id, e) != 0 || gateways_site_name(d, gw, e) != 0)
		return -1;
	if (strcmp(gw, "stripe") != 0)
		return derr_set(e, DERR_CONFLICT, "gateway_not_hosted", NULL,
		    "Cards are set up on the gateway's page only on sites connected to Stripe; "
		    "this site's gateway (%s) takes cards by token.", gw[0] ? gw : "none");
	if (dom_new_id("setup", id, e) != 0)
		return -1;
	success_url = fill_setup_id(r->success_url, id, ok, sizeof(ok));
	cancel_url = fill_setup_id(r->cancel_url, id, cancel, sizeof(cancel));
	if (check_url(success_url, "success_url", true, e) != 0 ||
	    check_url(cancel_url, "cancel_url", r->cancel_url != NULL, e) != 0)
		return -1;
	snprintf(dflt, sizeof(dflt), "%d", r->make_default < 0 ? -1 : r->make_default ? 1 : 0);
	res = db_exec(d->db, STMT_SETUP_INSERT, (const char *[]){ d->site.id, id, r->customer_id,
	    "stripe", dflt, success_url, cancel_url, buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	payments_queue(d, id);
	return 0;
}

/* Asks Stripe for the Checkout Session of a set-up still 'creating'. */
static int
create_session(struct dctx *d, PGresult *row, struct derr *e)
{
	const char *id = db_val(row, 0, SETUP_ID), *customer = db_val(row, 0, SETUP_CUSTOMER);
	struct stripe_client *sc = NULL;
	struct stripe_form *f = NULL;
	struct stripe_response r;
	struct buf sealed;
	char cus[96], key[256], purpose[DOM_ID_MAX + 16], a[24];
	const char *cs, *url;
	int rc = 0;

	stripe_response_init(&r);
	buf_init(&sealed);
	if (gateways_stripe_client(d, &sc, e) != 0 ||
	    gwstripe_customer(d, sc, customer, cus, e) != 0) {
		if (e->kind == DERR_UNAVAILABLE && d->db->status == DB_UNAVAILABLE)
			rc = -1;
		else
			log_warn("site %s: set-up %s waits: %s", d->site.id, id, e->message);
		goto out;
	}
	f = stripe_form_new();
	stripe_form_add(f, "mode", "setup");
	stripe_form_add(f, "customer", cus);
	stripe_form_push(f, "payment_method_types", "card");
	stripe_form_add(f, "success_url", db_val(row, 0, SETUP_SUCCESS_URL));
	if (db_val(row, 0, SETUP_CANCEL_URL) != NULL)
		stripe_form_add(f, "cancel_url", db_val(row, 0, SETUP_CANCEL_URL));
	stripe_form_add_sub(f, "metadata", "portald_site", d->site.id);
	stripe_form_add_sub(f, "metadata", "portald_setup", id);
	/* The SetupIntent carries them too: its webhook may be the only word we get. */
	stripe_form_add_sub(f, "setup_intent_data[metadata]", "portald_site", d->site.id);
	stripe_form_add_sub(f, "setup_intent_data[metadata]", "portald_setup", id);
	stripe_form_add_sub(f, "setup_intent_data[metadata]", "portald_customer", customer);
	for (int salted = 0; salted < 2; salted++) {
		/* A page made twice is harmless (the second one is never shown); a 5xx kept
		 * under the first key is not worth waiting for. */
		snprintf(key, sizeof(key), "portald:%s:%s:session%s", d->site.id, id,
		    salted ? ":retry" : "");
		stripe_response_free(&r);
		stripe_request(sc, "POST", "/v1/checkout/sessions", f, key, &r);
		if (!stripe_outcome_unknown(r.outcome) && r.outcome != STRIPE_RATE_LIMITED)
			break;
	}
	cs = stripe_json_str(r.json, "id");
	url = stripe_json_str(r.json, "url");
	if (r.outcome == STRIPE_OK && cs != NULL && url != NULL) {
		const cJSON *exp = cJSON_GetObjectItemCaseSensitive(r.json, "expires_at");
		PGresult *res;

		url_purpose(id, purpose);
		if (gateways_seal(d, purpose, url, &sealed) != 0) {
			derr_set(e, DERR_INTERNAL, "secrets_unavailable", NULL,
			    "No server key is loaded to seal the set-up's address.");
			goto out;
		}
		res = db_exec(d->db, STMT_SETUP_OPENED, (const char *[]){ d->site.id, id, cs,
		    sealed.data, cJSON_IsNumber(exp) && exp->valuedouble > 0 &&
		    exp->valuedouble < 1e12 ? buf_lltoa((long long)exp->valuedouble, a) : NULL });
		if (res == NULL)
			rc = derr_db(e, d->db);
		PQclear(res);
	} else if (r.outcome != STRIPE_OK && !stripe_outcome_unknown(r.outcome) &&
	    r.outcome != STRIPE_RATE_LIMITED) {
		PGresult *res;

		log_warn("site %s: Stripe refused the Checkout Session of %s: %s", d->site.id, id,
		    r.outcome == STRIPE_AUTH_ERROR ? "the secret key" : r.detail);
		res = db_exec(d->db, STMT_SETUP_SET_STATUS, (const char *[]){ d->site.id, id,
		    "failed", r.outcome == STRIPE_AUTH_ERROR ?
		    "Stripe refused the site's secret key." : r.error.message });
		if (res == NULL)
			rc = derr_db(e, d->db);
		PQclear(res);
	} else
		log_warn("site %s: Checkout Session of %s: %s; asked again on the next sync",
		    d->site.id, id, r.detail);
out:
	stripe_form_free(f);
	stripe_response_free(&r);
	buf_free(&sealed);
	stripe_client_free(sc);
	return rc;
}

int
setups_store_stripe_card(struct dctx *d, const char *setup_id, const cJSON *pm,
    struct derr *e)
{
	const cJSON *card = cJSON_GetObjectItemCaseSensitive(pm, "card");
	const char *pm_id = stripe_json_str(pm, "id"), *brand = stripe_json_str(card, "brand");
	const char *last4 = stripe_json_str(card, "last4"), *owner = stripe_json_str(pm,
	    "customer");
	double month = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(card, "exp_month"));
	double year = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(card, "exp_year"));
	PGresult *row = NULL, *res;
	char customer[DOM_ID_MAX], id[DOM_ID_MAX], a[3][24];
	int dflt, rc = -1;
	bool make_default;

	if (pm_id == NULL || brand == NULL || last4 == NULL || strlen(last4) != 4 ||
	    strspn(last4, "0123456789") != 4 || !(month >= 1 && month <= 12) ||
	    !(year >= 2000 && year <= 2200) || strlen(pm_id) >= DOM_ID_MAX || strlen(brand) > 32)
		return derr_set(e, DERR_INVALID, "not_a_card", NULL,
		    "The gateway's payment method is not a card Portald can keep.");
	if (db_begin(d->db) != 0)
		return derr_db(e, d->db);
	row = db_exec(d->db, STMT_SETUP_LOCK, (const char *[]){ d->site.id, setup_id });
	if (row == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(row) != 1) {
		rc = derr_not_found(e, "payment_method_setup", setup_id);
		goto out;
	}
	if (strcmp(db_val(row, 0, SETUP_STATUS), "complete") == 0) {
		rc = 0;		/* the return and the webhook: the second finds it done */
		goto out;
	}
	snprintf(customer, sizeof(customer), "%s", db_val(row, 0, SETUP_CUSTOMER));
	dflt = (int)db_ll(row, 0, SETUP_DEFAULT, -1);
	/* The card must be the customer's: saved on their Stripe customer. */
	res = db_exec(d->db, STMT_GWCUST_GET, (const char *[]){ d->site.id, customer, "stripe" });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(res) != 1 || owner == NULL || strcmp(owner, db_val(res, 0, 0)) != 0) {
		PQclear(res);
		log_error("site %s: set-up %s: Stripe's card %s belongs to another customer",
		    d->site.id, setup_id, pm_id);
		rc = derr_set(e, DERR_INVALID, "customer_mismatch", NULL,
		    "The card was saved for another customer.");
		goto out;
	}
	PQclear(res);
	if (dom_new_id("pm", id, e) != 0)
		goto out;
	res = db_exec(d->db, STMT_PM_INSERT_GATEWAY, (const char *[]){ d->site.id, id, customer,
	    pm_id, brand, last4, buf_lltoa((long long)month, a[0]),
	    buf_lltoa((long long)year, a[1]), buf_lltoa(d->now, a[2]), "stripe" });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(res) == 0) {
		/* Stored already (an earlier set-up returned the same card). */
		PQclear(res);
		log_warn("site %s: set-up %s: card %s is stored already", d->site.id, setup_id,
		    pm_id);
		id[0] = '\0';
	} else {
		struct buf data;

		PQclear(res);
		buf_init(&data);
		rc = obj_render(d, OBJ_PAYMENT_METHOD, id, &data, e);
		if (rc == 0)
			rc = events_emit(d, "payment_method.attached", id, data.data, e);
		buf_free(&data);
		if (rc != 0)
			goto out;
		rc = -1;
		res = db_exec(d->db, STMT_PM_USABLE_DEFAULT, (const char *[]){ d->site.id,
		    customer });
		if (res == NULL) {
			derr_db(e, d->db);
			goto out;
		}
		make_default = db_ll(res, 0, 0, 0) == 0 || dflt == 1;
		PQclear(res);
		if (!make_default && dflt < 0) {
			res = db_exec(d->db, STMT_INV_OPEN_FOR_CUSTOMER, (const char *[]){
			    d->site.id, customer });
			if (res == NULL) {
				derr_db(e, d->db);
				goto out;
			}
			make_default = PQntuples(res) > 0;
			PQclear(res);
		}
		/* The default card pays what is overdue (queued on d, settled by the caller). */
		if (make_default && pms_make_default(d, customer, id, NULL, e) != 0)
			goto out;
	}
	res = db_exec(d->db, STMT_SETUP_COMPLETE, (const char *[]){ d->site.id, setup_id,
	    id[0] ? id : NULL, buf_lltoa(d->now, a[0]) });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(res);
	PQclear(row);
	row = NULL;
	if (db_commit(d->db) != 0)
		return derr_db(e, d->db);
	return 0;
out:
	PQclear(row);
	db_rollback(d->db);
	return rc;
}

/* Asks Stripe whether the customer finished on the page of an 'open' set-up. */
static int
check_session(struct dctx *d, PGresult *row, struct derr *e)
{
	const char *id = db_val(row, 0, SETUP_ID), *cs = db_val(row, 0, SETUP_SESSION);
	struct stripe_client *sc = NULL;
	struct stripe_form *f;
	struct stripe_response r;
	const cJSON *seti, *pm;
	const char *status;
	char path[256];
	int rc = 0;

	if (cs == NULL || strlen(cs) > 200)
		return 0;
	if (gateways_stripe_client(d, &sc, e) != 0) {
		log_warn("site %s: set-up %s: %s", d->site.id, id, e->message);
		return 0;
	}
	f = stripe_form_new();
	stripe_form_push(f, "expand", "setup_intent.payment_method");
	snprintf(path, sizeof(path), "/v1/checkout/sessions/%s", cs);
	stripe_request(sc, "GET", path, f, NULL, &r);
	stripe_form_free(f);
	status = stripe_json_str(r.json, "status");
	seti = cJSON_GetObjectItemCaseSensitive(r.json, "setup_intent");
	pm = cJSON_GetObjectItemCaseSensitive(seti, "payment_method");
	if (r.outcome != STRIPE_OK || status == NULL) {
		log_warn("site %s: set-up %s: reading its Checkout Session: %s", d->site.id, id,
		    r.detail);
	} else if (strcmp(status, "complete") == 0 && cJSON_IsObject(pm) &&
	    strcmp(stripe_json_str(seti, "status") ? stripe_json_str(seti, "status") : "",
	    "succeeded") == 0) {
		if (setups_store_stripe_card(d, id, pm, e) != 0) {
			rc = d->db->status == DB_UNAVAILABLE ? -1 : 0;
			log_warn("site %s: set-up %s: %s", d->site.id, id, e->message);
		}
	} else if (strcmp(status, "expired") == 0) {
		PGresult *res = db_exec(d->db, STMT_SETUP_SET_STATUS, (const char *[]){ d->site.id,
		    id, "expired", NULL });

		if (res == NULL)
			rc = derr_db(e, d->db);
		PQclear(res);
	}
	stripe_response_free(&r);
	stripe_client_free(sc);
	return rc;
}

int
setups_settle(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *row = db_exec(d->db, STMT_SETUP_GET, (const char *[]){ d->site.id, id });
	int rc = 0;

	if (row == NULL)
		return derr_db(e, d->db);
	if (PQntuples(row) == 1) {
		if (strcmp(db_val(row, 0, SETUP_STATUS), "creating") == 0)
			rc = create_session(d, row, e);
		else if (strcmp(db_val(row, 0, SETUP_STATUS), "open") == 0)
			rc = check_session(d, row, e);
	}
	PQclear(row);
	return rc;
}

int
setups_url(struct dctx *d, const char *id, char *url, size_t n, struct derr *e)
{
	PGresult *row = db_exec(d->db, STMT_SETUP_GET, (const char *[]){ d->site.id, id });
	char purpose[DOM_ID_MAX + 16];
	struct buf b;
	int rc;

	if (row == NULL)
		return derr_db(e, d->db);
	if (PQntuples(row) != 1) {
		PQclear(row);
		return derr_not_found(e, "payment_method_setup", id);
	}
	if (strcmp(db_val(row, 0, SETUP_STATUS), "open") != 0 ||
	    db_val(row, 0, SETUP_URL_SEALED) == NULL) {
		derr_set(e, DERR_CONFLICT, "setup_not_open", NULL, "The card set-up is %s%s.",
		    db_val(row, 0, SETUP_STATUS), strcmp(db_val(row, 0, SETUP_STATUS),
		    "creating") == 0 ? " (Stripe could not be reached; try again)" : "");
		PQclear(row);
		return -1;
	}
	buf_init(&b);
	url_purpose(id, purpose);
	rc = gateways_open(d, purpose, db_val(row, 0, SETUP_URL_SEALED), &b);
	PQclear(row);
	if (rc != 0 || b.len >= n) {
		buf_free(&b);
		return derr_set(e, DERR_INTERNAL, "secrets_unavailable", NULL,
		    "The set-up's address cannot be opened with this server's keys.");
	}
	snprintf(url, n, "%s", b.data);
	buf_free(&b);
	return 0;
}

int
setups_queue(struct dctx *d, const char *customer_id, const char *ref,
    char id_out[DOM_ID_MAX], struct derr *e)
{
	PGresult *row;

	if (ref == NULL || ref[0] == '\0' || strlen(ref) > 200)
		return derr_not_found(e, "payment_method_setup", ref ? ref : "");
	row = db_exec(d->db, strncmp(ref, "setup_", 6) == 0 ? STMT_SETUP_GET :
	    STMT_SETUP_BY_SESSION, (const char *[]){ d->site.id, ref });
	if (row == NULL)
		return derr_db(e, d->db);
	if (PQntuples(row) != 1 || (customer_id != NULL &&
	    strcmp(db_val(row, 0, SETUP_CUSTOMER), customer_id) != 0)) {
		PQclear(row);
		return derr_not_found(e, "payment_method_setup", ref);
	}
	snprintf(id_out, DOM_ID_MAX, "%s", db_val(row, 0, SETUP_ID));
	PQclear(row);
	payments_queue(d, id_out);
	return 0;
}

int
setups_sync(struct dctx *d, const char *customer_id, const char *ref,
    char id_out[DOM_ID_MAX], struct derr *e)
{
	char id[DOM_ID_MAX];

	if (setups_queue(d, customer_id, ref, id, e) != 0)
		return -1;
	if (id_out != NULL)
		snprintf(id_out, DOM_ID_MAX, "%s", id);
	return payments_settle(d, e);
}
