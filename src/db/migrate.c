/* migrate.c: schema migrations: sql/NNN_name.sql applied in order, each in its own
 * transaction together with its row in schema_migrations. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/embedded.h"
#include "core/log.h"
#include "db/migrate.h"

/* The migrator's own statements; it runs before the statement table's tables exist. */
#define SQL_MIGRATIONS_TABLE \
	"CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, " \
	"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
#define SQL_LOCK	"SELECT pg_advisory_lock(7283140)"
#define SQL_UNLOCK	"SELECT pg_advisory_unlock(7283140)"
#define SQL_APPLIED	"SELECT name FROM schema_migrations WHERE version = $1"
#define SQL_RECORD	"INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
#define SQL_HAS_TABLE	"SELECT to_regclass('schema_migrations') IS NOT NULL"
#define SQL_STATUS	"SELECT version, extract(epoch FROM applied_at)::bigint, name " \
			"FROM schema_migrations ORDER BY version"
/* A migration whose lock is not free within the timeout is rolled back and tried again
 * after as long, this many times in all. */
#define LOCK_TRIES	5

/* One statement; *rows its rows and first (when not NULL, of firstlen bytes) the first
 * row's first value. */
static int
exec_params(struct db *db, const char *sql, int n, const char *const *params, int *rows,
    char *first, size_t firstlen)
{
	PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (ok && rows != NULL)
		*rows = PQntuples(res);
	if (ok && first != NULL)
		snprintf(first, firstlen, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	if (!ok) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		size_t len;

		snprintf(db->errmsg, sizeof(db->errmsg), "%s", PQresultErrorMessage(res));
		len = strlen(db->errmsg);
		while (len > 0 && db->errmsg[len - 1] == '\n')
			db->errmsg[--len] = '\0';
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* Applies one migration in a transaction with its row, giving up on a lock that is not free
 * within lock_timeout seconds (0: waits as long as it takes) and trying again, LOCK_TRIES
 * times in all: a migration queued for a table's lock behind a long transaction would hold
 * up every query of that table behind it. */
static int
apply(struct db *db, const struct embedded_file *f, const char *const params[2],
    int lock_timeout, char *err, size_t errlen)
{
	char set[64];

	snprintf(set, sizeof(set), "SET LOCAL lock_timeout = '%ds'", lock_timeout);
	for (int try = 1;; try++) {
		db->sqlstate[0] = '\0';	/* this try's error only */
		/* 0: the server's own setting (the role's or the database's, else none). */
		if (db_exec_sql(db, "BEGIN") == 0 &&
		    (lock_timeout <= 0 || db_exec_sql(db, set) == 0) &&
		    db_exec_sql(db, f->text) == 0 &&
		    exec_params(db, SQL_RECORD, 2, params, NULL, NULL, 0) == 0 &&
		    db_exec_sql(db, "COMMIT") == 0)
			return 0;
		snprintf(err, errlen, "%s: %s", f->path, db->errmsg);
		db_exec_sql(db, "ROLLBACK");
		/* 55P03 lock_not_available: what lock_timeout raises. */
		if (strcmp(db->sqlstate, "55P03") != 0 || lock_timeout <= 0)
			return -1;
		if (try == LOCK_TRIES) {
			snprintf(err, errlen, "%s: a lock it needs was not free within %d s, %d "
			    "times (a long transaction, a report or a pg_dump holds its table); "
			    "nothing of it was applied: run 'portalctl migrate' again at a quieter "
			    "time, or with --lock-timeout 0 to wait for as long as it takes",
			    f->path, lock_timeout, LOCK_TRIES);
			return -1;
		}
		log_warn("migrate: %s: a lock it needs was not free within %d s; rolled back, "
		    "trying again in %d s (%d of %d)", f->path, lock_timeout, lock_timeout,
		    try + 1, LOCK_TRIES);
		sleep((unsigned int)lock_timeout);
	}
}

int
migrate_run(struct db *db, int lock_timeout, int *applied, char *err, size_t errlen)
{
	int rc = -1;

	*applied = 0;
	if (db_ensure(db) != 0) {
		snprintf(err, errlen, "cannot connect: %s", db->errmsg);
		return -1;
	}
	if (db_exec_sql(db, "SET client_min_messages TO warning") != 0 ||
	    db_exec_sql(db, SQL_LOCK) != 0 || db_exec_sql(db, SQL_MIGRATIONS_TABLE) != 0) {
		snprintf(err, errlen, "%s", db->errmsg);
		return -1;
	}
	/* Twice over the files: every number's name is checked before anything is applied.
	 * A number taken by another file means a build whose migrations this one does not
	 * have (a development branch) made the schema, and this build's later migrations
	 * would be applied to a schema they were not written for. */
	for (int pass = 0; pass < 2; pass++)
		for (const struct embedded_file *f = embedded_files; f->path != NULL; f++) {
			const char *base;
			char version[24], recorded[256];
			const char *params[2];
			int rows = 0;
			long v;

			if (strncmp(f->path, "sql/", 4) != 0)
				continue;
			base = f->path + 4;
			v = strtol(base, NULL, 10);
			if (v <= 0) {
				snprintf(err, errlen, "%s: migration files start with their number",
				    f->path);
				goto out;
			}
			snprintf(version, sizeof(version), "%ld", v);
			params[0] = version;
			params[1] = base;
			if (exec_params(db, SQL_APPLIED, 1, params, &rows, recorded,
			    sizeof(recorded)) != 0) {
				snprintf(err, errlen, "%s", db->errmsg);
				goto out;
			}
			if (rows > 0 && strcmp(recorded, base) != 0) {
				snprintf(err, errlen, "migration %ld was applied as '%s', but this "
				    "build's is '%s': the database was migrated by another build of "
				    "portald; nothing was applied", v, recorded, base);
				goto out;
			}
			if (rows > 0 || pass == 0)
				continue;
			if (apply(db, f, params, lock_timeout, err, errlen) != 0)
				goto out;
			(*applied)++;
		}
	rc = 0;
out:
	db_exec_sql(db, SQL_UNLOCK);
	return rc;
}

int
migrate_list(struct migration *out, int max)
{
	int n = 0;

	for (const struct embedded_file *f = embedded_files; f->path != NULL; f++) {
		if (strncmp(f->path, "sql/", 4) != 0 || n == max)
			continue;
		out[n].version = (int)strtol(f->path + 4, NULL, 10);
		out[n].name = f->path + 4;
		out[n].applied_at = 0;
		out[n].applied_as[0] = '\0';
		n++;
	}
	return n;
}

/* The compiled-in versions, or file names, as a PostgreSQL array literal. File names are
 * [0-9a-z_.]: nothing to quote. */
static void
literal(char *out, size_t n, bool names)
{
	struct migration m[MIGRATE_MAX];
	int count = migrate_list(m, MIGRATE_MAX);
	size_t len;

	snprintf(out, n, "{");
	for (int i = 0; i < count; i++) {
		len = strlen(out);
		if (names)
			snprintf(out + len, n - len, "%s%s", i ? "," : "", m[i].name);
		else
			snprintf(out + len, n - len, "%s%d", i ? "," : "", m[i].version);
	}
	len = strlen(out);
	snprintf(out + len, n - len, "}");
}

void
migrate_versions_literal(char *out, size_t n)
{
	literal(out, n, false);
}

void
migrate_names_literal(char *out, size_t n)
{
	literal(out, n, true);
}

int
migrate_status(struct db *db, struct migration *out, int *n, int *unknown, char *err,
    size_t errlen)
{
	PGresult *res;
	int rc = -1;

	*n = migrate_list(out, MIGRATE_MAX);
	*unknown = 0;
	if (db_ensure(db) != 0) {
		snprintf(err, errlen, "cannot connect: %s", db->errmsg);
		return -1;
	}
	res = PQexec(db->conn, SQL_HAS_TABLE);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		rc = 0;		/* a fresh database: everything is pending */
		goto out;
	}
	PQclear(res);
	res = PQexec(db->conn, SQL_STATUS);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		int v = atoi(PQgetvalue(res, r, 0));
		bool known = false;

		for (int i = 0; i < *n; i++) {
			if (out[i].version == v) {
				out[i].applied_at = atoll(PQgetvalue(res, r, 1));
				/* An empty recorded name shows as "''". */
				if (strcmp(PQgetvalue(res, r, 2), out[i].name) != 0)
					snprintf(out[i].applied_as, sizeof(out[i].applied_as),
					    "%s", PQgetvalue(res, r, 2)[0] ?
					    PQgetvalue(res, r, 2) : "''");
				known = true;
			}
		}
		if (!known)
			(*unknown)++;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}
