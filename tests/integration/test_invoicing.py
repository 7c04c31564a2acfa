"""test_invoicing.py: invoices customers can file, through the real stack: the site's legal
details (API and portalctl), tax ids by type, tax rates and the taxes invoices charge
(exclusive, inclusive, regional, stacked, the EU reverse charge, one rounding rule),
credit notes (a downgrade's credit, refunds, voids) with their own number series, and the
PDF of each invoice and credit note: rendered once by the job runner, checked with
poppler-utils (text as formatted, fonts embedded, pages), byte-identical after a restart
and after rendering again, downloads scoped to the site, and a customer's yearly ZIP."""
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import zipfile

from harness import stack

GOOD = "4242424242424242"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}

# A seller in Berlin with a German VAT id (python-stdnum's example number).
SELLER = {
    "legal_name": "Zoë Ångström Design GmbH",
    "address": {"line1": "Straße des 17. Juni 135", "postal_code": "10623",
                "city": "Berlin", "country": "DE"},
    "tax_ids": [{"type": "eu_vat", "value": "DE 136 695 976"}],
    "email": "billing@zoe-design.example",
    "footer": "Amtsgericht Charlottenburg HRB 123456 B · IBAN DE89 3704 0044 0532 0130 00",
}


def money(minor, currency):
    """What currency_format writes: "€1,234.50", "-$5.00", "¥1,200", "KWD 1.250"."""
    units = MINOR[currency]
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    major, frac = divmod(minor, 10 ** units) if units else (minor, 0)
    text = "{:,}".format(major) + ("." + str(frac).zfill(units) if units else "")
    prefix = SYMBOLS.get(currency, currency + " ")
    return sign + prefix + text


def day(ts):
    """What documents print for a date (the site's zone is UTC until the portal's lands)."""
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return "%d %s %d" % (d.day, d.strftime("%b"), d.year)


def flat(text):
    return re.sub(r"\s+", "", text)


class Base(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("inv")
        self.tmp = tempfile.mkdtemp(prefix="portald-inv.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json

    def legal(self, **fields):
        body = dict(SELLER)
        body.update(fields)
        return self.ok(self.m.post("/legal_details", body))

    def rate(self, name, pct, country, inclusive=False, region=None, **kw):
        body = {"display_name": name, "percentage": pct, "country": country,
                "inclusive": inclusive}
        if region:
            body["region"] = region
        body.update(kw)
        return self.ok(self.m.post("/tax_rates", body))

    def card(self, cus):
        tok = self.ok(self.m.post("/test_gateway/tokens", {"number": GOOD, "exp_month": 12,
                                                           "exp_year": 2099}))
        return self.ok(self.m.post("/customers/%s/payment_methods" % cus, {"token": tok["id"]}))

    def customer(self, card=False, **fields):
        c = self.m.customer(**fields)
        if card:
            self.card(c["id"])
        return c

    def invoice(self, cus, currency, lines):
        return self.ok(self.m.post("/invoices", {"customer_id": cus, "currency": currency,
                                                 "lines": lines}))

    def plan(self, pid, amount, currency="EUR"):
        return self.ok(self.m.post("/plans", {"id": pid, "name": pid.title(), "amount": amount,
                                              "currency": currency, "interval": "month",
                                              "interval_count": 1, "trial_days": 0}))

    def pdf(self, kind, oid, timeout=60):
        """The document's PDF once the job runner has rendered it (409 until then)."""
        deadline = time.time() + timeout
        while True:
            r = self.m.get("/%s/%s/pdf" % (kind, oid))
            if r.status == 200:
                return r
            self.assertEqual(r.status, 409, r)
            self.assertEqual(r.json["error"]["code"], "document_not_ready")
            self.assertIsNotNone(r.header("retry-after"))
            if time.time() > deadline:
                self.fail("the PDF of %s %s was not rendered" % (kind, oid))
            time.sleep(0.1)

    def save(self, body, name):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(body)
        keep = os.environ.get("INVOICING_KEEP_DIR")    # to look at the documents
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(path, os.path.join(keep, "%s-%s" % (self._testMethodName, name)))
        return path

    def text(self, path):
        return subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", path, "-"],
                              capture_output=True, text=True, check=True).stdout

    def info(self, path):
        out = subprocess.run(["pdfinfo", "-isodates", path], capture_output=True, text=True,
                             check=True).stdout
        return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)

    def check_pdf(self, r, number, wants, pages=(1, 1), created=None):
        """The download and the file: headers, every text as formatted, fonts, pages."""
        self.assertEqual(r.header("content-type"), "application/pdf")
        self.assertEqual(r.header("content-disposition"),
                         'attachment; filename="%s.pdf"' % number)
        self.assertTrue(r.body.startswith(b"%PDF-"))
        path = self.save(r.body, number + ".pdf")
        got = flat(self.text(path))
        missing = [w for w in wants if flat(w) not in got]
        self.assertEqual(missing, [], "not in the PDF of %s" % number)
        fonts = subprocess.run(["pdffonts", path], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        self.assertTrue(fonts)
        for line in fonts:
            cols = line.split()
            self.assertEqual((cols[-5], cols[-4]), ("yes", "yes"), "not embedded: " + line)
        info = self.info(path)
        n = int(info["Pages"].strip())
        self.assertTrue(pages[0] <= n <= pages[1], "%s has %d pages" % (number, n))
        if created is not None:
            iso = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
            self.assertTrue(info["CreationDate"].strip().startswith(
                iso.strftime("%Y-%m-%dT%H:%M:%S")), info["CreationDate"])
        return path


class LegalDetails(Base):
    def test_defaults_then_set_and_read_back(self):
        got = self.ok(self.m.get("/legal_details"))
        self.assertEqual((got["object"], got["legal_name"], got["invoice_prefix"],
                          got["credit_note_prefix"], got["paper_size"], got["tax_ids"]),
                         ("legal_details", None, "INV-", "CN-", "a4", []))
        self.assertEqual(got["name_on_documents"], "Site " + self.m.site_id)
        got = self.legal(invoice_prefix="RE-2026-", credit_note_prefix="GS-2026-",
                         paper_size="letter")
        self.assertEqual(got["legal_name"], SELLER["legal_name"])
        self.assertEqual(got["tax_ids"], [{"type": "eu_vat", "value": "DE136695976",
                                           "country": "DE"}])
        self.assertEqual((got["invoice_prefix"], got["paper_size"]), ("RE-2026-", "letter"))
        # A partial update keeps the rest; null clears.
        got = self.ok(self.m.post("/legal_details", {"footer": None, "phone": "+49 30 1234"}))
        self.assertEqual((got["footer"], got["phone"], got["legal_name"]),
                         (None, "+49 30 1234", SELLER["legal_name"]))
        self.assertEqual(self.ok(self.m.get("/legal_details")), got)
        types = [e["type"] for e in self.ok(self.m.get("/events"))["data"]]
        self.assertIn("legal_details.updated", types)

    def test_bad_details_are_refused_with_the_field(self):
        cases = [
            ({"tax_ids": [{"type": "eu_vat", "value": "DE136695977"}]}, "tax_ids[0].value"),
            ({"tax_ids": [{"type": "xx_vat", "value": "1"}]}, "tax_ids[0].type"),
            ({"invoice_prefix": "INV/"}, "invoice_prefix"),
            ({"invoice_prefix": "A-", "credit_note_prefix": "A-"}, "credit_note_prefix"),
            ({"paper_size": "a5"}, "paper_size"),
            ({"address": {"country": "Germany"}}, "address.country"),
            ({"email": "not an address"}, "email"),
            ({"tax_ids": [{"type": "gb_vat", "value": "GB980780684"}] * 6}, "tax_ids"),
        ]
        for body, param in cases:
            r = self.m.post("/legal_details", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param, body)
        self.assertEqual(self.ok(self.m.get("/legal_details"))["legal_name"], None)

    def test_portalctl_shows_and_sets_them(self):
        path = os.path.join(self.tmp, "legal.json")
        with open(path, "w") as f:
            json.dump({"legal_name": "Ölwerk AG", "tax_ids": [
                {"type": "ch_vat", "value": "CHE107787577MWST"}], "paper_size": "a4"}, f)
        got = self.s.portalctl("legal-details", self.m.site_id, "--set", path)
        self.assertEqual(got["legal_name"], "Ölwerk AG")
        self.assertEqual(got["tax_ids"][0]["value"], "CHE-107.787.577 MWST")
        self.assertEqual(self.s.portalctl("legal-details", self.m.site_id), got)
        self.assertEqual(self.ok(self.m.get("/legal_details"))["legal_name"], "Ölwerk AG")
        ev = [e for e in self.ok(self.m.get("/events?type=legal_details.updated"))["data"]]
        self.assertEqual(ev[0]["actor"]["type"], "admin")
        with open(path, "w") as f:
            json.dump({"tax_ids": [{"type": "ch_vat", "value": "CHE-107.787.578 IVA"}]}, f)
        with self.assertRaises(RuntimeError) as caught:
            self.s.portalctl("legal-details", self.m.site_id, "--set", path)
        self.assertIn("check digit", str(caught.exception))


class TaxIds(Base):
    """Each type Stripe defines a check for, good and bad, as the API takes them."""
    GOOD = [("eu_vat", "DE 136 695 976", "DE136695976"), ("eu_vat", "FR23334175221",
            "FR23334175221"), ("eu_vat", "EL 094259216", "EL094259216"),
            ("eu_vat", "IE 6433435OA", "IE6433435OA"), ("eu_vat", "XI 980 7806 84",
            "XI980780684"), ("gb_vat", "980780684", "GB980780684"),
            ("ch_vat", "che-107.787.577 iva", "CHE-107.787.577 IVA"),
            ("no_vat", "995525828", "995525828MVA"), ("au_abn", "51 824 753 556",
            "51824753556"), ("ca_bn", "12302 6635", "123026635"),
            ("us_ein", "911144442", "91-1144442"), ("in_gst", "27aapfu0939f1zv",
            "27AAPFU0939F1ZV"), ("br_cnpj", "16727230000197", "16.727.230/0001-97"),
            ("jp_cn", "5-8356-7825-6246", "5835678256246"), ("other", "  ABC  123 ",
            "ABC 123")]
    BAD = [("eu_vat", "DE136695977", "check digit"), ("eu_vat", "136695976", "prefix"),
           ("gb_vat", "GB980780685", "check digit"), ("ch_vat", "CHE-107.787.577",
           "MWST, TVA or IVA"), ("no_vat", "NO 995 525 829 MVA", "check digit"),
           ("au_abn", "99 999 999 999", "check digit"), ("ca_bn", "123456783",
           "check digit"), ("us_ein", "07-1144442", "07"), ("in_gst", "27AAPFU0939F1ZO",
           "check digit"), ("br_cnpj", "16.727.230/0001-98", "check digit"),
           ("jp_cn", "2-8356-7825-6246", "check digit")]

    def test_good_ids_are_kept_in_canonical_form(self):
        for kind, value, want in self.GOOD:
            c = self.ok(self.m.post("/customers", {"tax_id": {"type": kind, "value": value}}))
            self.assertEqual(c["tax_id"], {"type": kind, "value": want}, (kind, value))

    def test_bad_ids_are_refused_with_the_reason(self):
        for kind, value, why in self.BAD:
            r = self.m.post("/customers", {"tax_id": {"type": kind, "value": value}})
            self.assertEqual(r.status, 400, (kind, value, r))
            self.assertEqual(r.json["error"]["code"], "tax_id_invalid")
            self.assertEqual(r.json["error"]["param"], "tax_id.value")
            self.assertIn(why, r.json["error"]["message"], (kind, value))
        r = self.m.post("/customers", {"tax_id": {"type": "de_vat", "value": "1"}})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "tax_id.type"))


class TaxRates(Base):
    def test_rates_are_made_listed_and_archived_but_never_repriced(self):
        r19 = self.rate("VAT", "19", "DE", id="de-vat")
        self.assertEqual((r19["id"], r19["percentage"], r19["inclusive"], r19["active"],
                          r19["region"]), ("de-vat", "19", False, True, None))
        ca = self.rate("CA sales tax", "7.25", "US", region="ca")
        self.assertEqual((ca["percentage"], ca["region"]), ("7.25", "CA"))
        self.assertEqual([x["id"] for x in self.ok(self.m.get("/tax_rates?country=DE"))["data"]],
                         ["de-vat"])
        off = self.ok(self.m.post("/tax_rates/de-vat", {"active": False,
                                                        "display_name": "USt"}))
        self.assertEqual((off["active"], off["display_name"], off["percentage"]),
                         (False, "USt", "19"))
        self.assertEqual(self.ok(self.m.get("/tax_rates?active=true"))["data"][0]["id"],
                         ca["id"])
        r = self.m.post("/tax_rates/de-vat", {"percentage": "20"})
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "parameter_unknown"))
        self.assertEqual(self.m.post("/tax_rates", {"id": "de-vat", "display_name": "x",
                                                    "percentage": "1", "country": "DE",
                                                    "inclusive": False}).status, 409)
        for bad in ("", "19,5", "-1", "100.5", "19.12345", "1e2"):
            r = self.m.post("/tax_rates", {"display_name": "x", "percentage": bad,
                                           "country": "DE", "inclusive": False})
            self.assertEqual((r.status, r.json["error"]["param"]), (400, "percentage"), bad)
        r = self.m.post("/tax_rates", {"display_name": "x", "percentage": "5",
                                       "country": "US", "region": "US-CA", "inclusive": False})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "region"))
        self.assertEqual(self.m.get("/tax_rates/nope").status, 404)


class Taxes(Base):
    def setUp(self):
        super().setUp()
        self.legal()

    def test_exclusive_rate_is_added_per_line_rounded_half_up(self):
        self.rate("VAT", "19", "DE")
        c = self.customer(name="Hans Muster", billing_address={"country": "DE"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Consulting", "amount": 105},
                                            {"description": "Hosting", "amount": 10000}])
        # 19.95 -> 20 and 1900: each line on its own, half up.
        self.assertEqual([l["tax_amount"] for l in inv["lines"]], [20, 1900])
        self.assertEqual((inv["subtotal"], inv["tax"], inv["total"], inv["total_excluding_tax"],
                          inv["amount_due"], inv["tax_treatment"]),
                         (10105, 1920, 12025, 10105, 12025, "taxed"))
        t = inv["tax_amounts"]
        self.assertEqual(len(t), 1)
        self.assertEqual((t[0]["display_name"], t[0]["percentage"], t[0]["inclusive"],
                          t[0]["taxable_amount"], t[0]["amount"]), ("VAT", "19", False,
                                                                    10105, 1920))
        self.assertEqual(inv["total"], inv["credit_applied"] + inv["amount_due"])
        self.assertEqual(inv["formatted_number"], "INV-%04d" % inv["number"])
        self.assertEqual(inv["seller_details"]["name"], SELLER["legal_name"])
        self.assertEqual(inv["seller_details"]["tax_ids"][0]["value"], "DE136695976")

    def test_inclusive_rate_is_inside_the_price(self):
        self.rate("TVA", "20", "FR", inclusive=True)
        c = self.customer(billing_address={"country": "FR"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Abonnement", "amount": 12000}])
        self.assertEqual((inv["subtotal"], inv["tax"], inv["total"], inv["total_excluding_tax"]),
                         (12000, 2000, 12000, 10000))
        self.assertEqual(inv["tax_amounts"][0]["taxable_amount"], 10000)

    def test_regional_and_stacked_rates_follow_the_billing_address(self):
        self.rate("CA sales tax", "7.25", "US", region="CA")
        self.rate("GST", "5", "CA")
        self.rate("PST", "7", "CA", region="BC")
        ca = self.customer(billing_address={"country": "US", "state": "ca"})
        ny = self.customer(billing_address={"country": "US", "state": "NY"})
        bc = self.customer(billing_address={"country": "CA", "state": "BC"})
        on = self.customer(billing_address={"country": "CA", "state": "ON"})
        nowhere = self.customer()
        lines = [{"description": "Plan", "amount": 999}]
        self.assertEqual(self.invoice(ca["id"], "USD", lines)["tax"], 72)   # 72.43
        self.assertEqual(self.invoice(ny["id"], "USD", lines)["tax_treatment"], "none")
        inv = self.invoice(bc["id"], "USD", lines)
        self.assertEqual([(t["display_name"], t["amount"]) for t in inv["tax_amounts"]],
                         [("GST", 50), ("PST", 70)])
        self.assertEqual(inv["total"], 1119)
        self.assertEqual([t["display_name"] for t in
                          self.invoice(on["id"], "USD", lines)["tax_amounts"]], ["GST"])
        self.assertEqual(self.invoice(nowhere["id"], "USD", lines)["tax"], 0)

    def test_eu_business_in_another_member_state_gets_the_reverse_charge(self):
        self.rate("VAT", "19", "DE")
        self.rate("BTW", "21", "NL")
        nl = self.customer(company="Voorbeeld B.V.", billing_address={"country": "NL"},
                           tax_id={"type": "eu_vat", "value": "NL004495445B01"})
        de = self.customer(company="Beispiel GmbH", billing_address={"country": "DE"},
                           tax_id={"type": "eu_vat", "value": "DE136695976"})
        consumer = self.customer(billing_address={"country": "NL"})
        lines = [{"description": "Plan", "amount": 50000}]
        inv = self.invoice(nl["id"], "EUR", lines)
        self.assertEqual((inv["tax"], inv["total"], inv["tax_treatment"], inv["tax_amounts"]),
                         (0, 50000, "reverse_charge", []))
        self.assertIn("Reverse charge", inv["tax_note"])
        self.assertIn("Art. 196", inv["tax_note"])
        self.assertEqual(self.invoice(de["id"], "EUR", lines)["tax"], 9500)    # domestic
        self.assertEqual(self.invoice(consumer["id"], "EUR", lines)["tax"], 10500)

    def test_credit_pays_the_total_with_tax_and_the_invariant_holds(self):
        self.rate("VAT", "19", "DE")
        c = self.customer(billing_address={"country": "DE"})
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 500, "currency": "EUR"}))
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 10000}])
        self.assertEqual((inv["total"], inv["credit_applied"], inv["amount_due"]),
                         (11900, 500, 11400))
        c2 = self.customer(billing_address={"country": "DE"})
        self.ok(self.m.post("/customers/%s/credit_entries" % c2["id"],
                            {"amount": 20000, "currency": "EUR"}))
        inv = self.invoice(c2["id"], "EUR", [{"description": "Plan", "amount": 10000}])
        self.assertEqual((inv["credit_applied"], inv["amount_due"], inv["status"]),
                         (11900, 0, "paid"))

    def test_preview_and_next_amount_carry_the_tax(self):
        self.rate("VAT", "19", "DE")
        self.plan("basic", 1000)
        self.plan("pro", 3000)
        c = self.customer(card=True, billing_address={"country": "DE"})
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": c["id"], "plan_id": "basic"}))
        self.assertEqual(sub["next_amount"], 1190)
        first = self.ok(self.m.get("/invoices?customer_id=%s" % c["id"]))["data"][0]
        self.assertEqual((first["total"], first["amount_paid"], first["status"]),
                         (1190, 1190, "paid"))
        p = self.ok(self.m.post("/subscriptions/%s/change_plan/preview" % sub["id"],
                                {"plan_id": "pro"}))
        self.assertEqual(p["total"], p["subtotal"] + p["tax"])
        self.assertEqual(p["tax"], sum(t["amount"] for t in p["tax_amounts"]))
        self.assertEqual(p["tax_amounts"][0]["display_name"], "VAT")
        self.assertEqual(p["total"], p["credit_applied"] + p["amount_due"])
        done = self.ok(self.m.post("/subscriptions/%s/change_plan" % sub["id"],
                                   {"plan_id": "pro", "proration_date": p["proration_date"]}))
        inv = self.ok(self.m.get("/invoices/%s" % done["latest_invoice_id"]))
        self.assertEqual((inv["total"], inv["tax"], inv["credit_applied"]),
                         (p["total"], p["tax"], p["credit_applied"]))


class CreditNotes(Base):
    def setUp(self):
        super().setUp()
        self.legal()
        self.rate("VAT", "19", "DE")

    def test_a_downgrade_credits_unused_time_with_its_tax_and_a_credit_note(self):
        self.plan("basic", 1000)
        self.plan("pro", 3000)
        c = self.customer(card=True, billing_address={"country": "DE"})
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": c["id"], "plan_id": "pro"}))
        term = sub["latest_invoice_id"]
        self.m.travel(10 * 86400)
        done = self.ok(self.m.post("/subscriptions/%s/change_plan" % sub["id"],
                                   {"plan_id": "basic"}))
        notes = self.ok(self.m.get("/credit_notes?invoice_id=%s" % term))["data"]
        self.assertEqual(len(notes), 1)
        cn = notes[0]
        self.assertEqual((cn["reason"], cn["invoice_id"], cn["customer_id"], cn["currency"]),
                         ("plan_change", term, c["id"], "EUR"))
        self.assertEqual(cn["formatted_number"], "CN-%04d" % cn["number"])
        self.assertEqual(cn["total"], cn["subtotal"] + cn["tax"])
        self.assertEqual((cn["credit_amount"], cn["refund_amount"], cn["void_amount"]),
                         (cn["total"], 0, 0))
        self.assertEqual(cn["tax_amounts"][0]["amount"], cn["tax"])
        self.assertEqual(cn["tax"], (cn["subtotal"] * 19 + 50) // 100)
        # The ledger holds the credit the note documents.
        entry = [e for e in self.ok(self.m.get("/customers/%s/credit_entries" % c["id"]))["data"]
                 if e["id"] == cn["credit_entry_id"]][0]
        self.assertEqual((entry["amount"], entry["source"]), (cn["total"], "proration"))
        # The new invoice is never negative: the credit pays it and the rest stays.
        new = self.ok(self.m.get("/invoices/%s" % done["latest_invoice_id"]))
        self.assertTrue(all(l["amount"] >= 0 for l in new["lines"]))
        self.assertEqual(new["credit_applied"], new["total"])
        self.assertEqual(self.ok(self.m.get("/invoices/%s" % term))["amount_credited"],
                         cn["total"])
        # The PDF is rendered by the job runner, so it may have appeared since the list.
        again = self.ok(self.m.get("/credit_notes/%s" % cn["id"]))
        self.assertIn(again.pop("credit_note_pdf"), (None, "/api/v1/credit_notes/%s/pdf" % cn["id"]))
        self.assertIn(cn.pop("credit_note_pdf"), (None, "/api/v1/credit_notes/%s/pdf" % cn["id"]))
        self.assertEqual(again, cn)

    def test_refunds_issue_credit_notes_and_never_exceed_the_invoice(self):
        c = self.customer(card=True, billing_address={"country": "DE"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 10000}])
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 11900))
        self.ok(self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 1190}))
        part = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        self.assertEqual((part["reason"], part["refund_amount"], part["total"], part["tax"],
                          part["subtotal"]), ("refund", 1190, 1190, 190, 1000))
        self.assertIsNotNone(part["payment_attempt_id"])
        rest = self.ok(self.m.post("/invoices/%s/refund" % inv["id"]))
        self.assertEqual(rest["amount_refunded"], 11900)
        notes = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"]
        self.assertEqual(sum(n["total"] for n in notes), 11900)
        self.assertEqual(self.m.post("/invoices/%s/refund" % inv["id"]).status, 400)
        # A full refund repeats the invoice's lines.
        inv2 = self.invoice(c["id"], "EUR", [{"description": "One", "amount": 100},
                                             {"description": "Two", "amount": 200}])
        self.ok(self.m.post("/invoices/%s/refund" % inv2["id"]))
        full = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv2["id"]))["data"][0]
        self.assertEqual([(l["description"], l["amount"]) for l in full["lines"]],
                         [("One", 100), ("Two", 200)])
        self.assertEqual((full["tax"], full["total"]), (inv2["tax"], inv2["total"]))

    def test_what_was_credited_is_not_refunded_too(self):
        self.plan("pro", 3000)
        c = self.customer(card=True, billing_address={"country": "DE"})
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": c["id"], "plan_id": "pro"}))
        term = sub["latest_invoice_id"]
        self.ok(self.m.post("/subscriptions/%s/cancel" % sub["id"], {"when": "now"}))
        credited = self.ok(self.m.get("/invoices/%s" % term))
        self.assertGreater(credited["amount_credited"], 0)
        r = self.m.post("/invoices/%s/refund" % term, {"amount": credited["total"]})
        self.assertEqual(r.status, 400, r)
        left = credited["total"] - credited["amount_credited"]
        self.assertIn(str(left), r.json["error"]["message"])

    def test_voiding_an_invoice_issues_a_credit_note_for_all_of_it(self):
        c = self.customer(billing_address={"country": "DE"})      # no card: stays open
        self.ok(self.m.post("/customers/%s/credit_entries" % c["id"],
                            {"amount": 900, "currency": "EUR"}))
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 10000}])
        self.assertEqual((inv["status"], inv["credit_applied"], inv["amount_due"]),
                         ("open", 900, 11000))
        self.ok(self.m.post("/invoices/%s/void" % inv["id"]))
        cn = self.ok(self.m.get("/credit_notes?customer_id=%s" % c["id"]))["data"][0]
        self.assertEqual((cn["reason"], cn["total"], cn["credit_amount"], cn["void_amount"],
                          cn["tax"]), ("void", 11900, 900, 11000, 1900))
        self.assertEqual(self.ok(self.m.get("/customers/%s" % c["id"]))["credit_balances"],
                         {"EUR": 900})

    def test_numbers_are_gapless_per_series_with_their_prefixes(self):
        self.ok(self.m.post("/legal_details", {"invoice_prefix": "R", "credit_note_prefix": "G"}))
        c = self.customer(card=True, billing_address={"country": "DE"})
        for _ in range(3):
            inv = self.invoice(c["id"], "EUR", [{"description": "x", "amount": 100}])
            self.ok(self.m.post("/invoices/%s/refund" % inv["id"]))
        invs = self.ok(self.m.get("/invoices"))["data"]
        notes = self.ok(self.m.get("/credit_notes"))["data"]
        self.assertEqual([i["formatted_number"] for i in invs], ["R0003", "R0002", "R0001"])
        self.assertEqual([n["formatted_number"] for n in notes], ["G0003", "G0002", "G0001"])
        page = self.ok(self.m.get("/credit_notes?limit=1&starting_after=%s" % notes[0]["id"]))
        self.assertEqual([n["number"] for n in page["data"]], [2])
        self.assertTrue(page["has_more"])
        other = self.s.new_site("inv")
        self.assertEqual(other.get("/credit_notes/%s" % notes[0]["id"]).status, 404)
        self.assertEqual(other.get("/credit_notes")["data"] if False else
                         other.get("/credit_notes").json["data"], [])


class Pdfs(Base):
    """The documents themselves, with tricky data, checked with poppler-utils."""

    def setUp(self):
        super().setUp()
        self.legal()

    def test_invoice_pdf_names_both_parties_and_every_amount(self):
        self.rate("VAT", "19", "DE")
        c = self.customer(name="Ελένη Παπαδοπούλου", company="ООО «Ромашка» Торговый дом "
                          "с очень длинным названием для проверки переноса строк",
                          email="eleni@example.gr",
                          billing_address={"line1": "Οδός Ερμού 25", "postal_code": "10563",
                                           "city": "Αθήνα", "country": "DE"})
        lines = [{"description": "Café crème subscription — Pro plan (monthly)",
                  "amount": 123450, "period_start": 1772323200, "period_end": 1775001600},
                 {"description": "Extra seats", "amount": 3450}]
        inv = self.invoice(c["id"], "EUR", lines)
        r = self.pdf("invoices", inv["id"])
        wants = [inv["formatted_number"], day(inv["created_at"]), SELLER["legal_name"],
                 "Straße des 17. Juni 135", "VAT: DE136695976", c["name"], c["company"],
                 "Οδός Ερμού 25", "Café crème subscription", "1 Mar 2026", "1 Apr 2026",
                 money(123450, "EUR"), money(3450, "EUR"), money(inv["subtotal"], "EUR"),
                 "VAT 19% on " + money(inv["subtotal"], "EUR"), money(inv["tax"], "EUR"),
                 money(inv["total"], "EUR"), "Amount due", SELLER["footer"], "Page 1 of 1"]
        self.check_pdf(r, inv["formatted_number"], wants, created=inv["created_at"])
        self.assertEqual(self.ok(self.m.get("/invoices/%s" % inv["id"]))["invoice_pdf"],
                         "/api/v1/invoices/%s/pdf" % inv["id"])

    def test_cjk_zero_decimal_inclusive_tax(self):
        self.rate("消費税", "10", "JP", inclusive=True)
        c = self.customer(name="山田太郎", company="株式会社テスト商事",
                          billing_address={"city": "東京都千代田区", "country": "JP"})
        inv = self.invoice(c["id"], "JPY", [{"description": "スタータープラン", "amount": 1200}])
        self.assertEqual((inv["tax"], inv["total"]), (109, 1200))
        r = self.pdf("invoices", inv["id"])
        self.check_pdf(r, inv["formatted_number"], [
            "株式会社テスト商事", "山田太郎", "スタータープラン", "¥1,200",
            "Includes 消費税 10% on ¥1,091", "¥109"])

    def test_three_decimal_currency_and_sixty_lines_over_several_pages(self):
        c = self.customer(name="Kuwait Trading Co.", billing_address={"country": "KW"})
        lines = [{"description": "Translation, page %d" % (i + 1), "amount": 1250 + i}
                 for i in range(60)]
        inv = self.invoice(c["id"], "KWD", lines)
        r = self.pdf("invoices", inv["id"])
        wants = [inv["formatted_number"], "Kuwait Trading Co.", money(inv["total"], "KWD")]
        wants += ["Translation, page %d" % (i + 1) for i in range(60)]
        wants += [money(1250 + i, "KWD") for i in range(60)]
        path = self.check_pdf(r, inv["formatted_number"], wants, pages=(2, 4))
        n = int(self.info(path)["Pages"])
        self.assertIn("Page %d of %d" % (n, n), self.text(path))

    def test_reverse_charge_invoice_says_why_there_is_no_vat(self):
        self.rate("VAT", "21", "NL")
        c = self.customer(company="Voorbeeld B.V.", billing_address={"country": "NL"},
                          tax_id={"type": "eu_vat", "value": "NL004495445B01"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 50000}])
        r = self.pdf("invoices", inv["id"])
        self.check_pdf(r, inv["formatted_number"], [
            "Voorbeeld B.V.", "VAT: NL004495445B01", "VAT 0% (reverse charge)",
            "Reverse charge: VAT to be accounted for by the recipient", "€500.00"])

    def test_credit_notes_of_a_refund_and_a_downgrade(self):
        self.rate("VAT", "19", "DE")
        self.plan("basic", 1000)
        self.plan("pro", 3000)
        c = self.customer(card=True, name="Zoë Müller", billing_address={"country": "DE"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 10000}])
        self.ok(self.m.post("/invoices/%s/refund" % inv["id"], {"amount": 2380}))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        r = self.pdf("credit_notes", cn["id"])
        self.check_pdf(r, cn["formatted_number"], [
            "Credit note", cn["formatted_number"], "Corrects invoice " + inv["formatted_number"],
            day(inv["created_at"]), "Zoë Müller", SELLER["legal_name"],
            "Refund on invoice " + inv["formatted_number"], money(2000, "EUR"),
            "VAT 19% on €20.00", "€3.80", "€23.80", "Refunded to your payment method"],
            created=cn["created_at"])
        sub = self.ok(self.m.post("/subscriptions", {"customer_id": c["id"], "plan_id": "pro"}))
        self.m.travel(15 * 86400)
        self.ok(self.m.post("/subscriptions/%s/change_plan" % sub["id"], {"plan_id": "basic"}))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % sub["latest_invoice_id"]))
        cn = cn["data"][0]
        r = self.pdf("credit_notes", cn["id"])
        self.check_pdf(r, cn["formatted_number"], [
            "Unused time on Pro", money(cn["subtotal"], "EUR"), money(cn["tax"], "EUR"),
            money(cn["total"], "EUR"), "To your account balance", "change of plan"])

    def test_other_sites_and_other_customers_documents_are_404(self):
        c = self.customer()
        inv = self.invoice(c["id"], "USD", [{"description": "x", "amount": 100}])
        self.ok(self.m.post("/invoices/%s/void" % inv["id"]))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        mine = self.pdf("invoices", inv["id"]).body
        self.pdf("credit_notes", cn["id"])
        # Scoped to a customer (as the portal scopes to the signed-in one).
        someone = self.customer()
        for kind, oid in (("invoices", inv["id"]), ("credit_notes", cn["id"])):
            r = self.m.get("/%s/%s/pdf?customer_id=%s" % (kind, oid, someone["id"]))
            self.assertEqual(r.status, 404, r)
            r = self.m.get("/%s/%s/pdf?customer_id=%s" % (kind, oid, c["id"]))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.m.get("/invoices/%s/pdf?customer_id=%s" % (inv["id"], c["id"])).body,
                         mine)
        other = self.s.new_site("inv")
        for path in ("/invoices/%s/pdf" % inv["id"], "/invoices/inv_nope/pdf",
                     "/credit_notes/cn_nope/pdf", "/customers/%s/documents.zip?year=2026" % c["id"]):
            r = other.get(path)
            self.assertEqual(r.status, 404, (path, r))
            self.assertEqual(r.header("content-type"), "application/json")

    def test_the_same_document_is_byte_identical_after_a_restart_and_a_new_render(self):
        self.rate("VAT", "19", "DE")
        c = self.customer(name="Jürgen Groß", billing_address={"country": "DE"})
        inv = self.invoice(c["id"], "EUR", [{"description": "Plan", "amount": 4200}])
        self.ok(self.m.post("/invoices/%s/void" % inv["id"]))
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % inv["id"]))["data"][0]
        first = {k: self.pdf(k, i).body for k, i in (("invoices", inv["id"]),
                                                       ("credit_notes", cn["id"]))}
        self.s.sh("stack_portald_stop && stack_portald_up")
        for k, i in (("invoices", inv["id"]), ("credit_notes", cn["id"])):
            self.assertEqual(self.pdf(k, i).body, first[k], k)
        # Rendered again from scratch in the restarted process, after the customer and
        # the seller changed their details: the frozen details give the same bytes.
        self.ok(self.m.post("/customers/%s" % c["id"], {"name": "Someone Else"}))
        self.ok(self.m.post("/legal_details", {"legal_name": "Renamed GmbH"}))
        self.s.psql("UPDATE documents SET pdf = NULL, sha256 = NULL WHERE site_id = '%s'"
                    % self.m.site_id)
        for k, i in (("invoices", inv["id"]), ("credit_notes", cn["id"])):
            self.assertEqual(self.pdf(k, i).body, first[k], k)


    def test_a_document_that_cannot_be_rendered_does_not_hold_up_the_others(self):
        c = self.customer()
        self.s.psql("INSERT INTO documents (site_id, kind, object_id, number_text, customer_id, "
                    "issued_at) VALUES ('%s', 'invoice', 'inv_ghost', 'INV-9999', '%s', 0)"
                    % (self.m.site_id, c["id"]))
        inv = self.invoice(c["id"], "USD", [{"description": "x", "amount": 100}])
        self.pdf("invoices", inv["id"])
        deadline = time.time() + 30
        while True:
            row = self.s.psql("SELECT attempts, last_error FROM documents WHERE site_id = '%s' "
                              "AND object_id = 'inv_ghost'" % self.m.site_id)[0]
            if int(row[0]) >= 5 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(row[0], "5")
        self.assertIn("No such invoice", row[1])
        r = self.m.get("/invoices/inv_ghost/pdf")
        self.assertEqual(r.status, 500, r)


    def test_a_document_that_cannot_be_stored_is_recorded_alone(self):
        c = self.customer()
        invs = [self.invoice(c["id"], "USD", [{"description": "x%d" % i, "amount": 100 + i}])
                for i in range(3)]
        bad = invs[1]["id"]
        name = "t_nostore_" + os.urandom(4).hex()
        self.s.psql("ALTER TABLE documents ADD CONSTRAINT %s CHECK (object_id <> '%s' "
                    "OR pdf IS NULL) NOT VALID" % (name, bad))
        self.addCleanup(self.s.psql, "ALTER TABLE documents DROP CONSTRAINT %s" % name)
        mine = "site_id = '%s' AND customer_id = '%s'" % (self.m.site_id, c["id"])
        # The three wait at once, so they are claimed in one transaction.
        self.s.psql("UPDATE documents SET pdf = NULL, sha256 = NULL, rendered_at = NULL "
                    "WHERE " + mine)
        deadline = time.time() + 30
        while True:
            rows = {r[0]: r[1:] for r in self.s.psql(
                "SELECT object_id, pdf IS NOT NULL, attempts, last_error FROM documents "
                "WHERE " + mine)}
            if int(rows[bad][1]) >= 5 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(rows[bad][:2], ["f", "5"])
        self.assertTrue(rows[bad][2])     # the database's own words go to the log only
        self.assertNotIn(name, rows[bad][2])
        with open(os.path.join(self.s.state, "portald.log"), errors="replace") as f:
            self.assertIn(name, f.read())
        for inv in invs:
            if inv["id"] != bad:
                self.assertEqual(rows[inv["id"]][:2], ["t", "0"], inv["id"])


    def test_a_document_the_database_refuses_for_a_passing_reason_waits_untried(self):
        c = self.customer()
        invs = [self.invoice(c["id"], "USD", [{"description": "x%d" % i, "amount": 100 + i}])
                for i in range(3)]
        bad = invs[1]["id"]
        fn = "t_full_" + os.urandom(4).hex()
        # As a full disk would answer its store (SQLSTATE 53100), until the trigger goes.
        self.s.psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN "
                    "RAISE EXCEPTION ''disk full'' USING ERRCODE = ''53100''; END'" % fn)
        self.s.psql("CREATE TRIGGER %s BEFORE UPDATE ON documents FOR EACH ROW WHEN "
                    "(NEW.object_id = '%s' AND NEW.pdf IS NOT NULL) EXECUTE FUNCTION %s()"
                    % (fn, bad, fn))

        def drop():
            self.s.psql("DROP TRIGGER IF EXISTS %s ON documents; DROP FUNCTION IF EXISTS "
                        "%s()" % (fn, fn))
        self.addCleanup(drop)
        mine = "site_id = '%s' AND customer_id = '%s'" % (self.m.site_id, c["id"])
        self.s.psql("UPDATE documents SET pdf = NULL, sha256 = NULL, rendered_at = NULL "
                    "WHERE " + mine)
        log = os.path.join(self.s.state, "portald.log")

        def tried():
            with open(log, errors="replace") as f:
                return f.read().count("%s waits for another try" % bad)
        before = tried()
        deadline = time.time() + 30
        while tried() < before + 3 and time.time() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(tried(), before + 3)
        rows = {r[0]: r[1:] for r in self.s.psql(
            "SELECT object_id, pdf IS NOT NULL, attempts FROM documents WHERE " + mine)}
        self.assertEqual(rows[bad], ["f", "0"])     # waiting, none of its tries used
        for inv in invs:
            if inv["id"] != bad:
                self.assertEqual(rows[inv["id"]], ["t", "0"], inv["id"])
        drop()
        self.assertEqual(self.pdf("invoices", bad).status, 200)


class Archive(Base):
    def test_the_zip_holds_exactly_the_years_documents_of_the_customer(self):
        c = self.customer(card=True)
        other = self.customer(card=True)
        now = self.ok(self.m.get("/time_machine"))["now"]
        year = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).year
        this = [self.invoice(c["id"], "USD", [{"description": "a", "amount": 100 + i}])
                for i in range(2)]
        self.ok(self.m.post("/invoices/%s/refund" % this[0]["id"]))
        self.invoice(other["id"], "USD", [{"description": "b", "amount": 100}])
        # To the middle of next year, whatever today's date (400 days from late November
        # is two years on).
        mid_next = datetime.datetime(year + 1, 7, 1, tzinfo=datetime.timezone.utc)
        self.m.travel(int(mid_next.timestamp()) - now)
        later = self.invoice(c["id"], "USD", [{"description": "c", "amount": 300}])
        cn = self.ok(self.m.get("/credit_notes?invoice_id=%s" % this[0]["id"]))["data"][0]
        for i in this + [later]:
            self.pdf("invoices", i["id"])
        self.pdf("credit_notes", cn["id"])
        r = self.m.get("/customers/%s/documents.zip?year=%d" % (c["id"], year))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/zip")
        self.assertEqual(r.header("content-disposition"),
                         'attachment; filename="documents-%s-%d.zip"' % (c["id"], year))
        path = self.save(r.body, "year.zip")
        listing = subprocess.run(["unzip", "-l", path], capture_output=True, text=True,
                                 check=True).stdout
        names = sorted(re.findall(r"\s(\S+\.pdf)$", listing, re.M))
        self.assertEqual(names, sorted(["invoices/%s.pdf" % i["formatted_number"] for i in this] +
                                       ["credit_notes/%s.pdf" % cn["formatted_number"]]))
        out = os.path.join(self.tmp, "x")
        subprocess.run(["unzip", "-q", path, "-d", out], check=True)
        with open(os.path.join(out, "invoices", this[1]["formatted_number"] + ".pdf"), "rb") as f:
            self.assertEqual(f.read(), self.pdf("invoices", this[1]["id"]).body)
        r = self.m.get("/customers/%s/documents.zip?year=%d" % (c["id"], year + 1))
        listing = subprocess.run(["unzip", "-l", self.save(r.body, "next.zip")],
                                 capture_output=True, text=True, check=True).stdout
        self.assertEqual(re.findall(r"\s(\S+\.pdf)$", listing, re.M),
                         ["invoices/%s.pdf" % later["formatted_number"]])
        empty = self.m.get("/customers/%s/documents.zip?year=%d" % (c["id"], year - 5))
        self.assertEqual(empty.status, 200)
        self.assertEqual(zipfile.ZipFile(io.BytesIO(empty.body)).namelist(), [])
        for q in ("", "?year=1969", "?year=abc", "?year=2027&x=1"):
            self.assertEqual(self.m.get("/customers/%s/documents.zip%s" % (c["id"], q)).status,
                             400, q)
        self.assertEqual(self.m.get("/customers/nobody/documents.zip?year=2026").status, 404)


if __name__ == "__main__":
    unittest.main()
