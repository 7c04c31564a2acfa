/* check_router.c: method + pattern matching with ":param" segments. */
#include <string.h>

#include "check_main.h"
#include "http/router.h"

static const struct route_pattern table[] = {
	{ HTTP_GET, "/api/v1/customers" },
	{ HTTP_POST, "/api/v1/customers" },
	{ HTTP_GET, "/api/v1/customers/:id" },
	{ HTTP_POST, "/api/v1/portal_sessions/:id/logout" },
	{ HTTP_GET, "/portal" },
};
static struct http_request r;

static void setup(void) { http_request_init(&r); }
static void teardown(void) { http_request_free(&r); }

static enum router_result
route(enum http_method m, const char *path, size_t *idx)
{
	r.method = m;
	r.path = path;
	return router_match(table, sizeof(table) / sizeof(table[0]), sizeof(table[0]), &r, idx);
}

START_TEST(exact_path_matches_its_method)
{
	size_t i;

	ck_assert_int_eq(route(HTTP_POST, "/api/v1/customers", &i), ROUTE_FOUND);
	ck_assert_uint_eq(i, 1);
}
END_TEST

START_TEST(param_segment_is_captured)
{
	size_t i;

	ck_assert_int_eq(route(HTTP_POST, "/api/v1/portal_sessions/ps_1/logout", &i), ROUTE_FOUND);
	ck_assert_uint_eq(i, 3);
	ck_assert_int_eq(r.n_path_params, 1);
	ck_assert_str_eq(r.path_params[0], "ps_1");
}
END_TEST

START_TEST(wrong_method_is_405_not_404)
{
	size_t i;

	ck_assert_int_eq(route(HTTP_DELETE, "/api/v1/customers", &i), ROUTE_BAD_METHOD);
}
END_TEST

START_TEST(unknown_path_is_not_found)
{
	size_t i;

	ck_assert_int_eq(route(HTTP_GET, "/api/v1/nothing", &i), ROUTE_NOT_FOUND);
	ck_assert_int_eq(route(HTTP_GET, "/api/v1/customers/", &i), ROUTE_NOT_FOUND);
	ck_assert_int_eq(route(HTTP_GET, "/api/v1/customers/a/b", &i), ROUTE_NOT_FOUND);
	ck_assert_int_eq(route(HTTP_GET, "/portalx", &i), ROUTE_NOT_FOUND);
	ck_assert_int_eq(route(HTTP_GET, "/portal/", &i), ROUTE_NOT_FOUND);
}
END_TEST

START_TEST(head_matches_get_routes)
{
	size_t i;

	ck_assert_int_eq(route(HTTP_HEAD, "/portal", &i), ROUTE_FOUND);
	ck_assert_uint_eq(i, 4);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, exact_path_matches_its_method);
	tcase_add_test(tc, param_segment_is_captured);
	tcase_add_test(tc, wrong_method_is_405_not_404);
	tcase_add_test(tc, unknown_path_is_not_found);
	tcase_add_test(tc, head_matches_get_routes);
	suite_add_tcase(s, tc);
	return s;
}
