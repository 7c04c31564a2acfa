/* setups.h: cards set up on the gateway's own page (Stripe Checkout in setup mode), so no
 * card number ever reaches Portald (PCI SAQ A). The set-up is recorded as intent first;
 * the gateway is asked for its page after the commit; the card is stored exactly once,
 * whichever comes first of the customer's return and the gateway's webhook.
 *
 * The portal's "add card" (and POST /api/v1/customers/{id}/payment_methods/setup_session):
 *   in the page's transaction:  setups_begin(&d, &req, id, &e);
 *   after the commit:           payments_settle(&d, &e);   (asks Stripe for the page)
 *                               setups_url(&d, id, url, sizeof(url), &e);  -> 303 to url
 * On the customer's return to success_url (give it "?session_id={CHECKOUT_SESSION_ID}";
 * Stripe fills the session in), outside any transaction:
 *                               setups_sync(&d, customer_id, session_id, id, &e);
 * then obj_write(&d, OBJ_SETUP, id, ...) or the card list shows the stored card. */
#ifndef PORTALD_SETUPS_H
#define PORTALD_SETUPS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "billing/domain.h"

struct setup_req {
	const char	*customer_id;
	const char	*success_url;	/* http(s); may hold {CHECKOUT_SESSION_ID} (Stripe
					 * fills it in) and {SETUP_ID} (setups_begin does) */
	const char	*cancel_url;	/* http(s), or NULL; may hold {SETUP_ID} */
	int		 make_default;	/* 1 yes, 0 no, -1 decide: when the customer has no
					 * usable default card, or has unpaid invoices */
};

/* Phase one, in the caller's transaction: records the set-up ("setup_...") and queues it
 * on d. DERR_CONFLICT gateway_not_hosted when the site's gateway takes cards by API token
 * (the test gateway). */
int	setups_begin(struct dctx *d, const struct setup_req *r, char id[DOM_ID_MAX],
	    struct derr *e);
/* Moves a set-up on, outside any transaction (payments_settle calls it for queued ids):
 * asks the gateway for its page, or, once the page is open, whether the customer finished
 * there (then stores the card). -1 only when the database is unreachable. */
int	setups_settle(struct dctx *d, const char *id, struct derr *e);
/* The page to send the customer to, while the set-up is open. */
int	setups_url(struct dctx *d, const char *id, char *url, size_t n, struct derr *e);
/* The customer is back (or the merchant asks): ref is the set-up's id or the gateway's
 * session id ("cs_..."); customer_id, unless NULL, must own it (else 404). Outside any
 * transaction; stores the card if the customer finished, and settles the charges that a
 * new default card starts. id_out (may be NULL) receives the set-up's id. */
int	setups_sync(struct dctx *d, const char *customer_id, const char *ref,
	    char id_out[DOM_ID_MAX], struct derr *e);
/* The same, in or out of a transaction, without the gateway calls: finds the set-up and
 * queues it on d for payments_settle (the API's sync runs this, the dispatcher settles). */
int	setups_queue(struct dctx *d, const char *customer_id, const char *ref,
	    char id_out[DOM_ID_MAX], struct derr *e);
/* The gateway says set-up setup_id finished with payment method pm (Stripe's object, card
 * details included): stores the card once, makes it default as asked. Opens its own
 * transaction (a savepoint inside the caller's). Charges it queues are the caller's to
 * settle. */
int	setups_store_stripe_card(struct dctx *d, const char *setup_id, const cJSON *pm,
	    struct derr *e);

#endif
