"""test_billing.py: plans, subscriptions, invoices, the test gateway, the job runner with the
time machine, dunning, events and signed webhooks, through nginx against the real stack."""
import calendar
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import unittest

from harness import stack

GOOD, DECLINE, NO_FUNDS, EXPIRED, ATTACH_THEN_DECLINE = (
    "4242424242424242", "4000000000000002", "4000000000009995", "4000000000000069",
    "4000000000000341")


class Base(unittest.TestCase):
    """Helpers; tests live in the subclasses."""

    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("bill")
        self.basic = self.plan("basic", 1000)
        self.pro = self.plan("pro", 3000)

    # ---- helpers ----
    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def plan(self, pid, amount, interval="month", count=1, trial=0, currency="USD"):
        return self.ok(self.m.post("/plans", {"id": pid, "name": pid.title(), "amount": amount,
                                              "currency": currency, "interval": interval,
                                              "interval_count": count, "trial_days": trial}))

    def now(self):
        return self.ok(self.m.get("/time_machine"))["now"]

    def card(self, cus, number=GOOD, exp=(12, 2099), default=None):
        tok = self.ok(self.m.post("/test_gateway/tokens", {"number": number, "exp_month": exp[0],
                                                           "exp_year": exp[1]}))
        body = {"token": tok["id"]}
        if default is not None:
            body["default"] = default
        return self.ok(self.m.post("/customers/%s/payment_methods" % cus, body))

    def customer(self, number=GOOD, **kw):
        c = self.m.customer(**kw)
        if number:
            self.card(c["id"], number)
        return c

    def sub(self, cus, plan="basic", **kw):
        body = {"customer_id": cus, "plan_id": plan}
        body.update(kw)
        return self.ok(self.m.post("/subscriptions", body))

    def get_sub(self, sid):
        return self.ok(self.m.get("/subscriptions/" + sid))

    def invoices(self, **q):
        query = "&".join("%s=%s" % kv for kv in q.items())
        return self.ok(self.m.get("/invoices?limit=100&" + query))["data"]

    def settle(self, timeout=60):
        """Waits until the job runner has done everything due at the site's clock."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ok(self.m.get("/time_machine"))["pending_jobs"] == 0:
                return
            time.sleep(0.05)
        self.fail("the job runner did not catch up:\n" + self.s.tail_logs(20))

    def travel_to(self, when):
        now = self.now()
        if when > now:
            self.ok(self.m.post("/time_machine/travel_forward", {"destination_time": when}))
        self.settle()

    def action(self, sid, what, body=None):
        return self.m.post("/subscriptions/%s/%s" % (sid, what), body or {})

    def assertIllegal(self, r):
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "invalid_state_transition")


class Billing(Base):
    # ---- plans ----
    def test_plan_fields_and_validation(self):
        p = self.ok(self.m.get("/plans/basic"))
        self.assertEqual((p["object"], p["amount"], p["currency"], p["interval"],
                          p["interval_count"]), ("plan", 1000, "USD", "month", 1))
        for body, param in (({"name": "x", "amount": -1, "currency": "USD", "interval": "month"},
                             "amount"),
                            ({"name": "x", "amount": 1, "currency": "usd", "interval": "month"},
                             "currency"),
                            ({"name": "x", "amount": 1, "currency": "USD", "interval": "fortnight"},
                             "interval")):
            r = self.m.post("/plans", body)
            self.assertEqual(r.status, 400)
            self.assertEqual(r.json["error"]["param"], param)

    def test_archived_plan_takes_no_new_subscriptions_but_keeps_old(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.ok(self.m.post("/plans/basic/archive"))
        r = self.m.post("/subscriptions", {"customer_id": c["id"], "plan_id": "basic"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["code"], "plan_archived")
        self.assertEqual(self.get_sub(s["id"])["status"], "active")

    # ---- test gateway ----
    def test_each_test_card_has_its_outcome(self):
        for number, outcome in ((GOOD, "succeeded"), (DECLINE, "declined"),
                                (NO_FUNDS, "insufficient_funds"), (EXPIRED, "expired_card"),
                                (ATTACH_THEN_DECLINE, "declined")):
            c = self.customer(number)
            s = self.sub(c["id"])
            inv = self.invoices(subscription_id=s["id"])[0]
            self.assertEqual(inv["payment_attempts"][-1]["outcome"], outcome, number)
            self.assertEqual(inv["status"], "paid" if outcome == "succeeded" else "open")
            self.assertEqual(self.get_sub(s["id"])["status"],
                             "active" if outcome == "succeeded" else "past_due")

    def test_unknown_card_number_is_refused(self):
        r = self.m.post("/test_gateway/tokens", {"number": "4111111111111111", "exp_month": 1,
                                                 "exp_year": 2099})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "number")

    def test_only_token_brand_last4_and_expiry_are_stored(self):
        c = self.customer(None)
        pm = self.card(c["id"], GOOD)
        self.assertEqual((pm["brand"], pm["last4"], pm["exp_month"], pm["exp_year"]),
                         ("visa", "4242", 12, 2099))
        dump = self.s.psql("SELECT row_to_json(p)::text FROM payment_methods p "
                           "WHERE site_id = '%s'" % self.m.site_id)[0][0]
        dump += self.s.psql("SELECT row_to_json(t)::text FROM test_gateway_tokens t "
                            "WHERE site_id = '%s'" % self.m.site_id)[0][0]
        self.assertNotIn(GOOD, dump)
        self.assertNotIn("42424242", dump)

    def test_last_card_of_live_subscription_cannot_be_detached(self):
        c = self.customer()
        self.sub(c["id"])
        pm = self.ok(self.m.get("/customers/%s/payment_methods" % c["id"]))["data"][0]
        r = self.m.call("DELETE", "/customers/%s/payment_methods/%s" % (c["id"], pm["id"]))
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["code"], "last_payment_method")
        second = self.card(c["id"], GOOD)
        self.ok(self.m.call("DELETE", "/customers/%s/payment_methods/%s" % (c["id"], pm["id"])))
        left = self.ok(self.m.get("/customers/%s/payment_methods" % c["id"]))["data"]
        self.assertEqual([p["id"] for p in left], [second["id"]])
        self.assertTrue(left[0]["is_default"])

    def test_concurrent_default_cards_conflict_cleanly(self):
        c = self.customer(None)
        toks = [self.ok(self.m.post("/test_gateway/tokens", {"number": GOOD, "exp_month": 12,
                                                             "exp_year": 2099}))["id"]
                for _ in range(10)]
        statuses = []

        conflicted = []

        def attach(tok):
            r = self.m.post("/customers/%s/payment_methods" % c["id"],
                            {"token": tok, "default": True}, headers={"Idempotency-Key": tok})
            statuses.append(r.status)
            if r.status == 409:
                conflicted.append(tok)
        threads = [threading.Thread(target=attach, args=(t,)) for t in toks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(set(statuses) <= {200, 409}, statuses)   # never a 500
        self.assertIn(200, statuses)
        pms = self.ok(self.m.get("/customers/%s/payment_methods" % c["id"]))["data"]
        self.assertEqual(len(pms), statuses.count(200))          # a 409 left nothing behind
        self.assertEqual(sum(p["is_default"] for p in pms), 1)
        # The conflict was not stored against the key: the same request now goes through.
        for tok in conflicted:
            r = self.m.post("/customers/%s/payment_methods" % c["id"],
                            {"token": tok, "default": True}, headers={"Idempotency-Key": tok})
            self.assertEqual(r.status, 200, r)
            self.assertIsNone(r.header("idempotent-replayed"))

    def test_another_customers_card_is_404(self):
        a = self.customer()
        b = self.customer()
        pm = self.ok(self.m.get("/customers/%s/payment_methods" % a["id"]))["data"][0]
        r = self.m.post("/customers/%s/payment_methods/%s/default" % (b["id"], pm["id"]))
        self.assertEqual(r.status, 404)

    # ---- state machine ----
    def test_trial_then_first_charge(self):
        c = self.customer()
        s = self.sub(c["id"], trial_days=14)
        self.assertEqual(s["status"], "in_trial")
        self.assertEqual(s["trial_end"] - s["current_term_start"], 14 * 86400)
        self.assertEqual(self.invoices(subscription_id=s["id"]), [])
        self.travel_to(s["trial_end"] + 1)
        s = self.get_sub(s["id"])
        self.assertEqual(s["status"], "active")
        invs = self.invoices(subscription_id=s["id"])
        self.assertEqual([(i["status"], i["total"]) for i in invs], [("paid", 1000)])

    def test_legal_and_illegal_transitions(self):
        c = self.customer()
        s = self.sub(c["id"])["id"]
        self.assertIllegal(self.action(s, "resume"))
        self.assertIllegal(self.action(s, "reactivate"))
        self.assertEqual(self.ok(self.action(s, "cancel", {"when": "end_of_term",
                                                           "reason": "too_expensive",
                                                           "comment": "line one\nline two"})
                                 )["status"], "non_renewing")
        self.assertIllegal(self.action(s, "cancel", {"when": "end_of_term"}))
        self.assertIllegal(self.action(s, "pause"))
        self.assertIllegal(self.action(s, "change_plan", {"plan_id": "pro"}))
        self.assertEqual(self.ok(self.action(s, "reactivate"))["status"], "active")
        self.assertEqual(self.ok(self.action(s, "pause"))["status"], "paused")
        self.assertIllegal(self.action(s, "pause"))
        self.assertIllegal(self.action(s, "change_plan", {"plan_id": "pro"}))
        self.assertEqual(self.ok(self.action(s, "resume"))["status"], "active")
        cancelled = self.ok(self.action(s, "cancel", {"when": "now", "reason": "unused"}))
        self.assertEqual(cancelled["status"], "cancelled")
        self.assertEqual(cancelled["cancel_reason"], "unused")
        self.assertIsNone(cancelled["next_billing_at"])
        self.assertIllegal(self.action(s, "cancel", {"when": "now"}))
        self.assertIllegal(self.action(s, "pause"))
        self.assertIllegal(self.action(s, "resume"))
        again = self.ok(self.action(s, "reactivate", {"plan_id": "pro"}))
        self.assertEqual((again["status"], again["plan_id"]), ("active", "pro"))

    # Every API action from every status, expected from the declared state machine
    # (`portalctl subscription-rules` prints the table the executor runs).
    ACTIONS = (("cancel", "now", {"when": "now"}),
               ("cancel", "end_of_term", {"when": "end_of_term"}),
               ("reactivate", None, {}), ("pause", "now", {}), ("resume", "now", {}),
               ("change_plan", "now", {"plan_id": "pro"}),
               ("change_plan", "end_of_term", {"plan_id": "pro", "when": "end_of_term"}))
    STATUSES = ("in_trial", "active", "non_renewing", "past_due", "paused", "cancelled")

    def expected(self, rules, status, op, variant):
        """The statuses the table allows this action to lead to; empty when illegal."""
        out = set()
        for r in rules:
            if r["op"] == op and (variant is None or r["variant"] == variant) \
                    and status in r["from"]:
                to = r["to"] or status
                out |= {"active", "non_renewing"} if to == "active_or_non_renewing" else {to}
        return out

    def make_in(self, status):
        c = self.customer(DECLINE if status == "past_due" else GOOD)
        s = self.sub(c["id"], trial_days=7 if status == "in_trial" else 0)["id"]
        if status == "non_renewing":
            self.ok(self.action(s, "cancel", {"when": "end_of_term"}))
        elif status == "paused":
            self.ok(self.action(s, "pause"))
        elif status == "cancelled":
            self.ok(self.action(s, "cancel", {"when": "now"}))
        self.assertEqual(self.get_sub(s)["status"], status)
        return s

    def test_every_transition_from_every_status(self):
        out = subprocess.run([os.path.join(self.s.bin_dir, "portalctl"), "subscription-rules"],
                             capture_output=True, text=True, check=True)
        rules = json.loads(out.stdout)
        self.assertGreater(len(rules), 10)
        legal = 0
        for status in self.STATUSES:
            for op, variant, body in self.ACTIONS:
                want = self.expected(rules, status, op, variant)
                with self.subTest(status=status, action=op, variant=variant):
                    s = self.make_in(status)
                    r = self.action(s, op, body)
                    if not want:
                        self.assertIllegal(r)
                        self.assertIn(status, r.json["error"]["message"])
                        self.assertEqual(self.get_sub(s)["status"], status)
                    else:
                        legal += 1
                        self.assertEqual(r.status, 200, r)
                        self.assertIn(r.json["status"], want)
        self.assertGreater(legal, 10)

    def test_trial_cancelled_at_end_is_never_charged(self):
        c = self.customer()
        s = self.sub(c["id"], trial_days=7)
        self.ok(self.action(s["id"], "cancel", {"when": "end_of_term"}))
        self.travel_to(s["trial_end"] + 1)
        self.assertEqual(self.get_sub(s["id"])["status"], "cancelled")
        self.assertEqual(self.invoices(subscription_id=s["id"]), [])

    def test_past_due_transitions(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])["id"]
        self.assertEqual(self.get_sub(s)["status"], "past_due")
        self.assertIllegal(self.action(s, "cancel", {"when": "end_of_term"}))
        self.assertIllegal(self.action(s, "pause"))
        self.assertIllegal(self.action(s, "change_plan", {"plan_id": "pro"}))
        self.assertEqual(self.ok(self.action(s, "cancel", {"when": "now"}))["status"], "cancelled")

    def test_cancel_reason_must_be_the_sites(self):
        c = self.customer()
        s = self.sub(c["id"])["id"]
        r = self.action(s, "cancel", {"when": "now", "reason": "because"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "reason")
        self.assertEqual(self.get_sub(s)["status"], "active")

    def test_end_of_term_cancel_takes_effect_at_term_end(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.ok(self.action(s["id"], "cancel", {"when": "end_of_term"}))
        self.assertIsNone(self.get_sub(s["id"])["next_amount"])
        self.travel_to(s["current_term_end"] + 1)
        done = self.get_sub(s["id"])
        self.assertEqual(done["status"], "cancelled")
        self.assertEqual(done["cancelled_at"], s["current_term_end"])
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 1)

    def test_pause_until_date_resumes_with_new_term(self):
        c = self.customer()
        s = self.sub(c["id"])
        resume = self.now() + 10 * 86400
        p = self.ok(self.action(s["id"], "pause", {"resume_at": resume}))
        self.assertEqual((p["status"], p["resume_at"], p["next_billing_at"]),
                         ("paused", resume, None))
        self.travel_to(resume + 1)
        r = self.get_sub(s["id"])
        self.assertEqual(r["status"], "active")
        self.assertEqual(r["current_term_start"], resume)
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 2)

    def test_other_sites_subscription_is_404(self):
        c = self.customer()
        s = self.sub(c["id"])
        other = self.s.new_site("bill2")
        self.assertEqual(other.get("/subscriptions/" + s["id"]).status, 404)
        self.assertEqual(other.post("/subscriptions/%s/cancel" % s["id"], {"when": "now"}).status,
                         404)
        self.assertEqual(other.get("/invoices/" + self.invoices()[0]["id"]).status, 404)

    def test_subscription_list_filters_and_paginates(self):
        a = self.customer()
        b = self.customer()
        mine = [self.sub(a["id"])["id"] for _ in range(5)]
        self.sub(b["id"])
        self.ok(self.action(mine[0], "cancel", {"when": "now"}))
        seen, after = [], None
        while True:
            q = "/subscriptions?customer_id=%s&limit=2" % a["id"]
            page = self.ok(self.m.get(q + ("&starting_after=" + after if after else "")))
            seen += [x["id"] for x in page["data"]]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(sorted(seen), sorted(mine))
        active = self.ok(self.m.get("/subscriptions?customer_id=%s&status=active" % a["id"]))
        self.assertEqual(sorted(x["id"] for x in active["data"]), sorted(mine[1:]))

    # ---- proration ----
    def test_upgrade_mid_term_prorates_and_preview_equals_invoice(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(s["current_term_start"] + 10 * 86400 + 3 * 3600)
        preview = self.ok(self.action(s["id"], "change_plan/preview", {"plan_id": "pro"}))
        term = s["current_term_end"] - s["current_term_start"]
        rest = s["current_term_end"] - preview["proration_date"]
        credit = (1000 * rest * 2 + term) // (2 * term)
        charge = (3000 * rest * 2 + term) // (2 * term)
        # The unused time goes to the credit balance, which the new invoice then uses.
        self.assertEqual([c["amount"] for c in preview["credits"]], [credit])
        self.assertEqual([(l["kind"], l["amount"]) for l in preview["lines"]],
                         [("proration_charge", charge)])
        self.assertEqual((preview["total"], preview["credit_applied"], preview["amount_due"]),
                         (charge, credit, charge - credit))
        self.assertEqual(self.get_sub(s["id"])["plan_id"], "basic")  # preview changes nothing
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 1)
        self.assertEqual(self.ok(self.m.get("/customers/" + c["id"]))["credit_balances"], {})
        changed = self.ok(self.action(s["id"], "change_plan",
                                      {"plan_id": "pro",
                                       "proration_date": preview["proration_date"]}))
        self.assertEqual(changed["plan_id"], "pro")
        self.assertEqual(changed["current_term_end"], s["current_term_end"])
        inv = max(self.invoices(subscription_id=s["id"]), key=lambda i: i["number"])
        self.assertEqual([(l["kind"], l["amount"]) for l in inv["lines"]],
                         [(l["kind"], l["amount"]) for l in preview["lines"]])
        self.assertEqual((inv["total"], inv["credit_applied"], inv["amount_due"]),
                         (preview["total"], preview["credit_applied"], preview["amount_due"]))
        self.assertEqual(inv["status"], "paid")

    def test_downgrade_mid_term_credits_the_next_invoice(self):
        c = self.customer()
        s = self.sub(c["id"], plan="pro")
        self.travel_to(s["current_term_start"] + 15 * 86400)
        self.ok(self.action(s["id"], "change_plan", {"plan_id": "basic"}))
        down = max(self.invoices(subscription_id=s["id"]), key=lambda i: i["number"])
        # Never a negative invoice: the charge for the rest of the term is paid from the
        # credit for the unused time, and the rest of that credit waits on the balance.
        self.assertGreater(down["total"], 0)
        self.assertEqual((down["credit_applied"], down["amount_due"], down["status"]),
                         (down["total"], 0, "paid"))
        credit = self.ok(self.m.get("/customers/" + c["id"]))["credit_balances"]["USD"]
        self.assertGreater(credit, 0)
        self.travel_to(s["current_term_end"] + 1)
        renewal = max(self.invoices(subscription_id=s["id"]), key=lambda i: i["number"])
        self.assertEqual(renewal["subtotal"], 1000)
        self.assertEqual(renewal["credit_applied"], min(credit, 1000))
        self.assertEqual(renewal["amount_due"], 1000 - min(credit, 1000))

    def test_change_at_end_of_term_is_scheduled(self):
        c = self.customer()
        s = self.sub(c["id"])
        r = self.ok(self.action(s["id"], "change_plan", {"plan_id": "pro", "when": "end_of_term"}))
        self.assertEqual((r["plan_id"], r["scheduled_plan_id"]), ("basic", "pro"))
        self.travel_to(s["current_term_end"] + 1)
        after = self.get_sub(s["id"])
        self.assertEqual((after["plan_id"], after["scheduled_plan_id"]), ("pro", None))
        self.assertEqual(self.invoices(subscription_id=s["id"])[0]["total"], 3000)

    def test_proration_date_outside_term_is_400(self):
        c = self.customer()
        s = self.sub(c["id"])
        r = self.action(s["id"], "change_plan/preview", {"plan_id": "pro",
                                                         "proration_date": s["current_term_start"] - 10})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "proration_date")

    # ---- renewals ----
    def test_a_year_of_monthly_renewals(self):
        c = self.customer()
        s = self.sub(c["id"])
        for _ in range(12):
            cur = self.get_sub(s["id"])
            self.travel_to(cur["next_billing_at"] + 1)
        invs = self.invoices(subscription_id=s["id"])
        self.assertEqual(len(invs), 13)
        self.assertTrue(all(i["status"] == "paid" and i["total"] == 1000 for i in invs))
        numbers = sorted(i["number"] for i in invs)
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 13)))
        # Calendar months: every term starts on the anchor day (or the month's last day).
        anchor = time.gmtime(s["current_term_start"]).tm_mday
        for i in invs:
            start = time.gmtime(i["lines"][0]["period_start"])
            last = calendar.monthrange(start.tm_year, start.tm_mon)[1]
            self.assertEqual(start.tm_mday, min(anchor, last))
        final = self.get_sub(s["id"])
        self.assertEqual(final["status"], "active")
        self.assertEqual(time.gmtime(final["current_term_start"])[:2][0],
                         time.gmtime(s["current_term_start"]).tm_year + 1)

    def test_full_dunning_cycle_ends_in_cancellation(self):
        c = self.customer(ATTACH_THEN_DECLINE)
        s = self.sub(c["id"])
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual((inv["status"], inv["attempt_count"]), ("open", 1))
        self.assertEqual(self.get_sub(s["id"])["status"], "past_due")
        for day, attempts in ((1, 2), (3, 3), (5, 4)):
            self.assertEqual(inv["next_attempt_at"], inv["created_at"] + day * 86400)
            self.travel_to(inv["next_attempt_at"] + 1)
            inv = self.ok(self.m.get("/invoices/" + inv["id"]))
            self.assertEqual(inv["attempt_count"], attempts)
        self.assertIsNone(inv["next_attempt_at"])
        self.assertEqual(self.get_sub(s["id"])["status"], "cancelled")
        self.assertEqual(self.get_sub(s["id"])["cancel_reason"], "not_paid")
        failed = self.ok(self.m.get("/events?type=invoice.payment_failed&limit=100"))["data"]
        self.assertEqual(len([e for e in failed if e["object_id"] == inv["id"]]), 4)

    def test_dunning_per_site_schedule_and_uncollectible(self):
        out = self.s.portalctl("site", "dunning", self.m.site_id, "--retry-days", "2",
                               "--final", "mark_uncollectible")
        self.assertEqual(out["dunning_schedule_seconds"], [2 * 86400])
        c = self.customer(ATTACH_THEN_DECLINE)
        s = self.sub(c["id"])
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual(inv["next_attempt_at"], inv["created_at"] + 2 * 86400)
        self.travel_to(inv["next_attempt_at"] + 1)
        inv = self.ok(self.m.get("/invoices/" + inv["id"]))
        self.assertEqual((inv["status"], inv["attempt_count"]), ("uncollectible", 2))
        self.assertEqual(self.get_sub(s["id"])["status"], "active")

    def test_expired_card_fixed_by_new_card_pays_at_once(self):
        now = self.now()
        t = time.gmtime(now)
        c = self.m.customer()
        self.card(c["id"], GOOD, exp=(t.tm_mon, t.tm_year))   # expires at this month's end
        s = self.sub(c["id"])
        self.travel_to(self.get_sub(s["id"])["next_billing_at"] + 1)
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual(inv["payment_attempts"][-1]["outcome"], "expired_card")
        self.assertEqual(self.get_sub(s["id"])["status"], "past_due")
        self.card(c["id"], GOOD, default=True)
        inv = self.ok(self.m.get("/invoices/" + inv["id"]))
        self.assertEqual(inv["status"], "paid")
        self.assertEqual(self.get_sub(s["id"])["status"], "active")

    def test_one_broken_subscription_does_not_block_the_others(self):
        c1, c2 = self.customer(), self.customer()
        bad = self.sub(c1["id"])
        good = self.sub(c2["id"])
        # Break one row behind the API's back: its plan no longer exists.
        self.s.psql("SET session_replication_role = replica; UPDATE subscriptions "
                    "SET plan_id = 'ghost' WHERE site_id = '%s' AND id = '%s'"
                    % (self.m.site_id, bad["id"]))
        # Set aside, it would stay due for the rest of the run on this shared stack, and
        # /healthz's job lag (test_operations) would count it: not due once this is done.
        self.addCleanup(self.s.psql, "UPDATE subscriptions SET next_billing_at = NULL "
                        "WHERE site_id = '%s' AND id = '%s'" % (self.m.site_id, bad["id"]))
        self.ok(self.m.post("/time_machine/travel_forward",
                            {"destination_time": good["current_term_end"] + 1}))
        deadline = time.time() + 20
        while time.time() < deadline and len(self.invoices(subscription_id=good["id"])) < 2:
            time.sleep(0.05)
        self.assertEqual(len(self.invoices(subscription_id=good["id"])), 2)
        while time.time() < deadline and \
                self.ok(self.m.get("/time_machine"))["pending_jobs"] > 1:
            time.sleep(0.05)
        self.assertEqual(self.ok(self.m.get("/time_machine"))["pending_jobs"], 1)
        self.assertIn("set aside", self.s.log_text())

    def test_customer_with_billing_history_is_not_deleted(self):
        c = self.customer()
        s = self.sub(c["id"])
        r = self.m.call("DELETE", "/customers/" + c["id"])
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["code"], "customer_has_billing_history")
        self.ok(self.action(s["id"], "cancel", {"when": "now"}))
        # Cancelled, but its invoices are records with numbers that must not vanish.
        self.assertEqual(self.m.call("DELETE", "/customers/" + c["id"]).status, 409)
        self.assertEqual(self.get_sub(s["id"])["status"], "cancelled")
        self.assertEqual(len(self.invoices(customer_id=c["id"])), 1)
        bare = self.customer()   # a card but no billing: may go
        self.ok(self.m.call("DELETE", "/customers/" + bare["id"]))

    def test_void_of_the_last_open_invoice_restores_the_subscription(self):
        # One retry after 40 days: the renewal raises a second invoice before dunning ends.
        self.s.portalctl("site", "dunning", self.m.site_id, "--retry-days", "40")
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        self.travel_to(self.get_sub(s["id"])["next_billing_at"] + 1)
        first, second = sorted(self.invoices(subscription_id=s["id"], status="open"),
                               key=lambda i: i["number"])
        self.ok(self.m.post("/invoices/%s/void" % first["id"]))
        self.assertEqual(self.get_sub(s["id"])["status"], "past_due")  # one still unpaid
        self.ok(self.m.post("/invoices/%s/void" % second["id"]))
        self.assertEqual(self.get_sub(s["id"])["status"], "active")

    def test_pay_and_void(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        inv = self.invoices(subscription_id=s["id"])[0]
        again = self.ok(self.m.post("/invoices/%s/pay" % inv["id"]))
        self.assertEqual((again["status"], again["attempt_count"]), ("open", 2))
        voided = self.ok(self.m.post("/invoices/%s/void" % inv["id"]))
        self.assertEqual(voided["status"], "void")
        self.assertEqual(self.m.post("/invoices/%s/void" % inv["id"]).status, 409)
        self.assertEqual(self.m.post("/invoices/%s/pay" % inv["id"]).status, 409)

    def test_refunds_partial_then_rest(self):
        c = self.customer()
        s = self.sub(c["id"], plan="pro")
        inv = self.invoices(subscription_id=s["id"])[0]
        part = self.ok(self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 1000}))
        self.assertEqual(part["amount_refunded"], 1000)
        self.assertEqual([(p["kind"], p["outcome"], p["amount"]) for p in part["payment_attempts"]],
                         [("charge", "succeeded", 3000), ("refund", "succeeded", 1000)])
        too_much = self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 2001})
        self.assertEqual(too_much.status, 400)
        self.assertEqual(too_much.json["error"]["param"], "amount")
        rest = self.ok(self.m.post("/invoices/%s/refund" % inv["id"]))
        self.assertEqual(rest["amount_refunded"], 3000)
        self.assertEqual(self.m.post("/invoices/%s/refund" % inv["id"]).status, 400)
        types = [e["type"] for e in self.ok(self.m.get("/events?type=invoice.refunded"))["data"]]
        self.assertEqual(len(types), 2)

    def test_refund_of_unpaid_invoice_is_409(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        inv = self.invoices(subscription_id=s["id"])[0]
        r = self.m.post("/invoices/%s/refund" % inv["id"])
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["code"], "invoice_not_paid")

    def test_card_added_after_failure_is_used_at_once(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        self.assertEqual(self.get_sub(s["id"])["status"], "past_due")
        pm = self.card(c["id"], GOOD)            # no "default": it becomes the default
        self.assertTrue(pm["is_default"])
        inv = self.invoices(subscription_id=s["id"])[0]
        self.assertEqual((inv["status"], inv["payment_attempts"][-1]["payment_method_id"]),
                         ("paid", pm["id"]))
        self.assertEqual(self.get_sub(s["id"])["status"], "active")

    def test_card_added_as_non_default_is_not_charged(self):
        c = self.customer(DECLINE)
        s = self.sub(c["id"])
        pm = self.card(c["id"], GOOD, default=False)
        self.assertFalse(pm["is_default"])
        self.assertEqual(self.invoices(subscription_id=s["id"])[0]["status"], "open")

    def test_every_change_writes_an_event(self):
        c = self.customer()
        s = self.sub(c["id"])
        self.ok(self.action(s["id"], "cancel", {"when": "now"}))
        types = {e["type"] for e in self.ok(self.m.get("/events?limit=100"))["data"]}
        for t in ("plan.created", "customer.created", "payment_method.attached",
                  "subscription.created", "invoice.created", "invoice.paid",
                  "subscription.cancelled"):
            self.assertIn(t, types)


class Receiver:
    """A webhook receiver on loopback that records what it gets."""

    def __init__(self, port=0):
        self.got = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                rec.got.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", port), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Webhooks(Base):
    def wait(self, cond, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.05)
        return False

    def test_delivery_is_signed_and_verifiable(self):
        rx = Receiver()
        try:
            ep = self.ok(self.m.post("/webhook_endpoints", {
                "url": "http://127.0.0.1:%d/hook" % rx.port,
                "enabled_events": ["subscription.created"]}))
            self.assertTrue(ep["secret"].startswith("whsec_"))
            self.assertNotIn("secret", self.ok(self.m.get("/webhook_endpoints"))["data"][0])
            c = self.customer()
            s = self.sub(c["id"])
            self.assertTrue(self.wait(lambda: rx.got), "no delivery arrived")
            headers, body = rx.got[0]
            sig = dict(kv.split("=", 1) for kv in headers["Portald-Signature"].split(","))
            expect = hmac.new(ep["secret"].encode(), sig["t"].encode() + b"." + body,
                              hashlib.sha256).hexdigest()
            self.assertTrue(hmac.compare_digest(sig["v1"], expect))
            self.assertLess(abs(int(sig["t"]) - time.time()), 60)
            event = json.loads(body)
            self.assertEqual((event["type"], event["data"]["id"]), ("subscription.created", s["id"]))
            self.assertEqual(len(rx.got), 1, "only the subscribed event type")
        finally:
            rx.close()

    def test_delivery_retried_after_receiver_was_down(self):
        from harness import free_port
        port = free_port()
        ep = self.ok(self.m.post("/webhook_endpoints", {"url": "http://127.0.0.1:%d/" % port,
                                                        "enabled_events": ["customer.created"]}))
        c = self.m.customer()
        events = self.ok(self.m.get("/events?type=customer.created"))["data"]
        evt = [e for e in events if e["object_id"] == c["id"]][0]
        self.assertTrue(self.wait(lambda: self.ok(self.m.get("/events/" + evt["id"]))
                                  ["deliveries"][0]["attempts"] >= 1))
        d = self.ok(self.m.get("/events/" + evt["id"]))["deliveries"][0]
        self.assertEqual((d["status"], d["webhook_endpoint_id"]), ("pending", ep["id"]))
        self.assertIsNotNone(d["last_error"])
        rx = Receiver(port)
        try:
            self.travel_to(d["next_attempt_at"] + 1)
            self.assertTrue(self.wait(lambda: rx.got))
            d = self.ok(self.m.get("/events/" + evt["id"]))["deliveries"][0]
            self.assertEqual((d["status"], d["attempts"]), ("succeeded", 2))
            log = d["attempt_log"]
            self.assertEqual(len(log), 2)
            self.assertIsNone(log[0]["http_status"])
            self.assertIsNotNone(log[0]["error"])
            self.assertEqual((log[1]["http_status"], log[1]["error"]), (200, None))
            # Replay on demand: a new delivery of the same event.
            again = self.ok(self.m.post("/events/%s/resend" % evt["id"]))
            self.assertEqual(len(again["deliveries"]), 2)
            self.assertTrue(self.wait(lambda: len(rx.got) == 2))
            # An event that is not there (or another site's) is not found, and sends
            # nothing.
            r = self.m.post("/events/evt_%s/resend" % ("0" * 24))
            self.assertEqual((r.status, r.json["error"]["code"]), (404, "resource_missing"), r)
            self.assertEqual(len(self.ok(self.m.get("/events/" + evt["id"]))["deliveries"]),
                             2)
        finally:
            rx.close()

    def test_delivery_gives_up_after_three_days(self):
        from harness import free_port
        self.ok(self.m.post("/webhook_endpoints", {"url": "http://127.0.0.1:%d/" % free_port(),
                                                   "enabled_events": ["customer.created"]}))
        c = self.m.customer()
        evt = [e for e in self.ok(self.m.get("/events?type=customer.created"))["data"]
               if e["object_id"] == c["id"]][0]
        for _ in range(40):
            d = self.ok(self.m.get("/events/" + evt["id"]))["deliveries"][0]
            if d["status"] != "pending":
                break
            if d["next_attempt_at"]:
                self.travel_to(d["next_attempt_at"] + 1)
            else:
                time.sleep(0.05)
        self.assertEqual(d["status"], "failed")
        self.assertGreater(d["attempts"], 5)
        self.assertLessEqual(d["updated_at"] - evt["created_at"], 3 * 86400 + 6 * 3600)


class Concurrency(Base):
    def test_two_runners_charge_each_of_1000_due_subscriptions_once(self):
        n = 1000
        subs = []
        for i in range(n):
            c = self.m.customer(id="cc%04d" % i)
            self.card(c["id"], GOOD)
            subs.append(self.sub(c["id"])["id"])
        first_end = self.get_sub(subs[0])["current_term_end"]
        conf = os.path.join(self.s.state, "portald.conf")
        second = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config", conf,
                                   "--jobs-only"], stderr=subprocess.PIPE)
        try:
            time.sleep(0.3)
            self.ok(self.m.post("/time_machine/travel_forward",
                                {"destination_time": first_end + 3600}))
            self.settle(timeout=240)
        finally:
            second.terminate()
            err = second.communicate(timeout=20)[1].decode(errors="replace")
        self.assertEqual(second.returncode, 0, err[-2000:])
        rows = self.s.psql(
            "SELECT count(*), count(DISTINCT subscription_id) FROM invoices WHERE site_id = '%s'"
            % self.m.site_id)
        self.assertEqual(rows[0], [str(2 * n), str(n)])
        dup = self.s.psql("SELECT invoice_id FROM payment_attempts WHERE site_id = '%s' "
                          "GROUP BY invoice_id HAVING count(*) <> 1" % self.m.site_id)
        self.assertEqual(dup, [])
        numbers = self.s.psql("SELECT count(DISTINCT number), min(number), max(number) "
                              "FROM invoices WHERE site_id = '%s'" % self.m.site_id)[0]
        self.assertEqual(numbers, [str(2 * n), "1", str(2 * n)])
        self.assertIn("jobs: runner started", err)


if __name__ == "__main__":
    unittest.main()
