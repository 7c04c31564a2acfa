/* page_login.c: the site's sign-in page (a login link by email, or where to sign in when
 * the site has single sign-on only), and the confirmation page of the links mails carry:
 * opening one shows a button; only its POST uses the link and signs in. */
#include <stdio.h>
#include <string.h>

#include "billing/access.h"
#include "mail/mail.h"
#include "portal/portal.h"

/* SSO only: the merchant's own sign-in, else its website, else no link. */
static void
sso_only(struct page *p)
{
	char text[400];
	const char *href = p->set.merchant_sign_in_url[0] ? p->set.merchant_sign_in_url :
	    p->set.website_url[0] ? p->set.website_url : NULL;

	snprintf(text, sizeof(text), "To open your billing portal, sign in to your account on "
	    "%s's website and open billing from there.", p->set.business_name);
	if (href != NULL) {
		char link[260];

		snprintf(link, sizeof(link), "Sign in at %s", p->set.business_name);
		page_message(p, 200, "Sign in", text, href, link);
	} else
		page_message(p, 200, "Sign in", text, NULL, NULL);
}

/* The sign-in page: a password form and/or a login-link form, as the site has them.
 * error (may be NULL) belongs to field ("link" or "password"). */
static void
login_form(struct page *p, int status, const char *email, const char *field,
    const char *error)
{
	cJSON *d = cJSON_CreateObject();
	char title[300];

	snprintf(title, sizeof(title), "Sign in to %s", p->set.business_name);
	cJSON_AddStringToObject(d, "heading", title);
	cJSON_AddStringToObject(d, "action", page_url(p, "/login"));
	cJSON_AddStringToObject(d, "password_action", page_url(p, "/login/password"));
	cJSON_AddStringToObject(d, "forgot_url", page_url(p, "/login/forgot"));
	cJSON_AddStringToObject(d, "signup_url", page_url(p, "/login/signup"));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	cJSON_AddStringToObject(d, "email", email ? email : "");
	cJSON_AddBoolToObject(d, "link_form", p->set.login_link);
	cJSON_AddBoolToObject(d, "password_form", p->set.login_password);
	if (error != NULL) {
		bool link = strcmp(field, "link") == 0;

		cJSON_AddStringToObject(d, "error", error);
		cJSON_AddStringToObject(d, "error_field", link ? "f-email" : "f-pw-email");
		if (link)
			cJSON_AddStringToObject(d, "link_error", error);
	}
	page_render(p, status, "Sign in", "login", d, error != NULL);
}

void
page_login(struct page *p)
{
	if (!p->set.login_link && !p->set.login_password) {
		sso_only(p);
		return;
	}
	login_form(p, 200, NULL, NULL, NULL);
}

void
page_login_request(struct page *p)
{
	const char *email = http_kvs_get(&p->c->req->form, "email");
	struct derr e;
	bool limited, found;

	if (!p->set.login_link) {
		page_login(p);
		return;
	}
	if (email == NULL || email[0] == '\0') {
		login_form(p, 400, "", "link", "Enter your email address");
		return;
	}
	if (strlen(email) > 254 || !mail_addr_valid(email)) {
		login_form(p, 400, email, "link", "Enter an email address in the correct format, "
		    "like name@example.com");
		return;
	}
	if (access_request_link(&p->d, &p->set, email, p->c->req->remote_addr, &limited,
	    &found, &e) != 0) {
		page_derr(p, &e);
		return;
	}
	if (limited) {
		/* The same for an address that names nobody: both were counted alike. */
		http_header(p->c->resp, "Retry-After", "%d", ACCESS_LINK_WINDOW);
		page_message(p, 429, "Too many requests", "Too many sign-in links were asked for. "
		    "Please wait a while, then try again.", page_url(p, "/login"), "Back to sign in");
		return;
	}
	/* The merchant may choose Chargebee's explicit answer over the same one either way;
	 * a redirect too, so the request's counting is committed like any other's. */
	page_redirect(p, !found && p->set.reveal_unknown_email ? "/login/unknown" :
	    "/login/sent");
}

void
page_login_unknown(struct page *p)
{
	if (!p->set.login_link || !p->set.reveal_unknown_email) {
		page_login(p);
		return;
	}
	login_form(p, 404, "", "link", "There is no account with the email address you "
	    "entered. Check it, or use the address your account was created with");
}

void
page_login_sent(struct page *p)
{
	char text[400], ttl[48];

	access_ttl_words(p->set.login_link_ttl, ttl);
	snprintf(text, sizeof(text), "If the address you entered belongs to an account with "
	    "%s, we have sent it a sign-in link. The link works once and expires %s.",
	    p->set.business_name, ttl);
	page_message(p, 200, "Check your email", text, page_url(p, "/login"),
	    "Send another link");
}

/* The link's errors, as pages: not valid (404), used or too late (410), revoked (403). */
static void
link_error(struct page *p, const struct derr *e)
{
	const char *again = p->set.login_link ? page_url(p, "/login") : NULL;

	switch (e->kind) {
	case DERR_NOT_FOUND:
		page_message(p, 404, "This link is not valid", "The link is not valid. Check that "
		    "you opened the whole link from the email.", again, "Get a new link");
		break;
	case DERR_CONFLICT:
		page_message(p, 410, "This link has expired", "Links in our emails work once, for "
		    "a limited time. This one was used already or has expired.", again,
		    "Get a new link");
		break;
	case DERR_FORBIDDEN:
		page_message(p, 403, "Access is not available", "Access to this billing portal "
		    "is not available for this account. Contact us if you think this is wrong.",
		    NULL, NULL);
		break;
	case DERR_INVALID:
		page_message(p, 400, "Choose an account", e->message, NULL, NULL);
		break;
	default:
		page_derr(p, e);	/* unavailable, or internal (logged) */
		break;
	}
}

/* The confirmation page: a button (first), or the accounts to choose from (after the
 * button, when the address belongs to several customers). */
static void
confirm_form(struct page *p, const struct access_link *l, bool choose)
{
	cJSON *d = cJSON_CreateObject(), *accs;
	const char *path = p->c->req->path;
	char heading[300];

	snprintf(heading, sizeof(heading), "Sign in to %s", p->set.business_name);
	cJSON_AddStringToObject(d, "heading", heading);
	cJSON_AddStringToObject(d, "action", arena_strndup(&p->c->req->arena, path,
	    strlen(path)));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	if (choose) {
		cJSON_AddStringToObject(d, "text", "This email address belongs to several "
		    "accounts. Choose the one to sign in to.");
		cJSON_AddStringToObject(d, "button", "Sign in to this account");
		cJSON_AddBoolToObject(d, "choose", true);
		accs = cJSON_AddArrayToObject(d, "accounts");
		for (int i = 0; i < l->n_accounts; i++) {
			cJSON *a = cJSON_CreateObject();
			char id[24];

			snprintf(id, sizeof(id), "f-account-%d", i);
			cJSON_AddStringToObject(a, "id", id);
			cJSON_AddStringToObject(a, "value", l->accounts[i].id);
			cJSON_AddStringToObject(a, "label", l->accounts[i].name);
			cJSON_AddBoolToObject(a, "selected", i == 0);
			cJSON_AddItemToArray(accs, a);
		}
	} else {
		cJSON_AddStringToObject(d, "text", "Select the button to sign in to your billing "
		    "account. The link then stops working.");
		cJSON_AddStringToObject(d, "button", "Sign in");
	}
	page_render(p, 200, "Sign in", "link_confirm", d, false);
}

/* A set-password link's page: the new password (the link is used by its POST). */
static void
password_form(struct page *p, int status, const struct access_link *l, const char *error)
{
	cJSON *d = cJSON_CreateObject();
	const char *path = p->c->req->path;
	PGresult *res;

	cJSON_AddStringToObject(d, "heading", "Choose your password");
	cJSON_AddStringToObject(d, "action", arena_strndup(&p->c->req->arena, path,
	    strlen(path)));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	/* For password managers: the account the password is for. */
	res = db_exec(p->c->db, STMT_CUSTOMER_GET, (const char *[]){ p->set.site_id,
	    l->customer_id });
	if (res != NULL && PQntuples(res) == 1 && db_val(res, 0, CUST_EMAIL) != NULL)
		cJSON_AddStringToObject(d, "email", db_val(res, 0, CUST_EMAIL));
	PQclear(res);
	if (error != NULL)
		cJSON_AddStringToObject(d, "error", error);
	page_render(p, status, "Choose your password", "set_password", d, error != NULL);
}

void
page_link(struct page *p)
{
	struct access_link l;
	struct derr e;

	/* Reads only: a mail scanner that fetches the link uses nothing up. */
	if (access_link_check(&p->d, p->c->req->path_params[1], &l, &e) != 0) {
		link_error(p, &e);
		return;
	}
	if (access_link_sets_password(&l))
		password_form(p, 200, &l, NULL);
	else
		confirm_form(p, &l, false);
}

/* This browser has signed in by email as customer: a year-long proof that a management
 * link opened here needs no further check. */
static void
mark_verified(struct page *p, const char *customer)
{
	char name[96], value[160];

	p->d.secrets = &p->c->cfg->secrets;
	if (access_verified_value(&p->d, customer, value) != 0)
		return;
	snprintf(name, sizeof(name), PORTAL_VERIFIED_PREFIX "%s", p->set.site_id);
	http_set_cookie(p->c->resp, name, value, 365L * 86400);
}

/* Sets the signed-in session's cookie and sends the browser where the link leads. */
static void
signed_in(struct page *p, const struct access_signin *in)
{
	char name[96];
	size_t n = strlen(page_url(p, ""));

	snprintf(name, sizeof(name), PORTAL_COOKIE_PREFIX "%s", p->set.site_id);
	http_set_cookie(p->c->resp, name, in->cookie, -1);
	/* A path of this site's portal, else its overview. */
	if (strncmp(in->path, page_url(p, ""), n) == 0 && (in->path[n] == '\0' ||
	    in->path[n] == '/'))
		snprintf(p->location, sizeof(p->location), "%.*s",
		    (int)sizeof(p->location) - 1, in->path);
	else
		snprintf(p->location, sizeof(p->location), "%s", page_url(p, ""));
	http_redirect(p->c->resp, 303, p->location);
}

void
page_link_confirm(struct page *p)
{
	struct ctx *c = p->c;
	const char *token = c->req->path_params[1];
	const char *account = http_kvs_get(&c->req->form, "account");
	struct access_link l;
	struct access_signin in;
	struct derr e;

	if (access_link_check(&p->d, token, &l, &e) != 0) {
		link_error(p, &e);
		return;
	}
	if (access_link_sets_password(&l)) {
		const char *pw = http_kvs_get(&c->req->form, "password");

		if (pw == NULL || pw[0] == '\0') {
			password_form(p, 400, &l, "Enter a password");
			return;
		}
		if (access_set_password(&p->d, token, pw, c->req->remote_addr,
		    p->set.website_url, portal_cookie_session(p), &in, &e) != 0) {
			if (e.kind == DERR_INVALID && strcmp(e.code, "password_invalid") == 0)
				password_form(p, 400, &l, e.message);
			else
				link_error(p, &e);
			return;
		}
		mark_verified(p, l.customer_id);
		signed_in(p, &in);
		return;
	}
	if ((account == NULL || account[0] == '\0') && l.n_accounts > 1) {
		confirm_form(p, &l, true);
		return;
	}
	if (access_link_use(&p->d, token, account, c->req->remote_addr, p->set.website_url,
	    portal_cookie_session(p), &in, &e) != 0) {
		link_error(p, &e);
		return;
	}
	{
		/* The customer signed in is the session's: the link's, or the one chosen. */
		PGresult *res = db_exec(c->db, STMT_PSESS_GET, (const char *[]){ p->set.site_id,
		    in.session_id });

		if (res != NULL && PQntuples(res) == 1)
			mark_verified(p, db_val(res, 0, PS_CUSTOMER));
		PQclear(res);
	}
	signed_in(p, &in);
}

/* ---- passwords ---- */

static void
unavailable_db(struct page *p)
{
	page_message(p, 503, "Please try again", "The billing portal is briefly unavailable. "
	    "Nothing was changed. Please try again in a moment.", NULL, NULL);
}

/* POST /login/password: runs its own transaction, committed whatever the answer, so the
 * failure counters and rate limits stay counted. */
void
page_login_password(struct page *p)
{
	struct ctx *c = p->c;
	const char *email = http_kvs_get(&c->req->form, "email");
	const char *pw = http_kvs_get(&c->req->form, "password");
	struct access_signin in;
	enum access_pw result;
	long long wait;
	struct derr e;
	char text[300];

	if (!p->set.login_password) {
		page_login(p);
		return;
	}
	if (email == NULL || email[0] == '\0' || pw == NULL || pw[0] == '\0' ||
	    strlen(email) > 254 || strlen(pw) > 1024) {
		login_form(p, 400, email, "password", "Enter your email address and password");
		return;
	}
	if (db_begin(c->db) != 0) {
		unavailable_db(p);
		return;
	}
	if (access_password_sign_in(&p->d, &p->set, email, pw, c->req->remote_addr,
	    p->set.website_url, portal_cookie_session(p), &in, &result, &wait, &e) != 0) {
		db_rollback(c->db);
		page_derr(p, &e);
		return;
	}
	if (c->db->status != DB_OK || db_commit(c->db) != 0) {
		db_rollback(c->db);
		unavailable_db(p);
		return;
	}
	switch (result) {
	case ACCESS_PW_OK:
		signed_in(p, &in);
		break;
	case ACCESS_PW_WRONG:
		login_form(p, 401, email, "password", "The email address or the password is not "
		    "right");
		break;
	case ACCESS_PW_WAIT:
		http_header(c->resp, "Retry-After", "%lld", wait);
		snprintf(text, sizeof(text), "There were several wrong passwords for this address. "
		    "Wait %lld seconds before trying again%s.", wait, p->set.login_link ?
		    ", or sign in with a link by email" : "");
		page_message(p, 429, "Please wait a moment", text, page_url(p, "/login"),
		    "Back to sign in");
		break;
	case ACCESS_PW_LIMITED:
		http_header(c->resp, "Retry-After", "%d", ACCESS_LINK_WINDOW);
		page_message(p, 429, "Too many attempts", "There were too many sign-in attempts. "
		    "Please wait a while, then try again.", page_url(p, "/login"),
		    "Back to sign in");
		break;
	}
}

static void
password_link_form(struct page *p, int status, bool forgot, const char *email,
    const char *error)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "heading", forgot ? "Reset your password" :
	    "Set up a password");
	cJSON_AddStringToObject(d, "text", forgot ? "Enter the email address of your account. "
	    "We will email you a link to choose a new password." : "Enter the email address "
	    "you gave us. We will email you a link to confirm it and choose a password.");
	cJSON_AddStringToObject(d, "action", page_url(p, forgot ? "/login/forgot" :
	    "/login/signup"));
	cJSON_AddStringToObject(d, "back", page_url(p, "/login"));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	cJSON_AddStringToObject(d, "email", email ? email : "");
	if (error != NULL)
		cJSON_AddStringToObject(d, "error", error);
	page_render(p, status, forgot ? "Reset your password" : "Set up a password",
	    "password_link", d, error != NULL);
}

static bool
is_forgot(struct page *p)
{
	size_t n = strlen(p->c->req->path);

	return n >= 7 && strcmp(p->c->req->path + n - 7, "/forgot") == 0;
}

void
page_password_link_form(struct page *p)
{
	if (!p->set.login_password) {
		page_login(p);
		return;
	}
	password_link_form(p, 200, is_forgot(p), NULL, NULL);
}

void
page_password_link_request(struct page *p)
{
	const char *email = http_kvs_get(&p->c->req->form, "email");
	bool forgot = is_forgot(p), limited;
	struct derr e;

	if (!p->set.login_password) {
		page_login(p);
		return;
	}
	if (email == NULL || email[0] == '\0' || strlen(email) > 254 ||
	    !mail_addr_valid(email)) {
		password_link_form(p, 400, forgot, email, "Enter an email address in the correct "
		    "format, like name@example.com");
		return;
	}
	if (access_request_password_link(&p->d, &p->set, email, p->c->req->remote_addr,
	    &limited, &e) != 0) {
		page_derr(p, &e);
		return;
	}
	if (limited) {
		http_header(p->c->resp, "Retry-After", "%d", ACCESS_LINK_WINDOW);
		page_message(p, 429, "Too many requests", "Too many links were asked for. "
		    "Please wait a while, then try again.", page_url(p, "/login"), "Back to sign in");
		return;
	}
	page_redirect(p, "/login/password_sent");
}

void
page_password_sent(struct page *p)
{
	char text[400];

	snprintf(text, sizeof(text), "If the address you entered belongs to an account with "
	    "%s, we have sent it a link to choose a password. The link works once.",
	    p->set.business_name);
	page_message(p, 200, "Check your email", text, page_url(p, "/login"),
	    "Back to sign in");
}

/* ---- management links ---- */

/* Email verification: on (the site's setting) where login links can be mailed, this
 * browser must have signed in by email as the link's customer before. */
static bool
needs_verification(struct page *p, const char *customer)
{
	char name[96];

	if (!p->set.email_verification || !p->set.login_link)
		return false;
	snprintf(name, sizeof(name), PORTAL_VERIFIED_PREFIX "%s", p->set.site_id);
	return !access_verified_ok(&p->d, http_kvs_get(&p->c->req->cookies, name), customer);
}

static void
verify_first(struct page *p)
{
	char text[400];

	snprintf(text, sizeof(text), "For your security, this browser must sign in to %s with "
	    "a link by email once. Ask for a link with the address of your account; after "
	    "that, your personal link signs you in here directly.", p->set.business_name);
	page_message(p, 403, "Confirm it's you", text, page_url(p, "/login"),
	    "Email me a sign-in link");
}

void
page_manage(struct page *p)
{
	const char *path = p->c->req->path;
	char customer[DOM_ID_MAX], heading[300];
	struct derr e;
	cJSON *d;

	p->d.secrets = &p->c->cfg->secrets;
	if (access_mlink_check(&p->d, p->c->req->path_params[1], customer, &e) != 0) {
		link_error(p, &e);
		return;
	}
	if (needs_verification(p, customer)) {
		verify_first(p);
		return;
	}
	d = cJSON_CreateObject();
	snprintf(heading, sizeof(heading), "Sign in to %s", p->set.business_name);
	cJSON_AddStringToObject(d, "heading", heading);
	cJSON_AddStringToObject(d, "text", "Select the button to open your billing account.");
	cJSON_AddStringToObject(d, "button", "Sign in");
	cJSON_AddStringToObject(d, "action", arena_strndup(&p->c->req->arena, path,
	    strlen(path)));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	page_render(p, 200, "Sign in", "link_confirm", d, false);
}

void
page_manage_confirm(struct page *p)
{
	struct ctx *c = p->c;
	const char *token = c->req->path_params[1];
	char customer[DOM_ID_MAX];
	struct access_signin in;
	struct derr e;

	p->d.secrets = &c->cfg->secrets;
	if (access_mlink_check(&p->d, token, customer, &e) != 0) {
		link_error(p, &e);
		return;
	}
	if (needs_verification(p, customer)) {
		verify_first(p);
		return;
	}
	if (access_mlink_use(&p->d, token, c->req->remote_addr, p->set.website_url,
	    portal_cookie_session(p), &in, &e) != 0) {
		link_error(p, &e);
		return;
	}
	signed_in(p, &in);
}
