/* fuzz_parsers.c: libFuzzer target for everything that reads untrusted bytes: the FastCGI
 * environment, query strings and forms, cookies, Authorization headers, API keys, portal
 * tokens, JSON bodies with the API's validation tables, Stripe-Signature headers,
 * uploaded PNGs and the session's feature overrides. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "http/http.h"
#include "core/json.h"
#include "core/png.h"
#include "portal/portal.h"
#include "stripe/form.h"
#include "stripe/webhook.h"

static void
fuzz_env(struct http_request *r, char *text)
{
	char *envp[33];
	int n = 0;

	for (char *line = strtok(text, "\n"); line != NULL && n < 32; line = strtok(NULL, "\n"))
		envp[n++] = line;
	envp[n] = NULL;
	http_request_from_env(r, envp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request r;
	static int init;
	char *text;
	struct http_kvs kvs;
	struct json_error e;
	struct token t;
	struct api_key_parts kp;
	char key[AUTH_KEY_MAX + 1];
	cJSON *root;

	if (!init) {
		http_request_init(&r);
		init = 1;
	}
	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	http_request_reset(&r);
	http_parse_urlencoded(&r.arena, (const char *)data, size, &kvs);
	http_parse_cookies(&r.arena, text, &kvs);
	(void)token_parse(text, &t);
	(void)auth_parse_key(text, &kp);
	(void)auth_key_from_header(text, key, sizeof(key));
	(void)json_utf8_valid((const char *)data, size);
	{
		struct png_info info;
		struct buf clean;
		char perr[200];
		struct portal_settings ps;
		char err[256];
		struct stripe_form *f = stripe_form_new();
		struct buf b;

		buf_init(&clean);
		(void)png_clean(data, size, 1024, &info, &clean, perr, sizeof(perr));
		buf_free(&clean);
		memset(&ps, 0, sizeof(ps));
		(void)portal_settings_override(&ps, text);
		/* The header and the body are both attacker's bytes on the webhook endpoint. */
		(void)stripe_webhook_verify(text, (const char *)data, size, "whsec_fuzz",
		    1700000000LL, 300, err, sizeof(err));
		(void)stripe_form_add(f, text, text);
		buf_init(&b);
		stripe_form_encode(f, &b);
		buf_free(&b);
		stripe_form_free(f);
	}

	root = json_parse(text, strlen(text), 16, &e);
	if (root != NULL) {
		(void)json_validate(root, customer_create_fields, NULL, &e);
		(void)json_validate(root, customer_update_fields, NULL, &e);
		(void)json_validate(root, psess_create_fields, NULL, &e);
		(void)json_validate(root, portal_configuration_fields, NULL, &e);
		cJSON_Delete(root);
	}
	/* json_parse rewrites \u0000 escapes in place: start the env run from the input. */
	memcpy(text, data, size);
	http_request_reset(&r);
	fuzz_env(&r, text);
	free(text);
	return 0;
}
