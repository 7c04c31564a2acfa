/* ops.c: portalctl's operational commands: migration status, the installation check,
 * setup's database steps (role, database, migrations) and dropping the database. The role
 * and database are made as the PostgreSQL superuser: through --admin-conninfo, or, run as
 * root with the database on this host, as the postgres system user (peer authentication). */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ini.h>
#include <libpq-fe.h>

#include "cli/ops.h"
#include "core/buf.h"
#include "core/json.h"
#include "db/db.h"
#include "db/migrate.h"

#define PG_SUPERUSER	"postgres"	/* Debian's cluster owner, reached by peer auth */

/* The database and role the configuration names. */
struct target {
	char	host[256];
	char	port[16];
	char	dbname[64];
	char	user[64];
	bool	local;		/* a Unix socket or a loopback address */
};

static bool
is_local_host(const char *h)
{
	if (strchr(h, ',') != NULL)
		return false;	/* several hosts: a cluster elsewhere */
	return h[0] == '\0' || h[0] == '/' || h[0] == '@' || strcmp(h, "localhost") == 0 ||
	    strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
}

static int
parse_target(const struct config *cfg, struct target *t, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *perr = NULL, hostaddr[64] = "";

	memset(t, 0, sizeof(*t));
	opts = PQconninfoParse(cfg->db_conninfo, &perr);
	if (opts == NULL) {
		snprintf(err, errlen, "[database] conninfo: %s", perr ? perr : "out of memory");
		PQfreemem(perr);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			snprintf(t->host, sizeof(t->host), "%s", o->val);
		else if (strcmp(o->keyword, "hostaddr") == 0)
			snprintf(hostaddr, sizeof(hostaddr), "%s", o->val);
		else if (strcmp(o->keyword, "port") == 0)
			snprintf(t->port, sizeof(t->port), "%s", o->val);
		else if (strcmp(o->keyword, "dbname") == 0)
			snprintf(t->dbname, sizeof(t->dbname), "%s", o->val);
		else if (strcmp(o->keyword, "user") == 0)
			snprintf(t->user, sizeof(t->user), "%s", o->val);
	}
	PQconninfoFree(opts);
	t->local = is_local_host(t->host) && is_local_host(hostaddr);
	return 0;
}

/* "name" with inner quotes doubled: identifiers cannot be statement parameters, and these
 * come from the administrator's config file, never from a request. */
static void
quote_ident(char *out, size_t n, const char *s)
{
	size_t j = 0;

	out[j++] = '"';
	for (; *s && j + 3 < n; s++) {
		if (*s == '"')
			out[j++] = '"';
		out[j++] = *s;
	}
	out[j++] = '"';
	out[j] = '\0';
}

/* Runs fn on a superuser connection. 0 done, -1 failed (said why), 1 no way to get one. */
typedef int (*admin_fn)(PGconn *pg, const struct target *t);

static int
admin_connect_and_run(PGconn *pg, const struct target *t, admin_fn fn)
{
	int rc;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "portalctl: cannot connect as the database superuser: %s",
		    PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	PQexec(pg, "SET client_min_messages TO warning");
	rc = fn(pg, t);
	PQfinish(pg);
	return rc;
}

static int
as_admin(const struct target *t, const char *admin_conninfo, admin_fn fn)
{
	struct passwd *pw;
	pid_t pid;
	int status;

	if (admin_conninfo != NULL) {
		const char *kw[] = { "dbname", "connect_timeout", NULL };
		const char *val[] = { admin_conninfo, "5", NULL };

		return admin_connect_and_run(PQconnectdbParams(kw, val, 1), t, fn);
	}
	if (geteuid() != 0 || !t->local || (pw = getpwnam(PG_SUPERUSER)) == NULL)
		return 1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *kw[6], *val[6];
		int k = 0, rc;

		/* Peer authentication: the connection must come from the postgres user. */
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0) {
			fprintf(stderr, "portalctl: cannot become %s: %s\n", PG_SUPERUSER,
			    strerror(errno));
			_exit(2);
		}
		if (t->host[0] != '\0') {
			kw[k] = "host";
			val[k++] = t->host;
		}
		if (t->port[0] != '\0') {
			kw[k] = "port";
			val[k++] = t->port;
		}
		kw[k] = "user";
		val[k++] = PG_SUPERUSER;
		kw[k] = "dbname";
		val[k++] = "postgres";
		kw[k] = "connect_timeout";
		val[k++] = "5";
		kw[k] = NULL;
		val[k] = NULL;
		rc = admin_connect_and_run(PQconnectdbParams(kw, val, 0), t, fn);
		fflush(stdout);
		_exit(rc == 0 ? 0 : 2);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* 1 when the query returns a row, 0 when not, -1 on error. */
static int
exists(PGconn *pg, const char *sql, const char *param)
{
	PGresult *res = PQexecParams(pg, sql, 1, NULL, &param, NULL, NULL, 0);
	int rc = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		rc = PQntuples(res) > 0;
	else
		fprintf(stderr, "portalctl: %s", PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

static int
run(PGconn *pg, const char *sql, const char *done)
{
	PGresult *res = PQexec(pg, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (ok)
		printf("%s\n", done);
	else
		fprintf(stderr, "portalctl: %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static int
create_role_and_database(PGconn *pg, const struct target *t)
{
	char role[140], db[140], sql[400], done[200];
	int e;

	quote_ident(role, sizeof(role), t->user);
	quote_ident(db, sizeof(db), t->dbname);
	if ((e = exists(pg, "SELECT 1 FROM pg_roles WHERE rolname = $1", t->user)) < 0)
		return -1;
	if (e == 0) {
		snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN", role);
		snprintf(done, sizeof(done), "setup: created the database role %s", t->user);
		if (run(pg, sql, done) != 0)
			return -1;
	} else
		printf("setup: the database role %s exists\n", t->user);
	if ((e = exists(pg, "SELECT 1 FROM pg_database WHERE datname = $1", t->dbname)) < 0)
		return -1;
	if (e == 0) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER %s", db, role);
		snprintf(done, sizeof(done), "setup: created the database %s", t->dbname);
		return run(pg, sql, done);
	}
	printf("setup: the database %s exists\n", t->dbname);
	return 0;
}

static void
print_create_sql(const struct target *t)
{
	char role[140], db[140];

	quote_ident(role, sizeof(role), t->user);
	quote_ident(db, sizeof(db), t->dbname);
	printf("setup: cannot create the role and database here. Run this as the PostgreSQL "
	    "superuser (for example: sudo -u postgres psql), then 'portalctl setup' again:\n\n"
	    "  CREATE ROLE %s LOGIN;           -- add PASSWORD '...' for TCP connections\n"
	    "  CREATE DATABASE %s OWNER %s;\n\n", role, db, role);
}

/* Run as root, setup and migrate --if-local continue as the OS user named like the role
 * (the service's user, "portald"), so peer authentication sees the user the service runs as. */
static int
become_role_user(const char *name)
{
	struct passwd *pw;

	if (geteuid() != 0 || name[0] == '\0' || (pw = getpwnam(name)) == NULL)
		return 0;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "portalctl: cannot become %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int
migrate_now(const struct config *cfg, int lock_timeout, int *applied)
{
	struct db db;
	char err[768];
	int rc;

	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, false);
	rc = migrate_run(&db, lock_timeout, applied, err, sizeof(err));
	db_close(&db);
	if (rc != 0)
		fprintf(stderr, "portalctl: migrate: %s\n", err);
	return rc;
}

static int
migrate_status_json(const struct config *cfg)
{
	struct migration m[MIGRATE_MAX];
	struct db db;
	struct buf b;
	struct jw w;
	char err[512];
	int n, unknown, pending = 0, conflicts = 0, rc;

	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, false);
	rc = migrate_status(&db, m, &n, &unknown, err, sizeof(err));
	db_close(&db);
	if (rc != 0) {
		fprintf(stderr, "portalctl: migrate --status: %s\n", err);
		return 1;
	}
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_arr_begin(&w, "migrations");
	for (int i = 0; i < n; i++) {
		jw_obj_begin(&w, NULL);
		jw_int(&w, "version", m[i].version);
		jw_str(&w, "name", m[i].name);
		/* "conflict": the number was applied as another file (another build's). */
		jw_str(&w, "status", m[i].applied_as[0] ? "conflict" : m[i].applied_at ?
		    "applied" : "pending");
		if (m[i].applied_as[0])
			jw_str(&w, "applied_as", m[i].applied_as);
		if (m[i].applied_at)
			jw_int(&w, "applied_at", m[i].applied_at);
		else
			jw_null(&w, "applied_at");
		jw_obj_end(&w);
		pending += m[i].applied_at == 0;
		conflicts += m[i].applied_as[0] != '\0';
	}
	jw_arr_end(&w);
	jw_int(&w, "applied", n - pending - conflicts);
	jw_int(&w, "pending", pending);
	jw_int(&w, "conflicts", conflicts);
	/* Applied by a newer release during a rolling upgrade; this one works beside them. */
	jw_int(&w, "newer_applied", unknown);
	jw_bool(&w, "current", pending == 0 && conflicts == 0);
	jw_obj_end(&w);
	fwrite(b.data, 1, b.len, stdout);
	fputc('\n', stdout);
	buf_free(&b);
	return 0;
}

int
ops_migrate(const struct config *cfg, int argc, char **argv)
{
	struct target t;
	char err[512], *end;
	int applied, lock_timeout = MIGRATE_LOCK_TIMEOUT;
	bool if_local = false;

	if (argc == 1 && strcmp(argv[0], "--status") == 0)
		return migrate_status_json(cfg);
	for (int i = 0; i < argc; i++) {
		long v;

		if (strcmp(argv[i], "--if-local") == 0) {
			if_local = true;
			continue;
		}
		if (strcmp(argv[i], "--lock-timeout") != 0 || i + 1 == argc)
			goto usage;
		v = strtol(argv[++i], &end, 10);
		if (end == argv[i] || *end != '\0' || v < 0 || v > 3600)
			goto usage;
		lock_timeout = (int)v;
	}
	if (if_local) {
		/* For the package's postinst: migrate the database on this host, as the service's
		 * user; a shared database elsewhere is migrated once, by the administrator. */
		if (parse_target(cfg, &t, err, sizeof(err)) != 0) {
			fprintf(stderr, "portalctl: %s\n", err);
			return 1;
		}
		if (!t.local) {
			fprintf(stderr, "portalctl: the database is not on this host; run "
			    "'portalctl migrate' on one host when the release is installed\n");
			return 3;
		}
		if (become_role_user(t.user) != 0)
			return 1;
	}
	if (migrate_now(cfg, lock_timeout, &applied) != 0)
		return 1;
	printf("{\"migrations_applied\":%d}\n", applied);
	return 0;
usage:
	fprintf(stderr, "usage: portalctl migrate [--status | [--if-local] [--lock-timeout "
	    "SECONDS]]\n");
	return 2;
}

int
ops_setup_args(int argc, char **argv, struct setup_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->site = "main";
	o->mode = "test";
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--admin-conninfo") == 0 && i + 1 < argc)
			o->admin_conninfo = argv[++i];
		else if (strcmp(argv[i], "--site") == 0 && i + 1 < argc)
			o->site = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			o->name = argv[++i];
		else if (strcmp(argv[i], "--live") == 0)
			o->mode = "live";
		else if (strcmp(argv[i], "--test") == 0)
			o->mode = "test";
		else
			return -1;
	}
	return 0;
}

int
ops_setup_database(const struct config *cfg, const struct setup_opts *o)
{
	struct target t;
	struct db db;
	char err[512];
	int rc, applied;

	if (parse_target(cfg, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "portalctl: %s\n", err);
		return -1;
	}
	if (t.user[0] == '\0' || t.dbname[0] == '\0') {
		fprintf(stderr, "portalctl: setup needs user= and dbname= in [database] conninfo\n");
		return -1;
	}
	rc = as_admin(&t, o->admin_conninfo, create_role_and_database);
	if (become_role_user(t.user) != 0)
		return -1;
	/* Whatever happened above, the database may be usable already (made by hand). */
	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, false);
	if (db_ensure(&db) != 0) {
		if (rc != 0)
			print_create_sql(&t);
		else
			fprintf(stderr, "portalctl: the database was created but %s cannot connect "
			    "to it: %s\n(check pg_hba.conf: the role connects as configured in "
			    "[database] conninfo)\n", t.user, db.errmsg);
		db_close(&db);
		return -1;
	}
	db_close(&db);
	if (migrate_now(cfg, MIGRATE_LOCK_TIMEOUT, &applied) != 0)
		return -1;
	printf("setup: %d migration%s applied\n", applied, applied == 1 ? "" : "s");
	return 0;
}

void
ops_setup_next_steps(const char *config_path)
{
	printf("\nNext steps:\n"
	    "  1. Set [server] public_url in %s to the https:// address customers use,\n"
	    "     then: systemctl reload portald\n"
	    "  2. Enable the nginx site:\n"
	    "       ln -s /etc/nginx/sites-available/portald /etc/nginx/sites-enabled/portald\n"
	    "  3. TLS: in that site, uncomment the 'listen 443 ssl' lines and point\n"
	    "     ssl_certificate and ssl_certificate_key at your certificate, then:\n"
	    "       nginx -t && systemctl reload nginx\n"
	    "  4. Check the installation: portalctl check\n"
	    "The API key above is shown once; 'portalctl key rotate SITE' issues a new one.\n",
	    config_path);
}

static int
drop_database(PGconn *pg, const struct target *t)
{
	char db[140], role[140], sql[300], done[200];
	int e;

	quote_ident(db, sizeof(db), t->dbname);
	quote_ident(role, sizeof(role), t->user);
	if ((e = exists(pg, "SELECT 1 FROM pg_database WHERE datname = $1", t->dbname)) < 0)
		return -1;
	if (e == 0)
		printf("drop-database: there is no database %s\n", t->dbname);
	else {
		snprintf(sql, sizeof(sql), "DROP DATABASE %s", db);
		snprintf(done, sizeof(done), "drop-database: dropped the database %s", t->dbname);
		if (run(pg, sql, done) != 0)
			return -1;
	}
	/* The role goes too, unless it is a superuser or still owns something elsewhere. */
	e = exists(pg, "SELECT 1 FROM pg_roles WHERE rolname = $1 AND NOT rolsuper", t->user);
	if (e == 1) {
		PGresult *res;

		snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
		res = PQexec(pg, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			printf("drop-database: dropped the role %s\n", t->user);
		else
			printf("drop-database: kept the role %s: %s", t->user,
			    PQresultErrorMessage(res));
		PQclear(res);
	}
	return 0;
}

int
ops_drop_database(const struct config *cfg, int argc, char **argv)
{
	const char *admin = NULL;
	bool really = false;
	struct target t;
	char err[512], db[140];
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--yes-really") == 0)
			really = true;
		else if (strcmp(argv[i], "--admin-conninfo") == 0 && i + 1 < argc)
			admin = argv[++i];
		else {
			fprintf(stderr, "usage: portalctl drop-database --yes-really "
			    "[--admin-conninfo CONNINFO]\n");
			return 2;
		}
	}
	if (parse_target(cfg, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "portalctl: %s\n", err);
		return 1;
	}
	if (t.dbname[0] == '\0' || strcmp(t.dbname, "postgres") == 0 ||
	    strncmp(t.dbname, "template", 8) == 0) {
		fprintf(stderr, "portalctl: refusing to drop the database \"%s\"\n", t.dbname);
		return 1;
	}
	if (!really) {
		fprintf(stderr, "portalctl: this drops the database %s with every site, customer "
		    "and invoice in it, for good. Stop portald, take a backup (pg_dump), then add "
		    "--yes-really.\n", t.dbname);
		return 2;
	}
	rc = as_admin(&t, admin, drop_database);
	if (rc == 1) {
		quote_ident(db, sizeof(db), t.dbname);
		printf("drop-database: run this as the PostgreSQL superuser:\n  DROP DATABASE %s;\n",
		    db);
	}
	return rc == 0 ? 0 : 1;
}

/* ---- portalctl check ---- */

struct tally {
	int	failed;
};

static void
line(struct tally *ta, const char *status, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
line(struct tally *ta, const char *status, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%-4s  %-10s  ", status, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (strcmp(status, "FAIL") == 0)
		ta->failed++;
}

static void
owner_names(const struct stat *st, char *out, size_t n)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[32], g[32];

	if (pw)
		snprintf(u, sizeof(u), "%s", pw->pw_name);
	else
		snprintf(u, sizeof(u), "%u", (unsigned)st->st_uid);
	if (gr)
		snprintf(g, sizeof(g), "%s", gr->gr_name);
	else
		snprintf(g, sizeof(g), "%u", (unsigned)st->st_gid);
	snprintf(out, n, "%04o %s:%s", (unsigned)(st->st_mode & 07777), u, g);
}

static void
check_secrets(struct tally *ta, struct config *cfg)
{
	struct stat st;
	char who[96], err[256];

	if (cfg->secrets_file[0] == '\0') {
		line(ta, "skip", "secrets", "[security] secrets_file is not set");
		return;
	}
	if (stat(cfg->secrets_file, &st) != 0) {
		line(ta, "FAIL", "secrets", "%s: %s", cfg->secrets_file, strerror(errno));
		return;
	}
	owner_names(&st, who, sizeof(who));
	if (!S_ISREG(st.st_mode))
		line(ta, "FAIL", "secrets", "%s is not a regular file", cfg->secrets_file);
	else if (st.st_mode & 0027)
		line(ta, "FAIL", "secrets", "%s is %s: others may read it or the group may write "
		    "it (chmod 0640)", cfg->secrets_file, who);
	else if (access(cfg->secrets_file, R_OK) != 0)
		line(ta, "FAIL", "secrets", "%s (%s): cannot read it as this user",
		    cfg->secrets_file, who);
	else if (secrets_load(&cfg->secrets, cfg->secrets_file, err, sizeof(err)) != 0)
		line(ta, "FAIL", "secrets", "%s", err);
	else {
		db_set_password(cfg->secrets.db_password);
		line(ta, "ok", "secrets", "%s (%s)", cfg->secrets_file, who);
	}
}

static void
check_socket(struct tally *ta, const struct config *cfg)
{
	struct sockaddr_un sa;
	struct stat st;
	char who[96];
	int fd;

	if (strcmp(cfg->socket_path, "inherit") == 0) {
		line(ta, "skip", "socket", "inherited from the service manager (socket = inherit)");
		return;
	}
	if (stat(cfg->socket_path, &st) != 0) {
		line(ta, "FAIL", "socket", "%s: %s (is portald.socket or portald running?)",
		    cfg->socket_path, strerror(errno));
		return;
	}
	owner_names(&st, who, sizeof(who));
	if (!S_ISSOCK(st.st_mode)) {
		line(ta, "FAIL", "socket", "%s is not a socket", cfg->socket_path);
		return;
	}
	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		line(ta, "FAIL", "socket", "%s: the path is too long", cfg->socket_path);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, cfg->socket_path, strlen(cfg->socket_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		line(ta, "ok", "socket", "%s accepts connections (%s)", cfg->socket_path, who);
	else
		line(ta, "FAIL", "socket", "%s (%s): %s", cfg->socket_path, who, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* A remote service named in the config: "smtp://relay:587", "https://api.example", or
 * "host:port". */
struct remote {
	char	label[16];
	char	host[256];
	char	port[8];
};

struct remotes {
	struct remote	r[8];
	int		n;
};

static int
parse_remote(const char *v, struct remote *r)
{
	const char *p = v, *scheme_end = strstr(v, "://"), *host, *end;
	const char *dflt = NULL;
	size_t hl;

	if (scheme_end != NULL) {
		size_t sl = (size_t)(scheme_end - v);

		if (sl == 4 && strncmp(v, "smtp", 4) == 0)
			dflt = "25";
		else if (sl == 5 && strncmp(v, "smtps", 5) == 0)
			dflt = "465";
		else if (sl == 4 && strncmp(v, "http", 4) == 0)
			dflt = "80";
		else if (sl == 5 && strncmp(v, "https", 5) == 0)
			dflt = "443";
		else
			return -1;
		p = scheme_end + 3;
		if ((end = strpbrk(p, "/@")) != NULL && *end == '@')
			p = end + 1;	/* user@host */
	}
	host = p;
	if (*host == '[') {		/* [v6]:port */
		if ((end = strchr(host, ']')) == NULL)
			return -1;
		hl = (size_t)(end - host - 1);
		host++;
		p = end + 1;
	} else {
		hl = strcspn(host, ":/");
		p = host + hl;
	}
	if (hl == 0 || hl >= sizeof(r->host))
		return -1;
	memcpy(r->host, host, hl);
	r->host[hl] = '\0';
	if (*p == ':') {
		size_t pl = strspn(p + 1, "0123456789");

		if (pl == 0 || pl >= sizeof(r->port))
			return -1;
		memcpy(r->port, p + 1, pl);
		r->port[pl] = '\0';
	} else if (dflt != NULL)
		snprintf(r->port, sizeof(r->port), "%s", dflt);
	else
		return -1;	/* neither a URL nor host:port */
	for (const char *c = r->host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':'))
			return -1;
	return 0;
}

/* inih callback: settings of the mail and gateway sections that name a remote service. */
static int
collect_remote(void *user, const char *section, const char *name, const char *value)
{
	struct remotes *rs = user;
	const char *label = NULL;
	struct remote r;

	(void)name;
	if (strcmp(section, "mail") == 0 || strcmp(section, "smtp") == 0)
		label = "mail relay";
	else if (strcmp(section, "stripe") == 0 || strcmp(section, "gateway") == 0 ||
	    strcmp(section, "payments") == 0)
		label = "gateway";
	if (label == NULL || rs->n == (int)(sizeof(rs->r) / sizeof(rs->r[0])))
		return 1;
	memset(&r, 0, sizeof(r));
	if (parse_remote(value, &r) != 0)
		return 1;
	snprintf(r.label, sizeof(r.label), "%s", label);
	rs->r[rs->n++] = r;
	return 1;
}

/* TCP connect within timeout seconds: 0, or -1 with err filled. */
static int
tcp_reachable(const struct remote *r, int timeout, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL, *a;
	int rc = -1, g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((g = getaddrinfo(r->host, r->port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s", gai_strerror(g));
		return -1;
	}
	snprintf(err, errlen, "no address");
	for (a = ai; a != NULL && rc != 0; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			rc = 0;
		else if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout * 1000) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
				rc = 0;
			else
				snprintf(err, errlen, "%s", soerr ? strerror(soerr) : "timed out");
		} else
			snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

static void
check_remotes(struct tally *ta, const struct config *cfg, const char *path)
{
	static const char *labels[] = { "mail relay", "gateway" };
	struct remotes rs;
	char err[256];

	memset(&rs, 0, sizeof(rs));
	(void)ini_parse(path, collect_remote, &rs);
	for (size_t l = 0; l < sizeof(labels) / sizeof(labels[0]); l++) {
		int seen = 0;

		for (int i = 0; i < rs.n; i++) {
			if (strcmp(rs.r[i].label, labels[l]) != 0)
				continue;
			seen++;
			if (tcp_reachable(&rs.r[i], cfg->db_connect_timeout, err, sizeof(err)) == 0)
				line(ta, "ok", labels[l], "%s port %s reachable", rs.r[i].host,
				    rs.r[i].port);
			else
				line(ta, "FAIL", labels[l], "%s port %s: %s", rs.r[i].host,
				    rs.r[i].port, err);
		}
		if (!seen)
			line(ta, "skip", labels[l], "not configured");
	}
}

int
ops_check(struct config *cfg, const char *config_path)
{
	struct tally ta = { 0 };
	struct migration m[MIGRATE_MAX];
	struct db db;
	char err[512];
	int n, unknown, pending = 0, conflict = -1;

	line(&ta, "ok", "config", "%s (%d workers%s)", config_path, cfg->workers,
	    cfg->workers_auto ? ", auto" : "");
	check_secrets(&ta, cfg);
	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, false);
	if (db_ensure(&db) != 0) {
		/* The message names no password: libpq does not echo it. */
		line(&ta, "FAIL", "database", "cannot connect: %s", db.errmsg);
		line(&ta, "skip", "schema", "no database");
	} else {
		line(&ta, "ok", "database", "reachable (server %d)", PQserverVersion(db.conn));
		if (migrate_status(&db, m, &n, &unknown, err, sizeof(err)) != 0)
			line(&ta, "FAIL", "schema", "%s", err);
		else {
			for (int i = 0; i < n; i++) {
				pending += m[i].applied_at == 0;
				if (m[i].applied_as[0] && conflict < 0)
					conflict = i;
			}
			if (conflict >= 0)
				line(&ta, "FAIL", "schema", "migration %d was applied as %s, but "
				    "this build's is %s: the database was migrated by another "
				    "build", m[conflict].version, m[conflict].applied_as,
				    m[conflict].name);
			else if (pending)
				line(&ta, "FAIL", "schema", "%d of %d migrations pending: run "
				    "'portalctl migrate'", pending, n);
			else
				line(&ta, "ok", "schema", "current: %d migrations applied%s", n,
				    unknown ? " (and newer ones from a later release)" : "");
		}
	}
	db_close(&db);
	check_socket(&ta, cfg);
	check_remotes(&ta, cfg, config_path);
	return ta.failed ? 1 : 0;
}
