/* stmts.c: the statement table. All SQL lives here; call sites use STMT_ names only.
 * Every statement on a tenant table filters by site_id ($1), so the schema can be
 * distributed by site (tests/integration checks this table against the catalog). */
#include "db/stmts.h"

#define CUSTOMER_COLS \
	"id, email, name, phone, billing_address::text, metadata::text, portal_state, " \
	"created_at, updated_at, company, tax_id_type, tax_id_value, " \
	"(SELECT json_object_agg(b.currency, b.total ORDER BY b.currency) FROM " \
	"(SELECT ce.currency, sum(ce.amount) AS total FROM credit_entries ce " \
	"WHERE ce.site_id = customers.site_id AND ce.customer_id = customers.id " \
	"AND ce.status = 'available' GROUP BY ce.currency HAVING sum(ce.amount) <> 0) b)::text"
#define PLAN_COLS \
	"id, name, amount, currency, interval_unit, interval_count, trial_days, status, " \
	"created_at, (SELECT json_agg(json_build_object('key', f.key, 'name', f.name, " \
	"'value', f.value) ORDER BY f.position) FROM plan_features f " \
	"WHERE f.site_id = plans.site_id AND f.plan_id = plans.id)::text"
#define PM_COLS \
	"id, customer_id, brand, last4, exp_month, exp_year, is_default, created_at, gateway_token"
#define SUB_COLS \
	"s.id, s.customer_id, s.plan_id, s.status, s.current_term_start, s.current_term_end, " \
	"s.next_billing_at, s.trial_end, s.cancel_at_period_end, s.cancelled_at, s.cancel_reason, " \
	"s.cancel_comment, s.paused_at, s.resume_at, s.scheduled_plan_id, s.created_at, " \
	"s.updated_at, s.billing_anchor_day, p.amount, p.currency, p.interval_unit, " \
	"p.interval_count, p.name, s.pause_at, s.term_invoice_id, sp.amount, " \
	"(SELECT COALESCE(sum(ce.amount), 0) FROM credit_entries ce WHERE ce.site_id = s.site_id " \
	"AND ce.customer_id = s.customer_id AND ce.currency = p.currency " \
	"AND ce.status = 'available')"
#define SUB_FROM \
	" FROM subscriptions s JOIN plans p ON p.site_id = s.site_id AND p.id = s.plan_id " \
	"LEFT JOIN plans sp ON sp.site_id = s.site_id AND sp.id = s.scheduled_plan_id "
#define INV_COLS \
	"id, number, customer_id, subscription_id, status, currency, subtotal, credit_applied, " \
	"total, amount_due, amount_paid, attempt_count, next_attempt_at, created_at, paid_at, " \
	"voided_at, amount_refunded, customer_details::text, seller_details::text"
#define EVENT_COLS \
	"id, type, object_id, data::text, created_at, seq, actor_type, actor_id"
#define CREDIT_COLS \
	"id, customer_id, currency, amount, source, status, description, invoice_id, " \
	"source_invoice_id, subscription_id, period_start, period_end, created_at, seq"
#define PAY_COLS \
	"id, invoice_id, payment_method_id, amount, outcome, idempotency_key, created_at, kind, " \
	"gateway_ref, gateway, currency, failure_message, completed_at"
#define PSESS_COLS \
	"id, customer_id, redirect_url, forward_url, features::text, status, created_at, " \
	"expires_at, login_at, logout_at, login_ipaddress, logout_ipaddress, token_hash, flow::text"
/* A site's portal configuration, with its site and logo (see enum pconf_col). */
#define PCONF_COLS \
	"s.id, s.name, s.mode, s.clock_offset, c.business_name, c.website_url, c.brand_color, " \
	"c.time_zone, c.terms_url, c.privacy_url, c.help_url, c.edit_billing_details, " \
	"c.email_editable, c.payment_methods, c.invoice_history, c.cancel_subscription, " \
	"c.cancel_mode, c.cancel_reason, c.cancel_comment, c.cancel_reasons::text, c.change_plan, " \
	"array_to_string(c.change_plan_plans, ','), c.change_plan_timing, " \
	"c.downgrades_at_end_of_term, c.pause_subscription, c.pause_max_days, " \
	"c.reactivate_subscription, c.session_idle_timeout, c.session_absolute_timeout, " \
	"c.updated_at, l.sha256, l.width, l.height, s.portal_host"
#define PCONF_FROM \
	" FROM portal_configurations c JOIN sites s ON s.id = c.site_id " \
	"LEFT JOIN portal_logos l ON l.site_id = c.site_id "

const struct stmt stmts[STMT__MAX] = {
	[STMT_PING] = { "ping", "SELECT 1", 0 },

	/* Global tables: the key lookup joins the key to its site. */
	[STMT_APIKEY_LOOKUP] = { "apikey_lookup",
	    "SELECT k.site_id, encode(k.secret_hash, 'hex'), k.expires_at, s.mode, s.clock_offset "
	    "FROM api_keys k JOIN sites s ON s.id = k.site_id WHERE k.id = $1", 1 },
	[STMT_APIKEY_INSERT] = { "apikey_insert",
	    "INSERT INTO api_keys (id, site_id, secret_hash, created_at) "
	    "VALUES ($1, $2, decode($3, 'hex'), $4)", 4 },
	[STMT_APIKEY_EXPIRE_OTHERS] = { "apikey_expire_others",
	    "UPDATE api_keys SET expires_at = $3 WHERE site_id = $1 AND id <> $2 "
	    "AND (expires_at IS NULL OR expires_at > $3)", 3 },
	/* A site comes with its portal configuration (defaults), in one statement. */
	[STMT_SITE_INSERT] = { "site_insert",
	    "WITH s AS (INSERT INTO sites (id, name, mode, created_at) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (id) DO NOTHING RETURNING id, created_at) "
	    "INSERT INTO portal_configurations (site_id, updated_at) SELECT $1, created_at FROM s "
	    "RETURNING site_id", 4 },
	[STMT_SITE_GET] = { "site_get",
	    "SELECT id, name, mode, clock_offset, created_at FROM sites WHERE id = $1", 1 },
	[STMT_SITE_LIST] = { "site_list",
	    "SELECT id, name, mode, clock_offset, created_at FROM sites ORDER BY id", 0 },
	[STMT_SITE_TRAVEL] = { "site_travel",
	    "UPDATE sites SET clock_offset = clock_offset + $2 "
	    "WHERE id = $1 AND mode = 'test' RETURNING clock_offset", 2 },

	/* customers */
	[STMT_CUSTOMER_INSERT] = { "customer_insert",
	    "INSERT INTO customers (site_id, id, email, name, phone, billing_address, metadata, "
	    "company, tax_id_type, tax_id_value, created_at, updated_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, COALESCE($7::jsonb, '{}'), $9, $10, $11, $8, $8) "
	    "ON CONFLICT (site_id, id) DO NOTHING RETURNING " CUSTOMER_COLS, 11 },
	[STMT_CUSTOMER_GET] = { "customer_get",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 AND id = $2", 2 },
	/* $3..$10: for each of email, name, phone, billing_address a "set" flag and a value;
	 * $11 metadata to merge (null values delete keys); $12 now. */
	/* $3..$10: for each of email, name, phone, billing_address a "set" flag and a value;
	 * $11 metadata to merge (null values delete keys); $12 now; $13/$14 company; $15..$17
	 * the tax id (flag, type, value). */
	[STMT_CUSTOMER_UPDATE] = { "customer_update",
	    "UPDATE customers SET "
	    "email = CASE WHEN $3::bool THEN $4 ELSE email END, "
	    "name = CASE WHEN $5::bool THEN $6 ELSE name END, "
	    "phone = CASE WHEN $7::bool THEN $8 ELSE phone END, "
	    "billing_address = CASE WHEN $9::bool THEN $10::jsonb ELSE billing_address END, "
	    "metadata = CASE WHEN $11::jsonb IS NULL THEN metadata "
	    "ELSE jsonb_strip_nulls(metadata || $11::jsonb) END, "
	    "company = CASE WHEN $13::bool THEN $14 ELSE company END, "
	    "tax_id_type = CASE WHEN $15::bool THEN $16 ELSE tax_id_type END, "
	    "tax_id_value = CASE WHEN $15::bool THEN $17 ELSE tax_id_value END, "
	    "updated_at = $12 "
	    "WHERE site_id = $1 AND id = $2 RETURNING " CUSTOMER_COLS, 17 },
	[STMT_CUSTOMER_DELETE] = { "customer_delete",
	    "DELETE FROM customers WHERE site_id = $1 AND id = $2 RETURNING id", 2 },
	/* Locks the customer (a new subscription waits for it) and counts what must not be
	 * deleted with it: invoices, and subscriptions that still bill. */
	[STMT_CUSTOMER_BILLING_REFS] = { "customer_billing_refs",
	    "SELECT (SELECT count(*) FROM invoices i WHERE i.site_id = $1 AND i.customer_id = $2), "
	    "(SELECT count(*) FROM subscriptions s WHERE s.site_id = $1 AND s.customer_id = $2 "
	    "AND s.status <> 'cancelled') FROM customers c WHERE c.site_id = $1 AND c.id = $2 "
	    "FOR UPDATE OF c", 2 },
	/* Serialises a customer's credit spending and entitlement updates. */
	[STMT_CUSTOMER_LOCK] = { "customer_lock",
	    "SELECT id, entitlements_digest FROM customers WHERE site_id = $1 AND id = $2 "
	    "FOR UPDATE", 2 },
	[STMT_CUSTOMER_SET_DIGEST] = { "customer_set_digest",
	    "UPDATE customers SET entitlements_digest = $3 WHERE site_id = $1 AND id = $2", 3 },
	/* What a customer is entitled to now: features of the plans of subscriptions that
	 * serve (in trial, active, not renewing, past due). Numbers add up; a flag counts once. */
	[STMT_ENTITLEMENTS] = { "entitlements",
	    "SELECT f.key, min(f.name), sum(f.value), "
	    "string_agg(DISTINCT s.id, ',' ORDER BY s.id) FROM subscriptions s "
	    "JOIN plan_features f ON f.site_id = s.site_id AND f.plan_id = s.plan_id "
	    "WHERE s.site_id = $1 AND s.customer_id = $2 "
	    "AND s.status IN ('in_trial', 'active', 'non_renewing', 'past_due') "
	    "GROUP BY f.key ORDER BY f.key", 2 },
	[STMT_CUSTOMER_LIST_FIRST] = { "customer_list_first",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR lower(email) = lower($3)) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 3 },
	/* Keyset pagination: $4, $5 are the created_at and id of the starting_after row. */
	[STMT_CUSTOMER_LIST_AFTER] = { "customer_list_after",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 "
	    "AND (created_at, id) < ($4::bigint, $5::text) "
	    "AND ($3::text IS NULL OR lower(email) = lower($3)) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 5 },

	/* portal sessions */
	[STMT_PSESS_INSERT] = { "psess_insert",
	    "INSERT INTO portal_sessions (site_id, id, customer_id, token_hash, redirect_url, "
	    "forward_url, features, status, created_at, expires_at, flow) "
	    "SELECT $1, $2, c.id, $4, $5, $6, COALESCE($7::jsonb, '{}'), 'created', $8, $9, "
	    "$10::jsonb FROM customers c WHERE c.site_id = $1 AND c.id = $3 RETURNING " PSESS_COLS,
	    10 },
	[STMT_PSESS_GET] = { "psess_get",
	    "SELECT " PSESS_COLS " FROM portal_sessions WHERE site_id = $1 AND id = $2", 2 },
	/* Logging out twice changes nothing: the WHERE clause skips logged-out sessions. */
	[STMT_PSESS_LOGOUT] = { "psess_logout",
	    "UPDATE portal_sessions SET status = 'logged_out', logout_at = $3, "
	    "logout_ipaddress = $4, cookie_hash = NULL "
	    "WHERE site_id = $1 AND id = $2 AND status <> 'logged_out' RETURNING " PSESS_COLS, 4 },
	/* Single use: only a 'created', unexpired session turns into 'logged_in', once. */
	[STMT_PSESS_CONSUME] = { "psess_consume",
	    "UPDATE portal_sessions SET status = 'logged_in', login_at = $3, last_seen_at = $3, "
	    "login_ipaddress = $4, cookie_hash = $5 "
	    "WHERE site_id = $1 AND id = $2 AND status = 'created' AND expires_at > $3 "
	    "RETURNING " PSESS_COLS, 5 },
	[STMT_PSESS_ACTIVATE] = { "psess_activate",
	    "UPDATE portal_sessions SET status = 'activated', login_at = $3, "
	    "login_ipaddress = $4 "
	    "WHERE site_id = $1 AND id = $2 AND status = 'created' AND expires_at > $3 "
	    "RETURNING " PSESS_COLS, 4 },
	[STMT_PSESS_PORTAL_GET] = { "psess_portal_get",
	    "SELECT p.id, p.cookie_hash, p.status, p.login_at, p.last_seen_at, p.redirect_url, "
	    "p.customer_id, c.name, c.email, p.features::text, p.flow::text "
	    "FROM portal_sessions p "
	    "JOIN customers c ON c.site_id = p.site_id AND c.id = p.customer_id "
	    "WHERE p.site_id = $1 AND p.id = $2", 2 },
	[STMT_PSESS_TOUCH] = { "psess_touch",
	    "UPDATE portal_sessions SET last_seen_at = $3 "
	    "WHERE site_id = $1 AND id = $2 AND status = 'logged_in'", 3 },

	/* Idempotency: claim inserts, or takes over a key older than 24 hours; a concurrent
	 * request with the same key waits on the row until the first one commits. */
	[STMT_IDEM_CLAIM] = { "idem_claim",
	    "INSERT INTO idempotency_keys (site_id, key, request_hash, created_at) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT (site_id, key) DO UPDATE SET "
	    "request_hash = EXCLUDED.request_hash, status = NULL, response = NULL, "
	    "created_at = EXCLUDED.created_at "
	    "WHERE idempotency_keys.created_at < EXCLUDED.created_at - 86400 RETURNING key", 4 },
	[STMT_IDEM_GET] = { "idem_get",
	    "SELECT request_hash, status, response, created_at, answer_kind, answer_id "
	    "FROM idempotency_keys WHERE site_id = $1 AND key = $2", 2 },
	[STMT_IDEM_SET_ANSWER] = { "idem_set_answer",
	    "UPDATE idempotency_keys SET answer_kind = $3, answer_id = $4 "
	    "WHERE site_id = $1 AND key = $2", 4 },
	[STMT_IDEM_STORE] = { "idem_store",
	    "UPDATE idempotency_keys SET status = $3, response = $4 "
	    "WHERE site_id = $1 AND key = $2", 4 },

	/* ---- billing ---- */
	[STMT_SITE_BILLING] = { "site_billing",
	    "SELECT array_to_string(dunning_schedule, ','), dunning_final_action "
	    "FROM sites WHERE id = $1", 1 },
	[STMT_SITE_SET_DUNNING] = { "site_set_dunning",
	    "UPDATE sites SET dunning_schedule = COALESCE(string_to_array($2, ',')::integer[], "
	    "dunning_schedule), dunning_final_action = COALESCE($3, dunning_final_action) "
	    "WHERE id = $1 RETURNING array_to_string(dunning_schedule, ','), dunning_final_action",
	    3 },
	[STMT_SITE_CLOCKS] = { "site_clocks",
	    "SELECT id, clock_offset, mode FROM sites ORDER BY id", 0 },
	/* Sequential invoice numbers: the row lock orders concurrent invoices of a site. */
	[STMT_COUNTER_NEXT] = { "counter_next",
	    "INSERT INTO site_counters (site_id, invoice_seq) VALUES ($1, 1) "
	    "ON CONFLICT (site_id) DO UPDATE SET invoice_seq = site_counters.invoice_seq + 1 "
	    "RETURNING invoice_seq", 1 },

	[STMT_PLAN_UPDATE] = { "plan_update",
	    "UPDATE plans SET name = COALESCE($3, name) WHERE site_id = $1 AND id = $2 "
	    "RETURNING " PLAN_COLS, 3 },
	[STMT_PLAN_FEATURES_CLEAR] = { "plan_features_clear",
	    "DELETE FROM plan_features WHERE site_id = $1 AND plan_id = $2", 2 },
	[STMT_PLAN_FEATURE_INSERT] = { "plan_feature_insert",
	    "INSERT INTO plan_features (site_id, plan_id, key, name, value, position) "
	    "VALUES ($1, $2, $3, $4, $5, $6)", 6 },
	/* Customers whose entitlements a change of this plan's features may change. */
	[STMT_PLAN_CUSTOMERS] = { "plan_customers",
	    "SELECT DISTINCT customer_id FROM subscriptions WHERE site_id = $1 "
	    "AND (plan_id = $2 OR scheduled_plan_id = $2) AND status <> 'cancelled' "
	    "ORDER BY customer_id", 2 },
	[STMT_PLAN_INSERT] = { "plan_insert",
	    "INSERT INTO plans (site_id, id, name, amount, currency, interval_unit, interval_count, "
	    "trial_days, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (site_id, id) DO NOTHING RETURNING " PLAN_COLS, 9 },
	[STMT_PLAN_GET] = { "plan_get",
	    "SELECT " PLAN_COLS " FROM plans WHERE site_id = $1 AND id = $2", 2 },
	[STMT_PLAN_LIST_FIRST] = { "plan_list_first",
	    "SELECT " PLAN_COLS " FROM plans WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR status = $3) ORDER BY created_at DESC, id DESC LIMIT $2", 3 },
	[STMT_PLAN_LIST_AFTER] = { "plan_list_after",
	    "SELECT " PLAN_COLS " FROM plans WHERE site_id = $1 "
	    "AND (created_at, id) < ($4::bigint, $5::text) AND ($3::text IS NULL OR status = $3) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 5 },
	[STMT_PLAN_ARCHIVE] = { "plan_archive",
	    "UPDATE plans SET status = 'archived' WHERE site_id = $1 AND id = $2 "
	    "RETURNING " PLAN_COLS, 2 },

	[STMT_GWTOKEN_INSERT] = { "gwtoken_insert",
	    "INSERT INTO test_gateway_tokens (site_id, token, brand, last4, exp_month, exp_year, "
	    "behavior, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8 },
	[STMT_GWTOKEN_GET] = { "gwtoken_get",
	    "SELECT brand, last4, exp_month, exp_year, behavior FROM test_gateway_tokens "
	    "WHERE site_id = $1 AND token = $2", 2 },

	[STMT_TGW_CHARGE_GET] = { "tgw_charge_get",
	    "SELECT outcome, ref, amount FROM test_gateway_charges "
	    "WHERE site_id = $1 AND idempotency_key = $2", 2 },
	[STMT_TGW_CHARGE_INSERT] = { "tgw_charge_insert",
	    "INSERT INTO test_gateway_charges (site_id, idempotency_key, kind, token, amount, "
	    "currency, outcome, ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING ref", 9 },

	[STMT_PM_INSERT] = { "pm_insert",
	    "INSERT INTO payment_methods (site_id, id, customer_id, gateway_token, brand, last4, "
	    "exp_month, exp_year, is_default, created_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING " PM_COLS, 10 },
	[STMT_PM_GET] = { "pm_get",
	    "SELECT " PM_COLS " FROM payment_methods WHERE site_id = $1 AND id = $2", 2 },
	[STMT_PM_LIST] = { "pm_list",
	    "SELECT " PM_COLS " FROM payment_methods WHERE site_id = $1 AND customer_id = $2 "
	    "ORDER BY is_default DESC, created_at DESC, id DESC LIMIT 100", 2 },
	/* The same, as a list endpoint ($2 the limit, $3 the customer). */
	[STMT_PM_LIST_PAGE] = { "pm_list_page",
	    "SELECT " PM_COLS " FROM payment_methods WHERE site_id = $1 AND customer_id = $3 "
	    "ORDER BY is_default DESC, created_at DESC, id DESC LIMIT $2", 3 },
	[STMT_PM_CLEAR_DEFAULT] = { "pm_clear_default",
	    "UPDATE payment_methods SET is_default = false "
	    "WHERE site_id = $1 AND customer_id = $2 AND is_default", 2 },
	[STMT_PM_SET_DEFAULT] = { "pm_set_default",
	    "UPDATE payment_methods SET is_default = true WHERE site_id = $1 AND id = $2 "
	    "RETURNING " PM_COLS, 2 },
	[STMT_PM_DELETE] = { "pm_delete",
	    "DELETE FROM payment_methods WHERE site_id = $1 AND id = $2 RETURNING " PM_COLS, 2 },
	/* The method to charge: the default, else the newest. */
	[STMT_PM_DEFAULT] = { "pm_default",
	    "SELECT " PM_COLS " FROM payment_methods WHERE site_id = $1 AND customer_id = $2 "
	    "ORDER BY is_default DESC, created_at DESC, id DESC LIMIT 1", 2 },

	[STMT_SUB_INSERT] = { "sub_insert",
	    "INSERT INTO subscriptions (site_id, id, customer_id, plan_id, status, "
	    "billing_anchor_day, current_term_start, current_term_end, next_billing_at, trial_end, "
	    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) "
	    "ON CONFLICT (site_id, id) DO NOTHING RETURNING id", 11 },
	[STMT_SUB_GET] = { "sub_get",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 AND s.id = $2", 2 },
	[STMT_SUB_LOCK] = { "sub_lock",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 AND s.id = $2 FOR UPDATE OF s", 2 },
	/* Everything but the status, which only the state machine's executor writes. */
	[STMT_SUB_UPDATE] = { "sub_update",
	    "UPDATE subscriptions SET plan_id = $3, current_term_start = $4, "
	    "current_term_end = $5, next_billing_at = $6, trial_end = $7, "
	    "cancel_at_period_end = $8, cancelled_at = $9, cancel_reason = $10, "
	    "cancel_comment = $11, paused_at = $12, resume_at = $13, scheduled_plan_id = $14, "
	    "billing_anchor_day = $15, pause_at = $16, term_invoice_id = $17, updated_at = $18 "
	    "WHERE site_id = $1 AND id = $2", 18 },
	[STMT_SUB_SET_STATUS] = { "sub_set_status",
	    "UPDATE subscriptions SET status = $3, updated_at = $4 WHERE site_id = $1 AND id = $2",
	    4 },
	[STMT_SUB_HISTORY_INSERT] = { "sub_history_insert",
	    "INSERT INTO subscription_history (site_id, subscription_id, action, from_status, "
	    "to_status, at) VALUES ($1, $2, $3, $4, $5, $6)", 6 },
	[STMT_SUB_OPEN_INVOICES] = { "sub_open_invoices",
	    "SELECT id FROM invoices WHERE site_id = $1 AND subscription_id = $2 "
	    "AND status = 'open' ORDER BY created_at, id FOR UPDATE", 2 },
	[STMT_SUB_LIST_FIRST] = { "sub_list_first",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 "
	    "AND ($3::text IS NULL OR s.customer_id = $3) AND ($4::text IS NULL OR s.status = $4) "
	    "ORDER BY s.created_at DESC, s.id DESC LIMIT $2", 4 },
	[STMT_SUB_LIST_AFTER] = { "sub_list_after",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 "
	    "AND (s.created_at, s.id) < ($5::bigint, $6::text) "
	    "AND ($3::text IS NULL OR s.customer_id = $3) AND ($4::text IS NULL OR s.status = $4) "
	    "ORDER BY s.created_at DESC, s.id DESC LIMIT $2", 6 },
	/* A customer's subscriptions: their own statements, so the plan always walks the
	 * (site_id, customer_id, created_at, id) index, however deep the cursor. */
	[STMT_SUB_LIST_CUST_FIRST] = { "sub_list_cust_first",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 AND s.customer_id = $3 "
	    "AND ($4::text IS NULL OR s.status = $4) "
	    "ORDER BY s.created_at DESC, s.id DESC LIMIT $2", 4 },
	[STMT_SUB_LIST_CUST_AFTER] = { "sub_list_cust_after",
	    "SELECT " SUB_COLS SUB_FROM "WHERE s.site_id = $1 AND s.customer_id = $3 "
	    "AND (s.created_at, s.id) < ($5::bigint, $6::text) "
	    "AND ($4::text IS NULL OR s.status = $4) "
	    "ORDER BY s.created_at DESC, s.id DESC LIMIT $2", 6 },
	/* The job runner: one due subscription, skipping those another runner holds. */
	[STMT_SUB_CLAIM_DUE] = { "sub_claim_due",
	    "SELECT id, next_billing_at FROM subscriptions WHERE site_id = $1 AND next_billing_at <= $2 "
	    "AND id <> ALL ($3::text[]) ORDER BY next_billing_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
	    3 },
	[STMT_SUB_CLAIM_RESUME] = { "sub_claim_resume",
	    "SELECT id, resume_at FROM subscriptions WHERE site_id = $1 AND status = 'paused' "
	    "AND resume_at <= $2 AND id <> ALL ($3::text[]) ORDER BY resume_at, id LIMIT 1 "
	    "FOR UPDATE SKIP LOCKED", 3 },
	[STMT_SUB_COUNT_LIVE] = { "sub_count_live",
	    "SELECT count(*) FROM subscriptions WHERE site_id = $1 AND customer_id = $2 "
	    "AND status IN ('in_trial', 'active', 'non_renewing', 'past_due')", 2 },

	[STMT_INV_INSERT] = { "inv_insert",
	    "INSERT INTO invoices (site_id, id, number, customer_id, subscription_id, status, "
	    "currency, subtotal, credit_applied, total, amount_due, amount_paid, paid_at, "
	    "created_at, customer_details, seller_details) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, "
	    "$16::jsonb)", 16 },
	/* The buyer's and the seller's details as an invoice freezes them when issued. */
	[STMT_INV_PARTIES] = { "inv_parties",
	    "SELECT json_strip_nulls(json_build_object('name', c.name, 'email', c.email, "
	    "'company', c.company, 'phone', c.phone, 'address', c.billing_address, "
	    "'tax_id', CASE WHEN c.tax_id_type IS NULL THEN NULL ELSE json_build_object('type', "
	    "c.tax_id_type, 'value', c.tax_id_value) END))::text, "
	    "json_build_object('name', st.name)::text FROM customers c "
	    "JOIN sites st ON st.id = c.site_id WHERE c.site_id = $1 AND c.id = $2", 2 },
	[STMT_INV_LINE_INSERT] = { "inv_line_insert",
	    "INSERT INTO invoice_lines (site_id, invoice_id, line_no, kind, description, amount, "
	    "plan_id, period_start, period_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9 },
	[STMT_INV_GET] = { "inv_get",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND id = $2", 2 },
	[STMT_INV_LOCK] = { "inv_lock",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND id = $2 FOR UPDATE", 2 },
	[STMT_INV_LINES] = { "inv_lines",
	    "SELECT line_no, kind, description, amount, plan_id, period_start, period_end "
	    "FROM invoice_lines WHERE site_id = $1 AND invoice_id = $2 ORDER BY line_no", 2 },
	/* Invoices list newest first by their number, which orders them even within a second. */
	[STMT_INV_LIST_FIRST] = { "inv_list_first",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR customer_id = $3) "
	    "AND ($4::text IS NULL OR subscription_id = $4) AND ($5::text IS NULL OR status = $5) "
	    "ORDER BY number DESC LIMIT $2", 5 },
	[STMT_INV_LIST_AFTER] = { "inv_list_after",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND number < $6::bigint "
	    "AND ($3::text IS NULL OR customer_id = $3) "
	    "AND ($4::text IS NULL OR subscription_id = $4) AND ($5::text IS NULL OR status = $5) "
	    "ORDER BY number DESC LIMIT $2", 6 },
	[STMT_INV_SET_STATE] = { "inv_set_state",
	    "UPDATE invoices SET status = $3, amount_paid = $4, attempt_count = $5, "
	    "next_attempt_at = $6, paid_at = $7, voided_at = $8 WHERE site_id = $1 AND id = $2 "
	    "RETURNING " INV_COLS, 8 },
	/* Open invoices a new card should pay: those of subscriptions that still serve. */
	[STMT_INV_OPEN_FOR_CUSTOMER] = { "inv_open_for_customer",
	    "SELECT i.id FROM invoices i JOIN subscriptions s ON s.site_id = i.site_id "
	    "AND s.id = i.subscription_id WHERE i.site_id = $1 AND i.customer_id = $2 "
	    "AND i.status = 'open' AND s.status IN ('in_trial', 'active', 'non_renewing', "
	    "'past_due') ORDER BY i.created_at, i.id FOR UPDATE OF i", 2 },
	[STMT_INV_OPEN_COUNT_SUB] = { "inv_open_count_sub",
	    "SELECT count(*) FROM invoices WHERE site_id = $1 AND subscription_id = $2 "
	    "AND status = 'open'", 2 },
	[STMT_INV_CLAIM_RETRY] = { "inv_claim_retry",
	    "SELECT id, next_attempt_at FROM invoices WHERE site_id = $1 AND status = 'open' "
	    "AND next_attempt_at <= $2 AND id <> ALL ($3::text[]) ORDER BY next_attempt_at, id "
	    "LIMIT 1 FOR UPDATE SKIP LOCKED", 3 },
	[STMT_INV_SET_TOTALS] = { "inv_set_totals",
	    "UPDATE invoices SET credit_applied = $3, amount_due = $4, status = $5, paid_at = $6 "
	    "WHERE site_id = $1 AND id = $2", 6 },
	[STMT_INV_SET_STATUS] = { "inv_set_status",
	    "UPDATE invoices SET status = $3, next_attempt_at = NULL "
	    "WHERE site_id = $1 AND id = $2", 3 },
	[STMT_INV_MARK_PAID] = { "inv_mark_paid",
	    "UPDATE invoices SET status = 'paid', amount_paid = $3, paid_at = $4, "
	    "next_attempt_at = NULL WHERE site_id = $1 AND id = $2 AND status = 'open'", 4 },
	[STMT_INV_VOID] = { "inv_void",
	    "UPDATE invoices SET status = 'void', voided_at = $3, next_attempt_at = NULL "
	    "WHERE site_id = $1 AND id = $2", 3 },
	[STMT_INV_SET_ATTEMPT] = { "inv_set_attempt",
	    "UPDATE invoices SET attempt_count = $3, next_attempt_at = $4 "
	    "WHERE site_id = $1 AND id = $2", 4 },

	[STMT_PAY_INSERT] = { "pay_insert",
	    "INSERT INTO payment_attempts (site_id, id, invoice_id, payment_method_id, amount, "
	    "outcome, idempotency_key, created_at, kind, gateway_ref, gateway, currency, "
	    "completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
	    "RETURNING " PAY_COLS, 13 },
	[STMT_PAY_GET] = { "pay_get",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND id = $2", 2 },
	[STMT_PAY_PENDING_COUNT] = { "pay_pending_count",
	    "SELECT count(*) FROM payment_attempts WHERE site_id = $1 AND invoice_id = $2 "
	    "AND kind = 'charge' AND outcome = 'pending'", 2 },
	[STMT_PAY_LOCK] = { "pay_lock",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND id = $2 FOR UPDATE",
	    2 },
	/* Records the gateway's answer once: a second answer for the same attempt (two
	 * runners resolving one crash) finds it no longer pending. */
	[STMT_PAY_COMPLETE] = { "pay_complete",
	    "UPDATE payment_attempts SET outcome = $3, gateway_ref = $4, failure_message = $5, "
	    "completed_at = $6 WHERE site_id = $1 AND id = $2 AND outcome = 'pending' "
	    "RETURNING " PAY_COLS, 6 },
	/* Attempts whose answer was lost (a crash between the call and its record). */
	[STMT_PAY_STALE] = { "pay_stale",
	    "SELECT id FROM payment_attempts WHERE site_id = $1 AND outcome = 'pending' "
	    "AND wall_created_at <= $2 ORDER BY wall_created_at, id LIMIT 20", 2 },
	[STMT_PAY_LIST] = { "pay_list",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND invoice_id = $2 "
	    "ORDER BY seq", 2 },
	[STMT_PAY_LAST_CHARGE] = { "pay_last_charge",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 "
	    "AND invoice_id = $2 AND kind = 'charge' AND outcome = 'succeeded' "
	    "ORDER BY seq DESC LIMIT 1", 2 },
	[STMT_PAY_REFUNDING] = { "pay_refunding",
	    "SELECT COALESCE(sum(amount), 0) FROM payment_attempts WHERE site_id = $1 "
	    "AND invoice_id = $2 AND kind = 'refund' AND outcome = 'pending'", 2 },
	[STMT_INV_ADD_REFUND] = { "inv_add_refund",
	    "UPDATE invoices SET amount_refunded = amount_refunded + $3 "
	    "WHERE site_id = $1 AND id = $2 AND amount_refunded + $3 <= amount_paid "
	    "RETURNING " INV_COLS, 3 },
	[STMT_WH_ATTEMPT_INSERT] = { "wh_attempt_insert",
	    "INSERT INTO webhook_attempts (site_id, id, delivery_id, attempted_at, http_status, "
	    "error) VALUES ($1, $2, $3, $4, $5, $6)", 6 },
	[STMT_WH_ATTEMPT_LIST] = { "wh_attempt_list",
	    "SELECT attempted_at, http_status, error FROM webhook_attempts "
	    "WHERE site_id = $1 AND delivery_id = $2 ORDER BY attempted_at, id", 2 },
	/* The credit ledger. */
	[STMT_CREDIT_INSERT] = { "credit_insert",
	    "INSERT INTO credit_entries (site_id, id, customer_id, currency, amount, source, "
	    "status, description, invoice_id, source_invoice_id, subscription_id, period_start, "
	    "period_end, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
	    "$13, $14) RETURNING " CREDIT_COLS, 14 },
	[STMT_CREDIT_BALANCE] = { "credit_balance",
	    "SELECT COALESCE(sum(amount), 0) FROM credit_entries WHERE site_id = $1 "
	    "AND customer_id = $2 AND currency = $3 AND status = 'available'", 3 },
	[STMT_CREDIT_GET] = { "credit_get",
	    "SELECT " CREDIT_COLS " FROM credit_entries WHERE site_id = $1 AND id = $2", 2 },
	[STMT_CREDIT_LIST_FIRST] = { "credit_list_first",
	    "SELECT " CREDIT_COLS " FROM credit_entries WHERE site_id = $1 AND customer_id = $3 "
	    "ORDER BY seq DESC LIMIT $2", 3 },
	[STMT_CREDIT_LIST_AFTER] = { "credit_list_after",
	    "SELECT " CREDIT_COLS " FROM credit_entries WHERE site_id = $1 AND customer_id = $3 "
	    "AND seq < $4::bigint ORDER BY seq DESC LIMIT $2", 4 },
	/* What an invoice took from the balance, per currency row (one currency). */
	[STMT_CREDIT_APPLIED_TO] = { "credit_applied_to",
	    "SELECT COALESCE(-sum(amount), 0) FROM credit_entries WHERE site_id = $1 "
	    "AND invoice_id = $2 AND source = 'applied'", 2 },
	/* A term's invoice got paid (available) or never will be (void). */
	[STMT_CREDIT_SETTLE_SOURCE] = { "credit_settle_source",
	    "UPDATE credit_entries SET status = $3 WHERE site_id = $1 AND source_invoice_id = $2 "
	    "AND status = 'pending' RETURNING id", 3 },
	/* Was the unused time of this subscription's term (its invoice $3, ending at $4)
	 * credited already? */
	[STMT_CREDIT_FOR_TERM] = { "credit_for_term",
	    "SELECT count(*) FROM credit_entries WHERE site_id = $1 AND subscription_id = $2 "
	    "AND source_invoice_id = $3 AND period_end = $4 AND status <> 'void'", 4 },

	[STMT_EVENT_INSERT] = { "event_insert",
	    "INSERT INTO events (site_id, id, type, object_id, data, created_at, actor_type, "
	    "actor_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)", 8 },
	[STMT_EVENT_GET] = { "event_get",
	    "SELECT " EVENT_COLS " FROM events WHERE site_id = $1 AND id = $2", 2 },
	[STMT_EVENT_LIST_FIRST] = { "event_list_first",
	    "SELECT " EVENT_COLS " FROM events WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR type = $3) ORDER BY seq DESC LIMIT $2", 3 },
	[STMT_EVENT_LIST_AFTER] = { "event_list_after",
	    "SELECT " EVENT_COLS " FROM events WHERE site_id = $1 "
	    "AND seq < $4::bigint AND ($3::text IS NULL OR type = $3) "
	    "ORDER BY seq DESC LIMIT $2", 4 },

	[STMT_WH_INSERT] = { "wh_insert",
	    "INSERT INTO webhook_endpoints (site_id, id, url, secret, events, created_at) "
	    "VALUES ($1, $2, $3, $4, string_to_array($5, ','), $6) "
	    "RETURNING id, url, array_to_string(events, ','), created_at", 6 },
	[STMT_WH_GET] = { "wh_get",
	    "SELECT id, url, array_to_string(events, ','), created_at FROM webhook_endpoints "
	    "WHERE site_id = $1 AND id = $2", 2 },
	[STMT_WH_LIST] = { "wh_list",
	    "SELECT id, url, array_to_string(events, ','), created_at FROM webhook_endpoints "
	    "WHERE site_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", 2 },
	[STMT_WH_DELETE] = { "wh_delete",
	    "DELETE FROM webhook_endpoints WHERE site_id = $1 AND id = $2 RETURNING id", 2 },
	[STMT_WH_MATCHING] = { "wh_matching",
	    "SELECT id FROM webhook_endpoints WHERE site_id = $1 "
	    "AND ('*' = ANY (events) OR $2 = ANY (events))", 2 },
	[STMT_DELIV_INSERT] = { "deliv_insert",
	    "INSERT INTO webhook_deliveries (site_id, id, endpoint_id, event_id, status, "
	    "next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5)",
	    5 },
	[STMT_DELIV_CLAIM_DUE] = { "deliv_claim_due",
	    "SELECT d.id, d.attempts, d.created_at, w.url, w.secret, e.id, e.type, e.object_id, "
	    "e.data::text, e.created_at FROM webhook_deliveries d "
	    "JOIN webhook_endpoints w ON w.site_id = d.site_id AND w.id = d.endpoint_id "
	    "JOIN events e ON e.site_id = d.site_id AND e.id = d.event_id "
	    "WHERE d.site_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2 "
	    "ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED", 2 },
	[STMT_DELIV_UPDATE] = { "deliv_update",
	    "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, "
	    "last_status = $6, last_error = $7, updated_at = $8 WHERE site_id = $1 AND id = $2", 8 },
	[STMT_DELIV_LIST] = { "deliv_list",
	    "SELECT d.id, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_status, "
	    "d.last_error, d.created_at, d.updated_at FROM webhook_deliveries d "
	    "WHERE d.site_id = $1 AND d.event_id = $2 ORDER BY d.created_at, d.id", 2 },
	/* What the job runner still has to do for a site at its clock $2. */
	[STMT_DUE_COUNT] = { "due_count",
	    "SELECT (SELECT count(*) FROM subscriptions WHERE site_id = $1 AND next_billing_at <= $2) "
	    "+ (SELECT count(*) FROM subscriptions WHERE site_id = $1 AND status = 'paused' "
	    "AND resume_at <= $2) "
	    "+ (SELECT count(*) FROM invoices WHERE site_id = $1 AND status = 'open' "
	    "AND next_attempt_at <= $2) "
	    "+ (SELECT count(*) FROM webhook_deliveries WHERE site_id = $1 AND status = 'pending' "
	    "AND next_attempt_at <= $2) "
	    "+ (SELECT count(*) FROM payment_attempts WHERE site_id = $1 AND outcome = 'pending')",
	    2 },
	/* /healthz: how many of this binary's migrations ($1) are applied, and the job runner's
	 * lag: the age, on its site's clock, of the oldest item that is due and not done. The
	 * one statement that reads every site, by design; each min() is an index probe. */
	[STMT_HEALTH] = { "health",
	    "SELECT (SELECT count(*) FROM schema_migrations WHERE version = ANY ($1::int[])), "
	    "COALESCE((SELECT max(extract(epoch FROM now())::bigint + st.clock_offset - d.due) "
	    "FROM sites st CROSS JOIN LATERAL (SELECT LEAST("
	    "(SELECT min(next_billing_at) FROM subscriptions WHERE site_id = st.id "
	    "AND next_billing_at IS NOT NULL), "
	    "(SELECT min(resume_at) FROM subscriptions WHERE site_id = st.id "
	    "AND status = 'paused' AND resume_at IS NOT NULL), "
	    "(SELECT min(next_attempt_at) FROM invoices WHERE site_id = st.id "
	    "AND status = 'open' AND next_attempt_at IS NOT NULL), "
	    "(SELECT min(next_attempt_at) FROM webhook_deliveries WHERE site_id = st.id "
	    "AND status = 'pending')) AS due) d "
	    "WHERE d.due <= extract(epoch FROM now())::bigint + st.clock_offset), 0)", 1 },
	[STMT_NOTIFY] = { "notify", "SELECT pg_notify('portald_jobs', $1)", 1 },

	/* ---- portal configuration ---- */
	[STMT_PCONF_GET] = { "pconf_get",
	    "SELECT " PCONF_COLS PCONF_FROM "WHERE c.site_id = $1", 1 },
	[STMT_PCONF_LOCK] = { "pconf_lock",
	    "SELECT " PCONF_COLS PCONF_FROM "WHERE c.site_id = $1 FOR UPDATE OF c", 1 },
	[STMT_PCONF_SAVE] = { "pconf_save",
	    "UPDATE portal_configurations SET business_name = $2, website_url = $3, "
	    "brand_color = $4, time_zone = $5, terms_url = $6, privacy_url = $7, help_url = $8, "
	    "edit_billing_details = $9, email_editable = $10, payment_methods = $11, "
	    "invoice_history = $12, cancel_subscription = $13, cancel_mode = $14, "
	    "cancel_reason = $15, cancel_comment = $16, cancel_reasons = $17::jsonb, "
	    "change_plan = $18, change_plan_plans = string_to_array($19, ','), "
	    "change_plan_timing = $20, downgrades_at_end_of_term = $21, "
	    "pause_subscription = $22, pause_max_days = $23, reactivate_subscription = $24, "
	    "session_idle_timeout = $25, session_absolute_timeout = $26, updated_at = $27 "
	    "WHERE site_id = $1", 27 },
	/* A site the previous release created during a rolling upgrade has no row yet: it gets
	 * the defaults the first time its configuration is read. */
	[STMT_PCONF_ENSURE] = { "pconf_ensure",
	    "INSERT INTO portal_configurations (site_id, updated_at) SELECT $1, created_at "
	    "FROM sites WHERE id = $1 ON CONFLICT (site_id) DO NOTHING", 1 },
	/* Is code one of the site's cancellation reasons? */
	[STMT_PCONF_REASON] = { "pconf_reason",
	    "SELECT count(*) FROM portal_configurations WHERE site_id = $1 "
	    "AND cancel_reasons @> jsonb_build_array(jsonb_build_object('code', $2::text))", 2 },
	[STMT_LOGO_PUT] = { "logo_put",
	    "INSERT INTO portal_logos (site_id, sha256, png, width, height, created_at) "
	    "VALUES ($1, $2, decode($3, 'hex'), $4, $5, $6) ON CONFLICT (site_id) DO UPDATE SET "
	    "sha256 = EXCLUDED.sha256, png = EXCLUDED.png, width = EXCLUDED.width, "
	    "height = EXCLUDED.height, created_at = EXCLUDED.created_at", 6 },
	[STMT_LOGO_GET] = { "logo_get",
	    "SELECT sha256, encode(png, 'base64') FROM portal_logos "
	    "WHERE site_id = $1 AND sha256 = $2", 2 },
	[STMT_LOGO_DELETE] = { "logo_delete",
	    "DELETE FROM portal_logos WHERE site_id = $1 RETURNING sha256", 1 },
	/* Portal forms: the first POST with a nonce claims it; a second one waits on the row
	 * until the first commits, then finds it and replays where the first one went. */
	[STMT_FORM_CLAIM] = { "form_claim",
	    "INSERT INTO portal_form_submissions (site_id, session_id, nonce, created_at) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING nonce", 4 },
	[STMT_FORM_GET] = { "form_get",
	    "SELECT location FROM portal_form_submissions "
	    "WHERE site_id = $1 AND session_id = $2 AND nonce = $3", 3 },
	[STMT_FORM_DONE] = { "form_done",
	    "UPDATE portal_form_submissions SET location = $4 "
	    "WHERE site_id = $1 AND session_id = $2 AND nonce = $3", 4 },
	[STMT_FORM_RELEASE] = { "form_release",
	    "DELETE FROM portal_form_submissions "
	    "WHERE site_id = $1 AND session_id = $2 AND nonce = $3 AND location IS NULL", 3 },
	/* ---- the portal's reads (always by the session's customer) ---- */
	/* A signed-in page's first read: the site's configuration and the cookie's session ($2,
	 * NULL without a cookie) with its customer, in one statement. */
	[STMT_PORTAL_ENTRY] = { "portal_entry",
	    "SELECT " PCONF_COLS ", p.id, p.cookie_hash, p.status, p.login_at, p.last_seen_at, "
	    "p.redirect_url, p.customer_id, cu.name, cu.email, p.features::text, p.flow::text"
	    PCONF_FROM "LEFT JOIN portal_sessions p ON p.site_id = c.site_id AND p.id = $2 "
	    "LEFT JOIN customers cu ON cu.site_id = p.site_id AND cu.id = p.customer_id "
	    "WHERE c.site_id = $1", 2 },
	/* The overview's customer with its default card and what is overdue, in one row. */
	[STMT_OVERVIEW] = { "overview",
	    "SELECT " CUSTOMER_COLS ", pm.* , (SELECT json_agg(json_build_object('currency', "
	    "o.currency, 'amount', o.amount, 'count', o.n, 'invoice', o.first) ORDER BY o.currency) "
	    "FROM (SELECT i.currency, sum(i.amount_due) AS amount, count(*) AS n, "
	    "min(i.id) AS first FROM invoices i WHERE i.site_id = customers.site_id "
	    "AND i.customer_id = customers.id AND i.status = 'open' AND i.attempt_count > 0 "
	    "AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.site_id = i.site_id "
	    "AND a.invoice_id = i.id AND a.kind = 'charge' AND a.outcome = 'pending') "
	    "GROUP BY i.currency) o)::text FROM customers LEFT JOIN LATERAL ("
	    "SELECT id AS pm_id, customer_id AS pm_customer, brand, last4, exp_month, exp_year, "
	    "is_default, created_at AS pm_created, gateway_token FROM payment_methods "
	    "WHERE site_id = customers.site_id AND customer_id = customers.id "
	    "ORDER BY is_default DESC, created_at DESC, id DESC LIMIT 1) pm ON true "
	    "WHERE customers.site_id = $1 AND customers.id = $2", 2 },
	/* What a new default card pays at once: the open invoices payments_retry_customer
	 * collects (those of subscriptions that still serve), per currency. */
	[STMT_INV_OPEN_SERVING] = { "inv_open_serving",
	    "SELECT i.currency, sum(i.amount_due), count(*) FROM invoices i JOIN subscriptions s "
	    "ON s.site_id = i.site_id AND s.id = i.subscription_id WHERE i.site_id = $1 "
	    "AND i.customer_id = $2 AND i.status = 'open' AND s.status IN ('in_trial', 'active', "
	    "'non_renewing', 'past_due') GROUP BY i.currency ORDER BY i.currency", 2 },
	/* Invoice history pages, newest first, by number: the older page after $3, or the newer
	 * page before it (ascending; the page reverses it). $4 the page size. */
	[STMT_INV_OLDER] = { "inv_older",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND customer_id = $2 "
	    "AND number < $3::bigint ORDER BY number DESC LIMIT $4", 4 },
	[STMT_INV_NEWER] = { "inv_newer",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND customer_id = $2 "
	    "AND number > $3::bigint ORDER BY number ASC LIMIT $4", 4 },
	/* The latest event of a type about an object (a cancellation's reference): found among
	 * the newest of its type, where it is right after the change. */
	[STMT_EVENT_LATEST_OF] = { "event_latest_of",
	    "SELECT id, created_at FROM events WHERE site_id = $1 AND type = $2 "
	    "AND object_id = $3 ORDER BY seq DESC LIMIT 1", 3 },
	/* Global: which site a host name belongs to. */
	[STMT_SITE_BY_HOST] = { "site_by_host",
	    "SELECT id FROM sites WHERE portal_host = lower($1)", 1 },
	[STMT_SITE_SET_HOST] = { "site_set_host",
	    "UPDATE sites SET portal_host = $2 WHERE id = $1", 2 },
};
