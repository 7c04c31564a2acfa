/* portal_settings.h: a site's portal configuration (branding and the switches of what
 * customers may do), the effective settings of one portal session (the site's, with the
 * session's `features` overrides applied), and the checks the domain calls make with them.
 * Knows no HTTP: the API, the portal pages and portalctl all go through it. */
#ifndef PORTALD_PORTAL_SETTINGS_H
#define PORTALD_PORTAL_SETTINGS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "billing/customers.h"
#include "billing/domain.h"
#include "billing/pms.h"
#include "billing/subscriptions.h"
#include "core/color.h"
#include "core/json.h"

#define PORTAL_URL_MAX		2048
#define PORTAL_MAX_REASONS	20
#define PORTAL_MAX_PLANS	20
#define PORTAL_LOGO_MAX_BYTES	(256 * 1024)
#define PORTAL_LOGO_MAX_SIDE	1024

enum portal_cancel_mode {
	PORTAL_CANCEL_END_OF_TERM,	/* the customer may cancel at the end of the term only */
	PORTAL_CANCEL_IMMEDIATELY	/* the customer chooses: now, or at the end of the term */
};
enum portal_reason_mode { PORTAL_REASON_OFF, PORTAL_REASON_OPTIONAL, PORTAL_REASON_REQUIRED };
enum portal_change_timing { PORTAL_CHANGE_NOW, PORTAL_CHANGE_END_OF_TERM };

struct portal_reason {
	char	code[48];
	char	label[128];
};

struct portal_settings {
	/* the site */
	char		site_id[48];
	char		site_name[208];
	bool		test_mode;
	long long	clock_offset;
	long long	updated_at;

	/* branding */
	char		business_name[208];	/* the site's name unless configured */
	bool		business_name_set;
	char		website_url[PORTAL_URL_MAX + 1];	/* "" when none */
	char		brand_color[8];
	struct color_palette palette;		/* derived: the colours pages draw with */
	char		time_zone[72];
	char		terms_url[PORTAL_URL_MAX + 1];
	char		privacy_url[PORTAL_URL_MAX + 1];
	char		help_url[PORTAL_URL_MAX + 1];
	char		custom_host[264];	/* the portal's own host name[:port], or "" */
	char		logo_sha256[65];	/* "" when there is no logo */
	int		logo_width, logo_height;

	/* what customers may do (each one a key of `features`, see portal_features_fields) */
	bool		edit_billing_details;
	bool		email_editable;
	bool		payment_methods;
	bool		invoice_history;
	bool		cancel_subscription;
	enum portal_cancel_mode cancel_mode;
	enum portal_reason_mode cancel_reason;
	bool		cancel_comment;
	struct portal_reason cancel_reasons[PORTAL_MAX_REASONS];
	int		n_cancel_reasons;
	bool		change_plan;
	char		change_plan_plans[PORTAL_MAX_PLANS][72];
	int		n_change_plan_plans;
	enum portal_change_timing change_plan_timing;
	bool		downgrades_at_end_of_term;
	bool		pause_subscription;
	int		pause_max_days;
	bool		reactivate_subscription;
	int		session_idle_timeout;		/* seconds */
	int		session_absolute_timeout;	/* seconds */

	/* how customers sign in (the `sign_in` object; the site's only, never a session's) */
	bool		login_link;		/* a link mailed to the customer's address */
	int		login_link_ttl;		/* its lifetime, seconds */
	char		merchant_sign_in_url[PORTAL_URL_MAX + 1];	/* "" : website_url */
	bool		login_password;		/* a password, set by a mailed link */
	bool		invite_on_subscription;	/* invite a new subscription's customer */
	int		management_link_ttl;	/* a management link's lifetime, seconds */
	bool		email_verification;	/* a management link asks an unknown browser
						 * for a login link first */
	bool		reveal_unknown_email;	/* a login-link request for an address of no
						 * customer answers "not found" (off: the same
						 * answer either way) */
};

/* The validation table of the switches: the configuration's `features` object and a
 * portal session's `features` overrides take the same keys. */
extern const struct field portal_features_fields[];
/* The configuration's `sign_in` object: login_link, login_link_ttl,
 * merchant_sign_in_url. */
extern const struct field portal_sign_in_fields[];
/* {code, label} items of cancel_reasons. */
extern const struct field portal_reason_fields[];

/* Loads the site's configuration and applies a session's features JSON (NULL: none) in
 * either direction. 1 found, 0 no such site, -1 database error (db->status says which). */
int	portal_settings_load(struct db *db, const char *site_id, const char *features_json,
	    struct portal_settings *out);
/* The same for a signed-in page, with the cookie's session (session_id, or NULL) and its
 * customer in the same row (STMT_PORTAL_ENTRY, enum pentry_col): one query. *row receives
 * the result (the caller PQclears it); the session's overrides are not applied. */
int	portal_settings_load_entry(struct db *db, const char *site_id, const char *session_id,
	    struct portal_settings *out, PGresult **row);
/* Applies a validated features object (or its JSON text) over s. Cross-field rules
 * (idle <= absolute) are checked; -1 with err filled when the result is not coherent. */
int	portal_settings_apply(struct portal_settings *s, const cJSON *features,
	    struct derr *e);
int	portal_settings_override(struct portal_settings *s, const char *features_json);

/* A partial update of the configuration, as the API and portalctl send it (validated by
 * portal_configuration_fields in the API layer): only the keys present change. */
int	portal_config_update(struct dctx *d, const cJSON *changes, const char *public_url,
	    struct portal_settings *out, struct derr *e);
/* Replaces the logo with a PNG upload (checked, metadata stripped) or removes it (png
 * NULL). Emits portal_configuration.updated. 0, or -1 with e. */
int	portal_logo_set(struct dctx *d, const unsigned char *png, size_t n,
	    const char *public_url, struct portal_settings *out, struct derr *e);
/* The stored logo bytes for (site, sha256): 1 found (*png malloc'd), 0 none, -1 error. */
int	portal_logo_get(struct db *db, const char *site_id, const char *sha256,
	    unsigned char **png, size_t *n);
/* Checks plan ids named by a features object exist in the site (0, or -1 with e). */
int	portal_settings_check_plans(struct dctx *d, const cJSON *features, const char *param,
	    struct derr *e);

/* The portal's base URL for a site: its own host when it has one (with public_url's
 * scheme), else public_url. */
void	portal_base_url(const struct portal_settings *s, const char *public_url, char *out,
	    size_t n);
/* Checks a host name as portal_host takes it: lower case, [:port]. NULL when fine. */
const char *portal_check_host(const char *v);

/* The portal_configuration object, as the API, the event and portalctl show it. */
void	portal_config_write(struct jw *w, const struct portal_settings *s,
	    const char *public_url);

/* ---- what the domain's operations take ----
 * A portal session's effective settings as the policies the domain enforces: every portal
 * POST passes them, the merchant's API passes NULL. The pointers point into s, which must
 * outlive the policy. */
struct portal_policy {
	struct sub_policy	 sub;
	struct customer_policy	 customer;
	struct pm_policy	 pm;
	const char		*reasons[PORTAL_MAX_REASONS + 1];
	const char		*plans[PORTAL_MAX_PLANS + 1];
};
void	portal_policy(const struct portal_settings *s, struct portal_policy *out);

/* The label of a cancellation reason code, or NULL when the site has no such reason. */
const char *portal_settings_reason(const struct portal_settings *s, const char *code);

#endif
