/* billing.h: the billing engine: terms, proration, invoices, collection, dunning, renewals
 * and events. Every function runs inside the caller's transaction. */
#ifndef PORTALD_BILLING_H
#define PORTALD_BILLING_H

#include <stdbool.h>

#include "core/buf.h"
#include "db/db.h"
#include "core/json.h"

/* Where billing work happens: a request or the job runner. */
struct bctx {
	struct db	*db;
	const char	*site_id;
	long long	 now;		/* the site's clock */
};

/* ts plus count units. Months and years are calendar months: the day of month is the
 * subscription's anchor day, clamped to the month's length (Jan 31 + 1 month = Feb 28 or
 * 29; + 2 months = Mar 31). Time of day is kept. */
long long billing_add_interval(long long ts, const char *unit, int count, int anchor_day);
/* amount * part / whole, rounded half up (half away from zero): the proration rule. */
long long billing_prorate(long long amount, long long part, long long whole);

/* A subscription row as the engine works on it. */
struct sub {
	char		id[72], customer_id[72], plan_id[72], status[16];
	long long	term_start, term_end, next_billing_at, trial_end;	/* -1: NULL */
	bool		cancel_at_end;
	long long	cancelled_at, paused_at, resume_at;
	char		cancel_reason[64], cancel_comment[520], scheduled_plan[72];
	int		anchor_day;
	long long	amount;
	char		currency[4], unit[8], plan_name[208];
	int		count;
};

struct plan {
	char		id[72], name[208], currency[4], unit[8], status[12];
	long long	amount;
	int		count, trial_days;
};

int	sub_from_row(PGresult *res, int row, struct sub *s);
int	sub_load(struct bctx *b, const char *id, bool lock, struct sub *s);
int	sub_save(struct bctx *b, const struct sub *s);
/* Puts the subscription on plan p (id, name, price, period). */
void	sub_apply_plan(struct sub *s, const struct plan *p);
/* The day of month of ts (UTC): a new term's anchor. */
int	billing_anchor_day(long long ts);
/* 1 found, 0 not found, -1 database error */
int	plan_load(struct bctx *b, const char *id, struct plan *p);

#define INV_MAX_LINES 8
struct inv_line {
	const char	*kind;
	char		 description[240];
	long long	 amount;
	char		 plan_id[72];
	long long	 start, end;
};
struct inv_draft {
	char		customer_id[72], subscription_id[72], currency[4];
	struct inv_line	lines[INV_MAX_LINES];
	int		n;
};

void	inv_add_line(struct inv_draft *d, const char *kind, const char *desc, long long amount,
	    const char *plan_id, long long start, long long end);
long long inv_draft_total(const struct inv_draft *d);
/* The lines a plan change now would bill (credit for the rest of the old plan, charge for
 * the rest of the new one) at time at. */
void	billing_change_lines(const struct sub *s, const struct plan *np, long long at,
	    struct inv_draft *d);
/* Writes the invoice (numbered, credit balance applied), emits invoice.created. A total
 * below zero goes to the customer's credit balance. id receives the invoice id. */
int	billing_raise_invoice(struct bctx *b, const struct inv_draft *d, char id[40]);
/* Charges an open invoice now: records the attempt, marks paid or schedules dunning,
 * moves the subscription between active and past_due. *paid tells the outcome. */
int	billing_collect(struct bctx *b, const char *invoice_id, bool *paid);
/* An invoice of the subscription stopped being open (paid, voided): a past_due
 * subscription with nothing left unpaid goes back to active. */
int	billing_invoice_closed(struct bctx *b, const char *sub_id);
/* Retries every open invoice of a customer (after a card was added or made default). */
int	billing_retry_customer(struct bctx *b, const char *customer_id);
/* Starts a new paid term at start: invoice for the plan, collected at once. */
int	billing_start_term(struct bctx *b, struct sub *s, long long start);
/* Job runner steps: one due subscription, one paused subscription due to resume. */
int	billing_process_due(struct bctx *b, const char *sub_id);
int	billing_process_resume(struct bctx *b, const char *sub_id);

/* Writes objects as the API shows them (also the data of events). */
void	billing_write_sub(struct jw *w, const char *key, PGresult *res, int row);
void	billing_write_plan(struct jw *w, const char *key, PGresult *res, int row);
int	billing_write_invoice(struct bctx *b, struct jw *w, const char *key, PGresult *res,
	    int row);
void	billing_write_customer(struct jw *w, const char *key, PGresult *res, int row);
/* access_url and token are shown in the create response alone (NULL elsewhere). */
void	billing_write_portal_session(struct jw *w, PGresult *res, int row, const char *token,
	    const char *access_url);
/* Emits an event with the object just saved (looked up again for its JSON). */
int	billing_emit_sub(struct bctx *b, const char *type, const char *sub_id);

/* events.c: writes an event and its webhook deliveries in the current transaction. */
int	events_emit(struct bctx *b, const char *type, const char *object_id, const char *data);

#endif
