"""test_speed.py: what the read path's speed rests on must not cost correctness: workers
cache verified API keys, yet a rotated or revoked key is refused by every worker within a
second, and a test site's clock moves everywhere at once; workers stay small at rest."""
import threading
import time
import unittest

from harness import Client, stack


def hammer(client, path, key, seconds, threads=6):
    """GETs path with key from several threads (so every worker takes some) for seconds;
    returns [(start time, status, error code)]."""
    out = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def run():
        while time.time() < stop:
            t = time.time()
            r = client.get(path, key=key)
            code = r.json["error"]["code"] if r.status >= 400 else None
            with lock:
                out.append((t, r.status, code))

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


class KeyCache(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("kc")
        self.cus = self.m.customer(email="k@example.com")
        self.path = "/customers/" + self.cus["id"]
        # Every worker has the key in its cache.
        warm = hammer(self.m, self.path, self.m.key, 0.5)
        self.assertEqual({s for _, s, _ in warm}, {200})

    def change_key_while_in_use(self, *portalctl_args):
        """Runs portalctl while every worker keeps using (and so refreshing) the key;
        returns what portalctl printed, when it returned, and the requests made."""
        out = {}
        done = []

        def change():
            time.sleep(0.5)
            out.update(self.s.portalctl(*portalctl_args))
            done.append(time.time())

        t = threading.Thread(target=change)
        t.start()
        seen = hammer(self.m, self.path, self.m.key, 3.0)
        t.join()
        return out, done[0], seen

    def assert_refused_everywhere(self, t0, seen, code):
        late = [(s, c) for t, s, c in seen if t >= t0 + 1.0]
        self.assertGreater(len(late), 50, "enough requests to reach every worker")
        self.assertEqual(set(late), {(401, code)}, "refused by every worker after 1 s")
        # The cache alone would let a worker that refreshed the key just before the
        # change use it for up to a second more; NOTIFY ends that at once wherever a
        # worker is idle or has run a statement since: half a second is plenty.
        quick = [(s, c) for t, s, c in seen if t >= t0 + 0.5]
        self.assertEqual(set(quick), {(401, code)})
        before = [s for t, s, c in seen if t < t0 - 0.2]
        self.assertIn(200, before, "the key worked until the change")

    def test_rotated_key_without_grace_is_refused_by_every_worker_within_a_second(self):
        out, t0, seen = self.change_key_while_in_use("key", "rotate", self.m.site_id,
                                                     "--grace", "0")
        self.assert_refused_everywhere(t0, seen, "api_key_expired")
        new = Client(self.s, self.m.site_id, out["api_key"])
        self.assertEqual({s for _, s, _ in hammer(new, self.path, new.key, 0.3)}, {200})

    def test_revoked_key_is_refused_by_every_worker_within_a_second(self):
        key_id = self.m.key.split("_")[2]
        out, t0, seen = self.change_key_while_in_use("key", "revoke", self.m.site_id, key_id)
        self.assertEqual(out["api_key_id"], key_id)
        self.assert_refused_everywhere(t0, seen, "api_key_expired")

    def test_revoking_an_unknown_key_fails(self):
        with self.assertRaises(RuntimeError):
            self.s.portalctl("key", "revoke", self.m.site_id, "0123456789abcdef")

    def test_rotation_with_grace_keeps_the_old_key_working(self):
        self.s.portalctl("key", "rotate", self.m.site_id, "--grace", "3600")
        self.assertEqual({s for _, s, _ in hammer(self.m, self.path, self.m.key, 1.2)}, {200})

    def test_time_travel_shows_in_every_worker_at_once(self):
        before = self.m.get("/time_machine").json["now"]
        r = self.m.post("/time_machine/travel_forward", {"seconds": 86400})
        self.assertEqual(r.status, 200, r)
        for _, status, _ in hammer(self.m, "/time_machine", self.m.key, 0.3):
            self.assertEqual(status, 200)
        for _ in range(30):
            self.assertGreaterEqual(self.m.get("/time_machine").json["now"], before + 86400)


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise AssertionError("no Pss in smaps_rollup of %d" % pid)


class WorkerMemory(unittest.TestCase):
    LIMIT_KIB = 8 * 1024

    def setUp(self):
        self.s = stack()
        for pid in self.s.worker_pids():
            with open("/proc/%d/maps" % pid) as f:
                if "libasan" in f.read():
                    self.skipTest("a sanitizer build keeps shadow memory and quarantines")

    def test_workers_at_rest_stay_under_8_mib_after_a_burst_with_large_bodies(self):
        m = self.s.new_site("mem")
        cus = m.customer(email="m@example.com")
        # A burst of reads, lists and writes on every worker...
        hammer(m, "/customers/" + cus["id"], m.key, 1.0)
        hammer(m, "/customers?limit=100", m.key, 0.5)
        time.sleep(0.3)
        worker = [p for p in self.s.worker_pids()
                  if open("/proc/%d/comm" % p).read().strip() == "portald-worker"]
        self.assertEqual(len(worker), self.s.workers)
        before = {p: pss_kib(p) for p in worker}
        # ...then bodies near max_body, parsed and refused, on every worker.
        big = '{"metadata":{%s}}' % ",".join('"k%d":"%s"' % (i, "v" * 400) for i in range(2200))
        self.assertGreater(len(big), 900000)

        def post_big():
            for _ in range(4):
                r = m.call("POST", "/customers", raw=big.encode())
                self.assertEqual(r.status, 400)

        ts = [threading.Thread(target=post_big) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        time.sleep(0.5)     # at rest
        after = {p: pss_kib(p) for p in worker}
        for pid, kib in after.items():
            self.assertLessEqual(kib, self.LIMIT_KIB, "worker %d PSS %d KiB: %r" % (pid, kib, after))
        # What a large body needed was given back (before this was fixed, a worker that
        # had parsed one kept 2 MiB more).
        grown = {p: after[p] - before[p] for p in worker}
        self.assertLess(max(grown.values()), 512, "PSS growth in KiB: %r" % grown)

if __name__ == "__main__":
    unittest.main()
