/* portal_settings.c: the portal configuration: loading it with a session's overrides,
 * partial updates, the logo, its JSON object, and the checks behind portal actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "billing/events.h"
#include "billing/plans.h"
#include "billing/portal_settings.h"
#include "core/crypto.h"
#include "core/png.h"
#include "core/tz.h"

static const char *
check_cancel_mode(const char *v)
{
	return strcmp(v, "end_of_term") == 0 || strcmp(v, "immediately") == 0 ? NULL :
	    "must be \"end_of_term\" or \"immediately\"";
}

static const char *
check_reason_mode(const char *v)
{
	return strcmp(v, "off") == 0 || strcmp(v, "optional") == 0 ||
	    strcmp(v, "required") == 0 ? NULL : "must be \"off\", \"optional\" or \"required\"";
}

static const char *
check_timing(const char *v)
{
	return strcmp(v, "now") == 0 || strcmp(v, "end_of_term") == 0 ? NULL :
	    "must be \"now\" or \"end_of_term\"";
}

static const char *
check_reason_code(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 40)
		return "must be 1 to 40 characters long";
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '_'))
			return "may hold only a-z, 0-9 and '_'";
	return NULL;
}

const struct field portal_features_fields[] = {
	{ .name = "edit_billing_details", .type = FT_BOOL },
	{ .name = "email_editable", .type = FT_BOOL },
	{ .name = "payment_methods", .type = FT_BOOL },
	{ .name = "invoice_history", .type = FT_BOOL },
	{ .name = "cancel_subscription", .type = FT_BOOL },
	{ .name = "cancel_mode", .type = FT_STRING, .max_len = 20, .check = check_cancel_mode },
	{ .name = "cancel_reason", .type = FT_STRING, .max_len = 20, .check = check_reason_mode },
	{ .name = "cancel_comment", .type = FT_BOOL },
	{ .name = "change_plan", .type = FT_BOOL },
	{ .name = "change_plan_plans", .type = FT_LIST, .max_len = 64, .check = check_id,
	  .nullable = true },
	{ .name = "change_plan_timing", .type = FT_STRING, .max_len = 20, .check = check_timing },
	{ .name = "downgrades_at_end_of_term", .type = FT_BOOL },
	{ .name = "pause_subscription", .type = FT_BOOL },
	{ .name = "pause_max_days", .type = FT_INT, .min = 1, .max = 365 },
	{ .name = "reactivate_subscription", .type = FT_BOOL },
	{ .name = "session_idle_timeout", .type = FT_INT, .min = 60, .max = 86400 },
	{ .name = "session_absolute_timeout", .type = FT_INT, .min = 300, .max = 2592000 },
	{ .name = NULL }
};

static const char *
check_url_or_empty(const char *v)
{
	return v[0] == '\0' ? NULL : check_http_url(v);
}

const struct field portal_sign_in_fields[] = {
	{ .name = "login_link", .type = FT_BOOL },
	{ .name = "login_link_ttl", .type = FT_INT, .min = 300, .max = 86400 },
	{ .name = "password", .type = FT_BOOL },
	{ .name = "invite_on_subscription", .type = FT_BOOL },
	{ .name = "management_link_ttl", .type = FT_INT, .min = 3600, .max = 31536000 },
	{ .name = "email_verification", .type = FT_BOOL },
	{ .name = "reveal_unknown_email", .type = FT_BOOL },
	{ .name = "merchant_sign_in_url", .type = FT_STRING, .max_len = 2048, .nullable = true,
	  .check = check_url_or_empty },
	{ .name = NULL }
};

const struct field portal_reason_fields[] = {
	{ .name = "code", .type = FT_STRING, .required = true, .max_len = 40,
	  .check = check_reason_code },
	{ .name = "label", .type = FT_STRING, .required = true, .max_len = 120 },
	{ .name = NULL }
};

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static bool
is_true(const char *v)
{
	return v != NULL && strcmp(v, "t") == 0;
}

/* cancel_reasons JSON ([{code,label}]) into s; items that do not fit are skipped. */
static void
reasons_from_json(struct portal_settings *s, const char *json)
{
	cJSON *arr = json ? cJSON_Parse(json) : NULL;
	const cJSON *it;

	s->n_cancel_reasons = 0;
	cJSON_ArrayForEach(it, arr) {
		const char *code = json_str(it, "code"), *label = json_str(it, "label");

		if (code == NULL || label == NULL || s->n_cancel_reasons == PORTAL_MAX_REASONS)
			continue;
		copy(s->cancel_reasons[s->n_cancel_reasons].code, sizeof(s->cancel_reasons[0].code),
		    code);
		copy(s->cancel_reasons[s->n_cancel_reasons].label,
		    sizeof(s->cancel_reasons[0].label), label);
		s->n_cancel_reasons++;
	}
	cJSON_Delete(arr);
}

static void
plans_from_list(struct portal_settings *s, const char *list)
{
	char buf[PORTAL_MAX_PLANS * 72], *tok, *save = NULL;

	s->n_change_plan_plans = 0;
	copy(buf, sizeof(buf), list);
	for (tok = strtok_r(buf, ",", &save); tok && s->n_change_plan_plans < PORTAL_MAX_PLANS;
	    tok = strtok_r(NULL, ",", &save))
		copy(s->change_plan_plans[s->n_change_plan_plans++], 72, tok);
}

static void
from_row(PGresult *r, struct portal_settings *s)
{
	memset(s, 0, sizeof(*s));
	copy(s->site_id, sizeof(s->site_id), db_val(r, 0, PC_SITE));
	copy(s->site_name, sizeof(s->site_name), db_val(r, 0, PC_SITE_NAME));
	s->test_mode = strcmp(db_val(r, 0, PC_MODE), "test") == 0;
	s->clock_offset = db_ll(r, 0, PC_CLOCK, 0);
	s->updated_at = db_ll(r, 0, PC_UPDATED, 0);
	s->business_name_set = db_val(r, 0, PC_BUSINESS) != NULL;
	copy(s->business_name, sizeof(s->business_name), s->business_name_set ?
	    db_val(r, 0, PC_BUSINESS) : s->site_name);
	copy(s->website_url, sizeof(s->website_url), db_val(r, 0, PC_WEBSITE));
	copy(s->brand_color, sizeof(s->brand_color), db_val(r, 0, PC_COLOR));
	copy(s->time_zone, sizeof(s->time_zone), db_val(r, 0, PC_TZ));
	copy(s->terms_url, sizeof(s->terms_url), db_val(r, 0, PC_TERMS));
	copy(s->privacy_url, sizeof(s->privacy_url), db_val(r, 0, PC_PRIVACY));
	copy(s->help_url, sizeof(s->help_url), db_val(r, 0, PC_HELP));
	copy(s->logo_sha256, sizeof(s->logo_sha256), db_val(r, 0, PC_LOGO_SHA));
	copy(s->custom_host, sizeof(s->custom_host), db_val(r, 0, PC_HOST));
	s->logo_width = (int)db_ll(r, 0, PC_LOGO_W, 0);
	s->logo_height = (int)db_ll(r, 0, PC_LOGO_H, 0);
	s->edit_billing_details = is_true(db_val(r, 0, PC_EDIT_DETAILS));
	s->email_editable = is_true(db_val(r, 0, PC_EMAIL_EDITABLE));
	s->payment_methods = is_true(db_val(r, 0, PC_PAYMENT_METHODS));
	s->invoice_history = is_true(db_val(r, 0, PC_INVOICES));
	s->cancel_subscription = is_true(db_val(r, 0, PC_CANCEL));
	s->cancel_mode = strcmp(db_val(r, 0, PC_CANCEL_MODE), "immediately") == 0 ?
	    PORTAL_CANCEL_IMMEDIATELY : PORTAL_CANCEL_END_OF_TERM;
	s->cancel_reason = strcmp(db_val(r, 0, PC_CANCEL_REASON), "off") == 0 ?
	    PORTAL_REASON_OFF : strcmp(db_val(r, 0, PC_CANCEL_REASON), "required") == 0 ?
	    PORTAL_REASON_REQUIRED : PORTAL_REASON_OPTIONAL;
	s->cancel_comment = is_true(db_val(r, 0, PC_CANCEL_COMMENT));
	reasons_from_json(s, db_val(r, 0, PC_CANCEL_REASONS));
	s->change_plan = is_true(db_val(r, 0, PC_CHANGE));
	plans_from_list(s, db_val(r, 0, PC_CHANGE_PLANS));
	s->change_plan_timing = strcmp(db_val(r, 0, PC_CHANGE_TIMING), "end_of_term") == 0 ?
	    PORTAL_CHANGE_END_OF_TERM : PORTAL_CHANGE_NOW;
	s->downgrades_at_end_of_term = is_true(db_val(r, 0, PC_DOWNGRADE_END));
	s->pause_subscription = is_true(db_val(r, 0, PC_PAUSE));
	s->pause_max_days = (int)db_ll(r, 0, PC_PAUSE_DAYS, 90);
	s->reactivate_subscription = is_true(db_val(r, 0, PC_REACTIVATE));
	s->session_idle_timeout = (int)db_ll(r, 0, PC_IDLE, 1800);
	s->session_absolute_timeout = (int)db_ll(r, 0, PC_ABSOLUTE, 43200);
	s->login_link = is_true(db_val(r, 0, PC_LOGIN_LINK));
	s->login_link_ttl = (int)db_ll(r, 0, PC_LINK_TTL, 900);
	copy(s->merchant_sign_in_url, sizeof(s->merchant_sign_in_url),
	    db_val(r, 0, PC_SIGN_IN_URL));
	s->login_password = is_true(db_val(r, 0, PC_LOGIN_PASSWORD));
	s->invite_on_subscription = is_true(db_val(r, 0, PC_INVITE_ON_SUB));
	s->management_link_ttl = (int)db_ll(r, 0, PC_MLINK_TTL, 5616000);
	s->email_verification = is_true(db_val(r, 0, PC_EMAIL_VERIFICATION));
	s->reveal_unknown_email = is_true(db_val(r, 0, PC_REVEAL_UNKNOWN));
	color_palette(s->brand_color, &s->palette);
}

static void
set_bool(const cJSON *f, const char *name, bool *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, name);

	if (cJSON_IsBool(v))
		*dst = cJSON_IsTrue(v);
}

int
portal_settings_apply(struct portal_settings *s, const cJSON *f, struct derr *e)
{
	const char *v;
	const cJSON *plans;

	if (f == NULL)
		return 0;
	set_bool(f, "edit_billing_details", &s->edit_billing_details);
	set_bool(f, "email_editable", &s->email_editable);
	set_bool(f, "payment_methods", &s->payment_methods);
	set_bool(f, "invoice_history", &s->invoice_history);
	set_bool(f, "cancel_subscription", &s->cancel_subscription);
	if ((v = json_str(f, "cancel_mode")) != NULL)
		s->cancel_mode = strcmp(v, "immediately") == 0 ? PORTAL_CANCEL_IMMEDIATELY :
		    PORTAL_CANCEL_END_OF_TERM;
	if ((v = json_str(f, "cancel_reason")) != NULL)
		s->cancel_reason = strcmp(v, "off") == 0 ? PORTAL_REASON_OFF :
		    strcmp(v, "required") == 0 ? PORTAL_REASON_REQUIRED : PORTAL_REASON_OPTIONAL;
	set_bool(f, "cancel_comment", &s->cancel_comment);
	set_bool(f, "change_plan", &s->change_plan);
	plans = cJSON_GetObjectItemCaseSensitive(f, "change_plan_plans");
	if (cJSON_IsNull(plans))
		s->n_change_plan_plans = 0;
	else if (cJSON_IsArray(plans)) {
		const cJSON *p;

		s->n_change_plan_plans = 0;
		cJSON_ArrayForEach(p, plans) {
			if (!cJSON_IsString(p))
				continue;
			if (s->n_change_plan_plans == PORTAL_MAX_PLANS) {
				derr_set(e, DERR_INVALID, "parameter_invalid", "features.change_plan_plans",
				    "change_plan_plans takes at most %d plans", PORTAL_MAX_PLANS);
				return -1;
			}
			copy(s->change_plan_plans[s->n_change_plan_plans++], 72, p->valuestring);
		}
	}
	if ((v = json_str(f, "change_plan_timing")) != NULL)
		s->change_plan_timing = strcmp(v, "end_of_term") == 0 ? PORTAL_CHANGE_END_OF_TERM :
		    PORTAL_CHANGE_NOW;
	set_bool(f, "downgrades_at_end_of_term", &s->downgrades_at_end_of_term);
	set_bool(f, "pause_subscription", &s->pause_subscription);
	s->pause_max_days = (int)json_int(f, "pause_max_days", s->pause_max_days);
	set_bool(f, "reactivate_subscription", &s->reactivate_subscription);
	s->session_idle_timeout = (int)json_int(f, "session_idle_timeout",
	    s->session_idle_timeout);
	s->session_absolute_timeout = (int)json_int(f, "session_absolute_timeout",
	    s->session_absolute_timeout);
	if (s->session_idle_timeout > s->session_absolute_timeout) {
		derr_set(e, DERR_INVALID, "parameter_invalid", "features.session_idle_timeout",
		    "session_idle_timeout (%d s) must not exceed session_absolute_timeout (%d s)",
		    s->session_idle_timeout, s->session_absolute_timeout);
		return -1;
	}
	return 0;
}

int
portal_settings_override(struct portal_settings *s, const char *features_json)
{
	struct derr e;
	cJSON *f;
	int rc;

	if (features_json == NULL || *features_json == '\0')
		return 0;
	f = cJSON_Parse(features_json);
	rc = portal_settings_apply(s, f, &e);
	cJSON_Delete(f);
	return rc;
}

/* Runs stmt (a configuration statement, $1 the site) and reads its first row into out;
 * *row keeps the result when asked for (other columns may follow). A site made by the
 * previous release during a rolling upgrade has no row yet: it gets one, with the
 * defaults, now. 1 found, 0 no such site, -1 error. */
static int
load_row(struct db *db, enum stmt_id stmt, const char *const *params,
    struct portal_settings *out, PGresult **row)
{
	PGresult *res = db_exec(db, stmt, params);

	if (res != NULL && PQntuples(res) == 0) {
		PQclear(res);
		res = db_exec(db, STMT_PCONF_ENSURE, (const char *[]){ params[0] });
		if (res != NULL) {
			PQclear(res);
			res = db_exec(db, stmt, params);
		}
	}
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	from_row(res, out);
	if (row != NULL)
		*row = res;
	else
		PQclear(res);
	return 1;
}

static int
load(struct db *db, enum stmt_id stmt, const char *site_id, struct portal_settings *out)
{
	return load_row(db, stmt, (const char *[]){ site_id }, out, NULL);
}

int
portal_settings_load_entry(struct db *db, const char *site_id, const char *session_id,
    struct portal_settings *out, PGresult **row)
{
	*row = NULL;
	return load_row(db, STMT_PORTAL_ENTRY, (const char *[]){ site_id, session_id }, out,
	    row);
}

int
portal_settings_load(struct db *db, const char *site_id, const char *features_json,
    struct portal_settings *out)
{
	int rc = load(db, STMT_PCONF_GET, site_id, out);

	if (rc == 1 && portal_settings_override(out, features_json) != 0) {
		/* Overrides were checked when the session was created; a stored pair that no
		 * longer fits (say idle > absolute) falls back to the site's timeouts. */
		struct portal_settings site = *out;

		(void)load(db, STMT_PCONF_GET, site_id, &site);
		out->session_idle_timeout = site.session_idle_timeout;
		out->session_absolute_timeout = site.session_absolute_timeout;
	}
	return rc;
}

int
portal_settings_check_plans(struct dctx *d, const cJSON *features, const char *param,
    struct derr *e)
{
	const cJSON *plans = cJSON_GetObjectItemCaseSensitive(features, "change_plan_plans");
	const cJSON *p;
	struct plan pl;

	cJSON_ArrayForEach(p, plans) {
		if (!cJSON_IsString(p))
			continue;
		if (plans_load(d, p->valuestring, param, false, &pl, e) != 0) {
			if (e->kind != DERR_NOT_FOUND)
				return -1;
			return derr_set(e, DERR_INVALID, "parameter_invalid", param,
			    "%s names no plan of this site: '%s'", param, p->valuestring);
		}
	}
	return 0;
}

/* URLs shown to customers: absolute http(s), or "" / null to clear. */
static int
take_url(const cJSON *changes, const char *name, char *dst, size_t n,
    struct derr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(changes, name);
	const char *why;

	if (v == NULL)
		return 0;
	if (cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		dst[0] = '\0';
		return 0;
	}
	if ((why = check_http_url(v->valuestring)) != NULL) {
		derr_set(e, DERR_INVALID, "parameter_invalid", name, "%s %s", name, why);
		return -1;
	}
	copy(dst, n, v->valuestring);
	return 0;
}

static char *
reasons_json(const struct portal_settings *s)
{
	cJSON *arr = cJSON_CreateArray();
	char *out;

	for (int i = 0; i < s->n_cancel_reasons; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "code", s->cancel_reasons[i].code);
		cJSON_AddStringToObject(o, "label", s->cancel_reasons[i].label);
		cJSON_AddItemToArray(arr, o);
	}
	out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return out;
}

static int
save(struct dctx *d, const struct portal_settings *s)
{
	char plans[PORTAL_MAX_PLANS * 72] = "", days[24], idle[24], abs[24], now[24], ttl[24];
	char *reasons = reasons_json(s);
	const char *p[35];
	char mttl[24];
	PGresult *res;

	for (int i = 0; i < s->n_change_plan_plans; i++)
		snprintf(plans + strlen(plans), sizeof(plans) - strlen(plans), "%s%s",
		    i ? "," : "", s->change_plan_plans[i]);
	p[0] = s->site_id;
	p[1] = s->business_name_set ? s->business_name : NULL;
	p[2] = s->website_url[0] ? s->website_url : NULL;
	p[3] = s->brand_color;
	p[4] = s->time_zone;
	p[5] = s->terms_url[0] ? s->terms_url : NULL;
	p[6] = s->privacy_url[0] ? s->privacy_url : NULL;
	p[7] = s->help_url[0] ? s->help_url : NULL;
	p[8] = s->edit_billing_details ? "true" : "false";
	p[9] = s->email_editable ? "true" : "false";
	p[10] = s->payment_methods ? "true" : "false";
	p[11] = s->invoice_history ? "true" : "false";
	p[12] = s->cancel_subscription ? "true" : "false";
	p[13] = s->cancel_mode == PORTAL_CANCEL_IMMEDIATELY ? "immediately" : "end_of_term";
	p[14] = s->cancel_reason == PORTAL_REASON_OFF ? "off" :
	    s->cancel_reason == PORTAL_REASON_REQUIRED ? "required" : "optional";
	p[15] = s->cancel_comment ? "true" : "false";
	p[16] = reasons;
	p[17] = s->change_plan ? "true" : "false";
	p[18] = plans;
	p[19] = s->change_plan_timing == PORTAL_CHANGE_END_OF_TERM ? "end_of_term" : "now";
	p[20] = s->downgrades_at_end_of_term ? "true" : "false";
	p[21] = s->pause_subscription ? "true" : "false";
	p[22] = buf_lltoa(s->pause_max_days, days);
	p[23] = s->reactivate_subscription ? "true" : "false";
	p[24] = buf_lltoa(s->session_idle_timeout, idle);
	p[25] = buf_lltoa(s->session_absolute_timeout, abs);
	p[26] = buf_lltoa(d->now, now);
	p[27] = s->login_link ? "true" : "false";
	p[28] = buf_lltoa(s->login_link_ttl, ttl);
	p[29] = s->merchant_sign_in_url[0] ? s->merchant_sign_in_url : NULL;
	p[30] = s->login_password ? "true" : "false";
	p[31] = s->invite_on_subscription ? "true" : "false";
	p[32] = buf_lltoa(s->management_link_ttl, mttl);
	p[33] = s->email_verification ? "true" : "false";
	p[34] = s->reveal_unknown_email ? "true" : "false";
	res = db_exec(d->db, STMT_PCONF_SAVE, p);
	cJSON_free(reasons);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
emit_config(struct dctx *d, const struct portal_settings *s, const char *public_url,
    struct derr *e)
{
	struct buf data;
	struct jw w;
	int rc;

	buf_init(&data);
	jw_init(&w, &data);
	portal_config_write(&w, s, public_url);
	rc = events_emit(d, "portal_configuration.updated", s->site_id, data.data, e);
	buf_free(&data);
	return rc;
}

int
portal_config_update(struct dctx *d, const cJSON *changes, const char *public_url,
    struct portal_settings *out, struct derr *e)
{
	struct portal_settings s;
	const cJSON *v;
	const char *str;
	int rc = load(d->db, STMT_PCONF_LOCK, d->site.id, &s);

	if (rc <= 0)
		return rc < 0 ? derr_db(e, d->db) : derr_set(e, DERR_NOT_FOUND,
		    "resource_missing", NULL, "No such site.");
	v = cJSON_GetObjectItemCaseSensitive(changes, "business_name");
	if (cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		s.business_name_set = false;
		copy(s.business_name, sizeof(s.business_name), s.site_name);
	} else if (cJSON_IsString(v)) {
		s.business_name_set = true;
		copy(s.business_name, sizeof(s.business_name), v->valuestring);
	}
	if (take_url(changes, "website_url", s.website_url, sizeof(s.website_url), e) != 0 ||
	    take_url(changes, "terms_url", s.terms_url, sizeof(s.terms_url), e) != 0 ||
	    take_url(changes, "privacy_url", s.privacy_url, sizeof(s.privacy_url), e) != 0 ||
	    take_url(changes, "help_url", s.help_url, sizeof(s.help_url), e) != 0)
		return -1;
	if ((str = json_str(changes, "brand_color")) != NULL) {
		struct rgb c;

		if (color_parse(str, &c) != 0) {
			derr_set(e, DERR_INVALID, "parameter_invalid", "brand_color",
			    "brand_color must be a colour such as \"#1f4fd1\"");
			return -1;
		}
		color_format(c, s.brand_color);
		color_palette(s.brand_color, &s.palette);
	}
	if ((str = json_str(changes, "time_zone")) != NULL) {
		if (!tz_valid(str)) {
			derr_set(e, DERR_INVALID, "parameter_invalid", "time_zone",
			    "time_zone must be an IANA time zone such as \"Europe/Paris\"");
			return -1;
		}
		copy(s.time_zone, sizeof(s.time_zone), str);
	}
	v = cJSON_GetObjectItemCaseSensitive(changes, "custom_host");
	if (v != NULL) {
		const char *host = cJSON_IsString(v) ? v->valuestring : "";
		PGresult *res;
		int taken = 0;

		if (*host != '\0' && (str = portal_check_host(host)) != NULL) {
			derr_set(e, DERR_INVALID, "parameter_invalid", "custom_host", "custom_host %s",
			    str);
			return -1;
		}
		if (*host != '\0') {
			res = db_exec(d->db, STMT_SITE_BY_HOST, (const char *[]){ host });
			if (res == NULL) {
				derr_db(e, d->db);
				return -1;
			}
			taken = PQntuples(res) == 1 && strcmp(db_val(res, 0, 0), s.site_id) != 0;
			PQclear(res);
		}
		if (taken) {
			derr_set(e, DERR_CONFLICT, "custom_host_taken", "custom_host",
			    "Another site's portal already uses %s.", host);
			return -1;
		}
		res = db_exec(d->db, STMT_SITE_SET_HOST, (const char *[]){ s.site_id,
		    *host ? host : NULL });
		if (res == NULL) {
			derr_db(e, d->db);
			return -1;
		}
		PQclear(res);
	}
	v = cJSON_GetObjectItemCaseSensitive(changes, "cancel_reasons");
	if (cJSON_IsArray(v)) {
		const cJSON *it;
		int i = 0;

		if (cJSON_GetArraySize(v) > PORTAL_MAX_REASONS) {
			derr_set(e, DERR_INVALID, "parameter_invalid", "cancel_reasons",
			    "cancel_reasons takes at most %d reasons", PORTAL_MAX_REASONS);
			return -1;
		}
		cJSON_ArrayForEach(it, v) {
			for (int j = 0; j < i; j++)
				if (strcmp(s.cancel_reasons[j].code, json_str(it, "code")) == 0) {
					derr_set(e, DERR_INVALID, "parameter_invalid", "cancel_reasons",
					    "cancel_reasons has the code '%s' twice",
					    json_str(it, "code"));
					return -1;
				}
			copy(s.cancel_reasons[i].code, sizeof(s.cancel_reasons[i].code),
			    json_str(it, "code"));
			copy(s.cancel_reasons[i].label, sizeof(s.cancel_reasons[i].label),
			    json_str(it, "label"));
			i++;
		}
		s.n_cancel_reasons = i;
	}
	v = cJSON_GetObjectItemCaseSensitive(changes, "sign_in");
	if (cJSON_IsObject(v)) {
		set_bool(v, "login_link", &s.login_link);
		set_bool(v, "password", &s.login_password);
		set_bool(v, "invite_on_subscription", &s.invite_on_subscription);
		set_bool(v, "email_verification", &s.email_verification);
		set_bool(v, "reveal_unknown_email", &s.reveal_unknown_email);
		s.management_link_ttl = (int)json_int(v, "management_link_ttl",
		    s.management_link_ttl);
		s.login_link_ttl = (int)json_int(v, "login_link_ttl", s.login_link_ttl);
		if (take_url(v, "merchant_sign_in_url", s.merchant_sign_in_url,
		    sizeof(s.merchant_sign_in_url), e) != 0)
			return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(changes, "features");
	if (v != NULL && (portal_settings_check_plans(d, v, "features.change_plan_plans",
	    e) != 0 || portal_settings_apply(&s, v, e) != 0))
		return -1;
	if (s.invite_on_subscription && !s.login_password) {
		derr_set(e, DERR_INVALID, "parameter_invalid", "sign_in.invite_on_subscription",
		    "invite_on_subscription needs sign_in.password: an invitation sets a password");
		return -1;
	}
	if (s.cancel_reason == PORTAL_REASON_REQUIRED && s.n_cancel_reasons == 0) {
		derr_set(e, DERR_INVALID, "parameter_invalid", "features.cancel_reason",
		    "cancel_reason cannot be \"required\" without cancel_reasons to choose from");
		return -1;
	}
	s.updated_at = d->now;
	if (save(d, &s) != 0 || load(d->db, STMT_PCONF_GET, d->site.id, out) != 1)
		return derr_db(e, d->db);
	return emit_config(d, out, public_url, e);
}

int
portal_logo_set(struct dctx *d, const unsigned char *png, size_t n, const char *public_url,
    struct portal_settings *out, struct derr *e)
{
	struct portal_settings s;
	int rc = load(d->db, STMT_PCONF_LOCK, d->site.id, &s);
	PGresult *res;

	if (rc <= 0)
		return rc < 0 ? derr_db(e, d->db) : derr_set(e, DERR_NOT_FOUND,
		    "resource_missing", NULL, "No such site.");
	if (png == NULL) {
		res = db_exec(d->db, STMT_LOGO_DELETE, (const char *[]){ d->site.id });
	} else {
		struct png_info info;
		struct buf clean;
		unsigned char h[CRYPTO_SHA256_LEN];
		char sha[65], w[24], hgt[24], now[24], msg[200];
		char *hex;

		if (n > PORTAL_LOGO_MAX_BYTES) {
			derr_set(e, DERR_INVALID, "logo_too_large", "logo", "The logo is %zu bytes; "
			    "it may be at most %d bytes (256 KiB).", n, PORTAL_LOGO_MAX_BYTES);
			return -1;
		}
		buf_init(&clean);
		if (png_clean(png, n, PORTAL_LOGO_MAX_SIDE, &info, &clean, msg,
		    sizeof(msg)) != 0) {
			buf_free(&clean);
			derr_set(e, DERR_INVALID, "logo_invalid", "logo", "%s", msg);
			return -1;
		}
		crypto_sha256(clean.data, clean.len, h);
		crypto_hex(h, sizeof(h), sha);
		hex = malloc(clean.len * 2 + 1);
		if (hex == NULL) {
			buf_free(&clean);
			derr_set(e, DERR_INTERNAL, "internal_error", NULL, "Out of memory.");
			return -1;
		}
		crypto_hex((const unsigned char *)clean.data, clean.len, hex);
		res = db_exec(d->db, STMT_LOGO_PUT, (const char *[]){ d->site.id, sha, hex,
		    buf_lltoa(info.width, w), buf_lltoa(info.height, hgt), buf_lltoa(d->now, now) });
		free(hex);
		buf_free(&clean);
	}
	if (res == NULL) {
		derr_db(e, d->db);
		return -1;
	}
	PQclear(res);
	s.updated_at = d->now;
	if (save(d, &s) != 0 || load(d->db, STMT_PCONF_GET, d->site.id, out) != 1)
		return derr_db(e, d->db);
	return emit_config(d, out, public_url, e);
}

int
portal_logo_get(struct db *db, const char *site_id, const char *sha256, unsigned char **png,
    size_t *n)
{
	PGresult *res = db_exec(db, STMT_LOGO_GET, (const char *[]){ site_id, sha256 });
	const char *b64;
	size_t len, o = 0;
	unsigned char *out;
	int dec;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	/* PostgreSQL's base64 wraps lines every 76 characters: drop the newlines first. */
	b64 = db_val(res, 0, 1);
	len = strlen(b64);
	{
		char *flat = malloc(len + 1);

		if (flat == NULL) {
			PQclear(res);
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			if (b64[i] != '\n' && b64[i] != '\r')
				flat[o++] = b64[i];
		flat[o] = '\0';
		out = malloc(o / 4 * 3 + 3);
		if (out == NULL) {
			free(flat);
			PQclear(res);
			return -1;
		}
		dec = EVP_DecodeBlock(out, (const unsigned char *)flat, (int)o);
		if (dec >= 0) {
			/* EVP_DecodeBlock counts '=' padding as zero bytes. */
			if (o >= 1 && flat[o - 1] == '=')
				dec--;
			if (o >= 2 && flat[o - 2] == '=')
				dec--;
		}
		free(flat);
	}
	PQclear(res);
	if (dec < 0) {
		free(out);
		return -1;
	}
	*png = out;
	*n = (size_t)dec;
	return 1;
}

const char *
portal_check_host(const char *v)
{
	size_t n = strlen(v);
	const char *colon = strchr(v, ':');

	if (n == 0 || n > 260 || v[0] == '.' || v[0] == '-' || strstr(v, "..") != NULL)
		return "must be a host name such as \"billing.example.com\"";
	for (const char *p = v; *p != '\0'; p++) {
		if (colon != NULL && p > colon) {
			if (*p < '0' || *p > '9')
				return "must be a host name such as \"billing.example.com\"";
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		    *p == '-' || p == colon))
			return "must be a lower-case host name such as \"billing.example.com\"";
	}
	if (colon != NULL && (colon[1] == '\0' || strlen(colon + 1) > 5 || colon[-1] == '.' ||
	    colon[-1] == '-'))
		return "must be a host name such as \"billing.example.com\"";
	if (v[n - 1] == '.' || v[n - 1] == '-')
		return "must be a host name such as \"billing.example.com\"";
	return NULL;
}

void
portal_base_url(const struct portal_settings *s, const char *public_url, char *out, size_t n)
{
	const char *sep;

	public_url = public_url ? public_url : "";
	if (s->custom_host[0] == '\0' || (sep = strstr(public_url, "://")) == NULL) {
		snprintf(out, n, "%s", public_url);
		return;
	}
	snprintf(out, n, "%.*s://%s", (int)(sep - public_url), public_url, s->custom_host);
}

static void
jw_url(struct jw *w, const char *key, const char *v)
{
	jw_str(w, key, v && *v ? v : NULL);
}

void
portal_config_write(struct jw *w, const struct portal_settings *s, const char *public_url)
{
	char url[PORTAL_URL_MAX + 200], home[PORTAL_URL_MAX + 300];

	jw_obj_begin(w, NULL);
	jw_str(w, "id", s->site_id);
	jw_str(w, "object", "portal_configuration");
	jw_str(w, "business_name", s->business_name);
	jw_url(w, "website_url", s->website_url);
	jw_str(w, "brand_color", s->brand_color);
	jw_obj_begin(w, "brand_palette");
	jw_str(w, "background", s->palette.fill);
	jw_str(w, "text", s->palette.on_fill);
	jw_str(w, "link", s->palette.ink);
	jw_bool(w, "adjusted", s->palette.adjusted);
	jw_obj_end(w);
	if (s->logo_sha256[0] != '\0') {
		snprintf(url, sizeof(url), "%s/portal/%s/logo/%.16s.png", public_url ? public_url : "",
		    s->site_id, s->logo_sha256);
		jw_obj_begin(w, "logo");
		jw_str(w, "url", url);
		jw_str(w, "sha256", s->logo_sha256);
		jw_int(w, "width", s->logo_width);
		jw_int(w, "height", s->logo_height);
		jw_obj_end(w);
	} else
		jw_null(w, "logo");
	jw_str(w, "time_zone", s->time_zone);
	jw_url(w, "terms_url", s->terms_url);
	jw_url(w, "privacy_url", s->privacy_url);
	jw_url(w, "help_url", s->help_url);
	portal_base_url(s, public_url, url, sizeof(url));
	snprintf(home, sizeof(home), "%s/portal/%s", url, s->site_id);
	jw_str(w, "portal_url", home);
	snprintf(home, sizeof(home), "%s/portal/%s/login", url, s->site_id);
	jw_str(w, "login_url", home);
	jw_obj_begin(w, "sign_in");
	jw_bool(w, "sso", true);
	jw_bool(w, "login_link", s->login_link);
	jw_int(w, "login_link_ttl", s->login_link_ttl);
	jw_bool(w, "password", s->login_password);
	jw_bool(w, "invite_on_subscription", s->invite_on_subscription);
	jw_int(w, "management_link_ttl", s->management_link_ttl);
	jw_bool(w, "email_verification", s->email_verification);
	jw_bool(w, "reveal_unknown_email", s->reveal_unknown_email);
	jw_url(w, "merchant_sign_in_url", s->merchant_sign_in_url);
	jw_obj_end(w);
	jw_str(w, "custom_host", s->custom_host[0] ? s->custom_host : NULL);
	jw_obj_begin(w, "features");
	jw_bool(w, "edit_billing_details", s->edit_billing_details);
	jw_bool(w, "email_editable", s->email_editable);
	jw_bool(w, "payment_methods", s->payment_methods);
	jw_bool(w, "invoice_history", s->invoice_history);
	jw_bool(w, "cancel_subscription", s->cancel_subscription);
	jw_str(w, "cancel_mode", s->cancel_mode == PORTAL_CANCEL_IMMEDIATELY ? "immediately" :
	    "end_of_term");
	jw_str(w, "cancel_reason", s->cancel_reason == PORTAL_REASON_OFF ? "off" :
	    s->cancel_reason == PORTAL_REASON_REQUIRED ? "required" : "optional");
	jw_bool(w, "cancel_comment", s->cancel_comment);
	jw_bool(w, "change_plan", s->change_plan);
	jw_arr_begin(w, "change_plan_plans");
	for (int i = 0; i < s->n_change_plan_plans; i++)
		jw_str(w, NULL, s->change_plan_plans[i]);
	jw_arr_end(w);
	jw_str(w, "change_plan_timing", s->change_plan_timing == PORTAL_CHANGE_END_OF_TERM ?
	    "end_of_term" : "now");
	jw_bool(w, "downgrades_at_end_of_term", s->downgrades_at_end_of_term);
	jw_bool(w, "pause_subscription", s->pause_subscription);
	jw_int(w, "pause_max_days", s->pause_max_days);
	jw_bool(w, "reactivate_subscription", s->reactivate_subscription);
	jw_int(w, "session_idle_timeout", s->session_idle_timeout);
	jw_int(w, "session_absolute_timeout", s->session_absolute_timeout);
	jw_obj_end(w);
	jw_arr_begin(w, "cancel_reasons");
	for (int i = 0; i < s->n_cancel_reasons; i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "code", s->cancel_reasons[i].code);
		jw_str(w, "label", s->cancel_reasons[i].label);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_int(w, "updated_at", s->updated_at);
	jw_obj_end(w);
}

/* ---- the policies the domain's operations enforce ---- */

void
portal_policy(const struct portal_settings *s, struct portal_policy *out)
{
	struct sub_policy *p = &out->sub;
	int n = 0;

	memset(out, 0, sizeof(*out));
	p->cancel_allowed = s->cancel_subscription;
	p->cancel_now_allowed = s->cancel_mode == PORTAL_CANCEL_IMMEDIATELY;
	p->reason_required = s->cancel_reason == PORTAL_REASON_REQUIRED;
	/* Reasons off: the list is empty, so no reason is taken. */
	if (s->cancel_reason != PORTAL_REASON_OFF)
		for (int i = 0; i < s->n_cancel_reasons; i++)
			out->reasons[n++] = s->cancel_reasons[i].code;
	out->reasons[n] = NULL;
	p->reasons = out->reasons;
	p->comment_allowed = s->cancel_comment;
	p->change_allowed = s->change_plan;
	p->change_now_allowed = s->change_plan_timing == PORTAL_CHANGE_NOW;
	p->downgrade_at_end_only = s->downgrades_at_end_of_term;
	for (n = 0; n < s->n_change_plan_plans; n++)
		out->plans[n] = s->change_plan_plans[n];
	out->plans[n] = NULL;
	p->plans = out->plans;
	p->pause_allowed = s->pause_subscription;
	p->pause_max_days = s->pause_max_days;
	p->reactivate_allowed = s->reactivate_subscription;
	out->customer.edit_allowed = s->edit_billing_details;
	out->customer.email_editable = s->email_editable;
	out->pm.update_allowed = s->payment_methods;
}

const char *
portal_settings_reason(const struct portal_settings *s, const char *code)
{
	for (int i = 0; i < s->n_cancel_reasons; i++)
		if (strcmp(s->cancel_reasons[i].code, code) == 0)
			return s->cancel_reasons[i].label;
	return NULL;
}
