/* json.c: bounded JSON parsing, table-driven validation, and the response writer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static void json_err(struct json_error *err, const char *code, const char *param,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
json_err(struct json_error *err, const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static int
key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Appends ".key" or "[i]" to the path in p (of size n), within bounds. */
static void
path_push(char *p, size_t n, const cJSON *parent, const cJSON *child, int index)
{
	size_t len = strlen(p);

	if (len >= n - 1)
		return;
	if (cJSON_IsArray(parent))
		snprintf(p + len, n - len, "[%d]", index);
	else
		snprintf(p + len, n - len, "%s%.60s", len ? "." : "", child->string);
}

/* Finds an object holding the same key twice, at any depth (cJSON keeps both, and a
 * lookup sees only the first: what is validated need not be what is used). Sorting the
 * keys keeps this n log n for objects with many keys. -1 with err filled. */
static int
json_no_duplicates(const cJSON *node, char *path, size_t pathlen, struct json_error *err)
{
	const cJSON *c;
	int n = 0, i = 0;

	if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
		return 0;
	cJSON_ArrayForEach(c, node)
		n++;
	if (cJSON_IsObject(node) && n > 1) {
		const cJSON **keys = malloc(sizeof(*keys) * (size_t)n);

		if (keys == NULL)
			abort();	/* as buf.c: out of memory ends the worker */
		cJSON_ArrayForEach(c, node)
			keys[i++] = c;
		qsort(keys, (size_t)n, sizeof(*keys), key_cmp);
		for (i = 1; i < n; i++) {
			if (strcmp(keys[i - 1]->string, keys[i]->string) == 0) {
				char key[64];

				path_push(path, pathlen, node, keys[i], 0);
				snprintf(key, sizeof(key), "%s", path);
				free(keys);
				if (!json_utf8_valid(key, strlen(key)))
					snprintf(key, sizeof(key), "(unprintable)");
				json_err(err, "parameter_duplicate", key, "%s is given more than once",
				    key);
				return -1;
			}
		}
		free(keys);
	}
	i = 0;
	cJSON_ArrayForEach(c, node) {
		size_t len = strlen(path);

		path_push(path, pathlen, node, c, i++);
		if (json_no_duplicates(c, path, pathlen, err) != 0)
			return -1;
		path[len] = '\0';
	}
	return 0;
}

cJSON *
json_parse(char *body, size_t len, int max_depth, struct json_error *err)
{
	int depth = 0;
	bool in_str = false;
	cJSON *root;
	const char *end = NULL;

	for (size_t i = 0; i < len; i++) {
		char c = body[i];

		if (c == '\0') {
			json_err(err, "invalid_json", NULL, "the body contains a NUL byte");
			return NULL;
		}
		if (in_str) {
			if (c == '\\' && i + 1 < len) {
				/* \u0000 -> \u0001: same length, and validation rejects it. */
				if (body[i + 1] == 'u' && i + 5 < len && body[i + 2] == '0' &&
				    body[i + 3] == '0' && body[i + 4] == '0' && body[i + 5] == '0')
					body[i + 5] = '1';
				i++;
			} else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[') {
			if (++depth > max_depth) {
				json_err(err, "invalid_json", NULL,
				    "the body is nested deeper than %d levels", max_depth);
				return NULL;
			}
		} else if (c == '}' || c == ']')
			depth--;
	}
	/* len + 1: the body is NUL-terminated, and cJSON wants to see that NUL. */
	root = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		long off = at && at >= body && at <= body + len ? (long)(at - body) : -1;

		json_err(err, "invalid_json", NULL,
		    "the body is not valid JSON (near byte %ld)", off);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		json_err(err, "invalid_json", NULL, "the body must be a JSON object");
		return NULL;
	}
	{
		char path[128] = "";

		if (json_no_duplicates(root, path, sizeof(path), err) != 0) {
			cJSON_Delete(root);
			return NULL;
		}
	}
	return root;
}

void
json_canonical(const cJSON *v, struct buf *out)
{
	const cJSON *c;

	if (cJSON_IsObject(v)) {
		const cJSON **kids;
		int n = 0, i = 0;

		cJSON_ArrayForEach(c, v)
			n++;
		kids = malloc(sizeof(*kids) * (size_t)(n > 0 ? n : 1));
		if (kids == NULL)
			abort();	/* as buf.c: out of memory ends the worker */
		cJSON_ArrayForEach(c, v)
			kids[i++] = c;
		qsort(kids, (size_t)n, sizeof(*kids), key_cmp);
		buf_putc(out, '{');
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_putc(out, ',');
			json_escape(out, kids[i]->string);
			buf_putc(out, ':');
			json_canonical(kids[i], out);
		}
		buf_putc(out, '}');
		free(kids);
	} else if (cJSON_IsArray(v)) {
		bool first = true;

		buf_putc(out, '[');
		cJSON_ArrayForEach(c, v) {
			if (!first)
				buf_putc(out, ',');
			first = false;
			json_canonical(c, out);
		}
		buf_putc(out, ']');
	} else if (cJSON_IsString(v))
		json_escape(out, v->valuestring);
	else if (cJSON_IsNumber(v))
		buf_printf(out, "%.17g", v->valuedouble);
	else if (cJSON_IsTrue(v))
		buf_puts(out, "true");
	else if (cJSON_IsFalse(v))
		buf_puts(out, "false");
	else
		buf_puts(out, "null");
}

bool
json_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t need;
		unsigned cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else
			return false;
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* NUL arrives here as \x01 (see json_parse); all C0 controls and DEL are refused. */
static const char *
check_text(const char *v, bool multiline)
{
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == 0x7F || (*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t' ||
		    *p == '\r'))))
			return *p == 0x01 ? "must not contain NUL characters" :
			    "must not contain control characters";
	}
	return NULL;
}

static const char *
type_name(enum field_type t)
{
	switch (t) {
	case FT_STRING: return "a string";
	case FT_INT: return "an integer";
	case FT_BOOL: return "a boolean";
	case FT_OBJECT: return "an object";
	case FT_MAP: return "an object of strings";
	case FT_LIST: return "an array of strings";
	case FT_OBJLIST: return "an array of objects";
	}
	return "?";
}

static int
validate_string(const char *s, const struct field *f, const char *param, struct json_error *err)
{
	size_t max = f->max_len ? f->max_len : 255;
	size_t n = strlen(s);
	const char *why;

	if (!json_utf8_valid(s, n)) {
		json_err(err, "parameter_invalid", param, "%s is not valid UTF-8", param);
		return -1;
	}
	if (n > max) {
		json_err(err, "parameter_too_long", param, "%s must be at most %zu bytes long",
		    param, max);
		return -1;
	}
	if ((why = check_text(s, f->multiline)) != NULL ||
	    (f->check != NULL && (why = f->check(s)) != NULL)) {
		json_err(err, "parameter_invalid", param, "%s %s", param, why);
		return -1;
	}
	return 0;
}

int
json_validate(const cJSON *obj, const struct field *fields, const char *prefix,
    struct json_error *err)
{
	char param[128];
	const cJSON *item;

	/* Unknown names first: a typo must not pass silently as "field absent". */
	cJSON_ArrayForEach(item, obj) {
		const struct field *f;

		for (f = fields; f->name != NULL; f++)
			if (item->string != NULL && strcmp(f->name, item->string) == 0)
				break;
		if (f->name == NULL) {
			char key[64];

			snprintf(key, sizeof(key), "%.60s", item->string ? item->string : "");
			if (!json_utf8_valid(key, strlen(key)) || check_text(key, false) != NULL)
				snprintf(key, sizeof(key), "(unprintable)");
			snprintf(param, sizeof(param), "%s%s%s", prefix ? prefix : "",
			    prefix ? "." : "", key);
			json_err(err, "parameter_unknown", param, "unknown parameter: %s", param);
			return -1;
		}
		/* Duplicate keys: cJSON keeps both and lookups find the first. Refuse. */
		for (const cJSON *o = item->next; o != NULL; o = o->next) {
			if (o->string != NULL && strcmp(o->string, item->string) == 0) {
				snprintf(param, sizeof(param), "%s%s%s", prefix ? prefix : "",
				    prefix ? "." : "", item->string);
				json_err(err, "parameter_duplicate", param,
				    "%s is given more than once", param);
				return -1;
			}
		}
	}
	for (const struct field *f = fields; f->name != NULL; f++) {
		snprintf(param, sizeof(param), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
		    f->name);
		item = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (item == NULL) {
			if (f->required) {
				json_err(err, "parameter_missing", param,
				    "missing required parameter: %s", param);
				return -1;
			}
			continue;
		}
		if (cJSON_IsNull(item)) {
			if (f->nullable && !f->required)
				continue;
			json_err(err, "parameter_invalid", param, "%s must not be null", param);
			return -1;
		}
		switch (f->type) {
		case FT_STRING:
			if (!cJSON_IsString(item))
				goto wrong_type;
			if (validate_string(item->valuestring, f, param, err) != 0)
				return -1;
			if (f->required && item->valuestring[0] == '\0') {
				json_err(err, "parameter_missing", param, "%s must not be empty",
				    param);
				return -1;
			}
			break;
		case FT_INT: {
			double d;
			if (!cJSON_IsNumber(item))
				goto wrong_type;
			d = item->valuedouble;
			/* Range first: converting a double outside int64_t's range is undefined.
			 * (NaN fails both comparisons.) */
			if (!(d >= -9.0e15 && d <= 9.0e15) || d != (double)(int64_t)d)
				goto wrong_type;
			if ((int64_t)d < f->min || (int64_t)d > f->max) {
				json_err(err, "parameter_invalid", param,
				    "%s must be between %lld and %lld", param, (long long)f->min,
				    (long long)f->max);
				return -1;
			}
			break;
		}
		case FT_BOOL:
			if (!cJSON_IsBool(item))
				goto wrong_type;
			break;
		case FT_OBJECT:
			if (!cJSON_IsObject(item))
				goto wrong_type;
			if (json_validate(item, f->fields, param, err) != 0)
				return -1;
			break;
		case FT_LIST: {
			const cJSON *el;
			int count = 0;
			struct field ef = { .name = "", .type = FT_STRING, .max_len = f->max_len,
			    .check = f->check };

			if (!cJSON_IsArray(item))
				goto wrong_type;
			cJSON_ArrayForEach(el, item) {
				if (!cJSON_IsString(el) || ++count > 50) {
					json_err(err, "parameter_invalid", param,
					    "%s must be an array of 1 to 50 strings", param);
					return -1;
				}
				if (validate_string(el->valuestring, &ef, param, err) != 0)
					return -1;
			}
			if (count == 0) {
				json_err(err, "parameter_invalid", param, "%s must not be empty", param);
				return -1;
			}
			break;
		}
		case FT_OBJLIST: {
			const cJSON *el;
			int count = 0, max = f->max ? (int)f->max : 50;

			if (!cJSON_IsArray(item))
				goto wrong_type;
			cJSON_ArrayForEach(el, item) {
				char sub[160];

				snprintf(sub, sizeof(sub), "%s[%d]", param, count);
				if (++count > max) {
					json_err(err, "parameter_invalid", param,
					    "%s takes at most %d items", param, max);
					return -1;
				}
				if (!cJSON_IsObject(el)) {
					json_err(err, "parameter_invalid", sub, "%s must be an object",
					    sub);
					return -1;
				}
				if (json_validate(el, f->fields, sub, err) != 0)
					return -1;
			}
			break;
		}
		case FT_MAP: {
			const cJSON *kv;
			int count = 0;
			struct field vf = { .name = "", .type = FT_STRING,
			    .max_len = f->max_len ? f->max_len : 500 };

			if (!cJSON_IsObject(item))
				goto wrong_type;
			cJSON_ArrayForEach(kv, item) {
				char sub[192];

				snprintf(sub, sizeof(sub), "%s.%.40s", param, kv->string);
				if (++count > 50 || strlen(kv->string) > 40 ||
				    !json_utf8_valid(kv->string, strlen(kv->string)) ||
				    check_text(kv->string, false) != NULL || kv->string[0] == '\0') {
					json_err(err, "parameter_invalid", param,
					    "%s takes at most 50 keys of 1 to 40 printable characters",
					    param);
					return -1;
				}
				for (const cJSON *o = kv->next; o != NULL; o = o->next) {
					if (strcmp(o->string, kv->string) == 0) {
						json_err(err, "parameter_duplicate", sub,
						    "%s is given more than once", sub);
						return -1;
					}
				}
				if (!cJSON_IsString(kv)) {
					json_err(err, "parameter_invalid", sub,
					    "%s must be a string", sub);
					return -1;
				}
				if (validate_string(kv->valuestring, &vf, sub, err) != 0)
					return -1;
			}
			break;
		}
		}
		continue;
wrong_type:
		snprintf(err->code, sizeof(err->code), "parameter_invalid");
		snprintf(err->param, sizeof(err->param), "%s", param);
		snprintf(err->message, sizeof(err->message), "%s must be %s", param,
		    type_name(f->type));
		return -1;
	}
	return 0;
}

const char *
json_str(const cJSON *obj, const char *name)
{
	const cJSON *i = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

	return cJSON_IsString(i) ? i->valuestring : NULL;
}

bool
json_has(const cJSON *obj, const char *name)
{
	return obj != NULL && cJSON_GetObjectItemCaseSensitive(obj, name) != NULL;
}

int64_t
json_int(const cJSON *obj, const char *name, int64_t dflt)
{
	const cJSON *i = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

	if (!cJSON_IsNumber(i) || !(i->valuedouble >= -9.0e15 && i->valuedouble <= 9.0e15))
		return dflt;
	return (int64_t)i->valuedouble;
}

const char *
check_id(const char *v)
{
	size_t n = 0;

	for (; v[n] != '\0'; n++) {
		char c = v[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return "may hold only letters, digits, '_' and '-'";
	}
	if (n == 0 || n > 64)
		return "must be 1 to 64 characters long";
	return NULL;
}

const char *
check_email(const char *v)
{
	const char *at = strchr(v, '@');

	if (v[0] == '\0')
		return NULL;	/* empty clears the address */
	if (at == NULL || at == v || strchr(at + 1, '@') != NULL || at[1] == '\0' ||
	    strchr(at + 1, '.') == NULL || strlen(v) > 254)
		return "is not a valid email address";
	for (const char *p = v; *p != '\0'; p++)
		if (*p == ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';' ||
		    *p == '"' || *p == '\\')
			return "is not a valid email address";
	return NULL;
}

const char *
check_http_url(const char *v)
{
	const char *host;

	if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		return "must be an absolute http:// or https:// URL";
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return "must name a host";
	for (const char *p = v; *p != '\0'; p++)
		if (*p == ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\' ||
		    (unsigned char)*p < 0x21)
			return "must not contain spaces, quotes or angle brackets";
	return NULL;
}

size_t
url_origin_len(const char *v)
{
	const char *host = strstr(v, "://");

	if (host == NULL)
		return 0;
	host += 3;
	return (size_t)(host - v) + strcspn(host, "/?#");
}

const char *
check_url_origin(const char *v, const char *origins)
{
	const char *why, *o;
	size_t n;

	if ((why = check_http_url(v)) != NULL)
		return why;
	n = url_origin_len(v);
	for (o = origins; *o != '\0'; ) {
		size_t k;

		o += strspn(o, " ");
		k = strcspn(o, " ");
		if (k > 0 && k == n && strncmp(o, v, n) == 0)
			return NULL;
		o += k;
	}
	return "is not on one of the allowed origins";
}

const char *
check_country(const char *v)
{
	if (v[0] == '\0')
		return NULL;
	if (strlen(v) != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z')
		return "must be an ISO 3166-1 alpha-2 code such as \"US\"";
	return NULL;
}

bool
check_luhn(const char *s, size_t n)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		int d = s[n - 1 - i] - '0';

		if (d < 0 || d > 9)
			return false;
		if (i % 2 == 1 && (d *= 2) > 9)
			d -= 9;
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

/* ---- writer ---- */

void
jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->need_comma[0] = false;
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t
utf8_seq_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	else if ((s[0] & 0xE0) == 0xC0)
		n = 2;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4;
	else
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xC0) != 0x80)	/* also stops at the NUL */
			return 0;
	return json_utf8_valid((const char *)s, n) ? n : 0;
}

/* Every string the writer emits is valid UTF-8, whatever it was given: a byte that does
 * not start a well-formed sequence becomes U+FFFD, so no client fails to parse an
 * answer that echoes bad input. */
void
json_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n = 2;

		if (c >= 0x80) {
			size_t k = utf8_seq_len((const unsigned char *)s);

			if (k > 0) {
				s += k - 1;
				continue;
			}
			buf_append(b, run, (size_t)(s - run));
			buf_puts(b, "\xef\xbf\xbd");
			run = s + 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>')
			continue;
		buf_append(b, run, (size_t)(s - run));
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:	/* controls, and < > so JSON is safe inside HTML */
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			n = 6;
		}
		buf_append(b, esc, n);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_putc(b, '"');
}

static void
jw_key(struct jw *w, const char *key)
{
	if (w->need_comma[w->depth])
		buf_putc(w->b, ',');
	w->need_comma[w->depth] = true;
	if (key != NULL) {
		json_escape(w->b, key);
		buf_putc(w->b, ':');
	}
}

void
jw_obj_begin(struct jw *w, const char *key)
{
	jw_key(w, key);
	buf_putc(w->b, '{');
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
}

void
jw_obj_end(struct jw *w)
{
	buf_putc(w->b, '}');
	if (w->depth > 0)
		w->depth--;
}

void
jw_arr_begin(struct jw *w, const char *key)
{
	jw_key(w, key);
	buf_putc(w->b, '[');
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
}

void
jw_arr_end(struct jw *w)
{
	buf_putc(w->b, ']');
	if (w->depth > 0)
		w->depth--;
}

void
jw_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	if (v == NULL)
		buf_puts(w->b, "null");
	else
		json_escape(w->b, v);
}

void
jw_int(struct jw *w, const char *key, long long v)
{
	jw_key(w, key);
	buf_printf(w->b, "%lld", v);
}

void
jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w, const char *key)
{
	jw_key(w, key);
	buf_puts(w->b, "null");
}

void
jw_raw(struct jw *w, const char *key, const char *json)
{
	jw_key(w, key);
	buf_puts(w->b, json && *json ? json : "null");
}

void
jw_int_text(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	buf_puts(w->b, v && *v ? v : "null");
}
