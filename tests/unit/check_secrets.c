/* check_secrets.c: the secrets file (refusals), sealing (round trip, tampering, context,
 * rotation, fresh nonces) and derivation. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "core/config.h"
#include "core/secrets.h"

#define KEY_A	"q3Zx0TrF5r0nIYb6f7d3Yh6cB0iZc9E2k0wqg3m0Z+s="
#define KEY_B	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char path[64];

static int
load_file(const char *text, mode_t mode, struct secrets *s, char *err, size_t errlen)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/check_secrets.%d", (int)getpid());
	unlink(path);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return secrets_load(s, path, err, errlen);
}

static void teardown(void) { unlink(path); }

static void
loaded(struct secrets *s, const char *text)
{
	char err[512] = "";

	ck_assert_msg(load_file(text, 0640, s, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(file_is_read)
{
	struct secrets s;

	loaded(&s, "[keys]\nserver_key = " KEY_A "\nprevious_server_keys = " KEY_B "\n"
	    "[database]\npassword = p'w d\n[mail]\nsmtp_password = m\n");
	ck_assert_int_eq(s.nkeys, 2);
	ck_assert_str_eq(s.db_password, "p'w d");
	ck_assert_str_eq(s.smtp_password, "m");
	ck_assert_uint_eq(strlen(s.keys[0].id), SECRETS_KEY_ID_LEN);
	ck_assert_str_ne(s.keys[0].id, s.keys[1].id);
}
END_TEST

START_TEST(readable_by_others_is_refused)
{
	struct secrets s;
	char err[512];

	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\n", 0644, &s, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "readable by others"));
	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\n", 0601, &s, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\n", 0600, &s, err,
	    sizeof(err)), 0);
}
END_TEST

START_TEST(missing_or_malformed_is_refused)
{
	struct secrets s;
	char err[512];

	ck_assert_int_eq(secrets_load(&s, "/nonexistent/secrets", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "missing"));
	ck_assert_int_eq(load_file("[keys]\n", 0640, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no [keys] server_key"));
	ck_assert_int_eq(load_file("[keys]\nserver_key = c2hvcnQ=\n", 0640, &s, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\nserver_key = " KEY_B "\n",
	    0640, &s, err, sizeof(err)), -1);
	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\n[database]\npasword = x\n",
	    0640, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "pasword"));
	ck_assert_int_eq(load_file("[keys]\nserver_key = " KEY_A "\nprevious_server_keys = "
	    KEY_B ",nope\n", 0640, &s, err, sizeof(err)), -1);
	ck_assert_int_eq(load_file("garbage\n", 0640, &s, err, sizeof(err)), -1);
	ck_assert(!s.loaded);
}
END_TEST

START_TEST(seal_round_trip)
{
	struct secrets s;
	struct buf sealed, out;
	const char *msg = "{\"token\":\"site.ps_1.secret\"}";

	loaded(&s, "[keys]\nserver_key = " KEY_A "\n");
	buf_init(&sealed);
	buf_init(&out);
	ck_assert_int_eq(secrets_seal(&s, msg, strlen(msg), "site-a:key-1", &sealed), 0);
	ck_assert_int_eq(strncmp(sealed.data, "v1.", 3), 0);
	ck_assert_int_eq(strncmp(sealed.data + 3, s.keys[0].id, SECRETS_KEY_ID_LEN), 0);
	ck_assert_ptr_null(strstr(sealed.data, "secret"));
	ck_assert_int_eq(secrets_open(&s, sealed.data, "site-a:key-1", &out), 0);
	ck_assert_str_eq(out.data, msg);
	buf_reset(&sealed);
	buf_reset(&out);
	ck_assert_int_eq(secrets_seal(&s, "", 0, "c", &sealed), 0);
	ck_assert_int_eq(secrets_open(&s, sealed.data, "c", &out), 0);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&sealed);
	buf_free(&out);
}
END_TEST

START_TEST(any_change_is_detected)
{
	struct secrets s;
	struct buf sealed, out;
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	loaded(&s, "[keys]\nserver_key = " KEY_A "\n");
	buf_init(&sealed);
	buf_init(&out);
	ck_assert_int_eq(secrets_seal(&s, "hello world", 11, "ctx", &sealed), 0);
	/* Every position of the encoded part, changed to another character. */
	for (size_t i = 3 + SECRETS_KEY_ID_LEN + 1; i < sealed.len; i++) {
		char saved = sealed.data[i];

		sealed.data[i] = strchr(alphabet, saved)[1] ? strchr(alphabet, saved)[1] : 'A';
		ck_assert_msg(secrets_open(&s, sealed.data, "ctx", &out) == -1, "pos %zu", i);
		ck_assert_uint_eq(out.len, 0);
		sealed.data[i] = saved;
	}
	/* Cut short, lengthened, or with another version. */
	sealed.data[sealed.len - 1] = '\0';
	ck_assert_int_eq(secrets_open(&s, sealed.data, "ctx", &out), -1);
	ck_assert_int_eq(secrets_open(&s, "v2.00000000.AAAA", "ctx", &out), -1);
	ck_assert_int_eq(secrets_open(&s, "garbage", "ctx", &out), -1);
	ck_assert_int_eq(secrets_open(&s, "", "ctx", &out), -1);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&sealed);
	buf_free(&out);
}
END_TEST

START_TEST(wrong_context_does_not_open)
{
	struct secrets s;
	struct buf sealed, out;

	loaded(&s, "[keys]\nserver_key = " KEY_A "\n");
	buf_init(&sealed);
	buf_init(&out);
	ck_assert_int_eq(secrets_seal(&s, "x", 1, "site-a:k", &sealed), 0);
	ck_assert_int_eq(secrets_open(&s, sealed.data, "site-b:k", &out), -1);
	ck_assert_int_eq(secrets_open(&s, sealed.data, "site-a:k2", &out), -1);
	ck_assert_int_eq(secrets_open(&s, sealed.data, "", &out), -1);
	ck_assert_int_eq(secrets_open(&s, sealed.data, "site-a:k", &out), 0);
	buf_free(&sealed);
	buf_free(&out);
}
END_TEST

START_TEST(old_key_still_opens_after_rotation)
{
	struct secrets before, after, other;
	struct buf sealed, out, resealed;

	loaded(&before, "[keys]\nserver_key = " KEY_A "\n");
	buf_init(&sealed);
	buf_init(&out);
	buf_init(&resealed);
	ck_assert_int_eq(secrets_seal(&before, "old", 3, "c", &sealed), 0);
	loaded(&after, "[keys]\nprevious_server_keys = " KEY_A "\nserver_key = " KEY_B "\n");
	ck_assert_int_eq(secrets_open(&after, sealed.data, "c", &out), 0);
	ck_assert_str_eq(out.data, "old");
	/* New seals use the current key: the old key alone cannot open them. */
	ck_assert_int_eq(secrets_seal(&after, "new", 3, "c", &resealed), 0);
	ck_assert_int_eq(strncmp(resealed.data + 3, after.keys[0].id, SECRETS_KEY_ID_LEN), 0);
	buf_reset(&out);
	ck_assert_int_eq(secrets_open(&before, resealed.data, "c", &out), -1);
	/* Without the old key, the old seal is lost. */
	loaded(&other, "[keys]\nserver_key = " KEY_B "\n");
	ck_assert_int_eq(secrets_open(&other, sealed.data, "c", &out), -1);
	buf_free(&sealed);
	buf_free(&out);
	buf_free(&resealed);
}
END_TEST

START_TEST(each_seal_has_a_fresh_nonce)
{
	struct secrets s;
	struct buf a, b;

	loaded(&s, "[keys]\nserver_key = " KEY_A "\n");
	buf_init(&a);
	buf_init(&b);
	ck_assert_int_eq(secrets_seal(&s, "same", 4, "c", &a), 0);
	ck_assert_int_eq(secrets_seal(&s, "same", 4, "c", &b), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_str_ne(a.data, b.data);
	/* The nonce is the first 12 bytes: 16 base64url characters differ at the start. */
	ck_assert_int_ne(memcmp(a.data + 12, b.data + 12, 16), 0);
	buf_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(derive_is_stable_and_bound_to_label_and_key)
{
	struct secrets s, t;
	unsigned char x[32], y[32], z[32], w[32];

	loaded(&s, "[keys]\nserver_key = " KEY_A "\n");
	loaded(&t, "[keys]\nserver_key = " KEY_B "\n");
	ck_assert_int_eq(secrets_derive(&s, "manage", "cus_1", 5, x), 0);
	ck_assert_int_eq(secrets_derive(&s, "manage", "cus_1", 5, y), 0);
	ck_assert_int_eq(memcmp(x, y, 32), 0);
	ck_assert_int_eq(secrets_derive(&s, "other", "cus_1", 5, z), 0);
	ck_assert_int_ne(memcmp(x, z, 32), 0);
	ck_assert_int_eq(secrets_derive(&t, "manage", "cus_1", 5, w), 0);
	ck_assert_int_ne(memcmp(x, w, 32), 0);
	ck_assert_int_eq(secrets_derive(&s, "manage", "cus_2", 5, w), 0);
	ck_assert_int_ne(memcmp(x, w, 32), 0);
}
END_TEST

START_TEST(generated_key_loads)
{
	struct secrets s;
	char key[SECRETS_KEY_B64_LEN + 1], other[SECRETS_KEY_B64_LEN + 1], text[128];

	ck_assert_int_eq(secrets_new_key(key), 0);
	ck_assert_int_eq(secrets_new_key(other), 0);
	ck_assert_uint_eq(strlen(key), SECRETS_KEY_B64_LEN);
	ck_assert_str_ne(key, other);
	snprintf(text, sizeof(text), "[keys]\nserver_key = %s\n", key);
	loaded(&s, text);
	ck_assert_int_eq(s.nkeys, 1);
}
END_TEST

START_TEST(config_needs_its_secrets_file)
{
	struct config cfg;
	char cpath[80], err[512];
	FILE *f;

	snprintf(cpath, sizeof(cpath), "/tmp/check_secrets_conf.%d", (int)getpid());
	f = fopen(cpath, "w");
	fputs("[security]\nsecrets_file = /nonexistent/secrets\n", f);
	fclose(f);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, cpath, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/secrets"));
	loaded(&cfg.secrets, "[keys]\nserver_key = " KEY_A "\n");
	f = fopen(cpath, "w");
	fprintf(f, "[security]\nsecrets_file = %s\n", path);
	fclose(f);
	config_defaults(&cfg);
	ck_assert_msg(config_load(&cfg, cpath, err, sizeof(err)) == 0, "%s", err);
	ck_assert(cfg.secrets.loaded);
	f = fopen(cpath, "w");
	fprintf(f, "[database]\nconninfo = postgresql://u:pw@h/db\n[security]\nsecrets_file = %s\n",
	    path);
	fclose(f);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, cpath, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "URI"));
	ck_assert_ptr_null(strstr(err, "pw"));
	unlink(cpath);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, file_is_read);
	tcase_add_test(tc, readable_by_others_is_refused);
	tcase_add_test(tc, missing_or_malformed_is_refused);
	tcase_add_test(tc, seal_round_trip);
	tcase_add_test(tc, any_change_is_detected);
	tcase_add_test(tc, wrong_context_does_not_open);
	tcase_add_test(tc, old_key_still_opens_after_rotation);
	tcase_add_test(tc, each_seal_has_a_fresh_nonce);
	tcase_add_test(tc, derive_is_stable_and_bound_to_label_and_key);
	tcase_add_test(tc, generated_key_loads);
	tcase_add_test(tc, config_needs_its_secrets_file);
	suite_add_tcase(s, tc);
	return s;
}
