/* check_currency.c: the ISO 4217 table, display formatting and Stripe's amount rules. */
#include <limits.h>
#include <string.h>

#include "check_main.h"
#include "core/currency.h"

static int
minor_units(const char *code)
{
	const struct currency *c = currency_get(code);

	ck_assert_msg(c != NULL, "%s is missing", code);
	return c->minor_units;
}

START_TEST(table_is_sorted_unique_and_well_formed)
{
	const struct currency *c, *prev = NULL;
	size_t n = 0;

	for (size_t i = 0; (c = currency_at(i)) != NULL; i++, n++) {
		ck_assert_uint_eq(strlen(c->code), 3);
		for (int k = 0; k < 3; k++)
			ck_assert(c->code[k] >= 'A' && c->code[k] <= 'Z');
		ck_assert(c->minor_units >= 0 && c->minor_units <= 4);
		ck_assert(c->billable == (c->kind == CUR_LEGAL));
		ck_assert(c->name != NULL && c->name[0] != '\0');
		ck_assert((c->successor != NULL) == (c->kind == CUR_WITHDRAWN));
		if (prev != NULL)
			ck_assert_msg(strcmp(prev->code, c->code) < 0, "%s before %s", prev->code,
			    c->code);
		ck_assert_ptr_eq(currency_get(c->code), c);
		prev = c;
	}
	ck_assert(n >= 170 && n <= 190);
}
END_TEST

START_TEST(minor_units_follow_iso)
{
	static const char *zero[] = { "JPY", "ISK", "KRW", "VND", "XAF", "XOF", "XPF", "UGX",
	    "PYG", "RWF", "KMF", "GNF", "DJF", "BIF", "VUV", "CLP" };
	static const char *three[] = { "KWD", "BHD", "JOD", "OMR", "TND", "LYD", "IQD" };

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		ck_assert_msg(minor_units(zero[i]) == 0, "%s", zero[i]);
	for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
		ck_assert_msg(minor_units(three[i]) == 3, "%s", three[i]);
	ck_assert_int_eq(minor_units("USD"), 2);
	ck_assert_int_eq(minor_units("EUR"), 2);
	ck_assert_int_eq(minor_units("MGA"), 2);
	ck_assert_int_eq(minor_units("HUF"), 2);
	ck_assert_int_eq(minor_units("CLF"), 4);
	ck_assert_int_eq(minor_units("UYW"), 4);
}
END_TEST

START_TEST(current_codes_are_billable_and_replaced_ones_are_not)
{
	static const char *current[] = { "SLE", "VES", "VED", "ZWG", "XCG", "MRU", "STN",
	    "USD", "EUR", "CHF", "SSP" };
	static const char *gone[] = { "HRK", "SLL", "ZWL", "MRO", "STD", "VEF", "BYR", "LTL" };

	for (size_t i = 0; i < sizeof(current) / sizeof(current[0]); i++) {
		const struct currency *c = currency_get(current[i]);

		ck_assert_msg(c != NULL && c->billable, "%s", current[i]);
	}
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		ck_assert_msg(currency_get(gone[i]) == NULL, "%s", gone[i]);
	ck_assert_str_eq(currency_get("ANG")->successor, "XCG");
	ck_assert(!currency_get("ANG")->billable);
	ck_assert_str_eq(currency_get("BGN")->successor, "EUR");
	ck_assert(!currency_get("BGN")->billable);
	ck_assert(!currency_get("CUC")->billable);
}
END_TEST

START_TEST(fund_metal_and_test_codes_are_not_billable)
{
	static const char *codes[] = { "XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XBA", "XBB",
	    "XBC", "XBD", "XDR", "XSU", "XUA", "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN",
	    "UYI", "UYW" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const struct currency *c = currency_get(codes[i]);

		ck_assert_msg(c != NULL && !c->billable, "%s", codes[i]);
		ck_assert(c->kind == CUR_FUND || c->kind == CUR_SPECIAL);
	}
}
END_TEST

START_TEST(lookup_wants_exact_upper_case_codes)
{
	ck_assert_ptr_null(currency_get("usd"));
	ck_assert_ptr_null(currency_get("Usd"));
	ck_assert_ptr_null(currency_get("US"));
	ck_assert_ptr_null(currency_get("USDX"));
	ck_assert_ptr_null(currency_get("U$D"));
	ck_assert_ptr_null(currency_get(""));
	ck_assert_ptr_null(currency_get(NULL));
	ck_assert_ptr_null(currency_get("ABC"));
	ck_assert_str_eq(currency_get("USD")->symbol, "$");
	ck_assert_str_eq(currency_get("SEK")->symbol, "kr");
	ck_assert_ptr_null(currency_get("SEK")->prefix);
}
END_TEST

static void
fmt_is(long long minor, const char *code, const char *want)
{
	char out[CURRENCY_FMT_MAX];

	ck_assert_int_eq(currency_format(minor, code, out, sizeof(out)), 0);
	ck_assert_str_eq(out, want);
}

START_TEST(format_examples)
{
	fmt_is(123450, "USD", "$1,234.50");
	fmt_is(-500, "EUR", "-€5.00");
	fmt_is(1200, "JPY", "¥1,200");
	fmt_is(1250, "KWD", "KWD 1.250");
	fmt_is(1999, "GBP", "£19.99");
	fmt_is(0, "USD", "$0.00");
	fmt_is(5, "USD", "$0.05");
	fmt_is(-5, "USD", "-$0.05");
	fmt_is(99999, "USD", "$999.99");
	fmt_is(100000, "USD", "$1,000.00");
	fmt_is(999, "JPY", "¥999");
	fmt_is(1000000, "JPY", "¥1,000,000");
	fmt_is(-1200, "JPY", "-¥1,200");
	fmt_is(123456, "CAD", "CA$1,234.56");
	fmt_is(123456, "CNY", "CN¥1,234.56");
	fmt_is(123456, "SEK", "SEK 1,234.56");
	fmt_is(12345, "CLF", "CLF 1.2345");
	fmt_is(1, "BHD", "BHD 0.001");
	fmt_is(123456789, "XOF", "XOF 123,456,789");
}
END_TEST

START_TEST(format_extremes_do_not_overflow)
{
	fmt_is(LLONG_MAX, "USD", "$92,233,720,368,547,758.07");
	fmt_is(LLONG_MIN, "USD", "-$92,233,720,368,547,758.08");
	fmt_is(LLONG_MIN, "JPY", "-¥9,223,372,036,854,775,808");
	fmt_is(LLONG_MIN, "CLF", "-CLF 922,337,203,685,477.5808");
	fmt_is(LLONG_MAX, "KWD", "KWD 9,223,372,036,854,775.807");
}
END_TEST

START_TEST(format_refuses_unknown_codes_and_short_buffers)
{
	char out[CURRENCY_FMT_MAX], small[6];

	strcpy(out, "junk");
	ck_assert_int_eq(currency_format(100, "ABC", out, sizeof(out)), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(currency_format(100, "usd", out, sizeof(out)), -1);
	ck_assert_int_eq(currency_format(123450, "USD", small, sizeof(small)), -1);
	ck_assert_str_eq(small, "");
	ck_assert_int_eq(currency_format(0, "USD", small, 0), -1);
	/* Exactly enough room ("$1.00" plus NUL) is enough. */
	ck_assert_int_eq(currency_format(100, "USD", small, sizeof(small)), 0);
	ck_assert_str_eq(small, "$1.00");
}
END_TEST

static long long
stripe_ok(const char *code, long long minor)
{
	long long v = -1;
	char err[160] = "";

	ck_assert_msg(currency_stripe_amount(code, minor, &v, err, sizeof(err)) == 0,
	    "%s %lld: %s", code, minor, err);
	return v;
}

static void
stripe_refused(const char *code, long long minor, const char *part)
{
	long long v = 42;
	char err[160] = "";

	ck_assert_int_eq(currency_stripe_amount(code, minor, &v, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, part) != NULL, "%s %lld: '%s' lacks '%s'", code, minor, err,
	    part);
	ck_assert_int_eq(v, 42);
}

START_TEST(stripe_two_decimal_currencies_pass_through)
{
	ck_assert_int_eq(stripe_ok("USD", 1099), 1099);
	ck_assert_int_eq(stripe_ok("EUR", 0), 0);
	ck_assert_int_eq(stripe_ok("GBP", 30), 30);
	ck_assert_int_eq(stripe_ok("USD", 999999999999LL), 999999999999LL);
	stripe_refused("USD", 1000000000000LL, "12-digit");
	stripe_refused("USD", -1, "negative");
	stripe_refused("USD", LLONG_MIN, "negative");
}
END_TEST

START_TEST(stripe_zero_decimal_list_is_whole_units)
{
	static const char *codes[] = { "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "PYG",
	    "RWF", "VND", "VUV", "XAF", "XOF", "XPF" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		ck_assert_int_eq(stripe_ok(codes[i], 500), 500);
}
END_TEST

START_TEST(stripe_mga_is_zero_decimal_though_iso_has_two)
{
	ck_assert_int_eq(stripe_ok("MGA", 150000), 1500);
	stripe_refused("MGA", 150050, "whole");
	ck_assert_int_eq(stripe_ok("MGA", 0), 0);
}
END_TEST

START_TEST(stripe_three_decimal_amounts_must_end_in_zero)
{
	static const char *codes[] = { "BHD", "JOD", "KWD", "OMR", "TND" };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		ck_assert_int_eq(stripe_ok(codes[i], 5120), 5120);
		stripe_refused(codes[i], 5124, "end in 0");
	}
	stripe_refused("KWD", 5124, "KWD 5.124");
}
END_TEST

START_TEST(stripe_isk_is_sent_as_two_decimals)
{
	ck_assert_int_eq(stripe_ok("ISK", 5), 500);
	ck_assert_int_eq(stripe_ok("ISK", 9999999999LL), 999999999900LL);
	stripe_refused("ISK", 10000000000LL, "12-digit");
	stripe_refused("ISK", LLONG_MAX, "12-digit");
}
END_TEST

START_TEST(stripe_ugx_follows_its_special_case_not_the_zero_decimal_list)
{
	/* docs.stripe.com/currencies: "to charge 5 UGX, provide an amount value of 500". */
	ck_assert_int_eq(stripe_ok("UGX", 5), 500);
	ck_assert_int_eq(stripe_ok("UGX", 12000), 1200000);
}
END_TEST

START_TEST(stripe_huf_and_twd_charge_two_decimals_and_pay_out_whole_units)
{
	ck_assert_int_eq(stripe_ok("HUF", 1045), 1045);
	ck_assert_int_eq(stripe_ok("TWD", 80045), 80045);
	ck_assert_int_eq(currency_stripe_payout_step("HUF"), 100);
	ck_assert_int_eq(currency_stripe_payout_step("TWD"), 100);
	ck_assert_int_eq(currency_stripe_payout_step("ISK"), 100);
	ck_assert_int_eq(currency_stripe_payout_step("USD"), 1);
	ck_assert_int_eq(currency_stripe_payout_step("KWD"), 10);
	ck_assert_int_eq(currency_stripe_payout_step("IQD"), 0);
	ck_assert_int_eq(currency_stripe_payout_step("XXX"), 0);
}
END_TEST

START_TEST(stripe_refuses_what_its_page_does_not_cover)
{
	stripe_refused("IQD", 1000, "does not document");
	stripe_refused("LYD", 1000, "does not document");
	stripe_refused("BGN", 1000, "replaced by EUR");
	stripe_refused("XAU", 1, "cannot be charged");
	stripe_refused("CLF", 1, "cannot be charged");
	stripe_refused("ABC", 1, "not an ISO 4217");
	stripe_refused("usd", 1, "not an ISO 4217");
}
END_TEST

START_TEST(stripe_amounts_convert_back)
{
	long long v;
	char err[160];

	ck_assert_int_eq(currency_stripe_to_minor("ISK", 500, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(currency_stripe_to_minor("UGX", 1200000, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 12000);
	ck_assert_int_eq(currency_stripe_to_minor("ISK", 550, &v, err, sizeof(err)), -1);
	ck_assert(strstr(err, "not a whole number") != NULL);
	ck_assert_int_eq(currency_stripe_to_minor("MGA", 1500, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 150000);
	ck_assert_int_eq(currency_stripe_to_minor("KWD", 5120, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 5120);
	ck_assert_int_eq(currency_stripe_to_minor("JPY", 500, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 500);
	ck_assert_int_eq(currency_stripe_to_minor("USD", -1, &v, err, sizeof(err)), -1);
	ck_assert_int_eq(currency_stripe_to_minor("IQD", 1, &v, err, sizeof(err)), -1);
	/* Every billable currency Stripe covers survives the round trip. */
	for (size_t i = 0; currency_at(i) != NULL; i++) {
		const struct currency *c = currency_at(i);
		long long s, back;

		if (currency_stripe_amount(c->code, 1000000, &s, err, sizeof(err)) != 0)
			continue;
		ck_assert_int_eq(currency_stripe_to_minor(c->code, s, &back, err, sizeof(err)), 0);
		ck_assert_msg(back == 1000000, "%s", c->code);
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("currency");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, table_is_sorted_unique_and_well_formed);
	tcase_add_test(tc, minor_units_follow_iso);
	tcase_add_test(tc, current_codes_are_billable_and_replaced_ones_are_not);
	tcase_add_test(tc, fund_metal_and_test_codes_are_not_billable);
	tcase_add_test(tc, lookup_wants_exact_upper_case_codes);
	tcase_add_test(tc, format_examples);
	tcase_add_test(tc, format_extremes_do_not_overflow);
	tcase_add_test(tc, format_refuses_unknown_codes_and_short_buffers);
	tcase_add_test(tc, stripe_two_decimal_currencies_pass_through);
	tcase_add_test(tc, stripe_zero_decimal_list_is_whole_units);
	tcase_add_test(tc, stripe_mga_is_zero_decimal_though_iso_has_two);
	tcase_add_test(tc, stripe_three_decimal_amounts_must_end_in_zero);
	tcase_add_test(tc, stripe_isk_is_sent_as_two_decimals);
	tcase_add_test(tc, stripe_ugx_follows_its_special_case_not_the_zero_decimal_list);
	tcase_add_test(tc, stripe_huf_and_twd_charge_two_decimals_and_pay_out_whole_units);
	tcase_add_test(tc, stripe_refuses_what_its_page_does_not_cover);
	tcase_add_test(tc, stripe_amounts_convert_back);
	suite_add_tcase(s, tc);
	return s;
}
