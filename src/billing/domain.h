/* domain.h: what every billing operation takes and gives: the site and its clock, who acts,
 * the database, the payments waiting for their gateway call, and the domain error
 * {kind, code, param, message} that the API maps to a status and the portal to a page. */
#ifndef PORTALD_DOMAIN_H
#define PORTALD_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/secrets.h"
#include "db/db.h"

#define DOM_ID_MAX	72	/* ids are 1-64 of [A-Za-z0-9_-], plus room */

struct site {
	char		id[48];
	char		mode[8];	/* "test" or "live" */
	long long	clock_offset;	/* the time machine, test sites only */
};

/* Who causes a change; every event records it (DESIGN, rulings). */
enum actor_type { ACTOR_NONE = 0, ACTOR_API_KEY, ACTOR_PORTAL_SESSION, ACTOR_ADMIN,
	ACTOR_JOB_RUNNER, ACTOR_GATEWAY };
struct actor {
	enum actor_type	type;
	char		id[DOM_ID_MAX];	/* key id, portal session id; empty otherwise */
};

enum derr_kind {
	DERR_NONE = 0,
	DERR_INVALID,		/* the request is wrong: 400 */
	DERR_NOT_FOUND,		/* no such object in this site (or of this customer): 404 */
	DERR_CONFLICT,		/* not in this state, or already exists: 409 */
	DERR_FORBIDDEN,		/* a setting forbids it: 403 */
	DERR_CARD,		/* the card was refused: 402 */
	DERR_UNAVAILABLE,	/* the database or a gateway is unreachable: 503 */
	DERR_INTERNAL		/* a bug or inconsistent data: 500 */
};

struct derr {
	enum derr_kind	kind;
	char		code[48];
	char		param[64];
	char		message[320];
};

/* A charge or refund recorded as intent and committed, whose gateway call is still to be
 * made (payments.c), or a hosted card set-up (setups.c, ids "setup_..."): the caller
 * commits, then runs payments_settle(). */
#define DOM_PENDING_MAX	64	/* twice the job runner's batch (jobs.c) */
#define DOM_URL_MAX	1024

/* Facts about the site that the job runner reads once per batch of renewals (in the
 * batch's transaction) instead of once per renewal. Everyone else leaves dctx.facts NULL
 * and reads them each time. */
struct notify_settings;
#ifndef FACTS_DEFER_MAX
#define FACTS_DEFER_MAX	32
#endif
struct site_facts {
	bool			 notify_read;
	struct notify_settings	*notify;	/* the caller's storage for the site's mail
						 * settings, valid once notify_read */
	/* Invoices the batch issued with a placeholder number (invoices.c), numbered together
	 * by invoices_number_deferred() just before the batch commits, so the site's gapless
	 * counter is locked for the end of the batch, not from its first invoice on. Entries
	 * below numbered have their numbers; an item rolled back restores both counts. */
	bool			 defer_numbers;
	long long		 txid;		/* the batch's transaction id, 0 until read:
						 * placeholders are -(txid * 64 + slot) */
	int			 nunnumbered, numbered;
	char			 unnumbered[FACTS_DEFER_MAX][DOM_ID_MAX];
	char			 unnumbered_prefix[FACTS_DEFER_MAX][48];
	/* Its first charge went out in the batch: the numbering counts the attempt too, so
	 * the row is not updated once more for it (invoices_first_attempt_deferred). */
	bool			 unnumbered_charged[FACTS_DEFER_MAX];
	/* Events the batch emitted, written together in order (events_flush) with the
	 * numbering, before a delivery names one, and before the batch commits: one
	 * statement instead of one per event, and an invoice's event written once, with
	 * its number. Kept to the batch's end so an item rolled back can make earlier
	 * items' events unwritten again (events_mark / events_restore). */
	bool			 defer_events;
	struct buf		 events;	/* ",{...}" per event, as JSON */
	size_t			 events_written;	/* bytes of events in the table */
	int			 nevents, nevents_written;
};

/* An open invoice to charge, as a charge needs it (payments.c). */
struct due_invoice {
	char		 id[DOM_ID_MAX];
	char		 customer_id[DOM_ID_MAX];
	char		 currency[4];
	long long	 due;
	long long	 attempts;	/* made so far */
	bool		 fresh;		/* issued in this transaction: no charge can be in flight */
};

struct dctx {
	struct db	*db;
	struct site	 site;
	long long	 now;		/* the site's clock */
	struct actor	 actor;
	const struct secrets *secrets;	/* the server keys, to seal what must be kept */
	int		 npending;
	char		 pending[DOM_PENDING_MAX][DOM_ID_MAX];	/* payment attempt ids */
	bool		 pending_overflow;	/* more than fit: the runner resolves the rest */
	/* After payments_settle: an on-session charge of invoice action_invoice waits for the
	 * customer to authenticate at action_url (the bank's page); empty otherwise. */
	char		 action_invoice[DOM_ID_MAX];
	char		 action_url[DOM_URL_MAX];
	struct site_facts *facts;	/* NULL: read each time */
	/* The gateway calls made through this context and the seconds they took. A call
	 * that found the gateway unreachable or took PAYMENTS_GATEWAY_SLOW seconds or more
	 * sets gateway_trouble: payments_settle then makes no more calls (the rest stay
	 * pending, asked again by key later), and the job runner leaves the site's gateway
	 * alone for a while. */
	int		 gateway_calls;
	double		 gateway_seconds;
	bool		 gateway_trouble;
	/* The open invoice issued last here, in this transaction, as issued: collecting it
	 * at once reads nothing back (payments_collect). id empty when none; emptied by the
	 * next issue, by collecting it, and by the job runner rolling an item back. */
	struct due_invoice issued;
};

void	dctx_init(struct dctx *d, struct db *db, const struct site *site, long long now,
	    enum actor_type type, const char *actor_id);

/* Fills e and returns -1, so callers can write `return derr_set(e, ...);`. */
int	derr_set(struct derr *e, enum derr_kind kind, const char *code, const char *param,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* From db->status: DERR_UNAVAILABLE, a conflict with a concurrent request (unique,
 * foreign key, serialization, deadlock), or DERR_INTERNAL. Returns -1. */
int	derr_db(struct derr *e, const struct db *db);
int	derr_not_found(struct derr *e, const char *what, const char *id);
/* "A subscription that is paused cannot be resumed." */
int	derr_state(struct derr *e, const char *what, const char *status, const char *action);

/* "<prefix>_<24 hex>" from RAND_bytes; -1 (with e filled) when randomness fails. */
int	dom_new_id(const char *prefix, char out[DOM_ID_MAX], struct derr *e);
/* Decimal text of v, or NULL when v < 0 (the engine's "no value"). */
const char *dom_opt(long long v, char buf[24]);

#endif
