/* check_json.c: bounded parsing and table-driven validation of request bodies, and the writer. */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/json.h"

static const struct field addr[] = {
	{ .name = "country", .type = FT_STRING, .max_len = 2, .check = check_country },
	{ .name = NULL }
};
static const struct field spec[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "email", .type = FT_STRING, .check = check_email, .nullable = true },
	{ .name = "name", .type = FT_STRING, .max_len = 10 },
	{ .name = "n", .type = FT_INT, .min = 1, .max = 100 },
	{ .name = "flag", .type = FT_BOOL },
	{ .name = "address", .type = FT_OBJECT, .fields = addr },
	{ .name = "meta", .type = FT_MAP, .max_len = 5 },
	{ .name = "must", .type = FT_STRING, .required = true },
	{ .name = NULL }
};

/* Parses and validates text; returns the error code ("" when valid). */
static struct json_error e;
static const char *
run(const char *text)
{
	char *copy = strdup(text);
	cJSON *root = json_parse(copy, strlen(copy), 8, &e);
	int rc;

	free(copy);
	if (root == NULL)
		return e.code;
	rc = json_validate(root, spec, NULL, &e);
	cJSON_Delete(root);
	return rc == 0 ? "" : e.code;
}

START_TEST(valid_body_passes)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"id\":\"cus_1\",\"email\":\"a@b.co\",\"n\":5,"
	    "\"flag\":true,\"address\":{\"country\":\"FR\"},\"meta\":{\"k\":\"v\"}}"), "");
}
END_TEST

START_TEST(malformed_json_is_invalid_json)
{
	ck_assert_str_eq(run("{\"must\":"), "invalid_json");
	ck_assert_str_eq(run("[1,2]"), "invalid_json");
	ck_assert_str_eq(run("{\"must\":\"x\"} trailing"), "invalid_json");
}
END_TEST

START_TEST(deep_nesting_is_refused_before_parsing)
{
	char deep[200] = "{\"must\":";
	for (int i = 0; i < 20; i++) strcat(deep, "[");
	ck_assert_str_eq(run(deep), "invalid_json");
	ck_assert_ptr_nonnull(strstr(e.message, "deeper"));
}
END_TEST

START_TEST(brackets_inside_strings_do_not_count_as_depth)
{
	ck_assert_str_eq(run("{\"must\":\"[[[[[[[[[[[[[[[[[[[[[[[[\"}"), "");
}
END_TEST

START_TEST(unknown_field_names_param)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"emial\":\"a@b.co\"}"), "parameter_unknown");
	ck_assert_str_eq(e.param, "emial");
}
END_TEST

START_TEST(unknown_nested_field_names_path)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"address\":{\"zip\":\"1\"}}"), "parameter_unknown");
	ck_assert_str_eq(e.param, "address.zip");
}
END_TEST

START_TEST(wrong_type_names_param)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":\"5\"}"), "parameter_invalid");
	ck_assert_str_eq(e.param, "n");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":1.5}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"flag\":1}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":5}"), "parameter_invalid");
}
END_TEST

START_TEST(int_range_is_checked)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":101}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":0}"), "parameter_invalid");
}
END_TEST

START_TEST(missing_required_names_param)
{
	ck_assert_str_eq(run("{}"), "parameter_missing");
	ck_assert_str_eq(e.param, "must");
	ck_assert_str_eq(run("{\"must\":\"\"}"), "parameter_missing");
}
END_TEST

START_TEST(overlong_string_is_refused)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":\"12345678901\"}"), "parameter_too_long");
	ck_assert_str_eq(e.param, "name");
}
END_TEST

START_TEST(bad_utf8_names_param)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":\"a\xc3\x28\"}"), "parameter_invalid");
	ck_assert_str_eq(e.param, "name");
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":\"\xed\xa0\x80\"}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":\"\xc0\xaf\"}"), "parameter_invalid");
}
END_TEST

START_TEST(embedded_nul_names_param)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":\"a\\u0000b\"}"), "parameter_invalid");
	ck_assert_str_eq(e.param, "name");
	ck_assert_ptr_nonnull(strstr(e.message, "NUL"));
}
END_TEST

START_TEST(escaped_backslash_before_u0000_text_is_not_nul)
{
	/* "\\u0000" is a backslash followed by the text u0000: harmless. */
	ck_assert_str_eq(run("{\"must\":\"a\\\\u0000\"}"), "");
}
END_TEST

START_TEST(control_characters_are_refused)
{
	ck_assert_str_eq(run("{\"must\":\"a\\nb\"}"), "parameter_invalid");
}
END_TEST

START_TEST(duplicate_keys_are_refused)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"must\":\"y\"}"), "parameter_duplicate");
}
END_TEST

START_TEST(null_only_where_nullable)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"email\":null}"), "");
	ck_assert_str_eq(run("{\"must\":\"x\",\"name\":null}"), "parameter_invalid");
}
END_TEST

START_TEST(map_values_must_be_short_strings)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"meta\":{\"k\":1}}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"meta\":{\"k\":\"123456\"}}"), "parameter_too_long");
	ck_assert_str_eq(e.param, "meta.k");
}
END_TEST

START_TEST(checks_reject_bad_values)
{
	ck_assert_ptr_nonnull(check_email("no-at-sign"));
	ck_assert_ptr_nonnull(check_email("a@b"));
	ck_assert_ptr_null(check_email("a.b+c@example.co.uk"));
	ck_assert_ptr_nonnull(check_id("has space"));
	ck_assert_ptr_nonnull(check_id(""));
	ck_assert_ptr_null(check_id("cus_AZ-09"));
	ck_assert_ptr_nonnull(check_http_url("javascript:alert(1)"));
	ck_assert_ptr_nonnull(check_http_url("https://"));
	ck_assert_ptr_nonnull(check_http_url("https://a.b/\"x"));
	ck_assert_ptr_null(check_http_url("https://shop.example/account?x=1"));
	ck_assert_ptr_nonnull(check_country("us"));
	ck_assert_ptr_null(check_country("US"));
}
END_TEST

START_TEST(writer_escapes_and_separates)
{
	struct buf b;
	struct jw w;

	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "a", "q\"\\\n<");
	jw_int(&w, "n", -5);
	jw_arr_begin(&w, "l");
	jw_bool(&w, NULL, true);
	jw_null(&w, NULL);
	jw_arr_end(&w);
	jw_str(&w, "z", NULL);
	jw_obj_end(&w);
	ck_assert_str_eq(b.data, "{\"a\":\"q\\\"\\\\\\n\\u003c\",\"n\":-5,\"l\":[true,null],\"z\":null}");
	buf_free(&b);
}
END_TEST

START_TEST(utf8_validator_accepts_all_planes)
{
	ck_assert(json_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	ck_assert(!json_utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	ck_assert(!json_utf8_valid("\xe2\x82", 2));		/* truncated */
}
END_TEST


/* 1e19 does not fit in int64_t: converting it first is undefined (a sanitizer build
 * kills the worker). Out-of-range numbers are wrong types, NaN-like ones too. */
START_TEST(huge_numbers_are_refused_without_overflow)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":1e19}"), "parameter_invalid");
	ck_assert_str_eq(e.param, "n");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":-1e300}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":9.3e18}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":1e400}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":5.5}"), "parameter_invalid");
	ck_assert_str_eq(run("{\"must\":\"x\",\"n\":100}"), "");
}
END_TEST

START_TEST(accessor_does_not_overflow)
{
	cJSON *o = cJSON_Parse("{\"big\":1e19,\"ok\":42}");

	ck_assert_int_eq(json_int(o, "big", -7), -7);
	ck_assert_int_eq(json_int(o, "ok", -7), 42);
	cJSON_Delete(o);
}
END_TEST

/* Duplicates are refused wherever they are: in a map, in an object inside a map's
 * neighbour, deep inside anything. */
START_TEST(duplicate_keys_are_refused_at_every_depth)
{
	ck_assert_str_eq(run("{\"must\":\"x\",\"meta\":{\"k\":\"a\",\"k\":\"b\"}}"),
	    "parameter_duplicate");
	ck_assert_str_eq(e.param, "meta.k");
	ck_assert_str_eq(run("{\"must\":\"x\",\"address\":{\"country\":\"FR\","
	    "\"country\":\"DE\"}}"), "parameter_duplicate");
	ck_assert_str_eq(e.param, "address.country");
	ck_assert_str_eq(run("{\"must\":\"x\",\"meta\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}"),
	    "parameter_duplicate");
	ck_assert_str_eq(run("{\"must\":\"x\",\"meta\":{\"a\":\"1\",\"A\":\"2\"}}"), "");
}
END_TEST

START_TEST(duplicates_are_found_by_the_parser_in_any_object)
{
	const char *texts[] = {
		"{\"a\":[{\"x\":1,\"y\":2,\"x\":3}]}",
		"{\"a\":{\"b\":{\"c\":{\"d\":1,\"d\":1}}}}",
		"{\"a\":1,\"a\":1}",
	};
	const char *params[] = { "a[0].x", "a.b.c.d", "a" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *copy = strdup(texts[i]);
		cJSON *root = json_parse(copy, strlen(copy), 8, &e);

		free(copy);
		ck_assert_ptr_null(root);
		ck_assert_str_eq(e.code, "parameter_duplicate");
		ck_assert_str_eq(e.param, params[i]);
	}
}
END_TEST

/* Many distinct keys are checked in n log n, not n^2: 20,000 keys take no time. */
START_TEST(many_keys_are_checked_quickly)
{
	struct buf b;
	cJSON *root;

	buf_init(&b);
	buf_puts(&b, "{");
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "%s\"k%d\":1", i ? "," : "", i);
	buf_puts(&b, "}");
	root = json_parse(b.data, b.len, 8, &e);
	ck_assert_ptr_nonnull(root);
	cJSON_Delete(root);
	buf_free(&b);
}
END_TEST

/* The writer never emits invalid UTF-8: each bad byte becomes U+FFFD. */
START_TEST(writer_replaces_invalid_utf8)
{
	struct buf b;

	buf_init(&b);
	json_escape(&b, "a\xff\xfe=b");
	ck_assert_str_eq(b.data, "\"a\xef\xbf\xbd\xef\xbf\xbd=b\"");
	buf_reset(&b);
	json_escape(&b, "caf\xc3\xa9 \xe2\x82 \xed\xa0\x80 \xc0\xaf \xf0\x9f\x98\x80");
	ck_assert(json_utf8_valid(b.data, b.len));
	ck_assert_ptr_nonnull(strstr(b.data, "caf\xc3\xa9 "));
	ck_assert_ptr_nonnull(strstr(b.data, "\xf0\x9f\x98\x80"));
	ck_assert_ptr_null(strstr(b.data, "\xed\xa0"));
	buf_free(&b);
}
END_TEST

static char *
canon(const char *text)
{
	cJSON *v = cJSON_Parse(text);
	struct buf b;

	buf_init(&b);
	json_canonical(v, &b);
	cJSON_Delete(v);
	return b.data;
}

START_TEST(canonical_text_ignores_order_blanks_and_spelling)
{
	char *a = canon("{\"b\":{\"y\":[1,{\"q\":1,\"p\":2}],\"x\":\"\\u0041\"},\"a\":1e2}");
	char *b = canon(" { \"a\" : 100.0 , \"b\" : { \"x\" : \"A\", \"y\" : [ 1, {\"p\":2,\"q\":1} ] } } ");
	char *c = canon("{\"a\":100,\"b\":{\"x\":\"A\",\"y\":[{\"p\":2,\"q\":1},1]}}");

	ck_assert_str_eq(a, "{\"a\":100,\"b\":{\"x\":\"A\",\"y\":[1,{\"p\":2,\"q\":1}]}}");
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);	/* array order is meaning */
	free(a);
	free(b);
	free(c);
	a = canon("{\"k\":\"a\\\"b\"}");
	b = canon("{\"k\\\"\":\"ab\"}");
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
	a = canon("{\"n\":0.1,\"t\":true,\"f\":false,\"z\":null}");
	ck_assert_str_eq(a, "{\"f\":false,\"n\":0.10000000000000001,\"t\":true,\"z\":null}");
	free(a);
}
END_TEST

START_TEST(url_origin_must_be_one_of_the_list)
{
	const char *ok = "https://checkout.stripe.com https://hooks.stripe.com";

	ck_assert_uint_eq(url_origin_len("https://a.example:8443/x?y"),
	    strlen("https://a.example:8443"));
	ck_assert_uint_eq(url_origin_len("http://h"), strlen("http://h"));
	ck_assert_uint_eq(url_origin_len("no scheme"), 0);
	ck_assert_ptr_null(check_url_origin("https://checkout.stripe.com/c/pay/cs_1#x", ok));
	ck_assert_ptr_null(check_url_origin("https://hooks.stripe.com", ok));
	ck_assert_ptr_null(check_url_origin("https://hooks.stripe.com?a=1", ok));
	ck_assert_ptr_null(check_url_origin("http://127.0.0.1:9/3ds/pi_1",
	    "  http://127.0.0.1:9  "));
	/* another host, scheme or port; a look-alike; user info; a prefix of an origin */
	ck_assert_ptr_nonnull(check_url_origin("https://evil.example/c/pay/cs_1", ok));
	ck_assert_ptr_nonnull(check_url_origin("http://checkout.stripe.com/c", ok));
	ck_assert_ptr_nonnull(check_url_origin("https://checkout.stripe.com:444/c", ok));
	ck_assert_ptr_nonnull(check_url_origin("https://checkout.stripe.com.evil.example/", ok));
	ck_assert_ptr_nonnull(check_url_origin("https://checkout.stripe.com@evil.example/", ok));
	ck_assert_ptr_nonnull(check_url_origin("https://checkout.stripe.co/", ok));
	ck_assert_ptr_nonnull(check_url_origin("https://hooks.stripe.com/x\r\nSet-Cookie: a", ok));
	ck_assert_ptr_nonnull(check_url_origin("javascript:alert(1)", ok));
	/* no origins known: nothing passes */
	ck_assert_ptr_nonnull(check_url_origin("https://checkout.stripe.com/", ""));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, valid_body_passes);
	tcase_add_test(tc, url_origin_must_be_one_of_the_list);
	tcase_add_test(tc, malformed_json_is_invalid_json);
	tcase_add_test(tc, deep_nesting_is_refused_before_parsing);
	tcase_add_test(tc, brackets_inside_strings_do_not_count_as_depth);
	tcase_add_test(tc, unknown_field_names_param);
	tcase_add_test(tc, unknown_nested_field_names_path);
	tcase_add_test(tc, wrong_type_names_param);
	tcase_add_test(tc, int_range_is_checked);
	tcase_add_test(tc, missing_required_names_param);
	tcase_add_test(tc, overlong_string_is_refused);
	tcase_add_test(tc, bad_utf8_names_param);
	tcase_add_test(tc, embedded_nul_names_param);
	tcase_add_test(tc, escaped_backslash_before_u0000_text_is_not_nul);
	tcase_add_test(tc, control_characters_are_refused);
	tcase_add_test(tc, duplicate_keys_are_refused);
	tcase_add_test(tc, null_only_where_nullable);
	tcase_add_test(tc, map_values_must_be_short_strings);
	tcase_add_test(tc, checks_reject_bad_values);
	tcase_add_test(tc, writer_escapes_and_separates);
	tcase_add_test(tc, utf8_validator_accepts_all_planes);
	tcase_add_test(tc, huge_numbers_are_refused_without_overflow);
	tcase_add_test(tc, accessor_does_not_overflow);
	tcase_add_test(tc, duplicate_keys_are_refused_at_every_depth);
	tcase_add_test(tc, duplicates_are_found_by_the_parser_in_any_object);
	tcase_add_test(tc, many_keys_are_checked_quickly);
	tcase_add_test(tc, writer_replaces_invalid_utf8);
	tcase_add_test(tc, canonical_text_ignores_order_blanks_and_spelling);
	suite_add_tcase(s, tc);
	return s;
}
