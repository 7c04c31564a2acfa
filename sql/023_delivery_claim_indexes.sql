-- 023_delivery_claim_indexes.sql: the delivery lane's claim reads by probes whatever the
-- planner's statistics say.
--
-- The claim finds an endpoint's next first attempt in webhook_deliveries_first (020).
-- But two older indexes held every pending delivery of a site, under the predicate
-- status = 'pending', which every claim's condition implies. When the statistics say
-- pending deliveries are rare (a long history of delivered ones), each index looks as
-- cheap as the probe, and the planner took them: with 3,020 first attempts waiting, a
-- claim read all 3,020 three times (each head, and the update's own lookup), on every
-- claim, until the next ANALYZE.
--
-- So no index but the claim's own answers a claim's condition:
-- - retries: webhook_deliveries_retry, pending deliveries that were attempted, per
--   endpoint (it replaces webhook_deliveries_pending);
-- - waiting deliveries of a site by time (the health check's lag, the delivery engine's
--   "which sites have deliveries waiting", the runner's due count): by next_attempt_at,
--   set exactly while pending (022), instead of by status (webhook_deliveries_due).
CREATE INDEX webhook_deliveries_retry ON webhook_deliveries (site_id, endpoint_id,
	next_attempt_at, id) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (site_id, next_attempt_at)
	WHERE next_attempt_at IS NOT NULL;
-- portald: compatible: no statement names an index; the previous release's statements
-- read pending deliveries through the indexes above and the primary key.
DROP INDEX webhook_deliveries_pending;
-- portald: compatible: as above.
DROP INDEX webhook_deliveries_due;
