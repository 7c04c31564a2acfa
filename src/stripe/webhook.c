/* webhook.c: parses Stripe-Signature and checks it against the raw body and the endpoint's
 * signing secret, as Stripe's SDKs do, with a timestamp window in both directions. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "stripe/webhook.h"

#define MAX_SIGNATURES	16

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits into 32 bytes; -1 for anything else. */
static int
unhex_sig(const char *s, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	if (n != 2 * CRYPTO_SHA256_LEN)
		return -1;
	for (size_t i = 0; i < CRYPTO_SHA256_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
stripe_webhook_verify(const char *sig_header, const char *payload, size_t len,
    const char *secret, long long now, int tolerance_s, char *err, size_t errlen)
{
	unsigned char sigs[MAX_SIGNATURES][CRYPTO_SHA256_LEN];
	unsigned char mac[CRYPTO_SHA256_LEN];
	size_t nsig = 0, hlen;
	long long t = -1;
	bool have_t = false;
	unsigned int match = 0;
	const char *p;
	struct buf msg;

	if (tolerance_s <= 0)
		tolerance_s = STRIPE_WEBHOOK_TOLERANCE;
	if (secret == NULL || *secret == '\0') {
		snprintf(err, errlen, "no webhook signing secret is configured");
		return -1;
	}
	if (sig_header == NULL || *sig_header == '\0') {
		snprintf(err, errlen, "no Stripe-Signature header");
		return -1;
	}
	hlen = strlen(sig_header);
	if (hlen > STRIPE_WEBHOOK_HEADER_MAX) {
		snprintf(err, errlen, "Stripe-Signature header is garbled: %zu bytes long", hlen);
		return -1;
	}
	if (payload == NULL && len > 0) {
		snprintf(err, errlen, "no payload");
		return -1;
	}

	/* Elements are name=value separated by commas; blanks around them are tolerated. */
	for (p = sig_header; ; ) {
		const char *start, *end, *eq;
		size_t nlen, vlen;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == start) {
			snprintf(err, errlen, "Stripe-Signature header is garbled: an empty element");
			return -1;
		}
		eq = memchr(start, '=', (size_t)(end - start));
		if (eq == NULL) {
			snprintf(err, errlen, "Stripe-Signature header is garbled: an element "
			    "without '='");
			return -1;
		}
		nlen = (size_t)(eq - start);
		vlen = (size_t)(end - eq - 1);
		if (nlen == 1 && start[0] == 't') {
			long long v = 0;

			if (have_t) {
				snprintf(err, errlen, "Stripe-Signature header is garbled: two "
				    "timestamps");
				return -1;
			}
			if (vlen == 0 || vlen > 15) {
				snprintf(err, errlen, "Stripe-Signature header is garbled: the "
				    "timestamp is not a Unix time");
				return -1;
			}
			for (size_t i = 0; i < vlen; i++) {
				if (eq[1 + i] < '0' || eq[1 + i] > '9') {
					snprintf(err, errlen, "Stripe-Signature header is garbled: "
					    "the timestamp is not a Unix time");
					return -1;
				}
				v = v * 10 + (eq[1 + i] - '0');
			}
			t = v;
			have_t = true;
		} else if (nlen == 2 && start[0] == 'v' && start[1] == '1') {
			if (nsig == MAX_SIGNATURES) {
				snprintf(err, errlen, "Stripe-Signature header is garbled: more "
				    "than %d v1 signatures", MAX_SIGNATURES);
				return -1;
			}
			if (unhex_sig(eq + 1, vlen, sigs[nsig]) != 0) {
				snprintf(err, errlen, "Stripe-Signature header is garbled: a v1 "
				    "signature that is not 64 hex digits");
				return -1;
			}
			nsig++;
		}
		/* v0 (Stripe's legacy test-mode scheme) and unknown schemes are ignored. */
		if (*p == '\0')
			break;
		p++;
	}
	if (!have_t) {
		snprintf(err, errlen, "Stripe-Signature header is garbled: no timestamp (t=)");
		return -1;
	}
	if (nsig == 0) {
		snprintf(err, errlen, "Stripe-Signature header has no v1 signature");
		return -1;
	}

	/* The signed text is the timestamp as a number, a dot, and the body's raw bytes. */
	buf_init(&msg);
	buf_printf(&msg, "%lld.", t);
	buf_append(&msg, payload ? payload : "", len);
	crypto_hmac_sha256(secret, strlen(secret), msg.data, msg.len, mac);
	buf_free(&msg);
	for (size_t i = 0; i < nsig; i++)
		match |= CRYPTO_memcmp(mac, sigs[i], sizeof(mac)) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!match) {
		snprintf(err, errlen, "no v1 signature matches (a wrong endpoint secret, or the "
		    "body was changed on its way)");
		return -1;
	}
	if (now - t > tolerance_s) {
		snprintf(err, errlen, "timestamp is %lld s old (tolerance %d s): a replay or a "
		    "delayed delivery", now - t, tolerance_s);
		return -1;
	}
	if (t - now > tolerance_s) {
		snprintf(err, errlen, "timestamp is %lld s in the future (tolerance %d s): check "
		    "the clock", t - now, tolerance_s);
		return -1;
	}
	return 0;
}
