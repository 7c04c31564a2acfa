-- 013_event_lookup.sql: the portal finds the latest event of a type about one object (a
-- cancellation's reference, STMT_EVENT_LATEST_OF). events_type_seq reads every event of the
-- type, newest first, until one is about the object: a scan that grows with the site's
-- history (the whole type when the object has none). This index is an exact probe.
-- Additive: a new index on an existing table; the previous release ignores it.

CREATE INDEX events_object_type_seq ON events (site_id, object_id, type, seq DESC);
