/* pdf_bench.c: renders the one-page sample invoice N times and prints PDFs per second.
 * Usage: pdf_bench [N] [SAMPLE]   (default 500 invoice_eu) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pdf_samples.h"

static double
now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const struct pdf_sample *s;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 500, i;
	const char *name = argc > 2 ? argv[2] : "invoice_eu";
	struct buf out;
	char err[256];
	double t0, t1, c0, c1, first;
	size_t bytes = 0;

	if (n <= 0 || (s = pdf_sample_find(name)) == NULL) {
		fprintf(stderr, "usage: pdf_bench [N] [SAMPLE]\n");
		return 2;
	}
	buf_init(&out);
	/* The first render sets up fontconfig and pango; it is timed on its own. */
	t0 = now(CLOCK_MONOTONIC);
	if (pdf_render(&s->doc, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "pdf_bench: %s\n", err);
		return 1;
	}
	first = now(CLOCK_MONOTONIC) - t0;
	/* Wall time, and CPU time, which other load on a shared machine disturbs less. */
	t0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++) {
		buf_reset(&out);
		if (pdf_render(&s->doc, &out, err, sizeof(err)) == -1) {
			fprintf(stderr, "pdf_bench: %s\n", err);
			return 1;
		}
		bytes = out.len;
	}
	t1 = now(CLOCK_MONOTONIC);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	printf("pdf: %s, %ld renders in %.2f s: %.0f PDFs/s (%.2f ms each; per CPU second "
	    "%.0f), %zu bytes; first render %.0f ms\n", name, n, t1 - t0, n / (t1 - t0),
	    (t1 - t0) * 1e3 / n, n / (c1 - c0), bytes, first * 1e3);
	buf_free(&out);
	pdf_samples_free();
	pdf_shutdown();
	return 0;
}
