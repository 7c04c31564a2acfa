/* db_cli: drives the database layer's reads sent ahead (db_read_ahead) against a real
 * PostgreSQL for tests/integration/test_db.py. Usage: db_cli CONNINFO SITE CUSTOMER
 * OTHER_CUSTOMER. It changes the customer's name inside transactions it rolls back, and
 * prints one "what: value" line per step (the name a read gave, and how many statements
 * it cost); the test says what each must be. Exit status 0 unless a call failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/stmts.h"

static struct db db;
static const char *site, *customer, *other;

static int
fail(const char *what)
{
	fprintf(stderr, "db_cli: %s: %s\n", what, db.errmsg);
	return 1;
}

/* Sets the customer's name with SQL of its own (not a prepared statement). */
static int
rename_to(const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "UPDATE customers SET name = '%s' WHERE site_id = '%s' "
	    "AND id = '%s'", name, site, customer);
	return db_exec_sql(&db, sql);
}

/* Reads the customer's name (of who) and prints it with the statements it cost. */
static int
show(const char *what, const char *who)
{
	unsigned before = db.n_exec;
	PGresult *res = db_exec(&db, STMT_CUSTOMER_GET, (const char *[]){ site, who });

	if (res == NULL)
		return fail(what);
	printf("%s: %s (%u statement%s)\n", what, PQntuples(res) == 1 &&
	    db_val(res, 0, CUST_NAME) ? db_val(res, 0, CUST_NAME) : "-", db.n_exec - before,
	    db.n_exec - before == 1 ? "" : "s");
	PQclear(res);
	return 0;
}

static void
ahead(const char *who)
{
	db_read_ahead(&db, STMT_CUSTOMER_GET, (const char *[]){ site, who });
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: db_cli CONNINFO SITE CUSTOMER OTHER_CUSTOMER\n");
		return 2;
	}
	site = argv[2];
	customer = argv[3];
	other = argv[4];
	db_init(&db, argv[1], 5, true);
	db.pipeline = true;
	if (db_ensure(&db) != 0)
		return fail("connect");

	/* Outside a transaction nothing is sent ahead. */
	ahead(customer);
	if (show("outside", customer) != 0)
		return 1;

	/* The answer is the database as it stood when the read was sent; once. */
	if (db_begin(&db) != 0 || rename_to("before") != 0)
		return fail("begin");
	ahead(customer);
	if (rename_to("after") != 0 || show("ahead", customer) != 0 ||
	    show("again", customer) != 0)
		return 1;

	/* Another customer's read is not answered by it (which stays, unasked for). */
	ahead(customer);
	if (show("other", other) != 0)
		return 1;

	/* The same read sent again replaces the one not asked for yet. */
	if (rename_to("renamed") != 0)
		return fail("rename");
	ahead(customer);
	if (rename_to("after") != 0 || show("sent again", customer) != 0)
		return 1;

	/* A level rolled back drops what was read inside it. */
	if (db_begin(&db) != 0 || rename_to("inner") != 0)
		return fail("savepoint");
	ahead(customer);
	if (db_rollback(&db) != 0)
		return fail("rollback to savepoint");
	if (show("rolled back", customer) != 0)
		return 1;

	/* A level released keeps it: the same transaction goes on. */
	if (db_begin(&db) != 0)
		return fail("savepoint");
	ahead(customer);
	if (db_commit(&db) != 0)
		return fail("release");
	if (rename_to("later") != 0 || show("released", customer) != 0)
		return 1;

	/* One not asked for is dropped by the second release after it was sent. */
	ahead(customer);
	if (db_begin(&db) != 0 || db_commit(&db) != 0 || db_begin(&db) != 0 ||
	    rename_to("unasked") != 0 || db_commit(&db) != 0)
		return fail("releases");
	if (show("two releases later", customer) != 0)
		return 1;

	/* The end of the transaction drops it. */
	ahead(customer);
	if (db_rollback(&db) != 0)
		return fail("rollback");
	if (db_begin(&db) != 0)
		return fail("begin");
	if (show("next transaction", customer) != 0)
		return 1;
	db_rollback(&db);
	db_close(&db);
	return 0;
}
