/* auth.h: merchant API keys (issue, parse, verify) and the Authorization header. */
#ifndef PORTALD_AUTH_H
#define PORTALD_AUTH_H

#include <stddef.h>

#include "api/api.h"

#define AUTH_KEY_ID_LEN	16	/* hex characters of the public key id */
#define AUTH_KEY_MAX	96

struct api_key_parts {
	char	mode[8];			/* "test" or "live" */
	char	id[AUTH_KEY_ID_LEN + 1];	/* the lookup id */
};

/* Splits "sk_<mode>_<id>_<secret>"; -1 when the shape is wrong. */
int	auth_parse_key(const char *key, struct api_key_parts *out);
/* Extracts the key from "Bearer KEY" or "Basic base64(KEY:)"; -1 when absent/garbled. */
int	auth_key_from_header(const char *header, char *key, size_t keylen);
/* Makes a new key for a site: fills key (shown once), id and hex SHA-256 of the key. */
int	auth_new_key(const char *mode, char *key, size_t keylen, char id[AUTH_KEY_ID_LEN + 1],
	    char hash_hex[65]);
/* Authenticates the request; fills c->site and c->now, or answers 401/503 and returns -1.
 * Verified keys are cached per process for at most a second (see auth.c). */
int	auth_api_request(struct ctx *c);
/* Forgets every cached key. */
void	auth_cache_flush(void);

#endif
