/* pdf.h: renders an invoice or a credit note, given as already-formatted text, to PDF bytes. */
#ifndef PORTALD_PDF_H
#define PORTALD_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * The model holds text only: amounts ("€1,234.50", "¥1,200", "KWD 1.250"), dates and
 * quantities arrive formatted by the caller, which owns every string; pdf_render() copies
 * nothing it keeps. Every string is UTF-8 and may contain '\n'; NULL and "" mean "none"
 * (the row or block is left out). Text is laid out by pango with font fallback (DejaVu Sans,
 * then whatever fontconfig offers for the script, e.g. Noto Sans CJK), drawn as real text
 * with the fonts embedded and subset. Long text wraps; text that cannot fit a page even
 * wrapped (a description taller than half a page, say) is cut with an ellipsis.
 */

enum pdf_paper {
	PDF_A4 = 0,
	PDF_LETTER
};

/* Fixed words on the page. Each has an English default; set doc.labels[] to translate. */
enum pdf_label {
	PDF_LABEL_NUMBER = 0,	/* "Number" */
	PDF_LABEL_ISSUE_DATE,	/* "Issue date" */
	PDF_LABEL_SUPPLY_DATE,	/* "Date of supply" */
	PDF_LABEL_DUE_DATE,	/* "Due date" */
	PDF_LABEL_STATUS,	/* "Status" */
	PDF_LABEL_DESCRIPTION,	/* "Description" */
	PDF_LABEL_QUANTITY,	/* "Qty" */
	PDF_LABEL_AMOUNT,	/* "Amount" */
	PDF_LABEL_TAX,		/* "Tax summary" */
	PDF_LABEL_PAGE,		/* "Page {n} of {m}": {n} and {m} are replaced */
	PDF_LABEL__MAX
};

#define PDF_PARTY_LINES	12		/* lines of a seller or buyer block */
#define PDF_LOGO_MAX_BYTES	(2u << 20)	/* a larger logo is skipped */
#define PDF_LOGO_MAX_PX	4096		/* so is one wider or taller than this */

/* Seller or buyer. The first line is the name and is set in bold. */
struct pdf_party {
	const char	*heading;		/* "From", "Bill to" */
	const char	*lines[PDF_PARTY_LINES];	/* name, address lines, "VAT: DE123456789" */
	size_t		 nlines;
};

struct pdf_line {
	const char	*description;
	const char	*period;	/* "1 Mar 2026 – 31 Mar 2026", shown under it */
	const char	*quantity;	/* optional; the column goes when no line has one */
	const char	*amount;
};

struct pdf_tax {
	const char	*label;		/* "VAT 19% on €100.00", "Includes VAT 19% on ..." */
	const char	*amount;
};

struct pdf_total {
	const char	*label;		/* "Subtotal", "Credit", "VAT", "Total", "Paid", "Amount due" */
	const char	*amount;
	int		 bold;
};

struct pdf_doc {
	const char	*title;		/* "Invoice", "Credit note" */
	const char	*number;	/* "INV-0042" */
	const char	*issue_date;
	const char	*supply_date;	/* date or period of supply */
	const char	*due_date;
	const char	*status;	/* "Paid", "Open", "Void" */
	const char	*reference;	/* "Corrects invoice INV-0042" */
	enum pdf_paper	 paper;
	const unsigned char *logo;	/* PNG bytes; a bad or oversized one is skipped */
	size_t		 logo_len;
	struct pdf_party seller;
	struct pdf_party buyer;
	const struct pdf_line *lines;
	size_t		 nlines;
	const struct pdf_tax *taxes;	/* the tax summary beside the totals */
	size_t		 ntaxes;
	const struct pdf_total *totals;	/* in the order given, right-aligned */
	size_t		 ntotals;
	const char	*note;		/* reverse-charge note, "Details as issued on ..." */
	const char	*footer;	/* every page, beside "Page n of m" */
	int64_t		 created;	/* Unix seconds: the PDF's CreationDate and ModDate */
	const char	*labels[PDF_LABEL__MAX];	/* NULL: the English default */
};

/*
 * Appends the PDF to out (which it does not reset). The same doc gives the same bytes,
 * in any process, at any time, as long as cairo, pango and the installed fonts are the
 * same. Returns 0, or -1 with err filled (text that is not UTF-8, too many party lines, a
 * creation date out of range, a cairo failure) and out as it was.
 * Not thread-safe: the font machinery is set up on first use and kept for the process.
 */
int	pdf_render(const struct pdf_doc *d, struct buf *out, char *err, size_t errlen);

/* Releases what pdf_render() keeps for the process (fonts, caches), so valgrind sees no
 * leak at exit. pdf_render() may be called again afterwards. */
void	pdf_shutdown(void);

#endif
