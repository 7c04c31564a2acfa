/* log.c: one-line log records on stderr, with time, level and pid; never secrets. Each
 * line is key=value pairs: "ts=... level=info pid=12 msg=\"free text\"", or, for a message
 * that is key=value pairs itself (the request line), "ts=... level=info pid=12 method=GET
 * ...". Values with spaces or quotes are double-quoted with \\ and \" escaped. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static enum log_level log_level = LOG_INFO;

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
	    tm.tm_sec, ts.tv_nsec / 1000000, names[level], (int)getpid());
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

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[2048], line[2300];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	n = format_line(line, sizeof(line) - 1, level, msg);
	/* Control characters from request data must not forge log lines. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	line[n++] = '\n';
	/* One write per record so lines from several workers do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
