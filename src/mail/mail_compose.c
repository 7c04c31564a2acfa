/* mail_compose.c: builds RFC 5322 / MIME messages: header fields with folding and RFC 2047
 * encoded-words, a multipart/alternative body in quoted-printable, and the validators
 * that keep header injection and malformed addresses out. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/crypto.h"
#include "mail/mail.h"

#define LINE_SOFT	78	/* RFC 5322: lines SHOULD be at most 78 characters */
#define LINE_HARD	998	/* and MUST be at most 998 */
#define EW_LINE		76	/* RFC 2047: a line with encoded-words at most 76 */
#define QP_LINE		76	/* RFC 2045: encoded lines at most 76 */

/* Header fields the composer writes itself; an extra header may not repeat them. */
static const char *const own_fields[] = {
	"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Message-ID",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Return-Path", NULL
};

struct hdr {
	struct buf	*out;
	size_t		 col;	/* characters on the current line */
};

static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A dot-atom: atext runs separated by single dots, no dot at either end. */
static bool
is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool
domain_valid(const char *d, size_t n)
{
	size_t labels = 0, i = 0;
	bool all_digits = true;

	if (n == 0 || n > 253)
		return false;
	while (i < n) {
		size_t start = i;

		all_digits = true;
		while (i < n && d[i] != '.') {
			unsigned char c = (unsigned char)d[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-'))
				return false;
			if (c < '0' || c > '9')
				all_digits = false;
			i++;
		}
		if (i == start || i - start > 63 || d[start] == '-' || d[i - 1] == '-')
			return false;
		labels++;
		if (i < n)
			i++;			/* the dot */
		if (i == n && d[n - 1] == '.')
			return false;		/* a trailing dot */
	}
	return labels >= 2 && !all_digits;
}

bool
mail_addr_valid(const char *addr)
{
	const char *at;
	size_t n;

	if (addr == NULL)
		return false;
	n = strlen(addr);
	at = strrchr(addr, '@');
	if (n > MAIL_ADDR_MAX || at == NULL || at - addr > 64)
		return false;
	return is_dot_atom(addr, (size_t)(at - addr)) &&
	    domain_valid(at + 1, n - (size_t)(at - addr) - 1);
}

bool
mail_msgid_valid(const char *id)
{
	size_t n;
	const char *at;

	if (id == NULL)
		return false;
	n = strlen(id);
	if (n < 5 || n > MAIL_MSGID_MAX || id[0] != '<' || id[n - 1] != '>')
		return false;
	at = memchr(id, '@', n);
	if (at == NULL)
		return false;
	return is_dot_atom(id + 1, (size_t)(at - id - 1)) &&
	    is_dot_atom(at + 1, (size_t)(id + n - 1 - at - 1));
}

int
mail_msgid(const char *local, const char *from_addr, char *out, size_t outlen)
{
	const char *at = from_addr ? strrchr(from_addr, '@') : NULL;
	int n;

	if (local == NULL || at == NULL || !is_dot_atom(local, strlen(local)))
		return -1;
	n = snprintf(out, outlen, "<%s%s>", local, at);
	if (n < 0 || (size_t)n >= outlen || !mail_msgid_valid(out))
		return -1;
	return 0;
}

void
mail_date(long long t, char out[32])
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		tt = 0;		/* out of range: the epoch, still a well-formed date */
		gmtime_r(&tt, &tm);
	}
	/* The remainders only tell the compiler the widths the values already have. */
	snprintf(out, 32, "%s, %02u %s %04u %02u:%02u:%02u +0000", wday[tm.tm_wday % 7],
	    (unsigned)tm.tm_mday % 32u, mon[tm.tm_mon % 12], (unsigned)(tm.tm_year + 1900) %
	    10000u, (unsigned)tm.tm_hour % 24u, (unsigned)tm.tm_min % 60u,
	    (unsigned)tm.tm_sec % 61u);
}

/* Length of the UTF-8 sequence starting at s (at most n bytes), or 0 when it is not a
 * well-formed one (overlong forms, surrogates and values over U+10FFFF included). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* Checks a header value: valid UTF-8 (ASCII only unless utf8), no control character
 * but TAB. CR and LF are what header injection is made of; NUL cannot get past a C
 * string, and the others have no business in a header either. */
static int
check_value(const char *field, const char *v, bool utf8, char *err, size_t errlen)
{
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			snprintf(err, errlen, "%s: line break in a header value", field);
			return -1;
		}
		if ((*p < 0x20 && *p != '\t') || *p == 0x7F) {
			snprintf(err, errlen, "%s: control character in a header value", field);
			return -1;
		}
		if (*p >= 0x80 && !utf8) {
			snprintf(err, errlen, "%s: non-ASCII character", field);
			return -1;
		}
	}
	if (!utf8_valid(v)) {
		snprintf(err, errlen, "%s: not valid UTF-8", field);
		return -1;
	}
	return 0;
}

static bool
needs_encoding(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x80 || *p == '\t')
			return true;
	/* A literal "=?" could be read back as an encoded-word by a decoder. */
	return strstr(s, "=?") != NULL;
}

static void
hdr_start(struct hdr *h, struct buf *out, const char *name)
{
	h->out = out;
	buf_puts(out, name);
	buf_puts(out, ":");
	h->col = strlen(name) + 1;
}

static void
hdr_fold(struct hdr *h)
{
	buf_puts(h->out, "\r\n ");
	h->col = 1;
}

static void
hdr_put(struct hdr *h, const char *s, size_t n)
{
	buf_append(h->out, s, n);
	h->col += n;
}

static void
hdr_end(struct hdr *h)
{
	buf_puts(h->out, "\r\n");
}

/* Writes printable ASCII as space-separated words, folding before a space where the line
 * would pass 78 characters. A word that cannot fit even on its own line stays whole (up
 * to 998). Unfolding gives back " " + s exactly. */
static int
hdr_put_words(struct hdr *h, const char *s, const char *field, char *err, size_t errlen)
{
	/* The first word follows the colon and one space. */
	const char *p = s;
	bool first = true;

	while (*p != '\0' || first) {
		const char *q = p + (*p == ' ' ? 1 : 0);
		size_t n;

		q += strcspn(q, " ");
		n = (size_t)(q - p);
		if (first) {
			if (h->col + 1 + n > LINE_SOFT && n > 0 && h->col + 1 > LINE_SOFT / 2)
				hdr_fold(h);
			else
				hdr_put(h, " ", 1);
			first = false;
		} else if (h->col + n > LINE_SOFT && h->col > 1 && n > 1) {
			/* (never a fold that would leave a line of whitespace alone) */
			buf_puts(h->out, "\r\n");
			h->col = 0;	/* the word's own leading space starts the line */
		}
		hdr_put(h, p, n);
		if (h->col > LINE_HARD) {
			snprintf(err, errlen, "%s: a word too long for a header line", field);
			return -1;
		}
		p = q;
	}
	return 0;
}

static void
put_b64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tbl[(v >> 18) & 63];
		q[1] = tbl[(v >> 12) & 63];
		q[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tbl[v & 63] : '=';
		buf_append(out, q, 4);
	}
}

/* Writes s (valid UTF-8) as "=?UTF-8?B?...?=" words, each on a line of at most 76
 * characters, folding between words. A word ends only between characters, never
 * inside a UTF-8 sequence, so each decodes on its own (RFC 2047 section 5). The caller
 * has put the separating space or fold before the first word. */
static void
hdr_put_encoded(struct hdr *h, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		size_t room = h->col < EW_LINE ? EW_LINE - h->col : 0;
		size_t max, take = 0;

		/* "=?UTF-8?B?" + "?=" is 12; one character of up to 4 bytes needs 8 more. */
		if (room < 12 + 8) {
			hdr_fold(h);
			continue;
		}
		max = (room - 12) / 4 * 3;
		while (take < n) {
			size_t k = utf8_len(p + take, n - take);

			if (k == 0)
				k = 1;		/* not reached: the value was checked */
			if (take + k > max)
				break;
			take += k;
		}
		buf_puts(h->out, "=?UTF-8?B?");
		put_b64(h->out, p, take);
		buf_puts(h->out, "?=");
		h->col += 12 + (take + 2) / 3 * 4;
		p += take;
		n -= take;
		if (n > 0)
			hdr_fold(h);
	}
}

/* Unstructured field (Subject, extra headers): words as they are when printable ASCII,
 * encoded-words otherwise. */
static int
put_unstructured(struct buf *out, const char *name, const char *v, bool utf8, char *err,
    size_t errlen)
{
	struct hdr h;

	if (check_value(name, v, utf8, err, errlen) != 0)
		return -1;
	hdr_start(&h, out, name);
	if (utf8 && needs_encoding(v)) {
		hdr_put(&h, " ", 1);
		hdr_put_encoded(&h, v);
	} else if (hdr_put_words(&h, v, name, err, errlen) != 0)
		return -1;
	hdr_end(&h);
	return 0;
}

/* Length of s as a quoted-string: quotes around, a backslash before '"' and '\\'. */
static size_t
quoted_len(const char *s)
{
	size_t n = 2;

	for (; *s != '\0'; s++)
		n += *s == '"' || *s == '\\' ? 2 : 1;
	return n;
}

/* "Name <addr>" or "addr". A plain ASCII name becomes a quoted-string; one with non-ASCII
 * characters, "=?" or too long to sit on the line becomes encoded-words (allowed in a
 * phrase, RFC 2047 section 5 (3)). */
static int
put_address(struct buf *out, const char *field, const struct mail_addr *a, char *err,
    size_t errlen)
{
	struct hdr h;
	size_t alen;

	if (!mail_addr_valid(a->addr)) {
		/* The address goes into the error only when it is safe to show on one line. */
		if (a->addr != NULL && check_value(field, a->addr, false, err, errlen) != 0)
			return -1;
		snprintf(err, errlen, "%s: not a valid address", field);
		return -1;
	}
	alen = strlen(a->addr);
	hdr_start(&h, out, field);
	if (a->name == NULL || a->name[0] == '\0') {
		hdr_put(&h, " ", 1);
		hdr_put(&h, a->addr, alen);
		hdr_end(&h);
		return 0;
	}
	if (check_value(field, a->name, true, err, errlen) != 0)
		return -1;
	hdr_put(&h, " ", 1);
	if (!needs_encoding(a->name) &&
	    h.col + quoted_len(a->name) + 1 + alen + 2 <= LINE_SOFT) {
		buf_putc(out, '"');
		for (const char *p = a->name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *p);
		}
		buf_putc(out, '"');
		h.col += quoted_len(a->name);
		hdr_put(&h, " ", 1);
	} else {
		hdr_put_encoded(&h, a->name);
		if (h.col + 1 + alen + 2 > LINE_SOFT)
			hdr_fold(&h);
		else
			hdr_put(&h, " ", 1);
	}
	hdr_put(&h, "<", 1);
	hdr_put(&h, a->addr, alen);
	hdr_put(&h, ">", 1);
	hdr_end(&h);
	return 0;
}

static int
check_extra_name(const char *name, char *err, size_t errlen)
{
	if (name[0] == '\0' || strlen(name) > 64) {
		snprintf(err, errlen, "extra header: bad field name");
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		/* ftext: printable ASCII except the colon (RFC 5322 section 3.6.8) */
		if (*p <= 32 || *p >= 127 || *p == ':') {
			snprintf(err, errlen, "extra header: bad field name");
			return -1;
		}
	}
	for (const char *const *o = own_fields; *o != NULL; o++) {
		if (strcasecmp(name, *o) == 0) {
			snprintf(err, errlen, "extra header: %s is written by the composer", name);
			return -1;
		}
	}
	return 0;
}

/* Quoted-printable (RFC 2045 section 6.7) with CRLF hard line breaks. Lines of the input
 * end in LF or CRLF. Besides what the rules demand ('=', controls, 8-bit, whitespace
 * before a line break), a '.' or "From " opening an encoded line is encoded too, so no
 * transport can mistake it for an end of data or an mbox separator. */
static void
put_qp(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;
		bool eol_next, enc;
		size_t w;

		if (c == '\n' || (c == '\r' && s[1] == '\n')) {
			buf_puts(out, "\r\n");
			s += c == '\r' ? 2 : 1;
			col = 0;
			continue;
		}
		eol_next = s[1] == '\0' || s[1] == '\n' || (s[1] == '\r' && s[2] == '\n');
		for (int pass = 0; pass < 2; pass++) {
			enc = c == '=' || (c < 32 && c != '\t') || c >= 127 ||
			    ((c == ' ' || c == '\t') && eol_next) ||
			    (col == 0 && c == '.') ||
			    (col == 0 && c == 'F' && strncmp(s, "From ", 5) == 0);
			w = enc ? 3 : 1;
			/* The last character of a line may use column 76; any other must leave
			 * room for the '=' of a soft break. */
			if (col + w <= (eol_next ? QP_LINE : QP_LINE - 1))
				break;
			buf_puts(out, "=\r\n");
			col = 0;
		}
		if (enc) {
			char e[3] = { '=', hex[c >> 4], hex[c & 15] };

			buf_append(out, e, 3);
		} else
			buf_putc(out, (char)c);
		col += w;
		s++;
	}
}

static void
put_part(struct buf *out, const char *boundary, const char *type, const char *body)
{
	if (boundary != NULL)
		buf_printf(out, "--%s\r\n", boundary);
	buf_printf(out, "Content-Type: %s; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);
	put_qp(out, body);
	/* Before a boundary the CRLF belongs to the delimiter; a lone part only needs to
	 * end its last line. */
	if (boundary != NULL || out->len < 2 || strcmp(out->data + out->len - 2, "\r\n") != 0)
		buf_puts(out, "\r\n");
}

int
mail_compose(const struct mail_msg *m, struct buf *out, char *err, size_t errlen)
{
	unsigned char hash[CRYPTO_SHA256_LEN];
	char date[32], boundary[48], hex[2 * CRYPTO_SHA256_LEN + 1];

	buf_reset(out);
	if (m->text == NULL || m->subject == NULL) {
		snprintf(err, errlen, "a message needs a subject and a text part");
		return -1;
	}
	if (!mail_msgid_valid(m->message_id)) {
		snprintf(err, errlen, "Message-ID: must look like <id@host>");
		return -1;
	}
	if (!utf8_valid(m->text) || (m->html != NULL && !utf8_valid(m->html))) {
		snprintf(err, errlen, "body: not valid UTF-8");
		return -1;
	}
	mail_date(m->date, date);
	buf_printf(out, "Date: %s\r\n", date);
	if (put_address(out, "From", &m->from, err, errlen) != 0)
		goto fail;
	if (m->reply_to.addr != NULL &&
	    put_address(out, "Reply-To", &m->reply_to, err, errlen) != 0)
		goto fail;
	if (put_address(out, "To", &m->to, err, errlen) != 0)
		goto fail;
	if (m->cc.addr != NULL && put_address(out, "Cc", &m->cc, err, errlen) != 0)
		goto fail;
	if (put_unstructured(out, "Subject", m->subject, true, err, errlen) != 0)
		goto fail;
	buf_printf(out, "Message-ID: %s\r\n", m->message_id);
	for (size_t i = 0; i < MAIL_EXTRA_MAX && m->extra[i].name != NULL; i++) {
		const struct mail_header *x = &m->extra[i];

		if (check_extra_name(x->name, err, errlen) != 0)
			goto fail;
		if (x->value == NULL) {
			snprintf(err, errlen, "%s: no value", x->name);
			goto fail;
		}
		if (put_unstructured(out, x->name, x->value, false, err, errlen) != 0)
			goto fail;
	}
	buf_puts(out, "MIME-Version: 1.0\r\n");
	if (m->html == NULL) {
		put_part(out, NULL, "text/plain", m->text);
		return 0;
	}
	/* "=_" cannot occur in quoted-printable text ('=' is always encoded and "_" is no
	 * hex digit), so the boundary never collides with a body. Derived from the
	 * Message-ID so a retry produces the same bytes. */
	crypto_sha256(m->message_id, strlen(m->message_id), hash);
	crypto_hex(hash, 12, hex);
	snprintf(boundary, sizeof(boundary), "=_portald_%.24s", hex);
	buf_printf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
	    "This is a message in MIME format: a plain-text and an HTML version.\r\n\r\n",
	    boundary);
	put_part(out, boundary, "text/plain", m->text);
	put_part(out, boundary, "text/html", m->html);
	buf_printf(out, "--%s--\r\n", boundary);
	return 0;
fail:
	buf_reset(out);
	return -1;
}
