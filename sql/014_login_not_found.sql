-- 014_login_not_found.sql: a site may answer a login-link request for an address that
-- names none of its customers with "not found" (Chargebee's explicit answer), instead of
-- the default answer that is the same whether or not the address exists. Off for every
-- site, old and new: telling addresses apart is the merchant's choice. Additive only.
ALTER TABLE portal_configurations ADD COLUMN reveal_unknown_email boolean NOT NULL
	DEFAULT false;
