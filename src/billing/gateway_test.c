/* gateway_test.c: the test gateway. Card numbers are classified and forgotten: only the
 * brand, last four digits, expiry and the behaviour are kept (in the gateway's own table). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing/billing.h"
#include "core/crypto.h"
#include "billing/gateway.h"
#include "billing/gateway_test.h"

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

/* Charge: looks the token up in the test gateway's vault and applies its behaviour. */
static int
test_charge(struct bctx *b, const char *token, long long amount, const char *currency,
    const char *idem, struct gateway_result *out)
{
	PGresult *tok = db_exec(b->db, STMT_GWTOKEN_GET, (const char *[]){ b->site_id, token });
	char hex[25];

	(void)amount;
	(void)currency;
	(void)idem;	/* the attempt row's unique key already makes a retry impossible */
	if (tok == NULL)
		return -1;
	out->outcome = PQntuples(tok) == 1 ? gateway_test_charge(db_val(tok, 0, 4),
	    (int)db_ll(tok, 0, 2, 1), (int)db_ll(tok, 0, 3, 1970), b->now) : "declined";
	PQclear(tok);
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0)
		return -1;
	snprintf(out->ref, sizeof(out->ref), "ch_test_%s", hex);
	return 0;
}

/* Refund: the test gateway refunds any of its own charges. */
static int
test_refund(struct bctx *b, const char *charge_ref, long long amount, const char *idem,
    struct gateway_result *out)
{
	char hex[25];

	(void)b;
	(void)amount;
	(void)idem;
	out->outcome = charge_ref != NULL && strncmp(charge_ref, "ch_test_", 8) == 0 ?
	    "succeeded" : "declined";
	if (crypto_random_hex(12, hex, sizeof(hex)) != 0)
		return -1;
	snprintf(out->ref, sizeof(out->ref), "re_test_%s", hex);
	return 0;
}

static const struct gateway test_gateway = { "test", test_charge, test_refund };

const struct gateway *
gateway_get(const char *name)
{
	return strcmp(name, "test") == 0 ? &test_gateway : NULL;
}
