/* password_policy.h: the rules a portal password must meet before it is hashed (issue 9). */
#ifndef PORTALD_PASSWORD_POLICY_H
#define PORTALD_PASSWORD_POLICY_H

#include <stdbool.h>

#define PASSWORD_MIN_CHARS	12	/* Unicode code points */
#define PASSWORD_MAX_BYTES	256	/* bounds the Argon2id input */

/*
 * NULL when pw may be used, else a sentence to show the person choosing it. The rules,
 * in the order they are checked: at most 256 bytes; valid UTF-8; at least 12 characters
 * (code points, so "ééééééééééé" is 11); not on the compiled-in list of common passwords
 * (data/common-passwords.txt, compared case-insensitively); not the email address nor
 * its local part, and not the name (both compared ignoring ASCII case, the name also
 * ignoring spaces). email and name may be NULL. Nothing else is required (no character
 * classes), as NIST SP 800-63B and OWASP advise.
 */
const char *password_policy_check(const char *pw, const char *email, const char *name);

/* True when pw, lower-cased, is on the common-password list. */
bool	password_policy_is_common(const char *pw);

#endif
