"""test_signin_hardening.py: what the sign-in forms and links must not give away or allow.
The login-link, sign-up and forgotten-password forms run the same statements in the same
order for an address that is a customer's and one that is nobody's (portald's request log
line counts and hashes them: stmts=, stmt_trace=); the verified-browser cookie ends with
the customer's address; opening a management link (GET) changes nothing."""
import os
import unittest
import urllib.parse

from harness import Browser, pre_csrf, stack
from test_login import GOOD_PW, PasswordBase


class Base(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.s.mail_control("accept")
        self.m = self.s.new_site("harden")
        self.home = "/portal/" + self.m.site_id
        self.cookie = "__Host-portald_" + self.m.site_id

    def addr(self, tag="c"):
        return "%s-%s@example.com" % (tag, os.urandom(5).hex())

    def post_form(self, form_path, post_path, address):
        b = Browser(self.s)
        page = b.get(self.home + form_path)
        self.assertEqual(page.status, 200, page.text)
        return b.post_form(self.home + post_path, {"csrf_token": pre_csrf(page.text),
                                                  "email": address})


class SameWork(Base):
    """A known and an unknown address: the same answer and the same database work."""

    def work(self, form_path, post_path, addresses):
        out = []
        for address in addresses:
            r = self.post_form(form_path, post_path, address)
            self.assertEqual(r.status, 303, r.text)
            line = self.s.request_log(r)
            out.append((r.header("location"), line["stmts"], line["stmt_trace"]))
        return out

    def assert_alike(self, form_path, post_path, make_known):
        known = [make_known() for _ in range(2)]
        unknown = [self.addr("nobody") for _ in range(2)]
        # Interleaved, so a worker's warm caches favour neither side.
        order = [known[0], unknown[0], known[1], unknown[1]]
        got = self.work(form_path, post_path, order)
        self.assertEqual(got[0], got[1], "known and unknown address: different work")
        self.assertEqual(got[2], got[3], "known and unknown address: different work")
        return known

    def test_login_link_request_does_the_same_work_for_nobody(self):
        def known():
            a = self.addr("known")
            self.m.customer(email=a)
            return a
        addresses = self.assert_alike("/login", "/login", known)
        # The known addresses still get their link; nobody else gets anything.
        rows = self.s.psql("SELECT count(*) FROM mail_links WHERE site_id = '%s' AND "
                           "purpose = 'login_link'" % self.m.site_id)
        self.assertEqual(int(rows[0][0]), 2)
        out = self.s.portalctl("mail", "list", self.m.site_id, "--limit", "100")["data"]
        self.assertEqual(sorted(m["to"] for m in out if m["type"] == "login_link"),
                         sorted(addresses))

    def password_site(self):
        r = self.m.post("/portal_configuration", {"sign_in": {"password": True}})
        self.assertEqual(r.status, 200, r)

    def test_sign_up_request_does_the_same_work_for_nobody(self):
        self.password_site()

        def known():
            a = self.addr("known")
            self.m.customer(email=a)
            return a
        addresses = self.assert_alike("/login/signup", "/login/signup", known)
        out = self.s.portalctl("mail", "list", self.m.site_id, "--limit", "100")["data"]
        self.assertEqual(sorted(m["to"] for m in out if m["type"] == "set_password"),
                         sorted(addresses))
        rows = self.s.psql("SELECT status FROM portal_accounts WHERE site_id = '%s'"
                           % self.m.site_id)
        self.assertEqual(sorted(r[0] for r in rows), ["pending", "pending"])

    def test_forgotten_password_request_does_the_same_work_for_nobody(self):
        self.password_site()

        def active():
            # An account whose password is set: the reset, not the confirmation.
            cus = self.m.customer(email=self.addr("known"))
            # (\\$: the harness hands the SQL to bash in double quotes)
            self.s.psql("INSERT INTO portal_accounts (site_id, customer_id, status, "
                        "password_hash, created_at) VALUES ('%s', '%s', 'active', "
                        "'\\$argon2id\\$x', 0)" % (self.m.site_id, cus["id"]))
            self.s.psql("UPDATE customers SET portal_state = 'active' WHERE site_id = '%s' "
                        "AND id = '%s'" % (self.m.site_id, cus["id"]))
            return cus["email"]
        addresses = self.assert_alike("/login/forgot", "/login/forgot", active)
        out = self.s.portalctl("mail", "list", self.m.site_id, "--limit", "100")["data"]
        self.assertEqual(sorted(m["to"] for m in out if m["type"] == "set_password"),
                         sorted(addresses))
        # Still active: a reset leaves the account as it was.
        rows = self.s.psql("SELECT status FROM portal_accounts WHERE site_id = '%s'"
                           % self.m.site_id)
        self.assertEqual(sorted(r[0] for r in rows), ["active", "active"])


class VerifiedBrowser(PasswordBase):
    """The verified-browser cookie holds while the customer's address (and password)
    stay as they were when this browser signed in by email."""

    def setUp(self):
        super().setUp()
        self.address = self.addr("veri")
        self.cus = self.m.customer(email=self.address, name="Veri Fied")
        self.url = self.m.get("/customers/%s/management_link" % self.cus["id"]).json["url"]
        # This browser signs in by a login link: verified.
        self.b = Browser(self.s)
        path, _ = self.login_link(self.address)
        self.assertEqual(self.confirm(path, b=self.b)[1].status, 303)
        self.assertIn("__Host-portald-verified_" + self.m.site_id, self.b.cookies)
        self.assertEqual(self.b.get(self.url).status, 200)

    def test_a_changed_address_voids_the_verified_cookie(self):
        new = self.addr("moved")
        r = self.m.post("/customers/" + self.cus["id"], {"email": new})
        self.assertEqual(r.status, 200, r)
        page = self.b.get(self.url)
        self.assertEqual(page.status, 403, page.text)
        self.assertIn("Confirm it", page.text)
        # The address's case is not a change.
        self.m.post("/customers/" + self.cus["id"], {"email": new.upper()})
        path, _ = self.login_link(new.upper())
        self.assertEqual(self.confirm(path, b=self.b)[1].status, 303)
        self.m.post("/customers/" + self.cus["id"], {"email": new})
        self.assertEqual(self.b.get(self.url).status, 200)

    def test_a_new_password_voids_every_other_verified_cookie(self):
        # A password set through a mailed link signs out everywhere: other browsers
        # lose their proof too; the browser that set it is verified anew.
        other = Browser(self.s)
        _, (path, _) = self.password_link(self.address)
        _, r = self.set_password(path, GOOD_PW, other)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(self.b.get(self.url).status, 403)
        self.assertEqual(other.get(self.url).status, 200)


class ManagementLinkReads(Base):
    """Reading the management link counts (fetch_count, as Maxio's does) in the one
    statement that answers it; a refused read keeps nothing, and opening the link in a
    browser (GET or HEAD) changes nothing."""

    def row(self, cus):
        return self.s.psql("SELECT generation, fetch_count, created_at FROM "
                           "portal_management_links WHERE site_id = '%s' AND customer_id = "
                           "'%s'" % (self.m.site_id, cus["id"]))[0]

    def test_a_refused_read_is_not_counted(self):
        cus = self.m.customer(email=self.addr())
        path = "/customers/%s/management_link" % cus["id"]
        for _ in range(15):
            self.assertEqual(self.m.get(path).status, 200)
        self.assertEqual(self.row(cus)[1], "15")
        for _ in range(3):
            r = self.m.get(path)
            self.assertEqual(r.status, 429, r)
            self.assertGreater(int(r.header("retry-after")), 86000)
            self.assertEqual(self.row(cus)[1], "15")
        # HEAD answers what GET would and counts nothing.
        self.assertEqual(self.m.call("HEAD", path).status, 429)
        self.assertEqual(self.row(cus)[1], "15")

    def test_opening_the_link_in_a_browser_changes_nothing(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        cus = self.m.customer(email=self.addr())
        url = self.m.get("/customers/%s/management_link" % cus["id"]).json["url"]
        before = self.row(cus)
        b = Browser(self.s)
        for _ in range(3):
            self.assertEqual(b.get(url).status, 200)
            self.assertEqual(self.s.request("HEAD", urllib.parse.urlsplit(url).path).status,
                             200)
        self.assertEqual(self.row(cus), before)
        self.assertEqual(self.m.get("/customers/%s/portal_sessions" % cus["id"])
                         .json["data"], [])


if __name__ == "__main__":
    unittest.main()
