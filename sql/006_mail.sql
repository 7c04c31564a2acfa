-- 006_mail.sql: the mail outbox (every message Portald sends, written in the transaction of
-- the change that causes it, then delivered at least once by the job runner), the links
-- those messages carry, and each site's mail settings. Additive only.

-- One row per message, frozen when it is queued: recipients, headers, the rendered parts
-- and a Message-ID that every attempt repeats. The parts may hold a sign-in link, so they
-- are stored sealed with the server key (secrets_seal, context "portald mail v1\n<site>\n
-- <id>"). Delivery times (queued_at, next_attempt_at, lease_until, sent_at) are real time:
-- a relay that is down for an hour is down for an hour on every site's clock; created_at
-- is the site's clock, like every other object's.
CREATE TABLE mail_outbox (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL,
	seq		bigserial,
	type		text NOT NULL CHECK (type ~ '^[a-z_]{1,40}$'),
	test		boolean NOT NULL DEFAULT false,	-- a test send from the settings
	customer_id	text,			-- kept when the customer goes: the outbox is the record
	event_id	text,			-- the event that caused it
	dedupe_key	text,			-- scheduled messages: once per (what, when)
	resent_from	text,			-- portalctl mail resend: the message copied
	message_id	text NOT NULL CHECK (length(message_id) <= 250),
	date		bigint NOT NULL,	-- the Date field (real time at queueing)
	from_name	text,
	from_address	text NOT NULL,
	reply_to	text,
	to_name		text,
	to_address	text NOT NULL,
	cc_address	text,
	subject		text NOT NULL,
	text_sealed	text NOT NULL,
	html_sealed	text,
	status		text NOT NULL DEFAULT 'pending'
			    CHECK (status IN ('pending', 'sent', 'failed')),
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at	bigint NOT NULL,
	lease_until	bigint,			-- claimed by a runner until then (in flight)
	lease_id	text,			-- which claim holds it: only that one records
	last_error	text,
	last_smtp_code	integer,
	created_at	bigint NOT NULL,
	queued_at	bigint NOT NULL,
	sent_at		bigint,
	PRIMARY KEY (site_id, id),
	CHECK (status <> 'sent' OR sent_at IS NOT NULL)
);
CREATE UNIQUE INDEX mail_outbox_message_id ON mail_outbox (site_id, message_id);
CREATE UNIQUE INDEX mail_outbox_dedupe ON mail_outbox (site_id, dedupe_key)
	WHERE dedupe_key IS NOT NULL;
CREATE INDEX mail_outbox_due ON mail_outbox (site_id, next_attempt_at)
	WHERE status = 'pending';
CREATE INDEX mail_outbox_list ON mail_outbox (site_id, seq DESC);

-- Links a message carries that sign a customer in somewhere (the card update of a
-- payment-failed mail, an invoice to authenticate). The token in the mail is
-- "<site>.<id>.<secret>" (core/token.h); only its SHA-256 is kept here. The sign-in side
-- (the login pages) looks the row up by site and id, compares the hash in constant time,
-- checks expires_at on the site's clock, and forwards to path.
CREATE TABLE mail_links (
	site_id		text NOT NULL,
	id		text NOT NULL,
	customer_id	text NOT NULL,
	purpose		text NOT NULL CHECK (purpose ~ '^[a-z_]{1,40}$'),
	path		text NOT NULL CHECK (path LIKE '/portal/%' AND length(path) <= 512),
	token_hash	text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_at	bigint NOT NULL,
	expires_at	bigint NOT NULL,
	used_at		bigint,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);
CREATE INDEX mail_links_customer ON mail_links (site_id, customer_id);

-- What a merchant decides about its mail. No row: the defaults (every message type on,
-- the configured sender name, no reply-to, no receipts copy).
CREATE TABLE mail_settings (
	site_id			text PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
	disabled_types		text[] NOT NULL DEFAULT '{}',
	from_name		text CHECK (length(from_name) BETWEEN 1 AND 200),
	reply_to		text CHECK (length(reply_to) BETWEEN 3 AND 254),
	receipts_cc		text CHECK (length(receipts_cc) BETWEEN 3 AND 254),
	trial_ending_days	integer NOT NULL DEFAULT 3 CHECK (trial_ending_days BETWEEN 1 AND 30),
	renewal_reminder_days	integer NOT NULL DEFAULT 7
				    CHECK (renewal_reminder_days BETWEEN 1 AND 60),
	updated_at		bigint NOT NULL
);

-- Sites that exist before this release never sent mail; their customers may already get
-- the merchant's own. They start with the billing messages off (a merchant turns them on
-- with POST /api/v1/mail_settings or portalctl mail settings); new sites have them on.
INSERT INTO mail_settings (site_id, disabled_types, updated_at)
SELECT id, ARRAY['payment_failed', 'action_required', 'payment_receipt', 'trial_ending',
	'card_expiring', 'subscription_cancelled', 'renewal_reminder'],
	extract(epoch FROM now())::bigint
FROM sites;

-- The runner's scans: trials about to end ...
CREATE INDEX subscriptions_trial_end ON subscriptions (site_id, trial_end)
	WHERE status = 'in_trial';
-- ... and cards about to expire.
CREATE INDEX payment_methods_expiry ON payment_methods (site_id, exp_year, exp_month)
	WHERE is_default;

-- The test gateway's cards: "slow" (4000 0000 0000 0259, named in the README but refused
-- by this check until now) and "authenticate" (4000 0027 6000 3184: every charge needs the
-- customer's authentication, which the action-required mail is for).
-- portald: compatible: the check is replaced by a wider one (a superset of the values).
ALTER TABLE test_gateway_tokens DROP CONSTRAINT test_gateway_tokens_behavior_check;
-- portald: compatible: the new check allows every value the previous release writes.
ALTER TABLE test_gateway_tokens ADD CONSTRAINT test_gateway_tokens_behavior_check
	CHECK (behavior IN ('succeed', 'decline', 'insufficient_funds', 'expired_card',
	    'attach_then_decline', 'slow', 'authenticate'));
