-- 016_queue_indexes.sql: an exact claim for the documents lane.
--
-- The documents lane claims the oldest documents not rendered yet in (issued_at, kind,
-- object_id) order, skipping those that failed five times. documents_pending held only
-- (site_id, issued_at): a batch of renewals issues hundreds of documents in one second,
-- and every claim read and sorted all of that second's rows. This index is the claim's
-- order and predicate, so a claim reads the rows it takes. The old index goes in 017, a
-- transaction of its own: its ACCESS EXCLUSIVE lock is then held for a moment, not for
-- this build, and no lock is ever upgraded (a deadlock with a previous release's runner).
CREATE INDEX documents_claim ON documents (site_id, issued_at, kind, object_id)
	WHERE pdf IS NULL AND attempts < 5;
