/* pdfjob.h: the job runner's document step: the PDFs of newly issued invoices and credit
 * notes, rendered once and stored. */
#ifndef PORTALD_PDFJOB_H
#define PORTALD_PDFJOB_H

#include "billing/domain.h"
#include "db/db.h"

#define PDFJOB_PER_PASS	20	/* documents per site and pass, so billing is not held up */

/* Renders up to PDFJOB_PER_PASS waiting documents of the site, each in its own
 * transaction (claimed with FOR UPDATE SKIP LOCKED, so runners on several hosts render
 * each once). Returns how many were handled; database trouble ends the step early and is
 * noticed by the runner's next statement. */
int	pdfjob_pass(struct db *db, const struct site *site);

#endif
