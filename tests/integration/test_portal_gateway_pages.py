"""test_portal_gateway_pages.py: on a Stripe site (the strict stand-in of test_stripe_gateway),
the portal sends the browser on only to the gateway's own pages: a Checkout or 3-D Secure
address on another origin is logged and answered with an error page, never a redirect;
"check now" on a set-up takes only this customer's own set-up ids."""
import os
import unittest

import harness
import test_stripe_gateway as gw
from test_portal_billing import form, text_of


def setUpModule():
    gw.setUpModule()


def tearDownModule():
    gw.tearDownModule()


EVIL = "https://evil.example"


class GatewayPages(gw.Base):
    def setUp(self):
        super().setUp()
        self.m = self.site()
        self.home = "/portal/" + self.m.site_id

    def tearDown(self):
        gw.S.pages_url = None
        super().tearDown()

    def login(self, cus):
        b = harness.Browser(gw.ST)
        self.assertEqual(b.get(self.m.session(cus["id"])["access_url"]).status, 303)
        return b

    def sql(self, q):
        return "\n".join("|".join(row) for row in
                         gw.ST.psql(q.replace("$SITE", "'%s'" % self.m.site_id)))

    def logged(self, text):
        with open(os.path.join(gw.ST.state, "portald.log"), errors="replace") as f:
            return text in f.read()

    def test_checkout_on_another_origin_is_refused(self):
        cus = self.m.customer(email="elsewhere@example.com")
        b = self.login(cus)
        gw.S.pages_url = EVIL
        page = b.get(self.home + "/payment_methods/new")
        self.assertEqual(page.status, 200, text_of(page)[:600])
        r = b.post_form(self.home + "/payment_methods/new", form(page, "/payment_methods/new"))
        self.assertEqual(r.status, 502, text_of(r)[:600])
        self.assertIsNone(r.header("location"))
        self.assertNotIn(EVIL, r.text)
        self.assertIn("secure page is not available", text_of(r))
        self.assertTrue(self.logged("the gateway's page is on %s, not on its origins"
                                    % EVIL))
        # The set-up's own page offers no link to it either.
        setup = self.sql("SELECT id FROM gateway_setups WHERE site_id = $SITE AND "
                         "customer_id = '%s'" % cus["id"])
        self.assertTrue(setup.startswith("setup_"), setup)
        page = b.get(self.home + "/payment_methods/setups/" + setup)
        self.assertEqual(page.status, 200, text_of(page)[:600])
        self.assertNotIn(EVIL, page.text)
        # The gateway's own origin still works.
        gw.S.pages_url = None
        page = b.get(self.home + "/payment_methods/new")
        r = b.post_form(self.home + "/payment_methods/new", form(page, "/payment_methods/new"))
        self.assertEqual(r.status, 303, text_of(r)[:600])
        self.assertTrue(r.header("location").startswith(gw.S.url + "/checkout/pay/cs_"))

    def test_bank_page_on_another_origin_is_refused(self):
        self.plan(self.m)
        cus = self.m.customer(email="bank@example.com")
        self.add_card(self.m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        inv = self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"],
                                                     "plan_id": "basic"}))["latest_invoice_id"]
        b = self.login(cus)
        page = b.get(self.home + "/invoices/%s/complete" % inv)
        self.assertEqual(page.status, 200, text_of(page)[:600])
        gw.S.pages_url = EVIL
        r = b.post_form(self.home + "/invoices/%s/complete" % inv,
                        form(page, "/invoices/%s/complete" % inv))
        self.assertEqual(r.status, 502, text_of(r)[:600])
        self.assertIsNone(r.header("location"))
        self.assertNotIn(EVIL, r.text)
        self.assertIn('href="%s/invoices/%s/completed"' % (self.home, inv), r.text)


    def test_check_now_takes_only_this_customers_setup_ids(self):
        ada = self.m.customer(email="ada@example.com")
        eve = self.m.customer(email="eve@example.com")
        b = self.login(ada)
        page = b.get(self.home + "/payment_methods/new")
        r = b.post_form(self.home + "/payment_methods/new", form(page, "/payment_methods/new"))
        self.assertEqual(r.status, 303, text_of(r)[:600])
        setup, cs = self.sql("SELECT id, session_ref FROM gateway_setups WHERE site_id = $SITE "
                             "AND customer_id = '%s'" % ada["id"]).split("|")
        self.assertTrue(cs.startswith("cs_"), cs)
        tok = harness.csrf_from(b.get(self.home).text)
        # The gateway's session id names the same set-up, but it is not a set-up id:
        # the page it would lead to does not exist either.
        for ref in (cs, "setup_" + "0" * 24, "pm_card_visa"):
            r = b.post_form(self.home + "/payment_methods/setups/%s/check" % ref,
                            {"csrf_token": tok})
            self.assertEqual(r.status, 404, (ref, text_of(r)[:300]))
            self.assertIsNone(r.header("location"))
        # Another customer's set-up id and session id are 404 too.
        other = self.login(eve)
        etok = harness.csrf_from(other.get(self.home).text)
        for ref in (setup, cs):
            r = other.post_form(self.home + "/payment_methods/setups/%s/check" % ref,
                                {"csrf_token": etok})
            self.assertEqual(r.status, 404, ref)
        # The customer's own set-up id is checked.
        r = b.post_form(self.home + "/payment_methods/setups/%s/check" % setup,
                        {"csrf_token": tok})
        self.assertEqual((r.status, r.header("location")), (303, "%s/payment_methods/setups/"
                         "%s?returned=1" % (self.home, setup)))


if __name__ == "__main__":
    unittest.main()
