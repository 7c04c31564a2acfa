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
	char list[ENDPOINT_EVENTS_MAX * 48] = "", now[24], context[160];
	struct buf sealed;
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
	/* Kept sealed with the server key: the signing needs it in clear, the database
	 * never holds it so (DESIGN, rulings). */
	if (d->secrets == NULL || !d->secrets->loaded)
		return derr_set(e, DERR_INTERNAL, "secrets_unavailable", NULL,
		    "No server key is loaded to keep the signing secret.");
	buf_init(&sealed);
	snprintf(context, sizeof(context), "webhook:%s:%s", d->site.id, id);
	if (secrets_seal(d->secrets, secret, strlen(secret), context, &sealed) != 0) {
		buf_free(&sealed);
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	}
	res = db_exec(d->db, STMT_WH_INSERT, (const char *[]){ d->site.id, id, url, sealed.data,
	    list, buf_lltoa(d->now, now) });
	buf_free(&sealed);
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
	char now[24];
	PGresult *res = db_exec(d->db, STMT_EVENT_RESEND, (const char *[]){ d->site.id,
	    event_id, buf_lltoa(d->now, now) });
	bool found;

	if (res == NULL)
		return derr_db(e, d->db);
	found = db_ll(res, 0, 0, 0) == 1;
	PQclear(res);
	return found ? 0 : derr_not_found(e, "event", event_id);
}
