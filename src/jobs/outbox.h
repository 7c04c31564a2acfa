/* outbox.h: delivering the mail outbox in three steps (DESIGN, rulings: no network call
 * inside a transaction): claim due messages in a transaction of its own (leased to the
 * claim, committed), send each one outside any transaction, record each outcome in a
 * transaction of its own. A runner that dies between sending and recording leaves the
 * message leased; when the lease runs out another claim sends it again, with the same
 * Message-ID and the same bytes (at least once, never lost). */
#ifndef PORTALD_OUTBOX_H
#define PORTALD_OUTBOX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "billing/domain.h"
#include "core/buf.h"
#include "core/config.h"
#include "db/db.h"
#include "mail/mail.h"

#define OUTBOX_BATCH_MAX	16
#define OUTBOX_BACKOFF_MAX	3600	/* retries 1, 2, 4 ... minutes apart, at most an hour */

/* One claimed message, with everything sending it needs: no database in step two. */
struct outbox_msg {
	char		 site[48];
	char		 id[DOM_ID_MAX];
	char		 lease[40];		/* the claim that holds it; only it records */
	char		 message_id[MAIL_MSGID_MAX + 1];
	char		 from[256];		/* the envelope sender */
	char		 rcpt[2][256];		/* To, then Cc ("": none) */
	int		 attempts;		/* attempts recorded before this one */
	long long	 queued_at;		/* real time */
	struct buf	 bytes;			/* the message as composed (notify_compose) */
};

struct outbox_batch {
	int			 n;
	struct outbox_msg	 msgs[OUTBOX_BATCH_MAX];
};

struct outbox_outcome {
	enum mail_result	 result;
	int			 smtp_code;	/* the relay's deciding reply, 0 for none */
	char			 error[256];
	long long		 at;		/* real time of the answer */
};

/* What step two needs from the configuration: the relay (its password from the secrets
 * file) and the envelope sender. Pointers into cfg, which must outlive s. */
struct outbox_sender {
	struct mail_relay	 relay;
	const char		*from;
};

void	outbox_sender_init(struct outbox_sender *s, const struct config *cfg);
void	outbox_batch_init(struct outbox_batch *b);
void	outbox_batch_free(struct outbox_batch *b);

/* Step one, in a transaction of its own: up to max (<= OUTBOX_BATCH_MAX) due messages of
 * the site, skipping those another runner holds (FOR UPDATE SKIP LOCKED), leased for
 * lease_seconds (longer than a send can take), composed into b. Messages queued more than
 * three days ago that nobody holds are failed here; one that cannot be composed (a seal
 * that no listed server key opens) is failed at once. Returns how many were claimed, or
 * -1 when the database is unreachable (err filled). */
int	outbox_claim(struct db *db, const struct site *site, int max, int lease_seconds,
	    struct outbox_batch *b, char *err, size_t errlen);
/* Step two, outside any transaction and without the database: one SMTP transaction. */
void	outbox_send_one(const struct outbox_sender *s, const struct outbox_msg *m,
	    struct outbox_outcome *o);
/* Step three, in a transaction of its own: sent; temporary: retried after
 * outbox_backoff() until three days after it was queued, then failed; permanent: failed.
 * A claim whose lease was taken over records nothing. 0, or -1 when the database is
 * unreachable (the message stays leased and is sent again after the lease). */
int	outbox_record_one(struct db *db, const struct outbox_msg *m,
	    const struct outbox_outcome *o);
/* Gives a claimed message back unsent (its lease ends now, no attempt counted). */
int	outbox_release(struct db *db, const struct outbox_msg *m);
/* Seconds before attempt n + 1 after n failed attempts: 60, 120, 240 ... 3600. */
long long outbox_backoff(int attempts);

/* The simple driver jobs_pass calls for each site until the runner runs network work on
 * its own: the schedule scans (about once a minute per site, and whenever the site's
 * clock moved), then claim, send and record a few messages. Returns how many items it
 * handled, or -1 when the database is unreachable. */
int	outbox_site_pass(struct db *db, const struct site *site);
/* The same as a lane of its own (a process: main's job runner runs lanes), so a dead or
 * slow relay holds up nothing else: every site's outbox_site_pass, again at once while
 * there is work, else on NOTIFY portald_jobs or after a second. Until *stop; returns an
 * exit code. */
int	outbox_run(const struct config *cfg, volatile sig_atomic_t *stop);

#endif
