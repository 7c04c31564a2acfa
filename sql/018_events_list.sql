-- 018_events_list.sql: every event is written to each index of events, three times per
-- renewal. events_list serves no statement: events are listed by seq (events_seq_list)
-- since 004. Its own migration, so its ACCESS EXCLUSIVE lock is the only lock held.
-- portald: compatible: no statement of this release or the previous orders or filters
-- events by created_at.
DROP INDEX events_list;
