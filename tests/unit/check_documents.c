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

START_TEST(dates_in_other_zones_switch_back_and_forth)
{
	char out[32];

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		return;		/* no tzdata on this machine */
	/* core/tz sets the process's zone per call, whatever TZ held before. */
	setenv("TZ", "Asia/Tokyo", 1);
	documents_format_date(MARCH_1_2026, "America/New_York", out);
	ck_assert_str_eq(out, "28 Feb 2026");		/* 19:00 the day before */
	documents_format_date(MARCH_1_2026 - 3600, "Europe/Berlin", out);
	ck_assert_str_eq(out, "1 Mar 2026");		/* 00:00 in Berlin */
	documents_format_date(MARCH_1_2026 - 3600, NULL, out);
	ck_assert_str_eq(out, "28 Feb 2026");		/* 23:00 in UTC */
	ck_assert_int_eq(documents_year_start(2027, "Europe/Berlin"), 1798758000LL);
	ck_assert_int_eq(documents_year_start(2027, "No/Such_Zone"), 1798761600LL);
	documents_format_date(MARCH_1_2026, "America/New_York", out);
	ck_assert_str_eq(out, "28 Feb 2026");
	unsetenv("TZ");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("documents");
	TCase *tc = tcase_create("dates");

	tcase_add_test(tc, dates_in_utc);
	tcase_add_test(tc, dates_in_other_zones_switch_back_and_forth);
	suite_add_tcase(s, tc);
	return s;
}
