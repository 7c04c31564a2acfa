"""test_portal_review_again.py: reactivating and resuming bill exactly what their review
page showed: the confirm carries the amount (expect_due) and, when the amount due changed in
between, nothing is done and the review is shown again (409) with the new amount, as a plan
change does. Also: the portal's "latest event of a type about an object" lookup is an index
probe, not a scan of the type's history (migration 013)."""
import html as htmllib
import html.parser
import re
import unittest

from harness import Browser, stack


class Forms(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def form(page, action_tail):
    for f in Forms(page.text).forms:
        if f["action"] and f["action"].endswith(action_tail):
            return dict(f["fields"])
    raise AssertionError("no form posting to ...%s" % action_tail)


def text_of(page):
    t = re.sub(r"(?s)<head>.*?</head>", "", page.text)
    t = re.sub(r"</?(strong|span|a|em|b)\b[^>]*>", "", t)
    t = re.sub(r"<[^>]+>", " ", t)
    return re.sub(r"\s+", " ", htmllib.unescape(t)).strip()


def cents(money):
    return int(money.strip("$").replace(",", "").replace(".", ""))


class ReviewAgain(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("ra")
        self.ok(self.m.post("/plans", {"id": "pro", "name": "Pro", "amount": 3000,
                                       "currency": "USD", "interval": "month"}))
        self.ok(self.m.post("/portal_configuration", {"features": {
            "pause_subscription": True, "pause_max_days": 60,
            "reactivate_subscription": True}}))
        self.home = "/portal/" + self.m.site_id
        self.cus = self.m.customer(name="Ada Lovelace", email="ada@example.com")
        tok = self.ok(self.m.post("/test_gateway/tokens", {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2035}))
        self.ok(self.m.post("/customers/%s/payment_methods" % self.cus["id"],
                            {"token": tok["id"]}))
        self.sub = self.ok(self.m.post("/subscriptions", {"customer_id": self.cus["id"],
                                                          "plan_id": "pro"}))
        sess = self.m.session(self.cus["id"])
        self.b = Browser(self.s)
        self.assertEqual(self.b.get(sess["access_url"]).status, 303)

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def get(self, tail, status=200):
        r = self.b.get(self.home + tail)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def post(self, tail, fields, status=303):
        r = self.b.post_form(self.home + tail, fields)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def status(self):
        return self.ok(self.m.get("/subscriptions/" + self.sub["id"]))["status"]

    def invoices(self):
        return self.ok(self.m.get("/invoices?limit=100&customer_id=%s" %
                                  self.cus["id"]))["data"]

    def grant(self, amount):
        self.ok(self.m.post("/customers/%s/credit_entries" % self.cus["id"],
                            {"amount": amount, "currency": "USD"}))

    def check_review_again(self, op, review_tail, before_status, want_due, change, then_due):
        """The review shows want_due; change() meanwhile makes it then_due: the old confirm
        is a 409 review with the new amount and changes nothing; the new one bills
        then_due."""
        tail = "/subscriptions/%s/%s" % (self.sub["id"], op)
        review = self.get(review_tail)
        self.assertIn("Due today %s" % want_due, text_of(review))
        old = form(review, "/" + op)
        self.assertIn("expect_due", old)
        change()
        n = len(self.invoices())
        again = self.post(tail, old, status=409)
        text = text_of(again)
        self.assertIn("The amount changed since you reviewed it", text)
        self.assertIn("Due today %s" % then_due, text)
        self.assertEqual(self.status(), before_status)
        self.assertEqual(len(self.invoices()), n)
        # A broken amount is refused as a form that cannot be read.
        self.post(tail, dict(old, expect_due="12abc", form_nonce="Z" * 22), status=400)
        self.assertEqual(self.status(), before_status)
        # The fresh review's form bills what it shows.
        self.post(tail, form(again, "/" + op))
        self.assertEqual(self.status(), "active")
        newest = self.invoices()[0]
        self.assertEqual(len(self.invoices()), n + 1)
        self.assertEqual(newest["amount_due"], cents(then_due))

    def test_reactivate_confirm_bills_what_the_review_showed_or_reviews_again(self):
        self.ok(self.m.post("/subscriptions/%s/cancel" % self.sub["id"],
                            {"when": "now", "credit": "none"}))
        term_end = self.ok(self.m.get("/subscriptions/" + self.sub["id"]))["current_term_end"]
        self.ok(self.m.post("/time_machine/travel_forward", {"destination_time": term_end + 5}))
        sess = self.m.session(self.cus["id"])      # the first one may have idled out
        self.assertEqual(self.b.get(sess["access_url"]).status, 303)
        self.check_review_again("reactivate", "/subscriptions/%s/reactivate" % self.sub["id"],
                                "cancelled", "$30.00", lambda: self.grant(1200), "$18.00")

    def test_resume_confirm_bills_what_the_review_showed_or_reviews_again(self):
        self.ok(self.m.post("/subscriptions/%s/pause" % self.sub["id"], {}))
        self.assertEqual(self.status(), "paused")
        # The pause credited the unused month: resuming bills nothing now...
        self.assertIn("Due today $0.00", text_of(self.get("/subscriptions/%s/resume" %
                                                          self.sub["id"])))

        def spend_credit():
            # ... until a one-off invoice takes $10.00 of that credit.
            inv = self.ok(self.m.post("/invoices", {"customer_id": self.cus["id"],
                                                    "currency": "USD", "lines": [
                                                        {"description": "Setup",
                                                         "amount": 1000}]}))
            self.assertEqual(inv["credit_applied"], 1000)
        self.check_review_again("resume", "/subscriptions/%s/resume" % self.sub["id"],
                                "paused", "$0.00", spend_credit, "$10.00")


class TaxedReview(unittest.TestCase):
    """A plan change's review shows the tax its invoice carries, so its sums add up."""

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_the_reactivation_review_shows_the_tax_lines_and_the_total(self):
        s = stack()
        m = s.new_site("rt")
        self.ok(m.post("/plans", {"id": "pro", "name": "Pro", "amount": 3000,
                                  "currency": "EUR", "interval": "month"}))
        self.ok(m.post("/tax_rates", {"display_name": "VAT", "percentage": "19",
                                      "country": "DE", "inclusive": False}))
        cus = m.customer(name="Jürgen Groß", email="j@example.com",
                         billing_address={"country": "DE", "city": "Berlin"})
        tok = self.ok(m.post("/test_gateway/tokens", {"number": "4242424242424242",
                                                       "exp_month": 12, "exp_year": 2035}))
        self.ok(m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]}))
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "pro"}))
        self.ok(m.post("/subscriptions/%s/cancel" % sub["id"], {"when": "now", "credit": "none"}))
        end = self.ok(m.get("/subscriptions/" + sub["id"]))["current_term_end"]
        self.ok(m.post("/time_machine/travel_forward", {"destination_time": end + 5}))
        b = Browser(s)
        self.assertEqual(b.get(m.session(cus["id"])["access_url"]).status, 303)
        r = b.get("/portal/%s/subscriptions/%s/reactivate" % (m.site_id, sub["id"]))
        self.assertEqual(r.status, 200, text_of(r)[:800])
        text = text_of(r)
        for want in ("New term €30.00", "VAT (19%) €5.70", "Total €35.70", "Due today €35.70"):
            self.assertIn(want, text)
        self.assertEqual(b.post_form("/portal/%s/subscriptions/%s/reactivate" % (
            m.site_id, sub["id"]), form(r, "/reactivate")).status, 303)
        inv = self.ok(m.get("/invoices?customer_id=%s" % cus["id"]))["data"][0]
        self.assertEqual((inv["subtotal"], inv["tax"], inv["total"]), (3000, 570, 3570))

    def test_the_change_review_shows_the_tax_lines_and_the_total(self):
        s = stack()
        m = s.new_site("rt")
        for pid, amount in (("basic", 1000), ("pro", 3000)):
            self.ok(m.post("/plans", {"id": pid, "name": pid.title(), "amount": amount,
                                      "currency": "EUR", "interval": "month"}))
        self.ok(m.post("/tax_rates", {"display_name": "VAT", "percentage": "19",
                                      "country": "DE", "inclusive": False}))
        self.ok(m.post("/portal_configuration", {"features": {
            "change_plan": True, "change_plan_plans": ["basic", "pro"],
            "change_plan_timing": "now"}}))
        cus = m.customer(name="Jürgen Groß", email="j@example.com",
                         billing_address={"country": "DE", "city": "Berlin"})
        tok = self.ok(m.post("/test_gateway/tokens", {"number": "4242424242424242",
                                                       "exp_month": 12, "exp_year": 2035}))
        self.ok(m.post("/customers/%s/payment_methods" % cus["id"], {"token": tok["id"]}))
        sub = self.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        b = Browser(s)
        self.assertEqual(b.get(m.session(cus["id"])["access_url"]).status, 303)
        home = "/portal/" + m.site_id
        r = b.get("%s/subscriptions/%s/change_plan/review?plan=pro" % (home, sub["id"]))
        self.assertEqual(r.status, 200, text_of(r)[:800])
        text = text_of(r)

        def amount(label):
            got = re.search(re.escape(label) + r" €([0-9,]+\.[0-9]{2})", text)
            self.assertIsNotNone(got, (label, text))
            return int(got.group(1).replace(",", "").replace(".", ""))
        subtotal, vat, total = amount("Subtotal"), amount("VAT (19%)"), amount("Total")
        self.assertEqual(vat, (subtotal * 19 + 50) // 100)
        self.assertEqual(total, subtotal + vat)
        due = amount("Due today")
        credit = re.search(r"Credit from your balance -€([0-9.]+)", text)
        self.assertEqual(due, total - (int(credit.group(1).replace(".", "")) if credit else 0))
        self.assertEqual(b.post_form("%s/subscriptions/%s/change_plan" % (home, sub["id"]),
                                     form(r, "/change_plan")).status, 303)
        inv = self.ok(m.get("/invoices?customer_id=%s" % cus["id"]))["data"][0]
        self.assertEqual((inv["total"], inv["tax"], inv["amount_due"]), (total, vat, due))


class EventLookup(unittest.TestCase):
    def test_latest_event_of_a_type_about_an_object_is_an_index_probe(self):
        s = stack()
        m = s.new_site("ev")
        # A site with a long history of one type: without the index, the lookup reads the
        # type's events newest first until one is about the object.
        s.psql("INSERT INTO events (site_id, id, type, object_id, data, created_at) "
               "SELECT '%s', 'evt_bulk_' || g, 'subscription.updated', 'sub_' || (g %% 500), "
               "'{}'::jsonb, 1700000000 + g FROM generate_series(1, 30000) g" % m.site_id)
        s.psql("ANALYZE events")
        plan = "\n".join(" ".join(r) for r in s.psql(
            "EXPLAIN SELECT id, created_at FROM events WHERE site_id = '%s' "
            "AND type = 'subscription.updated' AND object_id = 'sub_7' "
            "ORDER BY seq DESC LIMIT 1" % m.site_id))
        self.assertIn("events_object_type_seq", plan)
        self.assertNotIn("Seq Scan", plan)
        self.assertNotIn("Filter", plan)


if __name__ == "__main__":
    unittest.main()
