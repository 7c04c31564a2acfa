/* portal.h: the customer portal: the helpers the dispatcher runs for a route's flags
 * (site from the URL, per-site session cookie, CSRF, one-time form nonces) and the pages
 * themselves; struct page and rendering are in portal/page.h. */
#ifndef PORTALD_PORTAL_H
#define PORTALD_PORTAL_H

#include <stdbool.h>

#include "portal/page.h"

/* ---- the dispatcher's steps (dispatch.c calls these for the route's flags) ---- */
/* Loads the URL's site and its settings into p; renders 404/503 and returns -1. With
 * with_session, the cookie's session comes in the same statement, for the check below. */
int	portal_site(struct page *p, const char *site_id, bool with_session);
/* Checks the site's session cookie, status and timeouts (touching the session on GET);
 * on failure renders the branded signed-out page, clears the cookie, returns -1. */
int	portal_sign_in_check(struct page *p);
/* A POST's CSRF token; renders the branded 403 and returns -1 when it does not match. */
int	portal_csrf(struct page *p);
/* Before signing in there is no session to bind a form to: the sign-in forms carry the
 * value of a random per-site cookie (double submit; the __Host- cookie cannot be planted
 * by another origin and SameSite=Lax keeps it off cross-site POSTs). portal_pre_token
 * gives the browser's value, or sets a new cookie; portal_pre_check renders the 403 and
 * returns -1 when a PAGE_PRE POST does not carry it. */
const char *portal_pre_token(struct page *p);
int	portal_pre_check(struct page *p);
/* The id of the browser's live session of this site, checked against its cookie's hash
 * (NULL when there is none): what a new sign-in logs out. */
const char *portal_cookie_session(struct page *p);
/* PAGE_ONCE: 1 claimed (run the page), 0 answered (a replay or "in progress" page was
 * rendered), -1 error (rendered). Runs in the caller's transaction if there is one. */
int	portal_once_claim(struct page *p);
/* After the page: records where a successful POST went (303), or releases the claim so
 * the corrected form can be sent again. -1 on a database error. */
int	portal_once_finish(struct page *p, bool keep);
void	portal_page_free(struct page *p);

/* ---- pages ---- */
void	page_access(struct page *p);
void	page_access_legacy(struct page *p);
void	page_login(struct page *p);
void	page_login_request(struct page *p);
void	page_login_sent(struct page *p);
void	page_login_unknown(struct page *p);
void	page_link(struct page *p);
void	page_link_confirm(struct page *p);
void	page_login_password(struct page *p);
void	page_password_link_form(struct page *p);
void	page_password_link_request(struct page *p);
void	page_password_sent(struct page *p);
void	page_manage(struct page *p);
void	page_manage_confirm(struct page *p);
void	page_portal_root(struct page *p);
void	page_overview(struct page *p);
void	page_signed_out(struct page *p);
void	page_sign_out(struct page *p);
void	page_details_show(struct page *p);
void	page_details_save(struct page *p);
void	page_subs_list(struct page *p);
void	page_sub_show(struct page *p);
void	page_change_choose(struct page *p);
void	page_change_review(struct page *p);
void	page_change_confirm(struct page *p);
void	page_cancel_choose(struct page *p);
void	page_cancel_review(struct page *p);
void	page_cancel_confirm(struct page *p);
void	page_cancelled(struct page *p);
void	page_keep(struct page *p);
void	page_reactivate_review(struct page *p);
void	page_reactivate_confirm(struct page *p);
void	page_pause_choose(struct page *p);
void	page_pause_review(struct page *p);
void	page_pause_confirm(struct page *p);
void	page_resume_review(struct page *p);
void	page_resume_confirm(struct page *p);
void	page_pms_list(struct page *p);
void	page_pm_new(struct page *p);
void	page_pm_add(struct page *p);
void	page_pm_default_review(struct page *p);
void	page_pm_default(struct page *p);
void	page_pm_remove_confirm(struct page *p);
void	page_pm_remove(struct page *p);
void	page_setup_show(struct page *p);
void	page_setup_check(struct page *p);
void	page_invoices(struct page *p);
void	page_invoice_pay_review(struct page *p);
void	page_invoice_pay(struct page *p);
void	page_invoice_paid(struct page *p);
void	page_invoice_pdf(struct page *p);
void	page_credit_note_pdf(struct page *p);
void	page_invoice_archive(struct page *p);
void	page_complete_review(struct page *p);
void	page_complete(struct page *p);
void	page_complete_show(struct page *p);
void	page_complete_check(struct page *p);
#endif
