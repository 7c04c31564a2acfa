-- 019_delivery_seq.sql: a delivery carries its event's sequence number, so the delivery
-- lane finds an endpoint's next first attempt with one index probe.
--
-- First attempts go out in event order per endpoint. The claim found an endpoint's next
-- one by reading every first attempt it had waiting and each one's event, then sorting:
-- an endpoint that had been slow, or down and now out of backoff, with thousands waiting
-- cost thousands of rows a claim, and claims come several times a second.
--
-- Additive: a new nullable column and a new index. A previous release's runner, during a
-- rolling upgrade, writes deliveries without event_seq; the claim orders those by their
-- event as before (they are found under the NULLs of the same index).
ALTER TABLE webhook_deliveries ADD COLUMN event_seq bigint;
UPDATE webhook_deliveries d SET event_seq = e.seq FROM events e
	WHERE e.site_id = d.site_id AND e.id = d.event_id AND d.status = 'pending'
	AND d.attempts = 0;
CREATE INDEX webhook_deliveries_first ON webhook_deliveries (site_id, endpoint_id, event_seq, id)
	WHERE status = 'pending' AND attempts = 0;
