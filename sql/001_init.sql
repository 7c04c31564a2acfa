-- 001_init.sql: sites, API keys, customers, portal sessions and idempotency keys.
-- Times are Unix seconds on the site's clock (real time plus the test-site time machine
-- offset), except idempotency_keys.created_at, which is real time.
-- Global tables: sites, api_keys (the key lookup), schema_migrations.
-- Tenant tables: site_id leads the primary key and every foreign key between them.

CREATE TABLE sites (
	id				text PRIMARY KEY
		CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
	name				text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	mode				text NOT NULL CHECK (mode IN ('test', 'live')),
	clock_offset			bigint NOT NULL DEFAULT 0
		CHECK (clock_offset >= 0 AND (mode = 'test' OR clock_offset = 0)),
	session_idle_timeout		integer NOT NULL DEFAULT 1800
		CHECK (session_idle_timeout BETWEEN 60 AND 86400),
	session_absolute_timeout	integer NOT NULL DEFAULT 43200
		CHECK (session_absolute_timeout BETWEEN 300 AND 2592000),
	created_at			bigint NOT NULL
);

CREATE TABLE api_keys (
	id		text PRIMARY KEY,	-- the public part of the key, "sk_<mode>_<id>_<secret>"
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	secret_hash	bytea NOT NULL,		-- SHA-256 of the whole key
	created_at	bigint NOT NULL,	-- real time
	expires_at	bigint			-- real time; NULL while it is the current key
);
CREATE INDEX api_keys_site ON api_keys (site_id);

CREATE TABLE customers (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
	email		text,
	name		text,
	phone		text,
	billing_address	jsonb,
	metadata	jsonb NOT NULL DEFAULT '{}',
	portal_state	text NOT NULL DEFAULT 'none'
		CHECK (portal_state IN ('none', 'invited', 'active', 'revoked')),
	created_at	bigint NOT NULL,
	updated_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id)
);
CREATE INDEX customers_list ON customers (site_id, created_at DESC, id DESC);
CREATE INDEX customers_email ON customers (site_id, lower(email));

CREATE TABLE portal_sessions (
	site_id			text NOT NULL,
	id			text NOT NULL,
	customer_id		text NOT NULL,
	token_hash		text NOT NULL,	-- hex SHA-256 of the access token
	cookie_hash		text,		-- hex SHA-256 of the session cookie, once logged in
	redirect_url		text NOT NULL,
	forward_url		text,
	features		jsonb NOT NULL DEFAULT '{}',
	status			text NOT NULL CHECK (status IN ('created', 'logged_in',
				    'logged_out', 'not_yet_activated', 'activated')),
	created_at		bigint NOT NULL,
	expires_at		bigint NOT NULL,
	login_at		bigint,
	logout_at		bigint,
	last_seen_at		bigint,
	login_ipaddress		text,
	logout_ipaddress	text,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);
CREATE INDEX portal_sessions_customer ON portal_sessions (site_id, customer_id);

CREATE TABLE idempotency_keys (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	key		text NOT NULL,
	request_hash	text NOT NULL,		-- hex SHA-256 of method, path and body
	status		integer,		-- NULL while the first request runs
	response	text,
	created_at	bigint NOT NULL,	-- real time; kept at least 24 hours
	PRIMARY KEY (site_id, key)
);
