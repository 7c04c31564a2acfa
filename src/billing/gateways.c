/* gateways.c: each site's choice of payment gateway, its Stripe keys sealed under the
 * server key, and the gateway registry. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "billing/gateway_stripe.h"
#include "billing/gateway_test.h"
#include "billing/gateways.h"
#include "core/log.h"

static const struct config *conf;	/* portald's or portalctl's; see gateways_configure */

void
gateways_configure(const struct config *cfg)
{
	conf = cfg;
}

const struct gateway *
gateway_get(const char *name)
{
	if (name == NULL)
		return NULL;
	if (strcmp(name, "test") == 0)
		return &gateway_test;
	if (strcmp(name, "stripe") == 0)
		return &gateway_stripe;
	return NULL;
}

int
gateway_for_site(struct dctx *d, const struct gateway **out, struct derr *e)
{
	char name[16];

	if (gateways_site_name(d, name, e) != 0)
		return -1;
	*out = gateway_get(name);
	if (*out == NULL)
		return derr_set(e, DERR_CONFLICT, "no_gateway", NULL,
		    "The site has no payment gateway yet.");
	return 0;
}

void
gateways_wipe(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

static void
seal_context(const struct dctx *d, const char *purpose, char *out, size_t n)
{
	snprintf(out, n, "portald:gateway:%s:%s", purpose, d->site.id);
}

int
gateways_seal(const struct dctx *d, const char *purpose, const char *plain, struct buf *out)
{
	char ctx[128];

	if (conf == NULL || !conf->secrets.loaded)
		return -1;
	seal_context(d, purpose, ctx, sizeof(ctx));
	return secrets_seal(&conf->secrets, plain, strlen(plain), ctx, out);
}

int
gateways_open(const struct dctx *d, const char *purpose, const char *sealed, struct buf *out)
{
	char ctx[128];

	if (conf == NULL || !conf->secrets.loaded || sealed == NULL)
		return -1;
	seal_context(d, purpose, ctx, sizeof(ctx));
	return secrets_open(&conf->secrets, sealed, ctx, out);
}

/* The site's row: mode and gateway columns; caller clears. */
static PGresult *
site_row(struct dctx *d, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_SITE_GATEWAY_GET, (const char *[]){ d->site.id,
	    d->site.id });

	if (res == NULL) {
		derr_db(e, d->db);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		derr_not_found(e, "site", d->site.id);
		return NULL;
	}
	return res;
}

static void
effective_name(PGresult *res, char name[16])
{
	const char *g = db_val(res, 0, SGW_GATEWAY);

	if (g == NULL)
		g = strcmp(db_val(res, 0, SGW_MODE), "test") == 0 ? "test" : "";
	snprintf(name, 16, "%s", g);
}

int
gateways_site_name(struct dctx *d, char name[16], struct derr *e)
{
	PGresult *res = site_row(d, e);

	if (res == NULL)
		return -1;
	effective_name(res, name);
	PQclear(res);
	return 0;
}

int
gateways_site_get(struct dctx *d, struct gateway_site *out, struct derr *e)
{
	PGresult *res = site_row(d, e);

	if (res == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	effective_name(res, out->name);
	if (strcmp(out->name, "stripe") == 0) {
		snprintf(out->key_hint, sizeof(out->key_hint), "%s",
		    db_val(res, 0, SGW_KEY_HINT) ? db_val(res, 0, SGW_KEY_HINT) : "");
		out->webhook_secret_set = db_val(res, 0, SGW_WEBHOOK_SEALED) != NULL;
	}
	PQclear(res);
	snprintf(out->webhook_url, sizeof(out->webhook_url), "%.400s/gateway/stripe/%s/webhook",
	    conf != NULL ? conf->public_url : "", d->site.id);
	return 0;
}

/* sk_live_ / rk_live_ on live sites, sk_test_ / rk_test_ on test sites; the rest letters,
 * digits and '_'. The message never repeats the key. */
static int
check_secret_key(const char *key, const char *mode, struct derr *e)
{
	char sk[16], rk[16];
	size_t n = strlen(key);

	snprintf(sk, sizeof(sk), "sk_%s_", mode);
	snprintf(rk, sizeof(rk), "rk_%s_", mode);
	if (strncmp(key, sk, 8) != 0 && strncmp(key, rk, 8) != 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "stripe_secret_key",
		    "A %s site takes a Stripe secret key that starts with %s (or a restricted "
		    "key, %s).", mode, sk, rk);
	if (n <= 8 || n > 255)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "stripe_secret_key",
		    "The Stripe secret key has the wrong length.");
	for (const char *p = key + 8; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return derr_set(e, DERR_INVALID, "parameter_invalid", "stripe_secret_key",
			    "The Stripe secret key holds a character Stripe's keys never have.");
	return 0;
}

static int
check_webhook_secret(const char *s, struct derr *e)
{
	size_t n = strlen(s);

	if (strncmp(s, "whsec_", 6) != 0 || n <= 6 || n > 255)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "stripe_webhook_secret",
		    "The webhook signing secret starts with whsec_ (Stripe shows it on the "
		    "endpoint's page).");
	for (const char *p = s; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return derr_set(e, DERR_INVALID, "parameter_invalid",
			    "stripe_webhook_secret", "The webhook signing secret holds a "
			    "character Stripe's secrets never have.");
	return 0;
}

int
gateways_site_set(struct dctx *d, const struct gateway_site_req *r, struct derr *e)
{
	PGresult *res;
	struct buf key, hook;
	char hint[32] = "", now[24], mode[8], was[16];
	const char *prev;
	bool stripe = strcmp(r->name, "stripe") == 0;
	int rc = -1;

	if (!stripe && strcmp(r->name, "test") != 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "gateway",
		    "gateway is \"test\" or \"stripe\".");
	res = site_row(d, e);
	if (res == NULL)
		return -1;
	snprintf(mode, sizeof(mode), "%s", db_val(res, 0, SGW_MODE));
	effective_name(res, was);
	prev = db_val(res, 0, SGW_GATEWAY);
	if (stripe && (prev == NULL || strcmp(prev, "stripe") != 0) &&
	    (r->secret_key == NULL || r->webhook_secret == NULL)) {
		PQclear(res);
		return derr_set(e, DERR_INVALID, "parameter_missing", r->secret_key == NULL ?
		    "stripe_secret_key" : "stripe_webhook_secret", "Connecting Stripe takes "
		    "the account's secret key and the webhook endpoint's signing secret.");
	}
	PQclear(res);
	if (!stripe && strcmp(mode, "test") != 0)
		return derr_set(e, DERR_INVALID, "live_site", "gateway",
		    "The test gateway serves test sites only; a live site charges through "
		    "Stripe.");
	if (!stripe && (r->secret_key != NULL || r->webhook_secret != NULL))
		return derr_set(e, DERR_INVALID, "parameter_unknown", r->secret_key ?
		    "stripe_secret_key" : "stripe_webhook_secret",
		    "Stripe keys belong with gateway \"stripe\".");
	if (stripe && r->secret_key != NULL && check_secret_key(r->secret_key, mode, e) != 0)
		return -1;
	if (stripe && r->webhook_secret != NULL && check_webhook_secret(r->webhook_secret,
	    e) != 0)
		return -1;
	buf_init(&key);
	buf_init(&hook);
	if ((r->secret_key != NULL && gateways_seal(d, "stripe_secret_key", r->secret_key,
	    &key) != 0) || (r->webhook_secret != NULL && gateways_seal(d,
	    "stripe_webhook_secret", r->webhook_secret, &hook) != 0)) {
		derr_set(e, DERR_INTERNAL, "secrets_unavailable", NULL,
		    "No server key is loaded to seal the gateway's keys (see the secrets file).");
		goto out;
	}
	if (r->secret_key != NULL)
		snprintf(hint, sizeof(hint), "%.8s...%s", r->secret_key,
		    r->secret_key + strlen(r->secret_key) - 4);
	res = db_exec(d->db, STMT_SITE_GATEWAY_SET, (const char *[]){ d->site.id, r->name,
	    key.data, hint[0] ? hint : NULL, hook.data, buf_lltoa(d->now, now) });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(res);
	/* Cards of any other gateway cannot be charged through this one. */
	res = db_exec(d->db, STMT_PM_MARK_UNUSABLE, (const char *[]){ d->site.id, r->name });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(res) > 0)
		log_info("site %s: gateway %s; %d card(s) of another gateway marked unusable",
		    d->site.id, r->name, PQntuples(res));
	PQclear(res);
	/* Leaving a gateway forgets its customers too: coming back (perhaps to another Stripe
	 * account) starts afresh, with new cards. */
	if (strcmp(was, r->name) != 0) {
		res = db_exec(d->db, STMT_GWCUST_FORGET, (const char *[]){ d->site.id, r->name });
		if (res == NULL) {
			derr_db(e, d->db);
			goto out;
		}
		PQclear(res);
	}
	rc = 0;
out:
	buf_free(&key);
	buf_free(&hook);
	return rc;
}

/* The sealed column col of a Stripe site, opened into out. */
static int
stripe_secret(struct dctx *d, int col, const char *purpose, struct buf *out, struct derr *e)
{
	PGresult *res = site_row(d, e);
	int rc;

	if (res == NULL)
		return -1;
	if (db_val(res, 0, SGW_GATEWAY) == NULL ||
	    strcmp(db_val(res, 0, SGW_GATEWAY), "stripe") != 0) {
		PQclear(res);
		return derr_set(e, DERR_CONFLICT, "gateway_not_stripe", NULL,
		    "This site is not connected to Stripe.");
	}
	rc = gateways_open(d, purpose, db_val(res, 0, col), out);
	PQclear(res);
	if (rc != 0) {
		log_error("site %s: the stored Stripe %s cannot be opened with the loaded server "
		    "keys", d->site.id, purpose);
		return derr_set(e, DERR_INTERNAL, "secrets_unavailable", NULL,
		    "The site's Stripe keys cannot be opened with this server's keys.");
	}
	return 0;
}

int
gateways_stripe_webhook_secret(struct dctx *d, struct buf *out, struct derr *e)
{
	return stripe_secret(d, SGW_WEBHOOK_SEALED, "stripe_webhook_secret", out, e);
}

int
gateways_stripe_client(struct dctx *d, struct stripe_client **out, struct derr *e)
{
	struct stripe_config sc;
	struct buf key;
	char err[256];

	*out = NULL;
	if (conf == NULL)
		return derr_set(e, DERR_INTERNAL, "gateway_unconfigured", NULL,
		    "The Stripe settings were not loaded in this process.");
	buf_init(&key);
	if (stripe_secret(d, SGW_KEY_SEALED, "stripe_secret_key", &key, e) != 0) {
		gateways_wipe(&key);
		return -1;
	}
	memset(&sc, 0, sizeof(sc));
	sc.base_url = conf->stripe_api_base;
	sc.secret_key = key.data;
	sc.ca_file = conf->stripe_ca_file[0] ? conf->stripe_ca_file : NULL;
	sc.connect_timeout_ms = conf->stripe_connect_timeout * 1000L;
	sc.timeout_ms = conf->stripe_timeout * 1000L;
	sc.max_retries = -1;
	*out = stripe_client_new(&sc, err, sizeof(err));
	gateways_wipe(&key);
	if (*out == NULL) {
		log_error("site %s: Stripe client: %s", d->site.id, err);
		return derr_set(e, DERR_INTERNAL, "gateway_unconfigured", NULL,
		    "Stripe cannot be reached with this configuration: %s", err);
	}
	return 0;
}
