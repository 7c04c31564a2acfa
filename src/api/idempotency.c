/* idempotency.c: claims the key with an INSERT in the request's transaction. A second
 * request with the same key blocks on the row until the first commits, then replays. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/secrets.h"
#include "api/idempotency.h"

/* The same request is the same method, path and JSON value: the body is hashed in its
 * canonical form (keys sorted at every depth, strings and numbers as parsed), so a client
 * that serialises the same object in another key order or spelling still gets its replay. */
static void
request_hash(struct ctx *c, char hex[65])
{
	unsigned char h[CRYPTO_SHA256_LEN];
	struct buf b;

	buf_init(&b);
	buf_puts(&b, c->req->method_str);
	buf_putc(&b, '\n');
	buf_puts(&b, c->req->path);
	buf_putc(&b, '\n');
	json_canonical(c->body, &b);
	crypto_sha256(b.data, b.len, h);
	crypto_hex(h, sizeof(h), hex);
	buf_free(&b);
}

static void
seal_context(struct ctx *c, struct buf *out)
{
	buf_init(out);
	buf_printf(out, "portald idempotency v1\n%s\n%s", c->site.id, c->req->idempotency_key);
}

static bool
key_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255)
		return false;
	for (; *k != '\0'; k++)
		if ((unsigned char)*k < 0x20 || (unsigned char)*k > 0x7e)
			return false;
	return true;
}

enum idem_result
idem_begin(struct ctx *c)
{
	const char *key = c->req->idempotency_key;
	char hash[65], now[24];
	const char *params[4];
	PGresult *res;
	struct buf ctx;
	int claimed;

	if (key == NULL)
		return IDEM_NONE;
	if (!key_valid(key)) {
		api_error(c, 400, "invalid_request_error", "idempotency_key_invalid", NULL,
		    "Idempotency-Key must be 1 to 255 printable ASCII characters.");
		return IDEM_ANSWERED;
	}
	request_hash(c, hash);
	params[0] = c->site.id;
	params[1] = key;
	params[2] = hash;
	params[3] = buf_lltoa((long long)time(NULL), now);
	res = db_exec(c->db, STMT_IDEM_CLAIM, params);
	if (res == NULL) {
		api_db_error(c);
		return IDEM_ANSWERED;
	}
	claimed = PQntuples(res);
	PQclear(res);
	if (claimed == 1)
		return IDEM_CLAIMED;

	res = db_exec(c->db, STMT_IDEM_GET, params);
	if (res == NULL) {
		api_db_error(c);
		return IDEM_ANSWERED;
	}
	if (PQntuples(res) == 1 && !crypto_equal(db_val(res, 0, IDEM_HASH), hash, 64)) {
		PQclear(res);
		api_error(c, 409, "idempotency_error", "idempotency_key_reused", NULL,
		    "This Idempotency-Key was used with a different request. Use a new key "
		    "for a new request.");
		return IDEM_ANSWERED;
	}
	if (PQntuples(res) == 1 && db_val(res, 0, IDEM_STATUS) == NULL &&
	    db_val(res, 0, IDEM_ANSWER_KIND) != NULL &&
	    db_ll(res, 0, IDEM_CREATED, 0) < (long long)time(NULL) - 30) {
		/* Its changes were committed, but the request never finished (a worker that
		 * died during a gateway call): answer with its object as it stands now. */
		c->answer_set = true;
		c->answer_kind = (enum obj_kind)db_ll(res, 0, IDEM_ANSWER_KIND, 0);
		snprintf(c->answer_id, sizeof(c->answer_id), "%s", db_val(res, 0, IDEM_ANSWER_ID));
		PQclear(res);
		api_render_answer(c);
		c->answer_set = false;
		if (c->answer_kind >= OBJ__MAX || idem_store(c) != 0)
			api_db_error(c);
		http_header(c->resp, "Idempotent-Replayed", "true");
		return IDEM_ANSWERED;
	}
	if (PQntuples(res) != 1 || db_val(res, 0, 1) == NULL) {
		/* Still running (it holds the claim while its gateway calls are made). */
		PQclear(res);
		http_header(c->resp, "Retry-After", "1");
		api_error(c, 409, "idempotency_error", "idempotency_key_in_use", NULL,
		    "A request with this Idempotency-Key is still being processed.");
		return IDEM_ANSWERED;
	}
	if (!crypto_equal(db_val(res, 0, 0), hash, 64)) {
		PQclear(res);
		api_error(c, 409, "idempotency_error", "idempotency_key_reused", NULL,
		    "This Idempotency-Key was used with a different request. Use a new key "
		    "for a new request.");
		return IDEM_ANSWERED;
	}
	api_json_start(c, (int)db_ll(res, 0, 1, 500));
	seal_context(c, &ctx);
	if (secrets_open(&c->cfg->secrets, db_val(res, 0, 2), ctx.data, &c->resp->body) != 0) {
		/* Tampered with, moved from another key, or sealed under a key no longer
		 * listed: never replay what cannot be verified, and never run it again. */
		log_warn("request %s: the stored answer of an Idempotency-Key does not open",
		    c->req->request_id);
		buf_free(&ctx);
		PQclear(res);
		api_error(c, 409, "idempotency_error", "idempotency_replay_unreadable", NULL,
		    "The answer stored for this Idempotency-Key cannot be read back. The request "
		    "was processed before: check the object's state before retrying with a new "
		    "key.");
		return IDEM_ANSWERED;
	}
	buf_free(&ctx);
	http_header(c->resp, "Idempotent-Replayed", "true");
	PQclear(res);
	return IDEM_ANSWERED;
}

/* Stored answers can hold secrets (a portal session's token): they are sealed under the
 * server key, bound to their site and key so a row copied elsewhere does not open. */
int
idem_store(struct ctx *c)
{
	char status[24];
	const char *params[4];
	PGresult *res;
	struct buf ctx, sealed;
	int rc = -1;

	buf_init(&ctx);
	buf_init(&sealed);
	seal_context(c, &ctx);
	if (secrets_seal(&c->cfg->secrets, c->resp->body.data ? c->resp->body.data : "",
	    c->resp->body.len, ctx.data, &sealed) != 0) {
		log_error("request %s: cannot seal the stored answer", c->req->request_id);
		goto done;
	}
	params[0] = c->site.id;
	params[1] = c->req->idempotency_key;
	params[2] = buf_lltoa(c->resp->status, status);
	params[3] = sealed.data;
	res = db_exec(c->db, STMT_IDEM_STORE, params);
	if (res == NULL)
		goto done;
	PQclear(res);
	rc = 0;
done:
	buf_free(&ctx);
	buf_free(&sealed);
	return rc;
}

int
idem_set_answer(struct ctx *c)
{
	char kind[24];
	PGresult *res = db_exec(c->db, STMT_IDEM_SET_ANSWER, (const char *[]){ c->site.id,
	    c->req->idempotency_key, buf_lltoa(c->answer_kind, kind), c->answer_id });

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}
