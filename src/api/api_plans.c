/* api_plans.c: /api/v1/plans: create, retrieve, update (name, features), list, archive. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/plans.h"

static const char *
check_unit(const char *v)
{
	if (strcmp(v, "day") && strcmp(v, "week") && strcmp(v, "month") && strcmp(v, "year"))
		return "must be day, week, month or year";
	return NULL;
}

static const char *
check_currency(const char *v)
{
	if (strlen(v) != 3 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' ||
	    v[2] < 'A' || v[2] > 'Z')
		return "must be an ISO 4217 code in capitals, such as \"USD\"";
	return NULL;
}

static const char *
check_feature_key(const char *v)
{
	if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9')))
		return "must start with a-z or 0-9";
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		    *p == '.' || *p == '-'))
			return "may hold a-z, 0-9, '_', '.' and '-' only";
	return NULL;
}

static const struct field feature_fields[] = {
	{ .name = "key", .type = FT_STRING, .required = true, .max_len = 64,
	  .check = check_feature_key },
	{ .name = "name", .type = FT_STRING, .required = true, .max_len = 200 },
	{ .name = "value", .type = FT_INT, .nullable = true, .min = 0, .max = 1000000000LL },
	{ .name = NULL }
};

const struct field plan_create_fields[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "name", .type = FT_STRING, .required = true, .max_len = 200 },
	{ .name = "amount", .type = FT_INT, .required = true, .min = 0, .max = 100000000000LL },
	{ .name = "currency", .type = FT_STRING, .required = true, .max_len = 3,
	  .check = check_currency },
	{ .name = "interval", .type = FT_STRING, .required = true, .max_len = 5,
	  .check = check_unit },
	{ .name = "interval_count", .type = FT_INT, .min = 1, .max = 365 },
	{ .name = "trial_days", .type = FT_INT, .min = 0, .max = 730 },
	{ .name = "features", .type = FT_OBJLIST, .fields = feature_fields,
	  .max = PLAN_FEATURES_MAX },
	{ .name = NULL }
};

const struct field plan_update_fields[] = {
	{ .name = "name", .type = FT_STRING, .max_len = 200 },
	{ .name = "features", .type = FT_OBJLIST, .fields = feature_fields,
	  .max = PLAN_FEATURES_MAX },
	{ .name = NULL }
};

const struct qparam plan_list_params[] = {
	{ .name = "limit", .type = QT_INT, .min = 1, .max = 100 },
	{ .name = "starting_after", .type = QT_ID },
	{ .name = "status", .type = QT_STRING },
	{ .name = NULL }
};

/* The request from the validated body; features point into it. */
static void
fill(struct ctx *c, struct plan_req *r, struct plan_feature f[PLAN_FEATURES_MAX])
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(c->body, "features"), *el;

	memset(r, 0, sizeof(*r));
	r->id = json_str(c->body, "id");
	r->name = json_str(c->body, "name");
	r->amount = json_int(c->body, "amount", 0);
	r->currency = json_str(c->body, "currency");
	r->interval = json_str(c->body, "interval");
	r->interval_count = (int)json_int(c->body, "interval_count", 1);
	r->trial_days = (int)json_int(c->body, "trial_days", 0);
	r->set_features = list != NULL;
	r->features = f;
	cJSON_ArrayForEach(el, list) {
		struct plan_feature *pf = &f[r->nfeatures++];

		pf->key = json_str(el, "key");
		pf->name = json_str(el, "name");
		pf->flag = !json_has(el, "value") || cJSON_IsNull(cJSON_GetObjectItem(el, "value"));
		pf->value = json_int(el, "value", 0);
	}
}

void
h_plan_create(struct ctx *c)
{
	struct plan_feature f[PLAN_FEATURES_MAX];
	struct plan_req r;
	struct derr e;
	char id[DOM_ID_MAX];

	fill(c, &r, f);
	if (plans_create(&c->d, &r, id, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PLAN, id);
}

void
h_plan_update(struct ctx *c)
{
	struct plan_feature f[PLAN_FEATURES_MAX];
	struct plan_req r;
	struct derr e;

	fill(c, &r, f);
	if (plans_update(&c->d, c->req->path_params[0], &r, &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PLAN, c->req->path_params[0]);
}

void
h_plan_get(struct ctx *c)
{
	api_get(c, OBJ_PLAN, c->req->path_params[0]);
}

void
h_plan_list(struct ctx *c)
{
	static const struct list_spec spec = { OBJ_PLAN, STMT_PLAN_LIST_FIRST,
	    STMT_PLAN_LIST_AFTER, { "status" }, CURSOR_CREATED, PLAN_CREATED };

	api_list(c, &spec);
}

void
h_plan_archive(struct ctx *c)
{
	struct derr e;

	if (plans_archive(&c->d, c->req->path_params[0], &e) != 0)
		api_derr(c, &e);
	else
		api_answer(c, OBJ_PLAN, c->req->path_params[0]);
}
