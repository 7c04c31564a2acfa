/* events.h: the registry of event types, and writing an event (with its sequence number
 * and actor) and its webhook deliveries in the caller's transaction. */
#ifndef PORTALD_EVENTS_H
#define PORTALD_EVENTS_H

#include <stdbool.h>

#include "billing/domain.h"

/* Every event type Portald emits, NULL-terminated. */
extern const char *const events_types[];

bool	events_type_known(const char *type);
/* Writes the event with data (serialised JSON of the object) and a pending delivery for
 * every webhook endpoint that wants it; wakes the job runner at commit. */
int	events_emit(struct dctx *d, const char *type, const char *object_id, const char *data,
	    struct derr *e);
/* A runner's batch (dctx.facts with defer_events) keeps its events and writes them
 * together: events_flush writes those not written yet (invoices_number_deferred writes
 * them with its numbers); events_mark / events_restore undo what an item rolled back
 * emitted or flushed; events_forget drops them all and ends the keeping, once the
 * transaction is over (every way out of it flushes or forgets). */
int	events_flush(struct dctx *d, struct derr *e);
struct events_mark {
	size_t	len, written;
	int	n, nwritten;
};
void	events_mark(const struct dctx *d, struct events_mark *m);
void	events_restore(struct dctx *d, const struct events_mark *m);
void	events_forget(struct dctx *d);
/* The unwritten events as a JSON array ("[]" when none), for a statement that writes
 * them (STMT_EVENT_INSERT_MANY's form); events_written() says they are in the table. */
void	events_pending_json(const struct dctx *d, struct buf *out);
void	events_written(struct dctx *d);
/* What else an event sets off in its transaction, decided above this layer (the portal
 * invitation a new subscription sends): a process sets it once at start, before it forks.
 * Without one, events only make their deliveries and mail. */
typedef int (*events_reaction)(struct dctx *d, const char *type, const char *data,
    struct derr *e);
void	events_set_reaction(events_reaction fn);
/* The actor's name as stored: "api_key", "portal_session", "admin", "job_runner". */
const char *events_actor_name(enum actor_type t);

#endif
