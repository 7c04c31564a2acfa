/* check_billing.c: calendar-correct terms, the proration rounding rule, test cards, and
 * the subscription state machine's table. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "billing/events.h"
#include "billing/gateway_test.h"
#include "billing/subscriptions.h"
#include "billing/terms.h"
#include "check_main.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"

static long long
ts(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 10 };

	return (long long)timegm(&tm);
}

START_TEST(month_end_clamps_and_returns_to_anchor)
{
	long long t = ts(2027, 1, 31);

	t = terms_add(t, "month", 1, 31);
	ck_assert_int_eq(t, ts(2027, 2, 28));
	t = terms_add(t, "month", 1, 31);
	ck_assert_int_eq(t, ts(2027, 3, 31));	/* back to the 31st */
	t = terms_add(t, "month", 1, 31);
	ck_assert_int_eq(t, ts(2027, 4, 30));
}
END_TEST

START_TEST(leap_february_has_29_days)
{
	ck_assert_int_eq(terms_add(ts(2028, 1, 31), "month", 1, 31), ts(2028, 2, 29));
	ck_assert_int_eq(terms_add(ts(2028, 2, 29), "year", 1, 29), ts(2029, 2, 28));
	ck_assert_int_eq(terms_add(ts(2029, 2, 28), "year", 3, 29), ts(2032, 2, 29));
}
END_TEST

START_TEST(months_cross_years)
{
	ck_assert_int_eq(terms_add(ts(2027, 11, 15), "month", 3, 15), ts(2028, 2, 15));
	ck_assert_int_eq(terms_add(ts(2027, 12, 31), "month", 1, 31), ts(2028, 1, 31));
}
END_TEST

START_TEST(days_and_weeks_are_exact_seconds)
{
	ck_assert_int_eq(terms_add(1000, "day", 2, 1), 1000 + 2 * 86400);
	ck_assert_int_eq(terms_add(1000, "week", 1, 1), 1000 + 7 * 86400);
}
END_TEST

START_TEST(proration_rounds_half_up)
{
	ck_assert_int_eq(terms_prorate(1000, 1, 2), 500);
	ck_assert_int_eq(terms_prorate(1001, 1, 2), 501);	/* 500.5 -> 501 */
	ck_assert_int_eq(terms_prorate(1000, 1, 3), 333);	/* 333.33 -> 333 */
	ck_assert_int_eq(terms_prorate(1000, 2, 3), 667);	/* 666.67 -> 667 */
	ck_assert_int_eq(terms_prorate(1000, 0, 3), 0);
	ck_assert_int_eq(terms_prorate(1000, 5, 3), 1000);	/* never more than the whole */
	ck_assert_int_eq(terms_prorate(100000000000LL, 2592000, 2592001), 99999961420LL);
}
END_TEST

START_TEST(test_cards_have_documented_outcomes)
{
	struct test_card card;
	long long now = ts(2027, 6, 1);

	ck_assert_ptr_null(gateway_test_card("4242424242424242", &card));
	ck_assert_str_eq(card.last4, "4242");
	ck_assert_str_eq(gateway_test_charge(card.behavior, 12, 2030, now), "succeeded");
	ck_assert_ptr_null(gateway_test_card("4000000000000002", &card));
	ck_assert_str_eq(gateway_test_charge(card.behavior, 12, 2030, now), "declined");
	ck_assert_ptr_null(gateway_test_card("4000000000009995", &card));
	ck_assert_str_eq(gateway_test_charge(card.behavior, 12, 2030, now), "insufficient_funds");
	ck_assert_ptr_null(gateway_test_card("4000000000000069", &card));
	ck_assert_str_eq(gateway_test_charge(card.behavior, 12, 2030, now), "expired_card");
	ck_assert_ptr_nonnull(gateway_test_card("4111111111111111", &card));
}
END_TEST

START_TEST(cards_expire_after_their_month)
{
	ck_assert_str_eq(gateway_test_charge("succeed", 6, 2027, ts(2027, 6, 30)), "succeeded");
	ck_assert_str_eq(gateway_test_charge("succeed", 6, 2027, ts(2027, 7, 1)), "expired_card");
}
END_TEST

START_TEST(internal_addresses_are_recognised)
{
	const char *internal[] = { "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255",
	    "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::",
	    "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not-an-ip", "224.0.0.1" };
	const char *external[] = { "93.184.216.34", "172.32.0.1", "8.8.8.8",
	    "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1" };

	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		ck_assert_msg(webhook_ip_is_internal(internal[i]), "%s", internal[i]);
	for (size_t i = 0; i < sizeof(external) / sizeof(external[0]); i++)
		ck_assert_msg(!webhook_ip_is_internal(external[i]), "%s", external[i]);
}
END_TEST

START_TEST(prorate_rounds_negative_amounts_away_from_zero)
{
	ck_assert_int_eq(terms_prorate(-1001, 1, 2), -501);
	ck_assert_int_eq(terms_prorate(-1000, 1, 3), -333);
}
END_TEST

/* The declared table is the state machine: every row is reachable from some status, names
 * a registered event, and the API's operations each have a row. */
START_TEST(state_table_is_complete_and_consistent)
{
	static const char *const ops[] = { "create", "change_plan", "cancel", "reactivate",
	    "pause", "resume", NULL };

	for (int a = 0; a < SA__MAX; a++) {
		const struct sub_rule *r = &sub_rules[a];

		ck_assert_int_eq(r->action, a);
		ck_assert_ptr_nonnull(r->name);
		ck_assert_msg(r->from != 0, "%s has no from-status", r->name);
		ck_assert_msg(events_type_known(r->event), "%s emits unknown %s", r->name, r->event);
		ck_assert_msg(!(r->effects & FX_CREDIT_UNUSED) || r->credit_source != NULL,
		    "%s credits without a source", r->name);
		ck_assert_msg(r->to != SS_NONE || !(r->from & SS_BIT(SS_NONE)),
		    "%s creates without a status", r->name);
		for (int b = 0; b < a; b++)
			ck_assert_str_ne(sub_rules[b].name, r->name);
	}
	for (int i = 0; ops[i] != NULL; i++) {
		bool found = false;

		for (int a = 0; a < SA__MAX; a++)
			found |= sub_rules[a].op != NULL && strcmp(sub_rules[a].op, ops[i]) == 0;
		ck_assert_msg(found, "no row for %s", ops[i]);
	}
	ck_assert(subs_op_allowed("cancel", "now", SS_PAUSED));
	ck_assert(!subs_op_allowed("cancel", "end_of_term", SS_PAUSED));
	ck_assert(!subs_op_allowed("resume", "now", SS_ACTIVE));
	ck_assert(subs_op_allowed("reactivate", NULL, SS_CANCELLED));
	ck_assert_int_eq(subs_status_parse("past_due"), SS_PAST_DUE);
	ck_assert_int_eq(subs_status_parse("nonsense"), SS_NONE);
}
END_TEST

START_TEST(webhook_to_loopback_is_refused_before_sending)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), status;
	char url[64], err[256] = "";

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", ntohs(sa.sin_port));
	status = webhook_post(url, "whsec_x", "{}", false, err, sizeof(err));
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(err, WEBHOOK_NOT_ALLOWED);
	/* Refused before connecting: nothing reached the listener at all. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ck_assert_int_lt(accept(fd, NULL, NULL), 0);
	close(fd);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("billing");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, month_end_clamps_and_returns_to_anchor);
	tcase_add_test(tc, leap_february_has_29_days);
	tcase_add_test(tc, months_cross_years);
	tcase_add_test(tc, days_and_weeks_are_exact_seconds);
	tcase_add_test(tc, proration_rounds_half_up);
	tcase_add_test(tc, test_cards_have_documented_outcomes);
	tcase_add_test(tc, cards_expire_after_their_month);
	tcase_add_test(tc, internal_addresses_are_recognised);
	tcase_add_test(tc, webhook_to_loopback_is_refused_before_sending);
	tcase_add_test(tc, prorate_rounds_negative_amounts_away_from_zero);
	tcase_add_test(tc, state_table_is_complete_and_consistent);
	suite_add_tcase(s, tc);
	return s;
}
