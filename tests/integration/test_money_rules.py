"""test_money_rules.py: the billing rules of issue 6, one test per rule, through the API on
the real stack with the time machine. Each was written before its fix and failed then."""
import calendar
import time
import unittest

from test_billing import Base, DECLINE, GOOD


def utc(y, m, d, hh=12):
    return calendar.timegm((y, m, d, hh, 0, 0))


def next_nonleap_year(now):
    y = time.gmtime(now).tm_year + 1
    while calendar.isleap(y):
        y += 1
    return y


def prorate(amount, part, whole):
    """The documented rounding: half up (away from zero)."""
    return (amount * part * 2 + whole) // (2 * whole)


class Rules(Base):
    def entries(self, cus):
        return self.ok(self.m.get("/customers/%s/credit_entries?limit=100" % cus))["data"]

    def balances(self, cus):
        return self.ok(self.m.get("/customers/" + cus))["credit_balances"]

    def newest(self, sid):
        return max(self.invoices(subscription_id=sid), key=lambda i: i["number"])

    def attempts(self, sid):
        return sum(len(i["payment_attempts"]) for i in self.invoices(subscription_id=sid))


class TrialEnd(Rules):
    def test_first_paid_term_is_a_full_interval_from_the_trial_end(self):
        y = next_nonleap_year(self.now())
        self.travel_to(utc(y, 1, 1))
        c = self.customer()
        s = self.sub(c["id"], trial_days=30)
        # The site's clock runs on: the subscription may start a second or two after
        # the travel (a slow, sanitized build). Every date below keeps that time of day.
        d = s["trial_end"] - utc(y, 1, 31)
        self.assertIn(d, (0, 1, 2))
        self.travel_to(s["trial_end"])
        s = self.get_sub(s["id"])
        self.assertEqual((s["status"], s["current_term_start"], s["current_term_end"]),
                         ("active", utc(y, 1, 31) + d, utc(y, 2, 28) + d))
        inv = self.invoices(subscription_id=s["id"])
        self.assertEqual([(i["status"], i["total"], i["lines"][0]["period_start"],
                           i["lines"][0]["period_end"]) for i in inv],
                         [("paid", 1000, utc(y, 1, 31) + d, utc(y, 2, 28) + d)])
        self.travel_to(utc(y, 2, 28) + d)
        s = self.get_sub(s["id"])
        self.assertEqual((s["current_term_start"], s["current_term_end"]),
                         (utc(y, 2, 28) + d, utc(y, 3, 31) + d))


class CancelNow(Rules):
    def test_cancel_now_credits_the_unused_part_of_a_paid_term(self):
        c = self.customer()
        s = self.sub(c["id"], "pro")
        self.travel_to(s["current_term_start"] + 10 * 86400)
        before = self.now()
        done = self.ok(self.action(s["id"], "cancel", {"when": "now"}))
        self.assertEqual(done["status"], "cancelled")
        # The moment of the cancel is the cancel's own: a second may tick over between a
        # read of the clock and the request.
        now = done["cancelled_at"]
        self.assertIn(now - before, (0, 1))
        want = prorate(3000, s["current_term_end"] - now, s["current_term_end"] -
                       s["current_term_start"])
        self.assertEqual(self.balances(c["id"]), {"USD": want})
        e = self.entries(c["id"])
        self.assertEqual([(x["source"], x["amount"], x["currency"], x["status"],
                           x["period_start"], x["period_end"], x["subscription_id"]) for x in e],
                         [("cancellation", want, "USD", "available", now,
                           s["current_term_end"], s["id"])])

    def test_cancel_now_with_credit_none_credits_nothing(self):
        c = self.customer()
        s = self.sub(c["id"], "pro")
        self.travel_to(s["current_term_start"] + 3 * 86400)
        self.ok(self.action(s["id"], "cancel", {"when": "now", "credit": "none"}))
        self.assertEqual(self.balances(c["id"]), {})
        self.assertEqual(self.entries(c["id"]), [])

    def test_cancel_now_stops_collection_and_voids_open_invoices(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        self.assertEqual(self.get_sub(s["id"])["status"], "past_due")
        before = self.attempts(s["id"])
        self.ok(self.action(s["id"], "cancel", {"when": "now"}))
        self.assertEqual([i["status"] for i in self.invoices(subscription_id=s["id"])],
                         ["void"])
        self.travel_to(self.now() + 10 * 86400)
        self.card(c["id"], GOOD, default=True)
        self.settle()
        self.assertEqual(self.attempts(s["id"]), before)
        self.assertEqual(self.balances(c["id"]), {})

    def test_cancelled_for_non_payment_is_not_charged_when_a_card_arrives(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        self.travel_to(self.now() + 6 * 86400)
        done = self.get_sub(s["id"])
        self.assertEqual((done["status"], done["cancel_reason"]), ("cancelled", "not_paid"))
        self.card(c["id"], GOOD, default=True)
        self.settle()
        invs = self.invoices(subscription_id=s["id"])
        self.assertEqual([(i["status"], i["amount_paid"]) for i in invs], [("void", 0)])

    def test_reactivation_never_bills_a_period_already_paid(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(s["current_term_start"] + 5 * 86400)
        self.ok(self.action(s["id"], "cancel", {"when": "now", "credit": "none"}))
        back = self.ok(self.action(s["id"], "reactivate"))
        self.assertEqual((back["status"], back["current_term_end"]),
                         ("active", s["current_term_end"]))
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 1)
        self.travel_to(s["current_term_end"])
        invs = self.invoices(subscription_id=s["id"])
        self.assertEqual(len(invs), 2)
        periods = sorted((i["lines"][0]["period_start"], i["lines"][0]["period_end"])
                         for i in invs)
        self.assertLessEqual(periods[0][1], periods[1][0])

    def test_reactivation_after_a_credited_cancel_spends_that_credit(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(s["current_term_start"] + 5 * 86400)
        self.ok(self.action(s["id"], "cancel", {"when": "now"}))
        credit = self.balances(c["id"])["USD"]
        self.ok(self.action(s["id"], "reactivate"))
        newest = self.newest(s["id"])
        self.assertEqual((newest["total"], newest["credit_applied"], newest["amount_due"],
                          newest["status"]), (1000, credit, 1000 - credit, "paid"))
        self.assertEqual(self.balances(c["id"]), {})

    def test_card_update_retries_only_open_invoices_of_live_subscriptions(self):
        c = self.customer(DECLINE)
        live = self.sub(c["id"])
        gone = self.sub(c["id"], "pro")
        self.ok(self.action(gone["id"], "cancel", {"when": "now"}))
        self.card(c["id"], GOOD, default=True)
        self.settle()
        self.assertEqual([i["status"] for i in self.invoices(subscription_id=live["id"])],
                         ["paid"])
        self.assertEqual([i["status"] for i in self.invoices(subscription_id=gone["id"])],
                         ["void"])


class Pause(Rules):
    def test_pause_at_end_of_term_takes_effect_then(self):
        c = self.customer()
        s = self.sub(c["id"])
        p = self.ok(self.action(s["id"], "pause", {"when": "end_of_term"}))
        self.assertEqual((p["status"], p["pause_at"]), ("active", s["current_term_end"]))
        self.travel_to(s["current_term_end"] + 3600)
        p = self.get_sub(s["id"])
        self.assertEqual((p["status"], p["paused_at"]), ("paused", s["current_term_end"]))
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 1)

    def test_a_scheduled_pause_never_resumes_before_it_begins(self):
        """Found by the random test (seed 478716936): a pause scheduled for the end of a
        monthly term with a resume date, then a change to a yearly plan now, moved the term
        end past the resume date; the pause began a year later and was dated to end before
        it began, and the paid periods overlapped."""
        self.plan("yearly", 10000, interval="year")
        c = self.customer()
        s = self.sub(c["id"])
        resume = s["current_term_end"] + 40 * 86400
        self.ok(self.action(s["id"], "pause", {"when": "end_of_term", "resume_at": resume}))
        before = self.get_sub(s["id"])
        r = self.action(s["id"], "change_plan", {"plan_id": "yearly"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "pause_resume_conflict")
        self.assertEqual(self.get_sub(s["id"]), before, "nothing changed")
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 1)
        # Without a resume date the pause follows the term's new end.
        self.ok(self.action(s["id"], "resume"))
        self.ok(self.action(s["id"], "pause", {"when": "end_of_term"}))
        moved = self.ok(self.action(s["id"], "change_plan", {"plan_id": "yearly"}))
        self.assertEqual((moved["status"], moved["pause_at"]),
                         ("active", moved["current_term_end"]))
        self.travel_to(moved["current_term_end"] + 3600)
        p = self.get_sub(s["id"])
        self.assertEqual((p["status"], p["paused_at"]), ("paused", moved["current_term_end"]))

    def test_pause_now_credits_the_unused_part_of_the_paid_term(self):
        c = self.customer()
        s = self.sub(c["id"], "pro")
        self.travel_to(s["current_term_start"] + 7 * 86400)
        before = self.now()
        now = self.ok(self.action(s["id"], "pause", {"when": "now"}))["paused_at"]
        self.assertIn(now - before, (0, 1))
        want = prorate(3000, s["current_term_end"] - now,
                       s["current_term_end"] - s["current_term_start"])
        self.assertEqual(self.balances(c["id"]), {"USD": want})
        self.assertEqual([x["source"] for x in self.entries(c["id"])], ["pause"])

    def test_automatic_resume_starts_a_full_term_with_the_anchor_moved(self):
        y = next_nonleap_year(self.now())
        self.travel_to(utc(y, 1, 5))
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(utc(y, 1, 10))
        self.ok(self.action(s["id"], "pause", {"resume_at": utc(y, 2, 20)}))
        self.travel_to(utc(y, 2, 20))
        r = self.get_sub(s["id"])
        self.assertEqual((r["status"], r["current_term_start"], r["current_term_end"]),
                         ("active", utc(y, 2, 20), utc(y, 3, 20)))
        newest = self.newest(s["id"])
        self.assertEqual((newest["total"], newest["lines"][0]["period_start"],
                          newest["lines"][0]["period_end"]), (1000, utc(y, 2, 20), utc(y, 3, 20)))
        # Paused time is never billed: no invoice covers Jan 10 .. Feb 20 beyond the
        # credited part of the first term.
        self.travel_to(utc(y, 3, 20))
        self.assertEqual(self.get_sub(s["id"])["current_term_end"], utc(y, 4, 20))

    def test_pausing_keeps_a_scheduled_plan_change(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.ok(self.action(s["id"], "change_plan", {"plan_id": "pro", "when": "end_of_term"}))
        p = self.ok(self.action(s["id"], "pause", {"when": "now"}))
        self.assertEqual(p["scheduled_plan_id"], "pro")
        r = self.ok(self.action(s["id"], "resume"))
        self.assertEqual((r["plan_id"], r["scheduled_plan_id"]), ("pro", None))
        self.assertEqual(self.newest(s["id"])["total"], 3000)


class Credit(Rules):
    def test_credit_is_kept_and_spent_per_currency(self):
        self.plan("eur", 2000, currency="EUR")
        self.plan("eur_small", 500, currency="EUR")
        c = self.customer()
        usd = self.sub(c["id"], "pro")
        eur = self.sub(c["id"], "eur")
        self.travel_to(usd["current_term_start"] + 10 * 86400)
        self.ok(self.action(usd["id"], "change_plan", {"plan_id": "basic"}))
        bal = self.balances(c["id"])
        self.assertEqual(set(bal), {"USD"})
        self.travel_to(eur["current_term_end"])
        renewal = self.newest(eur["id"])
        self.assertEqual((renewal["currency"], renewal["credit_applied"]), ("EUR", 0))

    def test_a_voided_invoice_gives_back_the_credit_it_consumed(self):
        c = self.customer(DECLINE)
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 400, "currency": "USD", "description": "Goodwill"}))
        s = self.sub(c["id"])
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual((inv["status"], inv["credit_applied"], inv["amount_due"]),
                         ("open", 400, 600))
        self.assertEqual(self.balances(c["id"]), {})
        self.ok(self.m.post("/invoices/%s/void" % inv["id"]))
        self.assertEqual(self.balances(c["id"]), {"USD": 400})
        self.assertEqual([x["source"] for x in self.entries(c["id"])],
                         ["void", "applied", "manual"])

    def test_credit_from_a_term_never_paid_is_not_spendable(self):
        self.s.portalctl("site", "dunning", self.m.site_id, "--retry-days", "1",
                         "--final", "mark_uncollectible")
        c = self.customer(DECLINE)
        s = self.sub(c["id"], "pro")
        self.travel_to(self.now() + 2 * 86400)
        self.assertEqual([i["status"] for i in self.invoices(subscription_id=s["id"])],
                         ["uncollectible"])
        self.assertEqual(self.get_sub(s["id"])["status"], "active")
        self.card(c["id"], GOOD, default=True)
        self.ok(self.action(s["id"], "change_plan", {"plan_id": "basic"}))
        self.assertEqual(self.balances(c["id"]), {})
        self.assertTrue(all(x["status"] != "available" or x["amount"] <= 0
                            for x in self.entries(c["id"])))

    def test_credit_is_spent_once_by_invoices_issued_at_the_same_time(self):
        """Twelve invoices of one customer at once, with 1,000 of credit: together they
        take exactly the 1,000, however their transactions interleave, and a customer
        without credit is charged in full by each."""
        import concurrent.futures
        c, none = self.customer(DECLINE), self.customer(DECLINE)
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 1000, "currency": "USD", "description": "Goodwill"}))

        def issue(cus):
            return self.m.post("/invoices", {"customer_id": cus, "currency": "USD",
                                             "lines": [{"description": "x", "amount": 300}]})
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            got = list(pool.map(issue, [c["id"]] * 12 + [none["id"]] * 4))
        for r in got:
            self.assertEqual(r.status, 200, r)
        applied = [r.json["credit_applied"] for r in got[:12]]
        self.assertEqual(sum(applied), 1000, applied)
        self.assertEqual(sorted(a for a in applied if a)[-3:], [300, 300, 300])
        self.assertEqual([r.json["credit_applied"] for r in got[12:]], [0] * 4)
        self.assertEqual(self.balances(c["id"]), {})

    def test_manual_credit_needs_a_known_currency_and_a_positive_amount(self):
        c = self.customer()
        for body, param in (({"amount": 0, "currency": "USD"}, "amount"),
                            ({"amount": 10, "currency": "XYZ"}, "currency")):
            r = self.m.post("/customers/%s/credit_entries" % c["id"], body)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), r)


class Preview(Rules):
    def test_preview_at_end_of_term_bills_nothing_now(self):
        c = self.customer()
        s = self.sub(c["id"])
        p = self.ok(self.action(s["id"], "change_plan/preview",
                                {"plan_id": "pro", "when": "end_of_term"}))
        self.assertEqual((p["lines"], p["amount_due"], p["when"]), ([], 0, "end_of_term"))
        self.assertEqual(p["next_renewal"], {"at": s["current_term_end"], "plan_id": "pro",
                                             "amount": 3000})

    def test_next_amount_counts_the_scheduled_plan_and_the_credit(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.ok(self.action(s["id"], "change_plan", {"plan_id": "pro", "when": "end_of_term"}))
        self.assertEqual(self.get_sub(s["id"])["next_amount"], 3000)
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 500, "currency": "USD"}))
        self.assertEqual(self.get_sub(s["id"])["next_amount"], 2500)
        self.travel_to(s["current_term_end"])
        newest = self.newest(s["id"])
        self.assertEqual(newest["amount_due"], 2500)

    def test_next_billing_at_is_null_when_not_renewing(self):
        c = self.customer()
        s = self.sub(c["id"])
        n = self.ok(self.action(s["id"], "cancel", {"when": "end_of_term"}))
        self.assertIsNone(n["next_billing_at"])
        self.assertIsNone(n["next_amount"])


class Events(Rules):
    def test_events_carry_a_sequence_and_their_actor(self):
        c = self.customer()
        self.sub(c["id"])
        evs = self.ok(self.m.get("/events?limit=100"))["data"]
        seqs = [e["sequence"] for e in evs]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        self.assertEqual(len(set(seqs)), len(seqs))
        types = [e["type"] for e in reversed(evs)]
        self.assertLess(types.index("invoice.created"), types.index("invoice.paid"))
        for e in evs:
            self.assertEqual(e["actor"]["type"], "api_key", e)
            self.assertTrue(e["actor"]["id"].startswith("key_"), e)

    def test_job_runner_events_name_the_runner(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(s["current_term_end"])
        renewed = self.ok(self.m.get("/events?type=subscription.renewed"))["data"]
        self.assertEqual(renewed[0]["actor"], {"type": "job_runner", "id": None})


class Validation(Rules):
    def test_currency_is_a_current_iso_4217_code(self):
        for cur, ok in (("JPY", True), ("KWD", True), ("XYZ", False), ("XTS", False),
                        ("usd", False)):
            r = self.m.post("/plans", {"name": cur, "amount": 100, "currency": cur,
                                       "interval": "month"})
            self.assertEqual(r.status, 200 if ok else 400, (cur, r))
            if not ok:
                self.assertEqual(r.json["error"]["param"], "currency")

    def test_webhook_events_must_be_registered_types(self):
        r = self.m.post("/webhook_endpoints", {"url": "https://example.com/h",
                                               "enabled_events": ["invoice.paid", "nope.nope"]})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "enabled_events"), r)

    def test_an_expired_card_is_refused_at_attach(self):
        c = self.m.customer()
        tok = self.ok(self.m.post("/test_gateway/tokens", {"number": GOOD, "exp_month": 1,
                                                           "exp_year": 2020}))
        r = self.m.post("/customers/%s/payment_methods" % c["id"], {"token": tok["id"]})
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "expired_card"), r)

    def test_making_a_card_default_always_emits_its_event(self):
        def made_default():
            return [e["object_id"] for e in self.ok(self.m.get(
                "/events?limit=100&type=payment_method.made_default"))["data"]]
        c = self.customer()
        first = self.ok(self.m.get("/customers/%s/payment_methods" % c["id"]))["data"][0]
        self.assertIn(first["id"], made_default())
        second = self.card(c["id"], GOOD, default=True)
        self.assertTrue(second["is_default"])
        self.assertIn(second["id"], made_default())
        before = len(made_default())
        self.ok(self.m.post("/customers/%s/payment_methods/%s/default" % (c["id"], first["id"])))
        self.assertEqual(len(made_default()), before + 1)

    def test_merchant_chosen_ids_keep_all_64_characters(self):
        c = self.customer()
        sid = "s" * 64
        s = self.sub(c["id"], id=sid)
        self.assertEqual(s["id"], sid)
        self.assertEqual(self.get_sub(sid)["id"], sid)


class Details(Rules):
    def test_an_issued_invoice_keeps_the_buyer_details_it_was_issued_with(self):
        c = self.customer(name="Ada Lovelace", company="Analytical Engines Ltd",
                          tax_id={"type": "gb_vat", "value": "GB980780684"})
        self.assertEqual((c["company"], c["tax_id"]),
                         ("Analytical Engines Ltd", {"type": "gb_vat", "value": "GB980780684"}))
        s = self.sub(c["id"])
        self.ok(self.m.post("/customers/" + c["id"], {"name": "Ada King", "company": None}))
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual((inv["customer_details"]["name"], inv["customer_details"]["company"]),
                         ("Ada Lovelace", "Analytical Engines Ltd"))
        self.assertEqual(inv["seller_details"]["name"], "Site " + self.m.site_id)


class Entitlements(Rules):
    def test_entitlements_follow_the_subscriptions(self):
        self.ok(self.m.post("/plans", {"id": "team", "name": "Team", "amount": 5000,
                                       "currency": "USD", "interval": "month",
                                       "features": [{"key": "seats", "name": "Seats",
                                                     "value": 5},
                                                    {"key": "sso", "name": "SSO"}]}))
        self.ok(self.m.post("/plans/basic", {"features": [{"key": "seats", "name": "Seats",
                                                           "value": 1}]}))
        c = self.customer()
        self.sub(c["id"], "team")
        b = self.sub(c["id"], "basic")
        ents = {e["key"]: e for e in self.ok(self.m.get(
            "/customers/%s/entitlements" % c["id"]))["data"]}
        self.assertEqual((ents["seats"]["value"], ents["sso"]["value"]), (6, None))
        evs = self.ok(self.m.get("/events?type=entitlements.updated"))["data"]
        self.assertGreaterEqual(len(evs), 2)
        self.ok(self.action(b["id"], "pause", {"when": "now"}))
        ents = {e["key"]: e for e in self.ok(self.m.get(
            "/customers/%s/entitlements" % c["id"]))["data"]}
        self.assertEqual(ents["seats"]["value"], 5)

    def test_the_runner_updates_entitlements_at_trial_end_cancel(self):
        self.ok(self.m.post("/plans/basic", {"features": [{"key": "api", "name": "API"}]}))
        c = self.customer()
        s = self.sub(c["id"], trial_days=7)
        self.ok(self.action(s["id"], "cancel", {"when": "end_of_term"}))
        before = len(self.ok(self.m.get("/events?type=entitlements.updated"))["data"])
        self.travel_to(s["trial_end"] + 1)
        self.assertEqual(self.ok(self.m.get("/customers/%s/entitlements" % c["id"]))["data"],
                         [])
        evs = self.ok(self.m.get("/events?type=entitlements.updated"))["data"]
        self.assertEqual(len(evs), before + 1)
        self.assertEqual(evs[0]["actor"]["type"], "job_runner")


if __name__ == "__main__":
    unittest.main()
