/* passhash.c: Argon2id hashing and checking of portal passwords. */
#include <stdio.h>
#include <string.h>

#include <argon2.h>

#include "core/crypto.h"
#include "core/passhash.h"

#define SALT_LEN	16
#define TAG_LEN		32

int
passhash_make(const char *pw, char out[PASSHASH_MAX])
{
	unsigned char salt[SALT_LEN];

	out[0] = '\0';
	if (crypto_random_bytes(salt, sizeof(salt)) != 0)
		return -1;
	if (argon2id_hash_encoded(PASSHASH_T_COST, PASSHASH_M_COST, PASSHASH_LANES, pw,
	    strlen(pw), salt, sizeof(salt), TAG_LEN, out, PASSHASH_MAX) != ARGON2_OK) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
passhash_check(const char *encoded, const char *pw)
{
	int rc;

	if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0)
		return 0;
	rc = argon2id_verify(encoded, pw, strlen(pw));
	if (rc == ARGON2_OK)
		return 1;
	return rc == ARGON2_VERIFY_MISMATCH ? 0 : -1;
}

int
passhash_burn(const char *pw)
{
	/* A fixed salt is fine here: this hash guards nothing, it only costs the same. */
	static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$"
	    "cG9ydGFsZC1kdW1teS1zYWx0$"
	    "2e2K0jJd8mpeT5V3QwVbF0GgS3Wm8qGk6P3yYyJ3nBQ";

	return passhash_check(dummy, pw);
}
