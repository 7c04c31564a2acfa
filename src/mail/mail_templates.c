/* mail_templates.c: renders a message type's subject, text and HTML from its templates, after
 * checking the data against the contract in mail_templates.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embedded.h"
#include "core/tmpl.h"
#include "mail/mail_templates.h"

#define DEFAULT_COLOR	"#2554c7"
#define TEXT_DARK	"#1f2328"	/* body text; 15.8:1 on white */

struct mail_type {
	const char	*name;
	const char	*required[6];	/* dotted paths that must be non-empty strings */
};

/* Fields every type needs, then each type's own (see the contract in the header). */
static const char *const common_required[] = { "site.name", "portal_url", NULL };

static const struct mail_type types[] = {
	{ "invitation",		{ "link.url", "link.expires" } },
	{ "login_link",		{ "link.url", "link.expires" } },
	{ "set_password",	{ "link.url", "link.expires" } },
	{ "password_changed",	{ "changed_at" } },
	{ "email_changed",	{ "old_email", "new_email", "changed_at" } },
	{ "payment_failed",	{ "invoice.number", "invoice.amount", "link.url",
				  "link.expires" } },
	{ "action_required",	{ "invoice.number", "invoice.amount", "link.url" } },
	{ "payment_receipt",	{ "invoice.number", "invoice.amount", "paid_at",
				  "payment_method" } },
	{ "trial_ending",	{ "plan.name", "trial_end", "amount" } },
	{ "card_expiring",	{ "payment_method", "expiry", "link.url" } },
	{ "subscription_cancelled", { "subscription.reference", "plan.name",
				  "cancelled_at" } },
	{ "renewal_reminder",	{ "plan.name", "renews_at", "amount" } },
};

const char *const mail_types[] = {
	"invitation", "login_link", "set_password", "password_changed", "email_changed",
	"payment_failed", "action_required", "payment_receipt", "trial_ending",
	"card_expiring", "subscription_cancelled", "renewal_reminder", NULL
};

/* Fields that end up in href or src attributes. */
static const char *const url_fields[] = {
	"portal_url", "link.url", "site.logo_url", "invoice.url", "signin_url", NULL
};

static const struct mail_type *
find_type(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

bool
mail_type_known(const char *type)
{
	return type != NULL && find_type(type) != NULL;
}

void
mail_content_init(struct mail_content *c)
{
	buf_init(&c->subject);
	buf_init(&c->text);
	buf_init(&c->html);
}

void
mail_content_free(struct mail_content *c)
{
	if (c == NULL)
		return;
	buf_free(&c->subject);
	buf_free(&c->text);
	buf_free(&c->html);
}

void
mail_content_apply(const struct mail_content *c, struct mail_msg *m)
{
	m->subject = c->subject.data ? c->subject.data : "";
	m->text = c->text.data ? c->text.data : "";
	m->html = c->html.data;
}

/* The item at a dotted path ("a.b"), or NULL. */
static const cJSON *
get_path(const cJSON *data, const char *path)
{
	char key[64];
	const cJSON *v = data;

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key) || !cJSON_IsObject(v))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, key);
		path += n + (path[n] == '.');
	}
	return v;
}

static const char *
get_str(const cJSON *data, const char *path)
{
	const cJSON *v = get_path(data, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
url_ok(const char *u)
{
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p != '\0'; p++)
		if (*p <= 32 || *p == 127)
			return false;
	return true;
}

/* Length of "scheme://host[:port]" at the start of an http(s) URL. */
static size_t
origin_len(const char *u)
{
	const char *h = strstr(u, "://") + 3;

	return (size_t)(h - u) + strcspn(h, "/?#");
}

static int
parse_color(const char *s, int rgb[3])
{
	size_t n = strlen(s);

	if (s[0] != '#' || (n != 4 && n != 7) || strspn(s + 1, "0123456789abcdefABCDEF") != n - 1)
		return -1;
	for (int i = 0; i < 3; i++) {
		char h[3];

		if (n == 4) {
			h[0] = h[1] = s[1 + i];
		} else {
			h[0] = s[1 + 2 * i];
			h[1] = s[2 + 2 * i];
		}
		h[2] = '\0';
		rgb[i] = (int)strtol(h, NULL, 16);
	}
	return 0;
}

/* WCAG 2 relative luminance and contrast ratio. */
static double
luminance(const int rgb[3])
{
	double l[3];

	for (int i = 0; i < 3; i++) {
		double c = rgb[i] / 255.0;

		l[i] = c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
	}
	return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}

static double
contrast(double la, double lb)
{
	return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

/* Adds brand.color, brand.text_color (white or dark, whichever reads better on the
 * colour) and brand.link_color (the colour itself when it reads on white at 4.5:1,
 * else the body text colour) to d. */
static int
add_brand(cJSON *d, const cJSON *data, char *err, size_t errlen)
{
	static const int white[3] = { 255, 255, 255 }, dark[3] = { 0x1f, 0x23, 0x28 };
	const char *color = get_str(data, "site.color");
	cJSON *brand;
	double l;
	int rgb[3];

	if (color == NULL || color[0] == '\0')
		color = DEFAULT_COLOR;
	if (parse_color(color, rgb) != 0) {
		snprintf(err, errlen, "site.color: not a colour like #1a2b3c");
		return -1;
	}
	l = luminance(rgb);
	cJSON_DeleteItemFromObjectCaseSensitive(d, "brand");
	brand = cJSON_AddObjectToObject(d, "brand");
	if (brand == NULL ||
	    cJSON_AddStringToObject(brand, "color", color) == NULL ||
	    cJSON_AddStringToObject(brand, "text_color",
	    contrast(l, luminance(white)) >= contrast(l, luminance(dark)) ? "#ffffff" :
	    TEXT_DARK) == NULL ||
	    cJSON_AddStringToObject(brand, "link_color",
	    contrast(l, luminance(white)) >= 4.5 ? color : TEXT_DARK) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Sets d.key to v, replacing a key of that name the caller's data may have had: the
 * rendered parts are the program's, never the data's. */
static int
set_str(cJSON *d, const char *key, const char *v, char *err, size_t errlen)
{
	cJSON_DeleteItemFromObjectCaseSensitive(d, key);
	if (cJSON_AddStringToObject(d, key, v != NULL ? v : "") == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
check_data(const struct mail_type *t, const cJSON *data, char *err, size_t errlen)
{
	const char *portal, *logo;

	if (!cJSON_IsObject(data)) {
		snprintf(err, errlen, "%s: data must be an object", t->name);
		return -1;
	}
	for (size_t i = 0; common_required[i] != NULL; i++) {
		const char *v = get_str(data, common_required[i]);

		if (v == NULL || v[0] == '\0') {
			snprintf(err, errlen, "%s: %s is required", t->name, common_required[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < 6 && t->required[i] != NULL; i++) {
		const char *v = get_str(data, t->required[i]);

		if (v == NULL || v[0] == '\0') {
			snprintf(err, errlen, "%s: %s is required", t->name, t->required[i]);
			return -1;
		}
	}
	for (size_t i = 0; url_fields[i] != NULL; i++) {
		const cJSON *v = get_path(data, url_fields[i]);

		if (v == NULL || cJSON_IsNull(v) ||
		    (cJSON_IsString(v) && v->valuestring[0] == '\0'))
			continue;
		if (!cJSON_IsString(v) || !url_ok(v->valuestring)) {
			snprintf(err, errlen, "%s: %s must be an http(s) URL", t->name,
			    url_fields[i]);
			return -1;
		}
	}
	portal = get_str(data, "portal_url");
	logo = get_str(data, "site.logo_url");
	if (logo != NULL && logo[0] != '\0' &&
	    (origin_len(logo) != origin_len(portal) ||
	    strncmp(logo, portal, origin_len(portal)) != 0)) {
		snprintf(err, errlen, "%s: site.logo_url must be on the portal's own origin",
		    t->name);
		return -1;
	}
	return 0;
}

/* Splits a type's text template into its subject line and body ("Subject: ...", an
 * empty line, then the body). */
static int
split_text_template(const char *tpl, const char *path, char **subject, const char **body,
    char *err, size_t errlen)
{
	const char *nl;

	if (strncmp(tpl, "Subject: ", 9) != 0 || (nl = strchr(tpl, '\n')) == NULL ||
	    nl[1] != '\n') {
		snprintf(err, errlen, "%s: must start with a Subject: line and an empty line",
		    path);
		return -1;
	}
	*subject = strndup(tpl + 9, (size_t)(nl - tpl - 9));
	if (*subject == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*body = nl + 2;
	return 0;
}

/* A subject is one line: any line break or tab that came in with a value becomes a
 * space, and runs of spaces one. */
static void
one_line(struct buf *b)
{
	size_t j = 0;

	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		if (c == ' ' && (j == 0 || b->data[j - 1] == ' '))
			continue;
		b->data[j++] = c;
	}
	while (j > 0 && b->data[j - 1] == ' ')
		j--;
	b->len = j;
	if (b->cap > 0)
		b->data[j] = '\0';
}

/* Drops trailing line breaks and spaces. */
static void
trim_end(struct buf *b)
{
	while (b->len > 0 && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' ' ||
	    b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
}

int
mail_render(const char *type, const cJSON *data, struct mail_content *out, char *err,
    size_t errlen)
{
	const struct mail_type *t = type ? find_type(type) : NULL;
	char path[96], *subject_tpl = NULL;
	const char *tpl, *body_tpl;
	struct buf part;
	cJSON *d = NULL;
	int rc = -1;

	buf_init(&part);
	buf_reset(&out->subject);
	buf_reset(&out->text);
	buf_reset(&out->html);
	if (t == NULL) {
		snprintf(err, errlen, "unknown message type");
		return -1;
	}
	if (check_data(t, data, err, errlen) != 0)
		return -1;
	if ((d = cJSON_Duplicate(data, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (add_brand(d, data, err, errlen) != 0)
		goto done;

	snprintf(path, sizeof(path), "templates/mail/%s.txt", t->name);
	if ((tpl = embedded_get(path)) == NULL) {
		snprintf(err, errlen, "no template %s", path);
		goto done;
	}
	if (split_text_template(tpl, path, &subject_tpl, &body_tpl, err, errlen) != 0)
		goto done;
	if (tmpl_render_text(subject_tpl, d, &out->subject, err, errlen) != 0)
		goto done;
	one_line(&out->subject);
	if (set_str(d, "subject", out->subject.data, err, errlen) != 0)
		goto done;

	/* Text: the type's body inside the text layout. Optional sections leave blank
	 * lines at the end; the layout decides the spacing. */
	if (tmpl_render_text(body_tpl, d, &part, err, errlen) != 0)
		goto done;
	trim_end(&part);
	if (set_str(d, "body", part.data, err, errlen) != 0)
		goto done;
	if ((tpl = embedded_get("templates/mail/layout.txt")) == NULL) {
		snprintf(err, errlen, "no template templates/mail/layout.txt");
		goto done;
	}
	if (tmpl_render_text(tpl, d, &out->text, err, errlen) != 0)
		goto done;
	trim_end(&out->text);
	buf_putc(&out->text, '\n');

	/* HTML: the type's fragment inside the HTML layout. The fragment was escaped as
	 * it was rendered, so the layout inserts it raw. */
	buf_reset(&part);
	snprintf(path, sizeof(path), "templates/mail/%s.html", t->name);
	if (tmpl_render_file(path, d, &part, err, errlen) != 0)
		goto done;
	if (set_str(d, "content", part.data, err, errlen) != 0)
		goto done;
	if (tmpl_render_file("templates/mail/layout.html", d, &out->html, err, errlen) != 0)
		goto done;
	rc = 0;
done:
	if (rc != 0) {
		buf_reset(&out->subject);
		buf_reset(&out->text);
		buf_reset(&out->html);
	}
	free(subject_tpl);
	buf_free(&part);
	cJSON_Delete(d);
	return rc;
}
