/* api.h: what every handler sees (the request context) and the helpers for answers. */
#ifndef PORTALD_API_H
#define PORTALD_API_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "http/ctx.h"

/* Query parameters a list endpoint accepts; anything else is a 400. */
enum qtype { QT_INT = 1, QT_ID, QT_STRING };
struct qparam {
	const char	*name;
	enum qtype	 type;
	long long	 min, max;	/* QT_INT */
};

/* Writes the error envelope {"error":{type,code,message,param}}. */
void	api_error(struct ctx *c, int status, const char *type, const char *code,
	    const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* 503 when the database is unreachable, else a logged 500. */
void	api_db_error(struct ctx *c);
void	api_not_found(struct ctx *c, const char *what, const char *id);
void	api_invalid(struct ctx *c, const struct json_error *e);
/* Validates r->args against params; on failure answers 400 and returns -1. */
int	api_check_query(struct ctx *c, const struct qparam *params);
/* limit (1..100, default 10) and starting_after from the validated query. */
int	api_list_limit(struct ctx *c);
const char *api_arg(struct ctx *c, const char *name);
/* Resolves starting_after through stmt (a "get by (site, id)" statement) to the cursor
 * row's created_at (column col). Returns 1 with created filled, 0 when there is no cursor,
 * -1 when it answered (400 for a cursor that names nothing, 503). */
int	api_cursor(struct ctx *c, enum stmt_id stmt, int col, const char *what, char created[24]);
/* Starts {"object":"list","data":[ ... ; api_list_end closes with has_more. */
void	api_list_begin(struct ctx *c, struct jw *w);
void	api_list_end(struct ctx *c, struct jw *w, bool has_more);
void	api_json_start(struct ctx *c, int status);
/* The portal session object, with the access URL when the token is known. */
void	api_write_portal_session(struct ctx *c, struct jw *w, PGresult *res, int row,
	    const char *token);
/* The portal's access URL for a token "<site>.<id>.<secret>": /portal/{site}/access/... */
char	*api_access_url(struct ctx *c, const char *token);

/* Handlers */
void	h_customer_create(struct ctx *c);
void	h_customer_get(struct ctx *c);
void	h_customer_update(struct ctx *c);
void	h_customer_delete(struct ctx *c);
void	h_customer_list(struct ctx *c);
void	h_psess_create(struct ctx *c);
void	h_psess_get(struct ctx *c);
void	h_psess_logout(struct ctx *c);
void	h_psess_activate(struct ctx *c);
void	h_time_machine_get(struct ctx *c);
void	h_plan_create(struct ctx *c);
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
void	h_wh_create(struct ctx *c);
void	h_wh_list(struct ctx *c);
void	h_wh_delete(struct ctx *c);
void	h_time_machine_travel(struct ctx *c);
void	h_pconf_get(struct ctx *c);
void	h_pconf_update(struct ctx *c);
void	h_pconf_logo_put(struct ctx *c);
void	h_pconf_logo_delete(struct ctx *c);

extern const struct field customer_create_fields[];
extern const struct field customer_update_fields[];
extern const struct qparam customer_list_params[];
extern const struct field psess_create_fields[];
extern const struct field psess_activate_fields[];
extern const struct field empty_fields[];
extern const struct qparam no_params[];
extern const struct field time_travel_fields[];
extern const struct field plan_create_fields[];
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
extern const struct field portal_configuration_fields[];

#endif
