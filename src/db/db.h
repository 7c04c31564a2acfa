/* db.h: one PostgreSQL connection per process, every statement prepared on connect. */
#ifndef PORTALD_DB_H
#define PORTALD_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "db/stmts.h"

#define DB_QUEUE_MAX	64	/* statements db_exec_later keeps in flight */
#define DB_AHEAD_MAX	8	/* reads db_read_ahead keeps for their db_exec */
#define DB_AHEAD_KEY	256	/* the longest parameters a read sent ahead is kept by */

enum db_status {
	DB_OK = 0,
	DB_UNAVAILABLE,		/* no connection: the caller answers 503 */
	DB_ERROR		/* the statement failed: a bug or a constraint; see sqlstate */
};

struct db {
	PGconn		*conn;
	char		 conninfo[1100];
	bool		 prepare;	/* prepare the statement table on connect */
	bool		 in_txn;
	int		 depth;		/* open db_begin calls; inner ones are savepoints */
	/* The connection was lost inside a transaction: the levels its callers had opened,
	 * each still to be ended (db_rollback, or a db_commit that fails). Until then every
	 * statement is refused, so nothing after the loss runs outside the transaction. */
	int		 lost_depth;
	const char	*listen;	/* channel to LISTEN on after each connect, or NULL */
	unsigned	 generation;	/* counts connects: what was read before may be stale */
	/* db_exec_later: statements sent in libpq's pipeline mode whose answers are read with
	 * the next statement that is waited for (or db_sync), in one round trip. Off unless
	 * the owner of the connection turns it on. A level's commit reads them first (the
	 * first level's release travels with them), so a failed one fails that commit, which
	 * rolls the level back. */
	bool		 pipeline;
	int		 nqueued;
	enum stmt_id	 queued[DB_QUEUE_MAX];
	PGresult	**kept[DB_QUEUE_MAX];	/* where db_exec_all wants an answer */
	/* db_read_ahead: reads sent ahead in the pipeline, each kept (by its statement and
	 * parameters) for the first db_exec that asks the same, until the transaction or a
	 * level of it is rolled back, the transaction ends, or the second release of a first
	 * level after it was sent (ahead_epoch counts those releases). */
	unsigned	 ahead_epoch;
	struct {
		bool		 used;
		unsigned	 epoch;		/* ahead_epoch when it was sent */
		enum stmt_id	 id;
		char		 key[DB_AHEAD_KEY];
		PGresult	*res;
	} ahead[DB_AHEAD_MAX];
	enum db_status	 status;	/* of the last call */
	/* What the current request ran (db_trace_reset at its start): how many prepared
	 * statements, and a hash of their ids in order, for the request's log line. Two
	 * requests that ran the same statements in the same order have the same trace. */
	unsigned	 n_exec;
	unsigned	 trace;
	char		 sqlstate[6];
	char		 errmsg[256];
};

/* The database password, from the secrets file: the same for every connection of the
 * process, given to libpq beside the conninfo (never inside it, so no copy of the conninfo
 * holds it). NULL or "" for none. Call again after a reload. */
void	 db_set_password(const char *password);
/* Sets up db; connects lazily (db_ensure). prepare=false for portalctl migrate. */
void	 db_init(struct db *db, const char *conninfo, int connect_timeout, bool prepare);
void	 db_close(struct db *db);
/* Connects (and prepares) if needed. Returns -1 when the database cannot be reached. */
int	 db_ensure(struct db *db);
/* LISTENs on channel (a constant identifier) after every connect from now on. */
void	 db_listen(struct db *db, const char *channel);
/* The connection's socket, or -1: readable when the server sent something unasked. */
int	 db_socket(const struct db *db);
/* Reads what the server sent while the connection was idle (notifications). A
 * connection found dead is closed, so the next statement reconnects. */
void	 db_consume(struct db *db);
/* Takes the notifications received so far (no system call); returns how many. */
int	 db_notified(struct db *db);
/* Runs a prepared statement with text parameters (NULL = SQL NULL). Returns the result
 * (caller PQclears it) or NULL with db->status set. Outside a transaction a lost
 * connection is retried once on a fresh one, so a database restart costs no request. */
PGresult *db_exec(struct db *db, enum stmt_id id, const char *const *params);
/* Runs a prepared statement whose answer the caller does not read (an insert, an
 * update), inside a transaction of a connection with db->pipeline on: it is only sent,
 * and checked with the next db_exec (which travels with it), db_sync, or transaction
 * control. 0, or -1 with db->status set (a failure of an earlier queued statement shows
 * here or there, as the transaction's failure: the caller rolls back its level). Without
 * pipeline, or outside a transaction, it is db_exec. */
int	 db_exec_later(struct db *db, enum stmt_id id, const char *const *params);
/* Sends a read ahead, where the connection pipelines inside a transaction, so that it
 * travels with the next round trip instead of making one of its own: the first db_exec
 * (or db_exec_all) of the same statement with the same parameters in this transaction
 * gets its answer as the database stood when it was sent. Only for a read that nothing
 * this transaction does in between can change (the caller's word: the card a renewal
 * will charge, the customer a receipt goes to, a row it locks). Elsewhere, or with no
 * room, it does nothing and the db_exec reads as usual; a read never asked for is
 * dropped: by the second release of a first level after it was sent (a batch's item and
 * the one after it, which a read sent just before the item's release is for), a rollback
 * of any level, the end of the transaction and a lost connection. */
void	 db_read_ahead(struct db *db, enum stmt_id id, const char *const *params);
/* Runs n prepared statements that do not depend on each other and fills out[] with their
 * results (each to PQclear): in one round trip on a connection with db->pipeline on, inside
 * a transaction; else one after the other. 0, or -1 with db->status set and out[] all
 * NULL. */
int	 db_exec_all(struct db *db, int n, const enum stmt_id *ids,
	    const char *const *const *params, PGresult **out);
/* A result made here rather than by the server, of ncols text columns and no rows yet,
 * for code that reads rows (to render what was just written without reading it back);
 * NULL when out of memory. db_result_set fills row's column col with v (NULL: SQL null),
 * growing the rows as needed: 0, or -1 when out of memory. */
PGresult *db_result_new(int ncols);
int	 db_result_set(PGresult *res, int row, int col, const char *v);
/* Reads the answers of the statements db_exec_later queued: 0 when all succeeded, else
 * -1 with db->status and errmsg of the first that failed. (db_commit and db_begin of a
 * level read them too.) */
int	 db_sync(struct db *db);
/* Starts a new count of db->n_exec and db->trace. */
void	 db_trace_reset(struct db *db);
/* Runs constant SQL text (migrations, transaction control). */
int	 db_exec_sql(struct db *db, const char *sql);
/* Transactions nest: a db_begin inside another opens a savepoint, and its commit or
 * rollback releases or rolls back to it, so the outermost caller decides (a HEAD request
 * runs its handler in a transaction that is always rolled back). A db_commit that fails
 * has ended its level all the same (rolled back): do not db_rollback after it, which at a
 * nested level would end the level above too. A db_rollback with nothing open does
 * nothing. */
int	 db_begin(struct db *db);
int	 db_commit(struct db *db);
int	 db_rollback(struct db *db);
/* Gives up every level of the transaction. When the server cannot be told (a rollback
 * fails on a live connection), the connection is closed, so the server discards the
 * transaction and db_ensure starts afresh: never a connection stuck in an aborted one. */
void	 db_abort(struct db *db);
int	 db_savepoint(struct db *db);
int	 db_rollback_savepoint(struct db *db);
/* Named savepoints for nested work (a preview that runs an operation and undoes it).
 * name is a constant identifier chosen by the caller, never input. */
int	 db_savepoint_named(struct db *db, const char *name);
int	 db_rollback_named(struct db *db, const char *name);
int	 db_release_named(struct db *db, const char *name);

/* Value helpers: NULL for SQL NULL. */
const char *db_val(const PGresult *res, int row, int col);
long long db_ll(const PGresult *res, int row, int col, long long dflt);

#endif
