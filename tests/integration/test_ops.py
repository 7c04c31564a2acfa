"""test_ops.py: the process model and operations: database outage and recovery, worker
crash and respawn, reload, socket ownership, logs without secrets, schema rules."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import Browser, key_secret, stack

TENANT_TABLES = {"customers", "portal_sessions", "idempotency_keys", "site_counters", "plans",
                 "test_gateway_tokens", "payment_methods", "subscriptions", "invoices",
                 "invoice_lines", "payment_attempts", "events", "webhook_endpoints",
                 "webhook_deliveries", "webhook_attempts", "plan_features",
                 "subscription_history", "credit_entries", "test_gateway_charges",
                 "mail_outbox", "mail_links", "mail_settings", "portal_rate_limits",
                 "portal_password_failures", "portal_accounts", "portal_management_links",
                 "site_legal_details", "tax_rates", "invoice_taxes", "credit_notes",
                 "credit_note_lines", "credit_note_taxes", "documents",
                 "site_gateways", "gateway_customers", "gateway_setups", "gateway_events",
                 "portal_configurations", "portal_logos", "portal_form_submissions"}
GLOBAL_TABLES = {"sites", "api_keys", "schema_migrations"}
# Statements that read every site by design, each tenant table only through a per-site
# correlated "site_id = st.id" (one index probe per site, no join across sites).
CROSS_SITE_STATEMENTS = {"health",       # /healthz: the job runner's lag over all sites
                         "deliv_sites",  # the delivery engine: sites with deliveries waiting
                         "billing_behind"}  # the documents lane: is any site's billing behind


class Resilience(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("ops")
        self.cus = self.m.customer(email="r@example.com")

    def test_health_endpoint(self):
        r = self.s.request("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "ok")

    def test_database_outage_gives_503_then_recovers(self):
        master = self.s.master_pid()
        workers = self.s.worker_pids()
        results = []
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    r = self.m.get("/customers/" + self.cus["id"])
                    results.append(r.status)
                except Exception as e:  # a hang or reset would show up here
                    results.append(repr(e))
                time.sleep(0.02)

        t = threading.Thread(target=hammer)
        t.start()
        try:
            time.sleep(0.3)
            self.s.pg_stop()
            time.sleep(0.5)
            down = self.m.get("/customers/" + self.cus["id"])
            self.assertEqual(down.status, 503)
            self.assertEqual(down.json["error"]["code"], "database_unavailable")
            self.assertEqual(self.m.post("/customers", {"name": "x"}).status, 503)
            self.assertEqual(Browser(self.s).get("/portal/%s/access/%s.y.%s" % (
                self.m.site_id, self.m.site_id, "a" * 43)).status, 503)
            hz = self.s.request("GET", "/healthz")
            self.assertEqual(hz.status, 503)
            self.assertEqual(hz.json["database"], "unreachable")
            self.s.pg_start()
            time.sleep(0.3)
        finally:
            stop.set()
            t.join()
        up = self.m.get("/customers/" + self.cus["id"])
        self.assertEqual(up.status, 200, self.s.tail_logs())
        self.assertEqual(up.json["email"], "r@example.com")
        self.assertEqual(self.s.master_pid(), master)
        self.assertEqual(self.s.worker_pids(), workers, "no worker crashed")
        bad = [x for x in results if x not in (200, 503)]
        self.assertEqual(bad, [], "only 200 or 503 while the database was away")
        self.assertIn(503, results)
        self.assertEqual(results[-1], 200)
        # Writes work again too.
        self.assertEqual(self.m.post("/customers", {"name": "after"}).status, 200)

    def test_a_connection_lost_inside_a_transaction_writes_nothing_after_it(self):
        # The customer.created event's insert sleeps while the customer's row is in the
        # same transaction, and the test ends that server process meanwhile: the
        # transaction is gone. The request must fail whole (503, nothing written), not
        # carry on, on a new connection, with the statements after the loss.
        email = "lost-%s@example.com" % os.urandom(3).hex()
        fn = "t_lost_" + os.urandom(4).hex()
        self.s.psql(
            "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN "
            "IF NEW.type = ''customer.created'' AND EXISTS (SELECT 1 FROM customers "
            "WHERE site_id = NEW.site_id AND id = NEW.object_id AND email = ''%s'') "
            "THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END'; "
            "CREATE TRIGGER %s BEFORE INSERT ON events FOR EACH ROW "
            "EXECUTE FUNCTION %s()" % (fn, email, fn, fn))
        try:
            out = {}
            t = threading.Thread(target=lambda: out.update(
                r=self.m.post("/customers", {"email": email})))
            t.start()
            deadline = time.time() + 10
            killed = []
            while not killed and time.time() < deadline:
                killed = self.s.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE wait_event = 'PgSleep' AND query LIKE '%events%'")
                time.sleep(0.05)
            t.join(timeout=30)
        finally:
            self.s.psql("DROP TRIGGER %s ON events; DROP FUNCTION %s()" % (fn, fn))
        self.assertTrue(killed, "the insert never slept")
        r = out["r"]
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"]["code"], "database_unavailable")
        self.assertEqual(self.s.psql("SELECT count(*) FROM customers WHERE email = '%s'" % email),
                         [["0"]])
        self.assertEqual(self.s.psql(
            "SELECT count(*) FROM events e WHERE e.site_id = '%s' AND e.type = "
            "'customer.created' AND NOT EXISTS (SELECT 1 FROM customers c WHERE "
            "c.site_id = e.site_id AND c.id = e.object_id)" % self.m.site_id), [["0"]])
        # The worker carries on with a fresh connection.
        self.assertEqual(self.m.post("/customers", {"email": email}).status, 200)

    def test_killed_worker_is_respawned(self):
        before = self.s.worker_pids()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(20):
            self.assertEqual(self.m.get("/customers/" + self.cus["id"]).status, 200)
        after = self.s.wait_workers(len(before), exclude=(victim,))
        self.assertNotIn(victim, after)
        self.assertEqual(len(after), len(before))
        self.assertIn("killed by signal 9", self.s.log_text())

    def test_sighup_replaces_workers_without_downtime(self):
        before = set(self.s.worker_pids())
        os.kill(self.s.master_pid(), signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            self.assertEqual(self.m.get("/customers/" + self.cus["id"]).status, 200)
            now = set(self.s.worker_pids())
            if now and not (now & before) and len(now) == len(before):
                break
            time.sleep(0.1)
        now = set(self.s.worker_pids())
        self.assertFalse(now & before, "old workers replaced")
        self.assertEqual(len(now), len(before))

    def test_second_instance_does_not_steal_socket(self):
        conf = os.path.join(self.s.state, "portald.conf")
        r = subprocess.run([os.path.join(self.s.bin_dir, "portald"), "--config", conf],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another portald is listening", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.s.state, "run", "portald.sock")))
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).status, 200)

    def test_invalid_config_is_refused_with_message(self):
        bad = os.path.join(self.s.state, "bad.conf")
        with open(bad, "w") as f:
            f.write("[server]\nworkers = many\n")
        r = subprocess.run([os.path.join(self.s.bin_dir, "portald"), "--config", bad],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("workers", r.stderr)

    def test_logs_hold_no_tokens_or_keys(self):
        sess = self.m.session(self.cus["id"])
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        last = b.get("/portal/" + self.m.site_id)
        self.s.wait_logged(last.header("x-request-id"))
        logs = self.s.log_text()
        self.assertNotIn(sess["token"].rsplit(".", 1)[1], logs)
        self.assertNotIn(key_secret(self.m.key), logs)
        self.assertNotIn(b.cookies["__Host-portald_" + self.m.site_id].rsplit(".", 1)[1], logs)
        self.assertIn("/portal/:site/access/:token", logs)

    def test_one_line_per_request_with_request_id(self):
        r = self.m.get("/customers/" + self.cus["id"])
        rid = r.header("x-request-id")
        self.s.wait_logged(rid, names=("portald.log",), timeout=2)
        lines = [l for l in open(os.path.join(self.s.state, "portald.log")) if rid in l]
        self.assertEqual(len(lines), 1)
        self.assertRegex(lines[0], r"^ts=\S+ level=info pid=\d+ method=GET "
                         r"path=/api/v1/customers/\S+ status=200 duration_ms=[0-9.]+ "
                         r"request_id=" + rid + r" stmts=\d+ stmt_trace=[0-9a-f]{8}$")

    def test_migrate_is_idempotent(self):
        out = self.s.portalctl("migrate")
        self.assertEqual(out, {"migrations_applied": 0})


class Schema(unittest.TestCase):
    """The sharding rules of DESIGN.md, checked against the catalog and statement table."""

    def setUp(self):
        self.s = stack()

    def test_every_table_is_classified(self):
        rows = self.s.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = {r[0] for r in rows}
        self.assertEqual(tables - TENANT_TABLES - GLOBAL_TABLES, set(),
                         "new tables must be declared tenant or global here")

    def test_tenant_primary_keys_lead_with_site_id(self):
        for t in TENANT_TABLES:
            rows = self.s.psql(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = i.indkey[0] WHERE i.indisprimary AND i.indrelid = '%s'::regclass"
                % t)
            self.assertEqual(rows, [["site_id"]], t)

    def test_tenant_unique_indexes_include_site_id(self):
        rows = self.s.psql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid WHERE i.indisunique "
            "AND c.relname IN (%s)" % ",".join("'%s'" % t for t in sorted(TENANT_TABLES)))
        for table, idx in rows:
            self.assertIn("(site_id", idx, idx)

    def test_foreign_keys_between_tenant_tables_include_site_id(self):
        rows = self.s.psql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text, "
            "pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'")
        checked = 0
        for src, dst, definition in rows:
            if src in TENANT_TABLES and dst in TENANT_TABLES:
                m = re.match(r"FOREIGN KEY \(([^)]*)\) REFERENCES \w+\(([^)]*)\)", definition)
                self.assertTrue(m, definition)
                self.assertEqual(m.group(1).split(",")[0].strip(), "site_id", definition)
                self.assertEqual(m.group(2).split(",")[0].strip(), "site_id", definition)
                checked += 1
            elif src in TENANT_TABLES:
                self.assertIn(dst, GLOBAL_TABLES, definition)
        self.assertGreater(checked, 0)

    def test_every_statement_on_tenant_tables_filters_by_site(self):
        out = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "stmts"],
                             capture_output=True, text=True, check=True)
        stmts = json.loads(out.stdout)
        self.assertGreater(len(stmts), 10)
        for st in stmts:
            sql = st["sql"]
            touches = [t for t in TENANT_TABLES if re.search(r"\b%s\b" % t, sql)]
            if not touches:
                continue
            if st["name"] in CROSS_SITE_STATEMENTS:
                for t in touches:
                    for m in re.finditer(r"\bFROM %s WHERE (.*?)(\)|$)" % t, sql):
                        self.assertTrue(m.group(1).startswith("site_id = st.id"), st["name"])
                self.assertNotIn("JOIN", sql.replace("CROSS JOIN LATERAL", ""), st["name"])
                continue
            # Each tenant table reference is scoped to $1 (the site) by a site_id clause,
            # an INSERT of $1 into site_id, or a join on site_id to a scoped table.
            self.assertRegex(sql, r"site_id = \$1|VALUES \(\$1|SELECT \$1", st["name"])
            for t in touches:
                for m in re.finditer(r"\bJOIN %s (\w+) ON ([^J]*)" % t, sql):
                    self.assertIn("%s.site_id = " % m.group(1), m.group(2), st["name"])


if __name__ == "__main__":
    unittest.main()


class ProcessModel(unittest.TestCase):
    """A second portald of its own (same database, own socket), spoken to in FastCGI."""

    def setUp(self):
        self.s = stack()
        self.dir = os.path.join(self.s.state, "pm-%s" % os.urandom(3).hex())
        os.makedirs(self.dir)

    def config(self, socket_line, workers=1):
        src = open(os.path.join(self.s.state, "portald.conf")).read()
        conf = re.sub(r"(?m)^socket = .*$", socket_line, src)
        conf = re.sub(r"(?m)^workers = .*$", "workers = %d" % workers, conf)
        conf += "\n[jobs]\nenabled = false\n"
        path = os.path.join(self.dir, "portald.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def request(self, sock_path, path="/healthz", hold=None):
        import socket as so
        from harness import FCGI_BEGIN, FCGI_STDIN_END, fcgi_params, fcgi_read_stdout
        c = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        c.connect(sock_path)
        params = fcgi_params({"REQUEST_METHOD": "GET", "REQUEST_URI": path,
                              "REMOTE_ADDR": "127.0.0.1"})
        c.sendall(FCGI_BEGIN + params[:20])
        if hold:
            hold()          # the worker has accepted and is reading the parameters
        c.sendall(params[20:] + FCGI_STDIN_END)
        out = fcgi_read_stdout(c)
        c.close()
        return out

    def wait_socket(self, path, proc):
        for _ in range(100):
            if os.path.exists(path):
                return
            if proc.poll() is not None:   # read stderr only once it has ended
                self.fail("portald exited: " + proc.stderr.read().decode(errors="replace"))
            time.sleep(0.05)
        self.fail("no socket at " + path)

    def test_sigterm_lets_the_request_in_flight_finish(self):
        sock = os.path.join(self.dir, "p.sock")
        proc = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config",
                                 self.config("socket = " + sock)], stderr=subprocess.PIPE)
        try:
            self.wait_socket(sock, proc)
            # A whole request first: then a worker is known to be connected and accepting
            # (a fixed pause could end while it still prepares its statements).
            self.assertIn(b"Status: 200", self.request(sock))

            def stop_now():
                time.sleep(0.2)
                proc.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                self.assertIsNone(proc.poll(), "portald left before the request was done")

            out = self.request(sock, hold=stop_now)
            self.assertIn(b"Status: 200", out)
            self.assertIn(b'{"status":"ok"', out)
            self.assertEqual(proc.wait(timeout=15), 0)
            self.assertFalse(os.path.exists(sock), "the socket it created is removed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_request_lines_buffered_by_workers_survive_a_clean_stop(self):
        sock = os.path.join(self.dir, "log.sock")
        log = os.path.join(self.dir, "portald.log")
        with open(log, "ab") as err:
            proc = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config",
                                     self.config("socket = " + sock, workers=2)], stderr=err)
        try:
            self.wait_socket(sock, proc)
            for i in range(30):
                self.assertIn(b"Status: 200", self.request(sock, "/healthz?n=%d" % i))
            # At once: the last lines are still in the workers' buffers.
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = [l for l in open(log) if "method=GET path=/healthz " in l]
        self.assertEqual(len(lines), 30, "every request line reached the log")

    def test_inherited_socket_on_fd0(self):
        import socket as so
        path = os.path.join(self.dir, "inherited.sock")
        ls = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        ls.bind(path)
        ls.listen(16)
        proc = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config",
                                 self.config("socket = inherit")], stdin=ls.fileno(),
                                stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            self.assertIsNone(proc.poll())
            self.assertIn(b"Status: 200", self.request(path))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=15), 0)
            self.assertTrue(os.path.exists(path), "an inherited socket is not ours to unlink")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            ls.close()

    def test_inherited_socket_from_systemd_listen_fds(self):
        import socket as so
        path = os.path.join(self.dir, "systemd.sock")
        ls = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        ls.bind(path)
        ls.listen(16)
        os.set_inheritable(ls.fileno(), True)
        # systemd hands the socket over as fd 3 and names the receiving pid.
        script = 'exec 3<&%d; export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" --config "$1"' % ls.fileno()
        proc = subprocess.Popen(["bash", "-c", script, os.path.join(self.s.bin_dir, "portald"),
                                 self.config("socket = inherit")], pass_fds=(ls.fileno(),),
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            self.assertIsNone(proc.poll())
            self.assertIn(b"Status: 200", self.request(path))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            ls.close()

    def test_stale_socket_is_replaced_but_a_file_is_not_touched(self):
        import socket as so
        stale = os.path.join(self.dir, "stale.sock")
        s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        s.bind(stale)
        s.close()           # a socket file nobody listens on
        proc = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config",
                                 self.config("socket = " + stale)], stderr=subprocess.PIPE)
        try:
            self.wait_socket(stale, proc)
            time.sleep(0.3)
            self.assertIn(b"Status: 200", self.request(stale))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        regular = os.path.join(self.dir, "regular.sock")
        with open(regular, "w") as f:
            f.write("keep me")
        r = subprocess.run([os.path.join(self.s.bin_dir, "portald"), "--config",
                            self.config("socket = " + regular)], capture_output=True, text=True,
                           timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a socket", r.stderr)
        self.assertEqual(open(regular).read(), "keep me")
