/* gateway_events.h: Stripe's webhook deliveries to a site: the signature checked against
 * the site's signing secret, then each event applied once (its id recorded with what it
 * changed), in any order, duplicates ignored. */
#ifndef PORTALD_GATEWAY_EVENTS_H
#define PORTALD_GATEWAY_EVENTS_H

#include <stddef.h>

#include "billing/domain.h"

/*
 * One delivery: sig is the Stripe-Signature header (or NULL), body the raw request body.
 * Outside any transaction (it reads the objects an event names from Stripe first, as
 * Stripe advises: the delivered copy may be stale). Applies:
 *   payment_intent.succeeded, payment_intent.payment_failed: the attempt's answer;
 *   setup_intent.succeeded, checkout.session.completed: the set-up's card, once;
 *   charge.refunded: each refund made outside Portald (Stripe's dashboard) becomes a
 *     refund on the invoice; Portald's own refunds get their answer;
 *   charge.dispute.created: the invoice is marked disputed, invoice.disputed fires.
 * Returns 0 (answer 200) with what = "applied", "duplicate" or "ignored" (a type Portald
 * does not use, or an object that is not Portald's); -1 with e: DERR_INVALID for a bad
 * signature, a stale timestamp or a body that is not an event (400, nothing applied),
 * DERR_CONFLICT when the site is not on Stripe (400), DERR_UNAVAILABLE when Stripe or the
 * database cannot be reached now, or the event comes before what it refers to (503:
 * Stripe delivers it again later).
 */
int	gwevents_stripe(struct dctx *d, const char *sig, const char *body, size_t len,
	    char what[16], struct derr *e);

#endif
