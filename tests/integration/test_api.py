"""test_api.py: the merchant API through nginx: keys, customers, site isolation, validation,
idempotency."""
import unittest

from harness import basic, key_secret, stack


class Auth(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("auth")

    def test_missing_key_is_401_with_envelope(self):
        r = self.m.get("/customers", key="")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["error"]["type"], "authentication_error")
        self.assertEqual(r.json["error"]["code"], "api_key_missing")
        self.assertIsNotNone(r.header("www-authenticate"))

    def test_wrong_key_is_401(self):
        wrong = self.m.key[:-4] + ("AAAA" if not self.m.key.endswith("AAAA") else "BBBB")
        for key in (wrong, "sk_test_nonsense", "garbage", "sk_live_" + self.m.key[8:]):
            r = self.m.get("/customers", key=key)
            self.assertEqual(r.status, 401, key)
            self.assertEqual(r.json["error"]["code"], "api_key_invalid")

    def test_basic_auth_with_key_as_user_works(self):
        r = self.m.get("/customers", headers={"Authorization": basic(self.m.key)})
        self.assertEqual(r.status, 200)

    def test_unknown_auth_scheme_is_401(self):
        r = self.m.get("/customers", headers={"Authorization": "Digest abc"})
        self.assertEqual(r.status, 401)

    def test_rotated_key_keeps_old_key_for_grace_period(self):
        out = self.s.portalctl("key", "rotate", self.m.site_id, "--grace", "3600")
        new = out["api_key"]
        self.assertNotEqual(new, self.m.key)
        self.assertEqual(self.m.get("/customers", key=new).status, 200)
        self.assertEqual(self.m.get("/customers").status, 200)

    def test_rotated_key_without_grace_stops_old_key(self):
        out = self.s.portalctl("key", "rotate", self.m.site_id, "--grace", "0")
        r = self.m.get("/customers")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["error"]["code"], "api_key_expired")
        self.assertEqual(self.m.get("/customers", key=out["api_key"]).status, 200)

    def test_keys_are_stored_hashed(self):
        rows = self.s.psql("SELECT encode(secret_hash, 'hex') FROM api_keys WHERE site_id = '%s'"
                           % self.m.site_id)
        self.assertEqual(len(rows), 1)
        self.assertNotIn(key_secret(self.m.key), rows[0][0])
        self.assertEqual(len(rows[0][0]), 64)


class Tenancy(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.a = self.s.new_site("ta")
        self.b = self.s.new_site("tb")
        self.cus = self.a.customer(id="shared-id", email="a@example.com")
        self.sess = self.a.session(self.cus["id"])

    def test_other_sites_customer_is_404(self):
        r = self.b.get("/customers/shared-id")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error"]["code"], "resource_missing")

    def test_other_sites_customer_cannot_be_changed_or_deleted(self):
        self.assertEqual(self.b.post("/customers/shared-id", {"name": "x"}).status, 404)
        self.assertEqual(self.b.call("DELETE", "/customers/shared-id").status, 404)
        self.assertEqual(self.a.get("/customers/shared-id").json["email"], "a@example.com")

    def test_same_customer_id_can_exist_in_two_sites(self):
        self.assertEqual(self.b.post("/customers", {"id": "shared-id"}).status, 200)
        self.assertEqual(self.a.get("/customers/shared-id").json["email"], "a@example.com")

    def test_other_sites_session_is_invisible(self):
        self.assertEqual(self.b.get("/portal_sessions/" + self.sess["id"]).status, 404)
        self.assertEqual(self.b.post("/portal_sessions/%s/logout" % self.sess["id"]).status, 404)
        self.assertEqual(self.b.post("/portal_sessions/%s/activate" % self.sess["id"],
                                     {"token": self.sess["token"]}).status, 404)
        self.assertEqual(self.a.get("/portal_sessions/" + self.sess["id"]).json["status"],
                         "created")

    def test_session_for_other_sites_customer_is_404(self):
        r = self.b.post("/portal_sessions", {"customer_id": "shared-id",
                                             "redirect_url": "https://b.example"})
        self.assertEqual(r.status, 404)

    def test_lists_show_only_own_site(self):
        ids = [c["id"] for c in self.b.get("/customers?limit=100").json["data"]]
        self.assertNotIn("shared-id", ids)

    def test_time_travel_moves_only_own_site(self):
        before = self.a.get("/time_machine").json["now"]
        self.b.travel(86400)
        self.assertLess(self.a.get("/time_machine").json["now"] - before, 60)


class Customers(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("cus")

    def test_create_with_generated_id(self):
        c = self.m.customer(email="x@example.com", name="X")
        self.assertTrue(c["id"].startswith("cus_"))
        self.assertEqual(c["object"], "customer")
        self.assertEqual(c["portal_state"], "none")
        self.assertIsInstance(c["created_at"], int)

    def test_create_with_merchant_id_and_address(self):
        c = self.m.customer(id="merchant-42", billing_address={"line1": "1 Rue", "city": "Paris",
                                                                "country": "FR"},
                            metadata={"crm": "7"})
        self.assertEqual(c["id"], "merchant-42")
        self.assertEqual(c["billing_address"]["country"], "FR")
        self.assertEqual(c["metadata"], {"crm": "7"})
        self.assertEqual(self.m.get("/customers/merchant-42").json, c)

    def test_duplicate_id_is_409(self):
        self.m.customer(id="dup")
        r = self.m.post("/customers", {"id": "dup"})
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["param"], "id")

    def test_update_changes_only_given_fields(self):
        c = self.m.customer(email="old@example.com", name="Old", phone="123")
        r = self.m.post("/customers/" + c["id"], {"name": "New", "phone": None,
                                                  "metadata": {"a": "1"}})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["name"], "New")
        self.assertEqual(r.json["email"], "old@example.com")
        self.assertIsNone(r.json["phone"])
        r = self.m.post("/customers/" + c["id"], {"metadata": {"a": "", "b": "2"}})
        self.assertEqual(r.json["metadata"], {"b": "2"})

    def test_update_cannot_change_id(self):
        c = self.m.customer()
        r = self.m.post("/customers/" + c["id"], {"id": "other"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["code"], "parameter_unknown")

    def test_delete_then_404(self):
        c = self.m.customer()
        r = self.m.call("DELETE", "/customers/" + c["id"])
        self.assertEqual(r.json, {"id": c["id"], "object": "customer", "deleted": True})
        self.assertEqual(self.m.get("/customers/" + c["id"]).status, 404)
        self.assertEqual(self.m.call("DELETE", "/customers/" + c["id"]).status, 404)

    def test_list_paginates_with_starting_after(self):
        made = [self.m.customer(id="p%02d" % i)["id"] for i in range(7)]
        seen, after = [], None
        while True:
            q = "/customers?limit=3" + ("&starting_after=" + after if after else "")
            page = self.m.get(q).json
            self.assertEqual(page["object"], "list")
            self.assertLessEqual(len(page["data"]), 3)
            seen += [c["id"] for c in page["data"]]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(sorted(seen), sorted(made))
        self.assertEqual(len(seen), len(set(seen)))

    def test_list_filters_by_email(self):
        self.m.customer(email="Find.Me@example.com")
        self.m.customer(email="other@example.com")
        data = self.m.get("/customers?email=find.me@example.com").json["data"]
        self.assertEqual([c["email"] for c in data], ["Find.Me@example.com"])

    def test_list_query_is_validated(self):
        for q, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
                         ("limit=1&limit=2", "limit"), ("starting_after=nobody", "starting_after"),
                         ("bogus=1", "bogus"), ("starting_after=a%20b", "starting_after")):
            r = self.m.get("/customers?" + q)
            self.assertEqual(r.status, 400, q)
            self.assertEqual(r.json["error"]["param"], param, q)

    def test_unknown_customer_is_404(self):
        r = self.m.get("/customers/nobody")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error"]["type"], "invalid_request_error")

    def test_invalid_id_in_path_is_404(self):
        self.assertEqual(self.m.get("/customers/" + "x" * 65).status, 404)
        nul = self.m.get("/customers/a%00b")  # refused by nginx, still as an envelope
        self.assertEqual(nul.status, 400)
        self.assertEqual(nul.json["error"]["code"], "invalid_request")


class Validation(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("val")

    def count(self):
        return len(self.m.get("/customers?limit=100").json["data"])

    def assertBad(self, r, status, code=None, param=None):
        self.assertEqual(r.status, status, r)
        err = r.json["error"]
        for k in ("type", "code", "message", "param"):
            self.assertIn(k, err)
        if code:
            self.assertEqual(err["code"], code)
        if param:
            self.assertEqual(err["param"], param)

    def test_malformed_json_is_400(self):
        for raw in (b'{"email": ', b"not json", b"[]", b'{"a":1}}', b'"str"'):
            self.assertBad(self.m.call("POST", "/customers", raw=raw), 400, "invalid_json")
        self.assertEqual(self.count(), 0)

    def test_wrong_types_name_the_param(self):
        for body, param in (({"email": 5}, "email"), ({"name": ["x"]}, "name"),
                            ({"billing_address": "x"}, "billing_address"),
                            ({"billing_address": {"country": 1}}, "billing_address.country"),
                            ({"metadata": {"k": 1}}, "metadata.k")):
            self.assertBad(self.m.post("/customers", body), 400, param=param)
        self.assertEqual(self.count(), 0)

    def test_unknown_field_is_400(self):
        self.assertBad(self.m.post("/customers", {"emali": "a@b.co"}), 400, "parameter_unknown",
                       "emali")

    def test_overlong_string_is_400(self):
        self.assertBad(self.m.post("/customers", {"name": "x" * 201}), 400, "parameter_too_long",
                       "name")

    def test_bad_utf8_is_400(self):
        raw = b'{"name": "caf\xc3\x28"}'
        self.assertBad(self.m.call("POST", "/customers", raw=raw), 400, "parameter_invalid", "name")

    def test_embedded_nul_is_400(self):
        raw = b'{"name": "a\\u0000b"}'
        self.assertBad(self.m.call("POST", "/customers", raw=raw), 400, "parameter_invalid", "name")

    def test_deep_nesting_is_400(self):
        raw = b'{"metadata":' + b"[" * 100 + b"]" * 100 + b"}"
        self.assertBad(self.m.call("POST", "/customers", raw=raw), 400, "invalid_json")

    def test_oversize_body_is_413_envelope(self):
        raw = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
        self.assertBad(self.m.call("POST", "/customers", raw=raw), 413, "body_too_large")

    def test_body_over_nginx_limit_is_413_envelope(self):
        raw = b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}'
        self.assertBad(self.m.call("POST", "/customers", raw=raw), 413, "body_too_large")
        self.assertEqual(self.m.get("/customers").status, 200)  # still serving

    def test_wrong_content_type_is_415(self):
        r = self.s.request("POST", "/api/v1/customers", body=b"name=x", headers={
            "Authorization": "Bearer " + self.m.key,
            "Content-Type": "application/x-www-form-urlencoded"})
        self.assertBad(r, 415, "unsupported_media_type")

    def test_invalid_email_and_country(self):
        self.assertBad(self.m.post("/customers", {"email": "nope"}), 400, param="email")
        self.assertBad(self.m.post("/customers", {"billing_address": {"country": "usa"}}), 400,
                       param="billing_address.country")

    def test_unknown_route_is_404_envelope(self):
        self.assertBad(self.m.get("/nothing"), 404, "route_missing")

    def test_wrong_method_is_405_envelope(self):
        self.assertBad(self.m.call("PUT", "/customers", raw=b"{}"), 405, "method_not_allowed")

    def test_time_machine_rejects_going_back(self):
        now = self.m.get("/time_machine").json["now"]
        self.assertBad(self.m.post("/time_machine/travel_forward", {"destination_time": now - 10}),
                       400, param="destination_time")
        self.assertBad(self.m.post("/time_machine/travel_forward", {}), 400)

    def test_errors_carry_request_id(self):
        r = self.m.get("/customers/nobody")
        self.assertEqual(r.json["error"]["request_id"], r.header("x-request-id"))


class Idempotency(unittest.TestCase):
    def setUp(self):
        self.s = stack()
        self.m = self.s.new_site("idem")

    def test_same_key_same_body_replays(self):
        h = {"Idempotency-Key": "k-1"}
        r1 = self.m.post("/customers", {"email": "i@example.com"}, headers=h)
        r2 = self.m.post("/customers", {"email": "i@example.com"}, headers=h)
        self.assertEqual(r1.status, 200)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r1.json, r2.json)
        self.assertEqual(r2.header("idempotent-replayed"), "true")
        self.assertEqual(len(self.m.get("/customers").json["data"]), 1)

    def test_same_key_other_body_is_409(self):
        h = {"Idempotency-Key": "k-2"}
        self.m.post("/customers", {"email": "a@example.com"}, headers=h)
        r = self.m.post("/customers", {"email": "b@example.com"}, headers=h)
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["type"], "idempotency_error")
        self.assertEqual(len(self.m.get("/customers").json["data"]), 1)

    def test_same_key_other_path_is_409(self):
        h = {"Idempotency-Key": "k-3"}
        c = self.m.customer()
        self.m.post("/customers/" + c["id"], {"name": "x"}, headers=h)
        r = self.m.post("/customers", {"name": "x"}, headers=h)
        self.assertEqual(r.status, 409)

    def test_error_answers_replay_too(self):
        h = {"Idempotency-Key": "k-4"}
        r1 = self.m.post("/portal_sessions", {"customer_id": "nobody",
                                              "redirect_url": "https://x.example"}, headers=h)
        self.m.customer(id="nobody")
        r2 = self.m.post("/portal_sessions", {"customer_id": "nobody",
                                              "redirect_url": "https://x.example"}, headers=h)
        self.assertEqual(r1.status, 404)
        self.assertEqual(r2.status, 404)
        self.assertEqual(r2.header("idempotent-replayed"), "true")

    def test_keys_are_per_site(self):
        other = self.s.new_site("idem2")
        h = {"Idempotency-Key": "shared"}
        self.assertEqual(self.m.post("/customers", {"name": "a"}, headers=h).status, 200)
        r = other.post("/customers", {"name": "b"}, headers=h)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("idempotent-replayed"))

    def test_portal_session_replay_returns_same_session(self):
        c = self.m.customer()
        h = {"Idempotency-Key": "ps-1"}
        body = {"customer_id": c["id"], "redirect_url": "https://x.example"}
        r1 = self.m.post("/portal_sessions", body, headers=h)
        r2 = self.m.post("/portal_sessions", body, headers=h)
        self.assertEqual(r1.json["id"], r2.json["id"])

    def test_bad_key_is_400(self):
        r = self.m.post("/customers", {}, headers={"Idempotency-Key": "x" * 256})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["code"], "idempotency_key_invalid")

    def test_validation_failure_is_not_stored(self):
        h = {"Idempotency-Key": "k-5"}
        self.assertEqual(self.m.post("/customers", {"email": 1}, headers=h).status, 400)
        r = self.m.post("/customers", {"email": "fixed@example.com"}, headers=h)
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
