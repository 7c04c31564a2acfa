/* pdfjob.h: the job runner's document step: the PDFs of newly issued invoices and credit
 * notes, rendered once and stored. */
#ifndef PORTALD_PDFJOB_H
#define PORTALD_PDFJOB_H

#include "billing/domain.h"
#include "db/db.h"

#define PDFJOB_PER_PASS	24	/* documents per site and pass, so other sites are not held up */
#define PDFJOB_PER_TXN	8	/* documents per transaction: one claim and one commit */

/* Renders up to max (PDFJOB_PER_PASS, or PDFJOB_PER_TXN while billing is behind) waiting
 * documents of the site, PDFJOB_PER_TXN to a transaction (claimed with FOR UPDATE SKIP
 * LOCKED, so runners on several hosts render each once; each in a savepoint, so one that
 * fails is recorded alone). Returns how many were handled; database trouble ends the step
 * early and is noticed by the runner's next statement. */
int	pdfjob_pass(struct db *db, const struct site *site, int max);

#endif
