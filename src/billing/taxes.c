/* taxes.c: tax rates, the choice of rates (or the reverse charge) for a buyer, and the
 * rounding rule. The arithmetic is in parts per million and minor units, in integers. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "billing/events.h"
#include "billing/objects.h"
#include "billing/taxes.h"
#include "billing/taxid.h"

long long
taxes_muldiv(long long a, long long b, long long c)
{
	unsigned __int128 n;

	if (a <= 0 || b <= 0 || c <= 0)
		return 0;
	n = (unsigned __int128)a * (unsigned __int128)b;
	return (long long)((n * 2 + (unsigned __int128)c) / ((unsigned __int128)c * 2));
}

void
taxes_line(const struct tax_ctx *t, long long amount, struct tax_amounts *out)
{
	long long inc = 0, incl_total, sum = 0;
	int big = -1;

	memset(out, 0, sizeof(*out));
	out->amount = out->net = out->gross = amount;
	if (t == NULL || t->treatment != TAX_TAXED || t->n == 0 || amount <= 0)
		return;
	for (int i = 0; i < t->n; i++)
		if (t->rates[i].inclusive)
			inc += t->rates[i].ppm;
	out->net = inc > 0 ? taxes_muldiv(amount, TAX_PPM_ONE, TAX_PPM_ONE + inc) : amount;
	incl_total = amount - out->net;
	for (int i = 0; i < t->n; i++) {
		if (!t->rates[i].inclusive)
			continue;
		out->tax[i] = taxes_muldiv(out->net, t->rates[i].ppm, TAX_PPM_ONE);
		sum += out->tax[i];
		if (big < 0 || t->rates[i].ppm > t->rates[big].ppm)
			big = i;
	}
	if (big >= 0) {
		/* The largest inclusive rate takes what rounding left, so the inclusive taxes
		 * add up to exactly amount - net; never below zero. */
		long long deficit;

		out->tax[big] += incl_total - sum;
		deficit = out->tax[big] < 0 ? -out->tax[big] : 0;
		if (deficit > 0)
			out->tax[big] = 0;
		for (int i = 0; i < t->n && deficit > 0; i++) {
			long long take;

			if (!t->rates[i].inclusive || i == big)
				continue;
			take = out->tax[i] < deficit ? out->tax[i] : deficit;
			out->tax[i] -= take;
			deficit -= take;
		}
	}
	for (int i = 0; i < t->n; i++) {
		if (t->rates[i].inclusive)
			continue;
		out->tax[i] = taxes_muldiv(out->net, t->rates[i].ppm, TAX_PPM_ONE);
		out->excl += out->tax[i];
	}
	out->gross = amount + out->excl;
	out->tax_total = incl_total + out->excl;
}

void
taxes_share(const struct tax_ctx *t, long long gross, struct tax_amounts *out)
{
	long long all = 0, incl = 0;

	memset(out, 0, sizeof(*out));
	out->amount = out->net = out->gross = gross;
	if (t == NULL || t->treatment != TAX_TAXED || t->n == 0 || gross <= 0)
		return;
	for (int i = 0; i < t->n; i++)
		all += t->rates[i].ppm;
	for (int i = 0; i < t->n; i++) {
		out->tax[i] = taxes_muldiv(gross, t->rates[i].ppm, TAX_PPM_ONE + all);
		if (t->rates[i].inclusive)
			incl += out->tax[i];
		else
			out->excl += out->tax[i];
	}
	out->amount = gross - out->excl;
	out->net = out->amount - incl;
	out->tax_total = incl + out->excl;
}

int
taxes_parse_percentage(const char *s, long *ppm)
{
	long whole = 0, frac = 0;
	int nw = 0, nf = 0;
	const char *p = s;

	if (s == NULL)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++, nw++) {
		if (nw >= 3)
			return -1;
		whole = whole * 10 + (*p - '0');
	}
	if (nw == 0)
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nf++) {
			if (nf >= 4)
				return -1;
			frac = frac * 10 + (*p - '0');
		}
		if (nf == 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	for (; nf < 4; nf++)
		frac *= 10;
	*ppm = whole * 10000 + frac;
	return *ppm <= TAX_PPM_ONE ? 0 : -1;
}

void
taxes_format_percentage(long ppm, char out[24])
{
	long whole = ppm / 10000, frac = ppm % 10000;
	int digits = 4;

	if (frac == 0) {
		snprintf(out, 24, "%ld", whole);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out, 24, "%ld.%0*ld", whole, digits, frac);
}

static const char *const treatment_names[] = {
	[TAX_NONE] = "none", [TAX_TAXED] = "taxed", [TAX_REVERSE_CHARGE] = "reverse_charge",
};

const char *
taxes_treatment_name(enum tax_treatment t)
{
	return treatment_names[t];
}

enum tax_treatment
taxes_treatment_parse(const char *s)
{
	for (int i = TAX_NONE; i <= TAX_REVERSE_CHARGE; i++)
		if (s != NULL && strcmp(s, treatment_names[i]) == 0)
			return (enum tax_treatment)i;
	return TAX_NONE;
}

/* The seller's member state for the reverse charge: its own EU VAT id's, else the
 * country of its address. */
static bool
seller_state(const struct tax_parties *p, char cc[3])
{
	cJSON *ids = p->seller_tax_ids ? cJSON_Parse(p->seller_tax_ids) : NULL;
	const cJSON *id;
	bool found = false;

	cc[0] = '\0';
	cJSON_ArrayForEach(id, ids) {
		const char *type = json_str(id, "type"), *value = json_str(id, "value");

		if (type != NULL && value != NULL && taxid_is_eu_vat(type, value) &&
		    taxid_country(type, value, cc) != NULL) {
			found = true;
			break;
		}
	}
	cJSON_Delete(ids);
	if (!found && p->seller_country != NULL && strlen(p->seller_country) == 2) {
		snprintf(cc, 3, "%s", p->seller_country);
		found = true;
	}
	return found;
}

bool
taxes_reverse_charge(const struct tax_parties *p)
{
	char buyer[3], seller[3];

	if (p->buyer_tax_type == NULL || p->buyer_tax_value == NULL ||
	    !taxid_is_eu_vat(p->buyer_tax_type, p->buyer_tax_value) ||
	    taxid_country(p->buyer_tax_type, p->buyer_tax_value, buyer) == NULL ||
	    !taxid_eu_member(buyer))
		return false;
	if (!seller_state(p, seller))
		return false;
	return strcmp(seller, buyer) != 0;
}

static void
copy(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v ? v : "");
}

static void
rate_from_row(PGresult *res, int row, struct tax_rate *r)
{
	memset(r, 0, sizeof(*r));
	copy(r->id, sizeof(r->id), db_val(res, row, TXR_ID));
	copy(r->name, sizeof(r->name), db_val(res, row, TXR_NAME));
	r->ppm = (long)db_ll(res, row, TXR_PPM, 0);
	r->inclusive = strcmp(db_val(res, row, TXR_INCLUSIVE), "t") == 0;
	copy(r->country, sizeof(r->country), db_val(res, row, TXR_COUNTRY));
	copy(r->region, sizeof(r->region), db_val(res, row, TXR_REGION));
}

/* The buyer's region as the rates name it: "CA" from "ca", " CA " or "US-CA". Anything
 * that cannot be a region code matches only country-wide rates. */
static const char *
region_of(const char *country, const char *state, char out[8])
{
	size_t n;

	if (state == NULL || country == NULL)
		return NULL;
	if (strncmp(state, country, 2) == 0 && state[2] == '-')
		state += 3;
	n = strlen(state);
	if (n == 0 || n > 3)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)state[i]))
			return NULL;
		out[i] = (char)toupper((unsigned char)state[i]);
	}
	out[n] = '\0';
	return out;
}

int
taxes_from_parties(struct dctx *d, PGresult *res, struct tax_ctx *t, struct derr *e)
{
	struct tax_parties p = {
		db_val(res, 0, PARTY_BUYER_TAX_TYPE), db_val(res, 0, PARTY_BUYER_TAX_VALUE),
		db_val(res, 0, PARTY_SELLER_COUNTRY), db_val(res, 0, PARTY_SELLER_TAX_IDS),
	};
	const char *country = db_val(res, 0, PARTY_BUYER_COUNTRY);
	char region[8];
	PGresult *rates;

	memset(t, 0, sizeof(*t));
	t->treatment = TAX_NONE;
	if (taxes_reverse_charge(&p)) {
		t->treatment = TAX_REVERSE_CHARGE;
		return 0;
	}
	if (country == NULL || strcmp(db_val(res, 0, PARTY_SITE_TAXES), "t") != 0)
		return 0;
	rates = db_exec(d->db, STMT_TAXRATE_MATCH, (const char *[]){ d->site.id, country,
	    region_of(country, db_val(res, 0, PARTY_BUYER_REGION), region) });
	if (rates == NULL)
		return derr_db(e, d->db);
	for (int i = 0; i < PQntuples(rates) && t->n < TAX_MAX_RATES; i++)
		rate_from_row(rates, i, &t->rates[t->n++]);
	PQclear(rates);
	if (t->n > 0)
		t->treatment = TAX_TAXED;
	return 0;
}

int
taxes_for_customer(struct dctx *d, const char *customer_id, struct tax_ctx *t,
    struct derr *e)
{
	PGresult *res = db_exec(d->db, STMT_INV_PARTIES, (const char *[]){ d->site.id,
	    customer_id });
	int rc;

	memset(t, 0, sizeof(*t));
	if (res == NULL)
		return derr_db(e, d->db);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return derr_not_found(e, "customer", customer_id);
	}
	rc = taxes_from_parties(d, res, t, e);
	PQclear(res);
	return rc;
}

int
taxes_gross_for(struct dctx *d, const char *customer_id, long long amount, long long *gross,
    struct derr *e)
{
	struct tax_ctx t;
	struct tax_amounts a;

	*gross = amount;
	if (taxes_for_customer(d, customer_id, &t, e) != 0)
		return -1;
	taxes_line(&t, amount, &a);
	*gross = a.gross;
	return 0;
}

void
taxes_from_rows(PGresult *rows, enum tax_treatment treatment, struct tax_ctx *t)
{
	memset(t, 0, sizeof(*t));
	t->treatment = treatment;
	for (int i = 0; i < PQntuples(rows) && t->n < TAX_MAX_RATES; i++) {
		struct tax_rate *r = &t->rates[t->n++];

		copy(r->id, sizeof(r->id), db_val(rows, i, DTAX_RATE_ID));
		copy(r->name, sizeof(r->name), db_val(rows, i, DTAX_NAME));
		r->ppm = (long)db_ll(rows, i, DTAX_PPM, 0);
		r->inclusive = strcmp(db_val(rows, i, DTAX_INCLUSIVE), "t") == 0;
		copy(r->country, sizeof(r->country), db_val(rows, i, DTAX_COUNTRY));
		copy(r->region, sizeof(r->region), db_val(rows, i, DTAX_REGION));
	}
	if (t->treatment == TAX_TAXED && t->n == 0)
		t->treatment = TAX_NONE;
}

/* ---- tax rates through the API ---- */

static const char *
check_region(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 3)
		return "must be 1 to 3 letters or digits, the region's ISO 3166-2 code without "
		    "its country (\"CA\" for California, \"QC\" for Quebec)";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]))
			return "must be 1 to 3 letters or digits, the region's ISO 3166-2 code "
			    "without its country";
	return NULL;
}

static const char *
check_percentage(const char *v)
{
	long ppm;

	return taxes_parse_percentage(v, &ppm) == 0 ? NULL :
	    "must be a decimal string from \"0\" to \"100\" with at most four decimals, "
	    "such as \"19\" or \"7.375\"";
}

static const char *
check_country_required(const char *v)
{
	return v[0] == '\0' ? "must be an ISO 3166-1 alpha-2 code such as \"DE\"" :
	    check_country(v);
}

const struct field tax_rate_create_fields[] = {
	{ .name = "id", .type = FT_STRING, .max_len = 64, .check = check_id },
	{ .name = "display_name", .type = FT_STRING, .required = true, .max_len = 50 },
	{ .name = "description", .type = FT_STRING, .max_len = 200 },
	{ .name = "percentage", .type = FT_STRING, .required = true, .max_len = 12,
	  .check = check_percentage },
	{ .name = "inclusive", .type = FT_BOOL, .required = true },
	{ .name = "country", .type = FT_STRING, .required = true, .max_len = 2,
	  .check = check_country_required },
	{ .name = "region", .type = FT_STRING, .max_len = 3, .check = check_region,
	  .nullable = true },
	{ .name = NULL }
};

/* What a rate charges is fixed once made (issued invoices copy it anyway): to change a
 * percentage, make a new rate and deactivate the old one. */
const struct field tax_rate_update_fields[] = {
	{ .name = "display_name", .type = FT_STRING, .max_len = 50 },
	{ .name = "description", .type = FT_STRING, .max_len = 200, .nullable = true },
	{ .name = "active", .type = FT_BOOL },
	{ .name = NULL }
};

static int
emit(struct dctx *d, const char *type, const char *id, struct derr *e)
{
	struct buf data;
	int rc;

	buf_init(&data);
	rc = obj_render(d, OBJ_TAX_RATE, id, &data, e);
	if (rc == 0)
		rc = events_emit(d, type, id, data.data, e);
	buf_free(&data);
	return rc;
}

int
taxes_rate_create(struct dctx *d, const cJSON *body, char id[DOM_ID_MAX], struct derr *e)
{
	const char *given = json_str(body, "id"), *region = json_str(body, "region");
	char ppm_text[24], now[24], reg[8] = "";
	long ppm = 0;
	PGresult *res;
	int n;

	if (taxes_parse_percentage(json_str(body, "percentage"), &ppm) != 0)
		return derr_set(e, DERR_INVALID, "parameter_invalid", "percentage",
		    "percentage must be a decimal string from \"0\" to \"100\".");
	if (given != NULL)
		snprintf(id, DOM_ID_MAX, "%s", given);
	else if (dom_new_id("txr", id, e) != 0)
		return -1;
	if (region != NULL && *region != '\0')
		for (size_t i = 0; i < strlen(region) && i < sizeof(reg) - 1; i++)
			reg[i] = (char)toupper((unsigned char)region[i]);
	res = db_exec(d->db, STMT_TAXRATE_INSERT, (const char *[]){ d->site.id, id,
	    json_str(body, "display_name"), json_str(body, "description"),
	    buf_lltoa(ppm, ppm_text), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body,
	    "inclusive")) ? "true" : "false", json_str(body, "country"), reg[0] ? reg : NULL,
	    buf_lltoa(d->now, now) });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_set(e, DERR_CONFLICT, "resource_already_exists", "id",
		    "A tax rate with id '%s' already exists.", id);
	return emit(d, "tax_rate.created", id, e);
}

int
taxes_rate_update(struct dctx *d, const char *id, const cJSON *body, struct derr *e)
{
	const cJSON *active = cJSON_GetObjectItemCaseSensitive(body, "active");
	PGresult *res;
	int n;

	res = db_exec(d->db, STMT_TAXRATE_UPDATE, (const char *[]){ d->site.id, id,
	    json_str(body, "display_name"), json_has(body, "description") ? "true" : "false",
	    json_str(body, "description"), active == NULL ? NULL :
	    cJSON_IsTrue(active) ? "true" : "false" });
	if (res == NULL)
		return derr_db(e, d->db);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return derr_not_found(e, "tax_rate", id);
	return emit(d, "tax_rate.updated", id, e);
}
