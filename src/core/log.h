/* log.h: one-line log records on stderr; a worker's per-request lines are buffered. */
#ifndef PORTALD_LOG_H
#define PORTALD_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Deferred lines are written when the oldest is this old, or when this many bytes wait. */
#define LOG_FLUSH_MS	100
#define LOG_FLUSH_BYTES	(32 * 1024)

void	log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int	log_parse_level(const char *s, enum log_level *out);
/* Writes one line now (after any deferred ones, so the order holds). */
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* One INFO line per request: deferred once log_defer_start() was called. */
void	log_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Turns deferral on for this process (a worker, after fork). A pipe or socket on stderr
 * becomes non-blocking: a reader that falls behind costs lines, never a stalled request. */
void	log_defer_start(void);
/* Milliseconds until the deferred lines are due (0 = now), or -1 when none wait: the
 * worker's epoll timeout. */
int	log_flush_due_ms(void);
/* Writes the deferred lines if they are due or the buffer is full. */
void	log_tick(void);
/* Writes the deferred lines now (clean stop). */
void	log_flush(void);
/* Lines dropped by failed writes since the process started. */
unsigned long log_dropped_total(void);

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
