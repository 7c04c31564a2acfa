/* fuzz_fcgi_env.c: the request as built from FastCGI parameters. The input is a generated
 * environment: "NAME=value" entries separated by NUL bytes (libfcgi hands parameters over
 * as C strings, so a value cannot hold a NUL). The result then goes through the router. */
#include "fuzz.h"

#include "http/http.h"
#include "http/router.h"

#define MAX_ENV 64

/* The shapes of the real route table: fixed segments, one or two parameters, methods. */
static const struct route_pattern routes[] = {
	{ HTTP_POST, "/api/v1/customers" },
	{ HTTP_GET, "/api/v1/customers/:id" },
	{ HTTP_DELETE, "/api/v1/customers/:id" },
	{ HTTP_POST, "/api/v1/subscriptions/:id/change_plan/preview" },
	{ HTTP_POST, "/api/v1/customers/:id/payment_methods/:pm/default" },
	{ HTTP_GET, "/portal/access/:token" },
	{ HTTP_GET, "/portal" },
	{ HTTP_GET, "/healthz" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request r;
	static int init;
	char *envp[MAX_ENV + 1];
	char *text, *p, *end;
	size_t idx;
	int n = 0;

	if (!init) {
		http_request_init(&r);
		init = 1;
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;
	text = fuzz_cstr(data, size);
	for (p = text, end = text + size; p < end && n < MAX_ENV; p += strlen(p) + 1)
		envp[n++] = p;
	envp[n] = NULL;

	http_request_reset(&r);
	http_request_from_env(&r, envp);
	FUZZ_CHECK(r.path[0] == '/');
	FUZZ_CHECK(strlen(r.path) <= HTTP_MAX_PATH);
	FUZZ_CHECK(strchr(r.path, '?') == NULL);
	FUZZ_CHECK(r.method_str != NULL && r.request_id != NULL && r.remote_addr != NULL);
	FUZZ_CHECK(r.args.n >= 0 && r.args.n <= HTTP_MAX_KV);
	if (r.content_length_bad)
		FUZZ_CHECK(r.content_length == 0);
	if (router_match(routes, sizeof(routes) / sizeof(routes[0]), sizeof(routes[0]), &r,
	    &idx) == ROUTE_FOUND) {
		FUZZ_CHECK(idx < sizeof(routes) / sizeof(routes[0]));
		for (int i = 0; i < r.n_path_params; i++)
			FUZZ_CHECK(r.path_params[i][0] != '\0' &&
			    strchr(r.path_params[i], '/') == NULL);
	}
	free(text);
	return 0;
}
