"""test_portal_pages.py: the portal's pages over HTTP: the route-declared needs (session,
CSRF, transaction, once-only forms), the headers on every response, branded error pages,
per-site sessions, and the billing details form with its settings enforced on POST."""
import re
import unittest

from harness import Browser, csrf_from, stack

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def nonce_from(html):
    m = re.search(r'name="form_nonce" value="([^"]+)"', html)
    assert m, "no form nonce in page"
    return m.group(1)


GOOD = {"name": "Grace Hopper", "phone": "+1 202 555 0143", "company": "Navy",
        "tax_id_type": "us_ein", "tax_id_value": "12-3456789", "line1": "1 Main St",
        "line2": "", "city": "Arlington", "state": "VA", "postal_code": "22201",
        "country": "US"}


class PortalPages(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("pp")
        self.m.post("/portal_configuration", {"business_name": "Pages Inc",
                                              "website_url": "https://pages.example"})
        self.cus = self.m.customer(email="grace@example.com", name="Grace")
        self.home = "/portal/" + self.m.site_id

    def login(self, cus=None, **extra):
        sess = self.m.session((cus or self.cus)["id"], **extra)
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        return sess, b

    def details_form(self, b):
        page = b.get(self.home + "/billing_details")
        self.assertEqual(page.status, 200, page)
        return page, {"csrf_token": csrf_from(page.text), "form_nonce": nonce_from(page.text)}

    def events(self, kind):
        return self.m.get("/events?type=%s&limit=100" % kind).json["data"]

    def test_every_portal_response_carries_the_security_headers(self):
        _, b = self.login()
        for path in (self.home, self.home + "/billing_details", self.home + "/nope",
                     "/portal/no-such-site", "/portal", self.home + "/signed_out"):
            r = b.get(path)
            self.assertEqual(r.header("content-security-policy"), CSP, path)
            self.assertEqual(r.header("cache-control"), "no-store", path)
            self.assertEqual(r.header("x-content-type-options"), "nosniff", path)
            self.assertEqual(r.header("referrer-policy"), "no-referrer", path)
            self.assertNotIn("<script", r.text.lower(), path)
            self.assertNotIn("style=", r.text, path)

    def test_error_pages_carry_the_branding_and_a_way_back(self):
        r = Browser(self.s).get(self.home + "/no/such/page")
        self.assertEqual(r.status, 404)
        self.assertIn("Pages Inc", r.text)
        self.assertIn('href="%s"' % self.home, r.text)
        r = Browser(self.s).get(self.home)
        self.assertEqual(r.status, 401)
        self.assertIn("Pages Inc", r.text)
        self.assertIn('href="https://pages.example"', r.text)
        self.assertIn("Return to Pages Inc", r.text)
        r = Browser(self.s).get("/portal/no-such-site/billing_details")
        self.assertEqual(r.status, 404)
        self.assertNotIn("Pages Inc", r.text)

    def test_post_without_or_with_a_wrong_csrf_token_is_a_branded_403(self):
        _, b = self.login()
        _, fields = self.details_form(b)
        for token in (None, "", "forged", csrf_from(self.login()[1].get(self.home).text)):
            data = dict(GOOD, form_nonce=fields["form_nonce"])
            if token is not None:
                data["csrf_token"] = token
            r = b.post_form(self.home + "/billing_details", data)
            self.assertEqual(r.status, 403, token)
            self.assertIn("Pages Inc", r.text)
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["name"], "Grace")
        self.assertEqual(self.events("customer.updated"), [])

    def test_billing_details_saved_through_the_domain_with_an_event(self):
        _, b = self.login()
        _, fields = self.details_form(b)
        r = b.post_form(self.home + "/billing_details", dict(GOOD, **fields))
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("location"), self.home + "?updated=billing_details")
        c = self.m.get("/customers/" + self.cus["id"]).json
        self.assertEqual(c["name"], "Grace Hopper")
        self.assertEqual(c["company"], "Navy")
        self.assertEqual(c["tax_id"], {"type": "us_ein", "value": "12-3456789"})
        self.assertEqual(c["billing_address"]["country"], "US")
        self.assertEqual(c["email"], "grace@example.com")
        ev = self.events("customer.updated")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["data"]["name"], "Grace Hopper")
        page = b.get(r.header("location"))
        self.assertIn("Your billing details have been updated.", page.text)
        self.assertIn("Grace Hopper", page.text)

    def test_a_repeated_post_changes_nothing_twice(self):
        _, b = self.login()
        _, fields = self.details_form(b)
        first = b.post_form(self.home + "/billing_details", dict(GOOD, **fields))
        # The same form again (a double click, a reload), even with other answers.
        again = b.post_form(self.home + "/billing_details",
                            dict(GOOD, name="Changed Twice", **fields))
        self.assertEqual(first.status, 303)
        self.assertEqual(again.status, 303)
        self.assertEqual(again.header("location"), first.header("location"))
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["name"], "Grace Hopper")
        self.assertEqual(len(self.events("customer.updated")), 1)
        # A fresh form can change it again.
        _, fresh = self.details_form(b)
        self.assertEqual(b.post_form(self.home + "/billing_details",
                                     dict(GOOD, name="Second Edit", **fresh)).status, 303)
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["name"], "Second Edit")

    def test_a_double_click_sent_at_the_same_moment_saves_once(self):
        import threading
        _, b = self.login()
        _, fields = self.details_form(b)
        results = []

        def send(name):
            results.append(b.post_form(self.home + "/billing_details",
                                       dict(GOOD, name=name, **fields)))
        threads = [threading.Thread(target=send, args=("Click %d" % i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.status for r in results], [303] * 4)
        self.assertEqual(len({r.header("location") for r in results}), 1)
        self.assertEqual(len(self.events("customer.updated")), 1)

    def test_a_form_with_errors_keeps_answers_and_can_be_resent(self):
        _, b = self.login()
        _, fields = self.details_form(b)
        bad = dict(GOOD, name="", phone="call me", tax_id_value="", country="XX", **fields)
        r = b.post_form(self.home + "/billing_details", bad)
        self.assertEqual(r.status, 422)
        self.assertTrue(re.search(r"<title>Error: ", r.text))
        self.assertIn('class="error-summary"', r.text)
        for field in ("f-name", "f-phone", "f-tax_id_value", "f-country"):
            self.assertIn('href="#%s"' % field, r.text)
            self.assertIn('id="%s-error"' % field, r.text)
            self.assertRegex(r.text, r'id="%s"[^>]*aria-describedby="[^"]*%s-error"'
                             % (field, field))
        self.assertIn('value="call me"', r.text)
        self.assertIn('value="Arlington"', r.text)
        self.assertEqual(self.events("customer.updated"), [])
        # The same nonce works once the answers are right: nothing was done the first time.
        ok = b.post_form(self.home + "/billing_details", dict(GOOD, **fields))
        self.assertEqual(ok.status, 303)

    def test_disabled_billing_details_refuse_a_direct_post(self):
        _, b = self.login()
        _, fields = self.details_form(b)
        self.m.post("/portal_configuration", {"features": {"edit_billing_details": False}})
        page = b.get(self.home)
        self.assertNotIn("/billing_details", page.text, "no link, no navigation item")
        self.assertEqual(b.get(self.home + "/billing_details").status, 403)
        r = b.post_form(self.home + "/billing_details", dict(GOOD, **fields))
        self.assertEqual(r.status, 403)
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["name"], "Grace")

    def test_a_session_override_turns_billing_details_off_or_on(self):
        _, off = self.login(features={"edit_billing_details": False})
        self.assertEqual(off.get(self.home + "/billing_details").status, 403)
        self.m.post("/portal_configuration", {"features": {"edit_billing_details": False}})
        _, on = self.login(features={"edit_billing_details": True})
        self.assertEqual(on.get(self.home + "/billing_details").status, 200)

    def test_email_is_editable_only_where_allowed(self):
        _, b = self.login()
        page, fields = self.details_form(b)
        self.assertNotIn('name="email"', page.text)
        self.assertIn("grace@example.com", page.text)
        r = b.post_form(self.home + "/billing_details",
                        dict(GOOD, email="evil@example.com", **fields))
        self.assertEqual(r.status, 403)
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["email"],
                         "grace@example.com")
        _, b2 = self.login(features={"email_editable": True})
        page, fields = self.details_form(b2)
        self.assertIn('autocomplete="email"', page.text)
        r = b2.post_form(self.home + "/billing_details",
                         dict(GOOD, email="new@example.com", **fields))
        self.assertEqual(r.status, 303, r)
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["email"],
                         "new@example.com")

    def test_another_customers_session_sees_only_its_own_data(self):
        other = self.m.customer(email="eve@example.com", name="Eve Other")
        _, mine = self.login()
        _, theirs = self.login(cus=other)
        self.assertIn("Grace", mine.get(self.home).text)
        self.assertNotIn("Eve Other", mine.get(self.home).text)
        self.assertNotIn("grace@example.com", theirs.get(self.home + "/billing_details").text)
        # Posting with the other customer's cookie changes that customer only.
        _, fields = self.details_form(theirs)
        theirs.post_form(self.home + "/billing_details", dict(GOOD, name="Eve Two", **fields))
        self.assertEqual(self.m.get("/customers/" + self.cus["id"]).json["name"], "Grace")

    def test_two_sites_sessions_live_side_by_side_in_one_browser(self):
        m2 = self.s.new_site("pp")
        m2.post("/portal_configuration", {"business_name": "Other Shop"})
        c2 = m2.customer(email="two@example.com", name="Second Site Customer")
        b = Browser(self.s)
        b.get(self.m.session(self.cus["id"])["access_url"])
        b.get(m2.session(c2["id"])["access_url"])
        self.assertIn("__Host-portald_" + self.m.site_id, b.cookies)
        self.assertIn("__Host-portald_" + m2.site_id, b.cookies)
        one, two = b.get(self.home), b.get("/portal/" + m2.site_id)
        self.assertEqual((one.status, two.status), (200, 200))
        self.assertIn("Pages Inc", one.text)
        self.assertIn("Other Shop", two.text)
        self.assertIn("Second Site Customer", two.text)
        self.assertNotIn("Second Site Customer", one.text)
        # One site's cookie does not open the other's portal.
        b2 = Browser(self.s)
        b2.cookies["__Host-portald_" + m2.site_id] = b.cookies["__Host-portald_" + self.m.site_id]
        self.assertEqual(b2.get("/portal/" + m2.site_id).status, 401)

    def test_test_mode_banner_only_on_test_sites(self):
        _, b = self.login()
        self.assertIn("Test mode", b.get(self.home).text)
        live = self.s.portalctl("site", "create", "live-%s" % self.m.site_id[-8:], "--live")
        site = live["site"]["id"]
        r = Browser(self.s).get("/portal/%s" % site)
        self.assertEqual(r.status, 401)
        self.assertNotIn("Test mode", r.text)

    def test_branding_name_logo_colour_and_footer_links(self):
        from test_portal_config import png
        self.m.post("/portal_configuration", {"brand_color": "#ffd84d",
                                              "terms_url": "https://pages.example/terms",
                                              "help_url": "https://pages.example/help"})
        self.m.call("POST", "/portal_configuration/logo", raw=png(),
                    headers={"Content-Type": "image/png"})
        _, b = self.login()
        page = b.get(self.home).text
        self.assertIn("Pages Inc", page)
        self.assertRegex(page, r'<img src="/portal/%s/logo/[0-9a-f]{16}\.png"' % self.m.site_id)
        self.assertIn('href="https://pages.example/terms"', page)
        self.assertIn('href="https://pages.example/help"', page)
        self.assertNotIn("Privacy policy", page)
        theme = re.search(r'href="(/portal/%s/theme/[0-9a-f]+\.css)"' % self.m.site_id, page)
        css = b.get(theme.group(1))
        self.assertEqual(css.status, 200)
        self.assertIn("text/css", css.header("content-type"))
        self.assertIn("--brand: #ffd84d", css.text)
        self.assertIn("--brand-text: #14171a", css.text)   # dark text on yellow

    def test_dates_are_shown_in_the_sites_time_zone(self):
        import datetime
        import zoneinfo
        self.m.post("/plans", {"id": "tz", "name": "TZ", "amount": 700, "currency": "USD",
                               "interval": "month"})
        sub = self.m.post("/subscriptions", {"customer_id": self.cus["id"],
                                             "plan_id": "tz"}).json
        _, b = self.login()
        seen = set()
        # UTC+14 and UTC-11 are 25 hours apart: the same moment is never the same date.
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
            self.m.post("/portal_configuration", {"time_zone": zone})
            day = datetime.datetime.fromtimestamp(sub["current_term_end"],
                                                  zoneinfo.ZoneInfo(zone))
            want = "on %d %s" % (day.day, day.strftime("%B %Y"))
            self.assertIn(want, b.get(self.home).text, zone)
            seen.add(want)
        self.assertEqual(len(seen), 2)


if __name__ == "__main__":
    unittest.main()
