"""test_runner.py: the job runner as a supervisor of lanes, and the bound on the work one
test site's time machine can cause."""
import os
import signal
import time
import unittest

from test_billing import Base


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
        except (OSError, IndexError):
            pass
    return sorted(out)


class Runner(Base):
    def test_a_travel_that_would_make_too_many_periods_is_refused(self):
        self.plan("daily", 10, interval="day")
        for _ in range(12):
            self.sub(self.customer()["id"], "daily")
        before = self.now()
        r = self.m.post("/time_machine/travel_forward", {"seconds": 900 * 86400})
        self.assertEqual((r.status, r.json["error"]["code"], r.json["error"]["param"]),
                         (400, "travel_too_far", "seconds"), r)
        self.assertLess(self.now() - before, 60, "the clock did not move")
        self.ok(self.m.post("/time_machine/travel_forward", {"seconds": 30 * 86400}))
        self.settle()

    def test_a_lane_that_dies_is_restarted(self):
        master = self.s.master_pid()
        # The job runner is the master's child that has children of its own (the lanes).
        runner = [p for p in children(master) if children(p)]
        self.assertEqual(len(runner), 1, "one job runner with lanes")
        lanes = children(runner[0])
        self.assertGreaterEqual(len(lanes), 2)
        os.kill(lanes[0], signal.SIGKILL)
        deadline = time.time() + 15
        while time.time() < deadline:
            now = children(runner[0])
            if len(now) == len(lanes) and lanes[0] not in now:
                break
            time.sleep(0.1)
        self.assertEqual(len(children(runner[0])), len(lanes))
        self.assertNotIn(lanes[0], children(runner[0]))
        # And it works: a renewal still happens.
        c = self.customer()
        s = self.sub(c["id"])
        self.travel_to(s["current_term_end"] + 1)
        self.assertEqual(len(self.invoices(subscription_id=s["id"])), 2)


if __name__ == "__main__":
    unittest.main()
