/* db.c: the per-process PostgreSQL connection: connect after fork, prepare the statement
 * table, notice a lost connection, reconnect and re-prepare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db/db.h"
#include "core/log.h"

static char *db_password;

void
db_set_password(const char *password)
{
	if (db_password != NULL) {
		OPENSSL_cleanse(db_password, strlen(db_password));
		free(db_password);
		db_password = NULL;
	}
	if (password != NULL && *password != '\0' && (db_password = strdup(password)) == NULL)
		abort();	/* out of memory at start-up */
}

/* libpq expands the conninfo given as dbname; the keywords after it override it. */
static PGconn *
db_connect(const char *conninfo)
{
	const char *keys[] = { "dbname", "password", NULL };
	const char *vals[] = { conninfo, db_password, NULL };

	if (db_password == NULL)
		keys[1] = NULL;
	return PQconnectdbParams(keys, vals, 1);
}

void
db_init(struct db *db, const char *conninfo, int connect_timeout, bool prepare)
{
	memset(db, 0, sizeof(*db));
	/* connect_timeout keeps a request from hanging on an unreachable server; later
	 * keywords in a conninfo string override earlier ones, so the config can still set it. */
	snprintf(db->conninfo, sizeof(db->conninfo), "connect_timeout=%d application_name=portald %s",
	    connect_timeout, conninfo);
	db->prepare = prepare;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->in_txn)
		db->lost_depth = db->depth;
	db->in_txn = false;
	db->depth = 0;
}

/* Refuses a statement while a lost transaction's levels are still open (db->lost_depth). */
static bool
txn_lost(struct db *db)
{
	if (db->lost_depth == 0)
		return false;
	db->status = DB_UNAVAILABLE;
	db->sqlstate[0] = '\0';
	snprintf(db->errmsg, sizeof(db->errmsg), "the transaction was lost with its connection");
	return true;
}

static void
db_set_error(struct db *db, enum db_status st, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;

	db->status = st;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	if (msg == NULL || *msg == '\0')
		msg = db->conn ? PQerrorMessage(db->conn) : "no connection";
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
	/* libpq messages end in a newline; the log wants one line. */
	db->errmsg[strcspn(db->errmsg, "\n")] = '\0';
}

static int
db_prepare_all(struct db *db)
{
	for (int i = 0; i < STMT__MAX; i++) {
		PGresult *res = PQprepare(db->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_set_error(db, PQstatus(db->conn) == CONNECTION_OK ? DB_ERROR :
			    DB_UNAVAILABLE, res);
			log_error("db: prepare %s failed: %s", stmts[i].name, db->errmsg);
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

int
db_ensure(struct db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	db_close(db);
	db->conn = db_connect(db->conninfo);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		log_warn("db: cannot connect: %s", db->errmsg);
		db_close(db);
		return -1;
	}
	if (db->prepare && db_prepare_all(db) != 0) {
		db_close(db);
		db->status = DB_UNAVAILABLE;
		return -1;
	}
	if (db->listen != NULL) {
		char sql[80];

		snprintf(sql, sizeof(sql), "LISTEN %s", db->listen);
		if (db_exec_sql(db, sql) != 0) {
			log_warn("db: %s failed: %s", sql, db->errmsg);
			db_close(db);
			db->status = DB_UNAVAILABLE;
			return -1;
		}
	}
	db->generation++;
	log_info("db: connected%s", db->prepare ? ", statements prepared" : "");
	db->status = DB_OK;
	return 0;
}

void
db_listen(struct db *db, const char *channel)
{
	db->listen = channel;
}

int
db_socket(const struct db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK ? PQsocket(db->conn) : -1;
}

void
db_consume(struct db *db)
{
	if (db->conn == NULL)
		return;
	if (PQconsumeInput(db->conn) == 0 || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		log_warn("db: connection lost while idle: %s", db->errmsg);
		db_close(db);
	}
}

int
db_notified(struct db *db)
{
	PGnotify *n;
	int k = 0;

	if (db->conn == NULL)
		return 0;
	while ((n = PQnotifies(db->conn)) != NULL) {
		PQfreemem(n);
		k++;
	}
	return k;
}

/* A dead connection shows as CONNECTION_BAD, or as an error with no SQLSTATE, or with
 * class 57P (admin shutdown, crash shutdown, cannot connect now) or 08 (connection). */
static bool
conn_lost(const struct db *db, const PGresult *res)
{
	const char *st;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return true;
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return st == NULL || strncmp(st, "57P", 3) == 0 || strncmp(st, "08", 2) == 0;
}

PGresult *
db_exec(struct db *db, enum stmt_id id, const char *const *params)
{
	/* FNV-1a over the statement ids, in the order run. */
	db->n_exec++;
	db->trace = (db->trace ^ ((unsigned)id + 1)) * 16777619u;
	if (txn_lost(db))
		return NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *res;
		ExecStatusType st;
		bool in_txn;

		if (db_ensure(db) != 0)
			return NULL;
		res = PQexecPrepared(db->conn, stmts[id].name, stmts[id].nparams, params,
		    NULL, NULL, 0);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			db->status = DB_OK;
			return res;
		}
		if (conn_lost(db, res)) {
			db_set_error(db, DB_UNAVAILABLE, res);
			PQclear(res);
			log_warn("db: connection lost during %s: %s", stmts[id].name, db->errmsg);
			in_txn = db->in_txn;
			db_close(db);
			/* Inside a transaction the earlier statements are gone: no retry. */
			if (in_txn)
				return NULL;
			continue;
		}
		db_set_error(db, DB_ERROR, res);
		/* 26000: the server lost our prepared statements (a pooler, DISCARD ALL). */
		if (strcmp(db->sqlstate, "26000") == 0 && !db->in_txn && attempt == 0) {
			PQclear(res);
			db_close(db);
			continue;
		}
		log_error("db: %s failed: %s (%s)", stmts[id].name, db->errmsg, db->sqlstate);
		PQclear(res);
		return NULL;
	}
	return NULL;
}

void
db_trace_reset(struct db *db)
{
	db->n_exec = 0;
	db->trace = 2166136261u;
}

int
db_exec_sql(struct db *db, const char *sql)
{
	PGresult *res;

	if (txn_lost(db))
		return -1;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		return -1;
	}
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_set_error(db, conn_lost(db, res) ? DB_UNAVAILABLE : DB_ERROR, res);
		PQclear(res);
		if (db->status == DB_UNAVAILABLE)
			db_close(db);
		return -1;
	}
	PQclear(res);
	db->status = DB_OK;
	return 0;
}

/* The savepoint of nesting level d (1 for the first db_begin inside another). */
static int
db_nest_sql(struct db *db, const char *verb, int d)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "%s nest_%d", verb, d);
	return db_exec_sql(db, sql);
}

int
db_begin(struct db *db)
{
	if (txn_lost(db))
		return -1;
	if (db->in_txn && db->depth > 0) {
		if (db_nest_sql(db, "SAVEPOINT", db->depth) != 0)
			return -1;
		db->depth++;
		return 0;
	}
	if (db_ensure(db) != 0 || db_exec_sql(db, "BEGIN") != 0)
		return -1;
	db->in_txn = true;
	db->depth = 1;
	return 0;
}

void
db_abort(struct db *db)
{
	while (db->in_txn)
		if (db_rollback(db) != 0) {
			db_close(db);
			break;
		}
	db->in_txn = false;
	db->depth = 0;
	db->lost_depth = 0;
}

int
db_commit(struct db *db)
{
	int rc;

	/* A level of a lost transaction: its work is gone, so its commit fails. */
	if (db->lost_depth > 0) {
		db->lost_depth--;
		db_set_error(db, DB_UNAVAILABLE, NULL);
		snprintf(db->errmsg, sizeof(db->errmsg), "the transaction was lost with its "
		    "connection");
		return -1;
	}
	if (db->in_txn && db->depth > 1) {
		db->depth--;
		return db_nest_sql(db, "RELEASE SAVEPOINT", db->depth);
	}
	rc = db_exec_sql(db, "COMMIT");
	db->in_txn = false;
	db->depth = 0;
	db->lost_depth = 0;	/* a COMMIT that lost the connection ended the level too */
	return rc;
}

int
db_rollback(struct db *db)
{
	int rc = 0;

	/* A level of a lost transaction: the server rolled it back already. */
	if (db->lost_depth > 0) {
		db->lost_depth--;
		return 0;
	}
	if (db->in_txn && db->depth > 1 && db->conn != NULL &&
	    PQstatus(db->conn) == CONNECTION_OK) {
		db->depth--;
		if (db_nest_sql(db, "ROLLBACK TO SAVEPOINT", db->depth) != 0 ||
		    db_nest_sql(db, "RELEASE SAVEPOINT", db->depth) != 0)
			return -1;
		return 0;
	}
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		rc = db_exec_sql(db, "ROLLBACK");
	db->in_txn = false;
	db->depth = 0;
	db->lost_depth = 0;
	return rc;
}

int
db_savepoint(struct db *db)
{
	return db_exec_sql(db, "SAVEPOINT handler");
}

int
db_rollback_savepoint(struct db *db)
{
	return db_exec_sql(db, "ROLLBACK TO SAVEPOINT handler");
}

static int
savepoint_cmd(struct db *db, const char *verb, const char *name)
{
	char sql[96];

	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return -1;	/* constant names only: never built from input */
	snprintf(sql, sizeof(sql), "%s %s", verb, name);
	return db_exec_sql(db, sql);
}

int
db_savepoint_named(struct db *db, const char *name)
{
	return savepoint_cmd(db, "SAVEPOINT", name);
}

int
db_rollback_named(struct db *db, const char *name)
{
	return savepoint_cmd(db, "ROLLBACK TO SAVEPOINT", name);
}

int
db_release_named(struct db *db, const char *name)
{
	return savepoint_cmd(db, "RELEASE SAVEPOINT", name);
}

const char *
db_val(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

long long
db_ll(const PGresult *res, int row, int col, long long dflt)
{
	const char *v = db_val(res, row, col);

	return v ? strtoll(v, NULL, 10) : dflt;
}
