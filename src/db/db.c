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

static void ahead_drop(struct db *db);

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	ahead_drop(db);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->in_txn)
		db->lost_depth = db->depth;
	db->in_txn = false;
	db->depth = 0;
	db->nqueued = 0;
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

/* Counts a statement in the request's trace: FNV-1a over the statement ids, in the order
 * run (db_trace_reset). */
static void
trace_add(struct db *db, enum stmt_id id)
{
	db->n_exec++;
	db->trace = (db->trace ^ ((unsigned)id + 1)) * 16777619u;
}

/* Ends a pipeline: sends last (unless it is -1) after the queued statements, then a sync,
 * and reads every answer in order. Returns last's result, or NULL with db->status set by
 * the first statement that failed (those after it were not run: the transaction is
 * aborted); with last -1, NULL and DB_OK when all went well. A lost connection is closed. */
static PGresult *
pipeline_end(struct db *db, int last, const char *const *params)
{
	PGresult *out = NULL, *res;
	int n = db->nqueued + (last >= 0);
	bool failed = false;

	for (int i = 0; i < db->nqueued; i++)
		if (db->kept[i] != NULL)
			*db->kept[i] = NULL;
	db->nqueued = 0;
	if ((last >= 0 && PQsendQueryPrepared(db->conn, stmts[last].name, stmts[last].nparams,
	    params, NULL, NULL, 0) != 1) || PQpipelineSync(db->conn) != 1)
		goto lost;
	for (int i = 0; i < n; i++) {
		enum stmt_id id = i < n - (last >= 0) ? db->queued[i] : (enum stmt_id)last;
		ExecStatusType st;

		if ((res = PQgetResult(db->conn)) == NULL)
			goto lost;
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (i == n - 1 && last >= 0 && !failed)
				out = res;
			else if (i < n - (last >= 0) && db->kept[i] != NULL)
				*db->kept[i] = res;
			else
				PQclear(res);
		} else if (st == PGRES_PIPELINE_ABORTED) {
			PQclear(res);
		} else {
			if (conn_lost(db, res)) {
				db_set_error(db, DB_UNAVAILABLE, res);
				PQclear(res);
				log_warn("db: connection lost during %s: %s", stmts[id].name,
				    db->errmsg);
				db_close(db);
				return NULL;
			}
			if (!failed) {
				db_set_error(db, DB_ERROR, res);
				log_error("db: %s failed: %s (%s)", stmts[id].name, db->errmsg,
				    db->sqlstate);
			}
			failed = true;
			PQclear(res);
		}
		/* Each statement's answers end with a NULL. */
		while ((res = PQgetResult(db->conn)) != NULL)
			PQclear(res);
	}
	res = PQgetResult(db->conn);
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		PQclear(res);
		PQclear(out);
		goto lost;
	}
	PQclear(res);
	if (PQexitPipelineMode(db->conn) != 1) {
		PQclear(out);
		goto lost;
	}
	if (!failed)
		db->status = DB_OK;
	return failed ? NULL : out;
lost:
	db_set_error(db, DB_UNAVAILABLE, NULL);
	log_warn("db: connection lost in a pipeline: %s", db->errmsg);
	db_close(db);
	return NULL;
}

/* Sends id in the pipeline; its answer goes to *keep (NULL: read and dropped). */
static int
pipeline_send(struct db *db, enum stmt_id id, const char *const *params, PGresult **keep)
{
	trace_add(db, id);
	if (db->nqueued == 0 && PQenterPipelineMode(db->conn) != 1) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		db_close(db);
		return -1;
	}
	if (PQsendQueryPrepared(db->conn, stmts[id].name, stmts[id].nparams, params, NULL,
	    NULL, 0) != 1) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		log_warn("db: sending %s: %s", stmts[id].name, db->errmsg);
		db_close(db);
		return -1;
	}
	db->kept[db->nqueued] = keep;
	db->queued[db->nqueued++] = id;
	db->status = DB_OK;
	return 0;
}

/* ---- reads sent ahead (db_read_ahead) ---- */

/* The parameters as one string, to find a read sent ahead by: each as its length and its
 * bytes ("-" for NULL), so no two lists of parameters give the same string whatever they
 * hold. False when they do not fit (such a read is not sent ahead). */
static bool
ahead_key(enum stmt_id id, const char *const *params, char key[DB_AHEAD_KEY])
{
	size_t len = 0;

	for (int i = 0; i < stmts[id].nparams; i++) {
		size_t n = params[i] != NULL ? strlen(params[i]) : 0;
		int w = params[i] != NULL ? snprintf(key + len, DB_AHEAD_KEY - len, "%zu:", n) :
		    snprintf(key + len, DB_AHEAD_KEY - len, "-");

		if (w < 0 || (size_t)w + n >= DB_AHEAD_KEY - len)
			return false;
		len += (size_t)w;
		memcpy(key + len, params[i] != NULL ? params[i] : "", n);
		len += n;
	}
	key[len] = '\0';
	return true;
}

/* Whether slot i's answer is still to be read from the pipeline. */
static bool
ahead_queued(const struct db *db, int i)
{
	for (int j = 0; j < db->nqueued; j++)
		if (db->kept[j] == &db->ahead[i].res)
			return true;
	return false;
}

static void
ahead_free(struct db *db, int i)
{
	/* One still in the pipeline is read and dropped there. */
	for (int j = 0; j < db->nqueued; j++)
		if (db->kept[j] == &db->ahead[i].res)
			db->kept[j] = NULL;
	PQclear(db->ahead[i].res);
	db->ahead[i].res = NULL;
	db->ahead[i].used = false;
}

static bool
ahead_any(const struct db *db)
{
	for (int i = 0; i < DB_AHEAD_MAX; i++)
		if (db->ahead[i].used)
			return true;
	return false;
}

/* A first level was released: reads sent before the previous such release and not asked
 * for are dropped, so none outlives the item after the one that sent it. */
static void
ahead_age(struct db *db)
{
	for (int i = 0; i < DB_AHEAD_MAX; i++)
		if (db->ahead[i].used && db->ahead[i].epoch != db->ahead_epoch)
			ahead_free(db, i);
	db->ahead_epoch++;
}

static void
ahead_drop(struct db *db)
{
	for (int i = 0; i < DB_AHEAD_MAX; i++)
		if (db->ahead[i].used)
			ahead_free(db, i);
}

void
db_read_ahead(struct db *db, enum stmt_id id, const char *const *params)
{
	char key[DB_AHEAD_KEY];
	int slot = -1;

	if (!db->pipeline || !db->in_txn || db->lost_depth > 0 || db->conn == NULL ||
	    PQstatus(db->conn) != CONNECTION_OK || db->nqueued == DB_QUEUE_MAX ||
	    !ahead_key(id, params, key))
		return;
	for (int i = 0; i < DB_AHEAD_MAX; i++) {
		/* The same read sent earlier and not asked for yet: this one replaces it (the
		 * caller wants the database as it stands now). */
		if (db->ahead[i].used && db->ahead[i].id == id &&
		    strcmp(db->ahead[i].key, key) == 0)
			ahead_free(db, i);
		if (!db->ahead[i].used && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return;
	db->ahead[slot].used = true;
	db->ahead[slot].epoch = db->ahead_epoch;
	db->ahead[slot].id = id;
	memcpy(db->ahead[slot].key, key, sizeof(key));
	db->ahead[slot].res = NULL;
	/* A send that fails closes the connection, which drops the slot. */
	(void)pipeline_send(db, id, params, &db->ahead[slot].res);
}

/* The answer of a read sent ahead that is the same as id with params, taken from its slot
 * (read from the pipeline first if it is still there): true with *out set (NULL, with
 * db->status set, when that reading failed), false when there is none. */
static bool
ahead_take(struct db *db, enum stmt_id id, const char *const *params, PGresult **out)
{
	char key[DB_AHEAD_KEY];

	*out = NULL;
	if (!ahead_key(id, params, key))
		return false;
	for (int i = 0; i < DB_AHEAD_MAX; i++) {
		if (!db->ahead[i].used || db->ahead[i].id != id ||
		    strcmp(db->ahead[i].key, key) != 0)
			continue;
		if (ahead_queued(db, i) && db_sync(db) != 0) {
			if (db->ahead[i].used)
				ahead_free(db, i);
			return true;
		}
		if (db->ahead[i].res == NULL) {
			/* Not answered (the pipeline it was in failed): asked again as usual. */
			ahead_free(db, i);
			return false;
		}
		*out = db->ahead[i].res;
		db->ahead[i].res = NULL;
		db->ahead[i].used = false;
		db->status = DB_OK;
		return true;
	}
	return false;
}

int
db_exec_all(struct db *db, int n, const enum stmt_id *ids,
    const char *const *const *params, PGresult **out)
{
	bool piped, hit[DB_QUEUE_MAX];
	int last = -1, misses = 0;

	if (n > DB_QUEUE_MAX) {
		db_set_error(db, DB_ERROR, NULL);
		snprintf(db->errmsg, sizeof(db->errmsg), "too many statements at once");
		for (int i = 0; i < n; i++)
			out[i] = NULL;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		out[i] = NULL;
		hit[i] = false;
	}
	/* Reads sent ahead answer from their slots; the others travel together. */
	for (int i = 0; i < n; i++) {
		if (ahead_any(db) && ahead_take(db, ids[i], params[i], &out[i])) {
			if (out[i] == NULL)
				goto fail;
			hit[i] = true;
			continue;
		}
		last = i;
		misses++;
	}
	piped = db->pipeline && db->in_txn && db->conn != NULL &&
	    PQstatus(db->conn) == CONNECTION_OK && misses > 1;
	if (piped && db->nqueued + misses > DB_QUEUE_MAX && db_sync(db) != 0)
		goto fail;
	for (int i = 0; i < n; i++) {
		if (hit[i])
			continue;
		if (piped && i != last) {
			if (pipeline_send(db, ids[i], params[i], &out[i]) != 0)
				goto fail;
			continue;
		}
		if ((out[i] = db_exec(db, ids[i], params[i])) == NULL)
			goto fail;
	}
	return 0;
fail:
	for (int j = 0; j < n; j++) {
		PQclear(out[j]);
		out[j] = NULL;
	}
	return -1;
}

int
db_exec_later(struct db *db, enum stmt_id id, const char *const *params)
{
	if (!db->pipeline || !db->in_txn || db->conn == NULL ||
	    PQstatus(db->conn) != CONNECTION_OK) {
		PGresult *res = db_exec(db, id, params);

		PQclear(res);
		return res != NULL ? 0 : -1;
	}
	if (db->nqueued == DB_QUEUE_MAX && db_sync(db) != 0)
		return -1;
	return pipeline_send(db, id, params, NULL);
}

PGresult *
db_result_new(int ncols)
{
	PGresAttDesc cols[64];
	PGresult *res;

	if (ncols <= 0 || ncols > (int)(sizeof(cols) / sizeof(cols[0])))
		return NULL;
	memset(cols, 0, sizeof(cols));
	for (int i = 0; i < ncols; i++) {
		cols[i].name = (char *)"";
		cols[i].typid = 25;	/* text */
		cols[i].typlen = -1;
		cols[i].atttypmod = -1;
	}
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	if (res != NULL && !PQsetResultAttrs(res, ncols, cols)) {
		PQclear(res);
		return NULL;
	}
	return res;
}

int
db_result_set(PGresult *res, int row, int col, const char *v)
{
	if (res == NULL)
		return -1;
	return PQsetvalue(res, row, col, (char *)(v ? v : NULL), v ? (int)strlen(v) : -1) ?
	    0 : -1;
}

int
db_sync(struct db *db)
{
	if (txn_lost(db))
		return -1;
	if (db->nqueued == 0)
		return 0;
	pipeline_end(db, -1, NULL);
	return db->status == DB_OK ? 0 : -1;
}

PGresult *
db_exec(struct db *db, enum stmt_id id, const char *const *params)
{
	PGresult *ahead;

	if (ahead_any(db) && !txn_lost(db) && ahead_take(db, id, params, &ahead))
		return ahead;
	trace_add(db, id);
	if (txn_lost(db))
		return NULL;
	/* After statements sent ahead: this one travels with them, one round trip. */
	if (db->nqueued > 0)
		return pipeline_end(db, (int)id, params);
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
	/* Statements sent ahead are read first; one that failed fails anything but a
	 * rollback (a COMMIT of the aborted transaction would answer "ROLLBACK" as if fine). */
	if (db->nqueued > 0 && db_sync(db) != 0 && (db->status == DB_UNAVAILABLE ||
	    strncmp(sql, "ROLLBACK", 8) != 0)) {
		ahead_drop(db);
		return -1;
	}
	/* What was read ahead may be undone by a rollback, and is of this transaction only. */
	if (strncmp(sql, "ROLLBACK", 8) == 0 || strcmp(sql, "COMMIT") == 0)
		ahead_drop(db);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, DB_UNAVAILABLE, NULL);
		db_close(db);	/* dead: a transaction on it is lost (db->lost_depth) */
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
	/* The COMMIT of a transaction a statement had failed in rolls it back, and says so
	 * only in its command tag. */
	if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		PQclear(res);
		db_set_error(db, DB_ERROR, NULL);
		snprintf(db->errmsg, sizeof(db->errmsg), "the transaction had failed: its "
		    "COMMIT rolled it back");
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
		/* Where the connection pipelines, the first level's savepoint goes out with the
		 * next statement read. Only behind nothing queued: a queued statement that failed
		 * would abort the savepoint too, and its rollback would find none. */
		if (db->depth == 1 && db->pipeline && db->nqueued == 0 && db->conn != NULL &&
		    PQstatus(db->conn) == CONNECTION_OK) {
			if (db_exec_later(db, STMT_NEST1_SAVEPOINT, NULL) != 0)
				return -1;
		} else if (db_nest_sql(db, "SAVEPOINT", db->depth) != 0)
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
	/* A commit that fails has ended its level all the same: a savepoint that could not be
	 * released (a statement sent ahead failed) is rolled back, a transaction whose COMMIT
	 * was refused is rolled back, so the server's state is the caller's. */
	if (db->in_txn && db->depth > 1) {
		db->depth--;
		/* Where the connection pipelines, the first level's release goes out with what
		 * it sent ahead: one round trip reads them all. */
		if (db->depth == 1 && db->pipeline && db->conn != NULL &&
		    PQstatus(db->conn) == CONNECTION_OK) {
			if (db_exec_later(db, STMT_NEST1_RELEASE, NULL) == 0 && db_sync(db) == 0) {
				ahead_age(db);
				return 0;
			}
		} else if (db_nest_sql(db, "RELEASE SAVEPOINT", db->depth) == 0) {
			if (db->depth == 1)
				ahead_age(db);
			return 0;
		}
		if (db->in_txn) {
			enum db_status st = db->status;
			char msg[sizeof(db->errmsg)];

			memcpy(msg, db->errmsg, sizeof(msg));
			if (db_nest_sql(db, "ROLLBACK TO SAVEPOINT", db->depth) != 0 ||
			    db_nest_sql(db, "RELEASE SAVEPOINT", db->depth) != 0)
				log_warn("db: rolling back a savepoint that failed: %s", db->errmsg);
			db->status = st;
			memcpy(db->errmsg, msg, sizeof(msg));
		}
		return -1;
	}
	rc = db_exec_sql(db, "COMMIT");
	if (rc != 0 && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexec(db->conn, "ROLLBACK"));
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
	if (!db->in_txn)
		return 0;	/* nothing open (a failed commit ended its level) */
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
	else if (db->conn != NULL)
		db_close(db);	/* dead: what was queued on it is gone with it */
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
