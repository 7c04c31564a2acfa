/* notify.c: which event or schedule sends which mail (the two tables below), each message
 * rendered, sealed and queued in the outbox in the caller's transaction, and the outbox
 * rows read back as the exact bytes to send. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "billing/notify.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/currency.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/token.h"
#include "mail/mail.h"
#include "mail/mail_templates.h"

#define CARD_LINK_TTL	(7 * 86400)	/* a card-expiring mail's link: it may wait a while */
#define SCAN_BATCH	20

static const struct config *cfg;

void
notify_configure(const struct config *c)
{
	cfg = c;
}

const struct config *
notify_config(void)
{
	return cfg;
}

const char *const notify_switchable[] = {
	"payment_failed", "action_required", "payment_receipt", "trial_ending",
	"card_expiring", "subscription_cancelled", "renewal_reminder", NULL
};

static int
switch_index(const char *type)
{
	for (int i = 0; notify_switchable[i] != NULL; i++)
		if (strcmp(notify_switchable[i], type) == 0)
			return i;
	return -1;
}

bool
notify_type_switchable(const char *type)
{
	return type != NULL && switch_index(type) >= 0;
}

/* ---- formats: what the templates' data contract asks for ---- */

static const char *const months[] = { "January", "February", "March", "April", "May",
	"June", "July", "August", "September", "October", "November", "December" };

void
notify_date(long long t, char out[48])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 48, "?");
		return;
	}
	snprintf(out, 48, "%d %s %d", tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900);
}

void
notify_datetime(long long t, char out[48])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 48, "?");
		return;
	}
	snprintf(out, 48, "%d %s %d, %02d:%02d UTC", tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour % 24, tm.tm_min % 60);
}

/* "Visa ending 4242" */
static void
card_text(const char *brand, const char *last4, char out[64])
{
	static const struct { const char *code, *name; } brands[] = {
		{ "visa", "Visa" }, { "mastercard", "Mastercard" },
		{ "amex", "American Express" }, { "discover", "Discover" },
		{ "diners", "Diners Club" }, { "jcb", "JCB" }, { "unionpay", "UnionPay" },
	};
	const char *name = NULL;

	for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++)
		if (brand != NULL && strcmp(brands[i].code, brand) == 0)
			name = brands[i].name;
	if (name != NULL)
		snprintf(out, 64, "%s ending %s", name, last4 ? last4 : "");
	else
		snprintf(out, 64, "card ending %s", last4 ? last4 : "");
}

static void
money(long long minor, const char *currency, char out[CURRENCY_FMT_MAX])
{
	if (currency == NULL || currency_format(minor, currency, out, CURRENCY_FMT_MAX) != 0)
		snprintf(out, CURRENCY_FMT_MAX, "%lld %s", minor, currency ? currency : "");
}

/* A reason code in words: "too_expensive" -> "too expensive". */
static void
words(const char *code, char *out, size_t n)
{
	size_t i;

	for (i = 0; code[i] != '\0' && i + 1 < n; i++)
		out[i] = code[i] == '_' ? ' ' : code[i];
	out[i] = '\0';
}

/* ---- JSON helpers for the event objects and the template data ---- */

/* Sets data.path ("a.b") to a string, making the objects on the way. */
static void
put(cJSON *data, const char *path, const char *value)
{
	char key[64];
	cJSON *o = data, *next;
	const char *dot;

	if (value == NULL)
		return;
	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		next = cJSON_GetObjectItemCaseSensitive(o, key);
		if (!cJSON_IsObject(next)) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, key);
			next = cJSON_AddObjectToObject(o, key);
		}
		o = next;
		path = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, path);
	cJSON_AddStringToObject(o, path, value);
}

/* The last charge attempt of an invoice object, or NULL. */
static const cJSON *
last_charge(const cJSON *inv, const char *outcome)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(inv, "payment_attempts"), *a;
	const cJSON *last = NULL;

	cJSON_ArrayForEach(a, list) {
		const char *kind = json_str(a, "kind"), *o = json_str(a, "outcome");

		if (kind == NULL || strcmp(kind, "charge") != 0)
			continue;
		if (outcome == NULL || (o != NULL && strcmp(o, outcome) == 0))
			last = a;
	}
	return last;
}

/* ---- settings ---- */

static void
settings_defaults(struct notify_settings *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; notify_switchable[i] != NULL; i++)
		s->enabled[i] = true;
	s->trial_ending_days = 3;
	s->renewal_reminder_days = 7;
}

static void
settings_from_row(struct notify_settings *s, PGresult *res)
{
	char list[512], *tok, *save = NULL;

	settings_defaults(s);
	snprintf(list, sizeof(list), "%s", db_val(res, 0, MSET_DISABLED) ?
	    db_val(res, 0, MSET_DISABLED) : "");
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = switch_index(tok);

		if (i >= 0)
			s->enabled[i] = false;
	}
	snprintf(s->from_name, sizeof(s->from_name), "%s", db_val(res, 0, MSET_FROM_NAME) ?
	    db_val(res, 0, MSET_FROM_NAME) : "");
	snprintf(s->reply_to, sizeof(s->reply_to), "%s", db_val(res, 0, MSET_REPLY_TO) ?
	    db_val(res, 0, MSET_REPLY_TO) : "");
	snprintf(s->receipts_cc, sizeof(s->receipts_cc), "%s",
	    db_val(res, 0, MSET_RECEIPTS_CC) ? db_val(res, 0, MSET_RECEIPTS_CC) : "");
	s->trial_ending_days = (int)db_ll(res, 0, MSET_TRIAL_DAYS, 3);
	s->renewal_reminder_days = (int)db_ll(res, 0, MSET_RENEWAL_DAYS, 7);
	s->updated_at = db_ll(res, 0, MSET_UPDATED, 0);
}

int
notify_settings_get(struct dctx *d, struct notify_settings *s, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_MAIL_SETTINGS_GET, (const char *[]){ d->site.id });

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1)
		settings_from_row(s, res);
	else
		settings_defaults(s);
	PQclear(res);
	return 0;
}

void
notify_settings_req_init(struct notify_settings_req *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < NOTIFY_SWITCHABLE_MAX; i++)
		r->enable[i] = -1;
}

/* A display name: printable, no control characters (it becomes a header). */
static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

int
notify_settings_update(struct dctx *d, const struct notify_settings_req *r,
    struct notify_settings *out, struct derr *e)
{
	struct notify_settings s;
	PGresult *res;
	char now[24], t[2][24];
	struct buf off;
	int rc;

	if (r->from_name != NULL && r->from_name[0] != '\0' && !name_ok(r->from_name))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "from_name",
		    "from_name must be 1-200 characters without line breaks.");
	if (r->reply_to != NULL && r->reply_to[0] != '\0' && !mail_addr_valid(r->reply_to))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "reply_to",
		    "reply_to must be an email address (local@domain).");
	if (r->receipts_cc != NULL && r->receipts_cc[0] != '\0' &&
	    !mail_addr_valid(r->receipts_cc))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "receipts_cc",
		    "receipts_cc must be an email address (local@domain).");
	if (r->trial_ending_days < 0 || r->trial_ending_days > 30)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "trial_ending_days",
		    "trial_ending_days must be between 1 and 30.");
	if (r->renewal_reminder_days < 0 || r->renewal_reminder_days > 60)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "renewal_reminder_days",
		    "renewal_reminder_days must be between 1 and 60.");
	buf_lltoa(d->now, now);
	res = db_exec(d->db, STMT_MAIL_SETTINGS_ENSURE, (const char *[]){ d->site.id, now });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	res = db_exec(d->db, STMT_MAIL_SETTINGS_LOCK, (const char *[]){ d->site.id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The mail settings could not be read.");
	}
	settings_from_row(&s, res);
	PQclear(res);
	for (int i = 0; notify_switchable[i] != NULL; i++)
		if (r->enable[i] >= 0)
			s.enabled[i] = r->enable[i] != 0;
	if (r->from_name != NULL)
		snprintf(s.from_name, sizeof(s.from_name), "%s", r->from_name);
	if (r->reply_to != NULL)
		snprintf(s.reply_to, sizeof(s.reply_to), "%s", r->reply_to);
	if (r->receipts_cc != NULL)
		snprintf(s.receipts_cc, sizeof(s.receipts_cc), "%s", r->receipts_cc);
	if (r->trial_ending_days > 0)
		s.trial_ending_days = r->trial_ending_days;
	if (r->renewal_reminder_days > 0)
		s.renewal_reminder_days = r->renewal_reminder_days;
	buf_init(&off);
	buf_puts(&off, "");
	for (int i = 0; notify_switchable[i] != NULL; i++)
		if (!s.enabled[i])
			buf_printf(&off, "%s%s", off.len ? "," : "", notify_switchable[i]);
	res = db_exec(d->db, STMT_MAIL_SETTINGS_PUT, (const char *[]){ d->site.id, off.data,
	    s.from_name[0] ? s.from_name : NULL, s.reply_to[0] ? s.reply_to : NULL,
	    s.receipts_cc[0] ? s.receipts_cc : NULL, buf_lltoa(s.trial_ending_days, t[0]),
	    buf_lltoa(s.renewal_reminder_days, t[1]), now });
	buf_free(&off);
	if (res == NULL)
		return derr_db(e, d->db);
	rc = PQntuples(res) == 1 ? 0 : -1;
	if (rc == 0 && out != NULL)
		settings_from_row(out, res);
	PQclear(res);
	if (rc != 0)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The mail settings could not be saved.");
	return 0;
}

void
notify_write_settings(struct jw *w, const struct notify_settings *s)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "object", "mail_settings");
	jw_obj_begin(w, "types");
	for (int i = 0; notify_switchable[i] != NULL; i++)
		jw_bool(w, notify_switchable[i], s->enabled[i]);
	jw_obj_end(w);
	jw_str(w, "from_name", s->from_name[0] ? s->from_name : NULL);
	jw_str(w, "from_address", cfg && cfg->mail_from_address[0] ? cfg->mail_from_address :
	    NULL);
	jw_str(w, "reply_to", s->reply_to[0] ? s->reply_to : NULL);
	jw_str(w, "receipts_cc", s->receipts_cc[0] ? s->receipts_cc : NULL);
	jw_int(w, "trial_ending_days", s->trial_ending_days);
	jw_int(w, "renewal_reminder_days", s->renewal_reminder_days);
	if (s->updated_at > 0)
		jw_int(w, "updated_at", s->updated_at);
	else
		jw_null(w, "updated_at");
	jw_obj_end(w);
}

/* ---- queueing ---- */

/* One message to queue: its type, who gets it, why, and the type's own template data. */
struct draft {
	const char	*type;
	const char	*customer_id;	/* NULL: none (a test send) */
	const char	*to;		/* NULL: the customer's address */
	const char	*typed;		/* non-NULL: a sign-in form's address (queue_alike) */
	const char	*event_id;	/* the event that caused it, or NULL */
	const char	*dedupe;	/* scheduled: once per this key */
	bool		 test;		/* a test send: "[Test] " subject */
	bool		 cc_receipts;	/* payment receipts: copy to the site's receipts_cc */
	cJSON		*data;		/* the type's fields; site, portal_url and customer here */
	/* The customer's address and name as read (draft_address), once. */
	bool		 addressed;
	char		 cust_to[256], cust_name[208];
};

/* Reads the customer's address and name into the draft, once: 0, or -1 with e set. A
 * customer who is gone or has no address leaves them empty. */
static int
draft_address(struct dctx *d, struct draft *dr, struct derr *e)
{
	PGresult *res;

	if (dr->addressed)
		return 0;
	dr->cust_to[0] = dr->cust_name[0] = '\0';
	if (dr->customer_id != NULL) {
		res = db_exec(d->db, STMT_CUSTOMER_ADDRESS, (const char *[]){ d->site.id,
		    dr->customer_id });
		if (res == NULL)
			return derr_db(e, d->db);
		if (PQntuples(res) == 1) {
			snprintf(dr->cust_to, sizeof(dr->cust_to), "%s",
			    db_val(res, 0, ADDR_EMAIL) ? db_val(res, 0, ADDR_EMAIL) : "");
			snprintf(dr->cust_name, sizeof(dr->cust_name), "%s",
			    db_val(res, 0, ADDR_NAME) ? db_val(res, 0, ADDR_NAME) : "");
		}
		PQclear(res);
	}
	dr->addressed = true;
	return 0;
}

/* Whether the draft has nobody to go to: no address given, typed or on the customer
 * (read first if it was not). Its content is then not made at all: not the card's text,
 * not a sign-in link that nobody would receive. */
static int
draft_unaddressed(struct dctx *d, struct draft *dr, bool *none, struct derr *e)
{
	*none = false;
	if (dr->to != NULL || dr->typed != NULL)
		return 0;
	if (draft_address(d, dr, e) != 0)
		return -1;
	*none = dr->cust_to[0] == '\0';
	if (*none)
		log_debug("mail: site %s: no address for %s to customer %s; not queued",
		    d->site.id, dr->type, dr->customer_id ? dr->customer_id : "-");
	return 0;
}

static void
seal_context(const char *site, const char *id, char out[160])
{
	snprintf(out, 160, "portald mail v1\n%s\n%s", site, id);
}

/* The Message-ID's right side: the sender's domain, else public_url's host. */
static int
new_message_id(const char *site, const char *id, char out[MAIL_MSGID_MAX + 1])
{
	char local[128], addr[300];
	const char *host;
	size_t n;

	snprintf(local, sizeof(local), "%s.%s", id, site);
	if (cfg->mail_from_address[0] != '\0' &&
	    mail_msgid(local, cfg->mail_from_address, out, MAIL_MSGID_MAX + 1) == 0)
		return 0;
	host = strstr(cfg->public_url, "://");
	host = host ? host + 3 : cfg->public_url;
	n = strcspn(host, ":/");
	snprintf(addr, sizeof(addr), "portald@%.*s", (int)n, host);
	if (mail_msgid(local, addr, out, MAIL_MSGID_MAX + 1) == 0)
		return 0;
	return mail_msgid(local, "portald@portald.invalid", out, MAIL_MSGID_MAX + 1);
}

static int
seal(const char *site, const char *id, const char *text, struct buf *out, struct derr *e)
{
	char ctx[160];

	seal_context(site, id, ctx);
	buf_reset(out);
	if (secrets_seal(&cfg->secrets, text, strlen(text), ctx, out) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "The message could not be sealed (no randomness or no server key).");
	return 0;
}

int
notify_site_url(struct dctx *d, char *out, size_t n, struct derr *e)
{
	const char *base = cfg != NULL ? cfg->public_url : "", *sep = strstr(base, "://");
	PGresult *res = db_exec(d->db, STMT_SITE_HOST, (const char *[]){ d->site.id });

	if (res == NULL)
		return derr_db(e, d->db);
	if (sep != NULL && PQntuples(res) == 1 && db_val(res, 0, 0) != NULL &&
	    db_val(res, 0, 0)[0] != '\0')
		snprintf(out, n, "%.*s://%s", (int)(sep - base), base, db_val(res, 0, 0));
	else
		snprintf(out, n, "%s", base);
	PQclear(res);
	return 0;
}

/* The fields every type has (contract in mail_templates.h). */
static int
common_data(struct dctx *d, const struct notify_settings *set, const char *customer_name,
    cJSON *data, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_SITE_GET, (const char *[]){ d->site.id });
	char url[CONFIG_STR_MAX + 64], base[CONFIG_STR_MAX + 1];

	if (res == NULL)
		return derr_db(e, d->db);
	put(data, "site.name", PQntuples(res) == 1 ? db_val(res, 0, SITE_NAME) : d->site.id);
	PQclear(res);
	if (set->reply_to[0] != '\0')
		put(data, "site.support_email", set->reply_to);
	if (notify_site_url(d, base, sizeof(base), e) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/portal/%s", base, d->site.id);
	put(data, "portal_url", url);
	cJSON_DeleteItemFromObjectCaseSensitive(data, "customer");
	if (customer_name != NULL && customer_name[0] != '\0')
		put(data, "customer.name", customer_name);
	return 0;
}

/* Renders, seals and inserts the draft. *queued (may be NULL) says whether a row was
 * written (a scheduled message already queued by another runner is not). A message that
 * cannot be rendered or addressed is written as failed, with why. */
static int
queue_draft(struct dctx *d, const struct notify_settings *set, struct draft *dr,
    char id[DOM_ID_MAX], bool *queued, struct derr *e)
{
	PGresult *res;
	struct mail_content mc;
	struct buf text, html;
	char msgid[MAIL_MSGID_MAX + 1], to[256] = "", to_name[208] = "";
	char err[256] = "", subject[512], a[4][24], site_name[208] = "";
	const char *from_name, *status = "pending", *cc = NULL;
	long long wall = (long long)time(NULL);
	int rc = -1;

	id[0] = '\0';
	if (queued != NULL)
		*queued = false;
	if (cfg == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Mail is not set up in this process.");
	if (draft_address(d, dr, e) != 0)
		return -1;
	snprintf(to, sizeof(to), "%s", dr->cust_to);
	if (dr->to != NULL)
		snprintf(to, sizeof(to), "%s", dr->to);
	else
		snprintf(to_name, sizeof(to_name), "%s", dr->cust_name);
	/* Nobody's address typed into a sign-in form: the message is made for it all the
	 * same, and its insert (conditional on the customer) writes nothing. */
	if (dr->typed != NULL && to[0] == '\0')
		snprintf(to, sizeof(to), "%s", dr->typed);
	if (to[0] == '\0') {
		log_debug("mail: site %s: no address for %s to customer %s; not queued",
		    d->site.id, dr->type, dr->customer_id ? dr->customer_id : "-");
		return 0;
	}
	if (common_data(d, set, dr->cust_name, dr->data, e) != 0)
		return -1;
	{
		const char *sn = json_str(cJSON_GetObjectItemCaseSensitive(dr->data, "site"), "name");

		snprintf(site_name, sizeof(site_name), "%s", sn ? sn : d->site.id);
	}
	mail_content_init(&mc);
	buf_init(&text);
	buf_init(&html);
	if (mail_render(dr->type, dr->data, &mc, err, sizeof(err)) != 0) {
		log_error("mail: site %s: %s not rendered: %s", d->site.id, dr->type, err);
		status = "failed";
		snprintf(subject, sizeof(subject), "(%s, not rendered)", dr->type);
		buf_reset(&mc.text);
		buf_printf(&mc.text, "The message could not be rendered: %s\n", err);
		buf_reset(&mc.html);
	} else
		snprintf(subject, sizeof(subject), "%s%s", dr->test ? "[Test] " : "",
		    mc.subject.data ? mc.subject.data : "");
	if (strcmp(status, "pending") == 0 && !mail_addr_valid(to)) {
		status = "failed";
		snprintf(err, sizeof(err), "the recipient address '%.200s' cannot be used", to);
	}
	if (dr->cc_receipts && set->receipts_cc[0] != '\0')
		cc = set->receipts_cc;
	from_name = set->from_name[0] ? set->from_name : cfg->mail_from_name[0] ?
	    cfg->mail_from_name : site_name;
	if (dom_new_id("mo", id, e) != 0)
		goto out;
	if (new_message_id(d->site.id, id, msgid) != 0) {
		derr_set(e, DERR_INTERNAL, "internal_error", NULL, "No Message-ID could be made.");
		goto out;
	}
	if (seal(d->site.id, id, mc.text.data ? mc.text.data : "", &text, e) != 0 ||
	    (mc.html.len > 0 && seal(d->site.id, id, mc.html.data, &html, e) != 0))
		goto out;
	res = db_exec(d->db, dr->typed != NULL ? STMT_MAIL_INSERT_FOR : STMT_MAIL_INSERT,
	    (const char *[]){ d->site.id, id, dr->type,
	    dr->test ? "true" : "false", dr->customer_id, dr->event_id, dr->dedupe, NULL, msgid,
	    buf_lltoa(wall, a[0]), from_name[0] ? from_name : NULL, cfg->mail_from_address,
	    set->reply_to[0] ? set->reply_to : NULL, to_name[0] ? to_name : NULL, to, cc,
	    subject, text.data, html.len ? html.data : NULL, status, err[0] ? err : NULL,
	    buf_lltoa(wall, a[1]), buf_lltoa(d->now, a[2]), buf_lltoa(wall, a[3]) });
	if (res == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	if (PQntuples(res) == 1 && queued != NULL)
		*queued = true;
	if (PQntuples(res) == 0)
		id[0] = '\0';
	PQclear(res);
	/* Wake the job runner at commit. */
	if (db_exec_later(d->db, STMT_NOTIFY, (const char *[]){ d->site.id }) != 0) {
		derr_db(e, d->db);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		id[0] = '\0';
	mail_content_free(&mc);
	buf_free(&text);
	buf_free(&html);
	return rc;
}

/* A link that signs the customer in at path, valid ttl seconds on the site's clock:
 * "{public_url}/portal/{site}/link/{site}.{link id}.{secret}", the token kept hashed. */
static int
make_link(struct dctx *d, const char *customer, const char *purpose, const char *path,
    long long ttl, cJSON *data, struct derr *e)
{
	char id[DOM_ID_MAX], token[TOKEN_MAX], hash[65], a[2][24], when[48];
	char url[CONFIG_STR_MAX + TOKEN_MAX + 64], full[600], base[CONFIG_STR_MAX + 1];
	PGresult *res;

	if (dom_new_id("lnk", id, e) != 0)
		return -1;
	if (token_new(d->site.id, id, token, sizeof(token), hash) != 0)
		return derr_set(e, DERR_UNAVAILABLE, "randomness_unavailable", NULL,
		    "No secure randomness is available right now; retry shortly.");
	snprintf(full, sizeof(full), "/portal/%s/%s", d->site.id, path);
	res = db_exec(d->db, STMT_MAIL_LINK_INSERT, (const char *[]){ d->site.id, id, customer,
	    purpose, full, hash, buf_lltoa(d->now, a[0]), buf_lltoa(d->now + ttl, a[1]) });
	if (res == NULL)
		return derr_db(e, d->db);
	PQclear(res);
	if (notify_site_url(d, base, sizeof(base), e) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/portal/%s/link/%s", base, d->site.id, token);
	put(data, "link.url", url);
	notify_datetime(d->now + ttl, when);
	snprintf(full, sizeof(full), "on %s", when);
	put(data, "link.expires", full);
	return 0;
}

/* The text of payment method pm_id, "" when it is gone. */
static int
pm_text(struct dctx *d, const char *pm_id, char out[64], struct derr *e)
{
	PGresult *res;

	out[0] = '\0';
	if (pm_id == NULL)
		return 0;
	res = db_exec(d->db, STMT_PM_GET, (const char *[]){ d->site.id, pm_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1)
		card_text(db_val(res, 0, PM_BRAND), db_val(res, 0, PM_LAST4), out);
	PQclear(res);
	return 0;
}

/* The card a renewal would charge: the default, else the newest. */
static int
default_pm_text(struct dctx *d, const char *customer, char out[64], struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PM_DEFAULT, (const char *[]){ d->site.id,
	    customer });

	out[0] = '\0';
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1)
		card_text(db_val(res, 0, PM_BRAND), db_val(res, 0, PM_LAST4), out);
	PQclear(res);
	return 0;
}

static int
plan_name(struct dctx *d, const char *plan_id, char out[208], struct derr *e)
{
	PGresult *res;

	snprintf(out, 208, "%s", plan_id ? plan_id : "");
	if (plan_id == NULL)
		return 0;
	res = db_exec(d->db, STMT_PLAN_GET, (const char *[]){ d->site.id, plan_id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) == 1)
		snprintf(out, 208, "%s", db_val(res, 0, PLAN_NAME));
	PQclear(res);
	return 0;
}

/* ---- the event table ---- */

static bool
when_charge_failed(const cJSON *inv)
{
	const cJSON *a = last_charge(inv, NULL);
	const char *o = a ? json_str(a, "outcome") : NULL;

	return o == NULL || strcmp(o, "authentication_required") != 0;
}

static bool
when_needs_authentication(const cJSON *inv)
{
	const cJSON *a = last_charge(inv, NULL);
	const char *o = a ? json_str(a, "outcome") : NULL;

	return o != NULL && strcmp(o, "authentication_required") == 0;
}

static bool
when_charged(const cJSON *inv)
{
	return (long long)json_int(inv, "amount_paid", 0) > 0 && last_charge(inv, "succeeded") != NULL;
}

static void
invoice_fields(const cJSON *inv, const char *amount_key, cJSON *data)
{
	char num[24], amt[CURRENCY_FMT_MAX];

	put(data, "invoice.number", buf_lltoa((long long)json_int(inv, "number", 0), num));
	money((long long)json_int(inv, amount_key, 0), json_str(inv, "currency"), amt);
	put(data, "invoice.amount", amt);
}

static int
data_payment_failed(struct dctx *d, const cJSON *inv, cJSON *data, struct derr *e)
{
	static const struct { const char *outcome, *reason; } reasons[] = {
		{ "declined", "the card was declined" },
		{ "insufficient_funds", "the card has insufficient funds" },
		{ "expired_card", "the card has expired" },
		{ "no_payment_method", "there is no card on file" },
		{ "processing_error", "the payment could not be processed" },
	};
	const cJSON *a = last_charge(inv, NULL);
	const char *o = a ? json_str(a, "outcome") : NULL;
	char pm[64], when[48];

	invoice_fields(inv, "amount_due", data);
	if (pm_text(d, a ? json_str(a, "payment_method_id") : NULL, pm, e) != 0)
		return -1;
	if (pm[0] != '\0')
		put(data, "payment_method", pm);
	for (size_t i = 0; o != NULL && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].outcome, o) == 0)
			put(data, "reason", reasons[i].reason);
	if ((long long)json_int(inv, "next_attempt_at", -1) > 0) {
		notify_date((long long)json_int(inv, "next_attempt_at", 0), when);
		put(data, "next_attempt", when);
	}
	return make_link(d, json_str(inv, "customer_id"), "card_update", "payment_methods",
	    NOTIFY_LINK_TTL, data, e);
}

static int
data_action_required(struct dctx *d, const cJSON *inv, cJSON *data, struct derr *e)
{
	char path[DOM_ID_MAX + 24];

	invoice_fields(inv, "amount_due", data);
	/* The portal's "Complete payment" page for the invoice (the link signs in there). */
	snprintf(path, sizeof(path), "invoices/%s/complete", json_str(inv, "id") ? json_str(inv, "id") :
	    "");
	return make_link(d, json_str(inv, "customer_id"), "invoice_payment", path, NOTIFY_LINK_TTL,
	    data, e);
}

static int
data_receipt(struct dctx *d, const cJSON *inv, cJSON *data, struct derr *e)
{
	const cJSON *a = last_charge(inv, "succeeded"), *line;
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(inv, "lines");
	cJSON *out;
	char pm[64], when[48], amt[CURRENCY_FMT_MAX];

	invoice_fields(inv, "amount_paid", data);
	notify_datetime((long long)json_int(inv, "paid_at", d->now), when);
	put(data, "paid_at", when);
	if (pm_text(d, a ? json_str(a, "payment_method_id") : NULL, pm, e) != 0)
		return -1;
	put(data, "payment_method", pm[0] ? pm : "card");
	out = cJSON_AddArrayToObject(data, "lines");
	cJSON_ArrayForEach(line, lines) {
		cJSON *l = cJSON_CreateObject();

		money((long long)json_int(line, "amount", 0), json_str(inv, "currency"), amt);
		cJSON_AddStringToObject(l, "description", json_str(line, "description") ?
		    json_str(line, "description") : "");
		cJSON_AddStringToObject(l, "amount", amt);
		cJSON_AddItemToArray(out, l);
	}
	return 0;
}

static int
data_cancelled(struct dctx *d, const cJSON *sub, cJSON *data, struct derr *e)
{
	char name[208], when[48], reason[96];
	const char *code = json_str(sub, "cancel_reason");

	put(data, "subscription.reference", json_str(sub, "id"));
	if (plan_name(d, json_str(sub, "plan_id"), name, e) != 0)
		return -1;
	put(data, "plan.name", name);
	notify_datetime((long long)json_int(sub, "cancelled_at", d->now), when);
	put(data, "cancelled_at", when);
	if (code != NULL && strcmp(code, "not_paid") == 0)
		put(data, "reason", "the payment could not be collected");
	else if (code != NULL) {
		words(code, reason, sizeof(reason));
		put(data, "reason", reason);
	}
	return 0;
}

/* Event type -> message, recipient, when. The event's data is the object as the API
 * shows it (an invoice, a subscription). */
static const struct event_rule {
	const char	*event;
	const char	*mail;
	const char	*recipient;
	const char	*when;
	bool		(*cond)(const cJSON *obj);
	int		(*fill)(struct dctx *d, const cJSON *obj, cJSON *data, struct derr *e);
	bool		 cc_receipts;
	bool		 once;		/* once per object (its id the dedupe key) */
} event_rules[] = {
	{ "invoice.payment_failed", "payment_failed", "customer",
	  "a charge failed (declined, no card, expired ...), at every dunning attempt; with a "
	  "72-hour link to the card update", when_charge_failed, data_payment_failed, false,
	  false },
	{ "invoice.payment_failed", "action_required", "customer",
	  "the charge needs the customer's authentication (outcome authentication_required); "
	  "once per invoice, with a 72-hour link to its Complete payment page",
	  when_needs_authentication, data_action_required, false, true },
	{ "invoice.paid", "payment_receipt", "customer, copy to receipts_cc",
	  "paid by a card charge (not by credit alone)", when_charged, data_receipt, true,
	  false },
	{ "subscription.cancelled", "subscription_cancelled", "customer",
	  "cancelled now, at the end of the term, or when dunning ends", NULL, data_cancelled,
	  false, false },
};

int
notify_event(struct dctx *d, const char *type, const char *event_id, const char *object_id,
    const char *data, struct derr *e)
{
	struct notify_settings set;
	bool have_set = false;
	cJSON *obj = NULL;
	int rc = 0;

	(void)object_id;
	for (size_t i = 0; i < sizeof(event_rules) / sizeof(event_rules[0]) && rc == 0; i++) {
		const struct event_rule *r = &event_rules[i];
		struct draft dr;
		char id[DOM_ID_MAX], key[DOM_ID_MAX + 48];
		bool none;

		if (strcmp(r->event, type) != 0)
			continue;
		if (obj == NULL && (obj = cJSON_Parse(data ? data : "")) == NULL) {
			log_error("mail: site %s: event %s has no readable data", d->site.id,
			    event_id);
			return 0;
		}
		if (r->cond != NULL && !r->cond(obj))
			continue;
		if (!have_set && d->facts != NULL && d->facts->notify_read)
			set = *d->facts->notify;
		else if (!have_set) {
			if ((rc = notify_settings_get(d, &set, e)) != 0)
				break;
			if (d->facts != NULL) {
				*d->facts->notify = set;
				d->facts->notify_read = true;
			}
		}
		have_set = true;
		if (!set.enabled[switch_index(r->mail)])
			continue;
		memset(&dr, 0, sizeof(dr));
		dr.type = r->mail;
		dr.customer_id = json_str(obj, "customer_id");
		dr.event_id = event_id;
		dr.cc_receipts = r->cc_receipts;
		if (dr.customer_id == NULL)
			continue;
		if ((rc = draft_unaddressed(d, &dr, &none, e)) != 0)
			break;
		if (none)
			continue;
		if (r->once) {
			/* A second attempt that needs the bank (a retry, a failed confirmation)
			 * sends nothing new: in a savepoint, so its link goes too. */
			bool done = false;

			if (json_str(obj, "id") == NULL)
				continue;
			snprintf(key, sizeof(key), "%s:%s", r->mail, json_str(obj, "id"));
			dr.dedupe = key;
			if (db_begin(d->db) != 0) {
				rc = derr_db(e, d->db);
				break;
			}
			dr.data = cJSON_CreateObject();
			rc = r->fill(d, obj, dr.data, e);
			if (rc == 0)
				rc = queue_draft(d, &set, &dr, id, &done, e);
			cJSON_Delete(dr.data);
			if (rc != 0 || !done)
				db_rollback(d->db);
			else if (db_commit(d->db) != 0)
				rc = derr_db(e, d->db);
			continue;
		}
		dr.data = cJSON_CreateObject();
		rc = r->fill(d, obj, dr.data, e);
		if (rc == 0)
			rc = queue_draft(d, &set, &dr, id, NULL, e);
		cJSON_Delete(dr.data);
	}
	cJSON_Delete(obj);
	return rc;
}

/* ---- the schedule table: the job runner's scans ---- */

/* Queues one scheduled message in a savepoint: a copy another runner queued first (the
 * dedupe key) leaves nothing behind, not even its link. */
static int
queue_once(struct dctx *d, const struct notify_settings *set, struct draft *dr,
    int (*fill)(struct dctx *, const char *, cJSON *, struct derr *), const char *what,
    int *queued, struct derr *e)
{
	char id[DOM_ID_MAX];
	bool done = false, none;
	int rc;

	if (draft_unaddressed(d, dr, &none, e) != 0)
		return -1;
	if (none)
		return 0;	/* nobody to send it to: its content is not made */
	if (db_begin(d->db) != 0)
		return derr_db(e, d->db);
	dr->data = cJSON_CreateObject();
	rc = fill(d, what, dr->data, e);
	if (rc == 0)
		rc = queue_draft(d, set, dr, id, &done, e);
	cJSON_Delete(dr->data);
	dr->data = NULL;
	if (rc != 0 || !done) {
		db_rollback(d->db);
		return rc;
	}
	(*queued)++;
	return db_commit(d->db) == 0 ? 0 : derr_db(e, d->db);
}

/* The subscription's next charge (the scheduled plan's price or the plan's, less the
 * credit), its plan's name and the card it would be charged on. */
static int
sub_fields(struct dctx *d, const char *sub_id, cJSON *data, char customer[DOM_ID_MAX],
    struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_SUB_GET, (const char *[]){ d->site.id, sub_id });
	long long price, credit;
	char amt[CURRENCY_FMT_MAX], name[208], pm[64];
	int rc;

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "subscription", sub_id);
	}
	snprintf(customer, DOM_ID_MAX, "%s", db_val(res, 0, SUB_CUSTOMER));
	price = db_val(res, 0, SUB_SCHEDULED_AMOUNT) ? db_ll(res, 0, SUB_SCHEDULED_AMOUNT, 0) :
	    db_ll(res, 0, SUB_AMOUNT, 0);
	credit = db_ll(res, 0, SUB_CREDIT, 0);
	money(price > credit ? price - credit : 0, db_val(res, 0, SUB_CURRENCY), amt);
	put(data, "amount", amt);
	snprintf(name, sizeof(name), "%s", db_val(res, 0, SUB_PLAN_NAME));
	rc = db_val(res, 0, SUB_SCHEDULED_PLAN) ? plan_name(d, db_val(res, 0,
	    SUB_SCHEDULED_PLAN), name, e) : 0;
	PQclear(res);
	if (rc != 0 || default_pm_text(d, customer, pm, e) != 0)
		return -1;
	put(data, "plan.name", name);
	if (pm[0] != '\0')
		put(data, "payment_method", pm);
	return 0;
}

/* what: "<sub>|<date>": the subscription's fields and the date under key. */
static int
fill_sub_dated(struct dctx *d, const char *what, const char *key, cJSON *data,
    struct derr *e)
{
	char sub[DOM_ID_MAX], customer[DOM_ID_MAX], when[48];
	const char *bar = strchr(what, '|');

	if (bar == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "A scheduled message names no date.");
	snprintf(sub, sizeof(sub), "%.*s", (int)(bar - what), what);
	if (sub_fields(d, sub, data, customer, e) != 0)
		return -1;
	notify_date(atoll(bar + 1), when);
	put(data, key, when);
	return 0;
}

static int
fill_trial(struct dctx *d, const char *what, cJSON *data, struct derr *e)
{
	return fill_sub_dated(d, what, "trial_end", data, e);
}

static int
fill_renewal(struct dctx *d, const char *what, cJSON *data, struct derr *e)
{
	return fill_sub_dated(d, what, "renews_at", data, e);
}

/* what: the payment method's id */
static int
fill_card(struct dctx *d, const char *what, cJSON *data, struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_PM_GET, (const char *[]){ d->site.id, what });
	char pm[64], exp[16], customer[DOM_ID_MAX];

	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "payment_method", what);
	}
	card_text(db_val(res, 0, PM_BRAND), db_val(res, 0, PM_LAST4), pm);
	snprintf(exp, sizeof(exp), "%02lld/%lld", db_ll(res, 0, PM_EXP_MONTH, 0) % 100,
	    db_ll(res, 0, PM_EXP_YEAR, 0) % 10000);
	snprintf(customer, sizeof(customer), "%s", db_val(res, 0, PM_CUSTOMER));
	PQclear(res);
	put(data, "payment_method", pm);
	put(data, "expiry", exp);
	return make_link(d, customer, "card_update", "payment_methods", CARD_LINK_TTL, data, e);
}

static int
scan_rows(struct dctx *d, const struct notify_settings *set, const char *type,
    enum stmt_id stmt, const char *const *params, int (*fill)(struct dctx *, const char *,
    cJSON *, struct derr *), int max, int *queued, struct derr *e)
{
	PGresult *res = db_exec(d->db, stmt, params);
	int rc = 0;

	if (res == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(res) && rc == 0 && *queued < max; i++) {
		struct draft dr;
		char key[160], what[160], customer[DOM_ID_MAX] = "";

		memset(&dr, 0, sizeof(dr));
		dr.type = type;
		if (stmt == STMT_MAIL_DUE_CARDS) {
			snprintf(key, sizeof(key), "%s:%s:%s", type, db_val(res, i, 0), params[5]);
			snprintf(what, sizeof(what), "%s", db_val(res, i, 0));
			snprintf(customer, sizeof(customer), "%s", db_val(res, i, 1));
		} else {
			PGresult *s = db_exec(d->db, STMT_SUB_GET, (const char *[]){ d->site.id,
			    db_val(res, i, 0) });

			if (s == NULL) {
				rc = derr_db(e, d->db);
				break;
			}
			if (PQntuples(s) == 1)
				snprintf(customer, sizeof(customer), "%s", db_val(s, 0,
				    SUB_CUSTOMER));
			PQclear(s);
			snprintf(key, sizeof(key), "%s:%s:%s", type, db_val(res, i, 0),
			    db_val(res, i, 1));
			snprintf(what, sizeof(what), "%s|%s", db_val(res, i, 0), db_val(res, i, 1));
		}
		if (customer[0] == '\0')
			continue;
		dr.customer_id = customer;
		dr.dedupe = key;
		rc = queue_once(d, set, &dr, fill, what, queued, e);
	}
	PQclear(res);
	return rc;
}

static int
scan_trials(struct dctx *d, const struct notify_settings *set, int max, int *queued,
    struct derr *e)
{
	char now[24], within[24], lim[24];

	return scan_rows(d, set, "trial_ending", STMT_MAIL_DUE_TRIALS, (const char *[]){
	    d->site.id, buf_lltoa(d->now, now), buf_lltoa(set->trial_ending_days * 86400LL,
	    within), buf_lltoa(SCAN_BATCH, lim) }, fill_trial, max, queued, e);
}

static int
scan_renewals(struct dctx *d, const struct notify_settings *set, int max, int *queued,
    struct derr *e)
{
	char now[24], within[24], lim[24];

	return scan_rows(d, set, "renewal_reminder", STMT_MAIL_DUE_RENEWALS, (const char *[]){
	    d->site.id, buf_lltoa(d->now, now), buf_lltoa(set->renewal_reminder_days * 86400LL,
	    within), buf_lltoa(SCAN_BATCH, lim) }, fill_renewal, max, queued, e);
}

static int
scan_cards(struct dctx *d, const struct notify_settings *set, int max, int *queued,
    struct derr *e)
{
	time_t t = (time_t)d->now;
	struct tm tm;
	char y1[24], m1[24], y2[24], m2[24], month[16], lim[24];
	int y, m;

	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	snprintf(month, sizeof(month), "%04d-%02d", y % 10000, m % 100);
	buf_lltoa(y, y1);
	buf_lltoa(m, m1);
	buf_lltoa(m == 12 ? y + 1 : y, y2);
	buf_lltoa(m == 12 ? 1 : m + 1, m2);
	return scan_rows(d, set, "card_expiring", STMT_MAIL_DUE_CARDS, (const char *[]){
	    d->site.id, y1, m1, y2, m2, month, buf_lltoa(SCAN_BATCH, lim) }, fill_card, max,
	    queued, e);
}

/* Message -> what the runner looks for, and how often it is sent. */
static const struct schedule_rule {
	const char	*mail;
	const char	*recipient;
	const char	*when;
	int		(*scan)(struct dctx *d, const struct notify_settings *set, int max,
			    int *queued, struct derr *e);
} schedule_rules[] = {
	{ "trial_ending", "customer",
	  "trial_ending_days (default 3) before a trial ends, once per trial", scan_trials },
	{ "card_expiring", "customer",
	  "the default card expires this month or next and a subscription still bills; once "
	  "per card per month, with a 7-day link to the card update", scan_cards },
	{ "renewal_reminder", "customer",
	  "renewal_reminder_days (default 7) before a yearly renewal (interval year, or 12 "
	  "months or more), once per term", scan_renewals },
};

int
notify_scheduled(struct dctx *d, int max, int *queued, struct derr *e)
{
	struct notify_settings set;

	*queued = 0;
	if (notify_settings_get(d, &set, e) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(schedule_rules) / sizeof(schedule_rules[0]); i++) {
		const struct schedule_rule *r = &schedule_rules[i];

		if (!set.enabled[switch_index(r->mail)])
			continue;
		if (r->scan(d, &set, max, queued, e) != 0)
			return -1;
	}
	return 0;
}

void
notify_write_rules(struct jw *w)
{
	jw_arr_begin(w, NULL);
	for (size_t i = 0; i < sizeof(event_rules) / sizeof(event_rules[0]); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "source", event_rules[i].event);
		jw_str(w, "message", event_rules[i].mail);
		jw_str(w, "recipient", event_rules[i].recipient);
		jw_str(w, "when", event_rules[i].when);
		jw_obj_end(w);
	}
	for (size_t i = 0; i < sizeof(schedule_rules) / sizeof(schedule_rules[0]); i++) {
		jw_obj_begin(w, NULL);
		jw_str(w, "source", "schedule");
		jw_str(w, "message", schedule_rules[i].mail);
		jw_str(w, "recipient", schedule_rules[i].recipient);
		jw_str(w, "when", schedule_rules[i].when);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* ---- for the sign-in flows, test sends, resends ---- */

static int
queue(struct dctx *d, const char *type, const char *customer_id, const char *typed,
    const char *data_json, char id[DOM_ID_MAX], struct derr *e)
{
	struct notify_settings set;
	struct draft dr;
	char out[DOM_ID_MAX], to[256] = "";
	int rc;

	if (id != NULL)
		id[0] = '\0';
	if (!mail_type_known(type))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "type",
		    "'%s' is not a message type.", type);
	if (notify_settings_get(d, &set, e) != 0)
		return -1;
	if (notify_type_switchable(type) && !set.enabled[switch_index(type)])
		return 0;
	memset(&dr, 0, sizeof(dr));
	dr.type = type;
	dr.customer_id = customer_id;
	dr.typed = typed;
	dr.data = cJSON_Parse(data_json ? data_json : "{}");
	if (!cJSON_IsObject(dr.data)) {
		cJSON_Delete(dr.data);
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "The message data is not a JSON object.");
	}
	if (json_str(dr.data, "to") != NULL) {
		snprintf(to, sizeof(to), "%s", json_str(dr.data, "to"));
		dr.to = to;
	}
	rc = queue_draft(d, &set, &dr, out, NULL, e);
	cJSON_Delete(dr.data);
	if (rc == 0 && id != NULL)
		snprintf(id, DOM_ID_MAX, "%s", out);
	return rc;
}

int
notify_queue(struct dctx *d, const char *type, const char *customer_id,
    const char *data_json, char id[DOM_ID_MAX], struct derr *e)
{
	return queue(d, type, customer_id, NULL, data_json, id, e);
}

int
notify_queue_alike(struct dctx *d, const char *type, const char *customer_id,
    const char *typed, const char *data_json, char id[DOM_ID_MAX], struct derr *e)
{
	assert(typed != NULL);
	return queue(d, type, customer_id, typed, data_json, id, e);
}

int
notify_test(struct dctx *d, const char *to, const char *type, char id[DOM_ID_MAX],
    struct derr *e)
{
	struct notify_settings set;
	struct draft dr;
	char url[CONFIG_STR_MAX + 64], when[48], later[48];
	cJSON *line, *lines;
	int rc;

	id[0] = '\0';
	if (type == NULL)
		type = "payment_receipt";
	if (!mail_type_known(type))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "type",
		    "'%s' is not a message type.", type);
	if (to == NULL || !mail_addr_valid(to))
		return derr_set(e, DERR_INVALID, "parameter_invalid", "to",
		    "to must be an email address (local@domain).");
	if (cfg == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Mail is not set up in this process.");
	if (notify_settings_get(d, &set, e) != 0 || notify_site_url(d, url, sizeof(url), e) != 0)
		return -1;
	memset(&dr, 0, sizeof(dr));
	dr.type = type;
	dr.to = to;
	dr.test = true;
	dr.cc_receipts = false;
	/* One sample that has every type's fields (each type ignores the others'). */
	dr.data = cJSON_CreateObject();
	snprintf(url + strlen(url), sizeof(url) - strlen(url), "/portal/%s", d->site.id);
	notify_datetime(d->now, when);
	notify_date(d->now + 7 * 86400, later);
	put(dr.data, "link.url", url);
	put(dr.data, "link.expires", "in 72 hours");
	put(dr.data, "signin_url", url);
	put(dr.data, "invoice.number", "1001");
	put(dr.data, "invoice.amount", "$30.00");
	put(dr.data, "paid_at", when);
	put(dr.data, "payment_method", "Visa ending 4242");
	put(dr.data, "plan.name", "Example plan");
	put(dr.data, "trial_end", later);
	put(dr.data, "renews_at", later);
	put(dr.data, "amount", "$30.00");
	put(dr.data, "expiry", "12/2030");
	put(dr.data, "subscription.reference", "sub_example");
	put(dr.data, "cancelled_at", when);
	put(dr.data, "changed_at", when);
	put(dr.data, "old_email", "old@example.com");
	put(dr.data, "new_email", "new@example.com");
	lines = cJSON_AddArrayToObject(dr.data, "lines");
	line = cJSON_CreateObject();
	cJSON_AddStringToObject(line, "description", "Example plan, one month");
	cJSON_AddStringToObject(line, "amount", "$30.00");
	cJSON_AddItemToArray(lines, line);
	rc = queue_draft(d, &set, &dr, id, NULL, e);
	cJSON_Delete(dr.data);
	return rc;
}

/* Opens a sealed part into out (reset first). */
static int
open_part(const char *site, const char *id, const char *sealed, struct buf *out)
{
	char ctx[160];

	buf_reset(out);
	buf_puts(out, "");
	if (sealed == NULL)
		return 0;
	if (cfg == NULL)
		return -1;
	seal_context(site, id, ctx);
	return secrets_open(&cfg->secrets, sealed, ctx, out);
}

int
notify_resend(struct dctx *d, const char *id, char new_id[DOM_ID_MAX], struct derr *e)
{
	PGresult *res, *ins;
	struct buf text, html, stext, shtml;
	char msgid[MAIL_MSGID_MAX + 1], a[4][24];
	long long wall = (long long)time(NULL);
	bool has_html;
	int rc = -1;

	new_id[0] = '\0';
	if (cfg == NULL)
		return derr_set(e, DERR_INTERNAL, "internal_error", NULL,
		    "Mail is not set up in this process.");
	res = db_exec(d->db, STMT_MAIL_GET, (const char *[]){ d->site.id, id });
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "mail message", id);
	}
	buf_init(&text);
	buf_init(&html);
	buf_init(&stext);
	buf_init(&shtml);
	has_html = db_val(res, 0, MAIL_HTML) != NULL;
	if (open_part(d->site.id, id, db_val(res, 0, MAIL_TEXT), &text) != 0 ||
	    open_part(d->site.id, id, db_val(res, 0, MAIL_HTML), &html) != 0) {
		derr_set(e, DERR_CONFLICT, "message_unreadable", NULL,
		    "The message's body cannot be opened with the server keys in the secrets "
		    "file.");
		goto out;
	}
	if (dom_new_id("mo", new_id, e) != 0)
		goto out;
	if (new_message_id(d->site.id, new_id, msgid) != 0) {
		derr_set(e, DERR_INTERNAL, "internal_error", NULL, "No Message-ID could be made.");
		goto out;
	}
	if (seal(d->site.id, new_id, text.data, &stext, e) != 0 ||
	    (has_html && seal(d->site.id, new_id, html.data, &shtml, e) != 0))
		goto out;
	ins = db_exec(d->db, STMT_MAIL_INSERT, (const char *[]){ d->site.id, new_id,
	    db_val(res, 0, MAIL_TYPE), db_val(res, 0, MAIL_TEST), db_val(res, 0, MAIL_CUSTOMER),
	    db_val(res, 0, MAIL_EVENT), NULL, id, msgid, buf_lltoa(wall, a[0]),
	    db_val(res, 0, MAIL_FROM_NAME), db_val(res, 0, MAIL_FROM_ADDR),
	    db_val(res, 0, MAIL_REPLY_TO), db_val(res, 0, MAIL_TO_NAME),
	    db_val(res, 0, MAIL_TO_ADDR), db_val(res, 0, MAIL_CC), db_val(res, 0, MAIL_SUBJECT),
	    stext.data, has_html ? shtml.data : NULL, "pending", NULL, buf_lltoa(wall, a[1]),
	    buf_lltoa(d->now, a[2]), buf_lltoa(wall, a[3]) });
	if (ins == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(ins);
	ins = db_exec(d->db, STMT_NOTIFY, (const char *[]){ d->site.id });
	if (ins == NULL) {
		derr_db(e, d->db);
		goto out;
	}
	PQclear(ins);
	rc = 0;
out:
	if (rc != 0)
		new_id[0] = '\0';
	PQclear(res);
	buf_free(&text);
	buf_free(&html);
	buf_free(&stext);
	buf_free(&shtml);
	return rc;
}

/* ---- reading the outbox back ---- */

int
notify_compose(const char *site_id, PGresult *res, int row, struct buf *out,
    const char **from_addr, char *err, size_t errlen)
{
	struct mail_msg m;
	struct buf text, html;
	const char *id = db_val(res, row, MAIL_ID);
	int rc = -1;

	buf_init(&text);
	buf_init(&html);
	if (open_part(site_id, id, db_val(res, row, MAIL_TEXT), &text) != 0 ||
	    open_part(site_id, id, db_val(res, row, MAIL_HTML), &html) != 0) {
		snprintf(err, errlen, "the body cannot be opened with the server keys in the "
		    "secrets file");
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.from.name = db_val(res, row, MAIL_FROM_NAME);
	m.from.addr = db_val(res, row, MAIL_FROM_ADDR);
	/* Queued while no sender was configured: the one configured now. */
	if ((m.from.addr == NULL || m.from.addr[0] == '\0') && cfg != NULL)
		m.from.addr = cfg->mail_from_address;
	m.to.name = db_val(res, row, MAIL_TO_NAME);
	m.to.addr = db_val(res, row, MAIL_TO_ADDR);
	m.cc.addr = db_val(res, row, MAIL_CC);
	m.reply_to.addr = db_val(res, row, MAIL_REPLY_TO);
	m.subject = db_val(res, row, MAIL_SUBJECT);
	m.date = db_ll(res, row, MAIL_DATE, 0);
	m.message_id = db_val(res, row, MAIL_MESSAGE_ID);
	m.text = text.data;
	m.html = db_val(res, row, MAIL_HTML) != NULL ? html.data : NULL;
	m.extra[0] = (struct mail_header){ "Auto-Submitted", "auto-generated" };
	m.extra[1] = (struct mail_header){ "X-Portald-Type", db_val(res, row, MAIL_TYPE) };
	if (from_addr != NULL)
		*from_addr = m.from.addr;
	rc = mail_compose(&m, out, err, errlen);
out:
	buf_free(&text);
	buf_free(&html);
	return rc;
}

void
notify_write_message(struct jw *w, const char *site_id, PGresult *res, int row,
    bool with_body)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "id", db_val(res, row, MAIL_ID));
	jw_str(w, "object", "mail_message");
	jw_str(w, "type", db_val(res, row, MAIL_TYPE));
	jw_bool(w, "test", db_val(res, row, MAIL_TEST) && db_val(res, row, MAIL_TEST)[0] == 't');
	jw_str(w, "status", db_val(res, row, MAIL_STATUS));
	jw_str(w, "message_id", db_val(res, row, MAIL_MESSAGE_ID));
	jw_str(w, "customer_id", db_val(res, row, MAIL_CUSTOMER));
	jw_str(w, "event_id", db_val(res, row, MAIL_EVENT));
	jw_str(w, "resent_from", db_val(res, row, MAIL_RESENT_FROM));
	jw_str(w, "to", db_val(res, row, MAIL_TO_ADDR));
	jw_str(w, "to_name", db_val(res, row, MAIL_TO_NAME));
	jw_str(w, "cc", db_val(res, row, MAIL_CC));
	jw_str(w, "from", db_val(res, row, MAIL_FROM_ADDR));
	jw_str(w, "from_name", db_val(res, row, MAIL_FROM_NAME));
	jw_str(w, "reply_to", db_val(res, row, MAIL_REPLY_TO));
	jw_str(w, "subject", db_val(res, row, MAIL_SUBJECT));
	jw_int_text(w, "attempts", db_val(res, row, MAIL_ATTEMPTS));
	jw_int_text(w, "next_attempt_at", strcmp(db_val(res, row, MAIL_STATUS), "pending") == 0 ?
	    db_val(res, row, MAIL_NEXT) : NULL);
	jw_str(w, "last_error", db_val(res, row, MAIL_LAST_ERROR));
	jw_int_text(w, "last_smtp_code", db_val(res, row, MAIL_LAST_CODE));
	jw_int_text(w, "created_at", db_val(res, row, MAIL_CREATED));
	jw_int_text(w, "queued_at", db_val(res, row, MAIL_QUEUED));
	jw_int_text(w, "sent_at", db_val(res, row, MAIL_SENT_AT));
	jw_int_text(w, "date", db_val(res, row, MAIL_DATE));
	if (with_body) {
		struct buf part;
		const char *id = db_val(res, row, MAIL_ID);

		buf_init(&part);
		if (open_part(site_id, id, db_val(res, row, MAIL_TEXT), &part) == 0)
			jw_str(w, "text", part.data);
		else
			jw_null(w, "text");
		if (db_val(res, row, MAIL_HTML) != NULL &&
		    open_part(site_id, id, db_val(res, row, MAIL_HTML), &part) == 0)
			jw_str(w, "html", part.data);
		else
			jw_null(w, "html");
		buf_free(&part);
	}
	jw_obj_end(w);
}
