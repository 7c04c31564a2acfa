/* jobs.h: the job runner: renewals, trial ends, resumes, dunning retries, webhooks. */
#ifndef PORTALD_JOBS_H
#define PORTALD_JOBS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "db/db.h"

/* Runs until *stop is set. Returns an exit code. */
int	jobs_run(const struct config *cfg, volatile sig_atomic_t *stop);
/* The webhook delivery lane (deliveries.c). */
int	deliveries_run(const struct config *cfg, volatile sig_atomic_t *stop);
/* One pass over every site; returns how many items it processed, -1 on database trouble. */
int	jobs_pass(struct db *db);

#endif
