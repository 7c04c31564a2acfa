/* credit.h: the credit ledger, per customer and currency: grants with their source, spends
 * on invoices, give-backs when an invoice is voided. Only available entries count. */
#ifndef PORTALD_CREDIT_H
#define PORTALD_CREDIT_H

#include "billing/domain.h"

struct credit_grant {
	const char	*customer_id, *currency;
	long long	 amount;		/* > 0 */
	const char	*source;		/* proration, cancellation, pause, void, manual */
	const char	*description;
	const char	*source_invoice_id;	/* the term's invoice: pending until it is paid */
	const char	*invoice_id;		/* void: the invoice that gave it back */
	const char	*subscription_id;
	long long	 period_start, period_end;	/* -1: none */
};

/* Records a grant. Its status follows its source invoice: available when there is none or
 * it is paid, pending while it is open; a source that is void or uncollectible grants
 * nothing (returns 0 with *created 0). */
int	credit_grant(struct dctx *d, const struct credit_grant *g, char id[DOM_ID_MAX],
	    struct derr *e);
/* The customer's available balance in currency, read without a lock. 0 or -1 with e. */
int	credit_balance(struct dctx *d, const char *customer_id, const char *currency,
	    long long *bal, struct derr *e);
/* Sends ahead (db_read_ahead) the balance credit_apply reads first: an invoice sends it
 * with its parties, and nothing it writes before spending changes the balance. */
void	credit_read_ahead(struct dctx *d, const char *customer_id, const char *currency);
/* Spends up to max of the customer's available balance in currency on an invoice; a
 * positive balance is read again with the customer row locked, so two invoices cannot
 * spend the same credit. */
int	credit_apply(struct dctx *d, const char *customer_id, const char *currency,
	    long long max, const char *invoice_id, long long *applied, struct derr *e);
/* The invoice was voided: what it spent comes back, credit from its term turns void. */
int	credit_invoice_voided(struct dctx *d, const char *invoice_id, const char *customer_id,
	    const char *currency, struct derr *e);
/* The term's invoice was paid (available) or will never be (void). */
int	credit_source_settled(struct dctx *d, const char *invoice_id, bool paid,
	    struct derr *e);

#endif
