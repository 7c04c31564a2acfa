/* page_home.c: GET /portal (the signed-in overview) and POST /portal/logout. */
#include <string.h>

#include "portal/portal.h"

void
page_home(struct ctx *c)
{
	struct portal_user u;
	cJSON *d;

	if (portal_auth(c, &u) != 0)
		return;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "site_name", u.site_name);
	cJSON_AddStringToObject(d, "customer_name", u.customer_name ? u.customer_name : "");
	cJSON_AddStringToObject(d, "customer_email", u.customer_email ? u.customer_email : "");
	cJSON_AddStringToObject(d, "customer_id", u.customer_id);
	cJSON_AddStringToObject(d, "csrf", u.csrf);
	portal_render(c, 200, "Your account", "portal_home", d);
	portal_user_free(&u);
}

void
page_logout(struct ctx *c)
{
	struct portal_user u;

	if (portal_auth(c, &u) != 0)
		return;
	if (c->req->form.bad || !portal_csrf_ok(&u, http_kvs_get(&c->req->form, "csrf_token"))) {
		portal_message(c, 403, "Please try again", "The form was out of date or did not "
		    "come from this page. Go back, reload the page and try again.", "/portal",
		    "Back to the portal");
		portal_user_free(&u);
		return;
	}
	if (portal_logout(c, u.site_id, u.session_id) != 0) {
		portal_message(c, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Please try again in a moment.", NULL, NULL);
		portal_user_free(&u);
		return;
	}
	http_set_cookie(c->resp, PORTAL_COOKIE, "", 0);
	http_header(c->resp, "Cache-Control", "no-store");
	http_redirect(c->resp, 303, u.redirect_url);
	portal_user_free(&u);
}
