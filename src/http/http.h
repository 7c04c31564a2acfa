/* http.h: the request as portald sees it (from FastCGI parameters) and the response builder. */
#ifndef PORTALD_HTTP_H
#define PORTALD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define HTTP_MAX_KV		64	/* query, form and cookie pairs each */
#define HTTP_MAX_PATH		1024
#define HTTP_MAX_PATH_PARAMS	4

enum http_method {
	HTTP_OTHER = 0, HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_DELETE
};

struct http_kv {
	const char	*key;
	const char	*value;
};

/* A list of decoded pairs; bad is set when an item could not be decoded (bad %-escape,
 * NUL byte, too many pairs), so the caller can answer 400 rather than guess. */
struct http_kvs {
	struct http_kv	 items[HTTP_MAX_KV];
	int		 n;
	bool		 bad;
	const char	*bad_key;	/* the key whose value was bad, when known */
};

/* Bump allocator for request-lifetime strings; reset after each request. */
struct arena_block;
struct arena {
	struct arena_block *head;
};

struct http_request {
	enum http_method method;
	const char	*method_str;
	const char	*path;		/* without the query string, not decoded */
	const char	*query;		/* raw, "" when absent */
	const char	*content_type;
	const char	*authorization;
	const char	*idempotency_key;
	const char	*cookie_header;
	const char	*stripe_signature;	/* Stripe-Signature, on gateway webhooks */
	const char	*host;		/* Host header, or NULL */
	const char	*if_none_match;	/* If-None-Match header, or NULL */
	const char	*remote_addr;
	const char	*request_id;
	size_t		 content_length;
	bool		 content_length_bad;
	bool		 body_too_large;	/* over max_body: not read */
	char		*body;		/* NUL-terminated copy, body_len bytes */
	size_t		 body_len;
	struct http_kvs	 args;		/* query string */
	struct http_kvs	 form;		/* application/x-www-form-urlencoded body */
	struct http_kvs	 cookies;
	const char	*path_params[HTTP_MAX_PATH_PARAMS];
	int		 n_path_params;
	struct arena	 arena;
};

struct http_response {
	int		 status;
	const char	*content_type;
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	struct buf	 body;
	bool		 no_length;	/* a HEAD that did not build the body: no
					 * Content-Length (rather than a wrong 0) */
};

void	 arena_init(struct arena *a);
void	 arena_reset(struct arena *a);	/* keeps one block for the next request */
void	 arena_free(struct arena *a);
void	*arena_alloc(struct arena *a, size_t n);
char	*arena_strndup(struct arena *a, const char *s, size_t n);

void	 http_request_init(struct http_request *r);
void	 http_request_reset(struct http_request *r);
void	 http_request_free(struct http_request *r);
/* Fills r from a FastCGI environment (NULL-terminated "NAME=value" strings).
 * The strings must outlive the request. Never fails: oddities are recorded. */
void	 http_request_from_env(struct http_request *r, char **envp);
const char *http_env_get(char **envp, const char *name);

/* Parses application/x-www-form-urlencoded text (query string or body) into kvs. */
void	 http_parse_urlencoded(struct arena *a, const char *s, size_t n, struct http_kvs *kvs);
/* Parses a Cookie header. Values are taken as they are (not decoded). */
void	 http_parse_cookies(struct arena *a, const char *s, struct http_kvs *kvs);
/* First value for key, or NULL. */
const char *http_kvs_get(const struct http_kvs *kvs, const char *key);
/* true for "application/json" with no parameter but charset=utf-8 (any case, quoted or
 * not): look-alikes such as "application/jsonfoo" or another charset are not JSON. */
bool	 http_content_type_is_json(const char *ct);
/* Decodes %XX (and '+' as space when plus_space); returns -1 on a bad escape or NUL. */
int	 http_urldecode(char *s, bool plus_space);

void	 http_response_init(struct http_response *resp);
void	 http_response_reset(struct http_response *resp);
void	 http_response_free(struct http_response *resp);
void	 http_header(struct http_response *resp, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Sets a cookie: __Host- prefixed names get Path=/ and Secure as the prefix requires. */
void	 http_set_cookie(struct http_response *resp, const char *name, const char *value,
	    long max_age);
void	 http_redirect(struct http_response *resp, int status, const char *location);
/* Removes every header line called name (any case). */
void	 http_header_remove(struct http_response *resp, const char *name);
/* Writes status line, headers and body into out, ready for the FastCGI stream. */
void	 http_response_serialize(const struct http_response *resp, bool head, struct buf *out);
const char *http_status_text(int status);

#endif
