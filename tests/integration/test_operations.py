"""test_operations.py: what an operator relies on: /healthz (database, schema, job runner
lag, nothing leaked), portalctl check and migrate --status, key=value logs, and a request
id in the response header, the access log and every error envelope, nginx's own too."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import own_stack, stack, stop_own_stack

GOOD = "4242424242424242"
KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def kv(line):
    """Parses a key=value log line into a dict (quoted values unescaped)."""
    out = {}
    for k, v in KV.findall(line):
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[k] = v
    return out


def portalctl_raw(s, *args):
    return subprocess.run([os.path.join(s.bin_dir, "portalctl"), "--config",
                           os.path.join(s.state, "portald.conf")] + list(args),
                          capture_output=True, text=True, timeout=60)


def tearDownModule():
    stop_own_stack("operations")


class Health(unittest.TestCase):
    def setUp(self):
        self.s = stack()

    def health(self):
        r = self.s.request("GET", "/healthz")
        return r.status, r.json, r

    def test_healthy_answer_names_each_check_and_nothing_else(self):
        m = self.s.new_site("hz")
        status, body, r = self.health()
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"status", "database", "schema", "jobs", "jobs_lag_seconds"})
        self.assertEqual((body["status"], body["database"], body["schema"]),
                         ("ok", "ok", "current"))
        self.assertIsInstance(body["jobs_lag_seconds"], int)
        self.assertIn("no-store", r.header("cache-control"))
        # Nothing about versions, hosts or sites.
        text = r.body.decode()
        self.assertNotIn(m.site_id, text)
        self.assertNotIn("0.1", text)
        self.assertNotIn(os.uname().nodename, text)
        self.assertNotIn("portald", text.lower())

    def test_lag_counts_a_due_item_no_runner_could_take(self):
        # /healthz's runner lag is the oldest due item of every site, and the shared stack
        # holds other tests' sites, some with a renewal that keeps failing on purpose.
        self.s = own_stack("operations")
        m = self.s.new_site("lag")
        ok = lambda r: (self.assertEqual(r.status, 200, r), r.json)[1]
        ok(m.post("/plans", {"id": "p", "name": "P", "amount": 500, "currency": "USD",
                             "interval": "month", "interval_count": 1}))
        cus = m.customer(email="lag@example.com")
        tok = ok(m.post("/test_gateway/tokens", {"number": GOOD, "exp_month": 12,
                                                 "exp_year": 2099}))
        ok(m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]}))
        sub = ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "p"}))
        # Another "runner" holds the subscription's row, as a stuck one would: the real
        # runner skips it (SKIP LOCKED), so it stays due while the site's clock moves on.
        holder = subprocess.Popen(
            ["bash", "-c", '. "$STACK_ROOT/tools/stacklib.sh"; as_pg "$PG_BIN/psql" -q '
             '-h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" -U postgres -d portald -c '
             '"BEGIN; SELECT 1 FROM subscriptions WHERE site_id = \'%s\' AND id = \'%s\' '
             'FOR UPDATE; SELECT pg_sleep(4); COMMIT;"' % (m.site_id, sub["id"])],
            env=self.s._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # The holder has the row once it sleeps (a fixed head start could be too short
            # on a busy box, and the runner would renew first).
            self.s.wait_psql("SELECT count(*) FROM pg_stat_activity WHERE "
                             "wait_event = 'PgSleep'", [["1"]], "the holder never took the row")
            ok(m.post("/time_machine/travel_forward",
                      {"destination_time": sub["current_term_end"] + 10 * 86400}))
            time.sleep(0.5)
            status, body, _ = self.health()
            self.assertEqual(status, 200, "runner lag does not take a web host out")
            self.assertGreaterEqual(body["jobs_lag_seconds"], 10 * 86400)
            self.assertEqual(body["jobs"], "lagging")
        finally:
            holder.wait(timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            _, body, _ = self.health()
            if body["jobs_lag_seconds"] < 300:
                break
            time.sleep(0.2)
        self.assertLess(body["jobs_lag_seconds"], 300, "the runner caught up once released")
        self.assertEqual(body["jobs"], "ok")

    def test_schema_behind_is_503_and_check_fails(self):
        row = self.s.psql("SELECT version, name, applied_at FROM schema_migrations "
                          "ORDER BY version DESC LIMIT 1")[0]
        self.s.psql("DELETE FROM schema_migrations WHERE version = %s" % row[0])
        try:
            status, body, r = self.health()
            self.assertEqual(status, 503)
            self.assertEqual(body["schema"], "behind")
            self.assertEqual(body["database"], "ok")
            st = self.s.portalctl("migrate", "--status")
            self.assertEqual(st["pending"], 1)
            self.assertFalse(st["current"])
            pending = [x for x in st["migrations"] if x["status"] == "pending"]
            self.assertEqual([x["version"] for x in pending], [int(row[0])])
            chk = portalctl_raw(self.s, "check")
            self.assertEqual(chk.returncode, 1)
            self.assertRegex(chk.stdout, r"(?m)^FAIL\s+schema\s+1 of \d+ migrations pending")
        finally:
            self.s.psql("INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (%s, '%s', '%s')" % tuple(row))
        self.assertEqual(self.health()[0], 200)

    def test_a_version_only_a_newer_release_knows_is_fine(self):
        self.s.psql("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_next.sql')")
        try:
            self.assertEqual(self.health()[0], 200)
            st = self.s.portalctl("migrate", "--status")
            self.assertTrue(st["current"])
            self.assertEqual(st["newer_applied"], 1)
        finally:
            self.s.psql("DELETE FROM schema_migrations WHERE version = 9999")


class Migrations(unittest.TestCase):
    """portalctl migrate on a database someone else touched: a number applied as another
    file, a table's lock held by a long transaction."""

    def setUp(self):
        self.s = stack()

    def last(self):
        return self.s.psql("SELECT version, name FROM schema_migrations "
                           "ORDER BY version DESC LIMIT 1")[0]

    def test_a_number_applied_as_another_file_is_refused_and_reported(self):
        version, name = self.last()
        other = "%03d_from_another_branch.sql" % int(version)
        # The one before it pending: every name is checked before anything is applied.
        before = self.s.psql("SELECT version, name, applied_at FROM schema_migrations "
                             "WHERE version < %s ORDER BY version DESC LIMIT 1" % version)[0]
        self.s.psql("DELETE FROM schema_migrations WHERE version = %s" % before[0])
        self.s.psql("UPDATE schema_migrations SET name = '%s' WHERE version = %s"
                    % (other, version))
        try:
            r = portalctl_raw(self.s, "migrate")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("migration %s was applied as '%s', but this build's is '%s': the "
                          "database was migrated by another build of portald; nothing was "
                          "applied" % (version, other, name), r.stderr)
            st = self.s.portalctl("migrate", "--status")
            row = [x for x in st["migrations"] if x["version"] == int(version)][0]
            self.assertEqual((row["status"], row["applied_as"]), ("conflict", other))
            self.assertEqual((st["conflicts"], st["pending"], st["current"]), (1, 1, False))
            self.assertEqual(self.s.psql("SELECT count(*) FROM schema_migrations WHERE "
                                         "version = %s" % before[0]), [["0"]],
                             "the pending migration before the conflict was applied")
            chk = portalctl_raw(self.s, "check")
            self.assertEqual(chk.returncode, 1)
            self.assertRegex(chk.stdout, r"(?m)^FAIL\s+schema\s+migration %s was applied as "
                             "%s" % (version, re.escape(other)))
            # /healthz takes the host out: "behind" while one is pending, then "conflict".
            self.assertEqual(Health.health(self)[1]["schema"], "behind")
            self.s.psql("INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (%s, '%s', '%s')" % tuple(before))
            status, body, _ = Health.health(self)
            self.assertEqual((status, body["schema"], body["status"]),
                             (503, "conflict", "unavailable"))
        finally:
            self.s.psql("UPDATE schema_migrations SET name = '%s' WHERE version = %s"
                        % (name, version))
            self.s.psql("INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (%s, '%s', '%s') ON CONFLICT DO NOTHING" % tuple(before))
        self.assertEqual(self.s.portalctl("migrate"), {"migrations_applied": 0})
        self.assertTrue(self.s.portalctl("migrate", "--status")["current"])

    def test_a_migration_waiting_for_a_lock_gives_up_in_time_and_applies_later(self):
        # 026 drops events_id_seq: made again and its row removed, it is pending and needs
        # the events table's ACCESS EXCLUSIVE lock for a moment.
        mig = "026_event_seq_by_key.sql"
        self.assertEqual(self.s.psql("SELECT name FROM schema_migrations WHERE version = 26"),
                         [[mig]])
        self.s.psql("CREATE INDEX events_id_seq ON events (site_id, id, seq)")
        self.s.psql("DELETE FROM schema_migrations WHERE version = 26")
        holder = subprocess.Popen(
            ["bash", "-c", '. "$STACK_ROOT/tools/stacklib.sh"; as_pg "$PG_BIN/psql" -q '
             '-h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" -U postgres -d portald -c '
             '"BEGIN; SELECT count(*) FROM events; SELECT pg_sleep(60); COMMIT;"'],
            env=self.s._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.s.wait_psql("SELECT count(*) FROM pg_stat_activity WHERE "
                             "wait_event = 'PgSleep'", [["1"]], "the holder never started")
            t0 = time.time()
            mig_run = subprocess.Popen(
                [os.path.join(self.s.bin_dir, "portalctl"), "--config",
                 os.path.join(self.s.state, "portald.conf"), "migrate", "--lock-timeout", "1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # While the migrator waits and tries again, the table stays usable: a read of
            # events queued behind its lock request waits at most about its timeout.
            self.s.wait_psql("SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass "
                             "AND mode = 'AccessExclusiveLock' AND NOT granted", [["1"]],
                             "the migrator never asked for the lock")
            r0 = time.time()
            self.s.psql("SELECT count(*) FROM events")
            self.assertLess(time.time() - r0, 10, "a read of events waited for the migrator")
            out, err = mig_run.communicate(timeout=60)
            took = time.time() - t0
            self.assertEqual(mig_run.returncode, 1, out + err)
            self.assertIn("%s: a lock it needs was not free within 1 s, 5 times" % ("sql/" + mig),
                          err)
            self.assertEqual(err.count("trying again in 1 s"), 4, err)
            self.assertGreaterEqual(took, 8)
            self.assertLess(took, 50, "the migrator waited for the holder")
            self.assertEqual(self.s.psql("SELECT count(*) FROM schema_migrations "
                                         "WHERE version = 26"), [["0"]])
            self.assertEqual(self.s.psql("SELECT to_regclass('events_id_seq') IS NOT NULL"),
                             [["t"]], "nothing of the migration was applied")
        finally:
            holder.kill()
            holder.wait(timeout=30)
            self.s.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE wait_event = 'PgSleep'")
            self.s.wait_psql("SELECT count(*) FROM pg_stat_activity WHERE "
                             "wait_event = 'PgSleep'", [["0"]], "the holder stayed")
            applied = self.s.portalctl("migrate")
        self.assertEqual(applied, {"migrations_applied": 1})
        self.assertEqual(self.s.psql("SELECT name FROM schema_migrations WHERE version = 26"),
                         [[mig]])
        self.assertEqual(self.s.psql("SELECT to_regclass('events_id_seq') IS NULL"), [["t"]])

    def test_lock_timeout_argument_is_checked(self):
        for args in (["--lock-timeout"], ["--lock-timeout", "x"], ["--lock-timeout", "-1"],
                     ["--lock-timeout", "3601"], ["--bogus"]):
            r = portalctl_raw(self.s, "migrate", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: portalctl migrate", r.stderr)
        self.assertEqual(self.s.portalctl("migrate", "--lock-timeout", "0"),
                         {"migrations_applied": 0})


class Check(unittest.TestCase):
    def setUp(self):
        self.s = stack()

    def test_check_passes_on_a_working_stack_one_line_each(self):
        r = portalctl_raw(self.s, "check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        names = [l.split()[1] for l in lines]
        self.assertEqual(names, ["config", "secrets", "database", "schema", "socket", "mail",
                                 "gateway"])
        self.assertRegex(r.stdout, r"(?m)^ok\s+socket\s+\S+portald\.sock accepts connections")
        # The test stack has a loopback relay; a site without one says "skip".
        self.assertRegex(r.stdout, r"(?m)^(ok\s+mail relay\s+\S+ port \d+ reachable|"
                                   r"skip\s+mail relay\s+not configured)")

    def test_check_fails_on_a_dead_socket_and_a_bad_secrets_file(self):
        d = os.path.join(self.s.state, "chk-%s" % os.urandom(3).hex())
        os.makedirs(d)
        secrets = os.path.join(d, "secrets")
        key = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "secrets",
                              "generate"], capture_output=True, text=True, check=True).stdout
        with open(secrets, "w") as f:
            f.write("[keys]\n" + key)
        os.chmod(secrets, 0o644)
        conf = open(os.path.join(self.s.state, "portald.conf")).read()
        conf = re.sub(r"(?m)^socket = .*$", "socket = " + os.path.join(d, "none.sock"), conf)
        conf = re.sub(r"(?m)^secrets_file = .*$", "secrets_file = " + secrets, conf)
        path = os.path.join(d, "portald.conf")
        with open(path, "w") as f:
            f.write(conf)
        r = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "--config", path,
                            "check"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^FAIL\s+secrets\s+.*0644")
        self.assertRegex(r.stdout, r"(?m)^FAIL\s+socket\s+")
        self.assertRegex(r.stdout, r"(?m)^ok\s+database\s+")
        os.chmod(secrets, 0o640)
        r = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "--config", path,
                            "check"], capture_output=True, text=True, timeout=60)
        self.assertRegex(r.stdout, r"(?m)^ok\s+secrets\s+.*0640")

    def test_config_show_reports_auto_workers(self):
        d = os.path.join(self.s.state, "auto-%s" % os.urandom(3).hex())
        os.makedirs(d)
        conf = open(os.path.join(self.s.state, "portald.conf")).read()
        conf = re.sub(r"(?m)^workers = .*$", "workers = auto", conf)
        path = os.path.join(d, "portald.conf")
        with open(path, "w") as f:
            f.write(conf)
        r = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "--config", path,
                            "config", "show"], capture_output=True, text=True, check=True)
        out = json.loads(r.stdout)
        self.assertTrue(out["server.workers_auto"])
        self.assertEqual(out["server.workers"], 2 * len(os.sched_getaffinity(0)))


class RequestIds(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("rid")

    def access_line(self, rid):
        # nginx logs when it is done with the connection, which for a refused body is
        # after the client has its answer.
        deadline = time.time() + 10
        while True:
            with open(os.path.join(self.s.state, "nginx", "access.log")) as f:
                lines = [l for l in f if rid in l]
            if lines or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(lines), 1, lines)
        return kv(lines[0])

    def portald_line(self, rid):
        deadline = time.time() + 5
        while time.time() < deadline:
            with open(os.path.join(self.s.state, "portald.log")) as f:
                lines = [l for l in f if "request_id=" + rid in l]
            if lines:
                return kv(lines[0])
            time.sleep(0.05)
        self.fail("no portald log line for " + rid)

    def test_api_error_has_the_id_in_header_envelope_and_both_logs(self):
        r = self.m.get("/customers/nobody")
        self.assertEqual(r.status, 404)
        rid = r.header("x-request-id")
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        self.assertEqual(r.json["error"]["request_id"], rid)
        line = self.portald_line(rid)
        self.assertEqual((line["level"], line["method"], line["path"], line["status"]),
                         ("info", "GET", "/api/v1/customers/nobody", "404"))
        self.assertRegex(line["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(line["duration_ms"], r"^[0-9.]+$")
        acc = self.access_line(rid)
        self.assertEqual((acc["method"], acc["uri"], acc["status"]),
                         ("GET", "/api/v1/customers/nobody", "404"))

    def test_nginx_own_errors_carry_the_id_too(self):
        big = b'{"name":"' + b"x" * (9 * 1024 * 1024) + b'"}'
        r = self.m.call("POST", "/customers", raw=big)
        self.assertEqual(r.status, 413)
        rid = r.header("x-request-id")
        self.assertTrue(rid)
        self.assertEqual(r.json["error"]["request_id"], rid)
        self.assertEqual(self.access_line(rid)["status"], "413")
        r = self.s.request("GET", "/static/portal.css")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("x-request-id"))

    def test_free_text_log_lines_are_quoted(self):
        with open(os.path.join(self.s.state, "portald.log")) as f:
            lines = [l for l in f if "msg=" in l]
        self.assertTrue(lines)
        for l in lines[:50]:
            d = kv(l)
            self.assertEqual(set(d) >= {"ts", "level", "pid", "msg"}, True, l)
            self.assertRegex(l, r'msg="(?:[^"\\]|\\.)*"\s*$', l)


if __name__ == "__main__":
    unittest.main()
