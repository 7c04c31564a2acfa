-- 022_delivery_next_attempt.sql: a delivery has a next attempt time exactly while it is
-- pending. Every release writes it so (a first attempt at its event's time, a retry at
-- its time after a failure, NULL once it succeeded or failed for good), and the delivery
-- lane's claim finds waiting deliveries by it (024, 025). NOT VALID: the ACCESS
-- EXCLUSIVE lock is held for a moment, and 023 checks the rows already there without
-- blocking writes.
-- portald: compatible: the previous release writes next_attempt_at exactly as the check
-- says (src/jobs/deliveries.c, record(), and EVENT_DELIVERIES).
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_next_attempt
	CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)) NOT VALID;
