/* events.c: every change writes an event in the same transaction, numbered from a sequence
 * so events sort in causal order, with the actor that caused it, and a pending delivery
 * for each webhook endpoint that wants it; NOTIFY wakes the job runner at commit. */
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/notify.h"
#include "core/json.h"

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

/* What the process set off on events (events_set_reaction). */
static events_reaction reaction;

static void
json_escape_or_null(struct buf *b, const char *s)
{
	if (s != NULL)
		json_escape(b, s);
	else
		buf_puts(b, "null");
}

/* The event as the element of a JSON array that STMT_EVENT_INSERT_MANY reads: data is
 * the serialised object already. */
static void
keep(struct site_facts *f, const char *id, const char *type, const char *object_id,
    const char *data, const char *actor_type, const char *actor_id, long long at)
{
	struct buf *b = &f->events;

	buf_puts(b, ",{\"i\":");
	json_escape(b, id);
	buf_puts(b, ",\"t\":");
	json_escape(b, type);
	buf_puts(b, ",\"o\":");
	json_escape_or_null(b, object_id);
	buf_printf(b, ",\"c\":%lld,\"a\":", at);
	json_escape_or_null(b, actor_type);
	buf_puts(b, ",\"u\":");
	json_escape_or_null(b, actor_id);
	buf_puts(b, ",\"d\":");
	buf_puts(b, data);
	buf_putc(b, '}');
	f->nevents++;
}

void
events_pending_json(const struct dctx *d, struct buf *out)
{
	const struct site_facts *f = d->facts;

	buf_putc(out, '[');
	if (f != NULL && f->events.len > f->events_written)	/* skips the first comma */
		buf_append(out, f->events.data + f->events_written + 1,
		    f->events.len - f->events_written - 1);
	buf_putc(out, ']');
}

void
events_written(struct dctx *d)
{
	struct site_facts *f = d->facts;

	if (f == NULL)
		return;
	f->events_written = f->events.len;
	f->nevents_written = f->nevents;
}

/* The kept events not written yet, with their deliveries, now (their count checked). */
int
events_flush(struct dctx *d, struct derr *e)
{
	struct site_facts *f = d->facts;
	struct buf all;
	PGresult *res;
	int rc = 0;

	if (f == NULL || f->nevents == f->nevents_written)
		return 0;
	buf_init(&all);
	events_pending_json(d, &all);
	res = db_exec(d->db, STMT_EVENT_INSERT_MANY, (const char *[]){ d->site.id, all.data });
	if (res == NULL)
		rc = derr_db(e, d->db);
	else if (db_ll(res, 0, 0, -1) != f->nevents - f->nevents_written)
		rc = derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Writing the batch's events wrote %s of %d.", db_val(res, 0, 0),
		    f->nevents - f->nevents_written);
	else
		events_written(d);
	PQclear(res);
	buf_free(&all);
	return rc;
}

void
events_mark(const struct dctx *d, struct events_mark *m)
{
	const struct site_facts *f = d->facts;

	*m = (struct events_mark){ 0 };
	if (f != NULL)
		*m = (struct events_mark){ .len = f->events.len, .written = f->events_written,
		    .n = f->nevents, .nwritten = f->nevents_written };
}

void
events_restore(struct dctx *d, const struct events_mark *m)
{
	struct site_facts *f = d->facts;

	if (f == NULL || f->events.data == NULL)
		return;
	f->events.len = m->len;
	f->events.data[m->len] = '\0';
	f->events_written = m->written;
	f->nevents = m->n;
	f->nevents_written = m->nwritten;
}

void
events_forget(struct dctx *d)
{
	struct site_facts *f = d->facts;

	if (f == NULL)
		return;
	buf_free(&f->events);
	f->events_written = 0;
	f->nevents = f->nevents_written = 0;
	f->defer_events = false;
}

int
events_emit(struct dctx *d, const char *type, const char *object_id, const char *data,
    struct derr *e)
{
	char id[DOM_ID_MAX], now[24];

	if (dom_new_id("evt", id, e) != 0)
		return -1;
	snprintf(now, sizeof(now), "%lld", d->now);
	if (d->facts != NULL && d->facts->defer_events) {
		/* Written later with its deliveries, by the statement that writes it. */
		keep(d->facts, id, type, object_id, data ? data : "{}", events_actor_name(
		    d->actor.type), d->actor.id[0] ? d->actor.id : NULL, d->now);
	} else if (db_exec_later(d->db, STMT_EVENT_INSERT, (const char *[]){ d->site.id, id,
	    type, object_id, data ? data : "{}", now, events_actor_name(d->actor.type),
	    d->actor.id[0] ? d->actor.id : NULL }) != 0)
		return derr_db(e, d->db);	/* written with its deliveries */
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
