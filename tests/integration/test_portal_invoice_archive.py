"""test_portal_invoice_archive.py: the portal's yearly ZIP of a customer's documents. A HEAD
answers the GET's headers without building the archive (portald's request log line counts
the statements a request ran: a build reads every document); a GET still gives the same
ZIP as the API; a year whose documents are too big for one archive is refused."""
import io
import time
import unittest
import zipfile

from harness import Browser, stack


class InvoiceArchive(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("zip")
        self.home = "/portal/" + self.m.site_id

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def customer(self, name="Ada Lovelace"):
        return self.m.customer(name=name, email="ada@example.com")

    def invoice(self, cus, amount, description):
        return self.ok(self.m.post("/invoices", {"customer_id": cus["id"], "currency": "USD",
                                                 "lines": [{"description": description,
                                                            "amount": amount}]}))

    def login(self, cus):
        b = Browser(self.s)
        self.assertEqual(b.get(self.m.session(cus["id"])["access_url"]).status, 303)
        return b

    def year_of_invoices(self, n=3):
        cus = self.customer()
        invs = [self.invoice(cus, 1000 + i, "Work %d" % i) for i in range(n)]
        stored = {"invoices/%s.pdf" % inv["formatted_number"]:
                  self.m.rendered_pdf("invoices", inv["id"]) for inv in invs}
        year = time.gmtime(self.ok(self.m.get("/time_machine"))["now"]).tm_year
        return cus, stored, "%s/invoices/archive/%d" % (self.home, year), year

    def assertHeadBuiltNothing(self, get, head, stored):
        """head answered get's headers, with no body and no archive built."""
        self.assertEqual((get.status, head.status), (200, 200), (get, head))
        self.assertEqual(head.body, b"")
        # Not built, so no length is claimed (rather than a wrong 0).
        self.assertNotEqual(head.header("content-length"), "0", head.headers)
        for h in ("content-type", "content-disposition"):
            self.assertEqual(head.header(h), get.header(h))
        # The GET read every document (a statement each); the HEAD none of them.
        g, h = int(self.s.request_log(get)["stmts"]), int(self.s.request_log(head)["stmts"])
        self.assertGreaterEqual(g - h, len(stored), (g, h))

    def test_head_answers_the_headers_without_building_the_archive(self):
        cus, stored, url, year = self.year_of_invoices(3)
        b = self.login(cus)
        get = b.get(url)
        head = self.s.request("HEAD", url, headers=b._headers())
        self.assertHeadBuiltNothing(get, head, stored)
        # The GET's archive is the documents as stored, the same as the API's.
        z = zipfile.ZipFile(io.BytesIO(get.body))
        self.assertEqual(sorted(z.namelist()), sorted(stored))
        for name, body in stored.items():
            self.assertEqual(z.read(name), body)
        api = self.m.get("/customers/%s/documents.zip?year=%d" % (cus["id"], year))
        self.assertEqual(api.body, get.body)
        self.assertEqual(b.get(url).body, get.body)

    def test_the_apis_head_builds_nothing_either(self):
        cus, stored, _, year = self.year_of_invoices(3)
        path = "/customers/%s/documents.zip?year=%d" % (cus["id"], year)
        get, head = self.m.get(path), self.m.call("HEAD", path)
        self.assertHeadBuiltNothing(get, head, stored)
        self.assertEqual(sorted(zipfile.ZipFile(io.BytesIO(get.body)).namelist()),
                         sorted(stored))

    def test_head_refuses_what_get_refuses(self):
        cus, _, url, year = self.year_of_invoices(1)
        b = self.login(cus)
        for tail in ("/invoices/archive/19x6", "/invoices/archive/0999"):
            self.assertEqual(self.s.request("HEAD", self.home + tail,
                                            headers=b._headers()).status, 404)
        other = self.login(self.customer(name="Grace Hopper"))
        r = self.s.request("HEAD", url, headers=other._headers())
        self.assertEqual(r.status, 200)     # their own (empty) year

    def test_a_year_too_big_for_one_archive_is_refused(self):
        cus, _, url, year = self.year_of_invoices(2)
        # Stored PDFs that add up to more than the bound (32 MiB): 17 MiB each.
        self.s.psql("UPDATE documents SET pdf = convert_to(repeat('x', 17 * 1024 * 1024), "
                    "'UTF8') WHERE site_id = '%s' AND customer_id = '%s'"
                    % (self.m.site_id, cus["id"]))
        b = self.login(cus)
        for method in ("GET", "HEAD"):
            r = self.s.request(method, url, headers=b._headers())
            self.assertEqual(r.status, 400, (method, r.status))
            if method == "GET":
                self.assertIn("one by one", r.text)
        api = self.m.get("/customers/%s/documents.zip?year=%d" % (cus["id"], year))
        self.assertEqual(api.status, 400, api)
        self.assertEqual(api.json["error"]["code"], "archive_too_large")


if __name__ == "__main__":
    unittest.main()
