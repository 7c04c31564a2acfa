/* check_config.c: portald.conf parsing: values, defaults, and clear errors. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "core/config.h"

static char path[64], secrets_path[64];

/* Writes text, and a secrets file it names, then loads them. */
static int
load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/check_config.%d.conf", (int)getpid());
	snprintf(secrets_path, sizeof(secrets_path), "/tmp/check_config.%d.secrets",
	    (int)getpid());
	f = fopen(secrets_path, "w");
	fputs("[keys]\nserver_key = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", f);
	fclose(f);
	chmod(secrets_path, 0600);
	f = fopen(path, "w");
	fputs(text, f);
	fprintf(f, "\n[security]\nsecrets_file = %s\n", secrets_path);
	fclose(f);
	config_defaults(cfg);
	return config_load(cfg, path, err, errlen);
}

static void teardown(void) { unlink(path); unlink(secrets_path); }

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

START_TEST(workers_default_to_two_per_cpu)
{
	struct config cfg;
	char err[256];
	int cpus = config_auto_workers() / 2;

	ck_assert_int_ge(cpus, 1);
	ck_assert_int_eq(load("[server]\npublic_url = https://b.example\n", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 2 * cpus);
	ck_assert_int_eq(cfg.workers_auto, 1);
	ck_assert_int_eq(load("[server]\nworkers = 3\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_int_eq(cfg.workers_auto, 0);
	ck_assert_int_eq(load("[server]\nworkers = auto\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.workers, 2 * cpus);
}
END_TEST

START_TEST(secrets_file_and_max_lag_are_read)
{
	struct config cfg;
	char err[256];

	/* load() names its own secrets file last: that one is read. */
	ck_assert_int_eq(load("[jobs]\nmax_lag = 60\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.secrets_file, secrets_path);
	ck_assert_int_eq(cfg.jobs_max_lag, 60);
	ck_assert_int_eq(load("[jobs]\nmax_lag = 1\n", &cfg, err, sizeof(err)), -1);
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

START_TEST(mail_keys_are_read)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[mail]\nrelay = smtps://smtp.example.net:465\nstarttls = none\n"
	    "username = portald\nfrom_address = billing@shop.example\nfrom_name = Shop Billing\n"
	    "helo = portal.shop.example\nconnect_timeout = 5\ntimeout = 30\n"
	    "ca_file = /etc/ssl/relay.pem\ntls_verify = no\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.mail_relay, "smtps://smtp.example.net:465");
	ck_assert_str_eq(cfg.mail_starttls, "none");
	ck_assert_str_eq(cfg.mail_username, "portald");
	ck_assert_str_eq(cfg.mail_from_address, "billing@shop.example");
	ck_assert_str_eq(cfg.mail_from_name, "Shop Billing");
	ck_assert_str_eq(cfg.mail_helo, "portal.shop.example");
	ck_assert_int_eq(cfg.mail_connect_timeout, 5);
	ck_assert_int_eq(cfg.mail_timeout, 30);
	ck_assert_str_eq(cfg.mail_ca_file, "/etc/ssl/relay.pem");
	ck_assert_int_eq(cfg.mail_tls_verify, 0);
}
END_TEST

START_TEST(mail_defaults_are_safe)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[server]\nworkers = 2\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.mail_relay, "");		/* no relay: mail waits */
	ck_assert_str_eq(cfg.mail_starttls, "required");
	ck_assert_int_eq(cfg.mail_tls_verify, 1);
	ck_assert_int_eq(cfg.mail_connect_timeout, 10);
	ck_assert_int_eq(cfg.mail_timeout, 60);
}
END_TEST

START_TEST(mail_password_is_not_a_config_key)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[mail]\npassword = hunter2\n", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown setting [mail] password"));
	ck_assert_ptr_null(strstr(err, "hunter2"));
	ck_assert_int_eq(load("[mail]\nrelay = smtp://portald:hunter2@smtp.example.net\n"
	    "from_address = b@shop.example\n", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "secrets file"));
	ck_assert_ptr_null(strstr(err, "hunter2"));
}
END_TEST

START_TEST(mail_bad_values_are_errors)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[mail]\nstarttls = maybe\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[mail]\ntls_verify = perhaps\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[mail]\ntimeout = 0\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[mail]\nconnect_timeout = 301\n", &cfg, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[mail]\nrelay = http://smtp.example.net\n"
	    "from_address = b@shop.example\n", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "smtp://"));
	/* A relay needs a sender. */
	ck_assert_int_eq(load("[mail]\nrelay = smtp://127.0.0.1:25\n", &cfg, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "from_address"));
}
END_TEST

START_TEST(mail_credentials_need_encryption_off_this_host)
{
	struct config cfg;
	char err[256];

	ck_assert_int_eq(load("[mail]\nrelay = smtp://smtp.example.net:587\nstarttls = "
	    "opportunistic\nusername = u\nfrom_address = b@shop.example\n", &cfg, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "encrypted"));
	ck_assert_int_eq(load("[mail]\nrelay = smtp://smtp.example.net:587\nstarttls = "
	    "required\nusername = u\nfrom_address = b@shop.example\n", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(load("[mail]\nrelay = smtps://smtp.example.net\nstarttls = none\n"
	    "username = u\nfrom_address = b@shop.example\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(load("[mail]\nrelay = smtp://127.0.0.1:2525\nstarttls = none\n"
	    "username = u\nfrom_address = b@shop.example\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(load("[mail]\nrelay = smtp://localhost\nstarttls = none\n"
	    "username = u\nfrom_address = b@shop.example\n", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(load("[mail]\nrelay = smtp://localhost.evil.example\nstarttls = none\n"
	    "username = u\nfrom_address = b@shop.example\n", &cfg, err, sizeof(err)), -1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, values_are_read);
	tcase_add_test(tc, webhooks_to_internal_addresses_are_refused_by_default);
	tcase_add_test(tc, unknown_setting_is_an_error);
	tcase_add_test(tc, bad_number_is_an_error);
	tcase_add_test(tc, public_url_needs_a_scheme);
	tcase_add_test(tc, missing_file_is_an_error);
	tcase_add_test(tc, mail_keys_are_read);
	tcase_add_test(tc, mail_defaults_are_safe);
	tcase_add_test(tc, mail_password_is_not_a_config_key);
	tcase_add_test(tc, mail_bad_values_are_errors);
	tcase_add_test(tc, mail_credentials_need_encryption_off_this_host);
	tcase_add_test(tc, workers_default_to_two_per_cpu);
	tcase_add_test(tc, secrets_file_and_max_lag_are_read);
	suite_add_tcase(s, tc);
	return s;
}
