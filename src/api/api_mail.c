/* api_mail.c: /api/v1/mail_settings: which messages the site's customers get, the sender
 * name, reply-to and receipts copy (retrieve, update), and a test send. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "billing/notify.h"
#include "mail/mail_templates.h"

static const char *
check_mail_type(const char *v)
{
	return mail_type_known(v) ? NULL : "must be a message type (see the README)";
}

/* One boolean per message type a merchant may switch off (notify_switchable). */
static const struct field type_fields[] = {
	{ .name = "payment_failed", .type = FT_BOOL },
	{ .name = "action_required", .type = FT_BOOL },
	{ .name = "payment_receipt", .type = FT_BOOL },
	{ .name = "trial_ending", .type = FT_BOOL },
	{ .name = "card_expiring", .type = FT_BOOL },
	{ .name = "subscription_cancelled", .type = FT_BOOL },
	{ .name = "renewal_reminder", .type = FT_BOOL },
	{ .name = NULL }
};

const struct field mail_settings_fields[] = {
	{ .name = "types", .type = FT_OBJECT, .fields = type_fields },
	{ .name = "from_name", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "reply_to", .type = FT_STRING, .max_len = 254, .nullable = true,
	  .check = check_email },
	{ .name = "receipts_cc", .type = FT_STRING, .max_len = 254, .nullable = true,
	  .check = check_email },
	{ .name = "trial_ending_days", .type = FT_INT, .min = 1, .max = 30 },
	{ .name = "renewal_reminder_days", .type = FT_INT, .min = 1, .max = 60 },
	{ .name = NULL }
};

const struct field mail_test_fields[] = {
	{ .name = "to", .type = FT_STRING, .required = true, .max_len = 254,
	  .check = check_email },
	{ .name = "type", .type = FT_STRING, .max_len = 40, .check = check_mail_type },
	{ .name = NULL }
};

static void
answer_settings(struct ctx *c, const struct notify_settings *s)
{
	struct jw w;

	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	notify_write_settings(&w, s);
}

void
h_mail_settings_get(struct ctx *c)
{
	struct notify_settings s;
	struct derr e;

	if (notify_settings_get(&c->d, &s, &e) != 0)
		api_derr(c, &e);
	else
		answer_settings(c, &s);
}

/* A nullable text: NULL keeps it, "" clears it (JSON null or ""). */
static const char *
text_change(const cJSON *body, const char *name)
{
	if (!json_has(body, name))
		return NULL;
	return json_str(body, name) ? json_str(body, name) : "";
}

void
h_mail_settings_update(struct ctx *c)
{
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(c->body, "types");
	struct notify_settings_req r;
	struct notify_settings s;
	struct derr e;

	notify_settings_req_init(&r);
	for (int i = 0; notify_switchable[i] != NULL; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(types, notify_switchable[i]);

		if (cJSON_IsBool(v))
			r.enable[i] = cJSON_IsTrue(v) ? 1 : 0;
	}
	r.from_name = text_change(c->body, "from_name");
	r.reply_to = text_change(c->body, "reply_to");
	r.receipts_cc = text_change(c->body, "receipts_cc");
	r.trial_ending_days = (int)json_int(c->body, "trial_ending_days", 0);
	r.renewal_reminder_days = (int)json_int(c->body, "renewal_reminder_days", 0);
	if (notify_settings_update(&c->d, &r, &s, &e) != 0)
		api_derr(c, &e);
	else
		answer_settings(c, &s);
}

void
h_mail_test(struct ctx *c)
{
	char id[DOM_ID_MAX];
	struct derr e;
	struct jw w;
	PGresult *res;

	if (notify_test(&c->d, json_str(c->body, "to"), json_str(c->body, "type"), id,
	    &e) != 0) {
		api_derr(c, &e);
		return;
	}
	res = db_exec(c->db, STMT_MAIL_GET, (const char *[]){ c->site.id, id });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		api_db_error(c);
		return;
	}
	api_json_start(c, 200);
	jw_init(&w, &c->resp->body);
	notify_write_message(&w, c->site.id, res, 0, false);
	PQclear(res);
}
