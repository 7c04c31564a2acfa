/* events.c: every change writes an event in the same transaction, and a pending delivery
 * for each webhook endpoint that wants it; NOTIFY wakes the job runner at commit. */
#include <stdio.h>
#include <stdlib.h>

#include "billing/billing.h"
#include "core/crypto.h"

int
events_emit(struct bctx *b, const char *type, const char *object_id, const char *data)
{
	char id[40], hex[25], now[24];
	PGresult *res, *eps;

	if (crypto_random_hex(12, hex, sizeof(hex)) != 0)
		return -1;
	snprintf(id, sizeof(id), "evt_%s", hex);
	snprintf(now, sizeof(now), "%lld", b->now);
	res = db_exec(b->db, STMT_EVENT_INSERT, (const char *[]){ b->site_id, id, type,
	    object_id, data ? data : "{}", now });
	if (res == NULL)
		return -1;
	PQclear(res);
	eps = db_exec(b->db, STMT_WH_MATCHING, (const char *[]){ b->site_id, type });
	if (eps == NULL)
		return -1;
	for (int i = 0; i < PQntuples(eps); i++) {
		char did[40];

		if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
			PQclear(eps);
			return -1;
		}
		snprintf(did, sizeof(did), "whd_%s", hex);
		res = db_exec(b->db, STMT_DELIV_INSERT, (const char *[]){ b->site_id, did,
		    PQgetvalue(eps, i, 0), id, now });
		if (res == NULL) {
			PQclear(eps);
			return -1;
		}
		PQclear(res);
	}
	if (PQntuples(eps) > 0) {
		res = db_exec(b->db, STMT_NOTIFY, (const char *[]){ b->site_id });
		PQclear(res);
	}
	PQclear(eps);
	return 0;
}
