/* router.h: matches method + path against a table of patterns like /api/v1/customers/:id. */
#ifndef PORTALD_ROUTER_H
#define PORTALD_ROUTER_H

#include "http/http.h"

struct route_pattern {
	enum http_method	 method;
	const char		*pattern;
};

enum router_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Finds the first pattern matching path; fills r->path_params with the ":" segments
 * (arena copies). HEAD matches GET routes. *index receives the match. Patterns are read
 * with a stride so callers can embed struct route_pattern first in a larger struct. */
enum router_result router_match(const void *table, size_t count, size_t stride,
	    struct http_request *r, size_t *index);

#endif
