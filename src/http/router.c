/* router.c: path pattern matching with ":name" segments; no allocation but for params. */
#include <string.h>

#include "http/router.h"

/* Matches one pattern; on success stores params (pointers into the arena). */
static int
match_one(const char *pat, const char *path, struct http_request *r)
{
	int np = 0;

	while (*pat != '\0' && *path != '\0') {
		if (*pat == ':') {
			const char *seg_end = strchr(path, '/');
			size_t n = seg_end ? (size_t)(seg_end - path) : strlen(path);

			if (n == 0 || np == HTTP_MAX_PATH_PARAMS)
				return -1;
			r->path_params[np++] = arena_strndup(&r->arena, path, n);
			path += n;
			while (*pat != '\0' && *pat != '/')
				pat++;
			continue;
		}
		if (*pat != *path)
			return -1;
		pat++;
		path++;
	}
	if (*pat != '\0' || *path != '\0')
		return -1;
	r->n_path_params = np;
	return 0;
}

enum router_result
router_match(const void *table, size_t count, size_t stride, struct http_request *r,
    size_t *index)
{
	enum http_method m = r->method == HTTP_HEAD ? HTTP_GET : r->method;
	bool path_seen = false;

	for (size_t i = 0; i < count; i++) {
		const struct route_pattern *p =
		    (const struct route_pattern *)((const char *)table + i * stride);

		if (match_one(p->pattern, r->path, r) != 0)
			continue;
		if (p->method != m) {
			path_seen = true;
			continue;
		}
		*index = i;
		return ROUTE_FOUND;
	}
	r->n_path_params = 0;
	return path_seen ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}
