/* idempotency.h: Idempotency-Key on POST: replay the stored answer, 409 on a different body. */
#ifndef PORTALD_IDEMPOTENCY_H
#define PORTALD_IDEMPOTENCY_H

#include "api/api.h"

enum idem_result {
	IDEM_NONE,	/* no key: run the handler, store nothing */
	IDEM_CLAIMED,	/* new key: run the handler, then idem_store */
	IDEM_ANSWERED	/* replayed, or refused (409/400/503): the response is set */
};

/* Must run inside the request's transaction. */
enum idem_result idem_begin(struct ctx *c);
/* Stores the response for a claimed key; -1 on a database error. */
int	idem_store(struct ctx *c);
/* Before a commit that leaves gateway calls to make: records which object the request
 * answers with, so a retry after a crash can answer from it. */
int	idem_set_answer(struct ctx *c);

#endif
