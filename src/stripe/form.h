/* form.h: Stripe's request parameters: form-encoded pairs with nested keys, encoded byte for
 * byte as the official stripe-node SDK encodes them. */
#ifndef PORTALD_STRIPE_FORM_H
#define PORTALD_STRIPE_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * Stripe's v1 API takes application/x-www-form-urlencoded bodies (and query strings for GET)
 * whose keys name nested fields with brackets: metadata[invoice]=inv_1,
 * automatic_payment_methods[enabled]=true, payment_method_types[0]=card, expand[0]=setup_intent.
 *
 * A form is an ordered list of pairs; the order is kept, so the same calls give the same
 * bytes (Stripe compares the parameters of a retried idempotent request with the first).
 * Encoding follows stripe-node: every byte outside A-Z a-z 0-9 - _ . ~ is percent-encoded
 * with upper-case hex (UTF-8 bytes one by one, a space as %20, never '+'), except '[' and
 * ']', which stay literal in keys and values alike. Lists use indices (key[0], key[1]).
 *
 * The add functions return 0, or -1 (nothing added) for a key that is not Stripe's shape
 * (a name, then bracketed parts without brackets inside: "a", "a[b]", "a[b][0]", "a[]"),
 * a key or value that is not well-formed UTF-8, or a form past STRIPE_FORM_MAX_PAIRS.
 */
#define STRIPE_FORM_MAX_PAIRS	512

struct stripe_form;

struct stripe_form *stripe_form_new(void);
void	stripe_form_free(struct stripe_form *f);

/* key=value, key as Stripe spells it ("metadata[invoice]"); value "" clears a field. */
int	stripe_form_add(struct stripe_form *f, const char *key, const char *value);
int	stripe_form_add_int(struct stripe_form *f, const char *key, long long value);
/* "true" / "false", as Stripe's booleans are written. */
int	stripe_form_add_bool(struct stripe_form *f, const char *key, bool value);
/* key[sub]=value, for hashes such as metadata (key may be nested itself:
 * "setup_intent_data[metadata]"); sub may hold any character but brackets. */
int	stripe_form_add_sub(struct stripe_form *f, const char *key, const char *sub,
	    const char *value);
/* Appends value to the list key: key[0]=value, then key[1]=..., counted per key. */
int	stripe_form_push(struct stripe_form *f, const char *key, const char *value);

size_t	stripe_form_count(const struct stripe_form *f);
/* Appends the encoded pairs, joined by '&', to out (nothing for an empty or NULL form). */
void	stripe_form_encode(const struct stripe_form *f, struct buf *out);
/* Appends s percent-encoded as stripe-node encodes one key or value. */
void	stripe_form_escape(struct buf *out, const char *s);
/* true when key has Stripe's shape (see above). */
bool	stripe_form_key_valid(const char *key);

#endif
