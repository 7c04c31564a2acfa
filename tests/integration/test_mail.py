"""test_mail.py: src/mail against a real SMTP server (tools/smtpd.py on a free loopback port),
through tests/unit/mail_send_cli: what arrives parses with Python's email package with both
parts, the right headers, the decoded non-ASCII subject and names and the same Message-ID;
STARTTLS, implicit TLS and AUTH; 4xx is temporary, 5xx to a recipient permanent; a hanging
relay times out; every message template renders to well-formed HTML with no remote
resource."""
import email
import email.policy
import email.utils
import glob
import html.parser
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import ROOT, free_port, stack

SMTPD = os.path.join(ROOT, "tools", "smtpd.py")
TYPES = ["invitation", "login_link", "set_password", "password_changed", "email_changed",
         "payment_failed", "action_required", "payment_receipt", "trial_ending",
         "card_expiring", "subscription_cancelled", "renewal_reminder"]
SUBJECT = ("Überweisung fällig: Ihre Rechnung Nr. 2026-0042 über 1.299,00 € für das "
           "Jahresabo „Premium Plus“ — 請求書のお知らせ 🧾 bitte bis 31. März bezahlen")
FROM_NAME = "Zoë’s Café — Ñandú"
TO_NAME = "Jürgen \"JJ\" Müller"


def driver_path():
    p = os.environ.get("MAIL_SEND_CLI") or os.path.join(
        stack().bin_dir, "..", "tests", "unit", "mail_send_cli")
    return os.path.abspath(p)


def run_driver(args, payload, timeout=60):
    r = subprocess.run([driver_path()] + args, input=json.dumps(payload).encode(),
                       capture_output=True, timeout=timeout)
    return r


def send(relay, message, timeout=60):
    r = run_driver(["send"], {"relay": relay, "message": message}, timeout)
    if r.returncode != 0:
        raise AssertionError("driver failed: %s" % r.stderr.decode(errors="replace"))
    return json.loads(r.stdout)


def sample_message(msgid="<msg_it_0001@demo.example>", **over):
    m = {
        "from": {"name": FROM_NAME, "addr": "billing@demo.example"},
        "to": {"name": TO_NAME, "addr": "jane@example.com"},
        "cc": {"addr": "books@demo.example"},
        "reply_to": {"name": "Help Desk", "addr": "help@demo.example"},
        "subject": SUBJECT,
        "date": 1772528700,
        "message_id": msgid,
        "text": "Hello Jürgen,\n\nyour invoice = €1.299,00.\n.\nFrom now on: " + "x" * 100 + "\n",
        "html": "<!DOCTYPE html><html lang=\"en\"><body><p>Hello J&uuml;rgen,</p>"
                "<p>your invoice = €1.299,00.</p></body></html>\n",
        "headers": [["Auto-Submitted", "auto-generated"], ["X-Portald-Type", "payment_receipt"],
                    ["List-Unsubscribe", "<https://billing.demo.example/portal/demo/unsub?t=1>"]],
    }
    m.update(over)
    return m


def sample_data():
    return {
        "site": {"name": "Tom & Jerry's <Shop>", "color": "#0b5cad",
                 "logo_url": "https://billing.example/static/logos/demo.png",
                 "support_email": "help@shop.example"},
        "portal_url": "https://billing.example/portal/demo",
        "customer": {"name": "Zoë Ñandú"},
        "link": {"url": "https://billing.example/portal/demo/login/tok?a=1&b=2",
                 "expires": "in 15 minutes"},
        "reset": False,
        "changed_at": "3 March 2026, 09:05 UTC",
        "signin_url": "https://billing.example/portal/demo/login",
        "old_email": "old@example.com", "new_email": "new@example.com",
        "invoice": {"number": "INV-0042", "amount": "€1.299,00",
                    "url": "https://billing.example/portal/demo/invoices/inv_1"},
        "reason": "Insufficient funds", "next_attempt": "6 March 2026",
        "paid_at": "3 March 2026", "payment_method": "Visa ending 4242",
        "lines": [{"description": "Pro plan, March 2026", "amount": "€1.200,00"},
                  {"description": "Extra seat", "amount": "€99,00"}],
        "plan": {"name": "Pro"}, "trial_end": "17 March 2026", "amount": "$30.00",
        "expiry": "04/2026", "subscription": {"reference": "sub_9f2c"},
        "cancelled_at": "3 March 2026, 09:05 UTC", "service_until": "31 March 2026",
        "renews_at": "1 April 2026",
    }


class SmtpServer:
    """tools/smtpd.py in a temporary maildir on a free port; stop() ends it."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="portald-smtpd.")
        self.proc = subprocess.Popen([SMTPD, "--host", "127.0.0.1", "--port", "0",
                                      "--maildir", self.dir] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.port = None
        self.output = []
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.time() + 15
        while self.port is None and time.time() < deadline:
            if not sel.select(timeout=deadline - time.time()):
                break
            line = self.proc.stdout.readline().decode(errors="replace")
            if not line:
                break
            self.output.append(line)
            if line.startswith("SMTPD_PORT="):
                self.port = int(line.strip().split("=", 1)[1])
        sel.close()
        if self.port is None:
            self.stop()
            raise RuntimeError("smtpd did not start: " + "".join(self.output))
        # Keep reading its output so the pipe never fills.
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self):
        for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, scheme="smtp"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def control(self, line):
        with open(os.path.join(self.dir, "control"), "w") as f:
            f.write(line + "\n")

    def files(self):
        return sorted(glob.glob(os.path.join(self.dir, "*.eml")))

    def messages(self):
        out = []
        for p in self.files():
            with open(p, "rb") as f:
                out.append(f.read())
        return out


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def as_sent(raw):
    """The message without the envelope lines smtpd puts on top."""
    lines = raw.split(b"\r\n")
    while lines and lines[0].split(b":", 1)[0] in (b"Return-Path", b"Delivered-To",
                                                    b"X-Smtpd-Session"):
        lines.pop(0)
    return b"\r\n".join(lines)


def session_of(msg):
    return dict(kv.strip().split("=", 1) for kv in str(msg["X-Smtpd-Session"]).split(";"))


class Sending(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="portald-mailtls.")
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", cls.key, "-out", cls.cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server(self, *args):
        s = SmtpServer(*args)
        self.addCleanup(s.stop)
        return s

    def test_message_arrives_and_parses_with_both_parts(self):
        srv = self.server()
        m = sample_message()
        r = send({"url": srv.url(), "starttls": "none", "helo": "portal.demo.example"}, m)
        self.assertEqual(r, {"result": "sent", "code": 250, "error": ""})
        raws = srv.messages()
        self.assertEqual(len(raws), 1)
        raw = raws[0]
        msg = parse(raw)
        self.assertEqual(msg.defects, [])
        # Envelope: sender, both recipients, and the EHLO name we configured.
        self.assertEqual(str(msg["Return-Path"]), "<billing@demo.example>")
        self.assertEqual(sorted(str(v) for v in msg.get_all("Delivered-To")),
                         ["books@demo.example", "jane@example.com"])
        self.assertEqual(session_of(msg)["helo"], "portal.demo.example")
        self.assertEqual(session_of(msg)["tls"], "none")
        # Headers, decoded.
        self.assertEqual(str(msg["Subject"]), SUBJECT)
        self.assertEqual(msg["From"].addresses[0].display_name, FROM_NAME)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "billing@demo.example")
        self.assertEqual(msg["To"].addresses[0].display_name, TO_NAME)
        self.assertEqual(msg["To"].addresses[0].addr_spec, "jane@example.com")
        self.assertEqual(msg["Cc"].addresses[0].addr_spec, "books@demo.example")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "help@demo.example")
        self.assertEqual(str(msg["Message-ID"]), "<msg_it_0001@demo.example>")
        self.assertEqual(email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp(),
                         1772528700)
        self.assertEqual(str(msg["Auto-Submitted"]), "auto-generated")
        self.assertEqual(str(msg["X-Portald-Type"]), "payment_receipt")
        self.assertEqual(str(msg["MIME-Version"]), "1.0")
        # Body: multipart/alternative, text first, both UTF-8 and decoding to the input.
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        for p in parts:
            self.assertEqual(p.get_content_charset(), "utf-8")
            self.assertEqual(p["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parts[0].get_content().replace("\r\n", "\n"), m["text"])
        self.assertEqual(parts[1].get_content().replace("\r\n", "\n"), m["html"])
        # Every line of what was sent ends in CRLF and is at most 78 characters.
        body = as_sent(raw)
        self.assertTrue(body.startswith(b"Date: "))
        self.assertNotIn(b"\n", body.replace(b"\r\n", b""))
        self.assertNotIn(b"\r", body.replace(b"\r\n", b""))
        self.assertEqual([l for l in body.split(b"\r\n") if len(l) > 78], [])

    def test_retry_sends_the_same_bytes_and_message_id(self):
        # The first attempt is refused with 451, the retry of the same message goes through.
        srv = self.server("--fail-next", "1", "--fail-code", "451")
        relay = {"url": srv.url(), "starttls": "none"}
        m = sample_message(msgid="<msg_retry_7@demo.example>")
        first = send(relay, m)
        self.assertEqual((first["result"], first["code"]), ("temporary", 451))
        self.assertEqual(srv.messages(), [])
        self.assertEqual(send(relay, m)["result"], "sent")
        composed = run_driver(["compose"], m).stdout
        [raw] = srv.messages()
        self.assertEqual(as_sent(raw), composed)
        self.assertEqual(str(parse(raw)["Message-ID"]), "<msg_retry_7@demo.example>")

    def test_starttls_required_with_auth_and_ca_file(self):
        srv = self.server("--starttls", self.cert, self.key, "--require-starttls",
                          "--auth", "portald:s3cret pass")
        r = send({"url": srv.url(), "starttls": "required", "ca_file": self.cert,
                  "username": "portald", "password": "s3cret pass"}, sample_message())
        self.assertEqual(r["result"], "sent", r)
        s = session_of(parse(srv.messages()[0]))
        self.assertTrue(s["tls"].startswith("TLSv1."), s)
        self.assertEqual(s["auth"], "portald")

    def test_opportunistic_starttls_is_used_when_offered(self):
        srv = self.server("--starttls", self.cert, self.key)
        r = send({"url": srv.url(), "starttls": "opportunistic", "ca_file": self.cert},
                 sample_message())
        self.assertEqual(r["result"], "sent", r)
        self.assertTrue(session_of(parse(srv.messages()[0]))["tls"].startswith("TLSv1."))

    def test_opportunistic_starttls_goes_plain_when_not_offered(self):
        srv = self.server()
        r = send({"url": srv.url(), "starttls": "opportunistic"}, sample_message())
        self.assertEqual(r["result"], "sent", r)
        self.assertEqual(session_of(parse(srv.messages()[0]))["tls"], "none")

    def test_unknown_certificate_is_refused_unless_verification_is_off(self):
        srv = self.server("--starttls", self.cert, self.key, "--require-starttls")
        r = send({"url": srv.url(), "starttls": "required"}, sample_message())
        self.assertEqual(r["result"], "temporary", r)
        self.assertIn("certificate", r["error"])
        self.assertEqual(srv.messages(), [])
        r = send({"url": srv.url(), "starttls": "required", "tls_verify": False},
                 sample_message())
        self.assertEqual(r["result"], "sent", r)

    def test_required_starttls_against_a_server_without_it_fails(self):
        srv = self.server()
        r = send({"url": srv.url(), "starttls": "required"}, sample_message())
        self.assertEqual((r["result"], r["code"]), ("temporary", 0), r)
        self.assertIn("STARTTLS", r["error"])
        self.assertEqual(srv.messages(), [])

    def test_implicit_tls_smtps(self):
        srv = self.server("--smtps", self.cert, self.key, "--auth", "u:p")
        r = send({"url": srv.url("smtps"), "ca_file": self.cert, "username": "u",
                  "password": "p"}, sample_message())
        self.assertEqual(r["result"], "sent", r)
        s = session_of(parse(srv.messages()[0]))
        self.assertTrue(s["tls"].startswith("TLSv1."))
        self.assertEqual(s["auth"], "u")

    def test_wrong_auth_fails_cleanly_without_showing_the_password(self):
        srv = self.server("--starttls", self.cert, self.key, "--require-starttls",
                          "--auth", "portald:right")
        r = send({"url": srv.url(), "starttls": "required", "ca_file": self.cert,
                  "username": "portald", "password": "WRONGpassWORD"}, sample_message())
        self.assertEqual((r["result"], r["code"]), ("temporary", 535), r)
        self.assertIn("AUTH", r["error"])
        self.assertNotIn("WRONG", r["error"])
        self.assertNotIn("V1JPTk", r["error"])     # nor its base64
        self.assertEqual(srv.messages(), [])

    def test_missing_auth_is_temporary(self):
        srv = self.server("--auth", "u:p")
        r = send({"url": srv.url(), "starttls": "none"}, sample_message())
        self.assertEqual((r["result"], r["code"]), ("temporary", 530), r)

    def test_4xx_is_temporary_and_5xx_to_the_recipient_permanent(self):
        srv = self.server()
        relay = {"url": srv.url(), "starttls": "none"}
        srv.control("fail 451")
        self.assertEqual(send(relay, sample_message())["code"], 451)
        self.assertEqual(send(relay, sample_message())["result"], "temporary")
        srv.control("fail 550")
        r = send(relay, sample_message())
        self.assertEqual((r["result"], r["code"]), ("permanent", 550), r)
        self.assertIn("RCPT", r["error"])
        srv.control("fail 554 data")     # the content refused
        r = send(relay, sample_message())
        self.assertEqual((r["result"], r["code"]), ("permanent", 554), r)
        srv.control("fail 550 mail")     # our sender refused: configuration, keep it
        r = send(relay, sample_message())
        self.assertEqual((r["result"], r["code"]), ("temporary", 550), r)
        srv.control("fail 452 data")
        self.assertEqual(send(relay, sample_message())["result"], "temporary")
        self.assertEqual(srv.messages(), [])
        srv.control("accept")
        self.assertEqual(send(relay, sample_message())["result"], "sent")
        self.assertEqual(len(srv.messages()), 1)

    def test_connection_refused_is_temporary(self):
        port = free_port()      # nothing listens there
        r = send({"url": "smtp://127.0.0.1:%d" % port, "starttls": "none"}, sample_message())
        self.assertEqual((r["result"], r["code"]), ("temporary", 0), r)

    def test_hanging_relay_times_out_within_the_bound(self):
        srv = self.server("--hang")
        t0 = time.monotonic()
        r = send({"url": srv.url(), "starttls": "none", "connect_timeout": 2, "timeout": 3},
                 sample_message())
        elapsed = time.monotonic() - t0
        self.assertEqual((r["result"], r["code"]), ("temporary", 0), r)
        self.assertIn("timed out", r["error"].lower())
        self.assertLess(elapsed, 15, "a 3 s bound, generously")
        self.assertGreater(elapsed, 1.5)
        # Released, the same server takes the message.
        srv.control("accept")
        self.assertEqual(send({"url": srv.url(), "starttls": "none"}, sample_message())
                         ["result"], "sent")

    def test_invalid_recipient_is_permanent_without_connecting(self):
        m = sample_message(to={"addr": "not-an-address@"})
        r = run_driver(["compose"], m)
        self.assertNotEqual(r.returncode, 0)        # the composer refuses it first
        self.assertIn(b"To", r.stderr)

    def test_header_injection_never_reaches_the_relay(self):
        srv = self.server()
        m = sample_message(subject="Receipt\r\nBcc: victim@example.com")
        r = run_driver(["send"], {"relay": {"url": srv.url(), "starttls": "none"},
                                  "message": m})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"line break", r.stderr)
        self.assertEqual(srv.messages(), [])

    def test_the_local_stack_has_a_relay_and_a_mailbox(self):
        s = stack()
        conf = os.path.join(s.state, "portald.conf")
        before = set(s.mail_files())
        m = sample_message(msgid="<msg_stack_1@portald.test>",
                           **{"from": {"name": "Portald", "addr": "billing@portald.test"}})
        r = send({"config": conf}, m)
        self.assertEqual(r["result"], "sent", r)
        new = [p for p in s.mail_files() if p not in before]
        self.assertEqual(len(new), 1)
        with open(new[0], "rb") as f:
            self.assertEqual(str(parse(f.read())["Message-ID"]), "<msg_stack_1@portald.test>")


class WellFormed(html.parser.HTMLParser):
    """Balanced tags (void elements aside), and every attribute that loads something."""
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.loads, self.hrefs, self.imgs = [], [], [], [], []
        self.tags = set()
        self.doctype = None
        self.html_lang = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "html":
            self.html_lang = a.get("lang")
        for name in ("src", "background", "srcset", "poster", "data"):
            if name in a:
                self.loads.append(a[name])
        if tag == "link" and "href" in a:
            self.loads.append(a["href"])
        if tag == "a":
            self.hrefs.append(a.get("href"))
        if tag == "img":
            self.imgs.append(a)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %r" % (tag, self.stack[-1:]))
            return
        self.stack.pop()


def check_html(testcase, html_text, name, origin):
    p = WellFormed()
    p.feed(html_text)
    p.close()
    testcase.assertEqual(p.errors, [], name)
    testcase.assertEqual(p.stack, [], name + ": unclosed elements")
    testcase.assertEqual((p.doctype or "").lower(), "doctype html", name)
    testcase.assertEqual(p.html_lang, "en", name)
    for tag in ("script", "link", "style", "iframe", "object", "form", "video", "audio"):
        testcase.assertNotIn(tag, p.tags, name)
    testcase.assertNotIn("url(", html_text, name)
    testcase.assertNotIn("@import", html_text, name)
    # The only thing a mail client loads is the logo, from the portal's own origin.
    for u in p.loads:
        testcase.assertTrue(u.startswith(origin + "/"), "%s loads %s" % (name, u))
    for img in p.imgs:
        testcase.assertTrue(img.get("alt"), name + ": an image without alt text")
    for h in p.hrefs:
        testcase.assertRegex(h or "", r"^(https?://|mailto:)", name)


class Templates(unittest.TestCase):
    ORIGIN = "https://billing.example"

    def render(self, mtype, data):
        r = run_driver(["render", mtype], data)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return json.loads(r.stdout)

    def test_template_files_match_the_types(self):
        files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "templates", "mail", "*")))
        want = sorted(["layout.txt", "layout.html"] + [t + ".txt" for t in TYPES] +
                      [t + ".html" for t in TYPES])
        self.assertEqual(files, want)
        with open(os.path.join(ROOT, "src", "mail", "mail_templates.h")) as f:
            contract = f.read()
        for t in TYPES:
            self.assertRegex(contract, r"\n \*   %s " % t, "the data contract lists " + t)

    def test_every_type_renders_text_and_html(self):
        data = sample_data()
        for t in TYPES:
            with self.subTest(type=t):
                out = self.render(t, data)
                self.assertTrue(out["subject"] and "\n" not in out["subject"])
                self.assertNotIn("{{", out["subject"] + out["text"] + out["html"])
                self.assertIn("Hello Zoë Ñandú,", out["text"])
                self.assertIn("Tom & Jerry's <Shop>", out["text"])     # text is not escaped
                self.assertIn("Tom &amp; Jerry&#39;s &lt;Shop&gt;", out["html"])
                self.assertNotIn("<Shop>", out["html"])
                check_html(self, out["html"], t, self.ORIGIN)

    def test_every_type_renders_with_only_the_required_fields(self):
        minimal = {
            "site": {"name": "Shop"}, "portal_url": "http://127.0.0.1:8080/portal/demo",
            "link": {"url": "http://127.0.0.1:8080/portal/demo/x", "expires": "in 1 hour"},
            "changed_at": "today", "old_email": "a@example.com", "new_email": "b@example.com",
            "invoice": {"number": "1", "amount": "$1.00"}, "paid_at": "today",
            "payment_method": "Visa ending 4242", "plan": {"name": "P"}, "trial_end": "soon",
            "amount": "$1.00", "expiry": "01/2030", "subscription": {"reference": "sub_1"},
            "cancelled_at": "now", "renews_at": "soon",
        }
        for t in TYPES:
            with self.subTest(type=t):
                out = self.render(t, minimal)
                self.assertIn("Hello,", out["text"])
                self.assertNotIn("<img", out["html"])       # no logo: the name instead
                check_html(self, out["html"], t, "http://127.0.0.1:8080")

    def test_no_template_contains_a_remote_resource(self):
        for p in glob.glob(os.path.join(ROOT, "templates", "mail", "*.html")):
            with open(p) as f:
                text = f.read()
            name = os.path.basename(p)
            self.assertNotRegex(text, r"(?i)https?:|//[a-z0-9]", name)
            self.assertNotRegex(text, r"(?i)<(script|link|style|iframe|object)\b", name)
            self.assertNotIn("url(", text, name)
            for src in re.findall(r'\bsrc="([^"]*)"', text):
                self.assertRegex(src, r"^\{\{[a-z_.]+\}\}$", name)

    def test_logo_from_another_origin_is_refused(self):
        data = sample_data()
        data["site"]["logo_url"] = "https://cdn.merchant.example/logo.png"
        r = run_driver(["render", "login_link"], data)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"origin", r.stderr)

    def test_rendered_message_composes_and_parses(self):
        srv = SmtpServer()
        self.addCleanup(srv.stop)
        for t in TYPES:
            m = sample_message(msgid="<msg_%s@demo.example>" % t, type=t, data=sample_data())
            for k in ("subject", "text", "html"):
                del m[k]
            self.assertEqual(send({"url": srv.url(), "starttls": "none"}, m)["result"], "sent")
        msgs = [parse(raw) for raw in srv.messages()]
        self.assertEqual(len(msgs), len(TYPES))
        for t, msg in zip(TYPES, msgs):
            with self.subTest(type=t):
                self.assertEqual(str(msg["Message-ID"]), "<msg_%s@demo.example>" % t)
                text, html_part = list(msg.iter_parts())
                self.assertIn("Hello Zoë Ñandú,", text.get_content())
                self.assertIn("Tom & Jerry's <Shop>", str(msg["Subject"]) + text.get_content())
                check_html(self, html_part.get_content(), t, self.ORIGIN)
        receipt = msgs[TYPES.index("payment_receipt")]
        self.assertEqual(str(receipt["Subject"]),
                         "Receipt for your payment to Tom & Jerry's <Shop> (invoice INV-0042)")
        text = list(receipt.iter_parts())[0].get_content()
        self.assertIn("Extra seat: €99,00", text)
        self.assertIn("Amount paid: €1.299,00", text)
        failed = list(msgs[TYPES.index("payment_failed")].iter_parts())
        self.assertIn("https://billing.example/portal/demo/login/tok?a=1&b=2", failed[0].get_content())
        self.assertIn('href="https://billing.example/portal/demo/login/tok?a=1&amp;b=2"',
                      failed[1].get_content())


if __name__ == "__main__":
    unittest.main()
