/* api_portal_access.c: a customer's portal access: invitations (and resends), revocation
 * and its undoing, and the customer's portal sessions. */
#include <string.h>

#include "api/api.h"
#include "billing/access.h"
#include "billing/portal_settings.h"

void
h_portal_invite(struct ctx *c)
{
	char sid[DOM_ID_MAX];
	struct derr e;
	bool limited;

	if (access_invite(&c->d, c->req->path_params[0], sid, &limited, &e) != 0) {
		api_derr(c, &e);
		return;
	}
	if (limited) {
		http_header(c->resp, "Retry-After", "%d", ACCESS_INVITE_WINDOW);
		api_error(c, 429, "invalid_request_error", "rate_limited", NULL,
		    "At most %d invitations per customer in %d minutes.", ACCESS_INVITE_MAX,
		    ACCESS_INVITE_WINDOW / 60);
		return;
	}
	api_answer(c, OBJ_PORTAL_SESSION, sid);
}

void
h_portal_revoke(struct ctx *c)
{
	struct derr e;

	if (access_revoke(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_CUSTOMER, c->req->path_params[0]);
}

void
h_portal_restore(struct ctx *c)
{
	struct derr e;

	if (access_restore(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_CUSTOMER, c->req->path_params[0]);
}

void
h_customer_psess_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_PORTAL_SESSION, STMT_PSESS_LIST_FIRST,
	    STMT_PSESS_LIST_AFTER, { "path:0" }, CURSOR_CREATED, PS_CREATED };
	struct derr e;

	if (customers_exists(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_list(c, &spec);
}

/* The management link as the API shows it; *limited answers 429. */
static void
mlink_answer(struct ctx *c, bool regenerate)
{
	struct access_mlink m;
	struct portal_settings s;
	char base[PORTAL_URL_MAX + 300];
	struct derr e;
	struct jw w;
	bool limited;
	int rc;

	if ((rc = portal_settings_load(c->db, c->site.id, NULL, &s)) <= 0) {
		api_db_error(c);
		return;
	}
	portal_base_url(&s, c->cfg->public_url, base, sizeof(base));
	if (access_mlink_read(&c->d, c->req->path_params[0], regenerate, base, &m, &limited,
	    &e) != 0) {
		api_derr(c, &e);
		return;
	}
	if (limited) {
		http_header(c->resp, "Retry-After", "%lld", m.new_link_available_at - c->d.now);
		api_error(c, 429, "invalid_request_error", "rate_limited", NULL,
		    "The management link was read more than %d times; a new one is available "
		    "at %lld.", ACCESS_MLINK_READS, m.new_link_available_at);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "management_link");
	jw_str(&w, "customer_id", c->req->path_params[0]);
	jw_str(&w, "url", m.url);
	jw_int(&w, "fetch_count", m.fetch_count);
	jw_int(&w, "created_at", m.created_at);
	jw_int(&w, "expires_at", m.expires_at);
	jw_int(&w, "new_link_available_at", m.new_link_available_at);
	jw_obj_end(&w);
}

void
h_mlink_get(struct ctx *c)
{
	mlink_answer(c, false);
}

void
h_mlink_regenerate(struct ctx *c)
{
	mlink_answer(c, true);
}
