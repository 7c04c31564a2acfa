/* objects.h: every object as the API shows it (and as events carry it), written in one
 * place each, found through one registry by kind: look-ups, lists and event data all go
 * through here. */
#ifndef PORTALD_OBJECTS_H
#define PORTALD_OBJECTS_H

#include <libpq-fe.h>

#include "billing/domain.h"
#include "core/buf.h"
#include "core/json.h"

enum obj_kind {
	OBJ_CUSTOMER, OBJ_PORTAL_SESSION, OBJ_PLAN, OBJ_SUBSCRIPTION, OBJ_INVOICE,
	OBJ_PAYMENT_METHOD, OBJ_EVENT, OBJ_EVENT_DETAIL, OBJ_WEBHOOK_ENDPOINT,
	OBJ_CREDIT_ENTRY, OBJ_ENTITLEMENTS, OBJ_TAX_RATE, OBJ_CREDIT_NOTE, OBJ_LEGAL_DETAILS,
	OBJ_SETUP,		/* a hosted card set-up ("payment_method_setup") */
	OBJ_GATEWAY,		/* the site's gateway configuration; its id is the site's */
	OBJ__MAX
};

struct obj_type {
	const char	*name;		/* "subscription": the object field, and 404 messages */
	enum stmt_id	 get;		/* (site, id) -> the row(s) */
	/* Writes the object of row (or, for lists of rows, all of them) as one value. */
	int		(*write)(struct dctx *d, struct jw *w, PGresult *res, int row,
			    struct derr *e);
};

extern const struct obj_type obj_types[OBJ__MAX];

/* Looks the object up in d's site and writes it; DERR_NOT_FOUND when there is none. */
int	obj_write(struct dctx *d, enum obj_kind k, const char *id, struct jw *w,
	    struct derr *e);
/* The same into out (reset first): the data of an event. */
int	obj_render(struct dctx *d, enum obj_kind k, const char *id, struct buf *out,
	    struct derr *e);
/* The data of an event from a row already read (a statement's RETURNING). */
int	obj_render_row(struct dctx *d, enum obj_kind k, PGresult *res, int row, struct buf *out,
	    struct derr *e);
/* An invoice from its parts, as obj_render would read them back (INV_COLS, STMT_INV_LINES,
 * STMT_PAY_LIST and STMT_INV_TAXES rows): one just issued needs no read. */
/* Sends ahead (db_read_ahead) what rendering invoice id from its row reads besides it: its
 * lines, payments and taxes, as they stand now. */
void	obj_read_ahead_invoice(struct dctx *d, const char *id);
void	obj_render_invoice(struct dctx *d, PGresult *inv, PGresult *lines, PGresult *pays,
	    PGresult *taxes, struct buf *out);
/* PORTALD_CHECK_RENDER=1 (the tests): an object rendered from what was just written (data)
 * is compared with the object read back, and a difference is an internal error, logged
 * with where they part. 0 when they match or the check is off. */
int	obj_check_render(struct dctx *d, enum obj_kind k, const char *id, const char *data,
	    struct derr *e);
/* One row of a list statement of that kind. */
int	obj_write_row(struct dctx *d, enum obj_kind k, struct jw *w, PGresult *res, int row,
	    struct derr *e);
/* {"id":..,"object":..,"deleted":true} */
void	obj_write_deleted(struct jw *w, const char *object, const char *id);
/* A portal session with its token and access URL: only the create response has them. */
void	obj_write_portal_session_secret(struct jw *w, PGresult *res, int row,
	    const char *token, const char *access_url);
/* A webhook endpoint with its signing secret: only the create response has it. */
void	obj_write_webhook_endpoint_secret(struct jw *w, PGresult *res, int row,
	    const char *secret);

#endif
