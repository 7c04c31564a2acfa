-- 026_event_seq_by_key.sql: events_id_seq (009) let the delivery claim read an event's
-- sequence number from the index alone. Deliveries carry it since 019, and the claim
-- reads an event only for a delivery a previous release wrote without it, by the primary
-- key. Every event wrote an entry in the index: three per renewal.
-- portald: compatible: no statement names an index, and the claim of the previous
-- release reads events by the primary key instead (checked with EXPLAIN). IF EXISTS: a
-- development database migrated at 1455ac5, whose 025 dropped it already.
DROP INDEX IF EXISTS events_id_seq;
