/* gateway_stripe.h: Stripe behind the gateway interface: a Stripe customer per customer,
 * charges as PaymentIntents (one per attempt: created, its id recorded and committed, then
 * confirmed), refunds through Stripe's refunds API, and what Stripe's objects mean for
 * Portald's records. Every function here calls Stripe: call them outside any transaction. */
#ifndef PORTALD_GATEWAY_STRIPE_H
#define PORTALD_GATEWAY_STRIPE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "billing/gateway.h"
#include "stripe/client.h"

extern const struct gateway gateway_stripe;

/* How long a customer may take at the bank's page before an on-session charge counts as
 * abandoned (its PaymentIntent is then canceled, so it can never succeed later). The job
 * runner leaves such attempts alone until then (STMT_PAY_STALE). */
#define GWSTRIPE_ON_SESSION_WINDOW	1800

/* The site's Stripe customer (cus_...) for a Portald customer, into ref; created on demand
 * under an idempotency key stable for the customer, and stored. */
int	gwstripe_customer(struct dctx *d, struct stripe_client *sc, const char *customer_id,
	    char ref[96], struct derr *e);

/*
 * What a PaymentIntent's state says about the attempt that confirmed it (no I/O):
 * succeeded -> GW_SUCCEEDED; processing -> GW_PENDING; requires_action -> GW_REQUIRES_ACTION
 * (on-session, with the redirect in action_url); requires_payment_method with a
 * last_payment_error -> GW_DECLINED with the decline code, or GW_REQUIRES_ACTION without an
 * action_url when an off-session confirm needed authentication; canceled -> GW_DECLINED;
 * requires_confirmation, or requires_payment_method without an error -> GW_NOT_FOUND (never
 * confirmed). ref is the PaymentIntent's id.
 */
void	gwstripe_map_intent(const cJSON *pi, bool on_session, struct gw_result *out);
/* A refund object: succeeded or pending -> GW_SUCCEEDED; failed, canceled -> GW_DECLINED. */
void	gwstripe_map_refund(const cJSON *re, struct gw_result *out);
/* The attempt outcome code for a Stripe error code and decline code ("insufficient_funds",
 * "expired_card", "authentication_required", "processing_error", else "declined"). */
const char *gwstripe_outcome_code(const char *code, const char *decline_code);

#endif
