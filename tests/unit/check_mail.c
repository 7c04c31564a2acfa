/* check_mail.c: message composition (headers, folding, RFC 2047, quoted-printable, MIME
 * structure, injection refusal), address checks, the Date format and template rendering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "mail/mail.h"
#include "mail/mail_templates.h"

static struct buf out;
static char err[256];

static void setup(void) { buf_init(&out); err[0] = '\0'; }
static void teardown(void) { buf_free(&out); }

static struct mail_msg
sample(void)
{
	struct mail_msg m = {
		.from = { "Demo Shop", "billing@demo.example" },
		.to = { "Jane Doe", "jane@example.com" },
		.subject = "Your receipt",
		.date = 1772528700,
		.message_id = "<msg_abc123@demo.example>",
		.text = "Hello Jane,\nthanks.\n",
		.html = "<p>Hello Jane,</p><p>thanks.</p>\n",
	};
	return m;
}

static int
compose(const struct mail_msg *m)
{
	return mail_compose(m, &out, err, sizeof(err));
}

/* The header block (up to the empty line), unfolded: CRLF + WSP removed. */
static char *
unfolded_header(const char *msg, const char *name)
{
	size_t nlen = strlen(name);
	const char *end = strstr(msg, "\r\n\r\n");
	const char *p = msg;
	char *v;
	size_t j = 0;

	while (p != NULL && p < end) {
		if (strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *q = p + nlen + 1;

			v = calloc(1, 4096);
			while (q < end + 2) {
				if (q[0] == '\r' && q[1] == '\n') {
					if (q[2] != ' ' && q[2] != '\t')
						break;
					q += 2;
					continue;
				}
				v[j++] = *q++;
			}
			return v;
		}
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return NULL;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

static size_t
b64dec(const char *s, size_t n, char *dst)
{
	size_t j = 0;
	unsigned v = 0;
	int bits = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		int x = b64val(s[i]);

		ck_assert_int_ge(x, 0);
		v = (v << 6) | (unsigned)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[j++] = (char)((v >> bits) & 0xFF);
		}
	}
	return j;
}

static bool
utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ?
		    3 : (s[i] & 0xF8) == 0xF0 ? 4 : 0;

		if (k == 0 || i + k > n)
			return false;
		for (size_t x = 1; x < k; x++)
			if ((s[i + x] & 0xC0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* Decodes an unfolded value made of =?UTF-8?B?...?= words separated by spaces; each word
 * must be whole UTF-8 on its own. Returns the decoded text (caller frees). */
static char *
decode_words(const char *v)
{
	char *res = calloc(1, 4096);
	size_t j = 0;

	while (*v == ' ')
		v++;
	while (*v != '\0' && strncmp(v, "=?UTF-8?B?", 10) == 0) {
		const char *end = strstr(v + 10, "?=");
		size_t k;

		ck_assert_ptr_nonnull(end);
		k = b64dec(v + 10, (size_t)(end - v - 10), res + j);
		ck_assert_msg(utf8_ok((unsigned char *)res + j, k), "word split a UTF-8 sequence");
		j += k;
		v = end + 2;
		while (*v == ' ')
			v++;
	}
	return res;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes quoted-printable (CRLF lines), checking the encoder's promises on the way:
 * lines of at most 76, no trailing whitespace, only =XX escapes with upper-case hex. */
static char *
qp_decode(const char *s, size_t n)
{
	char *res = calloc(1, n + 1);
	size_t j = 0, col = 0;

	for (size_t i = 0; i < n;) {
		if (s[i] == '\r') {
			ck_assert_int_eq(s[i + 1], '\n');
			ck_assert_msg(col <= 76, "encoded line of %zu characters", col);
			ck_assert_msg(i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'),
			    "whitespace before a line break");
			res[j++] = '\r';
			res[j++] = '\n';
			i += 2;
			col = 0;
		} else if (s[i] == '=') {
			if (s[i + 1] == '\r' && s[i + 2] == '\n') {
				ck_assert_msg(col + 1 <= 76, "soft-broken line too long");
				i += 3;
				col = 0;
				continue;
			}
			ck_assert_int_ge(hexval(s[i + 1]), 0);
			ck_assert_int_ge(hexval(s[i + 2]), 0);
			res[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 3;
			col += 3;
		} else {
			ck_assert_msg(s[i] != '\n', "bare LF in quoted-printable");
			ck_assert_msg(((unsigned char)s[i] >= 32 && (unsigned char)s[i] < 127) ||
			    s[i] == '\t', "unencoded byte %d", s[i]);
			res[j++] = s[i++];
			col++;
		}
	}
	ck_assert_msg(col <= 76, "last line too long");
	return res;
}

/* The body of a text-only message, decoded. */
static char *
text_body(const char *text)
{
	struct mail_msg m = sample();
	const char *body;

	m.html = NULL;
	m.text = text;
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Transfer-Encoding: quoted-printable"));
	body = strstr(out.data, "\r\n\r\n") + 4;
	return qp_decode(body, out.len - (size_t)(body - out.data));
}

START_TEST(headers_are_written_in_order)
{
	struct mail_msg m = sample();
	const char *h = NULL;

	m.reply_to.addr = "help@demo.example";
	m.cc.addr = "books@demo.example";
	m.extra[0] = (struct mail_header){ "Auto-Submitted", "auto-generated" };
	m.extra[1] = (struct mail_header){ "X-Portald-Type", "payment_receipt" };
	m.extra[2] = (struct mail_header){ "List-Unsubscribe",
	    "<https://billing.demo.example/portal/demo/mail/unsubscribe?t=abc>" };
	ck_assert_int_eq(compose(&m), 0);
	h = "Date: Tue, 03 Mar 2026 09:05:00 +0000\r\n"
	    "From: \"Demo Shop\" <billing@demo.example>\r\n"
	    "Reply-To: help@demo.example\r\n"
	    "To: \"Jane Doe\" <jane@example.com>\r\n"
	    "Cc: books@demo.example\r\n"
	    "Subject: Your receipt\r\n"
	    "Message-ID: <msg_abc123@demo.example>\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "X-Portald-Type: payment_receipt\r\n"
	    "List-Unsubscribe: <https://billing.demo.example/portal/demo/mail/unsubscribe?t=abc>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative;\r\n boundary=\"=_portald_";
	ck_assert_msg(strncmp(out.data, h, strlen(h)) == 0, "headers were:\n%s", out.data);
}
END_TEST

START_TEST(every_line_ends_in_crlf)
{
	struct mail_msg m = sample();

	m.text = "one\ntwo\r\nthree\rfour\n\nsix";
	m.html = "<p>a</p>\n<p>b</p>";
	ck_assert_int_eq(compose(&m), 0);
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '\n')
			ck_assert_msg(i > 0 && out.data[i - 1] == '\r', "bare LF at %zu", i);
		if (out.data[i] == '\r')
			ck_assert_msg(out.data[i + 1] == '\n', "bare CR at %zu", i);
	}
	ck_assert_msg(out.len >= 2 && strcmp(out.data + out.len - 2, "\r\n") == 0,
	    "message ends with CRLF");
}
END_TEST

START_TEST(date_is_rfc5322_in_utc)
{
	char d[32];

	mail_date(0, d);
	ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	mail_date(1772528700, d);
	ck_assert_str_eq(d, "Tue, 03 Mar 2026 09:05:00 +0000");
	mail_date(1709251199, d);
	ck_assert_str_eq(d, "Thu, 29 Feb 2024 23:59:59 +0000");
	mail_date(4102444800LL, d);
	ck_assert_str_eq(d, "Fri, 01 Jan 2100 00:00:00 +0000");
}
END_TEST

START_TEST(same_message_gives_same_bytes)
{
	struct mail_msg m = sample();
	char *first;

	ck_assert_int_eq(compose(&m), 0);
	first = strdup(out.data);
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_str_eq(first, out.data);
	m.message_id = "<msg_other@demo.example>";
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_str_ne(first, out.data);	/* another boundary */
	free(first);
}
END_TEST

START_TEST(multipart_alternative_has_text_then_html)
{
	struct mail_msg m = sample();
	char boundary[64], delim[80];
	const char *b, *p1, *p2, *end;
	char *text, *html;

	ck_assert_int_eq(compose(&m), 0);
	b = strstr(out.data, "boundary=\"");
	ck_assert_ptr_nonnull(b);
	b += 10;
	ck_assert_int_lt((int)strcspn(b, "\""), (int)sizeof(boundary));
	snprintf(boundary, sizeof(boundary), "%.*s", (int)strcspn(b, "\""), b);
	ck_assert_int_le((int)strlen(boundary), 70);	/* RFC 2046 */
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
	p1 = strstr(out.data, delim);
	ck_assert_ptr_nonnull(p1);
	p2 = strstr(p1 + 1, delim);
	ck_assert_ptr_nonnull(p2);
	ck_assert_ptr_null(strstr(p2 + 1, delim));
	snprintf(delim, sizeof(delim), "\r\n--%s--\r\n", boundary);
	end = strstr(out.data, delim);
	ck_assert_ptr_nonnull(end);
	ck_assert_uint_eq((size_t)(end - out.data) + strlen(delim), out.len);
	ck_assert_msg(strncmp(p1 + strlen(boundary) + 6, "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", 84) == 0, "text part");
	ck_assert_msg(strncmp(p2 + strlen(boundary) + 6, "Content-Type: text/html; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", 83) == 0, "html part");
	b = strstr(p1 + 4, "\r\n\r\n") + 4;
	text = qp_decode(b, (size_t)(p2 - b));
	ck_assert_str_eq(text, "Hello Jane,\r\nthanks.\r\n");
	b = strstr(p2 + 4, "\r\n\r\n") + 4;
	html = qp_decode(b, (size_t)(end - b));
	ck_assert_str_eq(html, "<p>Hello Jane,</p><p>thanks.</p>\r\n");
	free(text);
	free(html);
}
END_TEST

START_TEST(text_only_message_is_single_part)
{
	struct mail_msg m = sample();

	m.html = NULL;
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_null(strstr(out.data, "multipart"));
	ck_assert_ptr_nonnull(strstr(out.data, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello Jane,\r\n"));
}
END_TEST

START_TEST(long_non_ascii_subject_is_split_between_characters)
{
	/* Two-, three- and four-byte characters, long enough to need several words. */
	const char *subject = "Überweisung fällig: Ihre Rechnung Nr. 2026-0042 über 1.299,00 € "
	    "für das Jahresabo „Premium Plus“ — 請求書のお知らせ 🧾📅 bitte bis 31. März bezahlen";
	struct mail_msg m = sample();
	char *v, *dec;
	const char *line;

	m.subject = subject;
	ck_assert_int_eq(compose(&m), 0);
	v = unfolded_header(out.data, "Subject");
	ck_assert_ptr_nonnull(v);
	dec = decode_words(v);
	ck_assert_str_eq(dec, subject);
	/* Every physical line of the field is at most 76 characters. */
	line = strstr(out.data, "\r\nSubject:") + 2;
	while (1) {
		const char *eol = strstr(line, "\r\n");

		ck_assert_int_le((int)(eol - line), 76);
		if (eol[2] != ' ')
			break;
		line = eol + 2;
	}
	free(v);
	free(dec);
}
END_TEST

START_TEST(non_ascii_display_name_is_encoded)
{
	struct mail_msg m = sample();
	char *v, *dec;

	m.from.name = "Zoë’s Café — Ñandú";
	m.to.name = "Jürgen \"JJ\" Müller";
	ck_assert_int_eq(compose(&m), 0);
	v = unfolded_header(out.data, "From");
	ck_assert_ptr_nonnull(strstr(v, " <billing@demo.example>"));
	*strstr(v, " <billing@demo.example>") = '\0';
	dec = decode_words(v);
	ck_assert_str_eq(dec, "Zoë’s Café — Ñandú");
	free(v);
	free(dec);
	v = unfolded_header(out.data, "To");
	*strstr(v, " <jane@example.com>") = '\0';
	dec = decode_words(v);
	ck_assert_str_eq(dec, "Jürgen \"JJ\" Müller");
	free(v);
	free(dec);
}
END_TEST

START_TEST(ascii_display_name_is_quoted_and_escaped)
{
	struct mail_msg m = sample();

	m.from.name = "Acme \"Billing\" \\ Co";
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_nonnull(strstr(out.data,
	    "From: \"Acme \\\"Billing\\\" \\\\ Co\" <billing@demo.example>\r\n"));
	/* Something that looks like an encoded-word is encoded, not trusted. */
	m.from.name = "=?UTF-8?B?SGk=?=";
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_null(strstr(out.data, "From: \"=?UTF-8"));
	ck_assert_ptr_nonnull(strstr(out.data, "From: =?UTF-8?B?PT9VVEYtOD9CP1NHaz0/PQ==?="));
}
END_TEST

START_TEST(long_ascii_subject_is_folded_at_spaces)
{
	struct mail_msg m = sample();
	char *v;
	const char *s = "Your subscription to the Professional Plan with Extra Seats renews "
	    "on 3 March 2026 and the amount will be charged to your card on file";

	m.subject = s;
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "\r\n "));
	v = unfolded_header(out.data, "Subject");
	ck_assert_str_eq(v + 1, s);	/* after the space that follows the colon */
	free(v);
}
END_TEST

START_TEST(header_injection_is_refused)
{
	struct mail_msg m = sample();

	m.subject = "Receipt\r\nBcc: victim@example.com";
	ck_assert_int_eq(compose(&m), -1);
	ck_assert_ptr_nonnull(strstr(err, "line break"));
	ck_assert_uint_eq(out.len, 0);
	m = sample();
	m.subject = "Receipt\nBcc: victim@example.com";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.subject = "bell\a";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.from.name = "Shop\r\nBcc: victim@example.com";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.to.addr = "jane@example.com\r\nBcc: victim@example.com";
	ck_assert_int_eq(compose(&m), -1);
	ck_assert_ptr_nonnull(strstr(err, "line break"));
	m = sample();
	m.reply_to.addr = "a@b.example>\r\nX: y";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.extra[0] = (struct mail_header){ "X-Portald-Type", "receipt\r\nBcc: v@example.com" };
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.extra[0] = (struct mail_header){ "X-Bad:Name", "x" };
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.extra[0] = (struct mail_header){ "bcc", "victim@example.com" };
	ck_assert_int_eq(compose(&m), -1);
	ck_assert_ptr_nonnull(strstr(err, "composer"));
	m = sample();
	m.extra[0] = (struct mail_header){ "X-Note", "naïve" };	/* extra fields are ASCII */
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.message_id = "<abc@demo.example>\r\nBcc: v@example.com";
	ck_assert_int_eq(compose(&m), -1);
}
END_TEST

START_TEST(bad_utf8_is_refused)
{
	struct mail_msg m = sample();

	m.subject = "caf\xc3";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.text = "overlong \xc0\xaf slash";
	ck_assert_int_eq(compose(&m), -1);
	m = sample();
	m.html = "surrogate \xed\xa0\x80";
	ck_assert_int_eq(compose(&m), -1);
}
END_TEST

START_TEST(message_id_must_be_well_formed)
{
	struct mail_msg m = sample();
	char id[128];

	ck_assert(mail_msgid_valid("<msg_abc@demo.example>"));
	ck_assert(mail_msgid_valid("<a.b-c@x>"));
	ck_assert(!mail_msgid_valid("msg_abc@demo.example"));
	ck_assert(!mail_msgid_valid("<msg abc@demo.example>"));
	ck_assert(!mail_msgid_valid("<@demo.example>"));
	ck_assert(!mail_msgid_valid("<a@@b>"));
	ck_assert(!mail_msgid_valid("<a..b@c>"));
	m.message_id = "<no-at-sign>";
	ck_assert_int_eq(compose(&m), -1);
	ck_assert_int_eq(mail_msgid("msg_00042", "billing@demo.example", id, sizeof(id)), 0);
	ck_assert_str_eq(id, "<msg_00042@demo.example>");
	ck_assert_int_eq(mail_msgid("bad id", "billing@demo.example", id, sizeof(id)), -1);
}
END_TEST

START_TEST(addresses_are_checked)
{
	static const char *const good[] = {
		"jane@example.com", "j.d+billing@mail.example.co.uk", "a@b.cd",
		"o'neil@example.ie", "x_y-z@sub-domain.example", "1234@example.org", NULL
	};
	static const char *const bad[] = {
		"", "jane", "jane@", "@example.com", "jane@example", "jane@@example.com",
		".jane@example.com", "jane.@example.com", "ja..ne@example.com",
		"jane doe@example.com", "\"jane\"@example.com", "jane@-example.com",
		"jane@example-.com", "jane@example..com", "jane@example.com.",
		"jane@[127.0.0.1]", "jane@127.0.0.1", "jané@example.com", "jane@exämple.com",
		"jane@example.com>", "<jane@example.com>", "jane@exa_mple.com",
		"jane@example.com\r\n", NULL
	};
	char longlocal[80], longaddr[300];
	size_t n;

	for (size_t i = 0; good[i] != NULL; i++)
		ck_assert_msg(mail_addr_valid(good[i]), "%s should be valid", good[i]);
	for (size_t i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!mail_addr_valid(bad[i]), "%s should be refused", bad[i]);
	ck_assert(!mail_addr_valid(NULL));
	memset(longlocal, 'a', 65);
	snprintf(longlocal + 65, sizeof(longlocal) - 65, "@example.com");
	ck_assert(!mail_addr_valid(longlocal));		/* local part over 64 */
	/* x@ and labels of 60: valid up to 254 characters, refused beyond. */
	n = 2;
	memcpy(longaddr, "x@", 2);
	while (n + 61 <= 250) {
		memset(longaddr + n, 'b', 60);
		n += 60;
		longaddr[n++] = '.';
	}
	memcpy(longaddr + n, "com", 4);
	ck_assert_msg(mail_addr_valid(longaddr), "%zu characters", strlen(longaddr));
	memcpy(longaddr + n, "bbbbbb.com", 11);
	ck_assert_msg(!mail_addr_valid(longaddr), "%zu characters", strlen(longaddr));
}
END_TEST

START_TEST(qp_encodes_what_it_must)
{
	char *d;

	/* '=' and 8-bit bytes are encoded; the decoded text is the input with CRLF. */
	d = text_body("a=b caf\xc3\xa9\n");
	ck_assert_str_eq(d, "a=b caf\xc3\xa9\r\n");
	free(d);
	ck_assert_ptr_nonnull(strstr(out.data, "a=3Db caf=C3=A9\r\n"));
	/* Trailing space and tab before a line break, and at the very end. */
	d = text_body("space \ntab\t\nend ");
	ck_assert_str_eq(d, "space \r\ntab\t\r\nend \r\n");
	free(d);
	ck_assert_ptr_nonnull(strstr(out.data, "space=20\r\ntab=09\r\nend=20\r\n"));
	/* A lone CR is data, not a line break. */
	d = text_body("a\rb\n");
	ck_assert_str_eq(d, "a\rb\r\n");
	free(d);
	/* Dots and "From " at the start of a line. */
	d = text_body(".\n.hidden\nFrom here\nFromage\n");
	ck_assert_str_eq(d, ".\r\n.hidden\r\nFrom here\r\nFromage\r\n");
	free(d);
	ck_assert_ptr_nonnull(strstr(out.data, "\r\n\r\n=2E\r\n=2Ehidden\r\n=46rom here\r\nFromage"));
}
END_TEST

START_TEST(qp_breaks_long_lines_softly)
{
	char line[400], *d, *expect;

	/* Exactly 76 characters fit on one line without a soft break. */
	memset(line, 'x', 76);
	line[76] = '\0';
	d = text_body(line);
	ck_assert_str_eq(d, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	free(d);
	ck_assert_ptr_null(strstr(out.data, "=\r\n"));
	/* 77 do not. */
	memset(line, 'x', 77);
	line[77] = '\0';
	d = text_body(line);
	free(d);
	ck_assert_ptr_nonnull(strstr(out.data, "=\r\n"));
	/* A long line of escapes and multi-byte characters: an escape is never cut. */
	line[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(line, i % 3 == 0 ? "\xe2\x82\xac" : i % 3 == 1 ? "= " : "\xc3\xbc");
	expect = malloc(strlen(line) + 3);
	sprintf(expect, "%s\r\n", line);
	d = text_body(line);
	ck_assert_str_eq(d, expect);
	free(d);
	free(expect);
	/* A space that lands just before a soft break survives. */
	memset(line, 'y', 74);
	strcpy(line + 74, " z z z");
	d = text_body(line);
	ck_assert_ptr_nonnull(strstr(d, "yy z z z\r\n"));
	free(d);
}
END_TEST

/* ---- templates ---- */

static cJSON *
sample_data(void)
{
	return cJSON_Parse(
	    "{\"site\":{\"name\":\"Tom & Jerry's <Shop>\",\"color\":\"#0b5cad\","
	    "\"logo_url\":\"https://billing.example/static/logos/demo.png\","
	    "\"support_email\":\"help@shop.example\"},"
	    "\"portal_url\":\"https://billing.example/portal/demo\","
	    "\"customer\":{\"name\":\"Jane <b>Doe</b>\"},"
	    "\"link\":{\"url\":\"https://billing.example/portal/demo/login/tok?a=1&b=2\","
	    "\"expires\":\"in 15 minutes\"},"
	    "\"changed_at\":\"3 March 2026, 09:05 UTC\",\"old_email\":\"old@example.com\","
	    "\"new_email\":\"new@example.com\",\"signin_url\":\"https://billing.example/portal/demo/login\","
	    "\"invoice\":{\"number\":\"INV-0042\",\"amount\":\"$30.00\","
	    "\"url\":\"https://billing.example/portal/demo/invoices/inv_1\"},"
	    "\"paid_at\":\"3 March 2026\",\"payment_method\":\"Visa ending 4242\","
	    "\"lines\":[{\"description\":\"Pro plan\",\"amount\":\"$30.00\"}],"
	    "\"plan\":{\"name\":\"Pro\"},\"trial_end\":\"17 March 2026\",\"amount\":\"$30.00\","
	    "\"expiry\":\"04/2026\",\"subscription\":{\"reference\":\"sub_9f2\"},"
	    "\"cancelled_at\":\"3 March 2026, 09:05 UTC\",\"renews_at\":\"1 April 2026\"}");
}

START_TEST(every_type_renders)
{
	struct mail_content c;
	cJSON *d = sample_data();
	size_t n = 0;

	mail_content_init(&c);
	for (const char *const *t = mail_types; *t != NULL; t++, n++) {
		ck_assert_msg(mail_render(*t, d, &c, err, sizeof(err)) == 0, "%s: %s", *t, err);
		ck_assert_msg(c.subject.len > 0 && strchr(c.subject.data, '\n') == NULL, "%s", *t);
		ck_assert_msg(strstr(c.text.data, "Hello Jane <b>Doe</b>,") != NULL,
		    "%s: text greeting, unescaped", *t);
		ck_assert_msg(strstr(c.text.data, "{{") == NULL, "%s: leftover tag", *t);
		ck_assert_msg(strstr(c.html.data, "Hello Jane &lt;b&gt;Doe&lt;/b&gt;,") != NULL,
		    "%s: html greeting, escaped", *t);
		ck_assert_msg(strstr(c.html.data, "<html lang=\"en\">") != NULL, "%s", *t);
		ck_assert_msg(strstr(c.html.data, "alt=\"Tom &amp; Jerry&#39;s &lt;Shop&gt;\"") !=
		    NULL, "%s: logo alt text", *t);
		ck_assert_msg(strstr(c.html.data, "<b>") == NULL, "%s: a value was not escaped", *t);
		ck_assert_msg(mail_type_known(*t), "%s", *t);
	}
	ck_assert_uint_eq(n, 12);
	ck_assert(!mail_type_known("nope"));
	ck_assert_int_eq(mail_render("nope", d, &c, err, sizeof(err)), -1);
	mail_content_free(&c);
	mail_content_free(NULL);
	cJSON_Delete(d);
}
END_TEST

START_TEST(rendered_content_composes)
{
	struct mail_content c;
	struct mail_msg m = sample();
	cJSON *d = sample_data();

	mail_content_init(&c);
	ck_assert_int_eq(mail_render("payment_failed", d, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.subject.data, "Payment failed for invoice INV-0042 from Tom & Jerry's <Shop>");
	ck_assert_ptr_nonnull(strstr(c.text.data,
	    "https://billing.example/portal/demo/login/tok?a=1&b=2\n"));
	ck_assert_ptr_nonnull(strstr(c.html.data,
	    "href=\"https://billing.example/portal/demo/login/tok?a=1&amp;b=2\""));
	mail_content_apply(&c, &m);
	ck_assert_int_eq(compose(&m), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "Subject: Payment failed for invoice INV-0042 from"));
	mail_content_free(&c);
	cJSON_Delete(d);
}
END_TEST

START_TEST(missing_required_field_is_an_error)
{
	struct mail_content c;
	cJSON *d = sample_data();

	mail_content_init(&c);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(d, "invoice"), "number");
	ck_assert_int_eq(mail_render("payment_receipt", d, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "invoice.number"));
	ck_assert_uint_eq(c.html.len, 0);
	cJSON_DeleteItemFromObject(d, "portal_url");
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "portal_url"));
	mail_content_free(&c);
	cJSON_Delete(d);
}
END_TEST

START_TEST(urls_must_be_http_and_logo_on_portal_origin)
{
	struct mail_content c;
	cJSON *d = sample_data(), *site = cJSON_GetObjectItem(d, "site");

	mail_content_init(&c);
	cJSON_ReplaceItemInObject(site, "logo_url",
	    cJSON_CreateString("https://merchant.example/logo.png"));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "origin"));
	cJSON_ReplaceItemInObject(site, "logo_url",
	    cJSON_CreateString("https://billing.example.evil/logo.png"));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), -1);
	cJSON_ReplaceItemInObject(site, "logo_url", cJSON_CreateString(""));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(strstr(c.html.data, "<img"));	/* the name instead */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(d, "link"), "url",
	    cJSON_CreateString("javascript:alert(1)"));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "link.url"));
	mail_content_free(&c);
	cJSON_Delete(d);
}
END_TEST

START_TEST(brand_colour_keeps_text_readable)
{
	struct mail_content c;
	cJSON *d = sample_data(), *site = cJSON_GetObjectItem(d, "site");

	mail_content_init(&c);
	cJSON_ReplaceItemInObject(site, "color", cJSON_CreateString("#ffe14d"));	/* light */
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(c.html.data, "background-color:#ffe14d;"));
	ck_assert_ptr_nonnull(strstr(c.html.data, "color:#1f2328;text-decoration:none"));
	ck_assert_ptr_null(strstr(c.html.data, "color:#ffe14d;word-break"));	/* link */
	cJSON_ReplaceItemInObject(site, "color", cJSON_CreateString("#123"));	/* dark */
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(c.html.data, "color:#ffffff;text-decoration:none"));
	ck_assert_ptr_nonnull(strstr(c.html.data, "color:#123;word-break"));
	cJSON_ReplaceItemInObject(site, "color", cJSON_CreateString("red;background:url(x)"));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), -1);
	mail_content_free(&c);
	cJSON_Delete(d);
}
END_TEST

START_TEST(subject_stays_one_line)
{
	struct mail_content c;
	cJSON *d = sample_data(), *site = cJSON_GetObjectItem(d, "site");

	mail_content_init(&c);
	cJSON_ReplaceItemInObject(site, "name", cJSON_CreateString("Evil\r\nBcc: x@y.example"));
	ck_assert_int_eq(mail_render("login_link", d, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.subject.data, "Your sign-in link for Evil Bcc: x@y.example");
	mail_content_free(&c);
	cJSON_Delete(d);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *tc = tcase_create("compose");
	TCase *tt = tcase_create("templates");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, headers_are_written_in_order);
	tcase_add_test(tc, every_line_ends_in_crlf);
	tcase_add_test(tc, date_is_rfc5322_in_utc);
	tcase_add_test(tc, same_message_gives_same_bytes);
	tcase_add_test(tc, multipart_alternative_has_text_then_html);
	tcase_add_test(tc, text_only_message_is_single_part);
	tcase_add_test(tc, long_non_ascii_subject_is_split_between_characters);
	tcase_add_test(tc, non_ascii_display_name_is_encoded);
	tcase_add_test(tc, ascii_display_name_is_quoted_and_escaped);
	tcase_add_test(tc, long_ascii_subject_is_folded_at_spaces);
	tcase_add_test(tc, header_injection_is_refused);
	tcase_add_test(tc, bad_utf8_is_refused);
	tcase_add_test(tc, message_id_must_be_well_formed);
	tcase_add_test(tc, addresses_are_checked);
	tcase_add_test(tc, qp_encodes_what_it_must);
	tcase_add_test(tc, qp_breaks_long_lines_softly);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_add_test(tt, every_type_renders);
	tcase_add_test(tt, rendered_content_composes);
	tcase_add_test(tt, missing_required_field_is_an_error);
	tcase_add_test(tt, urls_must_be_http_and_logo_on_portal_origin);
	tcase_add_test(tt, brand_colour_keeps_text_readable);
	tcase_add_test(tt, subject_stays_one_line);
	suite_add_tcase(s, tt);
	return s;
}
