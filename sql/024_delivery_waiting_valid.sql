-- 024_delivery_waiting_valid.sql: the deliveries written before 022 are checked too (a
-- SHARE UPDATE EXCLUSIVE lock: writes go on meanwhile).
ALTER TABLE webhook_deliveries VALIDATE CONSTRAINT webhook_deliveries_waiting;
