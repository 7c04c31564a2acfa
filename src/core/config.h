/* config.h: portald.conf, read with inih. */
#ifndef PORTALD_CONFIG_H
#define PORTALD_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include "core/secrets.h"

#define CONFIG_DEFAULT_PATH	"/etc/portald/portald.conf"
#define CONFIG_STR_MAX		1024

struct config {
	char	db_conninfo[CONFIG_STR_MAX];	/* [database] conninfo */
	int	db_connect_timeout;		/* [database] connect_timeout, seconds */
	char	socket_path[CONFIG_STR_MAX];	/* [server] socket; "inherit" = fd 0 or systemd fd 3 */
	char	socket_owner[64];		/* [server] socket_owner (user name), "" = unchanged */
	char	socket_group[64];		/* [server] socket_group, "" = unchanged */
	mode_t	socket_mode;			/* [server] socket_mode, octal */
	int	workers;			/* [server] workers ("auto": 2 per usable CPU) */
	int	workers_auto;			/* workers came from "auto" */
	size_t	max_body;			/* [server] max_body, bytes */
	int	json_max_depth;			/* [server] json_max_depth */
	char	public_url[CONFIG_STR_MAX];	/* [server] public_url, no trailing slash */
	char	log_level[16];			/* [server] log_level */
	int	key_grace_seconds;		/* [security] key_rotation_grace, seconds */
	char	secrets_file[CONFIG_STR_MAX];	/* [security] secrets_file */
	int	jobs_enabled;			/* [jobs] enabled: the master runs the job runner */
	int	jobs_max_lag;			/* [jobs] max_lag, seconds: /healthz says "lagging" */
	int	webhook_allow_private;		/* [webhooks] allow_private_targets */

	/* [mail]: the SMTP relay. Its password is not a key here: it lives in the secrets
	 * file, and the caller puts it into struct mail_relay (src/mail/mail.h). */
	char	mail_relay[CONFIG_STR_MAX];	/* relay: smtp://host:port or smtps://host:port;
						 * "" = no relay, messages wait in the outbox */
	char	mail_starttls[16];		/* starttls: none, opportunistic, required */
	char	mail_username[256];		/* username: "" = no AUTH */
	char	mail_from_address[256];		/* from_address: envelope and From address */
	char	mail_from_name[256];		/* from_name: default display name */
	char	mail_helo[256];			/* helo: EHLO name, "" = the host name */
	int	mail_connect_timeout;		/* connect_timeout, seconds */
	int	mail_timeout;			/* timeout, seconds for one whole message */
	char	mail_ca_file[CONFIG_STR_MAX];	/* ca_file: "" = the system's CA store */
	int	mail_tls_verify;		/* tls_verify: check the relay's certificate */
	struct secrets secrets;			/* read from secrets_file by config_load */
};

void	config_defaults(struct config *cfg);
/* What "workers = auto" means on this machine: 2 per CPU this process may run on. */
int	config_auto_workers(void);
/* Reads path over the defaults, then the secrets file it names (which must exist, be
 * well-formed and not be readable by others); on failure fills err and returns -1. */
int	config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* The same without the secrets file: for "portalctl check", which reports on it. */
int	config_load_settings(struct config *cfg, const char *path, char *err, size_t errlen);
/* Checks values that depend on each other; returns -1 with err filled. */
int	config_validate(const struct config *cfg, char *err, size_t errlen);

#endif
