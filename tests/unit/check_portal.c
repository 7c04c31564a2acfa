/* check_portal.c: the portal's building blocks: brand colours meet WCAG AA whatever the
 * merchant picks, uploaded PNGs are checked and stripped of metadata, time zones, the form
 * library, and session overrides of the settings. */
#define _GNU_SOURCE
#include <string.h>

#include "check_main.h"
#include "billing/portal_settings.h"
#include "core/color.h"
#include "core/png.h"
#include "core/tz.h"
#include "portal/form.h"

static double
contrast(const char *a, const char *b)
{
	struct rgb x, y;

	ck_assert_int_eq(color_parse(a, &x), 0);
	ck_assert_int_eq(color_parse(b, &y), 0);
	return color_contrast(x, y);
}

START_TEST(contrast_matches_wcag_examples)
{
	ck_assert(contrast("#000000", "#ffffff") > 20.99);
	ck_assert(contrast("#ffffff", "#ffffff") < 1.001);
	/* #767676 on white is the well-known 4.54:1 */
	ck_assert(contrast("#767676", "#ffffff") > 4.5 && contrast("#767676", "#ffffff") < 4.6);
	ck_assert_int_ne(color_parse("#12345", &(struct rgb){ 0 }), 0);
	ck_assert_int_ne(color_parse("123456", &(struct rgb){ 0 }), 0);
	ck_assert_int_ne(color_parse("#12345g", &(struct rgb){ 0 }), 0);
}
END_TEST

/* Every colour a merchant could pick (sampled over the whole cube) gives a palette whose
 * pairs all meet AA. */
START_TEST(every_brand_colour_gives_an_aa_palette)
{
	for (int r = 0; r < 256; r += 15)
		for (int g = 0; g < 256; g += 15)
			for (int b = 0; b < 256; b += 15) {
				struct color_palette p;
				char brand[8];

				color_format((struct rgb){ (unsigned char)r, (unsigned char)g,
				    (unsigned char)b }, brand);
				color_palette(brand, &p);
				ck_assert_msg(contrast(p.fill, p.on_fill) >= COLOR_AA, "%s", brand);
				ck_assert_msg(contrast(p.ink, COLOR_PAGE) >= COLOR_AA, "%s", brand);
				ck_assert_msg(contrast(p.ink, COLOR_WHITE) >= COLOR_AA, "%s", brand);
			}
}
END_TEST

START_TEST(palette_keeps_good_colours_and_moves_mid_tones)
{
	struct color_palette p;

	color_palette("#1F4FD1", &p);		/* dark blue: white text, unchanged */
	ck_assert_str_eq(p.fill, "#1f4fd1");
	ck_assert_str_eq(p.on_fill, COLOR_WHITE);
	ck_assert(!p.adjusted);
	color_palette("#ffd84d", &p);		/* yellow: dark text, unchanged */
	ck_assert_str_eq(p.fill, "#ffd84d");
	ck_assert_str_eq(p.on_fill, COLOR_DARK);
	ck_assert(strcmp(p.ink, "#ffd84d") != 0);	/* as link text it is darkened */
	color_palette("#2e8b57", &p);		/* sea green: neither reaches 4.5 */
	ck_assert(p.adjusted);
	ck_assert(strcmp(p.fill, "#2e8b57") != 0);
	ck_assert(contrast(p.fill, p.on_fill) >= COLOR_AA);
	color_palette("nonsense", &p);
	ck_assert_str_eq(p.brand, COLOR_DEFAULT_BRAND);
}
END_TEST

/* A PNG from chunks, with correct CRCs. */
static size_t
chunk(unsigned char *out, const char *type, const unsigned char *data, uint32_t len)
{
	uint32_t crc;

	out[0] = (unsigned char)(len >> 24);
	out[1] = (unsigned char)(len >> 16);
	out[2] = (unsigned char)(len >> 8);
	out[3] = (unsigned char)len;
	memcpy(out + 4, type, 4);
	if (len)
		memcpy(out + 8, data, len);
	crc = png_crc(out + 4, len + 4, 0);
	out[8 + len] = (unsigned char)(crc >> 24);
	out[9 + len] = (unsigned char)(crc >> 16);
	out[10 + len] = (unsigned char)(crc >> 8);
	out[11 + len] = (unsigned char)crc;
	return len + 12;
}

static size_t
make_png(unsigned char *out, uint32_t w, uint32_t h, bool text, bool trailing)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	/* zlib stream of one filter byte and one grey pixel */
	static const unsigned char idat[] = { 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02,
	    0x00, 0x01 };
	unsigned char ihdr[13] = { (unsigned char)(w >> 24), (unsigned char)(w >> 16),
	    (unsigned char)(w >> 8), (unsigned char)w, (unsigned char)(h >> 24),
	    (unsigned char)(h >> 16), (unsigned char)(h >> 8), (unsigned char)h, 8, 0, 0, 0, 0 };
	size_t n = 8;

	memcpy(out, sig, 8);
	n += chunk(out + n, "IHDR", ihdr, 13);
	if (text)
		n += chunk(out + n, "tEXt", (const unsigned char *)"Author\0secret", 13);
	n += chunk(out + n, "IDAT", idat, sizeof(idat));
	n += chunk(out + n, "IEND", NULL, 0);
	if (trailing)
		out[n++] = 'x';
	return n;
}

START_TEST(png_good_one_is_kept_without_metadata)
{
	unsigned char png[256];
	struct png_info info;
	struct buf out;
	char err[200];
	size_t n = make_png(png, 64, 32, true, false);

	buf_init(&out);
	ck_assert_int_eq(png_clean(png, n, 1024, &info, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.width, 64);
	ck_assert_uint_eq(info.height, 32);
	ck_assert_uint_eq(out.len, n - 25);	/* the tEXt chunk (13 + 12) is gone */
	ck_assert_ptr_null(memmem(out.data, out.len, "secret", 6));
	buf_free(&out);
}
END_TEST

START_TEST(png_bad_ones_are_refused_with_a_reason)
{
	unsigned char png[256];
	struct png_info info;
	struct buf out;
	char err[200];
	size_t n;

	buf_init(&out);
	n = make_png(png, 64, 32, false, false);
	png[0] = 'G';				/* signature */
	ck_assert_int_ne(png_clean(png, n, 1024, &info, &out, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "not a PNG"));
	n = make_png(png, 64, 32, false, false);
	png[20] ^= 1;				/* IHDR data: CRC fails */
	ck_assert_int_ne(png_clean(png, n, 1024, &info, &out, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "checksum"));
	n = make_png(png, 4000, 32, false, false);	/* too wide */
	ck_assert_int_ne(png_clean(png, n, 1024, &info, &out, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "at most"));
	n = make_png(png, 64, 32, false, true);	/* data after IEND */
	ck_assert_int_ne(png_clean(png, n, 1024, &info, &out, err, sizeof(err)), 0);
	n = make_png(png, 64, 32, false, false);
	ck_assert_int_ne(png_clean(png, n - 12, 1024, &info, &out, err, sizeof(err)), 0);
	ck_assert_int_ne(png_clean(png, 30, 1024, &info, &out, err, sizeof(err)), 0);
	buf_free(&out);
}
END_TEST

START_TEST(time_zones_are_iana_names_with_zoneinfo)
{
	char out[64];

	ck_assert(tz_valid("UTC"));
	ck_assert(tz_valid("Europe/Paris"));
	ck_assert(tz_valid("America/Argentina/Buenos_Aires"));
	ck_assert(!tz_valid("Mars/Olympus"));
	ck_assert(!tz_valid("../../etc/passwd"));
	ck_assert(!tz_valid("/etc/localtime"));
	ck_assert(!tz_valid(""));
	ck_assert(!tz_valid("Europe/Paris "));
	/* 2026-01-01 00:30 UTC is still 31 December in New York */
	tz_format(out, sizeof(out), "%-d %B %Y", 1767227400, "America/New_York");
	ck_assert_str_eq(out, "31 December 2025");
	tz_format(out, sizeof(out), "%-d %B %Y", 1767227400, "Europe/Paris");
	ck_assert_str_eq(out, "1 January 2026");
}
END_TEST

/* A date typed in the site's zone means that day's midnight there, summer time or not. */
START_TEST(dates_people_type_are_read_in_the_sites_zone)
{
	int y, m, d;

	ck_assert_int_eq(tz_parse_date("2027-03-27", &y, &m, &d), 0);
	ck_assert(y == 2027 && m == 3 && d == 27);
	ck_assert_int_eq(tz_parse_date("2028-02-29", &y, &m, &d), 0);	/* leap year */
	ck_assert_int_ne(tz_parse_date("2027-02-29", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("2027-04-31", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("2027-13-01", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("27-03-2027", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("2027-3-27", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("2027-03-27x", &y, &m, &d), 0);
	ck_assert_int_ne(tz_parse_date("", &y, &m, &d), 0);
	/* London: GMT in January, BST (UTC+1) in July. */
	ck_assert_int_eq(tz_mktime(2027, 1, 15, 0, 0, "Europe/London"), 1799971200LL);
	ck_assert_int_eq(tz_mktime(2027, 7, 15, 0, 0, "Europe/London"), 1815606000LL);
	ck_assert_int_eq(tz_mktime(2027, 7, 15, 0, 0, "UTC"), 1815609600LL);
	ck_assert_int_eq(tz_mktime(2027, 7, 15, 0, 0, "Not/AZone"), 1815609600LL);
}
END_TEST

static struct form_option
plan_option(size_t i)
{
	static const struct form_option o[] = { { "a", "Plan A", "$1.00 per month" },
	    { "b", "Plan B", NULL }, { NULL, NULL, NULL } };

	return o[i < 2 ? i : 2];
}

static const struct form_field kinds[] = {
	{ .name = "plan", .label = "Choose a plan", .kind = FORM_RADIOS, .option = plan_option,
	  .required = true, .missing = "Select a plan" },
	{ .name = "note", .label = "Anything else?", .noun = "Your note", .kind = FORM_TEXTAREA,
	  .max_len = 8 },
	{ .name = "number", .label = "Card number", .kind = FORM_NUMERIC, .secret = true,
	  .required = true },
	{ .name = "agree", .label = "Use it", .kind = FORM_CHECKBOX },
	{ .name = NULL }
};

START_TEST(form_radios_text_areas_and_secret_fields)
{
	struct http_request r;
	struct form f;
	cJSON *d = cJSON_CreateObject();
	char err[128];
	const char *html;
	static const struct form_option late[] = { { "x", "Plan X", NULL } };

	http_request_init(&r);
	/* Empty: the radios' question is the summary's link, tied to its fieldset. */
	http_parse_urlencoded(&r.arena, "note=&number=", 13, &r.form);
	form_init(&f, kinds);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 2);
	ck_assert_int_eq(form_view(&f, d, err, sizeof(err)), 0);
	html = json_str(d, "fields");
	ck_assert_ptr_nonnull(strstr(html, "<fieldset class=\"choice-fieldset\" "
	    "aria-describedby=\"f-plan-error\">"));
	ck_assert_ptr_nonnull(strstr(html, "<legend class=\"label\">Choose a plan</legend>"));
	ck_assert_ptr_nonnull(strstr(html, "id=\"f-plan\" name=\"plan\" type=\"radio\" "
	    "value=\"a\" aria-describedby=\"f-plan-item-hint\""));
	ck_assert_ptr_nonnull(strstr(html, "id=\"f-plan-2\" name=\"plan\" type=\"radio\" "
	    "value=\"b\">"));
	ck_assert_ptr_nonnull(strstr(html, "Select a plan"));
	ck_assert_ptr_nonnull(strstr(html, "inputmode=\"numeric\""));
	cJSON_Delete(d);
	/* Wrong: an option not offered; a note too long (named by its noun); a line break is
	 * fine in a text area; the card number is never shown back. */
	http_parse_urlencoded(&r.arena, "plan=zz&note=a%0Ab%0Acdefgh&number=4242424242424242"
	    "&agree=yes", 61, &r.form);
	form_init(&f, kinds);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 2);
	d = cJSON_CreateObject();
	ck_assert_int_eq(form_view(&f, d, err, sizeof(err)), 0);
	html = json_str(d, "fields");
	ck_assert_ptr_nonnull(strstr(html, "Your note must be 8 characters or fewer"));
	ck_assert_ptr_null(strstr(html, "4242"));
	ck_assert_ptr_nonnull(strstr(html, "type=\"checkbox\" value=\"yes\" checked"));
	cJSON_Delete(d);
	http_parse_urlencoded(&r.arena, "plan=b&note=a%0Ab&number=1", 26, &r.form);
	form_init(&f, kinds);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 0);
	ck_assert_str_eq(form_get(&f, "note"), "a\nb");
	/* Options and whether a field is required, decided at run time. */
	http_parse_urlencoded(&r.arena, "plan=b&number=", 14, &r.form);
	form_init(&f, kinds);
	form_options(&f, "plan", late, 1);
	form_require(&f, "number", false);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 1);	/* b is not offered now */
	http_request_free(&r);
}
END_TEST

static const char *
check_even(const char *v)
{
	return strlen(v) % 2 == 0 ? NULL : "Enter an even number of characters";
}

static struct form_option
opt(size_t i)
{
	static const struct form_option o[] = { { "", "Choose", NULL }, { "a", "A", NULL },
	    { "b", "B", NULL }, { NULL, NULL, NULL } };

	return o[i];
}

static const struct form_field fields[] = {
	{ .name = "name", .label = "Full name", .required = true, .max_len = 5,
	  .missing = "Enter your full name" },
	{ .name = "code", .label = "Code", .check = check_even },
	{ .name = "pick", .label = "Pick", .kind = FORM_SELECT, .option = opt },
	{ .name = "secret", .label = "Secret" },
	{ .name = NULL }
};

START_TEST(form_validates_keeps_answers_and_links_errors)
{
	struct http_request r;
	struct form f;
	cJSON *d = cJSON_CreateObject();
	char err[128];
	const char *html;

	http_request_init(&r);
	http_parse_urlencoded(&r.arena, "name=++&code=abc&pick=zz&secret=s", 33, &r.form);
	form_init(&f, fields);
	form_hide(&f, "secret");
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 3);
	ck_assert_str_eq(form_get(&f, "code"), "abc");		/* kept */
	ck_assert_str_eq(form_get(&f, "secret"), "");		/* hidden: not read */
	ck_assert_int_eq(form_view(&f, d, err, sizeof(err)), 0);
	html = json_str(d, "fields");
	ck_assert_ptr_nonnull(strstr(html, "id=\"f-name-error\""));
	ck_assert_ptr_nonnull(strstr(html, "aria-describedby=\"f-name-error\""));
	ck_assert_ptr_nonnull(strstr(html, "Enter your full name"));
	ck_assert_ptr_nonnull(strstr(html, "value=\"abc\""));
	ck_assert_ptr_nonnull(strstr(html, "Select Pick from the list"));
	ck_assert_ptr_null(strstr(html, "f-secret"));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "errors")), 3);
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "errors"), 0), "href"),
	    "#f-name");
	cJSON_Delete(d);

	http_parse_urlencoded(&r.arena, "name=Ann%0AB&code=%3Cbb%3E", 26, &r.form);
	form_init(&f, fields);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 1);	/* line break refused */
	d = cJSON_CreateObject();
	ck_assert_int_eq(form_view(&f, d, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(json_str(d, "fields"), "value=\"&lt;bb&gt;\""));	/* escaped */
	cJSON_Delete(d);

	http_parse_urlencoded(&r.arena, "name=Ann&code=ab&pick=b", 23, &r.form);
	form_init(&f, fields);
	ck_assert_int_eq(form_read(&f, &r.form, &r.arena), 0);
	form_error(&f, "code", "The domain said no");
	ck_assert_int_eq(f.n_errors, 1);
	http_request_free(&r);
}
END_TEST

static struct portal_settings
site_settings(void)
{
	struct portal_settings s;

	memset(&s, 0, sizeof(s));
	s.edit_billing_details = s.payment_methods = s.cancel_subscription = true;
	s.cancel_mode = PORTAL_CANCEL_END_OF_TERM;
	s.cancel_reason = PORTAL_REASON_OPTIONAL;
	s.session_idle_timeout = 1800;
	s.session_absolute_timeout = 43200;
	s.pause_max_days = 30;
	s.downgrades_at_end_of_term = true;
	snprintf(s.cancel_reasons[0].code, sizeof(s.cancel_reasons[0].code), "too_expensive");
	s.n_cancel_reasons = 1;
	return s;
}

static bool
listed(const char *const *list, const char *v)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, v) == 0)
			return true;
	return false;
}

START_TEST(session_features_override_in_both_directions)
{
	struct portal_settings s = site_settings();
	struct portal_policy pol;

	ck_assert_int_eq(portal_settings_override(&s, "{\"edit_billing_details\":false,"
	    "\"pause_subscription\":true,\"cancel_mode\":\"immediately\","
	    "\"change_plan\":true,\"change_plan_plans\":[\"pro\"],\"session_idle_timeout\":600}"), 0);
	ck_assert(!s.edit_billing_details);
	ck_assert(s.pause_subscription);
	ck_assert_int_eq(s.cancel_mode, PORTAL_CANCEL_IMMEDIATELY);
	ck_assert_int_eq(s.session_idle_timeout, 600);
	portal_policy(&s, &pol);
	ck_assert(pol.sub.change_allowed);
	ck_assert(listed(pol.sub.plans, "pro"));
	ck_assert(!listed(pol.sub.plans, "basic"));
	ck_assert(pol.sub.downgrade_at_end_only);
	ck_assert(!pol.customer.edit_allowed);
	s = site_settings();
	ck_assert_int_ne(portal_settings_override(&s, "{\"session_idle_timeout\":50000}"), 0);
}
END_TEST

/* The domain's operations enforce the policy; here: it says what the settings say. */
START_TEST(policy_follows_the_settings)
{
	struct portal_settings s = site_settings();
	struct portal_policy pol;

	portal_policy(&s, &pol);
	ck_assert(pol.sub.cancel_allowed);
	ck_assert(!pol.sub.cancel_now_allowed);
	ck_assert(!pol.sub.reason_required);
	ck_assert(listed(pol.sub.reasons, "too_expensive"));
	ck_assert(!listed(pol.sub.reasons, "bogus"));
	ck_assert(!pol.sub.comment_allowed);
	ck_assert(!pol.sub.change_allowed);
	ck_assert(pol.sub.plans != NULL && pol.sub.plans[0] == NULL);	/* none, not all */
	ck_assert(!pol.sub.pause_allowed);
	ck_assert_int_eq(pol.sub.pause_max_days, 30);
	ck_assert(!pol.sub.reactivate_allowed);
	ck_assert(pol.customer.edit_allowed);
	ck_assert(!pol.customer.email_editable);
	s.cancel_reason = PORTAL_REASON_REQUIRED;
	s.cancel_mode = PORTAL_CANCEL_IMMEDIATELY;
	s.cancel_comment = s.pause_subscription = s.reactivate_subscription = true;
	portal_policy(&s, &pol);
	ck_assert(pol.sub.reason_required);
	ck_assert(pol.sub.cancel_now_allowed);
	ck_assert(pol.sub.comment_allowed && pol.sub.pause_allowed && pol.sub.reactivate_allowed);
	s.cancel_reason = PORTAL_REASON_OFF;	/* no reasons taken at all */
	s.cancel_subscription = false;
	portal_policy(&s, &pol);
	ck_assert(pol.sub.reasons != NULL && pol.sub.reasons[0] == NULL);
	ck_assert(!pol.sub.cancel_allowed);
	s.change_plan_timing = PORTAL_CHANGE_END_OF_TERM;
	portal_policy(&s, &pol);
	ck_assert(!pol.sub.change_now_allowed);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("portal");
	TCase *tc = tcase_create("portal");

	tcase_add_test(tc, contrast_matches_wcag_examples);
	tcase_add_test(tc, every_brand_colour_gives_an_aa_palette);
	tcase_add_test(tc, palette_keeps_good_colours_and_moves_mid_tones);
	tcase_add_test(tc, png_good_one_is_kept_without_metadata);
	tcase_add_test(tc, png_bad_ones_are_refused_with_a_reason);
	tcase_add_test(tc, time_zones_are_iana_names_with_zoneinfo);
	tcase_add_test(tc, form_validates_keeps_answers_and_links_errors);
	tcase_add_test(tc, form_radios_text_areas_and_secret_fields);
	tcase_add_test(tc, dates_people_type_are_read_in_the_sites_zone);
	tcase_add_test(tc, session_features_override_in_both_directions);
	tcase_add_test(tc, policy_follows_the_settings);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
