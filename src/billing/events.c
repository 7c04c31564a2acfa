/* events.c: every change writes an event in the same transaction, numbered from a sequence
 * so events sort in causal order, with the actor that caused it, and a pending delivery
 * for each webhook endpoint that wants it; NOTIFY wakes the job runner at commit. */
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/notify.h"

const char *const events_types[] = {
	"customer.created", "customer.updated", "customer.deleted",
	"customer.credit_granted",
	"entitlements.updated",
	"plan.created", "plan.updated", "plan.archived",
	"portal_session.created", "portal_session.activated", "portal_session.logged_in",
	"portal_session.logged_out",
	"portal_account.activated", "portal_access.revoked",
	"portal_configuration.updated",
	"payment_method.attached", "payment_method.made_default", "payment_method.detached",
	"subscription.created", "subscription.changed", "subscription.change_scheduled",
	"subscription.cancelled", "subscription.cancellation_scheduled",
	"subscription.reactivated", "subscription.paused", "subscription.pause_scheduled",
	"subscription.resumed", "subscription.renewed", "subscription.trial_ended",
	"subscription.past_due", "subscription.activated",
	"invoice.created", "invoice.paid", "invoice.payment_failed", "invoice.voided",
	"invoice.marked_uncollectible", "invoice.refunded", "invoice.payment_pending",
	"credit_note.created", "tax_rate.created", "tax_rate.updated", "legal_details.updated",
	"invoice.payment_action_required", "invoice.disputed",
	NULL
};

bool
events_type_known(const char *type)
{
	for (const char *const *t = events_types; *t != NULL; t++)
		if (strcmp(*t, type) == 0)
			return true;
	return false;
}

const char *
events_actor_name(enum actor_type t)
{
	switch (t) {
	case ACTOR_API_KEY: return "api_key";
	case ACTOR_PORTAL_SESSION: return "portal_session";
	case ACTOR_ADMIN: return "admin";
	case ACTOR_JOB_RUNNER: return "job_runner";
	case ACTOR_GATEWAY: return "gateway";
	case ACTOR_NONE: break;
	}
	return NULL;
}

/* A delivery per endpoint that takes the event, and the runner woken for them. */
static events_reaction reaction;

static int
queue_deliveries(struct dctx *d, const char *type, const char *id, const char *now,
    struct derr *e)
{
	PGresult *res, *eps;
	int n;

	eps = db_exec(d->db, STMT_WH_MATCHING, (const char *[]){ d->site.id, type });
	if (eps == NULL)
		return derr_db(e, d->db);
	n = PQntuples(eps);
	for (int i = 0; i < n; i++) {
		char did[DOM_ID_MAX];

		if (dom_new_id("whd", did, e) != 0) {
			PQclear(eps);
			return -1;
		}
		res = db_exec(d->db, STMT_DELIV_INSERT, (const char *[]){ d->site.id, did,
		    PQgetvalue(eps, i, 0), id, now });
		if (res == NULL) {
			PQclear(eps);
			return derr_db(e, d->db);
		}
		PQclear(res);
	}
	PQclear(eps);
	if (n > 0) {
		if (db_exec_later(d->db, STMT_NOTIFY, (const char *[]){ d->site.id }) != 0)
			return derr_db(e, d->db);
	}
	return 0;
}

int
events_emit(struct dctx *d, const char *type, const char *object_id, const char *data,
    struct derr *e)
{
	char id[DOM_ID_MAX], now[24];
	PGresult *res;

	if (dom_new_id("evt", id, e) != 0)
		return -1;
	snprintf(now, sizeof(now), "%lld", d->now);
	if (db_exec_later(d->db, STMT_EVENT_INSERT, (const char *[]){ d->site.id, id, type,
	    object_id, data ? data : "{}", now, events_actor_name(d->actor.type),
	    d->actor.id[0] ? d->actor.id : NULL }) != 0)
		return derr_db(e, d->db);
	/* A batch of the job runner knows whether the site has endpoints at all: none, and
	 * the look-up of those that take the event is skipped (nothing else is). */
	if (d->facts != NULL && d->facts->endpoints < 0) {
		res = db_exec(d->db, STMT_WH_COUNT, (const char *[]){ d->site.id });
		if (res == NULL)
			return derr_db(e, d->db);
		d->facts->endpoints = (int)db_ll(res, 0, 0, 0);
		PQclear(res);
	}
	if ((d->facts == NULL || d->facts->endpoints != 0) &&
	    queue_deliveries(d, type, id, now, e) != 0)
		return -1;
	/* The mail this event sends (notify.c's table), in the same transaction. */
	if (notify_event(d, type, id, object_id, data, e) != 0)
		return -1;
	/* And what the process set off on events (the portal invitation). */
	return reaction != NULL ? reaction(d, type, data, e) : 0;
}

void
events_set_reaction(events_reaction fn)
{
	reaction = fn;
}
