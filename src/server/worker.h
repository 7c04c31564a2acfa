/* worker.h: one FastCGI worker process: accept, dispatch, answer, repeat. */
#ifndef PORTALD_WORKER_H
#define PORTALD_WORKER_H

#include "core/config.h"

/* Runs until SIGTERM (after finishing the request in flight). Returns an exit code. */
int	worker_run(const struct config *cfg, int listen_fd);

#endif
