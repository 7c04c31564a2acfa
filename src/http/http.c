/* http.c: builds the request from FastCGI parameters; parses query, form and cookies;
 * builds responses. Pure functions over strings, so the unit tests need no libfcgi. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

#define ARENA_BLOCK 8192

struct arena_block {
	struct arena_block *next;
	size_t	 used;
	size_t	 size;
	_Alignas(max_align_t) char data[];
};

void
arena_init(struct arena *a)
{
	a->head = NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			abort();
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Keeps the oldest block (the common case fits in it) and frees the rest. */
void
arena_reset(struct arena *a)
{
	struct arena_block *b = a->head, *keep = NULL;

	while (b != NULL) {
		struct arena_block *next = b->next;

		if (next == NULL && b->size == ARENA_BLOCK) {
			keep = b;
			keep->used = 0;
		} else
			free(b);
		b = next;
	}
	a->head = keep;
}

void
arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b != NULL) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

void
http_request_init(struct http_request *r)
{
	memset(r, 0, sizeof(*r));
	arena_init(&r->arena);
	http_request_reset(r);
}

void
http_request_reset(struct http_request *r)
{
	struct arena a = r->arena;

	arena_reset(&a);
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->method_str = "";
	r->path = "/";
	r->query = "";
	r->remote_addr = "";
	r->request_id = "-";
}

void
http_request_free(struct http_request *r)
{
	if (r == NULL)
		return;
	arena_free(&r->arena);
}

const char *
http_env_get(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static enum http_method
method_from(const char *m)
{
	if (strcmp(m, "GET") == 0) return HTTP_GET;
	if (strcmp(m, "HEAD") == 0) return HTTP_HEAD;
	if (strcmp(m, "POST") == 0) return HTTP_POST;
	if (strcmp(m, "DELETE") == 0) return HTTP_DELETE;
	return HTTP_OTHER;
}

void
http_request_from_env(struct http_request *r, char **envp)
{
	const char *v, *uri, *q;

	v = http_env_get(envp, "REQUEST_METHOD");
	r->method_str = v ? v : "";
	r->method = method_from(r->method_str);

	/* REQUEST_URI is what the client sent; DOCUMENT_URI is nginx's normalised form.
	 * Route on the raw path so what we match is what the client asked for. */
	uri = http_env_get(envp, "REQUEST_URI");
	if (uri == NULL)
		uri = http_env_get(envp, "DOCUMENT_URI");
	if (uri == NULL || uri[0] != '/')
		uri = "/";
	q = strchr(uri, '?');
	if (q != NULL) {
		r->path = arena_strndup(&r->arena, uri, (size_t)(q - uri));
		r->query = q + 1;
	} else {
		r->path = uri;
		r->query = "";
	}
	if (strlen(r->path) > HTTP_MAX_PATH)
		r->path = arena_strndup(&r->arena, r->path, HTTP_MAX_PATH);

	r->content_type = http_env_get(envp, "CONTENT_TYPE");
	r->authorization = http_env_get(envp, "HTTP_AUTHORIZATION");
	r->idempotency_key = http_env_get(envp, "HTTP_IDEMPOTENCY_KEY");
	r->cookie_header = http_env_get(envp, "HTTP_COOKIE");
	r->stripe_signature = http_env_get(envp, "HTTP_STRIPE_SIGNATURE");
	r->host = http_env_get(envp, "HTTP_HOST");
	r->if_none_match = http_env_get(envp, "HTTP_IF_NONE_MATCH");
	v = http_env_get(envp, "REMOTE_ADDR");
	r->remote_addr = v ? v : "";
	v = http_env_get(envp, "REQUEST_ID");
	r->request_id = v && *v ? v : "-";

	v = http_env_get(envp, "CONTENT_LENGTH");
	r->content_length = 0;
	if (v != NULL && *v != '\0') {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno != 0 || *end != '\0' || v[0] == '-' || n > SIZE_MAX / 2)
			r->content_length_bad = true;
		else
			r->content_length = (size_t)n;
	}

	http_parse_urlencoded(&r->arena, r->query, strlen(r->query), &r->args);
	if (r->cookie_header != NULL)
		http_parse_cookies(&r->arena, r->cookie_header, &r->cookies);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int
http_urldecode(char *s, bool plus_space)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			int hi = hexval((unsigned char)s[1]);
			int lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (*s == '+' && plus_space)
			*o++ = ' ';
		else
			*o++ = *s;
	}
	*o = '\0';
	return 0;
}

void
http_parse_urlencoded(struct arena *a, const char *s, size_t n, struct http_kvs *kvs)
{
	const char *end = s + n;

	kvs->n = 0;
	kvs->bad = false;
	kvs->bad_key = NULL;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(stop - s));
		char *k, *v;

		if (stop == s) {	/* "a=1&&b=2" */
			s = stop + 1;
			continue;
		}
		if (memchr(s, '\0', (size_t)(stop - s)) != NULL) {
			kvs->bad = true;
			return;
		}
		if (kvs->n == HTTP_MAX_KV) {
			kvs->bad = true;
			return;
		}
		k = arena_strndup(a, s, (size_t)((eq ? eq : stop) - s));
		v = eq ? arena_strndup(a, eq + 1, (size_t)(stop - eq - 1)) : arena_strndup(a, "", 0);
		if (http_urldecode(k, true) != 0) {
			kvs->bad = true;
			return;
		}
		if (http_urldecode(v, true) != 0) {
			kvs->bad = true;
			kvs->bad_key = k;
			return;
		}
		kvs->items[kvs->n].key = k;
		kvs->items[kvs->n].value = v;
		kvs->n++;
		s = stop + 1;
	}
}

void
http_parse_cookies(struct arena *a, const char *s, struct http_kvs *kvs)
{
	kvs->n = 0;
	kvs->bad = false;
	kvs->bad_key = NULL;
	while (*s != '\0') {
		const char *semi, *eq, *kb, *ke, *vb, *ve;

		while (*s == ' ' || *s == '\t' || *s == ';')
			s++;
		if (*s == '\0')
			break;
		semi = strchr(s, ';');
		if (semi == NULL)
			semi = s + strlen(s);
		eq = memchr(s, '=', (size_t)(semi - s));
		if (eq == NULL) {	/* a cookie without '=' carries nothing we use */
			s = semi;
			continue;
		}
		kb = s;
		ke = eq;
		while (ke > kb && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		vb = eq + 1;
		while (vb < semi && (*vb == ' ' || *vb == '\t'))
			vb++;
		ve = semi;
		while (ve > vb && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (ve - vb >= 2 && vb[0] == '"' && ve[-1] == '"') {
			vb++;
			ve--;
		}
		if (kvs->n == HTTP_MAX_KV) {
			kvs->bad = true;
			return;
		}
		kvs->items[kvs->n].key = arena_strndup(a, kb, (size_t)(ke - kb));
		kvs->items[kvs->n].value = arena_strndup(a, vb, (size_t)(ve - vb));
		kvs->n++;
		s = semi;
	}
}

const char *
http_kvs_get(const struct http_kvs *kvs, const char *key)
{
	for (int i = 0; i < kvs->n; i++)
		if (strcmp(kvs->items[i].key, key) == 0)
			return kvs->items[i].value;
	return NULL;
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool
http_content_type_is_json(const char *ct)
{
	const char *p;

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
		return false;
	p = skip_ows(ct + 16);
	while (*p == ';') {
		p = skip_ows(p + 1);
		if (strncasecmp(p, "charset=", 8) != 0)
			return false;
		p += 8;
		if (strncasecmp(p, "utf-8", 5) == 0)
			p += 5;
		else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
			p += 7;
		else
			return false;
		p = skip_ows(p);
	}
	return *p == '\0';
}

void
http_response_init(struct http_response *resp)
{
	buf_init(&resp->headers);
	buf_init(&resp->body);
	http_response_reset(resp);
}

void
http_response_reset(struct http_response *resp)
{
	resp->status = 200;
	resp->content_type = "application/json";
	resp->no_length = false;
	buf_reset(&resp->headers);
	buf_reset(&resp->body);
}

void
http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	buf_free(&resp->headers);
	buf_free(&resp->body);
}

void
http_header(struct http_response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;
	size_t start;

	buf_puts(&resp->headers, name);
	buf_puts(&resp->headers, ": ");
	start = resp->headers.len;
	va_start(ap, fmt);
	buf_vprintf(&resp->headers, fmt, ap);
	va_end(ap);
	/* A header value never carries a line break, whatever it was built from. */
	for (size_t i = start; i < resp->headers.len; i++)
		if (resp->headers.data[i] == '\r' || resp->headers.data[i] == '\n')
			resp->headers.data[i] = ' ';
	buf_puts(&resp->headers, "\r\n");
}

void
http_set_cookie(struct http_response *resp, const char *name, const char *value, long max_age)
{
	if (max_age >= 0)
		http_header(resp, "Set-Cookie",
		    "%s=%s; Path=/; Max-Age=%ld; Secure; HttpOnly; SameSite=Lax",
		    name, value, max_age);
	else
		http_header(resp, "Set-Cookie", "%s=%s; Path=/; Secure; HttpOnly; SameSite=Lax",
		    name, value);
}

void
http_redirect(struct http_response *resp, int status, const char *location)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	http_header(resp, "Location", "%s", location);
	buf_reset(&resp->body);
}

void
http_header_remove(struct http_response *resp, const char *name)
{
	size_t n = strlen(name), in = 0, out = 0;
	char *h = resp->headers.data;

	while (in < resp->headers.len) {
		char *eol = memchr(h + in, '\n', resp->headers.len - in);
		size_t len = eol ? (size_t)(eol - (h + in)) + 1 : resp->headers.len - in;

		if (!(len > n && h[in + n] == ':' && strncasecmp(h + in, name, n) == 0)) {
			memmove(h + out, h + in, len);
			out += len;
		}
		in += len;
	}
	resp->headers.len = out;
	if (resp->headers.cap > 0)
		h[out] = '\0';
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
http_response_serialize(const struct http_response *resp, bool head, struct buf *out)
{
	char line[128];
	int n;

	n = snprintf(line, sizeof(line), "Status: %d %s\r\n", resp->status,
	    http_status_text(resp->status));
	buf_append(out, line, (size_t)n);
	buf_puts(out, "Content-Type: ");
	buf_puts(out, resp->content_type);
	buf_puts(out, "\r\n");
	if (!resp->no_length) {
		n = snprintf(line, sizeof(line), "Content-Length: %lu\r\n",
		    (unsigned long)resp->body.len);
		buf_append(out, line, (size_t)n);
	}
	buf_append(out, resp->headers.data ? resp->headers.data : "", resp->headers.len);
	buf_puts(out, "\r\n");
	if (!head)
		buf_append(out, resp->body.data ? resp->body.data : "", resp->body.len);
}
