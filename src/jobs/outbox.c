/* outbox.c: the mail outbox's delivery in three steps (claim, send, record) and the simple
 * driver the job runner calls for each site; see outbox.h. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "billing/notify.h"
#include "core/crypto.h"
#include "core/log.h"
#include "jobs/outbox.h"

#define SCAN_INTERVAL	60	/* seconds between a site's schedule scans */
#define SCAN_MAX	50	/* scheduled messages queued per scan */
#define DRIVER_BATCH	5
#define DRIVER_ROUNDS	4	/* at most 20 messages per site per pass */
#define RELAY_HOLD	30	/* seconds without sending after the relay did not answer */

long long
outbox_backoff(int attempts)
{
	if (attempts < 1)
		attempts = 1;
	if (attempts > 7)
		return OUTBOX_BACKOFF_MAX;
	return (60LL << (attempts - 1)) > OUTBOX_BACKOFF_MAX ? OUTBOX_BACKOFF_MAX :
	    60LL << (attempts - 1);
}

void
outbox_sender_init(struct outbox_sender *s, const struct config *cfg)
{
	memset(s, 0, sizeof(*s));
	mail_relay_from_config(&s->relay, cfg);
	s->relay.password = cfg->secrets.smtp_password[0] ? cfg->secrets.smtp_password : NULL;
	s->from = cfg->mail_from_address;
}

void
outbox_batch_init(struct outbox_batch *b)
{
	b->n = 0;
	for (int i = 0; i < OUTBOX_BATCH_MAX; i++)
		buf_init(&b->msgs[i].bytes);
}

void
outbox_batch_free(struct outbox_batch *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < OUTBOX_BATCH_MAX; i++)
		buf_free(&b->msgs[i].bytes);
	b->n = 0;
}

/* Fails a claimed message at once (it can never be sent as stored). */
static int
fail_claimed(struct db *db, const char *site, const char *id, const char *lease,
    const char *why)
{
	PGresult *res = db_exec(db, STMT_MAIL_RECORD, (const char *[]){ site, id, lease,
	    "failed", NULL, why, NULL, NULL });

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
outbox_claim(struct db *db, const struct site *site, int max, int lease_seconds,
    struct outbox_batch *b, char *err, size_t errlen)
{
	long long now = (long long)time(NULL);
	char t[4][24], lease[40], hex[33];
	PGresult *res;
	int n;

	b->n = 0;
	if (max > OUTBOX_BATCH_MAX)
		max = OUTBOX_BATCH_MAX;
	if (crypto_random_hex(16, hex, sizeof(hex)) != 0) {
		snprintf(err, errlen, "no randomness for the claim");
		return 0;	/* nothing claimed; the next pass tries again */
	}
	snprintf(lease, sizeof(lease), "ml_%s", hex);
	if (db_begin(db) != 0)
		goto db_error;
	res = db_exec(db, STMT_MAIL_GIVE_UP, (const char *[]){ site->id,
	    buf_lltoa(now - NOTIFY_GIVE_UP, t[0]), buf_lltoa(now, t[1]) });
	if (res == NULL)
		goto db_error;
	for (int i = 0; i < PQntuples(res); i++)
		log_warn("mail: site %s: message %s given up after 3 days", site->id,
		    db_val(res, i, 0));
	PQclear(res);
	res = db_exec(db, STMT_MAIL_CLAIM, (const char *[]){ site->id, buf_lltoa(now, t[0]),
	    buf_lltoa(now + lease_seconds, t[2]), lease, buf_lltoa(max, t[3]) });
	if (res == NULL)
		goto db_error;
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct outbox_msg *m = &b->msgs[b->n];
		const char *from = NULL, *cc = db_val(res, i, MAIL_CC);
		char why[300];

		buf_reset(&m->bytes);
		snprintf(m->site, sizeof(m->site), "%s", site->id);
		snprintf(m->id, sizeof(m->id), "%s", db_val(res, i, MAIL_ID));
		snprintf(m->lease, sizeof(m->lease), "%s", lease);
		snprintf(m->message_id, sizeof(m->message_id), "%s",
		    db_val(res, i, MAIL_MESSAGE_ID));
		snprintf(m->rcpt[0], sizeof(m->rcpt[0]), "%s", db_val(res, i, MAIL_TO_ADDR));
		snprintf(m->rcpt[1], sizeof(m->rcpt[1]), "%s", cc ? cc : "");
		m->attempts = (int)db_ll(res, i, MAIL_ATTEMPTS, 0);
		m->queued_at = db_ll(res, i, MAIL_QUEUED, now);
		if (notify_compose(site->id, res, i, &m->bytes, &from, why, sizeof(why)) != 0) {
			log_error("mail: site %s: message %s cannot be sent: %s", site->id, m->id,
			    why);
			if (fail_claimed(db, site->id, m->id, lease, why) != 0) {
				PQclear(res);
				goto db_error;
			}
			continue;
		}
		snprintf(m->from, sizeof(m->from), "%s", from ? from : "");
		b->n++;
	}
	PQclear(res);
	if (db_commit(db) != 0)
		goto db_error;
	return b->n;
db_error:
	snprintf(err, errlen, "%s", db->errmsg);
	db_rollback(db);
	b->n = 0;
	return -1;
}

void
outbox_send_one(const struct outbox_sender *s, const struct outbox_msg *m,
    struct outbox_outcome *o)
{
	const char *rcpts[3] = { m->rcpt[0], m->rcpt[1][0] ? m->rcpt[1] : NULL, NULL };
	const char *from = s->from != NULL && s->from[0] != '\0' ? s->from : m->from;

	memset(o, 0, sizeof(*o));
	o->result = mail_send(&s->relay, from, rcpts, m->bytes.data, m->bytes.len,
	    &o->smtp_code, o->error, sizeof(o->error));
	o->at = (long long)time(NULL);
}

int
outbox_record_one(struct db *db, const struct outbox_msg *m, const struct outbox_outcome *o)
{
	const char *status = "failed";
	char next[24], code[24], at[24], why[320];
	const char *next_p = NULL, *why_p = o->error[0] ? o->error : NULL;
	PGresult *res;

	if (o->result == MAIL_SENT) {
		status = "sent";
		why_p = NULL;
	} else if (o->result == MAIL_TEMPORARY) {
		long long when = o->at + outbox_backoff(m->attempts + 1);

		if (when - m->queued_at <= NOTIFY_GIVE_UP) {
			status = "pending";
			next_p = buf_lltoa(when, next);
		} else {
			snprintf(why, sizeof(why), "%s (gave up after 3 days)", o->error);
			why_p = why;
		}
	}
	if (db_begin(db) != 0)
		return -1;
	res = db_exec(db, STMT_MAIL_RECORD, (const char *[]){ m->site, m->id, m->lease, status,
	    next_p, why_p, o->smtp_code ? buf_lltoa(o->smtp_code, code) : NULL,
	    o->result == MAIL_SENT ? buf_lltoa(o->at, at) : NULL });
	if (res == NULL) {
		db_rollback(db);
		return -1;
	}
	if (PQntuples(res) == 0)
		log_warn("mail: site %s: message %s was taken over by another claim; its "
		    "outcome (%s) is not recorded", m->site, m->id, mail_result_name(o->result));
	PQclear(res);
	if (db_commit(db) != 0)
		return -1;
	if (o->result == MAIL_SENT)
		log_debug("mail: site %s: message %s %s sent", m->site, m->id, m->message_id);
	else
		log_warn("mail: site %s: message %s attempt %d %s: %s", m->site, m->id,
		    m->attempts + 1, strcmp(status, "pending") == 0 ? "failed, retried later" :
		    "failed for good", o->error);
	return 0;
}

int
outbox_release(struct db *db, const struct outbox_msg *m)
{
	PGresult *res = db_exec(db, STMT_MAIL_RELEASE, (const char *[]){ m->site, m->id,
	    m->lease });

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---- the simple driver ---- */

/* When each site was last scanned, and at which clock offset (time travel rescans): a
 * small hash table by site id, per runner. A site whose slot was taken by another is
 * simply scanned again. */
#define SCANNED_MAX	4096
#define SCANNED_PROBE	8
static struct {
	char		site[48];
	time_t		at;
	long long	offset;
} scanned[SCANNED_MAX];
static time_t relay_hold_until;

static bool
scan_due(const struct site *site, time_t now)
{
	unsigned h = 2166136261u;
	int slot = -1;

	for (const unsigned char *p = (const unsigned char *)site->id; *p; p++)
		h = (h ^ *p) * 16777619u;
	for (int i = 0; i < SCANNED_PROBE; i++) {
		int k = (int)((h + (unsigned)i) % SCANNED_MAX);

		if (strcmp(scanned[k].site, site->id) == 0) {
			if (now - scanned[k].at < SCAN_INTERVAL &&
			    scanned[k].offset == site->clock_offset)
				return false;
			slot = k;
			break;
		}
		if (slot < 0 || scanned[k].at < scanned[slot].at)
			slot = k;
	}
	snprintf(scanned[slot].site, sizeof(scanned[slot].site), "%s", site->id);
	scanned[slot].at = now;
	scanned[slot].offset = site->clock_offset;
	return true;
}

/* The schedule table's scans in a transaction: 1+ queued, 0 none, -1 database gone. */
static int
scan(struct db *db, const struct site *site)
{
	struct dctx d;
	struct derr e;
	int queued = 0;

	if (db_begin(db) != 0)
		return -1;
	dctx_init(&d, db, site, (long long)time(NULL) + site->clock_offset, ACTOR_JOB_RUNNER,
	    NULL);
	if (notify_scheduled(&d, SCAN_MAX, &queued, &e) != 0) {
		bool lost = db->status == DB_UNAVAILABLE;

		db_rollback(db);
		if (lost)
			return -1;
		log_error("mail: site %s: scheduled mail not queued: %s", site->id, e.message);
		return 0;
	}
	return db_commit(db) == 0 ? queued : -1;
}

int
outbox_site_pass(struct db *db, const struct site *site)
{
	const struct config *cfg = notify_config();
	struct outbox_sender s;
	struct outbox_batch b;
	char err[256];
	time_t now = time(NULL);
	int done = 0, rc = 0, lease;

	if (cfg == NULL)
		return 0;
	if (scan_due(site, now)) {
		rc = scan(db, site);
		if (rc < 0)
			return -1;
		done += rc;
	}
	/* No relay configured: the messages wait in the outbox. A relay that did not
	 * answer is left alone for a while, so the runner's other work goes on. */
	if (cfg->mail_relay[0] == '\0' || now < relay_hold_until)
		return done;
	outbox_sender_init(&s, cfg);
	lease = cfg->mail_connect_timeout + cfg->mail_timeout + 10;
	outbox_batch_init(&b);
	for (int round = 0; round < DRIVER_ROUNDS && rc >= 0; round++) {
		int n = outbox_claim(db, site, DRIVER_BATCH, lease, &b, err, sizeof(err));

		if (n < 0)
			rc = -1;
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct outbox_outcome o;

			if (rc < 0 || relay_hold_until > time(NULL)) {
				if (rc >= 0 && outbox_release(db, &b.msgs[i]) != 0)
					rc = -1;
				continue;
			}
			outbox_send_one(&s, &b.msgs[i], &o);
			if (outbox_record_one(db, &b.msgs[i], &o) != 0)
				rc = -1;
			done++;
			if (o.result == MAIL_TEMPORARY && o.smtp_code == 0)
				relay_hold_until = time(NULL) + RELAY_HOLD;
		}
		if (n < DRIVER_BATCH || relay_hold_until > time(NULL))
			break;
	}
	outbox_batch_free(&b);
	return rc < 0 ? -1 : done;
}

/* One pass over every site; how many items, or -1 when the database is gone. */
static int
mail_pass(struct db *db)
{
	PGresult *sites = db_exec(db, STMT_SITE_CLOCKS, NULL);
	int done = 0, rc = 0;

	if (sites == NULL)
		return -1;
	for (int i = 0; i < PQntuples(sites) && rc >= 0; i++) {
		struct site site;

		memset(&site, 0, sizeof(site));
		snprintf(site.id, sizeof(site.id), "%s", db_val(sites, i, 0));
		site.clock_offset = db_ll(sites, i, 1, 0);
		snprintf(site.mode, sizeof(site.mode), "%s", db_val(sites, i, 2));
		rc = outbox_site_pass(db, &site);
		if (rc > 0)
			done += rc;
	}
	PQclear(sites);
	return rc < 0 ? -1 : done;
}

int
outbox_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct db db;
	bool listening = false;

	notify_configure(cfg);
	db_init(&db, cfg->db_conninfo, cfg->db_connect_timeout, true);
	log_info("jobs: mail lane started");
	while (!*stop) {
		struct pollfd pfd;
		PGnotify *n;
		int done;

		db_abort(&db);	/* every level a pass left open (a lost one too) */
		if (db_ensure(&db) != 0) {
			listening = false;
			sleep(1);
			continue;
		}
		if (!listening)
			listening = db_exec_sql(&db, "LISTEN portald_jobs") == 0;
		done = mail_pass(&db);
		if (done > 0)
			continue;
		if (done < 0) {
			listening = false;
			sleep(1);
			continue;
		}
		pfd.fd = PQsocket(db.conn);
		pfd.events = POLLIN;
		if (pfd.fd >= 0 && poll(&pfd, 1, 1000) > 0) {
			PQconsumeInput(db.conn);
			while ((n = PQnotifies(db.conn)) != NULL)
				PQfreemem(n);
		}
	}
	db_close(&db);
	log_info("jobs: mail lane stopped");
	return 0;
}
