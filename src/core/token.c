/* token.c: makes, parses and hashes "<site>.<id>.<secret>" tokens. */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/token.h"

/* Splits at the dots; each part must have the shape its generator gives it. */
int
token_parse(const char *s, struct token *t)
{
	const char *d1, *d2;
	size_t n1, n2;

	if (s == NULL || strlen(s) >= TOKEN_MAX)
		return -1;
	d1 = strchr(s, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d1 == NULL || d2 == NULL)
		return -1;
	n1 = (size_t)(d1 - s);
	n2 = (size_t)(d2 - d1 - 1);
	if (n1 == 0 || n1 >= sizeof(t->site_id) || n2 == 0 || n2 >= sizeof(t->session_id))
		return -1;
	memcpy(t->site_id, s, n1);
	t->site_id[n1] = '\0';
	memcpy(t->session_id, d1 + 1, n2);
	t->session_id[n2] = '\0';
	if (strlen(d2 + 1) != CRYPTO_SECRET_B64_LEN - 1 ||
	    !crypto_is_b64url(d2 + 1, CRYPTO_SECRET_B64_LEN) ||
	    check_id(t->site_id) != NULL || check_id(t->session_id) != NULL)
		return -1;
	memcpy(t->secret, d2 + 1, CRYPTO_SECRET_B64_LEN);
	return 0;
}

void
token_hash_hex(const char *text, char hash_hex[65])
{
	unsigned char h[CRYPTO_SHA256_LEN];

	crypto_sha256(text, strlen(text), h);
	crypto_hex(h, sizeof(h), hash_hex);
}

int
token_new(const char *site_id, const char *session_id, char *text, size_t len,
    char hash_hex[65])
{
	char secret[CRYPTO_SECRET_B64_LEN];

	if (crypto_random_b64url(CRYPTO_SECRET_BYTES, secret, sizeof(secret)) != 0)
		return -1;
	snprintf(text, len, "%s.%s.%s", site_id, session_id, secret);
	token_hash_hex(text, hash_hex);
	return 0;
}
