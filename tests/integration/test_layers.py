"""test_layers.py: src/ is layered; no file includes a header of a higher layer or of another
folder of its own layer, and the billing domain knows nothing of HTTP or the API."""
import os
import re
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SRC = os.path.join(ROOT, "src")

# Lowest first. A folder may include its own headers and those of lower layers only.
RANK = {
    "core": 0,
    "db": 1, "mail": 1, "pdf": 1, "stripe": 1,
    "billing": 2,
    "http": 3, "jobs": 3,
    "api": 4, "portal": 4,
    "server": 5, "cli": 5,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes():
    for folder in sorted(os.listdir(SRC)):
        d = os.path.join(SRC, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                with open(os.path.join(d, name), errors="replace") as f:
                    for inc in INCLUDE.findall(f.read()):
                        yield folder, name, inc


class Layers(unittest.TestCase):
    def test_every_folder_has_a_rank(self):
        folders = [f for f in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, f))
                   and not f.startswith(".")]
        self.assertEqual(sorted(set(folders) - set(RANK)), [])

    def test_includes_name_their_folder(self):
        bad = ["%s/%s includes \"%s\"" % (f, n, i) for f, n, i in includes() if "/" not in i]
        self.assertEqual(bad, [])

    def test_no_include_reaches_up_or_sideways(self):
        bad = []
        for folder, name, inc in includes():
            target = inc.split("/", 1)[0]
            if target == folder:
                continue
            if target not in RANK or RANK[target] >= RANK[folder]:
                bad.append("%s/%s includes %s" % (folder, name, inc))
        self.assertEqual(bad, [])

    def test_domain_headers_know_no_http_or_api(self):
        bad = []
        for folder, name, inc in includes():
            if folder == "billing" and inc.split("/", 1)[0] in ("http", "api", "portal", "server"):
                bad.append("billing/%s includes %s" % (name, inc))
        self.assertEqual(bad, [])

    def test_the_check_itself_catches_an_upward_include(self):
        # The rule, applied to a made-up line, must fail: this test cannot pass vacuously.
        folder, inc = "billing", "api/api.h"
        self.assertGreaterEqual(RANK[inc.split("/")[0]], RANK[folder])


if __name__ == "__main__":
    unittest.main()
