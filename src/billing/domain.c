/* domain.c: the domain context, domain errors and ids. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "billing/domain.h"
#include "core/crypto.h"
#include "core/log.h"

void
dctx_init(struct dctx *d, struct db *db, const struct site *site, long long now,
    enum actor_type type, const char *actor_id)
{
	memset(d, 0, sizeof(*d));
	d->db = db;
	if (site != NULL)
		d->site = *site;
	d->now = now;
	d->actor.type = type;
	snprintf(d->actor.id, sizeof(d->actor.id), "%s", actor_id ? actor_id : "");
}

int
derr_set(struct derr *e, enum derr_kind kind, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

int
derr_db(struct derr *e, const struct db *db)
{
	const char *s = db->sqlstate;

	if (db->status == DB_UNAVAILABLE)
		return derr_set(e, DERR_UNAVAILABLE, "database_unavailable", NULL,
		    "The database is not reachable right now; retry shortly.");
	/* Two requests racing for the same rows: everything rolls back, a retry is safe. */
	if (strcmp(s, "23505") == 0 || strcmp(s, "23503") == 0 || strcmp(s, "40001") == 0 ||
	    strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0)
		return derr_set(e, DERR_CONFLICT, "concurrent_modification", NULL,
		    "Another request changed the same data at the same time; nothing was "
		    "changed by this one. Retry it.");
	log_error("database error %s: %s", s, db->errmsg);
	return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
	    "Something went wrong on our side.");
}

int
derr_not_found(struct derr *e, const char *what, const char *id)
{
	return derr_set(e, DERR_NOT_FOUND, "resource_missing", "id", "No such %s: '%s'", what,
	    id);
}

int
derr_state(struct derr *e, const char *what, const char *status, const char *action)
{
	return derr_set(e, DERR_CONFLICT, "invalid_state_transition", NULL,
	    "A %s that is %s cannot be %s.", what, status, action);
}

int
dom_new_id(const char *prefix, char out[DOM_ID_MAX], struct derr *e)
{
	char hex[25];

	if (crypto_random_hex(12, hex, sizeof(hex)) != 0) {
		out[0] = '\0';
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	}
	snprintf(out, DOM_ID_MAX, "%s_%s", prefix, hex);
	return 0;
}

const char *
dom_opt(long long v, char buf[24])
{
	if (v < 0)
		return NULL;
	snprintf(buf, 24, "%lld", v);
	return buf;
}
