/* invoices.h: invoices: drafts, issuing with a gapless per-site number (credit applied,
 * buyer and seller details frozen), voiding. Collection is in payments.h. */
#ifndef PORTALD_INVOICES_H
#define PORTALD_INVOICES_H

#include <stdbool.h>

#include "billing/domain.h"

#define INV_MAX_LINES 100	/* a one-off invoice's lines; subscriptions bill one or two */

struct inv_line {
	char		 kind[24];	/* plan_charge, proration_charge, one_off (a copy:
				 * drafts are rebuilt from rows that are freed) */
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

/* A one-off invoice (lines of kind one_off): checks the customer, the currency and the
 * lines, issues it and collects it like any other. */
int	invoices_create(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
	    struct derr *e);
/* Issues the invoice: numbered, taxed (taxes.h: the rates of the buyer's billing address,
 * or the reverse charge), the customer's available credit in its currency applied to its
 * total, details frozen, its PDF queued, invoice.created (and invoice.paid when nothing
 * is due). */
int	invoices_raise(struct dctx *d, const struct inv_draft *dr, char id[DOM_ID_MAX],
	    struct derr *e);
/* The same, with the id the caller made (dom_new_id "inv"): a renewal saves its
 * subscription's term invoice once, before the invoice is issued. */
int	invoices_raise_as(struct dctx *d, const struct inv_draft *dr, const char *id,
	    struct derr *e);
/* A job runner's batch (dctx.facts with defer_numbers): numbers the invoices issued
 * since the last call with placeholders, in their order of issue. 0 or -1 with e. */
int	invoices_number_deferred(struct dctx *d, struct derr *e);
/* The first charge of invoice_id, issued in this batch and not numbered yet, is counted
 * by the numbering (its attempt_count becomes 1 there): true. False when the invoice
 * is not waiting for its number here; the caller then counts the attempt itself. */
bool	invoices_first_attempt_deferred(struct dctx *d, const char *invoice_id);
/* The number as printed: prefix, then the sequence with at least four digits. */
void	inv_number_text(const char *prefix, long long seq, char out[48]);
/* Voids an open or uncollectible invoice: the credit it consumed goes back, credit
 * computed from its term is never spendable, and a credit note cancels it. With settle_sub, a past-due subscription
 * with nothing left unpaid returns to service. */
int	invoices_void(struct dctx *d, const char *id, bool settle_sub, struct derr *e);
/* Status of an invoice ("open", "paid", ...) into out; 0, or -1 with e (404). */
int	invoices_status(struct dctx *d, const char *id, char out[16], struct derr *e);

#endif
