/* migrate.h: applies the numbered migrations in sql/ (compiled in), each in a transaction. */
#ifndef PORTALD_MIGRATE_H
#define PORTALD_MIGRATE_H

#include <stddef.h>

#include "db/db.h"

/* Applies what is missing, in order, under an advisory lock so two migrators cannot race.
 * A migration whose table lock is not free within lock_timeout seconds is rolled back and
 * tried again, a few times (0: waits as long as it takes). Refuses a database in which a
 * number of this build's migrations was applied under another file name. *applied
 * receives how many were applied now. Returns -1 with err filled on failure. */
int	migrate_run(struct db *db, int lock_timeout, int *applied, char *err, size_t errlen);

/* Seconds a migration waits for a lock before it is rolled back and tried again. */
#define MIGRATE_LOCK_TIMEOUT	5

/* One compiled-in migration and whether the database has it. */
struct migration {
	int		 version;
	const char	*name;		/* the file name, "003_refunds_and_attempts.sql" */
	long long	 applied_at;	/* Unix seconds; 0 = pending */
	char		 applied_as[96];	/* the name the database has for this number,
					 * when another ("": the same, or pending) */
};

#define MIGRATE_MAX	256

/* The compiled-in migrations in order (applied_at 0); returns how many. */
int	migrate_list(struct migration *out, int max);
/* This binary's versions as a PostgreSQL array literal, "{1,2,3}". */
void	migrate_versions_literal(char *out, size_t n);
/* And its file names, "{001_init.sql,002_billing.sql}". */
void	migrate_names_literal(char *out, size_t n);
/* Fills out[] (MIGRATE_MAX entries) with every compiled-in migration, when it was applied
 * and under which name when not its own, *n with their number and *unknown with how many
 * applied versions this binary does not know
 * (a newer release applied them: expected during a rolling upgrade). Does not migrate. */
int	migrate_status(struct db *db, struct migration *out, int *n, int *unknown, char *err,
	    size_t errlen);

#endif
