"""test_portal_stripe.py: the portal's pages on a Stripe site, through nginx against the strict
Stripe stand-in (the stack and stand-in of test_stripe_gateway): a card added on the hosted
Checkout page, with the customer's return ("check now") and without it (the webhook), a
cancelled Checkout; an invoice whose charge needs the bank's confirmation completed through
the portal's Complete payment page (the bank's page reached by redirects, no script), its
action-required mail queued once; the return pages change nothing on GET or HEAD; another
customer's set-up or invoice is a 404."""
import os
import re
import signal
import threading
import unittest
import urllib.parse

import harness
import test_stripe_gateway as gw
from test_portal_billing import form, text_of


def setUpModule():
    gw.setUpModule()


def tearDownModule():
    gw.tearDownModule()


class PortalStripe(gw.Base):
    def setUp(self):
        super().setUp()
        self.m = self.site()
        self.home = "/portal/" + self.m.site_id

    def login(self, cus):
        b = harness.Browser(gw.ST)
        self.assertEqual(b.get(self.m.session(cus["id"])["access_url"]).status, 303)
        return b

    def get(self, b, tail, status=200):
        r = b.get(tail if tail.startswith("/portal/") or "://" in tail else self.home + tail)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def post(self, b, tail, fields, status=303):
        r = b.post_form(self.home + tail, fields)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def sql(self, q):
        return "\n".join("|".join(row) for row in
                         gw.ST.psql(q.replace("$SITE", "'%s'" % self.m.site_id)))

    def state(self):
        """What a GET or HEAD must not change."""
        return [self.sql("SELECT count(*), string_agg(id || status, ',' ORDER BY id) FROM %s "
                         "WHERE site_id = $SITE" % t) for t in ("gateway_setups", "invoices")] + \
            [self.sql("SELECT count(*), string_agg(id || outcome, ',' ORDER BY id) FROM %s "
                      "WHERE site_id = $SITE" % t) for t in ("payment_attempts",)] + \
            [self.sql("SELECT count(*) FROM payment_methods WHERE site_id = $SITE"),
             self.sql("SELECT count(*) FROM events WHERE site_id = $SITE")]

    def unchanged_by_get_and_head(self, b, tail):
        before = self.state()
        r = self.get(b, tail)
        u = urllib.parse.urlsplit(tail if tail.startswith("/portal/") or "://" in tail
                                  else self.home + tail)
        h = gw.ST.request("HEAD", u.path + ("?" + u.query if u.query else ""),
                          headers=b._headers())
        self.assertEqual(h.status, 200)
        self.assertEqual(self.state(), before, "a GET or HEAD changed something")
        return r

    def start_setup(self, b, cus, make_default=False):
        """The Add card page and its POST: where the browser is sent (Checkout)."""
        page = self.get(b, "/payment_methods/new")
        csp = page.header("content-security-policy")
        self.assertIn("form-action 'self' " + gw.S.url, csp)
        fields = form(page, "/payment_methods/new")
        if make_default:
            fields["make_default"] = "yes"
        count = "SELECT count(*) FROM gateway_setups WHERE site_id = $SITE"
        before = int(self.sql(count))
        r = self.post(b, "/payment_methods/new", fields)
        where = r.header("location")
        self.assertTrue(where.startswith(gw.S.url + "/checkout/pay/cs_"), where)
        # the same form again (a double click): the set-up's page, no second set-up
        again = self.post(b, "/payment_methods/new", fields).header("location")
        self.assertRegex(again, "^%s/payment_methods/setups/setup_[0-9a-f]+$" % self.home)
        setup = again.rsplit("/", 1)[1]
        self.assertEqual(int(self.sql(count)), before + 1)
        self.assertEqual(self.sql("SELECT customer_id, make_default FROM gateway_setups "
                                  "WHERE site_id = $SITE AND id = '%s'" % setup),
                         "%s|%s" % (cus["id"], "1" if make_default else "-1"))
        return where, setup

    def test_card_added_on_checkout_and_stored_on_return(self):
        cus = self.m.customer(email="back@example.com")
        b = self.login(cus)
        checkout, setup = self.start_setup(b, cus)
        gw.S.hold(self.m.stripe_key)        # the webhook comes late: the return must do
        try:
            status, back = gw.page("POST", checkout, {"payment_method": "pm_card_visa"})
            self.assertEqual(status, 303, back)
            self.assertTrue(back.startswith("%s%s/payment_methods/setups/%s?session_id=cs_" %
                                            (gw.ST.base, self.home, setup)), back)
            r = self.unchanged_by_get_and_head(b, back)
            self.assertIn("Checking your card", text_of(r))
            self.assertEqual(self.cards(self.m, cus["id"]), [])
            self.post(b, "/payment_methods/setups/%s/check" % setup, form(r, "/check"))
            r = self.get(b, "/payment_methods/setups/%s?returned=1" % setup)
            self.assertIn("Your card has been saved", text_of(r))
            self.assertIn("Visa ending 4242", text_of(r))
            self.assertIn("It is now your default card", text_of(r))
        finally:
            gw.S.release(self.m.stripe_key)
        self.drain()
        (card,) = self.cards(self.m, cus["id"])
        self.assertEqual((card["brand"], card["last4"], card["is_default"]),
                         ("visa", "4242", True))
        self.assertEqual(len(self.events(self.m, "payment_method.attached")), 1)

    def test_second_card_default_as_asked_stored_by_webhook_without_return(self):
        cus = self.m.customer(email="gone@example.com")
        self.add_card(self.m, cus["id"], "pm_card_visa")
        b = self.login(cus)
        checkout, setup = self.start_setup(b, cus, make_default=True)
        cs = checkout.rsplit("/", 1)[1]
        gw.S.complete_checkout(cs, "pm_card_mastercard")      # and closes the browser
        self.wait("the card", lambda: len(self.cards(self.m, cus["id"])) == 2)
        self.drain()
        r = self.unchanged_by_get_and_head(b, "/payment_methods/setups/" + setup)
        self.assertIn("Mastercard ending 4444", text_of(r))
        self.assertIn("It is now your default card", text_of(r))
        default = [c for c in self.cards(self.m, cus["id"]) if c["is_default"]]
        self.assertEqual([c["last4"] for c in default], ["4444"])

    def test_cancelled_checkout_returns_to_the_cards_with_a_message(self):
        cus = self.m.customer(email="cancel@example.com")
        b = self.login(cus)
        checkout, setup = self.start_setup(b, cus)
        status, body = gw.page("GET", checkout)
        self.assertEqual(status, 200)
        cancel = re.search(r'<a href="([^"]+)">Cancel</a>', body).group(1)
        cancel = cancel.replace("&amp;", "&")
        self.assertEqual(cancel, "%s%s/payment_methods?setup_cancelled=1" %
                         (gw.ST.base, self.home))
        r = self.unchanged_by_get_and_head(b, cancel)
        self.assertIn("You did not add a card: nothing was changed.", text_of(r))
        self.assertEqual(self.cards(self.m, cus["id"]), [])
        # the set-up's own page still offers the secure page, and changes nothing
        r = self.unchanged_by_get_and_head(b, "/payment_methods/setups/" + setup)
        self.assertIn(checkout, r.text)

    def test_another_customers_setup_and_invoice_are_404(self):
        ada = self.m.customer(email="ada@example.com")
        eve = self.m.customer(email="eve@example.com")
        _, setup = self.start_setup(self.login(ada), ada)
        b = self.login(eve)
        page = self.get(b, "")
        tok = harness.csrf_from(page.text)
        self.get(b, "/payment_methods/setups/" + setup, 404)
        self.post(b, "/payment_methods/setups/%s/check" % setup, {"csrf_token": tok}, 404)
        self.plan(self.m)
        self.add_card(self.m, ada["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": ada["id"],
                                                     "plan_id": "basic"}))
        inv = sub["latest_invoice_id"]
        before = self.state()
        for tail in ("/invoices/%s/complete", "/invoices/%s/completed"):
            self.get(b, tail % inv, 404)
        self.post(b, "/invoices/%s/complete" % inv, {"csrf_token": tok,
                                                     "form_nonce": "n" * 22}, 404)
        self.post(b, "/invoices/%s/completed/check" % inv, {"csrf_token": tok}, 404)
        self.assertEqual(self.state(), before)

    def test_authentication_required_completed_through_the_portal(self):
        self.plan(self.m)
        cus = self.m.customer(email="3ds@example.com")
        self.add_card(self.m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"],
                                                     "plan_id": "basic"}))
        inv = sub["latest_invoice_id"]
        self.assertEqual(self.inv(self.m, inv)["status"], "open")
        # the action-required mail, once, leading to Complete payment
        mails = "SELECT count(*) FROM mail_outbox WHERE site_id = $SITE AND type = " \
                "'action_required'"
        self.assertEqual(self.sql(mails), "1")
        self.assertEqual(self.sql("SELECT path FROM mail_links WHERE site_id = $SITE AND "
                                  "purpose = 'invoice_payment'"),
                         "%s/invoices/%s/complete" % (self.home, inv))
        b = self.login(cus)
        r = self.unchanged_by_get_and_head(b, "")
        self.assertIn('href="%s/invoices/%s/complete"' % (self.home, inv), r.text)
        self.assertIn("Complete payment", text_of(r))
        r = self.unchanged_by_get_and_head(b, "/invoices")
        self.assertIn('href="%s/invoices/%s/complete"' % (self.home, inv), r.text)
        # Pay now would only be refused again: it leads to Complete payment
        r = b.get(self.home + "/invoices/%s/pay" % inv)
        self.assertEqual((r.status, r.header("location")),
                         (303, "%s/invoices/%s/complete" % (self.home, inv)))
        r = self.unchanged_by_get_and_head(b, "/invoices/%s/complete" % inv)
        self.assertIn("form-action 'self' " + gw.S.url, r.header("content-security-policy"))
        fields = form(r, "/invoices/%s/complete" % inv)
        go = self.post(b, "/invoices/%s/complete" % inv, fields)
        bank = go.header("location")
        self.assertTrue(bank.startswith(gw.S.url + "/3ds/pi_"), bank)
        again = self.post(b, "/invoices/%s/complete" % inv, fields)   # a double click
        self.assertEqual(again.header("location"), "%s/invoices/%s/completed" % (self.home, inv))
        self.assertEqual(len(self.intents(inv)), 2, "the off-session one and this one")
        gw.S.hold(self.m.stripe_key)
        try:
            status, back = gw.page("POST", bank, {"action": "approve"})
            self.assertEqual(status, 303, back)
            self.assertTrue(back.startswith("%s%s/invoices/%s/completed?payment_intent=pi_" %
                                            (gw.ST.base, self.home, inv)), back)
            r = self.unchanged_by_get_and_head(b, back)
            self.assertIn("Waiting for your bank", text_of(r))
            self.assertEqual(self.inv(self.m, inv)["status"], "open")
            self.post(b, "/invoices/%s/completed/check" % inv, form(r, "/check"))
            r = self.get(b, "/invoices/%s/completed?returned=1" % inv)
            self.assertIn("Payment received", text_of(r))
        finally:
            gw.S.release(self.m.stripe_key)
        self.drain()
        got = self.inv(self.m, inv)
        self.assertEqual(got["status"], "paid")
        self.assertEqual([(a["outcome"], a["on_session"]) for a in got["payment_attempts"]],
                         [("authentication_required", False), ("succeeded", True)])
        self.assertEqual(len(self.succeeded_intents(inv)), 1)
        self.assertEqual(self.sql(mails), "1")
        r = self.get(b, "/invoices/%s/complete" % inv)
        self.assertIn("This invoice is paid", text_of(r))

    def test_failed_authentication_is_shown_and_mailed_once(self):
        self.plan(self.m)
        cus = self.m.customer(email="fail@example.com")
        self.add_card(self.m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"],
                                                     "plan_id": "basic"}))
        inv = sub["latest_invoice_id"]
        b = self.login(cus)
        fields = form(self.get(b, "/invoices/%s/complete" % inv), "/complete")
        bank = self.post(b, "/invoices/%s/complete" % inv, fields).header("location")
        status, back = gw.page("POST", bank, {"action": "fail"})
        self.assertEqual(status, 303, back)
        self.wait("the failure", lambda: len([a for a in self.inv(self.m, inv)[
            "payment_attempts"] if a["outcome"] != "pending"]) == 2)
        r = self.unchanged_by_get_and_head(b, back)
        self.assertIn("Payment not completed", text_of(r))
        self.assertIn("Your bank did not confirm the payment", text_of(r))
        self.assertIn('href="%s/invoices/%s/complete"' % (self.home, inv), r.text)
        self.assertEqual(self.sql("SELECT count(*) FROM mail_outbox WHERE site_id = $SITE AND "
                                  "type = 'action_required'"), "1")
        self.assertEqual(self.succeeded_intents(inv), [])

    def test_worker_killed_during_complete_payment_charges_once(self):
        self.plan(self.m)
        cus = self.m.customer(email="killed@example.com")
        self.add_card(self.m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"],
                                                     "plan_id": "basic"}))
        inv = sub["latest_invoice_id"]
        b = self.login(cus)
        fields = form(self.get(b, "/invoices/%s/complete" % inv), "/complete")
        # Stripe confirms, then the answer is slow: the worker dies before it hears it
        gw.S.add_fault({"path": "/v1/payment_intents/*/confirm", "method": "POST",
                        "kind": "slow", "delay": 8})
        got = {}

        def complete():
            got["r"] = b.post_form(self.home + "/invoices/%s/complete" % inv, fields)
        t = threading.Thread(target=complete)
        t.start()

        def confirmed():
            for (ref,) in gw.ST.psql("SELECT gateway_ref FROM payment_attempts WHERE "
                                     "site_id = '%s' AND invoice_id = '%s' AND outcome = "
                                     "'pending' AND gateway_ref IS NOT NULL" %
                                     (self.m.site_id, inv)):
                o = gw.S.obj(ref)
                if o and o["status"] == "requires_action":
                    return ref
            return None
        ref = self.wait("the confirmed PaymentIntent", confirmed)
        for pid in gw.ST.worker_pids():
            if pid != self.runner_pid():
                os.kill(pid, signal.SIGKILL)
        t.join(60)
        self.assertGreaterEqual(got["r"].status, 500, got["r"])
        gw.S.clear_faults()
        # the customer tries again: the same waiting charge, the same bank page
        fields = form(self.get(b, "/invoices/%s/complete" % inv), "/complete")
        bank = self.post(b, "/invoices/%s/complete" % inv, fields).header("location")
        self.assertEqual(bank, "%s/3ds/%s" % (gw.S.url, ref))
        status, back = gw.page("POST", bank, {"action": "approve"})
        self.assertEqual(status, 303, back)
        r = self.get(b, back)
        if "Waiting for your bank" in text_of(r):
            self.post(b, "/invoices/%s/completed/check" % inv, form(r, "/check"))
        self.wait("the payment", lambda: self.inv(self.m, inv)["status"] == "paid")
        self.assertIn("Payment received", text_of(self.get(b, "/invoices/%s/completed" % inv)))
        self.drain()
        self.assertEqual(len(self.intents(inv)), 2, "the off-session one and this one")
        self.assertEqual(len(self.succeeded_intents(inv)), 1)
        self.assertEqual(len([e for e in self.events(self.m, "invoice.paid")
                              if e["object_id"] == inv]), 1)


if __name__ == "__main__":
    unittest.main()
