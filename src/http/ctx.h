/* ctx.h: the request context every API handler and portal page sees. */
#ifndef PORTALD_CTX_H
#define PORTALD_CTX_H

#include <cjson/cJSON.h>

#include "billing/domain.h"
#include "billing/objects.h"
#include "core/config.h"
#include "db/db.h"
#include "http/http.h"

struct ctx {
	const struct config	*cfg;
	struct db		*db;
	struct http_request	*req;
	struct http_response	*resp;
	struct site		 site;		/* API: the key's site */
	char			 key_id[DOM_ID_MAX];	/* API: the key's public id */
	long long		 now;		/* the site's clock, Unix seconds */
	cJSON			*body;		/* validated JSON body, or NULL */
	const char		*log_path;	/* what the access log shows for the path */
	struct dctx		 d;		/* the domain's view: site, clock, actor */
	/* The object a mutation answers with, rendered by the dispatcher once the changes
	 * (and any gateway calls they queued) are done. */
	bool			 answer_set;
	enum obj_kind		 answer_kind;
	char			 answer_id[DOM_ID_MAX];
};

#endif
