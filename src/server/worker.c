/* worker.c: the worker's accept loop. Connects to PostgreSQL after fork, keeps one
 * connection and its prepared statements, and reuses request and response buffers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "server/dispatch.h"
#include "core/log.h"
#include "server/worker.h"

static volatile sig_atomic_t worker_busy;
static volatile sig_atomic_t worker_stop;

/* Waiting in poll(), nothing accepted: leave at once. Otherwise finish the request first.
 * (libfcgi reads the request's parameters inside FCGX_Accept_r, after accept(): a worker
 * must not die there, so "busy" starts before the accept.) */
static void
on_term(int sig)
{
	(void)sig;
	if (!worker_busy)
		_exit(0);
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

int
worker_run(const struct config *cfg, int listen_fd)
{
	struct worker_state ws;
	FCGX_Request fr;
	struct sigaction sa;
	int errors = 0, ep;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	/* SA_RESTART: libfcgi does not retry a read() that a signal interrupts. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	/* If the master dies, so do we: no orphans holding the socket. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;

	memset(&ws, 0, sizeof(ws));
	ws.cfg = cfg;
	http_request_init(&ws.req);
	http_response_init(&ws.resp);
	buf_init(&ws.body);
	buf_init(&ws.out);
	db_init(&ws.db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	(void)db_ensure(&ws.db);	/* failure is fine: requests get 503 until it is back */

	FCGX_Init();
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_error("worker: FCGX_InitRequest failed");
		return 1;
	}
	/* Non-blocking: when another worker wins the accept, ours returns EAGAIN at once
	 * instead of blocking while marked busy. Accepted sockets stay blocking. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	/* EPOLLEXCLUSIVE wakes one idle worker per connection, as a blocking accept() would,
	 * where poll() would wake them all. epoll_wait is never restarted after a signal. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &(struct epoll_event){
	    .events = EPOLLIN | EPOLLEXCLUSIVE }) != 0) {
		log_error("worker: epoll: %s", strerror(errno));
		return 1;
	}
	while (!worker_stop) {
		struct timespec t0;
		struct epoll_event ev;
		const char *log_path;
		char path_buf[1100];
		int rc;

		worker_busy = 0;
		if (worker_stop)
			break;
		if (epoll_wait(ep, &ev, 1, -1) <= 0)
			continue;	/* EINTR: look at worker_stop again */
		worker_busy = 1;
		if (worker_stop)
			break;
		rc = FCGX_Accept_r(&fr);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK)
			continue;
		if (rc < 0) {
			if (worker_stop)
				break;
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
		dispatch(&ws, &log_path);
		http_response_serialize(&ws.resp, ws.req.method == HTTP_HEAD, &ws.out);
		FCGX_PutStr(ws.out.data, (int)ws.out.len, fr.out);
		/* Log before Finish: the request strings live in fr.envp until then. */
		log_info("method=%s path=%s status=%d duration_ms=%.1f request_id=%s",
		    ws.req.method_str, log_value(log_path, path_buf, sizeof(path_buf)),
		    ws.resp.status, ms_since(&t0), ws.req.request_id);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	close(ep);
	db_close(&ws.db);
	http_request_free(&ws.req);
	http_response_free(&ws.resp);
	buf_free(&ws.body);
	buf_free(&ws.out);
	return 0;
}
