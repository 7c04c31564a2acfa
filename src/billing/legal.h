/* legal.h: the site's legal details: the seller as its invoices and credit notes name it
 * (legal name, address, tax ids, contact), the number prefixes of both series, the
 * footer and the paper size. Invoices freeze them when issued. */
#ifndef PORTALD_LEGAL_H
#define PORTALD_LEGAL_H

#include <cjson/cJSON.h>

#include "billing/domain.h"
#include "core/json.h"

#define LEGAL_MAX_TAX_IDS	5

/* The fields of GET/POST /api/v1/legal_details and `portalctl legal-details --set`. */
extern const struct field legal_fields[];

/* Updates the fields body names (validated against legal_fields; null clears one, a
 * missing one is kept). Tax ids are checked and written in canonical form; the two
 * prefixes must differ. Emits legal_details.updated. */
int	legal_update(struct dctx *d, const cJSON *body, struct derr *e);

#endif
