/* view.h: how the portal's pages show billing things, the same way on every page: amounts
 * in their currency's minor units, dates in the site's time zone, prices per interval,
 * cards by brand and last digits, subscription and invoice statuses in words. Strings are
 * allocated in the request's arena. */
#ifndef PORTALD_VIEW_H
#define PORTALD_VIEW_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "billing/subscriptions.h"
#include "portal/portal.h"

/* "$1,234.50", "¥1,200", "KWD 1.250" */
const char *view_money(struct page *p, long long minor, const char *currency);
/* "25 November 2026" and "25 November 2026 at 14:05 CET", in the site's time zone. */
const char *view_date(struct page *p, long long ts);
const char *view_datetime(struct page *p, long long ts);
/* "per month", "every 3 months" */
const char *view_interval(struct page *p, const char *unit, int count);
/* "$20.00 per month" */
const char *view_price(struct page *p, long long amount, const char *currency,
	    const char *unit, int count);
/* "Visa", "Mastercard", ... */
const char *view_brand(const char *brand);

/* A subscription row (STMT_SUB_* columns) as a card: id, url, plan, price, status (words
 * and a tone), the line that says what happens next, the next charge (the domain's
 * subs_next_charge). */
void	view_sub(struct page *p, PGresult *res, int row, cJSON *into);
/* A payment method row (the PM_* columns from column col): "Visa ending 4242", expiry,
 * default, expired or expiring soon. */
void	view_card(struct page *p, PGresult *res, int row, int col, cJSON *into);
/* An invoice row: date, number, amount, status, and where to pay it when it is open. */
void	view_invoice(struct page *p, PGresult *res, int row, cJSON *into);
/* The customer's open invoices whose charge waits for their bank: each invoice of list
 * (view_invoice's objects) and the overdue banner (may be NULL) among them get
 * "complete_url" (the "Complete payment" page) in place of "pay_url". Runs its statement
 * only when something is open. */
void	view_needs_action(struct page *p, cJSON *list, cJSON *overdue);
/* A subscription's status in words ("Active", "Past due", ...). */
const char *view_status(enum sub_status s);

/* The outcome of payment attempts named in a result page's URL (comma-separated ids,
 * at most 8), each only if it charged one of the signed-in customer's invoices:
 * "payments": [{text, tone}], "payments_ok" when every one succeeded. */
void	view_attempts(struct page *p, const char *ids, cJSON *into);
/* The attempts a page queued for the gateway, as a URL's list ("pay_a,pay_b"), or "". */
const char *view_pending(struct page *p);

/* A step of a deep link ended: the way back to the merchant, when the session came with a
 * flow ("done": {href, text}). */
void	view_flow_done(struct page *p, cJSON *into);

/* Parses a path's id (the subscription, card or invoice in the URL); renders the 404 page
 * and returns NULL when it cannot name anything. */
const char *view_path_id(struct page *p, int i);

/* The customer's own row named by the path's id (statement st: site, id; the customer in
 * column customer_col): another customer's, or none, is the 404 page with a link to back
 * ("" the overview). NULL when the page was answered. */
PGresult *view_own_row(struct page *p, enum stmt_id st, int customer_col, const char *back,
	    const char *back_text);

#endif
