"""test_login.py: portal access without single sign-on, through nginx with the stack's real
SMTP server: the site's sign-in page and its login_url, SSO-only sites, login links by
email (single use, expiry, a confirmation whose POST alone signs in, GET and HEAD
prefetches that use nothing), the same answer and the same rate-limit counting for known
and unknown addresses, an address shared by several customers, the session id rotated."""
import email
import email.policy
import hashlib
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import Browser, pre_csrf, stack


class Base(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.s.mail_control("accept")
        self.m = self.s.new_site("login")
        self.home = "/portal/" + self.m.site_id
        self.cookie = "__Host-portald_" + self.m.site_id

    def addr(self, tag="c"):
        return "%s-%s@example.com" % (tag, os.urandom(5).hex())

    def mails_to(self, address):
        out = []
        for path in self.s.mail_files():
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            if address.lower() in [a.lower() for a in (msg.get_all("Delivered-To") or [])]:
                out.append(msg)
        return out

    def mail_to(self, address, count=1, timeout=30):
        deadline = time.time() + timeout
        found = []
        while time.time() < deadline:
            found = self.mails_to(address)
            if len(found) >= count:
                return found
            time.sleep(0.2)
        self.fail("expected %d message(s) to %s, have %d\n%s" % (
            count, address, len(found), self.s.tail_logs(15)))

    def link_in(self, msg):
        text = msg.get_body(("plain",)).get_content()
        m = re.search(r"http://127\.0\.0\.1:\d+(/portal/%s/link/(\S+))" % re.escape(
            self.m.site_id), text)
        self.assertTrue(m, text)
        return m.group(1), m.group(2)

    def ask_link(self, address, b=None):
        """Asks for a login link for address in browser b (a new one by default)."""
        b = b or Browser(self.s)
        page = b.get(self.home + "/login")
        self.assertEqual(page.status, 200, page.text)
        return b.post_form(self.home + "/login", {"csrf_token": pre_csrf(page.text),
                                                  "email": address})

    def new_mail(self, address, kind, seen, timeout=30):
        """The first message of type kind to address whose Message-ID is not in seen
        (delivery is at least once: a message may arrive twice)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for msg in self.mails_to(address):
                if msg["X-Portald-Type"] == kind and msg["Message-ID"] not in seen:
                    return msg
            time.sleep(0.2)
        self.fail("no new %s message to %s\n%s" % (kind, address, self.s.tail_logs(15)))

    def login_link(self, address):
        """Asks for a link and returns (path, token) from the mail that arrives."""
        seen = {m["Message-ID"] for m in self.mails_to(address)}
        r = self.ask_link(address)
        self.assertEqual(r.status, 303, r.text)
        return self.link_in(self.new_mail(address, "login_link", seen))

    def confirm(self, path, b=None, **fields):
        """Opens the link's page and presses its button; returns (browser, answer)."""
        b = b or Browser(self.s)
        page = b.get(path)
        if page.status != 200:
            return b, page
        fields["csrf_token"] = pre_csrf(page.text)
        return b, b.post_form(path, fields)

    def outbox(self):
        return self.s.portalctl("mail", "list", self.m.site_id, "--limit", "100")["data"]

    def link_row(self, token):
        lid = token.split(".")[1]
        row = self.s.psql("SELECT used_at, expires_at - created_at, purpose FROM mail_links "
                          "WHERE site_id = '%s' AND id = '%s'" % (self.m.site_id, lid))[0]
        return [v if v != "" else None for v in row]


class SignInPage(Base):
    def test_configuration_shows_login_url_and_login_methods(self):
        conf = self.m.get("/portal_configuration").json
        self.assertEqual(conf["login_url"], "%s/portal/%s/login" % (self.s.base,
                                                                  self.m.site_id))
        self.assertEqual(conf["sign_in"], {"sso": True, "login_link": True,
                                           "login_link_ttl": 900, "password": False,
                                           "invite_on_subscription": False,
                                           "management_link_ttl": 65 * 86400,
                                           "email_verification": True,
                                           "reveal_unknown_email": False,
                                           "merchant_sign_in_url": None})
        r = self.m.post("/portal_configuration", {"sign_in": {"login_link_ttl": 60}})
        self.assertEqual(r.status, 400, r)
        r = self.m.post("/portal_configuration", {"sign_in": {"login_link_ttl": 1800}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["sign_in"]["login_link_ttl"], 1800)

    def test_new_site_offers_a_login_link(self):
        page = Browser(self.s).get(self.home + "/login")
        self.assertEqual(page.status, 200)
        self.assertIn('name="email"', page.text)
        self.assertIn("Email me a sign-in link", page.text)
        self.assertIn("Site " + self.m.site_id, page.text)   # the site's branding

    def test_sso_only_site_sends_people_to_the_merchant(self):
        b = Browser(self.s)
        # A sign-in form fetched while login links were on, posted after they went off.
        token = pre_csrf(b.get(self.home + "/login").text)
        r = self.m.post("/portal_configuration", {"sign_in": {
            "login_link": False, "merchant_sign_in_url": "https://shop.example/signin"}})
        self.assertEqual(r.status, 200, r)
        page = b.get(self.home + "/login")
        self.assertEqual(page.status, 200)
        self.assertNotIn('name="email"', page.text)
        self.assertIn('href="https://shop.example/signin"', page.text)
        self.assertIn("sign in to your account on", page.text)
        # A form posted anyway sends nothing.
        address = self.addr()
        self.m.customer(email=address)
        r = b.post_form(self.home + "/login", {"csrf_token": token, "email": address})
        self.assertEqual(r.status, 200, r.text)
        self.assertIn('href="https://shop.example/signin"', r.text)
        self.assertEqual([m for m in self.outbox() if m["type"] == "login_link"], [])

    def test_post_without_the_sign_in_cookie_is_refused(self):
        address = self.addr()
        self.m.customer(email=address)
        r = Browser(self.s).post_form(self.home + "/login", {"csrf_token": "A" * 22,
                                                             "email": address})
        self.assertEqual(r.status, 403)
        self.assertEqual([m for m in self.outbox() if m["type"] == "login_link"], [])

    def test_an_address_that_is_not_one_is_shown_the_form_again(self):
        r = self.ask_link("not an address")
        self.assertEqual(r.status, 400)
        self.assertIn("Enter an email address in the correct format", r.text)
        self.assertTrue(r.text.count("<title>Error: "), r.text[:400])


class LoginLink(Base):
    def test_link_signs_in_once_after_its_button(self):
        address = self.addr()
        cus = self.m.customer(email=address, name="Lena Link")
        path, token = self.login_link(address)
        msg = self.mails_to(address)[0]
        self.assertEqual(msg["X-Portald-Type"], "login_link")
        self.assertIn("expires in 15 minutes", msg.get_body(("plain",)).get_content())
        used, ttl, purpose = self.link_row(token)
        self.assertEqual((used, int(ttl), purpose), (None, 900, "login_link"))
        b, r = self.confirm(path)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.header("location"), self.home)
        self.assertIn(self.cookie, b.cookies)
        page = b.get(self.home)
        self.assertEqual(page.status, 200)
        self.assertIn("Lena Link", page.text)
        self.assertIsNotNone(self.link_row(token)[0])
        # The event, with the session as its actor.
        ev = self.m.get("/events?type=portal_session.logged_in").json["data"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["data"]["customer_id"], cus["id"])
        self.assertEqual(ev[0]["data"]["status"], "logged_in")
        self.assertEqual(ev[0]["actor"], {"type": "portal_session", "id": ev[0]["data"]["id"]})
        # Single use: the page and the button both say so now.
        again = Browser(self.s).get(path)
        self.assertEqual(again.status, 410)
        _, r2 = self.confirm(path, b=Browser(self.s))
        self.assertEqual(r2.status, 410)
        self.assertEqual(len(self.m.get("/events?type=portal_session.logged_in")
                             .json["data"]), 1)

    def test_a_changed_address_ends_the_links_mailed_to_the_old_one(self):
        """A link names an account by the address it was mailed to: after the customer's
        address changes (here to another customer's), the link opens nothing, so it cannot
        be used to reach the accounts at the new address; the old address is told."""
        mine, victim = self.addr("mine"), self.addr("victim")
        me = self.m.customer(email=mine, name="Mal Lory")
        self.m.customer(email=victim, name="Vic Tim")
        path, _ = self.login_link(mine)
        self.assertEqual(self.m.post("/customers/" + me["id"], {"email": victim}).status, 200)
        b, r = self.confirm(path)
        self.assertEqual(r.status, 410, r.text)
        self.assertNotIn(self.cookie, b.cookies)
        told = self.new_mail(mine, "email_changed", set())
        text = told.get_body(("plain",)).get_content()
        self.assertIn(victim, text)
        self.assertIn(mine, text)

    def test_mailed_links_use_the_sites_own_host_name(self):
        host = "billing-%s.shop.example" % os.urandom(3).hex()
        self.assertEqual(self.m.post("/portal_configuration", {"custom_host": host}).status,
                         200)
        address = self.addr()
        self.m.customer(email=address)
        self.assertEqual(self.ask_link(address).status, 303)
        text = self.new_mail(address, "login_link", set()).get_body(("plain",)).get_content()
        self.assertIn("http://%s/portal/%s/link/" % (host, self.m.site_id), text)
        self.assertNotIn("127.0.0.1", text)

    def test_get_and_head_of_the_link_use_nothing(self):
        address = self.addr()
        self.m.customer(email=address, name="Pre Fetch")
        path, token = self.login_link(address)
        scanner = Browser(self.s)
        for _ in range(3):
            h = self.s.request("HEAD", path)
            self.assertEqual(h.status, 200)
            self.assertIsNone(h.header("set-cookie"))
            g = scanner.get(path)
            self.assertEqual(g.status, 200)
            self.assertNotIn(self.cookie, scanner.cookies)
        self.assertIsNone(self.link_row(token)[0])
        self.assertEqual(scanner.get(self.home).status, 401)
        self.assertEqual(self.m.get("/events?type=portal_session.logged_in").json["data"], [])
        # The person who opens it later still signs in with it.
        _, r = self.confirm(path)
        self.assertEqual(r.status, 303)

    def test_link_expires_after_15_minutes(self):
        address = self.addr()
        self.m.customer(email=address)
        path, _ = self.login_link(address)
        b = Browser(self.s)
        page = b.get(path)
        self.assertEqual(page.status, 200)
        self.m.travel(15 * 60 + 1)
        r = b.post_form(path, {"csrf_token": pre_csrf(page.text)})
        self.assertEqual(r.status, 410)
        self.assertNotIn(self.cookie, b.cookies)
        self.assertEqual(Browser(self.s).get(path).status, 410)

    def test_a_site_may_set_the_lifetime(self):
        self.assertEqual(self.m.post("/portal_configuration", {"sign_in": {
            "login_link_ttl": 3600}}).status, 200)
        address = self.addr()
        self.m.customer(email=address)
        path, token = self.login_link(address)
        self.assertEqual(int(self.link_row(token)[1]), 3600)
        self.m.travel(30 * 60)
        _, r = self.confirm(path)
        self.assertEqual(r.status, 303)

    def test_a_forged_or_foreign_token_is_not_valid(self):
        address = self.addr()
        self.m.customer(email=address)
        path, token = self.login_link(address)
        site, lid, secret = token.split(".")
        forged = "%s.%s.%s" % (site, lid, secret[:-2] + ("AA" if secret[-2:] != "AA" else "BB"))
        self.assertEqual(Browser(self.s).get(self.home + "/link/" + forged).status, 404)
        other = self.s.new_site("login")
        self.assertEqual(Browser(self.s).get("/portal/%s/link/%s" % (other.site_id, token))
                         .status, 404)
        # The real one still works.
        self.assertEqual(self.confirm(path)[1].status, 303)

    def test_known_and_unknown_addresses_get_the_same_answer_and_limits(self):
        known, unknown = self.addr("known"), self.addr("nobody")
        self.m.customer(email=known)
        answers = {}
        for address in (known, unknown):
            answers[address] = [self.ask_link(address) for _ in range(5)]
        for a, b in zip(answers[known], answers[unknown]):
            self.assertEqual((a.status, a.header("location"), a.body),
                             (b.status, b.header("location"), b.body))
        self.assertEqual(answers[known][0].status, 303)
        self.assertEqual(answers[known][0].header("location"), self.home + "/login/sent")
        # The sixth of each is refused alike: the counting does not depend on the address.
        k6, u6 = self.ask_link(known), self.ask_link(unknown)
        self.assertEqual((k6.status, u6.status), (429, 429))
        self.assertEqual(k6.body, u6.body)
        rows = dict(self.s.psql(
            "SELECT bucket, hits FROM portal_rate_limits WHERE site_id = '%s'"
            % self.m.site_id))
        for address in (known, unknown):
            bucket = "link_to:" + hashlib.sha256(address.lower().encode()).hexdigest()
            self.assertEqual(int(rows[bucket]), 5)
        self.assertEqual(int(rows["link_ip:127.0.0.1"]), 10)
        # Mail went to the known address alone, five times.
        self.mail_to(known, 5)
        self.assertEqual(len([m for m in self.outbox() if m["type"] == "login_link"]), 5)
        sent = self.s.request("GET", self.home + "/login/sent")
        self.assertIn("If the address you entered belongs to an account", sent.text)

    def test_a_site_may_opt_in_to_an_explicit_not_found(self):
        known, unknown = self.addr("known"), self.addr("nobody")
        self.m.customer(email=known)
        r = self.m.post("/portal_configuration", {"sign_in": {"reveal_unknown_email": True}})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["sign_in"]["reveal_unknown_email"])
        self.assertEqual(self.m.post("/portal_configuration", {"sign_in": {
            "reveal_unknown_email": "yes"}}).status, 400)
        no = self.ask_link(unknown)
        self.assertEqual((no.status, no.header("location")), (303, self.home + "/login/unknown"))
        page = self.s.request("GET", self.home + "/login/unknown")
        self.assertEqual(page.status, 404, page.text)
        self.assertIn("There is no account with the email address you entered", page.text)
        yes = self.ask_link(known)
        self.assertEqual((yes.status, yes.header("location")), (303, self.home + "/login/sent"))
        self.mail_to(known, 1)
        self.assertEqual([m["type"] for m in self.outbox()], ["login_link"])
        # Unknown addresses still count against the limits: no free probing.
        rows = dict(self.s.psql("SELECT bucket, hits FROM portal_rate_limits WHERE site_id "
                                "= '%s'" % self.m.site_id))
        self.assertEqual(int(rows["link_ip:127.0.0.1"]), 2)
        # Switched off again, the answer is the same either way.
        self.m.post("/portal_configuration", {"sign_in": {"reveal_unknown_email": False}})
        self.assertEqual(self.ask_link(unknown).header("location"), self.home + "/login/sent")
        self.assertNotIn("There is no account", self.s.request(
            "GET", self.home + "/login/unknown").text)

    def test_counters_older_than_a_day_are_dropped(self):
        now = self.m.get("/time_machine").json["now"]
        self.s.psql("INSERT INTO portal_rate_limits (site_id, bucket, window_start, hits) "
                    "VALUES ('%s', 'link_ip:10.9.9.9', %d, 3), ('%s', 'link_ip:10.8.8.8', %d, 2)"
                    % (self.m.site_id, now - 86400 - 60, self.m.site_id, now - 600))
        self.assertEqual(self.ask_link(self.addr()).status, 303)
        buckets = {r[0] for r in self.s.psql("SELECT bucket FROM portal_rate_limits WHERE "
                                             "site_id = '%s'" % self.m.site_id)}
        self.assertNotIn("link_ip:10.9.9.9", buckets)
        self.assertIn("link_ip:10.8.8.8", buckets)

    def test_the_client_address_is_limited_too(self):
        for i in range(20):
            self.assertEqual(self.ask_link(self.addr("x%d" % i)).status, 303)
        self.assertEqual(self.ask_link(self.addr("x21")).status, 429)

    def test_shared_address_chooses_the_account_after_confirming(self):
        address = self.addr("shared")
        a = self.m.customer(email=address, name="Alpha Account")
        b_cus = self.m.customer(email=address.upper(), name="Beta Account")
        path, token = self.login_link(address)
        b, r = self.confirm(path)
        self.assertEqual(r.status, 200, r.text)
        self.assertIn("Alpha Account", r.text)
        self.assertIn("Beta Account", r.text)
        self.assertNotIn(self.cookie, b.cookies)
        self.assertIsNone(self.link_row(token)[0])   # not used until an account is chosen
        # Only an account the address names is accepted.
        r = b.post_form(path, {"csrf_token": pre_csrf(r.text), "account": "cus_other"})
        self.assertEqual(r.status, 400)
        page = b.get(path)
        r = b.post_form(path, {"csrf_token": pre_csrf(page.text), "account": b_cus["id"]})
        self.assertEqual(r.status, 303, r.text)
        home = b.get(self.home)
        self.assertIn("Beta Account", home.text)
        self.assertNotIn("Alpha Account", home.text)
        self.assertTrue(a["id"])

    def test_session_id_rotated_at_sign_in(self):
        address = self.addr()
        cus = self.m.customer(email=address, name="Rota Tion")
        sess = self.m.session(cus["id"])
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        old_cookie = b.cookies[self.cookie]
        path, _ = self.login_link(address)
        _, r = self.confirm(path, b=b)
        self.assertEqual(r.status, 303)
        new_cookie = b.cookies[self.cookie]
        self.assertNotEqual(old_cookie.split(".")[1], new_cookie.split(".")[1])
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"],
                         "logged_out")
        self.assertEqual(b.get(self.home).status, 200)
        # The old cookie signs in no more.
        old = Browser(self.s)
        old.cookies[self.cookie] = old_cookie
        self.assertEqual(old.get(self.home).status, 401)

    def test_mailed_card_update_link_signs_in_at_its_page(self):
        """The payment-failed mail's link (mail_links, purpose card_update) works through
        the same confirmation."""
        address = self.addr()
        cus = self.m.customer(email=address, name="Card Update")
        self.m.post("/plans", {"id": "basic", "name": "Basic", "amount": 1000,
                               "currency": "USD", "interval": "month"})
        tok = self.m.post("/test_gateway/tokens", {"number": "4000000000000002",
                                                   "exp_month": 12, "exp_year": 2099}).json
        self.m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]})
        self.m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"})
        msg = self.mail_to(address)[0]
        path, _ = self.link_in(msg)
        _, r = self.confirm(path)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.header("location"), self.home + "/payment_methods")


GOOD_PW = "correct horse battery staple"
NEW_PW = "a different long passphrase"


class PasswordBase(Base):
    def setUp(self):
        super().setUp()
        r = self.m.post("/portal_configuration", {"sign_in": {"password": True}})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["sign_in"]["password"])

    def ask_password_link(self, address, kind="signup"):
        b = Browser(self.s)
        page = b.get(self.home + "/login/" + kind)
        self.assertEqual(page.status, 200, page.text)
        return b.post_form(self.home + "/login/" + kind, {"csrf_token": pre_csrf(page.text),
                                                          "email": address})

    def password_link(self, address, kind="signup"):
        seen = {m["Message-ID"] for m in self.mails_to(address)}
        r = self.ask_password_link(address, kind)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.header("location"), self.home + "/login/password_sent")
        msg = self.new_mail(address, "set_password", seen)
        return msg, self.link_in(msg)

    def set_password(self, path, pw, b=None):
        b = b or Browser(self.s)
        page = b.get(path)
        self.assertEqual(page.status, 200, page.text)
        self.assertIn('type="password"', page.text)
        return b, b.post_form(path, {"csrf_token": pre_csrf(page.text), "password": pw})

    def sign_in(self, address, pw, b=None):
        b = b or Browser(self.s)
        page = b.get(self.home + "/login")
        return b, b.post_form(self.home + "/login/password", {
            "csrf_token": pre_csrf(page.text), "email": address, "password": pw})

    def account(self, cus):
        rows = self.s.psql("SELECT status, password_hash, failed_count FROM portal_accounts "
                           "WHERE site_id = '%s' AND customer_id = '%s'" % (self.m.site_id,
                                                                             cus["id"]))
        return rows[0] if rows else None

    def active(self, name="Pat Word"):
        address = self.addr()
        cus = self.m.customer(email=address, name=name)
        _, (path, _) = self.password_link(address)
        _, r = self.set_password(path, GOOD_PW)
        self.assertEqual(r.status, 303, r.text)
        return address, cus



class Passwords(PasswordBase):
    def test_sign_up_is_pending_until_the_password_is_set(self):
        address = self.addr()
        cus = self.m.customer(email=address, name="Pen Ding")
        page = Browser(self.s).get(self.home + "/login")
        self.assertIn('name="password"', page.text)
        self.assertIn("Email me a sign-in link", page.text)   # both methods on
        msg, (path, token) = self.password_link(address)
        self.assertEqual(msg["X-Portald-Type"], "set_password")
        self.assertIn("Confirm your email address", str(msg["Subject"]))
        self.assertEqual(self.account(cus)[0], "pending")
        self.assertEqual(self.m.get("/customers/" + cus["id"]).json["portal_state"], "invited")
        # Opening the link (GET, HEAD) changes nothing.
        self.assertEqual(self.s.request("HEAD", path).status, 200)
        self.assertIsNone(self.link_row(token)[0])
        # The rules: 12 characters, not a common password, not the address.
        b = Browser(self.s)
        for bad, why in (("short pw 11", "12 characters"), ("password1234", "common"),
                         (address, "email")):
            page = b.get(path)
            r = b.post_form(path, {"csrf_token": pre_csrf(page.text), "password": bad})
            self.assertEqual(r.status, 400, bad)
            self.assertIn(why, r.text)
            self.assertIsNone(self.link_row(token)[0])
            self.assertEqual(self.account(cus)[0], "pending")
        b, r = self.set_password(path, GOOD_PW, b)
        self.assertEqual(r.status, 303, r.text)
        self.assertIn("Pen Ding", b.get(self.home).text)
        status, phc, _ = self.account(cus)
        self.assertEqual(status, "active")
        self.assertTrue(phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), phc)
        self.assertNotIn(GOOD_PW, phc)
        self.assertEqual(self.m.get("/customers/" + cus["id"]).json["portal_state"], "active")
        ev = self.m.get("/events?type=portal_account.activated").json["data"]
        self.assertEqual([e["object_id"] if "object_id" in e else e["data"]["customer_id"]
                          for e in ev], [cus["id"]])
        # Used once.
        self.assertEqual(Browser(self.s).get(path).status, 410)
        # The password signs in; a wrong one does not.
        b2, r = self.sign_in(address, GOOD_PW)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.header("location"), self.home)
        self.assertEqual(b2.get(self.home).status, 200)
        _, r = self.sign_in(address, "not the password at all")
        self.assertEqual(r.status, 401)
        self.assertIn("not right", r.text)

    def test_unknown_address_gets_the_same_answer(self):
        known, unknown = self.addr(), self.addr("nobody")
        self.m.customer(email=known)
        a, b = self.ask_password_link(known), self.ask_password_link(unknown)
        self.assertEqual((a.status, a.header("location"), a.body),
                         (b.status, b.header("location"), b.body))
        _, r1 = self.sign_in(unknown, GOOD_PW)
        _, r2 = self.sign_in(known, GOOD_PW)       # pending: no password yet
        self.assertEqual((r1.status, r2.status), (401, 401))

    def test_forgotten_password_ends_every_session(self):
        address, cus = self.active()
        b1, r = self.sign_in(address, GOOD_PW)
        self.assertEqual(r.status, 303)
        sso = self.m.session(cus["id"])
        b2 = Browser(self.s)
        self.assertEqual(b2.get(sso["access_url"]).status, 303)
        self.assertEqual(b2.get(self.home).status, 200)
        msg, (path, _) = self.password_link(address, "forgot")
        self.assertIn("Reset your", str(msg["Subject"]))
        b3, r = self.set_password(path, NEW_PW)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(b1.get(self.home).status, 401)
        self.assertEqual(b2.get(self.home).status, 401)
        self.assertEqual(b3.get(self.home).status, 200)
        self.assertEqual(self.m.get("/portal_sessions/" + sso["id"]).json["status"],
                         "logged_out")
        self.new_mail(address, "password_changed", set())
        changed = {m["Message-ID"] for m in self.mails_to(address) if m["X-Portald-Type"] ==
                   "password_changed"}
        self.assertEqual(len(changed), 1)
        self.assertEqual(self.sign_in(address, GOOD_PW)[1].status, 401)
        self.assertEqual(self.sign_in(address, NEW_PW)[1].status, 303)
        # Activated once only.
        self.assertEqual(len(self.m.get("/events?type=portal_account.activated")
                             .json["data"]), 1)

    def sign_in_from(self, ip, address, pw):
        """The sign-in form posted straight to portald's FastCGI socket, as nginx would
        for a client at ip (the stack's nginx only listens on 127.0.0.1)."""
        import socket
        from harness import FCGI_BEGIN, FCGI_STDIN_END, _fcgi_record, fcgi_params, \
            fcgi_read_stdout
        b = Browser(self.s)
        token = pre_csrf(b.get(self.home + "/login").text)
        body = urllib.parse.urlencode({"csrf_token": token, "email": address,
                                       "password": pw}).encode()
        path = self.home + "/login/password"
        params = {"REQUEST_METHOD": "POST", "REQUEST_URI": path, "SCRIPT_NAME": path,
                  "REMOTE_ADDR": ip, "REQUEST_ID": os.urandom(8).hex(),
                  "CONTENT_LENGTH": str(len(body)),
                  "CONTENT_TYPE": "application/x-www-form-urlencoded",
                  "HTTP_HOST": urllib.parse.urlsplit(self.s.base).netloc, "HTTPS": "",
                  "HTTP_COOKIE": "; ".join("%s=%s" % kv for kv in b.cookies.items())}
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(os.path.join(self.s.state, "run", "portald.sock"))
        try:
            sock.sendall(FCGI_BEGIN + fcgi_params(params) + _fcgi_record(5, body) +
                         FCGI_STDIN_END)
            out = fcgi_read_stdout(sock)
        finally:
            sock.close()
        return int(re.search(rb"Status: (\d+)", out).group(1))

    def test_failed_attempts_slow_the_guesser_down_and_lock_nobody_out(self):
        address, cus = self.active()
        other, _ = self.active("Other Person")
        for _ in range(4):
            self.assertEqual(self.sign_in(address, "wrong wrong wrong")[1].status, 401)
        # This client's next attempt waits, even with the right password; other accounts
        # do not, and neither does the customer from another client address.
        _, r = self.sign_in(address, GOOD_PW)
        self.assertEqual(r.status, 429)
        self.assertIsNotNone(r.header("retry-after"))
        self.assertEqual(self.sign_in(other, GOOD_PW)[1].status, 303)
        self.assertEqual(self.sign_in_from("198.51.100.7", address, GOOD_PW), 303)
        self.m.travel(31)
        self.assertEqual(self.sign_in(address, GOOD_PW)[1].status, 303)
        self.assertEqual(self.s.psql("SELECT count(*) FROM portal_password_failures WHERE "
                                     "site_id = '%s'" % self.m.site_id)[0][0], "0")
        # An address that is nobody's is slowed alike: the answers do not tell them apart.
        nobody = self.addr("nobody")
        answers = [(self.sign_in(a, "wrong wrong wrong")[1].status, a) for _ in range(5)
                   for a in (address, nobody)]
        self.assertEqual([x for x, _ in answers], [401] * 8 + [429, 429])
        # A login link still works whatever the counter says.
        path, _ = self.login_link(address)
        self.assertEqual(self.confirm(path)[1].status, 303)

    def test_attempts_per_client_address_are_limited(self):
        for i in range(30):
            self.assertEqual(self.sign_in(self.addr("n%d" % i), GOOD_PW)[1].status, 401)
        self.assertEqual(self.sign_in(self.addr("n31"), GOOD_PW)[1].status, 429)


class Access(PasswordBase):
    """Invitations, revocation and the list of a customer's sessions (passwords on)."""

    def invite(self, cus):
        return self.m.post("/customers/%s/portal_invitations" % cus["id"])

    def test_invitation_is_not_yet_activated_until_the_password_is_set(self):
        address = self.addr()
        cus = self.m.customer(email=address, name="In Vitee")
        r = self.invite(cus)
        self.assertEqual(r.status, 200, r)
        sess = r.json
        self.assertEqual((sess["object"], sess["status"], sess["customer_id"]),
                         ("portal_session", "not_yet_activated", cus["id"]))
        self.assertEqual(self.m.get("/customers/" + cus["id"]).json["portal_state"], "invited")
        msg = self.mail_to(address)[0]
        self.assertEqual(msg["X-Portald-Type"], "invitation")
        path, token = self.link_in(msg)
        self.assertEqual(self.link_row(token)[2], "invitation")
        b, r = self.set_password(path, GOOD_PW)
        self.assertEqual(r.status, 303, r.text)
        self.assertIn("In Vitee", b.get(self.home).text)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"],
                         "activated")
        self.assertEqual(self.account(cus)[0], "active")
        self.assertEqual(len(self.m.get("/events?type=portal_account.activated")
                             .json["data"]), 1)
        # Invited once active: refused.
        self.assertEqual(self.invite(cus).status, 409)

    def test_resend_at_most_five_times_in_thirty_minutes(self):
        cus = self.m.customer(email=self.addr(), name="Re Send")
        for _ in range(5):
            self.assertEqual(self.invite(cus).status, 200)
        r = self.invite(cus)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"]["code"], "rate_limited")
        self.m.travel(1801)
        self.assertEqual(self.invite(cus).status, 200)

    def test_invitations_need_passwords_and_an_address(self):
        nomail = self.m.customer(name="No Mail")
        self.assertEqual(self.invite(nomail).status, 400)
        self.assertEqual(self.invite({"id": "cus_nobody"}).status, 404)
        self.m.post("/portal_configuration", {"sign_in": {"password": False}})
        cus = self.m.customer(email=self.addr())
        r = self.invite(cus)
        self.assertEqual(r.status, 403, r)

    def test_a_new_subscription_invites_when_the_site_says_so(self):
        r = self.m.post("/portal_configuration", {"sign_in": {"invite_on_subscription": True}})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["sign_in"]["invite_on_subscription"])
        self.m.post("/plans", {"id": "basic", "name": "Basic", "amount": 1000,
                               "currency": "USD", "interval": "month", "trial_days": 14})
        address = self.addr()
        cus = self.m.customer(email=address, name="Auto Invite")
        for _ in range(2):
            r = self.m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"})
            self.assertEqual(r.status, 200, r)
        msg = self.mail_to(address)[0]
        self.assertEqual(msg["X-Portald-Type"], "invitation")
        time.sleep(1)
        self.assertEqual(len([m for m in self.outbox() if m["type"] == "invitation"]), 1)
        self.assertEqual(self.m.get("/customers/" + cus["id"]).json["portal_state"], "invited")
        # Switched off: no invitation.
        self.m.post("/portal_configuration", {"sign_in": {"invite_on_subscription": False}})
        other = self.m.customer(email=self.addr())
        self.m.post("/subscriptions", {"customer_id": other["id"], "plan_id": "basic"})
        self.assertEqual(self.m.get("/customers/" + other["id"]).json["portal_state"], "none")
        # invite_on_subscription needs passwords.
        r = self.m.post("/portal_configuration", {"sign_in": {"password": False,
                                                              "invite_on_subscription": True}})
        self.assertEqual(r.status, 400)

    def test_revoke_ends_live_sessions_and_links_at_once(self):
        address, cus = self.active("Re Voked")
        b_pw, r = self.sign_in(address, GOOD_PW)
        self.assertEqual(r.status, 303)
        sso = self.m.session(cus["id"])
        b_sso = Browser(self.s)
        self.assertEqual(b_sso.get(sso["access_url"]).status, 303)
        unused = self.m.session(cus["id"])           # an access URL not opened yet
        path, token = self.login_link(address)        # a mailed link not used yet
        for b in (b_pw, b_sso):
            self.assertEqual(b.get(self.home).status, 200)
        r = self.m.post("/customers/%s/portal_access/revoke" % cus["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["portal_state"], "revoked")
        for b in (b_pw, b_sso):
            self.assertEqual(b.get(self.home).status, 401)
        self.assertEqual(Browser(self.s).get(unused["access_url"]).status, 410)
        self.assertEqual(Browser(self.s).get(path).status, 410)
        self.assertIsNotNone(self.link_row(token)[0])
        ev = self.m.get("/events?type=portal_access.revoked").json["data"]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["data"]["customer_id"], cus["id"])
        # The set-password sign-in, the password one, the SSO one and the unopened one.
        self.assertEqual(ev[0]["data"]["sessions_ended"], 4)
        # No way back in: no link mailed (same answer), no password, no new SSO session.
        before = len(self.mails_to(address))
        self.assertEqual(self.ask_link(address).status, 303)
        self.assertEqual(self.sign_in(address, GOOD_PW)[1].status, 401)
        r = self.m.post("/portal_sessions", {"customer_id": cus["id"],
                                             "redirect_url": "https://shop.example/"})
        self.assertEqual(r.status, 403, r)
        time.sleep(1.5)
        self.assertEqual(len(self.mails_to(address)), before)
        # Restored: the password works again.
        r = self.m.post("/customers/%s/portal_access/restore" % cus["id"])
        self.assertEqual((r.status, r.json["portal_state"]), (200, "active"))
        self.assertEqual(self.sign_in(address, GOOD_PW)[1].status, 303)
        self.assertEqual(self.m.post("/customers/%s/portal_access/restore" % cus["id"])
                         .status, 409)

    def test_portalctl_revokes_too(self):
        cus = self.m.customer(email=self.addr(), name="Ctl Revoke")
        sso = self.m.session(cus["id"])
        b = Browser(self.s)
        self.assertEqual(b.get(sso["access_url"]).status, 303)
        out = self.s.portalctl("portal-access", self.m.site_id, cus["id"], "revoke")
        self.assertEqual(out["portal_state"], "revoked")
        self.assertEqual(b.get(self.home).status, 401)
        ev = self.m.get("/events?type=portal_access.revoked").json["data"]
        self.assertEqual(ev[0]["actor"]["type"], "admin")
        out = self.s.portalctl("portal-access", self.m.site_id, cus["id"], "restore")
        self.assertEqual(out["portal_state"], "none")

    def test_a_customers_portal_sessions_are_listed(self):
        address, cus = self.active("Lis Ted")
        self.m.session(cus["id"])
        self.assertEqual(self.sign_in(address, GOOD_PW)[1].status, 303)
        other = self.m.customer(email=self.addr())
        self.m.session(other["id"])
        r = self.m.get("/customers/%s/portal_sessions" % cus["id"])
        self.assertEqual(r.status, 200, r)
        data = r.json["data"]
        # set-password sign-in, SSO session, password sign-in: all this customer's.
        self.assertEqual(len(data), 3)
        self.assertTrue(all(d["customer_id"] == cus["id"] for d in data))
        self.assertEqual(sorted(d["login_method"] for d in data),
                         ["password", "password", "sso"])
        page = self.m.get("/customers/%s/portal_sessions?limit=2" % cus["id"]).json
        self.assertTrue(page["has_more"])
        rest = self.m.get("/customers/%s/portal_sessions?limit=2&starting_after=%s" % (
            cus["id"], page["data"][-1]["id"])).json
        self.assertEqual([d["id"] for d in page["data"] + rest["data"]],
                         [d["id"] for d in data])
        self.assertEqual(self.m.get("/customers/cus_nobody/portal_sessions").status, 404)


class ManagementLinks(Base):
    def mlink(self, cus, regenerate=False):
        if regenerate:
            return self.m.post("/customers/%s/management_link/regenerate" % cus["id"])
        return self.m.get("/customers/%s/management_link" % cus["id"])

    def open_and_confirm(self, url, b=None):
        b = b or Browser(self.s)
        page = b.get(url)
        if page.status != 200:
            return b, page
        return b, b.post_form(urllib.parse.urlsplit(url).path,
                              {"csrf_token": pre_csrf(page.text)})

    def test_link_is_derived_counted_and_limited(self):
        cus = self.m.customer(email=self.addr(), name="Man Agement")
        r = self.mlink(cus)
        self.assertEqual(r.status, 200, r)
        first = r.json
        self.assertEqual(first["object"], "management_link")
        self.assertEqual(first["fetch_count"], 1)
        self.assertEqual(first["expires_at"] - first["created_at"], 65 * 86400)
        self.assertEqual(first["new_link_available_at"] - first["created_at"], 86400)
        self.assertRegex(first["url"], r"^%s/portal/%s/manage/%s\.1\.[A-Za-z0-9_-]{43}$" % (
            re.escape(self.s.base), self.m.site_id, cus["id"]))
        # Never stored: no column holds the URL's secret part.
        mac = first["url"].rsplit(".", 1)[1]
        dump = self.s.psql("SELECT row_to_json(m)::text FROM portal_management_links m "
                           "WHERE site_id = '%s'" % self.m.site_id)
        self.assertNotIn(mac, str(dump))
        for n in range(2, 16):
            r = self.mlink(cus)
            self.assertEqual((r.status, r.json["fetch_count"], r.json["url"]),
                             (200, n, first["url"]))
        r = self.mlink(cus)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"]["code"], "rate_limited")
        # Once a new link is available, the next read makes one.
        self.m.travel(86400)
        r = self.mlink(cus)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["fetch_count"], 1)
        self.assertNotEqual(r.json["url"], first["url"])
        self.assertEqual(Browser(self.s).get(first["url"]).status, 404)

    def test_regenerating_invalidates_the_old_link(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        cus = self.m.customer(email=self.addr(), name="Re Gen")
        old = self.mlink(cus).json["url"]
        new = self.mlink(cus, regenerate=True).json
        self.assertNotEqual(new["url"], old)
        self.assertEqual(new["fetch_count"], 1)
        self.assertEqual(Browser(self.s).get(old).status, 404)
        b, r = self.open_and_confirm(new["url"])
        self.assertEqual(r.status, 303, r.text)
        self.assertIn("Re Gen", b.get(self.home).text)
        # A long-lived link: it works again (and again) until it expires.
        self.assertEqual(self.open_and_confirm(new["url"])[1].status, 303)
        self.m.travel(65 * 86400)
        self.assertEqual(Browser(self.s).get(new["url"]).status, 410)

    def test_a_regeneration_in_flight_decides_before_the_old_link_signs_in(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        cus = self.m.customer(email=self.addr())
        url = self.mlink(cus).json["url"]
        b = Browser(self.s)
        token = pre_csrf(b.get(url).text)
        # The merchant's regeneration is under way (its transaction holds the link's row)
        # when the customer confirms with the old link: the sign-in waits for it, and once
        # it commits the old link is dead, so no session comes of it.
        holder = subprocess.Popen(
            ["bash", "-c", '. "$STACK_ROOT/tools/stacklib.sh"; as_pg "$PG_BIN/psql" -q '
             '-h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" -U postgres -d portald -c '
             '"BEGIN; UPDATE portal_management_links SET generation = generation + 1 '
             'WHERE site_id = \'%s\' AND customer_id = \'%s\'; SELECT pg_sleep(1.5); '
             'COMMIT;"' % (self.m.site_id, cus["id"])],
            env=self.s._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            r = b.post_form(urllib.parse.urlsplit(url).path, {"csrf_token": token})
        finally:
            holder.wait(timeout=30)
        self.assertEqual(holder.returncode, 0)
        self.assertEqual(r.status, 404, r.text)
        self.assertNotIn(self.cookie, b.cookies)
        self.assertEqual(self.m.get("/customers/%s/portal_sessions" % cus["id"])
                         .json["data"], [])

    def test_a_revocation_in_flight_lets_no_management_link_sign_in(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        address = self.addr()
        cus = self.m.customer(email=address)
        url = self.mlink(cus).json["url"]
        # An unused login link: the revocation ends it, and its update sleeps meanwhile,
        # after the customer's sessions were ended, before the revocation commits.
        self.ask_link(address)
        self.assertTrue(self.s.psql("SELECT 1 FROM mail_links WHERE site_id = '%s' AND "
                                    "customer_id = '%s'" % (self.m.site_id, cus["id"])))
        fn = "t_revoke_" + os.urandom(4).hex()
        self.s.psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN "
                    "IF NEW.customer_id = ''%s'' AND NEW.used_at IS NOT NULL THEN "
                    "PERFORM pg_sleep(1.5); END IF; RETURN NEW; END'; "
                    "CREATE TRIGGER %s BEFORE UPDATE ON mail_links FOR EACH ROW "
                    "EXECUTE FUNCTION %s()" % (fn, cus["id"], fn, fn))
        self.addCleanup(self.s.psql, "DROP TRIGGER IF EXISTS %s ON mail_links; "
                        "DROP FUNCTION IF EXISTS %s()" % (fn, fn))
        b = Browser(self.s)
        token = pre_csrf(b.get(url).text)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=self.m.post(
            "/customers/%s/portal_access/revoke" % cus["id"])))
        t.start()
        time.sleep(0.5)
        r = b.post_form(urllib.parse.urlsplit(url).path, {"csrf_token": token})
        t.join(timeout=30)
        self.assertEqual(out["r"].status, 200, out["r"])
        # Either the confirm came first and the revocation ended its session, or it waited
        # for the revocation and found the link dead: no way into the portal either way.
        self.assertIn(r.status, (303, 403, 404), r.text)
        self.assertEqual(b.get(self.home).status, 401)
        self.assertEqual([x for x in self.m.get("/customers/%s/portal_sessions" % cus["id"])
                          .json["data"] if x["status"] == "logged_in"], [])

    def test_get_and_head_of_the_management_link_sign_nobody_in(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        cus = self.m.customer(email=self.addr())
        url = self.mlink(cus).json["url"]
        path = urllib.parse.urlsplit(url).path
        b = Browser(self.s)
        self.assertEqual(self.s.request("HEAD", path).status, 200)
        self.assertEqual(b.get(url).status, 200)
        self.assertNotIn(self.cookie, b.cookies)
        self.assertEqual(self.m.get("/customers/%s/portal_sessions" % cus["id"])
                         .json["data"], [])

    def test_email_verification_asks_for_a_login_link_first(self):
        conf = self.m.get("/portal_configuration").json
        self.assertTrue(conf["sign_in"]["email_verification"])
        address = self.addr()
        cus = self.m.customer(email=address, name="Veri Fied")
        url = self.mlink(cus).json["url"]
        b = Browser(self.s)
        page = b.get(url)
        self.assertEqual(page.status, 403)
        self.assertIn("Confirm it", page.text)
        self.assertIn(self.home + "/login", page.text)
        # A POST with this browser's valid sign-in form token is asked too.
        token = pre_csrf(b.get(self.home + "/login").text)
        r = b.post_form(urllib.parse.urlsplit(url).path, {"csrf_token": token})
        self.assertEqual(r.status, 403, r.text)
        self.assertIn("Confirm it", r.text)
        self.assertNotIn(self.cookie, b.cookies)
        # After a login link in this browser, the management link signs in directly.
        path, _ = self.login_link(address)
        self.assertEqual(self.confirm(path, b=b)[1].status, 303)
        _, r = self.open_and_confirm(url, b=b)
        self.assertEqual(r.status, 303, r.text)
        sessions = self.m.get("/customers/%s/portal_sessions" % cus["id"]).json["data"]
        self.assertEqual(sorted(x["login_method"] for x in sessions),
                         ["login_link", "management_link"])
        # Another browser is still asked.
        self.assertEqual(Browser(self.s).get(url).status, 403)

    def test_revoked_customers_management_link_stops(self):
        self.m.post("/portal_configuration", {"sign_in": {"email_verification": False}})
        cus = self.m.customer(email=self.addr())
        url = self.mlink(cus).json["url"]
        self.m.post("/customers/%s/portal_access/revoke" % cus["id"])
        self.assertEqual(Browser(self.s).get(url).status, 404)
        # Restored access does not bring the old link back; a new read gives a new one.
        self.m.post("/customers/%s/portal_access/restore" % cus["id"])
        self.assertEqual(Browser(self.s).get(url).status, 404)
        new = self.mlink(cus).json["url"]
        self.assertNotEqual(new, url)
        self.assertEqual(self.open_and_confirm(new)[1].status, 303)


class Migration(unittest.TestCase):
    def test_sites_that_existed_before_keep_sso_only(self):
        """The migration turns the login link off for every site it finds, and new sites
        get the column's default (on)."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "sql",
                               "010_portal_access.sql")) as f:
            sql = f.read()
        self.assertIn("login_link boolean NOT NULL DEFAULT true", sql)
        self.assertRegex(sql, r"(?m)^UPDATE portal_configurations SET login_link = false;")
        s = stack()
        m = s.new_site("login")
        self.assertTrue(m.get("/portal_configuration").json["sign_in"]["login_link"])


if __name__ == "__main__":
    unittest.main()
