/* fuzz_cookie.c: the Cookie header, and the portal session token taken from it as
 * portal_sign_in_check does (one cookie per site, named PORTAL_COOKIE_PREFIX + site id).
 * Parsed names and values never carry the separators, every parsed cookie is found by its
 * name, and a token parsed from a portal cookie has valid ids and a full-length secret.
 * Each property is a FUZZ_CHECK (fuzz.h): one that fails aborts the run with the input. */
#include "fuzz.h"

#include "core/json.h"
#include "http/http.h"
#include "portal/portal.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	struct http_kvs kvs;
	struct token t;
	const char *v;
	char *s;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	s = fuzz_cstr(data, size);
	arena_reset(&a);
	http_parse_cookies(&a, s, &kvs);
	FUZZ_CHECK(kvs.n >= 0 && kvs.n <= HTTP_MAX_KV);
	for (int i = 0; i < kvs.n; i++) {
		FUZZ_CHECK(strchr(kvs.items[i].key, ';') == NULL);
		FUZZ_CHECK(strchr(kvs.items[i].value, ';') == NULL);
		FUZZ_CHECK(strchr(kvs.items[i].key, '=') == NULL);
		/* A lookup by name finds a cookie of that name (the first one sent). */
		v = http_kvs_get(&kvs, kvs.items[i].key);
		FUZZ_CHECK(v != NULL);
	}
	for (int i = 0; i < kvs.n; i++) {
		if (strncmp(kvs.items[i].key, PORTAL_COOKIE_PREFIX,
		    strlen(PORTAL_COOKIE_PREFIX)) != 0)
			continue;
		v = kvs.items[i].value;
		if (token_parse(v, &t) == 0) {
			FUZZ_CHECK(check_id(t.site_id) == NULL && check_id(t.session_id) == NULL);
			FUZZ_CHECK(strlen(t.secret) == CRYPTO_SECRET_B64_LEN - 1);
		}
	}
	free(s);
	return 0;
}
