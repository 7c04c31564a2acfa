-- 005_portal_config.sql: the customer portal's configuration per site (branding, the
-- switches of what customers may do, session timeouts, cancellation reasons), its logo,
-- the record of portal forms already submitted, deep-link flows on portal sessions, and a
-- site's own portal host name. Additive only (see docs/operations.md, "Migrations").
-- The session timeouts and cancellation reasons are read from here from now on: one source
-- of truth. sites.session_idle_timeout, sites.session_absolute_timeout and
-- sites.cancel_reasons stay (the previous release still reads them during a rolling
-- upgrade) but nothing uses them any more; a later "-- portald: contract" migration
-- removes them.

CREATE TABLE portal_configurations (
	site_id			text PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
	business_name		text CHECK (length(business_name) BETWEEN 1 AND 200),  -- NULL: the site's name
	website_url		text CHECK (length(website_url) <= 2048),  -- the way back without a redirect_url
	brand_color		text NOT NULL DEFAULT '#1f4fd1' CHECK (brand_color ~ '^#[0-9a-f]{6}$'),
	time_zone		text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64),
	terms_url		text CHECK (length(terms_url) <= 2048),
	privacy_url		text CHECK (length(privacy_url) <= 2048),
	help_url		text CHECK (length(help_url) <= 2048),
	edit_billing_details	boolean NOT NULL DEFAULT true,
	email_editable		boolean NOT NULL DEFAULT false,
	payment_methods		boolean NOT NULL DEFAULT true,
	invoice_history		boolean NOT NULL DEFAULT true,
	cancel_subscription	boolean NOT NULL DEFAULT true,
	-- end_of_term: the customer may only cancel at the end of the term;
	-- immediately: the customer chooses now or at the end of the term
	cancel_mode		text NOT NULL DEFAULT 'end_of_term'
		CHECK (cancel_mode IN ('end_of_term', 'immediately')),
	cancel_reason		text NOT NULL DEFAULT 'optional'
		CHECK (cancel_reason IN ('off', 'optional', 'required')),
	cancel_comment		boolean NOT NULL DEFAULT true,
	cancel_reasons		jsonb NOT NULL DEFAULT '[
		{"code":"too_expensive","label":"It''s too expensive"},
		{"code":"missing_features","label":"Some features are missing"},
		{"code":"switched_service","label":"I''m switching to a different service"},
		{"code":"unused","label":"I don''t use it enough"},
		{"code":"customer_service","label":"Customer service was less than expected"},
		{"code":"low_quality","label":"Quality was less than expected"},
		{"code":"other","label":"Other reason"}]'
		CHECK (jsonb_typeof(cancel_reasons) = 'array'),
	change_plan		boolean NOT NULL DEFAULT false,
	change_plan_plans	text[] NOT NULL DEFAULT '{}',
	change_plan_timing	text NOT NULL DEFAULT 'now'
		CHECK (change_plan_timing IN ('now', 'end_of_term')),
	downgrades_at_end_of_term boolean NOT NULL DEFAULT true,
	pause_subscription	boolean NOT NULL DEFAULT false,
	pause_max_days		integer NOT NULL DEFAULT 90 CHECK (pause_max_days BETWEEN 1 AND 365),
	reactivate_subscription	boolean NOT NULL DEFAULT true,
	session_idle_timeout	integer NOT NULL DEFAULT 1800
		CHECK (session_idle_timeout BETWEEN 60 AND 86400),
	session_absolute_timeout integer NOT NULL DEFAULT 43200
		CHECK (session_absolute_timeout BETWEEN 300 AND 2592000),
	updated_at		bigint NOT NULL
);

-- Existing sites keep their timeouts and reasons (labels made from the codes). A site that
-- the previous release creates during a rolling upgrade gets its row (the defaults) the
-- first time this release reads its configuration.
INSERT INTO portal_configurations (site_id, session_idle_timeout, session_absolute_timeout,
    cancel_reasons, updated_at)
SELECT s.id, s.session_idle_timeout, s.session_absolute_timeout,
	COALESCE((SELECT jsonb_agg(jsonb_build_object('code', r.code, 'label',
	    CASE r.code
		WHEN 'too_expensive' THEN 'It''s too expensive'
		WHEN 'missing_features' THEN 'Some features are missing'
		WHEN 'switched_service' THEN 'I''m switching to a different service'
		WHEN 'unused' THEN 'I don''t use it enough'
		WHEN 'customer_service' THEN 'Customer service was less than expected'
		WHEN 'low_quality' THEN 'Quality was less than expected'
		WHEN 'other' THEN 'Other reason'
		ELSE initcap(replace(r.code, '_', ' ')) END) ORDER BY r.n)
	    FROM unnest(s.cancel_reasons) WITH ORDINALITY AS r (code, n)), '[]'),
	s.created_at
FROM sites s;

-- The logo: a checked PNG with its metadata stripped, served by Portald itself.
CREATE TABLE portal_logos (
	site_id		text PRIMARY KEY REFERENCES portal_configurations (site_id) ON DELETE CASCADE,
	sha256		text NOT NULL,		-- hex of the stored bytes: the ETag and the URL
	png		bytea NOT NULL CHECK (octet_length(png) <= 262144),
	width		integer NOT NULL CHECK (width > 0),
	height		integer NOT NULL CHECK (height > 0),
	created_at	bigint NOT NULL
);

-- Portal POSTs already handled, by the per-form nonce: a repeated or double-clicked POST
-- finds its row and gets the first one's answer (where it sent the browser).
CREATE TABLE portal_form_submissions (
	site_id		text NOT NULL,
	session_id	text NOT NULL,
	nonce		text NOT NULL,
	location	text,			-- NULL while the first request is still running
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, session_id, nonce),
	FOREIGN KEY (site_id, session_id) REFERENCES portal_sessions (site_id, id) ON DELETE CASCADE
);

-- A deep link: {"type": "cancel" | "change_plan" | "payment_method_update",
-- "subscription_id": ...}; the portal opens at that step.
ALTER TABLE portal_sessions ADD COLUMN flow jsonb;

-- A site may have its own host name for the portal (nginx passes Host). Global, like the
-- site itself: a host belongs to one site of the installation.
ALTER TABLE sites ADD COLUMN portal_host text UNIQUE
	CHECK (portal_host ~ '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$');
