/* pdf_samples.h: invoices and credit notes with tricky data, shared by the PDF unit test,
 * the poppler checks (tests/pdf/run) and the benchmark (bench/pdf). */
#ifndef PDF_SAMPLES_H
#define PDF_SAMPLES_H

#include "pdf/pdf.h"

struct pdf_sample {
	const char	*name;		/* file name without ".pdf" */
	int		 min_pages;	/* what pdfinfo must report */
	int		 max_pages;
	struct pdf_doc	 doc;
};

/* The table, built on first call (the 60-line invoice and the logo are made at run time). */
size_t	pdf_samples(const struct pdf_sample **out);
const struct pdf_sample *pdf_sample_find(const char *name);
/* Frees what pdf_samples() built. */
void	pdf_samples_free(void);

#endif
