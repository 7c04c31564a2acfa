/* client.c: Stripe API requests over libcurl: headers, retries with backoff, and the
 * classification of every answer (or its absence) for the caller. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/buf.h"
#include "core/log.h"
#include "stripe/client.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

struct stripe_client {
	CURL		*h;
	char		*base_url;	/* without a trailing slash */
	char		*auth;		/* "Authorization: Bearer sk_...", wiped on free */
	long		 retry_delay_ms;
	long		 retry_delay_max_ms;
	int		 max_retries;
	struct buf	 body;		/* the answer being received */
	bool		 too_big;
	/* from the answer's headers */
	bool		 replayed;
	int		 should_retry;	/* Stripe-Should-Retry: -1 absent, 0 false, 1 true */
	long		 retry_after;	/* seconds, -1 absent */
	char		 request_id[64];
};

static const char *const outcome_names[] = {
	[STRIPE_OK] = "ok",
	[STRIPE_CARD_ERROR] = "card_error",
	[STRIPE_INVALID_REQUEST] = "invalid_request",
	[STRIPE_NOT_FOUND] = "not_found",
	[STRIPE_IDEMPOTENCY_ERROR] = "idempotency_error",
	[STRIPE_AUTH_ERROR] = "auth_error",
	[STRIPE_RATE_LIMITED] = "rate_limited",
	[STRIPE_CONFLICT] = "conflict",
	[STRIPE_SERVER_ERROR] = "server_error",
	[STRIPE_NETWORK_ERROR] = "network_error",
	[STRIPE_REFUSED] = "refused",
};

const char *
stripe_outcome_name(enum stripe_outcome o)
{
	if ((size_t)o < sizeof(outcome_names) / sizeof(outcome_names[0]) && outcome_names[o])
		return outcome_names[o];
	return "unknown";
}

bool
stripe_outcome_unknown(enum stripe_outcome o)
{
	return o == STRIPE_IDEMPOTENCY_ERROR || o == STRIPE_CONFLICT ||
	    o == STRIPE_SERVER_ERROR || o == STRIPE_NETWORK_ERROR;
}

const char *
stripe_json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool
stripe_idempotency_key_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (s[n] <= ' ' || s[n] > '~' || n >= STRIPE_IDEMPOTENCY_KEY_MAX)
			return false;
	return n > 0;
}

void
stripe_response_init(struct stripe_response *r)
{
	memset(r, 0, sizeof(*r));
	r->outcome = STRIPE_REFUSED;
}

void
stripe_response_free(struct stripe_response *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->json);
	stripe_response_init(r);
}

/* scheme://host[:port] with an optional '/' at the end; plain http only for loopback. */
static int
check_base_url(const char *url, bool *plain, char *err, size_t errlen)
{
	const char *host, *p;
	size_t hostlen;

	if (strncmp(url, "https://", 8) == 0) {
		*plain = false;
		host = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*plain = true;
		host = url + 7;
	} else {
		snprintf(err, errlen, "Stripe base URL must start with https://");
		return -1;
	}
	p = host;
	if (*p == '[') {
		while (*p != '\0' && *p != ']')
			p++;
		if (*p++ != ']') {
			snprintf(err, errlen, "Stripe base URL has a bad IPv6 host");
			return -1;
		}
	} else {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
			p++;
	}
	hostlen = (size_t)(p - host);
	if (hostlen == 0) {
		snprintf(err, errlen, "Stripe base URL has no host");
		return -1;
	}
	if (*p == ':') {
		const char *d = ++p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == d || p - d > 5) {
			snprintf(err, errlen, "Stripe base URL has a bad port");
			return -1;
		}
	}
	if (*p == '/')
		p++;
	if (*p != '\0') {
		snprintf(err, errlen, "Stripe base URL must be scheme://host[:port], nothing more");
		return -1;
	}
	if (*plain && !((hostlen == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
	    (hostlen == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (hostlen == 5 && strncmp(host, "[::1]", 5) == 0))) {
		snprintf(err, errlen, "Stripe base URL must use https:// (plain http only for "
		    "a loopback stand-in)");
		return -1;
	}
	return 0;
}

static bool
key_valid(const char *key)
{
	static const char *const prefixes[] = { "sk_test_", "sk_live_", "rk_test_", "rk_live_" };
	size_t n;
	const char *rest = NULL;

	if (key == NULL)
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(key, prefixes[i], 8) == 0)
			rest = key + 8;
	if (rest == NULL || *rest == '\0')
		return false;
	for (n = 0; rest[n] != '\0'; n++) {
		char c = rest[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_') || n > 240)
			return false;
	}
	return true;
}

static size_t
on_body(char *p, size_t size, size_t n, void *u)
{
	struct stripe_client *c = u;

	if (c->body.len + size * n > STRIPE_RESPONSE_MAX) {
		c->too_big = true;
		return 0;
	}
	buf_append(&c->body, p, size * n);
	return size * n;
}

/* Copies a header's value without surrounding blanks, bounded. */
static void
header_value(const char *v, size_t n, char *out, size_t outlen)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *u)
{
	struct stripe_client *c = u;
	size_t len = size * n;
	char v[64];

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new answer starts: forget what an earlier one said. */
		c->replayed = false;
		c->should_retry = -1;
		c->retry_after = -1;
		c->request_id[0] = '\0';
	} else if (len > 11 && strncasecmp(p, "request-id:", 11) == 0) {
		header_value(p + 11, len - 11, c->request_id, sizeof(c->request_id));
	} else if (len > 20 && strncasecmp(p, "idempotent-replayed:", 20) == 0) {
		header_value(p + 20, len - 20, v, sizeof(v));
		c->replayed = strcmp(v, "true") == 0;
	} else if (len > 20 && strncasecmp(p, "stripe-should-retry:", 20) == 0) {
		header_value(p + 20, len - 20, v, sizeof(v));
		c->should_retry = strcmp(v, "true") == 0 ? 1 : strcmp(v, "false") == 0 ? 0 : -1;
	} else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char *end;
		long s;

		header_value(p + 12, len - 12, v, sizeof(v));
		errno = 0;
		s = strtol(v, &end, 10);
		if (errno == 0 && end != v && *end == '\0' && s >= 0)
			c->retry_after = s;
	}
	return len;
}

struct stripe_client *
stripe_client_new(const struct stripe_config *cfg, char *err, size_t errlen)
{
	struct stripe_client *c;
	const char *base = cfg->base_url ? cfg->base_url : STRIPE_DEFAULT_BASE_URL;
	bool plain = false;
	size_t n;

	if (check_base_url(base, &plain, err, errlen) != 0)
		return NULL;
	if (!key_valid(cfg->secret_key)) {
		/* Never echo the key: say what shape was expected. */
		snprintf(err, errlen, "Stripe secret key must look like sk_test_... or sk_live_...");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		abort();
	buf_init(&c->body);
	c->base_url = strdup(base);
	if (c->base_url == NULL)
		abort();
	n = strlen(c->base_url);
	if (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[n - 1] = '\0';
	n = strlen(cfg->secret_key) + 32;
	c->auth = malloc(n);
	if (c->auth == NULL)
		abort();
	snprintf(c->auth, n, "Authorization: Bearer %s", cfg->secret_key);
	c->max_retries = cfg->max_retries < 0 ? 2 : cfg->max_retries;
	c->retry_delay_ms = cfg->retry_delay_ms > 0 ? cfg->retry_delay_ms : 500;
	c->retry_delay_max_ms = cfg->retry_delay_max_ms > 0 ? cfg->retry_delay_max_ms : 5000;
	if (c->retry_delay_max_ms < c->retry_delay_ms)
		c->retry_delay_max_ms = c->retry_delay_ms;

	c->h = curl_easy_init();
	if (c->h == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		stripe_client_free(c);
		return NULL;
	}
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file != NULL && curl_easy_setopt(c->h, CURLOPT_CAINFO, cfg->ca_file) != CURLE_OK) {
		snprintf(err, errlen, "libcurl refused the CA file option");
		stripe_client_free(c);
		return NULL;
	}
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "Portald/" PACKAGE_VERSION);
	return c;
}

void
stripe_client_free(struct stripe_client *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	if (c->auth != NULL) {
		OPENSSL_cleanse(c->auth, strlen(c->auth));
		free(c->auth);
	}
	free(c->base_url);
	buf_free(&c->body);
	free(c);
}

static bool
path_valid(const char *path)
{
	if (strncmp(path, "/v1/", 4) != 0 || strstr(path, "..") != NULL || strstr(path, "//"))
		return false;
	for (const char *p = path; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' || *p == '/'))
			return false;
	return strlen(path) < 512;
}

/* Network failures worth another attempt; a certificate that fails verification, a bad
 * option or an answer too large will fail the same way again. */
static bool
curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return false;
	default:
		return true;
	}
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Exponential backoff from the configured first delay, with jitter in [d/2, d] but never
 * under the first delay; a Retry-After may lengthen it up to the maximum. */
static long
backoff_ms(const struct stripe_client *c, int retry, long retry_after_s)
{
	unsigned int r = 0;
	long d = c->retry_delay_ms;

	for (int i = 1; i < retry && d < c->retry_delay_max_ms; i++)
		d *= 2;
	if (d > c->retry_delay_max_ms)
		d = c->retry_delay_max_ms;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	d = d / 2 + (long)(r % (unsigned int)(d / 2 + 1));
	if (d < c->retry_delay_ms)
		d = c->retry_delay_ms;
	if (retry_after_s > 0) {
		long ra = retry_after_s > 3600 ? 3600000L : retry_after_s * 1000;

		if (ra > d)
			d = ra < c->retry_delay_max_ms ? ra : c->retry_delay_max_ms;
	}
	return d;
}

/* The detail line is a summary: cutting it short is fine. */
static void __attribute__((format(printf, 2, 3)))
set_detail(struct stripe_response *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

static void
copy_field(const cJSON *obj, const char *name, char *out, size_t outlen)
{
	const char *s = stripe_json_str(obj, name);

	snprintf(out, outlen, "%s", s ? s : "");
}

static enum stripe_outcome
classify(int status, const struct stripe_error *e)
{
	if (status >= 200 && status <= 299)
		return STRIPE_OK;
	switch (status) {
	case 400:
		return strcmp(e->type, "idempotency_error") == 0 ?
		    STRIPE_IDEMPOTENCY_ERROR : STRIPE_INVALID_REQUEST;
	case 401:
	case 403:
		return STRIPE_AUTH_ERROR;
	case 402:
		return STRIPE_CARD_ERROR;
	case 404:
		return STRIPE_NOT_FOUND;
	case 409:
		return STRIPE_CONFLICT;
	case 429:
		return STRIPE_RATE_LIMITED;
	case 424:
		return STRIPE_SERVER_ERROR;
	default:
		return status >= 400 && status < 500 ? STRIPE_INVALID_REQUEST : STRIPE_SERVER_ERROR;
	}
}

/* Fills out from the answer in c->body: the JSON, the error envelope, the outcome. */
static void
read_answer(struct stripe_client *c, int status, struct stripe_response *out)
{
	const cJSON *err;

	out->status = status;
	out->replayed = c->replayed;
	snprintf(out->request_id, sizeof(out->request_id), "%s", c->request_id);
	out->json = cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
	if (!cJSON_IsObject(out->json)) {
		cJSON_Delete(out->json);
		out->json = NULL;
		/* Stripe always answers JSON; anything else came from something in between, so
		 * what Stripe did is unknown whatever the status says. */
		out->outcome = STRIPE_SERVER_ERROR;
		snprintf(out->detail, sizeof(out->detail), "HTTP %d with a body that is not "
		    "Stripe's JSON", status);
		return;
	}
	err = cJSON_GetObjectItemCaseSensitive(out->json, "error");
	if (status < 200 || status > 299) {
		if (!cJSON_IsObject(err)) {
			out->outcome = STRIPE_SERVER_ERROR;
			snprintf(out->detail, sizeof(out->detail), "HTTP %d without an error "
			    "object", status);
			return;
		}
		copy_field(err, "type", out->error.type, sizeof(out->error.type));
		copy_field(err, "code", out->error.code, sizeof(out->error.code));
		copy_field(err, "decline_code", out->error.decline_code,
		    sizeof(out->error.decline_code));
		copy_field(err, "param", out->error.param, sizeof(out->error.param));
		copy_field(err, "message", out->error.message, sizeof(out->error.message));
		copy_field(err, "charge", out->error.charge, sizeof(out->error.charge));
		out->error.payment_intent = cJSON_GetObjectItemCaseSensitive(err, "payment_intent");
		if (!cJSON_IsObject(out->error.payment_intent))
			out->error.payment_intent = NULL;
	}
	out->outcome = classify(status, &out->error);
	if (out->outcome == STRIPE_OK)
		snprintf(out->detail, sizeof(out->detail), "HTTP %d%s", status,
		    out->replayed ? " (replayed)" : "");
	else
		set_detail(out, "HTTP %d %s%s%s%s%s: %s", status,
		    out->error.type, out->error.code[0] ? " " : "", out->error.code,
		    out->error.decline_code[0] ? "/" : "", out->error.decline_code,
		    out->error.message);
}

enum stripe_outcome
stripe_request(struct stripe_client *c, const char *method, const char *path,
    const struct stripe_form *form, const char *idempotency_key, struct stripe_response *out)
{
	bool post = false;
	struct buf url, body, idem;
	struct curl_slist *hdr = NULL;
	char ebuf[CURL_ERROR_SIZE];

	stripe_response_init(out);
	if (strcmp(method, "POST") == 0) {
		post = true;
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) {
		snprintf(out->detail, sizeof(out->detail), "refused: method must be GET, POST "
		    "or DELETE");
		return out->outcome;
	}
	if (!path_valid(path)) {
		snprintf(out->detail, sizeof(out->detail), "refused: bad path");
		return out->outcome;
	}
	if (post && !stripe_idempotency_key_valid(idempotency_key)) {
		snprintf(out->detail, sizeof(out->detail), "refused: a POST needs an idempotency "
		    "key (1-%d printable characters)", STRIPE_IDEMPOTENCY_KEY_MAX);
		log_error("stripe: refused POST %s without a usable idempotency key", path);
		return out->outcome;
	}

	buf_init(&url);
	buf_init(&body);
	buf_init(&idem);
	buf_printf(&url, "%s%s", c->base_url, path);
	if (post) {
		stripe_form_encode(form, &body);
		buf_printf(&idem, "Idempotency-Key: %s", idempotency_key);
	} else if (stripe_form_count(form) > 0) {
		buf_putc(&url, '?');
		stripe_form_encode(form, &url);
	}
	hdr = curl_slist_append(hdr, c->auth);
	hdr = curl_slist_append(hdr, "Stripe-Version: " STRIPE_API_VERSION);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	if (post) {
		hdr = curl_slist_append(hdr, "Content-Type: application/x-www-form-urlencoded");
		hdr = curl_slist_append(hdr, idem.data);
	}
	if (hdr == NULL)
		abort();

	curl_easy_setopt(c->h, CURLOPT_URL, url.data);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, ebuf);
	if (post) {
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body.data ? body.data : "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)body.len);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "DELETE") == 0 ? "DELETE" : NULL);
	}

	for (;;) {
		CURLcode rc;
		long status = 0;
		bool retry = false;
		long retry_after = -1;

		buf_reset(&c->body);
		c->too_big = false;
		c->replayed = false;
		c->should_retry = -1;
		c->retry_after = -1;
		c->request_id[0] = '\0';
		ebuf[0] = '\0';
		cJSON_Delete(out->json);
		out->json = NULL;
		memset(&out->error, 0, sizeof(out->error));
		out->attempts++;

		rc = curl_easy_perform(c->h);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
			read_answer(c, (int)status, out);
			if (out->status == 400 || out->status == 401 || out->status == 402 ||
			    out->status == 403 || out->status == 404)
				retry = false;	/* whatever a header says: the same answer again */
			else if (c->should_retry == 1)
				retry = true;
			else if (c->should_retry == -1 &&
			    (out->status == 409 || out->status == 429))
				retry = true;
			retry_after = out->status == 429 ? c->retry_after : -1;
		} else {
			out->status = 0;
			out->outcome = STRIPE_NETWORK_ERROR;
			snprintf(out->detail, sizeof(out->detail), "%s",
			    c->too_big ? "answer larger than the limit" :
			    ebuf[0] ? ebuf : curl_easy_strerror(rc));
			retry = !c->too_big && curl_retryable(rc);
		}
		if (!retry || out->attempts > c->max_retries)
			break;
		{
			long d = backoff_ms(c, out->attempts, retry_after);

			log_warn("stripe: %s %s attempt %d: %s (%s)%s%s; retrying in %ld ms%s",
			    method, path, out->attempts, stripe_outcome_name(out->outcome),
			    out->detail, out->request_id[0] ? ", request " : "", out->request_id, d,
			    post ? " with the same idempotency key" : "");
			sleep_ms(d);
		}
	}
	if (out->outcome == STRIPE_IDEMPOTENCY_ERROR)
		log_error("stripe: BUG: idempotency key '%s' was reused with other parameters "
		    "(%s %s, request %s): %s. What the first request did is unknown; retrieve "
		    "the object before anything else", idempotency_key ? idempotency_key : "",
		    method, path, out->request_id, out->error.message);

	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);
	/* The header list holds a copy of the key: wipe it before it goes back to malloc. */
	for (struct curl_slist *s = hdr; s != NULL; s = s->next)
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(hdr);
	buf_free(&url);
	buf_free(&body);
	buf_free(&idem);
	return out->outcome;
}
