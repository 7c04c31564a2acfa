/* check_passhash.c: Argon2id hashes of portal passwords: the OWASP parameters in the PHC
 * string, a fresh salt each time, matches and mismatches, and the fixed hash the
 * unknown-address path burns its time on. */
#include <string.h>

#include "check_main.h"
#include "core/passhash.h"

START_TEST(hash_has_owasp_parameters_and_checks)
{
	char a[PASSHASH_MAX], b[PASSHASH_MAX];

	ck_assert_int_eq(passhash_make("correct horse battery staple", a), 0);
	ck_assert_msg(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", a);
	ck_assert_ptr_null(strstr(a, "correct horse"));
	ck_assert_int_eq(passhash_check(a, "correct horse battery staple"), 1);
	ck_assert_int_eq(passhash_check(a, "correct horse battery stapler"), 0);
	ck_assert_int_eq(passhash_check(a, ""), 0);
	/* A new salt every time: the same password hashes differently. */
	ck_assert_int_eq(passhash_make("correct horse battery staple", b), 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(passhash_check(b, "correct horse battery staple"), 1);
}
END_TEST

START_TEST(what_is_not_an_argon2id_hash_never_matches)
{
	ck_assert_int_eq(passhash_check(NULL, "x"), 0);
	ck_assert_int_eq(passhash_check("", "x"), 0);
	ck_assert_int_eq(passhash_check("$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "x"), 0);
	ck_assert_int_eq(passhash_check("plain text", "plain text"), 0);
}
END_TEST

START_TEST(burn_runs_a_real_check)
{
	/* -1 would mean the fixed hash does not decode, so no work would be done. */
	ck_assert_int_eq(passhash_burn("anything at all"), 0);
	ck_assert_int_eq(passhash_burn(""), 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("passhash");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hash_has_owasp_parameters_and_checks);
	tcase_add_test(tc, what_is_not_an_argon2id_hash_never_matches);
	tcase_add_test(tc, burn_runs_a_real_check);
	suite_add_tcase(s, tc);
	return s;
}
