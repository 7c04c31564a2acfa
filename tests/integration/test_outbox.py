"""test_outbox.py: the mail pipeline against the stack's real SMTP server (tools/smtpd.py):
each message type produced by its event or schedule (subject, recipient, Message-ID, RFC 2047,
both parts, links whose token matches the stored hash), the per-site switches and settings, the
test send, a relay that refuses for a while (delivered later with the same Message-ID, none
lost, other sites' renewals on time meanwhile), a permanent refusal never retried, a runner
that dies mid-send and a crash between sending and recording (sent again, same Message-ID,
same bytes), and portalctl mail list/show/resend."""
import calendar
import email
import email.policy
import email.utils
import hashlib
import os
import re
import signal
import time
import unittest

from harness import stack

GOOD, DECLINE, AUTHENTICATE = "4242424242424242", "4000000000000002", "4000002760003184"
MSGID = re.compile(r"^<mo_[0-9a-f]{24}\.[a-z0-9-]+@portald\.test>$")
DAY = 86400


def parse(path):
    with open(path, "rb") as f:
        raw = f.read()
    # The capture server puts the envelope on top: Return-Path, Delivered-To..., X-Smtpd-Session.
    return email.message_from_bytes(raw, policy=email.policy.default), raw


def body_bytes(raw):
    """The message as portald sent it, without the three envelope lines the server adds."""
    lines = raw.split(b"\r\n")
    i = 0
    while lines[i].startswith((b"Return-Path:", b"Delivered-To:", b"X-Smtpd-Session:")):
        i += 1
    return b"\r\n".join(lines[i:])


def parts(msg):
    text = html = None
    for p in msg.walk():
        if p.get_content_type() == "text/plain":
            text = p.get_content()
        elif p.get_content_type() == "text/html":
            html = p.get_content()
    return text, html


class Base(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.s.mail_control("accept")
        self.m = self.s.new_site("mail")
        self.ok(self.m.post("/plans", {"id": "basic", "name": "Basic", "amount": 1000,
                                       "currency": "USD", "interval": "month"}))

    def tearDown(self):
        self.s.mail_control("accept")

    # ---- helpers ----
    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def addr(self, tag="c"):
        return "%s-%s@example.com" % (tag, os.urandom(5).hex())

    def customer(self, number=GOOD, exp=(12, 2099), **kw):
        kw.setdefault("email", self.addr())
        c = self.m.customer(**kw)
        if number:
            self.card(c["id"], number, exp)
        return c

    def card(self, cus, number=GOOD, exp=(12, 2099)):
        tok = self.ok(self.m.post("/test_gateway/tokens", {"number": number,
                                                           "exp_month": exp[0],
                                                           "exp_year": exp[1]}))
        return self.ok(self.m.post("/customers/%s/payment_methods" % cus, {"token": tok["id"]}))

    def sub(self, cus, plan="basic"):
        return self.ok(self.m.post("/subscriptions", {"customer_id": cus, "plan_id": plan}))

    def now(self):
        return self.ok(self.m.get("/time_machine"))["now"]

    def travel(self, seconds):
        self.ok(self.m.post("/time_machine/travel_forward", {"seconds": seconds}))

    def mail_to(self, address, count=1, timeout=30, subject=None):
        """Waits for count messages to address (optionally with a subject containing
        subject); returns [(message, raw bytes)], oldest first."""
        deadline = time.time() + timeout
        found = []
        while time.time() < deadline:
            found = []
            for path in self.s.mail_files():
                msg, raw = parse(path)
                rcpts = msg.get_all("Delivered-To") or []
                if address in rcpts and (subject is None or subject in str(msg["Subject"])):
                    found.append((msg, raw))
            if len(found) >= count:
                return found
            time.sleep(0.2)
        self.fail("expected %d message(s) to %s%s, have %d\n%s" % (
            count, address, " about " + subject if subject else "", len(found),
            self.s.tail_logs(15)))

    def no_mail_to(self, address, wait=3):
        time.sleep(wait)
        for path in self.s.mail_files():
            msg, _ = parse(path)
            self.assertNotIn(address, msg.get_all("Delivered-To") or [], msg["Subject"])

    def outbox(self, site=None, status=None):
        args = ["mail", "list", site or self.m.site_id, "--limit", "100"]
        if status:
            args += ["--status", status]
        return self.s.portalctl(*args)["data"]

    def wait_outbox(self, pred, timeout=30, site=None):
        deadline = time.time() + timeout
        rows = []
        while time.time() < deadline:
            rows = self.outbox(site)
            if pred(rows):
                return rows
            time.sleep(0.2)
        self.fail("outbox never matched: %r\n%s" % (rows, self.s.tail_logs(15)))

    def link_from(self, text):
        m = re.search(r"(http://127\.0\.0\.1:\d+/portal/%s/link/(\S+))" % re.escape(
            self.m.site_id), text)
        self.assertTrue(m, text)
        return m.group(1), m.group(2)

    def assertLinkStored(self, token, path, ttl):
        """The token in the mail is the one the sign-in side will find: its SHA-256 is
        stored under the link's id, for the customer, with its path and lifetime."""
        site, lid, secret = token.split(".")
        self.assertEqual(site, self.m.site_id)
        self.assertRegex(lid, r"^lnk_[0-9a-f]{24}$")
        self.assertRegex(secret, r"^[A-Za-z0-9_-]{43}$")
        rows = self.s.psql("SELECT token_hash, path, expires_at - created_at FROM mail_links "
                           "WHERE site_id = '%s' AND id = '%s'" % (site, lid))
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], hashlib.sha256(token.encode()).hexdigest())
        self.assertEqual(rows[0][1], "/portal/%s/%s" % (self.m.site_id, path))
        self.assertEqual(int(rows[0][2]), ttl)

    def assertWellFormed(self, msg, raw, to_addr, outbox_row=None):
        """Headers and structure every message has."""
        self.assertRegex(msg["Message-ID"], MSGID)
        self.assertIn(to_addr, msg["To"].addresses[0].addr_spec)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "billing@portald.test")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]))
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        text, html = parts(msg)
        self.assertTrue(text and html, "both parts")
        self.assertIn("<html", html)
        if outbox_row is not None:
            self.assertEqual(msg["Message-ID"], outbox_row["message_id"])
        return text, html


class Messages(Base):
    def test_payment_failed_has_a_72_hour_card_update_link(self):
        c = self.customer(DECLINE, name="Zoë Ñandú")
        self.sub(c["id"])
        [(msg, raw)] = self.mail_to(c["email"])
        self.assertEqual(msg["X-Portald-Type"], "payment_failed")
        inv = self.ok(self.m.get("/invoices?customer_id=" + c["id"]))["data"][0]
        self.assertEqual(str(msg["Subject"]), "Payment failed for invoice %d from Site %s" % (
            inv["number"], self.m.site_id))
        # RFC 2047 for the non-ASCII name, decoded back to the same text.
        self.assertIn(b"=?UTF-8?", raw.split(b"\r\n\r\n")[0])
        self.assertEqual(msg["To"].addresses[0].display_name, "Zoë Ñandú")
        row = [r for r in self.outbox() if r["type"] == "payment_failed"][0]
        self.assertEqual(row["customer_id"], c["id"])
        self.assertIsNotNone(row["event_id"])
        text, html = self.assertWellFormed(msg, raw, c["email"], row)
        self.assertIn("Hello Zoë Ñandú,", text)
        self.assertIn("$10.00", text)
        self.assertIn("Visa ending 0002", text)
        self.assertIn("the card was declined", text)
        url, token = self.link_from(text)
        self.assertIn('href="%s"' % url, html)
        self.assertLinkStored(token, "payment_methods", 72 * 3600)
        self.assertIn("http://127.0.0.1:%d/portal/%s" % (self.s.http_port, self.m.site_id),
                      text)

    def test_a_customer_without_an_address_gets_no_message_and_no_sign_in_link(self):
        # The card-update link of a failed payment is made only for a message that goes
        # somewhere: a customer without an email address gets neither (before, a live
        # 72-hour link was stored for nobody).
        c = self.m.customer(name="No Address")
        self.assertIsNone(c.get("email"))
        self.card(c["id"], DECLINE)
        self.sub(c["id"])
        failed = self.ok(self.m.get("/events?limit=100&type=invoice.payment_failed"))["data"]
        self.assertEqual([e["data"]["customer_id"] for e in failed], [c["id"]])
        self.assertEqual(self.s.psql(
            "SELECT count(*) FROM mail_links WHERE site_id = '%s' AND customer_id = '%s'" % (
                self.m.site_id, c["id"])), [["0"]])
        self.assertEqual([r for r in self.outbox() if r["customer_id"] == c["id"]], [])
        # The same customer with an address gets the message and its link.
        self.ok(self.m.post("/customers/%s" % c["id"], {"email": self.addr()}))
        self.ok(self.m.post("/invoices/%s/pay" % failed[0]["data"]["id"], {}))
        self.wait_outbox(lambda rows: [r["type"] for r in rows
                                       if r["customer_id"] == c["id"]] == ["payment_failed"])
        self.assertEqual(self.s.psql(
            "SELECT count(*) FROM mail_links WHERE site_id = '%s' AND customer_id = '%s'" % (
                self.m.site_id, c["id"])), [["1"]])

    def test_action_required_when_the_charge_needs_authentication(self):
        c = self.customer(AUTHENTICATE)
        self.sub(c["id"])
        [(msg, raw)] = self.mail_to(c["email"])
        self.assertEqual(msg["X-Portald-Type"], "action_required")
        self.assertIn("Action required", str(msg["Subject"]))
        text, html = self.assertWellFormed(msg, raw, c["email"])
        inv = self.ok(self.m.get("/invoices?customer_id=" + c["id"]))["data"][0]
        self.assertEqual(inv["payment_attempts"][-1]["outcome"], "authentication_required")
        self.assertIn("$10.00", text)
        _, token = self.link_from(text)
        self.assertLinkStored(token, "invoices/%s/complete" % inv["id"], 72 * 3600)
        # Not also a payment-failed mail for the same attempt.
        self.assertEqual([r["type"] for r in self.outbox()], ["action_required"])
        # The dunning retry needs the bank again: nothing new (once per invoice).
        self.travel(inv["next_attempt_at"] - self.now() + 60)
        # The retry's attempt is recorded pending before the gateway is asked, and its
        # outcome in a later transaction: wait for the outcome, not the row.
        def retried(rows):
            attempts = self.ok(self.m.get("/invoices/" + inv["id"]))["payment_attempts"]
            return len(attempts) >= 2 and attempts[-1]["outcome"] != "pending"
        self.wait_outbox(retried, 60)
        self.assertEqual(self.ok(self.m.get("/invoices/" + inv["id"]))["payment_attempts"][-1][
            "outcome"], "authentication_required")
        failed = self.ok(self.m.get("/events?limit=100&type=invoice.payment_failed"))["data"]
        self.assertEqual(len([e for e in failed if e["object_id"] == inv["id"]]), 2)
        # (the mail would be queued in the transaction that recorded the attempt)
        self.assertEqual([r["type"] for r in self.outbox()], ["action_required"])

    def test_receipt_for_a_charge_copied_to_receipts_cc(self):
        cc = self.addr("books")
        self.ok(self.m.post("/mail_settings", {"receipts_cc": cc}))
        c = self.customer(name="Jane Roe")
        self.sub(c["id"])
        [(msg, raw)] = self.mail_to(c["email"])
        self.assertEqual(msg["X-Portald-Type"], "payment_receipt")
        self.assertIn(cc, msg.get_all("Delivered-To"))
        self.assertEqual(msg["Cc"].addresses[0].addr_spec, cc)
        inv = self.ok(self.m.get("/invoices?customer_id=" + c["id"]))["data"][0]
        self.assertEqual(str(msg["Subject"]), "Receipt for your payment to Site %s (invoice %d)"
                         % (self.m.site_id, inv["number"]))
        text, html = self.assertWellFormed(msg, raw, c["email"])
        self.assertIn("$10.00", text)
        self.assertIn("Visa ending 4242", text)
        self.assertIn("Basic", text)          # the invoice line

    def test_non_ascii_site_name_in_the_subject_is_encoded_and_decodes_back(self):
        from harness import Client
        site_id = "caf-%s" % os.urandom(4).hex()
        out = self.s.portalctl("site", "create", site_id, "--test", "--name", "Zoë’s Café")
        self.m = Client(self.s, site_id, out["api_key"])
        self.ok(self.m.post("/plans", {"id": "basic", "name": "Basic", "amount": 1000,
                                       "currency": "EUR", "interval": "month"}))
        c = self.customer(name="Jürgen \"JJ\" Müller")
        self.sub(c["id"])
        [(msg, raw)] = self.mail_to(c["email"])
        head = raw.split(b"\r\n\r\n")[0].decode("ascii")   # headers are ASCII only
        self.assertRegex(head, r"(?m)^Subject: =\?UTF-8\?[QB]\?")
        self.assertEqual(str(msg["Subject"]), "Receipt for your payment to Zoë’s Café "
                         "(invoice 1)")
        # No sender name of its own: [mail] from_name (the stack's is "Portald").
        self.assertEqual(msg["From"].addresses[0].display_name, "Portald")
        self.assertEqual(msg["To"].addresses[0].display_name, 'Jürgen "JJ" Müller')
        text, html = self.assertWellFormed(msg, raw, c["email"])
        self.assertIn("€10.00", text)
        self.assertIn("Zoë’s Café", text)
        self.assertIn("Zoë’s Café", html)

    def test_no_receipt_for_an_invoice_paid_by_credit_alone(self):
        c = self.customer(number=None)
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 5000, "currency": "USD", "description": "Goodwill"}))
        self.sub(c["id"])
        inv = self.ok(self.m.get("/invoices?customer_id=" + c["id"]))["data"][0]
        self.assertEqual(inv["status"], "paid")
        self.no_mail_to(c["email"])
        self.assertEqual(self.outbox(), [])

    def test_subscription_cancelled_with_reference_date_and_time(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.mail_to(c["email"])            # the receipt
        self.ok(self.m.post("/subscriptions/%s/cancel" % s["id"],
                            {"when": "now", "reason": "too_expensive"}))
        [(msg, raw)] = self.mail_to(c["email"], subject="cancelled")
        self.assertEqual(msg["X-Portald-Type"], "subscription_cancelled")
        text, _ = self.assertWellFormed(msg, raw, c["email"])
        self.assertIn("Reference: " + s["id"], text)
        self.assertRegex(text, r"Cancelled: \d{1,2} \w+ \d{4}, \d\d:\d\d UTC")
        self.assertIn("too expensive", text)
        self.assertIn("Basic", text)

    def test_trial_ending_a_few_days_before_once(self):
        self.ok(self.m.post("/plans", {"id": "trial", "name": "Trial Plan", "amount": 2500,
                                       "currency": "USD", "interval": "month",
                                       "trial_days": 14}))
        c = self.customer()
        s = self.sub(c["id"], "trial")
        self.travel(10 * DAY)                 # 4 days left: not yet (3 days before)
        self.no_mail_to(c["email"], wait=2)
        self.travel(2 * DAY)                  # 2 days left
        [(msg, raw)] = self.mail_to(c["email"])
        self.assertEqual(msg["X-Portald-Type"], "trial_ending")
        text, _ = self.assertWellFormed(msg, raw, c["email"])
        day = time.gmtime(s["trial_end"])
        self.assertIn("%d %s %d" % (day.tm_mday, time.strftime("%B", day), day.tm_year),
                      str(msg["Subject"]))
        self.assertIn("$25.00", text)
        self.assertIn("Visa ending 4242", text)
        self.travel(3600)
        time.sleep(2)
        self.assertEqual(len(self.mail_to(c["email"])), 1, "once per trial")

    def test_card_expiring_this_month_or_next_once_per_card_per_month(self):
        now = time.gmtime(self.now())
        nxt = (now.tm_mon % 12 + 1, now.tm_year + (1 if now.tm_mon == 12 else 0))
        c = self.customer(exp=nxt)
        self.sub(c["id"])
        self.mail_to(c["email"])            # the receipt
        self.travel(1)                        # the runner scans when the clock moves
        [(msg, raw)] = self.mail_to(c["email"], subject="expires soon")
        self.assertEqual(msg["X-Portald-Type"], "card_expiring")
        text, _ = self.assertWellFormed(msg, raw, c["email"])
        self.assertIn("Visa ending 4242", text)
        self.assertIn("%02d/%d" % nxt, text)
        _, token = self.link_from(text)
        self.assertLinkStored(token, "payment_methods", 7 * DAY)
        self.travel(1)
        time.sleep(2)
        self.assertEqual(len(self.mail_to(c["email"], subject="expires soon")), 1,
                         "once this month")
        # In the month of expiry it is said once more.
        start = self.now()
        self.travel(calendar.timegm((nxt[1], nxt[0], 1, 1, 0, 0)) - start)
        self.mail_to(c["email"], count=2, subject="expires soon")

    def test_renewal_reminder_before_a_yearly_renewal_once_per_term(self):
        self.ok(self.m.post("/plans", {"id": "annual", "name": "Annual", "amount": 12000,
                                       "currency": "USD", "interval": "year"}))
        c = self.customer()
        s = self.sub(c["id"], "annual")
        self.mail_to(c["email"])            # the receipt
        self.travel(s["next_billing_at"] - self.now() - 5 * DAY)
        [(msg, raw)] = self.mail_to(c["email"], subject="renews on")
        self.assertEqual(msg["X-Portald-Type"], "renewal_reminder")
        text, _ = self.assertWellFormed(msg, raw, c["email"])
        day = time.gmtime(s["next_billing_at"])
        self.assertIn("%d %s %d" % (day.tm_mday, time.strftime("%B", day), day.tm_year),
                      str(msg["Subject"]))
        self.assertIn("$120.00", text)
        self.travel(DAY)
        time.sleep(2)
        self.assertEqual(len(self.mail_to(c["email"], subject="renews on")), 1, "once per term")

    def test_monthly_renewals_get_no_reminder(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.mail_to(c["email"])
        self.travel(s["next_billing_at"] - self.now() - 2 * DAY)
        self.travel(1)
        time.sleep(3)
        self.assertEqual([r["type"] for r in self.outbox()], ["payment_receipt"])


class Settings(Base):
    def test_defaults_and_changes(self):
        s = self.ok(self.m.get("/mail_settings"))
        self.assertEqual(s["object"], "mail_settings")
        self.assertTrue(all(s["types"].values()))
        self.assertEqual(sorted(s["types"]), sorted([
            "payment_failed", "action_required", "payment_receipt", "trial_ending",
            "card_expiring", "subscription_cancelled", "renewal_reminder"]))
        self.assertEqual((s["trial_ending_days"], s["renewal_reminder_days"]), (3, 7))
        self.assertIsNone(s["reply_to"])
        s = self.ok(self.m.post("/mail_settings", {
            "types": {"payment_receipt": False}, "from_name": "Zoë’s Café",
            "reply_to": "help@shop.example", "trial_ending_days": 5}))
        self.assertFalse(s["types"]["payment_receipt"])
        self.assertTrue(s["types"]["payment_failed"])
        self.assertEqual(s["from_name"], "Zoë’s Café")
        self.assertEqual(s["trial_ending_days"], 5)
        self.assertEqual(self.ok(self.m.get("/mail_settings")), s)
        s = self.ok(self.m.post("/mail_settings", {"reply_to": None}))
        self.assertIsNone(s["reply_to"])
        self.assertEqual(s["from_name"], "Zoë’s Café")

    def test_invalid_settings_are_400(self):
        for body, param in [({"reply_to": "not an address"}, "reply_to"),
                            ({"types": {"invitation": False}}, "types.invitation"),
                            ({"trial_ending_days": 0}, "trial_ending_days"),
                            ({"from_name": "a\nb"}, "from_name")]:
            r = self.m.post("/mail_settings", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param)

    def test_switched_off_types_are_not_queued(self):
        self.ok(self.m.post("/mail_settings", {"types": {"payment_receipt": False,
                                                         "payment_failed": False}}))
        good, bad = self.customer(), self.customer(DECLINE)
        self.sub(good["id"])
        self.sub(bad["id"])
        self.no_mail_to(good["email"])
        self.no_mail_to(bad["email"], wait=0)
        self.assertEqual(self.outbox(), [])
        # Switched on again, the next receipt goes out: the pipeline was working.
        self.ok(self.m.post("/mail_settings", {"types": {"payment_receipt": True}}))
        other = self.customer()
        self.sub(other["id"])
        self.mail_to(other["email"])

    def test_sender_name_and_reply_to_per_site(self):
        self.ok(self.m.post("/mail_settings", {"from_name": "Zoë’s Café — Billing",
                                               "reply_to": "help@shop.example"}))
        c = self.customer()
        self.sub(c["id"])
        [(msg, raw)] = self.mail_to(c["email"])
        self.assertEqual(msg["From"].addresses[0].display_name, "Zoë’s Café — Billing")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "help@shop.example")
        self.assertIn("help@shop.example", parts(msg)[0])     # the footer's support address

    def test_test_send_whatever_the_switches(self):
        self.ok(self.m.post("/mail_settings", {"types": {"payment_receipt": False}}))
        to = self.addr("merchant")
        r = self.ok(self.m.post("/mail_settings/test", {"to": to}))
        self.assertEqual(r["object"], "mail_message")
        self.assertTrue(r["test"])
        self.assertEqual(r["to"], to)
        self.assertRegex(r["message_id"], MSGID)
        [(msg, raw)] = self.mail_to(to)
        self.assertTrue(str(msg["Subject"]).startswith("[Test] Receipt for your payment"))
        self.assertWellFormed(msg, raw, to, r)
        r = self.ok(self.m.post("/mail_settings/test", {"to": to, "type": "trial_ending"}))
        self.mail_to(to, count=2)
        bad = self.m.post("/mail_settings/test", {"to": to, "type": "nonsense"})
        self.assertEqual(bad.status, 400)
        self.assertEqual(self.m.post("/mail_settings/test", {}).status, 400)

    def test_portalctl_settings(self):
        out = self.s.portalctl("mail", "settings", self.m.site_id, "--off",
                               "renewal_reminder,card_expiring", "--receipts-cc",
                               "books@shop.example", "--renewal-reminder-days", "10")
        self.assertFalse(out["types"]["renewal_reminder"])
        self.assertFalse(out["types"]["card_expiring"])
        self.assertEqual(out["receipts_cc"], "books@shop.example")
        self.assertEqual(out["renewal_reminder_days"], 10)
        self.assertEqual(self.ok(self.m.get("/mail_settings")), out)
        out = self.s.portalctl("mail", "settings", self.m.site_id, "--on", "card_expiring",
                               "--receipts-cc", "")
        self.assertTrue(out["types"]["card_expiring"])
        self.assertIsNone(out["receipts_cc"])
        with self.assertRaises(RuntimeError):
            self.s.portalctl("mail", "settings", self.m.site_id, "--off", "login_link")

    def test_rules_table(self):
        rules = self.s.portalctl("mail", "rules")
        pairs = {(r["source"], r["message"]) for r in rules}
        self.assertIn(("invoice.payment_failed", "payment_failed"), pairs)
        self.assertIn(("invoice.payment_failed", "action_required"), pairs)
        self.assertIn(("invoice.paid", "payment_receipt"), pairs)
        self.assertIn(("subscription.cancelled", "subscription_cancelled"), pairs)
        self.assertIn(("schedule", "trial_ending"), pairs)
        self.assertIn(("schedule", "card_expiring"), pairs)
        self.assertIn(("schedule", "renewal_reminder"), pairs)


class Portalctl(Base):
    def test_list_show_resend(self):
        a, b = self.customer(name="First"), self.customer(DECLINE, name="Second")
        self.sub(a["id"])
        self.sub(b["id"])
        self.mail_to(a["email"])
        self.mail_to(b["email"])
        rows = self.wait_outbox(lambda rows: len(rows) == 2 and
                                all(r["status"] == "sent" for r in rows))
        self.assertEqual([r["type"] for r in rows], ["payment_failed", "payment_receipt"],
                         "newest first")
        self.assertEqual(rows[0]["to"], b["email"])
        self.assertEqual(rows[0]["attempts"], 1)
        self.assertIsNotNone(rows[0]["sent_at"])
        self.assertEqual(self.outbox(status="failed"), [])
        page = self.s.portalctl("mail", "list", self.m.site_id, "--limit", "1")
        self.assertTrue(page["has_more"])
        rest = self.s.portalctl("mail", "list", self.m.site_id, "--starting-after",
                                page["data"][0]["id"])
        self.assertEqual([r["id"] for r in rest["data"]], [rows[1]["id"]])

        shown = self.s.portalctl("mail", "show", self.m.site_id, rows[1]["id"])
        self.assertIn("Message-ID: %s\n" % rows[1]["message_id"], shown["headers"])
        self.assertIn("Subject: Receipt for your payment", shown["headers"])
        self.assertIn("To: \"First\" <%s>" % a["email"], shown["headers"])
        self.assertIn("Thank you for your payment.", shown["message"]["text"])
        self.assertIn("<html", shown["message"]["html"])
        [(sent, raw)] = self.mail_to(a["email"])
        self.assertEqual(body_bytes(raw).split(b"\r\n\r\n")[0].decode().replace("\r\n", "\n")
                         + "\n", shown["headers"], "show prints the headers as sent")

        again = self.s.portalctl("mail", "resend", self.m.site_id, rows[1]["id"])
        self.assertNotEqual(again["id"], rows[1]["id"])
        self.assertNotEqual(again["message_id"], rows[1]["message_id"])
        self.assertRegex(again["message_id"], MSGID)
        self.assertEqual(again["resent_from"], rows[1]["id"])
        self.assertEqual(again["status"], "pending")
        copies = self.mail_to(a["email"], count=2)
        self.assertEqual(copies[1][0]["Message-ID"], again["message_id"])
        self.assertEqual(parts(copies[1][0]), parts(copies[0][0]))
        with self.assertRaises(RuntimeError):
            self.s.portalctl("mail", "show", self.m.site_id, "mo_nonexistent")

    def test_another_sites_message_is_not_found(self):
        c = self.customer()
        self.sub(c["id"])
        row = self.wait_outbox(lambda rows: len(rows) == 1)[0]
        other = self.s.new_site("other")
        with self.assertRaises(RuntimeError):
            self.s.portalctl("mail", "show", other.site_id, row["id"])
        self.assertEqual(self.outbox(site=other.site_id), [])

    def test_bodies_are_stored_sealed(self):
        c = self.customer(DECLINE)
        self.sub(c["id"])
        [(msg, _)] = self.mail_to(c["email"])
        _, token = self.link_from(parts(msg)[0])
        rows = self.s.psql("SELECT text_sealed, coalesce(html_sealed, '') FROM mail_outbox "
                           "WHERE site_id = '%s'" % self.m.site_id)
        self.assertEqual(len(rows), 1)
        for col in rows[0]:
            self.assertTrue(col.startswith("v1."), col[:20])
            self.assertNotIn(token.split(".")[2], col)


class Delivery(Base):
    def outbox_row(self, mid, site=None):
        rows = [r for r in self.outbox(site) if r["id"] == mid]
        self.assertEqual(len(rows), 1)
        return rows[0]

    def wait_row(self, mid, pred, timeout, site=None):
        deadline = time.time() + timeout
        row = None
        while time.time() < deadline:
            row = self.outbox_row(mid, site)
            if pred(row):
                return row
            time.sleep(0.3)
        self.fail("message %s never matched: %r\n%s" % (mid, row, self.s.tail_logs(20)))

    def test_relay_down_for_a_while_delays_mail_only(self):
        other = self.s.new_site("renew")
        self.ok(other.post("/plans", {"id": "m", "name": "M", "amount": 500,
                                      "currency": "USD", "interval": "month"}))
        oc = other.customer(email=self.addr("other"))
        tok = self.ok(other.post("/test_gateway/tokens", {"number": GOOD, "exp_month": 12,
                                                          "exp_year": 2099}))
        self.ok(other.post("/customers/%s/payment_methods" % oc["id"], {"token": tok["id"]}))
        osub = self.ok(other.post("/subscriptions", {"customer_id": oc["id"], "plan_id": "m"}))

        self.s.mail_control("fail 451")
        customers = [self.customer() for _ in range(3)]
        for c in customers:
            self.sub(c["id"])
        to = self.addr("merchant")
        self.ok(self.m.post("/mail_settings/test", {"to": to}))
        rows = self.wait_outbox(lambda rows: len(rows) == 4 and all(
            r["attempts"] >= 1 and r["last_smtp_code"] == 451 for r in rows), timeout=30)
        for r in rows:
            self.assertEqual(r["status"], "pending")
            self.assertIn("451", r["last_error"])
            self.assertGreaterEqual(r["next_attempt_at"], r["queued_at"] + 55)

        # Meanwhile another site's renewal happens when it falls due.
        self.ok(other.post("/time_machine/travel_forward",
                           {"destination_time": osub["next_billing_at"] + 1}))
        t0 = time.time()
        while time.time() - t0 < 20:
            if self.ok(other.get("/time_machine"))["pending_jobs"] == 0:
                break
            time.sleep(0.1)
        self.assertLess(time.time() - t0, 20, "the renewal waited for the mail relay")
        invs = self.ok(other.get("/invoices?customer_id=" + oc["id"]))["data"]
        self.assertEqual(len(invs), 2)
        self.assertEqual(invs[0]["status"], "paid")

        self.s.mail_control("accept")
        for c in customers:
            [(msg, _)] = self.mail_to(c["email"], timeout=200)
            row = [r for r in rows if r["to"] == c["email"]][0]
            self.assertEqual(msg["Message-ID"], row["message_id"], "the same Message-ID")
        [(msg, _)] = self.mail_to(to, timeout=60)
        self.assertEqual(msg["Message-ID"], [r for r in rows if r["to"] == to][0]["message_id"])
        final = self.wait_outbox(lambda rows: all(r["status"] == "sent" for r in rows))
        self.assertEqual(len(final), 4, "none lost")
        for r in final:
            self.assertGreaterEqual(r["attempts"], 2)
            self.assertIsNone(r["last_error"])

    def test_permanent_refusal_is_not_retried(self):
        self.s.mail_control("fail 550")
        to = self.addr("bounce")
        mid = self.ok(self.m.post("/mail_settings/test", {"to": to}))["id"]
        row = self.wait_row(mid, lambda r: r["status"] != "pending", 30)
        self.assertEqual(row["status"], "failed")
        self.assertEqual(row["attempts"], 1)
        self.assertEqual(row["last_smtp_code"], 550)
        self.assertIsNone(row["next_attempt_at"])
        self.s.mail_control("accept")
        # Later mail goes out; the refused one stays failed, tried once.
        other = self.addr("later")
        self.ok(self.m.post("/mail_settings/test", {"to": other}))
        self.mail_to(other)
        self.no_mail_to(to, wait=1)
        self.assertEqual(self.outbox_row(mid)["attempts"], 1)

    def sender_pid(self, timeout=10):
        """The process holding a connection to the stack's SMTP server: the one sending
        (whatever the job runner's process layout)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            inodes = set()
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        fields = line.split()
                        if int(fields[2].rsplit(":", 1)[1], 16) == self.s.smtp_port:
                            inodes.add(fields[9])
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                try:
                    for fd in os.listdir("/proc/%s/fd" % pid):
                        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                        if link.startswith("socket:[") and link[8:-1] in inodes:
                            return int(pid)
                except OSError:
                    continue
            time.sleep(0.1)
        self.fail("no process is talking to the SMTP server")

    def wait_leased(self, mid, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.s.psql("SELECT lease_until IS NOT NULL FROM mail_outbox WHERE "
                               "site_id = '%s' AND id = '%s'" % (self.m.site_id, mid))
            if rows and rows[0][0] == "t":
                return
            time.sleep(0.1)
        self.fail("the message was never claimed")

    def test_runner_killed_mid_send_sends_it_later_with_the_same_message_id(self):
        self.s.mail_control("hang")
        to = self.addr("crash")
        r = self.ok(self.m.post("/mail_settings/test", {"to": to}))
        self.wait_leased(r["id"])
        victim = self.sender_pid()            # inside the SMTP transaction, hanging
        with open("/proc/%d/cmdline" % victim, "rb") as f:
            self.assertIn(b"portald", f.read())
        os.kill(victim, signal.SIGKILL)
        self.s.mail_control("accept")
        [(msg, _)] = self.mail_to(to, timeout=120)
        self.assertEqual(msg["Message-ID"], r["message_id"])
        row = self.wait_row(r["id"], lambda x: x["status"] == "sent", 30)
        self.assertEqual(row["attempts"], 1, "the killed attempt recorded nothing")
        self.assertFalse(os.path.exists("/proc/%d/stat" % victim) and
                         open("/proc/%d/stat" % victim).read().split()[2] != "Z")

    def test_crash_between_send_and_record_sends_the_same_bytes_again(self):
        self.s.mail_control("hang")
        to = self.addr("twice")
        r = self.ok(self.m.post("/mail_settings/test", {"to": to}))
        self.wait_leased(r["id"])
        self.sender_pid()                     # inside the SMTP transaction, hanging
        # The database goes away while the relay holds the message: the relay takes it,
        # the outcome cannot be recorded.
        self.s.pg_stop()
        try:
            self.s.mail_control("accept")
            self.mail_to(to, timeout=30)
            time.sleep(1)
        finally:
            self.s.pg_start()
        copies = self.mail_to(to, count=2, timeout=150)
        self.assertEqual(len(copies), 2)
        self.assertEqual(copies[0][0]["Message-ID"], r["message_id"])
        self.assertEqual(copies[1][0]["Message-ID"], r["message_id"])
        self.assertEqual(body_bytes(copies[0][1]), body_bytes(copies[1][1]), "the same bytes")
        row = self.wait_row(r["id"], lambda x: x["status"] == "sent", 30)
        self.assertEqual(row["attempts"], 1)


if __name__ == "__main__":
    unittest.main()
