/* ops.h: portalctl's operational commands: migrate (and its status), check, setup's database
 * steps, drop-database. */
#ifndef PORTALD_OPS_H
#define PORTALD_OPS_H

#include "core/config.h"

/* portalctl migrate [--status | --if-local]. Returns the exit status. */
int	ops_migrate(const struct config *cfg, int argc, char **argv);
/* portalctl check: one line per check; 0 when none failed, 1 otherwise. */
int	ops_check(struct config *cfg, const char *config_path);

struct setup_opts {
	const char	*admin_conninfo;	/* --admin-conninfo, or NULL */
	const char	*site;			/* --site (default "main") */
	const char	*name;			/* --name, or NULL */
	const char	*mode;			/* "test" or "live" */
};

/* Parses setup's options; -1 on a bad one. */
int	ops_setup_args(int argc, char **argv, struct setup_opts *o);
/* Creates the role and the database when it may (or prints the SQL and fails), then, as the
 * service's user when run as root, applies the migrations. Returns 0 when the database is
 * ready for the first site. */
int	ops_setup_database(const struct config *cfg, const struct setup_opts *o);
/* What to do after setup: nginx site, TLS, public_url. */
void	ops_setup_next_steps(const char *config_path);
/* portalctl drop-database --yes-really [--admin-conninfo C]. */
int	ops_drop_database(const struct config *cfg, int argc, char **argv);

#endif
