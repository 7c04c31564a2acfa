/* pdfjob.c: the job runner's document step. Rendering is local work (no network call), so
 * it runs inside the transaction that holds the document's claim and stores its bytes. */
#include <stdio.h>
#include <time.h>

#include "billing/documents.h"
#include "core/log.h"
#include "jobs/pdfjob.h"

int
pdfjob_pass(struct db *db, const struct site *site, int max)
{
	int done = 0;

	while (done < max) {
		struct dctx d;
		struct derr e;
		int rc, want;

		if (db_begin(db) != 0)
			break;
		dctx_init(&d, db, site, (long long)time(NULL) + site->clock_offset,
		    ACTOR_JOB_RUNNER, NULL);
		want = max - done < PDFJOB_PER_TXN ? max - done : PDFJOB_PER_TXN;
		rc = documents_render_batch(&d, want, &e);
		if (rc <= 0) {
			db_rollback(db);
			if (rc < 0)
				log_warn("jobs: site %s: documents: %s", site->id, e.message);
			break;
		}
		if (db_commit(db) != 0)
			break;
		done += rc;
		if (rc < want)
			break;	/* none left that another runner does not hold */
	}
	return done;
}
