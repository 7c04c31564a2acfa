/* webhook.c: signed webhook POSTs with libcurl: short timeouts, no redirects, http(s) only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

static bool
v4_internal(const unsigned char a[4])
{
	return a[0] == 0 ||					/* 0/8 "this network" */
	    a[0] == 10 || a[0] == 127 ||
	    (a[0] == 100 && (a[1] & 0xC0) == 64) ||		/* 100.64/10 CGNAT */
	    (a[0] == 169 && a[1] == 254) ||			/* link-local */
	    (a[0] == 172 && (a[1] & 0xF0) == 16) ||		/* 172.16/12 */
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) ||	/* IETF, TEST-NET-1 */
	    (a[0] == 192 && a[1] == 88 && a[2] == 99) ||	/* 6to4 relay anycast */
	    (a[0] == 198 && (a[1] & 0xFE) == 18) ||		/* 198.18/15 benchmarking */
	    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||	/* TEST-NET-2 */
	    (a[0] == 203 && a[1] == 0 && a[2] == 113) ||	/* TEST-NET-3 */
	    a[0] >= 224;					/* multicast, 240/4, broadcast */
}

/* IPv6, including every form that carries an IPv4 address inside: the IPv4 address is
 * what a packet reaches in the end, so it is judged by the IPv4 rules. */
static bool
v6_internal(const unsigned char a[16])
{
	static const unsigned char zero[10];
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(a, zero, 10) == 0) {
		if (a[10] == 0xff && a[11] == 0xff)		/* ::ffff:a.b.c.d mapped */
			return v4_internal(a + 12);
		if (a[10] == 0 && a[11] == 0)			/* ::a.b.c.d, ::, ::1 */
			return true;
		return true;					/* anything else in ::/80 */
	}
	if (memcmp(a, zero, 8) == 0 && a[8] == 0xff && a[9] == 0xff && a[10] == 0 &&
	    a[11] == 0)						/* ::ffff:0:a.b.c.d */
		return v4_internal(a + 12);
	if (memcmp(a, nat64, 12) == 0)				/* 64:ff9b::/96 NAT64 */
		return v4_internal(a + 12);
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 &&
	    a[5] == 1)						/* 64:ff9b:1::/48 local NAT64 */
		return true;
	if (a[0] == 0x20 && a[1] == 0x02)			/* 2002::/16 6to4 */
		return v4_internal(a + 2);
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)	/* 2001::/32 Teredo */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)	/* documentation */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && (a[3] & 0xF0) == 0x10)
		return true;					/* 2001:10::/28 ORCHID */
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0)
		return true;					/* 100::/64 discard */
	return (a[0] & 0xFE) == 0xFC ||				/* fc00::/7 unique local */
	    (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) ||		/* fe80::/10 link-local */
	    (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) ||		/* fec0::/10 site-local */
	    a[0] == 0xFF;					/* multicast */
}

bool
webhook_addr_is_internal(const struct sockaddr *sa, size_t len)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;

	/* Copied out: the caller's storage may be declared as a plain struct sockaddr. */
	if (sa != NULL && sa->sa_family == AF_INET && len >= sizeof(v4)) {
		memcpy(&v4, sa, sizeof(v4));
		return v4_internal((const unsigned char *)&v4.sin_addr);
	}
	if (sa != NULL && sa->sa_family == AF_INET6 && len >= sizeof(v6)) {
		memcpy(&v6, sa, sizeof(v6));
		return v6_internal(v6.sin6_addr.s6_addr);
	}
	return true;	/* not an address we understand: refuse */
}

bool
webhook_ip_is_internal(const char *ip)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return v4_internal(a);
	if (inet_pton(AF_INET6, ip, a) == 1)
		return v6_internal(a);
	return true;
}

/* libcurl asks for each socket before it connects it, with the address it is about to
 * connect to: the address checked is the address connected, whatever a resolver said
 * before or says later, and nothing at all reaches an internal address (so no attempt
 * can tell an open port from a closed one). curl tries the next address, if any. */
static curl_socket_t
open_checked(void *user, curlsocktype purpose, struct curl_sockaddr *addr)
{
	bool *refused = user;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    webhook_addr_is_internal(&addr->addr, addr->addrlen)) {
		*refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
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
	bool refused = false;
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
	/* A proxy from the environment would be the address connected, not the target. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (!allow_private) {
		curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &refused);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else if (refused)	/* one answer, whatever the port's state */
		snprintf(err, errlen, "%s", WEBHOOK_NOT_ALLOWED);
	else
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
	if (rc == CURLE_OK && (status < 200 || status > 299))
		snprintf(err, errlen, "HTTP %ld", status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return (int)status;
}
