/* check_tmpl.c: templates escape by default, raw only when asked, sections and lists. */
#include <string.h>

#include "check_main.h"
#include "core/tmpl.h"

static struct buf out;
static char err[128];

static const char *
render(const char *tpl, const char *json)
{
	cJSON *d = cJSON_Parse(json);
	int rc;

	buf_reset(&out);
	rc = tmpl_render(tpl, d, &out, err, sizeof(err));
	cJSON_Delete(d);
	return rc == 0 ? (out.data ? out.data : "") : NULL;
}

static void setup(void) { buf_init(&out); }
static void teardown(void) { buf_free(&out); }

START_TEST(values_are_escaped)
{
	ck_assert_str_eq(render("<p>{{name}}</p>", "{\"name\":\"<script>'\\\"&\"}"),
	    "<p>&lt;script&gt;&#39;&quot;&amp;</p>");
}
END_TEST

START_TEST(numbers_render_whole_or_in_short_form)
{
	ck_assert_str_eq(render("{{a}} {{b}} {{c}}", "{\"a\":42,\"b\":1.5,\"c\":3e23}"),
	    "42 1.5 3e+23");
}
END_TEST

START_TEST(runaway_nesting_stops_with_an_error)
{
	/* Eight nested sections over ten items: 10^8 renders of the inner tag. */
	const char *tpl = "{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{x}}"
	    "{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}";

	ck_assert_ptr_null(render(tpl, "{\"a\":[1,2,3,4,5,6,7,8,9,10],\"x\":\"y\"}"));
	ck_assert_ptr_nonnull(strstr(err, "more than"));
}
END_TEST

START_TEST(triple_braces_are_raw)
{
	ck_assert_str_eq(render("{{{html}}}", "{\"html\":\"<b>x</b>\"}"), "<b>x</b>");
}
END_TEST

START_TEST(sections_follow_truthiness)
{
	ck_assert_str_eq(render("{{#a}}yes{{/a}}{{^a}}no{{/a}}", "{\"a\":\"\"}"), "no");
	ck_assert_str_eq(render("{{#a}}yes{{/a}}{{^a}}no{{/a}}", "{\"a\":true}"), "yes");
	ck_assert_str_eq(render("{{#a}}yes{{/a}}", "{}"), "");
}
END_TEST

START_TEST(arrays_repeat_with_item_context)
{
	ck_assert_str_eq(render("{{#l}}[{{n}}:{{top}}]{{/l}}",
	    "{\"top\":\"t\",\"l\":[{\"n\":1},{\"n\":\"<2>\"}]}"), "[1:t][&lt;2&gt;:t]");
}
END_TEST

START_TEST(dotted_names_reach_into_objects)
{
	ck_assert_str_eq(render("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}"), "deep");
}
END_TEST

START_TEST(nested_sections_of_same_name_close_correctly)
{
	ck_assert_str_eq(render("{{#a}}1{{#a}}2{{/a}}3{{/a}}4", "{\"a\":true}"), "1234");
}
END_TEST

START_TEST(comments_vanish)
{
	ck_assert_str_eq(render("a{{! note }}b", "{}"), "ab");
}
END_TEST

START_TEST(malformed_templates_fail)
{
	ck_assert_ptr_null(render("{{#a}}never closed", "{\"a\":true}"));
	ck_assert_ptr_null(render("{{name", "{}"));
	ck_assert_ptr_null(render("{{/a}}", "{}"));
}
END_TEST

START_TEST(embedded_templates_render)
{
	cJSON *d = cJSON_Parse("{\"heading\":\"H<\",\"text\":\"T\"}");

	buf_reset(&out);
	ck_assert_int_eq(tmpl_render_file("templates/message.html", d, &out, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out.data, ">H&lt;</h1>"));
	cJSON_Delete(d);
}
END_TEST

START_TEST(text_mode_inserts_values_verbatim)
{
	cJSON *d = cJSON_Parse("{\"name\":\"Tom & <Jerry>\",\"l\":[{\"n\":\"'\"}]}");

	buf_reset(&out);
	ck_assert_int_eq(tmpl_render_text("Hi {{name}}/{{{name}}}{{#l}} {{n}}{{/l}}", d, &out,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(out.data, "Hi Tom & <Jerry>/Tom & <Jerry> '");
	cJSON_Delete(d);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("tmpl");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, values_are_escaped);
	tcase_add_test(tc, numbers_render_whole_or_in_short_form);
	tcase_add_test(tc, runaway_nesting_stops_with_an_error);
	tcase_add_test(tc, triple_braces_are_raw);
	tcase_add_test(tc, sections_follow_truthiness);
	tcase_add_test(tc, arrays_repeat_with_item_context);
	tcase_add_test(tc, dotted_names_reach_into_objects);
	tcase_add_test(tc, nested_sections_of_same_name_close_correctly);
	tcase_add_test(tc, comments_vanish);
	tcase_add_test(tc, malformed_templates_fail);
	tcase_add_test(tc, embedded_templates_render);
	tcase_add_test(tc, text_mode_inserts_values_verbatim);
	suite_add_tcase(s, tc);
	return s;
}
