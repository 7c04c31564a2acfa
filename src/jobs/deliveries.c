/* deliveries.c: the webhook delivery engine, a process of its own beside the billing lane.
 * It leases due deliveries (a short transaction), POSTs them concurrently through one curl
 * multi handle outside any transaction, and records each answer in its own transaction.
 * Parallelism is bounded overall and per endpoint (one first attempt and one retry in
 * flight), first attempts go out in event-sequence order per endpoint, retries never block
 * later events, and an endpoint that keeps failing backs off on its own. A slow or dead
 * endpoint therefore delays neither another endpoint nor any site's billing. A crash
 * leaves leases that expire after a minute: delivery is at least once. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "billing/objects.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/secrets.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"

#define SLOTS		16			/* POSTs in flight at most */
#define GIVE_UP		(3 * 86400)		/* retried with backoff for up to 3 days */

struct slot {
	bool			 busy;
	struct webhook_xfer	 x;
	char			 site[48];
	long long		 offset;		/* the site's clock */
	char			 id[DOM_ID_MAX], endpoint[DOM_ID_MAX];
	int			 attempts;		/* before this one */
	long long		 created;
};

struct engine {
	const struct config	*cfg;
	struct db		 db;
	CURLM			*multi;
	struct slot		 slots[SLOTS];
	int			 busy;
};

static long long
site_now(long long offset)
{
	return (long long)time(NULL) + offset;
}

/* The endpoint's signing secret: sealed with the server key, or (written before secrets
 * were sealed) in clear. */
static int
open_secret(const struct config *cfg, const char *site, const char *endpoint,
    const char *stored, struct buf *out)
{
	char context[160];

	buf_reset(out);
	if (strncmp(stored, "whsec_", 6) == 0) {
		buf_puts(out, stored);
		return 0;
	}
	snprintf(context, sizeof(context), "webhook:%s:%s", site, endpoint);
	return secrets_open(&cfg->secrets, stored, context, out);
}

static int	record_attempt(struct engine *, const struct slot *, int, const char *);

/* A free slot for delivery i of a claim (not busy until its POST is started). */
static void
slot_fill(struct slot *sl, PGresult *res, int i, const char *site, long long offset)
{
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->site, sizeof(sl->site), "%s", site);
	sl->offset = offset;
	snprintf(sl->id, sizeof(sl->id), "%s", db_val(res, i, DCL_ID));
	snprintf(sl->endpoint, sizeof(sl->endpoint), "%s", db_val(res, i, DCL_ENDPOINT));
	sl->attempts = (int)db_ll(res, i, DCL_ATTEMPTS, 0);
	sl->created = db_ll(res, i, DCL_CREATED, 0);
}

/* A delivery that cannot be sent (its event does not render, its signing secret does not
 * open): a failed attempt, so it backs off and is given up in time like any other, instead
 * of being leased again every minute for ever and holding back its endpoint's later
 * events. */
static void
unprepared(struct engine *en, const struct slot *sl, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "the delivery could not be prepared: %s", why);
	(void)record_attempt(en, sl, 0, msg);	/* else the lease runs out: again */
}

/* Leases what may go now for one site and starts the POSTs. -1: the database is gone. */
static int
claim(struct engine *en, const char *site, long long offset)
{
	char now[24], wall[24], lim[24];
	struct site st;
	struct dctx d;
	struct derr e;
	struct buf body, secret;
	PGresult *res;
	int free_slots = SLOTS - en->busy;

	if (free_slots <= 0)
		return 0;
	snprintf(now, sizeof(now), "%lld", site_now(offset));
	snprintf(wall, sizeof(wall), "%lld", (long long)time(NULL));
	snprintf(lim, sizeof(lim), "%d", free_slots);
	res = db_exec(&en->db, STMT_DELIV_CLAIM_DUE, (const char *[]){ site, now, lim, wall });
	if (res == NULL)
		return -1;
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "%s", site);
	st.clock_offset = offset;
	dctx_init(&d, &en->db, &st, site_now(offset), ACTOR_JOB_RUNNER, NULL);
	buf_init(&body);
	buf_init(&secret);
	for (int i = 0; i < PQntuples(res); i++) {
		struct slot *sl = NULL;

		for (int k = 0; k < SLOTS && sl == NULL; k++)
			if (!en->slots[k].busy)
				sl = &en->slots[k];
		if (sl == NULL)
			break;	/* the lease runs out and another pass takes it */
		slot_fill(sl, res, i, site, offset);
		/* The payload is the event exactly as the API shows it. */
		e.message[0] = '\0';
		if (obj_render(&d, OBJ_EVENT, db_val(res, i, DCL_EVENT), &body, &e) != 0 ||
		    open_secret(en->cfg, site, sl->endpoint, db_val(res, i, DCL_SECRET),
		    &secret) != 0) {
			if (en->db.status == DB_UNAVAILABLE)
				break;	/* the leases run out; the pass ends below */
			unprepared(en, sl, e.message[0] ? e.message :
			    "its signing secret does not open");
			continue;
		}
		if (webhook_xfer_init(&sl->x, db_val(res, i, DCL_URL), secret.data, body.data,
		    en->cfg->webhook_allow_private != 0, (long long)time(NULL)) != 0) {
			unprepared(en, sl, "its request could not be made");
			continue;
		}
		sl->busy = true;
		curl_easy_setopt(sl->x.h, CURLOPT_PRIVATE, sl);
		curl_multi_add_handle(en->multi, sl->x.h);
		en->busy++;
	}
	if (secret.data != NULL)
		OPENSSL_cleanse(secret.data, secret.cap);
	buf_free(&secret);
	buf_free(&body);
	PQclear(res);
	return en->db.status == DB_UNAVAILABLE ? -1 : 0;
}

/* An attempt's outcome (an HTTP status, 0 for none, and why it failed), in its own
 * transaction: the delivery, its attempt log, the endpoint's health. */
static int
record_attempt(struct engine *en, const struct slot *sl, int status, const char *why)
{
	char a[5][24], aid[DOM_ID_MAX];
	long long now = site_now(sl->offset), next = -1;
	int attempts = sl->attempts + 1;
	bool ok = status >= 200 && status <= 299;
	const char *state = "succeeded", *err = why[0] ? why : NULL;
	struct derr e;
	PGresult *res;

	if (!ok) {
		/* 1 min, 2, 4, ... capped at 6 h, until three days after the event. */
		long long delay = attempts < 20 ? 60LL << (attempts - 1) : 6 * 3600;

		if (delay > 6 * 3600)
			delay = 6 * 3600;
		next = now + delay;
		state = next - sl->created > GIVE_UP ? "failed" : "pending";
		if (strcmp(state, "failed") == 0)
			next = -1;
		log_warn("jobs: webhook %s attempt %d: %s", sl->id, attempts, why);
	}
	if (dom_new_id("wha", aid, &e) != 0 || db_begin(&en->db) != 0)
		return -1;
	snprintf(a[0], 24, "%d", attempts);
	snprintf(a[1], 24, "%lld", next);
	snprintf(a[2], 24, "%d", status);
	snprintf(a[3], 24, "%lld", now);
	res = db_exec(&en->db, STMT_DELIV_UPDATE, (const char *[]){ sl->site, sl->id, state,
	    a[0], next >= 0 ? a[1] : NULL, status ? a[2] : NULL, err, a[3] });
	PQclear(res);
	if (res != NULL) {
		res = db_exec(&en->db, STMT_WH_ATTEMPT_INSERT, (const char *[]){ sl->site, aid,
		    sl->id, a[3], status ? a[2] : NULL, err });
		PQclear(res);
	}
	if (res != NULL) {
		res = db_exec(&en->db, STMT_WH_HEALTH, (const char *[]){ sl->site, sl->endpoint,
		    ok ? "false" : "true", a[3] });
		PQclear(res);
	}
	if (res == NULL || db_commit(&en->db) != 0) {
		db_rollback(&en->db);
		return -1;	/* the lease runs out and the delivery goes again */
	}
	return 0;
}

/* The answer to a POST. */
static int
record(struct engine *en, struct slot *sl, CURLcode rc)
{
	char err[256];
	int status = webhook_xfer_result(&sl->x, rc, err, sizeof(err));

	return record_attempt(en, sl, status, err);
}

static void
finish(struct engine *en)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(en->multi, &left)) != NULL) {
		struct slot *sl = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
		curl_multi_remove_handle(en->multi, m->easy_handle);
		if (sl == NULL)
			continue;
		if (record(en, sl, m->data.result) != 0)
			log_warn("jobs: webhook %s: its answer could not be recorded; it goes again",
			    sl->id);
		webhook_xfer_free(&sl->x);
		sl->busy = false;
		en->busy--;
	}
}

static void
drop_all(struct engine *en)
{
	for (int k = 0; k < SLOTS; k++) {
		if (!en->slots[k].busy)
			continue;
		curl_multi_remove_handle(en->multi, en->slots[k].x.h);
		webhook_xfer_free(&en->slots[k].x);
		en->slots[k].busy = false;
	}
	en->busy = 0;
}

/* Every site with deliveries waiting gets a claim while slots are free. */
static int
claim_all(struct engine *en)
{
	PGresult *sites = db_exec(&en->db, STMT_DELIV_SITES, NULL);
	int rc = 0;

	if (sites == NULL)
		return -1;
	for (int i = 0; i < PQntuples(sites) && rc == 0 && en->busy < SLOTS; i++)
		rc = claim(en, db_val(sites, i, 0), db_ll(sites, i, 1, 0));
	PQclear(sites);
	return rc;
}

int
deliveries_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	static struct engine en;
	time_t last_claim = 0;

	memset(&en, 0, sizeof(en));
	en.cfg = cfg;
	en.multi = curl_multi_init();
	if (en.multi == NULL)
		return 1;
	db_init(&en.db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	/* On every connect, also one made inside a pass (a statement's retry): a LISTEN
	 * made once by hand was lost with it, and the lane claimed only once a second. */
	db_listen(&en.db, "portald_jobs");
	log_info("jobs: webhook deliveries started");
	while (!*stop) {
		struct curl_waitfd wfd;
		int running, nfd = 0;
		bool woken = false;

		db_abort(&en.db);	/* every level a pass left open (a lost one too) */
		if (db_ensure(&en.db) != 0) {
			sleep(1);
			continue;
		}
		/* Claim when woken, or at least every second (retries come due by the clock). */
		if (en.busy < SLOTS && time(NULL) != last_claim) {
			last_claim = time(NULL);
			(void)claim_all(&en);	/* a lost database: connected again above */
		}
		curl_multi_perform(en.multi, &running);
		finish(&en);
		if (en.db.conn != NULL && PQsocket(en.db.conn) >= 0) {
			wfd.fd = PQsocket(en.db.conn);
			wfd.events = CURL_WAIT_POLLIN;
			wfd.revents = 0;
			nfd = 1;
		}
		curl_multi_poll(en.multi, nfd ? &wfd : NULL, (unsigned)nfd, 1000, NULL);
		if (nfd && (wfd.revents & CURL_WAIT_POLLIN)) {
			PGnotify *n;

			PQconsumeInput(en.db.conn);
			while ((n = PQnotifies(en.db.conn)) != NULL) {
				PQfreemem(n);
				woken = true;
			}
			if (woken)
				last_claim = 0;
		}
	}
	drop_all(&en);
	curl_multi_cleanup(en.multi);
	db_close(&en.db);
	log_info("jobs: webhook deliveries stopped");
	return 0;
}
