/* jobs.h: the job runner: renewals, trial ends, resumes, dunning retries, webhooks. */
#ifndef PORTALD_JOBS_H
#define PORTALD_JOBS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "db.h"

/* Runs until *stop is set. Returns an exit code. */
int	jobs_run(const struct config *cfg, volatile sig_atomic_t *stop);
/* One pass over every site; returns how many items it processed, -1 on database trouble. */
int	jobs_pass(struct db *db);

/* webhook.c */
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
