#!/usr/bin/env python3
"""load.py: a bounded HTTP load for the package and scale-out tests: THREADS clients send
GET requests to URL for SECONDS (or until STOPFILE exists) and count the answers.

    load.py URL SECONDS [--threads N] [--header "Name: value"]... [--stop-file PATH]

Prints one JSON line: {"sent", "ok", "failed", "statuses": {...}, "errors": [...]}; a
request that got no HTTP answer (refused, reset, timed out) is an error. Exits 0."""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--stop-file")
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    headers = dict(h.split(": ", 1) for h in a.header)
    lock = threading.Lock()
    res = {"sent": 0, "ok": 0, "failed": 0, "statuses": {}, "errors": []}
    deadline = time.time() + a.seconds

    def worker():
        while time.time() < deadline and not (a.stop_file and os.path.exists(a.stop_file)):
            status, err = None, None
            try:
                # A fresh connection each time, as a load balancer's health of each
                # connection does not matter here: every request must be answered.
                c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.timeout)
                c.request("GET", path, headers=headers)
                r = c.getresponse()
                r.read()
                status = r.status
                c.close()
            except Exception as e:  # a lost request
                err = "%s: %s" % (type(e).__name__, e)
            with lock:
                res["sent"] += 1
                if status is not None:
                    res["statuses"][str(status)] = res["statuses"].get(str(status), 0) + 1
                if status == 200:
                    res["ok"] += 1
                else:
                    res["failed"] += 1
                    if len(res["errors"]) < 10:
                        res["errors"].append(err or "HTTP %d" % status)

    ts = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
