/* page_pms.c: /portal/{site}/payment_methods/...: the customer's cards; adding one the way
 * the site's gateway takes cards (the test gateway: the portal's own card form, whose number
 * goes to the gateway's tokenizer and is never stored, logged or shown back; a hosted
 * gateway: its own page), making one the default, removing one after a confirmation. A
 * card that becomes the default pays what is owed at once: the page says so, with the
 * amount, before, and shows the gateway's answer after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/pms.h"
#include "billing/setups.h"
#include "core/json.h"
#include "portal/form.h"
#include "portal/portal.h"
#include "portal/view.h"

/* What a new default card would pay at once, in words ("$20.00" or "$20.00 and €5.00"),
 * or NULL when nothing is owed. */
static const char *
owed(struct page *p)
{
	PGresult *res = db_exec(p->c->db, STMT_INV_OPEN_SERVING, (const char *[]){
	    p->set.site_id, p->customer_id });
	char text[256] = "";

	if (res == NULL)
		return NULL;
	for (int i = 0; i < PQntuples(res); i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
		    i == 0 ? "" : " and ", view_money(p, db_ll(res, i, 1, 0), db_val(res, i, 0)));
	PQclear(res);
	return text[0] ? arena_strndup(&p->c->req->arena, text, strlen(text)) : NULL;
}

static void
add_notice(struct page *p, cJSON *d)
{
	const struct http_kvs *q = &p->c->req->args;
	const char *added = http_kvs_get(q, "added"), *dflt = http_kvs_get(q, "default");

	if (added != NULL)
		cJSON_AddStringToObject(d, "notice", "Your card has been saved.");
	else if (dflt != NULL)
		cJSON_AddStringToObject(d, "notice", "Your default card has been changed.");
	else if (http_kvs_get(q, "removed") != NULL)
		cJSON_AddStringToObject(d, "notice", "The card has been removed.");
	else if (http_kvs_get(q, "setup_cancelled") != NULL)
		cJSON_AddStringToObject(d, "notice", "You did not add a card: nothing was "
		    "changed.");
	if (http_kvs_get(q, "paid") != NULL)
		view_attempts(p, http_kvs_get(q, "paid"), d);
	if (added != NULL || dflt != NULL)
		view_flow_done(p, d);
}

void
page_pms_list(struct page *p)
{
	PGresult *res = db_exec(p->c->db, STMT_PM_LIST, (const char *[]){ p->set.site_id,
	    p->customer_id });
	const char *due;
	cJSON *d, *cards;

	if (res == NULL) {
		page_unavailable(p);
		return;
	}
	due = p->set.payment_methods ? owed(p) : NULL;
	d = cJSON_CreateObject();
	add_notice(p, d);
	cards = cJSON_AddArrayToObject(d, "cards");
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *c = cJSON_CreateObject();
		char tail[160];

		view_card(p, res, i, 0, c);
		if (p->set.payment_methods) {
			snprintf(tail, sizeof(tail), "/payment_methods/%s/default",
			    db_val(res, i, PM_ID));
			/* A new default pays what is owed: then the button leads to a review. */
			cJSON_AddStringToObject(c, due ? "default_review" : "default_action",
			    page_url(p, tail));
			snprintf(tail, sizeof(tail), "/payment_methods/%s/remove", db_val(res, i, PM_ID));
			cJSON_AddStringToObject(c, "remove_url", page_url(p, tail));
		}
		cJSON_AddItemToArray(cards, c);
	}
	cJSON_AddBoolToObject(d, "has_cards", PQntuples(res) > 0);
	if (p->set.payment_methods)
		cJSON_AddStringToObject(d, "add_url", page_url(p, "/payment_methods/new"));
	else
		cJSON_AddBoolToObject(d, "locked", true);
	if (due != NULL)
		cJSON_AddStringToObject(d, "owed", due);
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "payment_methods";
	page_render(p, 200, "Payment methods", "payment_methods", d, false);
	PQclear(res);
}

/* ---- adding a card ---- */

/* Digits only, spaces and dashes dropped: "4242 4242 4242 4242" as people type it. */
static void
digits(const char *v, char *out, size_t n)
{
	size_t k = 0;

	for (; *v != '\0' && k + 1 < n; v++)
		if (*v >= '0' && *v <= '9')
			out[k++] = *v;
		else if (*v != ' ' && *v != '-') {
			k = 0;
			break;
		}
	out[k] = '\0';
}

static const char *
check_number(const char *v)
{
	char d[32];

	digits(v, d, sizeof(d));
	if (d[0] == '\0' || strlen(d) < 12 || strlen(d) > 19)
		return "Enter a card number of 12 to 19 digits, like 4242 4242 4242 4242";
	if (!check_luhn(d, strlen(d)))
		return "Enter a valid card number: check it for a typing mistake";
	return NULL;
}

/* "MM/YY", "MM / YY", "MM/YYYY" or "MMYY": month and four-digit year, or -1. */
static int
parse_expiry(const char *v, int *month, int *year)
{
	char d[8];
	size_t k = 0;

	for (; *v != '\0'; v++) {
		if (*v >= '0' && *v <= '9') {
			if (k + 1 >= sizeof(d))
				return -1;
			d[k++] = *v;
		} else if (*v != '/' && *v != ' ' && *v != '-')
			return -1;
	}
	d[k] = '\0';
	if (k != 4 && k != 6)
		return -1;
	*month = (d[0] - '0') * 10 + (d[1] - '0');
	*year = atoi(d + 2);
	if (k == 4)
		*year += 2000;
	return *month >= 1 && *month <= 12 ? 0 : -1;
}

static const char *
check_expiry(const char *v)
{
	int m, y;

	return parse_expiry(v, &m, &y) == 0 ? NULL :
	    "Enter the expiry date as it is on the card, like 04/29";
}

static const char *
check_cvc(const char *v)
{
	size_t n = strlen(v);

	for (const char *c = v; *c != '\0'; c++)
		if (*c < '0' || *c > '9')
			return "Enter the security code: 3 or 4 digits";
	return n == 3 || n == 4 ? NULL : "Enter the security code: 3 or 4 digits";
}

static const struct form_field card_fields[] = {
	{ .name = "number", .label = "Card number", .kind = FORM_NUMERIC, .required = true,
	  .max_len = 32, .autocomplete = "cc-number", .width = "w-20", .secret = true,
	  .check = check_number, .missing = "Enter your card number" },
	{ .name = "expiry", .label = "Expiry date", .kind = FORM_NUMERIC, .required = true,
	  .max_len = 9, .autocomplete = "cc-exp", .width = "w-10", .hint = "For example, 04/29",
	  .check = check_expiry, .missing = "Enter the expiry date of your card" },
	{ .name = "cvc", .label = "Security code", .kind = FORM_NUMERIC, .required = true,
	  .max_len = 4, .autocomplete = "cc-csc", .width = "w-10", .secret = true,
	  .hint = "The last 3 digits on the back of the card, or 4 on the front for American "
	  "Express", .check = check_cvc, .missing = "Enter the security code of your card" },
	{ .name = "make_default", .label = "Use this card for my payments from now on",
	  .kind = FORM_CHECKBOX, .max_len = 3 },
	{ .name = NULL }
};

static void
render_card_form(struct page *p, struct form *f, int status, const char *due)
{
	cJSON *d = cJSON_CreateObject();
	char err[128];

	if (form_view(f, d, err, sizeof(err)) != 0) {
		cJSON_Delete(d);
		page_message(p, 500, "Something went wrong", "Please try again.", NULL, NULL);
		return;
	}
	if (due != NULL)
		cJSON_AddStringToObject(d, "owed", due);
	cJSON_AddBoolToObject(d, "test_mode", p->set.test_mode);
	cJSON_AddStringToObject(d, "action", page_url(p, "/payment_methods/new"));
	cJSON_AddStringToObject(d, "cancel", page_url(p, "/payment_methods"));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "payment_methods";
	page_render(p, status, "Add a card", "card_new", d, f->n_errors > 0);
}

/* The first card, and a card saved while something is owed, become the default anyway
 * (pms_attach): then there is nothing to ask. */
static void
card_form(struct page *p, struct form *f, const char *due)
{
	PGresult *res = db_exec(p->c->db, STMT_PM_DEFAULT, (const char *[]){ p->set.site_id,
	    p->customer_id });

	form_init(f, card_fields);
	if (due != NULL || res == NULL || PQntuples(res) == 0)
		form_hide(f, "make_default");
	PQclear(res);
}

/* ---- a card set up on the gateway's page (Stripe Checkout) ---- */

/* The page before the gateway's: what happens, and the one choice it leaves (whether the
 * new card becomes the default, asked only where pms_attach's rule does not decide). */
static void
render_hosted(struct page *p, const char *due)
{
	PGresult *res = db_exec(p->c->db, STMT_PM_DEFAULT, (const char *[]){ p->set.site_id,
	    p->customer_id });
	cJSON *d = cJSON_CreateObject();

	cJSON_AddBoolToObject(d, "ask_default", due == NULL && res != NULL &&
	    PQntuples(res) == 1);
	PQclear(res);
	if (due != NULL)
		cJSON_AddStringToObject(d, "owed", due);
	cJSON_AddBoolToObject(d, "test_mode", p->set.test_mode);
	cJSON_AddStringToObject(d, "action", page_url(p, "/payment_methods/new"));
	cJSON_AddStringToObject(d, "cancel", page_url(p, "/payment_methods"));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "payment_methods";
	p->form_leaves = true;	/* its POST is redirected to the gateway's page */
	page_render(p, 200, "Add a card", "card_hosted", d, false);
}

/* After the commit and the gateway's answer: on to its page, once it has one (else the
 * set-up's own page says what happened, with a way to try again). */
static void
hosted_away(struct page *p)
{
	char url[2100];
	struct derr e;

	if (setups_url(&p->d, p->ref, url, sizeof(url), &e) == 0)
		page_redirect_away(p, url);
}

/* Phase one of the set-up, in the page's transaction; the dispatcher commits, asks the
 * gateway for its page (payments_settle) and runs hosted_away. A repeated POST goes to the
 * set-up's page (PAGE_ONCE keeps p->location), never to a second set-up. */
static void
hosted_begin(struct page *p)
{
	const char *box = http_kvs_get(&p->c->req->form, "make_default");
	struct setup_req r;
	struct derr e;
	char id[DOM_ID_MAX], tail[DOM_ID_MAX + 64];

	memset(&r, 0, sizeof(r));
	r.customer_id = p->customer_id;
	r.success_url = page_abs_url(p, "/payment_methods/setups/{SETUP_ID}?"
	    "session_id={CHECKOUT_SESSION_ID}");
	r.cancel_url = page_abs_url(p, "/payment_methods?setup_cancelled=1");
	r.make_default = box != NULL && strcmp(box, "yes") == 0 ? 1 : -1;
	if (setups_begin(&p->d, &r, id, &e) != 0) {
		if (e.kind == DERR_FORBIDDEN)
			page_message(p, 403, "Cards cannot be changed here", "Nothing was changed. "
			    "To change your card, contact us.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	snprintf(tail, sizeof(tail), "/payment_methods/setups/%s", id);
	page_redirect(p, tail);
	snprintf(p->ref, sizeof(p->ref), "%s", id);
	p->after_settle = hosted_away;
}

/* The customer's own set-up named in the URL; another's is a 404. */
static PGresult *
own_setup(struct page *p)
{
	return view_own_row(p, STMT_SETUP_GET, SETUP_CUSTOMER, "/payment_methods",
	    "Back to payment methods");
}

/* Where a set-up stands; reads only (GET and HEAD change nothing): the card once it is
 * stored (by the customer's return and "check now", or by the gateway's webhook), and
 * until then a button that asks the gateway. No automatic reload: a delayed meta refresh
 * fails WCAG 2.2.1 (axe's meta-refresh), which every portal page must pass. */
void
page_setup_show(struct page *p)
{
	PGresult *res = own_setup(p), *pm = NULL;
	const struct http_kvs *q = &p->c->req->args;
	const char *status, *title;
	bool back;
	cJSON *d;
	char tail[DOM_ID_MAX + 64], url[2100];
	struct derr e;

	if (res == NULL)
		return;
	status = db_val(res, 0, SETUP_STATUS);
	back = http_kvs_get(q, "session_id") != NULL || http_kvs_get(q, "returned") != NULL;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "status", status);
	snprintf(tail, sizeof(tail), "/payment_methods/setups/%s/check",
	    db_val(res, 0, SETUP_ID));
	if (strcmp(status, "complete") == 0) {
		title = "Your card has been saved";
		cJSON_AddBoolToObject(d, "complete", true);
		if (db_val(res, 0, SETUP_PM) != NULL)
			pm = db_exec(p->c->db, STMT_PM_GET, (const char *[]){ p->set.site_id,
			    db_val(res, 0, SETUP_PM) });
		if (pm != NULL && PQntuples(pm) == 1) {
			cJSON *card = cJSON_AddObjectToObject(d, "card");

			view_card(p, pm, 0, 0, card);
			/* Asked for (1), or left to the rule (-1): say what it became. */
			cJSON_AddBoolToObject(d, "asked_default", db_ll(res, 0, SETUP_DEFAULT,
			    -1) == 1);
		}
		view_flow_done(p, d);
	} else if (strcmp(status, "expired") == 0 || strcmp(status, "failed") == 0) {
		title = "No card was saved";
		cJSON_AddBoolToObject(d, strcmp(status, "expired") == 0 ? "expired" : "failed",
		    true);
		if (p->set.payment_methods)
			cJSON_AddStringToObject(d, "again_url", page_url(p, "/payment_methods/new"));
	} else {
		title = back ? "Checking your card" : "Add your card on the secure page";
		cJSON_AddBoolToObject(d, "waiting", true);
		cJSON_AddBoolToObject(d, "returned", back);
		/* The page the customer may still use (read, never made, here). */
		if (!back && strcmp(status, "open") == 0 &&
		    setups_url(&p->d, db_val(res, 0, SETUP_ID), url, sizeof(url), &e) == 0 &&
		    page_gateway_url_ok(p, url))
			cJSON_AddStringToObject(d, "gateway_url", url);
		cJSON_AddStringToObject(d, "check", page_url(p, tail));
		cJSON_AddStringToObject(d, "csrf", p->csrf);
	}
	cJSON_AddStringToObject(d, "cards_url", page_url(p, "/payment_methods"));
	p->nav = "payment_methods";
	page_render(p, 200, title, "card_setup", d, false);
	PQclear(pm);
	PQclear(res);
}

/* "Check now": asks the gateway (outside any transaction) and stores the card if the
 * customer finished; the charges a new default card starts are settled with it. Only a
 * set-up id of this customer is taken: setups_sync also resolves the gateway's session id
 * ("cs_..."), which is no page of the portal's, so anything else is a 404 before any
 * gateway call. */
void
page_setup_check(struct page *p)
{
	PGresult *res = own_setup(p);
	char id[DOM_ID_MAX], tail[DOM_ID_MAX + 64], got[DOM_ID_MAX];
	struct derr e;

	if (res == NULL)
		return;
	snprintf(id, sizeof(id), "%s", db_val(res, 0, SETUP_ID));
	PQclear(res);
	if (setups_sync(&p->d, p->customer_id, id, got, &e) != 0 && e.kind != DERR_NONE &&
	    e.kind != DERR_UNAVAILABLE) {
		if (e.kind == DERR_NOT_FOUND)
			page_message(p, 404, "Page not found", "There is nothing here, or it "
			    "belongs to another account.", page_url(p, "/payment_methods"),
			    "Back to payment methods");
		else
			page_derr(p, &e);
		return;
	}
	snprintf(tail, sizeof(tail), "/payment_methods/setups/%s?returned=1", id);
	page_redirect(p, tail);
}

void
page_pm_new(struct page *p)
{
	struct pm_entry entry;
	struct derr e;
	struct form f;
	const char *due;

	if (pms_card_entry(&p->d, p->customer_id, &p->pol.pm, &entry, &e) != 0) {
		if (e.kind == DERR_FORBIDDEN)
			page_message(p, 403, "Cards cannot be changed here", "To change your card, "
			    "contact us.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	due = owed(p);
	/* A hosted gateway takes the card on its own page: this page's form starts it. */
	if (entry.kind == PM_ENTRY_HOSTED) {
		render_hosted(p, due);
		return;
	}
	card_form(p, &f, due);
	render_card_form(p, &f, 200, due);
}

/* Adds the card (the number goes to the gateway's tokenizer only); the attempts the new
 * default card queued are settled by the dispatcher after the commit, and the list shows
 * their outcome. */
void
page_pm_add(struct page *p)
{
	struct form f;
	struct derr e;
	char number[32], token[DOM_ID_MAX], brand[16], id[DOM_ID_MAX], url[600];
	int month = 0, year = 0, rc;
	const char *due = owed(p);
	struct pm_attach_req r;
	struct pm_entry entry;

	/* The domain says first whether cards may be changed, and how: nothing is sent to
	 * the gateway's tokenizer when they may not, or when it takes cards elsewhere. */
	rc = pms_card_entry(&p->d, p->customer_id, &p->pol.pm, &entry, &e);
	if (rc == 0 && entry.kind == PM_ENTRY_HOSTED) {
		hosted_begin(p);	/* the gateway takes the card on its own page */
		return;
	}
	if (rc != 0 || entry.kind != PM_ENTRY_FORM) {
		if (rc == 0 || e.kind == DERR_FORBIDDEN)
			page_message(p, 403, "Cards cannot be changed here", "Nothing was changed. "
			    "To change your card, contact us.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	card_form(p, &f, due);
	if (form_read(&f, &p->c->req->form, &p->c->req->arena) == 0 &&
	    parse_expiry(form_get(&f, "expiry"), &month, &year) == 0) {
		struct tm tm;
		time_t t = (time_t)p->c->now;

		gmtime_r(&t, &tm);
		if (year * 12 + month < (tm.tm_year + 1900) * 12 + tm.tm_mon + 1)
			form_error(&f, "expiry", "The card has expired: enter a card that is still "
			    "valid");
	}
	if (f.n_errors > 0) {
		render_card_form(p, &f, 422, due);
		return;
	}
	digits(form_get(&f, "number"), number, sizeof(number));
	if (pms_tokenize(&p->d, number, month, year, token, brand, &e) != 0) {
		if (e.kind == DERR_INVALID && strcmp(e.param, "number") == 0) {
			form_error(&f, "number", p->set.test_mode ? "This is not one of the test "
			    "cards: use 4242 4242 4242 4242" : "This card number was not accepted");
			render_card_form(p, &f, 422, due);
		} else
			page_derr(p, &e);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.customer_id = p->customer_id;
	r.token = token;
	r.make_default = strcmp(form_get(&f, "make_default"), "yes") == 0 ? 1 : -1;
	if (pms_attach(&p->d, &r, &p->pol.pm, id, &e) != 0) {
		if (e.kind == DERR_INVALID && strcmp(e.code, "expired_card") == 0) {
			form_error(&f, "expiry", "The card has expired: enter a card that is still "
			    "valid");
			render_card_form(p, &f, 422, due);
		} else if (e.kind == DERR_FORBIDDEN)
			page_message(p, 403, "Cards cannot be changed here", "Nothing was changed. "
			    "To change your card, contact us.", page_url(p, ""), "Go to your account");
		else
			page_derr(p, &e);
		return;
	}
	snprintf(url, sizeof(url), "/payment_methods?added=%s%s%s", id,
	    p->d.npending > 0 ? "&paid=" : "", view_pending(p));
	page_redirect(p, url);
}

/* ---- default and remove ---- */

static PGresult *
own_card(struct page *p)
{
	return view_own_row(p, STMT_PM_GET, PM_CUSTOMER, "/payment_methods",
	    "Back to payment methods");
}

static void
refused(struct page *p, const struct derr *e)
{
	if (e->kind == DERR_FORBIDDEN)
		page_message(p, 403, "Cards cannot be changed here", "Nothing was changed. To "
		    "change your card, contact us.", page_url(p, ""), "Go to your account");
	else if (e->kind == DERR_CONFLICT)
		page_message(p, 409, "This card cannot be removed", "It is your only card and a "
		    "subscription still bills it. Add another card first, or cancel the "
		    "subscription.", page_url(p, "/payment_methods/new"), "Add another card");
	else
		page_derr(p, e);
}

/* The review before a default change that pays what is owed. */
void
page_pm_default_review(struct page *p)
{
	PGresult *res = own_card(p);
	cJSON *d, *card;
	char tail[160];

	if (res == NULL)
		return;
	d = cJSON_CreateObject();
	card = cJSON_AddObjectToObject(d, "card");
	view_card(p, res, 0, 0, card);
	if (owed(p) != NULL)
		cJSON_AddStringToObject(d, "owed", owed(p));
	snprintf(tail, sizeof(tail), "/payment_methods/%s/default", db_val(res, 0, PM_ID));
	cJSON_AddStringToObject(d, "action", page_url(p, tail));
	cJSON_AddStringToObject(d, "cancel", page_url(p, "/payment_methods"));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "payment_methods";
	page_render(p, 200, "Make this your default card", "card_default", d, false);
	PQclear(res);
}

void
page_pm_default(struct page *p)
{
	PGresult *res = own_card(p);
	struct derr e;
	char url[600];

	if (res == NULL)
		return;
	if (pms_make_default(&p->d, p->customer_id, db_val(res, 0, PM_ID), &p->pol.pm, &e) != 0)
		refused(p, &e);
	else {
		snprintf(url, sizeof(url), "/payment_methods?default=%s%s%s", db_val(res, 0, PM_ID),
		    p->d.npending > 0 ? "&paid=" : "", view_pending(p));
		page_redirect(p, url);
	}
	PQclear(res);
}

void
page_pm_remove_confirm(struct page *p)
{
	PGresult *res = own_card(p);
	cJSON *d, *card;
	char tail[160];

	if (res == NULL)
		return;
	if (!p->set.payment_methods) {
		page_message(p, 403, "Cards cannot be changed here", "To change your card, contact "
		    "us.", page_url(p, ""), "Go to your account");
		PQclear(res);
		return;
	}
	d = cJSON_CreateObject();
	card = cJSON_AddObjectToObject(d, "card");
	view_card(p, res, 0, 0, card);
	snprintf(tail, sizeof(tail), "/payment_methods/%s/remove", db_val(res, 0, PM_ID));
	cJSON_AddStringToObject(d, "action", page_url(p, tail));
	cJSON_AddStringToObject(d, "cancel", page_url(p, "/payment_methods"));
	cJSON_AddStringToObject(d, "csrf", p->csrf);
	cJSON_AddStringToObject(d, "nonce", page_nonce(p));
	p->nav = "payment_methods";
	page_render(p, 200, "Remove this card?", "card_remove", d, false);
	PQclear(res);
}

void
page_pm_remove(struct page *p)
{
	PGresult *res = own_card(p);
	struct derr e;
	char url[600];

	if (res == NULL)
		return;
	/* The next card may take over as the default and pay what is owed. */
	if (pms_detach(&p->d, p->customer_id, db_val(res, 0, PM_ID), &p->pol.pm, &e) != 0)
		refused(p, &e);
	else {
		snprintf(url, sizeof(url), "/payment_methods?removed=1%s%s",
		    p->d.npending > 0 ? "&paid=" : "", view_pending(p));
		page_redirect(p, url);
	}
	PQclear(res);
}
