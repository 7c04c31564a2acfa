-- 010_portal_access.sql: portal access without single sign-on (issue 9): the login
-- methods of each site's sign-in page, how a portal session was signed in, and rate-limit
-- counters kept in PostgreSQL so every worker and host shares them. Additive only.

-- Login by a link mailed to the customer's address: on for new sites. lifetime of the
-- link in seconds, on the site's clock. merchant_sign_in_url: where an SSO-only sign-in
-- page sends people (the merchant's own sign-in); NULL: the website_url.
ALTER TABLE portal_configurations ADD COLUMN login_link boolean NOT NULL DEFAULT true;
ALTER TABLE portal_configurations ADD COLUMN login_link_ttl integer NOT NULL DEFAULT 900
	CHECK (login_link_ttl BETWEEN 300 AND 86400);
ALTER TABLE portal_configurations ADD COLUMN merchant_sign_in_url text
	CHECK (length(merchant_sign_in_url) <= 2048);

-- Sites that exist before this release let customers in through single sign-on only:
-- they keep it so until the merchant turns the login link on. Every site gets its row
-- first, so none of them picks up the new default later.
INSERT INTO portal_configurations (site_id, updated_at)
SELECT s.id, s.created_at FROM sites s
WHERE NOT EXISTS (SELECT 1 FROM portal_configurations c WHERE c.site_id = s.id);
UPDATE portal_configurations SET login_link = false;

-- How a session was signed in: NULL for the SSO access link (every session the previous
-- release creates), 'login_link' for a mailed link.
ALTER TABLE portal_sessions ADD COLUMN login_method text
	CHECK (login_method IN ('login_link', 'password', 'management_link'));

-- Fixed-window counters: one row per (site, bucket), e.g. "link_ip:<address>" or
-- "link_to:<sha256 of the lower-cased recipient>". A hit in a window that has passed
-- starts a new one. Times are the site's clock.
CREATE TABLE portal_rate_limits (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	bucket		text NOT NULL CHECK (length(bucket) <= 200),
	window_start	bigint NOT NULL,
	hits		integer NOT NULL,
	PRIMARY KEY (site_id, bucket)
);

-- Passwords (off until the merchant turns them on): a customer's portal account is
-- 'pending' from an invitation or a sign-up until the mailed set-password link is used,
-- then 'active'. The password is kept as an Argon2id PHC string only. failed_count and
-- next_attempt_at slow down guessing per account: after a few failures each further
-- attempt waits longer (capped, so never a lockout; the login link still works).
ALTER TABLE portal_configurations ADD COLUMN login_password boolean NOT NULL DEFAULT false;
CREATE TABLE portal_accounts (
	site_id			text NOT NULL,
	customer_id		text NOT NULL,
	status			text NOT NULL CHECK (status IN ('pending', 'active')),
	password_hash		text CHECK (password_hash LIKE '$argon2id$%'),
	failed_count		integer NOT NULL DEFAULT 0,
	next_attempt_at		bigint,
	created_at		bigint NOT NULL,
	activated_at		bigint,
	password_changed_at	bigint,
	PRIMARY KEY (site_id, customer_id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE,
	CHECK (status <> 'active' OR password_hash IS NOT NULL)
);

-- Invitations: sent by the API, or when a subscription is created and the site says so
-- (needs passwords: an invitation is the mail that sets the first one).
ALTER TABLE portal_configurations ADD COLUMN invite_on_subscription boolean NOT NULL
	DEFAULT false;

-- Management links: a long-lived personal link per customer, derived by HMAC under the
-- server key from (site, customer, generation, created_at) and never stored; this row
-- keeps only what the API shows about it. Regenerating bumps the generation, which
-- invalidates the old link. email_verification: a management link opened in a browser
-- that has not signed in by email before asks for a login link first.
ALTER TABLE portal_configurations ADD COLUMN management_link_ttl integer NOT NULL
	DEFAULT 5616000 CHECK (management_link_ttl BETWEEN 3600 AND 31536000);
ALTER TABLE portal_configurations ADD COLUMN email_verification boolean NOT NULL
	DEFAULT true;
CREATE TABLE portal_management_links (
	site_id			text NOT NULL,
	customer_id		text NOT NULL,
	generation		integer NOT NULL,
	created_at		bigint NOT NULL,
	expires_at		bigint NOT NULL,
	fetch_count		integer NOT NULL DEFAULT 0,
	new_link_available_at	bigint NOT NULL,
	PRIMARY KEY (site_id, customer_id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);
