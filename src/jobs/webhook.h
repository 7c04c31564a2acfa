/* webhook.h: signed webhook POSTs, refused for internal addresses unless allowed. */
#ifndef PORTALD_WEBHOOK_H
#define PORTALD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

/* The one error an attempt to an internal address records, whatever the port's state. */
#define WEBHOOK_NOT_ALLOWED	"the address is not allowed"

/* Delivers body to url signed with secret; returns the HTTP status (0 when there was no
 * answer) and fills err on failure. Unless allow_private, no socket is ever connected to
 * an internal address (checked on the address about to be connected, so a name whose
 * address changes between lookups cannot slip through): err is WEBHOOK_NOT_ALLOWED. */
int	webhook_post(const char *url, const char *secret, const char *body, bool allow_private,
	    char *err, size_t errlen);
/* true for addresses a webhook must not reach by default: loopback, private, link-local,
 * CGNAT, multicast, reserved and documentation ranges, and IPv6 forms that carry such an
 * IPv4 address (mapped, compatible, translated, NAT64, 6to4). */
bool	webhook_addr_is_internal(const struct sockaddr *sa, size_t len);
/* The same for an address in text form; anything that does not parse is internal. */
bool	webhook_ip_is_internal(const char *ip);
/* "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" */
void	webhook_signature(const char *secret, long long t, const char *body, char out[100]);

#endif
