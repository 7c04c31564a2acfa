/* subscriptions.h: subscriptions and their state machine. Every operation (API, portal,
 * job runner, payment outcomes) runs one row of the declared table through one executor,
 * which alone writes a subscription's status. */
#ifndef PORTALD_SUBSCRIPTIONS_H
#define PORTALD_SUBSCRIPTIONS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "billing/domain.h"
#include "billing/invoices.h"
#include "billing/plans.h"
#include "billing/taxes.h"

enum sub_status {
	SS_NONE = 0,		/* not created yet */
	SS_IN_TRIAL, SS_ACTIVE, SS_NON_RENEWING, SS_PAST_DUE, SS_PAUSED, SS_CANCELLED,
	SS_SERVING,		/* as a target: active, or non_renewing when a cancellation
				 * is scheduled */
	SS__MAX
};
#define SS_BIT(s)	(1u << (s))

struct sub {
	char		 id[DOM_ID_MAX], customer_id[DOM_ID_MAX], plan_id[DOM_ID_MAX];
	char		 scheduled_plan[DOM_ID_MAX], term_invoice[DOM_ID_MAX];
	enum sub_status	 status;
	long long	 term_start, term_end, due_at, trial_end;	/* -1: none */
	long long	 cancelled_at, paused_at, resume_at, pause_at;
	bool		 cancel_at_end;
	char		 cancel_reason[64], cancel_comment[520];
	int		 anchor_day;
	/* its plan */
	long long	 amount;
	char		 currency[4], unit[8], plan_name[208];
	int		 count;
	/* as read with it, for rendering it as written (subscriptions.c, written_row) */
	long long	 created_at, scheduled_amount;	/* -1: none */
	char		 credit[24];	/* the customer's available credit in its currency */
	bool		 site_taxes;
};

enum sub_action {
	SA_CREATE_TRIAL, SA_CREATE, SA_CHANGE_NOW, SA_CHANGE_SCHEDULED, SA_CANCEL_SCHEDULED,
	SA_CANCEL_NOW, SA_UNCANCEL, SA_UNCANCEL_TRIAL, SA_REACTIVATE_TRIAL,
	SA_REACTIVATE_RESTORE, SA_REACTIVATE_NEW_TERM, SA_PAUSE_NOW, SA_PAUSE_SCHEDULED,
	SA_UNPAUSE_SCHEDULED, SA_RESUME, SA_AUTO_RESUME, SA_RENEW, SA_TRIAL_END,
	SA_TERM_END_CANCEL, SA_TERM_END_PAUSE, SA_PAYMENT_FAILED, SA_PAYMENT_RECOVERED,
	SA_DUNNING_CANCEL, SA_DUNNING_WRITE_OFF,
	SA__MAX
};

/* Side effects, applied by the executor in this order. */
#define FX_CREDIT_UNUSED	0x0001	/* credit the unused part of the paid term */
#define FX_VOID_OPEN		0x0002	/* void the subscription's open invoices */
#define FX_RECORD_CANCEL	0x0004	/* cancelled_at, reason, comment */
#define FX_SCHEDULE_CANCEL	0x0008	/* cancel at the end of the term */
#define FX_CLEAR_CANCEL		0x0010	/* drop a scheduled cancellation */
#define FX_RECORD_PAUSE		0x0020	/* paused_at, resume_at */
#define FX_SCHEDULE_PAUSE	0x0040	/* pause at the end of the term */
#define FX_CLEAR_PAUSE		0x0080	/* drop pause dates */
#define FX_SCHEDULE_PLAN	0x0100	/* a plan for the next term */
#define FX_CLEAR_PLAN		0x0200	/* drop a scheduled plan */
#define FX_APPLY_PLAN		0x0400	/* the request's plan (now), or the scheduled one */
#define FX_NEW_TERM		0x0800	/* a new term from `at`, billed and collected */
#define FX_MOVE_ANCHOR		0x1000	/* ... whose anchor day moves to `at` */
#define FX_INVOICE		0x2000	/* bill the request's draft and collect it */
#define FX_RESTORE_TERM		0x4000	/* back into the term already paid */

struct sub_rule {
	enum sub_action	 action;
	const char	*name;		/* unique, recorded in the history */
	const char	*op;		/* the API and portal operation, NULL for internal */
	const char	*variant;	/* "now", "end_of_term", NULL */
	unsigned	 from;		/* SS_BIT()s */
	enum sub_status	 to;		/* SS_NONE: the status stays */
	bool		 charges;	/* bills at once: a failed charge makes it past_due */
	const char	*event;
	unsigned	 effects;
	const char	*credit_source;	/* FX_CREDIT_UNUSED: the ledger's source */
	const char	*verb;		/* "cancelled", for "cannot be cancelled" */
};

extern const struct sub_rule sub_rules[SA__MAX];

const char *subs_status_name(enum sub_status s);
enum sub_status subs_status_parse(const char *name);
/* true when the operation op (with variant, or NULL for any) is legal from status. */
bool	subs_op_allowed(const char *op, const char *variant, enum sub_status from);

/* What the merchant (API) or the portal settings allow; NULL means no limit. */
struct sub_policy {
	bool		 cancel_allowed, cancel_now_allowed;
	bool		 reason_required;
	const char	*const *reasons;	/* NULL: the site's list */
	bool		 comment_allowed;
	bool		 change_allowed, change_now_allowed, downgrade_at_end_only;
	const char	*const *plans;		/* plans one may switch to; NULL: all */
	bool		 pause_allowed;		/* pause, and resume */
	int		 pause_max_days;	/* 0: no limit */
	bool		 reactivate_allowed;
};

struct sub_create_req {
	const char	*id, *customer_id, *plan_id;
	int		 trial_days;	/* -1: the plan's */
};
struct sub_change_req {
	const char	*plan_id;
	bool		 end_of_term;
	long long	 proration_date;	/* -1: now */
	long long	 expect_due;		/* -1: none; else the amount the review showed */
};
struct sub_cancel_req {
	bool		 now;
	const char	*reason, *comment;
	bool		 no_credit;		/* "credit": "none" */
};
struct sub_pause_req {
	bool		 end_of_term;
	long long	 resume_at;		/* -1: until resumed */
};

/* One tax line of a preview's invoice. */
struct sub_preview_tax {
	char		 name[64];
	long		 ppm;
	bool		 inclusive;
	long long	 taxable, amount;
};

/* What a plan change would bill, computed by running it and rolling it back. */
struct sub_preview {
	bool		 end_of_term;
	long long	 proration_date;
	char		 currency[4];
	struct inv_draft draft;		/* what is billed now (no lines at end of term) */
	long long	 tax, total;	/* total = the draft's lines + exclusive tax */
	char		 tax_treatment[16];
	struct sub_preview_tax taxes[TAX_MAX_RATES];
	int		 ntaxes;
	long long	 credit_applied, amount_due;
	long long	 credit_granted;	/* unused time going to the balance */
	char		 credit_description[240];
	long long	 credit_start, credit_end;
	long long	 next_at, next_amount;	/* the renewal after the change */
	char		 next_plan[DOM_ID_MAX];
};

/* What a cancel, reactivation, pause or resume would do, found the way subs_preview finds a
 * plan change's bill: by running it in a savepoint and rolling it back. */
#define SUB_EFFECT_VOIDED_MAX	8
struct sub_effect {
	char		 currency[4];
	long long	 at;			/* when it takes effect */
	enum sub_status	 status_after;
	long long	 term_end_after, resume_at_after;
	bool		 bills;			/* an invoice is raised now */
	long long	 invoice_total, credit_applied, amount_due;
	long long	 credit_granted;	/* unused time going to the balance */
	char		 credit_description[240];
	long long	 credit_start, credit_end;
	int		 n_voided;		/* open invoices voided */
	long long	 voided_total;
	struct {
		char		id[DOM_ID_MAX];
		long long	number, amount_due;
	}		 voided[SUB_EFFECT_VOIDED_MAX];
	long long	 next_at, next_amount;	/* the renewal after it; -1: none */
	/* The invoice it raises (bills): its lines' sum and tax lines, as on the invoice. */
	long long	 subtotal;
	char		 tax_treatment[16];
	struct sub_preview_tax taxes[TAX_MAX_RATES];
	int		 ntaxes;
};

/* The next charge of a subscription row (the STMT_SUB_* columns): when, and how much (the
 * plan's price, or the scheduled plan's, with the tax the customer pays on it today, less
 * the customer's credit in its currency). 1, or 0 with both -1 when it will not renew, or
 * -1 on a database error. The one rule the API's next_amount and the portal's pages
 * share. */
int	subs_next_charge(struct dctx *d, PGresult *res, int row, long long *at,
	    long long *amount, struct derr *e);

int	subs_load(struct dctx *d, const char *id, bool lock, struct sub *s, struct derr *e);
/* The customer's own subscription: another customer's is DERR_NOT_FOUND. */
int	subs_load_own(struct dctx *d, const char *customer_id, const char *id, bool lock,
	    struct sub *s, struct derr *e);

int	subs_create(struct dctx *d, const struct sub_create_req *r, char id[DOM_ID_MAX],
	    struct derr *e);
int	subs_change(struct dctx *d, const char *id, const struct sub_change_req *r,
	    const struct sub_policy *pol, struct derr *e);
int	subs_preview(struct dctx *d, const char *id, const struct sub_change_req *r,
	    const struct sub_policy *pol, struct sub_preview *out, struct derr *e);
int	subs_cancel(struct dctx *d, const char *id, const struct sub_cancel_req *r,
	    const struct sub_policy *pol, struct derr *e);
int	subs_reactivate(struct dctx *d, const char *id, const char *plan_id,
	    const struct sub_policy *pol, struct derr *e);
int	subs_pause(struct dctx *d, const char *id, const struct sub_pause_req *r,
	    const struct sub_policy *pol, struct derr *e);
int	subs_resume(struct dctx *d, const char *id, const struct sub_policy *pol,
	    struct derr *e);
/* Reactivate and resume confirming a review: expect_due is the amount due now that the
 * review page showed (-1: no check). When the operation would now bill another amount,
 * it is DERR_CONFLICT "preview_changed" and nothing is done (as subs_change). */
int	subs_reactivate_expect(struct dctx *d, const char *id, const char *plan_id,
	    long long expect_due, const struct sub_policy *pol, struct derr *e);
int	subs_resume_expect(struct dctx *d, const char *id, long long expect_due,
	    const struct sub_policy *pol, struct derr *e);
/* The same operations, run and rolled back: what the confirm will do. */
int	subs_cancel_preview(struct dctx *d, const char *id, const struct sub_cancel_req *r,
	    const struct sub_policy *pol, struct sub_effect *out, struct derr *e);
int	subs_reactivate_preview(struct dctx *d, const char *id, const char *plan_id,
	    const struct sub_policy *pol, struct sub_effect *out, struct derr *e);
int	subs_pause_preview(struct dctx *d, const char *id, const struct sub_pause_req *r,
	    const struct sub_policy *pol, struct sub_effect *out, struct derr *e);
int	subs_resume_preview(struct dctx *d, const char *id, const struct sub_policy *pol,
	    struct sub_effect *out, struct derr *e);

/* Job runner: what fell due (renewal, trial end, end-of-term cancel or pause), and an
 * automatic resume. d->now is the moment it fell due. */
int	subs_process_due(struct dctx *d, const char *id, struct derr *e);
int	subs_process_resume(struct dctx *d, const char *id, struct derr *e);
/* Sends ahead (db_read_ahead) the read that subs_process_due and subs_process_resume of id
 * start with: a batch sends the next item's with the release of the one before, as the
 * database will stand when that item starts. */
void	subs_read_ahead(struct dctx *d, const char *id);

/* Payment outcomes of the subscription's invoices (payments.c). */
int	subs_invoice_settled(struct dctx *d, const char *id, struct derr *e);
int	subs_payment_failed(struct dctx *d, const char *id, struct derr *e);
int	subs_dunning_exhausted(struct dctx *d, const char *id, bool cancel, struct derr *e);

#endif
