/* pool.h: the prefork master: starts, respawns, reloads and stops the workers. */
#ifndef PORTALD_POOL_H
#define PORTALD_POOL_H

#include "core/config.h"
#include "server/listen.h"

/* Runs the master until SIGTERM/SIGINT. config_path is re-read on SIGHUP.
 * Returns the process exit code. */
int	pool_run(struct config *cfg, const char *config_path, struct listener *l);

#endif
