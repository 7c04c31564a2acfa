/* page.c: the page frame every portal page shares (the site's name, logo and colour, the
 * way back to the merchant, navigation, footer links, the test-mode banner), messages,
 * redirects, dates, and the site's colour style sheet and logo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tmpl.h"
#include "core/tz.h"
#include "portal/page.h"

/* Navigation, in order. A page that does not exist yet has no path and is not shown;
 * setting its path is all it takes to add it. on() says whether the settings allow it. */
static bool nav_payment_methods(const struct portal_settings *s) { return s->payment_methods; }
static bool nav_details(const struct portal_settings *s) { return s->edit_billing_details; }
static bool nav_invoices(const struct portal_settings *s) { return s->invoice_history; }

static const struct nav_item {
	const char	*id;
	const char	*label;
	const char	*suffix;	/* after /portal/<site>; NULL: no page yet */
	bool		(*on)(const struct portal_settings *);
} nav_items[] = {
	{ "overview", "Overview", "", NULL },
	{ "subscriptions", "Subscriptions", "/subscriptions", NULL },
	{ "payment_methods", "Payment methods", "/payment_methods", nav_payment_methods },
	{ "billing_details", "Billing details", "/billing_details", nav_details },
	{ "invoices", "Invoices", "/invoices", nav_invoices },
};

/* Deep links: where a session's flow opens. NULL: the step's page does not exist yet, so
 * the overview opens instead. "%s" is the subscription id. */
static const struct flow_item {
	const char	*type;
	const char	*suffix;
} flow_items[] = {
	{ "cancel", "/subscriptions/%s/cancel" },
	{ "change_plan", "/subscriptions/%s/change_plan" },
	{ "payment_method_update", "/payment_methods/new" },
};

const char *
page_url(struct page *p, const char *suffix)
{
	size_t n = strlen(p->set.site_id) + strlen(suffix) + 10;
	char *u = arena_alloc(&p->c->req->arena, n);

	snprintf(u, n, "/portal/%s%s", p->set.site_id, suffix);
	return u;
}

const char *
portal_flow_target(struct page *p, const char *flow_json)
{
	cJSON *flow = flow_json ? cJSON_Parse(flow_json) : NULL;
	const char *type = json_str(flow, "type"), *sub = json_str(flow, "subscription_id");
	const char *target = page_url(p, "");

	for (size_t i = 0; type != NULL && i < sizeof(flow_items) / sizeof(flow_items[0]); i++) {
		char suffix[160];

		if (strcmp(flow_items[i].type, type) != 0 || flow_items[i].suffix == NULL)
			continue;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(suffix, sizeof(suffix), flow_items[i].suffix, sub ? sub : "");
#pragma GCC diagnostic pop
		target = page_url(p, suffix);
	}
	cJSON_Delete(flow);
	return target;
}

const char *
page_date(struct page *p, long long ts, char out[64])
{
	tz_format(out, 64, "%-d %B %Y", ts, p->set.time_zone);
	return out;
}

const char *
page_nonce(struct page *p)
{
	char *n;

	if (p->nonce != NULL)
		return p->nonce;
	n = arena_alloc(&p->c->req->arena, 32);
	if (crypto_random_b64url(16, n, 32) != 0)
		n[0] = '\0';	/* the POST is then refused as incomplete: fail closed */
	p->nonce = n;
	return n;
}

void
page_redirect(struct page *p, const char *suffix)
{
	snprintf(p->location, sizeof(p->location), "/portal/%s%s", p->set.site_id, suffix);
	http_redirect(p->c->resp, 303, p->location);
}

const char *
page_abs_url(struct page *p, const char *suffix)
{
	char base[CONFIG_STR_MAX + 300], *out;
	size_t n;

	portal_base_url(&p->set, p->c->cfg ? p->c->cfg->public_url : "", base, sizeof(base));
	n = strlen(base) + strlen(p->set.site_id) + strlen(suffix) + 16;
	out = arena_alloc(&p->c->req->arena, n);
	snprintf(out, n, "%s/portal/%s%s", base, p->set.site_id, suffix);
	return out;
}

bool
page_gateway_url_ok(struct page *p, const char *url)
{
	const char *origins = page_gateway_origins(p);
	size_t n;

	if (url != NULL && check_url_origin(url, origins) == NULL)
		return true;
	if (url == NULL || check_http_url(url) != NULL) {
		log_warn("portal: site %s: not a gateway address to redirect to",
		    p->set.site_id);
		return false;
	}
	/* The origin only: the rest may carry the session's ids. */
	n = url_origin_len(url);
	log_warn("portal: site %s: the gateway's page is on %.*s, not on its origins (%s)",
	    p->set.site_id, n > 200 ? 200 : (int)n, url, origins[0] ? origins : "none known");
	return false;
}

void
page_redirect_away(struct page *p, const char *url)
{
	const char *next = p->location[0] != '\0' ? p->location : page_url(p, "");

	/* Only to the gateway's own pages (the origins form-action allows): a gateway
	 * answer that names another address sends nobody anywhere. */
	if (!page_gateway_url_ok(p, url)) {
		http_header_remove(p->c->resp, "Location");
		page_message(p, 502, "The secure page is not available", "We could not send "
		    "you on to our payment provider's secure page. Nothing more was charged. "
		    "Please try again later, or contact us.", arena_strndup(&p->c->req->arena,
		    next, strlen(next)), "Continue");
		return;
	}
	http_header_remove(p->c->resp, "Location");
	http_redirect(p->c->resp, 303, url);
}

/* Stripe's own pages (Checkout, and its 3-D Secure redirects) are on other hosts than its
 * API; a stand-in (the tests) serves them from its API's origin. */
const char *
page_gateway_origins(struct page *p)
{
	const char *base = p->c->cfg ? p->c->cfg->stripe_api_base : "";

	if (strcmp(base, "https://api.stripe.com") == 0)
		return "https://checkout.stripe.com https://hooks.stripe.com";
	return arena_strndup(&p->c->req->arena, base, url_origin_len(base));
}

void
page_headers(struct page *p, bool asset)
{
	struct http_response *r = p->c->resp;

	if (!asset)
		http_header(r, "Cache-Control", "no-store");
	/* form-action also governs where a form's redirect may go: a form that leads on to
	 * the gateway's page (a hosted card set-up, a payment the bank must confirm) names
	 * the gateway's origins. */
	http_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'self'; "
	    "img-src 'self'; form-action 'self'%s%s; frame-ancestors 'none'; base-uri 'none'",
	    p->form_leaves ? " " : "", p->form_leaves ? page_gateway_origins(p) : "");
	http_header(r, "X-Content-Type-Options", "nosniff");
	http_header(r, "Referrer-Policy", "no-referrer");
}

/* The theme's file name changes with the colours, so it can be cached for good. */
static void
theme_name(const struct portal_settings *s, char out[32])
{
	unsigned char h[CRYPTO_SHA256_LEN];
	char hex[65], msg[64];

	snprintf(msg, sizeof(msg), "%s|%s|%s", s->palette.fill, s->palette.on_fill,
	    s->palette.ink);
	crypto_sha256(msg, strlen(msg), h);
	crypto_hex(h, sizeof(h), hex);
	snprintf(out, 32, "%.12s.css", hex);
}

/* The way back to the merchant: the session's redirect_url, else the website. */
static void
add_back(struct page *p, cJSON *f)
{
	const char *href = p->redirect_url && *p->redirect_url ? p->redirect_url :
	    p->set.website_url[0] ? p->set.website_url : NULL;
	char text[240];
	cJSON *back;

	if (href == NULL)
		return;
	snprintf(text, sizeof(text), "Return to %s", p->set.business_name);
	back = cJSON_AddObjectToObject(f, "back");
	cJSON_AddStringToObject(back, "href", href);
	cJSON_AddStringToObject(back, "text", text);
}

static cJSON *
frame(struct page *p)
{
	cJSON *f = cJSON_CreateObject(), *nav;
	char theme[32], src[160];

	cJSON_AddStringToObject(f, "business", p->set.business_name);
	cJSON_AddStringToObject(f, "home", page_url(p, ""));
	theme_name(&p->set, theme);
	snprintf(src, sizeof(src), "/portal/%s/theme/%s", p->set.site_id, theme);
	cJSON_AddStringToObject(f, "theme", src);
	if (p->set.logo_sha256[0] != '\0' && p->set.logo_height > 0) {
		cJSON *logo = cJSON_AddObjectToObject(f, "logo");
		long w = lround(40.0 * p->set.logo_width / p->set.logo_height);

		snprintf(src, sizeof(src), "/portal/%s/logo/%.16s.png", p->set.site_id,
		    p->set.logo_sha256);
		cJSON_AddStringToObject(logo, "src", src);
		cJSON_AddNumberToObject(logo, "w", (double)(w < 1 ? 1 : w > 240 ? 240 : w));
		cJSON_AddNumberToObject(logo, "h", 40);
	}
	cJSON_AddBoolToObject(f, "test_mode", p->set.test_mode);
	add_back(p, f);
	cJSON_AddBoolToObject(f, "signed_in", p->signed_in);
	if (p->signed_in) {
		nav = cJSON_AddArrayToObject(f, "nav");
		for (size_t i = 0; i < sizeof(nav_items) / sizeof(nav_items[0]); i++) {
			const struct nav_item *n = &nav_items[i];
			cJSON *it;

			if (n->suffix == NULL || (n->on != NULL && !n->on(&p->set)))
				continue;
			it = cJSON_CreateObject();
			cJSON_AddStringToObject(it, "label", n->label);
			cJSON_AddStringToObject(it, "href", page_url(p, n->suffix));
			cJSON_AddBoolToObject(it, "current", p->nav && strcmp(p->nav, n->id) == 0);
			cJSON_AddItemToArray(nav, it);
		}
		cJSON_AddStringToObject(f, "csrf", p->csrf);
		cJSON_AddStringToObject(f, "sign_out", page_url(p, "/sign_out"));
	}
	if (p->set.terms_url[0])
		cJSON_AddStringToObject(f, "terms", p->set.terms_url);
	if (p->set.privacy_url[0])
		cJSON_AddStringToObject(f, "privacy", p->set.privacy_url);
	if (p->set.help_url[0])
		cJSON_AddStringToObject(f, "help", p->set.help_url);
	cJSON_AddBoolToObject(f, "links", p->set.terms_url[0] || p->set.privacy_url[0] ||
	    p->set.help_url[0]);
	return f;
}

void
page_render(struct page *p, int status, const char *title, const char *tpl, cJSON *data,
    bool error)
{
	struct ctx *c = p->c;
	struct buf content;
	char path[96], err[128], full[400];
	cJSON *layout;

	buf_init(&content);
	snprintf(path, sizeof(path), "templates/%s.html", tpl);
	c->resp->status = status;
	c->resp->content_type = "text/html; charset=utf-8";
	/* Unavailable for a moment (the database): say when to come back. */
	if (status == 503)
		http_header(c->resp, "Retry-After", "1");
	buf_reset(&c->resp->body);
	if (tmpl_render_file(path, data, &content, err, sizeof(err)) != 0) {
		log_error("template %s: %s", path, err);
		c->resp->status = 500;
		buf_reset(&content);
		buf_puts(&content, "<h1>Something went wrong</h1>");
	}
	snprintf(full, sizeof(full), "%s%s – %s", error ? "Error: " : "", title,
	    p->set.business_name);
	layout = cJSON_CreateObject();
	cJSON_AddStringToObject(layout, "title", full);
	cJSON_AddStringToObject(layout, "content", content.data ? content.data : "");
	cJSON_AddItemToObject(layout, "f", frame(p));
	if (tmpl_render_file("templates/layout.html", layout, &c->resp->body, err,
	    sizeof(err)) != 0) {
		log_error("template layout: %s", err);
		c->resp->status = 500;
	}
	cJSON_Delete(layout);
	cJSON_Delete(data);
	buf_free(&content);
}

void
page_message(struct page *p, int status, const char *title, const char *text,
    const char *link, const char *link_text)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "heading", title);
	cJSON_AddStringToObject(d, "text", text);
	if (link != NULL) {
		cJSON_AddStringToObject(d, "link", link);
		cJSON_AddStringToObject(d, "link_text", link_text ? link_text : link);
	} else {
		/* Every message offers a way back: to the merchant, when we know where. */
		cJSON *f = cJSON_CreateObject();
		const cJSON *back;

		add_back(p, f);
		back = cJSON_GetObjectItemCaseSensitive(f, "back");
		if (back != NULL) {
			cJSON_AddStringToObject(d, "link", json_str(back, "href"));
			cJSON_AddStringToObject(d, "link_text", json_str(back, "text"));
		}
		cJSON_Delete(f);
	}
	page_render(p, status, title, "message", d, false);
}

/* The database (or another part the page needs) is away for a moment. */
void
page_unavailable(struct page *p)
{
	page_message(p, 503, "Please try again", "The billing portal is briefly unavailable. "
	    "Please try again in a moment.", NULL, NULL);
}

void
page_derr(struct page *p, const struct derr *e)
{
	const char *home = page_url(p, "");

	switch (e->kind) {
	case DERR_NOT_FOUND:
		page_message(p, 404, "Page not found", "There is nothing here, or it belongs to "
		    "another account.", home, "Go to your account");
		break;
	case DERR_FORBIDDEN:
		page_message(p, 403, "Not available", "This is not available in this portal. "
		    "Nothing was changed.", home, "Go to your account");
		break;
	case DERR_CONFLICT:
	case DERR_INVALID:
	case DERR_CARD:
		page_message(p, e->kind == DERR_CONFLICT ? 409 : e->kind == DERR_CARD ? 402 : 400,
		    "This could not be done", e->message, home, "Go to your account");
		break;
	case DERR_UNAVAILABLE:
	case DERR_NONE:
		page_message(p, 503, "Please try again", "The billing portal is briefly "
		    "unavailable. Nothing was changed. Please try again in a moment.", NULL, NULL);
		break;
	case DERR_INTERNAL:
		log_error("request %s: %s (%s)", p->c->req->request_id, e->message, e->code);
		page_message(p, 500, "Something went wrong", "Nothing was changed. Please try "
		    "again later.", home, "Go to your account");
		break;
	}
}

/* Pages that cannot know their site (an unknown site, the database away): plain, with
 * the same headers as every portal page. */
void
portal_plain_message(struct ctx *c, int status, const char *title, const char *text)
{
	struct page p = { .c = c };

	snprintf(p.set.business_name, sizeof(p.set.business_name), "Billing portal");
	snprintf(p.set.brand_color, sizeof(p.set.brand_color), COLOR_DEFAULT_BRAND);
	color_palette(p.set.brand_color, &p.set.palette);
	c->resp->status = status;
	c->resp->content_type = "text/html; charset=utf-8";
	if (status == 503)
		http_header(c->resp, "Retry-After", "1");
	buf_reset(&c->resp->body);
	{
		cJSON *d = cJSON_CreateObject(), *layout = cJSON_CreateObject(), *f;
		struct buf content;
		char err[128], full[300];

		buf_init(&content);
		cJSON_AddStringToObject(d, "heading", title);
		cJSON_AddStringToObject(d, "text", text);
		(void)tmpl_render_file("templates/message.html", d, &content, err, sizeof(err));
		snprintf(full, sizeof(full), "%s – Billing portal", title);
		cJSON_AddStringToObject(layout, "title", full);
		cJSON_AddStringToObject(layout, "content", content.data ? content.data : "");
		f = cJSON_AddObjectToObject(layout, "f");
		cJSON_AddStringToObject(f, "business", "Billing portal");
		(void)tmpl_render_file("templates/layout.html", layout, &c->resp->body, err,
		    sizeof(err));
		cJSON_Delete(layout);
		cJSON_Delete(d);
		buf_free(&content);
	}
	page_headers(&p, false);
}

static bool
etag_matches(struct page *p, const char *etag)
{
	const char *inm = p->c->req->if_none_match;

	return inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

/* Assets change name when they change: cache them for good, revalidate by ETag. */
static void
asset_headers(struct page *p, const char *etag)
{
	http_header(p->c->resp, "Cache-Control", "public, max-age=31536000, immutable");
	http_header(p->c->resp, "ETag", "%s", etag);
}

void
page_theme_css(struct page *p)
{
	char want[32], etag[40];
	struct buf *b = &p->c->resp->body;

	theme_name(&p->set, want);
	if (strcmp(p->c->req->path_params[1], want) != 0) {
		p->c->resp->status = 404;
		p->c->resp->content_type = "text/plain; charset=utf-8";
		buf_puts(b, "Not found\n");
		return;
	}
	snprintf(etag, sizeof(etag), "\"%.12s\"", want);
	asset_headers(p, etag);
	if (etag_matches(p, etag)) {
		p->c->resp->status = 304;
		return;
	}
	p->c->resp->content_type = "text/css; charset=utf-8";
	buf_printf(b, "/* %s: the site's colours, each pair at least 4.5:1 (WCAG AA) */\n"
	    ":root { --brand: %s; --brand-text: %s; --brand-ink: %s; }\n", p->set.site_id,
	    p->set.palette.fill, p->set.palette.on_fill, p->set.palette.ink);
}

void
page_logo(struct page *p)
{
	const char *file = p->c->req->path_params[1];
	char etag[80];
	unsigned char *png = NULL;
	size_t n = 0;
	int rc;

	if (p->set.logo_sha256[0] == '\0' || strlen(file) != 20 ||
	    strncmp(file, p->set.logo_sha256, 16) != 0 || strcmp(file + 16, ".png") != 0) {
		p->c->resp->status = 404;
		p->c->resp->content_type = "text/plain; charset=utf-8";
		buf_puts(&p->c->resp->body, "Not found\n");
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", p->set.logo_sha256);
	asset_headers(p, etag);
	if (etag_matches(p, etag)) {
		p->c->resp->status = 304;
		return;
	}
	rc = portal_logo_get(p->c->db, p->set.site_id, p->set.logo_sha256, &png, &n);
	if (rc <= 0) {
		p->c->resp->status = rc < 0 ? 503 : 404;
		p->c->resp->content_type = "text/plain; charset=utf-8";
		return;
	}
	p->c->resp->content_type = "image/png";
	buf_append(&p->c->resp->body, png, n);
	free(png);
}
