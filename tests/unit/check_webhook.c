/* check_webhook.c: which addresses a webhook may reach, and that the address checked is
 * the address connected. getaddrinfo and connect are interposed here (this program's
 * definitions come first for libcurl): a test name resolves to a public address on one
 * lookup and to 127.0.0.1 on the next, and every connect() is recorded; the public
 * address is never really dialled, the call fails at once as if refused. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check_main.h"
#include "jobs/webhook.h"

#define REBIND_NAME	"rebind.portald.test"
#define PUBLIC_ADDR	"93.184.216.34"

static int lookups;
static char connected[32][INET6_ADDRSTRLEN];
static int nconnected;

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
	    (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
	    dlsym(RTLD_NEXT, "getaddrinfo");

	if (node != NULL && strcmp(node, REBIND_NAME) == 0) {
		struct addrinfo h;
		int n = __atomic_fetch_add(&lookups, 1, __ATOMIC_SEQ_CST);

		memset(&h, 0, sizeof(h));
		if (hints != NULL)
			h = *hints;
		h.ai_flags = (h.ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST;
		h.ai_family = AF_INET;
		/* First answer public, the next loopback, and so on: a rebinding name. */
		return real(n % 2 == 0 ? PUBLIC_ADDR : "127.0.0.1", service, &h, res);
	}
	return real(node, service, hints, res);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
	    (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	char text[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, text,
		    sizeof(text));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    text, sizeof(text));
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		if (nconnected < 32)
			snprintf(connected[nconnected++], INET6_ADDRSTRLEN, "%s", text);
		if (strcmp(text, PUBLIC_ADDR) == 0) {
			errno = ECONNREFUSED;	/* never leave this machine */
			return -1;
		}
	}
	return real(fd, sa, len);
}

/* A listening socket on 127.0.0.1 that nobody should ever reach; returns its fd. */
static int
listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static bool
nothing_accepted(int fd)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0)
		close(c);
	return c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

START_TEST(address_ranges)
{
	const char *internal[] = {
	    "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1",
	    "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
	    "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1",
	    "239.255.255.250", "240.0.0.1", "255.255.255.255",
	    "::", "::1", "fe80::1", "febf::1", "fec0::1", "feff::1", "fc00::1", "fd12::1",
	    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:0:127.0.0.1",
	    "::ffff:0:192.168.0.1", "::127.0.0.1", "::10.0.0.1", "::8.8.8.8",
	    "64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::8.8.8.8",
	    "2002:7f00:1::", "2002:c0a8:101::1", "2002:a00:1::", "2001::1", "2001:db8::1",
	    "2001:10::1", "100::1", "not-an-ip", "", "1.2.3", "::ffff:1.2.3.4.5" };
	const char *external[] = {
	    "93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.0.3.1",
	    "198.20.0.1", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450::1",
	    "::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
	    "2001:4860:4860::8888" };

	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		ck_assert_msg(webhook_ip_is_internal(internal[i]), "%s", internal[i]);
	for (size_t i = 0; i < sizeof(external) / sizeof(external[0]); i++)
		ck_assert_msg(!webhook_ip_is_internal(external[i]), "%s", external[i]);
}
END_TEST

/* The name's address changes between lookups. Whatever order a check and a connect would
 * see them in, no socket may ever be connected to 127.0.0.1. */
START_TEST(name_that_changes_address_never_reaches_loopback)
{
	int port, fd = listener(&port), refused = 0, other = 0;
	char url[96], err[256];

	snprintf(url, sizeof(url), "http://" REBIND_NAME ":%d/hook", port);
	for (int i = 0; i < 4; i++) {
		err[0] = '\0';
		ck_assert_int_eq(webhook_post(url, "whsec_x", "{}", false, err, sizeof(err)), 0);
		if (strcmp(err, WEBHOOK_NOT_ALLOWED) == 0)
			refused++;
		else
			other++;
	}
	ck_assert_int_ge(lookups, 4);	/* each delivery resolved afresh */
	for (int i = 0; i < nconnected; i++)
		ck_assert_msg(strcmp(connected[i], "127.0.0.1") != 0, "connected to %s",
		    connected[i]);
	ck_assert(nothing_accepted(fd));
	ck_assert_int_gt(refused, 0);	/* the loopback answers were refused... */
	ck_assert_int_gt(other, 0);	/* ...and the public ones were tried */
	close(fd);
}
END_TEST

/* Open, closed, TLS or plain: an internal target gives one answer and no connection. */
START_TEST(internal_ports_cannot_be_told_apart)
{
	int port, closed, fd = listener(&port), gone = listener(&closed);
	char urls[6][96], err[256];

	close(gone);
	snprintf(urls[0], 96, "http://127.0.0.1:%d/", port);
	snprintf(urls[1], 96, "http://127.0.0.1:%d/", closed);
	snprintf(urls[2], 96, "https://127.0.0.1:%d/", port);
	snprintf(urls[3], 96, "http://[::ffff:127.0.0.1]:%d/", port);
	snprintf(urls[4], 96, "http://localhost:%d/", port);
	snprintf(urls[5], 96, "http://0.0.0.0:%d/", port);
	for (int i = 0; i < 6; i++) {
		err[0] = '\0';
		ck_assert_int_eq(webhook_post(urls[i], "whsec_x", "{}", false, err, sizeof(err)), 0);
		ck_assert_msg(strcmp(err, WEBHOOK_NOT_ALLOWED) == 0, "%s: %s", urls[i], err);
	}
	ck_assert_int_eq(nconnected, 0);
	ck_assert(nothing_accepted(fd));
	close(fd);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("targets");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, address_ranges);
	tcase_add_test(tc, name_that_changes_address_never_reaches_loopback);
	tcase_add_test(tc, internal_ports_cannot_be_told_apart);
	suite_add_tcase(s, tc);
	return s;
}
