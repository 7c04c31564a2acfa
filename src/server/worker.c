/* worker.c: the worker's accept loop. Connects to PostgreSQL after fork, keeps one
 * connection and its prepared statements, and reuses request and response buffers. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api/auth.h"
#include "server/dispatch.h"
#include "core/log.h"
#include "server/worker.h"

static volatile sig_atomic_t worker_stop;

/* SIGTERM is blocked except while the worker waits in epoll_pwait: a request that has
 * begun (libfcgi reads its parameters inside FCGX_Accept_r, after accept) always
 * finishes, and the stop is seen at the next wait, which then returns at once. */
static void
on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
read_body(struct worker_state *ws, FCGX_Stream *in)
{
	struct http_request *r = &ws->req;
	char scratch[8192];

	buf_reset(&ws->body);
	if (r->content_length > ws->cfg->max_body) {
		/* Drain what nginx already sent (bounded by its own limit) so the connection
		 * closes cleanly, and keep none of it. */
		r->body_too_large = true;
		while (FCGX_GetStr(scratch, sizeof(scratch), in) > 0)
			;
		r->body = NULL;
		r->body_len = 0;
		return;
	}
	while (ws->body.len < r->content_length) {
		size_t want = r->content_length - ws->body.len;
		int n = FCGX_GetStr(scratch, (int)(want < sizeof(scratch) ? want : sizeof(scratch)),
		    in);

		if (n <= 0)
			break;
		buf_append(&ws->body, scratch, (size_t)n);
	}
	/* Read on to the end of the stream (the empty record that closes it), so nothing is
	 * left unread on the connection when it is closed. */
	while (FCGX_GetStr(scratch, sizeof(scratch), in) > 0)
		;
	buf_append(&ws->body, "", 0);	/* NUL-terminate even when empty */
	r->body = ws->body.data;
	r->body_len = ws->body.len;
}

/* A log value: as it is, or double-quoted with " and \\ escaped when it holds a space, a
 * quote or a backslash, so the key=value line stays parseable. */
static const char *
log_value(const char *v, char *out, size_t n)
{
	size_t j = 0;

	if (strpbrk(v, " \"\\") == NULL && *v != '\0')
		return v;
	out[j++] = '"';
	for (; *v && j + 3 < n; v++) {
		if (*v == '"' || *v == '\\')
			out[j++] = '\\';
		out[j++] = *v;
	}
	out[j++] = '"';
	out[j] = '\0';
	return out;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Buffers are kept from one request to the next up to this size; a larger one (a big
 * body or answer) is given back after its request, so a worker at rest stays small. */
#define WORKER_KEEP_BYTES	(64 * 1024)

static bool
shrink(struct buf *b)
{
	if (b->cap <= WORKER_KEEP_BYTES)
		return false;
	buf_free(b);
	return true;
}

static void
shrink_after_request(struct worker_state *ws)
{
	bool big = false;

	big |= shrink(&ws->body);
	big |= shrink(&ws->out);
	big |= shrink(&ws->resp.body);
	big |= shrink(&ws->resp.headers);
	/* What a big request left in the heap (a parsed body's many small pieces) goes back
	 * too; ordinary requests never pay for this. */
	if (big)
		malloc_trim(0);
}

/* Keeps the database connection's socket in the epoll set across reconnects: a NOTIFY
 * wakes an idle worker, and so does the server closing the connection. */
static void
watch_db(int ep, struct db *db, unsigned *gen)
{
	int fd = db_socket(db);

	if (fd < 0 || *gen == db->generation)
		return;
	/* A closed socket left the set by itself; a new one may reuse its number. */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN,
	    .data.fd = fd }) != 0 && errno == EEXIST)
		epoll_ctl(ep, EPOLL_CTL_MOD, fd, &(struct epoll_event){ .events = EPOLLIN,
		    .data.fd = fd });
	*gen = db->generation;
	auth_cache_flush();
}

int
worker_run(const struct config *cfg, int listen_fd)
{
	struct worker_state ws;
	FCGX_Request fr;
	struct sigaction sa;
	sigset_t term, waitmask;
	unsigned db_gen = 0;
	int errors = 0, ep;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	/* If the master dies, so do we: no orphans holding the socket. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	log_defer_start();
	/* Fixed thresholds: glibc would otherwise raise them after the first big buffer is
	 * freed, and keep every later one in the heap. Big buffers are mapped and unmapped. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024);

	memset(&ws, 0, sizeof(ws));
	ws.cfg = cfg;
	http_request_init(&ws.req);
	http_response_init(&ws.resp);
	buf_init(&ws.body);
	buf_init(&ws.out);
	db_init(&ws.db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	db_listen(&ws.db, DB_CHANNEL_API_KEYS);
	(void)db_ensure(&ws.db);	/* failure is fine: requests get 503 until it is back */

	FCGX_Init();
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_error("worker: FCGX_InitRequest failed");
		return 1;
	}
	/* Non-blocking: when another worker wins the accept, ours returns EAGAIN at once
	 * instead of blocking. Accepted sockets stay blocking. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	/* EPOLLEXCLUSIVE wakes one idle worker per connection, as a blocking accept() would,
	 * where poll() would wake them all. epoll_wait is never restarted after a signal. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &(struct epoll_event){
	    .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd }) != 0) {
		log_error("worker: epoll: %s", strerror(errno));
		return 1;
	}
	while (!worker_stop) {
		struct timespec t0;
		struct epoll_event ev;
		const char *log_path;
		char path_buf[1100];
		int rc;

		watch_db(ep, &ws.db, &db_gen);
		/* Sleep until a connection, a stop, the deferred log lines are due, or the
		 * database says something unasked (a key changed, or it is going away). */
		rc = epoll_pwait(ep, &ev, 1, log_flush_due_ms(), &waitmask);
		if (rc <= 0) {
			log_tick();
			continue;	/* EINTR: look at worker_stop again */
		}
		if (ev.data.fd != listen_fd) {
			db_consume(&ws.db);	/* queues the notifications for the next request */
			if (db_notified(&ws.db) > 0)
				auth_cache_flush();
			continue;
		}
		rc = FCGX_Accept_r(&fr);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK)
			continue;
		if (rc < 0) {
			/* A bad accept is rare; a run of them means the socket is gone. */
			if (++errors > 100) {
				log_error("worker: accept keeps failing (%d), exiting", rc);
				break;
			}
			usleep(10000);
			continue;
		}
		errors = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		http_request_reset(&ws.req);
		http_response_reset(&ws.resp);
		buf_reset(&ws.out);
		http_request_from_env(&ws.req, fr.envp);
		read_body(&ws, fr.in);
		db_trace_reset(&ws.db);
		dispatch(&ws, &log_path);
		/* Nothing a request left open may reach the next one (a handler that forgot a
		 * level, or a transaction lost with its connection). */
		if (ws.db.in_txn || ws.db.lost_depth > 0) {
			log_warn("worker: request %s left a transaction open; rolled back",
			    ws.req.request_id);
			db_abort(&ws.db);
		}
		/* The headers, then the body from where it was built (a yearly ZIP can be
		 * tens of megabytes: no second copy of it behind the headers). */
		http_response_serialize(&ws.resp, true, &ws.out);
		FCGX_PutStr(ws.out.data, (int)ws.out.len, fr.out);
		if (ws.req.method != HTTP_HEAD && ws.resp.body.len > 0)
			FCGX_PutStr(ws.resp.body.data, (int)ws.resp.body.len, fr.out);
		/* Log before Finish: the request strings live in fr.envp until then. */
		log_request("method=%s path=%s status=%d duration_ms=%.1f request_id=%s "
		    "stmts=%u stmt_trace=%08x", ws.req.method_str,
		    log_value(log_path, path_buf, sizeof(path_buf)), ws.resp.status,
		    ms_since(&t0), ws.req.request_id, ws.db.n_exec, ws.db.trace);
		FCGX_Finish_r(&fr);
		shrink_after_request(&ws);
		log_tick();
	}
	FCGX_Free(&fr, 0);
	close(ep);
	db_close(&ws.db);
	http_request_free(&ws.req);
	http_response_free(&ws.resp);
	buf_free(&ws.body);
	buf_free(&ws.out);
	log_flush();
	return 0;
}
