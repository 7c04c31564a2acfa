"""harness.py: starts the real stack (PostgreSQL, portald, nginx) on loopback for the
integration tests, and gives them a small HTTP client. Standard library only."""
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value), names lower-cased
        self.body = body                # bytes

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.text[:300])


class Stack:
    """One stack per test run; tests share it and create their own sites."""

    def __init__(self, bin_dir=None, workers=3):
        self.bin_dir = bin_dir or os.environ.get("PORTALD_BIN") or os.path.join(ROOT, "build", "local", "src")
        self.workers = workers
        self.state = None

    def _env(self):
        env = dict(os.environ)
        env.update({
            "STACK_ROOT": ROOT,
            "STACK_STATE": self.state,
            "STACK_BIN": self.bin_dir,
            "STACK_HTTP_PORT": str(self.http_port),
            "STACK_PG_PORT": str(self.pg_port),
            "STACK_SMTP_PORT": str(self.smtp_port),
            "STACK_WORKERS": str(self.workers),
            "STACK_PG_OPTS": "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "STACK_LOG_LEVEL": "info",
            # An invoice's created event, rendered from what was written, is compared
            # with the invoice read back (run.py counts a difference as a failure).
            "PORTALD_CHECK_RENDER": "1",
        })
        return env

    def sh(self, script, check=True):
        """Runs bash with tools/stacklib.sh sourced."""
        return subprocess.run(
            ["bash", "-c", '. "$STACK_ROOT/tools/stacklib.sh"; ' + script],
            env=self._env(), check=check, capture_output=True, text=True)

    def start(self):
        # /tmp is reachable by the postgres and www-data users wherever the checkout is.
        self.state = tempfile.mkdtemp(prefix="portald-it.")
        os.chmod(self.state, 0o755)
        self.http_port = free_port()
        self.pg_port = free_port()
        self.smtp_port = free_port()       # tools/smtpd.py, portald's relay
        self.mailbox = os.path.join(self.state, "mailbox")
        r = self.sh("stack_up_all", check=False)
        if r.returncode != 0:
            raise RuntimeError("stack did not start:\n" + r.stderr + self.tail_logs())
        self.base = "http://127.0.0.1:%d" % self.http_port
        return self

    def stop(self):
        if self.state is None:
            return
        self.sh("stack_down_all", check=False)
        shutil.rmtree(self.state, ignore_errors=True)
        self.state = None

    def tail_logs(self, n=40):
        out = []
        for name in ("portald.log", "nginx/error.log", "pg/postgres.log", "smtpd.log"):
            p = os.path.join(self.state, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append("==> %s\n%s" % (name, "".join(f.readlines()[-n:])))
        return "\n".join(out)

    # ---- mail ----
    def mail_files(self):
        """Paths of the messages the stack's SMTP server has kept, oldest first."""
        return sorted(os.path.join(self.mailbox, n) for n in os.listdir(self.mailbox)
                      if n.endswith(".eml") and not n.startswith("."))

    def mail_control(self, line):
        """Tells the SMTP server what to do from now on: "accept", "fail 451",
        "fail 550", "hang" (see tools/smtpd.py)."""
        with open(os.path.join(self.mailbox, "control"), "w") as f:
            f.write(line + "\n")

    # ---- processes ----
    def master_pid(self):
        with open(os.path.join(self.state, "portald.pid")) as f:
            return int(f.read().strip())

    def worker_pids(self):
        master = self.master_pid()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master and fields[0] != "Z":
                    pids.append(int(entry))
            except (OSError, IndexError):
                pass
        return sorted(pids)

    def wait_workers(self, n, timeout=15, exclude=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = [p for p in self.worker_pids() if p not in exclude]
            if len(pids) >= n:
                return pids
            time.sleep(0.1)
        raise AssertionError("expected %d workers, have %r" % (n, self.worker_pids()))

    def pg_stop(self):
        self.sh("stack_pg_stop")

    def pg_start(self):
        self.sh("stack_pg_start")

    def wait_psql(self, sql, want, what, timeout=20):
        """Polls a query until it answers want (its rows as psql() gives them)."""
        deadline = time.time() + timeout
        while True:
            rows = self.psql(sql)
            if rows == want:
                return
            if time.time() > deadline:
                raise AssertionError("%s (%s answered %r)" % (what, sql, rows))
            time.sleep(0.05)

    def psql(self, sql):
        r = self.sh('as_pg "$PG_BIN/psql" -h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" '
                    '-U postgres -d portald -tA -F "|" -c "$SQL"'.replace("$SQL", sql.replace('"', '\\"')))
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def portalctl(self, *args):
        r = subprocess.run([os.path.join(self.bin_dir, "portalctl"), "--config",
                            os.path.join(self.state, "portald.conf")] + list(args),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("portalctl %s failed: %s" % (" ".join(args), r.stderr))
        return json.loads(r.stdout)

    def new_site(self, prefix="t"):
        site_id = "%s-%s" % (prefix, os.urandom(4).hex())
        out = self.portalctl("site", "create", site_id, "--test", "--name", "Site " + site_id)
        return Client(self, site_id, out["api_key"])

    def log_text(self):
        parts = []
        for name in ("portald.log", "nginx/access.log", "nginx/error.log"):
            p = os.path.join(self.state, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    parts.append(f.read())
        return "\n".join(parts)

    def wait_logged(self, text, names=("portald.log", "nginx/access.log"), timeout=5):
        """Waits until every named log holds text: portald writes request lines within
        0.1 s, nginx its buffered access log within 1 s."""
        deadline = time.time() + timeout
        while True:
            missing = []
            for name in names:
                p = os.path.join(self.state, name)
                if not os.path.exists(p) or text not in open(p, errors="replace").read():
                    missing.append(name)
            if not missing:
                return
            if time.time() > deadline:
                raise AssertionError("%r not logged in %s" % (text, ", ".join(missing)))
            time.sleep(0.05)

    def request_log(self, resp, timeout=5):
        """portald's request line for a response (found by its X-Request-Id), as key=value
        pairs: the statement count and trace (stmts=, stmt_trace=) among them."""
        rid = resp.header("x-request-id")
        assert rid, resp.headers
        deadline = time.time() + timeout
        while True:
            with open(os.path.join(self.state, "portald.log"), errors="replace") as f:
                lines = [l for l in f if "request_id=" + rid in l and "stmts=" in l]
            if lines:
                return log_kv(lines[0])
            if time.time() > deadline:
                raise AssertionError("no request line for " + rid)
            time.sleep(0.05)

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data)
        finally:
            conn.close()


class Client:
    """A merchant backend of one site."""

    def __init__(self, stack, site_id, key):
        self.stack = stack
        self.site_id = site_id
        self.key = key

    def call(self, method, path, body=None, key=None, headers=None, raw=None):
        h = {"Authorization": "Bearer " + (key if key is not None else self.key)}
        if key == "":
            del h["Authorization"]
        data = None
        if raw is not None:
            data = raw
            h["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return self.stack.request(method, "/api/v1" + path, body=data, headers=h)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def customer(self, **fields):
        r = self.post("/customers", fields)
        assert r.status == 200, r
        return r.json

    def session(self, customer_id, redirect_url="https://shop.example/account", **extra):
        body = {"customer_id": customer_id, "redirect_url": redirect_url}
        body.update(extra)
        r = self.post("/portal_sessions", body)
        assert r.status == 200, r
        return r.json

    def travel(self, seconds):
        r = self.post("/time_machine/travel_forward", {"seconds": seconds})
        assert r.status == 200, r
        return r.json

    def rendered_pdf(self, kind, oid, timeout=60):
        """The API's PDF of an invoice or credit note (kind "invoices" or "credit_notes")
        once the job runner has rendered it; until then the API answers 409."""
        deadline = time.time() + timeout
        while True:
            r = self.get("/%s/%s/pdf" % (kind, oid))
            if r.status == 200:
                return r.body
            assert r.status == 409, r
            if time.time() > deadline:
                raise AssertionError("the PDF of %s %s was not rendered" % (kind, oid))
            time.sleep(0.1)


class Browser:
    """Follows portal pages like a browser without JavaScript: keeps cookies."""

    def __init__(self, stack):
        self.stack = stack
        self.cookies = {}

    def _store(self, resp):
        for sc in resp.header_all("set-cookie"):
            pair = sc.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in sc or value == "":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def _headers(self, extra=None):
        h = dict(extra or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return h

    def get(self, url):
        path = urllib.parse.urlsplit(url)
        target = path.path + ("?" + path.query if path.query else "")
        r = self.stack.request("GET", target, headers=self._headers())
        self._store(r)
        return r

    def post_form(self, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        r = self.stack.request("POST", path, body=data, headers=self._headers(
            {"Content-Type": "application/x-www-form-urlencoded"}))
        self._store(r)
        return r


def csrf_from(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in page"
    return m.group(1)


def pre_csrf(html):
    """The form token of a page shown before sign-in (22 characters)."""
    m = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]{22})"', html)
    assert m, "no sign-in form token in page:\n" + html[:2000]
    return m.group(1)


def log_kv(line):
    """A log line's key=value pairs (values may be quoted)."""
    return dict(m.groups() for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


def key_secret(key):
    """The secret part of an API key, "sk_<mode>_<id>_<secret>". Its base64url secret may
    itself hold "_", so it is the fourth field, never what follows the last "_"."""
    secret = key.split("_", 3)[3]
    assert len(secret) == 43, key
    return secret


def basic(key):
    return "Basic " + base64.b64encode((key + ":").encode()).decode()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_STACK = None


def stack():
    """The shared stack of this run (started by run.py)."""
    return _STACK


_OWN = {}


def own_stack(name, cls=None, workers=2):
    """A stack of a test module's own, started once, for tests that break it or that read
    what the shared stack's other sites would disturb; the module stops it in its
    tearDownModule with stop_own_stack(name)."""
    if name not in _OWN:
        _OWN[name] = (cls or Stack)(bin_dir=_STACK.bin_dir, workers=workers).start()
    return _OWN[name]


def stop_own_stack(name):
    s = _OWN.pop(name, None)
    if s is not None:
        s.stop()


def set_stack(s):
    global _STACK
    _STACK = s


# ---- a minimal FastCGI client, to talk to portald without nginx ----
def _fcgi_record(rtype, content, req_id=1):
    import struct
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), pad, 0) + content + b"\0" * pad


def _fcgi_pair(name, value):
    import struct

    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def fcgi_params(params):
    return _fcgi_record(4, b"".join(_fcgi_pair(k.encode(), v.encode())
                                    for k, v in params.items())) + _fcgi_record(4, b"")


FCGI_BEGIN = _fcgi_record(1, bytes([0, 1, 0, 0, 0, 0, 0, 0]))   # RESPONDER, no keep-conn
FCGI_STDIN_END = _fcgi_record(5, b"")


def fcgi_read_stdout(sock, timeout=10):
    """Reads records until END_REQUEST; returns the STDOUT bytes."""
    import struct
    sock.settimeout(timeout)
    data, out = b"", b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while len(data) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[:8])
            if len(data) < 8 + clen + plen:
                break
            content = data[8:8 + clen]
            data = data[8 + clen + plen:]
            if rtype == 6:
                out += content
            elif rtype == 3:
                return out
    return out
