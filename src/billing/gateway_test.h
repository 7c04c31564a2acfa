/* gateway_test.h: the built-in test payment gateway and its documented test cards. */
#ifndef PORTALD_GATEWAY_TEST_H
#define PORTALD_GATEWAY_TEST_H

#include <stdbool.h>

#include "billing/gateway.h"

extern const struct gateway gateway_test;

struct test_card {
	const char	*brand;
	char		 last4[5];
	const char	*behavior;	/* succeed, decline, insufficient_funds, expired_card,
					 * attach_then_decline, slow */
};

/* Classifies a test card number; returns NULL, or why it is not a test card. */
const char *gateway_test_card(const char *number, struct test_card *out);
/* true once the site's clock (now) is past the card's expiry month. */
bool	gateway_test_expired(int exp_month, int exp_year, long long now);
/* The outcome of charging a card with this behavior and expiry at time now:
 * "succeeded", "declined", "insufficient_funds" or "expired_card". */
const char *gateway_test_charge(const char *behavior, int exp_month, int exp_year,
	    long long now);
/* The test gateway's tokenizer: a token for a test card number, kept with its brand,
 * last four digits, expiry and behaviour. DERR_INVALID on a live site or a number that is
 * not a test card. */
int	gateway_test_tokenize(struct dctx *d, const char *number, int exp_month, int exp_year,
	    char token[DOM_ID_MAX], char brand[16], struct derr *e);

#endif
