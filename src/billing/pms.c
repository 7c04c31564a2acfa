/* pms.c: payment methods. */
#include <stdio.h>
#include <string.h>

#include "billing/customers.h"
#include "billing/events.h"
#include "billing/gateway.h"
#include "billing/gateway_test.h"
#include "billing/gateways.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/pms.h"

static int
emit(struct dctx *d, const char *type, const char *id, const char *data, struct derr *e)
{
	struct buf buf;
	int rc;

	if (data != NULL)
		return events_emit(d, type, id, data, e);
	buf_init(&buf);
	rc = obj_render(d, OBJ_PAYMENT_METHOD, id, &buf, e);
	if (rc == 0)
		rc = events_emit(d, type, id, buf.data, e);
	buf_free(&buf);
	return rc;
}

static int
forbidden(const struct pm_policy *pol, struct derr *e)
{
	if (pol == NULL || pol->update_allowed)
		return 0;
	return derr_set(e, DERR_FORBIDDEN, "action_not_allowed", NULL,
	    "Payment methods cannot be changed here.");
}

static int
count_rows(struct dctx *d, enum stmt_id st, const char *id, long long *n, struct derr *e)
{
	PGresult *res = db_exec(d->db, st, (const char *[]){ d->site.id, id });

	if (res == NULL)
		return derr_db(e, d->db);
	*n = st == STMT_PM_LIST || st == STMT_INV_OPEN_FOR_CUSTOMER ? PQntuples(res) :
	    db_ll(res, 0, 0, 0);
	PQclear(res);
	return 0;
}

static int
set_default(struct dctx *d, const char *customer_id, const char *pm_id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PM_CLEAR_DEFAULT, (const char *[]){ d->site.id,
	    customer_id });

	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_PM_SET_DEFAULT, (const char *[]){ d->site.id, pm_id });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	/* The event, always; then the card the customer chose pays what is overdue. */
	if (emit(d, "payment_method.made_default", pm_id, NULL, e) != 0)
		return -1;
	return payments_retry_customer(d, customer_id, e);
}

int
pms_attach(struct dctx *d, const struct pm_attach_req *r, const struct pm_policy *pol,
    char id[DOM_ID_MAX], struct derr *e)
{
	PGresult *tok, *res;
	long long cards, open;
	char now[24];
	bool make_default;
	char gw[16];

	if (forbidden(pol, e) != 0 || customers_exists(d, r->customer_id, e) != 0 ||
	    gateways_site_name(d, gw, e) != 0)
		return -1;
	/* On a hosted gateway no card detail passes through Portald: its own page only. */
	if (strcmp(gw, "test") != 0)
		return derr_set(e, DERR_CONFLICT, "gateway_hosted", "token",
		    "This site's cards are set up on %s's page: create a set-up session "
		    "(POST /api/v1/customers/{id}/payment_methods/setup_session).",
		    gw[0] ? "the gateway" : "a gateway (connect one first)");
	tok = db_exec(d->db, STMT_GWTOKEN_GET, (const char *[]){ d->site.id, r->token });
	if (tok == NULL)
		return derr_db(e, d->db);
	if (PQntuples(tok) == 0) {
		PQclear(tok);
		return derr_set(e, DERR_INVALID, "parameter_invalid", "token",
		    "No such gateway token: '%s'", r->token);
	}
	if (gateway_test_expired((int)db_ll(tok, 0, GWT_EXP_MONTH, 1),
	    (int)db_ll(tok, 0, GWT_EXP_YEAR, 1970), d->now)) {
		PQclear(tok);
		return derr_set(e, DERR_INVALID, "expired_card", "token",
		    "The card has expired; use a card that is still valid.");
	}
	if (count_rows(d, STMT_PM_LIST, r->customer_id, &cards, e) != 0 ||
	    count_rows(d, STMT_INV_OPEN_FOR_CUSTOMER, r->customer_id, &open, e) != 0) {
		PQclear(tok);
		return -1;
	}
	/* The first card becomes the default; later ones when asked, or, unless told not to,
	 * when the customer has unpaid invoices: a card added after a failed charge is the
	 * card the customer means to pay with. */
	make_default = cards == 0 || r->make_default == 1 || (r->make_default < 0 && open > 0);
	if (dom_new_id("pm", id, e) != 0) {
		PQclear(tok);
		return -1;
	}
	res = db_exec(d->db, STMT_PM_INSERT, (const char *[]){ d->site.id, id, r->customer_id,
	    r->token, db_val(tok, 0, GWT_BRAND), db_val(tok, 0, GWT_LAST4),
	    db_val(tok, 0, GWT_EXP_MONTH), db_val(tok, 0, GWT_EXP_YEAR), "false",
	    buf_lltoa(d->now, now) });
	PQclear(tok);
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (emit(d, "payment_method.attached", id, NULL, e) != 0)
		return -1;
	return make_default ? set_default(d, r->customer_id, id, e) : 0;
}

/* The customer's own card, or a 404. */
static int
own(struct dctx *d, const char *customer_id, const char *pm_id, bool *is_default,
    bool *unusable, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PM_GET, (const char *[]){ d->site.id, pm_id });
	bool mine;

	if (res == NULL)
		return derr_db(e, d->db);
	mine = PQntuples(res) == 1 && strcmp(db_val(res, 0, PM_CUSTOMER), customer_id) == 0;
	if (mine && is_default != NULL)
		*is_default = strcmp(db_val(res, 0, PM_DEFAULT), "t") == 0;
	if (mine && unusable != NULL)
		*unusable = strcmp(db_val(res, 0, PM_UNUSABLE), "t") == 0;
	PQclear(res);
	return mine ? 0 : derr_not_found(e, "payment_method", pm_id);
}

int
pms_make_default(struct dctx *d, const char *customer_id, const char *pm_id,
    const struct pm_policy *pol, struct derr *e)
{
	bool unusable = false;

	if (forbidden(pol, e) != 0 || own(d, customer_id, pm_id, NULL, &unusable, e) != 0)
		return -1;
	if (unusable)
		return derr_set(e, DERR_CONFLICT, "payment_method_unusable", NULL,
		    "This card belongs to a gateway the site no longer uses; add a new card.");
	return set_default(d, customer_id, pm_id, e);
}

int
pms_detach(struct dctx *d, const char *customer_id, const char *pm_id,
    const struct pm_policy *pol, struct derr *e)
{
	PGresult *all, *res;
	long long live;
	bool was_default = false;
	struct buf data;
	int rc = 0;

	if (forbidden(pol, e) != 0 || own(d, customer_id, pm_id, &was_default, NULL, e) != 0)
		return -1;
	all = db_exec(d->db, STMT_PM_LIST, (const char *[]){ d->site.id, customer_id });
	if (all == NULL)
		return derr_db(e, d->db);
	if (count_rows(d, STMT_SUB_COUNT_LIVE, customer_id, &live, e) != 0) {
		PQclear(all);
		return -1;
	}
	if (PQntuples(all) == 1 && live > 0) {
		PQclear(all);
		return derr_set(e, DERR_CONFLICT, "last_payment_method", NULL,
		    "This is the customer's only card and %lld subscription(s) still bill it: "
		    "add another card first, or cancel them.", live);
	}
	/* The event carries the card as it was: render it before it goes. */
	buf_init(&data);
	if (obj_render(d, OBJ_PAYMENT_METHOD, pm_id, &data, e) != 0)
		rc = -1;
	if (rc == 0) {
		res = db_exec(d->db, STMT_PM_DELETE, (const char *[]){ d->site.id, pm_id });
		if (res == NULL)
			rc = derr_db(e, d->db);
		PQclear(res);
	}
	if (rc == 0)
		rc = emit(d, "payment_method.detached", pm_id, data.data, e);
	buf_free(&data);
	/* The newest remaining card takes over as the default. */
	for (int i = 0; rc == 0 && was_default && i < PQntuples(all); i++) {
		if (strcmp(db_val(all, i, PM_ID), pm_id) != 0 &&
		    strcmp(db_val(all, i, PM_UNUSABLE), "t") != 0) {
			rc = set_default(d, customer_id, db_val(all, i, PM_ID), e);
			break;
		}
	}
	PQclear(all);
	return rc;
}

int
pms_card_entry(struct dctx *d, const char *customer_id, const struct pm_policy *pol,
    struct pm_entry *out, struct derr *e)
{
	const struct gateway *gw;

	memset(out, 0, sizeof(*out));
	if (forbidden(pol, e) != 0 || customers_exists(d, customer_id, e) != 0 ||
	    gateway_for_site(d, &gw, e) != 0)
		return -1;
	snprintf(out->gateway, sizeof(out->gateway), "%s", gw->name);
	out->kind = gw->tokenize != NULL ? PM_ENTRY_FORM : PM_ENTRY_HOSTED;
	return 0;
}

int
pms_tokenize(struct dctx *d, const char *number, int exp_month, int exp_year,
    char token[DOM_ID_MAX], char brand[16], struct derr *e)
{
	const struct gateway *gw;

	if (gateway_for_site(d, &gw, e) != 0)
		return -1;
	if (gw->tokenize == NULL)
		return derr_set(e, DERR_INVALID, "card_form_not_used", NULL,
		    "Cards are added on the payment provider's own page.");
	return gw->tokenize(d, number, exp_month, exp_year, token, brand, e);
}
