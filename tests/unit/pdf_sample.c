/* pdf_sample.c: writes the sample PDFs and says what each must contain, for tests/pdf/run.
 * Usage: pdf_sample write DIR [NAME...]   render samples to DIR/NAME.pdf
 *        pdf_sample list                 NAME MIN_PAGES MAX_PAGES CREATED (Unix seconds)
 *        pdf_sample expect NAME          the texts pdftotext must find, one per line
 *        pdf_sample lines NAME           the descriptions of the lines, one per line
 *        pdf_sample loop N               render every sample N times (for valgrind) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf_samples.h"

static int
write_one(const struct pdf_sample *s, const char *dir)
{
	struct buf out;
	char err[256], path[4096];
	FILE *f;
	int rc = -1;

	buf_init(&out);
	if (pdf_render(&s->doc, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "pdf_sample: %s: %s\n", s->name, err);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s.pdf", dir, s->name);
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		goto done;
	}
	if (fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
		perror(path);
		goto done;
	}
	rc = 0;
done:
	buf_free(&out);
	return rc;
}

static void
say(const char *s)
{
	if (s != NULL && *s != '\0')
		printf("%s\n", s);
}

/* Everything the caller put on the page, as it formatted it. */
static void
expect(const struct pdf_sample *s)
{
	const struct pdf_doc *d = &s->doc;
	size_t i;

	say(d->title);
	say(d->number);
	say(d->issue_date);
	say(d->supply_date);
	say(d->due_date);
	say(d->status);
	say(d->reference);
	say(d->seller.heading);
	for (i = 0; i < d->seller.nlines; i++)
		say(d->seller.lines[i]);
	say(d->buyer.heading);
	for (i = 0; i < d->buyer.nlines; i++)
		say(d->buyer.lines[i]);
	for (i = 0; i < d->nlines; i++) {
		say(d->lines[i].description);
		say(d->lines[i].period);
		say(d->lines[i].quantity);
		say(d->lines[i].amount);
	}
	for (i = 0; i < d->ntaxes; i++) {
		say(d->taxes[i].label);
		say(d->taxes[i].amount);
	}
	for (i = 0; i < d->ntotals; i++) {
		say(d->totals[i].label);
		say(d->totals[i].amount);
	}
	say(d->note);
	say(d->footer);
}

int
main(int argc, char **argv)
{
	const struct pdf_sample *t, *s;
	size_t n, i;
	int rc = 0, k;

	n = pdf_samples(&t);
	if (argc >= 3 && strcmp(argv[1], "write") == 0) {
		if (argc == 3) {
			for (i = 0; i < n; i++)
				rc |= write_one(&t[i], argv[2]);
		}
		for (k = 3; k < argc; k++) {
			if ((s = pdf_sample_find(argv[k])) == NULL) {
				fprintf(stderr, "pdf_sample: no sample %s\n", argv[k]);
				rc = 1;
			} else
				rc |= write_one(s, argv[2]);
		}
	} else if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; i < n; i++)
			printf("%s %d %d %lld\n", t[i].name, t[i].min_pages, t[i].max_pages,
			    (long long)t[i].doc.created);
	} else if (argc == 3 && strcmp(argv[1], "expect") == 0) {
		if ((s = pdf_sample_find(argv[2])) == NULL) {
			fprintf(stderr, "pdf_sample: no sample %s\n", argv[2]);
			rc = 1;
		} else
			expect(s);
	} else if (argc == 3 && strcmp(argv[1], "lines") == 0) {
		if ((s = pdf_sample_find(argv[2])) == NULL) {
			fprintf(stderr, "pdf_sample: no sample %s\n", argv[2]);
			rc = 1;
		} else
			for (i = 0; i < s->doc.nlines; i++)
				say(s->doc.lines[i].description);
	} else if (argc == 3 && strcmp(argv[1], "loop") == 0) {
		struct buf out;
		char err[256];
		long rounds = strtol(argv[2], NULL, 10);

		buf_init(&out);
		while (rounds-- > 0 && rc == 0)
			for (i = 0; i < n && rc == 0; i++) {
				buf_reset(&out);
				if (pdf_render(&t[i].doc, &out, err, sizeof(err)) == -1) {
					fprintf(stderr, "pdf_sample: %s: %s\n", t[i].name, err);
					rc = 1;
				}
			}
		buf_free(&out);
	} else {
		fprintf(stderr, "usage: pdf_sample write DIR [NAME...] | list | expect NAME | "
		    "lines NAME | loop N\n");
		rc = 2;
	}
	pdf_samples_free();
	pdf_shutdown();
	return rc == 0 ? 0 : 1;
}
