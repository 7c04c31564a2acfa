/* page.h: what a portal page handler sees (struct page, the route flags it declares, the
 * cookie names) and what page.c gives every page: rendering into the site's branded
 * frame, messages, redirects, dates and the portal's response headers. */
#ifndef PORTALD_PAGE_H
#define PORTALD_PAGE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "billing/domain.h"
#include "billing/portal_settings.h"
#include "core/crypto.h"
#include "core/token.h"
#include "http/ctx.h"

/* Route flags: a portal route declares what it needs; dispatch.c does it, in this order,
 * before the page runs. Every portal path but the legacy ones starts /portal/:site. */
#define PAGE_SESSION	0x01	/* a signed-in session of the URL's site, else the signed-out
				 * page (401); on POST the CSRF token is checked (403) */
#define PAGE_TXN	0x02	/* one transaction around the page: committed when the page
				 * redirects (303, the PRG pattern), rolled back otherwise */
#define PAGE_ONCE	0x04	/* POST: the form's nonce is claimed; a repeated or double-
				 * clicked POST gets the first one's redirect and runs nothing */
#define PAGE_GET_WRITES	0x08	/* a GET that changes state (the access link): HEAD answers
				 * without running the page */
#define PAGE_ASSET	0x10	/* an image or style sheet: the page sets its own caching */
#define PAGE_NO_SITE	0x20	/* a legacy path without the site segment */
#define PAGE_PRE	0x40	/* a POST made before signing in (the sign-in forms): its
				 * csrf_token must match the browser's sign-in cookie (403) */

#define PORTAL_COOKIE_PREFIX	"__Host-portald_"	/* + site id: one cookie per site */
#define PORTAL_PRE_PREFIX	"__Host-portald-pre_"	/* + site id: the sign-in forms' */
#define PORTAL_VERIFIED_PREFIX	"__Host-portald-verified_"	/* + site id: signed in by
								 * email before */
#define PORTAL_NONCE_FIELD	"form_nonce"
#define PORTAL_CSRF_FIELD	"csrf_token"

/* Everything a page handler sees. */
struct page {
	struct ctx		*c;
	struct portal_settings	 set;	/* the site's settings; with the session's overrides
					 * applied once signed in */
	struct site		 site;
	struct dctx		 d;	/* the domain's view: site, clock, and the session
					 * as the actor once signed in */
	struct portal_policy	 pol;	/* what set allows, for every domain call */
	bool			 signed_in;
	char			 session_id[48];
	char			 csrf[48];	/* for every form of the page */
	const char		*customer_id;
	const char		*customer_name;
	const char		*customer_email;
	const char		*redirect_url;	/* the merchant's page to return to */
	const char		*flow_json;	/* the session's deep link, or NULL */
	PGresult		*session_row;	/* owns the strings above */
	PGresult		*entry;		/* portal_site's row for portal_sign_in_check */
	const char		*nonce;		/* the posted form's nonce (PAGE_ONCE) */
	char			 location[512];	/* where page_redirect sent the browser */
	const char		*nav;		/* the navigation item to mark current */
	bool			 form_leaves;	/* the page's form may be redirected to the
						 * gateway's pages: form-action allows them */
	/* Runs after the commit and the gateway calls of a PAGE_TXN page that redirected,
	 * outside any transaction: may send the browser on to the gateway's page
	 * (page_redirect_away) instead of p->location, which PAGE_ONCE keeps for a
	 * repeated POST. ref names what it works on. */
	void			(*after_settle)(struct page *p);
	char			 ref[DOM_ID_MAX];
};

typedef void (*page_fn)(struct page *p);

/* ---- rendering ---- */
/* Renders templates/<tpl>.html inside the site's frame (name, logo, colour, navigation,
 * return link, footer, test-mode banner). data is consumed. error: prefix the title with
 * "Error: " (a form with errors). */
void	page_render(struct page *p, int status, const char *title, const char *tpl,
	    cJSON *data, bool error);
/* A branded message page: heading, text and an optional link (else the way back). */
void	page_message(struct page *p, int status, const char *title, const char *text,
	    const char *link, const char *link_text);
/* A domain error as a branded page with the status it maps to (404, 403, 409, 503, ...)
 * and a way back to the account. */
void	page_derr(struct page *p, const struct derr *e);
/* 503 "Please try again": the database is away for a moment. */
void	page_unavailable(struct page *p);
/* 303 to a path of this site's portal, "/portal/<site>" + suffix (may be ""). */
void	page_redirect(struct page *p, const char *suffix);
/* page_url as an absolute address (public_url, or the site's own host name): where the
 * gateway sends the customer back to. */
const char *page_abs_url(struct page *p, const char *suffix);
/* 303 to the gateway's hosted page, when url is on one of page_gateway_origins; else
 * logged (its origin) and a 502 page that links on to p->location (else the overview). */
void	page_redirect_away(struct page *p, const char *url);
/* Whether url is on one of the gateway's origins (logged when not). */
bool	page_gateway_url_ok(struct page *p, const char *url);
/* The origins of the gateway's pages a form may be redirected to (CSP form-action),
 * from the administrator's [stripe] api_base; "" when unknown. */
const char *page_gateway_origins(struct page *p);
/* A date in the site's time zone, "25 November 2026". */
const char *page_date(struct page *p, long long ts, char out[64]);
/* "/portal/<site>" + suffix, arena-allocated. */
const char *page_url(struct page *p, const char *suffix);
/* The nonce a form carries for PAGE_ONCE routes (fresh, or the posted one on a re-render). */
const char *page_nonce(struct page *p);

/* Legacy and site-less paths (no branding possible). */
void	portal_plain_message(struct ctx *c, int status, const char *title, const char *text);
/* Cache-Control, Content-Security-Policy, X-Content-Type-Options, Referrer-Policy. */
void	page_headers(struct page *p, bool asset);

/* The site's colour style sheet and its logo (PAGE_ASSET routes). */
void	page_theme_css(struct page *p);
void	page_logo(struct page *p);
/* Where a session's deep link opens: the step's page once it exists, else the overview. */
const char *portal_flow_target(struct page *p, const char *flow_json);


#endif
