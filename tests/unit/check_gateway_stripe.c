/* check_gateway_stripe.c: what Stripe's PaymentIntents and refunds mean for Portald's
 * payment attempts, and the [stripe] settings of portald.conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "billing/gateway_stripe.h"
#include "core/config.h"

static void
map(const char *json, bool on_session, struct gw_result *out)
{
	cJSON *pi = cJSON_Parse(json);

	ck_assert_ptr_nonnull(pi);
	gwstripe_map_intent(pi, on_session, out);
	cJSON_Delete(pi);
}

START_TEST(succeeded_and_processing)
{
	struct gw_result r;

	map("{\"id\":\"pi_1\",\"status\":\"succeeded\"}", false, &r);
	ck_assert_int_eq(r.outcome, GW_SUCCEEDED);
	ck_assert_str_eq(r.ref, "pi_1");
	map("{\"id\":\"pi_2\",\"status\":\"processing\"}", false, &r);
	ck_assert_int_eq(r.outcome, GW_PENDING);
	ck_assert_str_eq(r.ref, "pi_2");
}
END_TEST

START_TEST(declines_keep_their_code)
{
	static const struct {
		const char *code, *decline, *outcome;
	} cases[] = {
		{ "card_declined", "generic_decline", "declined" },
		{ "card_declined", "insufficient_funds", "insufficient_funds" },
		{ "expired_card", "expired_card", "expired_card" },
		{ "incorrect_cvc", "incorrect_cvc", "declined" },
		{ "processing_error", "processing_error", "processing_error" },
		{ "card_declined", "lost_card", "declined" },
	};
	struct gw_result r;
	char json[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"id\":\"pi_3\",\"status\":\"requires_payment_method\","
		    "\"last_payment_error\":{\"code\":\"%s\",\"decline_code\":\"%s\","
		    "\"message\":\"Your card was declined.\"}}", cases[i].code, cases[i].decline);
		map(json, false, &r);
		ck_assert_int_eq(r.outcome, GW_DECLINED);
		ck_assert_str_eq(r.code, cases[i].outcome);
		ck_assert_str_eq(r.decline_code, cases[i].decline);
		ck_assert_str_eq(r.message, "Your card was declined.");
	}
}
END_TEST

START_TEST(authentication_off_and_on_session)
{
	struct gw_result r;

	/* Off-session: failed with authentication_required, back to requires_payment_method;
	 * no page to send anyone to, so the attempt is recorded (and the portal offers
	 * "Complete payment"). */
	map("{\"id\":\"pi_4\",\"status\":\"requires_payment_method\",\"last_payment_error\":"
	    "{\"code\":\"authentication_required\",\"decline_code\":\"authentication_required\"}}",
	    false, &r);
	ck_assert_int_eq(r.outcome, GW_REQUIRES_ACTION);
	ck_assert_str_eq(r.code, "authentication_required");
	ck_assert_str_eq(r.action_url, "");
	/* On-session: the bank's page. */
	map("{\"id\":\"pi_5\",\"status\":\"requires_action\",\"next_action\":{\"type\":"
	    "\"redirect_to_url\",\"redirect_to_url\":{\"url\":\"https://hooks.example/3ds\","
	    "\"return_url\":\"https://shop.example/back\"}}}", true, &r);
	ck_assert_int_eq(r.outcome, GW_REQUIRES_ACTION);
	ck_assert_str_eq(r.action_url, "https://hooks.example/3ds");
	/* The same state seen off-session gives no page (never shown to a runner). */
	map("{\"id\":\"pi_5\",\"status\":\"requires_action\",\"next_action\":{\"type\":"
	    "\"redirect_to_url\",\"redirect_to_url\":{\"url\":\"https://hooks.example/3ds\"}}}",
	    false, &r);
	ck_assert_str_eq(r.action_url, "");
	/* The customer failed the challenge. */
	map("{\"id\":\"pi_6\",\"status\":\"requires_payment_method\",\"last_payment_error\":"
	    "{\"code\":\"payment_intent_authentication_failure\"}}", true, &r);
	ck_assert_int_eq(r.outcome, GW_DECLINED);
	ck_assert_str_eq(r.code, "authentication_required");
	ck_assert_str_eq(r.decline_code, "payment_intent_authentication_failure");
}
END_TEST

START_TEST(never_confirmed_and_canceled)
{
	struct gw_result r;

	map("{\"id\":\"pi_7\",\"status\":\"requires_confirmation\"}", false, &r);
	ck_assert_int_eq(r.outcome, GW_NOT_FOUND);
	map("{\"id\":\"pi_7\",\"status\":\"requires_payment_method\","
	    "\"last_payment_error\":null}", false, &r);
	ck_assert_int_eq(r.outcome, GW_NOT_FOUND);
	map("{\"id\":\"pi_8\",\"status\":\"canceled\",\"cancellation_reason\":\"abandoned\"}",
	    true, &r);
	ck_assert_int_eq(r.outcome, GW_DECLINED);
	ck_assert_str_eq(r.code, "authentication_required");
	map("{\"id\":\"pi_9\",\"status\":\"canceled\",\"cancellation_reason\":null}", false, &r);
	ck_assert_str_eq(r.code, "declined");
	map("{\"id\":\"pi_10\"}", false, &r);
	ck_assert_int_eq(r.outcome, GW_NOT_FOUND);
}
END_TEST

START_TEST(refunds)
{
	static const struct {
		const char *status;
		enum gw_outcome outcome;
	} cases[] = {
		{ "succeeded", GW_SUCCEEDED }, { "pending", GW_SUCCEEDED },
		{ "failed", GW_DECLINED }, { "canceled", GW_DECLINED },
		{ "requires_action", GW_PENDING },
	};
	struct gw_result r;
	char json[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *re;

		snprintf(json, sizeof(json), "{\"id\":\"re_1\",\"status\":\"%s\"}",
		    cases[i].status);
		re = cJSON_Parse(json);
		gwstripe_map_refund(re, &r);
		cJSON_Delete(re);
		ck_assert_int_eq(r.outcome, cases[i].outcome);
		ck_assert_str_eq(r.ref, "re_1");
	}
}
END_TEST

START_TEST(outcome_codes)
{
	ck_assert_str_eq(gwstripe_outcome_code(NULL, NULL), "declined");
	ck_assert_str_eq(gwstripe_outcome_code("card_declined", "insufficient_funds"),
	    "insufficient_funds");
	ck_assert_str_eq(gwstripe_outcome_code("card_declined", "authentication_required"),
	    "authentication_required");
	ck_assert_str_eq(gwstripe_outcome_code("expired_card", NULL), "expired_card");
}
END_TEST

static int
load(const char *text, struct config *cfg, char *err, size_t n)
{
	char path[] = "/tmp/check_gateway_stripe.XXXXXX";
	int fd = mkstemp(path), rc;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(cfg);
	rc = config_load_settings(cfg, path, err, n);
	unlink(path);
	return rc;
}

START_TEST(stripe_settings)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\nsocket = /tmp/x.sock\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.stripe_api_base, "https://api.stripe.com");
	ck_assert_int_eq(cfg.stripe_timeout, 30);
	ck_assert_int_eq(load("[stripe]\napi_base = https://127.0.0.1:4242/\nca_file = /tmp/ca.pem\n"
	    "timeout = 7\nconnect_timeout = 2\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.stripe_api_base, "https://127.0.0.1:4242");
	ck_assert_str_eq(cfg.stripe_ca_file, "/tmp/ca.pem");
	ck_assert_int_eq(cfg.stripe_timeout, 7);
	ck_assert_int_eq(cfg.stripe_connect_timeout, 2);
	ck_assert_int_eq(load("[stripe]\napi_base = http://stripe.example\n", &cfg, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "https"));
	ck_assert_int_eq(load("[stripe]\napi_base = http://127.0.0.1:9\n", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(load("[stripe]\nsecret_key = sk_live_x\n", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown setting [stripe] secret_key"));
	ck_assert_int_eq(load("[stripe]\ntimeout = 0\n", &cfg, err, sizeof(err)), -1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("gateway_stripe");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, succeeded_and_processing);
	tcase_add_test(tc, declines_keep_their_code);
	tcase_add_test(tc, authentication_off_and_on_session);
	tcase_add_test(tc, never_confirmed_and_canceled);
	tcase_add_test(tc, refunds);
	tcase_add_test(tc, outcome_codes);
	tcase_add_test(tc, stripe_settings);
	suite_add_tcase(s, tc);
	return s;
}
