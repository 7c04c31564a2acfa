/* api.h: what every API handler uses: the error envelope (and the mapping of domain
 * errors to it), query validation, the one list helper, the one "look up or 404", and the
 * answer a mutation gives once its changes are done. */
#ifndef PORTALD_API_H
#define PORTALD_API_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "billing/domain.h"
#include "billing/objects.h"
#include "core/json.h"
#include "http/ctx.h"

/* Query parameters a list endpoint accepts; anything else is a 400. */
enum qtype { QT_INT = 1, QT_ID, QT_STRING };
struct qparam {
	const char	*name;
	enum qtype	 type;
	long long	 min, max;	/* QT_INT */
};

/* Writes the error envelope {"error":{type,code,message,param,request_id}}. */
void	api_error(struct ctx *c, int status, const char *type, const char *code,
	    const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A domain error, with the status and type its kind calls for. */
void	api_derr(struct ctx *c, const struct derr *e);
/* 503 when the database is unreachable, 409 for a conflict with a concurrent request,
 * else a logged 500. */
/* 503 with Retry-After: no secure random bytes could be made (nothing may be written). */
void	api_no_randomness(struct ctx *c);
/* 503 when the database is unreachable, else a logged 500. */
void	api_db_error(struct ctx *c);
void	api_invalid(struct ctx *c, const struct json_error *e);
/* Validates r->args against params; on failure answers 400 and returns -1. */
int	api_check_query(struct ctx *c, const struct qparam *params);
const char *api_arg(struct ctx *c, const char *name);
void	api_json_start(struct ctx *c, int status);
/* The portal's access URL for a token "<site>.<id>.<secret>": /portal/{site}/access/...,
 * on the site's own host name when it has one. */
char	*api_access_url(struct ctx *c, const char *token);

/* A mutation's answer: the object, rendered by the dispatcher after the commit (and after
 * the gateway calls the change queued), or now for a read. */
void	api_answer(struct ctx *c, enum obj_kind kind, const char *id);
/* Writes the answer set by api_answer (200), or the error it meets. */
void	api_render_answer(struct ctx *c);
/* A file as the answer (200): its bytes, its type, and "Content-Disposition: attachment"
 * with filename (which must be a plain name: [A-Za-z0-9._-] and the like, no quote).
 * data NULL: the bytes are in the response's body already (a HEAD may leave it unbuilt:
 * then no Content-Length is sent). */
void	api_binary(struct ctx *c, const char *content_type, const char *filename,
	    const struct buf *data);
/* GET of one object of this site: the object, or a 404 naming it. */
void	api_get(struct ctx *c, enum obj_kind kind, const char *id);

/* A list endpoint: {"object":"list","data":[...],"has_more":bool}, newest first, with
 * limit (1-100, default 10) and starting_after (keyset). Statements take $1 site,
 * $2 limit + 1, then the filters in order, then the cursor (created_at and id, or seq). */
enum list_cursor { CURSOR_NONE, CURSOR_CREATED, CURSOR_SEQ };
struct list_spec {
	enum obj_kind		 kind;
	enum stmt_id		 first, after;
	const char		*filters[4];	/* query parameters, or "path:N" */
	enum list_cursor	 cursor;
	int			 cursor_col;	/* created_at or seq in the kind's get row */
};
void	api_list(struct ctx *c, const struct list_spec *spec);

extern const struct field empty_fields[];
extern const struct qparam no_params[];
extern const struct qparam list_params[];	/* limit, starting_after */

/* Handlers */
void	h_customer_create(struct ctx *c);
void	h_customer_get(struct ctx *c);
void	h_customer_update(struct ctx *c);
void	h_customer_delete(struct ctx *c);
void	h_customer_list(struct ctx *c);
void	h_customer_credit_grant(struct ctx *c);
void	h_customer_credit_list(struct ctx *c);
void	h_customer_entitlements(struct ctx *c);
void	h_psess_create(struct ctx *c);
void	h_psess_get(struct ctx *c);
void	h_psess_logout(struct ctx *c);
void	h_psess_activate(struct ctx *c);
void	h_portal_invite(struct ctx *c);
void	h_portal_revoke(struct ctx *c);
void	h_portal_restore(struct ctx *c);
void	h_customer_psess_list(struct ctx *c);
void	h_mlink_get(struct ctx *c);
void	h_mlink_regenerate(struct ctx *c);
void	h_time_machine_get(struct ctx *c);
void	h_time_machine_travel(struct ctx *c);
void	h_plan_create(struct ctx *c);
void	h_plan_update(struct ctx *c);
void	h_plan_get(struct ctx *c);
void	h_plan_list(struct ctx *c);
void	h_plan_archive(struct ctx *c);
void	h_sub_create(struct ctx *c);
void	h_sub_get(struct ctx *c);
void	h_sub_list(struct ctx *c);
void	h_sub_change(struct ctx *c);
void	h_sub_change_preview(struct ctx *c);
void	h_sub_cancel(struct ctx *c);
void	h_sub_reactivate(struct ctx *c);
void	h_sub_pause(struct ctx *c);
void	h_sub_resume(struct ctx *c);
void	h_inv_get(struct ctx *c);
void	h_inv_list(struct ctx *c);
void	h_inv_pay(struct ctx *c);
void	h_inv_void(struct ctx *c);
void	h_inv_refund(struct ctx *c);
void	h_token_create(struct ctx *c);
void	h_pm_attach(struct ctx *c);
void	h_pm_list(struct ctx *c);
void	h_pm_default(struct ctx *c);
void	h_pm_detach(struct ctx *c);
void	h_event_list(struct ctx *c);
void	h_event_get(struct ctx *c);
void	h_event_resend(struct ctx *c);
void	h_legal_get(struct ctx *c);
void	h_legal_update(struct ctx *c);
void	h_tax_rate_create(struct ctx *c);
void	h_tax_rate_get(struct ctx *c);
void	h_tax_rate_update(struct ctx *c);
void	h_tax_rate_list(struct ctx *c);
void	h_inv_create(struct ctx *c);
void	h_inv_pdf(struct ctx *c);
void	h_cn_get(struct ctx *c);
void	h_cn_list(struct ctx *c);
void	h_cn_pdf(struct ctx *c);
void	h_customer_documents_zip(struct ctx *c);
void	h_wh_create(struct ctx *c);
void	h_wh_list(struct ctx *c);
void	h_wh_delete(struct ctx *c);
void	h_mail_settings_get(struct ctx *c);
void	h_mail_settings_update(struct ctx *c);
void	h_mail_test(struct ctx *c);
void	h_gateway_get(struct ctx *c);
void	h_gateway_set(struct ctx *c);
void	h_setup_create(struct ctx *c);
void	h_setup_get(struct ctx *c);
void	h_setup_sync(struct ctx *c);
void	h_inv_complete_payment(struct ctx *c);
void	h_gateway_stripe_webhook(struct ctx *c);
void	h_pconf_get(struct ctx *c);
void	h_pconf_update(struct ctx *c);
void	h_pconf_logo_put(struct ctx *c);
void	h_pconf_logo_delete(struct ctx *c);

extern const struct field customer_create_fields[];
extern const struct field customer_update_fields[];
extern const struct qparam customer_list_params[];
extern const struct field credit_grant_fields[];
extern const struct field psess_create_fields[];
extern const struct field psess_activate_fields[];
extern const struct field time_travel_fields[];
extern const struct field plan_create_fields[];
extern const struct field plan_update_fields[];
extern const struct qparam plan_list_params[];
extern const struct field sub_create_fields[];
extern const struct field sub_change_fields[];
extern const struct field sub_cancel_fields[];
extern const struct field sub_reactivate_fields[];
extern const struct field sub_pause_fields[];
extern const struct qparam sub_list_params[];
extern const struct qparam inv_list_params[];
extern const struct field inv_refund_fields[];
extern const struct field pm_attach_fields[];
extern const struct field token_create_fields[];
extern const struct field wh_create_fields[];
extern const struct qparam event_list_params[];
extern const struct field mail_settings_fields[];
extern const struct field mail_test_fields[];
extern const struct field inv_create_fields[];
extern const struct qparam tax_rate_list_params[];
extern const struct qparam cn_list_params[];
extern const struct qparam documents_zip_params[];
extern const struct qparam pdf_params[];
extern const struct field gateway_set_fields[];
extern const struct field setup_create_fields[];
extern const struct field complete_payment_fields[];
extern const struct field portal_configuration_fields[];

#endif
