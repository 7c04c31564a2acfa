/* fuzz_form.c: application/x-www-form-urlencoded bodies as the portal's POST pages get
 * them (bytes with a length, '+' for space), read by the form library against a table of
 * every kind of field: an answer it accepts is within its length, valid UTF-8 and free of
 * control characters, and a select's answer is one of its options. */
#include "fuzz.h"

#include "core/json.h"
#include "http/http.h"
#include "portal/form.h"

static struct form_option
colours(size_t i)
{
	static const struct form_option o[] = {
		{ "red", "Red", NULL }, { "blue", "Blue", NULL }, { NULL, NULL, NULL }
	};

	return o[i < 2 ? i : 2];
}

static const struct form_field fields[] = {
	{ .name = "name", .label = "Name", .kind = FORM_TEXT, .required = true, .max_len = 40 },
	{ .name = "email", .label = "Email", .kind = FORM_EMAIL, .max_len = 254 },
	{ .name = "colour", .label = "Colour", .kind = FORM_SELECT, .option = colours },
	{ .name = "number", .label = "Card number", .kind = FORM_NUMERIC, .max_len = 19,
	  .secret = true },
	{ .name = "agree", .label = "Agree", .kind = FORM_CHECKBOX },
	{ .name = "comment", .label = "Comment", .kind = FORM_TEXTAREA, .max_len = 500 },
	{ .name = NULL }
};

static int
clean_text(const char *s)
{
	if (!json_utf8_valid(s, strlen(s)))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	struct http_kvs kvs;
	struct form f;
	int errors;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	arena_reset(&a);
	http_parse_urlencoded(&a, (const char *)data, size, &kvs);
	FUZZ_CHECK(kvs.n >= 0 && kvs.n <= HTTP_MAX_KV);
	for (int i = 0; i < kvs.n; i++) {
		/* Decoding never grows a string, and a NUL never survives it. */
		FUZZ_CHECK(strlen(kvs.items[i].key) + strlen(kvs.items[i].value) <= size);
	}
	form_init(&f, fields);
	errors = form_read(&f, &kvs, &a);
	FUZZ_CHECK(errors == f.n_errors && errors >= 0 && errors <= f.n);
	for (int i = 0; i < f.n; i++) {
		const char *v = form_get(&f, fields[i].name);

		if (f.error[i] != NULL || *v == '\0')
			continue;
		FUZZ_CHECK(strlen(v) <= (fields[i].max_len ? fields[i].max_len : 255));
		FUZZ_CHECK(clean_text(v));
		if (fields[i].kind == FORM_SELECT)
			FUZZ_CHECK(strcmp(v, "red") == 0 || strcmp(v, "blue") == 0);
	}
	if (form_get(&f, "name")[0] == '\0')
		FUZZ_CHECK(f.error[0] != NULL);
	return 0;
}
