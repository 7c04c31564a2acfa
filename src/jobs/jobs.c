/* jobs.c: the job runner, a supervisor of lanes (processes): billing (one or more) and
 * webhook deliveries (deliveries.c). The billing lane, for each site on the site's clock,
 * claims a batch of the earliest due items (renewals, trial ends, resumes, dunning retries)
 * with FOR UPDATE SKIP LOCKED and processes them in one transaction, each in a savepoint, so
 * several runners on several hosts never do the same work twice, one bad item fails alone
 * and a crash rolls back to "still due"; the gateway calls they queued run after the
 * commit, their outcomes recorded together in one more transaction. Lanes sleep on LISTEN
 * portald_jobs, with a one-second poll as a backstop. */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "billing/events.h"
#include "billing/invoices.h"
#include "billing/notify.h"
#include "billing/objects.h"
#include "billing/payments.h"
#include "billing/subscriptions.h"
#include "core/crypto.h"
#include "jobs/jobs.h"
#include "jobs/outbox.h"
#include "jobs/pdfjob.h"
#include "core/log.h"

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

/* Set aside with the items: a site whose batch failed to number its invoices at its end
 * numbers each invoice at once for a while, so the item at fault fails alone. */
#define NUMBER_AT_ONCE	"#number-at-once"

static bool
quarantined(const char *site, const char *id)
{
	time_t now = time(NULL);

	for (int i = 0; i < QUARANTINE_MAX; i++)
		if (quarantine[i].until > now && strcmp(quarantine[i].site, site) == 0 &&
		    strcmp(quarantine[i].id, id) == 0)
			return true;
	return false;
}

/* The site's set-aside ids as a PostgreSQL array literal (ids are [A-Za-z0-9_-]). */
static void
quarantine_list(const char *site, char *out, size_t n)
{
	time_t now = time(NULL);
	size_t len;

	snprintf(out, n, "{");
	for (int i = 0; i < QUARANTINE_MAX; i++) {
		if (quarantine[i].until <= now || strcmp(quarantine[i].site, site) != 0 ||
		    quarantine[i].id[0] == '#')
			continue;
		len = strlen(out);
		snprintf(out + len, n - len, "%s%s", len > 1 ? "," : "", quarantine[i].id);
	}
	len = strlen(out);
	snprintf(out + len, n - len, "}");
}

/* Sites whose payment gateway was slow or unreachable (d.gateway_trouble): their charges
 * stay pending, and the reconciler asks about them by key, once the site's gateway rests
 * no longer: 30 s, doubling at each trouble to 10 minutes, and over at the first round
 * of calls without trouble. So a site whose gateway hangs costs the lane one slow call a
 * window, not one per charge, and every other site's billing goes on. Per billing
 * process and in memory, as the quarantine: each process pays its own slow call. On the
 * monotonic clock: a step of the wall clock neither ends nor stretches a rest. */
#define GW_REST_MIN	30
#define GW_REST_MAX	600
#define GW_REST_SITES	64
static struct {
	char	site[48];
	time_t	until;
	int	rest;		/* the window last given; 0: the slot is free */
} gw_rest[GW_REST_SITES];

static time_t
mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static int
gw_rest_slot(const char *site)
{
	for (int i = 0; i < GW_REST_SITES; i++)
		if (gw_rest[i].rest > 0 && strcmp(gw_rest[i].site, site) == 0)
			return i;
	return -1;
}

/* Whether the site's gateway is left alone now. */
static bool
gateway_resting(const char *site)
{
	int i = gw_rest_slot(site);

	return i >= 0 && gw_rest[i].until > mono_now();
}

/* After a round of calls through d of the site: trouble starts (or doubles) its rest, a
 * round that called the gateway without trouble ends it; one that made no call (every
 * attempt answered already, a card gone) says nothing. */
static void
gateway_after(const char *site, const struct dctx *d)
{
	int i = gw_rest_slot(site);

	if (d->db->status == DB_UNAVAILABLE || (d->gateway_calls == 0 && !d->gateway_trouble))
		return;
	if (!d->gateway_trouble) {
		if (i >= 0) {
			log_info("jobs: site %s: its payment gateway answers again", site);
			gw_rest[i].rest = 0;
		}
		return;
	}
	if (i < 0) {
		i = 0;	/* a free slot, else the one whose rest ends first */
		for (int k = 0; k < GW_REST_SITES; k++)
			if (gw_rest[k].rest == 0 || gw_rest[k].until < gw_rest[i].until) {
				i = k;
				if (gw_rest[k].rest == 0)
					break;
			}
		snprintf(gw_rest[i].site, sizeof(gw_rest[i].site), "%s", site);
		gw_rest[i].rest = GW_REST_MIN;
	} else
		gw_rest[i].rest = gw_rest[i].rest * 2 > GW_REST_MAX ? GW_REST_MAX :
		    gw_rest[i].rest * 2;
	gw_rest[i].until = mono_now() + gw_rest[i].rest;
	log_warn("jobs: site %s: its payment gateway is slow or unreachable; its charges stay "
	    "pending and are asked about again, by key, in %d s", site, gw_rest[i].rest);
}

/* A batch: at most this many items in one transaction (each in a savepoint of its own),
 * whose phase-one charges are then called and recorded together. Bounded by what a dctx
 * can queue, so no charge waits for the reconciler. 32: each batch costs two commits that
 * wait for the disk, its claims, and a numbering that holds the site's counter; 16 spent
 * a fifth more CPU per renewal, 64 no less (bench/README.md). */
#define BATCH_MAX	(DOM_PENDING_MAX / 2)
/* A batch holds items due within this much of its first (on the site's clock), so a catch
 * up over many periods (time travel, a runner down for days) still bills in date order:
 * nothing an item causes (its next term, a dunning retry) falls due sooner. */
#define BATCH_WINDOW	3600

struct item {
	enum kind	kind;
	long long	due;
	char		id[72];
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Whether item i, with done items run before it, belongs to the batch of items[0]. */
static bool
in_batch(const struct item *items, int n, int i, int done)
{
	return i < n && done < BATCH_MAX && items[i].due <= items[0].due + BATCH_WINDOW;
}

/* Runs one claimed item in the open transaction. */
static int
run_item(struct dctx *d, const struct item *it, struct derr *e)
{
	switch (it->kind) {
	case K_RENEW:
		return subs_process_due(d, it->id, e);
	case K_RESUME:
		return subs_process_resume(d, it->id, e);
	case K_RETRY:
		d->now = it->due;	/* the retry happens when it was due */
		return payments_collect(d, it->id, e);
	default:
		return 0;
	}
}

/* Claims up to BATCH_MAX due billing items of a site (renewals, resumes, dunning retries)
 * with FOR UPDATE SKIP LOCKED, so two runners never take the same one, and runs them in
 * one transaction, each in its own savepoint: an item that fails is rolled back alone and
 * set aside, the others commit. Then the charges they recorded are made, outside the
 * transaction. A crash before the commit leaves every item due; after it, the attempts
 * pending, which the reconciler resolves with their keys. Items done, 0 nothing, -1 the
 * database is gone. */
static int
billing_batch(struct db *db, const struct site *site, long long now)
{
	char t[24], lim[8], skip[QUARANTINE_MAX * 74 + 4];
	const char *p[4] = { site->id, t, skip, lim };
	enum stmt_id ids[3] = { STMT_SUB_CLAIM_DUE, STMT_SUB_CLAIM_RESUME, STMT_INV_CLAIM_RETRY };
	enum kind kinds[3] = { K_RENEW, K_RESUME, K_RETRY };
	struct item items[3 * BATCH_MAX];
	int n = 0, done = 0, rc;
	struct notify_settings mail;
	struct site_facts facts = { .notify = &mail }, settle_facts;
	struct dctx d;
	struct derr e;

	snprintf(t, sizeof(t), "%lld", now);
	snprintf(lim, sizeof(lim), "%d", BATCH_MAX);
	quarantine_list(site->id, skip, sizeof(skip));
	if (db_begin(db) != 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		PGresult *r = db_exec(db, ids[i], p);

		if (r == NULL) {
			db_rollback(db);
			return -1;
		}
		for (int j = 0; j < PQntuples(r) && n < 3 * BATCH_MAX; j++) {
			items[n].kind = kinds[i];
			items[n].due = db_ll(r, j, 1, 0);
			snprintf(items[n].id, sizeof(items[n].id), "%s", db_val(r, j, 0));
			n++;
		}
		PQclear(r);
	}
	if (n == 0) {
		db_rollback(db);
		return 0;
	}
	/* The earliest first, as one at a time would have taken them; what is left over stays
	 * locked until the commit and is claimed again by the next batch. */
	qsort(items, (size_t)n, sizeof(items[0]), item_cmp);
	dctx_init(&d, db, site, now, ACTOR_JOB_RUNNER, NULL);
	/* The site's mail settings, read once for the batch (a change
	 * committed while it runs applies from the next batch, a moment later). */
	d.facts = &facts;
	/* Its invoices are numbered together at its end, so a second runner's batch waits
	 * for the counter only while this one numbers and commits. */
	facts.defer_numbers = !quarantined(site->id, NUMBER_AT_ONCE);
	/* And its events are written together (events_flush), unless the site's batches
	 * number at once after a failure: then each is written as it is emitted, and the
	 * item at fault fails alone. */
	facts.defer_events = facts.defer_numbers;
	for (int i = 0; in_batch(items, n, i, done); i++) {
		int npending = d.npending, unnumbered = facts.nunnumbered;
		int numbered = facts.numbered;
		struct events_mark em;

		events_mark(&d, &em);
		if (db_begin(db) != 0)
			goto lost;
		rc = run_item(&d, &items[i], &e);
		d.now = now;
		/* What the item sent ahead (db_exec_later) is read with its savepoint's release:
		 * a statement of its that failed fails the release, which rolls the item back
		 * alone (db_commit). The next item's first read goes with them: it is sent
		 * after everything this item did, and a release that fails drops it. */
		if (rc == 0) {
			if (in_batch(items, n, i + 1, done + 1) &&
			    (items[i + 1].kind == K_RENEW || items[i + 1].kind == K_RESUME))
				subs_read_ahead(&d, items[i + 1].id);
			if (db_commit(db) == 0) {
				done++;
				continue;
			}
			rc = derr_db(&e, db);
		} else if (db->status != DB_UNAVAILABLE && db_rollback(db) != 0)
			goto lost;
		if (db->status == DB_UNAVAILABLE)
			goto lost;
		/* Only this item's work is undone, the charges it queued with it, its invoices,
		 * and a numbering it made (earlier items' invoices lose theirs again). */
		d.npending = npending;
		d.issued.id[0] = '\0';
		facts.nunnumbered = unnumbered;
		facts.numbered = numbered;
		events_restore(&d, &em);
		log_error("jobs: site %s: %s failed (%s); set aside for %d s", site->id,
		    items[i].id, e.message, QUARANTINE_SECONDS);
		quarantine_add(site->id, items[i].id);
		done++;	/* the rest of the site's work goes on */
	}
	if (invoices_number_deferred(&d, &e) != 0 || events_flush(&d, &e) != 0) {
		if (db->status == DB_UNAVAILABLE)
			goto lost;
		/* Something of one item's fails only here (its PDF's row, say): the batch is
		 * undone, and the site's next batches number at once, where it fails alone. */
		log_error("jobs: site %s: numbering the batch's invoices (or writing its "
		    "events): %s; the batch is undone and the site's invoices are numbered, and "
		    "its events written, one at a time for %d s",
		    site->id, e.message, QUARANTINE_SECONDS);
		quarantine_add(site->id, NUMBER_AT_ONCE);
		db_abort(db);
		events_forget(&d);
		return 0;
	}
	events_forget(&d);
	if (db_commit(db) != 0)
		return -1;
	/* The charges the batch recorded: called now, outside the transaction, with what is
	 * true now (facts read afresh, once, in the transaction that records the answers). A
	 * gateway that is down leaves them pending for the reconciler; only a lost database
	 * stops the pass over the other sites. */
	settle_facts = (struct site_facts){ .notify = &mail };
	d.facts = &settle_facts;
	if (d.npending > 0 && gateway_resting(site->id)) {
		d.npending = 0;		/* pending, for the reconciler once the rest is over */
		rc = 0;
	} else if (d.npending > 0) {
		rc = payments_settle(&d, &e);
		gateway_after(site->id, &d);
	} else
		rc = 0;
	events_forget(&d);
	if (rc != 0) {
		if (db->status == DB_UNAVAILABLE)
			return -1;
		log_warn("jobs: site %s: settling charges: %s", site->id, e.message);
	}
	return done;
lost:
	db_abort(db);
	events_forget(&d);
	return -1;
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

	if (gateway_resting(site->id))
		return 0;
	snprintf(before, sizeof(before), "%lld", (long long)time(NULL) - PAYMENT_STALE_SECONDS);
	res = db_exec(db, STMT_PAY_STALE, (const char *[]){ site->id, before });
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	dctx_init(&d, db, site, now, ACTOR_JOB_RUNNER, NULL);
	for (int i = 0; i < n && rc == 0 && !payments_gateway_spent(&d); i++) {
		log_warn("jobs: site %s: resolving payment attempt %s left pending", site->id,
		    db_val(res, i, 0));
		rc = payments_resolve(&d, db_val(res, i, 0), true, &e);
	}
	PQclear(res);
	gateway_after(site->id, &d);
	if (rc < 0 && db->status != DB_UNAVAILABLE) {
		/* The gateway is down or refuses: asked again next pass; other sites go on. */
		log_warn("jobs: site %s: resolving payment attempts: %s", site->id, e.message);
		return n;
	}
	return rc < 0 ? -1 : n;
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
		/* Bounded per pass, in count and in time (a slow gateway), so one busy site
		 * cannot starve the others. */
		for (int n = 0, t0 = (int)time(NULL); n < 500 && (int)time(NULL) - t0 < 2;) {
			rc = billing_batch(db, &site, (long long)time(NULL) + site.clock_offset);
			if (rc <= 0)
				break;
			n += rc;
			done += rc;
		}
		if (rc < 0)
			break;
	}
	PQclear(sites);
	return done;
}

/* A lane that runs pass() over every site, again at once while it finds work, else when
 * woken (LISTEN portald_jobs) or after a second. */
static int
lane_loop(const struct config *cfg, volatile sig_atomic_t *stop, const char *name,
    int (*pass)(struct db *), bool pipeline)
{
	struct db db;
	bool listening = false;

	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	db.pipeline = pipeline;
	log_info("jobs: %s lane started", name);
	while (!*stop) {
		int done;

		db_abort(&db);	/* every level a pass left open (a lost one too) */
		if (db_ensure(&db) != 0) {
			listening = false;
			sleep(1);
			continue;
		}
		if (!listening)
			listening = db_exec_sql(&db, "LISTEN portald_jobs") == 0;
		done = pass(&db);
		if (done > 0)
			continue;
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
	log_info("jobs: %s lane stopped", name);
	return 0;
}

/* The billing lane: renewals, trial ends, resumes, dunning retries and lost gateway
 * answers, site by site. */
static int
billing_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	/* Its statements whose answers it does not read go ahead in a pipeline (each item
	 * and each recorded answer checks them before its savepoint is released). */
	return lane_loop(cfg, stop, "billing", jobs_pass, true);
}

/* Every site's issued documents still to render (pdfjob.c): PDF rendering is CPU work that
 * must not hold up billing. While billing is behind (a site with more than a batch of
 * renewals due, a burst), one transaction of documents a second, for one site in turn:
 * the PDFs follow when the burst is over instead of sharing the cores with it. Billing
 * that stays behind (renewals that keep failing, a site-wide fault) is not a burst: after
 * YIELD_MAX seconds of giving way the lane renders at full speed for as long again. */
#define YIELD_MAX	60
static int
documents_pass(struct db *db)
{
	static unsigned int turn;	/* the site whose turn it is while billing is behind */
	static time_t since;		/* giving way since (0: not), or at full speed since */
	static bool yielding, resting;
	PGresult *sites, *behind;
	char batch[12];
	bool yield;
	int done = 0, n;
	time_t now = time(NULL);

	snprintf(batch, sizeof(batch), "%d", BATCH_MAX);
	behind = db_exec(db, STMT_BILLING_BEHIND, (const char *[]){ batch });
	if (behind == NULL)
		return -1;
	yield = strcmp(db_val(behind, 0, 0), "t") == 0;
	PQclear(behind);
	if (!yield) {
		if (yielding || resting)
			log_info("jobs: documents: billing caught up");
		yielding = resting = false;
	} else if (!yielding && !resting) {
		log_info("jobs: documents: billing is behind, one transaction of documents a "
		    "second until it catches up");
		yielding = true;
		since = now;
	} else if (now - since >= YIELD_MAX) {
		log_warn(yielding ? "jobs: documents: billing has been behind for %d s; "
		    "documents at full speed for as long" : "jobs: documents: billing is still "
		    "behind; giving way again for %d s", YIELD_MAX);
		yielding = !yielding;
		resting = !resting;
		since = now;
	}
	yield = yielding;
	sites = db_exec(db, STMT_SITE_CLOCKS, NULL);
	if (sites == NULL)
		return -1;
	n = PQntuples(sites);
	for (int k = 0; k < n; k++) {
		int i = yield ? (int)((turn + (unsigned int)k) % (unsigned int)n) : k;
		struct site site;
		int rc;

		memset(&site, 0, sizeof(site));
		snprintf(site.id, sizeof(site.id), "%s", db_val(sites, i, 0));
		site.clock_offset = db_ll(sites, i, 1, 0);
		snprintf(site.mode, sizeof(site.mode), "%s", db_val(sites, i, 2));
		rc = pdfjob_pass(db, &site, yield ? PDFJOB_PER_TXN : PDFJOB_PER_PASS);
		if (rc < 0) {
			done = -1;
			break;
		}
		done += rc;
		if (yield && rc > 0) {
			turn = (unsigned int)i + 1;
			break;
		}
	}
	PQclear(sites);
	if (yield && done > 0) {
		struct timespec second = { 1, 0 };

		/* A stop signal during the sleep ends it; one that came while rendering
		 * waits the second out. */
		nanosleep(&second, NULL);
	}
	return done;
}

static int
documents_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	/* Below billing and the API for the CPU: a burst of renewals renders its PDFs in
	 * the time left over, a moment later, instead of sharing the cores with them. */
	if (setpriority(PRIO_PROCESS, 0, 10) != 0)
		log_warn("jobs: documents lane: setpriority: %s", strerror(errno));
	return lane_loop(cfg, stop, "documents", documents_pass, false);
}

/* The lanes of the job runner: each a process of its own, so network work of one kind
 * (a slow webhook endpoint, a dead mail relay, a slow gateway) never holds up another. */
static const struct lane {
	const char	*name;
	const char	*title;		/* what ps and top show */
	int		(*run)(const struct config *, volatile sig_atomic_t *);
} lanes[] = {
	{ "billing", "portald-billing", billing_run },
	{ "webhooks", "portald-hooks", deliveries_run },
	{ "mail", "portald-mail", outbox_run },
	{ "documents", "portald-docs", documents_run },
};
#define NLANES	(sizeof(lanes) / sizeof(lanes[0]))
#define MAX_PROCS 16

int
jobs_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct { pid_t pid; size_t lane; time_t started; } procs[MAX_PROCS];
	int nprocs = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* The billing lane runs in as many processes as configured; SKIP LOCKED shares out
	 * the work. One process of every other lane. */
	for (size_t l = 0; l < NLANES; l++) {
		int n = l == 0 ? cfg->jobs_billing_processes : 1;

		for (int k = 0; k < n && nprocs < MAX_PROCS; k++)
			procs[nprocs++] = (typeof(procs[0])){ 0, l, 0 };
	}
	log_info("jobs: runner started (%d processes)", nprocs);
	while (!*stop) {
		int status;
		pid_t pid;

		for (int i = 0; i < nprocs && !*stop; i++) {
			if (procs[i].pid > 0)
				continue;
			/* A lane that keeps dying is restarted at most once a second. */
			if (procs[i].started == time(NULL))
				continue;
			procs[i].started = time(NULL);
			pid = fork();
			if (pid == 0) {
				/* A lane ends with its runner, however the runner ended. */
				prctl(PR_SET_PDEATHSIG, SIGTERM);
				prctl(PR_SET_NAME, lanes[procs[i].lane].title);
				_exit(lanes[procs[i].lane].run(cfg, stop));
			}
			if (pid < 0)
				log_error("jobs: fork: %s", strerror(errno));
			else
				procs[i].pid = pid;
		}
		/* Looks, and comes back a moment later: a blocking wait could outlast a stop
		 * that arrived just before it, or a lane due to start in the next second. */
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0) {
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
			continue;
		}
		if (pid < 0) {
			if (errno == ECHILD)
				sleep(1);
			continue;	/* EINTR: a signal, perhaps the stop */
		}
		for (int i = 0; i < nprocs; i++) {
			if (procs[i].pid != pid)
				continue;
			procs[i].pid = 0;
			if (!*stop)
				log_warn("jobs: %s lane %d %s %d; restarting it",
				    lanes[procs[i].lane].name, (int)pid, WIFSIGNALED(status) ?
				    "killed by signal" : "exited with status", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid > 0)
			kill(procs[i].pid, SIGTERM);
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid > 0)
			waitpid(procs[i].pid, NULL, 0);
	curl_global_cleanup();
	log_info("jobs: runner stopped");
	return 0;
}
