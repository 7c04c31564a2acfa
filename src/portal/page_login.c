/* page_login.c: the site's sign-in page (a login link by email, or where to sign in when
 * the site has single sign-on only), and the confirmation page of the links mails carry:
 * opening one shows a button; only its POST uses the link and signs in. */
#include <stdio.h>
#include <string.h>

#include "billing/access.h"
#include "mail/mail.h"
#include "portal/portal.h"

static void
unavailable(struct page *p)
{
	page_message(p, 503, "Please try again", "The billing portal is briefly unavailable. "
	    "Please try again in a moment.", NULL, NULL);
}

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

static void
login_form(struct page *p, int status, const char *email, const char *error)
{
	cJSON *d = cJSON_CreateObject();
	char title[300];

	snprintf(title, sizeof(title), "Sign in to %s", p->set.business_name);
	cJSON_AddStringToObject(d, "heading", title);
	cJSON_AddStringToObject(d, "action", page_url(p, "/login"));
	cJSON_AddStringToObject(d, "csrf", portal_pre_token(p));
	cJSON_AddStringToObject(d, "email", email ? email : "");
	if (error != NULL)
		cJSON_AddStringToObject(d, "error", error);
	page_render(p, status, "Sign in", "login", d, error != NULL);
}

void
page_login(struct page *p)
{
	if (!p->set.login_link) {
		sso_only(p);
		return;
	}
	login_form(p, 200, NULL, NULL);
}

void
page_login_request(struct page *p)
{
	const char *email = http_kvs_get(&p->c->req->form, "email");
	struct derr e;
	bool limited;

	if (!p->set.login_link) {
		sso_only(p);
		return;
	}
	if (email == NULL || email[0] == '\0') {
		login_form(p, 400, "", "Enter your email address");
		return;
	}
	if (strlen(email) > 254 || !mail_addr_valid(email)) {
		login_form(p, 400, email, "Enter an email address in the correct format, like "
		    "name@example.com");
		return;
	}
	if (access_request_link(&p->d, &p->set, email, p->c->req->remote_addr, &limited,
	    &e) != 0) {
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
	page_redirect(p, "/login/sent");
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
		unavailable(p);
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
	confirm_form(p, &l, false);
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
	char name[96];
	size_t n;

	if (access_link_check(&p->d, token, &l, &e) != 0) {
		link_error(p, &e);
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
	snprintf(name, sizeof(name), PORTAL_COOKIE_PREFIX "%s", p->set.site_id);
	http_set_cookie(c->resp, name, in.cookie, -1);
	/* Where the link signs in: a path of this site's portal, else its overview. */
	n = strlen(page_url(p, ""));
	if (strncmp(in.path, page_url(p, ""), n) == 0 && (in.path[n] == '\0' ||
	    in.path[n] == '/'))
		snprintf(p->location, sizeof(p->location), "%.*s",
		    (int)sizeof(p->location) - 1, in.path);
	else
		snprintf(p->location, sizeof(p->location), "%s", page_url(p, ""));
	http_redirect(c->resp, 303, p->location);
}
