/* fuzz_config.c: portald.conf through inih, from a memory buffer. A file that loads gives
 * values inside the bounds the rest of the program relies on. */
#include "fuzz.h"

#include "core/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512];
	char *text;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	text = fuzz_cstr(data, size);
	config_defaults(&cfg);
	err[0] = '\0';
	if (config_load_string(&cfg, text, "fuzz.conf", err, sizeof(err)) == 0) {
		FUZZ_CHECK(cfg.workers >= 1 && cfg.workers <= 256);
		FUZZ_CHECK(cfg.max_body >= 1024 && cfg.max_body <= 64u * 1024 * 1024);
		FUZZ_CHECK(cfg.json_max_depth >= 2 && cfg.json_max_depth <= 64);
		FUZZ_CHECK(cfg.db_connect_timeout >= 1 && cfg.db_connect_timeout <= 60);
		FUZZ_CHECK(cfg.socket_path[0] != '\0');
		FUZZ_CHECK(strncmp(cfg.public_url, "http", 4) == 0);
		FUZZ_CHECK(cfg.public_url[strlen(cfg.public_url) - 1] != '/');
	} else
		FUZZ_CHECK(err[0] != '\0');
	free(text);
	return 0;
}
