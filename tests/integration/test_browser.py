"""test_browser.py: runs the browser tests (tests/browser, node --test with playwright-core
and Debian's Chromium) against this run's stack, each node test counted as one test."""
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import ROOT, stack

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")


def screenshots():
    """Where the browser tests put their screenshots: PORTALD_SCREENSHOTS to keep them,
    else a directory of this run that a passing test removes (a failing one prints it)."""
    return os.environ.get("PORTALD_SCREENSHOTS") or "/tmp/portald-screenshots-%s-%d" % (
        time.strftime("%Y%m%d-%H%M%S"), os.getpid())


def drop_screenshots(shots):
    if not os.environ.get("PORTALD_SCREENSHOTS"):
        shutil.rmtree(shots, ignore_errors=True)


class Browser(unittest.TestCase):
    def test_portal_in_chromium(self):
        s = stack()
        m = s.new_site("web")
        # The portal tests change their sites' settings: sites of their own.
        p1, p2 = s.new_site("webp"), s.new_site("webq")
        billing = s.new_site("webb")     # the self-service pages (billing.test.mjs)
        login = s.new_site("webl")       # signing in without SSO (login.test.mjs)
        shots = screenshots()
        print("\nbrowser screenshots: %s" % shots)
        self.assertTrue(os.path.exists("/usr/bin/chromium"), "apt-get install chromium")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True,
                           capture_output=True)
        env = dict(os.environ, PORTALD_URL=s.base, PORTALD_API_KEY=m.key,
                   PORTALD_PORTAL_KEY=p1.key, PORTALD_PORTAL_KEY_2=p2.key,
                   PORTALD_BILLING_KEY=billing.key,
                   PORTALD_LOGIN_KEY=login.key, PORTALD_MAILBOX=s.mailbox,
                   PORTALD_SCREENSHOTS=shots)
        # BROWSER_TESTS="login.test.mjs ..." runs only those files (while working on them).
        only = os.environ.get("BROWSER_TESTS", "").split()
        r = subprocess.run(["node", "--test", "--test-reporter=spec"] + only, cwd=BROWSER_DIR,
                           env=env, capture_output=True, text=True, timeout=1200)
        out = r.stdout + r.stderr
        passed = re.search(r"pass (\d+)", out)
        failed = re.search(r"fail (\d+)", out)
        self.assertEqual(r.returncode, 0, out[-4000:])
        self.assertIsNotNone(passed, out[-2000:])
        self.assertEqual(int(failed.group(1)), 0, out[-4000:])
        if not only:
            self.assertGreaterEqual(int(passed.group(1)), 22, out[-2000:])
        drop_screenshots(shots)


class StripeBrowser(unittest.TestCase):
    """The hosted card set-up and Complete payment in Chromium, on a stack of its own whose
    [stripe] api_base is the Stripe stand-in (test_stripe_gateway's)."""

    @classmethod
    def setUpClass(cls):
        import test_stripe_gateway as gw
        cls.gw = gw
        gw.setUpModule()

    @classmethod
    def tearDownClass(cls):
        cls.gw.tearDownModule()

    def test_hosted_pages_in_chromium(self):
        gw = self.gw
        self.assertTrue(os.path.exists("/usr/bin/chromium"), "apt-get install chromium")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True,
                           capture_output=True)
        base = gw.Base()
        m = base.site()
        base.plan(m)
        cus = m.customer(name="Sam Secure", email="sam@example.com")
        base.add_card(m, cus["id"], "pm_card_authenticationRequired", three_ds="approve")
        sub = base.ok(m.post("/subscriptions", {"customer_id": cus["id"], "plan_id": "basic"}))
        self.assertEqual(base.inv(m, sub["latest_invoice_id"])["status"], "open")
        shots = screenshots()
        env = dict(os.environ, PORTALD_URL=gw.ST.base, PORTALD_STRIPE_KEY=m.key,
                   PORTALD_3DS_CUSTOMER=cus["id"], PORTALD_SCREENSHOTS=shots)
        r = subprocess.run(["node", "--test", "--test-reporter=spec", "stripe_hosted.mjs"],
                           cwd=BROWSER_DIR, env=env, capture_output=True, text=True, timeout=600)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out[-4000:])
        self.assertEqual(int(re.search(r"pass (\d+)", out).group(1)), 2, out[-2000:])
        self.assertEqual(gw.S.complaints(), [], "the stand-in complained")
        drop_screenshots(shots)
