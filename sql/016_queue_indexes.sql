-- 016_queue_indexes.sql: cheaper writes on the renewal path and an exact claim for the
-- documents lane.
--
-- The documents lane claims the oldest documents not rendered yet in (issued_at, kind,
-- object_id) order, skipping those that failed five times. documents_pending held only
-- (site_id, issued_at): a batch of renewals issues hundreds of documents in one second,
-- and every claim read and sorted all of that second's rows. This index is the claim's
-- order and predicate, so a claim reads the rows it takes.
CREATE INDEX documents_claim ON documents (site_id, issued_at, kind, object_id)
	WHERE pdf IS NULL AND attempts < 5;
-- portald: compatible: every statement that read documents_pending (the claim and the
-- pending count) has the predicate of documents_claim, in this release and the previous.
DROP INDEX documents_pending;

-- Every event is written to each index of events, three times per renewal. Two serve no
-- statement: events are listed by seq (events_seq_list) since 004, and the deliveries'
-- claim finds an event by its primary key.
-- portald: compatible: no statement of this release or the previous orders or filters
-- events by created_at.
DROP INDEX events_list;
-- portald: compatible: (site_id, id) is the primary key; seq is read from the row.
DROP INDEX events_id_seq;
