-- 025_delivery_retry.sql: an endpoint's earliest retry due, found by one probe (024 says
-- why its predicate is about the next attempt time). The claim read every pending retry
-- of the endpoint, due or not, and sorted them: an endpoint back from an outage with its
-- backlog failed once had thousands a claim.
CREATE INDEX webhook_deliveries_retry ON webhook_deliveries (site_id, endpoint_id,
	next_attempt_at, id) WHERE attempts > 0 AND next_attempt_at IS NOT NULL;
