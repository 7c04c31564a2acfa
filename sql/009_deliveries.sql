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

-- The test gateway's "slow" card (answers after 3 s, the charge already made), for tests
-- that kill a caller mid-charge.
-- portald: compatible: the check is replaced by a wider one (a superset of the values).
ALTER TABLE test_gateway_tokens DROP CONSTRAINT test_gateway_tokens_behavior_check;
-- portald: compatible: the new check allows every value the previous release writes.
ALTER TABLE test_gateway_tokens ADD CONSTRAINT test_gateway_tokens_behavior_check CHECK
	(behavior IN ('succeed', 'decline', 'insufficient_funds', 'expired_card',
	'attach_then_decline', 'slow'));
