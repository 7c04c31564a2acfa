-- 012_renewal_claims.sql: the job runner claims due subscriptions in the order it bills
-- them (next_billing_at, then id) with LIMIT and FOR UPDATE SKIP LOCKED. With the index on
-- (site_id, next_billing_at) alone, every claim read and sorted all the site's due rows,
-- so a backlog of N renewals cost N^2/2 row reads; with id in the index a claim reads
-- the rows it takes (and those other runners hold).
CREATE INDEX subscriptions_due_order ON subscriptions (site_id, next_billing_at, id)
	WHERE next_billing_at IS NOT NULL;
-- portald: compatible: the new index serves every query the old one served (same leading
-- columns, same predicate); keeping both would cost every subscription write twice.
DROP INDEX subscriptions_due;
