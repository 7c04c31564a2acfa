/* fuzz_tmpl.c: the template engine over template text and data. The input is the
 * template, a NUL byte, then the data as JSON (an empty object when it does not parse).
 * A string from the data never reaches the output unescaped through {{name}}. */
#include "fuzz.h"

#include "core/tmpl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf out;
	char err[256];
	const uint8_t *nul;
	char *tpl;
	cJSON *d = NULL;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	nul = memchr(data, '\0', size);
	tpl = fuzz_cstr(data, nul ? (size_t)(nul - data) : size);
	if (nul != NULL)
		d = cJSON_ParseWithLength((const char *)nul + 1, size - (size_t)(nul + 1 - data));
	if (d == NULL)
		d = cJSON_CreateObject();
	buf_reset(&out);
	err[0] = '\0';
	if (tmpl_render(tpl, d, &out, err, sizeof(err)) != 0)
		FUZZ_CHECK(err[0] != '\0');
	/* Without raw output in the template and without '<' in it, none reaches the page. */
	if (strstr(tpl, "{{{") == NULL && strstr(tpl, "{{&") == NULL && strchr(tpl, '<') == NULL &&
	    out.len > 0)
		FUZZ_CHECK(memchr(out.data, '<', out.len) == NULL);
	cJSON_Delete(d);
	free(tpl);
	return 0;
}
