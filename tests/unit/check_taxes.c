/* check_taxes.c: the tax rounding rule (per line and rate, half up, in minor units),
 * inclusive and exclusive rates, the share of a gross amount, percentages, and the
 * reverse-charge decision. */
#include <string.h>

#include "billing/taxes.h"
#include "check_main.h"

static struct tax_ctx
ctx(int n, const long ppm[], const bool incl[])
{
	struct tax_ctx t;

	memset(&t, 0, sizeof(t));
	t.treatment = n > 0 ? TAX_TAXED : TAX_NONE;
	for (int i = 0; i < n; i++) {
		t.rates[i].ppm = ppm[i];
		t.rates[i].inclusive = incl[i];
	}
	t.n = n;
	return t;
}

START_TEST(muldiv_rounds_half_up)
{
	ck_assert_int_eq(taxes_muldiv(5, 1, 2), 3);		/* 2.5 */
	ck_assert_int_eq(taxes_muldiv(4, 1, 2), 2);
	ck_assert_int_eq(taxes_muldiv(7, 1, 2), 4);		/* 3.5 */
	ck_assert_int_eq(taxes_muldiv(1, 1, 3), 0);		/* 0.33 */
	ck_assert_int_eq(taxes_muldiv(2, 1, 3), 1);		/* 0.67 */
	ck_assert_int_eq(taxes_muldiv(0, 190000, 1000000), 0);
	/* No overflow at the API's largest amount times a whole rate. */
	ck_assert_int_eq(taxes_muldiv(100000000000LL, 1000000, 1000000), 100000000000LL);
	ck_assert_int_eq(taxes_muldiv(100000000000LL, 999999, 1000000), 99999900000LL);
}
END_TEST

START_TEST(exclusive_rate_is_added_and_rounded_per_line)
{
	struct tax_ctx t = ctx(1, (long[]){ 190000 }, (bool[]){ false });
	struct tax_amounts a;

	taxes_line(&t, 1000, &a);
	ck_assert_int_eq(a.tax[0], 190);
	ck_assert_int_eq(a.net, 1000);
	ck_assert_int_eq(a.gross, 1190);
	ck_assert_int_eq(a.excl, 190);
	taxes_line(&t, 105, &a);		/* 19.95 -> 20 */
	ck_assert_int_eq(a.tax[0], 20);
	taxes_line(&t, 2, &a);			/* 0.38 -> 0 */
	ck_assert_int_eq(a.tax[0], 0);
	taxes_line(&t, 3, &a);			/* 0.57 -> 1 */
	ck_assert_int_eq(a.tax[0], 1);
	t.rates[0].ppm = 10000;			/* 1% of 50 is exactly 0.5: up */
	taxes_line(&t, 50, &a);
	ck_assert_int_eq(a.tax[0], 1);
	taxes_line(&t, 49, &a);
	ck_assert_int_eq(a.tax[0], 0);
}
END_TEST

START_TEST(inclusive_rate_is_inside_the_price)
{
	struct tax_ctx t = ctx(1, (long[]){ 190000 }, (bool[]){ true });
	struct tax_amounts a;

	taxes_line(&t, 1190, &a);
	ck_assert_int_eq(a.net, 1000);
	ck_assert_int_eq(a.tax[0], 190);
	ck_assert_int_eq(a.gross, 1190);
	ck_assert_int_eq(a.excl, 0);
	taxes_line(&t, 1000, &a);		/* 840.34 -> 840 */
	ck_assert_int_eq(a.net, 840);
	ck_assert_int_eq(a.tax[0], 160);
	ck_assert_int_eq(a.net + a.tax[0], 1000);
	ck_assert_int_eq(a.gross, 1000);
	for (long long v = 0; v < 5000; v += 7) {
		taxes_line(&t, v, &a);
		ck_assert_int_eq(a.net + a.tax[0], v);
		ck_assert_int_ge(a.tax[0], 0);
	}
}
END_TEST

START_TEST(zero_and_three_decimal_currencies)
{
	struct tax_ctx jp = ctx(1, (long[]){ 100000 }, (bool[]){ true });
	struct tax_ctx kw = ctx(1, (long[]){ 50000 }, (bool[]){ false });
	struct tax_amounts a;

	taxes_line(&jp, 1200, &a);		/* ¥1,200 with 10% inside: ¥1,091 + ¥109 */
	ck_assert_int_eq(a.net, 1091);
	ck_assert_int_eq(a.tax[0], 109);
	taxes_line(&kw, 13750, &a);		/* KWD 13.750 + 5%: 0.6875 -> KWD 0.688 */
	ck_assert_int_eq(a.tax[0], 688);
	ck_assert_int_eq(a.gross, 14438);
}
END_TEST

START_TEST(stacked_rates_each_on_the_net)
{
	/* Canada (British Columbia): GST 5% and PST 7%, both exclusive. */
	struct tax_ctx t = ctx(2, (long[]){ 50000, 70000 }, (bool[]){ false, false });
	struct tax_ctx mix = ctx(2, (long[]){ 100000, 50000 }, (bool[]){ true, false });
	struct tax_ctx two = ctx(2, (long[]){ 50000, 99750 }, (bool[]){ true, true });
	struct tax_amounts a;

	taxes_line(&t, 999, &a);		/* 49.95 -> 50, 69.93 -> 70 */
	ck_assert_int_eq(a.tax[0], 50);
	ck_assert_int_eq(a.tax[1], 70);
	ck_assert_int_eq(a.gross, 1119);
	ck_assert_int_eq(a.tax_total, 120);
	taxes_line(&mix, 1100, &a);		/* net 1000: 100 inside, 50 added */
	ck_assert_int_eq(a.net, 1000);
	ck_assert_int_eq(a.tax[0], 100);
	ck_assert_int_eq(a.tax[1], 50);
	ck_assert_int_eq(a.gross, 1150);
	for (long long v = 1; v < 3000; v += 13) {
		taxes_line(&two, v, &a);	/* two inclusive rates add up to the price */
		ck_assert_int_eq(a.net + a.tax[0] + a.tax[1], v);
		ck_assert_int_ge(a.tax[0], 0);
		ck_assert_int_ge(a.tax[1], 0);
	}
}
END_TEST

START_TEST(no_tax_without_rates_or_with_reverse_charge)
{
	struct tax_ctx t = ctx(1, (long[]){ 190000 }, (bool[]){ false });
	struct tax_amounts a;

	t.treatment = TAX_REVERSE_CHARGE;
	taxes_line(&t, 1000, &a);
	ck_assert_int_eq(a.gross, 1000);
	ck_assert_int_eq(a.tax_total, 0);
	taxes_line(NULL, 1000, &a);
	ck_assert_int_eq(a.gross, 1000);
	taxes_share(&t, 1000, &a);
	ck_assert_int_eq(a.amount, 1000);
	ck_assert_int_eq(a.tax_total, 0);
}
END_TEST

START_TEST(share_of_a_gross_amount_is_exact)
{
	struct tax_ctx ex = ctx(1, (long[]){ 190000 }, (bool[]){ false });
	struct tax_ctx in = ctx(1, (long[]){ 190000 }, (bool[]){ true });
	struct tax_amounts a;

	taxes_share(&ex, 1190, &a);
	ck_assert_int_eq(a.tax[0], 190);
	ck_assert_int_eq(a.amount, 1000);
	ck_assert_int_eq(a.gross, 1190);
	taxes_share(&ex, 500, &a);		/* 79.83 -> 80 */
	ck_assert_int_eq(a.tax[0], 80);
	ck_assert_int_eq(a.amount, 420);
	taxes_share(&in, 1190, &a);		/* the amount keeps its inclusive tax */
	ck_assert_int_eq(a.tax[0], 190);
	ck_assert_int_eq(a.amount, 1190);
	ck_assert_int_eq(a.net, 1000);
	for (long long g = 1; g < 4000; g += 11) {
		taxes_share(&ex, g, &a);
		ck_assert_int_eq(a.amount + a.excl, g);
	}
}
END_TEST

START_TEST(percentages)
{
	static const struct {
		const char	*in;
		long		 ppm;
		const char	*out;
	} good[] = {
		{ "19", 190000, "19" }, { "7.375", 73750, "7.375" }, { "0", 0, "0" },
		{ "100", 1000000, "100" }, { "0.5", 5000, "0.5" }, { "8.8750", 88750, "8.875" },
		{ "0.0001", 1, "0.0001" }, { "19.00", 190000, "19" },
	};
	static const char *const bad[] = {
		"", "-1", "+5", "1e2", ".5", "5.", "19.12345", "100.0001", "1000", "19,5", " 19",
		"19 ", "abc",
	};
	char out[24];
	long ppm;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(taxes_parse_percentage(good[i].in, &ppm) == 0, "%s", good[i].in);
		ck_assert_int_eq(ppm, good[i].ppm);
		taxes_format_percentage(ppm, out);
		ck_assert_str_eq(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(taxes_parse_percentage(bad[i], &ppm) == -1, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(reverse_charge_decision)
{
	const char *fr_ids = "[{\"type\":\"eu_vat\",\"value\":\"FR23334175221\"}]";
	const char *gb_ids = "[{\"type\":\"gb_vat\",\"value\":\"GB980780684\"}]";
	struct tax_parties p;

	/* A German business buying from a French seller. */
	p = (struct tax_parties){ "eu_vat", "DE136695976", NULL, fr_ids };
	ck_assert(taxes_reverse_charge(&p));
	/* The seller's own VAT id beats its address. */
	p = (struct tax_parties){ "eu_vat", "DE136695976", "DE", fr_ids };
	ck_assert(taxes_reverse_charge(&p));
	/* Same member state: domestic VAT. */
	p = (struct tax_parties){ "eu_vat", "FR4Z123456782", NULL, fr_ids };
	ck_assert(!taxes_reverse_charge(&p));
	/* A seller outside the EU (its address only): the recipient accounts for VAT. */
	p = (struct tax_parties){ "eu_vat", "DE136695976", "US", "[]" };
	ck_assert(taxes_reverse_charge(&p));
	p = (struct tax_parties){ "eu_vat", "IE6433435F", NULL, gb_ids };
	ck_assert(!taxes_reverse_charge(&p));	/* no EU id, no address: country unknown */
	p = (struct tax_parties){ "eu_vat", "IE6433435F", "GB", gb_ids };
	ck_assert(taxes_reverse_charge(&p));
	/* Northern Ireland's XI numbers are not EU VAT for services. */
	p = (struct tax_parties){ "eu_vat", "XI980780684", NULL, fr_ids };
	ck_assert(!taxes_reverse_charge(&p));
	/* No business id, or another kind of id: the rates apply. */
	p = (struct tax_parties){ NULL, NULL, NULL, fr_ids };
	ck_assert(!taxes_reverse_charge(&p));
	p = (struct tax_parties){ "gb_vat", "GB980780684", NULL, fr_ids };
	ck_assert(!taxes_reverse_charge(&p));
	/* Seller unknown: no reverse charge. */
	p = (struct tax_parties){ "eu_vat", "DE136695976", NULL, NULL };
	ck_assert(!taxes_reverse_charge(&p));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("taxes");
	TCase *tc = tcase_create("taxes");

	tcase_add_test(tc, muldiv_rounds_half_up);
	tcase_add_test(tc, exclusive_rate_is_added_and_rounded_per_line);
	tcase_add_test(tc, inclusive_rate_is_inside_the_price);
	tcase_add_test(tc, zero_and_three_decimal_currencies);
	tcase_add_test(tc, stacked_rates_each_on_the_net);
	tcase_add_test(tc, no_tax_without_rates_or_with_reverse_charge);
	tcase_add_test(tc, share_of_a_gross_amount_is_exact);
	tcase_add_test(tc, percentages);
	tcase_add_test(tc, reverse_charge_decision);
	suite_add_tcase(s, tc);
	return s;
}
