-- 016_queue_indexes.sql: an exact claim for the documents lane.
--
-- The documents lane claims the oldest documents not rendered yet in (issued_at, kind,
-- object_id) order, skipping those that failed five times. documents_pending held only
-- (site_id, issued_at): a batch of renewals issues hundreds of documents in one second,
-- and every claim read and sorted all of that second's rows. This index is the claim's
-- order and predicate, so a claim reads the rows it takes.
--
-- The old index is dropped first: its ACCESS EXCLUSIVE lock is then the only lock this
-- migration takes on documents, never a SHARE lock upgraded while a previous release's
-- runner waits behind it (a deadlock). Only documents is touched, so no other table's
-- writers can close a cycle with it.
-- portald: compatible: every statement that read documents_pending (the claim and the
-- pending count) has the predicate of documents_claim, in this release and the previous.
DROP INDEX documents_pending;
CREATE INDEX documents_claim ON documents (site_id, issued_at, kind, object_id)
	WHERE pdf IS NULL AND attempts < 5;
