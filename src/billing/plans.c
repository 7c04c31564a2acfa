/* plans.c: plans and their features. */
#include <stdio.h>
#include <string.h>

#include "billing/customers.h"
#include "billing/events.h"
#include "billing/objects.h"
#include "billing/plans.h"
#include "core/currency.h"

int
plans_load(struct dctx *d, const char *id, const char *param, bool for_new, struct plan *p,
    struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PLAN_GET, (const char *[]){ d->site.id, id });

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_set(e, DERR_NOT_FOUND, "resource_missing", param, "No such plan: '%s'",
		    id);
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", db_val(res, 0, PLAN_ID));
	snprintf(p->name, sizeof(p->name), "%s", db_val(res, 0, PLAN_NAME));
	snprintf(p->currency, sizeof(p->currency), "%s", db_val(res, 0, PLAN_CURRENCY));
	snprintf(p->unit, sizeof(p->unit), "%s", db_val(res, 0, PLAN_UNIT));
	snprintf(p->status, sizeof(p->status), "%s", db_val(res, 0, PLAN_STATUS));
	p->amount = db_ll(res, 0, PLAN_AMOUNT, 0);
	p->count = (int)db_ll(res, 0, PLAN_COUNT, 1);
	p->trial_days = (int)db_ll(res, 0, PLAN_TRIAL, 0);
	PQclear(res);
	if (for_new && strcmp(p->status, "archived") == 0)
		return derr_set(e, DERR_INVALID, "plan_archived", param,
		    "Plan '%s' is archived and takes no new subscriptions.", id);
	return 0;
}

static int
emit(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_PLAN, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

static int
write_features(struct dctx *d, const char *id, const struct plan_req *r, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PLAN_FEATURES_CLEAR, (const char *[]){ d->site.id,
	    id });

	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	for (int i = 0; i < r->nfeatures; i++) {
		const struct plan_feature *f = &r->features[i];
		char v[24], pos[24];

		for (int j = 0; j < i; j++)
			if (strcmp(r->features[j].key, f->key) == 0)
				return derr_set(e, DERR_INVALID, "parameter_duplicate", "features",
				    "Feature '%s' is listed twice.", f->key);
		res = db_exec(d->db, STMT_PLAN_FEATURE_INSERT, (const char *[]){ d->site.id, id,
		    f->key, f->name, f->flag ? NULL : buf_lltoa(f->value, v),
		    buf_lltoa(i, pos) });
		if (res == NULL)
			return derr_db(e, d->db);
		PQclear(res);
	}
	return 0;
}

int
plans_create(struct dctx *d, const struct plan_req *r, char id[DOM_ID_MAX], struct derr *e)
{
	const struct currency *cur = currency_get(r->currency);
	char a[5][24];
	PGresult *res;
	int n;

	if (cur == NULL || !cur->billable)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "currency",
		    "currency must be a current ISO 4217 code such as USD, EUR or JPY.");
	if (r->id != NULL)
		snprintf(id, DOM_ID_MAX, "%s", r->id);
	else if (dom_new_id("plan", id, e) != 0)
		return -1;
	res = db_exec(d->db, STMT_PLAN_INSERT, (const char *[]){ d->site.id, id, r->name,
	    buf_lltoa(r->amount, a[0]), cur->code, r->interval,
	    buf_lltoa(r->interval_count, a[1]), buf_lltoa(r->trial_days, a[2]),
	    buf_lltoa(d->now, a[3]) });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_CONFLICT, "resource_already_exists", "id",
		    "A plan with id '%s' already exists.", id);
	if (r->set_features && write_features(d, id, r, e) != 0)
		return -1;
	return emit(d, "plan.created", id, e);
}

int
plans_update(struct dctx *d, const char *id, const struct plan_req *r, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PLAN_UPDATE, (const char *[]){ d->site.id, id,
	    r->name });
	int rc = 0;

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return derr_not_found(e, "plan", id);
	}
	PQclear(res);
	if (r->set_features) {
		if (write_features(d, id, r, e) != 0)
			return -1;
		/* Everyone on the plan may now be entitled to something else. */
		res = db_exec(d->db, STMT_PLAN_CUSTOMERS, (const char *[]){ d->site.id, id });
		if (res == NULL)
			return derr_db(e, d->db);
		for (int i = 0; i < PQntuples(res) && rc == 0; i++)
			rc = customers_entitlements_refresh(d, db_val(res, i, 0), e);
		PQclear(res);
		if (rc != 0)
			return -1;
	}
	return emit(d, "plan.updated", id, e);
}

int
plans_archive(struct dctx *d, const char *id, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PLAN_ARCHIVE, (const char *[]){ d->site.id, id });
	int n;

	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_not_found(e, "plan", id);
	return emit(d, "plan.archived", id, e);
}
