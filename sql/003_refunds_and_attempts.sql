-- 003_refunds_and_attempts.sql: refunds through the gateway, the gateway's reference for
-- each charge, and one row per webhook delivery attempt.

ALTER TABLE payment_attempts
	ADD COLUMN kind text NOT NULL DEFAULT 'charge' CHECK (kind IN ('charge', 'refund')),
	ADD COLUMN gateway_ref text,		-- the gateway's id of the charge or refund
	ADD COLUMN seq bigserial;		-- insertion order, for attempts within one second

ALTER TABLE invoices ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0
	CHECK (amount_refunded >= 0 AND amount_refunded <= amount_paid);

CREATE TABLE webhook_attempts (
	site_id		text NOT NULL,
	id		text NOT NULL,
	delivery_id	text NOT NULL,
	attempted_at	bigint NOT NULL,
	http_status	integer,
	error		text,
	PRIMARY KEY (site_id, id),
	FOREIGN KEY (site_id, delivery_id) REFERENCES webhook_deliveries (site_id, id)
		ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (site_id, delivery_id, attempted_at);
