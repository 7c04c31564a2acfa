/* gateway_stripe.c: charges and refunds through Stripe. A charge attempt is one
 * PaymentIntent: created under a key stable for the attempt, its id recorded on the attempt
 * and committed, then confirmed (off-session against the saved card, or on-session with a
 * return_url). When an answer is lost (a 5xx, a timeout, a crash) the PaymentIntent is
 * looked at first, by its recorded id or by listing the customer's PaymentIntents and
 * matching the attempt in their metadata (never Stripe's search API, whose index lags), and
 * only then tried again, under a new key: Stripe keeps a 5xx under the old one. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing/gateway_stripe.h"
#include "billing/gateways.h"
#include "core/crypto.h"
#include "core/currency.h"
#include "core/log.h"

/* The Idempotency-Key of one logical operation: "portald:<site>:<what>:<op>", and with a
 * salt for a retry after Stripe kept a 5xx under the plain key. */
static void
idem_key(char *out, size_t n, const struct dctx *d, const char *what, const char *op,
    bool salted)
{
	char salt[17] = "";

	if (salted && crypto_random_hex(8, salt, sizeof(salt)) != 0)
		snprintf(salt, sizeof(salt), "%lld", (long long)time(NULL));
	snprintf(out, n, "portald:%s:%s:%s%s%s", d->site.id, what, op, salted ? ":" : "", salt);
}

/* Copies s into dst of size n, cut short if it must be (messages are summaries). */
static void
copy(char *dst, size_t n, const char *s)
{
	size_t len = s != NULL ? strnlen(s, n - 1) : 0;

	if (len > 0)
		memcpy(dst, s, len);
	dst[len] = '\0';
}

static void
result(struct gw_result *out, enum gw_outcome o, const char *code, const char *ref,
    const char *message)
{
	out->outcome = o;
	copy(out->code, sizeof(out->code), code);
	if (ref != NULL)
		copy(out->ref, sizeof(out->ref), ref);
	copy(out->message, sizeof(out->message), message);
}

const char *
gwstripe_outcome_code(const char *code, const char *decline_code)
{
	code = code ? code : "";
	decline_code = decline_code ? decline_code : "";
	if (strcmp(code, "authentication_required") == 0 ||
	    strcmp(decline_code, "authentication_required") == 0 ||
	    strcmp(code, "payment_intent_authentication_failure") == 0)
		return "authentication_required";
	if (strcmp(code, "expired_card") == 0 || strcmp(decline_code, "expired_card") == 0)
		return "expired_card";
	if (strcmp(decline_code, "insufficient_funds") == 0)
		return "insufficient_funds";
	if (strcmp(code, "processing_error") == 0)
		return "processing_error";
	return "declined";
}

void
gwstripe_map_intent(const cJSON *pi, bool on_session, struct gw_result *out)
{
	const char *status = stripe_json_str(pi, "status"), *id = stripe_json_str(pi, "id");
	const cJSON *lpe = cJSON_GetObjectItemCaseSensitive(pi, "last_payment_error");

	memset(out, 0, sizeof(*out));
	snprintf(out->ref, sizeof(out->ref), "%s", id ? id : "");
	status = status ? status : "";
	if (strcmp(status, "succeeded") == 0) {
		result(out, GW_SUCCEEDED, "succeeded", NULL, NULL);
	} else if (strcmp(status, "processing") == 0) {
		result(out, GW_PENDING, "processing", NULL, NULL);
	} else if (strcmp(status, "requires_action") == 0) {
		const cJSON *na = cJSON_GetObjectItemCaseSensitive(pi, "next_action");
		const cJSON *rd = cJSON_GetObjectItemCaseSensitive(na, "redirect_to_url");
		const char *url = stripe_json_str(rd, "url");

		result(out, GW_REQUIRES_ACTION, "authentication_required", NULL,
		    "The customer's bank asks them to authenticate this payment.");
		snprintf(out->decline_code, sizeof(out->decline_code), "authentication_required");
		if (on_session && url != NULL && strlen(url) < sizeof(out->action_url))
			snprintf(out->action_url, sizeof(out->action_url), "%s", url);
	} else if (strcmp(status, "requires_payment_method") == 0 && cJSON_IsObject(lpe)) {
		const char *code = stripe_json_str(lpe, "code");
		const char *dc = stripe_json_str(lpe, "decline_code");
		const char *oc = gwstripe_outcome_code(code, dc);

		/* An off-session confirm that needed the customer: the PaymentIntent is back to
		 * requires_payment_method; the portal's "Complete payment" takes it from here. */
		result(out, strcmp(code ? code : "", "authentication_required") == 0 ?
		    GW_REQUIRES_ACTION : GW_DECLINED, oc, NULL, stripe_json_str(lpe, "message"));
		snprintf(out->decline_code, sizeof(out->decline_code), "%s",
		    dc ? dc : code ? code : "");
	} else if (strcmp(status, "canceled") == 0) {
		const char *why = stripe_json_str(pi, "cancellation_reason");

		result(out, GW_DECLINED, why && strcmp(why, "abandoned") == 0 ?
		    "authentication_required" : "declined", NULL,
		    "The PaymentIntent was canceled before it was paid.");
	} else {
		result(out, GW_NOT_FOUND, NULL, NULL, NULL);	/* not confirmed yet */
	}
}

void
gwstripe_map_refund(const cJSON *re, struct gw_result *out)
{
	const char *status = stripe_json_str(re, "status"), *id = stripe_json_str(re, "id");

	memset(out, 0, sizeof(*out));
	status = status ? status : "";
	/* A pending card refund is under way at the bank: the money is committed back. */
	if (strcmp(status, "succeeded") == 0 || strcmp(status, "pending") == 0)
		result(out, GW_SUCCEEDED, "succeeded", id, NULL);
	else if (strcmp(status, "requires_action") == 0)
		result(out, GW_PENDING, "processing", id, NULL);
	else
		result(out, GW_DECLINED, "declined", id, stripe_json_str(re, "failure_reason"));
}

/* A definite refusal that moved no money (a bad key, parameters Stripe refused): the attempt
 * fails and the reason is kept, without the key. */
static int
refused(struct dctx *d, const char *what, const struct stripe_response *r,
    struct gw_result *out)
{
	char msg[200];

	if (r->outcome == STRIPE_AUTH_ERROR) {
		log_error("site %s: Stripe refused the site's secret key (%s, request %s)",
		    d->site.id, what, r->request_id);
		snprintf(msg, sizeof(msg), "Stripe refused the site's secret key.");
	} else {
		log_warn("site %s: Stripe refused %s: %s (request %s)", d->site.id, what,
		    r->detail, r->request_id);
		snprintf(msg, sizeof(msg), "Stripe: %.190s", r->error.message[0] ?
		    r->error.message : stripe_outcome_name(r->outcome));
	}
	result(out, GW_DECLINED, "processing_error", NULL, msg);
	snprintf(out->decline_code, sizeof(out->decline_code), "%s", r->error.code);
	return 0;
}

int
gwstripe_customer(struct dctx *d, struct stripe_client *sc, const char *customer_id,
    char ref[96], struct derr *e)
{
	PGresult *res;
	struct stripe_form *f;
	struct stripe_response r;
	char key[256], now[24];
	const char *id;
	int rc = -1;

	res = db_exec(d->db, STMT_GWCUST_GET, (const char *[]){ d->site.id, customer_id,
	    "stripe" });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1) {
		snprintf(ref, 96, "%s", db_val(res, 0, 0));
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = db_exec(d->db, STMT_CUSTOMER_GET, (const char *[]){ d->site.id, customer_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", customer_id);
	}
	f = stripe_form_new();
	if (db_val(res, 0, CUST_NAME) != NULL)
		stripe_form_add(f, "name", db_val(res, 0, CUST_NAME));
	/* Stripe wants a dotted domain; an address it would refuse is left out. */
	if (db_val(res, 0, CUST_EMAIL) != NULL && strchr(db_val(res, 0, CUST_EMAIL), '@') &&
	    strchr(strchr(db_val(res, 0, CUST_EMAIL), '@'), '.'))
		stripe_form_add(f, "email", db_val(res, 0, CUST_EMAIL));
	stripe_form_add_sub(f, "metadata", "portald_site", d->site.id);
	stripe_form_add_sub(f, "metadata", "portald_customer", customer_id);
	PQclear(res);
	/* One Stripe customer per customer: the same key however often this runs. */
	idem_key(key, sizeof(key), d, customer_id, "customer", false);
	stripe_request(sc, "POST", "/v1/customers", f, key, &r);
	stripe_form_free(f);
	id = r.outcome == STRIPE_OK ? stripe_json_str(r.json, "id") : NULL;
	if (id == NULL) {
		log_warn("site %s: creating the Stripe customer of %s: %s", d->site.id,
		    customer_id, r.detail);
		derr_set(e, stripe_outcome_unknown(r.outcome) || r.outcome ==
		    STRIPE_RATE_LIMITED ? DERR_UNAVAILABLE : DERR_INTERNAL, "gateway_error", NULL,
		    "Stripe did not create the customer: %s", r.error.message[0] ?
		    r.error.message : stripe_outcome_name(r.outcome));
		goto out;
	}
	res = db_exec(d->db, STMT_GWCUST_INSERT, (const char *[]){ d->site.id, customer_id,
	    "stripe", id, buf_lltoa(d->now, now) });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(res);
	/* Two callers at once got the same customer (the same key); the stored one wins. */
	res = db_exec(d->db, STMT_GWCUST_GET, (const char *[]){ d->site.id, customer_id,
	    "stripe" });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(res) == 1) {
		snprintf(ref, 96, "%s", db_val(res, 0, 0));
		rc = 0;
	} else
		derr_set(e, DERR_INTERNAL, "gateway_error", NULL, "The Stripe customer was not kept.");
	PQclear(res);
out:
	stripe_response_free(&r);
	return rc;
}

/* The attempt sent with key idem: its row (caller clears) or NULL (e filled, or none). */
static PGresult *
attempt_by_idem(struct dctx *d, const char *idem, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PAY_BY_IDEM, (const char *[]){ d->site.id, idem });

	if (res == NULL) {
		derr_db(e, d->db);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		derr_set(e, DERR_INTERNAL, "attempt_missing", NULL, "No attempt has key %s.", idem);
		return NULL;
	}
	return res;
}

/* The Stripe customer of the invoice's customer, without creating one (a card of this
 * customer was set up, so it exists). 0 found, 1 none, -1 error. */
static int
invoice_customer_ref(struct dctx *d, const char *invoice_id, char ref[96], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_INV_GET, (const char *[]){ d->site.id, invoice_id });
	char customer[DOM_ID_MAX];

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 1;
	}
	snprintf(customer, sizeof(customer), "%s", db_val(res, 0, INV_CUSTOMER));
	PQclear(res);
	res = db_exec(d->db, STMT_GWCUST_GET, (const char *[]){ d->site.id, customer, "stripe" });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 1;
	}
	snprintf(ref, 96, "%s", db_val(res, 0, 0));
	PQclear(res);
	return 0;
}

/* true when a PaymentIntent (or refund) was made for this attempt of this site. */
static bool
made_for(const cJSON *obj, const struct dctx *d, const char *idem)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *a = stripe_json_str(md, "portald_attempt");
	const char *s = stripe_json_str(md, "portald_site");

	return a != NULL && s != NULL && strcmp(a, idem) == 0 && strcmp(s, d->site.id) == 0;
}

/* Looks for the PaymentIntent of attempt idem among the customer's newest ones (created
 * since wall_created minus ten minutes). *found: a copy (caller deletes) or NULL.
 * Returns 0 when the answer is sure, -1 when Stripe could not be asked. */
static int
find_intent(struct dctx *d, struct stripe_client *sc, const char *cus, const char *idem,
    long long wall_created, cJSON **found)
{
	struct stripe_form *f = stripe_form_new();
	struct stripe_response r;
	const cJSON *item, *data;
	int rc = -1;

	*found = NULL;
	stripe_form_add(f, "customer", cus);
	stripe_form_add_int(f, "limit", 100);
	if (wall_created > 600)
		stripe_form_add_int(f, "created[gte]", wall_created - 600);
	stripe_request(sc, "GET", "/v1/payment_intents", f, NULL, &r);
	stripe_form_free(f);
	if (r.outcome == STRIPE_OK) {
		data = cJSON_GetObjectItemCaseSensitive(r.json, "data");
		cJSON_ArrayForEach(item, data) {
			if (made_for(item, d, idem)) {
				*found = cJSON_Duplicate(item, true);
				break;
			}
		}
		rc = 0;
	} else
		log_warn("site %s: listing PaymentIntents for %s: %s", d->site.id, idem, r.detail);
	stripe_response_free(&r);
	return rc;
}

/* GET of one PaymentIntent. 0 with *pi (caller deletes), 1 no such object, -1 unknown. */
static int
get_intent(struct dctx *d, struct stripe_client *sc, const char *id, cJSON **pi)
{
	struct stripe_response r;
	char path[160];
	int rc;

	*pi = NULL;
	snprintf(path, sizeof(path), "/v1/payment_intents/%s", id);
	stripe_request(sc, "GET", path, NULL, NULL, &r);
	if (r.outcome == STRIPE_OK) {
		*pi = r.json;
		r.json = NULL;
		rc = 0;
	} else {
		rc = r.outcome == STRIPE_NOT_FOUND ? 1 : -1;
		log_warn("site %s: retrieving %s: %s", d->site.id, id, r.detail);
	}
	stripe_response_free(&r);
	return rc;
}

/* Records the PaymentIntent on its attempt, committed on its own before anything is asked
 * of it. 0 recorded, 1 the attempt is no longer pending (someone recorded its answer),
 * -1 the database failed (then nothing may be confirmed). */
static int
record_ref(struct dctx *d, const char *idem, const char *ref, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PAY_SET_REF, (const char *[]){ d->site.id, idem,
	    ref });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : 1;
}

/* Creates the attempt's PaymentIntent (not confirmed). 0 with *pi, 1 refused (out filled),
 * -1 unknown. */
static int
create_intent(struct dctx *d, struct stripe_client *sc, const struct gw_charge *c,
    const char *cus, bool salted, cJSON **pi, struct gw_result *out)
{
	struct stripe_form *f;
	struct stripe_response r;
	char key[256], cur[4], err[160];
	long long amount;
	int rc;

	*pi = NULL;
	if (currency_stripe_amount(c->currency, c->amount, &amount, err, sizeof(err)) != 0) {
		result(out, GW_DECLINED, "processing_error", NULL, err);
		return 1;
	}
	for (int i = 0; i < 3; i++)
		cur[i] = (char)(c->currency[i] | 0x20);
	cur[3] = '\0';
	f = stripe_form_new();
	stripe_form_add_int(f, "amount", amount);
	stripe_form_add(f, "currency", cur);
	stripe_form_add(f, "customer", cus);
	stripe_form_add(f, "payment_method", c->token);
	stripe_form_push(f, "payment_method_types", "card");
	stripe_form_add_sub(f, "metadata", "portald_site", d->site.id);
	stripe_form_add_sub(f, "metadata", "portald_invoice", c->invoice_id);
	stripe_form_add_sub(f, "metadata", "portald_attempt", c->idem);
	idem_key(key, sizeof(key), d, c->idem, "create", salted);
	stripe_request(sc, "POST", "/v1/payment_intents", f, key, &r);
	stripe_form_free(f);
	if (r.outcome == STRIPE_OK && stripe_json_str(r.json, "id") != NULL) {
		*pi = r.json;
		r.json = NULL;
		rc = 0;
	} else if (r.outcome == STRIPE_OK || stripe_outcome_unknown(r.outcome) ||
	    r.outcome == STRIPE_RATE_LIMITED) {
		log_warn("site %s: creating the PaymentIntent of %s: %s", d->site.id, c->idem,
		    r.detail);
		rc = -1;
	} else {
		refused(d, "a PaymentIntent", &r, out);
		rc = 1;
	}
	stripe_response_free(&r);
	return rc;
}

/* Confirms the attempt's PaymentIntent. 0 with out filled, -1 unknown (out untouched). */
static int
confirm_intent(struct dctx *d, struct stripe_client *sc, const struct gw_charge *c,
    const char *pi_id, bool salted, struct gw_result *out)
{
	struct stripe_form *f = stripe_form_new();
	struct stripe_response r;
	char key[256], path[160];
	int rc = 0;

	stripe_form_add(f, "payment_method", c->token);
	if (c->return_url != NULL)
		stripe_form_add(f, "return_url", c->return_url);
	else
		stripe_form_add_bool(f, "off_session", true);
	snprintf(path, sizeof(path), "/v1/payment_intents/%s/confirm", pi_id);
	idem_key(key, sizeof(key), d, c->idem, "confirm", salted);
	stripe_request(sc, "POST", path, f, key, &r);
	stripe_form_free(f);
	switch (r.outcome) {
	case STRIPE_OK:
		gwstripe_map_intent(r.json, c->return_url != NULL, out);
		break;
	case STRIPE_CARD_ERROR:
		if (r.error.payment_intent != NULL)
			gwstripe_map_intent(r.error.payment_intent, c->return_url != NULL, out);
		else {
			const char *oc = gwstripe_outcome_code(r.error.code, r.error.decline_code);

			memset(out, 0, sizeof(*out));
			result(out, strcmp(oc, "authentication_required") == 0 ?
			    GW_REQUIRES_ACTION : GW_DECLINED, oc, pi_id, r.error.message);
			snprintf(out->decline_code, sizeof(out->decline_code), "%s",
			    r.error.decline_code[0] ? r.error.decline_code : r.error.code);
		}
		break;
	case STRIPE_INVALID_REQUEST:
	case STRIPE_NOT_FOUND:
	case STRIPE_AUTH_ERROR:
		/* Already confirmed (a replay after our own lost answer): its state decides. */
		if (strcmp(r.error.code, "payment_intent_unexpected_state") == 0)
			rc = -1;
		else {
			memset(out, 0, sizeof(*out));
			refused(d, "the confirmation", &r, out);
		}
		break;
	default:
		log_warn("site %s: confirming %s for %s: %s", d->site.id, pi_id, c->idem,
		    r.detail);
		rc = -1;
		break;
	}
	if (rc == 0)
		snprintf(out->ref, sizeof(out->ref), "%s", pi_id);
	stripe_response_free(&r);
	return rc;
}

static bool
is_status(const cJSON *pi, const char *status)
{
	const char *s = stripe_json_str(pi, "status");

	return s != NULL && strcmp(s, status) == 0;
}

/* Never confirmed: waiting for its confirmation (Portald creates it with the card). */
static bool
unconfirmed(const cJSON *pi)
{
	return is_status(pi, "requires_confirmation") || (is_status(pi, "requires_payment_method")
	    && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(pi, "last_payment_error")));
}

/* Finds the attempt's PaymentIntent: by its recorded id, else among the customer's. */
static int
locate_intent(struct dctx *d, struct stripe_client *sc, PGresult *att, const char *cus,
    cJSON **pi)
{
	const char *ref = db_val(att, 0, PAY_REF);
	int rc;

	*pi = NULL;
	if (ref != NULL) {
		rc = get_intent(d, sc, ref, pi);
		return rc < 0 ? -1 : 0;
	}
	return find_intent(d, sc, cus, db_val(att, 0, PAY_IDEM), db_ll(att, 0, PAY_WALL_CREATED,
	    0), pi);
}

static int
stripe_charge(struct dctx *d, const struct gw_charge *c, struct gw_result *out, struct derr *e)
{
	struct stripe_client *sc = NULL;
	PGresult *att = NULL;
	cJSON *pi = NULL;
	char cus[96];
	const char *pi_id;
	bool on_session = c->return_url != NULL;
	int rc = -1, n;

	memset(out, 0, sizeof(*out));
	if (gateways_stripe_client(d, &sc, e) != 0) {
		if (e->kind == DERR_UNAVAILABLE)
			return -1;	/* the database: the attempt waits, nothing was sent */
		/* The site left Stripe (or its keys cannot be opened): nothing can be charged. */
		log_error("site %s: charge %s: %s", d->site.id, c->idem, e->message);
		result(out, GW_DECLINED, "processing_error", NULL, e->message);
		return 0;
	}
	if ((n = invoice_customer_ref(d, c->invoice_id, cus, e)) != 0) {
		if (n < 0)
			goto out;
		result(out, GW_DECLINED, "no_payment_method", NULL,
		    "The customer has no card set up with Stripe.");
		rc = 0;
		goto out;
	}
	if ((att = attempt_by_idem(d, c->idem, e)) == NULL)
		goto out;
	if (strcmp(db_val(att, 0, PAY_OUTCOME), "pending") != 0) {
		out->outcome = GW_UNKNOWN;	/* recorded meanwhile, by a runner or a webhook */
		rc = 0;
		goto out;
	}
	/* 1. The PaymentIntent: the one recorded or made before (a crash, a lost answer),
	 * else a new one; its id is committed on the attempt before it is confirmed. */
	if (locate_intent(d, sc, att, cus, &pi) != 0) {
		out->outcome = GW_UNKNOWN;
		rc = 0;
		goto out;
	}
	if (pi == NULL) {
		n = create_intent(d, sc, c, cus, false, &pi, out);
		if (n < 0) {
			/* Stripe may have made it: look, then try once more under a new key. */
			if (find_intent(d, sc, cus, c->idem, db_ll(att, 0, PAY_WALL_CREATED, 0),
			    &pi) != 0) {
				out->outcome = GW_UNKNOWN;
				rc = 0;
				goto out;
			}
			if (pi == NULL)
				n = create_intent(d, sc, c, cus, true, &pi, out);
			else
				n = 0;
		}
		if (n != 0) {
			if (n < 0)
				out->outcome = GW_UNKNOWN;
			rc = 0;
			goto out;
		}
	}
	pi_id = stripe_json_str(pi, "id");
	if ((n = record_ref(d, c->idem, pi_id, e)) != 0) {
		if (n < 0)
			goto out;	/* not recorded: not confirmed; the runner takes it up */
		out->outcome = GW_UNKNOWN;
		rc = 0;
		goto out;
	}
	/* 2. Its state decides whether to confirm: never twice for one attempt. */
	if (!unconfirmed(pi) && !(is_status(pi, "requires_action") && !on_session)) {
		gwstripe_map_intent(pi, on_session, out);
		if (out->outcome != GW_NOT_FOUND) {
			rc = 0;
			goto out;
		}
	}
	if (confirm_intent(d, sc, c, pi_id, false, out) != 0) {
		/* The answer was lost or the state moved: look before trying again. */
		cJSON *now = NULL;

		if (get_intent(d, sc, pi_id, &now) != 0) {
			out->outcome = GW_UNKNOWN;
			rc = 0;
			goto out;
		}
		if (unconfirmed(now)) {
			if (confirm_intent(d, sc, c, pi_id, true, out) != 0)
				out->outcome = GW_UNKNOWN;
		} else
			gwstripe_map_intent(now, on_session, out);
		cJSON_Delete(now);
	}
	if (out->outcome == GW_NOT_FOUND)
		out->outcome = GW_UNKNOWN;
	rc = 0;
out:
	if (rc == 0 && out->ref[0] == '\0' && pi != NULL && stripe_json_str(pi, "id") != NULL)
		snprintf(out->ref, sizeof(out->ref), "%s", stripe_json_str(pi, "id"));
	cJSON_Delete(pi);
	PQclear(att);
	stripe_client_free(sc);
	return rc;
}

/* An on-session PaymentIntent the customer left at the bank's page: canceled, so it cannot
 * succeed after its attempt was recorded as failed. out: the outcome either way. */
static void
abandon(struct dctx *d, struct stripe_client *sc, const char *idem, const char *pi_id,
    struct gw_result *out)
{
	struct stripe_form *f = stripe_form_new();
	struct stripe_response r;
	char key[256], path[160];
	cJSON *now = NULL;

	stripe_form_add(f, "cancellation_reason", "abandoned");
	snprintf(path, sizeof(path), "/v1/payment_intents/%s/cancel", pi_id);
	idem_key(key, sizeof(key), d, idem, "cancel", false);
	stripe_request(sc, "POST", path, f, key, &r);
	stripe_form_free(f);
	if (r.outcome == STRIPE_OK)
		gwstripe_map_intent(r.json, false, out);
	else if (get_intent(d, sc, pi_id, &now) == 0 && !is_status(now, "requires_action"))
		gwstripe_map_intent(now, false, out);	/* it moved on meanwhile */
	else
		result(out, GW_PENDING, NULL, pi_id, NULL);
	cJSON_Delete(now);
	stripe_response_free(&r);
}

/* Refunds of the PaymentIntent, looked through for the one made for attempt idem. */
static int
find_refund(struct dctx *d, struct stripe_client *sc, const char *pi_id, const char *idem,
    struct gw_result *out)
{
	struct stripe_form *f = stripe_form_new();
	struct stripe_response r;
	const cJSON *item;
	int rc = -1;

	stripe_form_add(f, "payment_intent", pi_id);
	stripe_form_add_int(f, "limit", 100);
	stripe_request(sc, "GET", "/v1/refunds", f, NULL, &r);
	stripe_form_free(f);
	if (r.outcome == STRIPE_OK) {
		memset(out, 0, sizeof(*out));
		out->outcome = GW_NOT_FOUND;
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r.json, "data")) {
			if (made_for(item, d, idem)) {
				gwstripe_map_refund(item, out);
				break;
			}
		}
		rc = 0;
	} else
		log_warn("site %s: listing refunds of %s: %s", d->site.id, pi_id, r.detail);
	stripe_response_free(&r);
	return rc;
}

/* The PaymentIntent a refund attempt refunds: the invoice's last paid charge. */
static int
refunded_intent(struct dctx *d, PGresult *att, char pi[96], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PAY_LAST_CHARGE, (const char *[]){ d->site.id,
	    db_val(att, 0, PAY_INVOICE) });

	if (res == NULL)
		return derr_db(e, d->db);
	pi[0] = '\0';
	if (PQntuples(res) == 1 && db_val(res, 0, PAY_REF) != NULL)
		snprintf(pi, 96, "%s", db_val(res, 0, PAY_REF));
	PQclear(res);
	return 0;
}

static int
stripe_retrieve(struct dctx *d, const char *kind, const char *idem, const char *ref,
    struct gw_result *out, struct derr *e)
{
	struct stripe_client *sc = NULL;
	PGresult *att;
	cJSON *pi = NULL;
	char cus[96], pi_id[96];
	bool on_session;
	int rc = -1, n;

	(void)ref;
	memset(out, 0, sizeof(*out));
	if ((att = attempt_by_idem(d, idem, e)) == NULL)
		return -1;
	if (gateways_stripe_client(d, &sc, e) != 0) {
		PQclear(att);
		return -1;
	}
	if (strcmp(kind, "refund") == 0) {
		if (refunded_intent(d, att, pi_id, e) != 0)
			goto out;
		if (pi_id[0] == '\0')
			out->outcome = GW_NOT_FOUND;
		else if (find_refund(d, sc, pi_id, idem, out) != 0) {
			rc = derr_set(e, DERR_UNAVAILABLE, "gateway_unavailable", NULL,
			    "Stripe could not be asked about refund %s.", idem);
			goto out;
		}
		rc = 0;
		goto out;
	}
	on_session = db_val(att, 0, PAY_RETURN_URL) != NULL;
	if ((n = invoice_customer_ref(d, db_val(att, 0, PAY_INVOICE), cus, e)) != 0) {
		if (n > 0) {
			out->outcome = GW_NOT_FOUND;
			rc = 0;
		}
		goto out;
	}
	if (locate_intent(d, sc, att, cus, &pi) != 0) {
		rc = derr_set(e, DERR_UNAVAILABLE, "gateway_unavailable", NULL,
		    "Stripe could not be asked about charge %s.", idem);
		goto out;
	}
	if (pi == NULL) {
		out->outcome = GW_NOT_FOUND;
		rc = 0;
		goto out;
	}
	if (db_val(att, 0, PAY_REF) == NULL &&
	    record_ref(d, idem, stripe_json_str(pi, "id"), e) < 0)
		goto out;
	if (on_session && is_status(pi, "requires_action")) {
		/* Still at the bank's page: wait, until the window is over. */
		if ((long long)time(NULL) - db_ll(att, 0, PAY_WALL_CREATED, 0) <
		    GWSTRIPE_ON_SESSION_WINDOW)
			result(out, GW_PENDING, NULL, stripe_json_str(pi, "id"), NULL);
		else
			abandon(d, sc, idem, stripe_json_str(pi, "id"), out);
	} else
		gwstripe_map_intent(pi, false, out);
	rc = 0;
out:
	cJSON_Delete(pi);
	PQclear(att);
	stripe_client_free(sc);
	return rc;
}

static int
create_refund(struct dctx *d, struct stripe_client *sc, const char *pi_id, long long amount,
    const char *invoice_id, const char *idem, bool salted, struct gw_result *out)
{
	struct stripe_form *f = stripe_form_new();
	struct stripe_response r;
	char key[256];
	int rc = 0;

	stripe_form_add(f, "payment_intent", pi_id);
	stripe_form_add_int(f, "amount", amount);
	stripe_form_add_sub(f, "metadata", "portald_site", d->site.id);
	stripe_form_add_sub(f, "metadata", "portald_invoice", invoice_id);
	stripe_form_add_sub(f, "metadata", "portald_attempt", idem);
	idem_key(key, sizeof(key), d, idem, "refund", salted);
	stripe_request(sc, "POST", "/v1/refunds", f, key, &r);
	stripe_form_free(f);
	if (r.outcome == STRIPE_OK)
		gwstripe_map_refund(r.json, out);
	else if (stripe_outcome_unknown(r.outcome) || r.outcome == STRIPE_RATE_LIMITED) {
		log_warn("site %s: refund %s: %s", d->site.id, idem, r.detail);
		rc = -1;
	} else
		refused(d, "the refund", &r, out);
	stripe_response_free(&r);
	return rc;
}

static int
stripe_refund(struct dctx *d, const char *charge_ref, long long amount, const char *currency,
    const char *idem, struct gw_result *out, struct derr *e)
{
	struct stripe_client *sc = NULL;
	PGresult *att;
	char err[160], invoice[DOM_ID_MAX];
	long long units;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (charge_ref == NULL || strncmp(charge_ref, "pi_", 3) != 0) {
		result(out, GW_DECLINED, "processing_error", NULL,
		    "The charge was not made through Stripe.");
		return 0;
	}
	if (currency_stripe_amount(currency, amount, &units, err, sizeof(err)) != 0) {
		result(out, GW_DECLINED, "processing_error", NULL, err);
		return 0;
	}
	if ((att = attempt_by_idem(d, idem, e)) == NULL)
		return -1;
	snprintf(invoice, sizeof(invoice), "%s", db_val(att, 0, PAY_INVOICE));
	PQclear(att);
	if (gateways_stripe_client(d, &sc, e) != 0) {
		if (e->kind == DERR_UNAVAILABLE)
			return -1;
		log_error("site %s: refund %s: %s", d->site.id, idem, e->message);
		result(out, GW_DECLINED, "processing_error", NULL, e->message);
		return 0;
	}
	if (create_refund(d, sc, charge_ref, units, invoice, idem, false, out) != 0) {
		/* Made or not? Look, then once more under a new key. */
		if (find_refund(d, sc, charge_ref, idem, out) != 0)
			out->outcome = GW_UNKNOWN;
		else if (out->outcome == GW_NOT_FOUND &&
		    create_refund(d, sc, charge_ref, units, invoice, idem, true, out) != 0)
			out->outcome = GW_UNKNOWN;
	}
	if (out->outcome == GW_NOT_FOUND)
		out->outcome = GW_UNKNOWN;
	stripe_client_free(sc);
	return rc;
}

/* Cards only on Stripe's own page (setups.c): no tokenize. */
const struct gateway gateway_stripe = { "stripe", stripe_charge, stripe_retrieve,
	stripe_refund, NULL };
