-- 024_delivery_first_waiting.sql: the delivery lane's claim reads by probes whatever the
-- planner's statistics say.
--
-- The claim found an endpoint's next first attempt in webhook_deliveries_first (020),
-- under the predicate status = 'pending' AND attempts = 0. But two older indexes hold
-- every pending delivery of a site under status = 'pending', which that condition
-- implies (webhook_deliveries_pending, _due). When the statistics say pending deliveries
-- are rare (a long history of delivered ones), they look as cheap as the probe, and the
-- planner took them: with 3,020 first attempts waiting a claim read all 3,020 three times
-- (both heads, and the update's own lookup), on every claim, until the next ANALYZE.
--
-- The older indexes stay (the previous release reads pending deliveries through them),
-- so the claim says "waiting" by the next attempt time (022), which no index of theirs
-- is about, and reads this index and 025's, whose predicates only its conditions imply.
-- (webhook_deliveries_first is then unused by this release; a later contract migration
-- drops it with _pending.) Its own migration, so no other lock is held with the build's:
-- a SHARE lock, under which writes to the table (every event with an endpoint, every
-- claim) wait for the build, as for every index a migration builds (docs/operations.md).
CREATE INDEX webhook_deliveries_first_waiting ON webhook_deliveries (site_id, endpoint_id,
	event_seq, id) WHERE attempts = 0 AND next_attempt_at IS NOT NULL;
