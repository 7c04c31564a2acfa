/* documents.h: the PDF of every issued invoice and credit note: queued when the document is
 * issued, rendered once by the job runner from what was frozen at issue, stored, and
 * handed out as it was stored (one file, or a customer's year as a ZIP). */
#ifndef PORTALD_DOCUMENTS_H
#define PORTALD_DOCUMENTS_H

#include "billing/domain.h"
#include "core/buf.h"

enum doc_kind {
	DOC_INVOICE = 0,
	DOC_CREDIT_NOTE
};

#define DOC_FILENAME_MAX	96
#define DOC_ARCHIVE_MAX		1000	/* documents in one yearly archive (STMT_DOC_YEAR) */
#define DOC_ARCHIVE_BYTES	(32L * 1024 * 1024)	/* their PDFs' bytes in one archive */

/* "1 Mar 2026": ts in the IANA zone (NULL or "UTC": UTC), English month names whatever
 * the locale. Sets TZ for a moment for other zones: single-threaded processes only. */
void	documents_format_date(long long ts, const char *zone, char out[32]);
/* The first second of 1 January of year in the zone. */
long long documents_year_start(int year, const char *zone);

/* "invoice", "credit_note": the kind as the documents table names it. */
const char *documents_kind_name(enum doc_kind k);

/* Queues the PDF of a document just issued (in the issuing transaction). */
int	documents_queue(struct dctx *d, enum doc_kind k, const char *id, const char *number,
	    const char *customer_id, struct derr *e);

/* Renders the PDF of an issued document into pdf (appended) from its stored rows only:
 * the same document gives the same bytes whenever it is rendered (with the same cairo,
 * pango and fonts), its creation date being its issue date. */
int	documents_render(struct dctx *d, enum doc_kind k, const char *id, struct buf *pdf,
	    struct derr *e);

#define DOCUMENTS_BATCH_MAX	16

/* The job runner's step, inside the caller's transaction: claims up to max (at most
 * DOCUMENTS_BATCH_MAX) of the oldest documents of d's site not rendered yet, renders and
 * stores each. Returns how many were handled (a document that cannot be rendered or
 * stored is recorded with its error and tried at most five times; one the database
 * refused for a reason that passes, such as a full disk or a lock, stays waiting and is
 * not counted), 0 when none was, -1 when the database failed (roll back). The claim turns synchronous_commit off for the caller's
 * transaction: a document lost with the last moment's commits is rendered again, to the
 * same bytes. */
int	documents_render_batch(struct dctx *d, int max, struct derr *e);

/*
 * The stored PDF of an invoice or credit note, for a download: pdf receives the bytes
 * (appended), filename "<number>.pdf" (the number as printed, which holds only
 * [A-Za-z0-9._-]). With customer_scope (the portal's signed-in customer) another
 * customer's document is DERR_NOT_FOUND, as is another site's always. A document not
 * rendered yet is DERR_CONFLICT "document_not_ready" (ask again in a few seconds); one
 * that could not be rendered is DERR_INTERNAL.
 */
int	documents_get(struct dctx *d, enum doc_kind k, const char *id,
	    const char *customer_scope, struct buf *pdf, char filename[DOC_FILENAME_MAX],
	    struct derr *e);

/*
 * Every invoice and credit note of a customer issued in a calendar year of the site's
 * time zone, as one ZIP (invoices/<number>.pdf, credit_notes/<number>.pdf): zip receives
 * the archive (appended), filename "documents-<customer>-<year>.zip". customer_scope as
 * for documents_get. DERR_CONFLICT "document_not_ready" while one of them is not rendered
 * yet; DERR_INVALID "too_many_documents" beyond DOC_ARCHIVE_MAX documents,
 * "archive_too_large" beyond DOC_ARCHIVE_BYTES of PDFs. zip NULL: everything is checked
 * and the file named, but no archive is built (a HEAD).
 */
int	documents_archive(struct dctx *d, const char *customer_id, int year,
	    const char *customer_scope, struct buf *zip, char filename[DOC_FILENAME_MAX],
	    struct derr *e);

#endif
