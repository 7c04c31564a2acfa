/* gateways.h: which payment gateway each site charges through (test or Stripe), its Stripe
 * keys sealed under the server key, and the administrator's settings for reaching Stripe
 * (the API address, the CA file, timeouts), which hold for every site. */
#ifndef PORTALD_GATEWAYS_H
#define PORTALD_GATEWAYS_H

#include <stdbool.h>

#include "billing/domain.h"
#include "billing/gateway.h"
#include "core/config.h"
#include "stripe/client.h"

/* Once per process, before any gateway call: the [stripe] settings, the secrets that seal
 * and open the sites' keys, and [server] public_url (for the webhook address shown to
 * merchants). cfg must outlive every call (portald's configuration does; a reload updates
 * it in place). */
void	gateways_configure(const struct config *cfg);

/* A site's gateway, as stored. name is "" when it has none (a live site not yet connected
 * to Stripe); a test site without a row uses "test". */
struct gateway_site {
	char	name[16];		/* "test", "stripe" or "" */
	char	key_hint[32];		/* "sk_live_...4242" */
	bool	webhook_secret_set;
	char	webhook_url[512];	/* where Stripe must send its events for this site */
};
int	gateways_site_get(struct dctx *d, struct gateway_site *out, struct derr *e);

/* Sets the site's gateway, in the caller's transaction. "test" only on test sites;
 * "stripe" with a secret key of the site's mode (sk_test_ / rk_test_ on test sites,
 * sk_live_ / rk_live_ on live sites) and the endpoint's signing secret (whsec_...); when
 * the site is already on Stripe either may be left NULL to keep the stored one. The keys
 * are sealed; nothing logs or returns them. Changing gateway marks the cards of every
 * other gateway unusable (the portal asks for a new card); customers stay. */
struct gateway_site_req {
	const char	*name;
	const char	*secret_key;
	const char	*webhook_secret;
};
int	gateways_site_set(struct dctx *d, const struct gateway_site_req *r, struct derr *e);

/* The site's gateway name ("test", "stripe", or "" for none). */
int	gateways_site_name(struct dctx *d, char name[16], struct derr *e);

/* A Stripe client with the site's secret key (opened for this call only); free it with
 * stripe_client_free. DERR_CONFLICT when the site is not on Stripe. */
int	gateways_stripe_client(struct dctx *d, struct stripe_client **out, struct derr *e);
/* The site's Stripe webhook signing secret into out (wipe it after use). */
int	gateways_stripe_webhook_secret(struct dctx *d, struct buf *out, struct derr *e);

/* Seals or opens a value of this site under the server key, bound to purpose (a constant
 * such as "setup_url") and the site. 0 or -1 (no server key, or tampered text). */
int	gateways_seal(const struct dctx *d, const char *purpose, const char *plain,
	    struct buf *out);
int	gateways_open(const struct dctx *d, const char *purpose, const char *sealed,
	    struct buf *out);

/* Wipes and frees a buffer that held a secret. */
void	gateways_wipe(struct buf *b);

#endif
