-- 007_invoicing.sql: invoices customers can file: the site's legal details, tax rates and
-- the taxes an invoice charged, credit notes with their own number series, and the PDF of
-- every issued invoice and credit note, rendered once and stored. Additive only.

-- The seller as invoices name it. One row per site; without one, invoices name the site.
CREATE TABLE site_legal_details (
	site_id			text PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
	legal_name		text CHECK (length(legal_name) BETWEEN 1 AND 200),
	address			jsonb,		-- {line1, line2, line3, city, state, postal_code, country}
	tax_ids			jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tax_ids) = 'array'),
	email			text,
	phone			text,
	invoice_prefix		text NOT NULL DEFAULT 'INV-'
		CHECK (invoice_prefix ~ '^[A-Za-z0-9._-]{0,20}$'),
	credit_note_prefix	text NOT NULL DEFAULT 'CN-'
		CHECK (credit_note_prefix ~ '^[A-Za-z0-9._-]{0,20}$'),
	footer			text CHECK (length(footer) <= 2000),
	paper			text NOT NULL DEFAULT 'a4' CHECK (paper IN ('a4', 'letter')),
	updated_at		bigint NOT NULL,
	-- Both series end up as file names side by side (the yearly archive).
	CHECK (invoice_prefix <> credit_note_prefix)
);

-- Tax rates: a percentage (in parts per million of the amount: 19% is 190000) that applies
-- to buyers billed in a country, or in one region (state, province) of it. Inclusive rates
-- are contained in the price; exclusive ones are added to it.
CREATE TABLE tax_rates (
	site_id		text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	id		text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
	display_name	text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 50),
	description	text CHECK (length(description) <= 200),
	rate_ppm	integer NOT NULL CHECK (rate_ppm BETWEEN 0 AND 1000000),
	inclusive	boolean NOT NULL,
	country		text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
	region		text CHECK (region ~ '^[A-Z0-9]{1,3}$'),	-- NULL: the whole country
	active		boolean NOT NULL DEFAULT true,
	created_at	bigint NOT NULL,
	PRIMARY KEY (site_id, id)
);
CREATE INDEX tax_rates_list ON tax_rates (site_id, created_at DESC, id DESC);
CREATE INDEX tax_rates_country ON tax_rates (site_id, country) WHERE active;

-- Invoices: the number as printed (prefix and sequence, frozen at issue), the tax charged
-- (total = subtotal + the exclusive part of tax), and why there is none (reverse charge).
ALTER TABLE invoices
	ADD COLUMN number_text text,
	ADD COLUMN tax bigint NOT NULL DEFAULT 0 CHECK (tax >= 0),
	ADD COLUMN tax_treatment text NOT NULL DEFAULT 'none'
		CHECK (tax_treatment IN ('none', 'taxed', 'reverse_charge')),
	ADD COLUMN tax_note text;
UPDATE invoices SET number_text = 'INV-' || lpad(number::text, 4, '0') WHERE number_text IS NULL;
ALTER TABLE invoice_lines ADD COLUMN tax_amount bigint NOT NULL DEFAULT 0;

-- The tax an invoice charged, per rate, with the rate as it was (later edits of the rate
-- never change an issued invoice).
CREATE TABLE invoice_taxes (
	site_id		text NOT NULL,
	invoice_id	text NOT NULL,
	tax_no		integer NOT NULL,
	tax_rate_id	text,
	display_name	text NOT NULL,
	rate_ppm	integer NOT NULL,
	inclusive	boolean NOT NULL,
	country		text NOT NULL,
	region		text,
	taxable_amount	bigint NOT NULL,	-- the net amount the rate was applied to
	amount		bigint NOT NULL,
	PRIMARY KEY (site_id, invoice_id, tax_no),
	FOREIGN KEY (site_id, invoice_id) REFERENCES invoices (site_id, id) ON DELETE CASCADE
);

-- Credit notes: their own gapless series per site.
ALTER TABLE site_counters ADD COLUMN credit_note_seq bigint NOT NULL DEFAULT 0;

-- A credit note corrects one issued invoice: unused time credited after a plan change, a
-- cancellation or a pause; a refund; a void. Its total goes to the customer's balance
-- (credit_amount, the ledger entry credit_entry_id), back to the card (refund_amount), or
-- off what the invoice still asked for (void_amount). The ledger stays the balance; the
-- credit note is the document.
CREATE TABLE credit_notes (
	site_id			text NOT NULL,
	id			text NOT NULL,
	number			bigint NOT NULL,
	number_text		text NOT NULL,
	invoice_id		text NOT NULL,
	customer_id		text NOT NULL,
	currency		text NOT NULL,
	reason			text NOT NULL CHECK (reason IN ('plan_change', 'cancellation',
				    'pause', 'refund', 'void')),
	subtotal		bigint NOT NULL CHECK (subtotal >= 0),
	tax			bigint NOT NULL CHECK (tax >= 0),
	total			bigint NOT NULL CHECK (total > 0),
	credit_amount		bigint NOT NULL CHECK (credit_amount >= 0),
	refund_amount		bigint NOT NULL CHECK (refund_amount >= 0),
	void_amount		bigint NOT NULL CHECK (void_amount >= 0),
	credit_entry_id		text,
	payment_attempt_id	text,
	tax_treatment		text NOT NULL CHECK (tax_treatment IN ('none', 'taxed',
				    'reverse_charge')),
	tax_note		text,
	customer_details	jsonb NOT NULL,
	seller_details		jsonb NOT NULL,
	created_at		bigint NOT NULL,
	PRIMARY KEY (site_id, id),
	UNIQUE (site_id, number),
	FOREIGN KEY (site_id, invoice_id) REFERENCES invoices (site_id, id) ON DELETE CASCADE,
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE,
	CHECK (total = credit_amount + refund_amount + void_amount)
);
CREATE INDEX credit_notes_invoice ON credit_notes (site_id, invoice_id);
CREATE INDEX credit_notes_customer ON credit_notes (site_id, customer_id, number DESC);

CREATE TABLE credit_note_lines (
	site_id		text NOT NULL,
	credit_note_id	text NOT NULL,
	line_no		integer NOT NULL,
	description	text NOT NULL,
	amount		bigint NOT NULL CHECK (amount >= 0),
	tax_amount	bigint NOT NULL DEFAULT 0,
	period_start	bigint,
	period_end	bigint,
	PRIMARY KEY (site_id, credit_note_id, line_no),
	FOREIGN KEY (site_id, credit_note_id) REFERENCES credit_notes (site_id, id)
		ON DELETE CASCADE
);

CREATE TABLE credit_note_taxes (
	site_id		text NOT NULL,
	credit_note_id	text NOT NULL,
	tax_no		integer NOT NULL,
	tax_rate_id	text,
	display_name	text NOT NULL,
	rate_ppm	integer NOT NULL,
	inclusive	boolean NOT NULL,
	country		text NOT NULL,
	region		text,
	taxable_amount	bigint NOT NULL,
	amount		bigint NOT NULL,
	PRIMARY KEY (site_id, credit_note_id, tax_no),
	FOREIGN KEY (site_id, credit_note_id) REFERENCES credit_notes (site_id, id)
		ON DELETE CASCADE
);

-- The PDF of every issued invoice and credit note. A row is queued when the document is
-- issued and rendered once by the job runner; its bytes never change afterwards.
CREATE TABLE documents (
	site_id		text NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
	object_id	text NOT NULL,
	number_text	text NOT NULL,
	customer_id	text NOT NULL,
	issued_at	bigint NOT NULL,	-- the site's clock: the PDF's creation date
	pdf		bytea,			-- NULL until rendered
	sha256		text,
	rendered_at	bigint,			-- real time
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	PRIMARY KEY (site_id, kind, object_id),
	FOREIGN KEY (site_id, customer_id) REFERENCES customers (site_id, id) ON DELETE CASCADE
);
CREATE INDEX documents_pending ON documents (site_id, issued_at) WHERE pdf IS NULL;
CREATE INDEX documents_customer ON documents (site_id, customer_id, issued_at);
-- Invoices issued before this migration get their PDF too.
INSERT INTO documents (site_id, kind, object_id, number_text, customer_id, issued_at)
	SELECT site_id, 'invoice', id, number_text, customer_id, created_at FROM invoices;

-- One-off invoices (POST /api/v1/invoices) bill lines of their own kind.
-- portald: compatible: the check is replaced by a wider one (a superset of the values).
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_kind_check;
-- portald: compatible: the new check allows every value the previous release writes.
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_kind_check CHECK (kind IN
	('plan_charge', 'proration_credit', 'proration_charge', 'one_off'));
