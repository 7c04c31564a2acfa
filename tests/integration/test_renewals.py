"""test_renewals.py: the job runner's batched renewals. Due subscriptions are claimed
several at a time (FOR UPDATE SKIP LOCKED) and renewed in one transaction, each in a
savepoint of its own; their charges are made after the commit and the answers recorded
together. Checked here: one renewal that fails leaves the others of its batch renewed and
nothing of itself behind; two runners at once renew every due subscription exactly once;
a runner killed in the middle of a batch, and again in the middle of its charges, loses
nothing and does nothing twice."""
import os
import re
import signal
import subprocess
import time
import unittest

from test_billing import Base, GOOD
from test_runner import children

SLOW = "4000000000000259"       # the test gateway answers after 3 s, the charge made


def resume(pid):
    """SIGCONT to a lane held with SIGSTOP, if it is still there."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


class Renewals(Base):
    def setUp(self):
        super().setUp()
        self.plan("daily", 100, interval="day")
        self.extra = []

    def tearDown(self):
        for p in self.extra:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # ---- helpers ----
    def q(self, sql):
        return self.s.psql(sql.replace("$SITE", "'%s'" % self.m.site_id))

    def one(self, sql):
        return int(self.q(sql)[0][0])

    def subs(self, n, number=GOOD):
        return [self.sub(self.customer(number)["id"], "daily")["id"] for _ in range(n)]

    def due(self, ids):
        """Moves the site's clock past the end of every term of ids."""
        end = max(self.get_sub(s)["current_term_end"] for s in ids)
        self.ok(self.m.post("/time_machine/travel_forward", {"destination_time": end + 60}))

    def wait_for(self, what, cond, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.1)
        self.fail("%s did not happen:\n%s" % (what, self.s.tail_logs(30)))

    def fails_at(self, sub, table, column, value):
        """Rows of table with column = value are refused from now to the test's end, so
        the renewal of sub fails there; afterwards sub is no longer due (set aside, it
        would count as job lag for later tests)."""
        name = "t_fail_" + os.urandom(4).hex()
        self.q("ALTER TABLE %s ADD CONSTRAINT %s CHECK (site_id <> $SITE OR "
               "%s IS DISTINCT FROM '%s') NOT VALID" % (table, name, column, value))
        self.addCleanup(self.s.psql, "ALTER TABLE %s DROP CONSTRAINT %s" % (table, name))
        self.addCleanup(self.s.psql, "UPDATE subscriptions SET next_billing_at = NULL "
                        "WHERE site_id = '%s' AND id = '%s'" % (self.m.site_id, sub))

    def twenty_pdfs_at_once(self):
        """Twenty invoices of a new customer whose PDFs wait all at once (those already
        rendered are rendered again); returns once all are rendered, with the SQL filter
        for their documents."""
        c = self.customer(None)
        for i in range(20):
            self.ok(self.m.post("/invoices", {"customer_id": c["id"], "currency": "USD",
                                              "lines": [{"description": "x%d" % i,
                                                         "amount": 100 + i}]}))
        mine = "site_id = $SITE AND customer_id = '%s'" % c["id"]
        self.q("UPDATE documents SET pdf = NULL, sha256 = NULL, rendered_at = NULL WHERE "
               + mine)
        self.wait_for("every PDF rendered", lambda: self.one(
            "SELECT count(*) FROM documents WHERE pdf IS NULL AND " + mine) == 0, timeout=60)
        return mine

    def log_count(self, text):
        with open(os.path.join(self.s.state, "portald.log"), errors="replace") as f:
            return sum(text in line for line in f)

    def billing_lanes(self):
        """This stack's billing lanes: children of its job runner named portald-billing
        (never another stack's on the same machine)."""
        return self.lanes_named("portald-billing")

    def lanes_named(self, title):
        out = []
        for runner in children(self.s.master_pid()):
            for pid in children(runner):
                try:
                    with open("/proc/%d/comm" % pid) as f:
                        if f.read().strip() == title:
                            out.append(pid)
                except OSError:
                    pass
        return out

    def second_runner(self):
        # Its stderr (a sanitizer's report) goes where the stack's own goes.
        with open(os.path.join(self.s.state, "portald.log"), "a") as log:
            p = subprocess.Popen([os.path.join(self.s.bin_dir, "portald"), "--config",
                                  os.path.join(self.s.state, "portald.conf"), "--jobs-only"],
                                 stdout=subprocess.DEVNULL, stderr=log)
        self.extra.append(p)
        return p

    def assertExactlyOnce(self, ids, renewals=1):
        """Every subscription of ids renewed `renewals` times: one invoice per term, paid,
        one charge per invoice at the gateway and in the attempts, one event each, and the
        site's invoice numbers without a gap."""
        invoices = 1 + renewals
        for sid in ids:
            self.assertEqual(self.one("SELECT count(*) FROM invoices WHERE site_id = $SITE "
                                      "AND subscription_id = '%s' AND status = 'paid'" % sid),
                             invoices, sid)
            self.assertEqual(self.one("SELECT count(*) FROM events WHERE site_id = $SITE AND "
                                      "type = 'subscription.renewed' AND object_id = '%s'"
                                      % sid), renewals, sid)
        self.assertEqual(self.q(
            "SELECT i.id, count(a.id) FROM invoices i LEFT JOIN payment_attempts a ON "
            "a.site_id = i.site_id AND a.invoice_id = i.id AND a.kind = 'charge' "
            "WHERE i.site_id = $SITE GROUP BY i.id HAVING count(a.id) <> 1"), [],
            "one charge attempt per invoice")
        self.assertEqual(self.one("SELECT count(*) FROM payment_attempts WHERE site_id = $SITE "
                                  "AND outcome <> 'succeeded'"), 0)
        self.assertEqual(self.q(
            "SELECT i.id FROM invoices i JOIN payment_attempts a ON a.site_id = i.site_id AND "
            "a.invoice_id = i.id LEFT JOIN test_gateway_charges g ON g.site_id = i.site_id AND "
            "g.idempotency_key = a.idempotency_key WHERE i.site_id = $SITE AND "
            "g.idempotency_key IS NULL"), [], "every charge reached the gateway")
        self.assertEqual(self.one("SELECT count(*) FROM test_gateway_charges WHERE "
                                  "site_id = $SITE AND kind = 'charge'"),
                         len(ids) * invoices, "one gateway charge per invoice")
        self.assertEqual(self.one("SELECT count(*) FROM (SELECT object_id FROM events WHERE "
                                  "site_id = $SITE AND type = 'invoice.paid' GROUP BY object_id "
                                  "HAVING count(*) > 1) x"), 0, "invoice.paid once")
        n = len(ids) * invoices
        self.assertEqual(self.q("SELECT min(number), max(number), count(*) FROM invoices "
                                "WHERE site_id = $SITE"), [["1", str(n), str(n)]],
                         "invoice numbers 1..%d without a gap" % n)
        # A batch numbers its invoices at its end: what showed the number before (the
        # invoice's events, its queued PDF) shows the final one, and numbers follow terms.
        self.assertEqual(self.q(
            "SELECT e.type, i.id, i.number, i.number_text, e.data->>'number', "
            "e.data->>'formatted_number' FROM events e JOIN invoices i ON "
            "i.site_id = e.site_id AND i.id = e.object_id WHERE e.site_id = $SITE AND "
            "e.type LIKE 'invoice.%' AND (e.data->>'number' IS DISTINCT FROM i.number::text "
            "OR e.data->>'formatted_number' IS DISTINCT FROM i.number_text)"), [],
            "invoice events carry the invoice's number")
        self.assertEqual(self.q(
            "SELECT i.id, i.number_text, d.number_text FROM invoices i LEFT JOIN documents d "
            "ON d.site_id = i.site_id AND d.kind = 'invoice' AND d.object_id = i.id "
            "WHERE i.site_id = $SITE AND d.number_text IS DISTINCT FROM i.number_text"), [],
            "every invoice's PDF queued under its number")
        self.assertEqual(self.q(
            "SELECT a.id, b.id FROM invoices a JOIN invoices b ON b.site_id = a.site_id AND "
            "b.subscription_id = a.subscription_id AND b.created_at > a.created_at "
            "WHERE a.site_id = $SITE AND b.number < a.number"), [],
            "a subscription's later term has the later number")

    # ---- the tests ----
    def test_a_renewal_and_its_events_name_the_new_terms_invoice(self):
        (sid,) = self.subs(1)
        first = self.get_sub(sid)["latest_invoice_id"]
        self.assertTrue(first)
        # The subscription is written once per renewal, with its new term and the id of
        # the invoice the term is billed on: what subscription.renewed says is that.
        created = self.q("SELECT data->>'latest_invoice_id' FROM events WHERE site_id = "
                         "$SITE AND object_id = '%s' AND type = 'subscription.created'" % sid)
        self.assertEqual(created, [[first]])
        self.due([sid])
        self.wait_for("the renewal", lambda: len(self.invoices(subscription_id=sid)) == 2)
        (new,) = [i["id"] for i in self.invoices(subscription_id=sid) if i["id"] != first]
        sub = self.get_sub(sid)
        self.assertEqual(sub["latest_invoice_id"], new)
        renewed = self.q("SELECT data->>'latest_invoice_id', (data->>'current_term_start')"
                         "::bigint FROM events WHERE site_id = $SITE AND object_id = '%s' "
                         "AND type = 'subscription.renewed'" % sid)
        self.assertEqual(renewed, [[new, str(sub["current_term_start"])]])
        line = self.ok(self.m.get("/invoices/" + new))["lines"][0]
        self.assertEqual(line["period_start"], sub["current_term_start"])

    def test_one_failing_renewal_leaves_the_rest_of_its_batch_renewed(self):
        ids = self.subs(6)
        bad = ids[2]
        # The bad one fails late, at its invoice, after its subscription row, history and
        # event were written in the batch's transaction.
        self.fails_at(bad, "invoices", "subscription_id", bad)
        self.due(ids)
        good = [s for s in ids if s != bad]
        self.wait_for("the good renewals", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE") == 2 * len(good) + 1)
        self.wait_for("the bad one set aside", lambda: re.search(
            r"site %s: %s failed \(.*\); set aside" % (self.m.site_id, bad), self.s.log_text()))
        for sid in good:
            self.assertEqual(len(self.invoices(subscription_id=sid)), 2, sid)
        self.assertEqual(len(self.invoices(subscription_id=bad)), 1)
        # Nothing of the failed renewal is left: not its term, history, events, number.
        # (Once the new invoices' PDFs are rendered: pending work too.)
        self.wait_for("only the bad one pending",
                      lambda: self.ok(self.m.get("/time_machine"))["pending_jobs"] == 1)
        self.assertEqual(self.one("SELECT count(*) FROM subscription_history WHERE "
                                  "site_id = $SITE AND subscription_id = '%s' AND "
                                  "action = 'renew'" % bad), 0)
        self.assertEqual(self.one("SELECT count(*) FROM events WHERE site_id = $SITE AND "
                                  "object_id = '%s' AND type = 'subscription.renewed'" % bad),
                         0)
        self.assertEqual(self.q("SELECT min(number), max(number), count(*) FROM invoices "
                                "WHERE site_id = $SITE"), [["1", "11", "11"]])
        for sid in good:
            self.assertEqual(self.one("SELECT count(*) FROM events WHERE site_id = $SITE AND "
                                      "object_id = '%s' AND type = 'subscription.renewed'"
                                      % sid), 1)
        self.assertEqual(self.one("SELECT count(*) FROM payment_attempts WHERE site_id = "
                                  "$SITE AND outcome = 'pending'"), 0)

    def test_a_batch_counts_each_first_charge_whether_it_is_paid_or_declined(self):
        """A batch's invoice has its first charge counted by the batch's numbering, not by
        an update of its own: paid or declined, each renewal's invoice has one attempt,
        and a declined one is retried on the first day of dunning."""
        ids = self.subs(4)
        declined = ids[1::2]
        self.q("UPDATE test_gateway_tokens t SET behavior = 'insufficient_funds' FROM "
               "payment_methods p JOIN subscriptions s ON s.site_id = p.site_id AND "
               "s.customer_id = p.customer_id WHERE t.site_id = $SITE AND "
               "p.site_id = $SITE AND t.token = p.gateway_token AND s.id IN (%s)"
               % ",".join("'%s'" % x for x in declined))
        first = {sid: self.get_sub(sid)["latest_invoice_id"] for sid in ids}
        self.due(ids)
        self.wait_for("every charge answered", lambda: self.one(
            "SELECT count(*) FROM payment_attempts WHERE site_id = $SITE AND "
            "outcome <> 'pending'") == 2 * len(ids))
        for sid in ids:
            (inv,) = [i for i in self.invoices(subscription_id=sid) if i["id"] != first[sid]]
            self.assertEqual(inv["attempt_count"], 1, sid)
            if sid in declined:
                self.assertEqual((inv["status"], inv["next_attempt_at"]),
                                 ("open", inv["created_at"] + 86400), sid)
                self.assertEqual(self.get_sub(sid)["status"], "past_due")
            else:
                self.assertEqual((inv["status"], inv["next_attempt_at"]), ("paid", None), sid)
        failed = self.ok(self.m.get("/events?type=invoice.payment_failed&limit=100"))["data"]
        self.assertEqual(sorted(e["data"]["attempt_count"] for e in failed), [1, 1])

    def test_a_batch_writes_its_events_once_in_order_with_their_numbers(self):
        """A batch keeps its events and writes them together: in the order they were
        emitted, an invoice's with its number. An item that fails after writing them takes
        only its own with it; the earlier items' are written again."""
        first, bad, last = self.subs(3)
        # The claim order: first, bad, last.
        for sid, early in ((first, 20), (bad, 10)):
            self.q("UPDATE subscriptions SET next_billing_at = next_billing_at - %d WHERE "
                   "site_id = $SITE AND id = '%s'" % (early, sid))
        # bad's card is gone: its charge fails in the batch, and its invoice.payment_failed
        # numbers the batch's invoices so far and writes their events (first's too). Then
        # it fails at the history row of its move to past_due, and is rolled back.
        bad_cus = self.get_sub(bad)["customer_id"]
        self.q("DELETE FROM payment_methods WHERE site_id = $SITE AND customer_id = '%s'"
               % bad_cus)
        name = "t_fail_" + os.urandom(4).hex()
        self.q("ALTER TABLE subscription_history ADD CONSTRAINT %s CHECK (site_id <> $SITE "
               "OR subscription_id <> '%s' OR to_status IS DISTINCT FROM 'past_due') "
               "NOT VALID" % (name, bad))
        self.addCleanup(self.s.psql, "ALTER TABLE subscription_history DROP CONSTRAINT "
                        + name)
        self.addCleanup(self.s.psql, "UPDATE subscriptions SET next_billing_at = NULL "
                        "WHERE site_id = '%s' AND id = '%s'" % (self.m.site_id, bad))
        self.due([first, bad, last])
        self.wait_for("the bad one set aside", lambda: re.search(
            r"site %s: %s failed \(.*\); set aside" % (self.m.site_id, bad),
            self.s.log_text()))
        self.assertIn("sub_history_insert failed", self.s.log_text())
        self.assertIn(name, self.s.log_text())
        self.wait_for("the good renewals paid", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND status = 'paid'") == 5)
        seqs = {}
        for sid in (first, last):
            (inv,) = [i for i in self.invoices(subscription_id=sid)
                      if i["id"] != self.q("SELECT id FROM invoices WHERE site_id = $SITE "
                                           "AND subscription_id = '%s' ORDER BY number "
                                           "LIMIT 1" % sid)[0][0]]
            rows = self.q("SELECT type, seq, data->>'number', data->>'formatted_number' "
                          "FROM events WHERE site_id = $SITE AND object_id IN ('%s', '%s') "
                          "AND type IN ('subscription.renewed', 'invoice.created', "
                          "'invoice.paid') ORDER BY seq" % (sid, inv["id"]))
            self.assertEqual([r[0] for r in rows], ["subscription.renewed",
                                                    "invoice.created", "invoice.paid"], sid)
            for r in rows[1:]:
                self.assertEqual((r[2], r[3]), (str(inv["number"]), inv["formatted_number"]))
            seqs[sid] = [int(r[1]) for r in rows]
        # Written in the order emitted: first's renewal and invoice before last's.
        self.assertLess(seqs[first][1], seqs[last][0])
        # Nothing of bad's renewal; no placeholder number left anywhere; numbers gapless.
        self.assertEqual(self.one("SELECT count(*) FROM events WHERE site_id = $SITE AND "
                                  "object_id = '%s' AND type = 'subscription.renewed'" % bad),
                         0)
        self.assertEqual(self.one("SELECT count(*) FROM events WHERE site_id = $SITE AND "
                                  "(data->>'number')::bigint < 0"), 0)
        self.assertEqual(self.q("SELECT min(number), max(number), count(*) FROM invoices "
                                "WHERE site_id = $SITE"), [["1", "5", "5"]])

    def test_a_batch_on_a_site_with_endpoints_delivers_each_event_to_each(self):
        """A batch's events are written with their deliveries in one statement: each
        endpoint that takes an event gets it, once, with the invoice's number."""
        import json
        from test_billing import Receiver
        types = ["subscription.renewed", "invoice.created", "invoice.paid"]
        rx, other = Receiver(), Receiver()
        self.addCleanup(rx.close)
        self.addCleanup(other.close)
        self.ok(self.m.post("/webhook_endpoints", {"url": "http://127.0.0.1:%d/" % rx.port,
                                                   "enabled_events": types}))
        self.ok(self.m.post("/webhook_endpoints", {"url": "http://127.0.0.1:%d/" % other.port,
                                                   "enabled_events": ["invoice.paid"]}))
        ids = self.subs(3)
        invoices = [i["id"] for s in ids for i in self.invoices(subscription_id=s)]
        self.due(ids)
        self.wait_for("the renewals paid", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND status = 'paid'") == 6)

        def renewal_events(r):
            out = []
            for _, body in r.got:
                e = json.loads(body)
                obj = e["data"]
                if e["type"] in types and obj["id"] not in invoices and \
                        (e["type"] != "subscription.renewed" or obj["id"] in ids):
                    out.append((e["type"], obj))
            return out
        self.wait_for("every delivery", lambda: len(renewal_events(rx)) == 9 and
                      len(renewal_events(other)) == 3, timeout=60)
        got = renewal_events(rx)
        self.assertEqual(sorted(t for t, _ in got), sorted(types * 3))
        for t, obj in got:
            if t.startswith("invoice."):
                row = self.q("SELECT number, number_text FROM invoices WHERE site_id = $SITE "
                             "AND id = '%s'" % obj["id"])
                self.assertEqual([str(obj["number"]), obj["formatted_number"]], row[0])
        self.assertEqual(sorted(t for t, _ in renewal_events(other)), ["invoice.paid"] * 3)
        self.assertEqual(self.one("SELECT count(*) FROM webhook_deliveries d JOIN events e "
                                  "ON e.site_id = d.site_id AND e.id = d.event_id WHERE "
                                  "d.site_id = $SITE AND e.object_id IN ('%s') AND "
                                  "d.id !~ '^whd_[0-9a-f]{24}$'" % "', '".join(ids)), 0)

    def test_answers_whose_events_cannot_be_written_together_are_recorded_one_by_one(self):
        ids = self.subs(3)
        bad = ids[1]
        # Only bad's invoice.paid is refused: the statement that writes the round's events
        # together fails, and the round is recorded again, each event as it is emitted,
        # where only bad's answer fails.
        name = "t_fail_" + os.urandom(4).hex()
        self.q("ALTER TABLE events ADD CONSTRAINT %s CHECK (site_id <> $SITE OR type <> "
               "'invoice.paid' OR data->>'subscription_id' IS DISTINCT FROM '%s') NOT VALID"
               % (name, bad))
        self.addCleanup(self.s.psql, "ALTER TABLE events DROP CONSTRAINT " + name)
        self.due(ids)
        # Within the runner's own pass, not later by the reconciler (after 30 s).
        self.wait_for("the good renewals paid", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND status = 'paid'") == 5,
            timeout=20)
        self.wait_for("the bad answer failed alone", lambda: re.search(
            r"recording payment attempt \S+ failed", self.s.log_text()))
        self.assertIn("writing the events of 3 payment answers together", self.s.log_text())
        for sid in ids:
            paid = [i for i in self.invoices(subscription_id=sid) if i["status"] == "paid"]
            self.assertEqual(len(paid), 1 if sid == bad else 2, sid)
            self.assertEqual(self.one(
                "SELECT count(*) FROM events WHERE site_id = $SITE AND type = 'invoice.paid' "
                "AND data->>'subscription_id' = '%s'" % sid), 1 if sid == bad else 2)
        self.assertEqual(self.one("SELECT count(*) FROM payment_attempts WHERE site_id = "
                                  "$SITE AND outcome = 'pending'"), 1)

    def test_a_batch_whose_numbering_fails_renews_the_rest_one_number_at_a_time(self):
        ids = self.subs(5)
        bad = ids[1]
        bad_cus = self.get_sub(bad)["customer_id"]
        # The bad one fails only where its PDF is queued: in a batch, that is the statement
        # that numbers all of the batch's invoices at its end.
        self.fails_at(bad, "documents", "customer_id", bad_cus)
        self.due(ids)
        good = [s for s in ids if s != bad]
        # The batch is rolled back whole, then its items go again numbered one at a time,
        # where the bad one fails alone.
        self.wait_for("the good renewals", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE") == 2 * len(good) + 1)
        self.wait_for("the bad one set aside", lambda: re.search(
            r"site %s: %s failed \(.*\); set aside" % (self.m.site_id, bad), self.s.log_text()))
        self.assertIn("numbering the batch's invoices", self.s.log_text())
        for sid in good:
            self.assertEqual(len(self.invoices(subscription_id=sid)), 2, sid)
        self.assertEqual(len(self.invoices(subscription_id=bad)), 1)
        n = 2 * len(good) + 1
        self.assertEqual(self.q("SELECT min(number), max(number), count(*) FROM invoices "
                                "WHERE site_id = $SITE"), [["1", str(n), str(n)]])
        # The charges are made after the batch commits: every one of them succeeds.
        self.wait_for("every charge answered", lambda: self.one(
            "SELECT count(*) FROM payment_attempts WHERE site_id = $SITE AND "
            "outcome = 'pending'") == 0)
        self.assertEqual(self.one("SELECT count(*) FROM payment_attempts WHERE site_id = "
                                  "$SITE AND outcome <> 'succeeded'"), 0)

    def test_documents_wait_while_billing_is_behind_but_never_stop(self):
        # More than a batch (32) of renewals due while billing is held: billing is behind.
        said = {w: self.log_count("documents: billing " + w) for w in ("is behind",
                                                                        "caught up")}
        log_from = os.path.getsize(os.path.join(self.s.state, "portald.log"))
        ids = self.subs(40)
        self.wait_for("the stack's billing lane", lambda: self.billing_lanes() != [], 30)
        lanes = self.billing_lanes()
        for pid in lanes:
            os.kill(pid, signal.SIGSTOP)
            self.addCleanup(resume, pid)
        self.due(ids)
        mine = self.twenty_pdfs_at_once()
        self.assertEqual(self.one(
            "SELECT count(*) FROM subscriptions WHERE site_id = $SITE AND id IN (%s) "
            "AND next_billing_at < %d" % (",".join("'%s'" % i for i in ids),
                                          self.ok(self.m.get("/time_machine"))["now"] - 2)),
            len(ids), "billing was behind throughout")
        # One transaction of at most eight documents a second: never all twenty at once.
        rows = self.q("SELECT rendered_at, count(*) FROM documents WHERE %s GROUP BY "
                      "rendered_at ORDER BY rendered_at" % mine)
        per_second = [int(n) for (_, n) in rows]
        self.assertEqual(sum(per_second), 20)
        if max(per_second) > 8:
            # What the lane said meanwhile, and which documents lanes run: the failure
            # explains itself (once seen in a sanitizer run, cause not established).
            with open(os.path.join(self.s.state, "portald.log"), errors="replace") as f:
                f.seek(log_from)
                said_now = [l.rstrip() for l in f if "documents" in l]
            self.fail("more than eight PDFs in one second: %r\nlanes: %r\n%s" % (
                rows, self.lanes_named("portald-docs"), "\n".join(said_now[-40:])))
        self.assertGreater(self.log_count("documents: billing is behind"), said["is behind"])
        # Once billing has caught up, the lane says so and renders at full speed again.
        for pid in lanes:
            resume(pid)
        self.wait_for("the renewals", lambda: self.one(
            "SELECT count(*) FROM subscriptions WHERE site_id = $SITE AND id IN (%s) AND "
            "next_billing_at < %d" % (",".join("'%s'" % i for i in ids),
                                      self.ok(self.m.get("/time_machine"))["now"])) == 0)
        self.wait_for("the lane's word", lambda: self.log_count(
            "documents: billing caught up") > said["caught up"])

    def test_a_lone_renewal_that_keeps_failing_is_not_billing_behind(self):
        bad = self.subs(1)[0]
        self.fails_at(bad, "invoices", "subscription_id", bad)
        said = self.log_count("documents: billing is behind")
        self.due([bad])
        self.twenty_pdfs_at_once()
        self.assertLessEqual(self.get_sub(bad)["next_billing_at"],
                             self.ok(self.m.get("/time_machine"))["now"] - 2)
        self.assertEqual(self.log_count("documents: billing is behind"), said)

    def test_two_runners_spend_a_customers_credit_once(self):
        """One customer's forty renewals, claimed by two runners at once, with 1,000 of
        credit (ten renewals' worth): together they take exactly the 1,000."""
        cus = self.customer(GOOD)["id"]
        ids = [self.sub(cus, "daily")["id"] for _ in range(40)]
        self.ok(self.m.post("/customers/%s/credit_entries" % cus,
                            {"amount": 1000, "currency": "USD", "description": "Goodwill"}))
        self.second_runner()
        time.sleep(0.5)
        self.due(ids)
        self.wait_for("every renewal", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND customer_id = '%s'"
            % cus) == 80)
        self.assertEqual(self.q(
            "SELECT sum(credit_applied), count(*) FILTER (WHERE credit_applied > 0) FROM "
            "invoices WHERE site_id = $SITE AND customer_id = '%s'" % cus), [["1000", "10"]])
        self.assertEqual(self.one(
            "SELECT COALESCE(sum(amount), 0) FROM credit_entries WHERE site_id = $SITE AND "
            "customer_id = '%s' AND status = 'available'" % cus), 0)

    def test_two_runners_renew_every_subscription_exactly_once(self):
        ids = self.subs(60)
        self.second_runner()
        time.sleep(0.5)
        self.due(ids)
        self.settle(90)
        self.wait_for("every renewal paid", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND status = 'paid'")
            == 2 * len(ids))
        self.assertExactlyOnce(ids)

    def test_a_lane_that_dies_right_after_its_start_is_started_again(self):
        # The runner starts a dying lane at most once a second; one that died within the
        # second it started must still come back (it waited for another lane to die).
        self.wait_for("the stack's billing lane", lambda: self.billing_lanes() != [], 30)
        seen = set()
        for _ in range(4):
            lanes = self.billing_lanes()
            for pid in lanes:
                os.kill(pid, signal.SIGKILL)
            seen.update(lanes)
            deadline = time.time() + 10
            while not [p for p in self.billing_lanes() if p not in seen]:
                self.assertLess(time.time(), deadline, "no billing lane started again:\n" +
                                self.s.tail_logs(20))
                time.sleep(0.02)
        # And the lane works: a subscription falling due is renewed.
        ids = self.subs(1)
        self.due(ids)
        self.wait_for("the renewal", lambda: len(self.invoices(subscription_id=ids[0])) == 2,
                      30)

    def test_runner_killed_mid_batch_and_mid_charge_loses_and_doubles_nothing(self):
        ids = self.subs(8)
        slow = self.subs(1, SLOW)
        ids += slow
        stall = ids[4]
        # One renewal in the middle of the batch stalls for 3 s inside its transaction
        # (at its invoice): the runner is killed there, with half the batch done.
        fn = "t_stall_" + os.urandom(4).hex()
        self.q("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN "
               "IF NEW.subscription_id = ''%s'' THEN PERFORM pg_sleep(3); END IF; "
               "RETURN NEW; END'" % (fn, stall))
        self.q("CREATE TRIGGER %s BEFORE INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION "
               "%s()" % (fn, fn))
        dropped = []

        def drop():
            if not dropped:
                dropped.append(1)
                self.s.psql("DROP TRIGGER IF EXISTS %s ON invoices; DROP FUNCTION IF EXISTS "
                            "%s()" % (fn, fn))
        self.addCleanup(drop)
        self.wait_for("the stack's billing lane", lambda: self.billing_lanes() != [], 30)
        lanes = self.billing_lanes()
        self.due(ids)
        self.wait_for("the batch to reach the stalled renewal", lambda: self.q(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'") != [], 20)
        self.assertEqual(self.one("SELECT count(*) FROM invoices WHERE site_id = $SITE"),
                         len(ids), "nothing committed yet")
        # The runner that starts lanes again is held meanwhile, so what is counted is what
        # the killed batch left, not what a new lane renewed a moment later.
        runners = {ppid(pid) for pid in lanes}
        for pid in runners:
            os.kill(pid, signal.SIGSTOP)
        try:
            for pid in lanes:
                os.kill(pid, signal.SIGKILL)
            drop()      # waits for the killed batch's transaction to end
            self.assertEqual(self.one("SELECT count(*) FROM invoices WHERE site_id = $SITE"),
                             len(ids), "the killed batch left nothing")
        finally:
            for pid in runners:
                os.kill(pid, signal.SIGCONT)
        # The restarted lane renews them all; the slow card's charge takes 3 s at the
        # gateway, and the lane is killed again while it waits for that answer.
        inv = []

        def charging():
            rows = self.q("SELECT a.invoice_id FROM payment_attempts a JOIN invoices i ON "
                          "i.site_id = a.site_id AND i.id = a.invoice_id JOIN "
                          "test_gateway_charges g ON g.site_id = a.site_id AND "
                          "g.idempotency_key = a.idempotency_key WHERE a.site_id = $SITE AND "
                          "a.outcome = 'pending' AND i.subscription_id = '%s'" % slow[0])
            inv[:] = [r[0] for r in rows]
            return bool(rows)
        self.wait_for("the slow charge made, its answer not recorded", charging, 30)
        for pid in self.billing_lanes():
            os.kill(pid, signal.SIGKILL)
        # The answer was lost: the runner asks the gateway again with the recorded key
        # (after PAYMENT_STALE_SECONDS) and records the one charge it made.
        self.wait_for("every renewal paid", lambda: self.one(
            "SELECT count(*) FROM invoices WHERE site_id = $SITE AND status = 'paid'")
            == 2 * len(ids), 120)
        self.settle(30)
        self.assertExactlyOnce(ids)


if __name__ == "__main__":
    unittest.main()
