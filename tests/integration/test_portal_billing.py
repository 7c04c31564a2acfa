"""test_portal_billing.py: the portal's self-service actions over HTTP against the real
stack: each review shows what the domain previews and each confirm does exactly that,
once; settings and session overrides are refused by the domain even when a form is
posted directly; every lookup is scoped to the session's customer; money moves in three
steps (recorded, committed, then the gateway) and the page shows the outcome; a card
number is never stored or logged."""
import calendar
import html as htmllib
import html.parser
import re
import threading
import unittest

from harness import Browser, stack


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, and the values a browser would send (hidden
    inputs, checked radios, text values)."""

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method", "get"),
                               "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def form(page, action_tail):
    """The fields of the page's form whose action ends with action_tail."""
    for f in Forms(page.text).forms:
        if f["action"] and f["action"].endswith(action_tail):
            return dict(f["fields"])
    raise AssertionError("no form posting to ...%s in:\n%s" % (action_tail, text_of(page)))


def text_of(page):
    t = re.sub(r"(?s)<head>.*?</head>", "", page.text)
    t = re.sub(r"</?(strong|span|a|em|b)\b[^>]*>", "", t)     # inline: no break
    t = re.sub(r"<[^>]+>", " ", t)
    return re.sub(r"\s+", " ", htmllib.unescape(t)).strip()


def money(minor):
    return "$%d.%02d" % (minor // 100, minor % 100)


class PortalBilling(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("pb")
        for p in ({"id": "basic", "name": "Basic", "amount": 1000},
                  {"id": "pro", "name": "Pro", "amount": 3000,
                   "features": [{"key": "projects", "name": "Projects", "value": 20},
                                {"key": "sso", "name": "Single sign-on"}]},
                  {"id": "team", "name": "Team", "amount": 9000},
                  {"id": "eur", "name": "Euro", "amount": 2000, "currency": "EUR"}):
            body = {"currency": "USD", "interval": "month"}
            body.update(p)
            self.ok(self.m.post("/plans", body))
        self.config({"change_plan": True, "change_plan_plans": ["basic", "pro", "team", "eur"],
                     "cancel_mode": "immediately", "pause_subscription": True,
                     "pause_max_days": 60})
        self.home = "/portal/" + self.m.site_id

    # ---- helpers ----
    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def config(self, features, **more):
        body = {"features": features}
        body.update(more)
        self.ok(self.m.post("/portal_configuration", body))

    def customer(self, card="4242424242424242", **fields):
        fields.setdefault("name", "Ada Lovelace")
        fields.setdefault("email", "ada@example.com")
        c = self.m.customer(**fields)
        if card:
            self.card(c["id"], card)
        return c

    def card(self, cus, number="4242424242424242", year=2035):
        tok = self.ok(self.m.post("/test_gateway/tokens", {"number": number, "exp_month": 12,
                                                            "exp_year": year}))
        return self.ok(self.m.post("/customers/%s/payment_methods" % cus, {"token": tok["id"]}))

    def subscribe(self, cus, plan="pro"):
        return self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": plan}))

    def login(self, cus, **extra):
        sess = self.m.session(cus["id"], **extra)
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        return b

    def get(self, b, tail, status=200):
        r = b.get(self.home + tail)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def post(self, b, tail, fields, status=303):
        r = b.post_form(self.home + tail, fields)
        self.assertEqual(r.status, status, text_of(r)[:600])
        return r

    def sql(self, q):
        return self.s.psql(q.replace("$SITE", "'%s'" % self.m.site_id))

    def count(self, table, where="true"):
        return int(self.sql("SELECT count(*) FROM %s WHERE site_id = $SITE AND %s" %
                            (table, where))[0][0])

    def sub(self, sid):
        return self.ok(self.m.get("/subscriptions/" + sid))

    # ---- overview ----
    def test_overview_shows_plans_next_charges_card_and_invoices(self):
        cus = self.customer()
        a, t = self.subscribe(cus, "pro"), self.subscribe(cus, "team")
        b = self.login(cus)
        page = self.get(b, "")
        text = text_of(page)
        for want in ("Pro", "$30.00 per month", "Team", "$90.00 per month", "Visa ending 4242",
                     "Expires 12/2035", "Renews on", "Next charge $30.00", "Next charge $90.00"):
            self.assertIn(want, text)
        self.assertEqual(len(re.findall(r'class="badge badge-good">Paid<', page.text)), 2)
        self.assertNotIn("Payment overdue", text)
        # The next charge is the domain's next_amount: credit lowers it.
        self.ok(self.m.post("/customers/%s/credit_entries" % cus["id"],
                            {"amount": 1200, "currency": "USD"}))
        text = text_of(self.get(b, ""))
        self.assertIn("Next charge %s" % money(self.sub(a["id"])["next_amount"]), text)
        self.assertIn("Credit balance $12.00", text)
        self.assertIn(money(self.sub(t["id"])["next_amount"]), text)

    def test_overview_empty_states(self):
        cus = self.customer(card=None)
        text = text_of(self.get(self.login(cus), ""))
        self.assertIn("You have no active subscriptions.", text)
        self.assertIn("No card on file.", text)
        self.assertIn("No invoices yet.", text)

    def test_overdue_banner_with_amount_pay_and_card_actions(self):
        cus = self.customer(card="4000000000000341")     # attaches, then declines
        s = self.subscribe(cus, "pro")
        self.assertEqual(s["status"], "past_due")
        page = self.get(self.login(cus), "")
        self.assertIn("Payment overdue $30.00 is overdue on an invoice", text_of(page))
        self.assertRegex(page.text, r'href="%s/invoices/inv_[0-9a-f]+/pay">Pay now' % self.home)
        self.assertIn('href="%s/payment_methods/new">Update card' % self.home, page.text)

    def test_expired_and_expiring_cards_are_flagged(self):
        cus = self.customer(card=None)
        self.card(cus["id"], year=2035)
        b = self.login(cus)
        self.assertNotIn("expires soon", text_of(self.get(b, "/payment_methods")))
        # In the card's last month it expires soon; two months on it has expired. (Fixed
        # dates: the days ahead of today's date would reach past December 2035 one day.)
        self.ok(self.m.post("/time_machine/travel_forward",
                            {"destination_time": calendar.timegm((2035, 12, 10, 12, 0, 0))}))
        # (the session timed out meanwhile: years passed)
        self.assertIn("This card expires soon.",
                      text_of(self.get(self.login(cus), "/payment_methods")))
        self.ok(self.m.post("/time_machine/travel_forward",
                            {"destination_time": calendar.timegm((2036, 2, 15, 12, 0, 0))}))
        self.assertIn("This card has expired.", text_of(self.get(self.login(cus), "")))

    # ---- subscription page ----
    def test_subscription_page_grants_actions_and_a_message_for_every_status(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        text = text_of(self.get(b, "/subscriptions/" + s["id"]))
        self.assertIn("Projects: 20", text)
        self.assertIn("Single sign-on", text)
        self.assertIn("renews automatically on", text)
        for action in ("Change plan", "Pause subscription", "Cancel subscription"):
            self.assertIn(action, text)
        messages = {"non_renewing": "is cancelled and ends on", "paused": "is paused",
                    "cancelled": "was cancelled on"}
        self.ok(self.m.post("/subscriptions/%s/cancel" % s["id"], {"when": "end_of_term"}))
        text = text_of(self.get(b, "/subscriptions/" + s["id"]))
        self.assertIn(messages["non_renewing"], text)
        self.assertIn("Keep my subscription", text)
        self.assertNotIn("Pause subscription", text)
        self.ok(self.m.post("/subscriptions/%s/reactivate" % s["id"], {}))
        self.ok(self.m.post("/subscriptions/%s/pause" % s["id"], {}))
        text = text_of(self.get(b, "/subscriptions/" + s["id"]))
        self.assertIn(messages["paused"], text)
        self.assertIn("Resume", text)
        self.assertIn("gives you no access", text)
        self.ok(self.m.post("/subscriptions/%s/cancel" % s["id"], {"when": "now"}))
        text = text_of(self.get(b, "/subscriptions/" + s["id"]))
        self.assertIn(messages["cancelled"], text)
        self.assertIn("Reactivate", text)
        trial = self.ok(self.m.post("/subscriptions", {"customer_id": cus["id"],
                                                       "plan_id": "basic", "trial_days": 7}))
        self.assertIn("free trial ends on", text_of(self.get(b, "/subscriptions/" +
                                                             trial["id"])))
        bad = self.customer(card="4000000000000341", email="bad@example.com")
        due = self.subscribe(bad, "pro")
        text = text_of(self.get(self.login(bad), "/subscriptions/" + due["id"]))
        self.assertIn("did not go through", text)
        self.assertIn("Update card", text)

    # ---- change plan ----
    def review_change(self, b, sid, plan):
        return self.get(b, "/subscriptions/%s/change_plan/review?plan=%s" % (sid, plan))

    def test_change_plan_review_is_the_domains_preview_and_the_confirm_bills_it_once(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        choose = self.get(b, "/subscriptions/%s/change_plan" % s["id"])
        # Allowed plans only, not the current one, not another currency.
        self.assertIn('value="team"', choose.text)
        self.assertIn('value="basic"', choose.text)
        self.assertNotIn('value="pro"', choose.text)
        self.assertNotIn('value="eur"', choose.text)
        review = self.review_change(b, s["id"], "team")
        f = form(review, "/change_plan")
        api = self.ok(self.m.post("/subscriptions/%s/change_plan/preview" % s["id"],
                                  {"plan_id": "team", "proration_date": int(f["proration_date"])}))
        self.assertEqual(int(f["expect_due"]), api["amount_due"])
        text = text_of(review)
        self.assertIn("Due today %s" % money(api["amount_due"]), text)
        self.assertIn(money(api["credits"][0]["amount"]), text)     # unused time on Pro
        self.assertIn("Then %s on" % money(api["next_renewal"]["amount"]), text)
        invoices = self.count("invoices")
        # A double click: two identical confirms at once bill once, and land on one page.
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            b.post_form(self.home + "/subscriptions/%s/change_plan" % s["id"], f)))
            for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.post(b, "/subscriptions/%s/change_plan" % s["id"], f)     # and a reload
        self.assertEqual(sorted({r.status for r in results}), [303])
        self.assertEqual(len({r.header("location") for r in results}), 1)
        self.assertEqual(self.count("invoices"), invoices + 1)
        self.assertEqual(self.count("payment_attempts", "kind = 'charge'"), invoices + 1)
        self.assertEqual(self.sub(s["id"])["plan_id"], "team")
        done = text_of(b.get(results[0].header("location")))
        self.assertIn("Your plan is now Team.", done)
        self.assertIn("We charged %s" % money(api["amount_due"]), done)

    def test_changed_amount_gets_a_fresh_review_not_a_charge(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.review_change(b, s["id"], "team"), "/change_plan")
        # Credit arrives between the review and the confirm: the amount is not the same.
        self.ok(self.m.post("/customers/%s/credit_entries" % cus["id"],
                            {"amount": 500, "currency": "USD"}))
        r = self.post(b, "/subscriptions/%s/change_plan" % s["id"], f, status=409)
        self.assertIn("The amount changed since you reviewed it", text_of(r))
        self.assertIn("Due today %s" % money(int(f["expect_due"]) - 500), text_of(r))
        self.assertEqual(self.sub(s["id"])["plan_id"], "pro")
        f2 = form(r, "/change_plan")
        self.assertEqual(int(f2["expect_due"]), int(f["expect_due"]) - 500)
        self.post(b, "/subscriptions/%s/change_plan" % s["id"], f2)
        self.assertEqual(self.sub(s["id"])["plan_id"], "team")

    def test_downgrades_wait_for_the_end_of_the_term_where_configured(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        review = self.review_change(b, s["id"], "basic")
        f = form(review, "/change_plan")
        self.assertEqual(f["when"], "end_of_term")
        self.assertIn("Schedule change", review.text)
        # Posting "now" anyway is refused by the domain.
        r = self.post(b, "/subscriptions/%s/change_plan" % s["id"],
                      dict(f, when="now", expect_due=""), status=403)
        self.assertEqual(self.sub(s["id"])["plan_id"], "pro")
        self.post(b, "/subscriptions/%s/change_plan" % s["id"], f)
        after = self.sub(s["id"])
        self.assertEqual((after["plan_id"], after["scheduled_plan_id"]), ("pro", "basic"))
        # With downgrades allowed at once, the same change is made now.
        self.config({"downgrades_at_end_of_term": False})
        other = self.subscribe(cus, "pro")
        self.assertEqual(form(self.review_change(b, other["id"], "basic"),
                              "/change_plan")["when"], "now")
        del r

    def test_change_plan_settings_are_enforced_by_the_domain(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.review_change(b, s["id"], "team"), "/change_plan")
        self.config({"change_plan": False})
        self.post(b, "/subscriptions/%s/change_plan" % s["id"], f, status=403)
        self.assertEqual(self.sub(s["id"])["plan_id"], "pro")
        self.assertNotIn("Change plan", text_of(self.get(b, "/subscriptions/" + s["id"])))
        self.get(b, "/subscriptions/%s/change_plan" % s["id"], status=403)
        # A session may turn it on (the merchant's backend is trusted) ...
        on = self.login(cus, features={"change_plan": True, "change_plan_plans": ["team"]})
        self.post(on, "/subscriptions/%s/change_plan" % s["id"],
                  form(self.review_change(on, s["id"], "team"), "/change_plan"))
        self.assertEqual(self.sub(s["id"])["plan_id"], "team")
        # ... and a plan the session does not list is refused even when posted.
        self.post(on, "/subscriptions/%s/change_plan" % s["id"],
                  dict(f, plan_id="pro", expect_due=""), status=403)

    # ---- cancel ----
    def test_cancel_now_reviews_end_credit_and_voided_invoices_then_confirms_with_a_reference(self):
        cus = self.customer()
        s = self.subscribe(cus, "team")
        b = self.login(cus)
        choose = self.get(b, "/subscriptions/%s/cancel" % s["id"])
        f = form(choose, "/cancel/review")
        r = self.post(b, "/subscriptions/%s/cancel/review" % s["id"],
                      dict(f, when="now", reason="too_expensive", comment="Too dear"),
                      status=200)
        text = text_of(r)
        self.assertIn("Credit for unused time", text)
        self.assertRegex(text, r"Credit for unused time \$(8\d|90)\.\d\d")
        self.assertIn("Reason It's too expensive", text)
        confirm = form(r, "/cancel")
        self.assertEqual(self.sub(s["id"])["status"], "active")     # the review changed nothing
        done = self.post(b, "/subscriptions/%s/cancel" % s["id"], confirm)
        page = b.get(done.header("location"))
        ref = re.search(r"Reference (evt_[0-9a-f]+)", text_of(page))
        self.assertIsNotNone(ref, text_of(page))
        ev = self.ok(self.m.get("/events/" + ref.group(1)))
        self.assertEqual((ev["type"], ev["object_id"]), ("subscription.cancelled", s["id"]))
        self.assertEqual(ev["actor"]["type"], "portal_session")
        after = self.sub(s["id"])
        self.assertEqual((after["status"], after["cancel_reason"], after["cancel_comment"]),
                         ("cancelled", "too_expensive", "Too dear"))

    def test_cancel_review_lists_the_open_invoices_it_voids(self):
        cus = self.customer(card="4000000000000341")
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.get(b, "/subscriptions/%s/cancel" % s["id"]), "/cancel/review")
        r = self.post(b, "/subscriptions/%s/cancel/review" % s["id"], dict(f, when="now"),
                      status=200)
        self.assertRegex(text_of(r), r"These are voided, so you do not owe them: Invoice \d+: \$30\.00")
        self.post(b, "/subscriptions/%s/cancel" % s["id"], form(r, "/cancel"))
        self.assertEqual(self.count("invoices", "status = 'open'"), 0)

    def test_cancel_at_end_of_term_and_keep_my_subscription(self):
        self.config({"cancel_mode": "end_of_term", "cancel_reason": "required",
                     "cancel_comment": False})
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        choose = self.get(b, "/subscriptions/%s/cancel" % s["id"])
        self.assertNotIn('value="now"', choose.text)
        self.assertNotIn('name="comment"', choose.text)
        f = form(choose, "/cancel/review")
        r = self.post(b, "/subscriptions/%s/cancel/review" % s["id"], f, status=422)
        self.assertIn("Error: ", r.text[:r.text.index("</title>")])
        self.assertIn("Select why you are cancelling", text_of(r))
        # "now" and a comment, posted although the page offers neither: the domain refuses.
        self.post(b, "/subscriptions/%s/cancel" % s["id"],
                  dict(f, when="now", reason="other", form_nonce="A" * 22), status=403)
        self.post(b, "/subscriptions/%s/cancel" % s["id"],
                  dict(f, when="end_of_term", reason="other", comment="hi",
                       form_nonce="B" * 22), status=403)
        self.assertEqual(self.sub(s["id"])["status"], "active")
        r = self.post(b, "/subscriptions/%s/cancel/review" % s["id"], dict(f, reason="other"),
                      status=200)
        self.assertIn("You keep access until then", text_of(r))
        self.post(b, "/subscriptions/%s/cancel" % s["id"], form(r, "/cancel"))
        self.assertEqual(self.sub(s["id"])["status"], "non_renewing")
        page = self.get(b, "/subscriptions/%s/cancelled" % s["id"])
        self.assertIn("Your subscription will end on", text_of(page))
        self.post(b, "/subscriptions/%s/keep" % s["id"], form(page, "/keep"))
        self.assertEqual(self.sub(s["id"])["status"], "active")

    def test_cancel_switched_off_is_refused_when_posted(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.get(b, "/subscriptions/%s/cancel" % s["id"]), "/cancel/review")
        off = self.login(cus, features={"cancel_subscription": False})
        self.get(off, "/subscriptions/%s/cancel" % s["id"], status=403)
        f["csrf_token"] = form(self.get(off, "/subscriptions/" + s["id"]),
                               "/sign_out")["csrf_token"]
        self.post(off, "/subscriptions/%s/cancel" % s["id"],
                  dict(f, when="end_of_term", form_nonce="C" * 22), status=403)
        self.assertEqual(self.sub(s["id"])["status"], "active")

    # ---- reactivate, pause, resume ----
    def test_reactivating_a_cancelled_subscription_reviews_what_it_bills(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        self.ok(self.m.post("/subscriptions/%s/cancel" % s["id"],
                            {"when": "now", "credit": "none"}))
        now = self.ok(self.m.get("/time_machine"))["now"]
        self.ok(self.m.post("/time_machine/travel_forward",
                            {"destination_time": self.sub(s["id"])["current_term_end"] + 5}))
        b = self.login(cus)
        r = self.get(b, "/subscriptions/%s/reactivate" % s["id"])
        self.assertIn("Due today $30.00", text_of(r))
        invoices = self.count("invoices")
        self.post(b, "/subscriptions/%s/reactivate" % s["id"], form(r, "/reactivate"))
        self.assertEqual(self.sub(s["id"])["status"], "active")
        self.assertEqual(self.count("invoices"), invoices + 1)
        del now

    def test_pause_with_a_resume_date_within_the_limit_then_resume(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.get(b, "/subscriptions/%s/pause" % s["id"]), "/pause/review")
        r = self.post(b, "/subscriptions/%s/pause/review" % s["id"], f, status=422)
        self.assertIn("Enter the date your subscription resumes", text_of(r))
        r = self.post(b, "/subscriptions/%s/pause/review" % s["id"],
                      dict(f, when="now", resume="2099-01-01"), status=422)
        self.assertIn("at most 60 days", text_of(r))
        r = self.post(b, "/subscriptions/%s/pause/review" % s["id"],
                      dict(f, when="now", resume="2026-02-31"), status=422)
        self.assertIn("Enter a real date", text_of(r))
        now = self.ok(self.m.get("/time_machine"))["now"]
        import datetime
        day = datetime.datetime.utcfromtimestamp(now + 30 * 86400).strftime("%Y-%m-%d")
        r = self.post(b, "/subscriptions/%s/pause/review" % s["id"],
                      dict(f, when="now", resume=day), status=200)
        self.assertIn("Credit for unused time", text_of(r))
        self.post(b, "/subscriptions/%s/pause" % s["id"], form(r, "/pause"))
        after = self.sub(s["id"])
        self.assertEqual(after["status"], "paused")
        self.assertIsNotNone(after["resume_at"])
        r = self.get(b, "/subscriptions/%s/resume" % s["id"])
        self.assertIn("Due today", text_of(r))
        self.post(b, "/subscriptions/%s/resume" % s["id"], form(r, "/resume"))
        self.assertEqual(self.sub(s["id"])["status"], "active")

    def test_pause_switched_off_is_refused_when_posted(self):
        self.config({"pause_subscription": False})
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        self.assertNotIn("Pause subscription", text_of(self.get(b, "/subscriptions/" + s["id"])))
        self.get(b, "/subscriptions/%s/pause" % s["id"], status=403)
        csrf = form(self.get(b, ""), "/sign_out")["csrf_token"]
        self.post(b, "/subscriptions/%s/pause" % s["id"],
                  {"csrf_token": csrf, "form_nonce": "D" * 22, "when": "now",
                   "resume": "2099-01-01"}, status=403)
        self.assertEqual(self.sub(s["id"])["status"], "active")

    # ---- payment methods ----
    def test_adding_a_card_validates_and_never_keeps_or_logs_the_number(self):
        cus = self.customer(card=None)
        b = self.login(cus)
        page = self.get(b, "/payment_methods/new")
        f = form(page, "/payment_methods/new")
        r = self.post(b, "/payment_methods/new", f, status=422)
        for msg in ("Enter your card number", "Enter the expiry date of your card",
                    "Enter the security code of your card"):
            self.assertIn(msg, text_of(r))
        r = self.post(b, "/payment_methods/new",
                      dict(f, number="4242 4242 4242 4241", expiry="13/29", cvc="12"),
                      status=422)
        self.assertNotIn("4242 4242 4242 4241", r.text)     # never shown back
        for msg in ("Enter a valid card number", "Enter the expiry date as it is on the card",
                    "Enter the security code: 3 or 4 digits"):
            self.assertIn(msg, text_of(r))
        r = self.post(b, "/payment_methods/new",
                      dict(f, number="4111 1111 1111 1111", expiry="04/29", cvc="123"),
                      status=422)
        self.assertIn("not one of the test cards", text_of(r))
        r = self.post(b, "/payment_methods/new",
                      dict(f, number="4242 4242 4242 4242", expiry="01/20", cvc="123"),
                      status=422)
        self.assertIn("The card has expired", text_of(r))
        r = self.post(b, "/payment_methods/new",
                      dict(f, number="4242-4242-4242-4242", expiry="04 / 2031", cvc="123"))
        self.assertIn("Your card has been saved.", text_of(b.get(r.header("location"))))
        pms = self.ok(self.m.get("/customers/%s/payment_methods" % cus["id"]))["data"]
        self.assertEqual([(p["last4"], p["exp_month"], p["exp_year"]) for p in pms],
                         [("4242", 4, 2031)])
        # The number is nowhere: not in the database, not in any log.
        dump = self.s.sh('as_pg "$PG_BIN/pg_dump" -h "$STACK_STATE/pg/run" -p "$STACK_PG_PORT" '
                         '-U postgres -a portald').stdout
        self.assertIn(cus["id"], dump)      # the dump is real
        logs = self.s.log_text()
        with open(self.s.state + "/pg/postgres.log", errors="replace") as f:
            logs += f.read()
        for number in ("4242424242424242", "4242-4242-4242-4242", "4242 4242 4242 4242",
                       "4242+4242", "4242%204242", "4111111111111111"):
            self.assertNotIn(number, dump)
            self.assertNotIn(number, logs)

    def test_a_card_that_pays_overdue_invoices_says_so_first_and_shows_the_outcome(self):
        cus = self.customer(card="4000000000000341")
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        page = self.get(b, "/payment_methods/new")
        self.assertIn("You owe $30.00. When you save this card it becomes your default card "
                      "and pays that right away.", text_of(page))
        self.assertIn("Save card and pay $30.00", text_of(page))
        r = self.post(b, "/payment_methods/new",
                      dict(form(page, "/payment_methods/new"), number="4242424242424242",
                           expiry="04/31", cvc="123"))
        self.assertIn("paid=pay_", r.header("location"))
        text = text_of(b.get(r.header("location")))
        self.assertRegex(text, r"Invoice \d+: \$30\.00 paid\.")
        self.assertEqual(self.sub(s["id"])["status"], "active")
        # A card that declines: the page says so.
        bad = self.customer(card="4000000000000341", email="b2@example.com")
        self.subscribe(bad, "pro")
        b2 = self.login(bad)
        r = self.post(b2, "/payment_methods/new",
                      dict(form(self.get(b2, "/payment_methods/new"), "/payment_methods/new"),
                           number="4000000000009995", expiry="04/31", cvc="123"))
        self.assertIn("declined: insufficient funds", text_of(b2.get(r.header("location"))))

    def test_make_default_and_remove_through_a_confirmation(self):
        cus = self.customer()
        second = self.card(cus["id"], "5555555555554444")
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        page = self.get(b, "/payment_methods")
        self.post(b, "/payment_methods/%s/default" % second["id"],
                  form(page, "/payment_methods/%s/default" % second["id"]))
        pms = self.ok(self.m.get("/customers/%s/payment_methods" % cus["id"]))["data"]
        self.assertEqual([p["id"] for p in pms if p["is_default"]], [second["id"]])
        confirm = self.get(b, "/payment_methods/%s/remove" % second["id"])
        self.assertIn("Mastercard ending 4444", text_of(confirm))
        self.post(b, "/payment_methods/%s/remove" % second["id"],
                  form(confirm, "/payment_methods/%s/remove" % second["id"]))
        pms = self.ok(self.m.get("/customers/%s/payment_methods" % cus["id"]))["data"]
        self.assertEqual(len(pms), 1)
        # The last card of a subscription that bills cannot go (the domain says no).
        last = pms[0]["id"]
        r = self.post(b, "/payment_methods/%s/remove" % last,
                      form(self.get(b, "/payment_methods/%s/remove" % last),
                           "/payment_methods/%s/remove" % last), status=409)
        self.assertIn("It is your only card", text_of(r))
        del s

    def test_payment_methods_switched_off_is_refused_when_posted(self):
        cus = self.customer()
        b = self.login(cus)
        f = form(self.get(b, "/payment_methods/new"), "/payment_methods/new")
        off = self.login(cus, features={"payment_methods": False})
        self.get(off, "/payment_methods/new", status=403)
        f["csrf_token"] = form(self.get(off, ""), "/sign_out")["csrf_token"]
        self.post(off, "/payment_methods/new",
                  dict(f, number="5555555555554444", expiry="04/31", cvc="123"), status=403)
        self.assertEqual(len(self.ok(self.m.get("/customers/%s/payment_methods" %
                                                cus["id"]))["data"]), 1)

    # ---- invoices ----
    def wait_jobs(self):
        import time
        for _ in range(400):
            if self.ok(self.m.get("/time_machine"))["pending_jobs"] == 0:
                return
            time.sleep(0.05)
        self.fail("the job runner did not catch up")

    def test_invoice_history_pages_by_number(self):
        self.ok(self.m.post("/plans", {"id": "daily", "name": "Daily", "amount": 100,
                                       "currency": "USD", "interval": "day"}))
        cus = self.customer()
        self.subscribe(cus, "daily")
        now = self.ok(self.m.get("/time_machine"))["now"]
        for day in range(1, 24):
            self.ok(self.m.post("/time_machine/travel_forward",
                                {"destination_time": now + day * 86400 + 60}))
            self.wait_jobs()
        # The page shows each number as printed (with the site's prefix), newest first.
        ids = [i["formatted_number"] for i in self.ok(self.m.get(
            "/invoices?limit=100&customer_id=%s" % cus["id"]))["data"]]
        self.assertEqual(len(ids), 24)
        b = self.login(cus)
        seen, page, pages = [], self.get(b, "/invoices"), 0
        self.assertNotIn('rel="prev"', page.text)
        while True:
            pages += 1
            nums = re.findall(r'<td data-label="Number">([^<]+)</td>', page.text)
            self.assertLessEqual(len(nums), 10)
            self.assertEqual(nums, ids[len(seen):len(seen) + len(nums)])
            seen += nums
            m = re.search(r'href="([^"]+)" rel="next"', page.text)
            if not m:
                break
            page = b.get(htmllib.unescape(m.group(1)))
        self.assertEqual(seen, ids)
        self.assertEqual(pages, 3)
        # Back from the last page: the page before it, newest first.
        back = re.search(r'href="([^"]+)" rel="prev"', page.text)
        prev = b.get(htmllib.unescape(back.group(1)))
        self.assertEqual(re.findall(r'<td data-label="Number">([^<]+)</td>', prev.text),
                         ids[10:20])
        self.assertIn('rel="prev"', prev.text)
        self.assertIn('rel="next"', prev.text)
        self.get(b, "/invoices?older=abc")     # a cursor that is not one: the first page
        self.get(b, "/invoices?older=-5")

    def test_pay_now_reviews_charges_once_and_shows_the_outcome(self):
        cus = self.customer(card="4000000000009995")      # insufficient funds
        self.subscribe(cus, "pro")
        inv = self.ok(self.m.get("/invoices?customer_id=%s" % cus["id"]))["data"][0]
        self.assertEqual(inv["status"], "open")
        b = self.login(cus)
        review = self.get(b, "/invoices/%s/pay" % inv["id"])
        self.assertIn("Amount due $30.00", text_of(review))
        self.assertIn("Paid with Visa ending 9995", text_of(review))
        r = self.post(b, "/invoices/%s/pay" % inv["id"], form(review, "/pay"))
        self.assertIn("declined: insufficient funds", text_of(b.get(r.header("location"))))
        # The customer's bank has the money now: Pay now again, posted three times at once.
        self.sql("UPDATE test_gateway_tokens SET behavior = 'succeed' WHERE site_id = $SITE")
        f = form(self.get(b, "/invoices/%s/pay" % inv["id"]), "/pay")
        attempts = self.count("payment_attempts", "invoice_id = '%s'" % inv["id"])
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            b.post_form(self.home + "/invoices/%s/pay" % inv["id"], f))) for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual({x.status for x in results}, {303})
        self.assertEqual(len({x.header("location") for x in results}), 1)
        text = text_of(b.get(results[0].header("location")))
        self.assertIn("Payment received", text)
        self.assertRegex(text, r"Invoice \d+: \$30\.00 paid\.")
        self.assertEqual(self.ok(self.m.get("/invoices/" + inv["id"]))["status"], "paid")
        self.assertEqual(self.count("payment_attempts", "invoice_id = '%s'" % inv["id"]),
                         attempts + 1)
        self.assertEqual(self.count("test_gateway_charges", "kind = 'charge' AND outcome = "
                                    "'succeeded'"), 1)
        # Paid: nothing more to pay, and a POST changes nothing.
        self.assertIn("This invoice is paid", text_of(self.get(b, "/invoices/%s/pay" % inv["id"])))
        self.post(b, "/invoices/%s/pay" % inv["id"], dict(f, form_nonce="E" * 22), status=409)

    def test_invoice_history_switched_off(self):
        cus = self.customer()
        self.subscribe(cus, "pro")
        b = self.login(cus, features={"invoice_history": False})
        self.get(b, "/invoices", status=403)
        self.assertNotIn(">Invoices<", self.get(b, "").text)

    # ---- scoping and CSRF ----
    def test_another_customers_ids_are_404_everywhere(self):
        mine, theirs = self.customer(), self.customer(email="them@example.com")
        s = self.subscribe(mine, "pro")
        inv = self.ok(self.m.get("/invoices?customer_id=%s" % mine["id"]))["data"][0]
        pm = self.ok(self.m.get("/customers/%s/payment_methods" % mine["id"]))["data"][0]
        b = self.login(theirs)
        csrf = form(self.get(b, ""), "/sign_out")["csrf_token"]
        for tail in ("/subscriptions/" + s["id"], "/subscriptions/%s/change_plan" % s["id"],
                     "/subscriptions/%s/change_plan/review?plan=team" % s["id"],
                     "/subscriptions/%s/cancel" % s["id"],
                     "/subscriptions/%s/cancelled" % s["id"],
                     "/subscriptions/%s/pause" % s["id"], "/subscriptions/%s/resume" % s["id"],
                     "/subscriptions/%s/reactivate" % s["id"],
                     "/payment_methods/%s/remove" % pm["id"],
                     "/payment_methods/%s/default" % pm["id"],
                     "/invoices/%s/pay" % inv["id"], "/invoices/%s/paid" % inv["id"]):
            self.get(b, tail, status=404)
        for i, tail in enumerate(("/subscriptions/%s/cancel" % s["id"],
                                  "/subscriptions/%s/keep" % s["id"],
                                  "/payment_methods/%s/remove" % pm["id"],
                                  "/payment_methods/%s/default" % pm["id"],
                                  "/invoices/%s/pay" % inv["id"])):
            self.post(b, tail, {"csrf_token": csrf, "form_nonce": chr(65 + i) * 22,
                                "when": "now"}, status=404)
        self.assertEqual(self.sub(s["id"])["status"], "active")
        self.get(b, "/subscriptions/not%20an%20id", status=404)

    def test_money_posts_without_or_with_a_wrong_csrf_token_are_403(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        b = self.login(cus)
        f = form(self.review_change(b, s["id"], "team"), "/change_plan")
        for token in (None, "forged", f["csrf_token"][:-2] + "AA"):
            bad = dict(f)
            if token is None:
                del bad["csrf_token"]
            else:
                bad["csrf_token"] = token
            self.post(b, "/subscriptions/%s/change_plan" % s["id"], bad, status=403)
        self.assertEqual(self.sub(s["id"])["plan_id"], "pro")
        self.assertEqual(self.count("invoices"), 1)

    # ---- deep links ----
    def test_deep_links_open_at_the_step_and_end_with_the_way_back(self):
        cus = self.customer()
        s = self.subscribe(cus, "pro")
        sess = self.m.session(cus["id"], redirect_url="https://shop.example/done",
                              flow={"type": "cancel", "subscription_id": s["id"]})
        b = Browser(self.s)
        r = b.get(sess["access_url"])
        self.assertEqual(r.header("location"), "%s/subscriptions/%s/cancel" % (self.home,
                                                                                 s["id"]))
        choose = b.get(r.header("location"))
        r = self.post(b, "/subscriptions/%s/cancel/review" % s["id"],
                      dict(form(choose, "/cancel/review"), when="end_of_term"), status=200)
        done = b.get(self.post(b, "/subscriptions/%s/cancel" % s["id"],
                               form(r, "/cancel")).header("location"))
        self.assertIn('class="button" href="https://shop.example/done">Return to', done.text)
        sess = self.m.session(cus["id"], redirect_url="https://shop.example/done",
                              flow={"type": "payment_method_update"})
        b = Browser(self.s)
        page = b.get(b.get(sess["access_url"]).header("location"))
        r = self.post(b, "/payment_methods/new", dict(form(page, "/payment_methods/new"),
                      number="5555555555554444", expiry="04/31", cvc="123"))
        self.assertIn('href="https://shop.example/done">Return to',
                      b.get(r.header("location")).text)


if __name__ == "__main__":
    unittest.main()
