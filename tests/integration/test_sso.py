"""test_sso.py: portal sessions end to end through nginx: access URL, cookie, portal page,
single use, expiry, logout by API and by button, activation, timeouts."""
import unittest

from harness import Browser, csrf_from, stack


class SSO(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("sso")
        self.cus = self.m.customer(email="ann@example.com", name="Ann Example")
        self.home = "/portal/" + self.m.site_id
        self.cookie = "__Host-portald_" + self.m.site_id

    def login(self, **extra):
        sess = self.m.session(self.cus["id"], **extra)
        b = Browser(self.s)
        r = b.get(sess["access_url"])
        return sess, b, r

    def test_create_returns_documented_fields(self):
        sess = self.m.session(self.cus["id"])
        for f in ("id", "object", "token", "access_url", "redirect_url", "status", "created_at",
                  "expires_at", "login_at", "logout_at", "login_ipaddress",
                  "logout_ipaddress", "customer_id"):
            self.assertIn(f, sess)
        self.assertEqual(sess["object"], "portal_session")
        self.assertEqual(sess["status"], "created")
        self.assertEqual(sess["expires_at"] - sess["created_at"], 3600)
        self.assertEqual(sess["access_url"], "%s/portal/%s/access/%s" % (
            self.s.base, self.m.site_id, sess["token"]))
        self.assertGreaterEqual(len(sess["token"].rsplit(".", 1)[1]), 43)  # >= 256 bits

    def test_access_url_signs_in_and_shows_customer(self):
        sess, b, r = self.login()
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("location"), self.home)
        page = b.get(self.home)
        self.assertEqual(page.status, 200)
        self.assertIn("Ann Example", page.text)
        self.assertIn("ann@example.com", page.text)
        got = self.m.get("/portal_sessions/" + sess["id"]).json
        self.assertEqual(got["status"], "logged_in")
        self.assertEqual(got["login_ipaddress"], "127.0.0.1")
        self.assertIsNotNone(got["login_at"])
        self.assertIsNone(got["token"])  # stored hashed: shown once, at creation

    def test_session_cookie_is_host_prefixed_secure_httponly_lax(self):
        _, _, r = self.login()
        cookie = r.header("set-cookie")
        self.assertTrue(cookie.startswith(self.cookie + "="), cookie)
        for attr in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
            self.assertIn(attr, cookie)
        self.assertNotIn("Domain=", cookie)

    def test_cookie_is_not_the_access_token(self):
        sess, b, _ = self.login()
        self.assertNotIn(sess["token"].rsplit(".", 1)[1], b.cookies[self.cookie])

    def test_access_url_works_only_once(self):
        sess, _, _ = self.login()
        again = Browser(self.s).get(sess["access_url"])
        self.assertEqual(again.status, 410)
        self.assertIn("https://shop.example/account", again.text)  # the way back
        self.assertIsNone(again.header("set-cookie"))

    def test_expired_access_url_is_refused_with_link_back(self):
        sess = self.m.session(self.cus["id"])
        self.m.travel(3601)
        r = Browser(self.s).get(sess["access_url"])
        self.assertEqual(r.status, 410)
        self.assertIn("expired", r.text)
        self.assertIn("https://shop.example/account", r.text)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "created")

    def test_access_url_just_before_expiry_works(self):
        sess = self.m.session(self.cus["id"])
        self.m.travel(3590)
        self.assertEqual(Browser(self.s).get(sess["access_url"]).status, 303)

    def test_tampered_token_is_not_valid(self):
        sess = self.m.session(self.cus["id"])
        tok = sess["token"]
        bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
        r = Browser(self.s).get("/portal/%s/access/%s" % (self.m.site_id, bad))
        self.assertEqual(r.status, 404)
        self.assertIn("not valid", r.text)
        # The genuine link still works afterwards.
        self.assertEqual(Browser(self.s).get(sess["access_url"]).status, 303)

    def test_garbage_token_gets_readable_page(self):
        for tok in ("x", "a.b.c", "%00", "a" * 500):
            r = Browser(self.s).get("/portal/%s/access/%s" % (self.m.site_id, tok))
            # nginx refuses a NUL in the path itself (400); the rest reach portald.
            self.assertIn(r.status, (400, 404) if "%00" in tok else (404,), tok)
            if r.status == 404:
                self.assertIn("text/html", r.header("content-type"))

    def test_forward_url_lands_inside_portal(self):
        _, _, r = self.login(forward_url=self.s.base + "/portal?tab=invoices")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("location"), self.home + "?tab=invoices")
        _, _, r = self.login(forward_url=self.home + "/billing_details")
        self.assertEqual(r.header("location"), self.home + "/billing_details")

    def test_forward_url_outside_portal_is_refused(self):
        other = self.s.new_site("sso")
        for url in ("https://evil.example/portal", "/portal/../api", "//evil.example/portal",
                    "/admin", "/portal/" + other.site_id, "/portal/%s-x" % self.m.site_id):
            r = self.m.post("/portal_sessions", {"customer_id": self.cus["id"],
                                                 "redirect_url": "https://shop.example",
                                                 "forward_url": url})
            self.assertEqual(r.status, 400, url)
            self.assertEqual(r.json["error"]["param"], "forward_url")

    def test_logout_by_api_ends_portal_access(self):
        sess, b, _ = self.login()
        self.assertEqual(b.get(self.home).status, 200)
        r = self.m.post("/portal_sessions/%s/logout" % sess["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "logged_out")
        self.assertIsNotNone(r.json["logout_at"])
        self.assertEqual(r.json["logout_ipaddress"], "127.0.0.1")
        page = b.get(self.home)
        self.assertEqual(page.status, 401)
        self.assertNotIn("Ann Example", page.text)

    def test_logout_of_logged_out_session_changes_nothing(self):
        sess, _, _ = self.login()
        first = self.m.post("/portal_sessions/%s/logout" % sess["id"]).json
        self.m.travel(60)
        second = self.m.post("/portal_sessions/%s/logout" % sess["id"])
        self.assertEqual(second.status, 200)
        self.assertEqual(second.json, first)

    def test_logout_before_use_kills_the_access_url(self):
        sess = self.m.session(self.cus["id"])
        self.assertEqual(self.m.post("/portal_sessions/%s/logout" % sess["id"]).status, 200)
        self.assertEqual(Browser(self.s).get(sess["access_url"]).status, 410)

    def test_logout_button_ends_session_and_returns_to_merchant(self):
        sess, b, _ = self.login()
        page = b.get(self.home)
        r = b.post_form(self.home + "/sign_out", {"csrf_token": csrf_from(page.text)})
        self.assertEqual(r.status, 303)
        # Same origin (form-action 'self' governs the redirect too); the page links back.
        self.assertEqual(r.header("location"), self.home + "/signed_out?session=" + sess["id"])
        self.assertIn("Max-Age=0", r.header("set-cookie"))
        out = b.get(r.header("location"))
        self.assertEqual(out.status, 200)
        self.assertIn('href="https://shop.example/account"', out.text)
        self.assertIn("signed out", out.text)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "logged_out")

    def test_every_logout_is_an_event(self):
        s1, b1, _ = self.login()
        b1.post_form(self.home + "/sign_out", {"csrf_token": csrf_from(b1.get(self.home).text)})
        s2, b2, _ = self.login()
        self.m.post("/portal_sessions/%s/logout" % s2["id"])
        s3, b3, _ = self.login()
        self.m.travel(1801)
        b3.get(self.home)
        events = self.m.get("/events?type=portal_session.logged_out&limit=100").json["data"]
        ids = [e["object_id"] for e in events]
        for s in (s1, s2, s3):
            self.assertEqual(ids.count(s["id"]), 1, s["id"])
        self.assertIsNone(events[0]["data"]["token"])

    def test_old_cookie_opens_nothing_after_button_logout(self):
        _, b, _ = self.login()
        saved = dict(b.cookies)
        b.post_form(self.home + "/sign_out", {"csrf_token": csrf_from(b.get(self.home).text)})
        replay = Browser(self.s)
        replay.cookies = saved
        self.assertEqual(replay.get(self.home).status, 401)

    def test_logout_button_without_csrf_is_refused(self):
        sess, b, _ = self.login()
        for fields in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            r = b.post_form(self.home + "/sign_out", fields)
            self.assertEqual(r.status, 403, fields)
        self.assertEqual(b.get(self.home).status, 200)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "logged_in")

    def test_csrf_token_of_another_session_is_refused(self):
        _, b1, _ = self.login()
        _, b2, _ = self.login()
        token2 = csrf_from(b2.get(self.home).text)
        self.assertEqual(b1.post_form(self.home + "/sign_out", {"csrf_token": token2}).status, 403)

    def test_portal_without_cookie_is_signed_out_page(self):
        r = Browser(self.s).get(self.home)
        self.assertEqual(r.status, 401)
        self.assertIn("text/html", r.header("content-type"))
        self.assertIn("signed out", r.text)

    def test_forged_cookie_is_refused(self):
        sess, b, _ = self.login()
        forged = Browser(self.s)
        forged.cookies[self.cookie] = sess["token"]  # the access token
        self.assertEqual(forged.get(self.home).status, 401)

    def test_idle_timeout_signs_out(self):
        sess, b, _ = self.login()
        self.m.travel(1801)
        r = b.get(self.home)
        self.assertEqual(r.status, 401)
        self.assertIn("timed out", r.text)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "logged_out")

    def test_activity_keeps_session_alive_within_idle_timeout(self):
        _, b, _ = self.login()
        for _ in range(3):
            self.m.travel(1200)
            self.assertEqual(b.get(self.home).status, 200)

    def test_absolute_timeout_signs_out_despite_activity(self):
        _, b, _ = self.login()
        for _ in range(40):  # past 12 h in steps of 20 minutes
            self.m.travel(1200)
            if b.get(self.home).status != 200:
                break
        self.assertEqual(b.get(self.home).status, 401)

    def test_customer_name_is_escaped_in_page(self):
        cus = self.m.customer(name="<script>alert(1)</script>")
        sess = self.m.session(cus["id"])
        b = Browser(self.s)
        b.get(sess["access_url"])
        page = b.get(self.home).text
        self.assertNotIn("<script>alert(1)", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)

    def test_portal_pages_are_not_cached_and_not_framed(self):
        _, b, _ = self.login()
        r = b.get(self.home)
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertIn("frame-ancestors 'none'", r.header("content-security-policy"))

    def test_activate_with_token_marks_activated_and_consumes_link(self):
        sess = self.m.session(self.cus["id"])
        r = self.m.post("/portal_sessions/%s/activate" % sess["id"], {"token": sess["token"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "activated")
        self.assertEqual(r.json["customer_id"], self.cus["id"])
        self.assertEqual(Browser(self.s).get(sess["access_url"]).status, 410)
        again = self.m.post("/portal_sessions/%s/activate" % sess["id"], {"token": sess["token"]})
        self.assertEqual(again.status, 409)

    def test_activate_with_wrong_token_is_400(self):
        s1 = self.m.session(self.cus["id"])
        s2 = self.m.session(self.cus["id"])
        r = self.m.post("/portal_sessions/%s/activate" % s1["id"], {"token": s2["token"]})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "token")
        self.assertEqual(self.m.get("/portal_sessions/" + s1["id"]).json["status"], "created")

    def test_activate_after_expiry_is_409(self):
        sess = self.m.session(self.cus["id"])
        self.m.travel(3601)
        r = self.m.post("/portal_sessions/%s/activate" % sess["id"], {"token": sess["token"]})
        self.assertEqual(r.status, 409)
        self.assertIn("expired", r.json["error"]["message"])

    def test_session_for_unknown_customer_is_404(self):
        r = self.m.post("/portal_sessions", {"customer_id": "nobody",
                                             "redirect_url": "https://shop.example"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error"]["param"], "customer_id")

    def test_unknown_portal_session_is_404(self):
        r = self.m.get("/portal_sessions/ps_doesnotexist")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error"]["code"], "resource_missing")

    def test_old_access_links_redirect_to_the_site_url(self):
        sess = self.m.session(self.cus["id"])
        r = Browser(self.s).get("/portal/access/" + sess["token"])
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("location"), "/portal/%s/access/%s" % (self.m.site_id,
                                                                        sess["token"]))
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "created")
        self.assertEqual(Browser(self.s).get(r.header("location")).status, 303)

    def test_head_does_not_use_up_the_link(self):
        sess = self.m.session(self.cus["id"])
        path = "/portal/%s/access/%s" % (self.m.site_id, sess["token"])
        r = self.s.request("HEAD", path)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("set-cookie"))
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "created")
        self.assertEqual(Browser(self.s).get(path).status, 303)

    def test_link_of_another_site_is_not_valid_here(self):
        sess = self.m.session(self.cus["id"])
        other = self.s.new_site("sso")
        r = Browser(self.s).get("/portal/%s/access/%s" % (other.site_id, sess["token"]))
        self.assertEqual(r.status, 404)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).json["status"], "created")

    def test_redirect_url_must_be_http_url(self):
        for url in ("javascript:alert(1)", "ftp://x.example", "", "https://"):
            r = self.m.post("/portal_sessions", {"customer_id": self.cus["id"],
                                                 "redirect_url": url})
            self.assertEqual(r.status, 400, url)
            self.assertEqual(r.json["error"]["param"], "redirect_url")

    def test_deleting_customer_ends_its_sessions(self):
        sess, b, _ = self.login()
        self.assertEqual(self.m.call("DELETE", "/customers/" + self.cus["id"]).status, 200)
        self.assertEqual(b.get(self.home).status, 401)
        self.assertEqual(self.m.get("/portal_sessions/" + sess["id"]).status, 404)


if __name__ == "__main__":
    unittest.main()
