/* webhook.c: signed webhook POSTs with libcurl: short timeouts, no redirects, http(s) only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "crypto.h"
#include "jobs.h"

void
webhook_signature(const char *secret, long long t, const char *body, char out[100])
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	char hex[65];
	char *msg;
	size_t n = strlen(body) + 32;

	msg = malloc(n);
	if (msg == NULL)
		abort();
	snprintf(msg, n, "%lld.%s", t, body);
	crypto_hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	free(msg);
	crypto_hex(mac, sizeof(mac), hex);
	snprintf(out, 100, "t=%lld,v1=%s", t, hex);
}

static size_t
discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

int
webhook_post(const char *url, const char *secret, const char *body, char *err, size_t errlen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char sig[100], line[160], ebuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (h == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return 0;
	}
	webhook_signature(secret, (long long)time(NULL), body, sig);
	snprintf(line, sizeof(line), "Portald-Signature: %s", sig);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "User-Agent: Portald-Webhooks/1");
	hdr = curl_slist_append(hdr, line);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	if (rc == CURLE_OK && (status < 200 || status > 299))
		snprintf(err, errlen, "HTTP %ld", status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return (int)status;
}
