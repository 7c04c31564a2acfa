/* portalctl.c: the administrator's tool: migrate, create sites, issue and rotate API keys,
 * show the configuration and the statement table. Output is JSON for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/auth.h"
#include "billing/portal_settings.h"
#include "core/config.h"
#include "db/db.h"
#include "core/json.h"
#include "core/log.h"
#include "db/migrate.h"
#include "db/stmts.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: portalctl [--config FILE] COMMAND\n"
	    "  migrate                         apply pending schema migrations\n"
	    "  site create ID [--test|--live] [--name NAME]\n"
	    "                                  create a site; prints its first API key once\n"
	    "  site list                       list sites\n"
	    "  site dunning SITE [--retry-days 1,3,5] [--final cancel|mark_uncollectible]\n"
	    "                                  retries after a failed charge, and what ends them\n"
	    "  portal-config SITE get          print the site's portal configuration\n"
	    "  portal-config SITE set FILE.json\n"
	    "                                  change it (the API's partial update)\n"
	    "  portal-config SITE logo FILE.png | --remove\n"
	    "                                  upload (or remove) the portal's logo\n"
	    "  key rotate SITE [--grace SECONDS]\n"
	    "                                  issue a new key; old keys work for SECONDS more\n"
	    "  config show                     print the effective configuration\n"
	    "  stmts                           print the SQL statement table\n");
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

/* Reads a whole file (at most max bytes) into b. */
static int
read_file(const char *path, size_t max, struct buf *b, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(b, chunk, n);
		if (b->len > max) {
			fclose(f);
			snprintf(err, errlen, "%s is larger than %zu bytes", path, max);
			return -1;
		}
	}
	fclose(f);
	buf_append(b, "", 0);
	return 0;
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
	struct billing_error err = { "database_error", "", "database error" };
	struct bctx b;
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
	b.db = db;
	b.site_id = argv[0];
	b.now = (long long)time(NULL) + s.clock_offset;
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
		rc = db_begin(db) != 0 ? -1 : portal_config_update(&b, changes, cfg->public_url,
		    &s, &err);
		cJSON_Delete(changes);
	} else if (strcmp(argv[1], "logo") == 0 && argc == 3) {
		bool remove = strcmp(argv[2], "--remove") == 0;

		if (!remove && read_file(argv[2], PORTAL_LOGO_MAX_BYTES, &file, msg,
		    sizeof(msg)) != 0) {
			buf_free(&file);
			return die("portal-config logo", msg);
		}
		rc = db_begin(db) != 0 ? -1 : portal_logo_set(&b, remove ? NULL :
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

/* Shows the configuration with any password in the conninfo masked. */
static int
cmd_config_show(const struct config *cfg, const char *path)
{
	char conn[CONFIG_STR_MAX];
	char *p;
	struct buf b;
	struct jw w;
	char mode[8];

	snprintf(conn, sizeof(conn), "%s", cfg->db_conninfo);
	if ((p = strstr(conn, "password=")) != NULL) {
		char *end = p + 9;
		while (*end && *end != ' ')
			*end++ = '*';
	}
	snprintf(mode, sizeof(mode), "%04o", (unsigned)cfg->socket_mode);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "config_file", path);
	jw_str(&w, "database.conninfo", conn);
	jw_int(&w, "database.connect_timeout", cfg->db_connect_timeout);
	jw_str(&w, "server.socket", cfg->socket_path);
	jw_str(&w, "server.socket_owner", cfg->socket_owner);
	jw_str(&w, "server.socket_group", cfg->socket_group);
	jw_str(&w, "server.socket_mode", mode);
	jw_int(&w, "server.workers", cfg->workers);
	jw_int(&w, "server.max_body", (long long)cfg->max_body);
	jw_int(&w, "server.json_max_depth", cfg->json_max_depth);
	jw_str(&w, "server.public_url", cfg->public_url);
	jw_str(&w, "server.log_level", cfg->log_level);
	jw_int(&w, "security.key_rotation_grace", cfg->key_grace_seconds);
	jw_obj_end(&w);
	print_json(&b);
	return 0;
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
	if (strcmp(argv[i], "stmts") == 0)
		return cmd_stmts();
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) != 0)
		return die("configuration", err);
	if (strcmp(argv[i], "config") == 0 && i + 1 < argc && strcmp(argv[i + 1], "show") == 0)
		return cmd_config_show(&cfg, path);

	if (strcmp(argv[i], "migrate") == 0) {
		int applied;

		db_init(&db, cfg.db_conninfo, cfg.db_connect_timeout, false);
		rc = migrate_run(&db, &applied, err, sizeof(err));
		db_close(&db);
		if (rc != 0)
			return die("migrate", err);
		printf("{\"migrations_applied\":%d}\n", applied);
		return 0;
	}
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
	else if (strcmp(argv[i], "portal-config") == 0)
		rc = cmd_portal_config(&db, &cfg, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "key") == 0 && i + 1 < argc &&
	    strcmp(argv[i + 1], "rotate") == 0)
		rc = cmd_key_rotate(&db, &cfg, argc - i - 2, argv + i + 2);
	else {
		usage();
		rc = 2;
	}
	db_close(&db);
	return rc;
}
