/* fuzz_token.c: portal link and session tokens "<site>.<id>.<secret>". A token that parses
 * is rebuilt exactly from its parts, so nothing is dropped or added on the way. */
#include "fuzz.h"

#include "core/json.h"
#include "core/token.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token t;
	char again[TOKEN_MAX + 8];
	char *s;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	s = fuzz_cstr(data, size);
	if (token_parse(s, &t) == 0) {
		snprintf(again, sizeof(again), "%s.%s.%s", t.site_id, t.session_id, t.secret);
		FUZZ_CHECK(strcmp(again, s) == 0);
		FUZZ_CHECK(check_id(t.site_id) == NULL && check_id(t.session_id) == NULL);
	}
	free(s);
	return 0;
}
