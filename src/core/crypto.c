/* crypto.c: tokens from RAND_bytes, SHA-256 and HMAC-SHA256, constant-time compare. */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/crypto.h"

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
crypto_b64url(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	size_t i;

	if (outlen < (n * 4 + 2) / 3 + 1)
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
		out[o++] = b64url_chars[v >> 6 & 63];
		out[o++] = b64url_chars[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
		out[o++] = b64url_chars[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

long
crypto_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p = s[i] != '\0' ? strchr(b64url_chars, s[i]) : NULL;

		if (p == NULL)
			return -1;
		acc = acc << 6 | (unsigned)(p - b64url_chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, so each text decodes from one encoding only. */
	if (acc != 0)
		return -1;
	return (long)o;
}

static unsigned long random_failures;

unsigned long
crypto_random_failures(void)
{
	return random_failures;
}

int
crypto_random_bytes(void *out, size_t n)
{
	if (n > INT_MAX || RAND_bytes(out, (int)n) != 1) {
		random_failures++;
		OPENSSL_cleanse(out, n);
		return -1;
	}
	return 0;
}

int
crypto_random_b64url(size_t n, char *out, size_t outlen)
{
	unsigned char raw[64];
	int rc = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (n > sizeof(raw) || crypto_random_bytes(raw, n) != 0 ||
	    crypto_b64url(raw, n, out, outlen) == 0) {
		if (n > sizeof(raw))
			random_failures++;
		rc = -1;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

void
crypto_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
crypto_random_hex(size_t n, char *out, size_t outlen)
{
	unsigned char raw[64];

	if (outlen > 0)
		out[0] = '\0';
	if (n > sizeof(raw) || outlen < 2 * n + 1) {
		random_failures++;
		return -1;
	}
	if (crypto_random_bytes(raw, n) != 0)
		return -1;
	crypto_hex(raw, n, out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void
crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int len = CRYPTO_SHA256_LEN;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int len = CRYPTO_SHA256_LEN;

	HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len);
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool
crypto_is_b64url(const char *s, size_t maxlen)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= maxlen || strchr(b64url_chars, s[n]) == NULL)
			return false;
	}
	return n > 0;
}
