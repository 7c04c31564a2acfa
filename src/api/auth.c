/* auth.c: API keys: "sk_test_<16 hex id>_<43 base64url secret>", stored as SHA-256, looked
 * up by id and compared in constant time; accepted as Bearer or as a Basic user name.
 * What the lookup returns is kept per worker for at most a second, so a read costs one
 * query, not two. The cache is dropped when a key changes (NOTIFY on
 * DB_CHANNEL_API_KEYS) and on every reconnect; a key's expiry is checked on every use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "api/auth.h"
#include "core/crypto.h"
#include "core/log.h"

#define CACHE_SLOTS	64
#define CACHE_TTL_MS	1000	/* a revoked key is refused everywhere within this */

struct cache_entry {
	char		 id[AUTH_KEY_ID_LEN + 1];	/* "" = empty slot */
	char		 site[48];
	char		 mode[8];
	char		 hash[65];	/* hex SHA-256 of the whole key, as stored */
	long long	 expires_at;	/* real time; 0 = current key */
	double		 fetched;	/* monotonic ms */
	unsigned	 generation;	/* of the connection it was read on */
};

static struct cache_entry cache[CACHE_SLOTS];

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

void
auth_cache_flush(void)
{
	memset(cache, 0, sizeof(cache));
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The slot of id: a hash of the hex id picks it; a collision simply replaces. */
static struct cache_entry *
cache_slot(const char *id)
{
	unsigned h = 2166136261u;

	for (const char *p = id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &cache[h % CACHE_SLOTS];
}

/* Fills e from the database; 0 found, 1 no such key, -1 database error. */
static int
cache_fill(struct ctx *c, struct cache_entry *e, const char *id)
{
	const char *params[1] = { id };
	const char *v;
	PGresult *res;

	res = db_exec(c->db, STMT_APIKEY_LOOKUP, params);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || (v = db_val(res, 0, 1)) == NULL || strlen(v) != 64) {
		PQclear(res);
		return 1;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->site, sizeof(e->site), "%s", db_val(res, 0, 0));
	snprintf(e->mode, sizeof(e->mode), "%s", db_val(res, 0, 3));
	memcpy(e->hash, v, 65);
	e->expires_at = db_ll(res, 0, 2, 0);
	e->fetched = mono_ms();
	e->generation = c->db->generation;
	PQclear(res);
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
	static const char nohash[65] =
	    "----------------------------------------------------------------";
	char key[AUTH_KEY_MAX + 1];
	struct api_key_parts parts;
	unsigned char h[CRYPTO_SHA256_LEN];
	char hex[65];
	struct cache_entry *e, miss;
	int found = 0;

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
	/* Key changes announced since the last request: forget every cached key. */
	if (db_notified(c->db) > 0)
		auth_cache_flush();
	e = cache_slot(parts.id);
	if (strcmp(e->id, parts.id) != 0 || e->generation != c->db->generation ||
	    mono_ms() - e->fetched >= CACHE_TTL_MS) {
		found = cache_fill(c, e, parts.id);
		if (found < 0) {
			api_db_error(c);
			return -1;
		}
		if (found > 0) {
			/* Unknown ids are not cached: they would push out the keys in use. */
			memset(&miss, 0, sizeof(miss));
			e = &miss;
		}
	}
	crypto_sha256(key, strlen(key), h);
	crypto_hex(h, sizeof(h), hex);
	/* Compare even when nothing was found, so timing does not tell ids apart. */
	if (!crypto_equal(hex, found == 0 ? e->hash : nohash, 64) || found != 0 ||
	    strcmp(e->mode, parts.mode) != 0) {
		unauthorized(c, "api_key_invalid", "The API key is not valid.");
		return -1;
	}
	if (e->expires_at != 0 && e->expires_at <= (long long)time(NULL)) {
		unauthorized(c, "api_key_expired", "The API key was rotated and its grace "
		    "period is over. Use the current key.");
		return -1;
	}
	snprintf(c->site.id, sizeof(c->site.id), "%s", e->site);
	snprintf(c->site.mode, sizeof(c->site.mode), "%s", e->mode);
	c->site.clock_offset = 0;
	/* Only test sites move their clock, and a travel must show at once: read it. (A
	 * live site's offset is 0 by a CHECK constraint.) */
	if (strcmp(e->mode, "test") == 0) {
		const char *params[1] = { e->site };
		PGresult *res = db_exec(c->db, STMT_SITE_CLOCK, params);

		if (res == NULL) {
			api_db_error(c);
			return -1;
		}
		if (PQntuples(res) != 1) {	/* the site went away a moment ago */
			PQclear(res);
			unauthorized(c, "api_key_invalid", "The API key is not valid.");
			return -1;
		}
		c->site.clock_offset = db_ll(res, 0, 0, 0);
		PQclear(res);
	}
	c->now = (long long)time(NULL) + c->site.clock_offset;
	snprintf(c->key_id, sizeof(c->key_id), "key_%s", parts.id);
	return 0;
}
