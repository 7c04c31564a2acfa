/* portalctl.c: the administrator's tool: set up, check and migrate an installation, create
 * sites, issue and rotate API keys, show the configuration and the statement table. Output
 * is JSON for scripts, except setup and check, which talk to a person. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/auth.h"
#include "cli/mailctl.h"
#include "cli/ops.h"
#include "core/config.h"
#include "db/db.h"
#include "core/json.h"
#include "core/log.h"
#include "db/migrate.h"
#include "db/stmts.h"
#include "billing/access.h"
#include "billing/events.h"
#include "billing/gateways.h"
#include "billing/notify.h"
#include "billing/portal_settings.h"
#include "billing/legal.h"
#include "billing/objects.h"
#include "billing/subscriptions.h"

static void
usage_to(FILE *f)
{
	fprintf(f,
	    "usage: portalctl [--config FILE] COMMAND\n"
	    "  setup [--site ID] [--name NAME] [--live] [--admin-conninfo CONNINFO]\n"
	    "                                  first install: database role and database (or\n"
	    "                                  the SQL to run), migrations, the first site\n"
	    "  check                           config, secrets, database, schema, socket, mail\n"
	    "                                  relay and gateway; one line each\n"
	    "  migrate [--lock-timeout SECONDS]\n"
	    "                                  apply pending schema migrations; one that waits\n"
	    "                                  longer for a table's lock (default 5, 0: no\n"
	    "                                  limit) is rolled back and tried again, 5 times\n"
	    "  migrate --status                applied, pending and conflicting migrations\n"
	    "  migrate --if-local              migrate only a database on this host (postinst)\n"
	    "  drop-database --yes-really [--admin-conninfo CONNINFO]\n"
	    "                                  drop the database and its role, for good\n"
	    "  site create ID [--test|--live] [--name NAME]\n"
	    "                                  create a site; prints its first API key once\n"
	    "  site list                       list sites\n"
	    "  site dunning SITE [--retry-days 1,3,5] [--final cancel|mark_uncollectible]\n"
	    "                                  retries after a failed charge, and what ends them\n"
	    "  legal-details SITE [--set FILE]\n"
	    "                                  show the seller's details invoices print, or set\n"
	    "                                  them from a JSON file ('-': stdin) with the\n"
	    "                                  fields of POST /api/v1/legal_details\n"
	    "  gateway show SITE               the site's payment gateway (never its keys)\n"
	    "  gateway set SITE test           the built-in test gateway (test sites only)\n"
	    "  gateway set SITE stripe [--secret-key-file FILE] [--webhook-secret-file FILE]\n"
	    "                                  Stripe, with the account's secret key and the\n"
	    "                                  webhook endpoint's signing secret, read from the\n"
	    "                                  files (\"-\": standard input, one per line)\n"
	    "  portal-access SITE CUSTOMER revoke | restore\n"
	    "                                  end a customer's portal access at once (its\n"
	    "                                  sessions and mailed links), or give it back\n"
	    "  portal-config SITE get          print the site's portal configuration\n"
	    "  portal-config SITE set FILE.json\n"
	    "                                  change it (the API's partial update)\n"
	    "  portal-config SITE logo FILE.png | --remove\n"
	    "                                  upload (or remove) the portal's logo\n"
	    "  key rotate SITE [--grace SECONDS]\n"
	    "                                  issue a new key; old keys work for SECONDS more\n"
	    "  key revoke SITE KEY_ID          end one key now (its id is the part after sk_MODE_)\n"
	    "  config show                     print the effective configuration (no secrets)\n"
	    "  secrets generate                print a new '[keys] server_key = ...' line\n"
	    "  stmts                           print the SQL statement table\n"
	    "  subscription-rules              print the subscription state machine\n"
	    "%s"
	    "  help                            this text\n", mailctl_usage);
}

static void
usage(void)
{
	usage_to(stderr);
}

static int
die(const char *what, const char *detail)
{
	fprintf(stderr, "portalctl: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

static void
print_json(struct buf *b)
{
	fwrite(b->data, 1, b->len, stdout);
	fputc('\n', stdout);
	buf_free(b);
}

/* Inserts a new key for site; prints nothing. */
static int
new_key(struct db *db, const char *site, const char *mode, char *key, size_t keylen,
    char id[AUTH_KEY_ID_LEN + 1])
{
	char hash[65], now[24];
	const char *params[4];
	PGresult *res;

	if (auth_new_key(mode, key, keylen, id, hash) != 0)
		return -1;
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	params[0] = id;
	params[1] = site;
	params[2] = hash;
	params[3] = now;
	res = db_exec(db, STMT_APIKEY_INSERT, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void
write_site(struct jw *w, const char *key, PGresult *res, int row)
{
	jw_obj_begin(w, key);
	jw_str(w, "id", db_val(res, row, 0));
	jw_str(w, "object", "site");
	jw_str(w, "name", db_val(res, row, 1));
	jw_str(w, "mode", db_val(res, row, 2));
	jw_int_text(w, "clock_offset", db_val(res, row, 3));
	jw_int_text(w, "created_at", db_val(res, row, 4));
	jw_obj_end(w);
}

static int
cmd_site_create(struct db *db, int argc, char **argv)
{
	const char *id, *mode = "test", *name = NULL;
	char key[AUTH_KEY_MAX + 1], kid[AUTH_KEY_ID_LEN + 1], now[24];
	const char *params[4];
	PGresult *res;
	struct buf b;
	struct jw w;

	if (argc < 1)
		return usage(), 2;
	id = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--test") == 0)
			mode = "test";
		else if (strcmp(argv[i], "--live") == 0)
			mode = "live";
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else
			return usage(), 2;
	}
	if (strlen(id) > 40 || check_id(id) != NULL || strchr(id, '_') != NULL)
		return die("site id must be 1-40 of a-z, 0-9 and '-'", id);
	for (const char *p = id; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return die("site id must be lower case", id);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	params[0] = id;
	params[1] = name ? name : id;
	params[2] = mode;
	params[3] = now;
	if (db_begin(db) != 0)
		return die("database", db->errmsg);
	res = db_exec(db, STMT_SITE_INSERT, params);
	if (res == NULL) {
		db_rollback(db);
		return die("cannot create site", db->errmsg);
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback(db);
		return die("a site with this id exists already", id);
	}
	PQclear(res);
	if (new_key(db, id, mode, key, sizeof(key), kid) != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return die("cannot issue the API key", db->errmsg);
	}
	res = db_exec(db, STMT_SITE_GET, params);
	if (res == NULL || PQntuples(res) != 1)
		return die("cannot read the site back", db->errmsg);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	write_site(&w, "site", res, 0);
	jw_str(&w, "api_key", key);
	jw_str(&w, "api_key_id", kid);
	jw_obj_end(&w);
	PQclear(res);
	print_json(&b);
	return 0;
}

static int
cmd_site_list(struct db *db)
{
	PGresult *res = db_exec(db, STMT_SITE_LIST, NULL);
	struct buf b;
	struct jw w;

	if (res == NULL)
		return die("database", db->errmsg);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "list");
	jw_arr_begin(&w, "data");
	for (int i = 0; i < PQntuples(res); i++)
		write_site(&w, NULL, res, i);
	jw_arr_end(&w);
	jw_obj_end(&w);
	PQclear(res);
	print_json(&b);
	return 0;
}

static int
cmd_site_dunning(struct db *db, int argc, char **argv)
{
	char sched[256] = "";
	const char *final = NULL;
	PGresult *res;

	if (argc < 1)
		return usage(), 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--retry-days") == 0 && i + 1 < argc) {
			/* Days after the first failure, ascending, stored in seconds. */
			char list[256], *tok, *save = NULL;
			long prev = 0;

			snprintf(list, sizeof(list), "%s", argv[++i]);
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				char *end;
				long d = strtol(tok, &end, 10);

				if (*end != '\0' || d <= prev || d > 60 || strlen(sched) > 200)
					return die("--retry-days takes ascending days, 1 to 60", argv[i]);
				prev = d;
				snprintf(sched + strlen(sched), sizeof(sched) - strlen(sched), "%s%ld",
				    sched[0] ? "," : "", d * 86400);
			}
		} else if (strcmp(argv[i], "--final") == 0 && i + 1 < argc) {
			final = argv[++i];
			if (strcmp(final, "cancel") != 0 && strcmp(final, "mark_uncollectible") != 0)
				return die("--final takes cancel or mark_uncollectible", final);
		} else
			return usage(), 2;
	}
	res = db_exec(db, STMT_SITE_SET_DUNNING, (const char *[]){ argv[0], sched[0] ? sched : NULL,
	    final });
	if (res == NULL)
		return die("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return die("no such site", argv[0]);
	}
	printf("{\"site\":\"%s\",\"dunning_schedule_seconds\":[%s],\"dunning_final_action\":\"%s\"}\n",
	    argv[0], db_val(res, 0, 0), db_val(res, 0, 1));
	PQclear(res);
	return 0;
}

static int
cmd_key_rotate(struct db *db, const struct config *cfg, int argc, char **argv)
{
	const char *site;
	long grace = cfg->key_grace_seconds;
	char key[AUTH_KEY_MAX + 1], kid[AUTH_KEY_ID_LEN + 1], until[24];
	const char *params[3];
	PGresult *res;
	struct buf b;
	struct jw w;
	char mode[8];

	if (argc < 1)
		return usage(), 2;
	site = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
			char *end;
			grace = strtol(argv[++i], &end, 10);
			if (*end != '\0' || grace < 0 || grace > 90L * 86400)
				return die("--grace takes 0 to 7776000 seconds", argv[i]);
		} else
			return usage(), 2;
	}
	params[0] = site;
	res = db_exec(db, STMT_SITE_GET, params);
	if (res == NULL)
		return die("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return die("no such site", site);
	}
	snprintf(mode, sizeof(mode), "%s", db_val(res, 0, 2));
	PQclear(res);
	if (db_begin(db) != 0 || new_key(db, site, mode, key, sizeof(key), kid) != 0)
		return die("cannot issue the API key", db->errmsg);
	snprintf(until, sizeof(until), "%lld", (long long)time(NULL) + grace);
	params[1] = kid;
	params[2] = until;
	res = db_exec(db, STMT_APIKEY_EXPIRE_OTHERS, params);
	if (res != NULL) {
		PQclear(res);
		res = db_exec(db, STMT_APIKEY_NOTIFY, params);	/* delivered at commit */
	}
	if (res == NULL || db_commit(db) != 0) {
		PQclear(res);
		db_rollback(db);
		return die("cannot rotate", db->errmsg);
	}
	PQclear(res);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "site", site);
	jw_str(&w, "api_key", key);
	jw_str(&w, "api_key_id", kid);
	jw_int(&w, "previous_keys_expire_at", atoll(until));
	jw_obj_end(&w);
	print_json(&b);
	return 0;
}

/* Ends one key of a site at once; workers drop their cached copy on the NOTIFY. */
static int
cmd_key_revoke(struct db *db, int argc, char **argv)
{
	const char *params[3];
	char now[24];
	PGresult *res;
	struct buf b;
	struct jw w;
	int n;

	if (argc != 2)
		return usage(), 2;
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	params[0] = argv[0];
	params[1] = argv[1];
	params[2] = now;
	if (db_begin(db) != 0)
		return die("database", db->errmsg);
	res = db_exec(db, STMT_APIKEY_REVOKE, params);
	n = res ? PQntuples(res) : 0;
	PQclear(res);
	if (res != NULL && n == 1) {
		res = db_exec(db, STMT_APIKEY_NOTIFY, params);
		PQclear(res);
	}
	if (res == NULL || n != 1 || db_commit(db) != 0) {
		db_rollback(db);
		return die(res == NULL ? "cannot revoke" : "no such live key", res == NULL ?
		    db->errmsg : argv[1]);
	}
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "site", argv[0]);
	jw_str(&w, "api_key_id", argv[1]);
	jw_int(&w, "revoked_at", atoll(now));
	jw_obj_end(&w);
	print_json(&b);
	return 0;
}

/* Reads all of path ("-": standard input), at most max bytes, into b, NUL-terminated. */
static int
read_file(const char *path, size_t max, struct buf *b, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(b, chunk, n);
		if (b->len > max) {
			snprintf(err, errlen, "%s is larger than %zu bytes", path, max);
			rc = -1;
		}
	}
	if (f != stdin)
		fclose(f);
	buf_append(b, "", 0);
	return rc;
}

/* The site's legal details (the seller on its invoices): shown, or set from a JSON file
 * through the same domain call and field table as POST /api/v1/legal_details. */
static int
cmd_legal_details(struct db *db, int argc, char **argv)
{
	const char *file = NULL;
	struct json_error je;
	struct site site;
	struct dctx d;
	struct derr e;
	struct buf in, out;
	char msg[256];
	cJSON *body = NULL;
	PGresult *res;
	int rc = 1;

	if (argc < 1)
		return usage(), 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
			file = argv[++i];
		else
			return usage(), 2;
	}
	res = db_exec(db, STMT_SITE_GET, (const char *[]){ argv[0] });
	if (res == NULL)
		return die("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return die("no such site", argv[0]);
	}
	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", argv[0]);
	snprintf(site.mode, sizeof(site.mode), "%s", db_val(res, 0, SITE_MODE));
	site.clock_offset = db_ll(res, 0, SITE_OFFSET, 0);
	PQclear(res);
	dctx_init(&d, db, &site, (long long)time(NULL) + site.clock_offset, ACTOR_ADMIN, NULL);
	buf_init(&in);
	buf_init(&out);
	if (file != NULL) {
		if (read_file(file, 1u << 20, &in, msg, sizeof(msg)) != 0) {
			die("legal-details", msg);
			goto out;
		}
		body = json_parse(in.data, in.len, 16, &je);
		if (body == NULL || json_validate(body, legal_fields, NULL, &je) != 0) {
			fprintf(stderr, "portalctl: %s: %s\n", file, je.message);
			goto out;
		}
		if (db_begin(db) != 0) {
			die("database", db->errmsg);
			goto out;
		}
		if (legal_update(&d, body, &e) != 0) {
			db_rollback(db);
			fprintf(stderr, "portalctl: %s%s%s\n", e.message, e.param[0] ? ": " : "",
			    e.param);
			goto out;
		}
		if (db_commit(db) != 0) {
			die("database", db->errmsg);
			goto out;
		}
	}
	if (obj_render(&d, OBJ_LEGAL_DETAILS, site.id, &out, &e) != 0) {
		die("cannot read the legal details", e.message);
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	fputc('\n', stdout);
	rc = 0;
out:
	cJSON_Delete(body);
	buf_free(&in);
	buf_free(&out);
	return rc;
}

/* One line of a secret from path ("-": the next line of standard input), without its
 * line end. Secrets never come as arguments: those show in ps and shell histories. */
static int
read_secret(const char *path, char *out, size_t n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t len;

	if (f == NULL)
		return -1;
	if (fgets(out, (int)n, f) == NULL)
		out[0] = '\0';
	if (f != stdin)
		fclose(f);
	len = strlen(out);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
	    out[len - 1] == ' '))
		out[--len] = '\0';
	return len > 0 ? 0 : -1;
}

static int
print_gateway(struct dctx *d)
{
	struct derr e;
	struct buf b;

	buf_init(&b);
	if (obj_render(d, OBJ_GATEWAY, d->site.id, &b, &e) != 0) {
		buf_free(&b);
		return die("gateway", e.message);
	}
	print_json(&b);
	return 0;
}

/* portalctl gateway show|set SITE ...: the site's payment gateway, as an administrator. */
static int
cmd_gateway(struct db *db, const struct config *cfg, int argc, char **argv)
{
	char key[300] = "", hook[300] = "";
	const char *key_file = NULL, *hook_file = NULL;
	struct gateway_site_req r = { NULL, NULL, NULL };
	struct site site;
	struct dctx d;
	struct derr e;
	PGresult *res;
	int rc;

	if (argc < 2 || (strcmp(argv[0], "show") != 0 && strcmp(argv[0], "set") != 0) ||
	    (strcmp(argv[0], "set") == 0 && argc < 3))
		return usage(), 2;
	res = db_exec(db, STMT_SITE_GET, (const char *[]){ argv[1] });
	if (res == NULL)
		return die("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return die("no such site", argv[1]);
	}
	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", db_val(res, 0, SITE_ID));
	snprintf(site.mode, sizeof(site.mode), "%s", db_val(res, 0, SITE_MODE));
	site.clock_offset = db_ll(res, 0, SITE_OFFSET, 0);
	PQclear(res);
	gateways_configure(cfg);
	dctx_init(&d, db, &site, (long long)time(NULL) + site.clock_offset, ACTOR_ADMIN, NULL);
	if (strcmp(argv[0], "show") == 0)
		return print_gateway(&d);
	r.name = argv[2];
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--secret-key-file") == 0 && i + 1 < argc)
			key_file = argv[++i];
		else if (strcmp(argv[i], "--webhook-secret-file") == 0 && i + 1 < argc)
			hook_file = argv[++i];
		else
			return usage(), 2;
	}
	/* Stripe with neither file: both from standard input, the key first. */
	if (strcmp(r.name, "stripe") == 0 && key_file == NULL && hook_file == NULL)
		key_file = hook_file = "-";
	if (key_file != NULL) {
		if (read_secret(key_file, key, sizeof(key)) != 0)
			return die("cannot read the secret key from", key_file);
		r.secret_key = key;
	}
	if (hook_file != NULL) {
		if (read_secret(hook_file, hook, sizeof(hook)) != 0)
			return die("cannot read the webhook signing secret from", hook_file);
		r.webhook_secret = hook;
	}
	if (db_begin(db) != 0)
		return die("database", db->errmsg);
	rc = gateways_site_set(&d, &r, &e);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hook, sizeof(hook));
	if (rc != 0) {
		db_rollback(db);
		return die("gateway", e.message);
	}
	if (db_commit(db) != 0)
		return die("database", db->errmsg);
	return print_gateway(&d);
}

static void
print_config(const struct config *cfg, const struct portal_settings *s)
{
	struct buf b;
	struct jw w;

	buf_init(&b);
	jw_init(&w, &b);
	portal_config_write(&w, s, cfg->public_url);
	print_json(&b);
}

/* portal-config SITE get | set FILE.json | logo FILE.png | logo --remove: the same
 * domain calls as the API, in one transaction, recorded as events. */
static int
cmd_portal_config(struct db *db, const struct config *cfg, int argc, char **argv)
{
	struct portal_settings s;
	struct derr err = { DERR_UNAVAILABLE, "database_error", "", "database error" };
	struct site site;
	struct dctx d;
	struct buf file;
	char msg[256];
	int rc;

	if (argc < 2)
		return usage(), 2;
	if ((rc = portal_settings_load(db, argv[0], NULL, &s)) <= 0)
		return die(rc < 0 ? "database" : "no such site", rc < 0 ? db->errmsg : argv[0]);
	if (strcmp(argv[1], "get") == 0 && argc == 2) {
		print_config(cfg, &s);
		return 0;
	}
	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", s.site_id);
	snprintf(site.mode, sizeof(site.mode), "%s", s.test_mode ? "test" : "live");
	site.clock_offset = s.clock_offset;
	dctx_init(&d, db, &site, (long long)time(NULL) + s.clock_offset, ACTOR_ADMIN, NULL);
	buf_init(&file);
	if (strcmp(argv[1], "set") == 0 && argc == 3) {
		struct json_error je;
		cJSON *changes;

		if (read_file(argv[2], cfg->max_body, &file, msg, sizeof(msg)) != 0) {
			buf_free(&file);
			return die("portal-config set", msg);
		}
		changes = json_parse(file.data, file.len, cfg->json_max_depth, &je);
		buf_free(&file);
		if (changes == NULL || json_validate(changes, portal_configuration_fields, NULL,
		    &je) != 0) {
			cJSON_Delete(changes);
			return die(je.param[0] ? je.param : "portal-config set", je.message);
		}
		rc = db_begin(db) != 0 ? -1 : portal_config_update(&d, changes, cfg->public_url,
		    &s, &err);
		cJSON_Delete(changes);
	} else if (strcmp(argv[1], "logo") == 0 && argc == 3) {
		bool remove = strcmp(argv[2], "--remove") == 0;

		if (!remove && read_file(argv[2], PORTAL_LOGO_MAX_BYTES, &file, msg,
		    sizeof(msg)) != 0) {
			buf_free(&file);
			return die("portal-config logo", msg);
		}
		rc = db_begin(db) != 0 ? -1 : portal_logo_set(&d, remove ? NULL :
		    (const unsigned char *)file.data, remove ? 0 : file.len, cfg->public_url,
		    &s, &err);
		buf_free(&file);
	} else {
		buf_free(&file);
		return usage(), 2;
	}
	if (rc != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return die(rc != 0 && err.param[0] ? err.param : "portal-config",
		    rc != 0 ? err.message : db->errmsg);
	}
	print_config(cfg, &s);
	return 0;
}

/* portal-access SITE CUSTOMER revoke | restore: the same domain calls as the API, in one
 * transaction; revoking ends the customer's sessions and links at once. */
static int
cmd_portal_access(struct db *db, int argc, char **argv)
{
	struct portal_settings s;
	struct derr err = { DERR_UNAVAILABLE, "database_error", "", "database error" };
	struct site site;
	struct dctx d;
	bool revoke;
	int rc;

	if (argc != 3 || (strcmp(argv[2], "revoke") != 0 && strcmp(argv[2], "restore") != 0))
		return usage(), 2;
	revoke = strcmp(argv[2], "revoke") == 0;
	if ((rc = portal_settings_load(db, argv[0], NULL, &s)) <= 0)
		return die(rc < 0 ? "database" : "no such site", rc < 0 ? db->errmsg : argv[0]);
	memset(&site, 0, sizeof(site));
	snprintf(site.id, sizeof(site.id), "%s", s.site_id);
	snprintf(site.mode, sizeof(site.mode), "%s", s.test_mode ? "test" : "live");
	site.clock_offset = s.clock_offset;
	dctx_init(&d, db, &site, (long long)time(NULL) + s.clock_offset, ACTOR_ADMIN, NULL);
	if (db_begin(db) != 0)
		return die("database", db->errmsg);
	rc = revoke ? access_revoke(&d, argv[1], &err) : access_restore(&d, argv[1], &err);
	if (rc != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return die("portal-access", rc != 0 ? err.message : db->errmsg);
	}
	{
		struct buf b;
		struct jw w;

		buf_init(&b);
		jw_init(&w, &b);
		if (obj_write(&d, OBJ_CUSTOMER, argv[1], &w, &err) != 0) {
			buf_free(&b);
			return die("portal-access", err.message);
		}
		print_json(&b);
	}
	return 0;
}

/* The conninfo as libpq reads it, every password-like keyword (libpq marks them with
 * dispchar '*') left out whatever its quoting, re-quoted so it reads back the same. */
static void
conninfo_public(const char *conninfo, struct buf *out)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);

	if (opts == NULL) {
		buf_puts(out, "(not a valid conninfo)");
		PQfreemem(perr);
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || (o->dispchar != NULL && o->dispchar[0] == '*'))
			continue;
		if (out->len > 0)
			buf_putc(out, ' ');
		buf_puts(out, o->keyword);
		buf_putc(out, '=');
		if (o->val[0] != '\0' && strpbrk(o->val, " \t\n'\\") == NULL) {
			buf_puts(out, o->val);
			continue;
		}
		buf_putc(out, '\'');
		for (const char *p = o->val; *p != '\0'; p++) {
			if (*p == '\'' || *p == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *p);
		}
		buf_putc(out, '\'');
	}
	PQconninfoFree(opts);
}

/* Shows the configuration. No secret is printed: the conninfo without any password, and
 * of the secrets file only its path and how many server keys it holds. */
static int
cmd_config_show(const struct config *cfg, const char *path)
{
	struct buf conn;
	struct buf b;
	struct jw w;
	char mode[8];

	buf_init(&conn);
	conninfo_public(cfg->db_conninfo, &conn);
	snprintf(mode, sizeof(mode), "%04o", (unsigned)cfg->socket_mode);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "config_file", path);
	jw_str(&w, "database.conninfo", conn.data ? conn.data : "");
	jw_bool(&w, "database.password_set", cfg->secrets.db_password[0] != '\0');
	jw_int(&w, "database.connect_timeout", cfg->db_connect_timeout);
	jw_str(&w, "server.socket", cfg->socket_path);
	jw_str(&w, "server.socket_owner", cfg->socket_owner);
	jw_str(&w, "server.socket_group", cfg->socket_group);
	jw_str(&w, "server.socket_mode", mode);
	jw_int(&w, "server.workers", cfg->workers);
	jw_bool(&w, "server.workers_auto", cfg->workers_auto);
	jw_int(&w, "server.max_body", (long long)cfg->max_body);
	jw_int(&w, "server.json_max_depth", cfg->json_max_depth);
	jw_str(&w, "server.public_url", cfg->public_url);
	jw_str(&w, "server.log_level", cfg->log_level);
	jw_int(&w, "security.key_rotation_grace", cfg->key_grace_seconds);
	/* [mail] has no secret in it: the relay password lives in the secrets file. */
	jw_str(&w, "mail.relay", cfg->mail_relay);
	jw_str(&w, "mail.starttls", cfg->mail_starttls);
	jw_str(&w, "mail.username", cfg->mail_username);
	jw_str(&w, "mail.from_address", cfg->mail_from_address);
	jw_str(&w, "mail.from_name", cfg->mail_from_name);
	jw_str(&w, "mail.helo", cfg->mail_helo);
	jw_int(&w, "mail.connect_timeout", cfg->mail_connect_timeout);
	jw_int(&w, "mail.timeout", cfg->mail_timeout);
	jw_str(&w, "mail.ca_file", cfg->mail_ca_file);
	jw_bool(&w, "mail.tls_verify", cfg->mail_tls_verify != 0);
	jw_str(&w, "stripe.api_base", cfg->stripe_api_base);
	jw_str(&w, "stripe.ca_file", cfg->stripe_ca_file);
	jw_int(&w, "stripe.connect_timeout", cfg->stripe_connect_timeout);
	jw_int(&w, "stripe.timeout", cfg->stripe_timeout);
	jw_str(&w, "security.secrets_file", cfg->secrets_file);
	jw_int(&w, "security.server_keys", cfg->secrets.nkeys);
	jw_bool(&w, "webhooks.allow_private_targets", cfg->webhook_allow_private != 0);
	jw_bool(&w, "jobs.enabled", cfg->jobs_enabled);
	jw_int(&w, "jobs.max_lag", cfg->jobs_max_lag);
	jw_obj_end(&w);
	buf_free(&conn);
	print_json(&b);
	return 0;
}

/* First install: the database, then the first site unless there is one, then what is left
 * for the administrator to do. Safe to run again. */
static int
cmd_setup(const struct config *cfg, const char *path, int argc, char **argv)
{
	struct setup_opts o;
	struct db db;
	PGresult *res;
	int rc = 0, nsites;

	if (ops_setup_args(argc, argv, &o) != 0)
		return usage(), 2;
	if (ops_setup_database(cfg, &o) != 0)
		return 1;
	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	if (db_ensure(&db) != 0) {
		db_close(&db);
		return die("cannot connect to the database", db.errmsg);
	}
	res = db_exec(&db, STMT_SITE_LIST, NULL);
	if (res == NULL) {
		db_close(&db);
		return die("database", db.errmsg);
	}
	nsites = PQntuples(res);
	PQclear(res);
	if (nsites == 0) {
		char *args[5];
		int n = 0;

		args[n++] = (char *)o.site;
		args[n++] = strcmp(o.mode, "live") == 0 ? "--live" : "--test";
		if (o.name != NULL) {
			args[n++] = "--name";
			args[n++] = (char *)o.name;
		}
		args[n] = NULL;
		printf("setup: the first site, %s; its API key is shown once:\n", o.site);
		fflush(stdout);
		rc = cmd_site_create(&db, n, args);
	} else
		printf("setup: %d site%s exist%s already ('portalctl site list'); none created\n",
		    nsites, nsites == 1 ? "" : "s", nsites == 1 ? "s" : "");
	db_close(&db);
	if (rc == 0)
		ops_setup_next_steps(path);
	return rc;
}

static int
cmd_stmts(void)
{
	struct buf b;
	struct jw w;

	buf_init(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w, NULL);
	for (int i = 0; i < STMT__MAX; i++) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "name", stmts[i].name);
		jw_str(&w, "sql", stmts[i].sql);
		jw_int(&w, "nparams", stmts[i].nparams);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	print_json(&b);
	return 0;
}

/* The subscription state machine as declared (src/billing/subscriptions.c), for tests and
 * for people: every row's operation, from-statuses, target and event. */
static int
cmd_subscription_rules(void)
{
	struct buf b;
	struct jw w;

	buf_init(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w, NULL);
	for (int a = 0; a < SA__MAX; a++) {
		const struct sub_rule *r = &sub_rules[a];

		jw_obj_begin(&w, NULL);
		jw_str(&w, "name", r->name);
		jw_str(&w, "op", r->op);
		jw_str(&w, "variant", r->variant);
		jw_arr_begin(&w, "from");
		for (int st = SS_NONE; st < SS_SERVING; st++)
			if (r->from & SS_BIT(st))
				jw_str(&w, NULL, subs_status_name((enum sub_status)st));
		jw_arr_end(&w);
		jw_str(&w, "to", r->to == SS_NONE ? NULL : r->to == SS_SERVING ?
		    "active_or_non_renewing" : subs_status_name(r->to));
		jw_bool(&w, "charges", r->charges);
		jw_str(&w, "event", r->event);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	print_json(&b);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	const char *path = getenv("PORTALD_CONFIG");
	struct db db;
	char err[512];
	int i = 1, rc;

	if (argc > 2 && strcmp(argv[1], "--config") == 0) {
		path = argv[2];
		i = 3;
	}
	if (path == NULL || *path == '\0')
		path = CONFIG_DEFAULT_PATH;
	if (i >= argc) {
		usage();
		return 2;
	}
	log_set_level(LOG_WARN);
	if (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0) {
		usage_to(stdout);
		return 0;
	}
	if (strcmp(argv[i], "stmts") == 0)
		return cmd_stmts();
	if (strcmp(argv[i], "subscription-rules") == 0)
		return cmd_subscription_rules();
	if (strcmp(argv[i], "secrets") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "generate") == 0) {
		char key[SECRETS_KEY_B64_LEN + 1];

		if (secrets_new_key(key) != 0)
			return die("secrets generate", "no randomness available");
		printf("server_key = %s\n", key);
		return 0;
	}
	config_defaults(&cfg);
	/* check reports on the secrets file itself, so a bad one is a line, not an exit. */
	if (strcmp(argv[i], "check") == 0 && i + 1 == argc) {
		if (config_load_settings(&cfg, path, err, sizeof(err)) != 0)
			return die("configuration", err);
		return ops_check(&cfg, path);
	}
	if (config_load(&cfg, path, err, sizeof(err)) != 0)
		return die("configuration", err);
	db_set_password(cfg.secrets.db_password);
	notify_configure(&cfg);
	events_set_reaction(access_on_event);
	if (strcmp(argv[i], "config") == 0 && i + 1 < argc && strcmp(argv[i + 1], "show") == 0)
		return cmd_config_show(&cfg, path);

	if (strcmp(argv[i], "migrate") == 0)
		return ops_migrate(&cfg, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "check") == 0 && i + 1 == argc)
		return ops_check(&cfg, path);
	if (strcmp(argv[i], "drop-database") == 0)
		return ops_drop_database(&cfg, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "setup") == 0)
		return cmd_setup(&cfg, path, argc - i - 1, argv + i + 1);
	db_init(&db, cfg.db_conninfo, cfg.db_connect_timeout, true);
	if (db_ensure(&db) != 0)
		return die("cannot connect to the database (did you run 'portalctl migrate'?)",
		    db.errmsg);
	if (strcmp(argv[i], "site") == 0 && i + 1 < argc && strcmp(argv[i + 1], "create") == 0)
		rc = cmd_site_create(&db, argc - i - 2, argv + i + 2);
	else if (strcmp(argv[i], "site") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "list") == 0)
		rc = cmd_site_list(&db);
	else if (strcmp(argv[i], "site") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "dunning") == 0)
		rc = cmd_site_dunning(&db, argc - i - 2, argv + i + 2);
	else if (strcmp(argv[i], "mail") == 0)
		rc = mailctl_main(&db, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "portal-access") == 0)
		rc = cmd_portal_access(&db, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "portal-config") == 0)
		rc = cmd_portal_config(&db, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "gateway") == 0)
		rc = cmd_gateway(&db, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "legal-details") == 0)
		rc = cmd_legal_details(&db, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "key") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "rotate") == 0)
		rc = cmd_key_rotate(&db, &cfg, argc - i - 2, argv + i + 2);
	else if (strcmp(argv[i], "key") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "revoke") == 0)
		rc = cmd_key_revoke(&db, argc - i - 2, argv + i + 2);
	else {
		usage();
		rc = 2;
	}
	db_close(&db);
	return rc;
}
