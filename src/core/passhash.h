/* passhash.h: portal passwords hashed with Argon2id (libargon2) at OWASP's parameters:
 * 19 MiB of memory, 2 passes, 1 lane, a 16-byte random salt, a 32-byte tag, stored as the
 * PHC string ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"). */
#ifndef PORTALD_PASSHASH_H
#define PORTALD_PASSHASH_H

#define PASSHASH_MAX		160	/* the encoded string, with its NUL */
#define PASSHASH_M_COST		19456	/* KiB */
#define PASSHASH_T_COST		2
#define PASSHASH_LANES		1

/* Hashes pw into out. 0, or -1 (no randomness, or libargon2 refused). */
int	passhash_make(const char *pw, char out[PASSHASH_MAX]);
/* 1 when pw matches encoded, 0 when not (or encoded is not a hash), -1 on an error. */
int	passhash_check(const char *encoded, const char *pw);
/* The same work as a check, against a hash nobody has: for an address that names no
 * account, so the answer takes as long as for one that does. Returns what that check
 * returned: 0 (no match), or -1 if the fixed hash were malformed (a unit test watches). */
int	passhash_burn(const char *pw);

#endif
