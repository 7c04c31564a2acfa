/* gateway_test.c: the test gateway. Card numbers are classified and forgotten: only the
 * brand, last four digits, expiry and the behaviour are kept (in the gateway's own table). */
#include <string.h>
#include <time.h>

#include "gateway_test.h"

static const struct {
	const char *number, *brand, *behavior;
} cards[] = {
	{ "4242424242424242", "visa", "succeed" },
	{ "5555555555554444", "mastercard", "succeed" },
	{ "4000000000000002", "visa", "decline" },
	{ "4000000000009995", "visa", "insufficient_funds" },
	{ "4000000000000069", "visa", "expired_card" },
	{ "4000000000000341", "visa", "attach_then_decline" },
};

const char *
gateway_test_card(const char *number, struct test_card *out)
{
	for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
		if (strcmp(cards[i].number, number) == 0) {
			out->brand = cards[i].brand;
			memcpy(out->last4, number + strlen(number) - 4, 5);
			out->behavior = cards[i].behavior;
			return NULL;
		}
	}
	return "is not one of the test gateway's test cards (see the README)";
}

const char *
gateway_test_charge(const char *behavior, int exp_month, int exp_year, long long now)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	/* A card is good through the last day of its expiry month, on the site's clock. */
	if (tm.tm_year + 1900 > exp_year ||
	    (tm.tm_year + 1900 == exp_year && tm.tm_mon + 1 > exp_month))
		return "expired_card";
	if (strcmp(behavior, "succeed") == 0)
		return "succeeded";
	if (strcmp(behavior, "insufficient_funds") == 0)
		return "insufficient_funds";
	if (strcmp(behavior, "expired_card") == 0)
		return "expired_card";
	return "declined";
}
