/* tmpl.c: a small Mustache-style renderer; every value is HTML-escaped unless the template
 * asks for raw output with triple braces. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/embedded.h"
#include "core/tmpl.h"

#define TMPL_STACK 16

struct tmpl_ctx {
	const cJSON	*stack[TMPL_STACK];
	int		 depth;
	bool		 text;	/* plain text: no escaping at all */
	char		*err;
	size_t		 errlen;
};

static const cJSON *
lookup(const struct tmpl_ctx *c, const char *name, size_t n)
{
	char key[64];
	const char *dot;

	if (n == 1 && name[0] == '.')
		return c->stack[c->depth - 1];
	dot = memchr(name, '.', n);
	if (dot != NULL) {
		const cJSON *v = lookup(c, name, (size_t)(dot - name));

		while (v != NULL && dot != NULL) {
			const char *seg = dot + 1;
			size_t len;

			dot = memchr(seg, '.', n - (size_t)(seg - name));
			len = dot ? (size_t)(dot - seg) : n - (size_t)(seg - name);
			if (len >= sizeof(key) || !cJSON_IsObject(v))
				return NULL;
			memcpy(key, seg, len);
			key[len] = '\0';
			v = cJSON_GetObjectItemCaseSensitive(v, key);
		}
		return v;
	}
	if (n >= sizeof(key))
		return NULL;
	memcpy(key, name, n);
	key[n] = '\0';
	for (int i = c->depth - 1; i >= 0; i--) {
		const cJSON *v;

		if (!cJSON_IsObject(c->stack[i]))
			continue;
		v = cJSON_GetObjectItemCaseSensitive(c->stack[i], key);
		if (v != NULL)
			return v;
	}
	return NULL;
}

static bool
truthy(const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return false;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsArray(v))
		return cJSON_GetArraySize(v) > 0;
	return true;
}

static void
put_value(struct buf *out, const cJSON *v, bool raw)
{
	char num[32];
	const char *s;

	if (v == NULL || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return;
	if (cJSON_IsString(v))
		s = v->valuestring;
	else if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%lld", v->valuedouble >= -9.0e15 &&
		    v->valuedouble <= 9.0e15 ? (long long)v->valuedouble : 0LL);
		s = num;
	} else if (cJSON_IsTrue(v))
		s = "true";
	else
		return;
	if (raw)
		buf_puts(out, s);
	else
		buf_put_html(out, s);
}

/* Finds the {{/name}} that closes a section opened before p, honouring nesting. */
static const char *
find_close(const char *p, const char *end, const char *name, size_t n, const char **after)
{
	int level = 1;

	while ((p = strstr(p, "{{")) != NULL && p < end) {
		const char *q = p + 2;
		const char *close = strstr(q, "}}");
		char kind;

		if (close == NULL)
			return NULL;
		kind = *q;
		if (kind == '#' || kind == '^' || kind == '/') {
			const char *nm = q + 1;
			size_t len;

			while (*nm == ' ')
				nm++;
			len = (size_t)(close - nm);
			while (len > 0 && nm[len - 1] == ' ')
				len--;
			if (len == n && memcmp(nm, name, n) == 0) {
				if (kind == '/' && --level == 0) {
					*after = close + 2;
					return p;
				} else if (kind != '/')
					level++;
			}
		}
		p = close + 2;
	}
	return NULL;
}

static int
render(struct tmpl_ctx *c, const char *p, const char *end, struct buf *out)
{
	while (p < end) {
		const char *open = strstr(p, "{{");
		const char *q, *close, *name;
		size_t n;
		bool raw = false;
		char kind;

		if (open == NULL || open >= end) {
			buf_append(out, p, (size_t)(end - p));
			return 0;
		}
		buf_append(out, p, (size_t)(open - p));
		q = open + 2;
		if (*q == '{') {
			raw = true;
			q++;
			close = strstr(q, "}}}");
		} else
			close = strstr(q, "}}");
		if (close == NULL || close >= end) {
			snprintf(c->err, c->errlen, "unclosed tag");
			return -1;
		}
		kind = *q;
		if (kind == '#' || kind == '^' || kind == '/' || kind == '!')
			q++;
		name = q;
		while (*name == ' ')
			name++;
		n = (size_t)(close - name);
		while (n > 0 && name[n - 1] == ' ')
			n--;
		p = close + (raw ? 3 : 2);
		if (kind == '!')
			continue;
		if (kind == '/') {
			snprintf(c->err, c->errlen, "unexpected {{/%.*s}}", (int)n, name);
			return -1;
		}
		if (!raw && (kind == '#' || kind == '^')) {
			const char *after, *inner_end;
			const cJSON *v = lookup(c, name, n);

			inner_end = find_close(p, end, name, n, &after);
			if (inner_end == NULL) {
				snprintf(c->err, c->errlen, "section %.*s is not closed", (int)n, name);
				return -1;
			}
			if (kind == '^') {
				if (!truthy(v) && render(c, p, inner_end, out) != 0)
					return -1;
			} else if (cJSON_IsArray(v)) {
				const cJSON *item;

				cJSON_ArrayForEach(item, v) {
					if (c->depth == TMPL_STACK) {
						snprintf(c->err, c->errlen, "sections nested too deep");
						return -1;
					}
					c->stack[c->depth++] = item;
					if (render(c, p, inner_end, out) != 0)
						return -1;
					c->depth--;
				}
			} else if (truthy(v)) {
				if (c->depth == TMPL_STACK) {
					snprintf(c->err, c->errlen, "sections nested too deep");
					return -1;
				}
				c->stack[c->depth++] = v;
				if (render(c, p, inner_end, out) != 0)
					return -1;
				c->depth--;
			}
			p = after;
			continue;
		}
		put_value(out, lookup(c, name, n), raw || c->text);
	}
	return 0;
}

int
tmpl_render(const char *tpl, const cJSON *data, struct buf *out, char *err, size_t errlen)
{
	struct tmpl_ctx c = { .depth = 1, .err = err, .errlen = errlen };

	c.stack[0] = data;
	return render(&c, tpl, tpl + strlen(tpl), out);
}

int
tmpl_render_text(const char *tpl, const cJSON *data, struct buf *out, char *err,
    size_t errlen)
{
	struct tmpl_ctx c = { .depth = 1, .text = true, .err = err, .errlen = errlen };

	c.stack[0] = data;
	return render(&c, tpl, tpl + strlen(tpl), out);
}

int
tmpl_render_file(const char *path, const cJSON *data, struct buf *out, char *err,
    size_t errlen)
{
	const char *tpl = embedded_get(path);

	if (tpl == NULL) {
		snprintf(err, errlen, "no template %s", path);
		return -1;
	}
	return tmpl_render(tpl, data, out, err, errlen);
}
