/* invoices.h: invoices: drafts, issuing with a gapless per-site number (credit applied,
 * buyer and seller details frozen), voiding. Collection is in payments.h. */
#ifndef PORTALD_INVOICES_H
#define PORTALD_INVOICES_H

#include <stdbool.h>

#include "billing/domain.h"

#define INV_MAX_LINES 8

struct inv_line {
	const char	*kind;		/* plan_charge, proration_charge */
	char		 description[240];
	long long	 amount;	/* never negative: credit goes to the ledger */
	char		 plan_id[DOM_ID_MAX];
	long long	 start, end;
};

struct inv_draft {
	char		customer_id[DOM_ID_MAX], subscription_id[DOM_ID_MAX], currency[4];
	struct inv_line	lines[INV_MAX_LINES];
	int		n;
};

void	inv_draft_init(struct inv_draft *dr, const char *customer_id, const char *sub_id,
	    const char *currency);
void	inv_draft_add(struct inv_draft *dr, const char *kind, const char *desc,
	    long long amount, const char *plan_id, long long start, long long end);
long long inv_draft_total(const struct inv_draft *dr);

/* Issues the invoice: numbered, the customer's available credit in its currency applied,
 * details frozen, invoice.created (and invoice.paid when nothing is due). */
int	invoices_raise(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
	    struct derr *e);
/* Voids an open or uncollectible invoice: the credit it consumed goes back, credit
 * computed from its term is never spendable. With settle_sub, a past-due subscription
 * with nothing left unpaid returns to service. */
int	invoices_void(struct dctx *d, const char *id, bool settle_sub, struct derr *e);
/* Status of an invoice ("open", "paid", ...) into out; 0, or -1 with e (404). */
int	invoices_status(struct dctx *d, const char *id, char out[16], struct derr *e);

#endif
