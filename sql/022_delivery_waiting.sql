-- 022_delivery_waiting.sql: a delivery has a next attempt time exactly while it is
-- pending. Every release writes it so (the first attempt at the event's time, a retry's
-- time after a failure, NULL once it succeeded or failed for good); 023 indexes the
-- waiting deliveries by it. NOT VALID: the ACCESS EXCLUSIVE lock is held for a moment,
-- rows are checked from now on, and 024 checks the existing ones without blocking writes.
-- portald: compatible: the previous release writes next_attempt_at exactly as the check
-- says (src/jobs/deliveries.c, record(), and EVENT_DELIVERIES).
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_waiting
	CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)) NOT VALID;
