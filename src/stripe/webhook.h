/* webhook.h: verification of the Stripe-Signature header on Stripe's webhook deliveries. */
#ifndef PORTALD_STRIPE_WEBHOOK_H
#define PORTALD_STRIPE_WEBHOOK_H

#include <stddef.h>

#define STRIPE_WEBHOOK_TOLERANCE	300	/* seconds, Stripe's default */
#define STRIPE_WEBHOOK_HEADER_MAX	4096	/* longer headers are refused as garbled */

/*
 * Checks a delivery: sig_header is the Stripe-Signature value, "t=<unix>,v1=<hex>[,v1=...]
 * [,v0=...]"; payload is the raw request body exactly as received (len bytes, NULs
 * allowed); secret is the endpoint's signing secret (whsec_..., used whole as the HMAC key).
 * The expected signature is HMAC-SHA256(secret, "<t>.<payload>"), compared in constant time
 * with every v1 value (Stripe sends several while a secret is being rolled); v0 and unknown
 * schemes are ignored. The timestamp must lie within tolerance_s of now, in either direction
 * (tolerance_s <= 0 means STRIPE_WEBHOOK_TOLERANCE: the check cannot be turned off).
 *
 * Returns 0 when the delivery is authentic and fresh, else -1 with the reason in err:
 * a missing or garbled header, no v1 signature, no matching signature, a stale or future
 * timestamp, an empty secret.
 */
int	stripe_webhook_verify(const char *sig_header, const char *payload, size_t len,
	    const char *secret, long long now, int tolerance_s, char *err, size_t errlen);

#endif
