/* form.h: HTML forms in the GOV.UK Design System's pattern: fields declared in a table,
 * validated on the server, answers kept on a re-render, an error summary linking to each
 * field, inline messages tied to their input with aria-describedby, autocomplete hints.
 * Works with JavaScript off: the portal ships none. */
#ifndef PORTALD_FORM_H
#define PORTALD_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http/http.h"

#define FORM_MAX_FIELDS	24

enum form_kind {
	FORM_TEXT, FORM_EMAIL, FORM_TEL, FORM_SELECT,
	FORM_RADIOS,	/* one of the options, each a radio button with its label and hint */
	FORM_TEXTAREA,
	FORM_DATE,	/* YYYY-MM-DD (the browser's date picker; typed where it has none) */
	FORM_NUMERIC,	/* digits typed on a number pad: card number, expiry, security code */
	FORM_CHECKBOX	/* one box; its value is "yes" when ticked */
};

struct form_option {
	const char	*value;
	const char	*label;
	const char	*hint;		/* under a radio button's label, or NULL */
};

struct form_field {
	const char	*name;		/* the POST name; the input's id is "f-<name>" */
	const char	*label;
	const char	*noun;		/* the field in error messages ("Your comment"), else
					 * the label */
	const char	*hint;		/* shown under the label, or NULL */
	enum form_kind	 kind;
	bool		 required;	/* else the label says "(optional)" */
	size_t		 max_len;	/* bytes; 0 = 255 */
	const char	*autocomplete;	/* "name", "email", "address-line1", ... */
	const char	*width;		/* a CSS width class ("w-20"), or NULL for full width */
	const char	*missing;	/* the message when a required field is empty */
	/* Further checks; returns a message ("Enter a ... like ...") or NULL. */
	const char	*(*check)(const char *value);
	/* FORM_SELECT: options(i) gives the i-th option until it returns value NULL. */
	struct form_option (*option)(size_t i);
	const char	*group;		/* fieldset legend: a new group starts a fieldset */
	bool		 secret;	/* never shown back (a card number): re-rendered empty */
	int		 rows;		/* FORM_TEXTAREA */
};

struct form {
	const struct form_field	*fields;	/* terminated by name NULL */
	int			 n;
	const char		*value[FORM_MAX_FIELDS];
	const char		*error[FORM_MAX_FIELDS];
	bool			 hidden[FORM_MAX_FIELDS];	/* not offered */
	const char		*fixed[FORM_MAX_FIELDS];	/* shown read-only, with this note */
	/* Options given at run time (plans, reasons): they replace the field's option(). */
	const struct form_option *opts[FORM_MAX_FIELDS];
	int			 n_opts[FORM_MAX_FIELDS];
	signed char		 required[FORM_MAX_FIELDS];	/* 1, -1: set at run time */
	int			 n_errors;
};

void	form_init(struct form *f, const struct form_field *fields);
/* An answer to show (from the database before the first POST). */
void	form_set(struct form *f, const char *name, const char *value);
/* The options of a select or radios field, known only at run time (kept by pointer). */
void	form_options(struct form *f, const char *name, const struct form_option *opts, int n);
/* Whether a field must be answered, decided at run time (a setting). */
void	form_require(struct form *f, const char *name, bool required);
/* Leaves a field out: not rendered, not read (a setting turned it off). */
void	form_hide(struct form *f, const char *name);
bool	form_hidden(const struct form *f, const char *name);
/* Shows a field's value read-only in its place, with a note saying why (not read either). */
void	form_fix(struct form *f, const char *name, const char *value, const char *note);
/* The answer, trimmed; "" when empty or hidden. */
const char *form_get(const struct form *f, const char *name);
/* Reads the posted answers (kept for the re-render, trimmed) and checks each visible
 * field: required, length, UTF-8 without control characters, select options, check().
 * Returns the number of errors. */
int	form_read(struct form *f, const struct http_kvs *posted, struct arena *a);
/* Adds an error to a field (a rule across fields, or one the domain reported). The first
 * error of a field wins. */
void	form_error(struct form *f, const char *name, const char *message);
/* The template data: "fields" (HTML the program built from templates/form_field.html,
 * escaped there) and "errors" ([{href, text}] for the summary), "has_errors". */
int	form_view(const struct form *f, cJSON *into, char *err, size_t errlen);

#endif
