/* idempotency.c: claims the key with an INSERT in the request's transaction. A second
 * request with the same key blocks on the row until the first commits, then replays. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
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
	if (PQntuples(res) != 1 || db_val(res, 0, 1) == NULL) {
		/* Cannot happen while claims hold a row lock; answer safely if it does. */
		PQclear(res);
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
	buf_puts(&c->resp->body, db_val(res, 0, 2) ? db_val(res, 0, 2) : "");
	http_header(c->resp, "Idempotent-Replayed", "true");
	PQclear(res);
	return IDEM_ANSWERED;
}

int
idem_store(struct ctx *c)
{
	char status[24];
	const char *params[4];
	PGresult *res;

	params[0] = c->site.id;
	params[1] = c->req->idempotency_key;
	params[2] = buf_lltoa(c->resp->status, status);
	params[3] = c->resp->body.data ? c->resp->body.data : "";
	res = db_exec(c->db, STMT_IDEM_STORE, params);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}
