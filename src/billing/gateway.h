/* gateway.h: the payment gateway interface. Portald keeps a gateway's token for a card, its
 * reference for a customer and for each charge or refund; everything else stays with the
 * gateway. Every call is made outside any database transaction (DESIGN, rulings): the
 * caller records the intent with a stable idempotency key and commits first. */
#ifndef PORTALD_GATEWAY_H
#define PORTALD_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "billing/domain.h"

enum gw_outcome {
	GW_SUCCEEDED = 1,
	GW_DECLINED,		/* code says why: declined, insufficient_funds, expired_card */
	GW_REQUIRES_ACTION,	/* the customer must authenticate (3-D Secure) on-session */
	GW_PENDING,		/* accepted, the result comes later (a webhook) */
	GW_UNKNOWN,		/* no answer (timeout, 5xx): ask again with the same key */
	GW_NOT_FOUND		/* retrieve: the gateway never saw this key */
};

struct gw_result {
	enum gw_outcome	 outcome;
	char		 code[48];	/* the attempt's recorded outcome, e.g. "declined" */
	char		 ref[96];	/* the gateway's id of the charge or refund */
	char		 message[200];
	char		 action_url[DOM_URL_MAX];	/* GW_REQUIRES_ACTION on-session: where
						 * the customer goes to authenticate */
	char		 decline_code[64];	/* the gateway's own reason, e.g.
						 * "insufficient_funds", "generic_decline" */
};

struct gw_charge {
	const char	*customer_ref;	/* the gateway's customer, where it has one */
	const char	*token;		/* the card */
	long long	 amount;	/* minor units */
	const char	*currency;
	const char	*idem;		/* the same key for the same logical charge, always */
	const char	*invoice_id;
	bool		 off_session;	/* the customer is not there to authenticate */
	const char	*return_url;	/* on-session: where the bank's page sends the
					 * customer back (GW_REQUIRES_ACTION), or NULL */
};

struct gateway {
	const char *name;
	/* Charges; repeating the key never charges twice and returns the first answer. */
	int	(*charge)(struct dctx *d, const struct gw_charge *c, struct gw_result *out,
		    struct derr *e);
	/* What became of the charge or refund sent with this key (after a crash or an unknown
	 * outcome); GW_NOT_FOUND when the gateway never received it. */
	int	(*retrieve)(struct dctx *d, const char *kind, const char *idem, const char *ref,
		    struct gw_result *out, struct derr *e);
	/* Refunds amount of the charge with reference charge_ref. */
	int	(*refund)(struct dctx *d, const char *charge_ref, long long amount,
		    const char *currency, const char *idem, struct gw_result *out,
		    struct derr *e);
	/* The portal's card form posts the number here (never stored or logged) and gets a
	 * token for pms_attach. NULL: the gateway takes cards only on its own hosted page
	 * (setups.h), so no card number ever reaches Portald. */
	int	(*tokenize)(struct dctx *d, const char *number, int exp_month, int exp_year,
		    char token[DOM_ID_MAX], char brand[16], struct derr *e);
};

/* The gateway of that name, or NULL: "test" (gateway_test.c), "stripe" (gateway_stripe.c).
 * Defined in gateways.c, with each site's choice of gateway. */
const struct gateway *gateway_get(const char *name);
/* The gateway the site charges and takes new cards with (its configured one; "test" for a
 * test site without a choice). DERR_CONFLICT "no_gateway" for a live site not yet connected
 * to one. Defined in gateways.c. */
int	gateway_for_site(struct dctx *d, const struct gateway **out, struct derr *e);

#endif
