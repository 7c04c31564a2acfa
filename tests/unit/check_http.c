/* check_http.c: request parsing from FastCGI parameters, query, form and cookie parsing,
 * response serialisation. */
#include <string.h>

#include "check_main.h"
#include "http/http.h"

static struct http_request r;

static void setup(void) { http_request_init(&r); }
static void teardown(void) { http_request_free(&r); }

START_TEST(request_splits_path_and_query)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/customers?limit=5&email=a%40b.c",
	    "REMOTE_ADDR=127.0.0.1", NULL };

	http_request_from_env(&r, env);
	ck_assert_int_eq(r.method, HTTP_GET);
	ck_assert_str_eq(r.path, "/api/v1/customers");
	ck_assert_str_eq(r.query, "limit=5&email=a%40b.c");
	ck_assert_str_eq(http_kvs_get(&r.args, "limit"), "5");
	ck_assert_str_eq(http_kvs_get(&r.args, "email"), "a@b.c");
	ck_assert_str_eq(r.remote_addr, "127.0.0.1");
}
END_TEST

START_TEST(request_reads_headers_and_length)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=42",
	    "CONTENT_TYPE=application/json", "HTTP_AUTHORIZATION=Bearer k",
	    "HTTP_IDEMPOTENCY_KEY=abc", "HTTP_COOKIE=a=1; b=2", NULL };

	http_request_from_env(&r, env);
	ck_assert_int_eq(r.method, HTTP_POST);
	ck_assert_uint_eq(r.content_length, 42);
	ck_assert(!r.content_length_bad);
	ck_assert_str_eq(r.authorization, "Bearer k");
	ck_assert_str_eq(r.idempotency_key, "abc");
	ck_assert_str_eq(http_kvs_get(&r.cookies, "b"), "2");
}
END_TEST

START_TEST(request_flags_bad_content_length)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=-1", NULL };

	http_request_from_env(&r, env);
	ck_assert(r.content_length_bad);
}
END_TEST

START_TEST(request_without_uri_is_root)
{
	char *env[] = { "REQUEST_METHOD=BREW", NULL };

	http_request_from_env(&r, env);
	ck_assert_int_eq(r.method, HTTP_OTHER);
	ck_assert_str_eq(r.path, "/");
}
END_TEST

START_TEST(urlencoded_decodes_plus_and_percent)
{
	struct http_kvs kvs;
	const char *s = "a=x+y&b=%E2%82%AC&c&=v";

	http_parse_urlencoded(&r.arena, s, strlen(s), &kvs);
	ck_assert(!kvs.bad);
	ck_assert_int_eq(kvs.n, 4);
	ck_assert_str_eq(http_kvs_get(&kvs, "a"), "x y");
	ck_assert_str_eq(http_kvs_get(&kvs, "b"), "\xe2\x82\xac");
	ck_assert_str_eq(http_kvs_get(&kvs, "c"), "");
}
END_TEST

START_TEST(urlencoded_rejects_nul_escape)
{
	struct http_kvs kvs;
	const char *s = "a=1&name=x%00y";

	http_parse_urlencoded(&r.arena, s, strlen(s), &kvs);
	ck_assert(kvs.bad);
	ck_assert_str_eq(kvs.bad_key, "name");
}
END_TEST

START_TEST(urlencoded_rejects_bad_escape)
{
	struct http_kvs kvs;
	const char *s = "a=%G1";

	http_parse_urlencoded(&r.arena, s, strlen(s), &kvs);
	ck_assert(kvs.bad);
}
END_TEST

START_TEST(urlencoded_bounds_pair_count)
{
	struct http_kvs kvs;
	char s[1024] = "";

	for (int i = 0; i < HTTP_MAX_KV + 1; i++)
		strcat(s, "k=v&");
	http_parse_urlencoded(&r.arena, s, strlen(s), &kvs);
	ck_assert(kvs.bad);
}
END_TEST

START_TEST(cookies_trim_and_unquote)
{
	struct http_kvs kvs;

	http_parse_cookies(&r.arena, " a = 1 ;b=\"two\";;junk; __Host-s=x.y.z", &kvs);
	ck_assert(!kvs.bad);
	ck_assert_str_eq(http_kvs_get(&kvs, "a"), "1");
	ck_assert_str_eq(http_kvs_get(&kvs, "b"), "two");
	ck_assert_str_eq(http_kvs_get(&kvs, "__Host-s"), "x.y.z");
	ck_assert_ptr_null(http_kvs_get(&kvs, "junk"));
}
END_TEST

START_TEST(set_cookie_has_security_attributes)
{
	struct http_response resp;

	http_response_init(&resp);
	http_set_cookie(&resp, "__Host-s", "v", -1);
	ck_assert_ptr_nonnull(strstr(resp.headers.data, "__Host-s=v; Path=/; Secure; HttpOnly; SameSite=Lax"));
	http_response_free(&resp);
}
END_TEST

START_TEST(header_values_cannot_split_lines)
{
	struct http_response resp;

	http_response_init(&resp);
	http_header(&resp, "Location", "%s", "/a\r\nSet-Cookie: x=1");
	ck_assert_ptr_null(strstr(resp.headers.data, "\r\nSet-Cookie"));
	http_response_free(&resp);
}
END_TEST

START_TEST(serialize_writes_status_and_length)
{
	struct http_response resp;
	struct buf out;

	http_response_init(&resp);
	buf_init(&out);
	resp.status = 404;
	buf_puts(&resp.body, "{}");
	http_response_serialize(&resp, false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "Status: 404 Not Found\r\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Length: 2\r\n"));
	ck_assert_str_eq(out.data + out.len - 6, "\r\n\r\n{}");
	buf_reset(&out);
	http_response_serialize(&resp, true, &out);
	ck_assert_str_eq(out.data + out.len - 4, "\r\n\r\n");
	buf_free(&out);
	http_response_free(&resp);
}
END_TEST

START_TEST(arena_survives_many_resets)
{
	for (int i = 0; i < 1000; i++) {
		char *p = arena_alloc(&r.arena, 20000);	/* bigger than a block */
		p[19999] = 'x';
		arena_strndup(&r.arena, "abc", 3);
		arena_reset(&r.arena);
	}
	ck_assert_ptr_nonnull(arena_strndup(&r.arena, "ok", 2));
}
END_TEST

START_TEST(html_escape_covers_quotes)
{
	struct buf b;

	buf_init(&b);
	buf_put_html(&b, "<a href=\"x\">'&'</a>");
	ck_assert_str_eq(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	buf_free(&b);
}
END_TEST

START_TEST(content_type_is_json_exactly)
{
	ck_assert(http_content_type_is_json("application/json"));
	ck_assert(http_content_type_is_json("Application/JSON"));
	ck_assert(http_content_type_is_json("application/json; charset=utf-8"));
	ck_assert(http_content_type_is_json("application/json;charset=\"UTF-8\""));
	ck_assert(http_content_type_is_json("application/json ;  charset=utf-8 "));
	ck_assert(!http_content_type_is_json(NULL));
	ck_assert(!http_content_type_is_json(""));
	ck_assert(!http_content_type_is_json("application/jsonfoo"));
	ck_assert(!http_content_type_is_json("application/json-patch+json"));
	ck_assert(!http_content_type_is_json("application/json; charset=latin1"));
	ck_assert(!http_content_type_is_json("application/json; boundary=x"));
	ck_assert(!http_content_type_is_json("application/json;"));
	ck_assert(!http_content_type_is_json("application/json; charset=utf-8; charset=utf-8x"));
	ck_assert(!http_content_type_is_json("text/json"));
	ck_assert(!http_content_type_is_json(" application/json"));
}
END_TEST

START_TEST(header_remove_drops_every_line_of_that_name)
{
	struct http_response resp;

	http_response_init(&resp);
	http_set_cookie(&resp, "a", "1", -1);
	http_header(&resp, "X-Set-Cookie-Not", "keep");
	http_header(&resp, "set-cookie", "b=2");
	http_header(&resp, "Location", "/x");
	http_header_remove(&resp, "Set-Cookie");
	ck_assert_str_eq(resp.headers.data, "X-Set-Cookie-Not: keep\r\nLocation: /x\r\n");
	http_response_free(&resp);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_splits_path_and_query);
	tcase_add_test(tc, request_reads_headers_and_length);
	tcase_add_test(tc, request_flags_bad_content_length);
	tcase_add_test(tc, request_without_uri_is_root);
	tcase_add_test(tc, urlencoded_decodes_plus_and_percent);
	tcase_add_test(tc, urlencoded_rejects_nul_escape);
	tcase_add_test(tc, urlencoded_rejects_bad_escape);
	tcase_add_test(tc, urlencoded_bounds_pair_count);
	tcase_add_test(tc, cookies_trim_and_unquote);
	tcase_add_test(tc, set_cookie_has_security_attributes);
	tcase_add_test(tc, header_values_cannot_split_lines);
	tcase_add_test(tc, serialize_writes_status_and_length);
	tcase_add_test(tc, arena_survives_many_resets);
	tcase_add_test(tc, html_escape_covers_quotes);
	tcase_add_test(tc, content_type_is_json_exactly);
	tcase_add_test(tc, header_remove_drops_every_line_of_that_name);
	suite_add_tcase(s, tc);
	return s;
}
