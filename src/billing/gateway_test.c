/* gateway_test.c: the test gateway. Card numbers are classified and forgotten: only the
 * brand, last four digits, expiry and the behaviour are kept (in the gateway's own table).
 * Like a real gateway it keeps what it was asked under the idempotency key, so a repeated
 * key returns the first answer and a lost answer can be looked up. Its statements run on
 * the caller's connection outside any transaction, as a network call would. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	{ "4000000000000259", "visa", "slow" },
	{ "4000002760003184", "visa", "authenticate" },	/* every charge needs 3-D Secure */
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

bool
gateway_test_expired(int exp_month, int exp_year, long long now)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	/* A card is good through the last day of its expiry month, on the site's clock. */
	return tm.tm_year + 1900 > exp_year ||
	    (tm.tm_year + 1900 == exp_year && tm.tm_mon + 1 > exp_month);
}

const char *
gateway_test_charge(const char *behavior, int exp_month, int exp_year, long long now)
{
	if (gateway_test_expired(exp_month, exp_year, now))
		return "expired_card";
	if (strcmp(behavior, "succeed") == 0 || strcmp(behavior, "slow") == 0)
		return "succeeded";
	if (strcmp(behavior, "insufficient_funds") == 0)
		return "insufficient_funds";
	if (strcmp(behavior, "expired_card") == 0)
		return "expired_card";
	if (strcmp(behavior, "authenticate") == 0)
		return "authentication_required";
	return "declined";
}

static void
result_from(const char *outcome, const char *ref, struct gw_result *out)
{
	memset(out, 0, sizeof(*out));
	out->outcome = strcmp(outcome, "succeeded") == 0 ? GW_SUCCEEDED :
	    strcmp(outcome, "authentication_required") == 0 ? GW_REQUIRES_ACTION : GW_DECLINED;
	snprintf(out->code, sizeof(out->code), "%s", outcome);
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
}

/* A repeated key: the first answer. 1 found, 0 not, -1 error. */
static int
recorded(struct dctx *d, const char *idem, struct gw_result *out, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_TGW_CHARGE_GET, (const char *[]){ d->site.id, idem });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	if (n == 1)
		result_from(db_val(res, 0, TGW_OUTCOME), db_val(res, 0, TGW_REF), out);
	PQclear(res);
	return n;
}

/* Keeps the answer under its key. Two callers racing with one key (two runners resolving
 * the same lost answer): the first answer wins and the second caller gets it (*out). */
static int
record(struct dctx *d, const char *kind, const char *idem, const char *token,
    long long amount, const char *currency, const char *outcome, const char *ref,
    struct gw_result *out, struct derr *e)
{
	char a[2][24];
	PGresult *res;
	int won;

	/* Gateway calls run outside transactions (the ruling); the insert turns off the
	 * commit's wait for the disk for its own transaction, which must be only itself. */
	assert(!d->db->in_txn);
	res = db_exec(d->db, STMT_TGW_CHARGE_INSERT, (const char *[]){ d->site.id, idem, kind,
	    token, buf_lltoa(amount, a[0]), currency, outcome, ref, buf_lltoa(d->now, a[1]) });
	if (res == NULL)
		return derr_db(e, d->db);
	won = PQntuples(res);
	PQclear(res);
	if (won)
		result_from(outcome, ref, out);
	else if (recorded(d, idem, out, e) != 1)
		return -1;
	return won ? 0 : 1;
}

static int
test_charge(struct dctx *d, const struct gw_charge *c, struct gw_result *out, struct derr *e)
{
	PGresult *tok;
	const char *outcome;
	char ref[DOM_ID_MAX];
	bool slow = false;
	int found;

	/* No look-up of the key first: a repeat loses the insert below and gets the answer
	 * recorded under its key (record()), as a remote gateway answers it. */
	tok = db_exec(d->db, STMT_GWTOKEN_GET, (const char *[]){ d->site.id, c->token });
	if (tok == NULL)
		return derr_db(e, d->db);
	outcome = PQntuples(tok) == 1 ? gateway_test_charge(db_val(tok, 0, GWT_BEHAVIOR),
	    (int)db_ll(tok, 0, GWT_EXP_MONTH, 1), (int)db_ll(tok, 0, GWT_EXP_YEAR, 1970), d->now) :
	    "declined";
	slow = PQntuples(tok) == 1 && strcmp(db_val(tok, 0, GWT_BEHAVIOR), "slow") == 0;
	PQclear(tok);
	if (dom_new_id("ch_test", ref, e) != 0)
		return -1;
	found = record(d, "charge", c->idem, c->token, c->amount, c->currency, outcome, ref,
	    out, e);
	if (found < 0)
		return -1;
	/* The "slow" card answers after three seconds, with the charge already made: the
	 * window in which tests kill the caller to prove a lost answer is recovered. */
	if (slow && found == 0)
		sleep(3);
	return 0;
}

static int
test_retrieve(struct dctx *d, const char *kind, const char *idem, const char *ref,
    struct gw_result *out, struct derr *e)
{
	int found;

	(void)kind;
	(void)ref;
	found = recorded(d, idem, out, e);
	if (found < 0)
		return -1;
	if (found == 0) {
		memset(out, 0, sizeof(*out));
		out->outcome = GW_NOT_FOUND;
	}
	return 0;
}

static int
test_refund(struct dctx *d, const char *charge_ref, long long amount, const char *currency,
    const char *idem, struct gw_result *out, struct derr *e)
{
	char ref[DOM_ID_MAX];
	const char *outcome;

	/* A repeated key gets its first answer from record(). */
	outcome = charge_ref != NULL && strncmp(charge_ref, "ch_test_", 8) == 0 ?
	    "succeeded" : "declined";
	if (dom_new_id("re_test", ref, e) != 0 ||
	    record(d, "refund", idem, NULL, amount, currency, outcome, ref, out, e) < 0)
		return -1;
	return 0;
}

/* The number is classified and forgotten: the token keeps the card's brand, last four
 * digits, expiry and behaviour (test sites only). */
int
gateway_test_tokenize(struct dctx *d, const char *number, int exp_month, int exp_year,
    char token[DOM_ID_MAX], char brand[16], struct derr *e)
{
	struct test_card card;
	const char *why;
	char a[3][24];
	PGresult *res;

	if (strcmp(d->site.mode, "test") != 0)
		return derr_set(e, DERR_INVALID, "live_site", NULL,
		    "The test gateway serves test sites only.");
	if ((why = gateway_test_card(number, &card)) != NULL)
		return derr_set(e, DERR_INVALID, "invalid_number", "number", "number %s.", why);
	if (dom_new_id("tok", token, e) != 0)
		return -1;
	snprintf(brand, 16, "%s", card.brand);
	res = db_exec(d->db, STMT_GWTOKEN_INSERT, (const char *[]){ d->site.id, token,
	    card.brand, card.last4, buf_lltoa(exp_month, a[0]), buf_lltoa(exp_year, a[1]),
	    card.behavior, buf_lltoa(d->now, a[2]) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	return 0;
}

/* Cards are typed into the portal's own form and tokenized here. */
const struct gateway gateway_test = { "test", test_charge, test_retrieve, test_refund,
	gateway_test_tokenize };
