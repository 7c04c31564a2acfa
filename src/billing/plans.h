/* plans.h: plans (price, currency, period, trial) and the features they grant. */
#ifndef PORTALD_PLANS_H
#define PORTALD_PLANS_H

#include <stdbool.h>

#include "billing/domain.h"

#define PLAN_FEATURES_MAX	50

struct plan {
	char		id[DOM_ID_MAX], name[208], currency[4], unit[8], status[12];
	long long	amount;
	int		count, trial_days;
};

struct plan_feature {
	const char	*key;		/* [a-z0-9][a-z0-9_.-]{0,63} */
	const char	*name;
	long long	 value;		/* a number (seats), or */
	bool		 flag;		/* granted or not, no number */
};

struct plan_req {
	const char			*id;		/* create: chosen id or NULL */
	const char			*name;
	long long			 amount;
	const char			*currency;
	const char			*interval;
	int				 interval_count, trial_days;
	bool				 set_features;	/* update: replace the features */
	const struct plan_feature	*features;
	int				 nfeatures;
};

/* Loads a plan; a missing one is DERR_NOT_FOUND naming param (e.g. "plan_id"), an archived
 * one DERR_INVALID when for_new is set (it takes no new subscriptions). */
int	plans_load(struct dctx *d, const char *id, const char *param, bool for_new,
	    struct plan *p, struct derr *e);
int	plans_create(struct dctx *d, const struct plan_req *r, char id[DOM_ID_MAX],
	    struct derr *e);
/* Name and features; customers on the plan get their entitlements updated. */
int	plans_update(struct dctx *d, const char *id, const struct plan_req *r, struct derr *e);
int	plans_archive(struct dctx *d, const char *id, struct derr *e);

#endif
