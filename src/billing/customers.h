/* customers.h: the customer's own details (name, company, tax id, phone, address, email)
 * as one domain operation shared by the API's customer update and the portal's billing
 * details page. */
#ifndef PORTALD_CUSTOMERS_H
#define PORTALD_CUSTOMERS_H

#include <stdbool.h>

#include "billing/billing.h"
#include "billing/portal_settings.h"

/* Tax id types as Stripe names them; format checks come with the invoice issue. */
struct tax_id_type {
	const char	*code;
	const char	*label;
};
extern const struct tax_id_type customer_tax_id_types[];	/* ends with code NULL */
const char *customer_tax_id_label(const char *code);

/* An update: for each part, set says it changes; a NULL or "" value clears it. */
struct customer_details {
	bool		 set_email, set_name, set_phone, set_company, set_address, set_tax_id;
	const char	*email;
	const char	*name;
	const char	*phone;
	const char	*company;
	const char	*address_json;		/* a validated billing_address object */
	const char	*tax_id_type;		/* with tax_id_value: both or neither */
	const char	*tax_id_value;
	const char	*metadata_json;		/* keys to merge, null values delete (API) */
};

/* Applies d to the customer and writes customer.updated with the customer object.
 * limits: the portal session's effective settings, which may forbid editing at all or
 * changing the email address; NULL for the merchant's API. Returns 0 with *out holding
 * the updated row (caller PQclears), or -1 with err filled: "resource_missing",
 * "feature_disabled", "email_not_editable", "parameter_invalid", or "database_error"
 * when the database failed. */
int	customer_update_details(struct bctx *b, const char *customer_id,
	    const struct customer_details *d, const struct portal_settings *limits,
	    PGresult **out, struct billing_error *err);

#endif
