/* password_policy.c: length, UTF-8, the common-password list, and not the email or name. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/embedded.h"
#include "core/password_policy.h"

#define COMMON_LIST	"data/common-passwords.txt"

/* The list's entries: after its leading '#' lines, up to the end of the text. */
static const char *common_body, *common_end;

static void
common_load(void)
{
	const char *p;

	if (common_body != NULL)
		return;
	/* The build embeds the list (Makefile.am); a binary without it is broken, and
	 * must not go on accepting every password. */
	if ((p = embedded_get(COMMON_LIST)) == NULL)
		abort();
	while (*p == '#') {
		const char *nl = strchr(p, '\n');

		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	common_body = p;
	common_end = p + strlen(p);
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Compares key (k bytes) with the line [l, l + n) as strcmp would. */
static int
linecmp(const char *key, size_t k, const char *l, size_t n)
{
	int c = memcmp(key, l, k < n ? k : n);

	if (c != 0)
		return c;
	return k < n ? -1 : k > n ? 1 : 0;
}

bool
password_policy_is_common(const char *pw)
{
	char key[PASSWORD_MAX_BYTES + 1];
	const char *lo, *hi;
	size_t k = strlen(pw);

	if (k == 0 || k > PASSWORD_MAX_BYTES)
		return false;
	for (size_t i = 0; i < k; i++)
		key[i] = lower(pw[i]);
	common_load();
	/* Binary search over the sorted lines, in place: no index to build per worker. */
	lo = common_body;
	hi = common_end;
	while (lo < hi) {
		const char *mid = lo + (hi - lo) / 2, *e;
		int c;

		while (mid > lo && mid[-1] != '\n')
			mid--;
		if ((e = memchr(mid, '\n', (size_t)(hi - mid))) == NULL)
			e = hi;
		if ((c = linecmp(key, k, mid, (size_t)(e - mid))) == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = e + 1;
	}
	return false;
}

/* Code points in s, or -1 when s is not valid UTF-8 (overlong forms, surrogates and
 * values above U+10FFFF included). */
static long
utf8_chars(const unsigned char *s)
{
	long n = 0;

	while (*s != '\0') {
		unsigned cp;
		int k;

		if (s[0] < 0x80)
			k = 1, cp = s[0];
		else if (s[0] >= 0xc2 && s[0] <= 0xdf)
			k = 2, cp = s[0] & 0x1f;
		else if (s[0] >= 0xe0 && s[0] <= 0xef)
			k = 3, cp = s[0] & 0x0f;
		else if (s[0] >= 0xf0 && s[0] <= 0xf4)
			k = 4, cp = s[0] & 0x07;
		else
			return -1;
		for (int i = 1; i < k; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		s += k;
		n++;
	}
	return n;
}

/* a and b equal ignoring ASCII case and, when skip_spaces, spaces in either. */
static bool
same_text(const char *a, const char *b, bool skip_spaces)
{
	for (;;) {
		if (skip_spaces) {
			while (*a == ' ')
				a++;
			while (*b == ' ')
				b++;
		}
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if (lower(*a) != lower(*b))
			return false;
		a++;
		b++;
	}
}

/* pw equals the first n bytes of s, ignoring ASCII case. */
static bool
same_prefix(const char *pw, const char *s, size_t n)
{
	if (strlen(pw) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(pw[i]) != lower(s[i]))
			return false;
	return true;
}

const char *
password_policy_check(const char *pw, const char *email, const char *name)
{
	const char *at;
	long chars;

	if (pw == NULL || pw[0] == '\0')
		return "Enter a password.";
	if (strlen(pw) > PASSWORD_MAX_BYTES)
		return "Use a password of at most 256 bytes.";
	if ((chars = utf8_chars((const unsigned char *)pw)) < 0)
		return "The password is not valid UTF-8 text.";
	if (chars < PASSWORD_MIN_CHARS)
		return "Use at least 12 characters.";
	if (password_policy_is_common(pw))
		return "This password is on a list of commonly used passwords; choose another.";
	if (email != NULL && email[0] != '\0') {
		if (same_text(pw, email, false))
			return "Do not use your email address as your password.";
		if ((at = strrchr(email, '@')) != NULL && at > email &&
		    same_prefix(pw, email, (size_t)(at - email)))
			return "Do not use your email address as your password.";
	}
	if (name != NULL && name[strspn(name, " ")] != '\0' && same_text(pw, name, true))
		return "Do not use your name as your password.";
	return NULL;
}
