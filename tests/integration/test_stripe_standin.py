"""test_stripe_standin.py: the Stripe stand-in (tests/stripe/standin.py) through http.client
and through Portald's C client (src/stripe, driven by tests/unit/stripe_cli), with the official
stripe npm package (tests/stripe/oracle.mjs) as the oracle for form encoding and webhook
signatures. Needs no stack; runs under run.py or alone with PORTALD_BIN=build/werror/src."""
import base64
import http.client
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness

ROOT = harness.ROOT
STRIPE_DIR = os.path.join(ROOT, "tests", "stripe")
sys.path.insert(0, STRIPE_DIR)
import standin  # noqa: E402


def cli_path():
    st = harness.stack()
    bin_dir = (st.bin_dir if st else None) or os.environ.get("PORTALD_BIN") or \
        os.path.join(ROOT, "build", "werror", "src")
    return os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "tests", "unit",
                        "stripe_cli")


def node_ready():
    if not os.path.isdir(os.path.join(STRIPE_DIR, "node_modules", "stripe")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=STRIPE_DIR, check=True,
                       capture_output=True, timeout=300)


def oracle(cmd, data=None, args=(), env=None):
    node_ready()
    r = subprocess.run(["node", "oracle.mjs", cmd, *args], cwd=STRIPE_DIR, capture_output=True,
                       input=json.dumps(data) if data is not None else "", text=True,
                       timeout=120, env=env)
    if r.returncode != 0:
        raise AssertionError("oracle %s failed: %s" % (cmd, r.stderr[-2000:]))
    return json.loads(r.stdout)


class Receiver:
    """A webhook endpoint that keeps every delivery's headers and raw body."""

    def __init__(self):
        self.got = []
        self.cv = threading.Condition()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with rec.cv:
                    rec.got.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body, "path": self.path})
                    rec.cv.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/gateway/stripe/site/webhook" % self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self):
        with self.cv:
            return [json.loads(d["body"]) for d in self.got]

    def wait_for(self, pred, timeout=10):
        end = time.time() + timeout
        with self.cv:
            while time.time() < end:
                hits = [d for d in self.got if pred(json.loads(d["body"]))]
                if hits:
                    return hits
                self.cv.wait(0.1)
        raise AssertionError("no matching delivery; got %s" % [
            json.loads(d["body"])["type"] for d in self.got])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StandInCase(unittest.TestCase):
    """One TLS stand-in for the class; each test has its own account and must leave no
    complaint it did not take itself."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="stripe-standin.")
        cls.cert, key = standin.make_test_cert(cls.tmp)
        cls.s = standin.StandIn(tls=(cls.cert, key)).start()
        cls.receiver = Receiver()
        cls.sslctx = ssl.create_default_context(cafile=cls.cert)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.receiver.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.s.clear_complaints()
        self.acct = self.s.add_account()
        self.key = self.acct["test_key"]
        self.hook = self.s.add_webhook_endpoint(self.key, self.receiver.url)

    def tearDown(self):
        left = self.s.clear_complaints()
        self.assertEqual(left, [], "the stand-in complained")

    def take(self, rule):
        """The complaints of one rule, which the test provoked; any other stays for
        tearDown."""
        with self.s.lock:
            mine = [c for c in self.s._complaints if c["rule"] == rule]
            self.s._complaints = [c for c in self.s._complaints if c["rule"] != rule]
        self.assertTrue(mine, "expected a %s complaint" % rule)
        return mine

    # -- talking to the stand-in directly --
    def raw(self, method, path, body=b"", headers=None, key=None, version=standin.API_VERSION):
        c = http.client.HTTPSConnection("127.0.0.1", self.s.port, context=self.sslctx,
                                        timeout=30)
        h = {}
        if key is not False:
            h["Authorization"] = "Bearer " + (key or self.key)
        if version:
            h["Stripe-Version"] = version
        if method == "POST":
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        c.request(method, path, body=body if method == "POST" else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            j = json.loads(data)
        except ValueError:
            j = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, j, data

    def post(self, path, params, idem, **kw):
        body = "&".join("%s=%s" % (standin.stripe_escape(k), standin.stripe_escape(v))
                        for k, v in params)
        return self.raw("POST", path, body.encode(), {"Idempotency-Key": idem}, **kw)

    # -- the C client --
    def cli(self, *args, key=None, ca=True, retries=None, timeout_ms=None):
        cmd = [cli_path(), "request", "--base", self.s.url, "--retry-delay-ms", "10",
               "--retry-delay-max-ms", "50"]
        if ca:
            cmd += ["--ca", self.cert]
        if retries is not None:
            cmd += ["--retries", str(retries)]
        if timeout_ms is not None:
            cmd += ["--timeout-ms", str(timeout_ms)]
        env = dict(os.environ, STRIPE_SECRET_KEY=key or self.key)
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)
        out = json.loads(r.stdout)
        out["stderr"] = r.stderr
        self.assertNotIn(key or self.key, r.stderr, "the secret key was logged")
        return out

    def customer(self, idem=None, **extra):
        r = self.cli("--idempotency-key", idem or "cus-" + standin.rand(8), "POST",
                     "/v1/customers", "email=jane@example.com", "name=Jane Doe",
                     *["%s=%s" % kv for kv in extra.items()])
        self.assertEqual(r["outcome"], "ok", r)
        return r["body"]

    def saved_card(self, cus_id, card="pm_card_visa"):
        r = self.cli("--idempotency-key", "att-" + standin.rand(8), "POST",
                     "/v1/payment_methods/%s/attach" % card, "customer=" + cus_id)
        self.assertEqual(r["outcome"], "ok", r)
        return r["body"]["id"]

    def charge(self, cus_id, pm, idem, amount=2000, **kw):
        return self.cli("--idempotency-key", idem, "POST", "/v1/payment_intents",
                        "amount=%d" % amount, "currency=usd", "customer=" + cus_id,
                        "payment_method=" + pm, "+payment_method_types=card", "confirm=true",
                        "off_session=true", "metadata[invoice]=inv_" + idem, **kw)

    def requests_to(self, path, method="POST"):
        return [r for r in self.s.requests()
                if r["path"] == path and r["method"] == method and
                r["account"] == self.acct["id"]]


class StandInProtocol(StandInCase):
    """Stripe's rules as the stand-in applies them, seen through http.client."""

    def test_same_key_same_parameters_replays_the_saved_answer(self):
        params = [("email", "a@example.com"), ("metadata[crm]", "7")]
        st1, h1, b1, raw1 = self.post("/v1/customers", params, "k-replay")
        st2, h2, b2, raw2 = self.post("/v1/customers", params, "k-replay")
        self.assertEqual((st1, st2), (200, 200))
        self.assertNotIn("idempotent-replayed", h1)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(raw1, raw2)
        self.assertEqual(b1["object"], "customer")
        self.assertTrue(b1["id"].startswith("cus_"))
        self.assertEqual(b1["metadata"], {"crm": "7"})
        self.assertIs(b1["livemode"], False)
        customers = [o for o in self.s.keys[self.key].objects.values()
                     if o["object"] == "customer"]
        self.assertEqual(len(customers), 1)

    def test_same_key_other_parameters_is_an_idempotency_error(self):
        self.post("/v1/customers", [("email", "a@example.com")], "k-reuse")
        st, _, b, _ = self.post("/v1/customers", [("email", "b@example.com")], "k-reuse")
        self.assertEqual(st, 400)
        self.assertEqual(b["error"]["type"], "idempotency_error")
        self.take("idempotency_error")

    def test_keys_are_per_account(self):
        other = self.s.add_account()
        st1, _, b1, _ = self.post("/v1/customers", [("name", "A")], "k-shared")
        st2, h2, b2, _ = self.post("/v1/customers", [("name", "A")], "k-shared",
                                   key=other["test_key"])
        self.assertEqual((st1, st2), (200, 200))
        self.assertNotIn("idempotent-replayed", h2)
        self.assertNotEqual(b1["id"], b2["id"])

    def test_saved_500_is_replayed_under_its_key(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "500"})
        st1, h1, b1, _ = self.post("/v1/customers", [("name", "A")], "k-500")
        st2, h2, b2, _ = self.post("/v1/customers", [("name", "A")], "k-500")
        self.assertEqual((st1, st2), (500, 500))
        self.assertEqual(b1["error"]["type"], "api_error")
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(h2.get("stripe-should-retry"), "false")
        st3, _, b3, _ = self.post("/v1/customers", [("name", "A")], "k-500-new")
        self.assertEqual(st3, 200, b3)

    def test_validation_errors_are_not_saved(self):
        st1, _, _, _ = self.post("/v1/payment_intents", [("amount", "10"), ("currency", "usd")],
                                 "k-small")
        self.assertEqual(st1, 400)
        self.take("amount")
        st2, _, b2, _ = self.post("/v1/payment_intents", [("amount", "10"),
                                                          ("currency", "usd")], "k-small")
        self.assertEqual(st2, 400)      # evaluated afresh, not replayed
        self.assertEqual(b2["error"]["code"], "amount_too_small")
        self.take("amount")

    def test_unknown_missing_and_wrong_keys_are_401(self):
        for key, word in (("sk_test_nobody", "Invalid API Key"), (False, "did not provide"),
                          ("pk_test_abc", "publishable")):
            st, _, b, _ = self.raw("GET", "/v1/customers/cus_x", key=key)
            self.assertEqual(st, 401)
            self.assertIn(word, b["error"]["message"])
            self.assertNotIn("sk_test_nobody", b["error"]["message"])
        self.assertEqual(len(self.take("auth")), 3)

    def test_basic_auth_with_the_key_works(self):
        auth = "Basic " + base64.b64encode((self.key + ":").encode()).decode()
        st, _, b, _ = self.raw("POST", "/v1/customers", b"name=B",
                               {"Authorization": auth, "Idempotency-Key": "k-basic"})
        self.assertEqual(st, 200, b)

    def test_json_body_is_refused(self):
        st, _, b, _ = self.raw("POST", "/v1/customers", b'{"name":"A"}',
                               {"Content-Type": "application/json", "Idempotency-Key": "k-j"})
        self.assertEqual(st, 400)
        self.assertIn("Content-Type", b["error"]["message"])
        self.take("content_type")

    def test_missing_idempotency_key_is_a_complaint(self):
        st, _, b, _ = self.raw("POST", "/v1/customers", b"name=A")
        self.assertEqual(st, 200)       # Stripe itself would accept it
        self.take("missing_idempotency_key")

    def test_stripe_version_is_checked(self):
        st, _, _, _ = self.raw("GET", "/v1/events", version=None)
        self.assertEqual(st, 200)
        self.take("api_version")
        st, _, _, _ = self.raw("GET", "/v1/events", version="2023-10-16")
        self.assertEqual(st, 200)
        self.assertIn("2023-10-16", self.take("api_version")[0]["message"])
        st, _, b, _ = self.raw("GET", "/v1/events", version="latest")
        self.assertEqual(st, 400)
        self.assertIn("Invalid Stripe API version", b["error"]["message"])
        self.take("api_version")

    def test_encoding_other_than_stripe_nodes_is_a_complaint(self):
        st, _, b, _ = self.raw("POST", "/v1/customers", b"name=Jane+Doe&metadata%5Bk%5D=v",
                               {"Idempotency-Key": "k-enc"})
        self.assertEqual(st, 200)
        self.assertEqual(b["name"], "Jane Doe")
        self.assertEqual(b["metadata"], {"k": "v"})
        self.take("encoding")
        st, _, _, _ = self.raw("POST", "/v1/customers", b"name=%zz",
                               {"Idempotency-Key": "k-enc2"})
        self.assertEqual(st, 400)
        self.take("encoding")
        st, _, _, _ = self.raw("POST", "/v1/customers", b"name=%C3%28",
                               {"Idempotency-Key": "k-enc3"})
        self.assertEqual(st, 400)
        self.take("encoding")

    def test_nested_parameters_are_parsed_like_stripes(self):
        st, _, b, _ = self.post("/v1/payment_intents", [
            ("amount", "500"), ("currency", "eur"), ("payment_method_types[]", "card"),
            ("automatic_payment_methods[enabled]", "false"), ("metadata[a]", "1"),
            ("metadata[b]", "x y")], "k-nest")
        self.assertEqual(st, 200, b)
        self.assertEqual(b["payment_method_types"], ["card"])
        self.assertEqual(b["metadata"], {"a": "1", "b": "x y"})
        self.assertIsNone(b["automatic_payment_methods"])
        st, _, b, _ = self.post("/v1/payment_intents", [
            ("amount", "500"), ("currency", "eur"), ("payment_method_types[]", "card"),
            ("payment_method_types[1]", "card")], "k-mixed")
        self.assertEqual(st, 400)
        self.take("invalid_request")

    def test_empty_values_unset_only_what_can_be_unset(self):
        cus = self.post("/v1/customers", [("name", "N"), ("phone", "+1 555")], "k-e1")[2]
        st, _, b, _ = self.post("/v1/customers/" + cus["id"], [("phone", ""),
                                                               ("metadata", "")], "k-e2")
        self.assertEqual(st, 200, b)
        self.assertIsNone(b["phone"])
        st, _, b, _ = self.post("/v1/payment_intents", [
            ("amount", "500"), ("currency", "usd"), ("customer", ""),
            ("payment_method_types[0]", "card")], "k-e3")
        self.assertEqual((st, b["error"]["param"]), (400, "customer"))
        self.assertIn("empty string", b["error"]["message"])
        self.take("invalid_request")

    def test_live_key_cannot_use_test_cards_or_test_objects(self):
        cus = self.post("/v1/customers", [("name", "T")], "k-mode")[2]
        live = self.acct["live_key"]
        st, _, b, _ = self.raw("GET", "/v1/customers/" + cus["id"], key=live)
        self.assertEqual(st, 404)
        self.assertIn("exists in test mode", b["error"]["message"])
        st, _, b, _ = self.post("/v1/payment_intents", [
            ("amount", "500"), ("currency", "usd"), ("payment_method", "pm_card_visa"),
            ("payment_method_types[0]", "card")], "k-live", key=live)
        self.assertEqual(st, 404)
        self.assertEqual(len(self.take("key_mode")), 2)

    def test_currency_rules(self):
        ok = [("jpy", 50), ("usd", 50), ("kwd", 1000), ("isk", 500), ("huf", 17550),
              ("ugx", 5000), ("bhd", 2010)]
        bad = [("usd", 49, "at least"), ("kwd", 1005, "multiples of 10"),
               ("isk", 150, "00"), ("jpy", 49, "at least"), ("usd", 100000000, "no more"),
               ("xxx", 100, "Invalid currency"), ("USD", 100, "lower-case")]
        for cur, amt in ok:
            st, _, b, _ = self.post("/v1/payment_intents", [
                ("amount", str(amt)), ("currency", cur), ("payment_method_types[0]", "card")],
                "k-ok-%s-%d" % (cur, amt))
            self.assertEqual(st, 200, (cur, amt, b))
        for cur, amt, word in bad:
            st, _, b, _ = self.post("/v1/payment_intents", [
                ("amount", str(amt)), ("currency", cur), ("payment_method_types[0]", "card")],
                "k-bad-%s-%d" % (cur, amt))
            self.assertEqual(st, 400, (cur, amt))
            self.assertIn(word, b["error"]["message"])
        self.assertEqual(len(self.take("amount")), len(bad))

    def test_search_api_is_a_complaint(self):
        st, _, _, _ = self.raw("GET", "/v1/payment_intents/search?query=status%3A%27succeeded%27")
        self.assertEqual(st, 404)
        self.take("search_api")

    def test_list_by_customer_pages(self):
        cus = self.post("/v1/customers", [("name", "L")], "k-l")[2]
        ids = []
        for i in range(3):
            b = self.post("/v1/payment_intents", [
                ("amount", "100"), ("currency", "usd"), ("customer", cus["id"]),
                ("payment_method_types[0]", "card"), ("metadata[invoice]", "inv_%d" % i)],
                "k-l%d" % i)[2]
            ids.append(b["id"])
        st, _, page1, _ = self.raw("GET", "/v1/payment_intents?customer=%s&limit=2" % cus["id"])
        self.assertEqual([p["id"] for p in page1["data"]], ids[::-1][:2])
        self.assertTrue(page1["has_more"])
        st, _, page2, _ = self.raw("GET", "/v1/payment_intents?customer=%s&limit=2&"
                                   "starting_after=%s" % (cus["id"], ids[1]))
        self.assertEqual([p["id"] for p in page2["data"]], [ids[0]])
        self.assertFalse(page2["has_more"])
        self.assertEqual(page2["url"], "/v1/payment_intents")


class CClient(StandInCase):
    """src/stripe's client against the stand-in, over TLS with the test CA."""

    def test_creates_a_customer_with_pinned_version_and_key(self):
        r = self.cli("--idempotency-key", "cus-1", "POST", "/v1/customers",
                     "email=jane@example.com", "metadata[site]=s 1", "name=Zoë")
        self.assertEqual(r["outcome"], "ok", r)
        self.assertEqual((r["status"], r["attempts"], r["replayed"]), (200, 1, False))
        self.assertTrue(r["request_id"].startswith("req_"))
        self.assertEqual(r["body"]["name"], "Zoë")
        self.assertEqual(r["body"]["metadata"], {"site": "s 1"})
        log = self.requests_to("/v1/customers")
        self.assertEqual(len(log), 1)
        self.assertEqual(log[0]["stripe_version"], "2024-06-20")
        self.assertEqual(log[0]["idempotency_key"], "cus-1")
        got = self.cli("GET", "/v1/customers/" + r["body"]["id"])
        self.assertEqual(got["body"]["id"], r["body"]["id"])

    def test_tls_is_verified(self):
        r = self.cli("GET", "/v1/events", ca=False, retries=2)
        self.assertEqual(r["outcome"], "network_error")
        self.assertTrue(r["unknown"])
        self.assertEqual(r["attempts"], 1)      # a certificate failure is not retried
        self.assertEqual(self.requests_to("/v1/events", "GET"), [])

    def test_post_without_key_is_refused_before_sending(self):
        r = self.cli("POST", "/v1/customers", "name=A")
        self.assertEqual((r["outcome"], r["attempts"]), ("refused", 0))
        self.assertEqual(self.requests_to("/v1/customers"), [])

    def test_429_is_retried_with_the_same_key(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "429", "count": 2})
        r = self.cli("--idempotency-key", "cus-429", "POST", "/v1/customers", "name=A")
        self.assertEqual((r["outcome"], r["attempts"]), ("ok", 3), r)
        log = self.requests_to("/v1/customers")
        self.assertEqual([x["status"] for x in log], [429, 429, 200])
        self.assertEqual({x["idempotency_key"] for x in log}, {"cus-429"})
        self.assertIn("429", r["stderr"])       # each retry is logged

    def test_429_on_every_attempt_is_rate_limited(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "429", "count": 5})
        r = self.cli("--idempotency-key", "cus-429b", "POST", "/v1/customers", "name=A",
                     retries=1)
        self.assertEqual((r["outcome"], r["attempts"], r["unknown"]),
                         ("rate_limited", 2, False))
        self.s.clear_faults()

    def test_5xx_marked_should_retry_is_retried(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "503"})
        r = self.cli("--idempotency-key", "cus-503", "POST", "/v1/customers", "name=A")
        self.assertEqual((r["outcome"], r["attempts"]), ("ok", 2), r)
        self.assertEqual([x["status"] for x in self.requests_to("/v1/customers")], [503, 200])

    def test_409_is_retried(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "409"})
        r = self.cli("--idempotency-key", "cus-409", "POST", "/v1/customers", "name=A")
        self.assertEqual((r["outcome"], r["attempts"]), ("ok", 2), r)

    def test_connection_reset_is_retried(self):
        self.s.add_fault({"path": "/v1/customers", "kind": "reset"})
        r = self.cli("--idempotency-key", "cus-reset", "POST", "/v1/customers", "name=A")
        self.assertEqual((r["outcome"], r["attempts"], r["replayed"]), ("ok", 2, False), r)
        self.assertEqual([x["status"] for x in self.requests_to("/v1/customers")],
                         ["reset", 200])

    def test_reset_after_the_charge_replays_the_charge(self):
        cus = self.customer()
        self.s.add_fault({"path": "/v1/payment_intents", "kind": "reset", "perform": True})
        r = self.charge(cus["id"], "pm_card_visa", "pay-reset")
        self.assertEqual((r["outcome"], r["attempts"], r["replayed"]), ("ok", 2, True), r)
        self.assertEqual(r["body"]["status"], "succeeded")
        listed = self.cli("GET", "/v1/payment_intents", "customer=" + cus["id"])
        self.assertEqual(len(listed["body"]["data"]), 1)    # charged once

    def test_timeout_after_the_charge_then_retrieve_shows_it_succeeded(self):
        cus = self.customer()
        self.s.add_fault({"path": "/v1/payment_intents", "kind": "timeout", "delay": 4})
        t0 = time.time()
        r = self.cli("--idempotency-key", "pay-timeout", "POST", "/v1/payment_intents",
                     "amount=2000", "currency=usd", "customer=" + cus["id"],
                     "payment_method=pm_card_visa", "+payment_method_types=card",
                     "confirm=true", "off_session=true", "metadata[invoice]=inv_t",
                     retries=0, timeout_ms=1000)
        self.assertLess(time.time() - t0, 3.5)
        self.assertEqual((r["outcome"], r["unknown"], r["status"]), ("network_error", True, 0))
        # The caller recorded no id; it reconciles by listing the customer's PaymentIntents.
        listed = self.cli("GET", "/v1/payment_intents", "customer=" + cus["id"])
        self.assertEqual(listed["outcome"], "ok")
        data = listed["body"]["data"]
        self.assertEqual(len(data), 1)
        self.assertEqual(data[0]["status"], "succeeded")
        self.assertEqual(data[0]["metadata"], {"invoice": "inv_t"})
        # Retrying with the same key gets the saved answer, not a second charge.
        again = self.cli("--idempotency-key", "pay-timeout", "POST", "/v1/payment_intents",
                         "amount=2000", "currency=usd", "customer=" + cus["id"],
                         "payment_method=pm_card_visa", "+payment_method_types=card",
                         "confirm=true", "off_session=true", "metadata[invoice]=inv_t")
        self.assertEqual((again["outcome"], again["replayed"]), ("ok", True))
        self.assertEqual(again["body"]["id"], data[0]["id"])

    def test_timeout_is_retried_with_the_same_key(self):
        cus = self.customer()
        self.s.add_fault({"path": "/v1/payment_intents", "kind": "timeout", "delay": 4})
        r = self.cli("--idempotency-key", "pay-timeout2", "POST", "/v1/payment_intents",
                     "amount=2000", "currency=usd", "customer=" + cus["id"],
                     "payment_method=pm_card_visa", "+payment_method_types=card",
                     "confirm=true", "off_session=true", retries=1, timeout_ms=1000)
        self.assertEqual((r["outcome"], r["attempts"], r["replayed"]), ("ok", 2, True), r)

    def test_saved_500_is_not_retried_and_is_unknown(self):
        cus = self.customer()
        self.s.add_fault({"path": "/v1/payment_intents", "kind": "500", "perform": True})
        r = self.charge(cus["id"], "pm_card_visa", "pay-500")
        self.assertEqual((r["outcome"], r["unknown"], r["attempts"]), ("server_error", True, 1))
        self.assertEqual(r["error"]["type"], "api_error")
        again = self.charge(cus["id"], "pm_card_visa", "pay-500")
        self.assertEqual((again["outcome"], again["replayed"]), ("server_error", True))
        # The charge did happen: only retrieving tells.
        listed = self.cli("GET", "/v1/payment_intents", "customer=" + cus["id"])
        self.assertEqual([p["status"] for p in listed["body"]["data"]], ["succeeded"])

    def test_idempotency_error_is_its_own_outcome_and_logged_as_a_bug(self):
        self.cli("--idempotency-key", "cus-bug", "POST", "/v1/customers", "name=A")
        r = self.cli("--idempotency-key", "cus-bug", "POST", "/v1/customers", "name=B")
        self.assertEqual((r["outcome"], r["unknown"], r["status"]),
                         ("idempotency_error", True, 400))
        self.assertIn("BUG", r["stderr"])
        self.take("idempotency_error")

    def test_unknown_parameter_is_caught(self):
        r = self.cli("--idempotency-key", "cus-unknown", "POST", "/v1/customers",
                     "name=A", "emial=typo@example.com")
        self.assertEqual((r["outcome"], r["status"], r["attempts"]),
                         ("invalid_request", 400, 1))
        self.assertEqual(r["error"]["code"], "parameter_unknown")
        self.assertEqual(r["error"]["param"], "emial")
        got = self.take("unknown_parameter")
        self.assertIn("emial", got[0]["message"])

    def test_not_found(self):
        r = self.cli("GET", "/v1/payment_intents/pi_nope")
        self.assertEqual((r["outcome"], r["status"], r["attempts"]), ("not_found", 404, 1))
        self.assertEqual(r["error"]["code"], "resource_missing")

    def test_every_test_payment_method(self):
        cus = self.customer()
        expect = {
            "pm_card_visa": ("ok", None, None),
            "pm_card_mastercard": ("ok", None, None),
            "pm_card_chargeDeclined": ("card_error", "card_declined", "generic_decline"),
            "pm_card_chargeDeclinedInsufficientFunds": ("card_error", "card_declined",
                                                        "insufficient_funds"),
            "pm_card_chargeDeclinedExpiredCard": ("card_error", "expired_card",
                                                  "expired_card"),
            "pm_card_chargeDeclinedIncorrectCvc": ("card_error", "incorrect_cvc",
                                                   "incorrect_cvc"),
            "pm_card_chargeDeclinedProcessingError": ("card_error", "processing_error",
                                                      "processing_error"),
            "pm_card_chargeCustomerFail": ("card_error", "card_declined", "generic_decline"),
            "pm_card_authenticationRequired": ("card_error", "authentication_required",
                                               "authentication_required"),
            "pm_card_authenticationRequiredOnSetup": ("card_error", "authentication_required",
                                                      "authentication_required"),
        }
        for pm, (outcome, code, decline) in expect.items():
            r = self.charge(cus["id"], pm, "pay-" + pm)
            self.assertEqual(r["outcome"], outcome, (pm, r))
            self.assertEqual(r["attempts"], 1)      # 402 is never retried
            if outcome == "ok":
                self.assertEqual(r["body"]["status"], "succeeded")
                ch = self.cli("GET", "/v1/charges/" + r["body"]["latest_charge"])
                self.assertEqual(ch["body"]["status"], "succeeded")
                self.assertEqual(ch["body"]["amount_captured"], 2000)
            else:
                self.assertEqual((r["status"], r["error"]["code"], r["error"]["decline_code"]),
                                 (402, code, decline), pm)
                self.assertEqual(r["error"]["payment_intent_status"],
                                 "requires_payment_method")
                self.assertTrue(r["error"]["charge"].startswith("ch_"))
                self.assertFalse(r["unknown"])
                # A replay under the same key is the same decline, not a new attempt.
                again = self.charge(cus["id"], pm, "pay-" + pm)
                self.assertEqual((again["outcome"], again["replayed"]), (outcome, True))

    def test_declined_cards_cannot_be_saved(self):
        cus = self.customer()
        r = self.cli("--idempotency-key", "att-declined", "POST",
                     "/v1/payment_methods/pm_card_chargeDeclined/attach",
                     "customer=" + cus["id"])
        self.assertEqual((r["outcome"], r["error"]["code"]), ("card_error", "card_declined"))
        pm = self.saved_card(cus["id"], "pm_card_chargeCustomerFail")
        self.assertTrue(pm.startswith("pm_"))

    def test_saved_card_that_starts_declining(self):
        cus = self.customer()
        pm = self.saved_card(cus["id"])
        self.assertEqual(self.charge(cus["id"], pm, "pay-d1")["outcome"], "ok")
        self.s.set_decline(pm, "insufficient_funds")
        r = self.charge(cus["id"], pm, "pay-d2")
        self.assertEqual((r["outcome"], r["error"]["decline_code"]),
                         ("card_error", "insufficient_funds"))

    def test_authentication_required_off_session_then_completed_on_session(self):
        cus = self.customer()
        pm = self.saved_card(cus["id"], "pm_card_authenticationRequired")
        r = self.charge(cus["id"], pm, "pay-3ds")
        self.assertEqual((r["outcome"], r["error"]["code"]),
                         ("card_error", "authentication_required"))
        pi_id = json.loads(json.dumps(self.s.obj(r["error"]["charge"])))["payment_intent"]
        pi = self.cli("GET", "/v1/payment_intents/" + pi_id)["body"]
        self.assertEqual(pi["status"], "requires_payment_method")
        self.assertIsNone(pi["payment_method"])
        self.assertEqual(pi["last_payment_error"]["payment_method"]["id"], pm)
        # The portal's "Complete payment" page confirms on-session with a return_url.
        conf = self.cli("--idempotency-key", "conf-3ds", "POST",
                        "/v1/payment_intents/%s/confirm" % pi_id, "payment_method=" + pm,
                        "return_url=https://portal.example/portal/s1/payments/done")
        self.assertEqual(conf["outcome"], "ok", conf)
        self.assertEqual(conf["body"]["status"], "requires_action")
        nxt = conf["body"]["next_action"]
        self.assertEqual(nxt["type"], "redirect_to_url")
        page = urllib.parse.urlsplit(nxt["redirect_to_url"]["url"])
        c = http.client.HTTPSConnection("127.0.0.1", self.s.port, context=self.sslctx)
        c.request("GET", page.path)
        resp = c.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn(b"Complete authentication", resp.read())
        self.addCleanup(c.close)
        c.request("POST", page.path, body="action=approve",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = c.getresponse()
        resp.read()
        self.assertEqual(resp.status, 303)
        loc = resp.getheader("Location")
        self.assertTrue(loc.startswith("https://portal.example/portal/s1/payments/done?"))
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        self.assertEqual(q["payment_intent"], [pi_id])
        self.assertEqual(q["redirect_status"], ["succeeded"])
        done = self.cli("GET", "/v1/payment_intents/" + pi_id, "+expand=latest_charge")
        self.assertEqual(done["body"]["status"], "succeeded")
        self.assertEqual(done["body"]["latest_charge"]["status"], "succeeded")
        self.receiver.wait_for(lambda e: e["type"] == "payment_intent.succeeded" and
                               e["data"]["object"]["id"] == pi_id)

    def test_on_session_confirm_without_return_url_is_a_complaint(self):
        cus = self.customer()
        pm = self.saved_card(cus["id"], "pm_card_authenticationRequired")
        pi = self.cli("--idempotency-key", "pi-nr", "POST", "/v1/payment_intents",
                      "amount=700", "currency=usd", "customer=" + cus["id"],
                      "+payment_method_types=card")["body"]
        r = self.cli("--idempotency-key", "conf-nr", "POST",
                     "/v1/payment_intents/%s/confirm" % pi["id"], "payment_method=" + pm)
        self.assertEqual(r["body"]["next_action"]["type"], "use_stripe_sdk")
        self.take("use_stripe_sdk")

    def test_automatic_payment_methods_need_a_return_url(self):
        cus = self.customer()
        pm = self.saved_card(cus["id"])
        r = self.cli("--idempotency-key", "pay-apm", "POST", "/v1/payment_intents",
                     "amount=700", "currency=usd", "customer=" + cus["id"],
                     "payment_method=" + pm, "confirm=true", "off_session=true")
        self.assertEqual((r["outcome"], r["error"]["param"]), ("invalid_request", "return_url"))
        self.take("invalid_request")
        r = self.cli("--idempotency-key", "pay-apm2", "POST", "/v1/payment_intents",
                     "amount=700", "currency=usd", "customer=" + cus["id"],
                     "payment_method=" + pm, "confirm=true", "off_session=true",
                     "automatic_payment_methods[enabled]=true",
                     "automatic_payment_methods[allow_redirects]=never")
        self.assertEqual(r["outcome"], "ok", r)

    def test_setup_mode_checkout_completed_through_the_hosted_page(self):
        cus = self.customer()
        cs = self.cli("--idempotency-key", "cs-1", "POST", "/v1/checkout/sessions",
                      "mode=setup", "customer=" + cus["id"], "currency=usd",
                      "success_url=https://portal.example/done?session={CHECKOUT_SESSION_ID}",
                      "cancel_url=https://portal.example/cancel",
                      "setup_intent_data[metadata][site]=s1")
        self.assertEqual(cs["outcome"], "ok", cs)
        cs = cs["body"]
        self.assertEqual((cs["object"], cs["mode"], cs["status"]),
                         ("checkout.session", "setup", "open"))
        self.assertIsNone(cs["setup_intent"])       # created when the customer confirms
        page = urllib.parse.urlsplit(cs["url"])
        c = http.client.HTTPSConnection("127.0.0.1", self.s.port, context=self.sslctx)
        c.request("GET", page.path)
        resp = c.getresponse()
        self.assertIn(b"pm_card_visa", resp.read())
        self.addCleanup(c.close)
        c.request("POST", page.path, body="payment_method=pm_card_visa",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = c.getresponse()
        resp.read()
        self.assertEqual(resp.status, 303)
        self.assertEqual(resp.getheader("Location"),
                         "https://portal.example/done?session=" + cs["id"])
        got = self.cli("GET", "/v1/checkout/sessions/" + cs["id"],
                       "+expand=setup_intent.payment_method")["body"]
        self.assertEqual(got["status"], "complete")
        seti = got["setup_intent"]
        self.assertEqual((seti["status"], seti["usage"]), ("succeeded", "off_session"))
        self.assertEqual(seti["metadata"], {"site": "s1"})
        card = seti["payment_method"]["card"]
        self.assertEqual((card["brand"], card["last4"]), ("visa", "4242"))
        self.assertGreater(card["exp_year"], 2000)
        pms = self.cli("GET", "/v1/customers/%s/payment_methods" % cus["id"])["body"]
        self.assertEqual([p["id"] for p in pms["data"]], [seti["payment_method"]["id"]])
        r = self.charge(cus["id"], seti["payment_method"]["id"], "pay-after-setup")
        self.assertEqual(r["outcome"], "ok")
        for t in ("setup_intent.succeeded", "checkout.session.completed"):
            self.receiver.wait_for(lambda e, t=t: e["type"] == t and
                                   e["data"]["object"]["id"] in (cs["id"], seti["id"]))

    def test_setup_card_with_3ds_then_off_session_succeeds(self):
        cus = self.customer()
        for outcome in ("fail", "approve"):
            cs = self.cli("--idempotency-key", "cs-3ds-" + outcome, "POST",
                          "/v1/checkout/sessions", "mode=setup", "customer=" + cus["id"],
                          "+payment_method_types=card",
                          "success_url=https://portal.example/ok")["body"]
            r = self.s.complete_checkout(cs["id"], "pm_card_authenticationRequiredOnSetup",
                                         outcome)
            if outcome == "fail":
                self.assertEqual(r["status"], "failed")
                self.assertEqual(self.cli("GET", "/v1/checkout/sessions/" + cs["id"])
                                 ["body"]["status"], "open")
                continue
            pm = r["payment_method"]["id"]
            ok = self.charge(cus["id"], pm, "pay-setup-3ds")
            self.assertEqual(ok["outcome"], "ok", ok)
            # On-session it still asks for authentication.
            pi = self.cli("--idempotency-key", "pi-on", "POST", "/v1/payment_intents",
                          "amount=900", "currency=usd", "customer=" + cus["id"],
                          "payment_method=" + pm, "+payment_method_types=card",
                          "confirm=true", "return_url=https://portal.example/r")["body"]
            self.assertEqual(pi["status"], "requires_action")

    def test_checkout_setup_mode_needs_currency_or_types(self):
        cus = self.customer()
        r = self.cli("--idempotency-key", "cs-nocur", "POST", "/v1/checkout/sessions",
                     "mode=setup", "customer=" + cus["id"], "success_url=https://x.example/")
        self.assertEqual((r["outcome"], r["error"]["param"]), ("invalid_request", "currency"))
        self.take("missing_parameter")

    def test_refunds(self):
        cus = self.customer()
        pi = self.charge(cus["id"], "pm_card_visa", "pay-ref")["body"]
        r1 = self.cli("--idempotency-key", "ref-1", "POST", "/v1/refunds",
                      "payment_intent=" + pi["id"], "amount=500", "metadata[refund]=r1")
        self.assertEqual(r1["outcome"], "ok", r1)
        self.assertEqual((r1["body"]["amount"], r1["body"]["status"]), (500, "succeeded"))
        r2 = self.cli("--idempotency-key", "ref-2", "POST", "/v1/refunds",
                      "charge=" + pi["latest_charge"])
        self.assertEqual(r2["body"]["amount"], 1500)
        ch = self.cli("GET", "/v1/charges/" + pi["latest_charge"])["body"]
        self.assertEqual((ch["amount_refunded"], ch["refunded"]), (2000, True))
        r3 = self.cli("--idempotency-key", "ref-3", "POST", "/v1/refunds",
                      "payment_intent=" + pi["id"])
        self.assertEqual((r3["outcome"], r3["error"]["code"]),
                         ("invalid_request", "charge_already_refunded"))
        self.take("unexpected_state")
        got = self.cli("GET", "/v1/refunds/" + r1["body"]["id"])["body"]
        self.assertEqual(got["metadata"], {"refund": "r1"})
        listed = self.cli("GET", "/v1/refunds", "payment_intent=" + pi["id"])["body"]
        self.assertEqual(len(listed["data"]), 2)
        self.receiver.wait_for(lambda e: e["type"] == "charge.refunded" and
                               e["data"]["object"]["amount_refunded"] == 2000)


class Webhooks(StandInCase):
    """Deliveries signed as Stripe signs them, checked by the C verifier and by stripe-node."""

    def verify_c(self, delivery, secret=None, now=None):
        args = [cli_path(), "verify", "--header", delivery["headers"]["stripe-signature"],
                "--secret", secret or self.hook["secret"]]
        if now is not None:
            args += ["--now", str(now)]
        r = subprocess.run(args, input=delivery["body"], capture_output=True, timeout=30)
        self.assertNotIn(b"Sanitizer", r.stderr)
        return r.stdout.decode().strip()

    def verify_node(self, deliveries, secret=None, now=None):
        return oracle("verify", [{"payload": d["body"].decode(), "secret":
                                  secret or self.hook["secret"],
                                  "header": d["headers"]["stripe-signature"],
                                  "now": now} for d in deliveries])

    def paid(self):
        st, _, c, _ = self.post("/v1/customers", [("name", "W")], "w-cus-" + standin.rand(6))
        st, _, pi, _ = self.post("/v1/payment_intents", [
            ("amount", "3000"), ("currency", "usd"), ("customer", c["id"]),
            ("payment_method", "pm_card_visa"), ("payment_method_types[0]", "card"),
            ("confirm", "true"), ("off_session", "true")], "w-pi-" + standin.rand(6))
        self.assertEqual(st, 200, pi)
        return pi

    def deliveries_of(self, event_id):
        return [d for d in self.receiver.got if json.loads(d["body"])["id"] == event_id]

    def test_deliveries_verify_in_c_and_in_stripe_node(self):
        pi = self.paid()
        hits = self.receiver.wait_for(lambda e: e["type"] == "payment_intent.succeeded" and
                                      e["data"]["object"]["id"] == pi["id"])
        d = hits[0]
        self.assertTrue(d["headers"]["content-type"].startswith("application/json"))
        self.assertRegex(d["headers"]["stripe-signature"], r"^t=\d+,v1=[0-9a-f]{64},v0=")
        self.assertEqual(self.verify_c(d), "ok")
        node = self.verify_node([d])[0]
        self.assertTrue(node["ok"], node)
        self.assertEqual(node["type"], "payment_intent.succeeded")
        # Tampered body, wrong secret: both refuse.
        bad = dict(d, body=d["body"].replace(b"3000", b"3001"))
        self.assertIn("no v1 signature matches", self.verify_c(bad))
        self.assertFalse(self.verify_node([bad])[0]["ok"])
        self.assertIn("rejected", self.verify_c(d, secret="whsec_wrong"))
        self.assertFalse(self.verify_node([d], secret="whsec_wrong")[0]["ok"])

    def test_resend_duplicate_old_timestamp_and_wrong_signature(self):
        pi = self.paid()
        ev = self.receiver.wait_for(lambda e: e["type"] == "payment_intent.succeeded" and
                                    e["data"]["object"]["id"] == pi["id"])[0]
        eid = json.loads(ev["body"])["id"]
        self.s.resend(eid)
        dup = self.deliveries_of(eid)
        self.assertEqual(len(dup), 2)
        self.assertEqual(dup[0]["body"], dup[1]["body"])
        self.s.resend(eid, {"timestamp_offset": -600})
        old = self.deliveries_of(eid)[-1]
        self.assertIn("s old", self.verify_c(old))
        self.assertIn("tolerance", self.verify_node([old])[0]["error"])
        self.s.resend(eid, {"bad_signature": True})
        forged = self.deliveries_of(eid)[-1]
        self.assertIn("no v1 signature matches", self.verify_c(forged))
        self.assertFalse(self.verify_node([forged])[0]["ok"])

    def test_out_of_order_delivery(self):
        pi = self.paid()
        self.s.drain()
        self.s.hold(self.key)
        for amt, k in ((100, "r-a"), (200, "r-b")):
            st, _, b, _ = self.post("/v1/refunds", [("payment_intent", pi["id"]),
                                                    ("amount", str(amt))], k)
            self.assertEqual(st, 200, b)
        before = len(self.receiver.got)
        self.assertEqual(self.s.release(self.key, "reverse"), 4)   # 2 x (charge.refunded,
        self.assertEqual(self.s.drain(), 0)                         #      refund.created)
        got = [json.loads(d["body"]) for d in self.receiver.got[before:]]
        refunded = [e["data"]["object"]["amount_refunded"] for e in got
                    if e["type"] == "charge.refunded"]
        self.assertEqual(refunded, [300, 100])

    def test_dashboard_refund_and_dispute(self):
        pi = self.paid()
        re_ = self.s.dashboard_refund({"payment_intent": pi["id"], "amount": 1000})
        self.assertEqual(re_["amount"], 1000)
        ev = self.receiver.wait_for(lambda e: e["type"] == "charge.refunded" and
                                    e["data"]["object"]["payment_intent"] == pi["id"])[0]
        body = json.loads(ev["body"])
        self.assertIsNone(body["request"]["id"])        # not made through the API
        self.assertEqual(body["data"]["previous_attributes"], {"amount_refunded": 0,
                                                               "refunded": False})
        dp = self.s.dispute({"payment_intent": pi["id"]})
        ev = self.receiver.wait_for(lambda e: e["type"] == "charge.dispute.created" and
                                    e["data"]["object"]["id"] == dp["id"])[0]
        self.assertEqual(json.loads(ev["body"])["data"]["object"]["charge"],
                         pi["latest_charge"])
        st, _, got, _ = self.raw("GET", "/v1/disputes/" + dp["id"])
        self.assertEqual((st, got["status"]), (200, "needs_response"))

    def test_events_are_retrievable(self):
        pi = self.paid()
        self.s.drain()
        st, _, lst, _ = self.raw("GET", "/v1/events?type=payment_intent.succeeded")
        self.assertEqual(st, 200)
        self.assertEqual([e["data"]["object"]["id"] for e in lst["data"]], [pi["id"]])
        st, _, one, _ = self.raw("GET", "/v1/events/" + lst["data"][0]["id"])
        self.assertEqual(one["type"], "payment_intent.succeeded")


class ProcessMode(unittest.TestCase):
    """standin.py run as its own process (as a test of the whole stack would run it), driven
    only through its control endpoints."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="stripe-proc.")
        self.proc = subprocess.Popen([sys.executable, os.path.join(STRIPE_DIR, "standin.py"),
                                      "--tls-dir", self.tmp], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.url, self.ca = info["url"], info["ca_file"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.receiver = Receiver()

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.receiver.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ctl(self, method, path, body=None, status=200):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        c.request(method, "/_standin/" + path, body=json.dumps(body) if body is not None
                  else None, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read())
        c.close()
        self.assertEqual(r.status, status, out)
        return out

    def cli(self, key, *args):
        r = subprocess.run([cli_path(), "request", "--base", self.url, "--ca", self.ca,
                            "--retry-delay-ms", "10", *args], capture_output=True, text=True,
                           env=dict(os.environ, STRIPE_SECRET_KEY=key), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_control_endpoints(self):
        self.assertTrue(self.ctl("GET", "health")["ok"])
        acct = self.ctl("POST", "accounts", {"test_key": "sk_test_proc1"})
        self.assertEqual(acct["test_key"], "sk_test_proc1")
        key = acct["test_key"]
        ep = self.ctl("POST", "webhook_endpoints", {"key": key, "url": self.receiver.url})
        self.assertTrue(ep["secret"].startswith("whsec_"))
        self.ctl("POST", "faults", {"path": "/v1/customers", "kind": "429"})
        self.assertEqual(len(self.ctl("GET", "faults")["faults"]), 1)
        cus = self.cli(key, "--idempotency-key", "p-cus", "POST", "/v1/customers", "name=P")
        self.assertEqual((cus["outcome"], cus["attempts"]), ("ok", 2))
        self.assertEqual(self.ctl("GET", "faults")["faults"][0]["count"], 0)
        self.ctl("DELETE", "faults")
        reqs = self.ctl("GET", "requests")["requests"]
        self.assertEqual([r["status"] for r in reqs], [429, 200])
        cid = cus["body"]["id"]
        cs = self.cli(key, "--idempotency-key", "p-cs", "POST", "/v1/checkout/sessions",
                      "mode=setup", "customer=" + cid, "currency=eur",
                      "success_url=https://p.example/ok")["body"]
        done = self.ctl("POST", "checkout/%s/complete" % cs["id"],
                        {"payment_method": "pm_card_authenticationRequired",
                         "three_d_secure": "approve"})
        self.assertEqual(done["status"], "complete")
        pm = done["payment_method"]["id"]
        self.assertEqual(self.ctl("GET", "objects/" + pm)["customer"], cid)
        pi = self.cli(key, "--idempotency-key", "p-pi", "POST", "/v1/payment_intents",
                      "amount=1000", "currency=eur", "customer=" + cid, "payment_method=" + pm,
                      "+payment_method_types=card", "confirm=true",
                      "return_url=https://p.example/back")["body"]
        self.assertEqual(pi["status"], "requires_action")
        auth = self.ctl("POST", "payment_intents/%s/authenticate" % pi["id"],
                        {"action": "approve"})
        self.assertEqual(auth["status"], "succeeded")
        self.assertIn("redirect_status=succeeded", auth["redirect"])
        ok = self.cli(key, "--idempotency-key", "p-pi2", "POST", "/v1/payment_intents",
                      "amount=1000", "currency=eur", "customer=" + cid, "payment_method=" + pm,
                      "+payment_method_types=card", "confirm=true", "off_session=true")
        self.assertEqual(ok["error"]["code"], "authentication_required")
        card = self.ctl("POST", "checkout/%s/complete" % self.cli(
            key, "--idempotency-key", "p-cs2", "POST", "/v1/checkout/sessions", "mode=setup",
            "customer=" + cid, "+payment_method_types=card",
            "success_url=https://p.example/ok")["body"]["id"],
            {"payment_method": "pm_card_visa"})["payment_method"]["id"]
        self.ctl("POST", "payment_methods/%s/decline" % card, {"decline_code": "expired_card"})
        declined = self.cli(key, "--idempotency-key", "p-pi3", "POST", "/v1/payment_intents",
                            "amount=1000", "currency=eur", "customer=" + cid,
                            "payment_method=" + card, "+payment_method_types=card",
                            "confirm=true", "off_session=true")
        self.assertEqual(declined["error"]["decline_code"], "expired_card")
        self.ctl("POST", "payment_methods/%s/decline" % card, {"decline_code": None})
        self.ctl("POST", "webhooks/hold", {"key": key})
        refund = self.ctl("POST", "refunds", {"payment_intent": pi["id"], "amount": 300})
        self.assertEqual(refund["amount"], 300)
        dispute = self.ctl("POST", "disputes", {"payment_intent": pi["id"]})
        self.assertEqual(dispute["object"], "dispute")
        self.assertEqual(self.ctl("POST", "webhooks/release", {"key": key,
                                                               "order": "reverse"})["released"],
                         3)
        self.assertEqual(self.ctl("POST", "webhooks/drain", {"timeout": 10})["pending"], 0)
        types = [json.loads(d["body"])["type"] for d in self.receiver.got[-3:]]
        self.assertEqual(types, ["charge.dispute.created", "refund.created", "charge.refunded"])
        events = self.ctl("GET", "events?key=" + key)["events"]
        ev = [e for e in events if e["type"] == "charge.dispute.created"][0]
        self.assertEqual(ev["_deliveries"][0]["status"], 200)
        again = self.ctl("POST", "events/%s/resend" % ev["id"], {"timestamp_offset": -900})
        self.assertEqual(again["deliveries"][0]["status"], 200)
        self.assertEqual(self.ctl("GET", "complaints")["complaints"], [])
        bad = self.cli(key, "--idempotency-key", "p-bad", "POST", "/v1/customers", "nmae=x")
        self.assertEqual(bad["status"], 400)
        got = self.ctl("DELETE", "complaints")["cleared"]
        self.assertEqual([c["rule"] for c in got], ["unknown_parameter"])
        self.assertEqual(self.ctl("GET", "complaints")["complaints"], [])
        self.ctl("DELETE", "requests")
        self.assertEqual(self.ctl("GET", "requests")["requests"], [])
        self.ctl("GET", "objects/nope", status=404)
        self.ctl("POST", "faults", {"path": "/v1/x", "kind": "nonsense"}, status=400)
        self.ctl("DELETE", "webhook_endpoints/" + ep["id"])


class Oracle(unittest.TestCase):
    """src/stripe agrees with the official stripe npm package."""

    def test_encoding_matches_stripe_node(self):
        with open(os.path.join(STRIPE_DIR, "encoding_cases.json")) as f:
            cases = json.load(f)["cases"]
        expected = oracle("encode", [c["params"] for c in cases])
        for case, want in zip(cases, expected):
            r = subprocess.run([cli_path(), "encode", *case["ops"]], capture_output=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = r.stdout.decode("latin-1").rstrip("\n")
            self.assertEqual(got, want, case["name"])
            # The stand-in's notion of canonical agrees too.
            self.assertEqual("&".join(
                standin.stripe_escape(k) + "=" + standin.stripe_escape(v)
                for k, v in standin.Params(want, lambda *a: self.fail(a)).pairs), want)

    def test_the_comparison_can_fail(self):
        # A case encoded differently on purpose must not compare equal.
        want = oracle("encode", [{"name": "a b"}])[0]
        r = subprocess.run([cli_path(), "encode", "name=a+b"], capture_output=True)
        self.assertNotEqual(r.stdout.decode().strip(), want)

    def test_signatures_made_by_stripe_node_verify_in_c(self):
        now = int(time.time())
        cases = [{"payload": '{"id":"evt_1","object":"event"}', "secret": "whsec_abc",
                  "timestamp": now},
                 {"payload": '{"a":"Zürich ✓","n":"line\\nnext"}\n',
                  "secret": "whsec_" + "x" * 40, "timestamp": now - 299},
                 {"payload": "{}", "secret": "whsec_with spaces", "timestamp": now + 10}]
        headers = oracle("sign", cases)
        for c, h in zip(cases, headers):
            ok = subprocess.run([cli_path(), "verify", "--header", h, "--secret", c["secret"],
                                 "--now", str(now)], input=c["payload"].encode(),
                                capture_output=True)
            self.assertEqual(ok.stdout.decode().strip(), "ok", (c, h))
            wrong = subprocess.run([cli_path(), "verify", "--header", h, "--secret",
                                    c["secret"] + "x", "--now", str(now)],
                                   input=c["payload"].encode(), capture_output=True)
            self.assertEqual(wrong.returncode, 1)
        # Several v1 values, the valid one last; and both refuse a stale header.
        multi = "%s,v1=%s,%s" % (headers[0].split(",")[0], "0" * 64, headers[0].split(",")[1])
        r = subprocess.run([cli_path(), "verify", "--header", multi, "--secret", "whsec_abc",
                            "--now", str(now)], input=cases[0]["payload"].encode(),
                           capture_output=True)
        self.assertEqual(r.stdout.decode().strip(), "ok")
        node = oracle("verify", [{"payload": cases[0]["payload"], "header": multi,
                                  "secret": "whsec_abc", "now": now},
                                 {"payload": cases[0]["payload"], "header": headers[0],
                                  "secret": "whsec_abc", "now": now + 301}])
        self.assertTrue(node[0]["ok"], node)
        self.assertFalse(node[1]["ok"])
        r = subprocess.run([cli_path(), "verify", "--header", headers[0], "--secret",
                            "whsec_abc", "--now", str(now + 301)],
                           input=cases[0]["payload"].encode(), capture_output=True)
        self.assertIn("old", r.stdout.decode())
        # Deliberate difference: stripe-node accepts a timestamp far in the future; Portald
        # refuses it as it refuses an old one.
        fut = oracle("sign", [{"payload": "{}", "secret": "whsec_abc",
                               "timestamp": now + 3600}])[0]
        self.assertTrue(oracle("verify", [{"payload": "{}", "header": fut,
                                           "secret": "whsec_abc", "now": now}])[0]["ok"])
        r = subprocess.run([cli_path(), "verify", "--header", fut, "--secret", "whsec_abc",
                            "--now", str(now)], input=b"{}", capture_output=True)
        self.assertIn("future", r.stdout.decode())

    def test_official_sdk_traffic_draws_no_complaint(self):
        tmp = tempfile.mkdtemp(prefix="stripe-sdk.")
        try:
            cert, key = standin.make_test_cert(tmp)
            s = standin.StandIn(tls=(cert, key)).start()
            try:
                acct = s.add_account()
                env = dict(os.environ, NODE_EXTRA_CA_CERTS=cert)
                out = oracle("standin", args=(s.url, acct["test_key"]), env=env)
                self.assertEqual(out["payment_intent"]["status"], "succeeded")
                self.assertEqual(out["listed"], [[out["payment_intent"]["id"], "succeeded"]])
                self.assertEqual(out["declined"], {"type": "StripeCardError",
                                                   "code": "card_declined",
                                                   "decline_code": "insufficient_funds",
                                                   "status": 402,
                                                   "pi_status": "requires_payment_method"})
                self.assertEqual(s.complaints(), [])
                self.assertTrue(all(r["stripe_version"] == "2024-06-20"
                                    for r in s.requests()))
            finally:
                s.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
