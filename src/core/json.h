/* json.h: request bodies (bounded parse, validation against a field table) and a small
 * writer that renders responses straight into a buffer. */
#ifndef PORTALD_JSON_H
#define PORTALD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

enum field_type {
	FT_STRING = 1,
	FT_INT,
	FT_BOOL,
	FT_OBJECT,	/* nested fields in .fields */
	FT_MAP,		/* free keys (<= 40 chars), string values (<= max_len) */
	FT_LIST,	/* array of 1..50 strings, each <= max_len and passing check */
	FT_OBJLIST	/* array of up to .max (default 50) objects, each checked by .fields */
};

/* Extra checks beyond type and length; return NULL when fine, else a message. */
typedef const char *(*field_check)(const char *value);

struct field {
	const char		*name;
	enum field_type		 type;
	bool			 required;
	bool			 nullable;	/* JSON null accepted (clears the value) */
	size_t			 max_len;	/* strings, bytes; 0 = 255 */
	int64_t			 min, max;	/* ints */
	field_check		 check;		/* strings */
	const struct field	*fields;	/* FT_OBJECT: terminated by name == NULL */
	bool			 multiline;	/* strings may hold \n and \t */
};

struct json_error {
	char	code[48];
	char	param[128];
	char	message[256];
};

/* Parses body (len bytes, NUL-terminated) after checking nesting depth. Replaces \u0000
 * escapes so an embedded NUL reaches validation as a control character and is reported
 * against its field, instead of cJSON silently truncating the string. */
cJSON	*json_parse(char *body, size_t len, int max_depth, struct json_error *err);
/* Checks obj against fields: unknown names, types, lengths, UTF-8, control characters,
 * custom checks, required fields. prefix names the parent ("billing_address"). */
int	 json_validate(const cJSON *obj, const struct field *fields, const char *prefix,
	    struct json_error *err);
/* true when s (n bytes) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool	 json_utf8_valid(const char *s, size_t n);

/* Appends one canonical text of v: object keys sorted bytewise at every depth, no blanks,
 * strings by their parsed value (escapes resolved), numbers by their parsed value
 * ("%.17g"), so two bodies that mean the same JSON give the same text. */
void	 json_canonical(const cJSON *v, struct buf *out);

/* Field accessors for validated objects: NULL / default when absent or null. */
const char *json_str(const cJSON *obj, const char *name);
bool	 json_has(const cJSON *obj, const char *name);	/* present, null included */
int64_t	 json_int(const cJSON *obj, const char *name, int64_t dflt);

/* Common string checks. */
const char *check_id(const char *v);
const char *check_email(const char *v);
const char *check_http_url(const char *v);
/* An http(s) URL (check_http_url) whose origin, "scheme://host[:port]" exactly as written
 * before the first '/', '?' or '#', is one of origins (separated by spaces): NULL, else why
 * not. "https://a.example@b.example/" has the origin "https://a.example@b.example". */
const char *check_url_origin(const char *v, const char *origins);
/* The length of a URL's "scheme://host[:port]" (0 without "://"). */
size_t	 url_origin_len(const char *v);
const char *check_country(const char *v);
/* Luhn over n digits (card numbers, several tax ids): true when the checksum is 0 and every
 * character is a digit. */
bool	 check_luhn(const char *digits, size_t n);

/* Writer: renders into a buf with commas handled; nesting up to JW_MAX_DEPTH. */
#define JW_MAX_DEPTH 16
struct jw {
	struct buf	*b;
	int		 depth;
	bool		 need_comma[JW_MAX_DEPTH];
};

void	jw_init(struct jw *w, struct buf *b);
void	jw_obj_begin(struct jw *w, const char *key);	/* key NULL inside arrays / at top */
void	jw_obj_end(struct jw *w);
void	jw_arr_begin(struct jw *w, const char *key);
void	jw_arr_end(struct jw *w);
void	jw_str(struct jw *w, const char *key, const char *v);	/* v NULL writes null */
void	jw_int(struct jw *w, const char *key, long long v);
void	jw_bool(struct jw *w, const char *key, bool v);
void	jw_null(struct jw *w, const char *key);
/* Writes already-serialised JSON (from the database's jsonb) as the value. */
void	jw_raw(struct jw *w, const char *key, const char *json);
/* Timestamp columns arrive as text integers or NULL. */
void	jw_int_text(struct jw *w, const char *key, const char *v);
void	json_escape(struct buf *b, const char *s);

#endif
