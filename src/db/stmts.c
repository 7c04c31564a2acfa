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
	"id, customer_id, brand, last4, exp_month, exp_year, is_default, created_at, gateway_token, " \
	"gateway, unusable"
#define SUB_COLS \
	"s.id, s.customer_id, s.plan_id, s.status, s.current_term_start, s.current_term_end, " \
	"s.next_billing_at, s.trial_end, s.cancel_at_period_end, s.cancelled_at, s.cancel_reason, " \
	"s.cancel_comment, s.paused_at, s.resume_at, s.scheduled_plan_id, s.created_at, " \
	"s.updated_at, s.billing_anchor_day, p.amount, p.currency, p.interval_unit, " \
	"p.interval_count, p.name, s.pause_at, s.term_invoice_id, sp.amount, " \
	"(SELECT COALESCE(sum(ce.amount), 0) FROM credit_entries ce WHERE ce.site_id = s.site_id " \
	"AND ce.customer_id = s.customer_id AND ce.currency = p.currency " \
	"AND ce.status = 'available'), " \
	"EXISTS (SELECT 1 FROM tax_rates tr WHERE tr.site_id = s.site_id AND tr.active)"
/* A job runner's kept events, param a JSON array (events.c, keep()), as rows v(i id,
 * t type, o object_id, c created_at, a actor_type, u actor_id, d data, k position). Read
 * as jsonb: the array is parsed once, not lexed whole and each event's data again. */
#define KEPT_EVENTS(param) \
	"ROWS FROM (jsonb_to_recordset(" param "::jsonb) AS (i text, t text, o text, " \
	"c bigint, a text, u text, d jsonb)) WITH ORDINALITY AS v(i, t, o, c, a, u, d, k)"
/* After a CTE w of events (id, type, created_at, seq; $1 the site): a pending delivery,
 * due at created_at and ordered by seq, for each endpoint that takes each ('*' or the
 * type among its events; ids
 * "whd_" and 24 hex digits of a random UUID), and the runner woken at commit when there
 * is one (STMT_NOTIFY). The one place that says which endpoints take an event: every
 * event written (STMT_EVENT_INSERT, STMT_EVENT_INSERT_MANY, STMT_INV_NUMBER_BATCH) and
 * every resend (STMT_EVENT_RESEND). An endpoint deleted meanwhile is waited for and
 * skipped (FOR KEY SHARE), not a foreign-key error that undoes a batch. The statement
 * must read wn for the notification to be sent. */
#define EVENT_DELIVERIES \
	"wd AS (INSERT INTO webhook_deliveries (site_id, id, endpoint_id, event_id, status, " \
	"next_attempt_at, created_at, updated_at, event_seq) SELECT $1, 'whd_' || " \
	"substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), p.id, w.id, 'pending', " \
	"w.created_at, w.created_at, w.created_at, w.seq FROM w JOIN webhook_endpoints p ON " \
	"p.site_id = $1 AND ('*' = ANY (p.events) OR w.type = ANY (p.events)) " \
	"FOR KEY SHARE OF p RETURNING 1), " \
	"wn AS (SELECT pg_notify('portald_jobs', $1) FROM (SELECT 1 FROM wd LIMIT 1) y) "
/* A payment attempt with its card's token (STMT_PAY_GET_CARD, STMT_PAY_GET_CARDS). */
#define PAY_CARD_COLS \
	"a.id, a.invoice_id, a.payment_method_id, a.amount, a.outcome, a.idempotency_key, " \
	"a.created_at, a.kind, a.gateway_ref, a.gateway, a.currency, a.failure_message, " \
	"a.completed_at, a.decline_code, a.return_url, a.wall_created_at, pm.gateway_token " \
	"FROM payment_attempts a LEFT JOIN payment_methods pm ON pm.site_id = a.site_id " \
	"AND pm.id = a.payment_method_id "
#define SUB_FROM \
	" FROM subscriptions s JOIN plans p ON p.site_id = s.site_id AND p.id = s.plan_id " \
	"LEFT JOIN plans sp ON sp.site_id = s.site_id AND sp.id = s.scheduled_plan_id "
#define INV_COLS \
	"id, number, customer_id, subscription_id, status, currency, subtotal, credit_applied, " \
	"total, amount_due, amount_paid, attempt_count, next_attempt_at, created_at, paid_at, " \
	"voided_at, amount_refunded, customer_details::text, seller_details::text, number_text, " \
	"tax, tax_treatment, tax_note, (SELECT COALESCE(sum(cn.total), 0) FROM credit_notes cn " \
	"WHERE cn.site_id = invoices.site_id AND cn.invoice_id = invoices.id), " \
	"(SELECT dc.pdf IS NOT NULL FROM documents dc WHERE dc.site_id = invoices.site_id " \
	"AND dc.kind = 'invoice' AND dc.object_id = invoices.id), disputed_at, dispute_reason"
#define LEGAL_COLS \
	"l.legal_name, l.address::text, COALESCE(l.tax_ids, '[]')::text, l.email, l.phone, " \
	"COALESCE(l.invoice_prefix, 'INV-'), COALESCE(l.credit_note_prefix, 'CN-'), l.footer, " \
	"COALESCE(l.paper, 'a4'), l.updated_at, st.name"
#define TAXRATE_COLS \
	"id, display_name, description, rate_ppm, inclusive, country, region, active, created_at"
#define DOC_TAX_COLS \
	"tax_no, tax_rate_id, display_name, rate_ppm, inclusive, country, region, " \
	"taxable_amount, amount"
#define CN_COLS \
	"cn.id, cn.number, cn.number_text, cn.invoice_id, cn.customer_id, cn.currency, " \
	"cn.reason, cn.subtotal, cn.tax, cn.total, cn.credit_amount, cn.refund_amount, " \
	"cn.void_amount, cn.credit_entry_id, cn.payment_attempt_id, cn.tax_treatment, " \
	"cn.tax_note, cn.customer_details::text, cn.seller_details::text, cn.created_at, " \
	"i.number_text, i.created_at, (SELECT dc.pdf IS NOT NULL FROM documents dc " \
	"WHERE dc.site_id = cn.site_id AND dc.kind = 'credit_note' AND dc.object_id = cn.id)"
#define CN_FROM \
	" FROM credit_notes cn JOIN invoices i ON i.site_id = cn.site_id AND i.id = cn.invoice_id "
#define EVENT_COLS \
	"id, type, object_id, data::text, created_at, seq, actor_type, actor_id"
#define CREDIT_COLS \
	"id, customer_id, currency, amount, source, status, description, invoice_id, " \
	"source_invoice_id, subscription_id, period_start, period_end, created_at, seq"
#define PAY_COLS \
	"id, invoice_id, payment_method_id, amount, outcome, idempotency_key, created_at, kind, " \
	"gateway_ref, gateway, currency, failure_message, completed_at, decline_code, return_url, " \
	"wall_created_at"
#define SETUP_COLS \
	"id, customer_id, gateway, status, make_default, success_url, cancel_url, session_ref, " \
	"url_sealed, expires_at, payment_method_id, failure_message, created_at, completed_at"
#define MAIL_COLS \
	"id, type, test, customer_id, event_id, resent_from, message_id, date, from_name, " \
	"from_address, reply_to, to_name, to_address, cc_address, subject, text_sealed, " \
	"html_sealed, status, attempts, next_attempt_at, last_error, last_smtp_code, created_at, " \
	"queued_at, sent_at, lease_until, dedupe_key, seq"
#define MAIL_SETTINGS_COLS \
	"array_to_string(disabled_types, ','), from_name, reply_to, receipts_cc, " \
	"trial_ending_days, renewal_reminder_days, updated_at"
#define PSESS_COLS \
	"id, customer_id, redirect_url, forward_url, features::text, status, created_at, " \
	"expires_at, login_at, logout_at, login_ipaddress, logout_ipaddress, token_hash, flow::text, " \
	"login_method"
/* A site's portal configuration, with its site and logo (see enum pconf_col). */
#define PCONF_COLS \
	"s.id, s.name, s.mode, s.clock_offset, c.business_name, c.website_url, c.brand_color, " \
	"c.time_zone, c.terms_url, c.privacy_url, c.help_url, c.edit_billing_details, " \
	"c.email_editable, c.payment_methods, c.invoice_history, c.cancel_subscription, " \
	"c.cancel_mode, c.cancel_reason, c.cancel_comment, c.cancel_reasons::text, c.change_plan, " \
	"array_to_string(c.change_plan_plans, ','), c.change_plan_timing, " \
	"c.downgrades_at_end_of_term, c.pause_subscription, c.pause_max_days, " \
	"c.reactivate_subscription, c.session_idle_timeout, c.session_absolute_timeout, " \
	"c.updated_at, l.sha256, l.width, l.height, s.portal_host, c.login_link, " \
	"c.login_link_ttl, c.merchant_sign_in_url, c.login_password, c.invite_on_subscription, " \
	"c.management_link_ttl, c.email_verification, c.reveal_unknown_email"
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
	[STMT_APIKEY_REVOKE] = { "apikey_revoke",
	    "UPDATE api_keys SET expires_at = $3 WHERE site_id = $1 AND id = $2 "
	    "AND (expires_at IS NULL OR expires_at > $3) RETURNING id", 3 },
	/* Workers cache verified keys for a second; this tells them to forget at once. */
	[STMT_APIKEY_NOTIFY] = { "apikey_notify",
	    "SELECT pg_notify('" DB_CHANNEL_API_KEYS "', $1)", 1 },
	[STMT_SITE_CLOCK] = { "site_clock",
	    "SELECT clock_offset FROM sites WHERE id = $1", 1 },
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
	/* Where a message to the customer goes: their address and name (ADDR_*). Billing
	 * never changes them, so a paid invoice sends this read ahead of its receipt. */
	[STMT_CUSTOMER_ADDRESS] = { "customer_address",
	    "SELECT email, name FROM customers WHERE site_id = $1 AND id = $2", 2 },
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
	/* Serialises a customer's credit spending and entitlement updates. NO KEY: it does not
	 * wait for, nor make wait, the foreign-key checks of rows that refer to the customer
	 * (two runners' batches that both issued an invoice to the customer would otherwise
	 * deadlock here). */
	[STMT_CUSTOMER_LOCK] = { "customer_lock",
	    "SELECT id, entitlements_digest FROM customers WHERE site_id = $1 AND id = $2 "
	    "FOR NO KEY UPDATE", 2 },
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
	/* A revoked customer's session opens nothing, whatever its row says (a sign-in that
	 * raced the revocation's end of every session). */
	[STMT_PSESS_PORTAL_GET] = { "psess_portal_get",
	    "SELECT p.id, p.cookie_hash, p.status, p.login_at, p.last_seen_at, p.redirect_url, "
	    "p.customer_id, c.name, c.email, p.features::text, p.flow::text "
	    "FROM portal_sessions p "
	    "JOIN customers c ON c.site_id = p.site_id AND c.id = p.customer_id "
	    "AND c.portal_state <> 'revoked' WHERE p.site_id = $1 AND p.id = $2", 2 },
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
	/* Whether billing is behind: a site has more than $1 renewals (a billing lane's batch)
	 * due for more than two seconds on its clock, so a lone renewal that keeps failing is
	 * not a backlog. At most $1 + 1 index entries per site (subscriptions_due_order). The
	 * documents lane then leaves the cores to billing. */
	[STMT_BILLING_BEHIND] = { "billing_behind",
	    "SELECT EXISTS (SELECT 1 FROM sites st WHERE (SELECT count(*) FROM (SELECT 1 "
	    "FROM subscriptions WHERE site_id = st.id AND next_billing_at IS NOT NULL "
	    "AND next_billing_at <= extract(epoch FROM now())::bigint + st.clock_offset - 2 "
	    "LIMIT $1::int + 1) due) > $1::int)", 1 },
	/* Sequential invoice numbers: the row lock orders concurrent invoices of a site. */
	[STMT_COUNTER_NEXT] = { "counter_next",
	    "INSERT INTO site_counters (site_id, invoice_seq) VALUES ($1, 1) "
	    "ON CONFLICT (site_id) DO UPDATE SET invoice_seq = site_counters.invoice_seq + 1 "
	    "RETURNING invoice_seq", 1 },
	/* This transaction's id (assigned now if it has none): unique among all transactions. */
	[STMT_TXID] = { "txid", "SELECT txid_current()", 0 },
	/* The first nesting level's savepoint (db_begin/db_commit), prepared so that a
	 * pipelining connection sends it with the statements around it. */
	[STMT_NEST1_SAVEPOINT] = { "nest1_savepoint", "SAVEPOINT nest_1", 0 },
	[STMT_NEST1_RELEASE] = { "nest1_release", "RELEASE SAVEPOINT nest_1", 0 },
	/* A job runner's batch numbers its invoices together just before it commits ($2 the
	 * ids in the order they were issued, $3 their prefixes, $4 how many, $6 the attempt
	 * count of each whose first charge went out in the batch, else NULL): the counter's
	 * row is locked from here to the commit instead of from the batch's first invoice; the
	 * placeholders the invoices and their events carried until now are replaced (the
	 * number as printed is inv_number_text's: at least four digits), and their PDFs are
	 * queued (documents_queue's row). */
	[STMT_INV_NUMBER_BATCH] = { "inv_number_batch",
	    "WITH c AS (INSERT INTO site_counters (site_id, invoice_seq) VALUES ($1, $4::bigint) "
	    "ON CONFLICT (site_id) DO UPDATE SET invoice_seq = site_counters.invoice_seq + "
	    "$4::bigint RETURNING invoice_seq - $4::bigint AS base), "
	    "n AS (SELECT u.id, u.att, c.base + u.k AS num, u.prefix || CASE WHEN c.base + u.k "
	    "< 1000 THEN lpad((c.base + u.k)::text, 4, '0') ELSE (c.base + u.k)::text END AS txt "
	    "FROM c, unnest($2::text[], $3::text[], $6::int[]) WITH ORDINALITY "
	    "AS u(id, prefix, att, k)), "
	    "i AS (UPDATE invoices v SET number = n.num, number_text = n.txt, "
	    "attempt_count = COALESCE(n.att, v.attempt_count) FROM n "
	    "WHERE v.site_id = $1 AND v.id = n.id "
	    "RETURNING v.id, v.number_text, v.customer_id, v.created_at), "
	    "o AS (INSERT INTO documents (site_id, kind, object_id, number_text, customer_id, "
	    "issued_at) SELECT $1, 'invoice', i.id, i.number_text, i.customer_id, i.created_at "
	    "FROM i), "
	    "x AS (UPDATE events x SET data = jsonb_set(jsonb_set(x.data, '{number}', "
	    "to_jsonb(n.num)), '{formatted_number}', to_jsonb(n.txt)) FROM n "
	    "WHERE x.site_id = $1 AND x.object_id = n.id AND x.type LIKE 'invoice.%' "
	    "AND x.data ? 'formatted_number'), "
	    /* and the batch's events not written yet ($5, STMT_EVENT_INSERT_MANY's form), an
	     * invoice's with its number: written once, not written and then updated */
	    "v AS MATERIALIZED (SELECT * FROM " KEPT_EVENTS("$5") "), "
	    "w AS (INSERT INTO events (site_id, id, type, object_id, data, created_at, actor_type, "
	    "actor_id) SELECT $1, v.i, v.t, v.o, CASE WHEN n.id IS NOT NULL "
	    "AND v.t LIKE 'invoice.%' AND v.d ? 'formatted_number' THEN "
	    "jsonb_set(jsonb_set(v.d, '{number}', to_jsonb(n.num)), '{formatted_number}', "
	    "to_jsonb(n.txt)) ELSE v.d END, v.c, v.a, v.u "
	    "FROM v LEFT JOIN n ON n.id = v.o ORDER BY v.k RETURNING id, type, created_at, seq), "
	    EVENT_DELIVERIES
	    "SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM w), "
	    "(SELECT count(*) FROM wn)", 6 },
	/* Events in the order given ($2: a JSON array of {"i" id, "t" type, "o" object,
	 * "c" created_at, "a" actor_type, "u" actor_id, "d" data}): one statement for a job
	 * runner's batch (events.c); seq follows the order. */
	[STMT_EVENT_INSERT_MANY] = { "event_insert_many",
	    "WITH w AS (INSERT INTO events (site_id, id, type, object_id, data, created_at, "
	    "actor_type, actor_id) SELECT $1, v.i, v.t, v.o, v.d, v.c, v.a, v.u "
	    "FROM " KEPT_EVENTS("$2") " "
	    "ORDER BY v.k RETURNING id, type, created_at, seq), " EVENT_DELIVERIES
	    "SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM wn)", 2 },

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
	/* The test gateway's record stands for a remote gateway's own, so its commit (it runs
	 * alone, outside the caller's transactions) does not wait for the disk: a record lost
	 * in a database crash is a charge the "gateway" never made, and the attempt, still
	 * pending, asks again with its key. It can never be lost while the outcome that
	 * depends on it is kept, because the outcome's commit flushes the log up to itself. */
	[STMT_TGW_CHARGE_INSERT] = { "tgw_charge_insert",
	    "INSERT INTO test_gateway_charges (site_id, idempotency_key, kind, token, amount, "
	    "currency, outcome, ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (site_id, idempotency_key) DO NOTHING "
	    "RETURNING ref, set_config('synchronous_commit', 'off', true)", 9 },

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
	    "AND NOT unusable ORDER BY is_default DESC, created_at DESC, id DESC LIMIT 1", 2 },

	[STMT_SUB_INSERT] = { "sub_insert",
	    "INSERT INTO subscriptions (site_id, id, customer_id, plan_id, status, "
	    "billing_anchor_day, current_term_start, current_term_end, next_billing_at, trial_end, "
	    "created_at, updated_at, term_invoice_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
	    "$10, $11, $11, $12) ON CONFLICT (site_id, id) DO NOTHING RETURNING id", 12 },
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
	/* Its status alone, locked: what a paid invoice needs to know of it (most are not past
	 * due, and need nothing more). */
	[STMT_SUB_STATUS_LOCK] = { "sub_status_lock",
	    "SELECT status FROM subscriptions WHERE site_id = $1 AND id = $2 FOR UPDATE", 2 },
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
	/* The job runner: up to $4 due subscriptions, skipping those another runner holds. */
	[STMT_SUB_CLAIM_DUE] = { "sub_claim_due",
	    "SELECT id, next_billing_at FROM subscriptions WHERE site_id = $1 AND next_billing_at <= $2 "
	    "AND id <> ALL ($3::text[]) ORDER BY next_billing_at, id LIMIT $4 FOR UPDATE SKIP LOCKED",
	    4 },
	[STMT_SUB_CLAIM_RESUME] = { "sub_claim_resume",
	    "SELECT id, resume_at FROM subscriptions WHERE site_id = $1 AND status = 'paused' "
	    "AND resume_at <= $2 AND id <> ALL ($3::text[]) ORDER BY resume_at, id LIMIT $4 "
	    "FOR UPDATE SKIP LOCKED", 4 },
	[STMT_SUB_COUNT_LIVE] = { "sub_count_live",
	    "SELECT count(*) FROM subscriptions WHERE site_id = $1 AND customer_id = $2 "
	    "AND status IN ('in_trial', 'active', 'non_renewing', 'past_due')", 2 },

	[STMT_INV_INSERT] = { "inv_insert",
	    "INSERT INTO invoices (site_id, id, number, customer_id, subscription_id, status, "
	    "currency, subtotal, credit_applied, total, amount_due, amount_paid, paid_at, "
	    "created_at, customer_details, seller_details, number_text, tax, tax_treatment, "
	    "tax_note) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, "
	    "$16::jsonb, $17, $18, $19, $20)", 20 },
	/* The buyer's and the seller's details as an invoice freezes them when issued (the
	 * seller's legal details, else the site's name), the number prefixes, and what decides
	 * the taxes: the buyer's country, region and tax id, the seller's country and tax ids,
	 * and whether the site has any tax rate at all (see enum parties_col). The details
	 * are jsonb's text, as the invoice's row gives them back. */
	[STMT_INV_PARTIES] = { "inv_parties",
	    "SELECT json_strip_nulls(json_build_object('name', c.name, 'email', c.email, "
	    "'company', c.company, 'phone', c.phone, 'address', c.billing_address, "
	    "'tax_id', CASE WHEN c.tax_id_type IS NULL THEN NULL ELSE json_build_object('type', "
	    "c.tax_id_type, 'value', c.tax_id_value) END))::jsonb::text, "
	    "json_strip_nulls(json_build_object('name', COALESCE(l.legal_name, st.name), "
	    "'address', l.address, 'tax_ids', CASE WHEN jsonb_array_length(l.tax_ids) > 0 "
	    "THEN l.tax_ids END, 'email', l.email, 'phone', l.phone, 'footer', l.footer, "
	    "'paper', COALESCE(l.paper, 'a4')))::jsonb::text, "
	    "COALESCE(l.invoice_prefix, 'INV-'), "
	    "upper(c.billing_address->>'country'), upper(btrim(c.billing_address->>'state')), "
	    "c.tax_id_type, c.tax_id_value, upper(l.address->>'country'), l.tax_ids::text, "
	    "EXISTS (SELECT 1 FROM tax_rates tr WHERE tr.site_id = c.site_id AND tr.active), "
	    "COALESCE(l.credit_note_prefix, 'CN-') FROM customers c "
	    "JOIN sites st ON st.id = c.site_id "
	    "LEFT JOIN site_legal_details l ON l.site_id = c.site_id "
	    "WHERE c.site_id = $1 AND c.id = $2", 2 },
	[STMT_INV_LINE_INSERT] = { "inv_line_insert",
	    "INSERT INTO invoice_lines (site_id, invoice_id, line_no, kind, description, amount, "
	    "plan_id, period_start, period_end, tax_amount) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10 },
	[STMT_INV_GET] = { "inv_get",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND id = $2", 2 },
	[STMT_INV_LOCK] = { "inv_lock",
	    "SELECT " INV_COLS " FROM invoices WHERE site_id = $1 AND id = $2 FOR UPDATE", 2 },
	[STMT_INV_LINES] = { "inv_lines",
	    "SELECT line_no, kind, description, amount, plan_id, period_start, period_end, "
	    "tax_amount FROM invoice_lines WHERE site_id = $1 AND invoice_id = $2 "
	    "ORDER BY line_no", 2 },
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
	    "LIMIT $4 FOR UPDATE SKIP LOCKED", 4 },
	[STMT_INV_SET_TOTALS] = { "inv_set_totals",
	    "UPDATE invoices SET credit_applied = $3, amount_due = $4, status = $5, paid_at = $6 "
	    "WHERE site_id = $1 AND id = $2", 6 },
	[STMT_INV_SET_STATUS] = { "inv_set_status",
	    "UPDATE invoices SET status = $3, next_attempt_at = NULL "
	    "WHERE site_id = $1 AND id = $2", 3 },
	/* Paid, if it is still open, and the invoice as it is now (for its event). */
	[STMT_INV_MARK_PAID] = { "inv_mark_paid",
	    "UPDATE invoices SET status = 'paid', amount_paid = $3, paid_at = $4, "
	    "next_attempt_at = NULL WHERE site_id = $1 AND id = $2 AND status = 'open' "
	    "RETURNING " INV_COLS, 4 },
	[STMT_INV_VOID] = { "inv_void",
	    "UPDATE invoices SET status = 'void', voided_at = $3, next_attempt_at = NULL "
	    "WHERE site_id = $1 AND id = $2", 3 },
	[STMT_INV_SET_ATTEMPT] = { "inv_set_attempt",
	    "UPDATE invoices SET attempt_count = $3, next_attempt_at = $4 "
	    "WHERE site_id = $1 AND id = $2", 4 },

	[STMT_PAY_INSERT] = { "pay_insert",
	    "INSERT INTO payment_attempts (site_id, id, invoice_id, payment_method_id, amount, "
	    "outcome, idempotency_key, created_at, kind, gateway_ref, gateway, currency, "
	    "completed_at, return_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
	    "$13, $14) RETURNING " PAY_COLS, 14 },
	[STMT_PAY_GET] = { "pay_get",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND id = $2", 2 },
	/* An attempt with the token of the card it charges (NULL when the card is gone):
	 * PAY_COLS, then PAY_CARD_TOKEN. */
	[STMT_PAY_GET_CARD] = { "pay_get_card",
	    "SELECT " PAY_CARD_COLS
	    "WHERE a.site_id = $1 AND a.id = $2", 2 },
	/* The same of several ($2, an array of ids), in no order. */
	[STMT_PAY_GET_CARDS] = { "pay_get_cards",
	    "SELECT " PAY_CARD_COLS
	    "WHERE a.site_id = $1 AND a.id = ANY ($2::text[])", 2 },
	/* An event sent again ($2; $3 the site's clock): a delivery now for each endpoint
	 * that takes it today. The first count is 0 when there is no such event. */
	[STMT_EVENT_RESEND] = { "event_resend",
	    "WITH w AS (SELECT id, type, $3::bigint AS created_at, seq FROM events "
	    "WHERE site_id = $1 AND id = $2), " EVENT_DELIVERIES
	    "SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM wn)", 3 },
	[STMT_PAY_PENDING_COUNT] = { "pay_pending_count",
	    "SELECT count(*) FROM payment_attempts WHERE site_id = $1 AND invoice_id = $2 "
	    "AND kind = 'charge' AND outcome = 'pending'", 2 },
	[STMT_PAY_LOCK] = { "pay_lock",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND id = $2 FOR UPDATE",
	    2 },
	/* Records the gateway's answer once: a second answer for the same attempt (two
	 * runners resolving one crash) finds it no longer pending. */
	[STMT_PAY_COMPLETE] = { "pay_complete",
	    "UPDATE payment_attempts SET outcome = $3, gateway_ref = COALESCE($4, gateway_ref), "
	    "failure_message = $5, completed_at = $6, decline_code = $7 "
	    "WHERE site_id = $1 AND id = $2 AND outcome = 'pending' RETURNING " PAY_COLS ", "
	    "(SELECT i.customer_id FROM invoices i WHERE i.site_id = $1 "
	    "AND i.id = payment_attempts.invoice_id), (SELECT i.subscription_id FROM invoices i "
	    "WHERE i.site_id = $1 AND i.id = payment_attempts.invoice_id)", 7 },
	/* Attempts whose answer was lost (a crash between the call and its record). A charge
	 * made on-session waits for the customer at the bank's page for up to 30 minutes
	 * (PAYMENTS_ON_SESSION_WINDOW) before it counts as abandoned. */
	[STMT_PAY_STALE] = { "pay_stale",
	    "SELECT id FROM payment_attempts WHERE site_id = $1 AND outcome = 'pending' "
	    "AND wall_created_at <= $2 AND (return_url IS NULL OR "
	    "wall_created_at <= $2::bigint - 1770) ORDER BY wall_created_at, id LIMIT 20", 2 },
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

	/* An event, and its deliveries: one statement, sent ahead with the next. */
	[STMT_EVENT_INSERT] = { "event_insert",
	    "WITH w AS (INSERT INTO events (site_id, id, type, object_id, data, created_at, "
	    "actor_type, actor_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) "
	    "RETURNING id, type, created_at, seq), " EVENT_DELIVERIES
	    "SELECT (SELECT count(*) FROM wn)", 8 },
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
	/* Leases up to $3 deliveries of a site that may go now ($2 the site's clock, $4 the
	 * wall clock): per endpoint not in backoff, its oldest first attempt by event sequence
	 * and its earliest retry due, each unless it is in flight already. So first attempts
	 * go out in sequence order per endpoint, one at a time, and retries never block later
	 * events: while an endpoint's earliest retry due is in flight, its others wait. */
	[STMT_DELIV_CLAIM_DUE] = { "deliv_claim_due",
	    /* Per endpoint not in backoff (nothing is read for one that is), by its own
	     * probes; MATERIALIZED: each computed once. Every read is a probe whatever the
	     * statistics say: a backlog that grew since the table was last analysed (an
	     * endpoint down while renewals run), or pending deliveries that look rare beside
	     * a long history, otherwise make plans that read, and sort, every pending
	     * delivery of the site, or every event, for each claim. So "waiting" is said by
	     * the next attempt time (set exactly while pending, 022), not by status: each
	     * condition here implies the predicate of one partial index only, the one its
	     * probe reads (webhook_deliveries_first_waiting, _retry; 024), and none of the
	     * indexes of every pending delivery of a site (_pending, _due). */
	    /* The first attempts' head: a probe by the event's seq, and one among those a
	     * previous release wrote without it (under the index's NULLs, ordered by their
	     * events; none once it has stopped). Each of those reads its event by key (a
	     * subquery, so not a walk of the site's events in order that the planner may
	     * prefer when it guesses many NULLs). */
	    "WITH heads AS MATERIALIZED ("
	    "(SELECT h.id, h.event_id, h.lease_until, h.next_attempt_at FROM webhook_endpoints w "
	    "CROSS JOIN LATERAL (SELECT x.id, x.event_id, x.lease_until, x.next_attempt_at FROM ("
	    "(SELECT d.id, d.event_id, d.lease_until, d.next_attempt_at, d.event_seq AS seq "
	    "FROM webhook_deliveries d "
	    "WHERE d.site_id = $1 AND d.endpoint_id = w.id AND d.attempts = 0 "
	    "AND d.next_attempt_at IS NOT NULL AND d.event_seq IS NOT NULL "
	    "ORDER BY d.event_seq, d.id LIMIT 1) "
	    "UNION ALL "
	    "(SELECT d.id, d.event_id, d.lease_until, d.next_attempt_at, (SELECT e.seq "
	    "FROM events e WHERE e.site_id = d.site_id AND e.id = d.event_id) AS seq "
	    "FROM webhook_deliveries d "
	    "WHERE d.site_id = $1 AND d.endpoint_id = w.id AND d.attempts = 0 "
	    "AND d.next_attempt_at IS NOT NULL AND d.event_seq IS NULL "
	    "ORDER BY seq, d.id LIMIT 1)) x "
	    "ORDER BY x.seq, x.id LIMIT 1) h "
	    "WHERE w.site_id = $1 AND (w.backoff_until IS NULL OR w.backoff_until <= $2)) "
	    "UNION ALL "
	    /* The retries' head: the earliest due (a retry in flight was due when claimed,
	     * and one that fails meanwhile is due a minute later at least; only a test
	     * clock moved forward while one is in flight can put another due before it,
	     * and then both go). */
	    "(SELECT h.id, h.event_id, h.lease_until, h.next_attempt_at FROM webhook_endpoints w "
	    "CROSS JOIN LATERAL (SELECT d.id, d.event_id, d.lease_until, d.next_attempt_at "
	    "FROM webhook_deliveries d "
	    "WHERE d.site_id = $1 AND d.endpoint_id = w.id AND d.attempts > 0 "
	    "AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= $2 "
	    "ORDER BY d.next_attempt_at, d.id LIMIT 1) h "
	    "WHERE w.site_id = $1 AND (w.backoff_until IS NULL OR w.backoff_until <= $2))), "
	    "pick AS MATERIALIZED (SELECT h.id, h.event_id FROM heads h "
	    "WHERE h.lease_until IS NULL OR h.lease_until < $4 "
	    "ORDER BY h.next_attempt_at LIMIT $3) "
	    /* The picked rows by their keys, not a join the planner may turn into a scan of
	     * the site's deliveries: both indexes these conditions can use (the primary key,
	     * webhook_deliveries_event) are probes by them. Still waiting, not leased, and
	     * not made a retry meanwhile by another runner's failed attempt (which would
	     * send it again before its time). */
	    "UPDATE webhook_deliveries d SET lease_until = $4 + 60 FROM webhook_endpoints w "
	    "WHERE d.site_id = $1 AND d.id = ANY (ARRAY(SELECT id FROM pick)) "
	    "AND d.event_id = ANY (ARRAY(SELECT event_id FROM pick)) "
	    "AND (d.lease_until IS NULL OR d.lease_until < $4) AND d.next_attempt_at IS NOT NULL "
	    "AND (d.attempts = 0 OR d.next_attempt_at <= $2) "
	    "AND w.site_id = d.site_id AND w.id = d.endpoint_id "
	    "RETURNING d.id, d.attempts, d.created_at, w.url, w.secret, d.event_id, w.id", 4 },
	/* Sites with deliveries waiting (the one place the delivery engine looks across
	 * sites; each subquery is one site's index probe). */
	[STMT_DELIV_SITES] = { "deliv_sites",
	    "SELECT st.id, st.clock_offset FROM sites st WHERE EXISTS (SELECT 1 FROM "
	    "webhook_deliveries WHERE site_id = st.id AND status = 'pending') ORDER BY st.id", 0 },
	[STMT_DELIV_UPDATE] = { "deliv_update",
	    "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, "
	    "last_status = $6, last_error = $7, updated_at = $8, lease_until = NULL "
	    "WHERE site_id = $1 AND id = $2", 8 },
	/* An endpoint's health: a success clears its backoff; the third failure in a row and
	 * each one after double it ($3 failed, $4 the site's clock). */
	[STMT_WH_HEALTH] = { "wh_health",
	    "UPDATE webhook_endpoints SET failures = CASE WHEN $3::bool THEN failures + 1 ELSE 0 "
	    "END, backoff_until = CASE WHEN $3::bool AND failures + 1 >= 3 THEN $4::bigint + "
	    "LEAST(3600, 30 * (1 << LEAST(failures - 1, 7))) ELSE NULL END "
	    "WHERE site_id = $1 AND id = $2", 4 },
	[STMT_DELIV_LIST] = { "deliv_list",
	    "SELECT d.id, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_status, "
	    "d.last_error, d.created_at, d.updated_at FROM webhook_deliveries d "
	    "WHERE d.site_id = $1 AND d.event_id = $2 ORDER BY d.created_at, d.id", 2 },
	/* ---- mail (src/billing/notify.c, src/jobs/outbox.c) ---- */
	[STMT_MAIL_SETTINGS_GET] = { "mail_settings_get",
	    "SELECT " MAIL_SETTINGS_COLS " FROM mail_settings WHERE site_id = $1", 1 },
	/* A row to lock before a change (the first change of a site makes it). */
	[STMT_MAIL_SETTINGS_ENSURE] = { "mail_settings_ensure",
	    "INSERT INTO mail_settings (site_id, updated_at) VALUES ($1, $2) "
	    "ON CONFLICT (site_id) DO NOTHING", 2 },
	[STMT_MAIL_SETTINGS_LOCK] = { "mail_settings_lock",
	    "SELECT " MAIL_SETTINGS_COLS " FROM mail_settings WHERE site_id = $1 FOR UPDATE", 1 },
	[STMT_MAIL_SETTINGS_PUT] = { "mail_settings_put",
	    "UPDATE mail_settings SET disabled_types = string_to_array($2, ','), from_name = $3, "
	    "reply_to = $4, receipts_cc = $5, trial_ending_days = $6, renewal_reminder_days = $7, "
	    "updated_at = $8 WHERE site_id = $1 RETURNING " MAIL_SETTINGS_COLS, 8 },
	/* A scheduled message exists once per dedupe key: a second runner's copy is dropped. */
	[STMT_MAIL_INSERT] = { "mail_insert",
	    "INSERT INTO mail_outbox (site_id, id, type, test, customer_id, event_id, dedupe_key, "
	    "resent_from, message_id, date, from_name, from_address, reply_to, to_name, "
	    "to_address, cc_address, subject, text_sealed, html_sealed, status, last_error, "
	    "next_attempt_at, created_at, queued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
	    "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) "
	    "ON CONFLICT (site_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING "
	    "RETURNING id", 24 },
	/* STMT_MAIL_INSERT for the customer $5 only: a row when the customer exists, none
	 * otherwise (the sign-in forms run it for an address that names nobody too). */
	[STMT_MAIL_INSERT_FOR] = { "mail_insert_for",
	    "INSERT INTO mail_outbox (site_id, id, type, test, customer_id, event_id, dedupe_key, "
	    "resent_from, message_id, date, from_name, from_address, reply_to, to_name, "
	    "to_address, cc_address, subject, text_sealed, html_sealed, status, last_error, "
	    "next_attempt_at, created_at, queued_at) SELECT $1, $2, $3, $4, c.id, $6, $7, $8, "
	    "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24 "
	    "FROM customers c WHERE c.site_id = $1 AND c.id = $5 "
	    "ON CONFLICT (site_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING "
	    "RETURNING id", 24 },
	/* A row only when the customer $3 exists (none for "", nobody's address typed into a
	 * sign-in form: the same statement runs either way). */
	[STMT_MAIL_LINK_INSERT] = { "mail_link_insert",
	    "INSERT INTO mail_links (site_id, id, customer_id, purpose, path, token_hash, "
	    "created_at, expires_at) SELECT $1, $2, c.id, $4, $5, $6, $7, $8 FROM customers c "
	    "WHERE c.site_id = $1 AND c.id = $3", 8 },
	[STMT_MAIL_GET] = { "mail_get",
	    "SELECT " MAIL_COLS " FROM mail_outbox WHERE site_id = $1 AND id = $2", 2 },
	[STMT_MAIL_LIST_FIRST] = { "mail_list_first",
	    "SELECT " MAIL_COLS " FROM mail_outbox WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR status = $3) ORDER BY seq DESC LIMIT $2", 3 },
	[STMT_MAIL_LIST_AFTER] = { "mail_list_after",
	    "SELECT " MAIL_COLS " FROM mail_outbox WHERE site_id = $1 AND seq < $4::bigint "
	    "AND ($3::text IS NULL OR status = $3) ORDER BY seq DESC LIMIT $2", 4 },
	/* Messages queued more than three days ago ($2) and not in flight at $3: a message
	 * whose every attempt died with its runner ends here instead of looping. */
	[STMT_MAIL_GIVE_UP] = { "mail_give_up",
	    "UPDATE mail_outbox SET status = 'failed', lease_until = NULL, lease_id = NULL, "
	    "last_error = COALESCE(last_error, 'never delivered') || ' (gave up after 3 days)' "
	    "WHERE site_id = $1 AND status = 'pending' AND queued_at <= $2 "
	    "AND (lease_until IS NULL OR lease_until <= $3) RETURNING id", 3 },
	/* Step one of sending: up to $5 due messages, skipping those another runner holds,
	 * leased to this claim ($4) until $3. Committed before any SMTP is spoken. */
	[STMT_MAIL_CLAIM] = { "mail_claim",
	    "UPDATE mail_outbox SET lease_until = $3, lease_id = $4 WHERE site_id = $1 AND id IN "
	    "(SELECT id FROM mail_outbox WHERE site_id = $1 AND status = 'pending' "
	    "AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) "
	    "ORDER BY next_attempt_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED) "
	    "RETURNING " MAIL_COLS, 5 },
	/* Step three: the outcome, recorded only by the claim that still holds the lease. */
	[STMT_MAIL_RECORD] = { "mail_record",
	    "UPDATE mail_outbox SET status = $4, attempts = attempts + 1, "
	    "next_attempt_at = COALESCE($5, next_attempt_at), last_error = $6, "
	    "last_smtp_code = $7, sent_at = $8, lease_until = NULL, lease_id = NULL "
	    "WHERE site_id = $1 AND id = $2 AND lease_id = $3 AND status = 'pending' "
	    "RETURNING id", 8 },
	[STMT_MAIL_RELEASE] = { "mail_release",
	    "UPDATE mail_outbox SET lease_until = NULL, lease_id = NULL "
	    "WHERE site_id = $1 AND id = $2 AND lease_id = $3 AND status = 'pending'", 3 },
	/* The runner's scans, on the site's clock $2: trials ending within $3 seconds ... */
	[STMT_MAIL_DUE_TRIALS] = { "mail_due_trials",
	    "SELECT s.id, s.trial_end FROM subscriptions s WHERE s.site_id = $1 "
	    "AND s.status = 'in_trial' AND s.trial_end > $2::bigint "
	    "AND s.trial_end <= $2::bigint + $3::bigint AND NOT EXISTS (SELECT 1 FROM mail_outbox m "
	    "WHERE m.site_id = $1 AND m.dedupe_key = 'trial_ending:' || s.id || ':' || s.trial_end) "
	    "ORDER BY s.trial_end, s.id LIMIT $4", 4 },
	/* ... yearly renewals within $3 seconds ... */
	[STMT_MAIL_DUE_RENEWALS] = { "mail_due_renewals",
	    "SELECT s.id, s.next_billing_at FROM subscriptions s "
	    "JOIN plans p ON p.site_id = s.site_id AND p.id = s.plan_id WHERE s.site_id = $1 "
	    "AND s.status = 'active' AND NOT s.cancel_at_period_end AND s.pause_at IS NULL "
	    "AND s.next_billing_at > $2::bigint AND s.next_billing_at <= $2::bigint + $3::bigint "
	    "AND (p.interval_unit = 'year' OR (p.interval_unit = 'month' "
	    "AND p.interval_count >= 12)) AND NOT EXISTS (SELECT 1 FROM mail_outbox m "
	    "WHERE m.site_id = $1 AND m.dedupe_key = "
	    "'renewal_reminder:' || s.id || ':' || s.next_billing_at) "
	    "ORDER BY s.next_billing_at, s.id LIMIT $4", 4 },
	/* ... and default cards expiring in month $2/$3 or $4/$5, of customers with a
	 * subscription that still bills, not yet told in the month named $6. */
	[STMT_MAIL_DUE_CARDS] = { "mail_due_cards",
	    "SELECT pm.id, pm.customer_id FROM payment_methods pm WHERE pm.site_id = $1 "
	    "AND pm.is_default AND ((pm.exp_year = $2::integer AND pm.exp_month = $3::integer) "
	    "OR (pm.exp_year = $4::integer AND pm.exp_month = $5::integer)) "
	    "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.site_id = $1 "
	    "AND s.customer_id = pm.customer_id "
	    "AND s.status IN ('in_trial', 'active', 'non_renewing', 'past_due')) "
	    "AND NOT EXISTS (SELECT 1 FROM mail_outbox m WHERE m.site_id = $1 "
	    "AND m.dedupe_key = 'card_expiring:' || pm.id || ':' || $6::text) "
	    "ORDER BY pm.id LIMIT $7", 7 },
	/* Invoicing (007): the site's legal details, tax rates, credit notes, documents. */
	/* One row for every site: its legal details, or the defaults and the site's name. */
	[STMT_LEGAL_GET] = { "legal_get",
	    "SELECT " LEGAL_COLS " FROM sites st "
	    "LEFT JOIN site_legal_details l ON l.site_id = $1 WHERE st.id = $1", 1 },
	[STMT_LEGAL_UPSERT] = { "legal_upsert",
	    "INSERT INTO site_legal_details (site_id, legal_name, address, tax_ids, email, phone, "
	    "invoice_prefix, credit_note_prefix, footer, paper, updated_at) "
	    "VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8, $9, $10, $11) "
	    "ON CONFLICT (site_id) DO UPDATE SET legal_name = $2, address = $3::jsonb, "
	    "tax_ids = $4::jsonb, email = $5, phone = $6, invoice_prefix = $7, "
	    "credit_note_prefix = $8, footer = $9, paper = $10, updated_at = $11", 11 },
	[STMT_TAXRATE_INSERT] = { "taxrate_insert",
	    "INSERT INTO tax_rates (site_id, id, display_name, description, rate_ppm, inclusive, "
	    "country, region, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (site_id, id) DO NOTHING RETURNING " TAXRATE_COLS, 9 },
	[STMT_TAXRATE_GET] = { "taxrate_get",
	    "SELECT " TAXRATE_COLS " FROM tax_rates WHERE site_id = $1 AND id = $2", 2 },
	/* $3 display name, $4/$5 the description (flag, value), $6 active; NULL keeps. */
	[STMT_TAXRATE_UPDATE] = { "taxrate_update",
	    "UPDATE tax_rates SET display_name = COALESCE($3, display_name), "
	    "description = CASE WHEN $4::bool THEN $5 ELSE description END, "
	    "active = COALESCE($6::bool, active) WHERE site_id = $1 AND id = $2 "
	    "RETURNING " TAXRATE_COLS, 6 },
	[STMT_TAXRATE_LIST_FIRST] = { "taxrate_list_first",
	    "SELECT " TAXRATE_COLS " FROM tax_rates WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR country = $3) AND ($4::bool IS NULL OR active = $4::bool) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 4 },
	[STMT_TAXRATE_LIST_AFTER] = { "taxrate_list_after",
	    "SELECT " TAXRATE_COLS " FROM tax_rates WHERE site_id = $1 "
	    "AND (created_at, id) < ($5::bigint, $6::text) "
	    "AND ($3::text IS NULL OR country = $3) AND ($4::bool IS NULL OR active = $4::bool) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 6 },
	/* The active rates for a buyer in country $2 and region $3: the country's own rates
	 * first, then the region's, each in the order they were made. */
	[STMT_TAXRATE_MATCH] = { "taxrate_match",
	    "SELECT " TAXRATE_COLS " FROM tax_rates WHERE site_id = $1 AND active "
	    "AND country = $2 AND (region IS NULL OR region = $3) "
	    "ORDER BY region NULLS FIRST, created_at, id LIMIT 8", 3 },
	[STMT_INV_TAX_INSERT] = { "inv_tax_insert",
	    "INSERT INTO invoice_taxes (site_id, invoice_id, tax_no, tax_rate_id, display_name, "
	    "rate_ppm, inclusive, country, region, taxable_amount, amount) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11 },
	[STMT_INV_TAXES] = { "inv_taxes",
	    "SELECT " DOC_TAX_COLS " FROM invoice_taxes WHERE site_id = $1 AND invoice_id = $2 "
	    "ORDER BY tax_no", 2 },
	/* What an invoice has credited so far, refunds still in flight included: a credit
	 * note never takes more than the invoice's total. */
	[STMT_INV_CREDITED] = { "inv_credited",
	    "SELECT (SELECT COALESCE(sum(total), 0) FROM credit_notes WHERE site_id = $1 "
	    "AND invoice_id = $2) + (SELECT COALESCE(sum(amount), 0) FROM payment_attempts "
	    "WHERE site_id = $1 AND invoice_id = $2 AND kind = 'refund' AND outcome = 'pending')",
	    2 },
	/* Credit note numbers, gapless per site, like invoice numbers. */
	[STMT_CN_COUNTER_NEXT] = { "cn_counter_next",
	    "INSERT INTO site_counters (site_id, credit_note_seq) VALUES ($1, 1) "
	    "ON CONFLICT (site_id) DO UPDATE SET credit_note_seq = "
	    "site_counters.credit_note_seq + 1 RETURNING credit_note_seq", 1 },
	[STMT_CN_INSERT] = { "cn_insert",
	    "INSERT INTO credit_notes (site_id, id, number, number_text, invoice_id, customer_id, "
	    "currency, reason, subtotal, tax, total, credit_amount, refund_amount, void_amount, "
	    "credit_entry_id, payment_attempt_id, tax_treatment, tax_note, customer_details, "
	    "seller_details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12, $13, $14, $15, $16, $17, $18, $19::jsonb, $20::jsonb, $21)", 21 },
	[STMT_CN_LINE_INSERT] = { "cn_line_insert",
	    "INSERT INTO credit_note_lines (site_id, credit_note_id, line_no, description, amount, "
	    "tax_amount, period_start, period_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8 },
	[STMT_CN_TAX_INSERT] = { "cn_tax_insert",
	    "INSERT INTO credit_note_taxes (site_id, credit_note_id, tax_no, tax_rate_id, "
	    "display_name, rate_ppm, inclusive, country, region, taxable_amount, amount) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11 },
	[STMT_CN_GET] = { "cn_get",
	    "SELECT " CN_COLS CN_FROM "WHERE cn.site_id = $1 AND cn.id = $2", 2 },
	[STMT_CN_LINES] = { "cn_lines",
	    "SELECT line_no, description, amount, tax_amount, period_start, period_end "
	    "FROM credit_note_lines WHERE site_id = $1 AND credit_note_id = $2 ORDER BY line_no",
	    2 },
	[STMT_CN_TAXES] = { "cn_taxes",
	    "SELECT " DOC_TAX_COLS " FROM credit_note_taxes WHERE site_id = $1 "
	    "AND credit_note_id = $2 ORDER BY tax_no", 2 },
	/* Newest number first; filters $3 customer, $4 invoice; $5 the cursor's number. */
	[STMT_CN_LIST_FIRST] = { "cn_list_first",
	    "SELECT " CN_COLS CN_FROM "WHERE cn.site_id = $1 "
	    "AND ($3::text IS NULL OR cn.customer_id = $3) "
	    "AND ($4::text IS NULL OR cn.invoice_id = $4) ORDER BY cn.number DESC LIMIT $2", 4 },
	[STMT_CN_LIST_AFTER] = { "cn_list_after",
	    "SELECT " CN_COLS CN_FROM "WHERE cn.site_id = $1 AND cn.number < $5::bigint "
	    "AND ($3::text IS NULL OR cn.customer_id = $3) "
	    "AND ($4::text IS NULL OR cn.invoice_id = $4) ORDER BY cn.number DESC LIMIT $2", 5 },
	[STMT_DOC_QUEUE] = { "doc_queue",
	    "INSERT INTO documents (site_id, kind, object_id, number_text, customer_id, "
	    "issued_at) VALUES ($1, $2, $3, $4, $5, $6)", 6 },
	/* The job runner: the $2 oldest documents not rendered yet, skipping those another
	 * runner holds and those that failed five times (see last_error); an index probe
	 * (documents_claim). The transaction commits without waiting for the disk: a document
	 * lost in a crash is still waiting, and is rendered again to the same bytes. */
	[STMT_DOC_CLAIM] = { "doc_claim",
	    "SELECT kind, object_id, set_config('synchronous_commit', 'off', true) "
	    "FROM documents WHERE site_id = $1 AND pdf IS NULL "
	    "AND attempts < 5 ORDER BY issued_at, kind, object_id LIMIT $2 "
	    "FOR UPDATE SKIP LOCKED", 2 },
	/* Stored once: a rendered document is never written again. */
	[STMT_DOC_STORE] = { "doc_store",
	    "UPDATE documents SET pdf = decode($4, 'hex'), sha256 = $5, rendered_at = $6, "
	    "last_error = NULL WHERE site_id = $1 AND kind = $2 AND object_id = $3 "
	    "AND pdf IS NULL RETURNING object_id", 6 },
	[STMT_DOC_FAIL] = { "doc_fail",
	    "UPDATE documents SET attempts = attempts + 1, last_error = $4 "
	    "WHERE site_id = $1 AND kind = $2 AND object_id = $3", 4 },
	[STMT_DOC_GET] = { "doc_get",
	    "SELECT number_text, customer_id, issued_at, encode(pdf, 'hex'), attempts, "
	    "last_error, kind, object_id FROM documents "
	    "WHERE site_id = $1 AND kind = $2 AND object_id = $3", 3 },
	/* A customer's documents issued in [$3, $4): the yearly archive. Without the bytes
	 * (DOC_PDF_HEX holds the PDF's size once rendered, for the archive's bound): the
	 * archive reads them one at a time. */
	[STMT_DOC_YEAR] = { "doc_year",
	    "SELECT number_text, customer_id, issued_at, CASE WHEN pdf IS NULL THEN NULL "
	    "ELSE octet_length(pdf)::text END, attempts, "
	    "last_error, kind, object_id FROM documents WHERE site_id = $1 AND customer_id = $2 "
	    "AND issued_at >= $3 AND issued_at < $4 ORDER BY issued_at, kind, number_text "
	    "LIMIT 1001", 4 },

	/* What the job runner still has to do for a site at its clock $2. */
	[STMT_DUE_COUNT] = { "due_count",
	    "SELECT (SELECT count(*) FROM subscriptions WHERE site_id = $1 AND next_billing_at <= $2) "
	    "+ (SELECT count(*) FROM subscriptions WHERE site_id = $1 AND status = 'paused' "
	    "AND resume_at <= $2) "
	    "+ (SELECT count(*) FROM invoices WHERE site_id = $1 AND status = 'open' "
	    "AND next_attempt_at <= $2) "
	    "+ (SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w "
	    "ON w.site_id = d.site_id AND w.id = d.endpoint_id WHERE d.site_id = $1 "
	    "AND d.status = 'pending' AND d.next_attempt_at <= $2 "
	    "AND (w.backoff_until IS NULL OR w.backoff_until <= $2)) "
	    "+ (SELECT count(*) FROM payment_attempts WHERE site_id = $1 AND outcome = 'pending') "
	    "+ (SELECT count(*) FROM documents WHERE site_id = $1 AND pdf IS NULL "
	    "AND attempts < 5)",
	    2 },
	/* /healthz: how many of this binary's migrations ($1) are applied, and the job runner's
	 * lag: the age, on its site's clock, of the oldest item that is due and not done. The
	 * one statement that reads every site, by design; each min() is an index probe.
	 * Documents waiting for their PDF are not lag: a backlog of rendering delays no money
	 * (the time machine's pending_jobs counts them). */
	/* This build's migrations applied (by number, $1), the runner's lag, and of those
	 * how many under this build's file names ($2): fewer is another build's schema. */
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
	    "WHERE d.due <= extract(epoch FROM now())::bigint + st.clock_offset), 0), "
	    "(SELECT count(*) FROM schema_migrations WHERE name = ANY ($2::text[]))", 2 },
	/* At most how many billing periods the runner would create if the site's clock moved
	 * to $2 (a month counted as 28 days: an upper bound). */
	[STMT_PERIODS_UNTIL] = { "periods_until",
	    "SELECT COALESCE(sum(1 + floor(($2::bigint - GREATEST(s.next_billing_at, "
	    "COALESCE(s.resume_at, s.next_billing_at)))::numeric / (p.interval_count * "
	    "CASE p.interval_unit WHEN 'day' THEN 86400 WHEN 'week' THEN 604800 "
	    "WHEN 'month' THEN 2419200 ELSE 31536000 END))), 0)::bigint "
	    "FROM subscriptions s JOIN plans p ON p.site_id = s.site_id AND p.id = s.plan_id "
	    "WHERE s.site_id = $1 AND ((s.next_billing_at IS NOT NULL AND "
	    "s.next_billing_at <= $2) OR (s.status = 'paused' AND s.resume_at <= $2))", 2 },
	[STMT_NOTIFY] = { "notify", "SELECT pg_notify('portald_jobs', $1)", 1 },

	/* ---- gateways (008) ---- */
	/* The site's mode and its gateway row, if any ($2: the site again, as objects ask). */
	[STMT_SITE_GATEWAY_GET] = { "site_gateway_get",
	    "SELECT s.id, s.mode, g.gateway, g.secret_key_sealed, g.secret_key_hint, "
	    "g.webhook_secret_sealed, g.updated_at FROM sites s "
	    "LEFT JOIN site_gateways g ON g.site_id = s.id AND g.site_id = $1 "
	    "WHERE s.id = $1 AND s.id = $2", 2 },
	/* $2 gateway, $3 sealed key, $4 key hint, $5 sealed webhook secret, $6 now. Keys not
	 * given (NULL) stay as they are. Returns the previous gateway (NULL for none). */
	[STMT_SITE_GATEWAY_SET] = { "site_gateway_set",
	    "WITH prev AS (SELECT gateway FROM site_gateways WHERE site_id = $1 FOR UPDATE) "
	    "INSERT INTO site_gateways (site_id, gateway, secret_key_sealed, secret_key_hint, "
	    "webhook_secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
	    "ON CONFLICT (site_id) DO UPDATE SET gateway = EXCLUDED.gateway, "
	    "secret_key_sealed = COALESCE(EXCLUDED.secret_key_sealed, "
	    "site_gateways.secret_key_sealed), secret_key_hint = COALESCE("
	    "EXCLUDED.secret_key_hint, site_gateways.secret_key_hint), "
	    "webhook_secret_sealed = COALESCE(EXCLUDED.webhook_secret_sealed, "
	    "site_gateways.webhook_secret_sealed), updated_at = EXCLUDED.updated_at "
	    "RETURNING (SELECT gateway FROM prev)", 6 },
	/* A site that changed gateway: the other gateways' cards can no longer be charged. */
	[STMT_PM_MARK_UNUSABLE] = { "pm_mark_unusable",
	    "UPDATE payment_methods SET unusable = true, is_default = false "
	    "WHERE site_id = $1 AND gateway <> $2 AND NOT unusable RETURNING id", 2 },
	/* A gateway's card, stored once whichever of the return and the webhook comes first. */
	[STMT_PM_INSERT_GATEWAY] = { "pm_insert_gateway",
	    "INSERT INTO payment_methods (site_id, id, customer_id, gateway_token, brand, last4, "
	    "exp_month, exp_year, is_default, created_at, gateway) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10) "
	    "ON CONFLICT (site_id, gateway, gateway_token) WHERE gateway <> 'test' DO NOTHING "
	    "RETURNING " PM_COLS, 10 },
	[STMT_PM_USABLE_DEFAULT] = { "pm_usable_default",
	    "SELECT count(*) FROM payment_methods WHERE site_id = $1 AND customer_id = $2 "
	    "AND is_default AND NOT unusable", 2 },
	[STMT_GWCUST_GET] = { "gwcust_get",
	    "SELECT ref FROM gateway_customers WHERE site_id = $1 AND customer_id = $2 "
	    "AND gateway = $3", 3 },
	[STMT_GWCUST_INSERT] = { "gwcust_insert",
	    "INSERT INTO gateway_customers (site_id, customer_id, gateway, ref, created_at) "
	    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site_id, customer_id, gateway) DO NOTHING",
	    5 },
	/* A site that left a gateway: its customers there belong to that account. */
	[STMT_GWCUST_FORGET] = { "gwcust_forget",
	    "DELETE FROM gateway_customers WHERE site_id = $1 AND gateway <> $2", 2 },
	[STMT_SETUP_INSERT] = { "setup_insert",
	    "INSERT INTO gateway_setups (site_id, id, customer_id, gateway, status, make_default, "
	    "success_url, cancel_url, created_at) VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, "
	    "$8) RETURNING " SETUP_COLS, 8 },
	[STMT_SETUP_GET] = { "setup_get",
	    "SELECT " SETUP_COLS " FROM gateway_setups WHERE site_id = $1 AND id = $2", 2 },
	[STMT_SETUP_LOCK] = { "setup_lock",
	    "SELECT " SETUP_COLS " FROM gateway_setups WHERE site_id = $1 AND id = $2 "
	    "FOR UPDATE", 2 },
	[STMT_SETUP_BY_SESSION] = { "setup_by_session",
	    "SELECT " SETUP_COLS " FROM gateway_setups WHERE site_id = $1 AND session_ref = $2",
	    2 },
	/* The gateway made the page: its session and (sealed) address. */
	[STMT_SETUP_OPENED] = { "setup_opened",
	    "UPDATE gateway_setups SET status = 'open', session_ref = $3, url_sealed = $4, "
	    "expires_at = $5 WHERE site_id = $1 AND id = $2 AND status = 'creating' "
	    "RETURNING id", 5 },
	[STMT_SETUP_SET_STATUS] = { "setup_set_status",
	    "UPDATE gateway_setups SET status = $3, failure_message = $4, url_sealed = NULL "
	    "WHERE site_id = $1 AND id = $2 AND status IN ('creating', 'open') RETURNING id", 4 },
	[STMT_SETUP_COMPLETE] = { "setup_complete",
	    "UPDATE gateway_setups SET status = 'complete', payment_method_id = $3, "
	    "completed_at = $4, url_sealed = NULL WHERE site_id = $1 AND id = $2 "
	    "AND status <> 'complete' RETURNING id", 4 },
	/* A gateway's event, applied once: the second delivery finds it recorded. */
	[STMT_GWEVENT_INSERT] = { "gwevent_insert",
	    "INSERT INTO gateway_events (site_id, gateway, event_id, type, received_at) "
	    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site_id, gateway, event_id) DO NOTHING "
	    "RETURNING event_id", 5 },
	/* The gateway's object for a pending attempt, recorded (and committed on its own)
	 * before the gateway is asked to act on it. */
	[STMT_PAY_SET_REF] = { "pay_set_ref",
	    "UPDATE payment_attempts SET gateway_ref = $3 WHERE site_id = $1 "
	    "AND idempotency_key = $2 AND outcome = 'pending' "
	    "AND (gateway_ref IS NULL OR gateway_ref = $3) RETURNING id", 3 },
	[STMT_PAY_BY_IDEM] = { "pay_by_idem",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 "
	    "AND idempotency_key = $2", 2 },
	/* The newest attempt of kind $3 that names the gateway's object $2. */
	[STMT_PAY_BY_REF] = { "pay_by_ref",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND gateway_ref = $2 "
	    "AND kind = $3 ORDER BY seq DESC LIMIT 1", 3 },
	[STMT_PAY_PENDING_CHARGE] = { "pay_pending_charge",
	    "SELECT " PAY_COLS " FROM payment_attempts WHERE site_id = $1 AND invoice_id = $2 "
	    "AND kind = 'charge' AND outcome = 'pending'", 2 },
	/* A payment the gateway made on its own (a refund in its dashboard), recorded once
	 * under a key derived from the gateway's id. */
	[STMT_PAY_INSERT_ONCE] = { "pay_insert_once",
	    "INSERT INTO payment_attempts (site_id, id, invoice_id, amount, outcome, "
	    "idempotency_key, created_at, kind, gateway_ref, gateway, currency, completed_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $7) "
	    "ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING id", 11 },
	[STMT_INV_DISPUTE] = { "inv_dispute",
	    "UPDATE invoices SET disputed_at = $3, dispute_ref = $4, dispute_reason = $5 "
	    "WHERE site_id = $1 AND id = $2 AND disputed_at IS NULL RETURNING id", 5 },
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
	    "session_idle_timeout = $25, session_absolute_timeout = $26, updated_at = $27, "
	    "login_link = $28, login_link_ttl = $29, merchant_sign_in_url = $30, "
	    "login_password = $31, invite_on_subscription = $32, management_link_ttl = $33, "
	    "email_verification = $34, reveal_unknown_email = $35 WHERE site_id = $1", 35 },
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
	 * NULL without a cookie) with its customer, in one statement; no session for a revoked
	 * customer (as STMT_PSESS_PORTAL_GET). */
	[STMT_PORTAL_ENTRY] = { "portal_entry",
	    "SELECT " PCONF_COLS ", p.id, p.cookie_hash, p.status, p.login_at, p.last_seen_at, "
	    "p.redirect_url, p.customer_id, cu.name, cu.email, p.features::text, p.flow::text"
	    PCONF_FROM "LEFT JOIN (portal_sessions p JOIN customers cu ON cu.site_id = p.site_id "
	    "AND cu.id = p.customer_id AND cu.portal_state <> 'revoked') "
	    "ON p.site_id = c.site_id AND p.id = $2 WHERE c.site_id = $1", 2 },
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
	    "is_default, created_at AS pm_created, gateway_token, gateway, unusable "
	    "FROM payment_methods "
	    "WHERE site_id = customers.site_id AND customer_id = customers.id AND NOT unusable "
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
	/* The customer's open invoices whose latest charge waits for the customer's bank
	 * (authentication_required, or an on-session charge still pending): the portal's
	 * "Complete payment". */
	[STMT_INV_NEEDS_ACTION] = { "inv_needs_action",
	    "SELECT i.id FROM invoices i WHERE i.site_id = $1 AND i.customer_id = $2 "
	    "AND i.status = 'open' AND EXISTS (SELECT 1 FROM (SELECT a.outcome, a.return_url "
	    "FROM payment_attempts a WHERE a.site_id = i.site_id AND a.invoice_id = i.id "
	    "AND a.kind = 'charge' ORDER BY a.seq DESC LIMIT 1) l "
	    "WHERE l.outcome = 'authentication_required' OR (l.outcome = 'pending' "
	    "AND l.return_url IS NOT NULL)) ORDER BY i.id LIMIT 50", 2 },
	/* The latest event of a type about an object (a cancellation's reference): found among
	 * the newest of its type, where it is right after the change. */
	[STMT_EVENT_LATEST_OF] = { "event_latest_of",
	    "SELECT id, created_at FROM events WHERE site_id = $1 AND type = $2 "
	    "AND object_id = $3 ORDER BY seq DESC LIMIT 1", 3 },
	/* Global: which site a host name belongs to. */
	[STMT_SITE_BY_HOST] = { "site_by_host",
	    "SELECT id FROM sites WHERE portal_host = lower($1)", 1 },
	/* Global by the site's id: the host name its portal is served on, if its own. */
	[STMT_SITE_HOST] = { "site_host",
	    "SELECT portal_host FROM sites WHERE id = $1", 1 },
	[STMT_SITE_SET_HOST] = { "site_set_host",
	    "UPDATE sites SET portal_host = $2 WHERE id = $1", 2 },
	/* The portal's invoice list: the credit notes correcting the invoices of a page ($3,
	 * an array of invoice ids), oldest first, with whether their PDF is stored. */
	[STMT_CN_OF_INVOICES] = { "cn_of_invoices",
	    "SELECT cn.id, cn.number_text, cn.invoice_id, cn.total, cn.currency, cn.created_at, "
	    "(SELECT dc.pdf IS NOT NULL FROM documents dc WHERE dc.site_id = cn.site_id "
	    "AND dc.kind = 'credit_note' AND dc.object_id = cn.id) FROM credit_notes cn "
	    "WHERE cn.site_id = $1 AND cn.customer_id = $2 AND cn.invoice_id = ANY ($3::text[]) "
	    "ORDER BY cn.number", 3 },
	/* When a customer's first document was issued: the first year the portal offers as an
	 * archive. */
	[STMT_DOC_FIRST] = { "doc_first",
	    "SELECT min(issued_at) FROM documents WHERE site_id = $1 AND customer_id = $2", 2 },
	/* ---- portal access without single sign-on ---- */
	/* A fixed-window counter: a hit after the window ($4 seconds) has passed starts a new
	 * one. Returns the hits in the current window, this one included. */
	/* Counters whose window ended long ago ($2: a day before now) say nothing any more:
	 * each hit first clears the site's stale ones, so the table keeps about a day. */
	[STMT_RATE_PRUNE] = { "rate_prune",
	    "DELETE FROM portal_rate_limits WHERE site_id = $1 AND window_start < $2", 2 },
	[STMT_RATE_HIT] = { "rate_hit",
	    "INSERT INTO portal_rate_limits AS r (site_id, bucket, window_start, hits) "
	    "VALUES ($1, $2, $3, 1) ON CONFLICT (site_id, bucket) DO UPDATE SET "
	    "hits = CASE WHEN r.window_start <= $3 - $4::bigint THEN 1 ELSE r.hits + 1 END, "
	    "window_start = CASE WHEN r.window_start <= $3 - $4::bigint THEN $3 "
	    "ELSE r.window_start END RETURNING hits", 4 },
	/* The customers a sign-in address names, oldest first (several may share one). */
	[STMT_CUSTOMERS_BY_EMAIL] = { "customers_by_email",
	    "SELECT id, name, email, portal_state FROM customers WHERE site_id = $1 "
	    "AND lower(email) = lower($2) ORDER BY created_at, id LIMIT 20", 2 },
	[STMT_MAIL_LINK_GET] = { "mail_link_get",
	    "SELECT l.customer_id, l.purpose, l.path, l.token_hash, l.expires_at, l.used_at, "
	    "c.email, c.portal_state FROM mail_links l JOIN customers c ON c.site_id = l.site_id "
	    "AND c.id = l.customer_id WHERE l.site_id = $1 AND l.id = $2", 2 },
	/* Single use: only an unused, unexpired link is used, once. */
	[STMT_MAIL_LINK_USE] = { "mail_link_use",
	    "UPDATE mail_links SET used_at = $3 WHERE site_id = $1 AND id = $2 "
	    "AND used_at IS NULL AND expires_at > $3 RETURNING customer_id", 3 },
	/* A session signed in on the portal itself (no access link): logged in at once, for a
	 * customer whose access is not revoked. */
	[STMT_PSESS_SIGN_IN] = { "psess_sign_in",
	    "INSERT INTO portal_sessions (site_id, id, customer_id, token_hash, cookie_hash, "
	    "redirect_url, status, created_at, expires_at, login_at, last_seen_at, "
	    "login_ipaddress, login_method) SELECT $1, $2, c.id, $4, $5, $6, 'logged_in', $7, $7, "
	    "$7, $7, $8, $9 FROM customers c WHERE c.site_id = $1 AND c.id = $3 "
	    "AND c.portal_state <> 'revoked' RETURNING " PSESS_COLS, 9 },
	/* Portal accounts (passwords). Read under a row lock: a sign-in, a failure and a
	 * password change of one account take turns. */
	[STMT_ACCOUNT_GET] = { "account_get",
	    "SELECT status, password_hash FROM portal_accounts "
	    "WHERE site_id = $1 AND customer_id = $2 FOR UPDATE", 2 },
	/* What a verified-browser cookie is bound to: the customer's address and when its
	 * password was last set (NULL: never). No row: no such customer. */
	[STMT_VERIFIED_BASIS] = { "verified_basis",
	    "SELECT c.email, a.password_changed_at FROM customers c LEFT JOIN portal_accounts a "
	    "ON a.site_id = c.site_id AND a.customer_id = c.id WHERE c.site_id = $1 AND c.id = $2",
	    2 },
	/* Nothing for a customer that does not exist ("": the same statement either way). */
	[STMT_ACCOUNT_PENDING] = { "account_pending",
	    "INSERT INTO portal_accounts (site_id, customer_id, status, created_at) "
	    "SELECT $1, c.id, 'pending', $3 FROM customers c WHERE c.site_id = $1 AND c.id = $2 "
	    "ON CONFLICT (site_id, customer_id) DO NOTHING", 3 },
	[STMT_ACCOUNT_ACTIVATE] = { "account_activate",
	    "INSERT INTO portal_accounts AS a (site_id, customer_id, status, password_hash, "
	    "created_at, activated_at, password_changed_at) VALUES ($1, $2, 'active', $3, $4, $4, "
	    "$4) ON CONFLICT (site_id, customer_id) DO UPDATE SET status = 'active', "
	    "password_hash = $3, failed_count = 0, next_attempt_at = NULL, "
	    "activated_at = COALESCE(a.activated_at, $4), password_changed_at = $4", 4 },
	/* Wrong passwords per (address, client address) key ($2): from the fourth on, the
	 * next attempt waits 5, 10, 20, then 30 seconds at most ($3 now). Rows a day old are
	 * dropped as new ones come ($4). */
	[STMT_PWFAIL_GET] = { "pwfail_get",
	    "SELECT next_attempt_at FROM portal_password_failures WHERE site_id = $1 "
	    "AND key = $2", 2 },
	[STMT_PWFAIL_HIT] = { "pwfail_hit",
	    "WITH old AS (DELETE FROM portal_password_failures WHERE site_id = $1 "
	    "AND updated_at < $4 AND key <> $2) "
	    "INSERT INTO portal_password_failures AS f (site_id, key, failed_count, updated_at) "
	    "VALUES ($1, $2, 1, $3) ON CONFLICT (site_id, key) DO UPDATE SET "
	    "failed_count = f.failed_count + 1, updated_at = $3, next_attempt_at = "
	    "CASE WHEN f.failed_count + 1 < 4 THEN NULL ELSE $3::bigint + "
	    "LEAST(30, 5 * power(2, LEAST(f.failed_count + 1 - 4, 10)))::bigint END", 4 },
	[STMT_PWFAIL_CLEAR] = { "pwfail_clear",
	    "DELETE FROM portal_password_failures WHERE site_id = $1 AND key = $2", 2 },
	[STMT_CUSTOMER_PORTAL_STATE] = { "customer_portal_state",
	    "UPDATE customers SET portal_state = $3 WHERE site_id = $1 AND id = $2 "
	    "AND portal_state <> 'revoked'", 3 },
	/* Every session of the customer that is live or may still be entered, ended. */
	[STMT_PSESS_END_ALL] = { "psess_end_all",
	    "UPDATE portal_sessions SET status = 'logged_out', logout_at = $3, "
	    "logout_ipaddress = $4, cookie_hash = NULL WHERE site_id = $1 AND customer_id = $2 "
	    "AND status IN ('created', 'logged_in', 'not_yet_activated') RETURNING id", 4 },
	/* Invitations: a session that is not yet activated, tied to the invitation link by
	 * its token's hash, activated when the invitation's password is set. */
	[STMT_PSESS_INVITE] = { "psess_invite",
	    "INSERT INTO portal_sessions (site_id, id, customer_id, token_hash, redirect_url, "
	    "status, created_at, expires_at, login_method) SELECT $1, $2, c.id, $4, $5, "
	    "'not_yet_activated', $6, $7, 'password' FROM customers c WHERE c.site_id = $1 "
	    "AND c.id = $3 RETURNING " PSESS_COLS, 7 },
	[STMT_PSESS_INVITE_ACCEPT] = { "psess_invite_accept",
	    "UPDATE portal_sessions SET status = 'activated', login_at = $3 WHERE site_id = $1 "
	    "AND customer_id = $2 AND status = 'not_yet_activated' RETURNING id", 3 },
	/* A customer's portal sessions, newest first (keyset: created_at, id). */
	[STMT_PSESS_LIST_FIRST] = { "psess_list_first",
	    "SELECT " PSESS_COLS " FROM portal_sessions WHERE site_id = $1 AND customer_id = $3 "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 3 },
	[STMT_PSESS_LIST_AFTER] = { "psess_list_after",
	    "SELECT " PSESS_COLS " FROM portal_sessions WHERE site_id = $1 AND customer_id = $3 "
	    "AND (created_at, id) < ($4::bigint, $5) ORDER BY created_at DESC, id DESC LIMIT $2",
	    5 },
	[STMT_CUSTOMER_REVOKE] = { "customer_revoke",
	    "UPDATE customers SET portal_state = 'revoked' WHERE site_id = $1 AND id = $2 "
	    "RETURNING id", 2 },
	/* Restored: active again when the account has a password, else none. */
	[STMT_CUSTOMER_RESTORE] = { "customer_restore",
	    "UPDATE customers SET portal_state = CASE WHEN EXISTS (SELECT 1 FROM portal_accounts "
	    "a WHERE a.site_id = $1 AND a.customer_id = $2 AND a.status = 'active') THEN 'active' "
	    "ELSE 'none' END WHERE site_id = $1 AND id = $2 AND portal_state = 'revoked' "
	    "RETURNING portal_state", 2 },
	/* Every link of the customer not used yet stops working now. */
	[STMT_MAIL_LINKS_END] = { "mail_links_end",
	    "UPDATE mail_links SET used_at = $3 WHERE site_id = $1 AND customer_id = $2 "
	    "AND used_at IS NULL RETURNING id", 3 },
	/* Management links: what the API shows about the derived link ($5 the lifetime, $6
	 * how long before a new one is available). A read counts; a link that has expired,
	 * or was read more than 15 times and may be renewed, starts a new generation. */
	[STMT_MLINK_GET] = { "mlink_get",
	    "SELECT generation, created_at, expires_at, fetch_count, new_link_available_at "
	    "FROM portal_management_links WHERE site_id = $1 AND customer_id = $2", 2 },
	/* The same, for a sign-in: a regeneration or revocation in flight is waited for. */
	[STMT_MLINK_LOCK] = { "mlink_lock",
	    "SELECT generation, created_at, expires_at, fetch_count, new_link_available_at "
	    "FROM portal_management_links WHERE site_id = $1 AND customer_id = $2 FOR SHARE", 2 },
	[STMT_MLINK_READ] = { "mlink_read",
	    "INSERT INTO portal_management_links AS m (site_id, customer_id, generation, "
	    "created_at, expires_at, fetch_count, new_link_available_at) "
	    "SELECT $1, c.id, 1, $3, $3 + $4::bigint, 1, $3 + $5::bigint FROM customers c "
	    "WHERE c.site_id = $1 AND c.id = $2 "
	    "ON CONFLICT (site_id, customer_id) DO UPDATE SET "
	    "generation = CASE WHEN $6 OR m.expires_at <= $3 OR (m.fetch_count >= 15 AND "
	    "m.new_link_available_at <= $3) THEN m.generation + 1 ELSE m.generation END, "
	    "created_at = CASE WHEN $6 OR m.expires_at <= $3 OR (m.fetch_count >= 15 AND "
	    "m.new_link_available_at <= $3) THEN $3 ELSE m.created_at END, "
	    "expires_at = CASE WHEN $6 OR m.expires_at <= $3 OR (m.fetch_count >= 15 AND "
	    "m.new_link_available_at <= $3) THEN $3 + $4::bigint ELSE m.expires_at END, "
	    "new_link_available_at = CASE WHEN $6 OR m.expires_at <= $3 OR (m.fetch_count >= 15 "
	    "AND m.new_link_available_at <= $3) THEN $3 + $5::bigint "
	    "ELSE m.new_link_available_at END, "
	    "fetch_count = CASE WHEN $6 OR m.expires_at <= $3 OR (m.fetch_count >= 15 AND "
	    "m.new_link_available_at <= $3) THEN 1 ELSE m.fetch_count + 1 END "
	    /* A read beyond the limit changes nothing (and returns no row). */
	    "WHERE $6 OR m.expires_at <= $3 OR m.fetch_count < 15 OR "
	    "m.new_link_available_at <= $3 "
	    "RETURNING generation, created_at, expires_at, fetch_count, new_link_available_at", 6 },
	/* Revoked access: the management link's generation moves on, so the old link stays
	 * dead even after access is restored. */
	[STMT_MLINK_BUMP] = { "mlink_bump",
	    "UPDATE portal_management_links SET generation = generation + 1, created_at = $3, "
	    "fetch_count = 0 WHERE site_id = $1 AND customer_id = $2", 3 },
};
