/* buf.h: a growable byte buffer, reused across requests so the hot path does not allocate. */
#ifndef PORTALD_BUF_H
#define PORTALD_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* always NUL-terminated when cap > 0 */
	size_t	 len;
	size_t	 cap;
};

void	buf_init(struct buf *b);
void	buf_free(struct buf *b);
void	buf_reset(struct buf *b);		/* len = 0, keeps the memory */
void	buf_append(struct buf *b, const void *p, size_t n);
void	buf_puts(struct buf *b, const char *s);
void	buf_putc(struct buf *b, char c);
void	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Appends s with &, <, >, " and ' replaced by HTML entities. */
void	buf_put_html(struct buf *b, const char *s);
/* Appends s percent-encoded for a URL component (RFC 3986 unreserved kept). */
void	buf_put_urlenc(struct buf *b, const char *s);
/* Decimal text of v in a caller-owned buffer; returns buf. */
const char *buf_lltoa(long long v, char buf[24]);

#endif
