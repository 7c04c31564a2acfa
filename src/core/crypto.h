/* crypto.h: random tokens, SHA-256, HMAC and constant-time comparison (OpenSSL). */
#ifndef PORTALD_CRYPTO_H
#define PORTALD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SECRET_BYTES	32	/* 256 random bits in every token */
/* base64url of CRYPTO_SECRET_BYTES without padding, plus NUL */
#define CRYPTO_SECRET_B64_LEN	44

/* Randomness can fail (no entropy source, a broken provider). Every caller must check:
 * on failure these return -1, leave out as "" (never uninitialised bytes) and count the
 * failure, so a request that ignored one can still be refused as a whole
 * (crypto_random_failures). */
/* Fills out with n random bytes encoded base64url (no padding). out needs 4*n/3+2 bytes. */
int	crypto_random_b64url(size_t n, char *out, size_t outlen)
	    __attribute__((warn_unused_result));
/* Fills out with n random bytes as lowercase hex. out needs 2*n+1 bytes. */
int	crypto_random_hex(size_t n, char *out, size_t outlen)
	    __attribute__((warn_unused_result));
/* Fills out with n random bytes. */
int	crypto_random_bytes(void *out, size_t n) __attribute__((warn_unused_result));
/* How many times randomness failed in this process so far. */
unsigned long crypto_random_failures(void);
void	crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN]);
void	crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
	    unsigned char out[CRYPTO_SHA256_LEN]);
void	crypto_hex(const unsigned char *p, size_t n, char *out);
size_t	crypto_b64url(const unsigned char *p, size_t n, char *out, size_t outlen);
/* Decodes unpadded base64url text (n chars) into out; returns the byte count, or -1 for
 * a character outside the alphabet, an impossible length or too small an out. */
long	crypto_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outlen);
/* Constant-time equality of two equal-length byte strings. */
bool	crypto_equal(const void *a, const void *b, size_t n);
/* true when s is non-empty and made only of base64url characters. */
bool	crypto_is_b64url(const char *s, size_t maxlen);

#endif
