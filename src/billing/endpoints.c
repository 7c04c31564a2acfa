/* endpoints.c: webhook endpoints and event resends. */
#include <stdio.h>
#include <string.h>

#include "billing/endpoints.h"
#include "billing/events.h"
#include "core/crypto.h"

int
endpoints_create(struct dctx *d, const char *url, const char *const *types, int ntypes,
    char id[DOM_ID_MAX], char secret[ENDPOINT_SECRET_MAX], struct derr *e)
{
	char list[ENDPOINT_EVENTS_MAX * 48] = "", now[24];
	PGresult *res;

	for (int i = 0; i < ntypes; i++) {
		if (strcmp(types[i], "*") != 0 && !events_type_known(types[i]))
			return derr_set(e, DERR_INVALID, "parameter_invalid", "enabled_events",
			    "'%s' is not an event type Portald sends (see the README).", types[i]);
		if (strlen(list) + strlen(types[i]) + 2 >= sizeof(list))
			return derr_set(e, DERR_INVALID, "parameter_invalid", "enabled_events",
			    "Too many event types.");
		if (list[0] != '\0')
			strcat(list, ",");
		strcat(list, types[i]);
	}
	if (list[0] == '\0')
		snprintf(list, sizeof(list), "*");
	if (dom_new_id("we", id, e) != 0)
		return -1;
	memcpy(secret, "whsec_", 6);
	if (crypto_random_b64url(CRYPTO_SECRET_BYTES, secret + 6, ENDPOINT_SECRET_MAX - 6) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	res = db_exec(d->db, STMT_WH_INSERT, (const char *[]){ d->site.id, id, url, secret, list,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}

int
endpoints_delete(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_WH_DELETE, (const char *[]){ d->site.id, id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : derr_not_found(e, "webhook_endpoint", id);
}

int
endpoints_resend(struct dctx *d, const char *event_id, struct derr *e)
{
	PGresult *ev, *eps, *res;
	char now[24];
	int n;

	ev = db_exec(d->db, STMT_EVENT_GET, (const char *[]){ d->site.id, event_id });
	if (ev == NULL)
		return derr_db(e, d->db);
	if (PQntuples(ev) == 0) {
		PQclear(ev);
		return derr_not_found(e, "event", event_id);
	}
	eps = db_exec(d->db, STMT_WH_MATCHING, (const char *[]){ d->site.id,
	    db_val(ev, 0, EVT_TYPE) });
	PQclear(ev);
	if (eps == NULL)
		return derr_db(e, d->db);
	n = PQntuples(eps);
	buf_lltoa(d->now, now);
	for (int i = 0; i < n; i++) {
		char did[DOM_ID_MAX];

		if (dom_new_id("whd", did, e) != 0) {
			PQclear(eps);
			return -1;
		}
		res = db_exec(d->db, STMT_DELIV_INSERT, (const char *[]){ d->site.id, did,
		    db_val(eps, i, 0), event_id, now });
		if (res == NULL) {
			PQclear(eps);
			return derr_db(e, d->db);
		}
		PQclear(res);
	}
	PQclear(eps);
	res = db_exec(d->db, STMT_NOTIFY, (const char *[]){ d->site.id });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}
