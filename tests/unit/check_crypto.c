/* check_crypto.c: random tokens, hashes, API key and portal token shapes, Basic auth. */
#include <string.h>

#include "api/auth.h"
#include "check_main.h"
#include "core/crypto.h"
#include "portal/portal.h"

START_TEST(random_tokens_are_long_and_distinct)
{
	char a[CRYPTO_SECRET_B64_LEN], b[CRYPTO_SECRET_B64_LEN];

	ck_assert_int_eq(crypto_random_b64url(CRYPTO_SECRET_BYTES, a, sizeof(a)), 0);
	ck_assert_int_eq(crypto_random_b64url(CRYPTO_SECRET_BYTES, b, sizeof(b)), 0);
	ck_assert_uint_eq(strlen(a), 43);	/* 256 bits */
	ck_assert_str_ne(a, b);
	ck_assert(crypto_is_b64url(a, 64));
}
END_TEST

START_TEST(sha256_matches_known_vector)
{
	unsigned char h[32];
	char hex[65];

	crypto_sha256("abc", 3, h);
	crypto_hex(h, 32, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(hmac_matches_rfc4231_case2)
{
	unsigned char mac[32];
	char hex[65];

	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	crypto_hex(mac, 32, hex);
	ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(constant_time_equal_compares_bytes)
{
	ck_assert(crypto_equal("abcd", "abcd", 4));
	ck_assert(!crypto_equal("abcd", "abce", 4));
}
END_TEST

START_TEST(new_api_key_parses_back)
{
	char key[AUTH_KEY_MAX + 1], id[AUTH_KEY_ID_LEN + 1], hash[65];
	struct api_key_parts p;

	ck_assert_int_eq(auth_new_key("test", key, sizeof(key), id, hash), 0);
	ck_assert_int_eq(strncmp(key, "sk_test_", 8), 0);
	ck_assert_int_eq(auth_parse_key(key, &p), 0);
	ck_assert_str_eq(p.mode, "test");
	ck_assert_str_eq(p.id, id);
	ck_assert_uint_eq(strlen(hash), 64);
}
END_TEST

START_TEST(malformed_api_keys_are_refused)
{
	struct api_key_parts p;

	ck_assert_int_eq(auth_parse_key("", &p), -1);
	ck_assert_int_eq(auth_parse_key("sk_prod_0123456789abcdef_xxx", &p), -1);
	ck_assert_int_eq(auth_parse_key("sk_test_0123456789ABCDEF_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &p), -1);
	ck_assert_int_eq(auth_parse_key("sk_test_0123456789abcdef_", &p), -1);
	ck_assert_int_eq(auth_parse_key("sk_test_0123456789abcdef_a!a", &p), -1);
}
END_TEST

START_TEST(bearer_and_basic_headers_yield_the_key)
{
	char key[128];

	ck_assert_int_eq(auth_key_from_header("Bearer sk_x", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "sk_x");
	/* base64("sk_x:") = "c2tfeDo=" */
	ck_assert_int_eq(auth_key_from_header("Basic c2tfeDo=", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "sk_x");
	ck_assert_int_eq(auth_key_from_header("Basic !!!!", key, sizeof(key)), -1);
	/* Found by the fuzzer: all padding once drove the decoded length negative. */
	ck_assert_int_eq(auth_key_from_header("Basic ====", key, sizeof(key)), -1);
	ck_assert_int_eq(auth_key_from_header("Basic a===", key, sizeof(key)), -1);
	ck_assert_int_eq(auth_key_from_header("Basic YQ=a", key, sizeof(key)), -1);
	ck_assert_int_eq(auth_key_from_header("Digest x", key, sizeof(key)), -1);
	ck_assert_int_eq(auth_key_from_header(NULL, key, sizeof(key)), -1);
}
END_TEST

START_TEST(portal_token_round_trips)
{
	char tok[TOKEN_MAX], hash[65];
	struct token t;

	ck_assert_int_eq(token_new("demo", "ps_abc", tok, sizeof(tok), hash), 0);
	ck_assert_int_eq(token_parse(tok, &t), 0);
	ck_assert_str_eq(t.site_id, "demo");
	ck_assert_str_eq(t.session_id, "ps_abc");
	ck_assert_uint_eq(strlen(t.secret), 43);
}
END_TEST

START_TEST(malformed_portal_tokens_are_refused)
{
	struct token t;

	ck_assert_int_eq(token_parse("demo.ps_abc", &t), -1);
	ck_assert_int_eq(token_parse("demo.ps_abc.short", &t), -1);
	ck_assert_int_eq(token_parse(".ps.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &t), -1);
	ck_assert_int_eq(token_parse("de mo.ps.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &t), -1);
	ck_assert_int_eq(token_parse("demo.ps.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", &t), -1);
	ck_assert_int_eq(token_parse("demo.ps.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &t), 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, random_tokens_are_long_and_distinct);
	tcase_add_test(tc, sha256_matches_known_vector);
	tcase_add_test(tc, hmac_matches_rfc4231_case2);
	tcase_add_test(tc, constant_time_equal_compares_bytes);
	tcase_add_test(tc, new_api_key_parses_back);
	tcase_add_test(tc, malformed_api_keys_are_refused);
	tcase_add_test(tc, bearer_and_basic_headers_yield_the_key);
	tcase_add_test(tc, portal_token_round_trips);
	tcase_add_test(tc, malformed_portal_tokens_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
