/* pms.h: a customer's payment methods (cards): attach a gateway token, make default,
 * detach; and the test gateway's tokenizer. Only the token, brand, last four digits and
 * expiry are stored. A card that becomes the default pays the customer's overdue
 * invoices at once. */
#ifndef PORTALD_PMS_H
#define PORTALD_PMS_H

#include <stdbool.h>

#include "billing/domain.h"

struct pm_attach_req {
	const char	*customer_id;
	const char	*token;
	int		 make_default;	/* 1 yes, 0 no, -1 decide: the first card, or a
					 * card added while invoices are unpaid */
};

/* What the portal lets a customer do with their cards; the merchant's API passes NULL.
 * Refused: DERR_FORBIDDEN "action_not_allowed". */
struct pm_policy {
	bool		 update_allowed;
};

int	pms_attach(struct dctx *d, const struct pm_attach_req *r, const struct pm_policy *pol,
	    char id[DOM_ID_MAX], struct derr *e);
int	pms_make_default(struct dctx *d, const char *customer_id, const char *pm_id,
	    const struct pm_policy *pol, struct derr *e);
/* Refused for the last card while a subscription still bills it. */
int	pms_detach(struct dctx *d, const char *customer_id, const char *pm_id,
	    const struct pm_policy *pol, struct derr *e);

/* How the site's gateway takes a new card: on the portal's own card form (the number goes
 * to pms_tokenize), or on the gateway's hosted page, reached through a set-up (setups.h:
 * setups_begin in a POST's transaction, then setups_url after the commit). */
enum pm_entry_kind { PM_ENTRY_FORM, PM_ENTRY_HOSTED };
struct pm_entry {
	enum pm_entry_kind	 kind;
	char			 gateway[16];
};
int	pms_card_entry(struct dctx *d, const char *customer_id, const struct pm_policy *pol,
	    struct pm_entry *out, struct derr *e);
/* The card form's number, through the site's gateway: a token for pms_attach. */
int	pms_tokenize(struct dctx *d, const char *number, int exp_month, int exp_year,
	    char token[DOM_ID_MAX], char brand[16], struct derr *e);

#endif
