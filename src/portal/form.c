/* form.c: the form library: each field is read, checked and rendered from its declaration,
 * so every form gets the same labels, hints, error messages and summary. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/tmpl.h"
#include "portal/form.h"

static int
index_of(const struct form *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return i;
	return -1;
}

void
form_init(struct form *f, const struct form_field *fields)
{
	memset(f, 0, sizeof(*f));
	f->fields = fields;
	while (fields[f->n].name != NULL && f->n < FORM_MAX_FIELDS)
		f->n++;
}

void
form_set(struct form *f, const char *name, const char *value)
{
	int i = index_of(f, name);

	if (i >= 0)
		f->value[i] = value;
}

void
form_options(struct form *f, const char *name, const struct form_option *opts, int n)
{
	int i = index_of(f, name);

	if (i < 0)
		return;
	f->opts[i] = opts;
	f->n_opts[i] = n;
}

/* Option k of field i: the run-time list, else the field's own. value NULL at the end. */
static struct form_option
option_at(const struct form *f, int i, size_t k)
{
	if (f->opts[i] != NULL)
		return k < (size_t)f->n_opts[i] ? f->opts[i][k] : (struct form_option){ NULL, NULL,
		    NULL };
	if (f->fields[i].option == NULL)
		return (struct form_option){ NULL, NULL, NULL };
	return f->fields[i].option(k);
}

void
form_require(struct form *f, const char *name, bool required)
{
	int i = index_of(f, name);

	if (i >= 0)
		f->required[i] = required ? 1 : -1;
}

static bool
is_required(const struct form *f, int i)
{
	return f->required[i] != 0 ? f->required[i] > 0 : f->fields[i].required;
}

void
form_hide(struct form *f, const char *name)
{
	int i = index_of(f, name);

	if (i >= 0)
		f->hidden[i] = true;
}

void
form_fix(struct form *f, const char *name, const char *value, const char *note)
{
	int i = index_of(f, name);

	if (i < 0)
		return;
	f->hidden[i] = true;
	f->value[i] = value;
	f->fixed[i] = note;
}

bool
form_hidden(const struct form *f, const char *name)
{
	int i = index_of(f, name);

	return i < 0 || f->hidden[i];
}

const char *
form_get(const struct form *f, const char *name)
{
	int i = index_of(f, name);

	return i < 0 || f->hidden[i] || f->value[i] == NULL ? "" : f->value[i];
}

void
form_error(struct form *f, const char *name, const char *message)
{
	int i = index_of(f, name);

	if (i < 0 || f->error[i] != NULL)
		return;
	f->error[i] = message;
	f->n_errors++;
}

/* Trims spaces at both ends (arena copy). */
static const char *
trim(struct arena *a, const char *v)
{
	const char *e;

	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	return arena_strndup(a, v, (size_t)(e - v));
}

/* UTF-8 without control characters; a text area may hold line breaks. */
static bool
printable(const char *v, bool lines)
{
	if (!json_utf8_valid(v, strlen(v)))
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
		if ((*p < 0x20 && !(lines && (*p == '\n' || *p == '\r' || *p == '\t'))) ||
		    *p == 0x7f)
			return false;
	return true;
}

static bool
is_option(const struct form *f, int i, const char *v)
{
	for (size_t k = 0;; k++) {
		struct form_option o = option_at(f, i, k);

		if (o.value == NULL)
			return false;
		if (strcmp(o.value, v) == 0)
			return true;
	}
}

static const char *
noun(const struct form_field *fd)
{
	return fd->noun != NULL ? fd->noun : fd->label;
}

int
form_read(struct form *f, const struct http_kvs *posted, struct arena *a)
{
	for (int i = 0; i < f->n; i++) {
		const struct form_field *fd = &f->fields[i];
		const char *raw = http_kvs_get(posted, fd->name);
		size_t max = fd->max_len ? fd->max_len : 255;
		char *msg;
		const char *v, *why;

		if (f->hidden[i])
			continue;
		v = f->value[i] = raw ? trim(a, raw) : "";
		msg = arena_alloc(a, 200);
		if (!printable(v, fd->kind == FORM_TEXTAREA)) {
			snprintf(msg, 200, "%s must not contain special characters%s", noun(fd),
			    fd->kind == FORM_TEXTAREA ? "" : " such as line breaks");
			f->value[i] = "";
		} else if (*v == '\0') {
			if (!is_required(f, i))
				continue;
			snprintf(msg, 200, "%s", fd->missing ? fd->missing : "This field is empty");
		} else if (strlen(v) > max)
			snprintf(msg, 200, "%s must be %zu characters or fewer", noun(fd), max);
		else if (fd->kind == FORM_CHECKBOX && strcmp(v, "yes") != 0)
			snprintf(msg, 200, "%s: tick the box or leave it empty", fd->label);
		else if ((fd->kind == FORM_SELECT || fd->kind == FORM_RADIOS) && !is_option(f, i, v))
			snprintf(msg, 200, fd->kind == FORM_RADIOS ? "%s" : "Select %s from the list",
			    fd->kind == FORM_RADIOS && fd->missing ? fd->missing : fd->label);
		else if (fd->check != NULL && (why = fd->check(v)) != NULL)
			snprintf(msg, 200, "%s", why);
		else
			continue;
		form_error(f, fd->name, msg);
	}
	return f->n_errors;
}

static const char *
input_type(enum form_kind k)
{
	switch (k) {
	case FORM_EMAIL: return "email";
	case FORM_TEL: return "tel";
	case FORM_DATE: return "date";
	case FORM_CHECKBOX: return "checkbox";
	default: return "text";
	}
}

int
form_view(const struct form *f, cJSON *into, char *err, size_t errlen)
{
	struct buf html;
	cJSON *errors = cJSON_AddArrayToObject(into, "errors");
	const char *group = NULL;
	int rc = 0;

	buf_init(&html);
	for (int i = 0; i < f->n && rc == 0; i++) {
		const struct form_field *fd = &f->fields[i];
		const char *v = f->value[i] ? f->value[i] : "";
		char id[80], ids[200] = "";
		cJSON *d;

		if (f->hidden[i] && f->fixed[i] == NULL)
			continue;
		d = cJSON_CreateObject();
		snprintf(id, sizeof(id), "f-%s", fd->name);
		if (fd->group != group) {
			if (group != NULL)
				cJSON_AddBoolToObject(d, "close_group", true);
			if (fd->group != NULL)
				cJSON_AddStringToObject(d, "open_group", fd->group);
			group = fd->group;
		}
		cJSON_AddStringToObject(d, "id", id);
		cJSON_AddStringToObject(d, "name", fd->name);
		cJSON_AddStringToObject(d, "label", fd->label);
		cJSON_AddBoolToObject(d, "optional", !is_required(f, i));
		cJSON_AddStringToObject(d, "value", fd->secret ? "" : v);
		if (f->fixed[i] != NULL) {
			cJSON_AddStringToObject(d, "fixed", f->fixed[i]);
			rc = tmpl_render_file("templates/form_field.html", d, &html, err, errlen);
			cJSON_Delete(d);
			continue;
		}
		if (fd->hint != NULL) {
			cJSON_AddStringToObject(d, "hint", fd->hint);
			snprintf(ids, sizeof(ids), "%s-hint", id);
		}
		if (f->error[i] != NULL) {
			cJSON *e = cJSON_CreateObject();
			char href[90];

			cJSON_AddStringToObject(d, "error", f->error[i]);
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s-error",
			    ids[0] ? " " : "", id);
			snprintf(href, sizeof(href), "#%s", id);
			cJSON_AddStringToObject(e, "href", href);
			cJSON_AddStringToObject(e, "text", f->error[i]);
			cJSON_AddItemToArray(errors, e);
		}
		if (ids[0] != '\0')
			cJSON_AddStringToObject(d, "describedby", ids);
		if (fd->autocomplete != NULL)
			cJSON_AddStringToObject(d, "autocomplete", fd->autocomplete);
		if (fd->width != NULL)
			cJSON_AddStringToObject(d, "width", fd->width);
		if (fd->kind == FORM_SELECT || fd->kind == FORM_RADIOS) {
			cJSON *opts = cJSON_AddArrayToObject(d, "options");

			cJSON_AddBoolToObject(d, fd->kind == FORM_SELECT ? "select" : "radios",
			    true);
			for (size_t k = 0;; k++) {
				struct form_option o = option_at(f, i, k);
				cJSON *oj;
				char oid[100];

				if (o.value == NULL)
					break;
				oj = cJSON_CreateObject();
				/* The first radio has the field's id: the error summary links there. */
				if (k == 0)
					snprintf(oid, sizeof(oid), "%s", id);
				else
					snprintf(oid, sizeof(oid), "%s-%zu", id, k + 1);
				cJSON_AddStringToObject(oj, "id", oid);
				cJSON_AddStringToObject(oj, "name", fd->name);
				cJSON_AddStringToObject(oj, "value", o.value);
				cJSON_AddStringToObject(oj, "label", o.label);
				if (o.hint != NULL)
					cJSON_AddStringToObject(oj, "item_hint", o.hint);
				cJSON_AddBoolToObject(oj, "selected", strcmp(o.value, v) == 0);
				cJSON_AddItemToArray(opts, oj);
			}
		} else if (fd->kind == FORM_TEXTAREA) {
			cJSON_AddBoolToObject(d, "textarea", true);
			cJSON_AddNumberToObject(d, "rows", fd->rows > 0 ? fd->rows : 4);
		} else if (fd->kind == FORM_CHECKBOX) {
			cJSON_AddBoolToObject(d, "checkbox", true);
			cJSON_AddBoolToObject(d, "checked", strcmp(v, "yes") == 0);
		} else {
			cJSON_AddStringToObject(d, "type", input_type(fd->kind));
			cJSON_AddBoolToObject(d, "nospell", fd->kind == FORM_EMAIL ||
			    fd->kind == FORM_NUMERIC);
			cJSON_AddBoolToObject(d, "numeric", fd->kind == FORM_NUMERIC);
		}
		rc = tmpl_render_file("templates/form_field.html", d, &html, err, errlen);
		cJSON_Delete(d);
	}
	if (group != NULL)
		buf_puts(&html, "</fieldset>\n");
	cJSON_AddStringToObject(into, "fields", html.data ? html.data : "");
	cJSON_AddBoolToObject(into, "has_errors", f->n_errors > 0);
	buf_free(&html);
	return rc;
}
