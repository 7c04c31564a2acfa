/* log.c: one-line log records on stderr, with time, level and pid; never secrets. Each
 * line is key=value pairs: "ts=... level=info pid=12 msg=\"free text\"", or, for a message
 * that is key=value pairs itself (the request line), "ts=... level=info pid=12 method=GET
 * ...". Values with spaces or quotes are double-quoted with \\ and \" escaped.
 * A worker defers its per-request lines in a buffer and writes them together (at most
 * LOG_FLUSH_MS old or LOG_FLUSH_BYTES long), so logging costs no system call per
 * request; every other line goes out at once, after what is buffered, keeping the order.
 * A write that fails (a full disk, a full pipe) never blocks or retries: the lines are
 * dropped, counted, and the count is reported by the next line that gets through. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LOG_LINE_MAX	2048
#define LOG_BUF_SIZE	(64 * 1024)

static enum log_level log_level = LOG_INFO;

static struct {
	bool		 defer;		/* per-request lines wait for a flush */
	bool		 atfork;	/* the fork handler is registered */
	bool		 torn;		/* a partial write left a line unfinished */
	pid_t		 pid;		/* cached: getpid is a system call */
	size_t		 chunk;		/* largest write: PIPE_BUF unless stderr is a file */
	size_t		 len;
	unsigned	 lines;		/* lines in buf */
	double		 oldest;	/* monotonic ms of the oldest deferred line */
	unsigned long	 dropped;	/* lines lost since the last that got through */
	unsigned long	 dropped_total;
	int		 drop_errno;
	char		 buf[LOG_BUF_SIZE];
} lg = { .chunk = PIPE_BUF };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* A child starts with its parent's buffer, which the parent will write itself. */
static void
log_after_fork(void)
{
	lg.pid = 0;
	lg.len = 0;
	lg.lines = 0;
	lg.defer = false;
	lg.dropped = 0;
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static unsigned
count_lines(const char *p, size_t n)
{
	unsigned k = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		k++;
	return k;
}

/* Writes b[0..n) in pieces of at most lg.chunk ending at line ends (so a pipe or a
 * stream socket gets each piece whole, never interleaved with another process's).
 * Returns the bytes written; stops at the first failure. */
static size_t
write_lines(const char *b, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t want = n - done;
		ssize_t w;

		if (want > lg.chunk) {
			size_t k = lg.chunk;

			while (k > 0 && b[done + k - 1] != '\n')
				k--;
			want = k > 0 ? k : lg.chunk;
		}
		w = write(STDERR_FILENO, b + done, want);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lg.drop_errno = w < 0 ? errno : EIO;
			break;
		}
		done += (size_t)w;
		if ((size_t)w < want) {
			lg.drop_errno = ENOSPC;	/* a short write to a file: the disk is full */
			break;
		}
	}
	return done;
}

void
log_flush(void)
{
	size_t done;

	if (lg.len == 0)
		return;
	if (lg.dropped > 0 || lg.torn) {
		char note[160];
		int n = snprintf(note, sizeof(note), "%slog: %lu lines dropped (%s)\n",
		    lg.torn ? "\n" : "", lg.dropped, strerror(lg.drop_errno));
		size_t w = write_lines(note, (size_t)n);

		if (w < (size_t)n) {
			lg.torn = lg.torn || w > 0;
			goto drop;
		}
		lg.torn = false;
		lg.dropped = 0;
	}
	done = write_lines(lg.buf, lg.len);
	if (done == lg.len) {
		lg.len = 0;
		lg.lines = 0;
		return;
	}
	/* Lines not wholly written are lost; a line cut in the middle is finished by the
	 * next notice. */
	lg.torn = done > 0 && lg.buf[done - 1] != '\n';
	lg.lines = count_lines(lg.buf + done, lg.len - done);
drop:
	lg.dropped += lg.lines;
	lg.dropped_total += lg.lines;
	lg.len = 0;
	lg.lines = 0;
}

void
log_defer_start(void)
{
	struct stat st;

	lg.defer = true;
	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	if (S_ISREG(st.st_mode)) {
		/* Appends to a file are atomic whatever their size. */
		lg.chunk = LOG_BUF_SIZE;
	} else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		/* A full pipe (journald behind, nobody reading) must not stall a request. */
		int fl = fcntl(STDERR_FILENO, F_GETFL);

		if (fl >= 0)
			fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
	}
}

int
log_flush_due_ms(void)
{
	double age;

	if (lg.len == 0)
		return -1;
	age = mono_ms() - lg.oldest;
	return age >= LOG_FLUSH_MS ? 0 : (int)(LOG_FLUSH_MS - age) + 1;
}

void
log_tick(void)
{
	if (lg.len >= LOG_FLUSH_BYTES || log_flush_due_ms() == 0)
		log_flush();
}

unsigned long
log_dropped_total(void)
{
	return lg.dropped_total;
}

/* True when the message is already key=value pairs: it starts with "word=". */
static bool
is_structured(const char *m)
{
	const char *p = m;

	while ((*p >= 'a' && *p <= 'z') || *p == '_')
		p++;
	return p > m && *p == '=';
}

/* The one place the line format lives. */
static int
format_line(char *line, size_t size, enum log_level level, const char *msg)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	m = snprintf(line, size, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s pid=%d ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, names[level], (int)lg.pid);
	n = m < 0 ? 0 : (size_t)m;
	if (is_structured(msg)) {
		m = snprintf(line + n, size - n, "%s", msg);
		n += m < 0 ? 0 : (size_t)m;
	} else {
		/* msg="...": quotes and backslashes escaped, so the line stays parseable. */
		const char *p;

		if (n + 5 < size) {
			memcpy(line + n, "msg=\"", 5);
			n += 5;
		}
		for (p = msg; *p && n + 3 < size; p++) {
			if (*p == '"' || *p == '\\')
				line[n++] = '\\';
			line[n++] = *p;
		}
		if (n + 1 < size)
			line[n++] = '"';
	}
	return (int)(n < size ? n : size - 1);
}

static void
log_vmsg(enum log_level level, bool deferrable, const char *fmt, va_list ap)
{
	char *line, msg[LOG_LINE_MAX];
	int n;

	if (!lg.atfork) {
		pthread_atfork(NULL, NULL, log_after_fork);
		lg.atfork = true;
	}
	if (lg.pid == 0)
		lg.pid = getpid();
	if (LOG_BUF_SIZE - lg.len < LOG_LINE_MAX + 2)
		log_flush();
	line = lg.buf + lg.len;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	n = format_line(line, LOG_LINE_MAX, level, msg);
	if (n > LOG_LINE_MAX - 2)
		n = LOG_LINE_MAX - 2;
	/* Control characters from request data must not forge log lines. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	line[n++] = '\n';
	if (lg.lines == 0)
		lg.oldest = mono_ms();
	lg.len += (size_t)n;
	lg.lines++;
	if (!deferrable || !lg.defer || lg.len >= LOG_FLUSH_BYTES)
		log_flush();
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, false, fmt, ap);
	va_end(ap);
}

void
log_request(const char *fmt, ...)
{
	va_list ap;

	if (LOG_INFO > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_INFO, true, fmt, ap);
	va_end(ap);
}
