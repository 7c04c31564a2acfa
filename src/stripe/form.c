/* form.c: builds Stripe's form-encoded parameters (nested keys, indexed lists) and encodes
 * them as stripe-node does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "stripe/form.h"

struct pair {
	char	*key;
	char	*value;
};

struct stripe_form {
	struct pair	*pairs;
	size_t		 n;
	size_t		 cap;
};

struct stripe_form *
stripe_form_new(void)
{
	struct stripe_form *f = calloc(1, sizeof(*f));

	if (f == NULL)
		abort();
	return f;
}

void
stripe_form_free(struct stripe_form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->pairs[i].key);
		free(f->pairs[i].value);
	}
	free(f->pairs);
	free(f);
}

/* A name without brackets, then any number of "[part]" with no bracket inside a part. */
bool
stripe_form_key_valid(const char *key)
{
	const char *p = key;

	if (key == NULL || *key == '\0' || *key == '[' || *key == ']')
		return false;
	while (*p != '\0' && *p != '[') {
		if (*p == ']')
			return false;
		p++;
	}
	while (*p != '\0') {
		if (*p != '[')
			return false;	/* text after a closing bracket: "a[b]c" */
		p++;
		while (*p != '\0' && *p != ']') {
			if (*p == '[')
				return false;
			p++;
		}
		if (*p != ']')
			return false;
		p++;
	}
	return json_utf8_valid(key, strlen(key));
}

static int
form_append(struct stripe_form *f, const char *key, size_t keylen, const char *value)
{
	struct pair *p;

	if (f->n >= STRIPE_FORM_MAX_PAIRS)
		return -1;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;

		p = realloc(f->pairs, cap * sizeof(*p));
		if (p == NULL)
			abort();
		f->pairs = p;
		f->cap = cap;
	}
	p = &f->pairs[f->n];
	p->key = strndup(key, keylen);
	p->value = strdup(value);
	if (p->key == NULL || p->value == NULL)
		abort();
	f->n++;
	return 0;
}

int
stripe_form_add(struct stripe_form *f, const char *key, const char *value)
{
	if (f == NULL || value == NULL || !stripe_form_key_valid(key) ||
	    !json_utf8_valid(value, strlen(value)))
		return -1;
	return form_append(f, key, strlen(key), value);
}

int
stripe_form_add_int(struct stripe_form *f, const char *key, long long value)
{
	char num[24];

	return stripe_form_add(f, key, buf_lltoa(value, num));
}

int
stripe_form_add_bool(struct stripe_form *f, const char *key, bool value)
{
	return stripe_form_add(f, key, value ? "true" : "false");
}

int
stripe_form_add_sub(struct stripe_form *f, const char *key, const char *sub, const char *value)
{
	struct buf k;
	int rc;

	if (key == NULL || sub == NULL || *sub == '\0' || strpbrk(sub, "[]") != NULL)
		return -1;
	buf_init(&k);
	buf_printf(&k, "%s[%s]", key, sub);
	rc = stripe_form_add(f, k.data, value);
	buf_free(&k);
	return rc;
}

int
stripe_form_push(struct stripe_form *f, const char *key, const char *value)
{
	size_t keylen, next = 0;
	struct buf k;
	int rc;

	if (f == NULL || !stripe_form_key_valid(key))
		return -1;
	keylen = strlen(key);
	/* The next index is one past the count of key[N] pairs already in the form. */
	for (size_t i = 0; i < f->n; i++) {
		const char *k2 = f->pairs[i].key;
		size_t j;

		if (strncmp(k2, key, keylen) != 0 || k2[keylen] != '[')
			continue;
		for (j = keylen + 1; k2[j] >= '0' && k2[j] <= '9'; j++)
			;
		if (j > keylen + 1 && k2[j] == ']' && k2[j + 1] == '\0')
			next++;
	}
	buf_init(&k);
	buf_printf(&k, "%s[%zu]", key, next);
	rc = stripe_form_add(f, k.data, value);
	buf_free(&k);
	return rc;
}

size_t
stripe_form_count(const struct stripe_form *f)
{
	return f == NULL ? 0 : f->n;
}

/* encodeURIComponent, then '!*'()' encoded as qs does, then %5B and %5D put back. */
void
stripe_form_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned char c = *p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || c == '[' || c == ']') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

void
stripe_form_encode(const struct stripe_form *f, struct buf *out)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		if (i > 0)
			buf_putc(out, '&');
		stripe_form_escape(out, f->pairs[i].key);
		buf_putc(out, '=');
		stripe_form_escape(out, f->pairs[i].value);
	}
}
