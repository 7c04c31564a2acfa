/* mail.h: RFC 5322 messages (composed from parts, reproducibly) and their delivery to an
 * SMTP relay with libcurl. */
#ifndef PORTALD_MAIL_H
#define PORTALD_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"

#define MAIL_ADDR_MAX		254	/* RFC 5321 path limit, less the angle brackets */
#define MAIL_MSGID_MAX		250
#define MAIL_EXTRA_MAX		8	/* extra header fields per message */

struct mail_addr {
	const char	*name;	/* display name, UTF-8; NULL or "" for none */
	const char	*addr;	/* local@domain, ASCII; NULL for "no such field" */
};

/* An extra header field, e.g. {"List-Unsubscribe", "<https://...>"},
 * {"Auto-Submitted", "auto-generated"}, {"X-Portald-Type", "payment_receipt"}. */
struct mail_header {
	const char	*name;	/* NULL ends the list */
	const char	*value;	/* printable ASCII, folded at spaces when long */
};

/* Everything a message is made of. Pointers are borrowed; nothing here is freed. */
struct mail_msg {
	struct mail_addr	 from;
	struct mail_addr	 to;
	struct mail_addr	 cc;		/* optional (addr NULL): e.g. a receipts copy */
	struct mail_addr	 reply_to;	/* optional (addr NULL) */
	const char		*subject;	/* UTF-8 */
	long long		 date;		/* Unix time written as the Date field */
	const char		*message_id;	/* "<left@right>", the same on every retry */
	const char		*text;		/* text/plain part, UTF-8, required */
	const char		*html;		/* text/html part, UTF-8; NULL: text only */
	struct mail_header	 extra[MAIL_EXTRA_MAX];
};

/* Writes the message into out (reset first): header fields, then a multipart/alternative
 * body with a quoted-printable text/plain and text/html part (or text/plain alone when
 * html is NULL), CRLF line ends, body lines of at most 76 characters, header lines
 * folded at 78 (only a single unbreakable token runs longer). The same msg gives the
 * same bytes. Non-ASCII names and subjects become RFC 2047
 * encoded-words. Returns 0, or -1 with err filled when a field is invalid: CR, LF or
 * another control character in a header value (no header injection), an address outside
 * mail_addr_valid, a malformed Message-ID, bad UTF-8, an extra header that would
 * duplicate one of the fields above. */
int	mail_compose(const struct mail_msg *m, struct buf *out, char *err, size_t errlen);

/* true for local@domain in the practical subset of RFC 5321 that Portald accepts: a
 * dot-atom local part of at most 64 characters, a domain of at least two LDH labels
 * (each 1-63 characters, no leading or trailing hyphen, a top-level label that is not
 * all digits), at most MAIL_ADDR_MAX characters in all. No quoted local parts, address
 * literals or non-ASCII (SMTPUTF8) addresses. */
bool	mail_addr_valid(const char *addr);

/* true for "<dot-atom@dot-atom>" of at most MAIL_MSGID_MAX characters. */
bool	mail_msgid_valid(const char *id);

/* Writes "<local@domain>" into out, domain taken from from_addr: a Message-ID that the
 * caller keeps with the message so every retry sends the same one. Returns -1 when
 * local is not a dot-atom or the result is not mail_msgid_valid. */
int	mail_msgid(const char *local, const char *from_addr, char *out, size_t outlen);

/* Formats t as an RFC 5322 date-time in UTC ("Tue, 03 Mar 2026 09:05:00 +0000").
 * out needs 32 bytes. Independent of the locale. */
void	mail_date(long long t, char out[32]);

/* ---- sending ---- */

enum mail_starttls {
	MAIL_STARTTLS_NONE = 0,		/* plain SMTP (smtps:// is TLS regardless) */
	MAIL_STARTTLS_OPPORTUNISTIC,	/* STARTTLS when the relay offers it */
	MAIL_STARTTLS_REQUIRED		/* STARTTLS or nothing */
};

struct mail_relay {
	const char		*url;		/* smtp://host:port or smtps://host:port */
	enum mail_starttls	 starttls;
	const char		*ca_file;	/* NULL or "": the system's CA store */
	bool			 tls_no_verify;	/* skip certificate and host name checks: for
						 * tests only (false, the zero value, checks) */
	const char		*username;	/* NULL or "": no AUTH */
	const char		*password;	/* from the secrets file, never the config file;
						 * never logged or put into an error */
	const char		*helo;		/* EHLO name; NULL or "": the local host name */
	long			 connect_timeout;	/* seconds */
	long			 timeout;	/* seconds, the whole transaction */
};

enum mail_result {
	MAIL_SENT = 0,		/* the relay took it (250 after the data) */
	MAIL_TEMPORARY,		/* try again later: 4xx, refused, timeout, TLS or AUTH
				 * trouble, any 5xx that is about the relay or our own
				 * configuration rather than this message */
	MAIL_PERMANENT		/* do not retry: 5xx to RCPT or to the message itself, or
				 * a recipient address that can never be valid */
};

/* Fills r from the [mail] section of cfg (pointers into cfg, which must outlive r).
 * r->password stays NULL: the caller sets it from the secrets file. */
void	mail_relay_from_config(struct mail_relay *r, const struct config *cfg);

/* Sends len bytes of msg (a composed message) to the NULL-terminated rcpts, with
 * from_addr as the envelope sender, through the relay. Runs the whole SMTP
 * transaction; call it outside any database transaction. All or nothing: a recipient
 * the relay refuses fails the whole message, so a retry never delivers twice.
 * *smtp_code (may be NULL) gets the relay's reply code that decided the outcome, or 0
 * when there was none (no connection, timeout). err gets a line for the operator (never the password). Needs
 * curl_global_init() done once by the process. */
enum mail_result mail_send(const struct mail_relay *r, const char *from_addr,
	    const char *const *rcpts, const char *msg, size_t len, int *smtp_code, char *err,
	    size_t errlen);

const char *mail_result_name(enum mail_result res);	/* "sent", "temporary", "permanent" */

#endif
