/* client.h: requests to Stripe's v1 API with libcurl: pinned version, idempotency keys,
 * bounded retries, and each answer classified by what the caller may conclude from it. */
#ifndef PORTALD_STRIPE_CLIENT_H
#define PORTALD_STRIPE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "stripe/form.h"

/*
 * The one API version every request names (Stripe-Version). 2024-06-20 is the last dated
 * version before Stripe's named releases (2024-09-30.acacia onwards), and it has the shapes
 * Portald relies on: a PaymentIntent names its latest_charge instead of embedding a charges
 * list (2022-11-15), and PaymentIntents get automatic payment methods unless told otherwise
 * (2023-08-16: Portald sends payment_method_types[0]=card). Changing it is a deliberate
 * upgrade: read Stripe's changelog for every object Portald reads, and change the stand-in
 * (tests/stripe/standin.py) with it.
 */
#define STRIPE_API_VERSION		"2024-06-20"
#define STRIPE_DEFAULT_BASE_URL		"https://api.stripe.com"
#define STRIPE_IDEMPOTENCY_KEY_MAX	255	/* Stripe's limit */
#define STRIPE_RESPONSE_MAX		(8u << 20)	/* larger answers are refused */

/* What the caller may conclude. Only OK, CARD_ERROR, INVALID_REQUEST, NOT_FOUND,
 * AUTH_ERROR, RATE_LIMITED and REFUSED say for sure what Stripe did; the rest leave the
 * outcome unknown (stripe_outcome_unknown): retrieve the object before trying again. */
enum stripe_outcome {
	STRIPE_OK = 0,		/* 2xx: json is the object (or list) */
	STRIPE_CARD_ERROR,	/* 402: declined; error.code, error.decline_code say why, and
				 * error.payment_intent holds the PaymentIntent as it now is */
	STRIPE_INVALID_REQUEST,	/* 400 and other 4xx: Stripe refused the parameters */
	STRIPE_NOT_FOUND,	/* 404: no such object (or URL) for this key */
	STRIPE_IDEMPOTENCY_ERROR, /* 400 idempotency_error: the key was first used with other
				 * parameters. A bug, logged as one; what the first request did is
				 * unknown */
	STRIPE_AUTH_ERROR,	/* 401, 403: the key is wrong, revoked or lacks permission */
	STRIPE_RATE_LIMITED,	/* 429 on every attempt: not executed */
	STRIPE_CONFLICT,	/* 409 on every attempt: another request with the same key is
				 * running; outcome unknown */
	STRIPE_SERVER_ERROR,	/* 5xx, or an answer that is not Stripe's JSON: unknown */
	STRIPE_NETWORK_ERROR,	/* no complete answer (timeout, reset, TLS): unknown */
	STRIPE_REFUSED		/* not sent: POST without an idempotency key, bad path */
};

struct stripe_error {
	char		 type[48];	/* card_error, invalid_request_error, api_error, ... */
	char		 code[64];
	char		 decline_code[64];
	char		 param[128];
	char		 message[512];
	char		 charge[64];
	/* error.payment_intent (the object, inside the response's json) or NULL */
	const cJSON	*payment_intent;
};

struct stripe_response {
	enum stripe_outcome	 outcome;
	int			 status;	/* HTTP status of the last answer, 0 for none */
	int			 attempts;	/* requests sent, retries included */
	bool			 replayed;	/* Idempotent-Replayed: true */
	char			 request_id[64];
	cJSON			*json;		/* the parsed body: the object, or the error
						 * envelope; NULL when there was none */
	struct stripe_error	 error;
	char			 detail[256];	/* one line for logs: what happened, no secrets */
};

struct stripe_config {
	/* An administrator's setting: https://api.stripe.com in production. http:// is
	 * accepted only for 127.0.0.1, [::1] and localhost (a test stand-in). */
	const char	*base_url;
	const char	*secret_key;		/* sk_test_..., sk_live_..., rk_... */
	const char	*ca_file;		/* NULL: the system's CA store */
	long		 connect_timeout_ms;	/* 0: 5000 */
	long		 timeout_ms;		/* per attempt; 0: 30000 */
	int		 max_retries;		/* retries after the first attempt; -1: 2 */
	long		 retry_delay_ms;	/* first backoff, doubled each time; 0: 500 */
	long		 retry_delay_max_ms;	/* 0: 5000 */
};

struct stripe_client;

/* Checks the configuration (base URL, key shape) and prepares a libcurl handle. One client
 * per thread: requests on a client run one at a time and reuse its connection. */
struct stripe_client *stripe_client_new(const struct stripe_config *cfg, char *err,
	    size_t errlen);
/* Wipes the secret key from memory. */
void	stripe_client_free(struct stripe_client *c);

/*
 * Sends method ("GET", "POST" or "DELETE") to path ("/v1/payment_intents/pi_1/confirm":
 * letters, digits and _ - . / only) with form as the body (POST) or the query string (GET,
 * DELETE); form may be NULL. A POST needs an idempotency key, stable for the logical
 * operation (the same key and the same parameters on every retry, even across restarts):
 * without one nothing is sent and the answer is STRIPE_REFUSED.
 *
 * Retries, with the same key and exponential backoff with jitter, up to max_retries times:
 * network errors (not TLS verification failures), 409 and 429 (Retry-After honoured up to
 * the maximum delay), and whatever Stripe marks Stripe-Should-Retry: true. A 5xx is not
 * retried otherwise: Stripe saved it under the key, so a retry would replay it. 400, 401,
 * 402, 403 and 404 are never retried. Every retry is logged (method, path, status, request
 * id); the secret key and request bodies never are.
 *
 * out is overwritten (free an earlier answer in it first) and filled in every case; free it
 * with stripe_response_free.
 */
enum stripe_outcome stripe_request(struct stripe_client *c, const char *method,
	    const char *path, const struct stripe_form *form, const char *idempotency_key,
	    struct stripe_response *out);

void	stripe_response_init(struct stripe_response *r);
void	stripe_response_free(struct stripe_response *r);

/* true when Stripe may or may not have done what was asked. */
bool	stripe_outcome_unknown(enum stripe_outcome o);
const char *stripe_outcome_name(enum stripe_outcome o);

/* The id an answer names ("pi_..."), a string field, or NULL. */
const char *stripe_json_str(const cJSON *obj, const char *name);
/* true when s may be sent as an idempotency key: 1..255 printable ASCII, no spaces. */
bool	stripe_idempotency_key_valid(const char *s);

#endif
