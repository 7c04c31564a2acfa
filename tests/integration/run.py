#!/usr/bin/env python3
"""run.py: runs the integration tests against one real stack and prints 'N passed, N failed'.
Usage: run.py [--bin DIR] [pattern...]   (patterns select test names by substring)"""
import argparse
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.time()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.write("ok   %s (%.2fs)\n" % (test.id(), time.time() - self._t0))
        self.stream.flush()


def selected(suite, patterns):
    out = unittest.TestSuite()
    for t in iter_tests(suite):
        if not patterns or any(p in t.id() for p in patterns):
            out.addTest(t)
    return out


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def _terminated(signum, frame):
    # SIGTERM (a timeout, CI stopping) must still run the finally that stops the stack.
    raise KeyboardInterrupt("terminated by signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="directory holding portald and portalctl")
    ap.add_argument("--label", default="integration")
    ap.add_argument("--sanitizer-check", action="store_true",
                    help="count sanitizer reports in portald's log as a failed test")
    ap.add_argument("patterns", nargs="*")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    suite = selected(unittest.defaultTestLoader.discover(here, pattern="test_*.py"),
                     args.patterns)
    stack = harness.Stack(bin_dir=args.bin)
    try:
        stack.start()
    except Exception as e:  # the stack itself failing is one failure, said plainly
        print("FAIL stack start: %s" % e)
        stack.stop()
        print("%s: 0 passed, 1 failed" % args.label)
        return 1
    harness.set_stack(stack)
    try:
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0, resultclass=Result)
        result = runner.run(suite)
        extra_pass, extra_fail = 0, 0
        with open(os.path.join(stack.state, "portald.log"), errors="replace") as f:
            differ = [l for l in f if "render check:" in l]
        if differ:
            print("FAIL: objects rendered from what was written differ from their rows "
                  "(%d): %s" % (len(differ), differ[0].strip()[:600]))
            extra_fail += 1
        else:
            print("ok   objects rendered as written match their rows")
            extra_pass += 1
        if args.sanitizer_check:
            with open(os.path.join(stack.state, "portald.log"), errors="replace") as f:
                reports = [l for l in f if "Sanitizer" in l or "runtime error:" in l]
            if reports:
                # Named on the FAIL line itself, which tools/check repeats at the end.
                print("FAIL: sanitizer reports in portald.log (%d): %s\n%s" % (
                    len(reports), reports[0].strip()[:300], "".join(reports[:40])))
                extra_fail += 1
            else:
                print("ok   no sanitizer reports in portald.log")
                extra_pass += 1
    finally:
        if os.environ.get("KEEP_STACK"):
            print("stack kept in", stack.state)
        else:
            stack.stop()
    # A test counts once, however many of its subtests failed.
    bad = {t.id() if not hasattr(t, "test_case") else t.test_case.id()
           for t, _ in result.failures + result.errors}
    failed = len(bad) + extra_fail
    passed = result.testsRun - len(bad) - len(result.skipped) + extra_pass
    print("%s: %d passed, %d failed" % (args.label, passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
