/* customers.h: customers (details, tax id), their manual credit, and their entitlements:
 * what their serving subscriptions grant, with an event whenever that set changes. */
#ifndef PORTALD_CUSTOMERS_H
#define PORTALD_CUSTOMERS_H

#include <stdbool.h>

#include "billing/domain.h"

/* Fields to write: a NULL value with its set flag clears it. JSON values are serialised. */
struct customer_req {
	const char	*id;			/* create: chosen id or NULL */
	bool		 set_email, set_name, set_phone, set_company, set_address, set_tax_id;
	const char	*email, *name, *phone, *company;
	const char	*address_json;
	const char	*metadata_json;		/* merged: null values delete keys */
	const char	*tax_id_type, *tax_id_value;
};

/* What the portal lets a customer change of their own details (the merchant's API passes
 * NULL: no limit). A forbidden change is DERR_FORBIDDEN: "action_not_allowed" when the
 * details may not be edited at all, "email_not_editable" for a new email address. */
struct customer_policy {
	bool		 edit_allowed;
	bool		 email_editable;
};

/* Tax id types with a label, for forms (taxid.h checks them). Ends with code NULL. */
struct customer_tax_type {
	const char	*code;
	const char	*label;
};
extern const struct customer_tax_type customers_tax_types[];
/* The label of a tax id type, or NULL for a type not in the list. */
const char *customers_tax_type_label(const char *code);

/* Create and update check and normalise the tax id (billing/taxid.h): a type and a value
 * that do not check out are DERR_INVALID "tax_id_invalid", param "tax_id.value". */
int	customers_create(struct dctx *d, const struct customer_req *r, char id[DOM_ID_MAX],
	    struct derr *e);
int	customers_update(struct dctx *d, const char *id, const struct customer_req *r,
	    const struct customer_policy *pol, struct derr *e);
/* Refused (409) while the customer has invoices or subscriptions that still bill. */
int	customers_delete(struct dctx *d, const char *id, struct derr *e);
/* A manual grant of credit in a currency; id receives the ledger entry. */
int	customers_grant_credit(struct dctx *d, const char *id, long long amount,
	    const char *currency, const char *description, char entry[DOM_ID_MAX],
	    struct derr *e);
int	customers_exists(struct dctx *d, const char *id, struct derr *e);
/* Recomputes what the customer is entitled to; emits entitlements.updated when the set
 * differs from the one last announced. */
int	customers_entitlements_refresh(struct dctx *d, const char *id, struct derr *e);

#endif
