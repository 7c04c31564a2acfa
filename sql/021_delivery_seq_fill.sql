-- 021_delivery_seq_fill.sql: the sequence numbers of the first attempts waiting when 019
-- came (only those are ordered by it). Row locks only, no table lock; until it is done
-- the claim orders them by their events.
UPDATE webhook_deliveries d SET event_seq = e.seq FROM events e
	WHERE e.site_id = d.site_id AND e.id = d.event_id AND d.status = 'pending'
	AND d.attempts = 0 AND d.event_seq IS NULL;
