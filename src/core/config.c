/* config.c: reads portald.conf (INI, via inih) into struct config and checks it. */
#define _GNU_SOURCE	/* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "core/config.h"
#include "core/log.h"

struct config_ctx {
	struct config	*cfg;
	char		 err[256];
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->db_conninfo, sizeof(cfg->db_conninfo), "dbname=portald");
	cfg->db_connect_timeout = 3;
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "/run/portald/portald.sock");
	cfg->socket_mode = 0660;
	cfg->workers = config_auto_workers();
	cfg->workers_auto = 1;
	cfg->max_body = 1024 * 1024;
	cfg->json_max_depth = 16;
	snprintf(cfg->public_url, sizeof(cfg->public_url), "http://127.0.0.1:8080");
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->key_grace_seconds = 24 * 3600;
	cfg->jobs_enabled = 1;
	cfg->jobs_max_lag = 300;
	cfg->webhook_allow_private = 0;

	snprintf(cfg->mail_starttls, sizeof(cfg->mail_starttls), "required");
	cfg->mail_connect_timeout = 10;
	cfg->mail_timeout = 60;
	cfg->mail_tls_verify = 1;
	snprintf(cfg->secrets_file, sizeof(cfg->secrets_file), "%s", SECRETS_DEFAULT_PATH);
}

/* Workers block on the database for part of each request, so two per CPU keep the CPUs
 * busy without piling up connections; the affinity mask counts what a container or
 * systemd's CPUAffinity= leaves us. */
int
config_auto_workers(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	n *= 2;
	return n > 64 ? 64 : n;
}

static int
parse_long(const char *s, long min, long max, int base, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
copy_str(char *dst, size_t dstlen, const char *value)
{
	if (strlen(value) >= dstlen)
		return -1;
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* [mail]: one key into cfg, *rc = -1 on a bad value. Returns -1 for an unknown key. */
static int
config_mail(struct config *cfg, const char *name, const char *value, int *rc)
{
	long v;

	if (strcmp(name, "relay") == 0)
		*rc = copy_str(cfg->mail_relay, sizeof(cfg->mail_relay), value);
	else if (strcmp(name, "starttls") == 0) {
		*rc = strcmp(value, "none") == 0 || strcmp(value, "opportunistic") == 0 ||
		    strcmp(value, "required") == 0 ?
		    copy_str(cfg->mail_starttls, sizeof(cfg->mail_starttls), value) : -1;
	} else if (strcmp(name, "username") == 0)
		*rc = copy_str(cfg->mail_username, sizeof(cfg->mail_username), value);
	else if (strcmp(name, "from_address") == 0)
		*rc = copy_str(cfg->mail_from_address, sizeof(cfg->mail_from_address), value);
	else if (strcmp(name, "from_name") == 0)
		*rc = copy_str(cfg->mail_from_name, sizeof(cfg->mail_from_name), value);
	else if (strcmp(name, "helo") == 0)
		*rc = copy_str(cfg->mail_helo, sizeof(cfg->mail_helo), value);
	else if (strcmp(name, "connect_timeout") == 0) {
		if ((*rc = parse_long(value, 1, 300, 10, &v)) == 0)
			cfg->mail_connect_timeout = (int)v;
	} else if (strcmp(name, "timeout") == 0) {
		if ((*rc = parse_long(value, 1, 3600, 10, &v)) == 0)
			cfg->mail_timeout = (int)v;
	} else if (strcmp(name, "ca_file") == 0)
		*rc = copy_str(cfg->mail_ca_file, sizeof(cfg->mail_ca_file), value);
	else if (strcmp(name, "tls_verify") == 0)
		*rc = parse_bool(value, &cfg->mail_tls_verify);
	else
		return -1;
	return 0;
}

/* true when the relay URL's host is this machine, where a password in the clear does
 * not cross a network. */
static int
relay_is_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (h == NULL)
		return 0;
	h += 3;
	if (strncmp(h, "[::1]", 5) == 0)
		return 1;
	n = strcspn(h, ":/");
	return (n == 9 && strncmp(h, "localhost", 9) == 0) || strncmp(h, "127.", 4) == 0;
}

/* inih callback: returns 0 to stop with an error recorded in ctx->err. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_ctx *ctx = user;
	struct config *cfg = ctx->cfg;
	long v;
	int rc = 0;

#define IS(s, n) (strcmp(section, s) == 0 && strcmp(name, n) == 0)
	if (IS("database", "conninfo"))
		rc = copy_str(cfg->db_conninfo, sizeof(cfg->db_conninfo), value);
	else if (IS("database", "connect_timeout")) {
		if ((rc = parse_long(value, 1, 60, 10, &v)) == 0)
			cfg->db_connect_timeout = (int)v;
	} else if (IS("server", "socket"))
		rc = copy_str(cfg->socket_path, sizeof(cfg->socket_path), value);
	else if (IS("server", "socket_owner"))
		rc = copy_str(cfg->socket_owner, sizeof(cfg->socket_owner), value);
	else if (IS("server", "socket_group"))
		rc = copy_str(cfg->socket_group, sizeof(cfg->socket_group), value);
	else if (IS("server", "socket_mode")) {
		if ((rc = parse_long(value, 0, 0777, 8, &v)) == 0)
			cfg->socket_mode = (mode_t)v;
	} else if (IS("server", "workers")) {
		cfg->workers_auto = strcmp(value, "auto") == 0;
		if (cfg->workers_auto)
			cfg->workers = config_auto_workers();
		else if ((rc = parse_long(value, 1, 256, 10, &v)) == 0)
			cfg->workers = (int)v;
	} else if (IS("server", "max_body")) {
		if ((rc = parse_long(value, 1024, 64L * 1024 * 1024, 10, &v)) == 0)
			cfg->max_body = (size_t)v;
	} else if (IS("server", "json_max_depth")) {
		if ((rc = parse_long(value, 2, 64, 10, &v)) == 0)
			cfg->json_max_depth = (int)v;
	} else if (IS("server", "public_url")) {
		rc = copy_str(cfg->public_url, sizeof(cfg->public_url), value);
		/* A trailing slash would double up in access URLs. */
		size_t n = strlen(cfg->public_url);
		while (rc == 0 && n > 0 && cfg->public_url[n - 1] == '/')
			cfg->public_url[--n] = '\0';
	} else if (IS("server", "log_level")) {
		enum log_level lv;
		rc = log_parse_level(value, &lv) == 0 ?
		    copy_str(cfg->log_level, sizeof(cfg->log_level), value) : -1;
	} else if (IS("jobs", "enabled")) {
		rc = parse_bool(value, &cfg->jobs_enabled);
	} else if (IS("jobs", "max_lag")) {
		if ((rc = parse_long(value, 10, 30L * 86400, 10, &v)) == 0)
			cfg->jobs_max_lag = (int)v;
	} else if (IS("security", "secrets_file")) {
		rc = copy_str(cfg->secrets_file, sizeof(cfg->secrets_file), value);
	} else if (IS("webhooks", "allow_private_targets")) {
		rc = parse_bool(value, &cfg->webhook_allow_private);
	} else if (IS("security", "secrets_file")) {
		rc = copy_str(cfg->secrets_file, sizeof(cfg->secrets_file), value);
		if (rc == 0 && value[0] != '/')
			rc = -1;	/* relative to what? the service's cwd is not ours to guess */
	} else if (IS("security", "key_rotation_grace")) {
		if ((rc = parse_long(value, 0, 90L * 24 * 3600, 10, &v)) == 0)
			cfg->key_grace_seconds = (int)v;
	} else if (strcmp(section, "mail") == 0) {
		if (config_mail(cfg, name, value, &rc) != 0) {
			snprintf(ctx->err, sizeof(ctx->err), "unknown setting [%s] %s", section,
			    name);
			return 0;
		}
	} else {
		snprintf(ctx->err, sizeof(ctx->err), "unknown setting [%s] %s", section, name);
		return 0;
	}
#undef IS
	if (rc != 0) {
		snprintf(ctx->err, sizeof(ctx->err), "bad value for [%s] %s", section, name);
		return 0;
	}
	return 1;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	if (config_load_settings(cfg, path, err, errlen) != 0)
		return -1;
	return secrets_load(&cfg->secrets, cfg->secrets_file, err, errlen);
}

int
config_load_settings(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct config_ctx ctx = { .cfg = cfg, .err = "" };
	int rc;

	rc = ini_parse(path, config_handler, &ctx);
	if (rc == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, rc,
		    ctx.err[0] ? ctx.err : "syntax error");
		return -1;
	}
	return config_validate(cfg, err, errlen);
}

/* [mail] as a whole. The relay's password is in the secrets file: neither a key here nor
 * part of the URL. */
static int
config_validate_mail(const struct config *cfg, char *err, size_t errlen)
{
	const char *url = cfg->mail_relay, *at, *auth;
	int smtps;

	if (url[0] == '\0')
		return 0;
	smtps = strncmp(url, "smtps://", 8) == 0;
	if (!smtps && strncmp(url, "smtp://", 7) != 0) {
		snprintf(err, errlen, "[mail] relay must start with smtp:// or smtps://");
		return -1;
	}
	auth = url + (smtps ? 8 : 7);
	at = strchr(auth, '@');
	if (at != NULL && at < auth + strcspn(auth, "/")) {
		snprintf(err, errlen, "[mail] relay must not contain a user name or password "
		    "(username is a key of its own, the password is in the secrets file)");
		return -1;
	}
	if (strchr(cfg->mail_from_address, '@') == NULL ||
	    strpbrk(cfg->mail_from_address, " <>\"") != NULL) {
		snprintf(err, errlen, "[mail] from_address must be an address (local@domain)");
		return -1;
	}
	if (cfg->mail_username[0] != '\0' && !smtps &&
	    strcmp(cfg->mail_starttls, "required") != 0 && !relay_is_loopback(url)) {
		snprintf(err, errlen, "[mail] a username needs an encrypted connection: set "
		    "starttls = required or use smtps://");
		return -1;
	}
	return 0;
}

int
config_validate(const struct config *cfg, char *err, size_t errlen)
{
	if (strncmp(cfg->public_url, "http://", 7) != 0 &&
	    strncmp(cfg->public_url, "https://", 8) != 0) {
		snprintf(err, errlen, "[server] public_url must start with http:// or https://");
		return -1;
	}
	/* A URI would carry its password in the one string the config file holds, and is
	 * parsed by other rules (percent-escapes): key=value pairs only, password in the
	 * secrets file. */
	if (strstr(cfg->db_conninfo, "postgresql://") != NULL ||
	    strstr(cfg->db_conninfo, "postgres://") != NULL) {
		snprintf(err, errlen, "[database] conninfo must be key=value pairs such as "
		    "\"host=/run/postgresql dbname=portald user=portald\", not a postgresql:// "
		    "URI; the password goes in the secrets file ([database] password)");
		return -1;
	}
	if (cfg->socket_path[0] == '\0') {
		snprintf(err, errlen, "[server] socket must be a path or \"inherit\"");
		return -1;
	}
	return config_validate_mail(cfg, err, errlen);
}
