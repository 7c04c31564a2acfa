/* config.h: portald.conf, read with inih. */
#ifndef PORTALD_CONFIG_H
#define PORTALD_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define CONFIG_DEFAULT_PATH	"/etc/portald/portald.conf"
#define CONFIG_STR_MAX		1024

struct config {
	char	db_conninfo[CONFIG_STR_MAX];	/* [database] conninfo */
	int	db_connect_timeout;		/* [database] connect_timeout, seconds */
	char	socket_path[CONFIG_STR_MAX];	/* [server] socket; "inherit" = fd 0 or systemd fd 3 */
	char	socket_owner[64];		/* [server] socket_owner (user name), "" = unchanged */
	char	socket_group[64];		/* [server] socket_group, "" = unchanged */
	mode_t	socket_mode;			/* [server] socket_mode, octal */
	int	workers;			/* [server] workers */
	size_t	max_body;			/* [server] max_body, bytes */
	int	json_max_depth;			/* [server] json_max_depth */
	char	public_url[CONFIG_STR_MAX];	/* [server] public_url, no trailing slash */
	char	log_level[16];			/* [server] log_level */
	int	key_grace_seconds;		/* [security] key_rotation_grace, seconds */
	int	jobs_enabled;			/* [jobs] enabled: the master runs the job runner */
	int	webhook_allow_private;		/* [webhooks] allow_private_targets */
};

void	config_defaults(struct config *cfg);
/* Reads path over the defaults; on failure fills err and returns -1. */
int	config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* The same from text in memory; name labels the messages. */
int	config_load_string(struct config *cfg, const char *text, const char *name, char *err,
	    size_t errlen);
/* Checks values that depend on each other; returns -1 with err filled. */
int	config_validate(const struct config *cfg, char *err, size_t errlen);

#endif
