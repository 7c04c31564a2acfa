/* check_documents.c: the dates documents print and the year the archive takes, in UTC and
 * in other time zones (the site's zone comes with the portal's configuration). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "billing/documents.h"
#include "check_main.h"

#define MARCH_1_2026	1772323200LL	/* 2026-03-01T00:00:00Z */

START_TEST(dates_in_utc)
{
	char out[32];

	documents_format_date(MARCH_1_2026, NULL, out);
	ck_assert_str_eq(out, "1 Mar 2026");
	documents_format_date(MARCH_1_2026 - 1, "UTC", out);
	ck_assert_str_eq(out, "28 Feb 2026");
	documents_format_date(0, "UTC", out);
	ck_assert_str_eq(out, "1 Jan 1970");
	ck_assert_int_eq(documents_year_start(2027, "UTC"), 1798761600LL);
	ck_assert_int_eq(documents_year_start(1970, NULL), 0);
}
END_TEST

START_TEST(dates_in_other_zones_leave_tz_as_it_was)
{
	char out[32];

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		return;		/* no tzdata on this machine */
	setenv("TZ", "Asia/Tokyo", 1);
	documents_format_date(MARCH_1_2026, "America/New_York", out);
	ck_assert_str_eq(out, "28 Feb 2026");		/* 19:00 the day before */
	documents_format_date(MARCH_1_2026 - 3600, "Europe/Berlin", out);
	ck_assert_str_eq(out, "1 Mar 2026");		/* 00:00 in Berlin */
	ck_assert_int_eq(documents_year_start(2027, "Europe/Berlin"), 1798758000LL);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	documents_format_date(MARCH_1_2026, "America/New_York", out);
	ck_assert_ptr_null(getenv("TZ"));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("documents");
	TCase *tc = tcase_create("dates");

	tcase_add_test(tc, dates_in_utc);
	tcase_add_test(tc, dates_in_other_zones_leave_tz_as_it_was);
	suite_add_tcase(s, tc);
	return s;
}
