/* auth.c: API keys: "sk_test_<16 hex id>_<43 base64url secret>", stored as SHA-256, looked
 * up by id and compared in constant time; accepted as Bearer or as a Basic user name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "api/auth.h"
#include "core/crypto.h"
#include "core/log.h"

int
auth_parse_key(const char *key, struct api_key_parts *out)
{
	const char *p;
	size_t n = strlen(key);

	if (n > AUTH_KEY_MAX)
		return -1;
	if (strncmp(key, "sk_test_", 8) == 0)
		snprintf(out->mode, sizeof(out->mode), "test");
	else if (strncmp(key, "sk_live_", 8) == 0)
		snprintf(out->mode, sizeof(out->mode), "live");
	else
		return -1;
	p = key + 8;
	for (int i = 0; i < AUTH_KEY_ID_LEN; i++) {
		char ch = p[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
	}
	if (p[AUTH_KEY_ID_LEN] != '_' ||
	    !crypto_is_b64url(p + AUTH_KEY_ID_LEN + 1, CRYPTO_SECRET_B64_LEN))
		return -1;
	memcpy(out->id, p, AUTH_KEY_ID_LEN);
	out->id[AUTH_KEY_ID_LEN] = '\0';
	return 0;
}

int
auth_key_from_header(const char *header, char *key, size_t keylen)
{
	if (header == NULL)
		return -1;
	if (strncasecmp(header, "Bearer ", 7) == 0) {
		const char *k = header + 7;

		while (*k == ' ')
			k++;
		if (strlen(k) >= keylen)
			return -1;
		snprintf(key, keylen, "%s", k);
		return 0;
	}
	if (strncasecmp(header, "Basic ", 6) == 0) {
		const char *b64 = header + 6;
		unsigned char dec[3 * AUTH_KEY_MAX / 2 + 4];
		size_t n;
		int len, pad = 0;
		char *colon;

		while (*b64 == ' ')
			b64++;
		n = strlen(b64);
		if (n == 0 || n > 2 * AUTH_KEY_MAX || n % 4 != 0)
			return -1;
		/* At most two '=' of padding, and only at the end. */
		while (pad < (int)n && b64[n - 1 - (size_t)pad] == '=')
			pad++;
		if (pad > 2 || memchr(b64, '=', n - (size_t)pad) != NULL)
			return -1;
		len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
		/* EVP_DecodeBlock counts padding as decoded zero bytes: drop them. */
		if (len < 0 || len - pad <= 0)
			return -1;
		len -= pad;
		dec[len] = '\0';
		if (memchr(dec, '\0', (size_t)len) != NULL)
			return -1;
		colon = strchr((char *)dec, ':');
		if (colon != NULL)
			*colon = '\0';	/* the key is the user name; a password is ignored */
		if (strlen((char *)dec) >= keylen)
			return -1;
		snprintf(key, keylen, "%s", (char *)dec);
		return 0;
	}
	return -1;
}

int
auth_new_key(const char *mode, char *key, size_t keylen, char id[AUTH_KEY_ID_LEN + 1],
    char hash_hex[65])
{
	char secret[CRYPTO_SECRET_B64_LEN];
	unsigned char h[CRYPTO_SHA256_LEN];

	if (crypto_random_hex(AUTH_KEY_ID_LEN / 2, id, AUTH_KEY_ID_LEN + 1) != 0 ||
	    crypto_random_b64url(CRYPTO_SECRET_BYTES, secret, sizeof(secret)) != 0)
		return -1;
	snprintf(key, keylen, "sk_%s_%s_%s", mode, id, secret);
	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, sizeof(h), hash_hex);
	return 0;
}

static void
unauthorized(struct ctx *c, const char *code, const char *msg)
{
	http_header(c->resp, "WWW-Authenticate", "Bearer realm=\"portald\"");
	api_error(c, 401, "authentication_error", code, NULL, "%s", msg);
}

int
auth_api_request(struct ctx *c)
{
	char key[AUTH_KEY_MAX + 1];
	struct api_key_parts parts;
	unsigned char h[CRYPTO_SHA256_LEN];
	char hex[65];
	const char *params[1];
	const char *stored, *expires;
	PGresult *res;

	if (c->req->authorization == NULL || *c->req->authorization == '\0') {
		unauthorized(c, "api_key_missing", "No API key given. Send "
		    "'Authorization: Bearer sk_...' or use the key as the Basic user name.");
		return -1;
	}
	if (auth_key_from_header(c->req->authorization, key, sizeof(key)) != 0 ||
	    auth_parse_key(key, &parts) != 0) {
		unauthorized(c, "api_key_invalid", "The API key is not valid.");
		return -1;
	}
	params[0] = parts.id;
	res = db_exec(c->db, STMT_APIKEY_LOOKUP, params);
	if (res == NULL) {
		api_db_error(c);
		return -1;
	}
	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, sizeof(h), hex);
	stored = PQntuples(res) == 1 ? db_val(res, 0, 1) : NULL;
	/* Compare even when nothing was found, so timing does not tell ids apart. */
	if (!crypto_equal(hex, stored && strlen(stored) == 64 ? stored : "----------------"
	    "------------------------------------------------", 64) || stored == NULL ||
	    strcmp(db_val(res, 0, 3), parts.mode) != 0) {
		PQclear(res);
		unauthorized(c, "api_key_invalid", "The API key is not valid.");
		return -1;
	}
	expires = db_val(res, 0, 2);
	if (expires != NULL && strtoll(expires, NULL, 10) <= (long long)time(NULL)) {
		PQclear(res);
		unauthorized(c, "api_key_expired", "The API key was rotated and its grace "
		    "period is over. Use the current key.");
		return -1;
	}
	snprintf(c->site.id, sizeof(c->site.id), "%s", db_val(res, 0, 0));
	snprintf(c->site.mode, sizeof(c->site.mode), "%s", db_val(res, 0, 3));
	c->site.clock_offset = db_ll(res, 0, 4, 0);
	c->now = (long long)time(NULL) + c->site.clock_offset;
	snprintf(c->key_id, sizeof(c->key_id), "key_%s", parts.id);
	PQclear(res);
	return 0;
}
