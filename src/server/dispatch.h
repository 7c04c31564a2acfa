/* dispatch.h: from a parsed request to a response: route, authenticate, validate, run. */
#ifndef PORTALD_DISPATCH_H
#define PORTALD_DISPATCH_H

#include "api/api.h"

/* Everything a worker keeps from one request to the next. */
struct worker_state {
	const struct config	*cfg;
	struct db		 db;
	struct http_request	 req;
	struct http_response	 resp;
	struct buf		 body;	/* request body, reused */
	struct buf		 out;	/* serialised response, reused */
};

/* Fills ws->resp for ws->req; *log_path receives what the access log may show. */
void	dispatch(struct worker_state *ws, const char **log_path);

#endif
