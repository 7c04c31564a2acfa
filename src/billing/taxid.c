/* taxid.c: offline format and check-digit validation of tax ids, by Stripe's types. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "billing/taxid.h"
#include "core/json.h"

/*
 * Sources of the rules: each authority's published format (VIES's per-state formats
 * for eu_vat; HMRC's mod 97 and 9755 for GB; the Swiss UID ordinance's mod 11; the
 * ATO's ABN mod 89; CRA's Luhn for BNs; the IRS campus prefixes for EINs; GSTN's
 * base-36 check; Receita Federal's CNPJ including the alphanumeric CNPJ of 2026;
 * the NTA's corporate number), cross-checked during development against
 * python-stdnum 1.18 (Debian's python3-stdnum).
 */

enum { V_OK, V_FORMAT, V_CHECK };

#define BADCHECK	"%s: the check digit does not match"

static int	fail(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
isdig(char c)
{
	return c >= '0' && c <= '9';
}

static bool
isup(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
digits(const char *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (!isdig(s[i]))
			return false;
	return to > from;
}

static int
dv(char c)
{
	return c - '0';
}

/* Luhn mod 36 (GSTIN): the check character makes the checksum 0. */
static bool
luhn36(const char *s, size_t n)
{
	static const char *a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(a, s[n - 1 - i]);
		int v;

		if (p == NULL || *p == '\0')
			return false;
		v = (int)(p - a) * (i % 2 == 1 ? 2 : 1);
		sum += v / 36 + v % 36;
	}
	return sum % 36 == 0;
}

/* ISO 7064 MOD 11,10 over n digits, the last being the check digit (DE, HR). */
static bool
mod11_10(const char *s, size_t n)
{
	int p = 10;

	for (size_t i = 0; i < n - 1; i++) {
		int t = (dv(s[i]) + p) % 10;

		p = (t == 0 ? 10 : t) * 2 % 11;
	}
	return (11 - p) % 10 == dv(s[n - 1]);
}

/* Sum of weights[i] * digit i. */
static int
wsum(const char *s, const int *w, size_t n)
{
	int sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += w[i] * dv(s[i]);
	return sum;
}

/* Non-negative remainder. */
static int
pmod(int a, int m)
{
	return ((a % m) + m) % m;
}

/* A string of digits modulo m, of any length. */
static int
strmod(const char *s, size_t n, int m)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		r = (r * 10 + dv(s[i])) % m;
	return r;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

/* A Czech or Slovak birth number (rodne cislo): yymmdd (women's months + 50, and
 * + 20 for the extra series) and 3 digits before 1954, or 4 digits since, the ten
 * digits then divisible by 11 (before 1985 a remainder of 10 may be written 0). */
static int
birth_number(const char *b, size_t n)
{
	int y = 1900 + dv(b[0]) * 10 + dv(b[1]);
	int m = (dv(b[2]) * 10 + dv(b[3])) % 50 % 20, d = dv(b[4]) * 10 + dv(b[5]), c;

	if (n == 9) {
		if (y >= 1980)
			y -= 100;
		if (y > 1953)
			return V_FORMAT;
	} else if (y < 1954)
		y += 100;
	if (!valid_date(y, m, d))
		return V_FORMAT;
	if (n == 9)
		return V_OK;
	c = strmod(b, 9, 11);
	if (y < 1985)
		c %= 10;
	return c == dv(b[9]) ? V_OK : V_CHECK;
}

/* -------------------------------------------------------------------------- */
/* EU member states (and XI): the body after the two-letter prefix. */

static int
vat_at(char *b, size_t n)
{
	int sum = 0;

	if (n != 9 || b[0] != 'U' || !digits(b, 1, 9))
		return V_FORMAT;
	for (size_t i = 0; i < 7; i++) {
		int d = dv(b[1 + i]) * (i % 2 == 1 ? 2 : 1);

		sum += d / 10 + d % 10;
	}
	return (10 - (sum + 4) % 10) % 10 == dv(b[8]) ? V_OK : V_CHECK;
}

static int
vat_be(char *b, size_t n)
{
	if (n != 10 || !digits(b, 0, 10) || (b[0] != '0' && b[0] != '1'))
		return V_FORMAT;
	return (strmod(b, 8, 97) + strmod(b + 8, 2, 100)) % 97 == 0 ? V_OK : V_CHECK;
}

static int
vat_bg(char *b, size_t n)
{
	static const int egn[] = { 2, 4, 8, 5, 10, 9, 7, 3, 6 };
	static const int pnf[] = { 21, 19, 17, 13, 11, 9, 7, 3, 1 };
	static const int oth[] = { 4, 3, 2, 7, 6, 5, 4, 3, 2 };
	int c = 0;

	if ((n != 9 && n != 10) || !digits(b, 0, n))
		return V_FORMAT;
	if (n == 9) {
		for (int i = 0; i < 8; i++)
			c += (i + 1) * dv(b[i]);
		if (c % 11 == 10) {
			c = 0;
			for (int i = 0; i < 8; i++)
				c += (i + 3) * dv(b[i]);
		}
		return c % 11 % 10 == dv(b[8]) ? V_OK : V_CHECK;
	}
	/* Ten digits: a person's EGN (yymmdd, months + 20 before 1900, + 40 since 2000),
	 * a foreigner's PNF, or another entity. */
	{
		int y = 1900 + dv(b[0]) * 10 + dv(b[1]), m = dv(b[2]) * 10 + dv(b[3]);

		if (m > 40)
			y += 100, m -= 40;
		else if (m > 20)
			y -= 100, m -= 20;
		if (valid_date(y, m, dv(b[4]) * 10 + dv(b[5])) &&
		    wsum(b, egn, 9) % 11 % 10 == dv(b[9]))
			return V_OK;
	}
	if (wsum(b, pnf, 9) % 10 == dv(b[9]) ||
	    pmod(11 - wsum(b, oth, 9), 11) == dv(b[9]))
		return V_OK;
	return V_CHECK;
}

static int
vat_cy(char *b, size_t n)
{
	static const int tr[] = { 1, 0, 5, 7, 9, 13, 15, 17, 19, 21 };
	int sum = 0;

	if (n != 9 || !digits(b, 0, 8) || !isup(b[8]) || (b[0] == '1' && b[1] == '2'))
		return V_FORMAT;
	for (int i = 0; i < 8; i++)
		sum += i % 2 == 0 ? tr[dv(b[i])] : dv(b[i]);
	return 'A' + sum % 26 == b[8] ? V_OK : V_CHECK;
}

static int
vat_cz(char *b, size_t n)
{
	if ((n < 8 || n > 10) || !digits(b, 0, n))
		return V_FORMAT;
	if (n == 8) {
		int c = 0;

		if (b[0] == '9')
			return V_FORMAT;
		for (int i = 0; i < 7; i++)
			c += (8 - i) * dv(b[i]);
		c = pmod(11 - c, 11);
		return (c == 0 ? 1 : c) % 10 == dv(b[7]) ? V_OK : V_CHECK;
	}
	if (n == 9 && b[0] == '6') {
		int c = 0;

		for (int i = 1; i < 8; i++)
			c += (9 - i) * dv(b[i]);
		c %= 11;
		return pmod(8 - (10 - c) % 11, 10) == dv(b[8]) ? V_OK : V_CHECK;
	}
	return birth_number(b, n);
}

static int
vat_de(char *b, size_t n)
{
	if (n != 9 || !digits(b, 0, 9) || b[0] == '0')
		return V_FORMAT;
	return mod11_10(b, 9) ? V_OK : V_CHECK;
}

static int
vat_dk(char *b, size_t n)
{
	static const int w[] = { 2, 7, 6, 5, 4, 3, 2, 1 };

	if (n != 8 || !digits(b, 0, 8) || b[0] == '0')
		return V_FORMAT;
	return wsum(b, w, 8) % 11 == 0 ? V_OK : V_CHECK;
}

static int
vat_ee(char *b, size_t n)
{
	static const int w[] = { 3, 7, 1, 3, 7, 1, 3, 7, 1 };

	if (n != 9 || !digits(b, 0, 9))
		return V_FORMAT;
	return wsum(b, w, 9) % 10 == 0 ? V_OK : V_CHECK;
}

static int
vat_el(char *b, size_t n)
{
	int c = 0;

	if (n != 9 || !digits(b, 0, 9))
		return V_FORMAT;
	for (int i = 0; i < 8; i++)
		c = c * 2 + dv(b[i]);
	return c * 2 % 11 % 10 == dv(b[8]) ? V_OK : V_CHECK;
}

/* Spain: DNI (8 digits + letter), NIE (X/Y/Z + 7 digits + letter), K/L/M + 7 digits +
 * letter, or a CIF (organisation letter + 7 digits + digit or letter). */
static int
vat_es(char *b, size_t n)
{
	static const char *dni = "TRWAGMYFPDXBNJZSQVHLCKE";
	char c0 = b[0];

	if (n != 9 || !digits(b, 1, 8))
		return V_FORMAT;
	if (isdig(c0) || c0 == 'X' || c0 == 'Y' || c0 == 'Z') {
		int num = isdig(c0) ? dv(c0) : c0 - 'X';

		for (int i = 1; i < 8; i++)
			num = num * 10 + dv(b[i]);
		return dni[num % 23] == b[8] ? V_OK : V_CHECK;
	}
	if (c0 == 'K' || c0 == 'L' || c0 == 'M')
		return dni[strmod(b + 1, 7, 23)] == b[8] ? V_OK : V_CHECK;
	if (strchr("ABCDEFGHJNPQRSUVW", c0) != NULL) {
		int sum = 0, c;

		for (int i = 0; i < 7; i++) {
			int d = dv(b[1 + i]);

			if (i % 2 == 0 && (d *= 2) > 9)
				d -= 9;
			sum += d;
		}
		c = (10 - sum % 10) % 10;
		return b[8] == '0' + c || b[8] == "JABCDEFGHI"[c] ? V_OK : V_CHECK;
	}
	return V_FORMAT;
}

static int
vat_fi(char *b, size_t n)
{
	static const int w[] = { 7, 9, 10, 5, 8, 4, 2, 1 };

	if (n != 8 || !digits(b, 0, 8))
		return V_FORMAT;
	return wsum(b, w, 8) % 11 == 0 ? V_OK : V_CHECK;
}

/* France: a two-character key and the 9-digit SIREN. Numeric keys are
 * (12 + 3 * (SIREN mod 97)) mod 97; the older alphanumeric keys have their own rule. */
static int
vat_fr(char *b, size_t n)
{
	static const char *a = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	const char *p0, *p1;
	int siren, check;

	if (n != 11 || !digits(b, 2, 11) || b[0] == '\0' || b[1] == '\0' ||
	    (p0 = strchr(a, b[0])) == NULL || (p1 = strchr(a, b[1])) == NULL)
		return V_FORMAT;
	if (memcmp(b + 2, "000", 3) != 0 && !check_luhn(b + 2, 9))
		return V_CHECK;
	siren = strmod(b + 2, 9, 1000000000);
	if (isdig(b[0]) && isdig(b[1]))
		return dv(b[0]) * 10 + dv(b[1]) == (int)(((long long)siren * 100 + 12) % 97) ?
		    V_OK : V_CHECK;
	if (isdig(b[0]))
		check = (int)(p0 - a) * 24 + (int)(p1 - a) - 10;
	else
		check = (int)(p0 - a) * 34 + (int)(p1 - a) - 100;
	return (int)(((long long)siren + 1 + check / 11) % 11) == check % 11 ? V_OK : V_CHECK;
}

static int
vat_hr(char *b, size_t n)
{
	if (n != 11 || !digits(b, 0, 11))
		return V_FORMAT;
	return mod11_10(b, 11) ? V_OK : V_CHECK;
}

static int
vat_hu(char *b, size_t n)
{
	static const int w[] = { 9, 7, 3, 1, 9, 7, 3, 1 };

	if (n != 8 || !digits(b, 0, 8))
		return V_FORMAT;
	return wsum(b, w, 8) % 10 == 0 ? V_OK : V_CHECK;
}

/* Ireland: 7 digits, a check letter and, since 2013, a second letter (A-I, or W);
 * or the old form digit, letter (or + *), 5 digits, check letter. */
static int
vat_ie(char *b, size_t n)
{
	static const char *a = "WABCDEFGHIJKLMNOPQRSTUV";
	char d[8];
	int sum = 0, extra = 0;

	if ((n != 8 && n != 9) || !isdig(b[0]) || !digits(b, 2, 7) ||
	    strchr(a, b[7]) == NULL || b[7] == '\0')
		return V_FORMAT;
	if (n == 9) {
		if (strchr("ABCDEFGHIW", b[8]) == NULL || b[8] == '\0' || !digits(b, 0, 7))
			return V_FORMAT;
		extra = (int)(strchr(a, b[8]) - a);
	}
	if (digits(b, 0, 7))
		memcpy(d, b, 7);
	else if (n == 8 && (isup(b[1]) || b[1] == '+' || b[1] == '*')) {
		d[0] = '0';
		memcpy(d + 1, b + 2, 5);
		d[6] = b[0];
	} else
		return V_FORMAT;
	for (int i = 0; i < 7; i++)
		sum += (8 - i) * dv(d[i]);
	return a[(sum + 9 * extra) % 23] == b[7] ? V_OK : V_CHECK;
}

static int
vat_it(char *b, size_t n)
{
	int office;

	if (n != 11 || !digits(b, 0, 11) || strmod(b, 7, 10000000) == 0)
		return V_FORMAT;
	office = dv(b[7]) * 100 + dv(b[8]) * 10 + dv(b[9]);
	if (!((office >= 1 && office <= 100) || office == 120 || office == 121 ||
	    office == 888 || office == 999))
		return V_FORMAT;
	return check_luhn(b, 11) ? V_OK : V_CHECK;
}

static int
vat_lt(char *b, size_t n)
{
	int c = 0;

	if ((n != 9 && n != 12) || !digits(b, 0, n) || b[n - 2] != '1')
		return V_FORMAT;
	for (size_t i = 0; i < n - 1; i++)
		c += (int)(1 + i % 9) * dv(b[i]);
	if (c % 11 == 10) {
		c = 0;
		for (size_t i = 0; i < n - 1; i++)
			c += (int)(1 + (i + 2) % 9) * dv(b[i]);
	}
	return c % 11 % 10 == dv(b[n - 1]) ? V_OK : V_CHECK;
}

static int
vat_lu(char *b, size_t n)
{
	if (n != 8 || !digits(b, 0, 8))
		return V_FORMAT;
	return strmod(b, 6, 89) == strmod(b + 6, 2, 100) ? V_OK : V_CHECK;
}

/* Latvia: legal entities (first digit above 3) by weights; persons by their personal
 * code's check digit. Personal codes issued since 2017 start with 32 and encode no
 * birth date; they are checked for shape only. */
static int
vat_lv(char *b, size_t n)
{
	static const int wl[] = { 9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1 };
	static const int wp[] = { 10, 5, 8, 4, 2, 1, 6, 3, 7, 9 };
	int dd, mm;

	if (n != 11 || !digits(b, 0, 11))
		return V_FORMAT;
	if (b[0] > '3')
		return wsum(b, wl, 11) % 11 == 3 ? V_OK : V_CHECK;
	if (b[0] == '3' && b[1] == '2')
		return V_OK;
	dd = dv(b[0]) * 10 + dv(b[1]);
	mm = dv(b[2]) * 10 + dv(b[3]);
	if (dd < 1 || dd > 31 || mm < 1 || mm > 12)
		return V_FORMAT;
	return (1 + wsum(b, wp, 10)) % 11 % 10 == dv(b[10]) ? V_OK : V_CHECK;
}

static int
vat_mt(char *b, size_t n)
{
	static const int w[] = { 3, 4, 6, 7, 8, 9, 10, 1 };

	if (n != 8 || !digits(b, 0, 8) || b[0] == '0')
		return V_FORMAT;
	return wsum(b, w, 8) % 37 == 0 ? V_OK : V_CHECK;
}

/* Netherlands: 9 digits, B, 2 digits. Numbers before 2020 pass the mod 11 test of
 * the BSN; the sole-trader numbers issued since 2020 pass ISO 7064 mod 97 over
 * "NL" + the number (letters as 10..35), as an IBAN does. */
static int
vat_nl(char *b, size_t n)
{
	int sum = 0, r = 0;
	char full[16];

	if (n != 12 || !digits(b, 0, 9) || b[9] != 'B' || !digits(b, 10, 12) ||
	    strmod(b, 9, 1000000000) == 0 || (b[10] == '0' && b[11] == '0'))
		return V_FORMAT;
	for (int i = 0; i < 8; i++)
		sum += (9 - i) * dv(b[i]);
	if (pmod(sum - dv(b[8]), 11) == 0)
		return V_OK;
	snprintf(full, sizeof(full), "NL%.12s", b);
	for (size_t i = 0; i < 14; i++) {
		int v = isdig(full[i]) ? dv(full[i]) : full[i] - 'A' + 10;

		r = v >= 10 ? (r * 100 + v) % 97 : (r * 10 + v) % 97;
	}
	return r == 1 ? V_OK : V_CHECK;
}

static int
vat_pl(char *b, size_t n)
{
	static const int w[] = { 6, 5, 7, 2, 3, 4, 5, 6, 7 };

	if (n != 10 || !digits(b, 0, 10))
		return V_FORMAT;
	return wsum(b, w, 9) % 11 == dv(b[9]) ? V_OK : V_CHECK;
}

static int
vat_pt(char *b, size_t n)
{
	int s = 0;

	if (n != 9 || !digits(b, 0, 9) || b[0] == '0')
		return V_FORMAT;
	for (int i = 0; i < 8; i++)
		s += (9 - i) * dv(b[i]);
	return pmod(11 - s, 11) % 10 == dv(b[8]) ? V_OK : V_CHECK;
}

static int
vat_ro(char *b, size_t n)
{
	static const int w[] = { 7, 5, 3, 2, 1, 7, 5, 3, 2 };
	int s = 0;

	if (n < 2 || n > 10 || !digits(b, 0, n) || b[0] == '0')
		return V_FORMAT;
	/* The digits before the check digit, right-aligned under the nine weights. */
	for (size_t i = 0; i < n - 1; i++)
		s += w[9 - (n - 1) + i] * dv(b[i]);
	return s * 10 % 11 % 10 == dv(b[n - 1]) ? V_OK : V_CHECK;
}

static int
vat_se(char *b, size_t n)
{
	if (n != 12 || !digits(b, 0, 12) || b[10] != '0' || b[11] != '1')
		return V_FORMAT;
	return check_luhn(b, 10) ? V_OK : V_CHECK;
}

static int
vat_si(char *b, size_t n)
{
	int c = 0;

	if (n != 8 || !digits(b, 0, 8) || b[0] == '0')
		return V_FORMAT;
	for (int i = 0; i < 7; i++)
		c += (8 - i) * dv(b[i]);
	c = 11 - c % 11;
	if (c == 10)
		c = 0;
	return c == dv(b[7]) ? V_OK : V_CHECK;
}

/* Slovakia: 10 digits divisible by 11; the first digit not 0 and the third one of
 * 2, 3, 4, 7, 8, 9, except for the numbers that are a person's birth number. */
static int
vat_sk(char *b, size_t n)
{
	if (n != 10 || !digits(b, 0, 10))
		return V_FORMAT;
	if (birth_number(b, n) == V_OK)
		return V_OK;
	if (b[0] == '0' || strchr("234789", b[2]) == NULL)
		return V_FORMAT;
	return strmod(b, 10, 11) == 0 ? V_OK : V_CHECK;
}

/* United Kingdom (gb_vat, and eu_vat XI): 9 digits, 12 (a branch), GD + 3 digits
 * below 500 (government departments), HA + 3 digits from 500 (health authorities).
 * The check: weights 8..2 on the first 7 digits plus the last two as a number,
 * mod 97 is 0, or for numbers from 100 on also 42 ("9755") or 55. */
static int
vat_gb(char *b, size_t n)
{
	static const int w[] = { 8, 7, 6, 5, 4, 3, 2, 10, 1 };
	int r;

	if (n == 5 && (memcmp(b, "GD", 2) == 0 || memcmp(b, "HA", 2) == 0)) {
		if (!digits(b, 2, 5))
			return V_FORMAT;
		r = strmod(b + 2, 3, 1000);
		return (b[0] == 'G') == (r < 500) ? V_OK : V_FORMAT;
	}
	if ((n != 9 && n != 12) || !digits(b, 0, n))
		return V_FORMAT;
	r = wsum(b, w, 9) % 97;
	if (r == 0 || (strmod(b, 3, 1000) >= 100 && (r == 42 || r == 55)))
		return V_OK;
	return V_CHECK;
}

struct eu_state {
	const char	*prefix;	/* the VAT prefix */
	const char	*iso;		/* the ISO 3166 code */
	int		(*check)(char *, size_t);
	const char	*shape;
};

static const struct eu_state eu_states[] = {
	{ "AT", "AT", vat_at, "ATU followed by 8 digits" },
	{ "BE", "BE", vat_be, "BE followed by 10 digits starting with 0 or 1" },
	{ "BG", "BG", vat_bg, "BG followed by 9 or 10 digits" },
	{ "CY", "CY", vat_cy, "CY followed by 8 digits and a letter" },
	{ "CZ", "CZ", vat_cz, "CZ followed by 8, 9 or 10 digits" },
	{ "DE", "DE", vat_de, "DE followed by 9 digits" },
	{ "DK", "DK", vat_dk, "DK followed by 8 digits" },
	{ "EE", "EE", vat_ee, "EE followed by 9 digits" },
	{ "EL", "GR", vat_el, "EL followed by 9 digits" },
	{ "ES", "ES", vat_es, "ES followed by 9 characters (a NIF, NIE or CIF)" },
	{ "FI", "FI", vat_fi, "FI followed by 8 digits" },
	{ "FR", "FR", vat_fr, "FR followed by a 2-character key and the 9-digit SIREN" },
	{ "HR", "HR", vat_hr, "HR followed by 11 digits" },
	{ "HU", "HU", vat_hu, "HU followed by 8 digits" },
	{ "IE", "IE", vat_ie, "IE followed by 7 digits and 1 or 2 letters" },
	{ "IT", "IT", vat_it, "IT followed by 11 digits" },
	{ "LT", "LT", vat_lt, "LT followed by 9 or 12 digits" },
	{ "LU", "LU", vat_lu, "LU followed by 8 digits" },
	{ "LV", "LV", vat_lv, "LV followed by 11 digits" },
	{ "MT", "MT", vat_mt, "MT followed by 8 digits" },
	{ "NL", "NL", vat_nl, "NL followed by 9 digits, B and 2 digits" },
	{ "PL", "PL", vat_pl, "PL followed by 10 digits" },
	{ "PT", "PT", vat_pt, "PT followed by 9 digits" },
	{ "RO", "RO", vat_ro, "RO followed by 2 to 10 digits" },
	{ "SE", "SE", vat_se, "SE followed by 12 digits ending in 01" },
	{ "SI", "SI", vat_si, "SI followed by 8 digits" },
	{ "SK", "SK", vat_sk, "SK followed by 10 digits" },
	{ "XI", "GB", vat_gb, "XI followed by 9 or 12 digits, or GD/HA and 3 digits" },
};

static const struct eu_state *
eu_state(const char *prefix)
{
	for (size_t i = 0; i < sizeof(eu_states) / sizeof(eu_states[0]); i++)
		if (strncmp(eu_states[i].prefix, prefix, 2) == 0)
			return &eu_states[i];
	return NULL;
}

/* -------------------------------------------------------------------------- */
/* One checker per type: s is the compacted input (upper case, separators gone). */

#define CHECKER(name) static int name(const char *type, char *s, size_t n, \
	char *out, size_t outlen, char *err, size_t errlen)

static int
put(char *out, size_t outlen, char *err, size_t errlen, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int
put(char *out, size_t outlen, char *err, size_t errlen, const char *type,
    const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= outlen)
		return fail(err, errlen, "%s: no room for the normalized id", type);
	return 0;
}

/* Strips a leading prefix (e.g. "GB") when present. */
static char *
strip(char *s, size_t *n, const char *prefix)
{
	size_t k = strlen(prefix);

	if (*n >= k && strncmp(s, prefix, k) == 0) {
		*n -= k;
		return s + k;
	}
	return s;
}

CHECKER(check_eu_vat)
{
	const struct eu_state *st;
	char prefix[3];
	int r;

	if (n < 3 || !isup(s[0]) || !isup(s[1]))
		return fail(err, errlen, "%s: start with the member state's prefix, as in "
		    "DE123456789", type);
	if (strncmp(s, "GR", 2) == 0)
		memcpy(s, "EL", 2);	/* Greece's VAT prefix is EL */
	if ((st = eu_state(s)) == NULL)
		return fail(err, errlen, "%s: '%.2s' is not an EU member state prefix", type, s);
	memcpy(prefix, s, 2);
	prefix[2] = '\0';
	s += 2;
	n -= 2;
	/* Belgium's old 9-digit numbers and Greece's old 8-digit ones gain a 0. */
	if ((strcmp(prefix, "BE") == 0 && n == 9) || (strcmp(prefix, "EL") == 0 && n == 8)) {
		memmove(s + 1, s, n + 1);
		s[0] = '0';
		n++;
	}
	r = st->check(s, n);
	if (r == V_FORMAT)
		return fail(err, errlen, "%s: %s numbers are %s", type, prefix, st->shape);
	if (r == V_CHECK)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s%s", prefix, s);
}

CHECKER(check_gb_vat)
{
	int r;

	s = strip(s, &n, "GB");
	if ((r = vat_gb(s, n)) == V_FORMAT)
		return fail(err, errlen, "%s: GB numbers are 9 or 12 digits, or GD or HA "
		    "and 3 digits", type);
	if (r == V_CHECK)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "GB%s", s);
}

/* The Swiss UID: CHE + 9 digits, the last a mod 11 check digit. */
static int
uid_ch(char *s, size_t n)
{
	static const int w[] = { 5, 4, 3, 2, 7, 6, 5, 4 };
	int c;

	if (n != 9 || !digits(s, 0, 9))
		return V_FORMAT;
	c = pmod(11 - wsum(s, w, 8), 11);
	return c == dv(s[8]) ? V_OK : V_CHECK;
}

CHECKER(check_ch_uid)
{
	int r;

	s = strip(s, &n, "CHE");
	if ((r = uid_ch(s, n)) == V_FORMAT)
		return fail(err, errlen, "%s: a UID is CHE followed by 9 digits", type);
	if (r == V_CHECK)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "CHE-%.3s.%.3s.%.3s", s, s + 3, s + 6);
}

CHECKER(check_ch_vat)
{
	static const char *suffixes[] = { "MWST", "TVA", "IVA", "TPV" };
	const char *suf = NULL;
	int r;

	s = strip(s, &n, "CHE");
	for (size_t i = 0; i < 4 && suf == NULL; i++) {
		size_t k = strlen(suffixes[i]);

		if (n > k && strcmp(s + n - k, suffixes[i]) == 0) {
			suf = suffixes[i];
			n -= k;
		}
	}
	if (suf == NULL)
		return fail(err, errlen, "%s: the number ends in MWST, TVA or IVA "
		    "(a bare UID is the type ch_uid)", type);
	if ((r = uid_ch(s, n)) == V_FORMAT)
		return fail(err, errlen, "%s: the number is CHE followed by 9 digits and "
		    "MWST, TVA or IVA", type);
	if (r == V_CHECK)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "CHE-%.3s.%.3s.%.3s %s", s, s + 3, s + 6,
	    suf);
}

CHECKER(check_no_vat)
{
	static const int w[] = { 3, 2, 7, 6, 5, 4, 3, 2, 1 };

	s = strip(s, &n, "NO");
	if (n == 12 && strcmp(s + 9, "MVA") == 0)
		n = 9;
	if (n != 9 || !digits(s, 0, 9))
		return fail(err, errlen, "%s: the number is 9 digits followed by MVA", type);
	if (wsum(s, w, 9) % 11 != 0)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%.9sMVA", s);
}

CHECKER(check_au_abn)
{
	static const int w[] = { 10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19 };

	if (n != 11 || !digits(s, 0, 11) || s[0] == '0')
		return fail(err, errlen, "%s: an ABN has 11 digits", type);
	s[0]--;
	if (wsum(s, w, 11) % 89 != 0)
		return fail(err, errlen, BADCHECK, type);
	s[0]++;
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_ca_bn)
{
	if (n != 9 || !digits(s, 0, 9))
		return fail(err, errlen, "%s: a business number has 9 digits", type);
	if (!check_luhn(s, 9))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_ca_gst_hst)
{
	if (n != 15 || !digits(s, 0, 9) || memcmp(s + 9, "RT", 2) != 0 || !digits(s, 11, 15))
		return fail(err, errlen, "%s: the number is 9 digits, RT and 4 digits", type);
	if (!check_luhn(s, 9))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_ca_qst)
{
	if (n != 16 || !digits(s, 0, 10) || memcmp(s + 10, "TQ", 2) != 0 || !digits(s, 12, 16))
		return fail(err, errlen, "%s: the number is 10 digits, TQ and 4 digits", type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* EIN prefixes the IRS assigns (its campus list; 07-09, 17-19, 28, 29, 49, 69, 70,
 * 78, 79, 89, 96, 97 and 00 are never issued). */
CHECKER(check_us_ein)
{
	static const char valid[100] =
	    "0111111000"	/* 00-09: 01-06 */
	    "1111111000"	/* 10-19: 10-16 */
	    "1111111100"	/* 20-29: 20-27 */
	    "1111111111"	/* 30-39 */
	    "1111111110"	/* 40-49: 40-48 */
	    "1111111111"	/* 50-59 */
	    "1111111110"	/* 60-69: 60-68 */
	    "0111111100"	/* 70-79: 71-77 */
	    "1111111110"	/* 80-89: 80-88 */
	    "1111110011";	/* 90-99: 90-95, 98, 99 */

	if (n != 9 || !digits(s, 0, 9))
		return fail(err, errlen, "%s: an EIN has 9 digits, as in 12-3456789", type);
	if (valid[dv(s[0]) * 10 + dv(s[1])] != '1')
		return fail(err, errlen, "%s: the IRS does not issue EINs starting with %.2s",
		    type, s);
	return put(out, outlen, err, errlen, type, "%.2s-%s", s, s + 2);
}

/* GSTIN: state code, the holder's PAN (5 letters, 4 digits, letter), the
 * registration count (1-9, A-Z), a letter (Z for ordinary registrations), and a
 * base-36 Luhn check character. */
CHECKER(check_in_gst)
{
	int state;

	if (n != 15 || !digits(s, 0, 2))
		return fail(err, errlen, "%s: a GSTIN has 15 characters", type);
	state = dv(s[0]) * 10 + dv(s[1]);
	if (!((state >= 1 && state <= 38) || state == 97 || state == 99))
		return fail(err, errlen, "%s: %.2s is not a GST state code", type, s);
	for (int i = 2; i < 7; i++)
		if (!isup(s[i]))
			return fail(err, errlen, "%s: characters 3 to 12 must be a PAN", type);
	if (!digits(s, 7, 11) || !isup(s[11]) || memcmp(s + 7, "0000", 4) == 0 ||
	    strchr("ABCEFGHJKLPT", s[5]) == NULL)
		return fail(err, errlen, "%s: characters 3 to 12 must be a PAN", type);
	if (!(isup(s[12]) || (isdig(s[12]) && s[12] != '0')) || !isup(s[13]) ||
	    !(isup(s[14]) || isdig(s[14])))
		return fail(err, errlen, "%s: a GSTIN ends in a registration number, a "
		    "letter and a check character", type);
	if (!luhn36(s, 15))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* CNPJ: 12 characters (digits, or since July 2026 also letters, valued by their
 * ASCII code minus 48) and 2 check digits, each mod 11 with weights 2..9 from the
 * right. */
CHECKER(check_br_cnpj)
{
	int d1 = 0, d2 = 0;
	bool zero = true;

	if (n != 14 || !digits(s, 12, 14))
		return fail(err, errlen, "%s: a CNPJ has 14 characters, as in "
		    "01.234.456/5432-10", type);
	for (int i = 0; i < 12; i++) {
		if (!isdig(s[i]) && !isup(s[i]))
			return fail(err, errlen, "%s: a CNPJ has 14 characters, as in "
			    "01.234.456/5432-10", type);
		if (s[i] != '0')
			zero = false;
	}
	if (zero)
		return fail(err, errlen, "%s: a CNPJ cannot be zero", type);
	for (int i = 0; i < 12; i++) {
		d1 += (s[i] - '0') * ((11 - i) % 8 + 2);
		d2 += (s[i] - '0') * ((12 - i) % 8 + 2);
	}
	d1 = d1 % 11 < 2 ? 0 : 11 - d1 % 11;
	d2 += d1 * 2;
	d2 = d2 % 11 < 2 ? 0 : 11 - d2 % 11;
	if (d1 != dv(s[12]) || d2 != dv(s[13]))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%.2s.%.3s.%.3s/%.4s-%.2s", s, s + 2,
	    s + 5, s + 8, s + 12);
}

CHECKER(check_br_cpf)
{
	int d1 = 0, d2 = 0;
	bool same = true;

	if (n != 11 || !digits(s, 0, 11))
		return fail(err, errlen, "%s: a CPF has 11 digits, as in 123.456.789-87",
		    type);
	for (int i = 1; i < 11; i++)
		if (s[i] != s[0])
			same = false;
	if (same)
		return fail(err, errlen, "%s: a CPF cannot repeat one digit", type);
	for (int i = 0; i < 9; i++) {
		d1 += (10 - i) * dv(s[i]);
		d2 += (11 - i) * dv(s[i]);
	}
	d1 = pmod(11 - d1, 11) % 10;
	d2 = pmod(11 - d2 - 2 * d1, 11) % 10;
	if (d1 != dv(s[9]) || d2 != dv(s[10]))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%.3s.%.3s.%.3s-%.2s", s, s + 3, s + 6,
	    s + 9);
}

/* Japan's corporate number: 13 digits, the first a check digit over the other 12. */
static bool
jp_cn_ok(const char *s)
{
	int sum = 0;

	for (int i = 0; i < 12; i++)
		sum += dv(s[12 - i]) * (i % 2 == 0 ? 1 : 2);
	return 9 - sum % 9 == dv(s[0]);
}

CHECKER(check_jp_cn)
{
	if (n != 13 || !digits(s, 0, 13))
		return fail(err, errlen, "%s: a corporate number has 13 digits", type);
	if (!jp_cn_ok(s))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* The qualified invoice issuer number: T and a 13-digit corporate (or personal) number. */
CHECKER(check_jp_trn)
{
	if (n != 14 || s[0] != 'T' || !digits(s, 1, 14))
		return fail(err, errlen, "%s: the number is T followed by 13 digits", type);
	if (!jp_cn_ok(s + 1))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* New Zealand's IRD number (its GST number): 8 or 9 digits between 10,000,000 and
 * 150,000,000, mod 11 with a primary and a secondary set of weights. */
CHECKER(check_nz_gst)
{
	static const int w1[] = { 3, 2, 7, 6, 5, 4, 3, 2 };
	static const int w2[] = { 7, 4, 3, 2, 5, 2, 7, 6 };
	char p[9];
	int v, c;

	s = strip(s, &n, "NZ");
	if ((n != 8 && n != 9) || !digits(s, 0, n))
		return fail(err, errlen, "%s: an IRD number has 8 or 9 digits", type);
	v = strmod(s, n, 1000000000);
	if (v <= 10000000 || v >= 150000000)
		return fail(err, errlen, "%s: an IRD number lies between 10-000-000 and "
		    "150-000-000", type);
	snprintf(p, sizeof(p), "%08d", v / 10);
	c = pmod(-wsum(p, w1, 8), 11);
	if (c == 10)
		c = pmod(-wsum(p, w2, 8), 11);
	if (c != v % 10)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* Singapore's UEN: businesses (8 digits + check letter), local companies (year,
 * 5 digits, check letter) and other entities (R/S/T, 2 digits, entity type, 4 digits,
 * check character). */
CHECKER(check_sg_uen)
{
	static const int wb[] = { 10, 4, 9, 3, 8, 2, 7, 1 };
	static const int wc[] = { 10, 8, 6, 4, 9, 7, 5, 3, 1 };
	static const int wo[] = { 4, 3, 5, 3, 10, 2, 2, 5, 7 };
	static const char *alpha = "ABCDEFGHJKLMNPQRSTUVWX0123456789";
	char c;

	if (n == 9 && digits(s, 0, 8) && isup(s[8]))
		c = "XMKECAWLJDB"[wsum(s, wb, 8) % 11];
	else if (n == 10 && digits(s, 0, 9) && isup(s[9]))
		c = "ZKCMDNERGWH"[wsum(s, wc, 9) % 11];
	else if (n == 10 && strchr("RST", s[0]) != NULL && s[0] != '\0' && digits(s, 1, 3) &&
	    isup(s[3]) && isup(s[4]) && digits(s, 5, 9)) {
		int sum = 0;

		for (int i = 0; i < 9; i++) {
			const char *q = strchr(alpha, s[i]);

			if (q == NULL)
				return fail(err, errlen, "%s: the entity type must be letters "
				    "other than I, O, Y and Z", type);
			sum += (int)(q - alpha) * wo[i];
		}
		c = alpha[pmod(sum - 5, 11)];
	} else
		return fail(err, errlen, "%s: a UEN has 9 or 10 characters ending in a "
		    "letter", type);
	if (c != s[n - 1])
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* Singapore's GST number: M + 8 digits + a letter (for those without one, their UEN). */
CHECKER(check_sg_gst)
{
	if (n == 10 && s[0] == 'M' && digits(s, 1, 9) && isup(s[9]))
		return put(out, outlen, err, errlen, type, "%s", s);
	if (check_sg_uen(type, s, n, out, outlen, err, errlen) == 0)
		return 0;
	return fail(err, errlen, "%s: the number is M, 8 digits and a letter, or a UEN",
	    type);
}

CHECKER(check_za_vat)
{
	s = strip(s, &n, "ZA");
	if (n != 10 || !digits(s, 0, 10) || s[0] != '4')
		return fail(err, errlen, "%s: the number has 10 digits starting with 4", type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

static bool
date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int yy = dv(s[0]) * 10 + dv(s[1]), mm = dv(s[2]) * 10 + dv(s[3]);
	int dd = dv(s[4]) * 10 + dv(s[5]);

	if (mm < 1 || mm > 12 || dd < 1 || dd > mdays[mm - 1])
		return false;
	return !(mm == 2 && dd == 29 && yy % 4 != 0);
}

/* Mexico's RFC: 3 letters (companies) or 4 (persons) from A-Z, & and Ñ, a date
 * yymmdd, and a 3-character homoclave. Its check character has exceptions in
 * practice, so the shape and the date are checked, as SAT's own forms do. */
CHECKER(check_mx_rfc)
{
	size_t k;

	if (n != 12 && n != 13)
		return fail(err, errlen, "%s: an RFC has 12 (companies) or 13 (persons) "
		    "characters", type);
	k = n - 9;
	for (size_t i = 0; i < k; i++)
		if (!isup(s[i]) && s[i] != '&' && s[i] != '#')
			return fail(err, errlen, "%s: an RFC starts with %zu letters", type, k);
	if (!digits(s, k, k + 6) || !date_ok(s + k))
		return fail(err, errlen, "%s: characters %zu to %zu must be a date, yymmdd",
		    type, k + 1, k + 6);
	for (size_t i = k + 6; i < n; i++)
		if (!isup(s[i]) && !isdig(s[i]))
			return fail(err, errlen, "%s: an RFC ends in 3 letters or digits", type);
	/* '#' stands for Ñ while the value is compact; write it back. */
	out[0] = '\0';
	for (size_t i = 0, o = 0; i < n; i++) {
		const char *piece = s[i] == '#' ? "\xc3\x91" : (char[2]){ s[i], '\0' };
		size_t pl = strlen(piece);

		if (o + pl >= outlen)
			return fail(err, errlen, "%s: no room for the normalized id", type);
		memcpy(out + o, piece, pl + 1);
		o += pl;
	}
	return 0;
}

/* Korea's business registration number: 10 digits, shown 123-45-67890. */
CHECKER(check_kr_brn)
{
	if (n != 10 || !digits(s, 0, 10))
		return fail(err, errlen, "%s: the number has 10 digits, as in 123-45-67890",
		    type);
	if (memcmp(s, "101", 3) < 0 || memcmp(s + 3, "00", 2) == 0 ||
	    memcmp(s + 5, "0000", 4) == 0)
		return fail(err, errlen, "%s: %.3s-%.2s-%.5s is not a number Korea issues",
		    type, s, s + 3, s + 5);
	return put(out, outlen, err, errlen, type, "%.3s-%.2s-%.5s", s, s + 3, s + 5);
}

static int
digits_only(const char *type, char *s, size_t n, size_t lo, size_t hi, char *out,
    size_t outlen, char *err, size_t errlen)
{
	if (n < lo || n > hi || !digits(s, 0, n)) {
		if (lo == hi)
			return fail(err, errlen, "%s: the number has %zu digits", type, lo);
		return fail(err, errlen, "%s: the number has %zu to %zu digits", type, lo, hi);
	}
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_ae_trn)
{
	return digits_only(type, s, n, 15, 15, out, outlen, err, errlen);
}

CHECKER(check_is_vat)
{
	s = strip(s, &n, "IS");
	return digits_only(type, s, n, 5, 6, out, outlen, err, errlen);
}

/* Saudi Arabia: 15 digits, starting and ending with 3 (ZATCA). */
CHECKER(check_sa_vat)
{
	if (n != 15 || !digits(s, 0, 15) || s[0] != '3' || s[14] != '3')
		return fail(err, errlen, "%s: the number has 15 digits starting and ending "
		    "with 3", type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* Thailand: the 13-digit tax id (a person's PIN or a company's MOA number). */
CHECKER(check_th_vat)
{
	int sum = 0;

	if (n != 13 || !digits(s, 0, 13) || s[0] == '9')
		return fail(err, errlen, "%s: the number has 13 digits", type);
	for (int i = 0; i < 12; i++)
		sum += (13 - i) * dv(s[i]);
	if ((11 - sum % 11) % 10 != dv(s[12]))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* Taiwan's unified business number: 8 digits; the digit sums of the weighted digits
 * are divisible by 5 (by 10 for numbers issued before the 2023 extension, a subset),
 * with one more chance when the seventh digit is 7. */
CHECKER(check_tw_vat)
{
	static const int w[] = { 1, 2, 1, 2, 1, 2, 4, 1 };
	int sum = 0;

	if (n != 8 || !digits(s, 0, 8))
		return fail(err, errlen, "%s: the number has 8 digits", type);
	for (int i = 0; i < 8; i++) {
		int p = w[i] * dv(s[i]);

		sum += p / 10 + p % 10;
	}
	if (!(sum % 5 == 0 || (s[6] == '7' && (sum + 1) % 5 == 0)))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* Israel: 9 digits (a company number or a person's id, shorter ids padded with
 * zeros), Luhn. */
CHECKER(check_il_vat)
{
	char p[10];

	if (n < 5 || n > 9 || !digits(s, 0, n))
		return fail(err, errlen, "%s: the number has up to 9 digits", type);
	memset(p, '0', 9 - n);
	memcpy(p + 9 - n, s, n);
	p[9] = '\0';
	if (strcmp(p, "000000000") == 0 || !check_luhn(p, 9))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", p);
}

CHECKER(check_ru_inn)
{
	static const int w10[] = { 2, 4, 10, 3, 5, 9, 4, 6, 8 };
	static const int w11[] = { 7, 2, 4, 10, 3, 5, 9, 4, 6, 8 };
	static const int w12[] = { 3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8 };

	if ((n != 10 && n != 12) || !digits(s, 0, n))
		return fail(err, errlen, "%s: an INN has 10 (companies) or 12 (persons) "
		    "digits", type);
	if (n == 10 ? wsum(s, w10, 9) % 11 % 10 != dv(s[9]) :
	    (wsum(s, w11, 10) % 11 % 10 != dv(s[10]) || wsum(s, w12, 11) % 11 % 10 != dv(s[11])))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_es_cif)
{
	int r;

	s = strip(s, &n, "ES");
	if ((r = vat_es(s, n)) == V_FORMAT)
		return fail(err, errlen, "%s: the number has 9 characters (a NIF, NIE or CIF)",
		    type);
	if (r == V_CHECK)
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

CHECKER(check_hr_oib)
{
	s = strip(s, &n, "HR");
	if (n != 11 || !digits(s, 0, 11))
		return fail(err, errlen, "%s: an OIB has 11 digits", type);
	if (!mod11_10(s, 11))
		return fail(err, errlen, BADCHECK, type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* The EU's One-Stop-Shop number for non-EU sellers: EU + 9 digits. */
CHECKER(check_eu_oss_vat)
{
	if (n != 11 || memcmp(s, "EU", 2) != 0 || !digits(s, 2, 11))
		return fail(err, errlen, "%s: the number is EU followed by 9 digits", type);
	return put(out, outlen, err, errlen, type, "%s", s);
}

/* -------------------------------------------------------------------------- */

struct taxtype {
	const char	*type;
	int		(*check)(const char *, char *, size_t, char *, size_t, char *, size_t);
};

/*
 * Stripe's tax id types. Those with a checker are validated; the others are
 * accepted with bounds only (see taxid_validate), since their formats were not
 * verified for this table.
 */
static const struct taxtype taxtypes[] = {
	{ "ad_nrt", NULL }, { "ae_trn", check_ae_trn }, { "al_tin", NULL },
	{ "am_tin", NULL }, { "ao_tin", NULL }, { "ar_cuit", NULL },
	{ "au_abn", check_au_abn }, { "au_arn", NULL }, { "aw_tin", NULL },
	{ "az_tin", NULL }, { "ba_tin", NULL }, { "bb_tin", NULL }, { "bd_bin", NULL },
	{ "bf_ifu", NULL }, { "bg_uic", NULL }, { "bh_vat", NULL }, { "bj_ifu", NULL },
	{ "bo_tin", NULL }, { "br_cnpj", check_br_cnpj }, { "br_cpf", check_br_cpf },
	{ "bs_tin", NULL }, { "by_tin", NULL }, { "ca_bn", check_ca_bn },
	{ "ca_gst_hst", check_ca_gst_hst }, { "ca_pst_bc", NULL }, { "ca_pst_mb", NULL },
	{ "ca_pst_sk", NULL }, { "ca_qst", check_ca_qst }, { "cd_nif", NULL },
	{ "ch_uid", check_ch_uid }, { "ch_vat", check_ch_vat }, { "cl_tin", NULL },
	{ "cm_niu", NULL }, { "cn_tin", NULL }, { "co_nit", NULL }, { "cr_tin", NULL },
	{ "cv_nif", NULL }, { "de_stn", NULL }, { "do_rcn", NULL }, { "ec_ruc", NULL },
	{ "eg_tin", NULL }, { "es_cif", check_es_cif }, { "et_tin", NULL },
	{ "eu_oss_vat", check_eu_oss_vat }, { "eu_vat", check_eu_vat },
	{ "gb_vat", check_gb_vat }, { "ge_vat", NULL }, { "gn_nif", NULL },
	{ "hk_br", NULL }, { "hr_oib", check_hr_oib }, { "hu_tin", NULL },
	{ "id_npwp", NULL }, { "il_vat", check_il_vat }, { "in_gst", check_in_gst },
	{ "is_vat", check_is_vat }, { "jp_cn", check_jp_cn }, { "jp_rn", NULL },
	{ "jp_trn", check_jp_trn }, { "ke_pin", NULL }, { "kg_tin", NULL },
	{ "kh_tin", NULL }, { "kr_brn", check_kr_brn }, { "kz_bin", NULL },
	{ "la_tin", NULL }, { "li_uid", NULL }, { "li_vat", NULL }, { "ma_vat", NULL },
	{ "md_vat", NULL }, { "me_pib", NULL }, { "mk_vat", NULL }, { "mr_nif", NULL },
	{ "mx_rfc", check_mx_rfc }, { "my_frp", NULL }, { "my_itn", NULL },
	{ "my_sst", NULL }, { "ng_tin", NULL }, { "no_vat", check_no_vat },
	{ "no_voec", NULL }, { "np_pan", NULL }, { "nz_gst", check_nz_gst },
	{ "om_vat", NULL }, { "other", NULL }, { "pe_ruc", NULL }, { "ph_tin", NULL },
	{ "ro_tin", NULL }, { "rs_pib", NULL }, { "ru_inn", check_ru_inn },
	{ "ru_kpp", NULL }, { "sa_vat", check_sa_vat }, { "sg_gst", check_sg_gst },
	{ "sg_uen", check_sg_uen }, { "si_tin", NULL }, { "sn_ninea", NULL },
	{ "sr_fin", NULL }, { "sv_nit", NULL }, { "th_vat", check_th_vat },
	{ "tj_tin", NULL }, { "tr_tin", NULL }, { "tw_vat", check_tw_vat },
	{ "tz_vat", NULL }, { "ua_vat", NULL }, { "ug_tin", NULL },
	{ "us_ein", check_us_ein }, { "uy_ruc", NULL }, { "uz_tin", NULL },
	{ "uz_vat", NULL }, { "ve_rif", NULL }, { "vn_tin", NULL },
	{ "za_vat", check_za_vat }, { "zm_tin", NULL }, { "zw_tin", NULL },
};

static const struct taxtype *
taxtype_get(const char *type)
{
	if (type == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(taxtypes) / sizeof(taxtypes[0]); i++)
		if (strcmp(taxtypes[i].type, type) == 0)
			return &taxtypes[i];
	return NULL;
}

bool
taxid_type_known(const char *type)
{
	return taxtype_get(type) != NULL;
}

/* Length of the UTF-8 sequence at s, or 0 when it is not valid UTF-8. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t k;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* An unchecked id: valid UTF-8 without control characters, spaces collapsed, 1..64 bytes. */
static int
check_bounds(const char *type, const char *value, char *out, size_t outlen, char *err,
    size_t errlen)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t o = 0;
	bool space = false;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p != '\0') {
		size_t k = utf8_len(p);

		if (k == 0)
			return fail(err, errlen, "%s: the value is not valid UTF-8", type);
		if (k == 1 && (*p == ' ' || *p == '\t')) {
			space = true;
			p++;
			continue;
		}
		if (k == 1 && (*p < 0x20 || *p == 0x7f))
			return fail(err, errlen, "%s: the value contains a control character",
			    type);
		if (k == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			return fail(err, errlen, "%s: the value contains a control character",
			    type);
		if (o + (space ? 1 : 0) + k > 64 || o + (space ? 1 : 0) + k >= outlen)
			return fail(err, errlen, "%s: the value is longer than 64 bytes", type);
		if (space)
			out[o++] = ' ';
		space = false;
		memcpy(out + o, p, k);
		o += k;
		p += k;
	}
	out[o] = '\0';
	if (o == 0)
		return fail(err, errlen, "%s: the value is empty", type);
	return 0;
}

int
taxid_validate(const char *type, const char *value, char *normalized, size_t n, char *err,
    size_t errlen)
{
	const struct taxtype *t = taxtype_get(type);
	char s[48], copy[256];
	size_t len = 0;
	int rc;

	/* A copy first, so value and normalized may be the same buffer. */
	if (value != NULL && strlen(value) >= sizeof(copy)) {
		if (n > 0)
			normalized[0] = '\0';
		return fail(err, errlen, "%s: the value is too long", type ? type : "tax id");
	}
	if (value != NULL)
		value = strcpy(copy, value);
	if (n > 0)
		normalized[0] = '\0';
	if (t == NULL)
		return fail(err, errlen, "unknown tax id type '%.32s'", type ? type : "");
	if (value == NULL)
		return fail(err, errlen, "%s: the value is empty", type);
	if (t->check == NULL) {
		rc = check_bounds(type, value, normalized, n, err, errlen);
		if (rc != 0 && n > 0)
			normalized[0] = '\0';
		return rc;
	}
	/* Compact: drop separators, upper-case, keep letters, digits, & and Ñ (as #, for
	 * mx_rfc), + and * (old Irish numbers); each checker refuses what it does not use. */
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		char c;

		if (*p == ' ' || *p == '.' || *p == '-' || *p == '/' || *p == ',' || *p == '\t')
			continue;
		if (*p >= 'a' && *p <= 'z')
			c = (char)(*p - 'a' + 'A');
		else if (isup((char)*p) || isdig((char)*p) || *p == '&' || *p == '+' ||
		    *p == '*')
			c = (char)*p;
		else if (p[0] == 0xc3 && (p[1] == 0x91 || p[1] == 0xb1)) {
			c = '#';
			p++;
		} else if (*p >= 0x21 && *p < 0x7f)
			return fail(err, errlen, "%s: '%c' does not belong in a tax id", type, *p);
		else
			return fail(err, errlen, "%s: the value contains a character that does "
			    "not belong in a tax id", type);
		if (len + 2 >= sizeof(s))
			return fail(err, errlen, "%s: the value is too long", type);
		s[len++] = c;
	}
	s[len] = '\0';
	if (len == 0)
		return fail(err, errlen, "%s: the value is empty", type);
	if (strchr(s, '#') != NULL && strcmp(type, "mx_rfc") != 0)
		return fail(err, errlen, "%s: the value contains a character that does not "
		    "belong in a tax id", type);
	rc = t->check(type, s, len, normalized, n, err, errlen);
	if (rc != 0 && n > 0)
		normalized[0] = '\0';
	return rc;
}

static const char *const eu_members[] = {
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
};

bool
taxid_eu_member(const char *cc)
{
	if (cc == NULL)
		return false;
	for (size_t i = 0; i < sizeof(eu_members) / sizeof(eu_members[0]); i++)
		if (strcmp(eu_members[i], cc) == 0)
			return true;
	return false;
}

const char *
taxid_country(const char *type, const char *normalized, char cc[3])
{
	const struct taxtype *t = taxtype_get(type);
	const struct eu_state *st;

	if (t == NULL || normalized == NULL)
		return NULL;
	if (strcmp(type, "eu_vat") == 0) {
		if (strlen(normalized) < 3 || (st = eu_state(normalized)) == NULL)
			return NULL;
		memcpy(cc, st->iso, 3);
		return cc;
	}
	if (strcmp(type, "other") == 0 || strcmp(type, "eu_oss_vat") == 0)
		return NULL;
	cc[0] = (char)(type[0] - 'a' + 'A');
	cc[1] = (char)(type[1] - 'a' + 'A');
	cc[2] = '\0';
	return cc;
}

bool
taxid_is_eu_vat(const char *type, const char *normalized)
{
	char cc[3];

	if (type == NULL || strcmp(type, "eu_vat") != 0)
		return false;
	return taxid_country(type, normalized, cc) != NULL && taxid_eu_member(cc) &&
	    strncmp(normalized, "XI", 2) != 0;
}
