/* fuzz_query.c: query strings: the urlencoded parser, then the API's validation against
 * every list endpoint's parameter table. A refusal must be a well-formed error envelope:
 * valid JSON and valid UTF-8, whatever the query held. */
#include "fuzz.h"

#include "api/api.h"
#include "http/http.h"

static const struct qparam *const tables[] = {
	no_params, customer_list_params, plan_list_params, sub_list_params, inv_list_params,
	event_list_params, list_params,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request req;
	static struct http_response resp;
	static int init;
	struct ctx c = { .req = &req, .resp = &resp };
	char *q;

	if (!init) {
		http_request_init(&req);
		http_response_init(&resp);
		init = 1;
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;
	q = fuzz_cstr(data, size);
	http_request_reset(&req);
	req.request_id = "fuzz";
	req.query = q;
	http_parse_urlencoded(&req.arena, (const char *)data, size, &req.args);
	FUZZ_CHECK(req.args.n >= 0 && req.args.n <= HTTP_MAX_KV);
	for (int i = 0; i < req.args.n; i++)
		FUZZ_CHECK(req.args.items[i].key != NULL && req.args.items[i].value != NULL);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		http_response_reset(&resp);
		if (api_check_query(&c, tables[i]) == 0) {
			FUZZ_CHECK(!req.args.bad);
			continue;
		}
		FUZZ_CHECK(resp.status == 400);
		cJSON *env = cJSON_ParseWithLength(resp.body.data, resp.body.len);
		FUZZ_CHECK(env != NULL);
		FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(env, "error")));
		cJSON_Delete(env);
		FUZZ_CHECK(json_utf8_valid(resp.body.data, resp.body.len));
	}
	free(q);
	return 0;
}
