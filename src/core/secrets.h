/* secrets.h: the secrets file (server keys and passwords, never in portald.conf), sealing
 * with AES-256-GCM under the server key, and HMAC derivations from it. */
#ifndef PORTALD_SECRETS_H
#define PORTALD_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define SECRETS_DEFAULT_PATH	"/etc/portald/secrets"
#define SECRETS_KEY_LEN		32	/* a server key: 256 random bits */
#define SECRETS_KEY_B64_LEN	44	/* its standard base64 text, with one '=' */
#define SECRETS_KEY_ID_LEN	8	/* hex characters naming a key in sealed text */
#define SECRETS_MAX_KEYS	8	/* the current key and up to 7 previous ones */
#define SECRETS_PASSWORD_MAX	256

struct secrets_key {
	char		id[SECRETS_KEY_ID_LEN + 1];
	unsigned char	key[SECRETS_KEY_LEN];
};

/* The file is INI:
 *   [keys]      server_key = <base64 of 32 random bytes>
 *               previous_server_keys = <key>,<key>   (optional: still open old seals)
 *   [database]  password = ...                        (optional)
 *   [mail]      smtp_password = ...                   (optional)
 * and must not be readable by others (mode & 0007 == 0). */
struct secrets {
	bool			loaded;
	int			nkeys;		/* keys[0] is the current key */
	struct secrets_key	keys[SECRETS_MAX_KEYS];
	char			db_password[SECRETS_PASSWORD_MAX];
	char			smtp_password[SECRETS_PASSWORD_MAX];
};

/* Reads path into s. Refuses (-1, err filled) a missing, unreadable, non-regular or
 * world-accessible file, unknown settings, a missing or malformed server key. */
int	secrets_load(struct secrets *s, const char *path, char *err, size_t errlen);
/* Overwrites every key and password in s with zeros. */
void	secrets_wipe(struct secrets *s);

/* Encrypts n bytes with AES-256-GCM under a key derived from the current server key, a
 * random 96-bit nonce, and context as associated data (the same context must be given to
 * open). Appends "v1.<key id>.<base64url(nonce|ciphertext|tag)>" to out. 0 or -1. */
int	secrets_seal(const struct secrets *s, const void *plain, size_t n, const char *context,
	    struct buf *out);
/* Opens text made by secrets_seal under any loaded key (current or previous) and appends
 * the plaintext to out. -1, with out unchanged, for anything tampered with, a wrong
 * context, an unknown key or a malformed text. */
int	secrets_open(const struct secrets *s, const char *text, const char *context,
	    struct buf *out);
/* HMAC-SHA256 of msg under a key derived from the current server key for label, so
 * different purposes never share a key. For values shown again but never stored
 * (management links). 0 or -1 (no key loaded). */
int	secrets_derive(const struct secrets *s, const char *label, const void *msg, size_t n,
	    unsigned char out[32]);

/* Writes a fresh server key as standard base64 (SECRETS_KEY_B64_LEN + 1 bytes). 0 or -1. */
int	secrets_new_key(char out[SECRETS_KEY_B64_LEN + 1]);

#endif
