/* mail_send_cli.c: drives src/mail from the integration tests: renders, composes and sends
 * one message described as JSON on stdin, and reports as JSON on stdout.
 *   mail_send_cli render TYPE      data on stdin -> {"subject","text","html"}
 *   mail_send_cli compose          message on stdin -> the RFC 5322 bytes
 *   mail_send_cli send             {"relay":{...},"message":{...}} -> {"result","code","error"}
 * A message is {"from":{"name","addr"},"to":{...},"cc"?,"reply_to"?,"subject","date",
 * "message_id","text","html"?,"headers"?:[[name,value]...]}, or carries "type" and "data"
 * instead of subject/text/html to be rendered first. A relay is {"url","starttls",
 * "ca_file","tls_verify","username","password","helo","connect_timeout","timeout"}, or
 * {"config": path} to read [mail] from a portald.conf (the password then from
 * $MAIL_PASSWORD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/config.h"
#include "mail/mail.h"
#include "mail/mail_templates.h"

static char *
read_stdin(void)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(&b, chunk, n);
	if (b.data == NULL)
		buf_puts(&b, "");
	return b.data;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
addr(const cJSON *o, const char *key, struct mail_addr *a)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	a->name = str(v, "name");
	a->addr = str(v, "addr");
}

static int
fail(const char *what, const char *err)
{
	fprintf(stderr, "mail_send_cli: %s: %s\n", what, err);
	return 1;
}

/* Fills m from j; a "type" is rendered into c first. */
static int
message(const cJSON *j, struct mail_msg *m, struct mail_content *c, char *err, size_t errlen)
{
	const cJSON *date = cJSON_GetObjectItemCaseSensitive(j, "date");
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(j, "headers");
	const cJSON *h;
	size_t i = 0;

	memset(m, 0, sizeof(*m));
	addr(j, "from", &m->from);
	addr(j, "to", &m->to);
	addr(j, "cc", &m->cc);
	addr(j, "reply_to", &m->reply_to);
	m->date = cJSON_IsNumber(date) ? (long long)date->valuedouble : 0;
	m->message_id = str(j, "message_id");
	if (str(j, "type") != NULL) {
		if (mail_render(str(j, "type"), cJSON_GetObjectItemCaseSensitive(j, "data"), c,
		    err, errlen) != 0)
			return -1;
		mail_content_apply(c, m);
	} else {
		m->subject = str(j, "subject");
		m->text = str(j, "text");
		m->html = str(j, "html");
	}
	cJSON_ArrayForEach(h, hdrs) {
		const cJSON *n = cJSON_GetArrayItem(h, 0), *v = cJSON_GetArrayItem(h, 1);

		if (i == MAIL_EXTRA_MAX || !cJSON_IsString(n))
			break;
		m->extra[i].name = n->valuestring;
		m->extra[i].value = cJSON_IsString(v) ? v->valuestring : NULL;
		i++;
	}
	return 0;
}

static int
relay(const cJSON *j, struct mail_relay *r, struct config *cfg, char *err, size_t errlen)
{
	const char *st = str(j, "starttls");
	const cJSON *v;

	memset(r, 0, sizeof(*r));
	if (str(j, "config") != NULL) {
		config_defaults(cfg);
		if (config_load(cfg, str(j, "config"), err, errlen) != 0)
			return -1;
		mail_relay_from_config(r, cfg);
		r->password = getenv("MAIL_PASSWORD");
		return 0;
	}
	r->url = str(j, "url");
	r->starttls = st == NULL || strcmp(st, "none") == 0 ? MAIL_STARTTLS_NONE :
	    strcmp(st, "opportunistic") == 0 ? MAIL_STARTTLS_OPPORTUNISTIC :
	    MAIL_STARTTLS_REQUIRED;
	r->ca_file = str(j, "ca_file");
	r->tls_no_verify = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "tls_verify"));
	r->username = str(j, "username");
	r->password = str(j, "password");
	r->helo = str(j, "helo");
	v = cJSON_GetObjectItemCaseSensitive(j, "connect_timeout");
	r->connect_timeout = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	v = cJSON_GetObjectItemCaseSensitive(j, "timeout");
	r->timeout = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	return 0;
}

int
main(int argc, char **argv)
{
	char err[512] = "", *in;
	struct mail_content c;
	struct mail_msg m;
	struct buf out;
	cJSON *j, *res;
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: mail_send_cli render TYPE | compose | send\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mail_content_init(&c);
	buf_init(&out);
	in = read_stdin();
	j = cJSON_Parse(in);
	if (j == NULL) {
		rc = fail("input", "not JSON");
		goto done;
	}
	if (strcmp(argv[1], "render") == 0 && argc == 3) {
		char *s;

		if (mail_render(argv[2], j, &c, err, sizeof(err)) != 0) {
			rc = fail("render", err);
			goto done;
		}
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "subject", c.subject.data);
		cJSON_AddStringToObject(res, "text", c.text.data);
		cJSON_AddStringToObject(res, "html", c.html.data);
		s = cJSON_PrintUnformatted(res);
		puts(s);
		free(s);
		cJSON_Delete(res);
		rc = 0;
	} else if (strcmp(argv[1], "compose") == 0) {
		if (message(j, &m, &c, err, sizeof(err)) != 0 ||
		    mail_compose(&m, &out, err, sizeof(err)) != 0) {
			rc = fail("compose", err);
			goto done;
		}
		fwrite(out.data, 1, out.len, stdout);
		rc = 0;
	} else if (strcmp(argv[1], "send") == 0) {
		struct mail_relay r;
		struct config cfg;
		const char *rcpts[3] = { NULL, NULL, NULL };
		enum mail_result mr;
		int code = 0;
		char *s;

		if (message(cJSON_GetObjectItemCaseSensitive(j, "message"), &m, &c, err,
		    sizeof(err)) != 0 || mail_compose(&m, &out, err, sizeof(err)) != 0) {
			rc = fail("compose", err);
			goto done;
		}
		if (relay(cJSON_GetObjectItemCaseSensitive(j, "relay"), &r, &cfg, err,
		    sizeof(err)) != 0) {
			rc = fail("relay", err);
			goto done;
		}
		rcpts[0] = m.to.addr;
		rcpts[1] = m.cc.addr;
		mr = mail_send(&r, m.from.addr, rcpts, out.data, out.len, &code, err,
		    sizeof(err));
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "result", mail_result_name(mr));
		cJSON_AddNumberToObject(res, "code", code);
		cJSON_AddStringToObject(res, "error", err);
		s = cJSON_PrintUnformatted(res);
		puts(s);
		free(s);
		cJSON_Delete(res);
		rc = 0;
	} else {
		fprintf(stderr, "usage: mail_send_cli render TYPE | compose | send\n");
		rc = 2;
	}
done:
	cJSON_Delete(j);
	free(in);
	buf_free(&out);
	mail_content_free(&c);
	curl_global_cleanup();
	return rc;
}
