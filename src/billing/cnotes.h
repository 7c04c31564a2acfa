/* cnotes.h: credit notes. An invoice is never changed once issued and never negative;
 * what corrects it is a credit note with its own gapless number series, referring to it:
 * unused time credited after a plan change, a cancellation or a pause, a refund, a void.
 * The credit ledger (credit.h) stays the balance: a credit note's credit_amount is the
 * ledger entry it documents. */
#ifndef PORTALD_CNOTES_H
#define PORTALD_CNOTES_H

#include "billing/credit.h"
#include "billing/domain.h"

/*
 * Credits the unused time of a paid term (g->source_invoice_id, the term's invoice): a
 * credit note for g->amount, priced like the invoice's lines (its tax rates applied again,
 * or the reverse charge), capped by what the invoice has not credited yet, whose total is
 * granted to the customer's balance (source g->source). *granted is that total, 0 when
 * nothing was left to credit (then there is no credit note).
 */
int	cnotes_credit_unused(struct dctx *d, const struct credit_grant *g, long long *granted,
	    struct derr *e);
/* A refund of amount (tax included) on a paid invoice went through: its credit note.
 * A refund of the whole invoice repeats its lines; a part is one line whose tax is each
 * rate's share of the amount (taxes_share). */
int	cnotes_for_refund(struct dctx *d, const char *invoice_id, long long amount,
	    const char *attempt_id, struct derr *e);
/* A voided invoice: a credit note repeating it, credit (what it had taken from the balance,
 * given back) plus due (what it no longer asks for) being its total. */
int	cnotes_for_void(struct dctx *d, const char *invoice_id, long long credit, long long due,
	    struct derr *e);

#endif
