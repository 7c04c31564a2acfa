-- 009_deliveries.sql: webhook deliveries run concurrently, outside any transaction: a claimed
-- delivery carries a lease (wall-clock seconds) while its POST is in flight, and each
-- endpoint has its own backoff after repeated failures, so no endpoint holds up another.

ALTER TABLE webhook_deliveries ADD COLUMN lease_until bigint;
ALTER TABLE webhook_endpoints
	ADD COLUMN failures integer NOT NULL DEFAULT 0,
	ADD COLUMN backoff_until bigint;	-- the site's clock

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (site_id, endpoint_id, attempts)
	WHERE status = 'pending';
CREATE INDEX events_id_seq ON events (site_id, id, seq);

