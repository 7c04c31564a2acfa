/* api_portal_access.c: a customer's portal access: invitations (and resends), revocation
 * and its undoing, and the customer's portal sessions. */
#include <string.h>

#include "api/api.h"
#include "billing/access.h"

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
