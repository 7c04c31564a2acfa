/* webhook.h: signed webhook POSTs, refused for internal addresses unless allowed. */
#ifndef PORTALD_WEBHOOK_H
#define PORTALD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* Delivers body to url signed with secret; returns the HTTP status (0 when there was no
 * answer) and fills err on failure. Unless allow_private, a connection to a loopback,
 * private, link-local or otherwise internal address is refused before anything is sent. */
int	webhook_post(const char *url, const char *secret, const char *body, bool allow_private,
	    char *err, size_t errlen);
/* true for addresses a webhook must not reach by default (text form, IPv4 or IPv6). */
bool	webhook_ip_is_internal(const char *ip);
/* "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" */
void	webhook_signature(const char *secret, long long t, const char *body, char out[100]);

#endif
