/* check_outbox.c: the mail outbox without a database: the retry schedule, the dates mail
 * shows, and a stored row composed into the same bytes every time, its sealed parts opened
 * under their own site and id only. Rows are made with libpq's result constructors, as
 * STMT_MAIL_GET returns them. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check_main.h"
#include "billing/notify.h"
#include "core/config.h"
#include "core/secrets.h"
#include "jobs/outbox.h"

static struct config cfg;
static char path[64];

static void
setup(void)
{
	char key[SECRETS_KEY_B64_LEN + 1], err[256] = "";
	FILE *f;

	config_defaults(&cfg);
	snprintf(cfg.public_url, sizeof(cfg.public_url), "https://billing.example");
	snprintf(cfg.mail_from_address, sizeof(cfg.mail_from_address), "billing@shop.example");
	ck_assert_int_eq(secrets_new_key(key), 0);
	snprintf(path, sizeof(path), "/tmp/check_outbox.%d", (int)getpid());
	unlink(path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[keys]\nserver_key = %s\n", key);
	fclose(f);
	chmod(path, 0600);
	ck_assert_msg(secrets_load(&cfg.secrets, path, err, sizeof(err)) == 0, "%s", err);
	notify_configure(&cfg);
}

static void
teardown(void)
{
	unlink(path);
	notify_configure(NULL);
}

START_TEST(backoff_doubles_from_a_minute_to_an_hour)
{
	static const long long want[] = { 60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600 };

	for (int n = 0; n < 10; n++)
		ck_assert_int_eq(outbox_backoff(n), want[n]);
	ck_assert_int_eq(outbox_backoff(1000000), OUTBOX_BACKOFF_MAX);
	ck_assert_int_eq(outbox_backoff(-3), 60);
}
END_TEST

START_TEST(dates_in_words_and_utc)
{
	char out[48];

	notify_date(0, out);
	ck_assert_str_eq(out, "1 January 1970");
	notify_date(1772548200, out);
	ck_assert_str_eq(out, "3 March 2026");
	notify_datetime(1772548200, out);
	ck_assert_str_eq(out, "3 March 2026, 14:30 UTC");
	notify_datetime(1772548200 + 9 * 3600 + 35 * 60, out);
	ck_assert_str_eq(out, "4 March 2026, 00:05 UTC");
}
END_TEST

static void
set(PGresult *res, int col, const char *v)
{
	ck_assert(PQsetvalue(res, 0, col, (char *)v, v ? (int)strlen(v) : -1));
}

/* A stored receipt of site "acme" whose parts are sealed for (seal_site, seal_id). */
static PGresult *
stored(const char *id, const char *seal_site, const char *seal_id)
{
	PGresAttDesc attrs[MAIL_SEQ + 1];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	struct buf text, html;
	char ctx[160];

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i <= MAIL_SEQ; i++) {
		attrs[i].name = (char *)"c";
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	ck_assert(PQsetResultAttrs(res, MAIL_SEQ + 1, attrs));
	snprintf(ctx, sizeof(ctx), "portald mail v1\n%s\n%s", seal_site, seal_id);
	buf_init(&text);
	buf_init(&html);
	ck_assert_int_eq(secrets_seal(&cfg.secrets, "Thank you, Zoë.\n", 17, ctx, &text), 0);
	ck_assert_int_eq(secrets_seal(&cfg.secrets, "<html><p>Thank you</p></html>", 29, ctx,
	    &html), 0);
	set(res, MAIL_ID, id);
	set(res, MAIL_TYPE, "payment_receipt");
	set(res, MAIL_TEST, "f");
	set(res, MAIL_MESSAGE_ID, "<mo_0123456789abcdef01234567.acme@shop.example>");
	set(res, MAIL_DATE, "1772548200");
	set(res, MAIL_FROM_NAME, "Zoë’s Café");
	set(res, MAIL_FROM_ADDR, "billing@shop.example");
	set(res, MAIL_REPLY_TO, "help@shop.example");
	set(res, MAIL_TO_NAME, "Jürgen Müller");
	set(res, MAIL_TO_ADDR, "j@example.com");
	set(res, MAIL_CC, "books@shop.example");
	set(res, MAIL_SUBJECT, "Receipt for your payment to Zoë’s Café (invoice 7)");
	set(res, MAIL_TEXT, text.data);
	set(res, MAIL_HTML, html.data);
	set(res, MAIL_STATUS, "pending");
	buf_free(&text);
	buf_free(&html);
	return res;
}

START_TEST(a_row_gives_the_same_bytes_every_time)
{
	PGresult *res = stored("mo_0123456789abcdef01234567", "acme",
	    "mo_0123456789abcdef01234567");
	struct buf a, b;
	const char *from = NULL;
	char err[256] = "";

	buf_init(&a);
	buf_init(&b);
	ck_assert_msg(notify_compose("acme", res, 0, &a, &from, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(notify_compose("acme", res, 0, &b, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.data, b.data, a.len) == 0);
	ck_assert_str_eq(from, "billing@shop.example");
	ck_assert_ptr_nonnull(strstr(a.data, "\r\nMessage-ID: "
	    "<mo_0123456789abcdef01234567.acme@shop.example>\r\n"));
	ck_assert_ptr_nonnull(strstr(a.data, "Date: Tue, 03 Mar 2026 14:30:00 +0000\r\n"));
	ck_assert_ptr_nonnull(strstr(a.data, "\r\nX-Portald-Type: payment_receipt\r\n"));
	ck_assert_ptr_nonnull(strstr(a.data, "\r\nAuto-Submitted: auto-generated\r\n"));
	ck_assert_ptr_nonnull(strstr(a.data, "Cc: books@shop.example\r\n"));
	ck_assert_ptr_nonnull(strstr(a.data, "Subject: =?UTF-8?"));
	ck_assert_ptr_nonnull(strstr(a.data, "Thank you, Zo=C3=AB."));
	buf_free(&a);
	buf_free(&b);
	PQclear(res);
}
END_TEST

START_TEST(parts_sealed_for_another_message_do_not_open)
{
	PGresult *moved = stored("mo_aaaaaaaaaaaaaaaaaaaaaaaa", "acme",
	    "mo_0123456789abcdef01234567");
	PGresult *other_site = stored("mo_0123456789abcdef01234567", "other",
	    "mo_0123456789abcdef01234567");
	struct buf out;
	char err[256] = "";

	buf_init(&out);
	ck_assert_int_eq(notify_compose("acme", moved, 0, &out, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot be opened"));
	ck_assert_int_eq(notify_compose("acme", other_site, 0, &out, NULL, err, sizeof(err)),
	    -1);
	buf_free(&out);
	PQclear(moved);
	PQclear(other_site);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("outbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, backoff_doubles_from_a_minute_to_an_hour);
	tcase_add_test(tc, dates_in_words_and_utc);
	tcase_add_test(tc, a_row_gives_the_same_bytes_every_time);
	tcase_add_test(tc, parts_sealed_for_another_message_do_not_open);
	suite_add_tcase(s, tc);
	return s;
}
