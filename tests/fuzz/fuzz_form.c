/* fuzz_form.c: application/x-www-form-urlencoded bodies as the portal's POST pages get
 * them (bytes with a length, '+' for space), and the CSRF check on the token they carry. */
#include "fuzz.h"

#include "http/http.h"
#include "portal/portal.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	struct portal_user u;
	struct http_kvs kvs;
	const char *csrf;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	arena_reset(&a);
	http_parse_urlencoded(&a, (const char *)data, size, &kvs);
	FUZZ_CHECK(kvs.n >= 0 && kvs.n <= HTTP_MAX_KV);
	for (int i = 0; i < kvs.n; i++) {
		/* Decoding never grows a string, and a NUL never survives it. */
		FUZZ_CHECK(strlen(kvs.items[i].key) + strlen(kvs.items[i].value) <= size);
	}
	memset(&u, 0, sizeof(u));
	snprintf(u.csrf, sizeof(u.csrf), "%s", "0123456789abcdef0123456789abcdef");
	csrf = http_kvs_get(&kvs, "csrf");
	if (csrf != NULL && portal_csrf_ok(&u, csrf))
		FUZZ_CHECK(strcmp(csrf, u.csrf) == 0);
	return 0;
}
