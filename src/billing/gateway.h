/* gateway.h: the payment gateway interface. Portald keeps a gateway's token for a card and
 * its reference for a charge; everything else stays with the gateway. */
#ifndef PORTALD_GATEWAY_H
#define PORTALD_GATEWAY_H

struct bctx;

struct gateway_result {
	const char	*outcome;	/* "succeeded", "declined", "insufficient_funds",
					 * "expired_card" */
	char		 ref[40];	/* the gateway's id of the charge or refund */
};

struct gateway {
	const char *name;
	/* Charges amount (minor units) on the card behind token. idem is the idempotency key:
	 * a gateway that sees it twice must not charge twice. */
	int	(*charge)(struct bctx *b, const char *token, long long amount,
		    const char *currency, const char *idem, struct gateway_result *out);
	/* Refunds amount of the charge with reference charge_ref. */
	int	(*refund)(struct bctx *b, const char *charge_ref, long long amount,
		    const char *idem, struct gateway_result *out);
};

/* The gateway of that name, or NULL. Today: "test". */
const struct gateway *gateway_get(const char *name);

#endif
