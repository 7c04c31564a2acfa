/* mail_send.c: one SMTP transaction with libcurl (smtp:// or smtps://, STARTTLS, AUTH),
 * and the verdict the outbox needs: sent, try again later, or never. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "mail/mail.h"

#define REPLY_MAX	200

/* What the relay said, as seen by the debug callback. */
struct smtp_trace {
	char	 verb[12];		/* the command last sent: "EHLO", "RCPT", "body"... */
	int	 fail_code;		/* the first 4xx/5xx reply, 0 if none */
	char	 fail_verb[12];		/* the command it answered */
	char	 fail_text[REPLY_MAX];	/* its text, printable ASCII only */
	int	 last_code;
};

struct upload {
	const char	*p;
	size_t		 left;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *user)
{
	struct upload *u = user;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;

	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static void
copy_printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\r' || c == '\n')
			break;
		dst[j++] = c >= 32 && c < 127 ? (char)c : '?';
	}
	dst[j] = '\0';
}

/* Called by curl for protocol traffic (only because CURLOPT_VERBOSE is on, and then
 * instead of curl's own printing). It reads the relay's replies and the verb of each of
 * our commands. It never copies a command's arguments: AUTH carries the credentials. */
static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *user)
{
	struct smtp_trace *t = user;

	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		/* Only a known verb is kept. Anything else is a SASL exchange line (the
		 * credentials in base64), which counts as part of AUTH and is not read. */
		static const char *const verbs[] = { "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
		    "RCPT", "DATA", "RSET", "NOOP", "QUIT", NULL };
		const char *v = "AUTH";

		for (size_t i = 0; verbs[i] != NULL; i++) {
			size_t n = strlen(verbs[i]);

			if (size > n && memcmp(data, verbs[i], n) == 0 &&
			    (data[n] == ' ' || data[n] == '\r')) {
				v = verbs[i];
				break;
			}
		}
		snprintf(t->verb, sizeof(t->verb), "%s", v);
	} else if (type == CURLINFO_DATA_OUT) {
		snprintf(t->verb, sizeof(t->verb), "body");
	} else if (type == CURLINFO_HEADER_IN) {
		/* One or more reply lines: "250-..." continues, "250 ..." ends. */
		for (size_t i = 0; i + 3 <= size;) {
			const char *line = data + i;
			const char *nl = memchr(line, '\n', size - i);
			size_t len = nl ? (size_t)(nl - line) + 1 : size - i;

			if (len >= 3 && line[0] >= '2' && line[0] <= '5' &&
			    line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9') {
				int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
				    (line[2] - '0');

				t->last_code = code;
				if (code >= 400 && t->fail_code == 0) {
					t->fail_code = code;
					memcpy(t->fail_verb, t->verb, sizeof(t->fail_verb));
					copy_printable(t->fail_text, sizeof(t->fail_text),
					    line, len);
				}
			}
			i += len;
		}
	}
	return 0;
}

/* A 5xx is final only when it is about this message: a refused recipient or refused
 * content. A 5xx to MAIL FROM, EHLO or AUTH, and the 53x family (authentication and
 * encryption required), mean the relay or our configuration is wrong; the message is
 * kept and retried once that is fixed, never dropped. */
static enum mail_result
classify(const struct smtp_trace *t)
{
	int c = t->fail_code;

	if (c < 500 || c > 599 || (c >= 530 && c <= 539))
		return MAIL_TEMPORARY;
	if (strcmp(t->fail_verb, "RCPT") == 0 || strcmp(t->fail_verb, "DATA") == 0 ||
	    strcmp(t->fail_verb, "body") == 0)
		return MAIL_PERMANENT;
	return MAIL_TEMPORARY;
}

static bool
helo_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The relay URL with the EHLO name as its path (curl's way of naming it). */
static CURLU *
relay_url(const struct mail_relay *r, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *path = NULL, *user = NULL;
	char p[260];
	bool ok = false;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (r->url == NULL || curl_url_set(u, CURLUPART_URL, r->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(err, errlen, "relay: not a URL");
		goto done;
	}
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
		snprintf(err, errlen, "relay: the scheme must be smtp or smtps");
		goto done;
	}
	/* Credentials belong in the secrets file, never in a URL that ends up in logs. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(err, errlen, "relay: the URL must not carry a user name or password");
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0 &&
	    path[0] != '\0') {
		snprintf(err, errlen, "relay: the URL must not have a path (the EHLO name is "
		    "configured as helo)");
		goto done;
	}
	if (r->helo != NULL && r->helo[0] != '\0') {
		if (!helo_valid(r->helo)) {
			snprintf(err, errlen, "relay: helo must be a host name");
			goto done;
		}
		snprintf(p, sizeof(p), "/%s", r->helo);
		if (curl_url_set(u, CURLUPART_PATH, p, 0) != CURLUE_OK) {
			snprintf(err, errlen, "relay: helo must be a host name");
			goto done;
		}
	}
	ok = true;
done:
	curl_free(scheme);
	curl_free(path);
	curl_free(user);
	if (!ok) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

const char *
mail_result_name(enum mail_result res)
{
	switch (res) {
	case MAIL_SENT:
		return "sent";
	case MAIL_TEMPORARY:
		return "temporary";
	case MAIL_PERMANENT:
		return "permanent";
	}
	return "unknown";
}

void
mail_relay_from_config(struct mail_relay *r, const struct config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->url = cfg->mail_relay;
	if (strcmp(cfg->mail_starttls, "none") == 0)
		r->starttls = MAIL_STARTTLS_NONE;
	else if (strcmp(cfg->mail_starttls, "opportunistic") == 0)
		r->starttls = MAIL_STARTTLS_OPPORTUNISTIC;
	else
		r->starttls = MAIL_STARTTLS_REQUIRED;
	r->ca_file = cfg->mail_ca_file;
	r->tls_no_verify = !cfg->mail_tls_verify;
	r->username = cfg->mail_username;
	r->password = NULL;
	r->helo = cfg->mail_helo;
	r->connect_timeout = cfg->mail_connect_timeout;
	r->timeout = cfg->mail_timeout;
}

enum mail_result
mail_send(const struct mail_relay *r, const char *from_addr, const char *const *rcpts,
    const char *msg, size_t len, int *smtp_code, char *err, size_t errlen)
{
	struct smtp_trace trace = { .verb = "", .fail_code = 0 };
	struct upload up = { .p = msg, .left = len };
	struct curl_slist *to = NULL;
	char ebuf[CURL_ERROR_SIZE] = "", path[MAIL_ADDR_MAX + 3];
	enum mail_result res = MAIL_TEMPORARY;
	CURLU *url = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long use_ssl;

	if (smtp_code != NULL)
		*smtp_code = 0;
	err[0] = '\0';
	/* A bad sender or relay is our configuration: keep the message until it is fixed. */
	if (!mail_addr_valid(from_addr)) {
		snprintf(err, errlen, "the sender address is not valid");
		return MAIL_TEMPORARY;
	}
	if (rcpts == NULL || rcpts[0] == NULL) {
		snprintf(err, errlen, "no recipient");
		return MAIL_PERMANENT;
	}
	for (size_t i = 0; rcpts[i] != NULL; i++) {
		if (!mail_addr_valid(rcpts[i])) {
			snprintf(err, errlen, "recipient %zu is not a valid address", i + 1);
			res = MAIL_PERMANENT;
			goto out;
		}
		snprintf(path, sizeof(path), "<%s>", rcpts[i]);
		to = curl_slist_append(to, path);
		if (to == NULL) {
			snprintf(err, errlen, "out of memory");
			res = MAIL_TEMPORARY;
			goto out;
		}
	}
	if ((url = relay_url(r, err, errlen)) == NULL)
		goto out_temp;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		goto out_temp;
	}
	snprintf(path, sizeof(path), "<%s>", from_addr);
	switch (r->starttls) {
	case MAIL_STARTTLS_OPPORTUNISTIC:
		use_ssl = CURLUSESSL_TRY;
		break;
	case MAIL_STARTTLS_REQUIRED:
		use_ssl = CURLUSESSL_ALL;
		break;
	default:
		use_ssl = CURLUSESSL_NONE;
		break;
	}
	curl_easy_setopt(h, CURLOPT_CURLU, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, r->tls_no_verify ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, r->tls_no_verify ? 0L : 2L);
	if (r->ca_file != NULL && r->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, r->ca_file);
	if (r->username != NULL && r->username[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, path);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, r->connect_timeout > 0 ?
	    r->connect_timeout : 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, r->timeout > 0 ? r->timeout : 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	/* Verbose only so the callback sees the replies; it prints nothing itself. */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &trace);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		res = MAIL_SENT;
		if (smtp_code != NULL)
			*smtp_code = trace.last_code;
		goto out;
	}
	res = classify(&trace);
	if (smtp_code != NULL)
		*smtp_code = trace.fail_code;
	if (trace.fail_code != 0)
		snprintf(err, errlen, "relay answered %s to %s (%s)", trace.fail_text,
		    trace.fail_verb[0] ? trace.fail_verb : "the connection",
		    ebuf[0] ? ebuf : curl_easy_strerror(rc));
	else
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	goto out;
out_temp:
	res = MAIL_TEMPORARY;
out:
	curl_slist_free_all(to);
	curl_easy_cleanup(h);
	curl_url_cleanup(url);
	return res;
}
