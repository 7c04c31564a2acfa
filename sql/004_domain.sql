-- 004_domain.sql: what the billing domain layer needs. Additive only: new tables and
-- columns; the columns it stops using (customers.credit_balance) stay until a later
-- contract migration, so the previous release keeps working during a rolling upgrade.

-- Events: a sequence number that increases in causal order across the installation (so
-- per site too; not gapless), and who caused the event.
CREATE SEQUENCE events_seq;
ALTER TABLE events
	ADD COLUMN seq bigint,
	ADD COLUMN actor_type text CHECK (actor_type IN ('api_key', 'portal_session', 'admin',
	    'job_runner')),
	ADD COLUMN actor_id text;
WITH o AS (SELECT site_id, id, row_number() OVER (ORDER BY created_at, id) AS n FROM events)
	UPDATE events e SET seq = o.n FROM o WHERE e.site_id = o.site_id AND e.id = o.id;
SELECT setval('events_seq', COALESCE((SELECT max(seq) FROM events), 0) + 1, false);
ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq');
-- portald: compatible: the previous release never writes seq; the default fills it.
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
-- portald: compatible: every seq comes from one sequence, so none repeats.
CREATE UNIQUE INDEX events_seq_list ON events (site_id, seq DESC);
CREATE INDEX events_type_seq ON events (site_id, type, seq DESC);

-- Customers: company and tax id; the entitlements they were last told about.
ALTER TABLE customers
	ADD COLUMN company text,
	ADD COLUMN tax_id_type text,
	ADD COLUMN tax_id_value text,
	ADD COLUMN entitlements_digest text NOT NULL DEFAULT '';

-- Plans grant features (entitlements): a flag when value is NULL, else a number.
CREATE TABLE plan_features (
	site_id		text NOT NULL,
	plan_id		text NOT NULL,
	key		text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
	name		text NOT NULL,
	value		bigint,
	position	integer NOT NULL,
	PRIMARY KEY (site_id, plan_id, key),
	FOREIGN KEY (site_id, plan_id) REFERENCES plans (site_id, id) ON DELETE CASCADE
);

-- Subscriptions: a pause scheduled for the end of the term; the invoice that billed the
-- current term (its payment decides whether unused time may be credited).
ALTER TABLE subscriptions
	ADD COLUMN pause_at bigint,
	ADD COLUMN term_invoice_id text;

-- Every status change, in order: the audit trail, and what the invariant checks read.
CREATE TABLE subscription_history (
	site_id		text NOT NULL,
	subscription_id	text NOT NULL,
	seq		bigserial,
	action		text NOT NULL,
	from_status	text,
	to_status	text NOT NULL,
	at		bigint NOT NULL,
	PRIMARY KEY (site_id, subscription_id, seq),
	FOREIGN KEY (site_id, subscription_id) REFERENCES subscriptions (site_id, id)
		ON DELETE CASCADE
);
INSERT INTO subscription_history (site_id, subscription_id, action, from_status, to_status, at)
	SELECT site_id, id, 'migrated', NULL, status, updated_at FROM subscriptions;

-- Invoices freeze the buyer's and the seller's details when they are issued.
ALTER TABLE invoices
	ADD COLUMN customer_details jsonb,
	ADD COLUMN seller_details jsonb;

-- The credit ledger: one row per grant (amount > 0) or spend (amount < 0), per customer
-- and currency. Only 'available' rows count; a grant computed from a term whose invoice
-- is not paid yet waits as 'pending', and becomes 'void' if that invoice never is.
CREATE TABLE credit_entries (
	site_id			text NOT NULL,
	id			text NOT NULL,
	customer_id		text NOT NULL,
	currency		text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	amount			bigint NOT NULL CHECK (amount <> 0),
	source			text NOT NULL CHECK (source IN ('proration', 'cancellation',
				    'pause', 'void', 'manual', 'applied', 'migration')),
	status			text NOT NULL CHECK (status IN ('available', 'pending', 'void')),
	description		text NOT NULL,
	invoice_id		text,		-- spent on (applied) or given back by (void)
	source_invoice_id	text,		-- the invoice of the term the credit comes from
	subscription_id		text,
	period_start		bigint,
	period_end		bigint,
	created_at		bigint NOT NULL,
	seq			bigserial,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE,
	CHECK (status = 'available' OR amount > 0),
	CHECK (source <> 'applied' OR amount < 0)
);
CREATE INDEX credit_entries_customer ON credit_entries (site_id, customer_id, currency, status);
CREATE INDEX credit_entries_list ON credit_entries (site_id, customer_id, seq DESC);
CREATE INDEX credit_entries_source ON credit_entries (site_id, source_invoice_id)
	WHERE status = 'pending';
-- Balances kept before the ledger become one entry each, in the currency of the
-- customer's latest invoice.
INSERT INTO credit_entries (site_id, id, customer_id, currency, amount, source, status,
	    description, created_at)
	SELECT c.site_id, 'cre_migrated_' || md5(c.site_id || '/' || c.id), c.id,
	    COALESCE((SELECT i.currency FROM invoices i WHERE i.site_id = c.site_id
	    AND i.customer_id = c.id ORDER BY i.created_at DESC, i.id DESC LIMIT 1), 'USD'),
	    c.credit_balance, 'migration', 'available', 'Balance before the credit ledger',
	    c.updated_at
	FROM customers c WHERE c.credit_balance > 0;

-- Payments follow the ruling "record the intent, commit, call, record the outcome": an
-- attempt is 'pending' until the gateway's answer is recorded; a crash leaves it pending
-- and the job runner resolves it from the recorded key.
-- portald: compatible: the check is replaced by a wider one (a superset of the values).
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_outcome_check;
-- portald: compatible: the new check allows every value the previous release writes.
ALTER TABLE payment_attempts
	ADD CONSTRAINT payment_attempts_outcome_check CHECK (outcome IN ('pending', 'succeeded',
	    'declined', 'insufficient_funds', 'expired_card', 'no_payment_method',
	    'authentication_required', 'processing_error', 'unknown'));
ALTER TABLE payment_attempts
	ADD COLUMN gateway text NOT NULL DEFAULT 'test',
	ADD COLUMN currency text,
	ADD COLUMN failure_message text,
	ADD COLUMN completed_at bigint,
	ADD COLUMN wall_created_at bigint NOT NULL DEFAULT extract(epoch FROM now())::bigint;
CREATE INDEX payment_attempts_pending ON payment_attempts (site_id, wall_created_at)
	WHERE outcome = 'pending';
-- One charge in flight per invoice at a time.
-- portald: compatible: the previous release never writes 'pending'.
CREATE UNIQUE INDEX payment_attempts_one_pending ON payment_attempts (site_id, invoice_id)
	WHERE outcome = 'pending' AND kind = 'charge';

-- The test gateway's own record of what it was asked, keyed like a real gateway's
-- idempotency: a repeated key returns the first answer and never charges twice.
CREATE TABLE test_gateway_charges (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	idempotency_key	text NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('charge', 'refund')),
	token		text,
	amount		bigint NOT NULL,
	currency	text,
	outcome		text NOT NULL,
	ref		text NOT NULL,
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, idempotency_key)
);

-- Idempotency: what a request that moves money answers, recorded before the gateway call,
-- so a retry after a crash can answer from it.
ALTER TABLE idempotency_keys
	ADD COLUMN answer_kind text,
	ADD COLUMN answer_id text;

-- Invoices list newest first by number; a customer's invoices have their own index (the
-- portal's invoice history).
CREATE INDEX invoices_customer_number ON invoices (site_id, customer_id, number DESC);
