-- 008_stripe.sql: Stripe as a payment gateway. Per-site gateway configuration (secrets
-- sealed under the server key), Stripe's customer for each customer, hosted card set-ups
-- (Checkout in setup mode), the Stripe events already applied, cards of a gateway the site
-- no longer uses, decline codes and on-session charges, disputed invoices. Additive only.

-- The gateway a site charges through. No row: the test gateway on test sites, none on live
-- sites. The Stripe keys are sealed (secrets_seal, context bound to the site); only a hint
-- of the secret key ("sk_live_...4242") is kept in clear, to show which key is set.
CREATE TABLE site_gateways (
	site_id			text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	gateway			text NOT NULL CHECK (gateway IN ('test', 'stripe')),
	secret_key_sealed	text,
	secret_key_hint		text,
	webhook_secret_sealed	text,
	created_at		bigint NOT NULL,
	updated_at		bigint NOT NULL,
	PRIMARY KEY (site_id),
	CHECK (gateway <> 'stripe' OR (secret_key_sealed IS NOT NULL AND
	    webhook_secret_sealed IS NOT NULL))
);

-- The gateway's customer for a Portald customer (Stripe's cus_...), made on demand.
CREATE TABLE gateway_customers (
	site_id		text NOT NULL,
	customer_id	text NOT NULL,
	gateway		text NOT NULL,
	ref		text NOT NULL,
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, customer_id, gateway),
	UNIQUE (site_id, gateway, ref),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);

-- A card set up on the gateway's own page: recorded as intent ('creating') before the
-- gateway is asked for the page, 'open' while the customer may use it, 'complete' once the
-- card is stored (exactly once, by the customer's return or the gateway's webhook).
CREATE TABLE gateway_setups (
	site_id			text NOT NULL,
	id			text NOT NULL,
	customer_id		text NOT NULL,
	gateway			text NOT NULL,
	status			text NOT NULL CHECK (status IN ('creating', 'open', 'complete',
				    'expired', 'failed')),
	make_default		integer NOT NULL CHECK (make_default IN (-1, 0, 1)),
	success_url		text NOT NULL,
	cancel_url		text,
	session_ref		text,		-- Stripe's Checkout Session (cs_...)
	url_sealed		text,		-- the page's address, sealed
	expires_at		bigint,
	payment_method_id	text,
	failure_message		text,
	created_at		bigint NOT NULL,
	completed_at		bigint,
	PRIMARY KEY (site_id, id),
	UNIQUE (site_id, session_ref),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);

-- Events received from a gateway and applied, each once.
CREATE TABLE gateway_events (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	gateway		text NOT NULL,
	event_id	text NOT NULL,
	type		text NOT NULL,
	received_at	bigint NOT NULL,	-- real time
	PRIMARY KEY (site_id, gateway, event_id)
);

-- Cards of a gateway the site switched away from cannot be charged: the portal asks for a
-- new card. A gateway's card is stored once (the return and the webhook may race).
ALTER TABLE payment_methods ADD COLUMN unusable boolean NOT NULL DEFAULT false;
-- portald: compatible: the previous release writes only 'test' cards, which this index leaves out.
CREATE UNIQUE INDEX payment_methods_gateway_token ON payment_methods (site_id, gateway,
	gateway_token) WHERE gateway <> 'test';

-- Why a card was declined (the gateway's decline code), and charges made while the
-- customer is there (on-session, to authenticate): where the gateway sends them back.
ALTER TABLE payment_attempts
	ADD COLUMN decline_code text,
	ADD COLUMN return_url text;
CREATE INDEX payment_attempts_ref ON payment_attempts (site_id, gateway_ref)
	WHERE gateway_ref IS NOT NULL;

-- A charge the customer disputed with their bank (a chargeback).
ALTER TABLE invoices
	ADD COLUMN disputed_at bigint,
	ADD COLUMN dispute_ref text,
	ADD COLUMN dispute_reason text;

-- Events a gateway's webhook causes name the gateway as their actor.
-- portald: compatible: the check is replaced by a wider one (a superset of the values).
ALTER TABLE events DROP CONSTRAINT events_actor_type_check;
-- portald: compatible: the new check allows every value the previous release writes.
ALTER TABLE events ADD CONSTRAINT events_actor_type_check CHECK (actor_type IN ('api_key',
	'portal_session', 'admin', 'job_runner', 'gateway'));
