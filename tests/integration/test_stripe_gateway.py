"""test_stripe_gateway.py: Stripe as a site's gateway, end to end: a stack of this module's
own whose [stripe] api_base points at the strict Stripe stand-in (tests/stripe/standin.py,
over TLS with its own CA file). Sites connect by API and portalctl; cards are set up on the
stand-in's hosted Checkout page; charges, dunning, 3-D Secure on-session, refunds made in
Portald and in Stripe's dashboard, disputes, webhook signatures, duplicates, reordering,
a job runner and an API worker killed mid-charge, and secrets kept out of logs, answers
and a database dump. Every test ends with the stand-in reporting no complaint it did not
provoke, and with no invoice charged twice (PaymentIntents counted at the stand-in)."""
import copy
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

import harness

STRIPE_DIR = os.path.join(harness.ROOT, "tests", "stripe")
sys.path.insert(0, STRIPE_DIR)
import standin  # noqa: E402
from test_stripe_standin import oracle  # noqa: E402

S = None            # the stand-in
ST = None           # the stack
TMP = None
SECRETS = []        # every Stripe secret handed to Portald in this module


def setUpModule():
    global S, ST, TMP
    TMP = tempfile.mkdtemp(prefix="stripe-gw.")
    os.chmod(TMP, 0o755)
    cert, key = standin.make_test_cert(TMP)
    os.chmod(cert, 0o644)
    S = standin.StandIn(tls=(cert, key)).start()

    class WithStripe(harness.Stack):
        def _env(self):
            env = super()._env()
            env["STACK_STRIPE_API_BASE"] = S.url
            env["STACK_STRIPE_CA_FILE"] = cert
            env["STACK_STRIPE_TIMEOUT"] = "5"
            return env
    bin_dir = harness.stack().bin_dir if harness.stack() else os.environ.get("PORTALD_BIN")
    ST = WithStripe(bin_dir=bin_dir, workers=2).start()


def tearDownModule():
    global S, ST
    reports = []
    if ST is not None:
        # This stack's own log, as run.py --sanitizer-check reads the shared one's.
        with open(os.path.join(ST.state, "portald.log"), errors="replace") as f:
            reports = [l for l in f if "Sanitizer" in l or "runtime error:" in l]
    if ST is not None and os.environ.get("KEEP_STACK"):
        print("stripe stack kept in", ST.state)
    elif ST is not None:
        ST.stop()
    ST = None
    if S is not None:
        S.stop()
        S = None
    shutil.rmtree(TMP, ignore_errors=True)
    if reports:
        raise AssertionError("sanitizer reports in the Stripe stack's portald.log:\n" +
                             "".join(reports[:40]))


def page(method, url, fields=None):
    """A browser on the stand-in's hosted pages: (status, Location or body)."""
    ctx = ssl.create_default_context(cafile=S.tls[0])

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect)
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location") or e.read().decode()


class Base(unittest.TestCase):
    provoked = ()

    def setUp(self):
        S.clear_complaints()
        S.clear_faults()

    def tearDown(self):
        S.clear_faults()
        got = [c for c in S.clear_complaints() if c["rule"] not in self.provoked]
        self.assertEqual(got, [], "the stand-in complained")

    # ---- sites ----
    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def site(self, live=False, via="api"):
        """A site connected to a fresh Stripe account: (client, key, endpoint)."""
        sid = "%s-%s" % ("live" if live else "tst", os.urandom(4).hex())
        out = ST.portalctl("site", "create", sid, "--live" if live else "--test",
                           "--name", "Shop " + sid)
        m = harness.Client(ST, sid, out["api_key"])
        acct = S.add_account()
        key = acct["live_key" if live else "test_key"]
        ep = S.add_webhook_endpoint(key, "%s/gateway/stripe/%s/webhook" % (ST.base, sid))
        SECRETS.extend([key, ep["secret"]])
        if via == "api":
            self.ok(m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": key,
                                        "stripe_webhook_secret": ep["secret"]}))
        else:
            r = self.portalctl_in("gateway", "set", sid, "stripe",
                                  stdin="%s\n%s\n" % (key, ep["secret"]))
            self.assertEqual(r.returncode, 0, r.stderr)
        m.stripe_key, m.endpoint = key, ep
        return m

    def portalctl_in(self, *args, stdin=""):
        return subprocess.run([os.path.join(ST.bin_dir, "portalctl"), "--config",
                               os.path.join(ST.state, "portald.conf")] + list(args),
                              input=stdin, capture_output=True, text=True, timeout=30)

    def plan(self, m, pid="basic", amount=1000, currency="USD", interval="month"):
        return self.ok(m.post("/plans", {"id": pid, "name": pid.title(), "amount": amount,
                                         "currency": currency, "interval": interval,
                                         "interval_count": 1, "trial_days": 0}))

    # ---- cards on the hosted page ----
    def setup_session(self, m, cus, default=None):
        body = {"success_url": "https://shop.example/card-added?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": "https://shop.example/account"}
        if default is not None:
            body["default"] = default
        st = self.ok(m.post("/customers/%s/payment_methods/setup_session" % cus, body))
        self.assertEqual(st["status"], "open", st)
        self.assertTrue(st["url"].startswith(S.url + "/checkout/pay/cs_"), st)
        return st

    def on_hosted_page(self, st, card="pm_card_visa", three_ds=None):
        """The customer picks a card on Stripe's page; returns where Stripe sends them."""
        fields = {"payment_method": card}
        if three_ds:
            fields["three_d_secure"] = three_ds
        status, where = page("POST", st["url"], fields)
        self.assertEqual(status, 303, where)
        return where

    def add_card(self, m, cus, card="pm_card_visa", three_ds=None, default=None):
        """Set-up through the hosted page and the customer's return (sync)."""
        st = self.setup_session(m, cus, default)
        back = self.on_hosted_page(st, card, three_ds)
        cs = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["session_id"][0]
        self.assertTrue(back.startswith("https://shop.example/card-added?session_id=cs_"))
        done = self.ok(m.post("/payment_method_setups/%s/sync" % cs))
        self.assertEqual(done["status"], "complete", done)
        return done

    def cards(self, m, cus):
        return self.ok(m.get("/customers/%s/payment_methods" % cus))["data"]

    # ---- stand-in views ----
    def intents(self, inv_id):
        """Every PaymentIntent the stand-in holds for this invoice."""
        with S.lock:
            out = []
            for acct in S.accounts.values():
                for ds in (acct["test"], acct["live"]):
                    for o in ds.objects.values():
                        if o.get("object") == "payment_intent" and \
                                o["metadata"].get("portald_invoice") == inv_id:
                            out.append(copy.deepcopy(o))
            return out

    def succeeded_intents(self, inv_id):
        return [p for p in self.intents(inv_id) if p["status"] == "succeeded"]

    def deliveries(self, m):
        return [(e["type"], d["status"]) for e in S.events(m.stripe_key)
                for d in e["_deliveries"]]

    def drain(self):
        self.assertEqual(S.drain(20), 0, "webhook deliveries still queued")

    def wait(self, what, fn, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail("timed out waiting for %s\n%s" % (what, ST.tail_logs(30)))

    def inv(self, m, inv_id):
        return self.ok(m.get("/invoices/" + inv_id))

    def events(self, m, type_):
        return self.ok(m.get("/events?limit=100&type=" + type_))["data"]

    def settled(self, m, timeout=60):
        self.wait("the job runner", lambda: self.ok(m.get("/time_machine"))["pending_jobs"] == 0,
                  timeout)

    @staticmethod
    def log():
        with open(os.path.join(ST.state, "portald.log"), errors="replace") as f:
            return f.read()

    def runner_pid(self, what="runner started"):
        """The job runner of this module's stack (or one of its lanes, by what it logs when
        it starts, such as "billing lane started"): the newest one still alive."""
        with open(os.path.join(ST.state, "portald.log"), errors="replace") as f:
            pids = re.findall(r"pid=(\d+) msg=\"jobs: %s" % re.escape(what), f.read())
        alive = set(ST.worker_pids())
        for p in reversed(pids):
            if int(p) in alive or (what != "runner started" and self.parent(int(p)) in alive):
                return int(p)
        return None

    @staticmethod
    def parent(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[1]) if fields[0] != "Z" else None
        except (OSError, IndexError, ValueError):
            return None


class Configuration(Base):
    def test_api_connects_stripe_keys_of_the_sites_mode_only(self):
        sid = "cfg-" + os.urandom(4).hex()
        out = ST.portalctl("site", "create", sid, "--test")
        m = harness.Client(ST, sid, out["api_key"])
        self.assertEqual(self.ok(m.get("/gateway"))["gateway"], "test")
        acct = S.add_account()
        SECRETS.extend([acct["test_key"], acct["live_key"]])
        r = m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": acct["live_key"],
                                "stripe_webhook_secret": "whsec_abc"})
        self.assertEqual(r.status, 400, r)
        self.assertNotIn(acct["live_key"], r.text)
        r = m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": acct["test_key"]})
        self.assertEqual(r.status, 400, r)          # the signing secret is needed too
        g = self.ok(m.post("/gateway", {"gateway": "stripe",
                                        "stripe_secret_key": acct["test_key"],
                                        "stripe_webhook_secret": "whsec_cfgtest123"}))
        self.assertEqual(g["gateway"], "stripe")
        self.assertEqual(g["stripe"]["webhook_url"],
                         "%s/gateway/stripe/%s/webhook" % (ST.base, sid))
        self.assertTrue(g["stripe"]["webhook_secret_set"])
        self.assertEqual(g["stripe"]["secret_key_hint"],
                         acct["test_key"][:8] + "..." + acct["test_key"][-4:])
        for text in (json.dumps(g), m.get("/gateway").text):
            self.assertNotIn(acct["test_key"], text)
            self.assertNotIn("whsec_cfgtest123", text)
        sealed = ST.psql("SELECT secret_key_sealed, webhook_secret_sealed FROM site_gateways "
                         "WHERE site_id = '%s'" % sid)[0]
        self.assertTrue(all(v.startswith("v1.") for v in sealed), sealed)
        # the cards of the test gateway can no longer be charged
        SECRETS.append("whsec_cfgtest123")

    def test_switching_gateway_keeps_customers_and_retires_old_cards(self):
        sid = "sw-" + os.urandom(4).hex()
        out = ST.portalctl("site", "create", sid, "--test")
        m = harness.Client(ST, sid, out["api_key"])
        cus = m.customer(email="sw@example.com")
        tok = self.ok(m.post("/test_gateway/tokens", {"number": "4242424242424242",
                                                      "exp_month": 12, "exp_year": 2099}))
        old = self.ok(m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]}))
        self.assertTrue(old["usable"])
        acct = S.add_account()
        ep = S.add_webhook_endpoint(acct["test_key"], "%s/gateway/stripe/%s/webhook"
                                    % (ST.base, sid))
        SECRETS.extend([acct["test_key"], ep["secret"]])
        self.ok(m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": acct["test_key"],
                                    "stripe_webhook_secret": ep["secret"]}))
        m.stripe_key = acct["test_key"]
        self.ok(m.get("/customers/" + cus["id"]))
        cards = self.cards(m, cus["id"])
        self.assertEqual([(c["id"], c["usable"], c["is_default"]) for c in cards],
                         [(old["id"], False, False)])
        r = m.post("/customers/%s/payment_methods/%s/default" % (cus["id"], old["id"]))
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "payment_method_unusable")
        r = m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]})
        self.assertEqual(r.status, 409, r)          # no card numbers on a Stripe site
        self.assertEqual(r.json["error"]["code"], "gateway_hosted")
        # a charge finds no usable card: dunning, not the old gateway
        self.plan(m)
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual([a["outcome"] for a in inv["payment_attempts"]], ["no_payment_method"])
        # a new card on Stripe's page pays it
        self.add_card(m, cus["id"])
        self.wait("the new card to pay", lambda: self.inv(m, inv["id"])["status"] == "paid")
        self.assertEqual(len(self.succeeded_intents(inv["id"])), 1)

    def test_another_stripe_account_after_leaving_stripe_starts_afresh(self):
        m = self.site()
        cus = m.customer(email="twice@example.com")
        first = self.add_card(m, cus["id"])
        self.ok(m.post("/gateway", {"gateway": "test"}))
        acct = S.add_account()
        ep = S.add_webhook_endpoint(acct["test_key"], "%s/gateway/stripe/%s/webhook"
                                    % (ST.base, m.site_id))
        SECRETS.extend([acct["test_key"], ep["secret"]])
        self.ok(m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": acct["test_key"],
                                    "stripe_webhook_secret": ep["secret"]}))
        m.stripe_key = acct["test_key"]
        self.assertEqual([c["usable"] for c in self.cards(m, cus["id"])], [False])
        second = self.add_card(m, cus["id"], "pm_card_mastercard")
        self.assertNotEqual(second["payment_method_id"], first["payment_method_id"])
        cards = {c["id"]: c for c in self.cards(m, cus["id"])}
        self.assertTrue(cards[second["payment_method_id"]]["is_default"])
        self.assertEqual(S.obj(cards[second["payment_method_id"]]["gateway_token"])["livemode"],
                         False)
        self.plan(m)
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        (pi,) = self.succeeded_intents(sub["latest_invoice_id"])
        self.assertIs(S.index[pi["id"]], S.dataset(acct["test_key"]), "charged on the new account")

    def test_portalctl_connects_a_live_site_reading_secrets_from_stdin(self):
        sid = "pctl-" + os.urandom(4).hex()
        ST.portalctl("site", "create", sid, "--live")
        acct = S.add_account()
        SECRETS.extend([acct["test_key"], acct["live_key"]])
        r = self.portalctl_in("gateway", "set", sid, "test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("test sites only", r.stderr)
        r = self.portalctl_in("gateway", "set", sid, "stripe",
                              stdin="%s\nwhsec_pctl1\n" % acct["test_key"])
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(acct["test_key"], r.stderr + r.stdout)
        r = self.portalctl_in("gateway", "set", sid, "stripe",
                              stdin="%s\nwhsec_pctl2\n" % acct["live_key"])
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = json.loads(r.stdout)
        self.assertEqual(shown["gateway"], "stripe")
        self.assertNotIn(acct["live_key"], r.stdout)
        r = self.portalctl_in("gateway", "show", sid)
        self.assertEqual(json.loads(r.stdout)["stripe"]["secret_key_hint"][:8], "sk_live_")
        self.assertNotIn("whsec_pctl2", r.stdout)
        SECRETS.extend(["whsec_pctl1", "whsec_pctl2"])


class Charges(Base):
    def test_live_site_renews(self):
        m = self.site(live=True, via="portalctl")
        self.plan(m, amount=2500)
        cus = m.customer(email="live@example.com", name="Live Customer")
        card = self.add_card(m, cus["id"])
        pm = self.cards(m, cus["id"])[0]
        self.assertEqual((pm["id"], pm["gateway"], pm["brand"], pm["last4"], pm["is_default"]),
                         (card["payment_method_id"], "stripe", "visa", "4242", True))
        self.assertTrue(pm["gateway_token"].startswith("pm_"))
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        self.assertEqual(sub["status"], "active")
        first = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual(first["status"], "paid")
        (pi,) = self.intents(first["id"])
        self.assertEqual((pi["status"], pi["amount"], pi["currency"], pi["livemode"]),
                         ("succeeded", 2500, "usd", True))
        self.assertEqual(pi["payment_method_types"], ["card"])
        self.assertEqual(first["payment_attempts"][0]["gateway_reference"], pi["id"])
        # the renewal falls due (a live site has no time machine)
        ST.psql("UPDATE subscriptions SET next_billing_at = extract(epoch FROM now())::bigint "
                "WHERE site_id = '%s' AND id = '%s'" % (m.site_id, sub["id"]))
        invs = self.wait("the renewal", lambda: [i for i in self.ok(m.get(
            "/invoices?customer_id=" + cus["id"]))["data"] if i["status"] == "paid"
            and i["id"] != first["id"]])
        (second,) = invs
        self.assertEqual(len(self.intents(second["id"])), 1)
        self.assertEqual(len(self.succeeded_intents(second["id"])), 1)
        self.assertEqual(self.ok(m.get("/subscriptions/" + sub["id"]))["status"], "active")

    def test_declines_go_through_dunning_then_a_new_card_pays(self):
        m = self.site()
        self.plan(m)
        cus = m.customer(email="dun@example.com")
        self.add_card(m, cus["id"], "pm_card_chargeCustomerFail")
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        self.assertEqual(sub["status"], "past_due")
        inv = self.inv(m, sub["latest_invoice_id"])
        (a,) = inv["payment_attempts"]
        self.assertEqual((a["outcome"], a["decline_code"], a["gateway"]),
                         ("declined", "generic_decline", "stripe"))
        self.assertIsNotNone(inv["next_attempt_at"])
        # the first retry, a day later: declined again, a new PaymentIntent
        m.travel(86400 + 60)
        self.settled(m)
        inv = self.inv(m, inv["id"])
        self.assertEqual([x["outcome"] for x in inv["payment_attempts"]],
                         ["declined", "declined"])
        self.assertEqual(len(self.intents(inv["id"])), 2)
        self.assertEqual(self.succeeded_intents(inv["id"]), [])
        # a card that runs out of funds says so
        good = self.add_card(m, cus["id"], "pm_card_visa")
        # paid by whichever stored the card, the return or the webhook (then a moment later)
        self.wait("a card added while an invoice is unpaid to pay it",
                  lambda: self.inv(m, inv["id"])["status"] == "paid")
        self.assertEqual(len(self.succeeded_intents(inv["id"])), 1)
        self.assertEqual(self.ok(m.get("/subscriptions/" + sub["id"]))["status"], "active")
        token = [c for c in self.cards(m, cus["id"]) if c["id"] == good["payment_method_id"]][0]
        S.set_decline(token["gateway_token"], "insufficient_funds")
        m.travel(32 * 86400)
        self.settled(m)
        latest = self.inv(m, self.ok(m.get("/subscriptions/" + sub["id"]))["latest_invoice_id"])
        self.assertEqual(latest["status"], "open")
        self.assertEqual((latest["payment_attempts"][0]["outcome"],
                          latest["payment_attempts"][0]["decline_code"]),
                         ("insufficient_funds", "insufficient_funds"))

    def test_authentication_required_is_completed_on_session(self):
        m = self.site()
        self.plan(m)
        cus = m.customer(email="3ds@example.com")
        self.add_card(m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual(inv["status"], "open")
        self.assertEqual(inv["payment_attempts"][0]["outcome"], "authentication_required")
        ev = self.events(m, "invoice.payment_action_required")
        self.assertEqual([e["object_id"] for e in ev], [inv["id"]])
        # the customer completes it: Portald confirms on-session, the bank's page, back
        back = "https://shop.example/invoices/%s/done" % inv["id"]
        r = self.ok(m.post("/invoices/%s/complete_payment" % inv["id"], {"return_url": back}))
        url = r["next_action"]["redirect_url"]
        self.assertTrue(url.startswith(S.url + "/3ds/pi_"), r)
        self.assertEqual(r["status"], "open")
        again = self.ok(m.post("/invoices/%s/complete_payment" % inv["id"],
                               {"return_url": back}))
        self.assertEqual(again["next_action"]["redirect_url"], url, "the same page again")
        status, where = page("POST", url, {"action": "approve"})
        self.assertEqual(status, 303)
        self.assertTrue(where.startswith(back + "?payment_intent=pi_"), where)
        self.wait("the payment", lambda: self.inv(m, inv["id"])["status"] == "paid")
        inv = self.inv(m, inv["id"])
        self.assertEqual([(a["outcome"], a["on_session"]) for a in inv["payment_attempts"]],
                         [("authentication_required", False), ("succeeded", True)])
        self.assertIsNone(inv["next_action"])
        self.assertEqual(len(self.succeeded_intents(inv["id"])), 1)
        self.assertEqual(self.ok(m.get("/subscriptions/" + sub["id"]))["status"], "active")
        r = m.post("/invoices/%s/complete_payment" % inv["id"], {"return_url": back})
        self.assertEqual(r.status, 409, r)

    def test_abandoned_authentication_is_canceled_so_it_never_succeeds_later(self):
        m = self.site()
        self.plan(m)
        cus = m.customer()
        self.add_card(m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv_id = sub["latest_invoice_id"]
        r = self.ok(m.post("/invoices/%s/complete_payment" % inv_id,
                           {"return_url": "https://shop.example/back"}))
        url = r["next_action"]["redirect_url"]
        # The waiting charge is pending work (so is the invoice's PDF until it is rendered).
        self.wait("only the charge pending",
                  lambda: self.ok(m.get("/time_machine"))["pending_jobs"] == 1, 30)
        # the customer left the bank's page half an hour ago
        ST.psql("UPDATE payment_attempts SET wall_created_at = wall_created_at - 2000 "
                "WHERE site_id = '%s' AND outcome = 'pending'" % m.site_id)
        self.wait("the runner", lambda: self.inv(m, inv_id)["payment_attempts"][-1]["outcome"]
                  != "pending", 60)
        inv = self.inv(m, inv_id)
        self.assertEqual((inv["status"], inv["payment_attempts"][-1]["outcome"]),
                         ("open", "authentication_required"))
        pi = S.obj(url.rsplit("/", 1)[1])
        self.assertEqual((pi["status"], pi["cancellation_reason"]), ("canceled", "abandoned"))
        status, _ = page("POST", url, {"action": "approve"})
        self.assertNotEqual(status, 303, "too late: nothing can be paid on it any more")
        self.assertEqual(self.succeeded_intents(inv_id), [])

    def test_failed_authentication_leaves_the_invoice_open(self):
        m = self.site()
        self.plan(m)
        cus = m.customer()
        self.add_card(m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv_id = sub["latest_invoice_id"]
        r = self.ok(m.post("/invoices/%s/complete_payment" % inv_id,
                           {"return_url": "https://shop.example/back"}))
        page("POST", r["next_action"]["redirect_url"], {"action": "fail"})
        self.wait("the failure", lambda: len([a for a in self.inv(m, inv_id)[
            "payment_attempts"] if a["outcome"] != "pending"]) == 2)
        inv = self.inv(m, inv_id)
        self.assertEqual(inv["status"], "open")
        self.assertEqual([a["outcome"] for a in inv["payment_attempts"]],
                         ["authentication_required", "authentication_required"])
        self.assertEqual(self.succeeded_intents(inv_id), [])


class Cards(Base):
    def test_card_stored_from_the_webhook_when_the_customer_never_returns(self):
        m = self.site()
        cus = m.customer(email="gone@example.com")
        st = self.setup_session(m, cus["id"])
        cs = st["url"].rsplit("/", 1)[1]
        S.complete_checkout(cs, "pm_card_mastercard")      # and closes the browser
        self.wait("the card", lambda: self.cards(m, cus["id"]))
        self.drain()
        (card,) = self.cards(m, cus["id"])
        self.assertEqual((card["brand"], card["last4"], card["is_default"]),
                         ("mastercard", "4444", True))
        got = self.ok(m.get("/payment_method_setups/" + st["id"]))
        self.assertEqual((got["status"], got["payment_method_id"], got["url"]),
                         ("complete", card["id"], None))
        sent = self.deliveries(m)
        self.assertIn(("setup_intent.succeeded", 200), sent)
        self.assertIn(("checkout.session.completed", 200), sent)
        self.assertTrue(all(s == 200 for _, s in sent), sent)   # unknown types: 200
        # the customer comes back after all: nothing new
        self.ok(m.post("/payment_method_setups/%s/sync" % cs))
        self.assertEqual(len(self.cards(m, cus["id"])), 1)
        self.assertEqual(len(self.events(m, "payment_method.attached")), 1)

    def test_return_and_webhook_store_the_card_once(self):
        m = self.site()
        cus = m.customer()
        S.hold(m.stripe_key)
        try:
            done = self.add_card(m, cus["id"], "pm_card_amex")
        finally:
            S.release(m.stripe_key, "reverse")
        self.drain()
        cards = self.cards(m, cus["id"])
        self.assertEqual([c["id"] for c in cards], [done["payment_method_id"]])
        self.assertEqual(len(self.events(m, "payment_method.attached")), 1)
        # every delivery again: duplicates, answered 200, change nothing
        for ev in S.events(m.stripe_key):
            for d in S.resend(ev["id"]):
                self.assertEqual(d["status"], 200, (ev["type"], d))
        self.assertEqual(len(self.cards(m, cus["id"])), 1)

    def test_setup_needs_a_stripe_site_and_checks_its_urls(self):
        m = self.site()
        cus = m.customer()
        r = m.post("/customers/%s/payment_methods/setup_session" % cus["id"],
                   {"success_url": "javascript:alert(1)"})
        self.assertEqual(r.status, 400, r)
        r = m.post("/customers/nope/payment_methods/setup_session",
                   {"success_url": "https://shop.example/ok"})
        self.assertEqual(r.status, 404, r)
        t = ST.new_site("plain")
        c2 = t.customer()
        r = t.post("/customers/%s/payment_methods/setup_session" % c2["id"],
                   {"success_url": "https://shop.example/ok"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "gateway_not_hosted")


class Money(Base):
    def paid_invoice(self, m, currency="USD", amount=1000):
        self.plan(m, amount=amount, currency=currency)
        cus = m.customer()
        self.add_card(m, cus["id"])
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual(inv["status"], "paid")
        return inv

    def test_refunds_in_portald_and_in_stripes_dashboard(self):
        m = self.site()
        inv = self.paid_invoice(m, currency="ISK", amount=5000)
        (pi,) = self.intents(inv["id"])
        self.assertEqual((pi["amount"], pi["currency"]), (500000, "isk"),
                         "ISK goes to Stripe with two decimals")
        got = self.ok(m.post("/invoices/%s/refund" % inv["id"], {"amount": 1200}))
        self.assertEqual(got["amount_refunded"], 1200)
        (mine,) = [a for a in got["payment_attempts"] if a["kind"] == "refund"]
        self.assertEqual((mine["outcome"], mine["gateway"]), ("succeeded", "stripe"))
        re_ = S.obj(mine["gateway_reference"])
        self.assertEqual((re_["amount"], re_["payment_intent"]), (120000, pi["id"]))
        self.drain()            # its charge.refunded: Portald's own refund, not counted twice
        self.assertEqual(self.inv(m, inv["id"])["amount_refunded"], 1200)
        dash = S.dashboard_refund({"payment_intent": pi["id"], "amount": 30000})
        self.wait("the dashboard refund", lambda: self.inv(m, inv["id"])["amount_refunded"]
                  == 1500)
        self.drain()
        inv = self.inv(m, inv["id"])
        refunds = [(a["amount"], a["gateway_reference"]) for a in inv["payment_attempts"]
                   if a["kind"] == "refund"]
        self.assertEqual(sorted(refunds), sorted([(1200, re_["id"]), (300, dash["id"])]))
        self.assertEqual(len(self.events(m, "invoice.refunded")), 2)
        for ev in S.events(m.stripe_key):
            if ev["type"] == "charge.refunded":
                S.resend(ev["id"])
        self.assertEqual(self.inv(m, inv["id"])["amount_refunded"], 1500)
        self.assertEqual(len(self.events(m, "invoice.refunded")), 2)

    def test_dispute_marks_the_invoice_and_fires_an_event(self):
        m = self.site()
        inv = self.paid_invoice(m)
        self.assertFalse(inv["disputed"])
        (pi,) = self.intents(inv["id"])
        S.dispute({"payment_intent": pi["id"], "reason": "fraudulent"})
        self.wait("the dispute", lambda: self.inv(m, inv["id"])["disputed"])
        inv = self.inv(m, inv["id"])
        self.assertEqual(inv["dispute_reason"], "fraudulent")
        (ev,) = self.events(m, "invoice.disputed")
        self.assertEqual((ev["object_id"], ev["actor"]["type"]), (inv["id"], "gateway"))


class Webhooks(Base):
    def held_dispute(self, m):
        """A paid invoice whose dispute event waits at the stand-in, undelivered."""
        self.plan(m)
        cus = m.customer()
        st = self.setup_session(m, cus["id"])
        self.on_hosted_page(st)
        self.ok(m.post("/payment_method_setups/%s/sync" % st["id"]))
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv_id = sub["latest_invoice_id"]
        self.drain()
        S.hold(m.stripe_key)
        (pi,) = self.intents(inv_id)
        S.dispute({"payment_intent": pi["id"]})
        (ev,) = [e for e in S.events(m.stripe_key) if e["type"] == "charge.dispute.created"]
        return inv_id, ev

    def test_signature_wrong_old_and_replayed(self):
        m = self.site()
        inv_id, ev = self.held_dispute(m)
        try:
            (d,) = S.resend(ev["id"], {"bad_signature": True})
            self.assertEqual(d["status"], 400)
            (d,) = S.resend(ev["id"], {"timestamp_offset": -400})
            self.assertEqual(d["status"], 400)
            (d,) = S.resend(ev["id"], {"timestamp_offset": 400})
            self.assertEqual(d["status"], 400)
            self.assertFalse(self.inv(m, inv_id)["disputed"], "nothing applied")
            # signed by the official stripe package, among other v1 values
            body = json.dumps({k: v for k, v in ev.items() if k != "_deliveries"}, indent=2)
            (header,) = oracle("sign", [{"payload": body, "secret": m.endpoint["secret"],
                                         "timestamp": int(time.time())}])
            t, v1 = header.split(",")
            header = "%s,v1=%s,%s,v0=%s" % (t, "0" * 64, v1, "1" * 64)
            path = "/gateway/stripe/%s/webhook" % m.site_id
            h = {"Stripe-Signature": header, "Content-Type": "application/json"}
            r = ST.request("POST", path, body=body.encode(), headers=h)
            self.assertEqual((r.status, r.json["result"]), (200, "applied"), r)
            self.assertTrue(self.inv(m, inv_id)["disputed"])
            r = ST.request("POST", path, body=body.encode(), headers=h)      # replayed
            self.assertEqual((r.status, r.json["result"]), (200, "duplicate"), r)
            r = ST.request("POST", path, body=body.encode() + b" ", headers=h)
            self.assertEqual(r.status, 400, "one byte more breaks the signature")
            r = ST.request("POST", path, body=body.encode(), headers={})
            self.assertEqual(r.status, 400)
            r = ST.request("POST", "/gateway/stripe/no-such-site/webhook", body=b"{}",
                           headers=h)
            self.assertEqual(r.status, 404)
        finally:
            S.release(m.stripe_key)
        self.drain()
        self.assertEqual(len(self.events(m, "invoice.disputed")), 1)

    def test_duplicated_and_out_of_order_deliveries(self):
        m = self.site()
        self.plan(m)
        cus = m.customer()
        S.hold(m.stripe_key)
        st = self.setup_session(m, cus["id"])
        self.on_hosted_page(st, "pm_card_visa_debit")     # the customer never syncs
        S.release(m.stripe_key, "reverse")
        self.drain()
        self.assertEqual(len(self.cards(m, cus["id"])), 1)
        S.hold(m.stripe_key)
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        (pi,) = self.intents(sub["latest_invoice_id"])
        S.dashboard_refund({"payment_intent": pi["id"], "amount": 100})
        S.dispute({"payment_intent": pi["id"]})
        S.release(m.stripe_key, "reverse")
        self.drain()
        for ev in S.events(m.stripe_key):          # and every one of them again
            S.resend(ev["id"])
        inv = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual((inv["status"], inv["amount_refunded"], inv["disputed"]),
                         ("paid", 100, True))
        for type_, n in (("payment_method.attached", 1), ("invoice.paid", 1),
                         ("invoice.refunded", 1), ("invoice.disputed", 1)):
            self.assertEqual(len(self.events(m, type_)), n, type_)
        self.assertTrue(all(s == 200 for _, s in self.deliveries(m)), self.deliveries(m))
        applied = ST.psql("SELECT count(*), count(DISTINCT event_id) FROM gateway_events "
                          "WHERE site_id = '%s'" % m.site_id)[0]
        self.assertEqual(applied[0], applied[1])


class Faults(Base):
    """Stripe keeps a 5xx under its key: Portald looks before it tries again, and then
    uses a new key; a reset after the work was done is retried under the same key."""

    def test_saved_500s_are_looked_at_then_retried_under_a_new_key(self):
        m = self.site()
        self.plan(m)
        cus = m.customer()
        self.add_card(m, cus["id"])
        S.clear_requests()
        S.add_fault({"path": "/v1/payment_intents", "method": "POST", "kind": "500"})
        S.add_fault({"path": "/v1/payment_intents/*/confirm", "method": "POST", "kind": "500",
                     "perform": True})
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv = self.inv(m, sub["latest_invoice_id"])
        self.assertEqual(inv["status"], "paid")
        (pi,) = self.intents(inv["id"])
        reqs = [(r["method"], r["path"], r["idempotency_key"], r["status"])
                for r in S.requests()]
        creates = [r for r in reqs if r[:2] == ("POST", "/v1/payment_intents")]
        self.assertEqual([r[3] for r in creates], [500, 200])
        self.assertNotEqual(creates[0][2], creates[1][2], "a new key after a saved 500")
        self.assertTrue(creates[0][2].startswith("portald:%s:%s-1:create" % (m.site_id,
                                                                            inv["id"])))
        self.assertIn(("GET", "/v1/payment_intents"), [r[:2] for r in reqs],
                      "listed by customer before the second create")
        confirms = [r for r in reqs if r[1].endswith("/confirm")]
        self.assertEqual([r[3] for r in confirms], [500], "confirmed once: it had succeeded")
        self.assertIn(("GET", "/v1/payment_intents/" + pi["id"]), [r[:2] for r in reqs])
        self.assertNotIn("/v1/payment_intents/search", [r[1] for r in reqs])
        # a refund whose 500 came after the work: found by its metadata, not made twice
        S.add_fault({"path": "/v1/refunds", "method": "POST", "kind": "500", "perform": True})
        got = self.ok(m.post("/invoices/%s/refund" % inv["id"], {"amount": 400}))
        self.assertEqual(got["amount_refunded"], 400)
        refunds = [o for o in (S.obj(i) for i in list(S.index)) if o and
                   o.get("object") == "refund" and o["payment_intent"] == pi["id"]]
        self.assertEqual([r["amount"] for r in refunds], [400])
        # a connection reset after the charge: the same key again, Stripe's saved answer
        S.add_fault({"path": "/v1/payment_intents/*/confirm", "method": "POST",
                     "kind": "reset", "perform": True})
        m.travel(32 * 86400)
        self.settled(m)
        latest = self.ok(m.get("/subscriptions/" + sub["id"]))["latest_invoice_id"]
        self.assertEqual(self.inv(m, latest)["status"], "paid")
        self.assertEqual(len(self.intents(latest)), 1)
        self.assertEqual(len(self.succeeded_intents(latest)), 1)


class Isolation(Base):
    def other_site(self):
        """A site on the test gateway after "tst-..." in the runner's order, with a
        subscription: (client, subscription)."""
        other = ST.new_site("zz")
        self.ok(other.post("/plans", {"id": "p", "name": "P", "amount": 700,
                                      "currency": "USD", "interval": "month"}))
        oc = other.customer()
        tok = self.ok(other.post("/test_gateway/tokens", {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2099}))
        self.ok(other.post("/customers/%s/payment_methods" % oc["id"], {"token": tok["id"]}))
        return other, self.ok(other.post("/subscriptions", {"customer_id": oc["id"],
                                                            "plan_id": "p"}))

    def paid(self, m, sub):
        return len([i for i in self.ok(m.get("/invoices?subscription_id=" + sub["id"]))["data"]
                    if i["status"] == "paid"])

    def test_a_gateway_that_is_down_holds_up_no_other_site(self):
        """Stripe refuses every call for one site's account: its charge stays pending for the
        reconciler, and a site after it in the runner's order still renews on time."""
        m = self.site()
        self.plan(m)
        cus = m.customer()
        self.add_card(m, cus["id"])
        self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        self.settled(m)
        S.add_fault({"path": "/v1/*", "kind": "503", "count": 1000000})
        try:
            m.travel(32 * 86400)
            # Past the reconciler's staleness, so every pass asks Stripe again and fails.
            self.wait("the charge left pending", lambda: ST.psql(
                "SELECT 1 FROM payment_attempts WHERE site_id = '%s' AND outcome = 'pending' "
                "AND wall_created_at < extract(epoch FROM now())::bigint - 35" % m.site_id), 90)
            other, osub = self.other_site()
            other.travel(32 * 86400)
            self.wait("the other site's renewal", lambda: self.paid(other, osub) == 2, 20)
        finally:
            S.clear_faults()

    def slow_stripe_site(self, fault, bound, left, n=6):
        """n renewals of a Stripe site whose calls meet fault; a test-gateway site renewing
        meanwhile must be paid within bound seconds, with at least left of the Stripe
        site's charges still pending then. Once Stripe answers again, every charge is made,
        once. Returns the Stripe site's client."""
        m = self.site()
        self.plan(m)
        subs = []
        for _ in range(n):
            cus = m.customer()
            self.add_card(m, cus["id"])
            subs.append(self.ok(m.post("/subscriptions", {"customer_id": cus["id"],
                                                          "plan_id": "basic"})))
        self.settled(m)
        pending = ("SELECT count(*) FROM payment_attempts WHERE site_id = '%s' "
                   "AND outcome = 'pending'" % m.site_id)
        S.add_fault(fault)
        try:
            m.travel(32 * 86400)
            self.wait("the renewals' charges sent", lambda: ST.psql(pending) == [[str(n)]], 30)
            other, osub = self.other_site()
            t0 = time.time()
            other.travel(32 * 86400)
            self.wait("the other site's renewal", lambda: self.paid(other, osub) == 2, 90)
            self.assertLess(time.time() - t0, bound,
                            "the other site waited behind the slow gateway")
            self.assertGreaterEqual(int(ST.psql(pending)[0][0]), left, "charges left pending")
        finally:
            S.clear_faults()
        # The reconciler asks about each charge left by its key and makes it, once.
        for sub in subs:
            self.wait("the renewal paid", lambda: self.paid(m, sub) == 2, 150)
        for sub in subs:
            for inv in self.ok(m.get("/invoices?subscription_id=" + sub["id"]))["data"]:
                if inv["created_at"] > sub["created_at"] + 86400:
                    self.assertEqual(len(self.succeeded_intents(inv["id"])), 1, inv["id"])
        return m

    def test_a_gateway_that_hangs_holds_up_no_other_site(self):
        """Stripe takes every call of one site's account to the client's timeout (5 s here).
        The runner stops calling it after the first slow call and leaves it alone for a
        while, so a site after it renews within seconds, not after six charges' worth of
        timeouts (about 10 s each: the intent, then the search for it)."""
        m = self.slow_stripe_site({"path": "/v1/*", "kind": "timeout", "delay": 120,
                                   "count": 1000000}, 25, 5)
        self.assertIn("site %s: its payment gateway is slow or unreachable" % m.site_id,
                      self.log())
        self.assertIn("site %s: its payment gateway answers again" % m.site_id, self.log())

    def test_a_slow_gateway_has_ten_seconds_a_round(self):
        """Stripe answers every confirmation after 3 s (slow, not trouble): the round ends
        once its calls took 10 s (four charges), the rest are left to the reconciler, and a
        site after it renews meanwhile instead of after seven slow charges (21 s)."""
        m = self.slow_stripe_site({"path": "/v1/payment_intents/*/confirm", "method": "POST",
                                   "kind": "slow", "delay": 3, "count": 1000000}, 17, 2, n=7)
        self.assertRegex(self.log(), "site %s: [23] gateway call\\(s\\) left for the job "
                         "runner: this round's calls took their time" % re.escape(m.site_id))
        self.assertNotIn("site %s: its payment gateway is slow" % m.site_id, self.log())


class Crashes(Base):
    """Killed between Stripe's answer and its record: recovered from the recorded
    PaymentIntent by the job runner (webhooks held, so nothing else can tell Portald)."""

    def ready(self):
        m = self.site()
        self.plan(m)
        cus = m.customer()
        self.add_card(m, cus["id"])
        return m, cus

    def slow_confirm(self):
        S.add_fault({"path": "/v1/payment_intents/*/confirm", "method": "POST", "kind": "slow",
                     "delay": 8})

    def pending_with_intent(self, m, inv_id=None):
        """Waits for a pending attempt whose PaymentIntent succeeded at the stand-in."""
        def look():
            q = ("SELECT invoice_id, gateway_ref FROM payment_attempts WHERE site_id = '%s' "
                 "AND outcome = 'pending' AND gateway_ref IS NOT NULL" % m.site_id)
            for inv, ref in ST.psql(q):
                o = S.obj(ref)
                if o and o["status"] == "succeeded" and (inv_id is None or inv == inv_id):
                    return inv
            return None
        return self.wait("the charge at Stripe", look, 30)

    def test_runner_killed_after_stripe_answered(self):
        m, cus = self.ready()
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        S.hold(m.stripe_key)
        self.slow_confirm()
        try:
            m.travel(32 * 86400)                    # the renewal is due
            inv_id = self.pending_with_intent(m)
            # The billing lane makes the charge; the runner above it would only restart it.
            # Both die, as in a crash of the machine: the call in flight never records.
            lane, pid = self.runner_pid("billing lane started"), self.runner_pid()
            self.assertIsNotNone(lane)
            self.assertIsNotNone(pid)
            os.kill(lane, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
            self.assertEqual(self.inv(m, inv_id)["status"], "open", "killed before the record")
            self.wait("the recovery", lambda: self.inv(m, inv_id)["status"] == "paid", 90)
            self.assertIn("resolving payment attempt", ST.log_text())
        finally:
            S.release(m.stripe_key)
        self.drain()
        self.assertEqual(len(self.intents(inv_id)), 1, "no second PaymentIntent")
        self.assertEqual(len(self.succeeded_intents(inv_id)), 1)
        self.assertEqual(len([e for e in self.events(m, "invoice.paid")
                              if e["object_id"] == inv_id]), 1)
        self.assertEqual(self.ok(m.get("/subscriptions/" + sub["id"]))["status"], "active")

    def test_worker_killed_during_api_pay(self):
        m, cus = self.ready()
        token = self.cards(m, cus["id"])[0]["gateway_token"]
        S.set_decline(token, "generic_decline")
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        inv_id = sub["latest_invoice_id"]
        self.assertEqual(self.inv(m, inv_id)["status"], "open")
        S.set_decline(token, None)
        S.hold(m.stripe_key)
        self.slow_confirm()
        got = {}
        key = {"Idempotency-Key": "pay-" + inv_id}

        def pay():
            got["r"] = m.post("/invoices/%s/pay" % inv_id, {}, headers=key)
        t = threading.Thread(target=pay)
        t.start()
        try:
            self.pending_with_intent(m, inv_id)
            for pid in ST.worker_pids():
                if pid != self.runner_pid():
                    os.kill(pid, signal.SIGKILL)
            t.join(60)
            self.assertEqual(got["r"].status, 503, got["r"])
            self.assertEqual(self.inv(m, inv_id)["status"], "open")
            self.wait("the recovery", lambda: self.inv(m, inv_id)["status"] == "paid", 90)
            # the client retries with its key (after Retry-After while the first
            # request's claim is younger than 30 s): the answer as it stands, no charge
            for _ in range(30):
                again = m.post("/invoices/%s/pay" % inv_id, {}, headers=key)
                if again.status != 409:
                    break
                self.assertEqual(again.json["error"]["code"], "idempotency_key_in_use")
                time.sleep(float(again.header("retry-after") or 1))
            self.assertEqual((again.status, again.header("idempotent-replayed")),
                             (200, "true"), again)
            self.assertEqual(again.json["status"], "paid")
        finally:
            S.release(m.stripe_key)
        self.drain()
        self.assertEqual(len(self.intents(inv_id)), 2, "the declined one and the paid one")
        self.assertEqual(len(self.succeeded_intents(inv_id)), 1)


class Secrets(Base):
    def test_secrets_absent_from_logs_answers_and_a_database_dump(self):
        m = self.site()
        answers = [m.get("/gateway").text, m.post("/gateway", {
            "gateway": "stripe", "stripe_secret_key": m.stripe_key}).text]
        bad = m.post("/gateway", {"gateway": "stripe", "stripe_secret_key": m.stripe_key + "!",
                                  "stripe_webhook_secret": m.endpoint["secret"]})
        self.assertEqual(bad.status, 400)
        answers.append(bad.text)
        self.assertTrue(SECRETS)
        dump = ST.sh('as_pg "$PG_BIN/pg_dump" -h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" '
                     '-U postgres portald').stdout
        self.assertIn("site_gateways", dump)
        self.assertIn("v1.", dump)
        logs = ST.log_text()
        for secret in set(SECRETS) | {m.stripe_key + "!"}:
            for where, text in (("dump", dump), ("logs", logs), ("answers", "".join(answers))):
                self.assertNotIn(secret, text, where)
                if len(secret) >= 24:
                    self.assertNotIn(secret[8:], text, where)


if __name__ == "__main__":
    unittest.main()
