-- 023_delivery_next_attempt_valid.sql: the deliveries written before 022 are checked too
-- (SHARE UPDATE EXCLUSIVE: writes go on meanwhile). Before any index relies on it.
ALTER TABLE webhook_deliveries VALIDATE CONSTRAINT webhook_deliveries_next_attempt;
