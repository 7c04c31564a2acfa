/* mail_templates.h: the messages Portald sends, rendered from templates/mail/ (compiled in)
 * and a cJSON data object into a subject, a plain-text and an HTML part.
 *
 * Each type has templates/mail/<type>.txt, whose first line is "Subject: ..." followed by
 * an empty line and the text body, and templates/mail/<type>.html, the HTML body. Both
 * are wrapped in templates/mail/layout.txt / layout.html (greeting, branding, footer).
 * Templates are the Mustache subset of core/tmpl.h; HTML escapes every value, text
 * inserts values as they are.
 *
 * DATA CONTRACT. Values are strings already formatted for the reader: amounts with
 * their currency ("$30.00", "€ 12,50"), dates and times in words with the zone
 * ("3 March 2026", "3 March 2026, 14:05 UTC"), link lifetimes as a phrase that follows
 * "expires" ("in 15 minutes", "on 3 March 2026"). Templates do no arithmetic, no
 * formatting and no look-ups. "?" marks an optional field; a required one that is
 * missing or empty is an error, so a message never goes out with a hole in it.
 *
 * Every type:
 *   site.name            the merchant's name: header, subject, footer
 *   site.color?          brand colour "#rrggbb" or "#rgb" (default #2554c7); the text
 *                        colour on it and the link colour are chosen for contrast
 *   site.logo_url?       absolute URL of the logo on the portal's own origin (Portald
 *                        serves uploaded logos); refused on any other origin, so no
 *                        mail makes a client fetch a merchant's URL. alt = site.name
 *   site.support_email?  where customers can write (footer)
 *   portal_url           the site's portal, e.g. https://billing.example/portal/acme
 *   customer.name?       for the greeting: "Hello Jane," or "Hello,"
 * Per type (fields beyond these are ignored):
 *   invitation            link.url, link.expires
 *   login_link            link.url, link.expires
 *   set_password          link.url, link.expires, reset? (true: forgotten-password
 *                         wording; false: confirm the address and set a password)
 *   password_changed      changed_at, signin_url? (where to reset it)
 *   email_changed         old_email, new_email, changed_at     (sent to the OLD address)
 *   payment_failed        invoice.number, invoice.amount, link.url (signs in at the
 *                         card update), link.expires, payment_method?, reason?,
 *                         next_attempt?
 *   action_required       invoice.number, invoice.amount, link.url, link.expires?
 *   payment_receipt       invoice.number, invoice.amount, paid_at, payment_method
 *                         ("Visa ending 4242"), lines? ([{description, amount}]),
 *                         invoice.url?
 *   trial_ending          plan.name, trial_end, amount (the first charge),
 *                         payment_method? (none: the mail asks for one)
 *   card_expiring         payment_method, expiry ("12/2026"), link.url, link.expires?
 *   subscription_cancelled subscription.reference, plan.name, cancelled_at (date and
 *                         time), service_until?, reason?
 *   renewal_reminder      plan.name, renews_at, amount, payment_method?
 * Every URL field (portal_url, link.url, site.logo_url, invoice.url, signin_url) must
 * be http:// or https://.
 *
 * The caller adds the rest of struct mail_msg; recommended extra headers are
 * Auto-Submitted: auto-generated, X-Portald-Type: <type>, and List-Unsubscribe for the
 * types a customer may switch off. */
#ifndef PORTALD_MAIL_TEMPLATES_H
#define PORTALD_MAIL_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "mail/mail.h"

/* The rendered parts; mail_content_free releases them (and accepts NULL). */
struct mail_content {
	struct buf	subject;	/* one line, no line break */
	struct buf	text;
	struct buf	html;
};

/* The message types, NULL-terminated: "invitation", "login_link", ... */
extern const char *const mail_types[];

bool	mail_type_known(const char *type);
void	mail_content_init(struct mail_content *c);
void	mail_content_free(struct mail_content *c);

/* Renders type from data into out (its buffers are reset first). Returns 0, or -1 with
 * err filled: unknown type, a required field missing, a URL that is not http(s), a logo
 * on another origin, a malformed colour. */
int	mail_render(const char *type, const cJSON *data, struct mail_content *out,
	    char *err, size_t errlen);

/* Points m's subject, text and html at c (which must outlive m's use). */
void	mail_content_apply(const struct mail_content *c, struct mail_msg *m);

#endif
