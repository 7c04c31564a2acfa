/* taxes.h: tax rates per site, which of them apply to a buyer (or the EU reverse charge
 * instead), and the one rounding rule every tax amount follows. */
#ifndef PORTALD_TAXES_H
#define PORTALD_TAXES_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "billing/domain.h"
#include "core/json.h"

#define TAX_MAX_RATES	8	/* rates that may apply to one buyer (STMT_TAXRATE_MATCH) */
#define TAX_PPM_ONE	1000000	/* rates are parts per million of the amount: 19% = 190000 */

/* The note a reverse-charge invoice and its credit notes carry. */
#define TAX_REVERSE_CHARGE_NOTE \
	"Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive " \
	"2006/112/EC)."

enum tax_treatment {
	TAX_NONE = 0,		/* no rate applies to the buyer */
	TAX_TAXED,		/* one or more rates apply */
	TAX_REVERSE_CHARGE	/* an EU business in another member state: no tax, a note */
};

struct tax_rate {
	char		 id[DOM_ID_MAX];	/* "" when the rate is gone (a copied tax line) */
	char		 name[64];
	long		 ppm;
	bool		 inclusive;
	char		 country[3], region[8];
};

/* The taxes of one document: its treatment and the rates applied to every line. */
struct tax_ctx {
	enum tax_treatment treatment;
	struct tax_rate	 rates[TAX_MAX_RATES];
	int		 n;
};

/* One line's (or one amount's) tax. amount is the price as charged: inclusive taxes are
 * inside it, exclusive ones are added. net = amount - inclusive tax; gross = amount +
 * exclusive tax; tax[i] belongs to rates[i]. */
struct tax_amounts {
	long long	 amount, net, gross, tax_total, excl;
	long long	 tax[TAX_MAX_RATES];
};

/*
 * The rounding rule, the only one: each rate's tax on each line is rounded half up (away
 * from zero; amounts are never negative) to the currency's minor unit. With inclusive
 * rates the net is amount * 1e6 / (1e6 + sum of inclusive ppm), rounded half up; their
 * taxes are each rate's share of the net, and the largest takes what rounding leaves, so
 * net + inclusive taxes is exactly the amount. Exclusive taxes are each rate on the net.
 */
void	taxes_line(const struct tax_ctx *t, long long amount, struct tax_amounts *out);
/* The other way, for an amount known with its tax (a refund, a credit capped by what the
 * invoice has left): each rate's tax is its share of gross, gross * ppm / (1e6 + sum of
 * all ppm), rounded half up; the amount is gross less the exclusive taxes, so gross is
 * exact. */
void	taxes_share(const struct tax_ctx *t, long long gross, struct tax_amounts *out);
/* round_half_up(a * b / c) for a, b >= 0 and c > 0, without overflow. */
long long taxes_muldiv(long long a, long long b, long long c);

/* "19", "7.375", "0.5": a percentage of 0 to 100 with up to four decimals, as ppm. */
int	taxes_parse_percentage(const char *s, long *ppm);
/* The reverse, without trailing zeros: 190000 -> "19", 73750 -> "7.375". */
void	taxes_format_percentage(long ppm, char out[24]);
const char *taxes_treatment_name(enum tax_treatment t);
enum tax_treatment taxes_treatment_parse(const char *s);

/*
 * The decision at issue, pure so it can be tested alone. The reverse charge applies when
 * the buyer has an eu_vat id of a member state B (validated when it was saved; XI is not
 * one) and the seller is known to be established elsewhere: its country, from its own
 * eu_vat id if it has one, else its address, is known and is not B. Otherwise the rates
 * of the buyer's billing country (and region) apply.
 */
struct tax_parties {
	const char	*buyer_tax_type, *buyer_tax_value;	/* NULL: none */
	const char	*seller_country;	/* from the address, or NULL */
	const char	*seller_tax_ids;	/* the legal details' JSON array, or NULL */
};
bool	taxes_reverse_charge(const struct tax_parties *p);

/* The taxes a new document of this customer gets now (the site's rules and the
 * customer's address and tax id as they stand). */
int	taxes_for_customer(struct dctx *d, const char *customer_id, struct tax_ctx *t,
	    struct derr *e);
/* The same from a row of STMT_INV_PARTIES (which invoices_raise reads anyway). */
int	taxes_from_parties(struct dctx *d, PGresult *parties, struct tax_ctx *t,
	    struct derr *e);
/* What amount costs the customer with the taxes that apply to it now (for next_amount). */
int	taxes_gross_for(struct dctx *d, const char *customer_id, long long amount,
	    long long *gross, struct derr *e);
/* The tax lines of an issued document (STMT_INV_TAXES or STMT_CN_TAXES rows) as a context
 * that taxes_line and taxes_share can apply again (for its credit notes). */
void	taxes_from_rows(PGresult *rows, enum tax_treatment treatment, struct tax_ctx *t);

/* Tax rates, through the API. */
extern const struct field tax_rate_create_fields[];
extern const struct field tax_rate_update_fields[];
/* body: validated against the tables above. id receives the new rate's id. */
int	taxes_rate_create(struct dctx *d, const cJSON *body, char id[DOM_ID_MAX],
	    struct derr *e);
int	taxes_rate_update(struct dctx *d, const char *id, const cJSON *body, struct derr *e);

#endif
