"""test_deliveries.py: the webhook delivery engine (src/jobs/deliveries.c): POSTs run
concurrently outside any transaction, so a slow endpoint delays neither another endpoint
nor any site's billing; first attempts go out in sequence order per endpoint; a failed
delivery's retries never block later events; an endpoint that keeps failing backs off on
its own; signing secrets are kept sealed."""
import http.server
import json
import os
import subprocess
import threading
import time
import unittest

from test_billing import Base


class SlowReceiver:
    """Answers each POST after `delay` seconds (a tarpit), or with `status`."""

    def __init__(self, delay=0.0, status=200, fail_first=0):
        self.got = []
        self.delay = delay
        self.status = status
        self.fail_first = fail_first
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(rec.delay)
                n = len(rec.got)
                rec.got.append((time.time(), json.loads(body)))
                code = 500 if n < rec.fail_first else rec.status
                try:
                    self.send_response(code)
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Deliveries(Base):
    def wait(self, cond, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.05)
        return False

    def hook(self, rx, events=("customer.created",), site=None):
        return self.ok((site or self.m).post("/webhook_endpoints", {
            "url": rx.url(), "enabled_events": list(events)}))

    def hold(self, ep, until, site=None):
        """The endpoint in backoff until `until` on its site's clock (None: not)."""
        site = site or self.m
        self.s.psql("UPDATE webhook_endpoints SET backoff_until = %s WHERE site_id = '%s' "
                    "AND id = '%s'" % ("NULL" if until is None else int(until), site.site_id,
                                       ep["id"]))

    def assertInSequence(self, rx, n):
        """rx gets n events, first attempts in sequence order."""
        self.assertTrue(self.wait(lambda: len(rx.got) == n))
        seqs = [e["sequence"] for _, e in rx.got]
        self.assertEqual(seqs, sorted(seqs))

    def test_a_tarpit_endpoint_delays_neither_another_endpoint_nor_billing(self):
        # The tarpit holds each POST far longer than any bound below, so the bounds can be
        # generous (a slow sanitizer build, a runner serving other tests' sites) and still
        # show that nothing waited for it.
        slow = SlowReceiver(delay=15)
        fast = SlowReceiver()
        other = self.s.new_site("tarpit")
        try:
            for _ in range(3):
                self.hook(slow)
            self.hook(fast)
            t0 = time.time()
            for _ in range(5):
                self.m.customer()
            # The fast endpoint has all five while the tarpit still holds its POSTs.
            self.assertTrue(self.wait(lambda: len(fast.got) == 5, timeout=20))
            self.assertLess(max(t for t, _ in fast.got) - t0, 10)
            # Another site's billing runs meanwhile: a renewal falls due and is made.
            plan = self.ok(other.post("/plans", {"id": "p", "name": "P", "amount": 100,
                                                 "currency": "USD", "interval": "day"}))
            c = other.customer()
            tok = self.ok(other.post("/test_gateway/tokens", {
                "number": "4242424242424242", "exp_month": 12, "exp_year": 2099}))
            self.ok(other.post("/customers/%s/payment_methods" % c["id"],
                               {"token": tok["id"]}))
            sub = self.ok(other.post("/subscriptions", {"customer_id": c["id"],
                                                        "plan_id": plan["id"]}))
            t1 = time.time()
            self.ok(other.post("/time_machine/travel_forward",
                               {"destination_time": sub["current_term_end"] + 1}))
            self.assertTrue(self.wait(lambda: len(self.ok(other.get(
                "/invoices?subscription_id=" + sub["id"]))["data"]) == 2, timeout=20))
            self.assertLess(time.time() - t1, 10)
        finally:
            slow.close()
            fast.close()

    def test_first_attempts_go_out_in_sequence_order(self):
        rx = SlowReceiver(delay=0.05)
        try:
            self.hook(rx, ("customer.created", "customer.updated"))
            ids = []
            for i in range(6):
                c = self.m.customer(name="n%d" % i)
                self.ok(self.m.post("/customers/" + c["id"], {"name": "m%d" % i}))
                ids.append(c["id"])
            self.assertInSequence(rx, 12)
        finally:
            rx.close()

    def test_first_attempts_a_previous_release_wrote_keep_their_order(self):
        """During a rolling upgrade the previous release writes deliveries without their
        event's sequence number: mixed with this release's, all still go out in order."""
        rx = SlowReceiver(delay=0.05)
        try:
            ep = self.hook(rx, ("customer.created",))
            where = "site_id = '%s' AND endpoint_id = '%s'" % (self.m.site_id, ep["id"])
            self.hold(ep, self.now() + 10 ** 6)
            for i in range(8):
                self.m.customer(name="n%d" % i)
            self.s.psql("UPDATE webhook_deliveries d SET event_seq = NULL FROM events e "
                        "WHERE d.%s AND e.site_id = d.site_id AND e.id = d.event_id AND "
                        "e.seq %% 2 = 0" % where.replace(" AND ", " AND d."))
            self.assertEqual(self.s.psql("SELECT count(*) FILTER (WHERE event_seq IS NULL) "
                                         "> 0, count(*) FILTER (WHERE event_seq IS NOT "
                                         "NULL) > 0 FROM webhook_deliveries WHERE " + where),
                             [["t", "t"]])
            self.hold(ep, None)
            self.assertInSequence(rx, 8)
        finally:
            rx.close()

    def test_a_claim_reads_the_same_few_rows_however_long_the_backlog(self):
        """An endpoint with thousands of first attempts waiting (it was slow, or down and
        now out of backoff): the delivery lane's claim finds its next one by a probe,
        not by reading every one waiting, each one's event or the site's deliveries, and
        its earliest retry due likewise; also when the backlog grew after the tables were
        last analysed, and when pending deliveries look rare beside a long history."""
        m = self.s.new_site("claim")
        rx = SlowReceiver()
        self.addCleanup(rx.close)
        ep = self.hook(rx, ("customer.updated",), site=m)
        # Its backlog goes with the test: it would count as job lag for later ones.
        self.addCleanup(self.s.psql, "DELETE FROM webhook_deliveries WHERE site_id = '%s'"
                        % m.site_id)
        now = self.ok(m.get("/time_machine"))["now"]
        # Out of the real lane's reach (in backoff on the site's clock); the claim below
        # runs later on that clock, when the backoff is over.
        self.hold(ep, now + 10 ** 6, site=m)
        sql = {st["name"]: st["sql"] for st in json.loads(subprocess.run(
            [os.path.join(self.s.bin_dir, "portalctl"), "stmts"], capture_output=True,
            text=True, check=True).stdout)}

        def psql_file(path):
            r = self.s.sh('as_pg "$PG_BIN/psql" -h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" '
                          '-U postgres -d portald -tAq -v ON_ERROR_STOP=1 -f ' + path,
                          check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout

        def claim_reads(plan_mode="force_custom_plan"):
            """Rows the claim reads from deliveries and events, in a transaction rolled
            back (EXPLAIN ANALYZE runs it), and the plan. The runner's prepared statement
            may run a generic plan after its fifth execution: plan_mode says which."""
            path = os.path.join(self.s.state, "claim.sql")
            with open(path, "w") as f:
                f.write("SET plan_cache_mode = %s;\nPREPARE claim AS %s;\nBEGIN;\n"
                        "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim('%s', %d, 10, %d);\n"
                        "ROLLBACK;\n"
                        % (plan_mode, sql["deliv_claim_due"], m.site_id, now + 2 * 10 ** 6,
                           int(time.time())))
            os.chmod(path, 0o644)
            out = psql_file(path)
            plan = json.loads(out[out.index("["):out.rindex("]") + 1])
            reads = {"webhook_deliveries": 0, "events": 0}
            scans = []

            def walk(node):
                if node.get("Relation Name") in reads and "Scan" in node["Node Type"]:
                    n = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * \
                        node["Actual Loops"]
                    reads[node["Relation Name"]] += n
                    scans.append("%s %s %s: %d" % (node["Node Type"], node.get("Index Name"),
                                                   node["Alias"], n))
                for child in node.get("Plans", []):
                    walk(child)
            walk(plan[0]["Plan"])
            return reads, scans

        def backlog(n, site=m):
            """n more customer.updated events for the site's endpoint, written as a job
            runner's batch writes them (STMT_EVENT_INSERT_MANY, with their deliveries)."""
            path = os.path.join(self.s.state, "backlog.sql")
            with open(path, "w") as f:
                f.write("PREPARE ins AS %s;\nSELECT json_agg(json_build_object('i', 'evt_' "
                        "|| md5(random()::text), 't', 'customer.updated', 'o', 'cus_x', 'c', "
                        "%d, 'a', 'job_runner', 'u', NULL, 'd', '{}'::json))::text AS j "
                        "FROM generate_series(1, %d) \\gset\nEXECUTE ins('%s', :'j');\n"
                        % (sql["event_insert_many"], now, n, site.site_id))
            os.chmod(path, 0o644)
            psql_file(path)

        # Another site's history, delivered long ago: in the statistics, pending
        # deliveries are rare, so the site's pending ones look like the cheapest way to
        # find anything (as in a long-running database, or a test suite's).
        old = self.s.new_site("claim-history")
        old_ep = self.hook(rx, ("customer.updated",), site=old)
        self.addCleanup(self.s.psql, "DELETE FROM webhook_deliveries WHERE site_id = '%s'"
                        % old.site_id)
        self.hold(old_ep, now + 10 ** 6, site=old)
        backlog(5000, site=old)
        self.s.psql("UPDATE webhook_deliveries SET status = 'succeeded', attempts = 1, "
                    "next_attempt_at = NULL, event_seq = NULL "
                    "WHERE site_id = '%s'" % old.site_id)
        # Statistics stay as the test makes them: autovacuum's ANALYZE of its own
        # (7,000 rows change below) would turn the stale case into a fresh one.
        for t in ("events", "webhook_deliveries"):
            self.s.psql("ALTER TABLE %s SET (autovacuum_enabled = false)" % t)
            self.addCleanup(self.s.psql, "ALTER TABLE %s RESET (autovacuum_enabled)" % t)
        backlog(20)
        self.s.psql("ANALYZE events")
        self.s.psql("ANALYZE webhook_deliveries")
        small = claim_reads()
        # The backlog grows after the last ANALYZE (the planner thinks the site has 20),
        # then the tables are analysed again: the same few rows both times. Of the new
        # ones, 2,000 failed once and are retries not due yet (an endpoint back from an
        # outage): its earliest retry due is one probe, not a read of them all.
        backlog(5000)
        self.s.psql("UPDATE webhook_deliveries SET attempts = 1, next_attempt_at = %d "
                    "WHERE site_id = '%s' AND id IN (SELECT id FROM webhook_deliveries "
                    "WHERE site_id = '%s' ORDER BY event_seq DESC LIMIT 2000)"
                    % (now + 10 ** 7, m.site_id, m.site_id))
        stale, plan = claim_reads()
        stale_generic, plan3 = claim_reads("force_generic_plan")
        self.s.psql("ANALYZE events")
        self.s.psql("ANALYZE webhook_deliveries")
        fresh, plan2 = claim_reads()
        fresh_generic, plan4 = claim_reads("force_generic_plan")
        self.assertEqual(self.s.psql(
            "SELECT count(*) FROM webhook_deliveries WHERE site_id = '%s' AND attempts = 0 "
            "AND status = 'pending'" % m.site_id), [["3020"]])
        self.assertEqual(self.s.psql(
            "SELECT count(*) FROM webhook_deliveries WHERE site_id = '%s' AND attempts > 0 "
            "AND status = 'pending'" % m.site_id), [["2000"]])
        # One head per endpoint and kind of attempt: not thousands.
        # (With 20, a scan of the table's one page may be the cheaper plan.)
        for got, p in ((stale, plan), (fresh, plan2), (stale_generic, plan3),
                       (fresh_generic, plan4)):
            self.assertLessEqual(got["events"], 2, (small, got, p))
            self.assertLessEqual(got["webhook_deliveries"], 4, (small, got, p))

    def test_a_delivery_has_a_next_attempt_time_exactly_while_it_is_pending(self):
        """The claim finds waiting deliveries by their next attempt time (022): a pending
        one without it, or a finished one with it, is refused, not lost."""
        rx = SlowReceiver()
        self.addCleanup(rx.close)
        ep = self.hook(rx)
        self.hold(ep, self.now() + 10 ** 6)
        self.m.customer()
        where = "site_id = '%s' AND endpoint_id = '%s'" % (self.m.site_id, ep["id"])
        self.assertEqual(self.s.psql("SELECT status, next_attempt_at IS NOT NULL FROM "
                                     "webhook_deliveries WHERE " + where), [["pending", "t"]])
        for change in ("next_attempt_at = NULL", "status = 'succeeded'"):
            with self.assertRaises(subprocess.CalledProcessError) as cm:
                self.s.psql("UPDATE webhook_deliveries SET %s WHERE %s" % (change, where))
            self.assertIn("webhook_deliveries_next_attempt", cm.exception.stderr)
        self.s.psql("UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = "
                    "NULL WHERE " + where)

    def test_a_delivery_that_cannot_be_prepared_is_a_failed_attempt(self):
        """Its endpoint's signing secret does not open (the server's secrets key was
        replaced, say): the delivery is recorded as a failed attempt and backs off like
        any other, not leased again every minute for ever with its endpoint's later
        events waiting behind it."""
        rx = SlowReceiver()
        self.addCleanup(rx.close)
        ep = self.hook(rx)
        where = "site_id = '%s' AND endpoint_id = '%s'" % (self.m.site_id, ep["id"])
        self.addCleanup(self.s.psql, "DELETE FROM webhook_endpoints WHERE site_id = '%s' "
                        "AND id = '%s'" % (self.m.site_id, ep["id"]))
        # Sealed as before, under a key id this server does not have (v1.<key id>.<box>).
        key = "site_id = '%s' AND id = '%s'" % (self.m.site_id, ep["id"])
        sealed = self.s.psql("SELECT secret FROM webhook_endpoints WHERE " + key)[0][0]
        self.assertTrue(sealed.startswith("v1.") and sealed.split(".")[1] != "ffffffff")
        self.s.psql("UPDATE webhook_endpoints SET secret = 'v1.ffffffff.' || "
                    "split_part(secret, '.', 3) WHERE " + key)
        self.m.customer()
        self.assertTrue(self.wait(lambda: self.s.psql(
            "SELECT attempts FROM webhook_deliveries WHERE " + where) == [["1"]]))
        row = self.s.psql("SELECT status, next_attempt_at > %d, last_error, lease_until "
                          "FROM webhook_deliveries WHERE %s" % (self.now(), where))
        self.assertEqual(row[0][:2], ["pending", "t"], row)
        self.assertIn("could not be prepared: its signing secret does not open", row[0][2])
        self.assertEqual(row[0][3], "", row)
        self.assertEqual(self.s.psql("SELECT count(*) FROM webhook_attempts WHERE site_id "
                                     "= '%s' AND error LIKE '%%could not be prepared%%'"
                                     % self.m.site_id), [["1"]])
        self.assertEqual(rx.got, [])

    def test_a_failing_delivery_does_not_hold_back_later_events(self):
        rx = SlowReceiver(fail_first=1)
        try:
            self.hook(rx)
            first = self.m.customer()
            self.assertTrue(self.wait(lambda: len(rx.got) >= 1))
            later = [self.m.customer() for _ in range(3)]
            self.assertTrue(self.wait(lambda: len(rx.got) >= 4))
            delivered = [e["data"]["id"] for _, e in rx.got[1:4]]
            self.assertEqual(sorted(delivered), sorted(c["id"] for c in later))
            self.assertNotIn(first["id"], delivered)
        finally:
            rx.close()

    def test_an_endpoint_that_keeps_failing_backs_off(self):
        rx = SlowReceiver(status=503)
        try:
            ep = self.hook(rx)
            for _ in range(5):
                self.m.customer()
            self.assertTrue(self.wait(lambda: len(rx.got) >= 3))
            time.sleep(1.5)
            rows = self.s.psql("SELECT failures, backoff_until IS NOT NULL FROM "
                               "webhook_endpoints WHERE site_id = '%s' AND id = '%s'"
                               % (self.m.site_id, ep["id"]))
            self.assertGreaterEqual(int(rows[0][0]), 3)
            self.assertEqual(rows[0][1], "t")
            # In backoff, the remaining first attempts wait: fewer than five arrived.
            self.assertLess(len(rx.got), 5)
            # A success clears it.
            rx.status = 200
            self.ok(self.m.post("/time_machine/travel_forward", {"seconds": 3 * 3600}))
            self.assertTrue(self.wait(lambda: self.s.psql(
                "SELECT failures FROM webhook_endpoints WHERE site_id = '%s' AND id = '%s'"
                % (self.m.site_id, ep["id"]))[0][0] == "0"))
        finally:
            rx.close()

    def test_signing_secrets_are_kept_sealed(self):
        rx = SlowReceiver()
        try:
            ep = self.hook(rx)
            stored = self.s.psql("SELECT secret FROM webhook_endpoints WHERE site_id = '%s' "
                                 "AND id = '%s'" % (self.m.site_id, ep["id"]))[0][0]
            self.assertTrue(stored.startswith("v1."), stored[:10])
            self.assertNotIn(ep["secret"], stored)
            self.assertNotIn(ep["secret"], self.s.log_text())
            self.m.customer()
            self.assertTrue(self.wait(lambda: rx.got))
        finally:
            rx.close()


if __name__ == "__main__":
    unittest.main()
