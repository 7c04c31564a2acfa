/* check_password_policy.c: password rules and the compiled-in common-password list. */
#include <string.h>

#include "check_main.h"
#include "core/embedded.h"
#include "core/password_policy.h"

#define OK	"a sound choice: kettle-orbit-mango"

static void
refused(const char *pw, const char *email, const char *name, const char *part)
{
	const char *msg = password_policy_check(pw, email, name);

	ck_assert_msg(msg != NULL, "'%s' was accepted", pw ? pw : "(null)");
	ck_assert_msg(strstr(msg, part) != NULL, "'%s': '%s' lacks '%s'", pw, msg, part);
}

START_TEST(a_long_uncommon_password_passes)
{
	ck_assert_ptr_null(password_policy_check(OK, "ann@example.com", "Ann Lee"));
	ck_assert_ptr_null(password_policy_check(OK, NULL, NULL));
	ck_assert_ptr_null(password_policy_check("correct horse battery staple", "", ""));
}
END_TEST

START_TEST(length_counts_code_points)
{
	refused(NULL, NULL, NULL, "Enter a password");
	refused("", NULL, NULL, "Enter a password");
	refused("k7#Vq2!mZp9", NULL, NULL, "at least 12");		/* 11 */
	ck_assert_ptr_null(password_policy_check("k7#Vq2!mZp9x", NULL, NULL));	/* 12 */
	/* 11 two-byte characters are 22 bytes but 11 characters. */
	refused("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9", NULL, NULL, "at least 12");
	/* 12 CJK characters (36 bytes) and 12 emoji (48 bytes) are enough. */
	ck_assert_ptr_null(password_policy_check("\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7"
	    "\xa0\x81\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81\xe5\xaf\x86\xe7\xa0\x81"
	    "\xe5\xaf\x86\xe7\xa0\x81", NULL, NULL));
	ck_assert_ptr_null(password_policy_check("\xf0\x9f\x94\x91\xf0\x9f\x94\x92\xf0\x9f"
	    "\x94\x93\xf0\x9f\x94\x94\xf0\x9f\x94\x95\xf0\x9f\x94\x96\xf0\x9f\x94\x97\xf0\x9f"
	    "\x94\x98\xf0\x9f\x94\x99\xf0\x9f\x94\x9a\xf0\x9f\x94\x9b\xf0\x9f\x94\x9c",
	    NULL, NULL));
}
END_TEST

START_TEST(at_most_256_bytes)
{
	char pw[300];

	memset(pw, 'x', 256);
	memcpy(pw, "7Qp", 3);
	pw[256] = '\0';
	ck_assert_ptr_null(password_policy_check(pw, NULL, NULL));
	pw[256] = 'y';
	pw[257] = '\0';
	refused(pw, NULL, NULL, "at most 256 bytes");
}
END_TEST

START_TEST(invalid_utf8_is_refused)
{
	refused("abcdefghijk\xff", NULL, NULL, "UTF-8");
	refused("abcdefghijk\xc3", NULL, NULL, "UTF-8");		/* truncated */
	refused("abcdefghijk\xc0\xaf", NULL, NULL, "UTF-8");		/* overlong */
	refused("abcdefghijk\xed\xa0\x80", NULL, NULL, "UTF-8");	/* surrogate */
	refused("abcdefghijk\xf4\x90\x80\x80", NULL, NULL, "UTF-8");	/* > U+10FFFF */
}
END_TEST

START_TEST(common_passwords_are_refused_in_any_case)
{
	refused("qwerty123456", NULL, NULL, "commonly used");
	refused("QWERTY123456", NULL, NULL, "commonly used");
	refused("1qaz2wsx3edc", NULL, NULL, "commonly used");
	refused("LeaveMeAlone", NULL, NULL, "commonly used");
	ck_assert(password_policy_is_common("password"));
	ck_assert(password_policy_is_common("123456"));
	ck_assert(password_policy_is_common("PassWord"));
	ck_assert(!password_policy_is_common("password!x"));
	ck_assert(!password_policy_is_common(""));
	ck_assert(!password_policy_is_common(OK));
}
END_TEST

START_TEST(every_listed_password_is_found)
{
	const char *list = embedded_get("data/common-passwords.txt"), *p, *prev = NULL;
	size_t n = 0, prevlen = 0;

	ck_assert_ptr_nonnull(list);
	for (p = list; *p == '#'; p = strchr(p, '\n') + 1)
		;
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		char w[PASSWORD_MAX_BYTES + 1];
		size_t len = (size_t)(e - p);

		ck_assert(e != NULL && len > 0 && len <= PASSWORD_MAX_BYTES);
		memcpy(w, p, len);
		w[len] = '\0';
		for (size_t i = 0; i < len; i++)
			ck_assert_msg(!(w[i] >= 'A' && w[i] <= 'Z'), "'%s' is not lower case", w);
		/* Sorted and unique, which the binary search relies on. */
		if (prev != NULL) {
			int c = memcmp(prev, p, prevlen < len ? prevlen : len);

			ck_assert_msg(c < 0 || (c == 0 && prevlen < len), "'%s' is out of order", w);
		}
		ck_assert_msg(password_policy_is_common(w), "'%s' is not found", w);
		prev = p;
		prevlen = len;
		p = e + 1;
		n++;
	}
	ck_assert_uint_ge(n, 10000);
}
END_TEST

START_TEST(neighbours_of_listed_passwords_are_not_found)
{
	/* A word just before, between and after entries must miss, also at the ends. */
	ck_assert(!password_policy_is_common("!"));
	ck_assert(!password_policy_is_common("~~~~"));
	ck_assert(password_policy_is_common("passwor"));	/* listed itself */
	ck_assert(!password_policy_is_common("passwore"));
	ck_assert(!password_policy_is_common("passwordq"));
	ck_assert(!password_policy_is_common("password0000000"));
	ck_assert(!password_policy_is_common("zzzzzzzzzzzzzzzzz"));
}
END_TEST

START_TEST(email_and_its_local_part_are_refused)
{
	refused("ann.lee.1984@example.com", "Ann.Lee.1984@Example.com", NULL, "email");
	refused("ANN.LEE.1984", "ann.lee.1984@example.com", NULL, "email");
	ck_assert_ptr_null(password_policy_check("ann.lee.1984!", "ann.lee.1984@example.com",
	    NULL));
	/* The local part is what precedes the last '@'. */
	refused("\"odd@local\"x", "\"odd@local\"x@example.com", NULL, "email");
}
END_TEST

START_TEST(name_is_refused_ignoring_case_and_spaces)
{
	refused("Annabel Lee-Smith", NULL, "Annabel Lee-Smith", "name");
	refused("annabelleesmith", NULL, "Annabel Lee Smith", "name");
	refused("ANNABEL LEE SMITH", NULL, "annabel lee smith", "name");
	ck_assert_ptr_null(password_policy_check("annabel lee smith 2", NULL,
	    "Annabel Lee Smith"));
	ck_assert_ptr_null(password_policy_check("            ", NULL, "   "));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("password_policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_long_uncommon_password_passes);
	tcase_add_test(tc, length_counts_code_points);
	tcase_add_test(tc, at_most_256_bytes);
	tcase_add_test(tc, invalid_utf8_is_refused);
	tcase_add_test(tc, common_passwords_are_refused_in_any_case);
	tcase_add_test(tc, every_listed_password_is_found);
	tcase_add_test(tc, neighbours_of_listed_passwords_are_not_found);
	tcase_add_test(tc, email_and_its_local_part_are_refused);
	tcase_add_test(tc, name_is_refused_ignoring_case_and_spaces);
	suite_add_tcase(s, tc);
	return s;
}
