/* gateway_events.c: Stripe's webhook events, verified and applied once each. What an event
 * names is read from Stripe again before anything is recorded (the delivered copy may be
 * older than a later event's), then the event id and its effect are committed together. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing/events.h"
#include "billing/gateway_events.h"
#include "billing/gateway_stripe.h"
#include "billing/gateways.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/setups.h"
#include "core/currency.h"
#include "core/log.h"
#include "stripe/webhook.h"

/* One delivery being applied. */
struct delivery {
	struct dctx		*d;
	struct stripe_client	*sc;
	const char		*id;	/* evt_... */
	const char		*type;
	const cJSON		*obj;	/* data.object */
	char			*what;
};

static int
unavailable(struct derr *e, const char *what)
{
	return derr_set(e, DERR_UNAVAILABLE, "gateway_unavailable", NULL,
	    "Stripe could not be asked about %s; deliver the event again later.", what);
}

/* The object was made by Portald for this site (its metadata says so). */
static const char *
ours(const struct delivery *v, const cJSON *obj, const char *field)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *site = stripe_json_str(md, "portald_site");

	if (site == NULL || strcmp(site, v->d->site.id) != 0)
		return NULL;
	return stripe_json_str(md, field);
}

/* Opens the event's transaction and records its id: 1 to apply, 0 a duplicate (rolled
 * back), -1 error. */
static int
begin_once(struct delivery *v, struct derr *e)
{
	char now[24];
	PGresult *res;
	int first;

	if (db_begin(v->d->db) != 0)
		return derr_db(e, v->d->db);
	res = db_exec(v->d->db, STMT_GWEVENT_INSERT, (const char *[]){ v->d->site.id, "stripe",
	    v->id, v->type, buf_lltoa((long long)time(NULL), now) });
	if (res == NULL) {
		derr_db(e, v->d->db);
		db_rollback(v->d->db);
		return -1;
	}
	first = PQntuples(res);
	PQclear(res);
	if (!first) {
		db_rollback(v->d->db);
		snprintf(v->what, 16, "duplicate");
	}
	return first;
}

static int
commit(struct delivery *v, struct derr *e)
{
	if (db_commit(v->d->db) != 0)
		return derr_db(e, v->d->db);	/* it ended the level: no rollback */
	snprintf(v->what, 16, "applied");
	/* A card made default pays overdue invoices: those charges go out now. */
	return payments_settle(v->d, e) == 0 || v->d->db->status != DB_UNAVAILABLE ? 0 : -1;
}

static int
fail(struct delivery *v, struct derr *e)
{
	db_rollback(v->d->db);
	if (e->kind == DERR_INTERNAL || e->kind == DERR_CONFLICT)
		e->kind = DERR_UNAVAILABLE;	/* Stripe tries again; the log says why */
	return -1;
}

/* The charge attempt a PaymentIntent belongs to (caller clears), or NULL. */
static PGresult *
attempt_of(struct delivery *v, const cJSON *pi, const char *pi_id, struct derr *e)
{
	PGresult *res = db_exec(v->d->db, STMT_PAY_BY_REF, (const char *[]){ v->d->site.id,
	    pi_id, "charge" });
	const char *idem;

	if (res == NULL) {
		derr_db(e, v->d->db);
		return NULL;
	}
	if (PQntuples(res) == 1)
		return res;
	PQclear(res);
	/* Its id not recorded yet (a crash right after it was made): by its metadata. */
	if (pi == NULL || (idem = ours(v, pi, "portald_attempt")) == NULL)
		return NULL;
	res = db_exec(v->d->db, STMT_PAY_BY_IDEM, (const char *[]){ v->d->site.id, idem });
	if (res == NULL) {
		derr_db(e, v->d->db);
		return NULL;
	}
	if (PQntuples(res) == 1 && strcmp(db_val(res, 0, PAY_KIND), "charge") == 0)
		return res;
	PQclear(res);
	return NULL;
}

static int
on_intent(struct delivery *v, struct derr *e)
{
	const char *pi_id = stripe_json_str(v->obj, "id");
	struct stripe_response r;
	struct gw_result g;
	PGresult *att;
	char path[160], att_id[DOM_ID_MAX];
	bool on_session;
	int n;

	if (pi_id == NULL || strlen(pi_id) > 100)
		return 0;
	e->kind = DERR_NONE;
	if ((att = attempt_of(v, v->obj, pi_id, e)) == NULL)
		return e->kind == DERR_NONE ? 0 : -1;
	snprintf(att_id, sizeof(att_id), "%s", db_val(att, 0, PAY_ID));
	on_session = db_val(att, 0, PAY_RETURN_URL) != NULL;
	PQclear(att);
	snprintf(path, sizeof(path), "/v1/payment_intents/%s", pi_id);
	stripe_request(v->sc, "GET", path, NULL, NULL, &r);
	if (r.outcome != STRIPE_OK) {
		stripe_response_free(&r);
		return unavailable(e, pi_id);
	}
	gwstripe_map_intent(r.json, on_session, &g);
	stripe_response_free(&r);
	if ((n = begin_once(v, e)) <= 0)
		return n;
	att = db_exec(v->d->db, STMT_PAY_LOCK, (const char *[]){ v->d->site.id, att_id });
	if (att == NULL) {
		derr_db(e, v->d->db);
		return fail(v, e);
	}
	if (strcmp(db_val(att, 0, PAY_OUTCOME), "pending") == 0) {
		if (g.outcome == GW_SUCCEEDED || g.outcome == GW_DECLINED ||
		    (g.outcome == GW_REQUIRES_ACTION && g.action_url[0] == '\0')) {
			if (payments_record(v->d, att_id, &g, e) != 0) {
				PQclear(att);
				return fail(v, e);
			}
		}
	} else if (g.outcome == GW_SUCCEEDED &&
	    strcmp(db_val(att, 0, PAY_OUTCOME), "succeeded") != 0) {
		/* Cannot happen through Portald (one PaymentIntent per attempt, an abandoned one
		 * canceled); someone confirmed it in Stripe. The money is real: say so. */
		log_error("site %s: PaymentIntent %s succeeded, but its attempt %s was recorded "
		    "as %s: reconcile invoice %s by hand (refund it in Stripe, or record it)",
		    v->d->site.id, pi_id, att_id, db_val(att, 0, PAY_OUTCOME),
		    db_val(att, 0, PAY_INVOICE));
	}
	PQclear(att);
	return commit(v, e);
}

/* Stores the card of a finished set-up (found by its id), then commits. */
static int
store_card(struct delivery *v, const char *setup_id, const cJSON *pm, struct derr *e)
{
	int n;

	if ((n = begin_once(v, e)) <= 0)
		return n;
	if (setups_store_stripe_card(v->d, setup_id, pm, e) != 0) {
		if (e->kind == DERR_UNAVAILABLE || v->d->db->status != DB_OK)
			return fail(v, e);
		/* Not ours to keep (no such set-up, another customer's card): recorded, so
		 * the same event is not looked at again. */
		log_warn("site %s: Stripe event %s: %s", v->d->site.id, v->id, e->message);
	}
	return commit(v, e);
}

static int
on_setup_intent(struct delivery *v, struct derr *e)
{
	const char *setup_id = ours(v, v->obj, "portald_setup"), *status;
	const cJSON *pmv = cJSON_GetObjectItemCaseSensitive(v->obj, "payment_method");
	const char *pm_id = cJSON_IsString(pmv) ? pmv->valuestring : stripe_json_str(pmv, "id");
	struct stripe_response r;
	char path[160];
	int rc;

	status = stripe_json_str(v->obj, "status");
	if (setup_id == NULL || pm_id == NULL || status == NULL ||
	    strcmp(status, "succeeded") != 0 || strlen(pm_id) > 100)
		return 0;
	snprintf(path, sizeof(path), "/v1/payment_methods/%s", pm_id);
	stripe_request(v->sc, "GET", path, NULL, NULL, &r);
	if (r.outcome != STRIPE_OK) {
		stripe_response_free(&r);
		return unavailable(e, pm_id);
	}
	rc = store_card(v, setup_id, r.json, e);
	stripe_response_free(&r);
	return rc;
}

static int
on_checkout(struct delivery *v, const char *setup_ref, struct derr *e)
{
	const char *cs = stripe_json_str(v->obj, "id"), *mode = stripe_json_str(v->obj, "mode");
	struct stripe_form *f;
	struct stripe_response r;
	const cJSON *seti, *pm;
	const char *status;
	char path[256], setup_id[DOM_ID_MAX];
	int rc = 0;

	if (cs == NULL || mode == NULL || strcmp(mode, "setup") != 0 || strlen(cs) > 200)
		return 0;
	if (setup_ref != NULL)
		snprintf(setup_id, sizeof(setup_id), "%s", setup_ref);
	else {
		PGresult *row = db_exec(v->d->db, STMT_SETUP_BY_SESSION, (const char *[]){
		    v->d->site.id, cs });

		if (row == NULL)
			return derr_db(e, v->d->db);
		if (PQntuples(row) != 1) {
			PQclear(row);
			return 0;
		}
		snprintf(setup_id, sizeof(setup_id), "%s", db_val(row, 0, SETUP_ID));
		PQclear(row);
	}
	f = stripe_form_new();
	stripe_form_push(f, "expand", "setup_intent.payment_method");
	snprintf(path, sizeof(path), "/v1/checkout/sessions/%s", cs);
	stripe_request(v->sc, "GET", path, f, NULL, &r);
	stripe_form_free(f);
	if (r.outcome != STRIPE_OK) {
		stripe_response_free(&r);
		return unavailable(e, cs);
	}
	status = stripe_json_str(r.json, "status");
	seti = cJSON_GetObjectItemCaseSensitive(r.json, "setup_intent");
	pm = cJSON_GetObjectItemCaseSensitive(seti, "payment_method");
	if (status != NULL && strcmp(status, "complete") == 0 && cJSON_IsObject(pm) &&
	    stripe_json_str(seti, "status") != NULL &&
	    strcmp(stripe_json_str(seti, "status"), "succeeded") == 0)
		rc = store_card(v, setup_id, pm, e);
	stripe_response_free(&r);
	return rc;
}

/* Refunds of a charge: Portald's own get their answer; any other (made in Stripe's
 * dashboard) becomes a refund on the invoice, once, keyed by Stripe's refund id. */
static int
on_refund(struct delivery *v, struct derr *e)
{
	const char *pi_id = stripe_json_str(v->obj, "payment_intent");
	struct stripe_form *f;
	struct stripe_response r;
	const cJSON *item;
	PGresult *att, *res;
	char inv[DOM_ID_MAX], currency[4];
	int n, rc = 0;

	if (pi_id == NULL || strlen(pi_id) > 100)
		return 0;
	e->kind = DERR_NONE;
	if ((att = attempt_of(v, NULL, pi_id, e)) == NULL)
		return e->kind == DERR_NONE ? 0 : -1;
	snprintf(inv, sizeof(inv), "%s", db_val(att, 0, PAY_INVOICE));
	snprintf(currency, sizeof(currency), "%s", db_val(att, 0, PAY_CURRENCY) ?
	    db_val(att, 0, PAY_CURRENCY) : "");
	PQclear(att);
	f = stripe_form_new();
	stripe_form_add(f, "payment_intent", pi_id);
	stripe_form_add_int(f, "limit", 100);
	stripe_request(v->sc, "GET", "/v1/refunds", f, NULL, &r);
	stripe_form_free(f);
	if (r.outcome != STRIPE_OK) {
		stripe_response_free(&r);
		return unavailable(e, pi_id);
	}
	if ((n = begin_once(v, e)) <= 0) {
		stripe_response_free(&r);
		return n;
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r.json, "data")) {
		const char *re_id = stripe_json_str(item, "id"), *idem;
		const char *status = stripe_json_str(item, "status");
		const cJSON *amt = cJSON_GetObjectItemCaseSensitive(item, "amount");
		char key[160], id[DOM_ID_MAX], err[160], a[2][24];
		long long minor;
		struct gw_result g;

		if (re_id == NULL || status == NULL || strlen(re_id) > 100 ||
		    (strcmp(status, "succeeded") != 0 && strcmp(status, "pending") != 0))
			continue;
		if ((idem = ours(v, item, "portald_attempt")) != NULL) {
			/* Portald's own refund: its answer, if the call's was lost. */
			res = db_exec(v->d->db, STMT_PAY_BY_IDEM, (const char *[]){ v->d->site.id,
			    idem });
			if (res == NULL) {
				rc = derr_db(e, v->d->db);
				break;
			}
			if (PQntuples(res) == 1 &&
			    strcmp(db_val(res, 0, PAY_OUTCOME), "pending") == 0) {
				gwstripe_map_refund(item, &g);
				rc = payments_record(v->d, db_val(res, 0, PAY_ID), &g, e);
			}
			PQclear(res);
			if (rc != 0)
				break;
			continue;
		}
		if (!cJSON_IsNumber(amt) || amt->valuedouble < 1 || amt->valuedouble > 1e12 ||
		    currency_stripe_to_minor(currency, (long long)amt->valuedouble, &minor, err,
		    sizeof(err)) != 0) {
			log_error("site %s: refund %s of invoice %s: amount not understood",
			    v->d->site.id, re_id, inv);
			continue;
		}
		snprintf(key, sizeof(key), "stripe:%s", re_id);
		if (dom_new_id("pay", id, e) != 0) {
			rc = -1;
			break;
		}
		res = db_exec(v->d->db, STMT_PAY_INSERT_ONCE, (const char *[]){ v->d->site.id, id,
		    inv, buf_lltoa(minor, a[0]), "succeeded", key, buf_lltoa(v->d->now, a[1]),
		    "refund", re_id, "stripe", currency });
		if (res == NULL) {
			rc = derr_db(e, v->d->db);
			break;
		}
		n = PQntuples(res);
		PQclear(res);
		if (n == 0)
			continue;	/* recorded by an earlier event */
		res = db_exec(v->d->db, STMT_INV_ADD_REFUND, (const char *[]){ v->d->site.id, inv,
		    a[0] });
		if (res == NULL) {
			rc = derr_db(e, v->d->db);
			break;
		}
		n = PQntuples(res);
		PQclear(res);
		if (n == 0) {
			/* The payment it refunds is not recorded yet: later, in order. */
			rc = derr_set(e, DERR_UNAVAILABLE, "not_yet", NULL,
			    "Refund %s is for a payment not recorded yet; deliver it again later.",
			    re_id);
			break;
		}
		log_info("site %s: refund %s made in Stripe recorded on invoice %s", v->d->site.id,
		    re_id, inv);
		{
			struct buf data;

			buf_init(&data);
			rc = obj_render(v->d, OBJ_INVOICE, inv, &data, e);
			if (rc == 0)
				rc = events_emit(v->d, "invoice.refunded", inv, data.data, e);
			buf_free(&data);
		}
		if (rc != 0)
			break;
	}
	stripe_response_free(&r);
	if (rc != 0)
		return fail(v, e);
	return commit(v, e);
}

static int
on_dispute(struct delivery *v, struct derr *e)
{
	const char *pi_id = stripe_json_str(v->obj, "payment_intent");
	const char *dp = stripe_json_str(v->obj, "id"), *reason = stripe_json_str(v->obj,
	    "reason");
	PGresult *att, *res;
	char inv[DOM_ID_MAX], a[24];
	int n, rc = 0;

	if (pi_id == NULL || dp == NULL || strlen(pi_id) > 100 || strlen(dp) > 100)
		return 0;
	e->kind = DERR_NONE;
	if ((att = attempt_of(v, NULL, pi_id, e)) == NULL)
		return e->kind == DERR_NONE ? 0 : -1;
	snprintf(inv, sizeof(inv), "%s", db_val(att, 0, PAY_INVOICE));
	PQclear(att);
	if ((n = begin_once(v, e)) <= 0)
		return n;
	res = db_exec(v->d->db, STMT_INV_DISPUTE, (const char *[]){ v->d->site.id, inv,
	    buf_lltoa(v->d->now, a), dp, reason && strlen(reason) < 64 ? reason : NULL });
	if (res == NULL) {
		derr_db(e, v->d->db);
		return fail(v, e);
	}
	n = PQntuples(res);
	PQclear(res);
	if (n == 1) {
		struct buf data;

		log_warn("site %s: invoice %s disputed (%s)", v->d->site.id, inv, dp);
		buf_init(&data);
		rc = obj_render(v->d, OBJ_INVOICE, inv, &data, e);
		if (rc == 0)
			rc = events_emit(v->d, "invoice.disputed", inv, data.data, e);
		buf_free(&data);
	}
	if (rc != 0)
		return fail(v, e);
	return commit(v, e);
}

static int
apply(struct delivery *v, struct derr *e)
{
	if (strcmp(v->type, "payment_intent.succeeded") == 0 ||
	    strcmp(v->type, "payment_intent.payment_failed") == 0)
		return on_intent(v, e);
	if (strcmp(v->type, "setup_intent.succeeded") == 0)
		return on_setup_intent(v, e);
	if (strcmp(v->type, "checkout.session.completed") == 0)
		return on_checkout(v, ours(v, v->obj, "portald_setup"), e);
	if (strcmp(v->type, "charge.refunded") == 0)
		return on_refund(v, e);
	if (strcmp(v->type, "charge.dispute.created") == 0)
		return on_dispute(v, e);
	return 0;	/* a type Portald does not use: received, ignored */
}

int
gwevents_stripe(struct dctx *d, const char *sig, const char *body, size_t len,
    char what[16], struct derr *e)
{
	struct delivery v = { .d = d, .what = what };
	struct buf secret;
	cJSON *ev = NULL;
	const cJSON *data, *live;
	char err[160];
	int rc;

	snprintf(what, 16, "ignored");
	buf_init(&secret);
	if (gateways_stripe_webhook_secret(d, &secret, e) != 0) {
		gateways_wipe(&secret);
		return -1;
	}
	rc = sig == NULL ? -1 : stripe_webhook_verify(sig, body, len, secret.data,
	    (long long)time(NULL), STRIPE_WEBHOOK_TOLERANCE, err, sizeof(err));
	gateways_wipe(&secret);
	if (rc != 0) {
		log_warn("site %s: Stripe webhook refused: %s", d->site.id,
		    sig == NULL ? "no Stripe-Signature header" : err);
		return derr_set(e, DERR_INVALID, "signature_invalid", NULL,
		    "The Stripe-Signature header does not verify: %s.",
		    sig == NULL ? "it is missing" : err);
	}
	ev = cJSON_ParseWithLength(body, len);
	data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	v.id = stripe_json_str(ev, "id");
	v.type = stripe_json_str(ev, "type");
	v.obj = cJSON_GetObjectItemCaseSensitive(data, "object");
	if (v.id == NULL || v.type == NULL || !cJSON_IsObject(v.obj) || strlen(v.id) > 100 ||
	    strlen(v.type) > 100) {
		cJSON_Delete(ev);
		return derr_set(e, DERR_INVALID, "event_invalid", NULL,
		    "The body is not a Stripe event.");
	}
	/* A test-mode event at a live site's endpoint (or the reverse) is someone's mistake. */
	live = cJSON_GetObjectItemCaseSensitive(ev, "livemode");
	if (cJSON_IsTrue(live) != (strcmp(d->site.mode, "live") == 0)) {
		log_warn("site %s: Stripe event %s is from %s mode; ignored", d->site.id, v.id,
		    cJSON_IsTrue(live) ? "live" : "test");
		cJSON_Delete(ev);
		return 0;
	}
	if (gateways_stripe_client(d, &v.sc, e) != 0) {
		cJSON_Delete(ev);
		return -1;
	}
	rc = apply(&v, e);
	if (rc != 0)
		log_warn("site %s: Stripe event %s (%s) not applied: %s", d->site.id, v.id, v.type,
		    e->message);
	else
		log_info("site %s: Stripe event %s (%s): %s", d->site.id, v.id, v.type, what);
	stripe_client_free(v.sc);
	cJSON_Delete(ev);
	return rc < 0 ? -1 : 0;
}
