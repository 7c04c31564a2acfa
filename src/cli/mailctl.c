/* mailctl.c: portalctl mail: list a site's outbox newest first, show one message as it is
 * sent (headers and both parts), resend a copy, read and change the site's mail settings,
 * queue a test message, print the rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/notify.h"
#include "cli/mailctl.h"
#include "core/json.h"

const char mailctl_usage[] =
    "  mail list SITE [--status pending|sent|failed] [--limit N] [--starting-after ID]\n"
    "                                  the site's outbox, newest first\n"
    "  mail show SITE ID               one message: its headers as sent, text and HTML\n"
    "  mail resend SITE ID             queue a copy with a new Message-ID\n"
    "  mail settings SITE [--on T,T] [--off T,T] [--from-name NAME] [--reply-to ADDR]\n"
    "                [--receipts-cc ADDR] [--trial-ending-days N] [--renewal-reminder-days N]\n"
    "                                  show or change the site's mail settings (\"\" clears)\n"
    "  mail test SITE ADDRESS [--type TYPE]\n"
    "                                  queue a sample message to ADDRESS\n"
    "  mail rules                      which event or schedule sends which message\n";

static int
fail(const char *what, const char *detail)
{
	fprintf(stderr, "portalctl: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

static void
print(struct buf *b)
{
	fwrite(b->data, 1, b->len, stdout);
	fputc('\n', stdout);
	buf_free(b);
}

/* The site and its clock, as the administrator acting on it. */
static int
site_ctx(struct db *db, const char *site_id, struct site *site, struct dctx *d)
{
	PGresult *res = db_exec(db, STMT_SITE_GET, (const char *[]){ site_id });

	if (res == NULL)
		return fail("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fail("no such site", site_id);
	}
	memset(site, 0, sizeof(*site));
	snprintf(site->id, sizeof(site->id), "%s", db_val(res, 0, SITE_ID));
	snprintf(site->mode, sizeof(site->mode), "%s", db_val(res, 0, SITE_MODE));
	site->clock_offset = db_ll(res, 0, SITE_OFFSET, 0);
	PQclear(res);
	dctx_init(d, db, site, (long long)time(NULL) + site->clock_offset, ACTOR_ADMIN, NULL);
	return 0;
}

static int
cmd_list(struct db *db, const struct site *site, int argc, char **argv)
{
	const char *status = NULL, *after = NULL;
	long limit = 20;
	char lim[24];
	PGresult *res;
	struct buf b;
	struct jw w;
	int n;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
			status = argv[++i];
			if (strcmp(status, "pending") != 0 && strcmp(status, "sent") != 0 &&
			    strcmp(status, "failed") != 0)
				return fail("--status takes pending, sent or failed", status);
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;

			limit = strtol(argv[++i], &end, 10);
			if (*end != '\0' || limit < 1 || limit > 100)
				return fail("--limit takes 1 to 100", argv[i]);
		} else if (strcmp(argv[i], "--starting-after") == 0 && i + 1 < argc)
			after = argv[++i];
		else
			return fail("unknown option", argv[i]);
	}
	buf_lltoa(limit + 1, lim);
	if (after != NULL) {
		char seq[24];

		res = db_exec(db, STMT_MAIL_GET, (const char *[]){ site->id, after });
		if (res == NULL)
			return fail("database", db->errmsg);
		if (PQntuples(res) != 1) {
			PQclear(res);
			return fail("no such message", after);
		}
		snprintf(seq, sizeof(seq), "%s", db_val(res, 0, MAIL_SEQ));
		PQclear(res);
		res = db_exec(db, STMT_MAIL_LIST_AFTER, (const char *[]){ site->id, lim, status,
		    seq });
	} else
		res = db_exec(db, STMT_MAIL_LIST_FIRST, (const char *[]){ site->id, lim, status });
	if (res == NULL)
		return fail("database", db->errmsg);
	n = PQntuples(res);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "list");
	jw_arr_begin(&w, "data");
	for (int i = 0; i < n && i < limit; i++)
		notify_write_message(&w, site->id, res, i, false);
	jw_arr_end(&w);
	jw_bool(&w, "has_more", n > limit);
	jw_obj_end(&w);
	PQclear(res);
	print(&b);
	return 0;
}

/* One message as it goes out: the header fields exactly as composed (line ends as "\n"),
 * and the two parts as they are before encoding. */
static int
cmd_show(struct db *db, const struct site *site, const char *id)
{
	PGresult *res = db_exec(db, STMT_MAIL_GET, (const char *[]){ site->id, id });
	struct buf msg, hdr, b;
	struct jw w;
	char err[256];
	const char *end;

	if (res == NULL)
		return fail("database", db->errmsg);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fail("no such message", id);
	}
	buf_init(&msg);
	buf_init(&hdr);
	buf_init(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "object", "mail_message_detail");
	if (notify_compose(site->id, res, 0, &msg, NULL, err, sizeof(err)) == 0 &&
	    (end = strstr(msg.data, "\r\n\r\n")) != NULL) {
		for (const char *p = msg.data; p < end; p++)
			if (*p != '\r')
				buf_putc(&hdr, *p);
		buf_putc(&hdr, '\n');
		jw_str(&w, "headers", hdr.data);
		jw_null(&w, "compose_error");
	} else {
		jw_null(&w, "headers");
		jw_str(&w, "compose_error", err);
	}
	{
		/* the message with its opened parts, as one member */
		struct buf one;
		struct jw w1;

		buf_init(&one);
		jw_init(&w1, &one);
		notify_write_message(&w1, site->id, res, 0, true);
		jw_raw(&w, "message", one.data);
		buf_free(&one);
	}
	jw_obj_end(&w);
	PQclear(res);
	buf_free(&msg);
	buf_free(&hdr);
	print(&b);
	return 0;
}

static int
cmd_resend(struct db *db, struct dctx *d, const char *id)
{
	char new_id[DOM_ID_MAX];
	struct derr e;
	PGresult *res;
	struct buf b;
	struct jw w;

	if (db_begin(db) != 0)
		return fail("database", db->errmsg);
	if (notify_resend(d, id, new_id, &e) != 0) {
		db_rollback(db);
		return fail("cannot resend", e.message);
	}
	if (db_commit(db) != 0)
		return fail("database", db->errmsg);
	res = db_exec(db, STMT_MAIL_GET, (const char *[]){ d->site.id, new_id });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		return fail("cannot read the copy back", db->errmsg);
	}
	buf_init(&b);
	jw_init(&w, &b);
	notify_write_message(&w, d->site.id, res, 0, false);
	PQclear(res);
	print(&b);
	return 0;
}

/* --on/--off lists: every name must be a type the merchant may switch. */
static int
switches(const char *list, int value, struct notify_settings_req *r)
{
	char copy[512], *tok, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int found = -1;

		for (int i = 0; notify_switchable[i] != NULL; i++)
			if (strcmp(notify_switchable[i], tok) == 0)
				found = i;
		if (found < 0) {
			fprintf(stderr, "portalctl: '%s' cannot be switched; these can:", tok);
			for (int i = 0; notify_switchable[i] != NULL; i++)
				fprintf(stderr, " %s", notify_switchable[i]);
			fputc('\n', stderr);
			return -1;
		}
		r->enable[found] = value;
	}
	return 0;
}

static int
days(const char *v, int max, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end != '\0' || n < 1 || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

static int
cmd_settings(struct db *db, struct dctx *d, int argc, char **argv)
{
	struct notify_settings_req r;
	struct notify_settings s;
	struct derr e;
	struct buf b;
	struct jw w;
	bool change = argc > 0;

	notify_settings_req_init(&r);
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return fail("option needs a value", o);
		i++;
		if (strcmp(o, "--on") == 0 || strcmp(o, "--off") == 0) {
			if (switches(v, strcmp(o, "--on") == 0, &r) != 0)
				return 1;
		} else if (strcmp(o, "--from-name") == 0)
			r.from_name = v;
		else if (strcmp(o, "--reply-to") == 0)
			r.reply_to = v;
		else if (strcmp(o, "--receipts-cc") == 0)
			r.receipts_cc = v;
		else if (strcmp(o, "--trial-ending-days") == 0) {
			if (days(v, 30, &r.trial_ending_days) != 0)
				return fail("--trial-ending-days takes 1 to 30", v);
		} else if (strcmp(o, "--renewal-reminder-days") == 0) {
			if (days(v, 60, &r.renewal_reminder_days) != 0)
				return fail("--renewal-reminder-days takes 1 to 60", v);
		} else
			return fail("unknown option", o);
	}
	if (change) {
		if (db_begin(db) != 0)
			return fail("database", db->errmsg);
		if (notify_settings_update(d, &r, &s, &e) != 0) {
			db_rollback(db);
			return fail("cannot change the mail settings", e.message);
		}
		if (db_commit(db) != 0)
			return fail("database", db->errmsg);
	} else if (notify_settings_get(d, &s, &e) != 0)
		return fail("database", e.message);
	buf_init(&b);
	jw_init(&w, &b);
	notify_write_settings(&w, &s);
	print(&b);
	return 0;
}

static int
cmd_test(struct db *db, struct dctx *d, int argc, char **argv)
{
	const char *type = NULL;
	char id[DOM_ID_MAX];
	struct derr e;
	PGresult *res;
	struct buf b;
	struct jw w;

	if (argc < 1)
		return fail("mail test needs an address", NULL);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
			type = argv[++i];
		else
			return fail("unknown option", argv[i]);
	}
	if (db_begin(db) != 0)
		return fail("database", db->errmsg);
	if (notify_test(d, argv[0], type, id, &e) != 0) {
		db_rollback(db);
		return fail("cannot queue the test message", e.message);
	}
	if (db_commit(db) != 0)
		return fail("database", db->errmsg);
	res = db_exec(db, STMT_MAIL_GET, (const char *[]){ d->site.id, id });
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		return fail("cannot read the message back", db->errmsg);
	}
	buf_init(&b);
	jw_init(&w, &b);
	notify_write_message(&w, d->site.id, res, 0, false);
	PQclear(res);
	print(&b);
	return 0;
}

int
mailctl_main(struct db *db, const struct config *cfg, int argc, char **argv)
{
	struct site site;
	struct dctx d;
	const char *cmd;

	(void)cfg;
	if (argc < 1)
		return fail("mail needs a command (list, show, resend, settings, test, rules)",
		    NULL);
	cmd = argv[0];
	if (strcmp(cmd, "rules") == 0) {
		struct buf b;
		struct jw w;

		buf_init(&b);
		jw_init(&w, &b);
		notify_write_rules(&w);
		print(&b);
		return 0;
	}
	if (argc < 2)
		return fail("mail command needs a site", cmd);
	if (site_ctx(db, argv[1], &site, &d) != 0)
		return 1;
	if (strcmp(cmd, "list") == 0)
		return cmd_list(db, &site, argc - 2, argv + 2);
	if (strcmp(cmd, "show") == 0 && argc == 3)
		return cmd_show(db, &site, argv[2]);
	if (strcmp(cmd, "resend") == 0 && argc == 3)
		return cmd_resend(db, &d, argv[2]);
	if (strcmp(cmd, "settings") == 0)
		return cmd_settings(db, &d, argc - 2, argv + 2);
	if (strcmp(cmd, "test") == 0)
		return cmd_test(db, &d, argc - 2, argv + 2);
	return fail("unknown mail command or arguments", cmd);
}
