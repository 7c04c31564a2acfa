/* notify.h: the mail Portald sends to customers. Which event or schedule produces which
 * message is declared in two tables (notify.c); each message is rendered, sealed and
 * written to the outbox in the caller's transaction with a Message-ID chosen there, so it
 * goes out if and only if the change that caused it commits, and every attempt repeats
 * the same bytes. The job runner delivers the outbox (src/jobs/outbox.c). */
#ifndef PORTALD_NOTIFY_H
#define PORTALD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "billing/domain.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"

#define NOTIFY_SWITCHABLE_MAX	8
#define NOTIFY_LINK_TTL		(72 * 3600)	/* a payment-failed mail's card-update link */
#define NOTIFY_GIVE_UP		(3 * 86400)	/* delivery is retried for three days */

/* The configuration mail is made with (public_url for links, the sender, the server key
 * that seals bodies), for the whole process: portald's main and portalctl call it once
 * with a config that lives as long as the process (a reload rewrites it in place).
 * Queueing fails closed (DERR_INTERNAL) in a process that never called it. */
void	notify_configure(const struct config *cfg);
const struct config *notify_config(void);

/* The message types a merchant may switch off, NULL-terminated: the seven billing
 * messages. The account mails (invitation, login_link, set_password, password_changed,
 * email_changed) belong to the sign-in flows, which have their own settings. */
extern const char *const notify_switchable[];
bool	notify_type_switchable(const char *type);

struct notify_settings {
	bool		 enabled[NOTIFY_SWITCHABLE_MAX];	/* by index in notify_switchable */
	char		 from_name[208];	/* "": [mail] from_name, else the site's name */
	char		 reply_to[256];		/* "": none */
	char		 receipts_cc[256];	/* "": none; copied on payment receipts */
	int		 trial_ending_days;	/* trial_ending this many days before */
	int		 renewal_reminder_days;	/* renewal_reminder this many days before */
	long long	 updated_at;		/* 0: never changed (the defaults) */
};

/* A change; what is not set stays. */
struct notify_settings_req {
	int		 enable[NOTIFY_SWITCHABLE_MAX];	/* -1 keep, 0 off, 1 on */
	const char	*from_name, *reply_to, *receipts_cc;	/* NULL keep, "" clear */
	int		 trial_ending_days, renewal_reminder_days;	/* 0 keep */
};

void	notify_settings_req_init(struct notify_settings_req *r);
int	notify_settings_get(struct dctx *d, struct notify_settings *s, struct derr *e);
/* Validates and applies r (DERR_INVALID naming the field), under the settings' row lock. */
int	notify_settings_update(struct dctx *d, const struct notify_settings_req *r,
	    struct notify_settings *out, struct derr *e);
/* {"object":"mail_settings","types":{...},"from_name",...}: the API's and portalctl's. */
void	notify_write_settings(struct jw *w, const struct notify_settings *s);

/* events_emit calls this for every event it writes, in the same transaction: the rows of
 * the event table whose condition holds queue their message. Only the database or
 * randomness failing is an error; a message that cannot be rendered or addressed is
 * recorded as failed in the outbox, never a reason to refuse the billing change. */
int	notify_event(struct dctx *d, const char *type, const char *event_id,
	    const char *object_id, const char *data, struct derr *e);

/* For the sign-in flows (what the lead called mail_queue): queues message type (any of
 * mail_types) for the customer, in the caller's transaction. data_json holds the type's
 * own fields as in the contract of src/mail/mail_templates.h (link.url and link.expires
 * for a login link, ...); site, portal_url and customer.name are added here. The
 * recipient is the customer's address, or data_json's "to" when present (email_changed
 * goes to the old address). A switchable type that the site switched off is not queued
 * (returns 0). id (may be NULL) receives the outbox id, "" when nothing was queued. */
int	notify_queue(struct dctx *d, const char *type, const char *customer_id,
	    const char *data_json, char id[DOM_ID_MAX], struct derr *e);

/* notify_queue for the sign-in forms, which must do the same work whether or not the
 * address typed (typed) is a customer's: for customer_id "" (nobody) the message is
 * rendered and sealed for the typed address, and the insert runs as for a customer,
 * conditional on the customer existing, so it writes no row. The same statements in the
 * same order either way; what differs is inside PostgreSQL (a row written or not). */
int	notify_queue_alike(struct dctx *d, const char *type, const char *customer_id,
	    const char *typed, const char *data_json, char id[DOM_ID_MAX], struct derr *e);

/* The job runner's scans of the schedule table (trial ending, card expiring, renewal
 * reminder) on d's clock: queues at most max messages, each once per its dedupe key;
 * *queued receives how many. The caller owns the transaction. */
int	notify_scheduled(struct dctx *d, int max, int *queued, struct derr *e);

/* A sample of type (NULL: payment_receipt), subject "[Test] ...", to the address to,
 * whatever the switches say. */
int	notify_test(struct dctx *d, const char *to, const char *type, char id[DOM_ID_MAX],
	    struct derr *e);
/* A new copy of message id with a new Message-ID and Date, queued now. */
int	notify_resend(struct dctx *d, const char *id, char new_id[DOM_ID_MAX], struct derr *e);

/* A stored message (a row of a MAIL_COLS statement) as the RFC 5322 bytes that are sent:
 * the same row gives the same bytes. *from_addr (may be NULL) points at the envelope
 * sender. 0, or -1 with err filled (a seal that does not open, a field compose refuses). */
int	notify_compose(const char *site_id, PGresult *res, int row, struct buf *out,
	    const char **from_addr, char *err, size_t errlen);
/* {"id","object":"mail_message",...}; with_body adds the opened "text" and "html". */
void	notify_write_message(struct jw *w, const char *site_id, PGresult *res, int row,
	    bool with_body);
/* Both tables, as data: [{"source","message","recipient","when"}]. */
void	notify_write_rules(struct jw *w);

/* "3 March 2026" and "3 March 2026, 14:05 UTC" (out needs 48 bytes). */
/* Where the site's portal is, for links in mail: the configured public URL, on the site's
 * own host name when it has one ("https://billing.shop.example"), without a trailing
 * slash; "/portal/{site}/..." follows. */
int	notify_site_url(struct dctx *d, char *out, size_t n, struct derr *e);
void	notify_date(long long t, char out[48]);
void	notify_datetime(long long t, char out[48]);

#endif
