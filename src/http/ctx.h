/* ctx.h: the request context every API handler and portal page sees. */
#ifndef PORTALD_CTX_H
#define PORTALD_CTX_H

#include <cjson/cJSON.h>

#include "core/config.h"
#include "db/db.h"
#include "http/http.h"

struct site {
	char		id[48];
	char		mode[8];	/* "test" or "live" */
	long long	clock_offset;
};

struct ctx {
	const struct config	*cfg;
	struct db		*db;
	struct http_request	*req;
	struct http_response	*resp;
	struct site		 site;		/* API: the key's site */
	long long		 now;		/* the site's clock, Unix seconds */
	cJSON			*body;		/* validated JSON body, or NULL */
	const char		*log_path;	/* what the access log shows for the path */
};

#endif
