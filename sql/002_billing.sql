-- 002_billing.sql: plans, payment methods, subscriptions, invoices, payments, events and
-- webhooks. Money is integer minor units with an ISO 4217 currency. Times are Unix seconds
-- on the site's clock. Every table is a tenant table (site_id leads every key).

ALTER TABLE sites
	ADD COLUMN dunning_schedule integer[] NOT NULL DEFAULT '{86400,259200,432000}',
	ADD COLUMN dunning_final_action text NOT NULL DEFAULT 'cancel'
		CHECK (dunning_final_action IN ('cancel', 'mark_uncollectible')),
	ADD COLUMN cancel_reasons text[] NOT NULL DEFAULT
		'{too_expensive,missing_features,switched_service,unused,customer_service,low_quality,other}';

ALTER TABLE customers ADD COLUMN credit_balance bigint NOT NULL DEFAULT 0
	CHECK (credit_balance >= 0);

CREATE TABLE site_counters (
	site_id		text PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
	invoice_seq	bigint NOT NULL DEFAULT 0
);
INSERT INTO site_counters (site_id) SELECT id FROM sites;

CREATE TABLE plans (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
	name		text NOT NULL,
	amount		bigint NOT NULL CHECK (amount >= 0),
	currency	text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	interval_unit	text NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
	interval_count	integer NOT NULL CHECK (interval_count BETWEEN 1 AND 365),
	trial_days	integer NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 730),
	status		text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id)
);
CREATE INDEX plans_list ON plans (site_id, created_at DESC, id DESC);

-- The test gateway's vault: what a real gateway keeps on its side. Portald itself keeps
-- only the token, brand, last four digits and expiry (payment_methods).
CREATE TABLE test_gateway_tokens (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	token		text NOT NULL,
	brand		text NOT NULL,
	last4		text NOT NULL,
	exp_month	integer NOT NULL,
	exp_year	integer NOT NULL,
	behavior	text NOT NULL CHECK (behavior IN ('succeed', 'decline',
			    'insufficient_funds', 'expired_card', 'attach_then_decline')),
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, token)
);

CREATE TABLE payment_methods (
	site_id		text NOT NULL,
	id		text NOT NULL,
	customer_id	text NOT NULL,
	gateway		text NOT NULL DEFAULT 'test',
	gateway_token	text NOT NULL,
	brand		text NOT NULL,
	last4		text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
	exp_month	integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
	exp_year	integer NOT NULL,
	is_default	boolean NOT NULL DEFAULT false,
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);
CREATE INDEX payment_methods_customer ON payment_methods (site_id, customer_id);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (site_id, customer_id)
	WHERE is_default;

CREATE TABLE subscriptions (
	site_id			text NOT NULL,
	id			text NOT NULL,
	customer_id		text NOT NULL,
	plan_id			text NOT NULL,
	status			text NOT NULL CHECK (status IN ('in_trial', 'active',
				    'non_renewing', 'past_due', 'paused', 'cancelled')),
	billing_anchor_day	integer NOT NULL CHECK (billing_anchor_day BETWEEN 1 AND 31),
	current_term_start	bigint NOT NULL,
	current_term_end	bigint NOT NULL,
	next_billing_at		bigint,		-- NULL when nothing is due (cancelled, paused)
	trial_end		bigint,
	cancel_at_period_end	boolean NOT NULL DEFAULT false,
	cancelled_at		bigint,
	cancel_reason		text,
	cancel_comment		text,
	paused_at		bigint,
	resume_at		bigint,
	scheduled_plan_id	text,
	created_at		bigint NOT NULL,
	updated_at		bigint NOT NULL,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE,
	FOREIGN KEY (site_id, plan_id) REFERENCES plans (site_id, id),
	FOREIGN KEY (site_id, scheduled_plan_id) REFERENCES plans (site_id, id)
);
CREATE INDEX subscriptions_customer ON subscriptions (site_id, customer_id, created_at DESC, id DESC);
CREATE INDEX subscriptions_list ON subscriptions (site_id, created_at DESC, id DESC);
CREATE INDEX subscriptions_due ON subscriptions (site_id, next_billing_at)
	WHERE next_billing_at IS NOT NULL;
CREATE INDEX subscriptions_resume ON subscriptions (site_id, resume_at)
	WHERE status = 'paused' AND resume_at IS NOT NULL;

CREATE TABLE invoices (
	site_id		text NOT NULL,
	id		text NOT NULL,
	number		bigint NOT NULL,
	customer_id	text NOT NULL,
	subscription_id	text,
	status		text NOT NULL CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
	currency	text NOT NULL,
	subtotal	bigint NOT NULL,
	credit_applied	bigint NOT NULL DEFAULT 0,
	total		bigint NOT NULL,
	amount_due	bigint NOT NULL,
	amount_paid	bigint NOT NULL DEFAULT 0,
	attempt_count	integer NOT NULL DEFAULT 0,
	next_attempt_at	bigint,			-- dunning: when collection is retried
	created_at	bigint NOT NULL,
	paid_at		bigint,
	voided_at	bigint,
	PRIMARY KEY (site_id, id),
	UNIQUE (site_id, number),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE,
	FOREIGN KEY (site_id, subscription_id) REFERENCES subscriptions (site_id, id)
		ON DELETE CASCADE
);
CREATE INDEX invoices_list ON invoices (site_id, created_at DESC, id DESC);
CREATE INDEX invoices_customer ON invoices (site_id, customer_id, status);
CREATE INDEX invoices_subscription ON invoices (site_id, subscription_id);
CREATE INDEX invoices_retry ON invoices (site_id, next_attempt_at)
	WHERE status = 'open' AND next_attempt_at IS NOT NULL;

CREATE TABLE invoice_lines (
	site_id		text NOT NULL,
	invoice_id	text NOT NULL,
	line_no		integer NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('plan_charge', 'proration_credit',
			    'proration_charge')),
	description	text NOT NULL,
	amount		bigint NOT NULL,
	plan_id		text,
	period_start	bigint,
	period_end	bigint,
	PRIMARY KEY (site_id, invoice_id, line_no),
	FOREIGN KEY (site_id, invoice_id) REFERENCES invoices (site_id, id) ON DELETE CASCADE
);

CREATE TABLE payment_attempts (
	site_id			text NOT NULL,
	id			text NOT NULL,
	invoice_id		text NOT NULL,
	payment_method_id	text,
	amount			bigint NOT NULL,
	outcome			text NOT NULL CHECK (outcome IN ('succeeded', 'declined',
				    'insufficient_funds', 'expired_card', 'no_payment_method')),
	idempotency_key		text NOT NULL,	-- what a real gateway would be sent
	created_at		bigint NOT NULL,
	PRIMARY KEY (site_id, id),
	UNIQUE (site_id, idempotency_key),
	FOREIGN KEY (site_id, invoice_id) REFERENCES invoices (site_id, id) ON DELETE CASCADE
);
CREATE INDEX payment_attempts_invoice ON payment_attempts (site_id, invoice_id);

CREATE TABLE events (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL,
	type		text NOT NULL,
	object_id	text,
	data		jsonb NOT NULL,
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id)
);
CREATE INDEX events_list ON events (site_id, created_at DESC, id DESC);

CREATE TABLE webhook_endpoints (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL,
	url		text NOT NULL,
	secret		text NOT NULL,	-- needed in clear to sign; shown once to the merchant
	events		text[] NOT NULL,	-- '{*}' for all
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id)
);

CREATE TABLE webhook_deliveries (
	site_id		text NOT NULL,
	id		text NOT NULL,
	endpoint_id	text NOT NULL,
	event_id	text NOT NULL,
	status		text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at	bigint,
	last_status	integer,
	last_error	text,
	created_at	bigint NOT NULL,
	updated_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, endpoint_id) REFERENCES webhook_endpoints (site_id, id)
		ON DELETE CASCADE,
	FOREIGN KEY (site_id, event_id) REFERENCES events (site_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (site_id, next_attempt_at)
	WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (site_id, event_id);
