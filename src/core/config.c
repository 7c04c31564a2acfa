/* config.c: reads portald.conf (INI, via inih) into struct config and checks it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	cfg->workers = 4;
	cfg->max_body = 1024 * 1024;
	cfg->json_max_depth = 16;
	snprintf(cfg->public_url, sizeof(cfg->public_url), "http://127.0.0.1:8080");
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->key_grace_seconds = 24 * 3600;
	cfg->jobs_enabled = 1;
	cfg->webhook_allow_private = 0;
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
		if ((rc = parse_long(value, 1, 256, 10, &v)) == 0)
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
	} else if (IS("webhooks", "allow_private_targets")) {
		rc = parse_bool(value, &cfg->webhook_allow_private);
	} else if (IS("security", "key_rotation_grace")) {
		if ((rc = parse_long(value, 0, 90L * 24 * 3600, 10, &v)) == 0)
			cfg->key_grace_seconds = (int)v;
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

int
config_load_string(struct config *cfg, const char *text, const char *name, char *err,
    size_t errlen)
{
	struct config_ctx ctx = { .cfg = cfg, .err = "" };
	int rc;

	rc = ini_parse_string(text, config_handler, &ctx);
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: %s", name, rc, ctx.err[0] ? ctx.err : "syntax error");
		return -1;
	}
	return config_validate(cfg, err, errlen);
}

int
config_validate(const struct config *cfg, char *err, size_t errlen)
{
	if (strncmp(cfg->public_url, "http://", 7) != 0 &&
	    strncmp(cfg->public_url, "https://", 8) != 0) {
		snprintf(err, errlen, "[server] public_url must start with http:// or https://");
		return -1;
	}
	if (cfg->socket_path[0] == '\0') {
		snprintf(err, errlen, "[server] socket must be a path or \"inherit\"");
		return -1;
	}
	return 0;
}
