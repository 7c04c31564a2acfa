/* stmts.c: the statement table. All SQL lives here; call sites use STMT_ names only.
 * Every statement on a tenant table filters by site_id ($1), so the schema can be
 * distributed by site (tests/integration checks this table against the catalog). */
#include "stmts.h"

#define CUSTOMER_COLS \
	"id, email, name, phone, billing_address::text, metadata::text, portal_state, " \
	"created_at, updated_at"
#define PSESS_COLS \
	"id, customer_id, redirect_url, forward_url, features::text, status, created_at, " \
	"expires_at, login_at, logout_at, login_ipaddress, logout_ipaddress, token_hash"

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
	[STMT_SITE_INSERT] = { "site_insert",
	    "INSERT INTO sites (id, name, mode, created_at) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (id) DO NOTHING RETURNING id", 4 },
	[STMT_SITE_GET] = { "site_get",
	    "SELECT id, name, mode, clock_offset, session_idle_timeout, "
	    "session_absolute_timeout, created_at FROM sites WHERE id = $1", 1 },
	[STMT_SITE_LIST] = { "site_list",
	    "SELECT id, name, mode, clock_offset, session_idle_timeout, "
	    "session_absolute_timeout, created_at FROM sites ORDER BY id", 0 },
	[STMT_SITE_TRAVEL] = { "site_travel",
	    "UPDATE sites SET clock_offset = clock_offset + $2 "
	    "WHERE id = $1 AND mode = 'test' RETURNING clock_offset", 2 },

	/* customers */
	[STMT_CUSTOMER_INSERT] = { "customer_insert",
	    "INSERT INTO customers (site_id, id, email, name, phone, billing_address, metadata, "
	    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, "
	    "COALESCE($7::jsonb, '{}'), $8, $8) ON CONFLICT (site_id, id) DO NOTHING "
	    "RETURNING " CUSTOMER_COLS, 8 },
	[STMT_CUSTOMER_GET] = { "customer_get",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 AND id = $2", 2 },
	/* $3..$10: for each of email, name, phone, billing_address a "set" flag and a value;
	 * $11 metadata to merge (null values delete keys); $12 now. */
	[STMT_CUSTOMER_UPDATE] = { "customer_update",
	    "UPDATE customers SET "
	    "email = CASE WHEN $3::bool THEN $4 ELSE email END, "
	    "name = CASE WHEN $5::bool THEN $6 ELSE name END, "
	    "phone = CASE WHEN $7::bool THEN $8 ELSE phone END, "
	    "billing_address = CASE WHEN $9::bool THEN $10::jsonb ELSE billing_address END, "
	    "metadata = CASE WHEN $11::jsonb IS NULL THEN metadata "
	    "ELSE jsonb_strip_nulls(metadata || $11::jsonb) END, "
	    "updated_at = $12 "
	    "WHERE site_id = $1 AND id = $2 RETURNING " CUSTOMER_COLS, 12 },
	[STMT_CUSTOMER_DELETE] = { "customer_delete",
	    "DELETE FROM customers WHERE site_id = $1 AND id = $2 RETURNING id", 2 },
	[STMT_CUSTOMER_LIST_FIRST] = { "customer_list_first",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 "
	    "AND ($3::text IS NULL OR lower(email) = lower($3)) "
	    "ORDER BY created_at DESC, id DESC LIMIT $2", 3 },
	/* Keyset pagination: $2, $3 are the created_at and id of the starting_after row. */
	[STMT_CUSTOMER_LIST_AFTER] = { "customer_list_after",
	    "SELECT " CUSTOMER_COLS " FROM customers WHERE site_id = $1 "
	    "AND (created_at, id) < ($2::bigint, $3::text) "
	    "AND ($5::text IS NULL OR lower(email) = lower($5)) "
	    "ORDER BY created_at DESC, id DESC LIMIT $4", 5 },

	/* portal sessions */
	[STMT_PSESS_INSERT] = { "psess_insert",
	    "INSERT INTO portal_sessions (site_id, id, customer_id, token_hash, redirect_url, "
	    "forward_url, features, status, created_at, expires_at) "
	    "SELECT $1, $2, c.id, $4, $5, $6, COALESCE($7::jsonb, '{}'), 'created', $8, $9 "
	    "FROM customers c WHERE c.site_id = $1 AND c.id = $3 RETURNING " PSESS_COLS, 9 },
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
	    "p.customer_id, c.name, c.email, s.name, s.mode, s.clock_offset, "
	    "s.session_idle_timeout, s.session_absolute_timeout, p.features::text "
	    "FROM portal_sessions p "
	    "JOIN customers c ON c.site_id = p.site_id AND c.id = p.customer_id "
	    "JOIN sites s ON s.id = p.site_id "
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
	    "SELECT request_hash, status, response FROM idempotency_keys "
	    "WHERE site_id = $1 AND key = $2", 2 },
	[STMT_IDEM_STORE] = { "idem_store",
	    "UPDATE idempotency_keys SET status = $3, response = $4 "
	    "WHERE site_id = $1 AND key = $2", 4 },
};
