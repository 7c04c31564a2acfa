/* migrate.h: applies the numbered migrations in sql/ (compiled in), each in a transaction. */
#ifndef PORTALD_MIGRATE_H
#define PORTALD_MIGRATE_H

#include <stddef.h>

#include "db/db.h"

/* Applies what is missing, in order, under an advisory lock so two migrators cannot race.
 * *applied receives how many were applied now. Returns -1 with err filled on failure. */
int	migrate_run(struct db *db, int *applied, char *err, size_t errlen);

#endif
