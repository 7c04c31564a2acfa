/* pms.h: a customer's payment methods (cards): attach a gateway token, make default,
 * detach; and the test gateway's tokenizer. Only the token, brand, last four digits and
 * expiry are stored. A card that becomes the default pays the customer's overdue
 * invoices at once. */
#ifndef PORTALD_PMS_H
#define PORTALD_PMS_H

#include "billing/domain.h"

struct pm_attach_req {
	const char	*customer_id;
	const char	*token;
	int		 make_default;	/* 1 yes, 0 no, -1 decide: the first card, or a
					 * card added while invoices are unpaid */
};

int	pms_attach(struct dctx *d, const struct pm_attach_req *r, char id[DOM_ID_MAX],
	    struct derr *e);
int	pms_make_default(struct dctx *d, const char *customer_id, const char *pm_id,
	    struct derr *e);
/* Refused for the last card while a subscription still bills it. */
int	pms_detach(struct dctx *d, const char *customer_id, const char *pm_id, struct derr *e);

/* The test gateway's tokenizer (test sites only): the number is classified and forgotten. */
int	pms_test_tokenize(struct dctx *d, const char *number, int exp_month, int exp_year,
	    char token[DOM_ID_MAX], char brand[16], struct derr *e);

#endif
