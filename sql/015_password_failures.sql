-- 015_password_failures.sql: the sign-in slow-down after wrong passwords, kept per
-- (address typed, client address) for every address, a customer's or not. Per account it
-- let anyone keep a customer waiting forever (one wrong password every half minute) and
-- told known addresses from unknown ones (only accounts were slowed). key is the SHA-256
-- of "<lower-cased address>\n<client address>": the table holds no address. The columns
-- portal_accounts.failed_count and next_attempt_at are no longer used. Additive only.
CREATE TABLE portal_password_failures (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	key		text NOT NULL CHECK (key ~ '^[0-9a-f]{64}$'),
	failed_count	integer NOT NULL,
	next_attempt_at	bigint,
	updated_at	bigint NOT NULL,
	PRIMARY KEY (site_id, key)
);

-- Each sign-in counter hit drops the site's counters older than a day: by this index, not a
-- scan of the site's rows.
CREATE INDEX portal_rate_limits_window ON portal_rate_limits (site_id, window_start);
CREATE INDEX portal_password_failures_updated ON portal_password_failures (site_id, updated_at);
