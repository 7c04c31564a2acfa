/* pdf_samples.c: the sample documents: accents, Greek, Cyrillic, CJK, 60 lines, zero- and
 * three-decimal currencies, tax inclusive and exclusive, reverse charge, credit notes, a bad
 * and an oversized logo, an empty buyer. Amounts are formatted here as the billing domain
 * would format them; the renderer only places text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "pdf_samples.h"

#define NLONG	60
#define MARCH_1_2026	1772323200	/* 2026-03-01T00:00:00Z */

static struct pdf_sample table[16];
static size_t ntable;
static struct buf logo, bad_logo, huge_logo;
static struct pdf_line long_lines[NLONG];
static char long_text[NLONG][3][160];
static char long_total[32];
#define NTAX	45
static struct pdf_tax many_taxes[NTAX];
static char many_text[NTAX][2][96];

static const char *const footer_de =
    "Zoë Ångström Design GmbH · Straße des 17. Juni 135, 10623 Berlin · Managing director: "
    "Zoë Ångström · Amtsgericht Charlottenburg HRB 123456 B · IBAN DE89 3704 0044 0532 0130 00";

static cairo_status_t
png_out(void *closure, const unsigned char *data, unsigned int len)
{
	buf_append(closure, data, len);
	return CAIRO_STATUS_SUCCESS;
}

/* A 240x80 logo: a rounded mark and a word, drawn with cairo and kept as PNG bytes. */
static void
make_logos(void)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 240, 80);
	cairo_t *cr = cairo_create(s);
	static const unsigned char huge[33] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
		0x00, 0x01, 0x86, 0xa0, 0x00, 0x01, 0x86, 0xa0,	/* 100000 x 100000 */
		8, 6, 0, 0, 0, 0, 0, 0, 0,
	};
	int i;

	cairo_set_source_rgb(cr, 0.11, 0.35, 0.64);
	cairo_arc(cr, 40, 40, 30, 0, 6.2832);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_rectangle(cr, 28, 28, 24, 24);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.11, 0.35, 0.64);
	for (i = 0; i < 4; i++) {
		cairo_rectangle(cr, 84 + i * 36, 24 + (i % 2) * 8, 28, 32 - (i % 2) * 8);
		cairo_fill(cr);
	}
	cairo_destroy(cr);
	buf_init(&logo);
	cairo_surface_write_to_png_stream(s, png_out, &logo);
	cairo_surface_destroy(s);

	/* A real header, then garbage where the image data should be. */
	buf_init(&bad_logo);
	buf_append(&bad_logo, logo.data, 33);
	for (i = 0; i < 200; i++)
		buf_putc(&bad_logo, (char)('x' + i % 3));
	buf_init(&huge_logo);
	buf_append(&huge_logo, huge, sizeof(huge));
}

static void
usd(char *out, size_t n, long cents)
{
	char digits[24];
	size_t len, i, o = 0;

	snprintf(digits, sizeof(digits), "%ld", cents / 100);
	len = strlen(digits);
	out[o++] = '$';
	for (i = 0; i < len && o + 5 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	snprintf(out + o, n - o, ".%02ld", cents % 100);
}

static const struct pdf_tax tax_eu[] = {
	{ "VAT 24% on €1,234.50", "€296.28" },
};
static const struct pdf_line lines_eu[] = {
	{ "Pro plan (monthly)", "1 Feb 2026 – 28 Feb 2026", "1", "€1,200.00" },
	{ "Extra seats", "1 Feb 2026 – 28 Feb 2026", "3", "€34.50" },
};
static const struct pdf_total totals_eu[] = {
	{ "Subtotal", "€1,234.50", 0 },
	{ "VAT", "€296.28", 0 },
	{ "Total", "€1,530.78", 1 },
	{ "Paid", "€1,530.78", 0 },
	{ "Amount due", "€0.00", 1 },
};

static const struct pdf_line lines_jpy[] = {
	{ "スタータープラン (Starter plan)", "2026年3月1日 – 2026年3月31日", "1", "¥1,200" },
};
static const struct pdf_tax tax_jpy[] = {
	{ "Includes consumption tax 10% on ¥1,091", "¥109" },
};
static const struct pdf_total totals_jpy[] = {
	{ "Total (tax included)", "¥1,200", 1 },
	{ "Paid", "¥0", 0 },
	{ "Amount due", "¥1,200", 1 },
};

static const struct pdf_line lines_kwd[] = {
	{ "Translation service, per page", "March 2026", "10", "KWD 12.500" },
	{ "Express handling", NULL, NULL, "KWD 1.250" },
};
static const struct pdf_tax tax_kwd[] = {
	{ "VAT 0% on KWD 13.750 (export outside the EU)", "KWD 0.000" },
};
static const struct pdf_total totals_kwd[] = {
	{ "Subtotal", "KWD 13.750", 0 },
	{ "VAT", "KWD 0.000", 0 },
	{ "Total", "KWD 13.750", 1 },
	{ "Amount due", "KWD 13.750", 1 },
};

static const struct pdf_line lines_rc[] = {
	{ "Business plan (monthly)", "1 Mar 2026 – 31 Mar 2026", "1", "€500.00" },
};
static const struct pdf_tax tax_rc[] = {
	{ "VAT 0% on €500.00 (reverse charge)", "€0.00" },
};
static const struct pdf_total totals_rc[] = {
	{ "Subtotal", "€500.00", 0 },
	{ "VAT", "€0.00", 0 },
	{ "Total", "€500.00", 1 },
	{ "Amount due", "€500.00", 1 },
};

static const struct pdf_line lines_cn[] = {
	{ "Credit for unused time on Pro plan after the downgrade to Starter",
	    "15 Mar 2026 – 31 Mar 2026", NULL, "€600.00" },
};
static const struct pdf_tax tax_cn[] = {
	{ "VAT 19% on €600.00", "€114.00" },
};
static const struct pdf_total totals_cn[] = {
	{ "Subtotal", "€600.00", 0 },
	{ "VAT", "€114.00", 0 },
	{ "Total credited", "€714.00", 1 },
};

static const struct pdf_line lines_refund[] = {
	{ "Refund of invoice INV-2026-0101", NULL, NULL, "$49.00" },
};
static const struct pdf_total totals_refund[] = {
	{ "Total refunded", "$49.00", 1 },
};

static const struct pdf_line lines_plain[] = {
	{ "Starter plan (monthly)", "1 Mar 2026 – 31 Mar 2026", "1", "€19.00" },
};
static const struct pdf_total totals_plain[] = {
	{ "Total", "€19.00", 1 },
	{ "Amount due", "€19.00", 1 },
};

static const struct pdf_line lines_stress[] = {
	{ "Stundenkontingent für die Überarbeitung der Rechnungsvorlagen, der "
	    "Mahnstufen und der Steuerlogik (Umsatzsteuer, Reverse-Charge, OSS), "
	    "einschließlich Abstimmung mit der Buchhaltung und Dokumentation",
	    "1. Januar 2026 – 31. Dezember 2026 (Leistungszeitraum laut Rahmenvertrag "
	    "Nr. RV-2025-000123)", "1,000,000.5 hours", "KWD 1,234,567,890.123" },
	{ "Supercalifragilisticexpialidocious-Unbreakable-Product-Identifier-"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ", NULL, "1",
	    "KWD 0.001" },
	{ "Ελληνικά · Кириллица · 株式会社テスト · Zoë Ångström", NULL, "12", "KWD 12.000" },
};
static const struct pdf_tax tax_stress[] = {
	{ "VAT 19% on KWD 1,234,567,890.124 (standard-rated items, including the "
	    "hours above and the identifiers, see the annex for the breakdown)",
	    "KWD 234,567,899.124" },
	{ "VAT 7% on KWD 0.000", "KWD 0.000" },
};
static const struct pdf_total totals_stress[] = {
	{ "Subtotal before the credit for unused time on the previous plan", "KWD 1,234,567,890.124", 0 },
	{ "Credit", "−KWD 1.000", 0 },
	{ "VAT", "KWD 234,567,899.124", 0 },
	{ "Total", "KWD 1,469,135,788.248", 1 },
	{ "Paid", "KWD 0.000", 0 },
	{ "Amount due", "KWD 1,469,135,788.248", 1 },
};

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static struct pdf_party seller_de = {
	"From", { "Zoë Ångström Design GmbH", "Straße des 17. Juni 135", "10623 Berlin",
	    "Germany", "VAT: DE123456789" }, 5
};

static void
build(void)
{
	struct pdf_sample *s, *bad;
	long total = 0;
	int i;

	make_logos();

	s = &table[ntable++];
	s->name = "invoice_eu";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0042", .issue_date = "1 March 2026",
		.supply_date = "1 February 2026 – 28 February 2026", .due_date = "15 March 2026",
		.status = "Paid", .paper = PDF_A4,
		.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
		.seller = seller_de,
		.buyer = { "Bill to", { "Ελένη Παπαδοπούλου", "Λεωφόρος Κηφισίας 44",
		    "151 25 Μαρούσι", "Greece" }, 4 },
		.lines = lines_eu, .nlines = N(lines_eu),
		.taxes = tax_eu, .ntaxes = N(tax_eu),
		.totals = totals_eu, .ntotals = N(totals_eu),
		.note = "VAT charged at the Greek rate (EU one-stop shop, digital services to a consumer).",
		.footer = footer_de, .created = MARCH_1_2026,
	};

	/* 60 lines, some long enough to wrap; a long seller name; a Cyrillic buyer; Letter. */
	for (i = 0; i < NLONG; i++) {
		long cents = 1000 + i * 137;

		if (i % 7 == 3)
			snprintf(long_text[i][0], sizeof(long_text[i][0]), "Consulting, "
			    "line %d: migration of the legacy billing system, reconciliation "
			    "of historical invoices and training for the finance team", i + 1);
		else
			snprintf(long_text[i][0], sizeof(long_text[i][0]),
			    "API usage, batch %d", i + 1);
		snprintf(long_text[i][1], sizeof(long_text[i][1]), "%d", 1 + i % 4);
		usd(long_text[i][2], sizeof(long_text[i][2]), cents);
		total += cents;
		long_lines[i] = (struct pdf_line){ long_text[i][0], "1 Mar 2026 – 31 Mar 2026",
		    long_text[i][1], long_text[i][2] };
	}
	usd(long_total, sizeof(long_total), total);
	{
		static struct pdf_total totals_long[3];

		totals_long[0] = (struct pdf_total){ "Subtotal", long_total, 0 };
		totals_long[1] = (struct pdf_total){ "Total", long_total, 1 };
		totals_long[2] = (struct pdf_total){ "Amount due", long_total, 1 };
		s = &table[ntable++];
		s->name = "invoice_long";
		s->min_pages = 2;
		s->max_pages = 5;
		s->doc = (struct pdf_doc){
			.title = "Invoice", .number = "INV-2026-0043",
			.issue_date = "March 1, 2026", .supply_date = "March 2026",
			.due_date = "March 31, 2026", .status = "Open", .paper = PDF_LETTER,
			.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
			.seller = { "From", { "Northwind Traders International Holdings "
			    "Incorporated of the Greater Springfield Metropolitan Area",
			    "1 Main Street, Suite 1200", "Springfield, IL 62701",
			    "United States", "EIN: 12-3456789" }, 5 },
			.buyer = { "Bill to", { "ООО «Кириллица Софт»", "ул. Тверская, д. 7",
			    "125009 Москва", "Россия" }, 4 },
			.lines = long_lines, .nlines = NLONG,
			.totals = totals_long, .ntotals = 3,
			.footer = "Northwind Traders · billing@northwind.example · "
			    "Questions? Reply to this invoice's mail.",
			.created = MARCH_1_2026,
		};
	}

	s = &table[ntable++];
	s->name = "invoice_jpy";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0044", .issue_date = "2026-03-01",
		.supply_date = "2026-03", .due_date = "2026-03-31", .status = "Open",
		.paper = PDF_A4,
		.seller = { "From", { "Sakura Cloud Services K.K.", "1-2-3 Shibuya",
		    "Tokyo 150-0002", "Japan", "Registration number: T1234567890123" }, 5 },
		.buyer = { "Bill to", { "株式会社テスト", "東京都千代田区丸の内1-1-1",
		    "〒100-0005", "Japan" }, 4 },
		.lines = lines_jpy, .nlines = N(lines_jpy),
		.taxes = tax_jpy, .ntaxes = N(tax_jpy),
		.totals = totals_jpy, .ntotals = N(totals_jpy),
		.footer = "Sakura Cloud Services K.K. · Qualified invoice issuer T1234567890123",
		.created = MARCH_1_2026,
	};

	s = &table[ntable++];
	s->name = "invoice_kwd";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0045", .issue_date = "1 March 2026",
		.supply_date = "March 2026", .due_date = "31 March 2026", .status = "Open",
		.paper = PDF_A4,
		.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
		.seller = seller_de,
		.buyer = { "Bill to", { "Al-Salam Trading Co. W.L.L.", "Block 3, Street 14",
		    "Kuwait City", "Kuwait" }, 4 },
		.lines = lines_kwd, .nlines = N(lines_kwd),
		.taxes = tax_kwd, .ntaxes = N(tax_kwd),
		.totals = totals_kwd, .ntotals = N(totals_kwd),
		.note = "Place of supply outside the EU: not subject to German VAT.",
		.footer = footer_de, .created = MARCH_1_2026,
	};

	s = &table[ntable++];
	s->name = "invoice_reverse_charge";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0046", .issue_date = "1 March 2026",
		.supply_date = "1 March 2026 – 31 March 2026", .due_date = "15 March 2026",
		.status = "Open", .paper = PDF_A4,
		.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
		.seller = seller_de,
		.buyer = { "Bill to", { "Société Générale des Éléphants SARL",
		    "12 rue de la Paix", "75002 Paris", "France", "VAT: FR40303265045" }, 5 },
		.lines = lines_rc, .nlines = N(lines_rc),
		.taxes = tax_rc, .ntaxes = N(tax_rc),
		.totals = totals_rc, .ntotals = N(totals_rc),
		.note = "Reverse charge: the recipient is liable for the VAT under Article 196 "
		    "of Council Directive 2006/112/EC.",
		.footer = footer_de, .created = MARCH_1_2026 + 86400,
	};

	s = &table[ntable++];
	s->name = "credit_note_downgrade";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Credit note", .number = "CN-2026-0007", .issue_date = "15 March 2026",
		.supply_date = "15 March 2026 – 31 March 2026", .status = "Issued",
		.reference = "Corrects invoice INV-2026-0042 of 1 March 2026",
		.paper = PDF_A4,
		.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
		.seller = seller_de,
		.buyer = { "Credit to", { "Zoë Ångström-Müller", "Kastanienallee 12",
		    "10435 Berlin", "Germany" }, 4 },
		.lines = lines_cn, .nlines = N(lines_cn),
		.taxes = tax_cn, .ntaxes = N(tax_cn),
		.totals = totals_cn, .ntotals = N(totals_cn),
		.note = "Details as issued on 1 March 2026. The credit is applied to the next "
		    "invoice.",
		.footer = footer_de, .created = MARCH_1_2026 + 14 * 86400,
	};

	s = &table[ntable++];
	s->name = "credit_note_refund";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Credit note", .number = "CN-2026-0008", .issue_date = "March 20, 2026",
		.status = "Refunded", .reference = "Corrects invoice INV-2026-0101",
		.paper = PDF_LETTER,
		.seller = { "From", { "Northwind Traders", "1 Main Street",
		    "Springfield, IL 62701", "United States" }, 4 },
		.buyer = { "Credit to", { "Κώστας Καραμανλής", "Кирилл Кириллов",
		    "株式会社テスト" }, 3 },
		.lines = lines_refund, .nlines = N(lines_refund),
		.totals = totals_refund, .ntotals = N(totals_refund),
		.note = "Refunded to the card ending in 4242.",
		.created = MARCH_1_2026 + 19 * 86400,
	};

	s = bad = &table[ntable++];
	s->name = "bad_logo_no_buyer";
	s->min_pages = s->max_pages = 1;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0047", .issue_date = "1 March 2026",
		.status = "Void", .paper = PDF_A4,
		.logo = (const unsigned char *)bad_logo.data, .logo_len = bad_logo.len,
		.seller = seller_de,
		.lines = lines_plain, .nlines = N(lines_plain),
		.totals = totals_plain, .ntotals = N(totals_plain),
		.created = MARCH_1_2026,
	};

	/* Everything long: it must wrap, never overlap or leave the page (tests/pdf/run). */
	s = &table[ntable++];
	s->name = "invoice_stress";
	s->min_pages = 1;
	s->max_pages = 2;
	s->doc = (struct pdf_doc){
		.title = "Rechnungskorrektur", .number = "INV-2026-000000000000000000000042",
		.issue_date = "Mittwoch, 1. März 2026",
		.supply_date = "1. Januar 2026 bis einschließlich 31. Dezember 2026 "
		    "(Leistungszeitraum)",
		.due_date = "Zahlbar innerhalb von 14 Tagen ohne Abzug", .status = "Teilweise bezahlt",
		.reference = "Korrigiert die Rechnung INV-2026-000000000000000000000041 vom "
		    "1. Februar 2026, die wegen eines falschen Steuersatzes storniert wurde",
		.paper = PDF_LETTER,
		.logo = (const unsigned char *)logo.data, .logo_len = logo.len,
		.seller = { "Rechnungssteller", { "Zoë Ångström Design und Beratung für "
		    "Abrechnungssysteme, Steuerlogik und Kundenportale GmbH & Co. KG",
		    "Straße des 17. Juni 135, Hinterhaus, Aufgang C, 4. Obergeschoss links",
		    "10623 Berlin", "Germany",
		    "IBAN:DE89370400440532013000DE89370400440532013000DE89370400440532013000",
		    "VAT: DE123456789", "Registergericht: Amtsgericht Charlottenburg",
		    "HRB 123456 B" }, 8 },
		.buyer = { "Rechnungsempfänger", { "株式会社テスト · ООО «Кириллица» · "
		    "Ελληνικά Α.Ε.", "Line 2", "Line 3", "Line 4", "Line 5", "Line 6",
		    "Line 7", "Line 8", "Line 9", "Line 10", "Line 11",
		    "Line 12 is the last one that fits the model" }, 12 },
		.lines = lines_stress, .nlines = N(lines_stress),
		.taxes = tax_stress, .ntaxes = N(tax_stress),
		.totals = totals_stress, .ntotals = N(totals_stress),
		.note = "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge) gilt "
		    "nicht für die oben genannten Leistungen.\nDetails as issued on 1 March "
		    "2026.\nZoë Ångström · Ελληνικά · Кириллица · 株式会社テスト",
		.footer = footer_de, .created = MARCH_1_2026,
	};

	/* A tax summary taller than a page: it flows row by row after the totals. */
	for (i = 0; i < NTAX; i++) {
		snprintf(many_text[i][0], sizeof(many_text[i][0]), "Sales tax, district %d: "
		    "0.%02d%% on $1,000.00", i + 1, 5 + i);
		snprintf(many_text[i][1], sizeof(many_text[i][1]), "$0.%02d", (5 + i) / 10);
		many_taxes[i] = (struct pdf_tax){ many_text[i][0], many_text[i][1] };
	}
	s = &table[ntable++];
	s->name = "invoice_many_taxes";
	s->min_pages = 2;
	s->max_pages = 3;
	s->doc = (struct pdf_doc){
		.title = "Invoice", .number = "INV-2026-0049", .issue_date = "March 1, 2026",
		.status = "Open", .paper = PDF_LETTER,
		.seller = { "From", { "Northwind Traders", "1 Main Street",
		    "Springfield, IL 62701", "United States" }, 4 },
		.buyer = { "Bill to", { "Jane Roe", "5 Elm Street", "Springfield, IL 62702" }, 3 },
		.lines = lines_refund, .nlines = N(lines_refund),
		.taxes = many_taxes, .ntaxes = NTAX,
		.totals = totals_refund, .ntotals = N(totals_refund),
		.created = MARCH_1_2026,
	};

	s = &table[ntable++];
	s->name = "huge_logo";
	s->min_pages = s->max_pages = 1;
	s->doc = bad->doc;
	s->doc.number = "INV-2026-0048";
	s->doc.logo = (const unsigned char *)huge_logo.data;
	s->doc.logo_len = huge_logo.len;
}

size_t
pdf_samples(const struct pdf_sample **out)
{
	if (ntable == 0)
		build();
	*out = table;
	return ntable;
}

const struct pdf_sample *
pdf_sample_find(const char *name)
{
	const struct pdf_sample *t;
	size_t i, n = pdf_samples(&t);

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

void
pdf_samples_free(void)
{
	if (ntable == 0)
		return;
	buf_free(&logo);
	buf_free(&bad_logo);
	buf_free(&huge_logo);
	ntable = 0;
}
