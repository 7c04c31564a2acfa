/* tmpl.h: HTML templates (a Mustache subset) over cJSON data; escaping by default. */
#ifndef PORTALD_TMPL_H
#define PORTALD_TMPL_H

#include <cjson/cJSON.h>

#include "core/buf.h"

/* Renders template text with data into out.
 *   {{name}}, {{a.b}}     value, HTML-escaped
 *   {{{name}}}            value raw: only for HTML the program built itself
 *   {{#name}}..{{/name}}  once if truthy, once per item if an array (item on the stack)
 *   {{^name}}..{{/name}}  once if falsy or empty
 *   {{! comment }}
 * Returns 0, or -1 with err filled on a malformed template. */
int	tmpl_render(const char *tpl, const cJSON *data, struct buf *out, char *err, size_t errlen);
/* The same for plain text (mail bodies, subjects): every value is inserted as it is,
 * {{name}} and {{{name}}} alike, since there is no markup to escape. */
int	tmpl_render_text(const char *tpl, const cJSON *data, struct buf *out, char *err,
	    size_t errlen);
/* Renders an embedded template by path ("templates/x.html"). */
int	tmpl_render_file(const char *path, const cJSON *data, struct buf *out, char *err,
	    size_t errlen);

#endif
