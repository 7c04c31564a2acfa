/* api_portal_configuration.c: /api/v1/portal_configuration: the site's portal settings
 * (read, partial update) and its logo (a raw PNG upload, or removal). */
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "billing/portal_settings.h"

/* "" clears a URL, like null. */
static const char *
check_url_or_empty(const char *v)
{
	return v[0] == '\0' ? NULL : check_http_url(v);
}

static const char *
check_host_or_empty(const char *v)
{
	return v[0] == '\0' ? NULL : portal_check_host(v);
}

const struct field portal_configuration_fields[] = {
	{ .name = "custom_host", .type = FT_STRING, .max_len = 260, .nullable = true,
	  .check = check_host_or_empty },
	{ .name = "business_name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "website_url", .type = FT_STRING, .max_len = 2048, .nullable = true,
	  .check = check_url_or_empty },
	{ .name = "brand_color", .type = FT_STRING, .max_len = 7 },
	{ .name = "time_zone", .type = FT_STRING, .max_len = 64 },
	{ .name = "terms_url", .type = FT_STRING, .max_len = 2048, .nullable = true,
	  .check = check_url_or_empty },
	{ .name = "privacy_url", .type = FT_STRING, .max_len = 2048, .nullable = true,
	  .check = check_url_or_empty },
	{ .name = "help_url", .type = FT_STRING, .max_len = 2048, .nullable = true,
	  .check = check_url_or_empty },
	{ .name = "features", .type = FT_OBJECT, .fields = portal_features_fields },
	{ .name = "cancel_reasons", .type = FT_OBJLIST, .fields = portal_reason_fields },
	{ .name = "sign_in", .type = FT_OBJECT, .fields = portal_sign_in_fields },
	{ .name = NULL }
};

static void
answer(struct ctx *c, const struct portal_settings *s)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	portal_config_write(&w, s, c->cfg->public_url);
}

/* The domain's refusal; a logo over the size limit is a 413, as a body too large is. */
static void
refused(struct ctx *c, const struct derr *e)
{
	if (strcmp(e->code, "logo_too_large") == 0)
		api_error(c, 413, "invalid_request_error", e->code, e->param, "%s", e->message);
	else
		api_derr(c, e);
}

void
h_pconf_get(struct ctx *c)
{
	struct portal_settings s;
	int rc = portal_settings_load(c->db, c->site.id, NULL, &s);

	if (rc < 0)
		api_db_error(c);
	else if (rc == 0)
		api_error(c, 404, "invalid_request_error", "resource_missing", "id",
		    "No such portal_configuration: '%s'", c->site.id);
	else
		answer(c, &s);
}

void
h_pconf_update(struct ctx *c)
{
	struct portal_settings s;
	struct derr e;

	if (portal_config_update(&c->d, c->body, c->cfg->public_url, &s, &e) != 0)
		refused(c, &e);
	else
		answer(c, &s);
}

void
h_pconf_logo_put(struct ctx *c)
{
	struct portal_settings s;
	struct derr e;

	if (c->req->body_len == 0) {
		api_error(c, 400, "invalid_request_error", "parameter_missing", "logo",
		    "Send the PNG image as the request body.");
		return;
	}
	if (portal_logo_set(&c->d, (const unsigned char *)c->req->body, c->req->body_len,
	    c->cfg->public_url, &s, &e) != 0)
		refused(c, &e);
	else
		answer(c, &s);
}

void
h_pconf_logo_delete(struct ctx *c)
{
	struct portal_settings s;
	struct derr e;

	if (portal_logo_set(&c->d, NULL, 0, c->cfg->public_url, &s, &e) != 0)
		refused(c, &e);
	else
		answer(c, &s);
}
