/* check_pdf.c: invoices and credit notes render to well-formed, reproducible PDFs whatever
 * the text (scripts, lengths, currencies); bad input is refused, a bad logo is skipped.
 * The samples are written to $PDF_OUT_DIR for a person to read, if it is set (otherwise to
 * a directory under /tmp, removed at exit); tests/pdf/run checks their text and fonts with
 * poppler. */
#define _GNU_SOURCE	/* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "check_main.h"
#include "pdf_samples.h"

static char outdir[4096];
static pid_t parent;
static struct buf out, again;
static char err[256];

static void
setup(void)
{
	buf_init(&out);
	buf_init(&again);
	err[0] = '\0';
}

static void
teardown(void)
{
	buf_free(&out);
	buf_free(&again);
}

static int
render(const struct pdf_doc *d, struct buf *b)
{
	buf_reset(b);
	return pdf_render(d, b, err, sizeof(err));
}

static size_t
count(const struct buf *b, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	const char *p = b->data, *end = b->data + b->len;

	while ((p = memmem(p, (size_t)(end - p), needle, k)) != NULL) {
		n++;
		p += k;
	}
	return n;
}

/* Page objects ("/Type /Page"), not the page tree ("/Type /Pages"). */
static int
pages(const struct buf *b)
{
	return (int)(count(b, "/Type /Page") - count(b, "/Type /Pages"));
}

static void
assert_pdf(const struct buf *b)
{
	ck_assert_uint_gt(b->len, 5000);
	ck_assert_int_eq(memcmp(b->data, "%PDF-", 5), 0);
	ck_assert_int_eq(memcmp(b->data + b->len - 6, "%%EOF\n", 6), 0);
}

static void
save(const char *name, const struct buf *b)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pdf", outdir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	ck_assert_uint_eq(fwrite(b->data, 1, b->len, f), b->len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Every sample: a complete PDF of the expected length, the same bytes twice. */
START_TEST(sample_renders_and_repeats)
{
	const struct pdf_sample *t;
	size_t n = pdf_samples(&t);

	ck_assert_uint_lt((size_t)_i, n);
	ck_assert_msg(render(&t[_i].doc, &out) == 0, "%s: %s", t[_i].name, err);
	assert_pdf(&out);
	ck_assert_int_ge(pages(&out), t[_i].min_pages);
	ck_assert_int_le(pages(&out), t[_i].max_pages);
	save(t[_i].name, &out);
	ck_assert_int_eq(render(&t[_i].doc, &again), 0);
	ck_assert_uint_eq(out.len, again.len);
	ck_assert_int_eq(memcmp(out.data, again.data, out.len), 0);
}
END_TEST

START_TEST(sixty_lines_flow_onto_more_pages)
{
	const struct pdf_sample *s = pdf_sample_find("invoice_long");

	ck_assert_uint_eq(s->doc.nlines, 60);
	ck_assert_int_eq(render(&s->doc, &out), 0);
	ck_assert_int_ge(pages(&out), 2);
}
END_TEST

START_TEST(paper_size_is_the_model_s)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.paper = PDF_LETTER;
	ck_assert_int_eq(render(&d, &out), 0);
	ck_assert_uint_eq(count(&out, "/MediaBox [ 0 0 612 792 ]"), 1);
	d.paper = PDF_A4;
	ck_assert_int_eq(render(&d, &out), 0);
	ck_assert_uint_eq(count(&out, "/MediaBox [ 0 0 595.276 841.89 ]"), 1);
}
END_TEST

START_TEST(creation_date_is_the_model_s)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.created = 1772323200 + 3 * 3600 + 4 * 60 + 5;	/* 2026-03-01T03:04:05Z */
	ck_assert_int_eq(render(&d, &out), 0);
	/* cairo 1.16 writes the PDF date without its "D:" prefix; later versions add it. */
	ck_assert_uint_eq(count(&out, "/CreationDate (") + count(&out, "/ModDate ("), 2);
	ck_assert_uint_eq(count(&out, "20260301030405Z"), 2);
	d.created++;
	ck_assert_int_eq(render(&d, &again), 0);
	ck_assert_uint_eq(count(&again, "20260301030406Z"), 2);
}
END_TEST

START_TEST(a_good_logo_is_drawn)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	ck_assert_ptr_nonnull(d.logo);
	ck_assert_int_eq(render(&d, &out), 0);
	ck_assert_uint_ge(count(&out, "/Subtype /Image"), 1);
	d.logo = NULL;
	d.logo_len = 0;
	ck_assert_int_eq(render(&d, &again), 0);
	ck_assert_uint_eq(count(&again, "/Subtype /Image"), 0);
}
END_TEST

/* A logo that cannot be used leaves the document exactly as if there were none. */
static void
assert_logo_skipped(const unsigned char *logo, size_t len)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.logo = logo;
	d.logo_len = len;
	ck_assert_msg(render(&d, &out) == 0, "%s", err);
	d.logo = NULL;
	d.logo_len = 0;
	ck_assert_int_eq(render(&d, &again), 0);
	ck_assert_uint_eq(out.len, again.len);
	ck_assert_int_eq(memcmp(out.data, again.data, out.len), 0);
}

START_TEST(a_corrupt_logo_is_skipped)
{
	const struct pdf_sample *s = pdf_sample_find("bad_logo_no_buyer");

	assert_logo_skipped(s->doc.logo, s->doc.logo_len);
}
END_TEST

START_TEST(a_huge_logo_is_skipped_before_decoding)
{
	const struct pdf_sample *s = pdf_sample_find("huge_logo");

	assert_logo_skipped(s->doc.logo, s->doc.logo_len);
}
END_TEST

START_TEST(a_truncated_or_foreign_logo_is_skipped)
{
	const struct pdf_doc *d = &pdf_sample_find("invoice_eu")->doc;
	static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff"
	    "\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
	    "\x02\x02\x44\x01\x00;";

	assert_logo_skipped(d->logo, d->logo_len / 2);
	assert_logo_skipped(d->logo, 8);
	assert_logo_skipped(gif, sizeof(gif));
}
END_TEST

START_TEST(an_empty_buyer_block_is_left_out)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	memset(&d.buyer, 0, sizeof(d.buyer));
	ck_assert_int_eq(render(&d, &out), 0);
	assert_pdf(&out);
	memset(&d.seller, 0, sizeof(d.seller));
	ck_assert_int_eq(render(&d, &out), 0);
	assert_pdf(&out);
}
END_TEST

START_TEST(an_empty_document_is_one_page)
{
	struct pdf_doc d;

	memset(&d, 0, sizeof(d));
	ck_assert_msg(render(&d, &out) == 0, "%s", err);
	ck_assert_int_eq(memcmp(out.data, "%PDF-", 5), 0);
	ck_assert_int_eq(pages(&out), 1);
}
END_TEST

/* A description longer than a page is cut rather than spilling over the footer. */
START_TEST(an_endless_description_stays_on_its_page)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;
	struct pdf_line ln = { NULL, "March 2026", "1", "€1.00" };
	char *text = malloc(40001);
	int i;

	for (i = 0; i < 40000; i++)
		text[i] = i % 9 == 8 ? ' ' : (i % 400 == 399 ? '\n' : 'a' + i % 26);
	text[40000] = '\0';
	ln.description = text;
	d.lines = &ln;
	d.nlines = 1;
	ck_assert_int_eq(render(&d, &out), 0);
	ck_assert_int_le(pages(&out), 2);
	free(text);
}
END_TEST

/* A long note flows onto further pages instead. */
START_TEST(a_long_note_flows_onto_more_pages)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;
	struct buf note;
	int i;

	buf_init(&note);
	for (i = 0; i < 200; i++)
		buf_printf(&note, "Clause %d: terms that go on and on and on.\n", i + 1);
	d.note = note.data;
	ck_assert_int_eq(render(&d, &out), 0);
	ck_assert_int_ge(pages(&out), 3);
	buf_free(&note);
}
END_TEST

START_TEST(text_that_is_not_utf8_is_refused)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.buyer.lines[1] = "Stra\xdf" "e 1";	/* Latin-1 */
	ck_assert_int_eq(render(&d, &out), -1);
	ck_assert_str_eq(err, "pdf: buyer line 2 is not valid UTF-8");
	d = pdf_sample_find("invoice_eu")->doc;
	d.number = "INV\xc0\x80";	/* overlong NUL */
	ck_assert_int_eq(render(&d, &out), -1);
	ck_assert_str_eq(err, "pdf: number is not valid UTF-8");
}
END_TEST

START_TEST(too_many_party_lines_are_refused)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.seller.nlines = PDF_PARTY_LINES + 1;
	ck_assert_int_eq(render(&d, &out), -1);
	ck_assert_ptr_nonnull(strstr(err, "seller"));
}
END_TEST

START_TEST(a_creation_date_out_of_range_is_refused)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.created = -1;
	ck_assert_int_eq(render(&d, &out), -1);
	ck_assert_ptr_nonnull(strstr(err, "creation date"));
	d.created = 253402300800LL;	/* year 10000 */
	ck_assert_int_eq(render(&d, &out), -1);
}
END_TEST

START_TEST(a_refused_document_leaves_the_buffer_as_it_was)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	buf_puts(&out, "kept");
	d.created = -5;
	ck_assert_int_eq(pdf_render(&d, &out, err, sizeof(err)), -1);
	ck_assert_uint_eq(out.len, 4);
	ck_assert_str_eq(out.data, "kept");
}
END_TEST

START_TEST(render_appends_to_the_buffer)
{
	buf_puts(&out, "prefix");
	ck_assert_int_eq(pdf_render(&pdf_sample_find("invoice_eu")->doc, &out, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(memcmp(out.data, "prefix%PDF-", 11), 0);
}
END_TEST

/* Translated labels replace the English words, including the page counter. */
START_TEST(labels_can_be_translated)
{
	struct pdf_doc d = pdf_sample_find("invoice_eu")->doc;

	d.labels[PDF_LABEL_PAGE] = "Seite {n} von {m}";
	d.labels[PDF_LABEL_AMOUNT] = "Betrag";
	ck_assert_int_eq(render(&d, &out), 0);
	d.labels[PDF_LABEL_PAGE] = NULL;
	d.labels[PDF_LABEL_AMOUNT] = NULL;
	ck_assert_int_eq(render(&d, &again), 0);
	ck_assert(out.len != again.len || memcmp(out.data, again.data, out.len) != 0);
}
END_TEST

/* After pdf_shutdown() the next render sets everything up again, to the same bytes. */
START_TEST(shutdown_then_render_again)
{
	const struct pdf_doc *d = &pdf_sample_find("invoice_jpy")->doc;

	ck_assert_int_eq(render(d, &out), 0);
	pdf_shutdown();
	pdf_shutdown();
	ck_assert_int_eq(render(d, &again), 0);
	ck_assert_uint_eq(out.len, again.len);
	ck_assert_int_eq(memcmp(out.data, again.data, out.len), 0);
}
END_TEST

/* Check forks a process per test; only the parent, at exit, removes the default directory. */
static void
remove_outdir(void)
{
	char path[4400];
	struct dirent *e;
	DIR *dir;

	if (getpid() != parent || (dir = opendir(outdir)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", outdir, e->d_name);
			unlink(path);
		}
	closedir(dir);
	rmdir(outdir);
}

Suite *
make_suite(void)
{
	Suite *s = suite_create("pdf");
	TCase *tc = tcase_create("render");
	const struct pdf_sample *t;
	const char *dir = getenv("PDF_OUT_DIR");

	/* Chosen here, before Check forks a process per test. */
	if (dir != NULL && *dir != '\0')
		snprintf(outdir, sizeof(outdir), "%s", dir);
	else {
		snprintf(outdir, sizeof(outdir), "/tmp/portald-pdf.XXXXXX");
		if (mkdtemp(outdir) == NULL) {
			perror("check_pdf: mkdtemp");
			exit(1);
		}
		parent = getpid();
		atexit(remove_outdir);
	}

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, sample_renders_and_repeats, 0, (int)pdf_samples(&t));
	tcase_add_test(tc, sixty_lines_flow_onto_more_pages);
	tcase_add_test(tc, paper_size_is_the_model_s);
	tcase_add_test(tc, creation_date_is_the_model_s);
	tcase_add_test(tc, a_good_logo_is_drawn);
	tcase_add_test(tc, a_corrupt_logo_is_skipped);
	tcase_add_test(tc, a_huge_logo_is_skipped_before_decoding);
	tcase_add_test(tc, a_truncated_or_foreign_logo_is_skipped);
	tcase_add_test(tc, an_empty_buyer_block_is_left_out);
	tcase_add_test(tc, an_empty_document_is_one_page);
	tcase_add_test(tc, an_endless_description_stays_on_its_page);
	tcase_add_test(tc, a_long_note_flows_onto_more_pages);
	tcase_add_test(tc, text_that_is_not_utf8_is_refused);
	tcase_add_test(tc, too_many_party_lines_are_refused);
	tcase_add_test(tc, a_creation_date_out_of_range_is_refused);
	tcase_add_test(tc, a_refused_document_leaves_the_buffer_as_it_was);
	tcase_add_test(tc, render_appends_to_the_buffer);
	tcase_add_test(tc, labels_can_be_translated);
	tcase_add_test(tc, shutdown_then_render_again);
	suite_add_tcase(s, tc);
	return s;
}
