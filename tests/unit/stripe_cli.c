/* stripe_cli.c: a driver for src/stripe used by the integration tests: encodes a form, sends
 * one request through stripe_request, or verifies a webhook signature, and prints the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/log.h"
#include "stripe/client.h"
#include "stripe/form.h"
#include "stripe/webhook.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: stripe_cli encode [key=value | +key=value]...\n"
	    "       stripe_cli request [--base URL] [--ca FILE] [--idempotency-key K]\n"
	    "                  [--retries N] [--timeout-ms N] [--connect-timeout-ms N]\n"
	    "                  [--retry-delay-ms N] [--retry-delay-max-ms N]\n"
	    "                  METHOD PATH [key=value | +key=value]...\n"
	    "                  (the secret key comes from STRIPE_SECRET_KEY)\n"
	    "       stripe_cli verify --header H --secret S [--now T] [--tolerance S] < body\n");
	exit(2);
}

/* key=value adds a pair, +key=value pushes onto the list key. */
static void
add_args(struct stripe_form *f, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i], *eq;
		int rc;

		eq = strchr(arg, '=');
		if (eq == NULL)
			usage();
		*eq = '\0';
		if (arg[0] == '+')
			rc = stripe_form_push(f, arg + 1, eq + 1);
		else
			rc = stripe_form_add(f, arg, eq + 1);
		if (rc != 0) {
			fprintf(stderr, "stripe_cli: refused pair %d (key '%s')\n", i, arg);
			exit(3);
		}
	}
}

static int
cmd_encode(int argc, char **argv)
{
	struct stripe_form *f = stripe_form_new();
	struct buf b;

	add_args(f, argc, argv);
	buf_init(&b);
	stripe_form_encode(f, &b);
	printf("%s\n", b.data ? b.data : "");
	buf_free(&b);
	stripe_form_free(f);
	return 0;
}

static long
num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

static int
cmd_request(int argc, char **argv)
{
	struct stripe_config cfg = { .max_retries = -1 };
	const char *idem = NULL;
	struct stripe_client *c;
	struct stripe_form *f;
	struct stripe_response r;
	char err[256];
	cJSON *o, *e;
	char *text;
	int i;

	cfg.secret_key = getenv("STRIPE_SECRET_KEY");
	for (i = 0; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--base") == 0)
			cfg.base_url = argv[i + 1];
		else if (strcmp(argv[i], "--ca") == 0)
			cfg.ca_file = argv[i + 1];
		else if (strcmp(argv[i], "--idempotency-key") == 0)
			idem = argv[i + 1];
		else if (strcmp(argv[i], "--retries") == 0)
			cfg.max_retries = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			cfg.timeout_ms = num(argv[i + 1]);
		else if (strcmp(argv[i], "--connect-timeout-ms") == 0)
			cfg.connect_timeout_ms = num(argv[i + 1]);
		else if (strcmp(argv[i], "--retry-delay-ms") == 0)
			cfg.retry_delay_ms = num(argv[i + 1]);
		else if (strcmp(argv[i], "--retry-delay-max-ms") == 0)
			cfg.retry_delay_max_ms = num(argv[i + 1]);
		else
			usage();
	}
	if (argc - i < 2)
		usage();
	c = stripe_client_new(&cfg, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "stripe_cli: %s\n", err);
		return 1;
	}
	f = stripe_form_new();
	add_args(f, argc - i - 2, argv + i + 2);
	stripe_request(c, argv[i], argv[i + 1], f, idem, &r);

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "outcome", stripe_outcome_name(r.outcome));
	cJSON_AddBoolToObject(o, "unknown", stripe_outcome_unknown(r.outcome));
	cJSON_AddNumberToObject(o, "status", r.status);
	cJSON_AddNumberToObject(o, "attempts", r.attempts);
	cJSON_AddBoolToObject(o, "replayed", r.replayed);
	cJSON_AddStringToObject(o, "request_id", r.request_id);
	cJSON_AddStringToObject(o, "detail", r.detail);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "type", r.error.type);
	cJSON_AddStringToObject(e, "code", r.error.code);
	cJSON_AddStringToObject(e, "decline_code", r.error.decline_code);
	cJSON_AddStringToObject(e, "param", r.error.param);
	cJSON_AddStringToObject(e, "message", r.error.message);
	cJSON_AddStringToObject(e, "charge", r.error.charge);
	if (r.error.payment_intent != NULL) {
		const char *st = stripe_json_str(r.error.payment_intent, "status");

		cJSON_AddStringToObject(e, "payment_intent_status", st ? st : "");
	}
	if (r.json != NULL)
		cJSON_AddItemToObject(o, "body", cJSON_Duplicate(r.json, 1));
	else
		cJSON_AddNullToObject(o, "body");
	text = cJSON_PrintUnformatted(o);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
	stripe_response_free(&r);
	stripe_form_free(f);
	stripe_client_free(c);
	return 0;
}

static int
cmd_verify(int argc, char **argv)
{
	const char *header = NULL, *secret = NULL;
	long long now = (long long)time(NULL);
	int tolerance = 0;
	struct buf body;
	char chunk[4096], err[256];
	size_t n;
	int rc;

	for (int i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--header") == 0)
			header = argv[i + 1];
		else if (strcmp(argv[i], "--secret") == 0)
			secret = argv[i + 1];
		else if (strcmp(argv[i], "--now") == 0)
			now = num(argv[i + 1]);
		else if (strcmp(argv[i], "--tolerance") == 0)
			tolerance = (int)num(argv[i + 1]);
		else
			usage();
	}
	buf_init(&body);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(&body, chunk, n);
	rc = stripe_webhook_verify(header, body.data ? body.data : "", body.len, secret, now,
	    tolerance, err, sizeof(err));
	if (rc == 0)
		printf("ok\n");
	else
		printf("rejected: %s\n", err);
	buf_free(&body);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	log_set_level(LOG_DEBUG);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "encode") == 0)
		return cmd_encode(argc - 2, argv + 2);
	if (strcmp(argv[1], "request") == 0)
		return cmd_request(argc - 2, argv + 2);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 2, argv + 2);
	usage();
	return 2;
}
