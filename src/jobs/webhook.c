/* webhook.c: signed webhook POSTs with libcurl: short timeouts, no redirects, http(s) only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <curl/curl.h>

#include "core/crypto.h"
#include "jobs/webhook.h"

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

bool
webhook_ip_is_internal(const char *ip)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1) {
		return a[0] == 0 || a[0] == 10 || a[0] == 127 ||
		    (a[0] == 100 && (a[1] & 0xC0) == 64) ||		/* 100.64/10 */
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 172 && (a[1] & 0xF0) == 16) ||		/* 172.16/12 */
		    (a[0] == 192 && a[1] == 168) || (a[0] == 192 && a[1] == 0 && a[2] == 0) ||
		    (a[0] == 198 && (a[1] & 0xFE) == 18) ||		/* 198.18/15 */
		    a[0] >= 224;					/* multicast, reserved */
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		bool zero = true;

		for (int i = 0; i < 15; i++)
			zero = zero && a[i] == 0;
		if (zero)					/* :: and ::1 */
			return true;
		if (memcmp(a, mapped, 12) == 0) {		/* ::ffff:a.b.c.d */
			char v4[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, a + 12, v4, sizeof(v4));
			return webhook_ip_is_internal(v4);
		}
		return (a[0] & 0xFE) == 0xFC ||			/* fc00::/7 */
		    (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) ||	/* fe80::/10 */
		    a[0] == 0xFF;				/* multicast */
	}
	return true;	/* not an address we understand: refuse */
}

/* Runs after curl connected and before it sends: the address it actually reached is
 * checked, so a DNS answer that changes between lookups cannot slip through. */
static int
check_target(void *user, char *ip, char *local_ip, int remote_port, int local_port)
{
	(void)local_ip;
	(void)remote_port;
	(void)local_port;
	if (webhook_ip_is_internal(ip)) {
		snprintf(user, 256, "refused: %s is an internal address", ip);
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static size_t
discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

int
webhook_post(const char *url, const char *secret, const char *body, bool allow_private,
    char *err, size_t errlen)
{
	char refused[256] = "";
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
	if (!allow_private) {
		curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, check_target);
		curl_easy_setopt(h, CURLOPT_PREREQDATA, refused);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, errlen, "%s", refused[0] ? refused :
		    ebuf[0] ? ebuf : curl_easy_strerror(rc));
	if (rc == CURLE_OK && (status < 200 || status > 299))
		snprintf(err, errlen, "HTTP %ld", status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return (int)status;
}
