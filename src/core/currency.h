/* currency.h: ISO 4217 currencies with their minor units, display formatting, and the
 * amounts Stripe expects, each from one committed table. */
#ifndef PORTALD_CURRENCY_H
#define PORTALD_CURRENCY_H

#include <stdbool.h>
#include <stddef.h>

/* What a code is: only CUR_LEGAL codes may be billed in. */
enum currency_kind {
	CUR_LEGAL,	/* a current circulating currency */
	CUR_WITHDRAWN,	/* replaced recently; kept so old amounts still format */
	CUR_FUND,	/* ISO "fund" codes: BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW */
	CUR_SPECIAL	/* metals, SDR, bond units, XSU, XUA, XTS, XXX (minor units N.A.) */
};

struct currency {
	const char	*code;		/* "USD": upper case, 3 letters */
	int		 minor_units;	/* 0..4, ISO's exponent (0 where ISO says N.A.) */
	enum currency_kind kind;
	const char	*symbol;	/* local symbol ("kr", "zł", "$" for CAD too), or NULL */
	const char	*prefix;	/* unambiguous symbol currency_format uses ("CA$"), or NULL */
	const char	*successor;	/* for CUR_WITHDRAWN: the code that replaced it */
	const char	*name;		/* ISO's English name */
	bool		 billable;	/* kind == CUR_LEGAL */
};

/* Longest text currency_format writes, NUL included. */
#define CURRENCY_FMT_MAX	48

/* The currency with exactly this code (upper case, 3 letters), or NULL. */
const struct currency *currency_get(const char *code);

/* Entry i of the table (in code order), or NULL past the end: for listings and tests. */
const struct currency *currency_at(size_t i);

/*
 * Writes an amount of minor units for people: a "-" for negatives, then the prefix
 * symbol (USD "$", EUR "€", GBP "£", JPY "¥", and the other symbols in the table's
 * prefix column, which are unambiguous on their own: "CA$", "CN¥", "₹") or else the
 * code and a space ("KWD "), then the major units with "," every three digits, then
 * "." and exactly minor_units digits. 123450 USD -> "$1,234.50", -500 EUR -> "-€5.00",
 * 1200 JPY -> "¥1,200", 1250 KWD -> "KWD 1.250". Every long long works, LLONG_MIN too.
 * Returns 0, or -1 for an unknown code or a buffer too small (out is then "").
 */
int	currency_format(long long minor, const char *code, char *out, size_t n);

/*
 * The integer Stripe's API expects for an amount of `minor` ISO minor units, for a
 * charge, PaymentIntent or refund (https://docs.stripe.com/currencies: zero-decimal,
 * three-decimal and special cases; see the table in currency.c). Refuses, with a
 * message in err: an unknown or unbillable code, a currency whose Stripe unit that
 * page does not give, a negative amount, an amount Stripe cannot take exactly (KWD
 * 1.235: three-decimal amounts must end in 0; MGA 1.50: Stripe charges whole ariary),
 * and more than Stripe's 12 digits. Returns 0 or -1.
 */
int	currency_stripe_amount(const char *code, long long minor, long long *out,
	    char *err, size_t errlen);

/* The reverse, for amounts Stripe reports (webhooks, refunds made in its dashboard). */
int	currency_stripe_to_minor(const char *code, long long stripe_amount, long long *out,
	    char *err, size_t errlen);

/*
 * Payouts differ from charges for HUF and TWD (whole units, so the Stripe amount must
 * be divisible by 100). Returns the divisor a Stripe payout amount must honour (1 when
 * none), or 0 for a code Stripe's page does not cover. Portald makes no payouts today;
 * this keeps the documented rule in the same table.
 */
int	currency_stripe_payout_step(const char *code);

#endif
