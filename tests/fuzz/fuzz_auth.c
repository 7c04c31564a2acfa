/* fuzz_auth.c: the Authorization header (Bearer, or Basic with the key as user name) and
 * the API key inside it. A key that parses has exactly the shape keys are issued with. */
#include "fuzz.h"

#include "api/auth.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[AUTH_KEY_MAX + 1];
	struct api_key_parts kp;
	char *h;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	h = fuzz_cstr(data, size);
	memset(key, 'x', sizeof(key));
	if (auth_key_from_header(h, key, sizeof(key)) == 0) {
		FUZZ_CHECK(memchr(key, '\0', sizeof(key)) != NULL);
		if (auth_parse_key(key, &kp) == 0) {
			FUZZ_CHECK(strncmp(key, "sk_test_", 8) == 0 || strncmp(key, "sk_live_", 8) == 0);
			FUZZ_CHECK(strcmp(kp.mode, "test") == 0 || strcmp(kp.mode, "live") == 0);
			FUZZ_CHECK(strlen(kp.id) == AUTH_KEY_ID_LEN);
			FUZZ_CHECK(strncmp(key + 8, kp.id, AUTH_KEY_ID_LEN) == 0);
		}
	}
	/* The key parser alone, on the raw bytes. */
	(void)auth_parse_key(h, &kp);
	free(h);
	return 0;
}
