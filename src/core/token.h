/* token.h: the tokens of portal links and session cookies, "<site>.<id>.<secret>": the
 * site comes first so every lookup is scoped; only their SHA-256 is ever stored. */
#ifndef PORTALD_TOKEN_H
#define PORTALD_TOKEN_H

#include <stddef.h>

#include "core/crypto.h"

#define TOKEN_MAX	200
#define PORTAL_SESSION_TTL	3600	/* an SSO access URL works within the hour */

/* "<site>.<session id>.<secret>": the site comes first so every lookup is scoped. */
struct token {
	char	site_id[48];
	char	session_id[48];
	char	secret[CRYPTO_SECRET_B64_LEN];
};

int	token_parse(const char *s, struct token *t);
/* Makes a fresh token for (site, session); fills text and its hex SHA-256. */
int	token_new(const char *site_id, const char *session_id, char *text, size_t len,
	    char hash_hex[65]);
void	token_hash_hex(const char *text, char hash_hex[65]);

#endif
