/* currency.c: the ISO 4217 table, amounts formatted for people, and Stripe's amount rules. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/currency.h"

/*
 * ISO 4217 List One (current currencies and funds), as maintained by SIX for ISO,
 * with the changes up to 2026 that are known here: ZWG (Zimbabwe Gold, 2024) in
 * place of ZWL, XCG (Caribbean guilder, 2025-03-31) in place of ANG, SLE (the
 * redenominated leone, 1 SLE = 1000 SLL) in place of SLL, VES and VED both listed,
 * MRU and STN (the 2018 redenominations). Cross-checked against Debian's iso-codes
 * 4.15 (the 2023 list) for codes and names; the minor units are ISO's.
 *
 * Left out entirely: HRK (Croatia uses the euro since 2023-01-01), SLL, ZWL, and
 * every older withdrawn code (MRO, STD, VEF, BYR, LTL, LVL, EEK, ...).
 * Kept but not billable (CUR_WITHDRAWN), so amounts stored earlier still format:
 * ANG (replaced by XCG 2025-03-31, legal tender until 2025-06-30), BGN (Bulgaria
 * adopted the euro 2026-01-01), CUC (not issued since Cuba's 2021 unification, still
 * on List One in 2023). Funds (CUR_FUND) and the X codes for metals, SDR, bond
 * units, XSU, XUA, XTS and XXX (CUR_SPECIAL) are listed and never billable.
 *
 * symbol: the local symbol (CLDR's narrow symbol) where one is well known, else NULL.
 * prefix: the symbol CLDR's English locale writes where it differs from the code
 * (unambiguous without context: "$" is only USD, "CA$" is Canada's); currency_format
 * uses it, and the code otherwise.
 *
 * Sorted by code (currency_get searches it); a unit test checks the order.
 */
#define C(code, mu, kind, sym, pfx, succ, name) \
	{ code, mu, kind, sym, pfx, succ, name, (kind) == CUR_LEGAL }

static const struct currency currencies[] = {
	C("AED", 2, CUR_LEGAL, NULL, NULL, NULL, "UAE Dirham"),
	C("AFN", 2, CUR_LEGAL, NULL, NULL, NULL, "Afghani"),
	C("ALL", 2, CUR_LEGAL, NULL, NULL, NULL, "Lek"),
	C("AMD", 2, CUR_LEGAL, NULL, NULL, NULL, "Armenian Dram"),
	C("ANG", 2, CUR_WITHDRAWN, NULL, NULL, "XCG", "Netherlands Antillean Guilder"),
	C("AOA", 2, CUR_LEGAL, NULL, NULL, NULL, "Kwanza"),
	C("ARS", 2, CUR_LEGAL, "$", NULL, NULL, "Argentine Peso"),
	C("AUD", 2, CUR_LEGAL, "$", "A$", NULL, "Australian Dollar"),
	C("AWG", 2, CUR_LEGAL, NULL, NULL, NULL, "Aruban Florin"),
	C("AZN", 2, CUR_LEGAL, "₼", NULL, NULL, "Azerbaijan Manat"),
	C("BAM", 2, CUR_LEGAL, NULL, NULL, NULL, "Convertible Mark"),
	C("BBD", 2, CUR_LEGAL, NULL, NULL, NULL, "Barbados Dollar"),
	C("BDT", 2, CUR_LEGAL, "৳", NULL, NULL, "Taka"),
	C("BGN", 2, CUR_WITHDRAWN, NULL, NULL, "EUR", "Bulgarian Lev"),
	C("BHD", 3, CUR_LEGAL, NULL, NULL, NULL, "Bahraini Dinar"),
	C("BIF", 0, CUR_LEGAL, NULL, NULL, NULL, "Burundi Franc"),
	C("BMD", 2, CUR_LEGAL, NULL, NULL, NULL, "Bermudian Dollar"),
	C("BND", 2, CUR_LEGAL, NULL, NULL, NULL, "Brunei Dollar"),
	C("BOB", 2, CUR_LEGAL, NULL, NULL, NULL, "Boliviano"),
	C("BOV", 2, CUR_FUND, NULL, NULL, NULL, "Mvdol"),
	C("BRL", 2, CUR_LEGAL, "R$", "R$", NULL, "Brazilian Real"),
	C("BSD", 2, CUR_LEGAL, NULL, NULL, NULL, "Bahamian Dollar"),
	C("BTN", 2, CUR_LEGAL, NULL, NULL, NULL, "Ngultrum"),
	C("BWP", 2, CUR_LEGAL, NULL, NULL, NULL, "Pula"),
	C("BYN", 2, CUR_LEGAL, NULL, NULL, NULL, "Belarusian Ruble"),
	C("BZD", 2, CUR_LEGAL, NULL, NULL, NULL, "Belize Dollar"),
	C("CAD", 2, CUR_LEGAL, "$", "CA$", NULL, "Canadian Dollar"),
	C("CDF", 2, CUR_LEGAL, NULL, NULL, NULL, "Congolese Franc"),
	C("CHE", 2, CUR_FUND, NULL, NULL, NULL, "WIR Euro"),
	C("CHF", 2, CUR_LEGAL, NULL, NULL, NULL, "Swiss Franc"),
	C("CHW", 2, CUR_FUND, NULL, NULL, NULL, "WIR Franc"),
	C("CLF", 4, CUR_FUND, NULL, NULL, NULL, "Unidad de Fomento"),
	C("CLP", 0, CUR_LEGAL, "$", NULL, NULL, "Chilean Peso"),
	C("CNY", 2, CUR_LEGAL, "¥", "CN¥", NULL, "Yuan Renminbi"),
	C("COP", 2, CUR_LEGAL, "$", NULL, NULL, "Colombian Peso"),
	C("COU", 2, CUR_FUND, NULL, NULL, NULL, "Unidad de Valor Real"),
	C("CRC", 2, CUR_LEGAL, "₡", NULL, NULL, "Costa Rican Colon"),
	C("CUC", 2, CUR_WITHDRAWN, NULL, NULL, "CUP", "Peso Convertible"),
	C("CUP", 2, CUR_LEGAL, NULL, NULL, NULL, "Cuban Peso"),
	C("CVE", 2, CUR_LEGAL, NULL, NULL, NULL, "Cabo Verde Escudo"),
	C("CZK", 2, CUR_LEGAL, "Kč", NULL, NULL, "Czech Koruna"),
	C("DJF", 0, CUR_LEGAL, NULL, NULL, NULL, "Djibouti Franc"),
	C("DKK", 2, CUR_LEGAL, "kr", NULL, NULL, "Danish Krone"),
	C("DOP", 2, CUR_LEGAL, NULL, NULL, NULL, "Dominican Peso"),
	C("DZD", 2, CUR_LEGAL, NULL, NULL, NULL, "Algerian Dinar"),
	C("EGP", 2, CUR_LEGAL, "E£", NULL, NULL, "Egyptian Pound"),
	C("ERN", 2, CUR_LEGAL, NULL, NULL, NULL, "Nakfa"),
	C("ETB", 2, CUR_LEGAL, NULL, NULL, NULL, "Ethiopian Birr"),
	C("EUR", 2, CUR_LEGAL, "€", "€", NULL, "Euro"),
	C("FJD", 2, CUR_LEGAL, NULL, NULL, NULL, "Fiji Dollar"),
	C("FKP", 2, CUR_LEGAL, NULL, NULL, NULL, "Falkland Islands Pound"),
	C("GBP", 2, CUR_LEGAL, "£", "£", NULL, "Pound Sterling"),
	C("GEL", 2, CUR_LEGAL, "₾", NULL, NULL, "Lari"),
	C("GHS", 2, CUR_LEGAL, "₵", NULL, NULL, "Ghana Cedi"),
	C("GIP", 2, CUR_LEGAL, NULL, NULL, NULL, "Gibraltar Pound"),
	C("GMD", 2, CUR_LEGAL, NULL, NULL, NULL, "Dalasi"),
	C("GNF", 0, CUR_LEGAL, NULL, NULL, NULL, "Guinean Franc"),
	C("GTQ", 2, CUR_LEGAL, NULL, NULL, NULL, "Quetzal"),
	C("GYD", 2, CUR_LEGAL, NULL, NULL, NULL, "Guyana Dollar"),
	C("HKD", 2, CUR_LEGAL, "$", "HK$", NULL, "Hong Kong Dollar"),
	C("HNL", 2, CUR_LEGAL, NULL, NULL, NULL, "Lempira"),
	C("HTG", 2, CUR_LEGAL, NULL, NULL, NULL, "Gourde"),
	C("HUF", 2, CUR_LEGAL, "Ft", NULL, NULL, "Forint"),
	C("IDR", 2, CUR_LEGAL, "Rp", NULL, NULL, "Rupiah"),
	C("ILS", 2, CUR_LEGAL, "₪", "₪", NULL, "New Israeli Sheqel"),
	C("INR", 2, CUR_LEGAL, "₹", "₹", NULL, "Indian Rupee"),
	C("IQD", 3, CUR_LEGAL, NULL, NULL, NULL, "Iraqi Dinar"),
	C("IRR", 2, CUR_LEGAL, NULL, NULL, NULL, "Iranian Rial"),
	C("ISK", 0, CUR_LEGAL, "kr", NULL, NULL, "Iceland Krona"),
	C("JMD", 2, CUR_LEGAL, NULL, NULL, NULL, "Jamaican Dollar"),
	C("JOD", 3, CUR_LEGAL, NULL, NULL, NULL, "Jordanian Dinar"),
	C("JPY", 0, CUR_LEGAL, "¥", "¥", NULL, "Yen"),
	C("KES", 2, CUR_LEGAL, NULL, NULL, NULL, "Kenyan Shilling"),
	C("KGS", 2, CUR_LEGAL, NULL, NULL, NULL, "Som"),
	C("KHR", 2, CUR_LEGAL, "៛", NULL, NULL, "Riel"),
	C("KMF", 0, CUR_LEGAL, NULL, NULL, NULL, "Comorian Franc"),
	C("KPW", 2, CUR_LEGAL, NULL, NULL, NULL, "North Korean Won"),
	C("KRW", 0, CUR_LEGAL, "₩", "₩", NULL, "Won"),
	C("KWD", 3, CUR_LEGAL, NULL, NULL, NULL, "Kuwaiti Dinar"),
	C("KYD", 2, CUR_LEGAL, NULL, NULL, NULL, "Cayman Islands Dollar"),
	C("KZT", 2, CUR_LEGAL, "₸", NULL, NULL, "Tenge"),
	C("LAK", 2, CUR_LEGAL, "₭", NULL, NULL, "Lao Kip"),
	C("LBP", 2, CUR_LEGAL, NULL, NULL, NULL, "Lebanese Pound"),
	C("LKR", 2, CUR_LEGAL, NULL, NULL, NULL, "Sri Lanka Rupee"),
	C("LRD", 2, CUR_LEGAL, NULL, NULL, NULL, "Liberian Dollar"),
	C("LSL", 2, CUR_LEGAL, NULL, NULL, NULL, "Loti"),
	C("LYD", 3, CUR_LEGAL, NULL, NULL, NULL, "Libyan Dinar"),
	C("MAD", 2, CUR_LEGAL, NULL, NULL, NULL, "Moroccan Dirham"),
	C("MDL", 2, CUR_LEGAL, NULL, NULL, NULL, "Moldovan Leu"),
	C("MGA", 2, CUR_LEGAL, NULL, NULL, NULL, "Malagasy Ariary"),
	C("MKD", 2, CUR_LEGAL, NULL, NULL, NULL, "Denar"),
	C("MMK", 2, CUR_LEGAL, NULL, NULL, NULL, "Kyat"),
	C("MNT", 2, CUR_LEGAL, "₮", NULL, NULL, "Tugrik"),
	C("MOP", 2, CUR_LEGAL, NULL, NULL, NULL, "Pataca"),
	C("MRU", 2, CUR_LEGAL, NULL, NULL, NULL, "Ouguiya"),
	C("MUR", 2, CUR_LEGAL, NULL, NULL, NULL, "Mauritius Rupee"),
	C("MVR", 2, CUR_LEGAL, NULL, NULL, NULL, "Rufiyaa"),
	C("MWK", 2, CUR_LEGAL, NULL, NULL, NULL, "Malawi Kwacha"),
	C("MXN", 2, CUR_LEGAL, "$", "MX$", NULL, "Mexican Peso"),
	C("MXV", 2, CUR_FUND, NULL, NULL, NULL, "Mexican Unidad de Inversion (UDI)"),
	C("MYR", 2, CUR_LEGAL, "RM", NULL, NULL, "Malaysian Ringgit"),
	C("MZN", 2, CUR_LEGAL, NULL, NULL, NULL, "Mozambique Metical"),
	C("NAD", 2, CUR_LEGAL, NULL, NULL, NULL, "Namibia Dollar"),
	C("NGN", 2, CUR_LEGAL, "₦", NULL, NULL, "Naira"),
	C("NIO", 2, CUR_LEGAL, NULL, NULL, NULL, "Cordoba Oro"),
	C("NOK", 2, CUR_LEGAL, "kr", NULL, NULL, "Norwegian Krone"),
	C("NPR", 2, CUR_LEGAL, NULL, NULL, NULL, "Nepalese Rupee"),
	C("NZD", 2, CUR_LEGAL, "$", "NZ$", NULL, "New Zealand Dollar"),
	C("OMR", 3, CUR_LEGAL, NULL, NULL, NULL, "Rial Omani"),
	C("PAB", 2, CUR_LEGAL, NULL, NULL, NULL, "Balboa"),
	C("PEN", 2, CUR_LEGAL, NULL, NULL, NULL, "Sol"),
	C("PGK", 2, CUR_LEGAL, NULL, NULL, NULL, "Kina"),
	C("PHP", 2, CUR_LEGAL, "₱", "₱", NULL, "Philippine Peso"),
	C("PKR", 2, CUR_LEGAL, NULL, NULL, NULL, "Pakistan Rupee"),
	C("PLN", 2, CUR_LEGAL, "zł", NULL, NULL, "Zloty"),
	C("PYG", 0, CUR_LEGAL, "₲", NULL, NULL, "Guarani"),
	C("QAR", 2, CUR_LEGAL, NULL, NULL, NULL, "Qatari Rial"),
	C("RON", 2, CUR_LEGAL, "lei", NULL, NULL, "Romanian Leu"),
	C("RSD", 2, CUR_LEGAL, NULL, NULL, NULL, "Serbian Dinar"),
	C("RUB", 2, CUR_LEGAL, "₽", NULL, NULL, "Russian Ruble"),
	C("RWF", 0, CUR_LEGAL, NULL, NULL, NULL, "Rwanda Franc"),
	C("SAR", 2, CUR_LEGAL, NULL, NULL, NULL, "Saudi Riyal"),
	C("SBD", 2, CUR_LEGAL, NULL, NULL, NULL, "Solomon Islands Dollar"),
	C("SCR", 2, CUR_LEGAL, NULL, NULL, NULL, "Seychelles Rupee"),
	C("SDG", 2, CUR_LEGAL, NULL, NULL, NULL, "Sudanese Pound"),
	C("SEK", 2, CUR_LEGAL, "kr", NULL, NULL, "Swedish Krona"),
	C("SGD", 2, CUR_LEGAL, "$", NULL, NULL, "Singapore Dollar"),
	C("SHP", 2, CUR_LEGAL, NULL, NULL, NULL, "Saint Helena Pound"),
	C("SLE", 2, CUR_LEGAL, NULL, NULL, NULL, "Leone"),
	C("SOS", 2, CUR_LEGAL, NULL, NULL, NULL, "Somali Shilling"),
	C("SRD", 2, CUR_LEGAL, NULL, NULL, NULL, "Surinam Dollar"),
	C("SSP", 2, CUR_LEGAL, NULL, NULL, NULL, "South Sudanese Pound"),
	C("STN", 2, CUR_LEGAL, NULL, NULL, NULL, "Dobra"),
	C("SVC", 2, CUR_LEGAL, NULL, NULL, NULL, "El Salvador Colon"),
	C("SYP", 2, CUR_LEGAL, NULL, NULL, NULL, "Syrian Pound"),
	C("SZL", 2, CUR_LEGAL, NULL, NULL, NULL, "Lilangeni"),
	C("THB", 2, CUR_LEGAL, "฿", NULL, NULL, "Baht"),
	C("TJS", 2, CUR_LEGAL, NULL, NULL, NULL, "Somoni"),
	C("TMT", 2, CUR_LEGAL, NULL, NULL, NULL, "Turkmenistan New Manat"),
	C("TND", 3, CUR_LEGAL, NULL, NULL, NULL, "Tunisian Dinar"),
	C("TOP", 2, CUR_LEGAL, NULL, NULL, NULL, "Pa’anga"),
	C("TRY", 2, CUR_LEGAL, "₺", NULL, NULL, "Turkish Lira"),
	C("TTD", 2, CUR_LEGAL, NULL, NULL, NULL, "Trinidad and Tobago Dollar"),
	C("TWD", 2, CUR_LEGAL, "$", "NT$", NULL, "New Taiwan Dollar"),
	C("TZS", 2, CUR_LEGAL, NULL, NULL, NULL, "Tanzanian Shilling"),
	C("UAH", 2, CUR_LEGAL, "₴", NULL, NULL, "Hryvnia"),
	C("UGX", 0, CUR_LEGAL, NULL, NULL, NULL, "Uganda Shilling"),
	C("USD", 2, CUR_LEGAL, "$", "$", NULL, "US Dollar"),
	C("USN", 2, CUR_FUND, NULL, NULL, NULL, "US Dollar (Next day)"),
	C("UYI", 0, CUR_FUND, NULL, NULL, NULL, "Uruguay Peso en Unidades Indexadas (UI)"),
	C("UYU", 2, CUR_LEGAL, NULL, NULL, NULL, "Peso Uruguayo"),
	C("UYW", 4, CUR_FUND, NULL, NULL, NULL, "Unidad Previsional"),
	C("UZS", 2, CUR_LEGAL, NULL, NULL, NULL, "Uzbekistan Sum"),
	C("VED", 2, CUR_LEGAL, NULL, NULL, NULL, "Bolívar Soberano"),
	C("VES", 2, CUR_LEGAL, NULL, NULL, NULL, "Bolívar Soberano"),
	C("VND", 0, CUR_LEGAL, "₫", "₫", NULL, "Dong"),
	C("VUV", 0, CUR_LEGAL, NULL, NULL, NULL, "Vatu"),
	C("WST", 2, CUR_LEGAL, NULL, NULL, NULL, "Tala"),
	C("XAF", 0, CUR_LEGAL, NULL, NULL, NULL, "CFA Franc BEAC"),
	C("XAG", 0, CUR_SPECIAL, NULL, NULL, NULL, "Silver"),
	C("XAU", 0, CUR_SPECIAL, NULL, NULL, NULL, "Gold"),
	C("XBA", 0, CUR_SPECIAL, NULL, NULL, NULL, "Bond Markets Unit European Composite Unit (EURCO)"),
	C("XBB", 0, CUR_SPECIAL, NULL, NULL, NULL, "Bond Markets Unit European Monetary Unit (E.M.U.-6)"),
	C("XBC", 0, CUR_SPECIAL, NULL, NULL, NULL, "Bond Markets Unit European Unit of Account 9 (E.U.A.-9)"),
	C("XBD", 0, CUR_SPECIAL, NULL, NULL, NULL, "Bond Markets Unit European Unit of Account 17 (E.U.A.-17)"),
	C("XCD", 2, CUR_LEGAL, "$", "EC$", NULL, "East Caribbean Dollar"),
	C("XCG", 2, CUR_LEGAL, NULL, NULL, NULL, "Caribbean Guilder"),
	C("XDR", 0, CUR_SPECIAL, NULL, NULL, NULL, "SDR (Special Drawing Right)"),
	C("XOF", 0, CUR_LEGAL, NULL, NULL, NULL, "CFA Franc BCEAO"),
	C("XPD", 0, CUR_SPECIAL, NULL, NULL, NULL, "Palladium"),
	C("XPF", 0, CUR_LEGAL, NULL, NULL, NULL, "CFP Franc"),
	C("XPT", 0, CUR_SPECIAL, NULL, NULL, NULL, "Platinum"),
	C("XSU", 0, CUR_SPECIAL, NULL, NULL, NULL, "Sucre"),
	C("XTS", 0, CUR_SPECIAL, NULL, NULL, NULL, "Codes specifically reserved for testing purposes"),
	C("XUA", 0, CUR_SPECIAL, NULL, NULL, NULL, "ADB Unit of Account"),
	C("XXX", 0, CUR_SPECIAL, NULL, NULL, NULL, "The codes assigned for transactions where no currency is involved"),
	C("YER", 2, CUR_LEGAL, NULL, NULL, NULL, "Yemeni Rial"),
	C("ZAR", 2, CUR_LEGAL, "R", NULL, NULL, "Rand"),
	C("ZMW", 2, CUR_LEGAL, NULL, NULL, NULL, "Zambian Kwacha"),
	C("ZWG", 2, CUR_LEGAL, NULL, NULL, NULL, "Zimbabwe Gold"),
};
#undef C

#define NCURRENCIES	(sizeof(currencies) / sizeof(currencies[0]))

static int
currency_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct currency *)elem)->code);
}

const struct currency *
currency_get(const char *code)
{
	if (code == NULL || strlen(code) != 3)
		return NULL;
	for (int i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			return NULL;
	return bsearch(code, currencies, NCURRENCIES, sizeof(currencies[0]), currency_cmp);
}

const struct currency *
currency_at(size_t i)
{
	return i < NCURRENCIES ? &currencies[i] : NULL;
}

static const unsigned long long pow10u[] = { 1, 10, 100, 1000, 10000 };

int
currency_format(long long minor, const char *code, char *out, size_t n)
{
	const struct currency *c = currency_get(code);
	char digits[40], frac[8];
	unsigned long long mag, major, p;
	size_t len = 0;
	int k = 0, w;

	if (n > 0)
		out[0] = '\0';
	if (c == NULL || n == 0)
		return -1;
	/* The magnitude of LLONG_MIN does not fit a long long; it fits unsigned. */
	mag = minor < 0 ? (unsigned long long)(-(minor + 1)) + 1 : (unsigned long long)minor;
	p = pow10u[c->minor_units];
	major = mag / p;
	/* Major units right to left, a comma before every third digit after the first. */
	do {
		if (k > 0 && k % 3 == 0)
			digits[len++] = ',';
		digits[len++] = (char)('0' + major % 10);
		major /= 10;
		k++;
	} while (major > 0);
	for (size_t i = 0; i < len / 2; i++) {
		char t = digits[i];

		digits[i] = digits[len - 1 - i];
		digits[len - 1 - i] = t;
	}
	digits[len] = '\0';
	frac[0] = '\0';
	if (c->minor_units > 0) {
		unsigned long long f = mag % p;

		frac[0] = '.';
		for (int i = c->minor_units; i > 0; i--) {
			frac[i] = (char)('0' + f % 10);
			f /= 10;
		}
		frac[c->minor_units + 1] = '\0';
	}
	w = snprintf(out, n, "%s%s%s%s%s", minor < 0 ? "-" : "",
	    c->prefix != NULL ? c->prefix : c->code, c->prefix != NULL ? "" : " ", digits, frac);
	if (w < 0 || (size_t)w >= n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Stripe's amount rules, from https://docs.stripe.com/currencies ("Specify amounts in
 * API requests": zero-decimal currencies, three-decimal currencies, special cases),
 * as published in 2025-2026. Every Stripe amount is an integer in Stripe's unit for
 * the currency, 10^-exponent of a major unit, and must be a multiple of step:
 *
 * - Zero-decimal (amount = whole units): BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND
 *   VUV XAF XOF XPF. ISO gives MGA two decimals, so MGA amounts must be whole ariary.
 * - Three-decimal (BHD JOD KWD OMR TND): thousandths, and "these API calls require the
 *   least-significant (last) digit to be 0" (the page's example: 5.124 KWD must be
 *   sent as 5120 or 5130). Portald refuses rather than rounds: rounding a charge is a
 *   billing decision the caller makes, not a transport detail.
 * - ISK: "ISK transitioned to a zero-decimal currency, but backward compatibility
 *   requires you to represent it as a two-decimal value, where the decimal amount is
 *   always 00. For example, to charge 5 ISK, provide an amount value of 500."
 * - UGX: the same words as ISK (5 UGX is 500). The page also still lists UGX among
 *   the zero-decimal currencies; the special case is the more specific statement and
 *   its example is explicit, so it wins here. A test pins this choice.
 * - HUF and TWD: charged as two-decimal amounts like any other currency; only manual
 *   payouts must be whole units (divisible by 100): payout_step.
 * - Everything else with ISO's two decimals: two decimals. IQD and LYD (ISO three
 *   decimals) appear nowhere on the page, so no Stripe unit is known and they are
 *   refused rather than guessed.
 * Maximum: "12 digits for most card payments, for a maximum of 999,999,999,999".
 */
struct stripe_rule {
	const char	*code;
	int		 exponent;
	int		 step;
	int		 payout_step;
};

static const struct stripe_rule stripe_rules[] = {
	{ "BHD", 3, 10, 10 },
	{ "BIF", 0, 1, 1 },
	{ "CLP", 0, 1, 1 },
	{ "DJF", 0, 1, 1 },
	{ "GNF", 0, 1, 1 },
	{ "HUF", 2, 1, 100 },
	{ "ISK", 2, 100, 100 },
	{ "JOD", 3, 10, 10 },
	{ "JPY", 0, 1, 1 },
	{ "KMF", 0, 1, 1 },
	{ "KRW", 0, 1, 1 },
	{ "KWD", 3, 10, 10 },
	{ "MGA", 0, 1, 1 },
	{ "OMR", 3, 10, 10 },
	{ "PYG", 0, 1, 1 },
	{ "RWF", 0, 1, 1 },
	{ "TND", 3, 10, 10 },
	{ "TWD", 2, 1, 100 },
	{ "UGX", 2, 100, 100 },
	{ "VND", 0, 1, 1 },
	{ "VUV", 0, 1, 1 },
	{ "XAF", 0, 1, 1 },
	{ "XOF", 0, 1, 1 },
	{ "XPF", 0, 1, 1 },
};

#define STRIPE_MAX_AMOUNT	999999999999LL

/* Stripe's rule for a billable currency: from the table, or two decimals by default. */
static int
stripe_rule(const struct currency *c, struct stripe_rule *r)
{
	for (size_t i = 0; i < sizeof(stripe_rules) / sizeof(stripe_rules[0]); i++)
		if (strcmp(stripe_rules[i].code, c->code) == 0) {
			*r = stripe_rules[i];
			return 0;
		}
	if (c->minor_units != 2)
		return -1;
	r->code = c->code;
	r->exponent = 2;
	r->step = 1;
	r->payout_step = 1;
	return 0;
}

static const struct currency *
stripe_currency(const char *code, struct stripe_rule *r, char *err, size_t errlen)
{
	const struct currency *c = currency_get(code);

	if (c == NULL) {
		snprintf(err, errlen, "'%s' is not an ISO 4217 currency code", code ? code : "");
		return NULL;
	}
	if (c->kind == CUR_WITHDRAWN) {
		snprintf(err, errlen, "%s was replaced by %s and cannot be charged", c->code,
		    c->successor);
		return NULL;
	}
	if (!c->billable) {
		snprintf(err, errlen, "%s is a fund or special code and cannot be charged",
		    c->code);
		return NULL;
	}
	if (stripe_rule(c, r) != 0) {
		snprintf(err, errlen, "Stripe does not document how to send %s amounts "
		    "(%d decimals in ISO 4217)", c->code, c->minor_units);
		return NULL;
	}
	return c;
}

int
currency_stripe_amount(const char *code, long long minor, long long *out, char *err,
    size_t errlen)
{
	const struct currency *c;
	struct stripe_rule r;
	long long v, p;
	char shown[CURRENCY_FMT_MAX];

	if ((c = stripe_currency(code, &r, err, errlen)) == NULL)
		return -1;
	if (minor < 0) {
		snprintf(err, errlen, "%s: a Stripe amount cannot be negative", c->code);
		return -1;
	}
	currency_format(minor, c->code, shown, sizeof(shown));
	if (r.exponent >= c->minor_units) {
		p = (long long)pow10u[r.exponent - c->minor_units];
		if (minor > STRIPE_MAX_AMOUNT / p) {
			snprintf(err, errlen, "%s: %s is more than Stripe's 12-digit maximum",
			    c->code, shown);
			return -1;
		}
		v = minor * p;
	} else {
		p = (long long)pow10u[c->minor_units - r.exponent];
		if (minor % p != 0) {
			snprintf(err, errlen, "%s: Stripe charges whole units only; %s is not "
			    "a whole amount", c->code, shown);
			return -1;
		}
		v = minor / p;
	}
	if (v % r.step != 0) {
		if (r.exponent == 3)
			snprintf(err, errlen, "%s: Stripe needs three-decimal amounts to end in "
			    "0; %s cannot be charged exactly", c->code, shown);
		else
			snprintf(err, errlen, "%s: Stripe charges whole units only; %s is not "
			    "a whole amount", c->code, shown);
		return -1;
	}
	if (v > STRIPE_MAX_AMOUNT) {
		snprintf(err, errlen, "%s: %s is more than Stripe's 12-digit maximum", c->code,
		    shown);
		return -1;
	}
	*out = v;
	return 0;
}

int
currency_stripe_to_minor(const char *code, long long stripe_amount, long long *out,
    char *err, size_t errlen)
{
	const struct currency *c;
	struct stripe_rule r;
	long long p;

	if ((c = stripe_currency(code, &r, err, errlen)) == NULL)
		return -1;
	if (stripe_amount < 0 || stripe_amount > STRIPE_MAX_AMOUNT) {
		snprintf(err, errlen, "%s: Stripe amount %lld is out of range", c->code,
		    stripe_amount);
		return -1;
	}
	if (c->minor_units >= r.exponent) {
		/* At most 12 digits times 10^2 (MGA): far inside a long long. */
		*out = stripe_amount * (long long)pow10u[c->minor_units - r.exponent];
		return 0;
	}
	p = (long long)pow10u[r.exponent - c->minor_units];
	if (stripe_amount % p != 0) {
		snprintf(err, errlen, "%s: Stripe amount %lld is not a whole number of %s "
		    "minor units", c->code, stripe_amount, c->code);
		return -1;
	}
	*out = stripe_amount / p;
	return 0;
}

int
currency_stripe_payout_step(const char *code)
{
	const struct currency *c = currency_get(code);
	struct stripe_rule r;

	if (c == NULL || !c->billable || stripe_rule(c, &r) != 0)
		return 0;
	return r.payout_step;
}
