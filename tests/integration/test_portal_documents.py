"""test_portal_documents.py: the portal hands the signed-in customer the stored PDFs of
their invoices and credit notes, and a year of them as one ZIP: the same bytes the API
serves, as attachments named after the document; another customer's or site's documents
are a 404; a document the job runner has not rendered yet is a readable page that says to
try again; GET and HEAD change nothing. The job runner's rendering counts as pending work."""
import calendar
import html as htmllib
import io
import os
import re
import signal
import struct
import subprocess
import tempfile
import time
import unittest
import zipfile
import zlib

from harness import Browser, stack


def text_of(page):
    t = re.sub(r"(?s)<head>.*?</head>", "", page.text)
    t = re.sub(r"</?(strong|span|a|em|b)\b[^>]*>", "", t)
    t = re.sub(r"<[^>]+>", " ", t)
    return re.sub(r"\s+", " ", htmllib.unescape(t)).strip()


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
        except (OSError, ValueError, IndexError):
            pass
    return out


class PortalDocuments(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("pd")
        self.home = "/portal/" + self.m.site_id

    # ---- helpers ----
    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def customer(self, name="Ada Lovelace", card=True):
        c = self.m.customer(name=name, email="ada@example.com")
        if card:
            tok = self.ok(self.m.post("/test_gateway/tokens", {
                "number": "4242424242424242", "exp_month": 12, "exp_year": 2035}))
            self.ok(self.m.post("/customers/%s/payment_methods" % c["id"], {"token": tok["id"]}))
        return c

    def invoice(self, cus, amount=2500, description="Consulting"):
        return self.ok(self.m.post("/invoices", {"customer_id": cus["id"], "currency": "USD",
                                                 "lines": [{"description": description,
                                                            "amount": amount}]}))

    def login(self, cus, **extra):
        sess = self.m.session(cus["id"], **extra)
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        return b

    def runner_stopped(self):
        """Stops the job runner and its lanes until the test ends, so a document stays
        unrendered for as long as the test needs."""
        master = self.s.master_pid()
        runner = [p for p in children(master) if children(p)]
        self.assertEqual(len(runner), 1, "one job runner with lanes")
        procs = [runner[0]] + children(runner[0])
        for p in procs:
            os.kill(p, signal.SIGSTOP)

        def resume():
            for p in procs:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(resume)
        return resume

    def sql(self, q):
        return self.s.psql(q.replace("$SITE", "'%s'" % self.m.site_id))

    def documents_row(self, oid):
        return self.sql("SELECT sha256, rendered_at, attempts FROM documents "
                        "WHERE site_id = $SITE AND object_id = '%s'" % oid)

    # ---- the list ----
    def test_the_invoice_list_links_each_pdf_and_the_credit_notes_under_their_invoice(self):
        cus = self.customer()
        inv = self.invoice(cus)
        self.ok(self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 500}))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        page = self.login(cus).get(self.home + "/invoices")
        self.assertEqual(page.status, 200)
        self.assertIn('<td data-label="Number">%s</td>' % inv["formatted_number"], page.text)
        self.assertIn('href="%s/invoices/%s/pdf" download>Download PDF' %
                      (self.home, inv["id"]), page.text)
        self.assertIn('href="%s/credit_notes/%s/pdf" download>PDF' % (self.home, cn["id"]),
                      page.text)
        text = text_of(page)
        self.assertIn("Credit note %s, $5.00" % cn["formatted_number"], text)
        year = time.gmtime(self.ok(self.m.get("/time_machine"))["now"]).tm_year
        self.assertIn("Download all invoices of %d" % year, text)
        # The overview's latest invoices link theirs too.
        overview = self.login(cus).get(self.home)
        self.assertIn('href="%s/invoices/%s/pdf" download>PDF' % (self.home, inv["id"]),
                      overview.text)
        self.assertIn('href="%s/invoices/archive/%d" download' % (self.home, year), page.text)

    def test_a_customer_without_documents_is_offered_no_archive(self):
        text = text_of(self.login(self.customer(card=False)).get(self.home + "/invoices"))
        self.assertIn("No invoices yet.", text)
        self.assertNotIn("Download all invoices", text)

    # ---- the files ----
    def test_the_pdfs_are_the_stored_bytes_as_named_attachments(self):
        cus = self.customer()
        inv = self.invoice(cus)
        self.ok(self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 500}))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        b = self.login(cus)
        for kind, doc in (("invoices", inv), ("credit_notes", cn)):
            stored = self.m.rendered_pdf(kind, doc["id"])
            before = self.documents_row(doc["id"])
            r = b.get("%s/%s/%s/pdf" % (self.home, kind, doc["id"]))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, stored)
            self.assertTrue(r.body.startswith(b"%PDF-"))
            self.assertEqual(r.header("content-type"), "application/pdf")
            self.assertEqual(r.header("content-disposition"),
                             'attachment; filename="%s.pdf"' % doc["formatted_number"])
            self.assertEqual(r.header("cache-control"), "no-store")
            self.assertEqual(r.header("x-content-type-options"), "nosniff")
            h = self.s.request("HEAD", "%s/%s/%s/pdf" % (self.home, kind, doc["id"]),
                               headers=b._headers())
            self.assertEqual(h.status, 200)
            self.assertEqual(h.header("content-type"), "application/pdf")
            self.assertEqual(h.body, b"")
            self.assertEqual(self.documents_row(doc["id"]), before)

    def test_another_customers_or_sites_documents_are_404(self):
        cus, other = self.customer(), self.customer(name="Grace Hopper")
        inv = self.invoice(cus)
        self.ok(self.m.post("/invoices/%s/refund" % inv["id"]))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        self.m.rendered_pdf("invoices", inv["id"])
        self.m.rendered_pdf("credit_notes", cn["id"])
        year = time.gmtime(self.ok(self.m.get("/time_machine"))["now"]).tm_year
        theirs = self.login(other)
        for tail in ("/invoices/%s/pdf" % inv["id"], "/credit_notes/%s/pdf" % cn["id"],
                     "/invoices/inv_nope/pdf", "/credit_notes/cn_nope/pdf",
                     "/credit_notes/%s/pdf" % inv["id"], "/invoices/%s/pdf" % cn["id"],
                     "/invoices/archive/19x6", "/invoices/archive/0999"):
            r = theirs.get(self.home + tail)
            self.assertEqual(r.status, 404, (tail, r))
            self.assertIn("text/html", r.header("content-type"))
            self.assertIn("Page not found", text_of(r))
        # Their own archive holds nothing of the other customer's.
        r = theirs.get("%s/invoices/archive/%d" % (self.home, year))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(zipfile.ZipFile(io.BytesIO(r.body)).namelist(), [])
        # Another site's customer signed in to their own site's portal.
        ms = self.s.new_site("pdx")
        stranger = ms.customer(name="Someone", email="s@example.com")
        sess = ms.session(stranger["id"])
        b = Browser(self.s)
        self.assertEqual(b.get(sess["access_url"]).status, 303)
        r = b.get("/portal/%s/invoices/%s/pdf" % (ms.site_id, inv["id"]))
        self.assertEqual(r.status, 404, r)
        # Signed out: the signed-out page, no file.
        r = Browser(self.s).get(self.home + "/invoices/%s/pdf" % inv["id"])
        self.assertEqual(r.status, 401, r)
        self.assertNotIn(b"%PDF", r.body)

    def test_invoice_history_switched_off_offers_and_serves_no_documents(self):
        cus = self.customer()
        inv = self.invoice(cus)
        self.m.rendered_pdf("invoices", inv["id"])
        b = self.login(cus, features={"invoice_history": False})
        r = b.get(self.home + "/invoices/%s/pdf" % inv["id"])
        self.assertEqual(r.status, 403, r)
        self.assertIn("Invoice history is not available", text_of(r))
        self.assertEqual(b.get(self.home + "/invoices/archive/2026").status, 403)
        self.assertNotIn("/pdf", b.get(self.home).text)

    def test_a_document_not_rendered_yet_is_a_page_that_says_to_try_again(self):
        cus = self.customer()
        inv = self.invoice(cus)
        stored = self.m.rendered_pdf("invoices", inv["id"])
        b = self.login(cus)
        resume = self.runner_stopped()
        self.sql("UPDATE documents SET pdf = NULL, sha256 = NULL WHERE site_id = $SITE "
                 "AND object_id = '%s'" % inv["id"])
        year = time.gmtime(self.ok(self.m.get("/time_machine"))["now"]).tm_year
        for tail in ("/invoices/%s/pdf" % inv["id"], "/invoices/archive/%d" % year):
            r = b.get(self.home + tail)
            self.assertEqual(r.status, 409, (tail, r))
            self.assertIn("text/html", r.header("content-type"))
            self.assertEqual(r.header("retry-after"), "2")
            self.assertIsNone(r.header("content-disposition"))
            text = text_of(r)
            self.assertIn("Your document is being prepared", text)
            self.assertIn("Try the download again", text)
            self.assertIn('href="%s%s"' % (self.home, tail), r.text)
        # The rendering is work the runner has not done: counted as pending.
        self.assertGreaterEqual(self.ok(self.m.get("/time_machine"))["pending_jobs"], 1)
        # One that could not be rendered five times: said plainly, and logged.
        self.sql("UPDATE documents SET attempts = 5, last_error = 'font missing' "
                 "WHERE site_id = $SITE AND object_id = '%s'" % inv["id"])
        r = b.get(self.home + "/invoices/%s/pdf" % inv["id"])
        self.assertEqual(r.status, 500, r)
        self.assertIn("This document cannot be downloaded", text_of(r))
        self.assertNotIn("font missing", r.text)
        self.sql("UPDATE documents SET attempts = 0, last_error = NULL WHERE site_id = $SITE "
                 "AND object_id = '%s'" % inv["id"])
        resume()
        self.assertEqual(self.m.rendered_pdf("invoices", inv["id"]), stored)
        self.assertEqual(b.get(self.home + "/invoices/%s/pdf" % inv["id"]).body, stored)

    # ---- what documents take from the portal's configuration ----
    def test_documents_show_the_sites_logo_and_dates_in_its_time_zone(self):
        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        raw = b"".join(b"\0" + b"\x20\x40\xa0\xff" * 48 for _ in range(24))
        logo = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 48, 24, 8, 6,
                                                                    0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
        self.assertEqual(self.m.call("POST", "/portal_configuration/logo", raw=logo, headers={
            "Content-Type": "image/png"}).status, 200)
        self.ok(self.m.post("/portal_configuration", {"time_zone": "Pacific/Kiritimati"}))
        # Noon UTC: already the next day in Kiritimati (UTC+14).
        now = self.ok(self.m.get("/time_machine"))["now"]
        noon = (now // 86400 + 1) * 86400 + 12 * 3600
        self.ok(self.m.post("/time_machine/travel_forward", {"destination_time": noon}))
        cus = self.customer()
        inv = self.invoice(cus)
        body = self.m.rendered_pdf("invoices", inv["id"])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "inv.pdf")
            with open(path, "wb") as f:
                f.write(body)
            text = subprocess.run(["pdftotext", "-raw", path, "-"], capture_output=True,
                                  text=True, check=True).stdout
            images = subprocess.run(["pdfimages", "-list", path], capture_output=True,
                                    text=True, check=True).stdout.splitlines()[2:]
        local = time.gmtime(noon + 14 * 3600)
        want = "%d %s %d" % (local.tm_mday, time.strftime("%b", local), local.tm_year)
        utc = time.gmtime(noon)
        self.assertIn(want, text)
        self.assertNotIn("%d %s %d" % (utc.tm_mday, time.strftime("%b", utc), utc.tm_year),
                         text)
        self.assertEqual(len(images), 1, images)
        self.assertIn(" 48 ", images[0])

    # ---- the yearly archive ----
    def test_the_yearly_zip_holds_exactly_that_years_documents(self):
        cus = self.customer()
        first = self.invoice(cus, 1000, "January work")
        self.ok(self.m.post("/invoices/%s/refund" % first["id"], {"amount": 300}))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % first["id"]))["data"][0]
        now = self.ok(self.m.get("/time_machine"))["now"]
        y1 = time.gmtime(now).tm_year
        # Into the next calendar year (the site's time zone is UTC here).
        next_year = calendar.timegm(time.strptime("%d-01-02" % (y1 + 1), "%Y-%m-%d"))
        self.ok(self.m.post("/time_machine/travel_forward", {"destination_time": next_year}))
        second = self.invoice(cus, 2000, "Next year's work")
        other = self.customer(name="Grace Hopper")
        self.invoice(other, 700)
        stored = {f"invoices/{first['formatted_number']}.pdf":
                  self.m.rendered_pdf("invoices", first["id"]),
                  f"credit_notes/{cn['formatted_number']}.pdf":
                  self.m.rendered_pdf("credit_notes", cn["id"])}
        later = self.m.rendered_pdf("invoices", second["id"])
        b = self.login(cus)
        page = b.get(self.home + "/invoices")
        for y in (y1 + 1, y1):
            self.assertIn("Download all invoices of %d" % y, text_of(page))
        r = b.get("%s/invoices/archive/%d" % (self.home, y1))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/zip")
        self.assertEqual(r.header("content-disposition"),
                         'attachment; filename="documents-%s-%d.zip"' % (cus["id"], y1))
        z = zipfile.ZipFile(io.BytesIO(r.body))
        self.assertEqual(sorted(z.namelist()), sorted(stored))
        for name, body in stored.items():
            self.assertEqual(z.read(name), body)
        z = zipfile.ZipFile(io.BytesIO(b.get("%s/invoices/archive/%d" % (self.home,
                                                                          y1 + 1)).body))
        self.assertEqual(z.namelist(), ["invoices/%s.pdf" % second["formatted_number"]])
        self.assertEqual(z.read(z.namelist()[0]), later)
        # The same archive the API gives the merchant.
        api = self.m.get("/customers/%s/documents.zip?year=%d" % (cus["id"], y1))
        self.assertEqual(api.body, r.body)


if __name__ == "__main__":
    unittest.main()
