/* check_config.c: portald.conf parsing: values, defaults, and clear errors. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/config.h"

static char path[64];

static int
load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/check_config.%d.conf", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	config_defaults(cfg);
	return config_load(cfg, path, err, errlen);
}

static void teardown(void) { unlink(path); }

START_TEST(values_are_read)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[database]\nconninfo = host=/x dbname=p\n[server]\nworkers = 3\n"
	    "socket_mode = 0640\nmax_body = 2048\npublic_url = https://b.example/\n", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(cfg.db_conninfo, "host=/x dbname=p");
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_int_eq(cfg.socket_mode, 0640);
	ck_assert_uint_eq(cfg.max_body, 2048);
	ck_assert_str_eq(cfg.public_url, "https://b.example");	/* slash trimmed */
}
END_TEST

START_TEST(text_in_memory_is_read_like_a_file)
{
	struct config cfg;
	char err[256];

	config_defaults(&cfg);
	ck_assert_int_eq(config_load_string(&cfg, "[server]\nworkers = 7\n", "mem", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 7);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load_string(&cfg, "[server]\nworkers = 0\n", "mem", err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "mem:2: bad value for [server] workers");
}
END_TEST

START_TEST(webhooks_to_internal_addresses_are_refused_by_default)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\nworkers = 2\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.webhook_allow_private, 0);
	ck_assert_int_eq(load("[webhooks]\nallow_private_targets = true\n", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg.webhook_allow_private, 1);
	ck_assert_int_eq(load("[webhooks]\nallow_private_targets = maybe\n", &cfg, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(unknown_setting_is_an_error)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\nwokers = 3\n", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "wokers"));
}
END_TEST

START_TEST(bad_number_is_an_error)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\nworkers = lots\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[server]\nworkers = 0\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[server]\nsocket_mode = 999\n", &cfg, err, sizeof(err)), -1);
}
END_TEST

START_TEST(public_url_needs_a_scheme)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\npublic_url = billing.example\n", &cfg, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(missing_file_is_an_error)
{
	struct config cfg;
	char err[256];

	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, "/nonexistent/portald.conf", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, values_are_read);
	tcase_add_test(tc, text_in_memory_is_read_like_a_file);
	tcase_add_test(tc, webhooks_to_internal_addresses_are_refused_by_default);
	tcase_add_test(tc, unknown_setting_is_an_error);
	tcase_add_test(tc, bad_number_is_an_error);
	tcase_add_test(tc, public_url_needs_a_scheme);
	tcase_add_test(tc, missing_file_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
