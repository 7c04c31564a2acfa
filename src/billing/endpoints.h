/* endpoints.h: webhook endpoints (the URL, the event types it wants, a signing secret shown
 * once) and resending an event to them. Deliveries themselves are the job runner's. */
#ifndef PORTALD_ENDPOINTS_H
#define PORTALD_ENDPOINTS_H

#include "billing/domain.h"

#define ENDPOINT_SECRET_MAX	64
#define ENDPOINT_EVENTS_MAX	100

/* types: registered event types, or NULL/empty for all ("*"). secret receives the
 * whsec_... signing secret, which is never shown again. */
int	endpoints_create(struct dctx *d, const char *url, const char *const *types, int ntypes,
	    char id[DOM_ID_MAX], char secret[ENDPOINT_SECRET_MAX], struct derr *e);
int	endpoints_delete(struct dctx *d, const char *id, struct derr *e);
/* Queues a new delivery of the event to every endpoint that wants it now. */
int	endpoints_resend(struct dctx *d, const char *event_id, struct derr *e);

#endif
