-- 015_document_queued_at.sql: when a document was queued for rendering, in real time.
-- issued_at is the site's clock, which a test site's time machine moves by months, so a
-- document's wait for the renderer (the health check's job lag) is measured from this
-- instead. Rows that exist get the time of the migration. Additive only.
ALTER TABLE documents ADD COLUMN queued_at bigint DEFAULT extract(epoch FROM now())::bigint;
