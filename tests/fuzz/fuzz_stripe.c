/* fuzz_stripe.c: the Stripe-Signature header with its body (both are an attacker's bytes on
 * the webhook endpoint), and Stripe's form encoding. A header that verifies must carry the
 * real HMAC of the body; an encoded key=value pair never holds a raw '&' or '='. */
#include "fuzz.h"

#include "core/buf.h"
#include "stripe/form.h"
#include "stripe/webhook.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl;
	char *header, err[256];
	const char *body;
	size_t hlen, blen;
	struct stripe_form *f;
	struct buf b;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* First line: the header; the rest: the body. */
	nl = memchr(data, '\n', size);
	hlen = nl ? (size_t)(nl - data) : size;
	header = fuzz_cstr(data, hlen);
	body = nl ? (const char *)nl + 1 : "";
	blen = nl ? size - hlen - 1 : 0;
	(void)stripe_webhook_verify(header, body, blen, "whsec_fuzz", 1700000000LL, 300, err,
	    sizeof(err));
	/* Nothing the input holds verifies under a secret it never saw. */
	FUZZ_CHECK(stripe_webhook_verify(header, body, blen, "whsec_other_secret",
	    1700000000LL, 300, err, sizeof(err)) != 0);
	f = stripe_form_new();
	if (f != NULL) {
		if (stripe_form_add(f, "metadata[note]", header) == 0) {
			buf_init(&b);
			stripe_form_encode(f, &b);
			FUZZ_CHECK(b.data != NULL && strchr(strchr(b.data, '=') + 1, '=') == NULL &&
			    strchr(b.data, '&') == NULL);
			buf_free(&b);
		}
		stripe_form_free(f);
	}
	free(header);
	return 0;
}
