/* main.c: portald: reads the configuration, opens the FastCGI socket, runs the master. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "billing/access.h"
#include "billing/events.h"
#include "billing/notify.h"
#include "billing/gateways.h"
#include "core/config.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "server/listen.h"
#include "core/log.h"
#include "server/pool.h"

static volatile sig_atomic_t stop_jobs;
static void on_term(int s) { (void)s; stop_jobs = 1; }

static bool
is_unix_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &n) == 0 && ss.ss_family == AF_UNIX;
}

static void
usage(void)
{
	fprintf(stderr, "usage: portald [--config FILE] [--check-config] [--jobs-only] [--version]\n"
	    "  --jobs-only runs the job runner alone (another host), no FastCGI socket\n"
	    "  FILE defaults to $PORTALD_CONFIG, then " CONFIG_DEFAULT_PATH "\n");
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct listener l;
	const char *path = getenv("PORTALD_CONFIG");
	bool check_only = false, jobs_only = false;
	char err[512];
	enum log_level lv;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			check_only = true;
		else if (strcmp(argv[i], "--jobs-only") == 0)
			jobs_only = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("portald %s\n", PACKAGE_VERSION);
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (path == NULL || *path == '\0')
		path = CONFIG_DEFAULT_PATH;
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "portald: %s\n", err);
		return 1;
	}
	if (log_parse_level(cfg.log_level, &lv) == 0)
		log_set_level(lv);
	db_set_password(cfg.secrets.db_password);
	notify_configure(&cfg);	/* mail is made with this config (a reload rewrites it) */
	events_set_reaction(access_on_event);	/* a new subscription's invitation */
	/* cfg is static: a reload rewrites it in place, and the gateways read it there. */
	gateways_configure(&cfg);
	if (check_only) {
		printf("portald: %s is valid (secrets file %s: %d server key%s)\n", path,
		    cfg.secrets_file, cfg.secrets.nkeys, cfg.secrets.nkeys == 1 ? "" : "s");
		return 0;
	}
	if (jobs_only) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		return jobs_run(&cfg, &stop_jobs);
	}
	if (listen_open(&cfg, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "portald: %s\n", err);
		return 1;
	}
	/* libfcgi ends every connection with shutdown() and then waits in poll(), up to 2 s,
	 * for nginx to close first, so that unread input cannot make a TCP stack reset the
	 * connection under the answer. On a Unix socket there is no such reset, and the
	 * worker reads each request to its end, so the wait is only a round trip through
	 * nginx on every request. This build reads the wait from the environment when
	 * FCGX_Init runs (before the workers fork); an operator's own setting wins. */
	if (is_unix_socket(l.fd))
		setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 0);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "portald: FCGX_Init failed\n");
		return 1;
	}
	log_info("portald %s listening on %s", PACKAGE_VERSION, cfg.socket_path);
	return pool_run(&cfg, path, &l);
}
