-- 020_delivery_seq_index.sql: the claim's probe for an endpoint's next first attempt
-- (019). Its own migration, so the column's ACCESS EXCLUSIVE lock is not held while it
-- is built. Additive: a new index.
CREATE INDEX webhook_deliveries_first ON webhook_deliveries (site_id, endpoint_id, event_seq, id)
	WHERE status = 'pending' AND attempts = 0;
