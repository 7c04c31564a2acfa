/* pdf.c: lays out an invoice or a credit note with pango and draws it on a cairo PDF surface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#include "pdf/pdf.h"

/*
 * Geometry, in points (the PDF's user unit: pango's resolution is set to 72 dpi, so a 9 pt
 * font is 9 units tall). The page is drawn top to bottom in one flow; the flow runs twice,
 * first without a surface to count the pages ("Page n of m"), then to draw. Both runs use
 * the same layouts, so they break pages at the same places.
 */
#define MARGIN_X	48.0
#define MARGIN_TOP	42.0
#define MARGIN_BOTTOM	36.0
#define GAP		12.0
#define CELL_PAD_X	6.0
#define CELL_PAD_Y	5.0
#define ROW_PAD		3.5	/* above and below a row of the totals or the tax summary */
#define LOGO_MAX_W	170.0
#define LOGO_MAX_H	56.0
#define HEAD_W		250.0	/* the title and the number/date table at the top right */
#define PARTY_MAX_H	220.0	/* a party block taller than this is cut */
#define DESC_MAX_H	240.0	/* a line's description, likewise */
#define SHORT_MAX_H	60.0	/* headings, amounts, dates, the reference line */
#define LABEL_MAX_H	120.0	/* a tax or total label */
#define FOOTER_MAX_H	40.0
#define NOTE_KEEP_LINES	6

enum font {
	F_BODY = 0,
	F_BOLD,
	F_SMALL,
	F_SMALL_BOLD,
	F_TITLE,
	F__MAX
};

/* DejaVu covers Latin, Greek and Cyrillic; fontconfig supplies the rest (Noto Sans CJK). */
static const char *const font_names[F__MAX] = {
	"DejaVu Sans 9",
	"DejaVu Sans Bold 9",
	"DejaVu Sans 7.5",
	"DejaVu Sans Bold 7.5",
	"DejaVu Sans Bold 20",
};

static const char *const label_defaults[PDF_LABEL__MAX] = {
	"Number", "Issue date", "Date of supply", "Due date", "Status",
	"Description", "Qty", "Amount", "Tax summary", "Page {n} of {m}",
};

#define C_TEXT	0x1f2328
#define C_TITLE	0x111827
#define C_MUTED	0x5b6470
#define C_RULE	0xd5d9de
#define C_DARK	0x3b4350
#define C_BAND	0xf1f3f5

static PangoFontMap *pdf_fontmap;
static PangoContext *pdf_ctx;
static PangoFontDescription *pdf_fonts[F__MAX];

/* A label beside a value: the number/date table, the tax summary, the totals. */
struct pair {
	PangoLayout	*label;
	PangoLayout	*value;
	double		 h;
	int		 bold;
};

struct row {
	PangoLayout	*desc;
	PangoLayout	*period;	/* NULL: none */
	PangoLayout	*qty;		/* NULL: none */
	PangoLayout	*amount;
	double		 h;
};

struct render {
	const struct pdf_doc *d;
	cairo_t		*cr;		/* NULL while counting pages */
	double		 pw, ph;	/* page size */
	double		 x0, cw;	/* content left edge and width */
	double		 bottom;	/* the body ends here; the footer is below */
	double		 y;
	int		 fresh;		/* nothing drawn on this page below its header */
	int		 page, pages;

	cairo_surface_t	*logo;
	double		 logo_scale;
	double		 logo_w, logo_h;

	PangoLayout	*title;
	struct pair	 meta[5];
	size_t		 nmeta;
	double		 meta_label_w;
	int		 number_meta;	/* index of the number row, or -1 */

	PangoLayout	*party_head[2];
	PangoLayout	*party[2];
	PangoLayout	*reference;

	PangoLayout	*col_desc, *col_qty, *col_amount;
	double		 qty_w, amount_w, desc_w;
	int		 has_qty;
	struct row	*rows;

	PangoLayout	*tax_head;
	struct pair	*taxes;
	struct pair	*totals;
	double		 totals_w, totals_amount_w, tax_w, tax_amount_w;

	PangoLayout	*note;
	PangoLayout	*footer;
	double		 footer_h, pageno_w;
};

static int
pdf_init(void)
{
	cairo_font_options_t *fo;
	int i;

	if (pdf_ctx != NULL)
		return 0;
	/* A font map of our own rather than pango's per-thread default, so that
	 * pdf_shutdown() can release it and nothing else shares its settings. */
	pdf_fontmap = pango_cairo_font_map_new();
	if (pdf_fontmap == NULL)
		return -1;
	pango_cairo_font_map_set_resolution(PANGO_CAIRO_FONT_MAP(pdf_fontmap), 72.0);
	pdf_ctx = pango_font_map_create_context(pdf_fontmap);
	/* Unhinted metrics and unrounded positions: the layout is measured for a vector
	 * page, and does not depend on any screen setting of the machine. */
	fo = cairo_font_options_create();
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
	pango_cairo_context_set_font_options(pdf_ctx, fo);
	cairo_font_options_destroy(fo);
	pango_context_set_round_glyph_positions(pdf_ctx, FALSE);
	/* The language orders font fallback (which CJK face comes first); fixing it keeps
	 * the worker's locale out of the output. */
	pango_context_set_language(pdf_ctx, pango_language_from_string("en"));
	pango_context_set_base_dir(pdf_ctx, PANGO_DIRECTION_LTR);
	for (i = 0; i < F__MAX; i++)
		pdf_fonts[i] = pango_font_description_from_string(font_names[i]);
	return 0;
}

void
pdf_shutdown(void)
{
	int i;

	if (pdf_ctx == NULL)
		return;
	for (i = 0; i < F__MAX; i++) {
		pango_font_description_free(pdf_fonts[i]);
		pdf_fonts[i] = NULL;
	}
	g_object_unref(pdf_ctx);
	pdf_ctx = NULL;
	g_object_unref(pdf_fontmap);
	pdf_fontmap = NULL;
	/* No cairo_debug_reset_static_data() or FcFini(): pango's font map matches fonts on a
	 * thread of its own, which may still hold cairo's scaled fonts when the map is
	 * released, and cairo asserts (aborts) when its tables are reset under it. What they
	 * would free is still reachable, which is no leak. */
}

static int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static double
units_to_pt(int u)
{
	return (double)u / PANGO_SCALE;
}

static PangoLayout *
text(const char *s, enum font f, double width, PangoAlignment align, double max_h)
{
	PangoLayout *l = pango_layout_new(pdf_ctx);
	PangoAttrList *attrs;

	pango_layout_set_font_description(l, pdf_fonts[f]);
	if (width > 0) {
		pango_layout_set_width(l, pango_units_from_double(width));
		pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
		if (max_h > 0) {
			pango_layout_set_height(l, pango_units_from_double(max_h));
			pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
		}
	}
	pango_layout_set_alignment(l, align);
	/* A hyphen where a long word breaks would read as part of a tax id or an IBAN. */
	attrs = pango_attr_list_new();
	pango_attr_list_insert(attrs, pango_attr_insert_hyphens_new(FALSE));
	pango_layout_set_attributes(l, attrs);
	pango_attr_list_unref(attrs);
	pango_layout_set_text(l, s != NULL ? s : "", -1);
	return l;
}

static double
height(PangoLayout *l)
{
	int w, h;

	if (l == NULL)
		return 0;
	pango_layout_get_size(l, &w, &h);
	return units_to_pt(h);
}

/* Width of s on one line, unwrapped. */
static double
natural_width(const char *s, enum font f)
{
	PangoLayout *l = text(s, f, 0, PANGO_ALIGN_LEFT, 0);
	int w, h;

	pango_layout_get_size(l, &w, &h);
	g_object_unref(l);
	return units_to_pt(w);
}

static double
clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void
unref(PangoLayout *l)
{
	if (l != NULL)
		g_object_unref(l);
}

static const char *
label(const struct render *r, enum pdf_label k)
{
	return empty(r->d->labels[k]) ? label_defaults[k] : r->d->labels[k];
}

/* --- input checks --- */

static int
check_text(const char *s, const char *what, size_t i, char *err, size_t errlen)
{
	if (s == NULL || g_utf8_validate(s, -1, NULL))
		return 0;
	if (i == (size_t)-1)
		snprintf(err, errlen, "pdf: %s is not valid UTF-8", what);
	else
		snprintf(err, errlen, "pdf: %s %zu is not valid UTF-8", what, i + 1);
	return -1;
}

static int
check_party(const struct pdf_party *p, const char *what, char *err, size_t errlen)
{
	char name[32];
	size_t i;

	if (p->nlines > PDF_PARTY_LINES) {
		snprintf(err, errlen, "pdf: the %s has %zu lines, at most %d fit", what,
		    p->nlines, PDF_PARTY_LINES);
		return -1;
	}
	snprintf(name, sizeof(name), "%s heading", what);
	if (check_text(p->heading, name, (size_t)-1, err, errlen) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s line", what);
	for (i = 0; i < p->nlines; i++)
		if (check_text(p->lines[i], name, i, err, errlen) == -1)
			return -1;
	return 0;
}

static int
check_doc(const struct pdf_doc *d, char *err, size_t errlen)
{
	const struct { const char *s, *what; } one[] = {
		{ d->title, "title" }, { d->number, "number" },
		{ d->issue_date, "issue date" }, { d->supply_date, "supply date" },
		{ d->due_date, "due date" }, { d->status, "status" },
		{ d->reference, "reference" }, { d->note, "note" }, { d->footer, "footer" },
	};
	size_t i;

	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if (check_text(one[i].s, one[i].what, (size_t)-1, err, errlen) == -1)
			return -1;
	for (i = 0; i < PDF_LABEL__MAX; i++)
		if (check_text(d->labels[i], "label", i, err, errlen) == -1)
			return -1;
	if (check_party(&d->seller, "seller", err, errlen) == -1 ||
	    check_party(&d->buyer, "buyer", err, errlen) == -1)
		return -1;
	if ((d->nlines > 0 && d->lines == NULL) || (d->ntaxes > 0 && d->taxes == NULL) ||
	    (d->ntotals > 0 && d->totals == NULL)) {
		snprintf(err, errlen, "pdf: a count is set but its array is missing");
		return -1;
	}
	for (i = 0; i < d->nlines; i++)
		if (check_text(d->lines[i].description, "line description", i, err, errlen) ||
		    check_text(d->lines[i].period, "line period", i, err, errlen) ||
		    check_text(d->lines[i].quantity, "line quantity", i, err, errlen) ||
		    check_text(d->lines[i].amount, "line amount", i, err, errlen))
			return -1;
	for (i = 0; i < d->ntaxes; i++)
		if (check_text(d->taxes[i].label, "tax label", i, err, errlen) ||
		    check_text(d->taxes[i].amount, "tax amount", i, err, errlen))
			return -1;
	for (i = 0; i < d->ntotals; i++)
		if (check_text(d->totals[i].label, "total label", i, err, errlen) ||
		    check_text(d->totals[i].amount, "total amount", i, err, errlen))
			return -1;
	if (d->created < 0 || d->created > 253402300799LL) {	/* 9999-12-31T23:59:59Z */
		snprintf(err, errlen, "pdf: creation date %lld is out of range",
		    (long long)d->created);
		return -1;
	}
	if (d->paper != PDF_A4 && d->paper != PDF_LETTER) {
		snprintf(err, errlen, "pdf: unknown paper size %d", (int)d->paper);
		return -1;
	}
	return 0;
}

/* --- the logo --- */

struct png_reader {
	const unsigned char *p;
	size_t left;
};

static cairo_status_t
png_read(void *closure, unsigned char *data, unsigned int len)
{
	struct png_reader *rd = closure;

	if (len > rd->left)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, rd->p, len);
	rd->p += len;
	rd->left -= len;
	return CAIRO_STATUS_SUCCESS;
}

static unsigned long
be32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
	    (unsigned long)p[2] << 8 | p[3];
}

/* The size is read from the PNG header before anything is decoded, so a small file that
 * declares a huge image never gets a huge buffer. Anything wrong: no logo, no error. */
static cairo_surface_t *
logo_load(const unsigned char *p, size_t n)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct png_reader rd = { p, n };
	cairo_surface_t *s;
	unsigned long w, h;

	if (p == NULL || n < 33 || n > PDF_LOGO_MAX_BYTES || memcmp(p, sig, 8) != 0 ||
	    memcmp(p + 12, "IHDR", 4) != 0)
		return NULL;
	w = be32(p + 16);
	h = be32(p + 20);
	if (w == 0 || h == 0 || w > PDF_LOGO_MAX_PX || h > PDF_LOGO_MAX_PX)
		return NULL;
	s = cairo_image_surface_create_from_png_stream(png_read, &rd);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS ||
	    cairo_image_surface_get_width(s) <= 0 || cairo_image_surface_get_height(s) <= 0) {
		cairo_surface_destroy(s);
		return NULL;
	}
	return s;
}

/* --- building the layouts --- */

/* The party's lines, one per paragraph, the first (the name) in bold. */
static PangoLayout *
party_layout(const struct pdf_party *p, double width)
{
	PangoAttrList *attrs;
	PangoAttribute *a;
	PangoLayout *l;
	GString *s = g_string_new(NULL);
	size_t i, name_len = 0;

	for (i = 0; i < p->nlines; i++) {
		if (s->len > 0)
			g_string_append_c(s, '\n');
		g_string_append(s, p->lines[i] != NULL ? p->lines[i] : "");
		if (i == 0)
			name_len = s->len;
	}
	l = text(s->str, F_BODY, width, PANGO_ALIGN_LEFT, PARTY_MAX_H);
	attrs = pango_attr_list_copy(pango_layout_get_attributes(l));
	a = pango_attr_weight_new(PANGO_WEIGHT_BOLD);
	a->start_index = 0;
	a->end_index = (guint)name_len;
	pango_attr_list_insert(attrs, a);
	pango_layout_set_attributes(l, attrs);
	pango_attr_list_unref(attrs);
	g_string_free(s, TRUE);
	return l;
}

/* The buyer's column lines up with the number/date table above it; the seller has the
 * rest, less a gap. */
static double
party_x(const struct render *r, int k)
{
	return k == 0 ? r->x0 : r->x0 + r->cw - HEAD_W;
}

static double
party_width(const struct render *r, int k)
{
	return k == 0 ? r->cw - HEAD_W - 2 * GAP : HEAD_W;
}

static int
party_shown(const struct pdf_party *p)
{
	return !empty(p->heading) || p->nlines > 0;
}

/* Label on the left, value right-aligned, each wrapping within its width. A bold pair has
 * a bold value, and a bold label too if bold_label. */
static void
pair_build(struct pair *pr, const char *l, const char *v, int bold, int bold_label,
    double label_w, double value_w)
{
	pr->label = text(l, bold && bold_label ? F_BOLD : F_BODY, label_w, PANGO_ALIGN_LEFT,
	    LABEL_MAX_H);
	pr->value = text(v, bold ? F_BOLD : F_BODY, value_w, PANGO_ALIGN_RIGHT, SHORT_MAX_H);
	pr->bold = bold;
	pr->h = MAX(height(pr->label), height(pr->value));
}

static void
add_meta(struct render *r, enum pdf_label k, const char *value, int bold)
{
	if (empty(value))
		return;
	if (k == PDF_LABEL_NUMBER)
		r->number_meta = (int)r->nmeta;
	pair_build(&r->meta[r->nmeta++], label(r, k), value, bold, 0, r->meta_label_w,
	    HEAD_W - r->meta_label_w - GAP);
}

/* "Page {n} of {m}" with the numbers put in. */
static void
page_text(const struct render *r, int n, int m, struct buf *b)
{
	char num[24];
	const char *p;

	for (p = label(r, PDF_LABEL_PAGE); *p != '\0'; p++) {
		if (p[0] == '{' && (p[1] == 'n' || p[1] == 'm') && p[2] == '}') {
			buf_puts(b, buf_lltoa(p[1] == 'n' ? n : m, num));
			p += 2;
		} else
			buf_putc(b, *p);
	}
}

/* The logo, the title, the number/date table and the parties. */
static void
build_head(struct render *r)
{
	const struct pdf_doc *d = r->d;
	double label_w = 0;
	int k;

	r->number_meta = -1;
	r->logo = logo_load(d->logo, d->logo_len);
	if (r->logo != NULL) {
		double iw = cairo_image_surface_get_width(r->logo);
		double ih = cairo_image_surface_get_height(r->logo);

		/* Fit the box, never enlarge: one image pixel is at most one point. */
		r->logo_scale = MIN(MIN(LOGO_MAX_W / iw, LOGO_MAX_H / ih), 1.0);
		r->logo_w = iw * r->logo_scale;
		r->logo_h = ih * r->logo_scale;
	}
	if (!empty(d->title))
		r->title = text(d->title, F_TITLE, HEAD_W, PANGO_ALIGN_RIGHT, SHORT_MAX_H);
	for (k = PDF_LABEL_NUMBER; k <= PDF_LABEL_STATUS; k++)
		label_w = MAX(label_w, natural_width(label(r, (enum pdf_label)k), F_BODY));
	r->meta_label_w = MIN(label_w, HEAD_W * 0.45);
	add_meta(r, PDF_LABEL_NUMBER, d->number, 1);
	add_meta(r, PDF_LABEL_ISSUE_DATE, d->issue_date, 0);
	add_meta(r, PDF_LABEL_SUPPLY_DATE, d->supply_date, 0);
	add_meta(r, PDF_LABEL_DUE_DATE, d->due_date, 0);
	add_meta(r, PDF_LABEL_STATUS, d->status, 1);

	for (k = 0; k < 2; k++) {
		const struct pdf_party *p = k == 0 ? &d->seller : &d->buyer;
		double pw = party_width(r, k);

		if (!party_shown(p))
			continue;
		if (!empty(p->heading))
			r->party_head[k] = text(p->heading, F_SMALL_BOLD, pw,
			    PANGO_ALIGN_LEFT, SHORT_MAX_H);
		r->party[k] = party_layout(p, pw);
	}
	if (!empty(d->reference))
		r->reference = text(d->reference, F_BOLD, r->cw, PANGO_ALIGN_LEFT, SHORT_MAX_H);
}

/* Columns as wide as their widest cell, within bounds; the description takes the rest.
 * Cells wider than their column wrap. */
static void
build_lines(struct render *r)
{
	const struct pdf_doc *d = r->d;
	size_t i;

	r->amount_w = natural_width(label(r, PDF_LABEL_AMOUNT), F_SMALL_BOLD);
	for (i = 0; i < d->nlines; i++) {
		r->amount_w = MAX(r->amount_w, natural_width(d->lines[i].amount, F_BODY));
		if (!empty(d->lines[i].quantity)) {
			r->has_qty = 1;
			r->qty_w = MAX(r->qty_w, natural_width(d->lines[i].quantity, F_BODY));
		}
	}
	r->amount_w = clamp(r->amount_w, 60, r->cw * 0.3);
	if (r->has_qty)
		r->qty_w = clamp(MAX(r->qty_w, natural_width(label(r, PDF_LABEL_QUANTITY),
		    F_SMALL_BOLD)), 24, r->cw * 0.15);
	r->desc_w = r->cw - 2 * CELL_PAD_X - r->amount_w - GAP -
	    (r->has_qty ? r->qty_w + GAP : 0);
	r->col_desc = text(label(r, PDF_LABEL_DESCRIPTION), F_SMALL_BOLD, r->desc_w,
	    PANGO_ALIGN_LEFT, SHORT_MAX_H);
	if (r->has_qty)
		r->col_qty = text(label(r, PDF_LABEL_QUANTITY), F_SMALL_BOLD, r->qty_w,
		    PANGO_ALIGN_RIGHT, SHORT_MAX_H);
	r->col_amount = text(label(r, PDF_LABEL_AMOUNT), F_SMALL_BOLD, r->amount_w,
	    PANGO_ALIGN_RIGHT, SHORT_MAX_H);

	r->rows = calloc(d->nlines ? d->nlines : 1, sizeof(*r->rows));
	if (r->rows == NULL)
		abort();	/* as buf does: a worker out of memory is respawned */
	for (i = 0; i < d->nlines; i++) {
		const struct pdf_line *ln = &d->lines[i];
		struct row *rw = &r->rows[i];
		double h;

		rw->desc = text(ln->description, F_BODY, r->desc_w, PANGO_ALIGN_LEFT, DESC_MAX_H);
		h = height(rw->desc);
		if (!empty(ln->period)) {
			rw->period = text(ln->period, F_SMALL, r->desc_w, PANGO_ALIGN_LEFT,
			    SHORT_MAX_H);
			h += 2 + height(rw->period);
		}
		if (r->has_qty && !empty(ln->quantity)) {
			rw->qty = text(ln->quantity, F_BODY, r->qty_w, PANGO_ALIGN_RIGHT,
			    SHORT_MAX_H);
			h = MAX(h, height(rw->qty));
		}
		rw->amount = text(ln->amount, F_BODY, r->amount_w, PANGO_ALIGN_RIGHT, SHORT_MAX_H);
		h = MAX(h, height(rw->amount));
		rw->h = h + 2 * CELL_PAD_Y;
	}
}

/* Totals on the right; the tax summary, if any, on the left; the note; the footer. */
static void
build_tail(struct render *r)
{
	const struct pdf_doc *d = r->d;
	PangoLayout *l;
	struct buf b;
	size_t i;
	int w, h;

	r->totals_w = r->cw * 0.46;
	r->totals_amount_w = 50;
	for (i = 0; i < d->ntotals; i++)
		r->totals_amount_w = MAX(r->totals_amount_w,
		    natural_width(d->totals[i].amount, d->totals[i].bold ? F_BOLD : F_BODY));
	r->totals_amount_w = MIN(r->totals_amount_w, r->totals_w * 0.55);
	r->totals = calloc(d->ntotals ? d->ntotals : 1, sizeof(*r->totals));
	if (r->totals == NULL)
		abort();
	for (i = 0; i < d->ntotals; i++)
		pair_build(&r->totals[i], d->totals[i].label, d->totals[i].amount,
		    d->totals[i].bold, 1, r->totals_w - 2 * CELL_PAD_X - r->totals_amount_w - GAP,
		    r->totals_amount_w);

	r->tax_w = r->cw - r->totals_w - 2 * GAP;
	r->tax_amount_w = 50;
	for (i = 0; i < d->ntaxes; i++)
		r->tax_amount_w = MAX(r->tax_amount_w, natural_width(d->taxes[i].amount, F_BODY));
	r->tax_amount_w = MIN(r->tax_amount_w, r->tax_w * 0.45);
	r->taxes = calloc(d->ntaxes ? d->ntaxes : 1, sizeof(*r->taxes));
	if (r->taxes == NULL)
		abort();
	if (d->ntaxes > 0)
		r->tax_head = text(label(r, PDF_LABEL_TAX), F_SMALL_BOLD, r->tax_w,
		    PANGO_ALIGN_LEFT, SHORT_MAX_H);
	for (i = 0; i < d->ntaxes; i++)
		pair_build(&r->taxes[i], d->taxes[i].label, d->taxes[i].amount, 0, 0,
		    r->tax_w - 2 * CELL_PAD_X - r->tax_amount_w - GAP, r->tax_amount_w);

	if (!empty(d->note))
		r->note = text(d->note, F_BODY, r->cw, PANGO_ALIGN_LEFT, 0);

	/* The page counter is given the width of the widest it could be. */
	buf_init(&b);
	page_text(r, 999, 999, &b);
	l = text(b.data, F_SMALL, 0, PANGO_ALIGN_LEFT, 0);
	pango_layout_get_size(l, &w, &h);
	r->pageno_w = MIN(units_to_pt(w), r->cw * 0.3);
	r->footer_h = units_to_pt(h);
	g_object_unref(l);
	buf_free(&b);
	if (!empty(d->footer)) {
		r->footer = text(d->footer, F_SMALL, r->cw - r->pageno_w - GAP, PANGO_ALIGN_LEFT,
		    FOOTER_MAX_H);
		r->footer_h = MAX(r->footer_h, height(r->footer));
	}
	r->bottom = r->ph - MARGIN_BOTTOM - r->footer_h - GAP;
}

static void
unbuild(struct render *r)
{
	size_t i;
	int k;

	if (r->logo != NULL)
		cairo_surface_destroy(r->logo);
	unref(r->title);
	for (i = 0; i < r->nmeta; i++) {
		unref(r->meta[i].label);
		unref(r->meta[i].value);
	}
	for (k = 0; k < 2; k++) {
		unref(r->party_head[k]);
		unref(r->party[k]);
	}
	unref(r->reference);
	unref(r->col_desc);
	unref(r->col_qty);
	unref(r->col_amount);
	for (i = 0; r->rows != NULL && i < r->d->nlines; i++) {
		unref(r->rows[i].desc);
		unref(r->rows[i].period);
		unref(r->rows[i].qty);
		unref(r->rows[i].amount);
	}
	free(r->rows);
	for (i = 0; r->totals != NULL && i < r->d->ntotals; i++) {
		unref(r->totals[i].label);
		unref(r->totals[i].value);
	}
	free(r->totals);
	unref(r->tax_head);
	for (i = 0; r->taxes != NULL && i < r->d->ntaxes; i++) {
		unref(r->taxes[i].label);
		unref(r->taxes[i].value);
	}
	free(r->taxes);
	unref(r->note);
	unref(r->footer);
}

/* --- drawing --- */

static void
ink(struct render *r, unsigned rgb)
{
	cairo_set_source_rgb(r->cr, (rgb >> 16 & 0xff) / 255.0, (rgb >> 8 & 0xff) / 255.0,
	    (rgb & 0xff) / 255.0);
}

static void
show(struct render *r, PangoLayout *l, unsigned rgb, double x, double y)
{
	if (r->cr == NULL || l == NULL)
		return;
	ink(r, rgb);
	cairo_move_to(r->cr, x, y);
	pango_cairo_show_layout(r->cr, l);
}

static void
rule(struct render *r, unsigned rgb, double width, double x, double y, double len)
{
	if (r->cr == NULL)
		return;
	ink(r, rgb);
	cairo_set_line_width(r->cr, width);
	cairo_move_to(r->cr, x, y);
	cairo_line_to(r->cr, x + len, y);
	cairo_stroke(r->cr);
}

static void
fill(struct render *r, unsigned rgb, double x, double y, double w, double h)
{
	if (r->cr == NULL)
		return;
	ink(r, rgb);
	cairo_rectangle(r->cr, x, y, w, h);
	cairo_fill(r->cr);
}

static void
draw_pair(struct render *r, const struct pair *p, unsigned label_rgb, double x, double w,
    double y)
{
	double vw = units_to_pt(pango_layout_get_width(p->value));

	show(r, p->label, label_rgb, x, y);
	show(r, p->value, p->bold ? C_TEXT : C_DARK, x + w - vw, y);
}

/* Where the body starts, below the header of the first page or of the others. */
static double
body_top(const struct render *r, int first)
{
	double y = MARGIN_TOP - 4 + height(r->title) + 6;
	size_t i;

	for (i = 0; i < r->nmeta; i++)
		if (first || (int)i == r->number_meta)
			y += r->meta[i].h + 2;
	return MAX(y, MARGIN_TOP + r->logo_h) + (first ? 20 : 14);
}

/* Logo on the left; the title and the number (and, on the first page, the dates and the
 * status) on the right. */
static void
draw_header(struct render *r)
{
	double y = MARGIN_TOP - 4, rx = r->x0 + r->cw - HEAD_W;
	size_t i;

	if (r->logo != NULL && r->cr != NULL) {
		cairo_save(r->cr);
		cairo_translate(r->cr, r->x0, MARGIN_TOP);
		cairo_scale(r->cr, r->logo_scale, r->logo_scale);
		cairo_set_source_surface(r->cr, r->logo, 0, 0);
		cairo_pattern_set_filter(cairo_get_source(r->cr), CAIRO_FILTER_GOOD);
		cairo_paint(r->cr);
		cairo_restore(r->cr);
	}
	show(r, r->title, C_TITLE, rx, y);
	y += height(r->title) + 6;
	for (i = 0; i < r->nmeta; i++) {
		if (r->page > 1 && (int)i != r->number_meta)
			continue;
		draw_pair(r, &r->meta[i], C_MUTED, rx, HEAD_W, y);
		y += r->meta[i].h + 2;
	}
	r->y = body_top(r, r->page == 1);
}

static void
draw_footer(struct render *r)
{
	double fy = r->ph - MARGIN_BOTTOM - r->footer_h;
	PangoLayout *l;
	struct buf b;

	if (r->cr == NULL)
		return;
	rule(r, C_RULE, 0.6, r->x0, fy - 6, r->cw);
	show(r, r->footer, C_MUTED, r->x0, fy);
	buf_init(&b);
	page_text(r, r->page, r->pages, &b);
	l = text(b.data, F_SMALL, r->pageno_w, PANGO_ALIGN_RIGHT, SHORT_MAX_H);
	show(r, l, C_MUTED, r->x0 + r->cw - r->pageno_w, fy);
	g_object_unref(l);
	buf_free(&b);
}

static void
new_page(struct render *r)
{
	if (r->page > 0) {
		draw_footer(r);
		if (r->cr != NULL)
			cairo_show_page(r->cr);
	}
	r->page++;
	draw_header(r);
	r->fresh = 1;
}

/* Column headings on a light band. */
static void
draw_columns(struct render *r)
{
	double h = height(r->col_desc) + 2 * CELL_PAD_Y;
	double right = r->x0 + r->cw - CELL_PAD_X;

	fill(r, C_BAND, r->x0, r->y, r->cw, h);
	show(r, r->col_desc, C_MUTED, r->x0 + CELL_PAD_X, r->y + CELL_PAD_Y);
	if (r->has_qty)
		show(r, r->col_qty, C_MUTED, right - r->amount_w - GAP - r->qty_w,
		    r->y + CELL_PAD_Y);
	show(r, r->col_amount, C_MUTED, right - r->amount_w, r->y + CELL_PAD_Y);
	r->y += h;
}

static void
draw_row(struct render *r, const struct row *rw)
{
	double right = r->x0 + r->cw - CELL_PAD_X, y = r->y + CELL_PAD_Y;

	show(r, rw->desc, C_TEXT, r->x0 + CELL_PAD_X, y);
	if (rw->period != NULL)
		show(r, rw->period, C_MUTED, r->x0 + CELL_PAD_X, y + height(rw->desc) + 2);
	if (rw->qty != NULL)
		show(r, rw->qty, C_TEXT, right - r->amount_w - GAP - r->qty_w, y);
	show(r, rw->amount, C_TEXT, right - r->amount_w, y);
	r->y += rw->h;
	rule(r, C_RULE, 0.5, r->x0, r->y, r->cw);
}

/* The first page's parties side by side, then the reference line. */
static void
draw_parties(struct render *r)
{
	double h = 0, hh;
	int k;

	for (k = 0; k < 2; k++) {
		double x = party_x(r, k);

		if (r->party[k] == NULL)
			continue;
		hh = height(r->party_head[k]);
		show(r, r->party_head[k], C_MUTED, x, r->y);
		if (hh > 0)
			hh += 3;
		show(r, r->party[k], C_TEXT, x, r->y + hh);
		h = MAX(h, hh + height(r->party[k]));
	}
	if (h > 0)
		r->y += h + 18;
	if (r->reference != NULL) {
		show(r, r->reference, C_TEXT, r->x0, r->y);
		r->y += height(r->reference) + 14;
	}
}

static double
summary_height(const struct render *r)
{
	double t = 0, x = 0;
	size_t i;

	for (i = 0; i < r->d->ntotals; i++)
		t += r->totals[i].h + 2 * ROW_PAD;
	if (r->d->ntaxes > 0) {
		x = height(r->tax_head) + 2 * ROW_PAD;
		for (i = 0; i < r->d->ntaxes; i++)
			x += r->taxes[i].h + 2 * ROW_PAD;
	}
	return MAX(t, x);
}

/* Room for h more on this page, or a new page (unless this one is still empty). */
static void
need(struct render *r, double h)
{
	if (r->y + h > r->bottom && !r->fresh)
		new_page(r);
}

/* The totals, right-aligned, a rule above each group of bold rows (the total, the amount
 * due). With flow, a row that does not fit starts a new page. */
static void
draw_totals(struct render *r, int flow)
{
	double tx = r->x0 + r->cw - r->totals_w;
	size_t i;

	for (i = 0; i < r->d->ntotals; i++) {
		const struct pair *p = &r->totals[i];

		if (flow)
			need(r, p->h + 2 * ROW_PAD);
		if (p->bold && i > 0 && !r->totals[i - 1].bold)
			rule(r, C_DARK, 0.9, tx, r->y, r->totals_w);
		draw_pair(r, p, p->bold ? C_TEXT : C_DARK, tx + CELL_PAD_X,
		    r->totals_w - 2 * CELL_PAD_X, r->y + ROW_PAD);
		r->y += p->h + 2 * ROW_PAD;
		r->fresh = 0;
	}
}

/* The tax summary, at the left. */
static void
draw_taxes(struct render *r, int flow)
{
	size_t i;

	if (r->d->ntaxes == 0)
		return;
	if (flow)
		need(r, height(r->tax_head) + 2 * ROW_PAD + r->taxes[0].h + 2 * ROW_PAD);
	show(r, r->tax_head, C_MUTED, r->x0 + CELL_PAD_X, r->y + ROW_PAD);
	r->y += height(r->tax_head) + 2 * ROW_PAD;
	rule(r, C_RULE, 0.5, r->x0, r->y, r->tax_w);
	for (i = 0; i < r->d->ntaxes; i++) {
		if (flow)
			need(r, r->taxes[i].h + 2 * ROW_PAD);
		draw_pair(r, &r->taxes[i], C_DARK, r->x0 + CELL_PAD_X,
		    r->tax_w - 2 * CELL_PAD_X, r->y + ROW_PAD);
		r->y += r->taxes[i].h + 2 * ROW_PAD;
		r->fresh = 0;
	}
}

/* Tax summary on the left, totals on the right, kept together on one page; if they are
 * taller than a page, the totals and then the tax summary flow row by row. */
static void
draw_summary(struct render *r)
{
	double h = summary_height(r), top, end;

	if (h == 0)
		return;
	r->y += 10;
	if (h > r->bottom - body_top(r, 0)) {
		draw_totals(r, 1);
		r->y += 10;
		draw_taxes(r, 1);
		return;
	}
	need(r, h);
	top = r->y;
	draw_totals(r, 0);
	end = r->y;
	r->y = top;
	draw_taxes(r, 0);
	r->y = MAX(r->y, end);
}

/* The note may be long (legal text): it flows line by line onto further pages. */
static void
draw_note(struct render *r)
{
	PangoLayoutIter *it;

	if (r->note == NULL)
		return;
	r->y += 18;
	/* A short note is kept together rather than leave a line or two on the next page. */
	if (pango_layout_get_line_count(r->note) <= NOTE_KEEP_LINES)
		need(r, height(r->note));
	it = pango_layout_get_iter(r->note);
	do {
		PangoRectangle logical;
		int y0, y1;
		double lh;

		pango_layout_iter_get_line_yrange(it, &y0, &y1);
		lh = units_to_pt(y1 - y0);
		need(r, lh);
		if (r->cr != NULL) {
			pango_layout_iter_get_line_extents(it, NULL, &logical);
			ink(r, C_DARK);
			cairo_move_to(r->cr, r->x0 + units_to_pt(logical.x),
			    r->y + units_to_pt(pango_layout_iter_get_baseline(it) - y0));
			pango_cairo_show_layout_line(r->cr,
			    pango_layout_iter_get_line_readonly(it));
		}
		r->y += lh;
		r->fresh = 0;
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
}

/* One pass over the document; returns the number of pages. */
static int
flow(struct render *r)
{
	size_t i;

	r->page = 0;
	new_page(r);
	draw_parties(r);
	if (r->d->nlines > 0) {
		draw_columns(r);
		for (i = 0; i < r->d->nlines; i++) {
			if (r->y + r->rows[i].h > r->bottom && !r->fresh) {
				new_page(r);
				draw_columns(r);
			}
			draw_row(r, &r->rows[i]);
			r->fresh = 0;
		}
	}
	draw_summary(r);
	draw_note(r);
	draw_footer(r);
	if (r->cr != NULL)
		cairo_show_page(r->cr);
	return r->page;
}

/* --- the PDF --- */

static cairo_status_t
pdf_write(void *closure, const unsigned char *data, unsigned int len)
{
	buf_append(closure, data, len);
	return CAIRO_STATUS_SUCCESS;
}

/*
 * cairo 1.16 writes no date of its own: the creation and modification dates are the
 * model's. The other metadata depend only on the model, and the font subsets are named
 * from a hash of their glyphs, so the bytes depend on the input alone (and on cairo's
 * version, which it writes as the Producer).
 */
static int
set_metadata(cairo_surface_t *s, const struct pdf_doc *d, char *err, size_t errlen)
{
	char date[32];
	struct tm tm;
	time_t t;
	GString *title;

	t = (time_t)d->created;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(err, errlen, "pdf: cannot format the creation date");
		return -1;
	}
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, date);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, date);
	title = g_string_new(empty(d->title) ? "Document" : d->title);
	if (!empty(d->number))
		g_string_append_printf(title, " %s", d->number);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title->str);
	g_string_free(title, TRUE);
	if (d->seller.nlines > 0 && !empty(d->seller.lines[0]))
		cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_AUTHOR,
		    d->seller.lines[0]);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "Portald");
	return 0;
}

int
pdf_render(const struct pdf_doc *d, struct buf *out, char *err, size_t errlen)
{
	struct render r;
	cairo_surface_t *s = NULL;
	cairo_status_t st;
	size_t start = out->len;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.d = d;
	if (check_doc(d, err, errlen) == -1)
		return -1;
	if (pdf_init() == -1) {
		snprintf(err, errlen, "pdf: cannot set up pango");
		return -1;
	}
	if (d->paper == PDF_LETTER) {
		r.pw = 612.0;		/* 8.5 x 11 in */
		r.ph = 792.0;
	} else {
		r.pw = 595.276;		/* 210 x 297 mm */
		r.ph = 841.89;
	}
	r.x0 = MARGIN_X;
	r.cw = r.pw - 2 * MARGIN_X;
	build_head(&r);
	build_lines(&r);
	build_tail(&r);

	r.pages = flow(&r);

	s = cairo_pdf_surface_create_for_stream(pdf_write, out, r.pw, r.ph);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "pdf: %s", cairo_status_to_string(cairo_surface_status(s)));
		goto done;
	}
	cairo_pdf_surface_restrict_to_version(s, CAIRO_PDF_VERSION_1_5);
	if (set_metadata(s, d, err, errlen) == -1)
		goto done;
	/* The context is not updated from the surface: the layouts stay as measured. */
	r.cr = cairo_create(s);
	flow(&r);
	st = cairo_status(r.cr);
	cairo_destroy(r.cr);
	r.cr = NULL;
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "pdf: %s", cairo_status_to_string(st));
		goto done;
	}
	rc = 0;
done:
	if (s != NULL)
		cairo_surface_destroy(s);
	unbuild(&r);
	if (rc == -1 && out->len > start) {
		out->len = start;	/* what cairo wrote before it failed */
		out->data[start] = '\0';
	}
	return rc;
}
