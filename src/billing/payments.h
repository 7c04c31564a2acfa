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
/*
 * "Complete payment": phase one of a charge made while the customer is there (the portal's
 * page, or a merchant's own), in the caller's transaction. For an open invoice (of
 * customer_id, unless NULL) it records a pending on-session charge of the default card,
 * or, when such a charge already waits for the customer, queues that one again. After the
 * commit, payments_settle confirms it with the gateway, asking it to send the customer
 * back to return_url; then either d->action_url holds the bank's page to redirect the
 * browser to (d->action_invoice names the invoice), or the answer is already recorded on
 * the invoice (paid, or a failed attempt). The outcome of the authentication arrives by
 * the gateway's webhook; calling this again after the customer's return records it at
 * once. A card of a gateway without on-session payments is simply charged.
 */
int	payments_collect_on_session(struct dctx *d, const char *invoice_id,
	    const char *customer_id, const char *return_url, struct derr *e);
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
/* Queues gateway work recorded as intent (a payment attempt id, or a hosted card set-up
 * "setup_...") for payments_settle. */
void	payments_queue(struct dctx *d, const char *id);
/* Phases two and three for every attempt queued on d; outside any transaction. Returns
 * -1 only when the database is unreachable (the attempts stay pending for the runner).
 * After a call that sets d->gateway_trouble, the attempts not called yet stay pending. */
int	payments_settle(struct dctx *d, struct derr *e);
/* A gateway call that takes this long (a hanging gateway answers at the client's timeout)
 * is trouble (d->gateway_trouble): a healthy one answers in well under a second. */
#define PAYMENTS_GATEWAY_SLOW	4
/* payments_settle makes no more calls once those of its context took this long in all:
 * the rest stay pending, asked about by key by the job runner (PAYMENT_STALE_SECONDS
 * later), so a gateway that answers slowly, but not slowly enough to be trouble, holds
 * nobody up for long either. */
#define PAYMENTS_ROUND_SECONDS	10
/* Whether calls through d should stop: trouble, or the round's time is up. */
bool	payments_gateway_spent(const struct dctx *d);
/* Asks the gateway about one pending attempt (with its recorded key) and records the
 * answer; used by settle and, for attempts whose answer was lost, by the job runner. */
int	payments_resolve(struct dctx *d, const char *attempt_id, bool recovering,
	    struct derr *e);
/* Phase three, in the caller's transaction: records the gateway's answer, then marks the
 * invoice paid or runs dunning and moves the subscription. */
int	payments_record(struct dctx *d, const char *attempt_id, const struct gw_result *r,
	    struct derr *e);

#endif
