"""test_portal_config.py: the portal configuration API: defaults, partial updates with
validation, the contrast rule, the logo (bounds, PNG checks, serving with ETag), events,
session overrides and deep-link flows, the cancel reasons the subscription API checks, and
portalctl portal-config."""
import hashlib
import json
import os
import struct
import subprocess
import tempfile
import unittest
import zlib

from harness import Browser, stack


def png(w=64, h=32, text=b"", trailing=b"", crc_ok=True, color_type=6):
    """A real PNG of w x h transparent pixels (optionally with a tEXt chunk)."""
    bpp = {6: 4, 2: 3, 0: 1}[color_type]
    raw = b"".join(b"\0" + b"\0" * (w * bpp) for _ in range(h))

    def chunk(t, d, ok=True):
        crc = zlib.crc32(t + d) ^ (0 if ok else 1)
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", crc)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type,
                                                             0, 0, 0), crc_ok)
    if text:
        out += chunk(b"tEXt", text)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"") + trailing


def luminance(hexcolor):
    def ch(v):
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hexcolor[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def contrast(a, b):
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


class PortalConfiguration(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("pc")

    def update(self, body, status=200):
        r = self.m.post("/portal_configuration", body)
        self.assertEqual(r.status, status, r)
        return r.json

    def test_defaults(self):
        r = self.m.get("/portal_configuration")
        self.assertEqual(r.status, 200, r)
        c = r.json
        self.assertEqual(c["object"], "portal_configuration")
        self.assertEqual(c["id"], self.m.site_id)
        self.assertEqual(c["business_name"], "Site " + self.m.site_id)
        self.assertEqual(c["time_zone"], "UTC")
        self.assertIsNone(c["logo"])
        f = c["features"]
        self.assertEqual(f["session_idle_timeout"], 1800)
        self.assertEqual(f["session_absolute_timeout"], 43200)
        self.assertTrue(f["edit_billing_details"])
        self.assertFalse(f["email_editable"])
        self.assertEqual(f["cancel_mode"], "end_of_term")
        self.assertEqual([r["code"] for r in c["cancel_reasons"]][:2],
                         ["too_expensive", "missing_features"])
        self.assertTrue(all(r["label"] for r in c["cancel_reasons"]))
        self.assertEqual(c["portal_url"], "%s/portal/%s" % (self.s.base, self.m.site_id))

    def test_partial_update_changes_only_what_is_sent(self):
        self.update({"business_name": "Acme", "website_url": "https://acme.example",
                     "features": {"pause_subscription": True, "pause_max_days": 30}})
        c = self.update({"features": {"cancel_mode": "immediately"}})
        self.assertEqual(c["business_name"], "Acme")
        self.assertEqual(c["website_url"], "https://acme.example")
        self.assertTrue(c["features"]["pause_subscription"])
        self.assertEqual(c["features"]["pause_max_days"], 30)
        self.assertEqual(c["features"]["cancel_mode"], "immediately")
        c = self.update({"website_url": None, "business_name": None})
        self.assertIsNone(c["website_url"])
        self.assertEqual(c["business_name"], "Site " + self.m.site_id)
        self.assertEqual(self.m.get("/portal_configuration").json, c)

    def test_invalid_input_is_refused_naming_the_field(self):
        cases = [
            ({"colour": "#fff"}, "colour"),
            ({"brand_color": "blue"}, "brand_color"),
            ({"brand_color": "#12345"}, "brand_color"),
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"time_zone": "../../etc/passwd"}, "time_zone"),
            ({"website_url": "javascript:alert(1)"}, "website_url"),
            ({"terms_url": "ftp://x.example"}, "terms_url"),
            ({"business_name": "x" * 201}, "business_name"),
            ({"features": {"cancel_mode": "never"}}, "features.cancel_mode"),
            ({"features": {"cancel_reason": "maybe"}}, "features.cancel_reason"),
            ({"features": {"pause_max_days": 0}}, "features.pause_max_days"),
            ({"features": {"session_idle_timeout": 10}}, "features.session_idle_timeout"),
            ({"features": {"session_idle_timeout": 7200, "session_absolute_timeout": 3600}},
             "features.session_idle_timeout"),
            ({"features": {"bogus": True}}, "features.bogus"),
            ({"features": {"email_editable": "yes"}}, "features.email_editable"),
            ({"features": {"change_plan_plans": ["no_such_plan"]}},
             "features.change_plan_plans"),
            ({"cancel_reasons": [{"code": "Bad Code", "label": "x"}]}, "cancel_reasons[0].code"),
            ({"cancel_reasons": [{"code": "a", "label": "A"}, {"code": "a", "label": "B"}]},
             "cancel_reasons"),
            ({"cancel_reasons": [{"code": "a"}]}, "cancel_reasons[0].label"),
            ({"cancel_reasons": [], "features": {"cancel_reason": "required"}},
             "features.cancel_reason"),
        ]
        before = self.m.get("/portal_configuration").json
        for body, param in cases:
            r = self.m.post("/portal_configuration", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param, body)
        self.assertEqual(self.m.get("/portal_configuration").json, before, "nothing changed")

    def test_plans_and_reasons_are_saved(self):
        self.assertEqual(self.m.post("/plans", {"id": "pro", "name": "Pro", "amount": 3000,
                                                "currency": "USD", "interval": "month"}).status,
                         200)
        c = self.update({"features": {"change_plan": True, "change_plan_plans": ["pro"],
                                      "change_plan_timing": "end_of_term"},
                         "cancel_reasons": [{"code": "price", "label": "Too dear"}]})
        self.assertEqual(c["features"]["change_plan_plans"], ["pro"])
        self.assertEqual(c["features"]["change_plan_timing"], "end_of_term")
        self.assertEqual(c["cancel_reasons"], [{"code": "price", "label": "Too dear"}])

    def test_brand_colour_text_is_chosen_for_contrast(self):
        for color in ("#1f4fd1", "#ffd84d", "#2e8b57", "#777777", "#ffffff", "#000000",
                      "#FF5A5F"):
            c = self.update({"brand_color": color})
            p = c["brand_palette"]
            self.assertEqual(c["brand_color"], color.lower())
            self.assertGreaterEqual(contrast(p["background"], p["text"]), 4.5, color)
            self.assertIn(p["text"], ("#ffffff", "#14171a"), color)
            self.assertGreaterEqual(contrast(p["link"], "#f5f6f8"), 4.5, color)
            self.assertEqual(p["adjusted"], p["background"] != color.lower(), color)
        c = self.update({"brand_color": "#1f4fd1"})
        self.assertFalse(c["brand_palette"]["adjusted"], "a colour that reads stays as it is")
        c = self.update({"brand_color": "#2e8b57"})
        self.assertTrue(c["brand_palette"]["adjusted"], "a mid-tone is darkened or lightened")

    def test_every_change_is_an_event(self):
        self.update({"business_name": "Evented"})
        self.m.call("POST", "/portal_configuration/logo", raw=png(), headers={
            "Content-Type": "image/png"})
        events = self.m.get("/events?type=portal_configuration.updated").json["data"]
        self.assertEqual(len(events), 2)
        # Both within one second: the list's order among them is not the point here.
        self.assertTrue(all(e["data"]["business_name"] == "Evented" for e in events))
        self.assertEqual(sorted(e["data"]["logo"] is None for e in events), [False, True])
        self.assertTrue(all(e["object_id"] == self.m.site_id for e in events))

    def test_logo_upload_is_checked_stripped_and_served(self):
        body = png(text=b"Author\0someone")
        r = self.m.call("POST", "/portal_configuration/logo", raw=body,
                        headers={"Content-Type": "image/png"})
        self.assertEqual(r.status, 200, r)
        logo = r.json["logo"]
        self.assertEqual((logo["width"], logo["height"]), (64, 32))
        self.assertTrue(logo["url"].startswith("%s/portal/%s/logo/" % (self.s.base,
                                                                        self.m.site_id)))
        path = logo["url"][len(self.s.base):]
        got = self.s.request("GET", path)
        self.assertEqual(got.status, 200)
        self.assertEqual(got.header("content-type"), "image/png")
        self.assertNotIn(b"someone", got.body, "metadata chunks are dropped")
        self.assertEqual(hashlib.sha256(got.body).hexdigest(), logo["sha256"])
        self.assertIn("max-age", got.header("cache-control"))
        etag = got.header("etag")
        self.assertTrue(etag)
        again = self.s.request("GET", path, headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(self.s.request("GET", path.replace(".png", "0.png")).status, 404)
        # Removing it: the URL stops working and the configuration says so.
        r = self.m.call("DELETE", "/portal_configuration/logo")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.json["logo"])
        self.assertEqual(self.s.request("GET", path).status, 404)

    def test_logo_bounds_and_png_checks(self):
        def upload(data, ctype="image/png"):
            return self.m.call("POST", "/portal_configuration/logo", raw=data,
                               headers={"Content-Type": ctype})
        self.assertEqual(upload(png(), "application/json").status, 415)
        self.assertEqual(upload(png(), "image/pngx").status, 415)
        cases = [
            (b"GIF89a" + b"\0" * 100, 400, "not a PNG"),
            (png(crc_ok=False), 400, "checksum"),
            (png(w=2000, h=10), 400, "at most"),
            (png(trailing=b"junk"), 400, "after its end"),
            (png()[:-20], 400, "cut short"),
            (b"", 400, None),
        ]
        for data, status, words in cases:
            r = upload(data)
            self.assertEqual(r.status, status, (data[:20], r))
            if words:
                self.assertIn(words, r.json["error"]["message"])
                self.assertEqual(r.json["error"]["param"], "logo")
        # Over 256 KiB (incompressible data in a valid-looking file is still too big).
        big = png(w=1000, h=1000, color_type=2)
        big = big[:-12] + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
        self.assertGreater(len(os.urandom(300 * 1024) + big), 256 * 1024)
        r = upload(b"\x89PNG\r\n\x1a\n" + os.urandom(300 * 1024))
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json["error"]["code"], "logo_too_large")
        self.assertIsNone(self.m.get("/portal_configuration").json["logo"])

    def test_cancel_reasons_come_from_the_configuration(self):
        self.m.post("/plans", {"id": "p", "name": "P", "amount": 100, "currency": "USD",
                               "interval": "month", "trial_days": 7})
        cus = self.m.customer(email="c@example.com")
        sub = self.m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "p"}).json
        r = self.m.post("/subscriptions/%s/cancel" % sub["id"], {"reason": "price"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "reason")
        self.update({"cancel_reasons": [{"code": "price", "label": "Too dear"}]})
        r = self.m.post("/subscriptions/%s/cancel" % sub["id"], {"reason": "price"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["cancel_reason"], "price")

    def test_a_site_without_its_row_gets_the_defaults(self):
        # A site the previous release created during a rolling upgrade has no row in
        # portal_configurations: its configuration reads as the defaults, and is made.
        self.s.psql("DELETE FROM portal_configurations WHERE site_id = '%s'" % self.m.site_id)
        r = self.m.get("/portal_configuration")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["features"]["edit_billing_details"])
        self.assertEqual(self.s.psql("SELECT count(*) FROM portal_configurations "
                                     "WHERE site_id = '%s'" % self.m.site_id), [["1"]])
        self.update({"business_name": "Back again"})

    def test_idle_timeout_follows_the_configuration(self):
        self.update({"features": {"session_idle_timeout": 600}})
        cus = self.m.customer(email="t@example.com")
        sess = self.m.session(cus["id"])
        b = Browser(self.s)
        b.get(sess["access_url"])
        home = "/portal/" + self.m.site_id
        self.assertEqual(b.get(home).status, 200)
        self.m.travel(601)
        self.assertEqual(b.get(home).status, 401)

    def test_portalctl_get_set_and_logo(self):
        out = self.s.portalctl("portal-config", self.m.site_id, "get")
        self.assertEqual(out["object"], "portal_configuration")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"business_name": "From the shell", "brand_color": "#123456"}, f)
        with tempfile.NamedTemporaryFile("wb", suffix=".png", delete=False) as g:
            g.write(png())
        try:
            out = self.s.portalctl("portal-config", self.m.site_id, "set", f.name)
            self.assertEqual(out["business_name"], "From the shell")
            out = self.s.portalctl("portal-config", self.m.site_id, "logo", g.name)
            self.assertEqual(out["logo"]["width"], 64)
            with open(f.name, "w") as bad:
                json.dump({"brand_color": "nope"}, bad)
            r = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "--config",
                                os.path.join(self.s.state, "portald.conf"), "portal-config",
                                self.m.site_id, "set", f.name], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("brand_color", r.stderr)
        finally:
            os.unlink(f.name)
            os.unlink(g.name)
        self.assertEqual(self.m.get("/portal_configuration").json["business_name"],
                         "From the shell")


class CustomHost(unittest.TestCase):
    """A site's portal on its own host name (nginx passes Host)."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("ch")
        self.host = "billing.%s.test" % self.m.site_id

    def test_own_host_name_for_links_and_pages(self):
        r = self.m.post("/portal_configuration", {"custom_host": self.host})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["custom_host"], self.host)
        self.assertEqual(r.json["portal_url"], "http://%s/portal/%s" % (self.host, self.m.site_id))
        cus = self.m.customer(email="h@example.com")
        sess = self.m.session(cus["id"])
        self.assertTrue(sess["access_url"].startswith(
            "http://%s/portal/%s/access/" % (self.host, self.m.site_id)), sess["access_url"])
        path = sess["access_url"].split(self.host, 1)[1]
        r = self.s.request("GET", path, headers={"Host": self.host})
        self.assertEqual(r.status, 303)
        # /portal on the site's host means that site.
        r = self.s.request("GET", "/portal", headers={"Host": self.host})
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("location"), "/portal/" + self.m.site_id)
        # The host never shows another site's pages.
        other = self.s.new_site("ch")
        r = self.s.request("GET", "/portal/%s/signed_out" % other.site_id,
                           headers={"Host": self.host})
        self.assertEqual(r.status, 404)
        self.assertEqual(self.s.request("GET", "/portal/%s/signed_out" % other.site_id).status,
                         200)
        # A host belongs to one site.
        r = other.post("/portal_configuration", {"custom_host": self.host})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "custom_host_taken")
        r = self.m.post("/portal_configuration", {"custom_host": None})
        self.assertIsNone(r.json["custom_host"])
        self.assertEqual(other.post("/portal_configuration", {"custom_host": self.host}).status, 200)

    def test_bad_host_names_are_refused(self):
        for host in ("Billing.Example.com", "bad host", "-x.example", "x.example:", "x..y",
                     "https://x.example", "x.example/path"):
            r = self.m.post("/portal_configuration", {"custom_host": host})
            self.assertEqual(r.status, 400, host)
            self.assertEqual(r.json["error"]["param"], "custom_host")


class SessionOverridesAndFlows(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("pf")
        self.cus = self.m.customer(email="f@example.com")
        self.m.post("/plans", {"id": "p", "name": "P", "amount": 100, "currency": "USD",
                               "interval": "month", "trial_days": 7})
        self.sub = self.m.post("/subscriptions", {"customer_id": self.cus["id"],
                                                  "plan_id": "p"}).json

    def create(self, **extra):
        body = {"customer_id": self.cus["id"], "redirect_url": "https://shop.example"}
        body.update(extra)
        return self.m.post("/portal_sessions", body)

    def test_every_switch_can_be_overridden(self):
        features = {"edit_billing_details": False, "email_editable": True,
                    "payment_methods": False, "invoice_history": False,
                    "cancel_subscription": False, "cancel_mode": "immediately",
                    "cancel_reason": "required", "cancel_comment": False, "change_plan": True,
                    "change_plan_plans": ["p"], "change_plan_timing": "end_of_term",
                    "downgrades_at_end_of_term": False, "pause_subscription": True,
                    "pause_max_days": 10, "reactivate_subscription": False,
                    "session_idle_timeout": 300, "session_absolute_timeout": 3600}
        r = self.create(features=features)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["features"], features)

    def test_overrides_are_validated(self):
        for features, param in (({"cancel_mode": "later"}, "features.cancel_mode"),
                                ({"change_plan_plans": ["nope"]}, "features.change_plan_plans"),
                                ({"session_idle_timeout": 9000, "session_absolute_timeout": 3000},
                                 "features.session_idle_timeout"),
                                ({"unknown": True}, "features.unknown")):
            r = self.create(features=features)
            self.assertEqual(r.status, 400, (features, r))
            self.assertEqual(r.json["error"]["param"], param)

    def test_flow_is_stored_and_checked_against_the_customer(self):
        r = self.create(flow={"type": "cancel", "subscription_id": self.sub["id"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["flow"], {"type": "cancel", "subscription_id": self.sub["id"]})
        other = self.m.customer(email="o@example.com")
        theirs = self.m.post("/subscriptions", {"customer_id": other["id"], "plan_id": "p"}).json
        for flow, param in (({"type": "cancel", "subscription_id": theirs["id"]},
                             "flow.subscription_id"),
                            ({"type": "cancel"}, "flow.subscription_id"),
                            ({"type": "explode", "subscription_id": self.sub["id"]}, "flow.type"),
                            ({"type": "cancel", "subscription_id": "sub_nope"},
                             "flow.subscription_id")):
            r = self.create(flow=flow)
            self.assertEqual(r.status, 400, (flow, r))
            self.assertEqual(r.json["error"]["param"], param)
        r = self.create(flow={"type": "payment_method_update"})
        self.assertEqual(r.status, 200, r)
        r = self.create(flow={"type": "cancel", "subscription_id": self.sub["id"]},
                        forward_url="/portal")
        self.assertEqual(r.status, 400)

    def test_flow_opens_its_step(self):
        home = "/portal/" + self.m.site_id
        for flow, where in (({"type": "cancel", "subscription_id": self.sub["id"]},
                             "%s/subscriptions/%s/cancel" % (home, self.sub["id"])),
                            ({"type": "change_plan", "subscription_id": self.sub["id"]},
                             "%s/subscriptions/%s/change_plan" % (home, self.sub["id"])),
                            ({"type": "payment_method_update"}, home + "/payment_methods/new")):
            sess = self.create(flow=flow).json
            b = Browser(self.s)
            r = b.get(sess["access_url"])
            self.assertEqual(r.status, 303)
            self.assertEqual(r.header("location"), where)
            self.assertNotEqual(b.get(where).status, 404, where)


if __name__ == "__main__":
    unittest.main()
