/* jobs.c: the job runner. For each site, on the site's clock, it takes the earliest due
 * item (a renewal, a trial end, a resume, a dunning retry) with FOR UPDATE SKIP LOCKED and
 * processes it in its own transaction, so several runners on several hosts never do the
 * same work twice and a crash rolls back to "still due". Then webhook deliveries. It sleeps
 * on LISTEN portald_jobs, with a one-second poll as a backstop. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/subscriptions.h"
#include "core/crypto.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"
#include "core/log.h"

#define WEBHOOK_GIVE_UP	(3 * 86400)	/* retried with backoff for up to 3 days */
#define PAYMENT_STALE_SECONDS	30	/* a gateway answer not recorded by then was lost */

enum kind { K_NONE, K_RENEW, K_RESUME, K_RETRY };

/* Items whose processing failed (not a lost connection) wait here for a while, so one bad
 * row cannot hold up its site's queue. Per runner and in memory: another runner, or this
 * one after QUARANTINE_SECONDS, tries again. */
#define QUARANTINE_MAX		64
#define QUARANTINE_SECONDS	300
static struct {
	char	site[48];
	char	id[72];
	time_t	until;
} quarantine[QUARANTINE_MAX];

static void
quarantine_add(const char *site, const char *id)
{
	int slot = 0;

	for (int i = 0; i < QUARANTINE_MAX; i++)
		if (quarantine[i].until < quarantine[slot].until)
			slot = i;
	snprintf(quarantine[slot].site, sizeof(quarantine[slot].site), "%s", site);
	snprintf(quarantine[slot].id, sizeof(quarantine[slot].id), "%s", id);
	quarantine[slot].until = time(NULL) + QUARANTINE_SECONDS;
}

/* The site's set-aside ids as a PostgreSQL array literal (ids are [A-Za-z0-9_-]). */
static void
quarantine_list(const char *site, char *out, size_t n)
{
	time_t now = time(NULL);
	size_t len;

	snprintf(out, n, "{");
	for (int i = 0; i < QUARANTINE_MAX; i++) {
		if (quarantine[i].until <= now || strcmp(quarantine[i].site, site) != 0)
			continue;
		len = strlen(out);
		snprintf(out + len, n - len, "%s%s", len > 1 ? "," : "", quarantine[i].id);
	}
	len = strlen(out);
	snprintf(out + len, n - len, "}");
}

/* Claims the earliest due billing item of a site and processes it in its own transaction,
 * then makes the gateway calls it queued, outside it. 1 done, 0 nothing, -1 the database
 * is gone. */
static int
billing_step(struct db *db, const struct site *site, long long now)
{
	char t[24], skip[QUARANTINE_MAX * 74 + 4];
	const char *p[3] = { site->id, t, skip };
	PGresult *r[3];
	enum stmt_id ids[3] = { STMT_SUB_CLAIM_DUE, STMT_SUB_CLAIM_RESUME, STMT_INV_CLAIM_RETRY };
	enum kind kinds[3] = { K_RENEW, K_RESUME, K_RETRY };
	enum kind pick = K_NONE;
	long long best = 0;
	char id[72] = "";
	struct dctx d;
	struct derr e;
	int rc = 0;

	snprintf(t, sizeof(t), "%lld", now);
	quarantine_list(site->id, skip, sizeof(skip));
	if (db_begin(db) != 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		r[i] = db_exec(db, ids[i], p);
		if (r[i] == NULL) {
			for (int j = 0; j < i; j++)
				PQclear(r[j]);
			db_rollback(db);
			return -1;
		}
		if (PQntuples(r[i]) == 1 && (pick == K_NONE || db_ll(r[i], 0, 1, 0) < best)) {
			pick = kinds[i];
			best = db_ll(r[i], 0, 1, 0);
			snprintf(id, sizeof(id), "%s", db_val(r[i], 0, 0));
		}
	}
	for (int i = 0; i < 3; i++)
		PQclear(r[i]);
	if (pick == K_NONE) {
		db_rollback(db);
		return 0;
	}
	dctx_init(&d, db, site, now, ACTOR_JOB_RUNNER, NULL);
	switch (pick) {
	case K_RENEW:
		rc = subs_process_due(&d, id, &e);
		break;
	case K_RESUME:
		rc = subs_process_resume(&d, id, &e);
		break;
	case K_RETRY:
		d.now = best;	/* the retry happens when it was due */
		rc = payments_collect(&d, id, &e);
		break;
	default:
		break;
	}
	if (rc < 0) {
		bool lost = db->status == DB_UNAVAILABLE;

		db_rollback(db);
		if (lost)
			return -1;
		log_error("jobs: site %s: %s failed (%s); set aside for %d s", site->id, id,
		    e.message, QUARANTINE_SECONDS);
		quarantine_add(site->id, id);
		return 1;	/* the rest of the site's work goes on */
	}
	if (db_commit(db) != 0)
		return -1;
	/* The charges the step recorded: called now, outside the transaction. */
	if (payments_settle(&d, &e) != 0)
		return -1;
	return 1;
}

/* Charges and refunds whose answer was lost (a crash between the gateway call and its
 * record): asked again with their recorded key, which never charges twice. */
static int
reconcile_step(struct db *db, const struct site *site, long long now)
{
	char before[24];
	PGresult *res;
	struct dctx d;
	struct derr e;
	int n, rc = 0;

	snprintf(before, sizeof(before), "%lld", (long long)time(NULL) - PAYMENT_STALE_SECONDS);
	res = db_exec(db, STMT_PAY_STALE, (const char *[]){ site->id, before });
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	dctx_init(&d, db, site, now, ACTOR_JOB_RUNNER, NULL);
	for (int i = 0; i < n && rc == 0; i++) {
		log_warn("jobs: site %s: resolving payment attempt %s left pending", site->id,
		    db_val(res, i, 0));
		rc = payments_resolve(&d, db_val(res, i, 0), true, &e);
	}
	PQclear(res);
	return rc < 0 ? -1 : n;
}

/* Claims one due webhook delivery of a site and attempts it. 1 done, 0 nothing. */
static bool allow_private;	/* [webhooks] allow_private_targets, set by jobs_run */

static int
webhook_step(struct db *db, const char *site, long long now)
{
	char t[24], a[4][24], err[256] = "", *body;
	PGresult *res, *upd;
	struct buf b;
	struct site st;
	struct dctx d;
	struct derr e;
	int status, attempts;
	long long created, next = -1;
	const char *state;

	snprintf(t, sizeof(t), "%lld", now);
	if (db_begin(db) != 0)
		return -1;
	res = db_exec(db, STMT_DELIV_CLAIM_DUE, (const char *[]){ site, t });
	if (res == NULL) {
		db_rollback(db);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback(db);
		return 0;
	}
	/* The payload is the event exactly as the API shows it. */
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "%s", site);
	dctx_init(&d, db, &st, now, ACTOR_JOB_RUNNER, NULL);
	buf_init(&b);
	if (obj_render(&d, OBJ_EVENT, db_val(res, 0, 5), &b, &e) != 0) {
		PQclear(res);
		buf_free(&b);
		db_rollback(db);
		return -1;
	}
	body = b.data;
	status = webhook_post(db_val(res, 0, 3), db_val(res, 0, 4), body, allow_private, err,
	    sizeof(err));
	attempts = (int)db_ll(res, 0, 1, 0) + 1;
	created = db_ll(res, 0, 2, now);
	if (status >= 200 && status <= 299) {
		state = "succeeded";
	} else {
		/* 1 min, 2, 4, ... capped at 6 h, until three days after the event. */
		long long delay = attempts < 20 ? 60LL << (attempts - 1) : 6 * 3600;

		if (delay > 6 * 3600)
			delay = 6 * 3600;
		next = now + delay;
		state = next - created > WEBHOOK_GIVE_UP ? "failed" : "pending";
		if (strcmp(state, "failed") == 0)
			next = -1;
	}
	snprintf(a[0], 24, "%d", attempts);
	snprintf(a[1], 24, "%lld", next);
	snprintf(a[2], 24, "%d", status);
	snprintf(a[3], 24, "%lld", now);
	upd = db_exec(db, STMT_DELIV_UPDATE, (const char *[]){ site, db_val(res, 0, 0), state, a[0],
	    next >= 0 ? a[1] : NULL, status ? a[2] : NULL, err[0] ? err : NULL, a[3] });
	if (upd != NULL) {
		char aid[40], hex[25];

		PQclear(upd);
		upd = NULL;
		/* No randomness: roll back; the delivery stays due and is tried again. */
		if (crypto_random_hex(12, hex, sizeof(hex)) == 0) {
			snprintf(aid, sizeof(aid), "wha_%s", hex);
			upd = db_exec(db, STMT_WH_ATTEMPT_INSERT, (const char *[]){ site, aid,
			    db_val(res, 0, 0), a[3], status ? a[2] : NULL, err[0] ? err : NULL });
		}
	}
	if (strcmp(state, "succeeded") != 0)
		log_warn("jobs: webhook %s attempt %d: %s", db_val(res, 0, 0), attempts,
		    err[0] ? err : "failed");
	PQclear(res);
	buf_free(&b);
	if (upd == NULL) {
		db_rollback(db);
		return -1;
	}
	PQclear(upd);
	return db_commit(db) == 0 ? 1 : -1;
}

int
jobs_pass(struct db *db)
{
	PGresult *sites = db_exec(db, STMT_SITE_CLOCKS, NULL);
	int done = 0;

	if (sites == NULL)
		return -1;
	for (int i = 0; i < PQntuples(sites); i++) {
		struct site site;
		int rc;

		memset(&site, 0, sizeof(site));
		snprintf(site.id, sizeof(site.id), "%s", db_val(sites, i, 0));
		site.clock_offset = db_ll(sites, i, 1, 0);
		snprintf(site.mode, sizeof(site.mode), "%s", db_val(sites, i, 2));
		rc = reconcile_step(db, &site, (long long)time(NULL) + site.clock_offset);
		if (rc < 0)
			break;
		done += rc;
		/* Bounded per pass so one busy site cannot starve the others. */
		for (int n = 0; n < 500; n++) {
			rc = billing_step(db, &site, (long long)time(NULL) + site.clock_offset);
			if (rc <= 0)
				break;
			done++;
		}
		for (int n = 0; rc >= 0 && n < 100; n++) {
			rc = webhook_step(db, site.id, (long long)time(NULL) + site.clock_offset);
			if (rc <= 0)
				break;
			done++;
		}
		if (rc < 0)
			break;
	}
	PQclear(sites);
	return done;
}

int
jobs_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct db db;
	bool listening = false;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	allow_private = cfg->webhook_allow_private != 0;
	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	log_info("jobs: runner started");
	while (!*stop) {
		int done;

		if (db_ensure(&db) != 0) {
			listening = false;
			sleep(1);
			continue;
		}
		if (!listening) {
			listening = db_exec_sql(&db, "LISTEN portald_jobs") == 0;
		}
		done = jobs_pass(&db);
		if (done > 0) {
			log_info("jobs: pass processed %d items", done);
			continue;
		}
		if (done < 0) {
			listening = false;
			sleep(1);
			continue;
		}
		{
			struct pollfd pfd = { .fd = PQsocket(db.conn), .events = POLLIN };
			PGnotify *n;

			if (pfd.fd >= 0 && poll(&pfd, 1, 1000) > 0) {
				PQconsumeInput(db.conn);
				while ((n = PQnotifies(db.conn)) != NULL)
					PQfreemem(n);
			}
		}
	}
	db_close(&db);
	curl_global_cleanup();
	log_info("jobs: runner stopped");
	return 0;
}
