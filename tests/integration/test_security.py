"""test_security.py: the secrets file, and the findings of the attack review (issue 8),
each through the real stack: webhook targets, HEAD, tokens kept out of stores and logs,
number ranges, duplicate keys, UTF-8 in every answer, nginx's own errors, content types,
randomness failures and the idempotency of reordered bodies."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import stack

SECRETS_KEY_RE = re.compile(r"^server_key = [A-Za-z0-9+/]{43}=$")


def private_stack():
    """A second stack of this module's own: webhooks to internal addresses refused (as
    shipped), and free to be stopped and broken by the tests here."""
    import harness

    class Shipped(harness.Stack):
        def _env(self):
            env = super()._env()
            env["STACK_WEBHOOK_PRIVATE"] = "false"
            return env
    return harness.own_stack("security", Shipped)


def tearDownModule():
    import harness
    harness.stop_own_stack("security")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=30, **kw)


class SecretsFile(unittest.TestCase):
    """portald.conf names a secrets file; portald and portalctl refuse a bad one."""

    def setUp(self):
        self.s = stack()
        self.dir = tempfile.mkdtemp(prefix="portald-sec.")
        with open(os.path.join(self.s.state, "portald.conf")) as f:
            self.conf_text = f.read()
        self.portald = os.path.join(self.s.bin_dir, "portald")
        self.portalctl = os.path.join(self.s.bin_dir, "portalctl")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def conf(self, secrets_text=None, mode=0o640, conninfo=None, secrets_path=None):
        spath = secrets_path or os.path.join(self.dir, "secrets")
        if secrets_text is not None:
            with open(spath, "w") as f:
                f.write(secrets_text)
            os.chmod(spath, mode)
        text = re.sub(r"(?m)^secrets_file = .*$", "secrets_file = " + spath, self.conf_text)
        if conninfo is not None:
            text = re.sub(r"(?m)^conninfo = .*$", lambda m: "conninfo = " + conninfo, text)
        path = os.path.join(self.dir, "portald.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def key_line(self):
        r = run([self.portalctl, "secrets", "generate"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def check(self, conf):
        return run([self.portald, "--config", conf, "--check-config"])

    def test_generate_prints_a_fresh_key_line(self):
        a, b = self.key_line(), self.key_line()
        self.assertRegex(a, SECRETS_KEY_RE)
        self.assertNotEqual(a, b)

    def test_stack_secrets_file_is_private(self):
        st = os.stat(os.path.join(self.s.state, "secrets"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, os.getuid())

    def test_good_file_passes_check_config(self):
        r = self.check(self.conf("[keys]\n%s\n" % self.key_line()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is valid", r.stdout)

    def test_file_readable_by_others_is_refused(self):
        conf = self.conf("[keys]\n%s\n" % self.key_line(), mode=0o644)
        for args in ([self.portald, "--config", conf, "--check-config"],
                     [self.portald, "--config", conf],
                     [self.portalctl, "--config", conf, "site", "list"]):
            r = run(args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("readable by others", r.stderr)

    def test_missing_file_is_refused(self):
        r = self.check(self.conf(secrets_path=os.path.join(self.dir, "nope")))
        self.assertEqual(r.returncode, 1)
        self.assertIn("secrets file %s is missing" % os.path.join(self.dir, "nope"), r.stderr)

    def test_malformed_file_is_refused(self):
        for text in ("[keys]\nserver_key = short\n", "[keys]\n", "no section\n",
                     "[keys]\n%s\n[database]\npasswd = x\n" % self.key_line()):
            r = self.check(self.conf(text))
            self.assertEqual(r.returncode, 1, text)
            self.assertIn("secrets file", r.stderr)

    def test_config_show_prints_no_password(self):
        pw = "s3cr3t pa''ss"
        conninfo = ("host=/tmp port=5 dbname=portald user=u password='%s' sslpassword=xyzzy"
                    % pw.replace("'", "\\'"))
        conf = self.conf("[keys]\n%s\n[database]\npassword = other-pw-123\n" % self.key_line(),
                         conninfo=conninfo)
        r = run([self.portalctl, "--config", conf, "config", "show"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for secret in ("s3cr3t", "ss'", "xyzzy", "other-pw-123", "password="):
            self.assertNotIn(secret, r.stdout)
        self.assertIn("user=u", r.stdout)
        self.assertIn('"database.password_set":true', r.stdout)
        key = self.key_line().split(" = ")[1]
        self.assertNotIn(key, r.stdout)

    def test_uri_conninfo_is_refused_without_echoing_it(self):
        conf = self.conf("[keys]\n%s\n" % self.key_line(),
                         conninfo="postgresql://portald:hunter2@localhost/portald")
        for args in ([self.portald, "--config", conf, "--check-config"],
                     [self.portalctl, "--config", conf, "config", "show"]):
            r = run(args)
            self.assertEqual(r.returncode, 1)
            self.assertIn("postgresql:// URI", r.stderr)
            self.assertNotIn("hunter2", r.stderr + r.stdout)

    def test_database_password_comes_from_the_secrets_file(self):
        role = "pw_%s" % os.urandom(3).hex()
        pw = "it's a \"pass\" %s" % os.urandom(4).hex()
        self.s.psql("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'" % (role, pw.replace("'", "''")))
        hba = os.path.join(self.s.state, "pg", "data", "pg_hba.conf")
        with open(hba) as f:
            old = f.read()
        try:
            with open(hba, "w") as f:
                f.write("host all %s 127.0.0.1/32 scram-sha-256\n" % role + old)
            self.s.sh('as_pg "$PG_BIN/pg_ctl" -D "$STACK_STATE/pg/data" reload')
            conninfo = "host=127.0.0.1 port=%d dbname=portald user=%s" % (self.s.pg_port, role)
            good = self.conf("[keys]\n%s\n[database]\npassword = %s\n" % (self.key_line(), pw),
                             conninfo=conninfo)
            r = run([self.portalctl, "--config", good, "site", "list"])
            self.assertEqual(r.returncode, 0, r.stderr)
            bad = self.conf("[keys]\n%s\n[database]\npassword = wrong\n" % self.key_line(),
                            conninfo=conninfo)
            r = run([self.portalctl, "--config", bad, "site", "list"])
            self.assertEqual(r.returncode, 1)
            self.assertIn("password authentication failed", r.stderr)
            self.assertNotIn("wrong", r.stderr.replace("password authentication failed", ""))
        finally:
            with open(hba, "w") as f:
                f.write(old)
            self.s.sh('as_pg "$PG_BIN/pg_ctl" -D "$STACK_STATE/pg/data" reload')
            self.s.psql("DROP ROLE %s" % role)


def strict_json(resp):
    """The body decoded as strict UTF-8 JSON (fails on any invalid byte)."""
    return json.loads(resp.body.decode("utf-8", "strict"))


class Inputs(unittest.TestCase):
    """Findings 4, 5 and 6: numbers out of range, duplicate keys, bad UTF-8 in names."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("in")

    def test_huge_amount_is_400_and_no_worker_dies(self):
        workers = self.s.worker_pids()
        for raw in (b'{"name":"P","amount":1e19,"currency":"USD","interval":"month"}',
                    b'{"name":"P","amount":-1e300,"currency":"USD","interval":"month"}',
                    b'{"name":"P","amount":1e400,"currency":"USD","interval":"month"}'):
            r = self.m.call("POST", "/plans", raw=raw)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["error"]["param"], "amount")
        self.assertEqual(self.m.get("/plans").status, 200)
        self.assertEqual(self.s.worker_pids(), workers, "no worker died")

    def test_duplicate_metadata_keys_are_refused(self):
        for raw, param in ((b'{"metadata":{"k":"a","k":"b"}}', "metadata.k"),
                           (b'{"billing_address":{"city":"a","city":"b"}}',
                            "billing_address.city")):
            r = self.m.call("POST", "/customers", raw=raw)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["error"]["code"], "parameter_duplicate")
            self.assertEqual(r.json["error"]["param"], param)
        self.assertEqual(self.m.get("/customers").json["data"], [])

    def test_answers_are_valid_utf8_whatever_the_query(self):
        for q in ("?%FF%FE=1", "?%FF%FE=%ZZ", "?limit=1&%C0%AF=2", "?a%ED%A0%80b=1",
                  "?%FF=1&%FF=2", "?" + "%FF" * 100 + "=1"):
            for path in ("/api/v1/customers", "/api/v1/customers/cus_x", "/api/v1/nothing"):
                r = self.s.request("GET", path + q,
                                   headers={"Authorization": "Bearer " + self.m.key})
                self.assertEqual(r.status // 100, 4, (path, q, r))
                body = strict_json(r)
                param = body["error"]["param"]
                self.assertTrue(param is None or "\ufffd" not in param, (q, param))


class IdempotencyCanonical(unittest.TestCase):
    """Issue 6 rule 7: the same JSON in another key order, at any depth, is the same request."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("idc")

    def post(self, raw, key):
        return self.m.call("POST", "/customers", raw=raw, headers={"Idempotency-Key": key})

    def test_reordered_body_replays(self):
        a = (b'{"email":"r@example.com","name":"R","billing_address":{"city":"X","line1":"1 St",'
             b'"country":"FR"},"metadata":{"b":"2","a":"1"}}')
        b = (b'{ "metadata": {"a": "1", "b": "2"}, "billing_address": {"country": "FR",'
             b' "line1": "1 St", "city": "X"}, "name": "R", "email": "r@example.com" }')
        r1, r2 = self.post(a, "ro-1"), self.post(b, "ro-1")
        self.assertEqual((r1.status, r2.status), (200, 200), r2)
        self.assertEqual(r2.header("idempotent-replayed"), "true")
        self.assertEqual(r1.json, r2.json)
        self.assertEqual(len(self.m.get("/customers").json["data"]), 1)

    def test_escapes_and_number_forms_are_the_same_value(self):
        plan = b'{"name":"P\\u0031","amount":100,"currency":"USD","interval":"month"}'
        same = b'{"interval":"month","currency":"USD","amount":1e2,"name":"P1"}'
        r1 = self.m.call("POST", "/plans", raw=plan, headers={"Idempotency-Key": "num"})
        r2 = self.m.call("POST", "/plans", raw=same, headers={"Idempotency-Key": "num"})
        self.assertEqual((r1.status, r2.status), (200, 200), r2)
        self.assertEqual(r2.header("idempotent-replayed"), "true")

    def test_different_value_at_depth_is_409(self):
        a = b'{"billing_address":{"city":"X","country":"FR"}}'
        b = b'{"billing_address":{"country":"FR","city":"Y"}}'
        self.assertEqual(self.post(a, "ro-2").status, 200)
        r = self.post(b, "ro-2")
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["code"], "idempotency_key_reused")

    def test_key_and_value_boundaries_do_not_blur(self):
        self.assertEqual(self.post(b'{"metadata":{"ab":"c"}}', "ro-3").status, 200)
        self.assertEqual(self.post(b'{"metadata":{"a":"bc"}}', "ro-3").status, 409)


class SealedReplays(unittest.TestCase):
    """Finding 3: a stored create response holds the access token: it is kept sealed."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("seal")
        self.c = self.m.customer()
        self.body = {"customer_id": self.c["id"], "redirect_url": "https://x.example"}

    def stored(self, key):
        return self.s.psql("SELECT response FROM idempotency_keys WHERE site_id = '%s' AND key = '%s'"
                           % (self.m.site_id, key))[0][0]

    def test_token_is_not_stored_in_clear_and_replay_gives_it_back(self):
        h = {"Idempotency-Key": "seal-1"}
        r1 = self.m.post("/portal_sessions", self.body, headers=h)
        self.assertEqual(r1.status, 200)
        secret = r1.json["token"].rsplit(".", 1)[1]
        row = self.stored("seal-1")
        self.assertTrue(row.startswith("v1."), row[:20])
        self.assertNotIn(secret, row)
        self.assertNotIn(self.c["id"], row)
        r2 = self.m.post("/portal_sessions", self.body, headers=h)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.header("idempotent-replayed"), "true")
        self.assertEqual(r2.json["token"], r1.json["token"])
        self.assertEqual(r2.json["access_url"], r1.json["access_url"])
        dump = "\n".join("|".join(row) for row in self.s.psql(
            "SELECT * FROM idempotency_keys WHERE site_id = '%s'" % self.m.site_id))
        self.assertNotIn(secret, dump)

    def test_tampered_or_moved_replay_is_refused_and_nothing_runs_twice(self):
        for key in ("seal-a", "seal-b"):
            self.assertEqual(self.m.post("/portal_sessions", self.body,
                                         headers={"Idempotency-Key": key}).status, 200)
        a = self.stored("seal-a")
        flipped = a[:-5] + ("A" if a[-5] != "A" else "B") + a[-4:]
        for key, text in (("seal-a", flipped), ("seal-b", a)):
            self.s.psql("UPDATE idempotency_keys SET response = '%s' WHERE site_id = '%s' "
                        "AND key = '%s'" % (text, self.m.site_id, key))
            r = self.m.post("/portal_sessions", self.body, headers={"Idempotency-Key": key})
            self.assertEqual(r.status, 409, r)
            self.assertEqual(r.json["error"]["code"], "idempotency_replay_unreadable")
            self.assertNotIn("token", r.json)
        n = self.s.psql("SELECT count(*) FROM portal_sessions WHERE site_id = '%s'" % self.m.site_id)
        self.assertEqual(n, [["2"]])


class ContentType(unittest.TestCase):
    """Finding 8: only application/json (with charset=utf-8 at most) is JSON."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("ct")

    def post(self, ctype):
        return self.s.request("POST", "/api/v1/customers", body=b'{"name":"x"}', headers={
            "Authorization": "Bearer " + self.m.key, "Content-Type": ctype})

    def test_look_alike_types_are_415(self):
        for ct in ("application/jsonfoo", "application/json-seq", "application/json; charset=latin1",
                   "application/json; x=y", "text/json"):
            r = self.post(ct)
            self.assertEqual(r.status, 415, (ct, r))
            self.assertEqual(r.json["error"]["code"], "unsupported_media_type")
        self.assertEqual(self.m.get("/customers").json["data"], [])

    def test_json_with_utf8_charset_is_accepted(self):
        for ct in ("application/json", "application/json; charset=utf-8",
                   "Application/JSON;charset=UTF-8"):
            self.assertEqual(self.post(ct).status, 200, ct)


class NoRandomness(unittest.TestCase):
    """Finding 8: when randomness fails, every request that needs it is a 503 with
    Retry-After, nothing is written, and no worker dies. A second portald on the same
    database runs with an OpenSSL configuration whose random generator cannot be made
    (RAND_bytes fails in every process), reached over FastCGI directly."""

    @classmethod
    def setUpClass(cls):
        import time
        cls.s = stack()
        cls.m = cls.s.new_site("rnd")
        cls.cus = cls.m.customer(id="rnd-cus")
        cls.dir = tempfile.mkdtemp(prefix="portald-rnd.")
        os.chmod(cls.dir, 0o755)
        with open(os.path.join(cls.s.state, "portald.conf")) as f:
            conf = f.read()
        cls.sock = os.path.join(cls.dir, "portald.sock")
        conf = re.sub(r"(?m)^socket = .*$", "socket = " + cls.sock, conf)
        conf = re.sub(r"(?m)^workers = .*$", "workers = 2", conf)
        conf += "\n[jobs]\nenabled = false\n"
        with open(os.path.join(cls.dir, "portald.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(cls.dir, "openssl.cnf"), "w") as f:
            f.write("openssl_conf = init\n[init]\nrandom = rnd\n[rnd]\nrandom = NO-SUCH-DRBG\n")
        env = dict(os.environ, OPENSSL_CONF=os.path.join(cls.dir, "openssl.cnf"))
        cls.log = open(os.path.join(cls.dir, "portald.log"), "w")
        cls.proc = subprocess.Popen([os.path.join(cls.s.bin_dir, "portald"), "--config",
                                     os.path.join(cls.dir, "portald.conf")], env=env,
                                    stdout=cls.log, stderr=cls.log)
        for _ in range(100):
            if os.path.exists(cls.sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=20)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def fcgi(self, method, path, body=b"", idem=None):
        import socket
        from harness import FCGI_BEGIN, FCGI_STDIN_END, _fcgi_record, fcgi_params, fcgi_read_stdout
        params = {"REQUEST_METHOD": method, "REQUEST_URI": path, "REMOTE_ADDR": "127.0.0.1",
                  "REQUEST_ID": os.urandom(8).hex(), "CONTENT_LENGTH": str(len(body)),
                  "CONTENT_TYPE": "application/json",
                  "HTTP_AUTHORIZATION": "Bearer " + self.m.key}
        if idem:
            params["HTTP_IDEMPOTENCY_KEY"] = idem
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        try:
            s.sendall(FCGI_BEGIN + fcgi_params(params) +
                      (_fcgi_record(5, body) if body else b"") + FCGI_STDIN_END)
            out = fcgi_read_stdout(s)
        finally:
            s.close()
        head, _, payload = out.partition(b"\r\n\r\n")
        status = int(re.search(rb"Status: (\d+)", head).group(1))
        return status, head.decode(), payload

    def workers(self):
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            out.append(int(entry))
                except (OSError, IndexError):
                    pass
        return sorted(out)

    def count(self, table):
        return self.s.psql("SELECT count(*) FROM %s WHERE site_id = '%s'" % (table, self.m.site_id))[0][0]

    def test_access_link_is_not_used_up(self):
        sess = self.m.session("rnd-cus")
        path = "/portal/%s/access/%s" % (self.m.site_id, sess["token"])
        status, head, _ = self.fcgi("GET", path)
        self.assertEqual(status, 503)
        self.assertNotIn("Set-Cookie", head)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "created")

    def test_reads_still_work(self):
        status, _, body = self.fcgi("GET", "/api/v1/customers/rnd-cus")
        self.assertEqual(status, 200, body)

    def test_every_write_that_needs_randomness_is_503(self):
        before = self.workers()
        self.assertTrue(before)
        tables = ("customers", "plans", "portal_sessions", "webhook_endpoints",
                  "test_gateway_tokens", "events", "idempotency_keys")
        counts = {t: self.count(t) for t in tables}
        calls = [
            ("/api/v1/customers", b'{"name":"n"}'),
            ("/api/v1/plans", b'{"name":"P","amount":1,"currency":"USD","interval":"month"}'),
            ("/api/v1/portal_sessions", b'{"customer_id":"rnd-cus","redirect_url":"https://x.example"}'),
            ("/api/v1/webhook_endpoints", b'{"url":"https://hooks.example/x"}'),
            ("/api/v1/test_gateway/tokens", b'{"number":"4242424242424242","exp_month":12,"exp_year":2030}'),
            ("/api/v1/customers/rnd-cus", b'{"name":"changed"}'),
        ]
        for path, body in calls:
            for idem in (None, "rnd-" + os.urandom(4).hex()):
                status, head, payload = self.fcgi("POST", path, body, idem)
                self.assertEqual(status, 503, (path, idem, payload))
                self.assertIn("Retry-After:", head)
                self.assertEqual(json.loads(payload)["error"]["type"], "api_error")
        self.assertEqual({t: self.count(t) for t in tables}, counts, "nothing was written")
        status, _, body = self.fcgi("GET", "/api/v1/customers/rnd-cus")
        self.assertEqual(json.loads(body)["name"], None)
        self.assertEqual(self.workers(), before, "no worker died")


class HeadChangesNothing(unittest.TestCase):
    """Finding 2: HEAD answers what GET would, and changes no state anywhere."""

    def setUp(self):
        from harness import Browser
        self.s = stack()
        self.m = self.s.new_site("head")
        self.c = self.m.customer(name="H")
        self.Browser = Browser

    def head(self, path, cookies=None):
        h = {}
        if cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in cookies.items())
        return self.s.request("HEAD", path, headers=h)

    def status(self, sess):
        return self.m.get("/portal_sessions/" + sess["id"]).json["status"]

    def test_head_on_access_url_does_not_use_it_up(self):
        sess = self.m.session(self.c["id"])
        home = "/portal/" + self.m.site_id
        path = "%s/access/%s" % (home, sess["token"])
        for _ in range(3):
            r = self.head(path)
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("location"))
            self.assertEqual(r.header_all("set-cookie"), [])
            self.assertEqual(r.body, b"")
        self.assertEqual(self.status(sess), "created")
        b = self.Browser(self.s)
        self.assertEqual(b.get(path).status, 303)
        self.assertIn("__Host-portald_" + self.m.site_id, b.cookies)
        self.assertEqual(b.get(home).status, 200)
        self.assertEqual(self.status(sess), "logged_in")
        self.assertEqual(self.head(path).header_all("set-cookie"), [])
        self.assertEqual(self.Browser(self.s).get(path).status, 410)

    def test_head_does_not_record_activity_or_log_out(self):
        sess = self.m.session(self.c["id"])
        b = self.Browser(self.s)
        home = "/portal/" + self.m.site_id
        b.get(sess["access_url"])
        seen = lambda: self.s.psql("SELECT last_seen_at FROM portal_sessions WHERE site_id = '%s' "
                                   "AND id = '%s'" % (self.m.site_id, sess["id"]))[0][0]
        before = seen()
        self.m.travel(600)
        r = self.head(home, b.cookies)
        self.assertEqual(r.status, 200)
        self.assertEqual(seen(), before, "HEAD is not activity")
        self.m.travel(1300)  # past the idle timeout since the last GET
        r = self.head(home, b.cookies)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header_all("set-cookie"), [])
        self.assertEqual(self.status(sess), "logged_in", "HEAD logs nobody out")
        self.assertEqual(b.get(home).status, 401)
        self.assertEqual(self.status(sess), "logged_out")

    def test_head_on_api_matches_get(self):
        h = {"Authorization": "Bearer " + self.m.key}
        for path in ("/api/v1/customers/" + self.c["id"], "/api/v1/customers/nobody",
                     "/api/v1/customers?limit=1"):
            g = self.s.request("GET", path, headers=h)
            hd = self.s.request("HEAD", path, headers=h)
            self.assertEqual(hd.status, g.status, path)
            self.assertEqual(hd.body, b"")
            self.assertEqual(hd.header("content-length"), g.header("content-length"))


class WebhookTargets(unittest.TestCase):
    """Finding 1, through the stack as shipped: an internal target gets one error whatever
    its port's state, and nothing connects to it."""

    def test_open_and_closed_internal_ports_look_the_same(self):
        import socket
        import time
        ps = private_stack()
        m = ps.new_site("wh")
        lsn = socket.socket()
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(8)
        lsn.setblocking(False)
        gone = socket.socket()
        gone.bind(("127.0.0.1", 0))
        closed = gone.getsockname()[1]
        gone.close()
        try:
            urls = ["http://127.0.0.1:%d/" % lsn.getsockname()[1],
                    "http://127.0.0.1:%d/" % closed,
                    "https://127.0.0.1:%d/" % lsn.getsockname()[1],
                    "http://[::ffff:127.0.0.1]:%d/" % lsn.getsockname()[1],
                    "http://localhost:%d/" % lsn.getsockname()[1]]
            for u in urls:
                r = m.post("/webhook_endpoints", {"url": u, "enabled_events": ["customer.created"]})
                self.assertEqual(r.status, 200, r)
            c = m.customer()
            evt = [e for e in m.get("/events?type=customer.created").json["data"]
                   if e["object_id"] == c["id"]][0]
            deadline = time.time() + 20
            while time.time() < deadline:
                ds = m.get("/events/" + evt["id"]).json["deliveries"]
                if len(ds) == len(urls) and all(d["attempts"] >= 1 for d in ds):
                    break
                time.sleep(0.1)
            errors = {d["last_error"] for d in ds}
            self.assertEqual(errors, {"the address is not allowed"}, ds)
            for d in ds:
                self.assertEqual([a["error"] for a in d["attempt_log"]],
                                 ["the address is not allowed"])
                self.assertIsNone(d["attempt_log"][0]["http_status"])
            with self.assertRaises(BlockingIOError):
                lsn.accept()
        finally:
            lsn.close()


def raw_http(port, data, timeout=10):
    """Sends bytes as they are; returns (status, headers dict, body bytes)."""
    import socket
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        c.sendall(data)
        while True:
            d = c.recv(65536)
            if not d:
                break
            out += d
    finally:
        c.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


class NginxErrors(unittest.TestCase):
    """Finding 7: every error nginx makes on the API is the JSON envelope with nginx's
    request id (the one portald also gets); portald away or dying is a 503 with
    Retry-After, never a 502."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("ngx")

    def envelope(self, status, data, code=None):
        st, h, body = raw_http(self.s.http_port, data)
        self.assertEqual(st, status, body[:300])
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        err = strict_json(type("R", (), {"body": body})())["error"]
        for k in ("type", "code", "message", "param", "request_id"):
            self.assertIn(k, err)
        self.assertRegex(err["request_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(h.get("x-request-id"), err["request_id"])
        if code:
            self.assertEqual(err["code"], code)
        return err, h

    def test_access_path_spelled_otherwise_stays_out_of_logs(self):
        c = self.m.customer()
        sess = self.m.session(c["id"])
        secret = sess["token"].rsplit(".", 1)[1]
        for path in ("/portal/%61ccess/", "/portal/ACCESS/", "/portal/access%2F", "/portal//access/"):
            st, _, _ = raw_http(self.s.http_port, ("GET %s%s HTTP/1.1\r\nHost: a\r\n"
                                "Connection: close\r\n\r\n" % (path, sess["token"])).encode())
            self.assertIn(st, (303, 404), path)
        self.assertNotIn(secret, self.s.log_text())

    def test_uri_too_long_is_json_414(self):
        self.envelope(414, b"GET /api/v1/customers?" + b"x" * 9000 + b" HTTP/1.1\r\nHost: a\r\n"
                      b"Connection: close\r\n\r\n", "uri_too_long")

    def test_headers_too_large_is_json_400(self):
        self.envelope(400, b"GET /api/v1/customers HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 40000 +
                      b"\r\nConnection: close\r\n\r\n", "invalid_request")

    def test_unknown_transfer_encoding_is_json_501(self):
        self.envelope(501, b"POST /api/v1/customers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n"
                      b"Connection: close\r\n\r\n", "not_implemented")

    def test_trace_is_json_405(self):
        self.envelope(405, b"TRACE /api/v1/customers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                      "method_not_allowed")

    def test_unreadable_request_line_is_json_400(self):
        for line in (b"GET /api/v1/\x00 HTTP/1.1", b"GARBAGE", b"GET /api/v1/customers HTTP/9.9"):
            st, _, body = raw_http(self.s.http_port, line + b"\r\nHost: a\r\nConnection: close\r\n\r\n")
            self.assertIn(st, (400, 505), body)
            self.assertIn(b'"request_id":"', body)

    def test_body_over_nginx_limit_is_json_413_with_request_id(self):
        self.envelope(413, b"POST /api/v1/customers HTTP/1.1\r\nHost: a\r\nContent-Length: 90000000\r\n"
                      b"Content-Type: application/json\r\nConnection: close\r\n\r\n", "body_too_large")

    def test_unknown_api_path_is_json_404_from_portald_with_the_same_request_id(self):
        err, h = self.envelope(404, b"GET /api/v2/nothing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                               "route_missing")
        self.s.wait_logged(err["request_id"], names=("portald.log",))
        lines = [l for l in open(os.path.join(self.s.state, "portald.log")) if err["request_id"] in l]
        self.assertEqual(len(lines), 1, "portald logged the request under nginx's id")

    def test_unknown_paths_elsewhere_get_a_page_not_nginx_html(self):
        st, h, body = raw_http(self.s.http_port, b"GET /nothing HTTP/1.1\r\nHost: a\r\n"
                               b"Connection: close\r\n\r\n")
        self.assertEqual(st, 404)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertNotIn(b"nginx", body)
        self.assertIn(h["x-request-id"].encode(), body)


class PortaldAway(unittest.TestCase):
    """Findings 7 and 3 on a stack of this module's own: portald stopped or its workers
    killed mid-request; and no access token in any log when that happens."""

    def setUp(self):
        self.ps = private_stack()
        self.m = self.ps.new_site("away")
        self.c = self.m.customer()

    def tearDown(self):
        self.ps.sh("stack_portald_up")
        self.ps.wait_workers(2)

    def test_stopped_portald_is_503_with_retry_after_and_tokens_stay_out_of_logs(self):
        sess = self.m.session(self.c["id"])
        secret = sess["token"].rsplit(".", 1)[1]
        self.ps.sh("stack_portald_stop")
        st, h, body = raw_http(self.ps.http_port, b"GET /api/v1/customers HTTP/1.1\r\nHost: a\r\n"
                               b"Connection: close\r\n\r\n")
        self.assertEqual(st, 503)
        self.assertEqual(h.get("retry-after"), "1")
        self.assertEqual(json.loads(body)["error"]["code"], "service_unavailable")
        for path in ("/portal/access/" + sess["token"], "/portal/access/" + sess["token"] + "?x=1",
                     "/portal"):
            st, h, body = raw_http(self.ps.http_port, ("GET %s HTTP/1.1\r\nHost: a\r\n"
                                                       "Connection: close\r\n\r\n" % path).encode())
            self.assertEqual(st, 503, path)
            self.assertEqual(h.get("retry-after"), "1")
            self.assertTrue(h["content-type"].startswith("text/html"))
            self.assertNotIn(secret.encode(), body)
        logs = self.ps.log_text()
        self.assertIn("connect() to unix:", logs, "the failure itself is logged")
        self.assertNotIn(secret, logs)
        for name in os.listdir(os.path.join(self.ps.state, "nginx")):
            p = os.path.join(self.ps.state, "nginx", name)
            if os.path.isfile(p):
                with open(p, errors="replace") as f:
                    self.assertNotIn(secret, f.read(), name)

    def test_worker_dying_mid_request_is_503_with_retry_after(self):
        import signal
        import threading
        lock = subprocess.Popen(
            ["bash", "-c", '. "$STACK_ROOT/tools/stacklib.sh"; as_pg "$PG_BIN/psql" -h '
             '"$STACK_STATE/pg/run" -p "$STACK_PG_PORT" -U postgres -d portald -qtA'],
            env=self.ps._env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        got = {}
        try:
            lock.stdin.write("BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
            lock.stdin.flush()
            self.assertEqual(lock.stdout.readline().strip(), "locked")

            def call():
                got["r"] = raw_http(self.ps.http_port, ("GET /api/v1/customers/%s HTTP/1.1\r\n"
                                    "Host: a\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
                                    % (self.c["id"], self.m.key)).encode(), timeout=30)
            t = threading.Thread(target=call)
            t.start()
            # The request waits for the lock inside a worker once PostgreSQL says so.
            self.ps.wait_psql("SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND "
                              "relation = 'customers'::regclass", [["t"]],
                              "the request never reached the lock")
            for pid in self.ps.worker_pids():
                os.kill(pid, signal.SIGKILL)
            t.join(30)
        finally:
            lock.stdin.write("ROLLBACK;\n")
            lock.stdin.close()
            lock.wait(timeout=10)
        st, h, body = got["r"]
        self.assertEqual(st, 503, body)
        self.assertEqual(h.get("retry-after"), "1")
        self.assertEqual(json.loads(body)["error"]["code"], "service_unavailable")


if __name__ == "__main__":
    unittest.main()
