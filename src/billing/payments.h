/* payments.h: collection and refunds through the gateway, following the ruling: record the
 * intent with a stable idempotency key and commit; call the gateway outside any
 * transaction; record the outcome in a new transaction. A crash in between leaves the
 * attempt pending and payments_resolve settles it from the recorded key. */
#ifndef PORTALD_PAYMENTS_H
#define PORTALD_PAYMENTS_H

#include "billing/domain.h"
#include "billing/gateway.h"

/* Phase one, in the caller's transaction: records a pending charge of the open invoice
 * on the customer's default card and queues it on d (a customer without a card fails at
 * once, with dunning). Nothing to do for an invoice that is not open or already has a
 * charge in flight. */
int	payments_collect(struct dctx *d, const char *invoice_id, struct derr *e);
/* "Pay now": phase one for an open invoice. With customer_id (the portal), another
 * customer's invoice is DERR_NOT_FOUND; the merchant's API passes NULL. An invoice that is
 * not open is DERR_CONFLICT "invoice_not_open". */
int	payments_pay_invoice(struct dctx *d, const char *customer_id, const char *invoice_id,
	    struct derr *e);
/* Collects every open invoice of the customer's subscriptions that still serve. */
int	payments_retry_customer(struct dctx *d, const char *customer_id, struct derr *e);
/* Phase one of a refund: amount (<= what is left to refund) of a paid invoice. */
int	payments_refund(struct dctx *d, const char *invoice_id, long long amount,
	    struct derr *e);
/* Phases two and three for every attempt queued on d; outside any transaction. Returns
 * -1 only when the database is unreachable (the attempts stay pending for the runner). */
int	payments_settle(struct dctx *d, struct derr *e);
/* Asks the gateway about one pending attempt (with its recorded key) and records the
 * answer; used by settle and, for attempts whose answer was lost, by the job runner. */
int	payments_resolve(struct dctx *d, const char *attempt_id, bool recovering,
	    struct derr *e);
/* Phase three, in the caller's transaction: records the gateway's answer, then marks the
 * invoice paid or runs dunning and moves the subscription. */
int	payments_record(struct dctx *d, const char *attempt_id, const struct gw_result *r,
	    struct derr *e);

#endif
