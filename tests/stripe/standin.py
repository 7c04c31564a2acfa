#!/usr/bin/env python3
"""standin.py: a Stripe stand-in for Portald's tests, on 127.0.0.1, standard library only.

Stripe cannot be reached from the test machines. This server follows Stripe's documented v1
API (version 2024-06-20, the one src/stripe/client.h pins) for exactly the endpoints Portald
uses, and is strict about what it receives: every request that breaks a rule gets Stripe's
error answer (where Stripe has one) and is recorded as a complaint; tests fail on any
complaint they did not provoke.

Start it from a test (in-process):

    sys.path.insert(0, os.path.join(ROOT, "tests", "stripe"))
    import standin
    s = standin.StandIn()                       # or StandIn(tls=standin.make_test_cert(dir))
    s.start()                                   # s.url is http(s)://127.0.0.1:<port>
    acct = s.add_account()                      # {"id", "test_key", "live_key"}
    ep = s.add_webhook_endpoint(acct["test_key"], "http://127.0.0.1:8080/gateway/...")
    ...                                         # point Portald's Stripe base URL at s.url
    assert s.complaints() == []
    s.stop()

or as a process: `standin.py [--port N] [--tls-dir DIR] [--api-version V]` prints one JSON
line {"url", "ca_file", "pid"} once it listens and serves until SIGTERM; everything is then
driven through the control endpoints below.

Stripe's API, with a Bearer (or Basic) secret key:
  POST /v1/customers                            GET/POST /v1/customers/{id}
  GET  /v1/customers/{id}/payment_methods
  POST /v1/checkout/sessions (mode=setup)       GET /v1/checkout/sessions/{id}
  POST /v1/checkout/sessions/{id}/expire
  GET  /v1/setup_intents/{id}
  GET  /v1/payment_methods?customer=            GET /v1/payment_methods/{id}
  POST /v1/payment_methods/{id}/attach          POST /v1/payment_methods/{id}/detach
  POST /v1/payment_intents                      GET /v1/payment_intents?customer=
  GET/POST /v1/payment_intents/{id}             POST /v1/payment_intents/{id}/confirm
  POST /v1/payment_intents/{id}/cancel
  POST /v1/refunds    GET /v1/refunds?charge=|payment_intent=    GET /v1/refunds/{id}
  GET  /v1/charges?payment_intent=|customer=    GET /v1/charges/{id}
  GET  /v1/disputes/{id}    GET /v1/events    GET /v1/events/{id}
  Lists take limit, starting_after, ending_before (and created[gt|gte|lt|lte] where Stripe
  has it); every endpoint takes expand[]. /v1/payment_intents/search is a complaint: Portald
  must not use the search API.

Pages a customer's browser visits (no auth), as Stripe's hosted pages would be:
  GET  /checkout/pay/{cs}      the session's url: one button per test card
  POST /checkout/pay/{cs}      payment_method=<test card>[&three_d_secure=approve|fail]
                               -> 303 to success_url ({CHECKOUT_SESSION_ID} filled in)
  GET  /3ds/{pi}               next_action.redirect_to_url.url: approve or fail
  POST /3ds/{pi}               action=approve|fail -> 303 to return_url?payment_intent=...

Control endpoints (JSON in and out, no auth):
  GET    /_standin/health
  POST   /_standin/accounts                 {test_key?, live_key?} -> {id, test_key, live_key}
  POST   /_standin/webhook_endpoints        {key, url, secret?, enabled_events?} -> {id, secret}
  DELETE /_standin/webhook_endpoints/{id}
  GET    /_standin/complaints               DELETE /_standin/complaints
  GET    /_standin/requests                 DELETE /_standin/requests   (every API request)
  POST   /_standin/faults   {path (glob), method?, kind, count?, perform?, delay?} -> {id}
         kind: "500" (saved under the idempotency key, Stripe-Should-Retry: false; with
         perform the operation runs first), "503" (not run, not saved, Stripe-Should-Retry:
         true, as for a lock timeout), "429", "409", "reset" (connection reset; with
         perform after running and saving), "timeout" (no answer for delay s, default 30;
         with perform, the default for it, after running and saving), "slow" (run, save,
         wait delay s, answer).
  GET    /_standin/faults                   DELETE /_standin/faults
  POST   /_standin/checkout/{cs}/complete   {payment_method, three_d_secure?} -> {status, redirect}
  POST   /_standin/checkout/{cs}/expire
  POST   /_standin/payment_intents/{pi}/authenticate   {action: approve|fail} -> {status, redirect}
  POST   /_standin/payment_methods/{pm}/decline        {decline_code?} (null: stop declining)
  POST   /_standin/refunds    {payment_intent|charge, amount?, reason?}   (a dashboard refund)
  POST   /_standin/disputes   {payment_intent|charge, reason?}
  GET    /_standin/events?key=K             events with their delivery attempts
  POST   /_standin/events/{evt}/resend      {timestamp_offset?, bad_signature?} -> delivery
  POST   /_standin/webhooks/hold {key}      POST /_standin/webhooks/release {key, order?}
  POST   /_standin/webhooks/drain {timeout?}   waits until queued deliveries are done
  GET    /_standin/objects/{id}             any object as stored

Test payment methods (API: test mode only; the checkout page offers them in both modes, as
card numbers typed on Stripe's page would be): pm_card_visa, pm_card_visa_debit,
pm_card_mastercard, pm_card_amex succeed. pm_card_chargeDeclined (card_declined /
generic_decline), pm_card_chargeDeclinedInsufficientFunds (card_declined /
insufficient_funds), pm_card_chargeDeclinedExpiredCard (expired_card),
pm_card_chargeDeclinedIncorrectCvc, pm_card_chargeDeclinedProcessingError decline every
charge and, as Stripe documents, cannot be attached or set up either;
pm_card_chargeCustomerFail attaches and then declines every charge (generic_decline).
pm_card_authenticationRequired (4000 0027 6000 3184) needs 3D Secure on every payment: an
off-session confirm fails with authentication_required and the PaymentIntent returns to
requires_payment_method; an on-session confirm with return_url goes to requires_action with
next_action.redirect_to_url. pm_card_authenticationRequiredOnSetup (4000 0025 0000 3155)
needs 3D Secure when set up (Checkout asks for it) and on-session; once set up, off-session
payments succeed. A saved card can be told to start declining (/_standin/payment_methods/
{pm}/decline), as a real card runs out of funds.

Where Stripe's documentation leaves a detail open, the stand-in takes the stricter reading, so
code that passes here does not depend on it: a setup-mode Checkout Session names its
setup_intent only once the customer has confirmed (read the session, expanded, after
completion or from checkout.session.completed); a PaymentIntent's payment_method is cleared
when an attempt fails (the card is in last_payment_error.payment_method); a declined test card
cannot be attached or set up.

Amounts follow Stripe's currency rules: zero-decimal currencies, three-decimal currencies
whose amounts must end in 0, ISK as two-decimal with whole units only, minimum and maximum
charge amounts.
"""
import argparse
import base64
import copy
import fnmatch
import hashlib
import hmac
import html
import http.client
import http.server
import json
import os
import queue
import re
import secrets
import signal
import socket
import ssl
import string
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

API_VERSION = "2024-06-20"
DOC = "https://stripe.com/docs/error-codes/"

# ---- currencies (https://docs.stripe.com/currencies) ----
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
# Stripe's minimum charge amounts, in the currency's minor units as the API takes them.
MINIMUM = {"usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
           "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500,
           "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50,
           "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000}
SUPPORTED_CURRENCIES = (ZERO_DECIMAL | THREE_DECIMAL | set(MINIMUM) |
                        {"isk", "twd", "ugx", "zar", "ils", "try", "php", "idr", "krw",
                         "cny", "sar", "qar", "egp", "ngn", "kes", "cop", "clp", "pen",
                         "ars", "uah", "rsd", "isk"})
MAXIMUM = 99999999


def amount_problem(amount, currency):
    """Why Stripe would refuse amount in currency, or None."""
    if currency not in SUPPORTED_CURRENCIES:
        return ("currency", "Invalid currency: %s. Stripe currently supports these "
                "currencies: %s" % (currency, ", ".join(sorted(SUPPORTED_CURRENCIES))))
    if amount < 1:
        return ("amount", "This value must be greater than or equal to 1.")
    if amount > MAXIMUM:
        return ("amount", "Amount must be no more than 99999999 in the currency's "
                "smallest unit (%s)" % currency)
    if currency in THREE_DECIMAL and amount % 10 != 0:
        return ("amount", "Invalid amount for %s: three-decimal currencies are charged in "
                "multiples of 10 (the last digit must be 0)" % currency)
    if currency == "isk" and amount % 100 != 0:
        return ("amount", "Invalid amount for isk: ISK is passed as a two-decimal amount "
                "whose decimal part is always 00 (5 ISK is 500)")
    if amount < MINIMUM.get(currency, 0):
        return ("amount", "Amount must be at least %d in the smallest unit of %s"
                % (MINIMUM[currency], currency))
    return None


# ---- test cards ----
class Card:
    def __init__(self, brand, last4, decline=None, attach_fails=False, auth=None,
                 funding="credit", country="US"):
        self.brand = brand
        self.last4 = last4
        self.decline = decline          # (code, decline_code, message) on every charge
        self.attach_fails = attach_fails  # declined when attached or set up, too
        self.auth = auth                # None, "always", "unless_setup"
        self.funding = funding
        self.country = country


GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT = ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
EXPIRED = ("expired_card", "expired_card", "Your card has expired.")
CVC = ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
PROCESSING = ("processing_error", "processing_error",
              "An error occurred while processing your card. Try again in a little bit.")
AUTH_REQUIRED = ("authentication_required", "authentication_required",
                 "Your card was declined. This transaction requires authentication.")
DECLINES = {d[1]: d for d in (GENERIC, INSUFFICIENT, EXPIRED, CVC, PROCESSING)}
DECLINES["lost_card"] = ("card_declined", "lost_card", "Your card was declined.")
DECLINES["stolen_card"] = ("card_declined", "stolen_card", "Your card was declined.")

TEST_CARDS = {
    "pm_card_visa": Card("visa", "4242"),
    "pm_card_visa_debit": Card("visa", "5556", funding="debit"),
    "pm_card_mastercard": Card("mastercard", "4444"),
    "pm_card_amex": Card("amex", "8431"),
    "pm_card_chargeDeclined": Card("visa", "0002", GENERIC, attach_fails=True),
    "pm_card_chargeDeclinedInsufficientFunds": Card("visa", "9995", INSUFFICIENT,
                                                    attach_fails=True),
    "pm_card_chargeDeclinedExpiredCard": Card("visa", "0069", EXPIRED, attach_fails=True),
    "pm_card_chargeDeclinedIncorrectCvc": Card("visa", "0127", CVC, attach_fails=True),
    "pm_card_chargeDeclinedProcessingError": Card("visa", "0119", PROCESSING,
                                                  attach_fails=True),
    "pm_card_chargeCustomerFail": Card("visa", "0341", GENERIC),
    "pm_card_authenticationRequired": Card("visa", "3184", auth="always"),
    "pm_card_authenticationRequiredOnSetup": Card("visa", "3155", auth="unless_setup"),
}
# Stripe's other spellings of the same cards.
TEST_CARDS["pm_card_visa_chargeDeclined"] = TEST_CARDS["pm_card_chargeDeclined"]
TEST_CARDS["pm_card_visa_chargeDeclinedInsufficientFunds"] = \
    TEST_CARDS["pm_card_chargeDeclinedInsufficientFunds"]
TEST_CARDS["pm_card_threeDSecure2Required"] = Card("visa", "3220", auth="always")


def now():
    return int(time.time())


_ALNUM = string.ascii_letters + string.digits


def rand(n=24):
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_id(prefix):
    return "%s_%s" % (prefix, rand())


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def stripe_escape(s):
    """One key or value as stripe-node encodes it (see src/stripe/form.h)."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~[]"):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


# ---- errors ----
class ApiError(Exception):
    """An answer other than 2xx. executed: Stripe had begun running the endpoint, so the
    answer is saved under the idempotency key (card errors, 500s); validation errors are
    not. complaint: the rule the request broke (None for answers that are normal)."""

    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None,
                 executed=False, complaint="invalid_request", extra=None):
        super().__init__(message)
        self.status = status
        self.executed = executed
        self.complaint = complaint
        err = {"message": message, "type": type_}
        if code:
            err["code"] = code
            err["doc_url"] = DOC + code.replace("_", "-")
        if param:
            err["param"] = param
        if extra:
            err.update(extra)
        self.body = {"error": err}


def invalid(message, param=None, code=None, complaint="invalid_request"):
    return ApiError(400, message, param=param, code=code, complaint=complaint)


def missing(kind, oid, param="id", post=True, rule=None):
    return ApiError(404, "No such %s: '%s'" % (kind, oid), code="resource_missing", param=param,
                    complaint=(rule or "resource_missing") if post else rule)


# ---- parameters: Stripe's nested form keys and the per-endpoint schemas ----
KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class Params:
    """Decodes a query string or form body strictly, noting what Stripe or stripe-node would
    not have sent, and nests it as Stripe's parser does."""

    def __init__(self, raw, complain):
        self.pairs = []
        self.tree = {}
        self.raw = raw
        if raw == "":
            return
        if any(ord(c) > 127 for c in raw):
            complain("encoding", "bytes outside ASCII were sent unencoded")
        noted = False
        for seg in raw.split("&"):
            if seg == "":
                complain("encoding", "an empty pair ('&&' or a trailing '&')")
                continue
            if "=" not in seg:
                complain("encoding", "a pair without '=': %r" % seg[:60])
                k, v = seg, ""
            else:
                k, v = seg.split("=", 1)
            key = self._decode(k)
            value = self._decode(v)
            expect = stripe_escape(key) + "=" + stripe_escape(value)
            if seg != expect and not noted:
                noted = True
                complain("encoding", "not encoded as stripe-node encodes it: got %r, "
                         "expected %r" % (seg[:120], expect[:120]))
            self.pairs.append((key, value))
        for key, value in self.pairs:
            self._insert(key, value, complain)

    @staticmethod
    def _decode(s):
        out = bytearray()
        i = 0
        while i < len(s):
            c = s[i]
            if c == "%":
                h = s[i + 1:i + 3]
                if len(h) != 2 or any(x not in string.hexdigits for x in h):
                    raise invalid("Invalid request: malformed percent-encoding in the "
                                  "parameters", complaint="encoding")
                out.append(int(h, 16))
                i += 3
            elif c == "+":
                out.append(32)
                i += 1
            else:
                out.extend(c.encode("utf-8"))
                i += 1
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("Invalid request: the parameters are not valid UTF-8",
                          complaint="encoding")

    def _insert(self, key, value, complain):
        m = KEY_RE.match(key)
        if not m:
            raise invalid("Invalid parameter name: %s" % key, param=key, complaint="encoding")
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        node = self.tree
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if part != "" or not last:
                    raise invalid("Invalid array: %s" % key, param=parts[0])
                node.append(value)
                return
            if part == "":
                raise invalid("Invalid parameter name: %s" % key, param=key,
                              complaint="encoding")
            if last:
                if part in node:
                    if not isinstance(node[part], str):
                        raise invalid("Invalid hash: %s" % key, param=key)
                    complain("duplicate_parameter", "%s sent twice; Stripe keeps the last"
                             % key)
                node[part] = value
                return
            nxt = parts[i + 1]
            if part not in node:
                node[part] = [] if (nxt == "" and i + 1 == len(parts) - 1) else {}
            elif isinstance(node[part], str):
                raise invalid("Invalid hash: %s" % key, param=key)
            elif isinstance(node[part], list) and nxt != "":
                raise invalid("Invalid array: %s mixes a[] and a[N]" % key, param=parts[0])
            elif isinstance(node[part], dict) and nxt == "":
                raise invalid("Invalid array: %s mixes a[] and a[N]" % key, param=parts[0])
            node = node[part]


class P:
    """One parameter: its kind, whether it is required, and whether an empty value may unset
    it (Stripe refuses "" for anything that cannot be unset)."""

    def __init__(self, kind, required=False, max_len=5000, choices=(), fields=None,
                 item=None, unset=False):
        self.kind = kind
        self.required = required
        self.unset = unset
        self.max_len = max_len
        self.choices = choices
        self.fields = fields
        self.item = item


def Str(**kw):
    return P("str", **kw)


def Int(**kw):
    return P("int", **kw)


def Bool(**kw):
    return P("bool", **kw)


def Enum(*choices, **kw):
    return P("enum", choices=choices, **kw)


def Hash(fields, **kw):
    return P("hash", fields=fields, **kw)


def Meta(**kw):
    return P("metadata", **kw)


def List(item=None, **kw):
    return P("list", item=item or Str(), **kw)


def Url(**kw):
    return P("url", **kw)


def Email(**kw):
    return P("email", max_len=512, **kw)


EXPAND = {"expand": List()}
LIST_PARAMS = {"limit": Int(), "starting_after": Str(), "ending_before": Str(), **EXPAND}
CREATED = {"created": P("range")}


def pname(prefix, name):
    return "%s[%s]" % (prefix, name) if prefix else name


def validate(tree, schema, prefix=""):
    for name in tree:
        if name not in schema:
            full = pname(prefix, name)
            raise ApiError(400, "Received unknown parameter: %s" % full, code="parameter_unknown",
                           param=full, complaint="unknown_parameter")
    out = {}
    for name, spec in schema.items():
        full = pname(prefix, name)
        if name not in tree:
            if spec.required:
                raise ApiError(400, "Missing required param: %s." % full,
                               code="parameter_missing", param=full,
                               complaint="missing_parameter")
            continue
        out[name] = coerce(tree[name], spec, full)
    return out


def coerce(v, spec, full):
    k = spec.kind
    if k in ("hash", "metadata", "range"):
        if v == "":
            return ""       # unsets the field
        if k == "range":
            if isinstance(v, str):
                return {"eq": coerce(v, Int(), full)}
            return validate(v, {"gt": Int(), "gte": Int(), "lt": Int(), "lte": Int()}, full)
        if not isinstance(v, dict):
            raise invalid("Invalid object", param=full)
        if k == "hash":
            return validate(v, spec.fields, full)
        if len(v) > 50:
            raise invalid("You can have up to 50 metadata keys (%d given)" % len(v), param=full)
        for mk, mv in v.items():
            if not isinstance(mv, str):
                raise invalid("Invalid metadata value for %s" % mk, param=pname(full, mk))
            if len(mk) > 40:
                raise invalid("Metadata keys can have up to 40 characters, but you passed in "
                              "a key that is %d characters" % len(mk), param=pname(full, mk))
            if len(mv) > 500:
                raise invalid("Metadata values can have up to 500 characters, but you passed "
                              "in a value that is %d characters" % len(mv),
                              param=pname(full, mk))
        return dict(v)
    if k == "list":
        if v == "":
            return []
        if isinstance(v, dict):
            if not all(x.isdigit() for x in v):
                raise invalid("Invalid array", param=full)
            v = [v[x] for x in sorted(v, key=int)]
        if not isinstance(v, list):
            raise invalid("Invalid array", param=full)
        return [coerce(x, spec.item, "%s[%d]" % (full, i)) for i, x in enumerate(v)]
    if not isinstance(v, str):
        raise invalid("Invalid %s: expected a value, not an object" % full, param=full)
    if v == "" and not spec.unset:
        raise invalid("You passed an empty string for '%s'. We assume empty values are an "
                      "attempt to unset a parameter; however '%s' cannot be unset. You should "
                      "remove '%s' from your request or supply a non-empty value."
                      % (full, full, full), param=full)
    if k == "int":
        if not re.fullmatch(r"-?[0-9]{1,18}", v):
            raise ApiError(400, "Invalid integer: %s" % v[:50], code="parameter_invalid_integer",
                           param=full)
        return int(v)
    if k == "bool":
        if v not in ("true", "false"):
            raise invalid("Invalid boolean: %s" % v[:50], param=full)
        return v == "true"
    if k == "enum":
        if v not in spec.choices:
            raise invalid("Invalid %s: must be one of %s" % (full, ", ".join(spec.choices)),
                          param=full)
        return v
    if len(v) > spec.max_len:
        raise invalid("Invalid string: %s...; must be at most %d characters"
                      % (v[:20], spec.max_len), param=full)
    if k == "url" and v != "":
        u = urllib.parse.urlsplit(v)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ApiError(400, "Not a valid URL", code="url_invalid", param=full)
    if k == "email" and v != "" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise ApiError(400, "Invalid email address: %s" % v, code="email_invalid", param=full)
    return v


# ---- state ----
class Dataset:
    """One account in one mode (test or live): Stripe keeps them apart entirely."""

    def __init__(self, account, livemode):
        self.account = account
        self.livemode = livemode
        self.objects = {}
        self.order = []          # ids in creation order, for lists
        self.private = {}        # stand-in state that is not part of an object
        self.idem = {}           # key -> saved answer
        self.events = []
        self.endpoints = []
        self.hold = False
        self.held = []

    @property
    def mode(self):
        return "live" if self.livemode else "test"


class Endpoint:
    def __init__(self, ds, url, secret, enabled):
        self.id = new_id("we")
        self.ds = ds
        self.url = url
        self.secret = secret
        self.enabled = enabled


class Fault:
    def __init__(self, spec):
        self.id = new_id("fault")
        self.method = (spec.get("method") or "*").upper()
        self.path = spec["path"]
        self.kind = str(spec["kind"])
        if self.kind not in ("500", "503", "429", "409", "reset", "timeout", "slow"):
            raise ValueError("unknown fault kind %r" % self.kind)
        self.count = int(spec.get("count", 1))
        default_perform = self.kind in ("timeout", "slow")
        self.perform = bool(spec.get("perform", default_perform))
        self.delay = float(spec.get("delay", 30 if self.kind == "timeout" else 2))

    def matches(self, method, path):
        return self.count > 0 and (self.method in ("*", method)) and \
            fnmatch.fnmatchcase(path, self.path)

    def view(self):
        return {"id": self.id, "method": self.method, "path": self.path, "kind": self.kind,
                "count": self.count, "perform": self.perform, "delay": self.delay}


class Answer:
    def __init__(self, status, body, headers=None, raw=None, content_type="application/json"):
        self.status = status
        self.body = body
        self.headers = headers or []
        self.raw = raw
        self.content_type = content_type

    def payload(self):
        if self.raw is not None:
            return self.raw
        return (json.dumps(self.body, indent=2) + "\n").encode()


class Ctx:
    """One API request being served."""

    def __init__(self, standin, ds, method, path, request_id, idem_key):
        self.s = standin
        self.ds = ds
        self.method = method
        self.path = path
        self.request_id = request_id
        self.idem_key = idem_key
        self.params = {}

    def request_ref(self):
        return {"id": self.request_id, "idempotency_key": self.idem_key}


# ---- the server ----
class StandIn:
    def __init__(self, host="127.0.0.1", port=0, tls=None, api_version=API_VERSION):
        self.host = host
        self.port = port
        self.tls = tls                  # (certfile, keyfile) or None
        self.api_version = api_version
        self.lock = threading.RLock()
        self.accounts = {}
        self.keys = {}                  # secret key -> Dataset
        self.index = {}                 # object id -> Dataset
        self._complaints = []
        self._requests = []
        self.faults = []
        self.deliveries = queue.Queue()
        self.pending = 0
        self.pending_cv = threading.Condition()
        self.stopping = threading.Event()
        self.httpd = None
        self.url = None
        # Where the hosted pages (Checkout, 3-D Secure) say they are; None: self.url. A
        # test sets another origin to see that Portald sends nobody there.
        self.pages_url = None
        self.routes = self._routes()

    # -- lifecycle --
    def start(self):
        standin = self

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                sock, addr = super().get_request()
                if standin.tls:
                    sock = standin._ssl.wrap_socket(sock, server_side=True,
                                                    do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request, client_address):
                pass    # resets and abandoned connections are part of the tests

        if self.tls:
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(self.tls[0], self.tls[1])
        self.httpd = Server((self.host, self.port), _Handler)
        self.httpd.standin = self
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        threading.Thread(target=self._deliver_loop, daemon=True).start()
        return self

    def stop(self):
        self.stopping.set()
        self.deliveries.put(None)
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # -- accounts, keys, endpoints --
    def add_account(self, test_key=None, live_key=None):
        with self.lock:
            acct = {"id": new_id("acct")}
            test_key = test_key or "sk_test_" + rand(32)
            live_key = live_key or "sk_live_" + rand(32)
            for key, mode in ((test_key, "test"), (live_key, "live")):
                if not re.fullmatch(r"sk_%s_[A-Za-z0-9_]{1,200}" % mode, key):
                    raise ValueError("a %s key must look like sk_%s_..." % (mode, mode))
                if key in self.keys:
                    raise ValueError("key already in use")
            acct["test"] = Dataset(acct, False)
            acct["live"] = Dataset(acct, True)
            self.keys[test_key] = acct["test"]
            self.keys[live_key] = acct["live"]
            self.accounts[acct["id"]] = acct
            return {"id": acct["id"], "test_key": test_key, "live_key": live_key}

    def dataset(self, key):
        with self.lock:
            ds = self.keys.get(key)
            if ds is None:
                raise KeyError("no account has that key")
            return ds

    def add_webhook_endpoint(self, key, url, secret=None, enabled_events=None):
        with self.lock:
            ds = self.dataset(key)
            ep = Endpoint(ds, url, secret or "whsec_" + rand(32), enabled_events or ["*"])
            ds.endpoints.append(ep)
            return {"id": ep.id, "secret": ep.secret, "url": url}

    def remove_webhook_endpoint(self, ep_id):
        with self.lock:
            for acct in self.accounts.values():
                for ds in (acct["test"], acct["live"]):
                    ds.endpoints = [e for e in ds.endpoints if e.id != ep_id]

    # -- complaints and the request log --
    def complain(self, rule, message, method="", path="", request_id=None):
        with self.lock:
            self._complaints.append({"seq": len(self._complaints) + 1, "time": now(),
                                     "rule": rule, "message": message, "method": method,
                                     "path": path, "request_id": request_id})

    def complaints(self):
        with self.lock:
            return copy.deepcopy(self._complaints)

    def clear_complaints(self):
        with self.lock:
            out = self._complaints
            self._complaints = []
            return out

    def requests(self):
        with self.lock:
            return copy.deepcopy(self._requests)

    def clear_requests(self):
        with self.lock:
            self._requests = []

    def add_fault(self, spec):
        with self.lock:
            f = Fault(spec)
            self.faults.append(f)
            return f.view()

    def clear_faults(self):
        with self.lock:
            self.faults = []

    # -- objects --
    def store(self, ds, obj):
        ds.objects[obj["id"]] = obj
        ds.order.append(obj["id"])
        self.index[obj["id"]] = ds
        return obj

    def find(self, ds, oid, kind, obj_type, param="id", post=True):
        obj = ds.objects.get(oid)
        if obj is not None and obj.get("object") == obj_type:
            return obj
        other = self.index.get(oid)
        if other is not None and other is not ds:
            if other.account is ds.account:
                raise ApiError(404, "No such %s: '%s'; a similar object exists in %s mode, but "
                               "a %s mode key was used to make this request."
                               % (kind, oid, other.mode, ds.mode), code="resource_missing",
                               param=param, complaint="key_mode")
            raise missing(kind, oid, param, rule="other_account")
        raise missing(kind, oid, param, post=post)

    def obj(self, oid):
        with self.lock:
            ds = self.index.get(oid)
            return copy.deepcopy(ds.objects[oid]) if ds else None

    # -- events and webhook deliveries --
    def event(self, ds, type_, obj, ctx=None, previous=None):
        ev = {"id": new_id("evt"), "object": "event", "api_version": self.api_version,
              "created": now(), "data": {"object": copy.deepcopy(obj)},
              "livemode": ds.livemode, "pending_webhooks": 0,
              "request": ctx.request_ref() if ctx else {"id": None, "idempotency_key": None},
              "type": type_}
        if previous is not None:
            ev["data"]["previous_attributes"] = previous
        targets = [e for e in ds.endpoints if "*" in e.enabled or type_ in e.enabled]
        ev["pending_webhooks"] = len(targets)
        self.store(ds, ev)
        ds.events.append(ev["id"])
        ds.private[ev["id"]] = {"deliveries": []}
        for ep in targets:
            item = (ep, ev["id"], {})
            if ds.hold:
                ds.held.append(item)
            else:
                self._enqueue(item)
        return ev

    def _enqueue(self, item):
        with self.pending_cv:
            self.pending += 1
        self.deliveries.put(item)

    def _deliver_loop(self):
        while True:
            item = self.deliveries.get()
            if item is None:
                return
            try:
                self.deliver(*item)
            finally:
                with self.pending_cv:
                    self.pending -= 1
                    self.pending_cv.notify_all()

    def drain(self, timeout=10.0):
        end = time.time() + timeout
        with self.pending_cv:
            while self.pending > 0 and time.time() < end:
                self.pending_cv.wait(max(0.01, end - time.time()))
            return self.pending

    def sign(self, secret, t, body):
        return hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()

    def deliver(self, ep, event_id, opts):
        """POSTs one event to one endpoint, signed as Stripe signs; returns the attempt."""
        with self.lock:
            ds = ep.ds
            ev = ds.objects[event_id]
            body = json.dumps(ev, indent=2).encode()
        t = now() + int(opts.get("timestamp_offset", 0))
        secret = ep.secret if not opts.get("bad_signature") else ep.secret + "_wrong"
        header = "t=%d,v1=%s" % (t, self.sign(secret, t, body))
        if not ds.livemode:
            # Test-mode deliveries also carry a v0 signature, which receivers ignore.
            header += ",v0=" + self.sign("whsec_v0_" + ep.id, t, body)
        attempt = {"endpoint": ep.id, "url": ep.url, "time": now(), "signature": header,
                   "status": None, "error": None, "opts": opts}
        u = urllib.parse.urlsplit(ep.url)
        try:
            if u.scheme == "https":
                conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=10,
                                                   context=ssl._create_unverified_context())
            else:
                conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
            path = u.path or "/"
            if u.query:
                path += "?" + u.query
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Cache-Control": "no-cache", "Accept": "*/*; q=0.5, application/xml",
                "Stripe-Signature": header})
            resp = conn.getresponse()
            resp.read()
            attempt["status"] = resp.status
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            attempt["error"] = str(e)
        with self.lock:
            ds.private[event_id]["deliveries"].append(attempt)
        return attempt

    def resend(self, event_id, opts=None):
        with self.lock:
            ds = self.index.get(event_id)
            if ds is None or ds.objects[event_id].get("object") != "event":
                raise KeyError("no such event")
            eps = list(ds.endpoints)
        return [self.deliver(ep, event_id, dict(opts or {})) for ep in eps]

    def hold(self, key):
        with self.lock:
            self.dataset(key).hold = True

    def release(self, key, order="fifo"):
        with self.lock:
            ds = self.dataset(key)
            items = ds.held
            ds.held = []
            ds.hold = False
            if order == "reverse":
                items = list(reversed(items))
            elif order != "fifo":
                raise ValueError("order is fifo or reverse")
            for item in items:
                self._enqueue(item)
            return len(items)

    def events(self, key):
        with self.lock:
            ds = self.dataset(key)
            out = []
            for eid in ds.events:
                ev = copy.deepcopy(ds.objects[eid])
                ev["_deliveries"] = copy.deepcopy(ds.private[eid]["deliveries"])
                out.append(ev)
            return out

    # -- the object model --
    def new_pm(self, ds, card_name):
        card = TEST_CARDS[card_name]
        pm = {"id": new_id("pm"), "object": "payment_method", "allow_redisplay": "unspecified",
              "billing_details": {"address": {"city": None, "country": None, "line1": None,
                                              "line2": None, "postal_code": None,
                                              "state": None},
                                  "email": None, "name": None, "phone": None},
              "card": {"brand": card.brand,
                       "checks": {"address_line1_check": None,
                                  "address_postal_code_check": None, "cvc_check": "pass"},
                       "country": card.country, "display_brand": card.brand,
                       "exp_month": 12, "exp_year": time.gmtime().tm_year + 3,
                       "fingerprint": hashlib.sha256(card_name.encode()).hexdigest()[:16],
                       "funding": card.funding, "generated_from": None, "last4": card.last4,
                       "networks": {"available": [card.brand], "preferred": None},
                       "three_d_secure_usage": {"supported": True}, "wallet": None},
              "created": now(), "customer": None, "livemode": ds.livemode, "metadata": {},
              "type": "card"}
        self.store(ds, pm)
        ds.private[pm["id"]] = {"card": card_name, "set_up": False, "detached": False,
                                "decline": None}
        return pm

    def resolve_pm(self, ds, pm_id, param="payment_method"):
        """A PaymentMethod id, or a test token that makes a new one (test mode only)."""
        if pm_id in TEST_CARDS:
            if ds.livemode:
                raise ApiError(404, "No such PaymentMethod: '%s'; a similar object exists in "
                               "test mode, but a live mode key was used to make this request."
                               % pm_id, code="resource_missing", param=param,
                               complaint="key_mode")
            return self.new_pm(ds, pm_id)
        return self.find(ds, pm_id, "PaymentMethod", "payment_method", param)

    def card_of(self, ds, pm):
        p = ds.private[pm["id"]]
        return TEST_CARDS[p["card"]], p

    def card_details(self, pm):
        c = pm["card"]
        return {"brand": c["brand"], "checks": c["checks"], "country": c["country"],
                "exp_month": c["exp_month"], "exp_year": c["exp_year"],
                "fingerprint": c["fingerprint"], "funding": c["funding"],
                "last4": c["last4"], "network": c["brand"], "three_d_secure": None,
                "wallet": None}

    def attach(self, ds, pm, customer, ctx):
        pm["customer"] = customer["id"]
        self.event(ds, "payment_method.attached", pm, ctx)

    def new_charge(self, ds, pi, pm, decline=None):
        ok = decline is None
        ch = {"id": new_id("ch"), "object": "charge", "amount": pi["amount"],
              "amount_captured": pi["amount"] if ok else 0, "amount_refunded": 0,
              "application": None, "application_fee": None, "application_fee_amount": None,
              "balance_transaction": new_id("txn") if ok else None,
              "billing_details": copy.deepcopy(pm["billing_details"]),
              "calculated_statement_descriptor": "PORTALD", "captured": ok,
              "created": now(), "currency": pi["currency"], "customer": pi["customer"],
              "description": pi["description"], "disputed": False,
              "failure_balance_transaction": None,
              "failure_code": None if ok else decline[0],
              "failure_message": None if ok else decline[2], "fraud_details": {},
              "invoice": None, "livemode": ds.livemode, "metadata": dict(pi["metadata"]),
              "on_behalf_of": None,
              "outcome": ({"network_status": "approved_by_network", "reason": None,
                           "risk_level": "normal", "risk_score": 20,
                           "seller_message": "Payment complete.", "type": "authorized"}
                          if ok else
                          {"network_status": "declined_by_network", "reason": decline[1],
                           "risk_level": "normal", "risk_score": 20,
                           "seller_message": "The bank did not return any further details "
                                             "with this decline.",
                           "type": "issuer_declined"}),
              "paid": ok, "payment_intent": pi["id"], "payment_method": pm["id"],
              "payment_method_details": {"card": self.card_details(pm), "type": "card"},
              "receipt_email": pi.get("receipt_email"), "receipt_number": None,
              "receipt_url": "%s/receipts/%s" % (self.url, "x"), "refunded": False,
              "review": None, "shipping": None, "source": None, "source_transfer": None,
              "statement_descriptor": None, "statement_descriptor_suffix": None,
              "status": "succeeded" if ok else "failed", "transfer_data": None,
              "transfer_group": None}
        ch["receipt_url"] = "%s/receipts/%s" % (self.url, ch["id"])
        return self.store(ds, ch)

    def succeed_pi(self, ds, pi, pm, ctx):
        ch = self.new_charge(ds, pi, pm)
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=ch["id"],
                  next_action=None, last_payment_error=None, payment_method=pm["id"])
        if pi.get("setup_future_usage") and pi["customer"]:
            if pm["customer"] is None:
                self.attach(ds, pm, ds.objects[pi["customer"]], ctx)
            ds.private[pm["id"]]["set_up"] = True
        self.event(ds, "charge.succeeded", ch, ctx)
        self.event(ds, "payment_intent.succeeded", pi, ctx)

    def fail_pi(self, ds, pi, pm, decline, ctx, type_="card_error"):
        ch = self.new_charge(ds, pi, pm, decline)
        err = {"charge": ch["id"], "code": decline[0], "decline_code": decline[1],
               "doc_url": DOC + decline[0].replace("_", "-"), "message": decline[2],
               "payment_method": copy.deepcopy(pm), "type": type_}
        pi.update(status="requires_payment_method", last_payment_error=err,
                  latest_charge=ch["id"], next_action=None, payment_method=None)
        self.event(ds, "charge.failed", ch, ctx)
        self.event(ds, "payment_intent.payment_failed", pi, ctx)
        extra = {"charge": ch["id"], "decline_code": decline[1],
                 "payment_intent": copy.deepcopy(pi), "payment_method": copy.deepcopy(pm)}
        return ApiError(402, decline[2], type_="card_error", code=decline[0], executed=True,
                        complaint=None, extra=extra)

    def needs_auth(self, ds, pm, off_session):
        card, p = self.card_of(ds, pm)
        if card.auth == "always":
            return True
        if card.auth == "unless_setup":
            return not (off_session and p["set_up"])
        return False

    def decline_of(self, ds, pm):
        card, p = self.card_of(ds, pm)
        return DECLINES[p["decline"]] if p["decline"] else card.decline

    # -- dispatch of one API request (called with the raw pieces from the handler) --
    def handle_api(self, h, method, path, query, body):
        request_id = "req_" + rand(14)
        hdr = {k.lower(): v for k, v in h.headers.items()}
        idem_key = hdr.get("idempotency-key")
        version = hdr.get("stripe-version")
        log = {"seq": None, "time": now(), "method": method, "path": path,
               "idempotency_key": idem_key, "stripe_version": version, "status": None,
               "replayed": False, "fault": None, "account": None, "mode": None,
               "params": None, "request_id": request_id}

        def complain(rule, message):
            self.complain(rule, message, method, path, request_id)

        def finish(ans):
            if isinstance(ans, tuple):          # a reset or a hang: no answer at all
                log["status"] = ans[0]
            else:
                base = [("Request-Id", request_id), ("Stripe-Version", self.api_version)]
                if idem_key and method == "POST":
                    base.append(("Idempotency-Key", idem_key))
                ans.headers = base + ans.headers
                log["status"] = ans.status
            with self.lock:
                log["seq"] = len(self._requests) + 1
                self._requests.append(log)
            return ans

        # Authentication: Bearer or Basic, a key the stand-in was told about.
        auth = hdr.get("authorization", "")
        key = None
        if auth.startswith("Bearer "):
            key = auth[7:].strip()
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = None
        with self.lock:
            ds = self.keys.get(key) if key else None
        if ds is None:
            if not key:
                msg = ("You did not provide an API key. You need to provide your API key in "
                       "the Authorization header, using Bearer auth (e.g. 'Authorization: "
                       "Bearer YOUR_SECRET_KEY').")
            elif key.startswith("pk_"):
                msg = ("This API call cannot be made with a publishable API key. Please use "
                       "a secret API key.")
            else:
                msg = "Invalid API Key provided: %s%s" % (key[:8], "*" * 8 + key[-4:])
            complain("auth", msg)
            return finish(Answer(401, {"error": {"message": msg,
                                                 "type": "invalid_request_error"}}))
        log["account"] = ds.account["id"]
        log["mode"] = ds.mode

        if version is None:
            complain("api_version", "no Stripe-Version header: the account's default version "
                     "would apply; Portald pins %s" % self.api_version)
        elif not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version):
            complain("api_version", "invalid Stripe-Version %r" % version)
            return finish(Answer(400, {"error": {
                "message": "Invalid Stripe API version: %s" % version,
                "type": "invalid_request_error"}}))
        elif version != self.api_version:
            complain("api_version", "Stripe-Version %s, but Portald pins %s"
                     % (version, self.api_version))

        # Faults that strike before anything runs.
        fault = None
        with self.lock:
            for f in self.faults:
                if f.matches(method, path):
                    f.count -= 1
                    fault = f
                    break
        if fault:
            log["fault"] = fault.kind
            if fault.kind == "429":
                return finish(Answer(429, {"error": {
                    "code": "rate_limit", "doc_url": DOC + "rate-limit",
                    "message": "Request rate limit exceeded. Learn more about rate limits "
                               "here https://stripe.com/docs/rate-limits.",
                    "type": "invalid_request_error"}}))
            if fault.kind == "503":
                return finish(Answer(503, {"error": {
                    "message": "The request could not be completed in time (a lock was held "
                               "by another request). It was not executed; retry it.",
                    "type": "api_error"}}, [("Stripe-Should-Retry", "true")]))
            if fault.kind == "409":
                return finish(Answer(409, {"error": {
                    "code": "idempotency_key_in_use",
                    "message": "There is currently another in-progress request using this "
                               "Idempotent Key (that probably means you submitted twice, and "
                               "the other request is still going through): %s. Please try "
                               "again later." % idem_key,
                    "type": "invalid_request_error"}}))
            if fault.kind in ("reset", "timeout") and not fault.perform:
                return finish(("reset",) if fault.kind == "reset" else ("hang", fault.delay))

        try:
            ans = self._run(ds, method, path, query, body, hdr, idem_key, request_id, log,
                            complain, fault)
        except ApiError as e:
            ans = Answer(e.status, e.body)
        return finish(ans)

    def _run(self, ds, method, path, query, body, hdr, idem_key, request_id, log, complain,
             fault):
        with self.lock:
            if method == "POST":
                ctype = hdr.get("content-type", "").split(";")[0].strip().lower()
                if body and ctype != "application/x-www-form-urlencoded":
                    complain("content_type", "a POST body of type %r; Stripe's v1 API takes "
                             "application/x-www-form-urlencoded" % ctype)
                    raise invalid("Invalid request: unsupported Content-Type %s. If error "
                                  "persists and you need assistance, please contact "
                                  "support@stripe.com." % (ctype or "(none)"),
                                  complaint=None)
                if query:
                    complain("encoding", "parameters in the query string of a POST")
                try:
                    text = body.decode("latin-1")
                except UnicodeDecodeError:      # cannot happen with latin-1
                    text = ""
                raw = text
            else:
                if body:
                    complain("encoding", "a body on a %s request" % method)
                raw = query
            try:
                params = Params(raw, complain)
            except ApiError as e:
                self._complain_for(e, complain)
                raise
            log["params"] = copy.deepcopy(params.tree)

            route, args = self._route(method, path)
            if route is None or path.endswith("/search"):
                msg = ("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs "
                       "or we can help at https://support.stripe.com/." % (method, path))
                if path.endswith("/search"):
                    complain("search_api", "Portald must not use Stripe's search API: list "
                             "by customer and filter instead")
                else:
                    complain("unrecognized_url", "%s %s is not an endpoint the stand-in "
                             "implements" % (method, path))
                raise ApiError(404, msg, complaint=None)

            # Idempotency: POSTs only, per account and mode, like Stripe.
            fingerprint = canon([method, path, params.tree])
            if method == "POST":
                if not idem_key:
                    complain("missing_idempotency_key", "a POST without an Idempotency-Key: "
                             "Portald sends one on every POST")
                elif len(idem_key) > 255:
                    complain("idempotency_key", "an Idempotency-Key over 255 characters")
                    raise invalid("Invalid idempotency key: must be at most 255 characters",
                                  complaint=None)
                else:
                    saved = ds.idem.get(idem_key)
                    if saved and saved["time"] < now() - 86400:
                        saved = None    # pruned after 24 h: the key starts afresh
                    if saved:
                        if saved["fingerprint"] != fingerprint:
                            complain("idempotency_error", "Idempotency-Key %r reused with "
                                     "other parameters (first used on %s %s)"
                                     % (idem_key, saved["method"], saved["path"]))
                            raise ApiError(400, "Keys for idempotent requests can only be used "
                                           "with the same parameters they were first used "
                                           "with. Try using a key other than '%s' if you "
                                           "meant to execute a different request." % idem_key,
                                           type_="idempotency_error", complaint=None)
                        log["replayed"] = True
                        headers = [("Idempotent-Replayed", "true"),
                                   ("Original-Request", saved["request_id"])]
                        if saved["status"] >= 500:
                            headers.append(("Stripe-Should-Retry", "false"))
                        return Answer(saved["status"], copy.deepcopy(saved["body"]), headers)

            ctx = Ctx(self, ds, method, path, request_id, idem_key if method == "POST" else None)
            executed = False
            try:
                if fault and fault.kind == "500" and not fault.perform:
                    executed = True
                    raise ApiError(500, "An unknown error occurred", type_="api_error",
                                   executed=True, complaint=None)
                ctx.params = validate(params.tree, route["params"])
                result = route["fn"](ctx, *args)
                executed = True
                expand = ctx.params.get("expand") or []
                ans = Answer(200, self._expand(ds, copy.deepcopy(result), expand))
            except ApiError as e:
                executed = executed or e.executed
                self._complain_for(e, complain, method)
                ans = Answer(e.status, e.body)
            if fault and fault.kind == "500" and executed:
                # The work was done (perform) or had begun: Stripe saves the 500 either way.
                ans = Answer(500, {"error": {"message": "An unknown error occurred",
                                             "type": "api_error"}})
            if ans.status >= 500:
                ans.headers.append(("Stripe-Should-Retry", "false"))
            if method == "POST" and idem_key and executed:
                ds.idem[idem_key] = {"fingerprint": fingerprint, "status": ans.status,
                                     "body": copy.deepcopy(ans.body), "time": now(),
                                     "request_id": request_id, "method": method,
                                     "path": path}
        # Faults that strike after the work was done (and saved).
        if fault and fault.perform:
            if fault.kind == "reset":
                return ("reset",)
            if fault.kind == "timeout":
                return ("hang", fault.delay)
            if fault.kind == "slow":
                self.stopping.wait(fault.delay)
        return ans

    def _complain_for(self, e, complain, method="POST"):
        if e.complaint is None:
            return
        if e.status == 404 and method != "POST" and e.complaint == "resource_missing":
            return
        complain(e.complaint, e.body["error"]["message"])

    def _expand(self, ds, obj, paths):
        for p in paths:
            parts = p.split(".")
            if len(parts) > 4:
                raise invalid("You cannot expand more than 4 levels of a property (%s)" % p,
                              param="expand")
            self._expand_one(ds, obj, parts, p)
        return obj

    def _expand_one(self, ds, node, parts, full):
        if isinstance(node, dict) and node.get("object") == "list" and parts[0] == "data":
            for item in node["data"]:
                self._expand_one(ds, item, parts[1:], full)
            return
        if not parts:
            return
        if not isinstance(node, dict) or parts[0] not in node:
            raise invalid("This property cannot be expanded (%s)." % full, param="expand")
        v = node[parts[0]]
        if isinstance(v, str):
            if v not in ds.objects:
                raise invalid("This property cannot be expanded (%s)." % full, param="expand")
            v = node[parts[0]] = copy.deepcopy(ds.objects[v])
        if v is not None:
            self._expand_one(ds, v, parts[1:], full)

    # -- routes --
    def _route(self, method, path):
        for r in self.routes:
            if r["method"] != method:
                continue
            m = r["re"].fullmatch(path)
            if m:
                return r, m.groups()
        return None, ()

    def _routes(self):
        table = [
            ("POST", "/v1/customers", self.customer_create, self.CUSTOMER_CREATE),
            ("GET", "/v1/customers/([^/]+)", self.customer_get, EXPAND),
            ("POST", "/v1/customers/([^/]+)", self.customer_update, self.CUSTOMER_UPDATE),
            ("GET", "/v1/customers/([^/]+)/payment_methods", self.customer_pms,
             {**LIST_PARAMS, "type": Str()}),
            ("POST", "/v1/checkout/sessions", self.checkout_create, self.CHECKOUT_CREATE),
            ("GET", "/v1/checkout/sessions/([^/]+)", self.checkout_get, EXPAND),
            ("POST", "/v1/checkout/sessions/([^/]+)/expire", self.checkout_expire_api, EXPAND),
            ("GET", "/v1/setup_intents/([^/]+)", self.seti_get, {**EXPAND,
                                                                 "client_secret": Str()}),
            ("GET", "/v1/payment_methods", self.pm_list,
             {**LIST_PARAMS, "customer": Str(required=True), "type": Str()}),
            ("GET", "/v1/payment_methods/([^/]+)", self.pm_get, EXPAND),
            ("POST", "/v1/payment_methods/([^/]+)/attach", self.pm_attach,
             {**EXPAND, "customer": Str(required=True)}),
            ("POST", "/v1/payment_methods/([^/]+)/detach", self.pm_detach, EXPAND),
            ("POST", "/v1/payment_intents", self.pi_create, self.PI_CREATE),
            ("GET", "/v1/payment_intents", self.pi_list,
             {**LIST_PARAMS, **CREATED, "customer": Str()}),
            ("GET", "/v1/payment_intents/([^/]+)", self.pi_get, {**EXPAND,
                                                                 "client_secret": Str()}),
            ("POST", "/v1/payment_intents/([^/]+)", self.pi_update, self.PI_UPDATE),
            ("POST", "/v1/payment_intents/([^/]+)/confirm", self.pi_confirm, self.PI_CONFIRM),
            ("POST", "/v1/payment_intents/([^/]+)/cancel", self.pi_cancel,
             {**EXPAND, "cancellation_reason": Enum("duplicate", "fraudulent",
                                                    "requested_by_customer", "abandoned")}),
            ("POST", "/v1/refunds", self.refund_create, self.REFUND_CREATE),
            ("GET", "/v1/refunds", self.refund_list,
             {**LIST_PARAMS, **CREATED, "charge": Str(), "payment_intent": Str()}),
            ("GET", "/v1/refunds/([^/]+)", self.refund_get, EXPAND),
            ("GET", "/v1/charges", self.charge_list,
             {**LIST_PARAMS, **CREATED, "customer": Str(), "payment_intent": Str()}),
            ("GET", "/v1/charges/([^/]+)", self.charge_get, EXPAND),
            ("GET", "/v1/disputes/([^/]+)", self.dispute_get, EXPAND),
            ("GET", "/v1/events", self.event_list, {**LIST_PARAMS, **CREATED, "type": Str()}),
            ("GET", "/v1/events/([^/]+)", self.event_get, EXPAND),
        ]
        return [{"method": m, "re": re.compile(p), "fn": fn, "params": params}
                for m, p, fn, params in table]

    # -- lists --
    def list_of(self, ctx, obj_type, url, pred):
        p = ctx.params
        limit = p.get("limit", 10)
        if not 1 <= limit <= 100:
            raise invalid("Invalid limit: must be between 1 and 100", param="limit")
        created = p.get("created") or {}
        items = [ctx.ds.objects[i] for i in reversed(ctx.ds.order)
                 if ctx.ds.objects[i].get("object") == obj_type]
        items = [o for o in items if pred(o)]
        for op, test in (("eq", lambda a, b: a == b), ("gt", lambda a, b: a > b),
                         ("gte", lambda a, b: a >= b), ("lt", lambda a, b: a < b),
                         ("lte", lambda a, b: a <= b)):
            if op in created:
                items = [o for o in items if test(o["created"], created[op])]
        ids = [o["id"] for o in items]
        if p.get("starting_after"):
            if p["starting_after"] not in ids:
                raise invalid("Invalid starting_after: no such object in this list",
                              param="starting_after")
            items = items[ids.index(p["starting_after"]) + 1:]
        elif p.get("ending_before"):
            if p["ending_before"] not in ids:
                raise invalid("Invalid ending_before: no such object in this list",
                              param="ending_before")
            items = items[:ids.index(p["ending_before"])][-limit:]
            return {"object": "list", "data": items, "has_more": False, "url": url}
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit,
                "url": url}

    # -- customers --
    @staticmethod
    def _customer_fields(u):
        return {"address": Hash({k: Str(max_len=2 if k == "country" else 5000, unset=u)
                                 for k in ("city", "country", "line1", "line2",
                                           "postal_code", "state")}),
                "description": Str(unset=u), "email": Email(unset=u),
                "invoice_settings": Hash({"default_payment_method": Str(unset=u)}),
                "metadata": Meta(), "name": Str(max_len=256, unset=u),
                "phone": Str(max_len=20, unset=u), "preferred_locales": List(), **EXPAND}

    CUSTOMER_CREATE = {**_customer_fields.__func__(False), "payment_method": Str()}
    CUSTOMER_UPDATE = _customer_fields.__func__(True)

    def _apply_customer(self, ctx, c, p):
        for f in ("description", "email", "name", "phone"):
            if f in p:
                c[f] = p[f] or None
        if "address" in p:
            a = p["address"]
            c["address"] = None if a == "" else {k: a.get(k) or None for k in
                                                 ("city", "country", "line1", "line2",
                                                  "postal_code", "state")}
        if "preferred_locales" in p:
            c["preferred_locales"] = p["preferred_locales"]
        if "metadata" in p:
            c["metadata"] = merge_metadata(c["metadata"], p["metadata"])
        inv = p.get("invoice_settings")
        if inv and "default_payment_method" in inv:
            pm_id = inv["default_payment_method"]
            if pm_id:
                pm = self.find(ctx.ds, pm_id, "PaymentMethod", "payment_method",
                               "invoice_settings[default_payment_method]")
                if pm["customer"] != c["id"]:
                    raise invalid("The customer does not have a payment method with the ID "
                                  "%s. The payment method must be attached to the customer."
                                  % pm_id, param="invoice_settings[default_payment_method]",
                                  code="resource_missing")
            c["invoice_settings"]["default_payment_method"] = pm_id or None

    def customer_create(self, ctx):
        p = ctx.params
        c = {"id": new_id("cus"), "object": "customer", "address": None, "balance": 0,
             "created": now(), "currency": None, "default_source": None, "delinquent": False,
             "description": None, "discount": None, "email": None,
             "invoice_prefix": rand(8).upper(),
             "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                                  "footer": None, "rendering_options": None},
             "livemode": ctx.ds.livemode, "metadata": {}, "name": None,
             "next_invoice_sequence": 1, "phone": None, "preferred_locales": [],
             "shipping": None, "tax_exempt": "none", "test_clock": None}
        pm = None
        if p.get("payment_method"):
            pm = self.resolve_pm(ctx.ds, p["payment_method"])
            self._check_attachable(ctx, pm)
        self._apply_customer(ctx, c, {k: v for k, v in p.items()
                                      if k != "invoice_settings"})
        self.store(ctx.ds, c)
        if pm is not None:
            self.attach(ctx.ds, pm, c, ctx)
        if p.get("invoice_settings"):
            self._apply_customer(ctx, c, {"invoice_settings": p["invoice_settings"]})
        self.event(ctx.ds, "customer.created", c, ctx)
        return c

    def customer_get(self, ctx, cid):
        return self.find(ctx.ds, cid, "customer", "customer", post=False)

    def customer_update(self, ctx, cid):
        c = self.find(ctx.ds, cid, "customer", "customer")
        before = copy.deepcopy(c)
        self._apply_customer(ctx, c, ctx.params)
        prev = {k: before[k] for k in c if c[k] != before[k]}
        if prev:
            self.event(ctx.ds, "customer.updated", c, ctx, prev)
        return c

    def customer_pms(self, ctx, cid):
        self.find(ctx.ds, cid, "customer", "customer", "customer", post=False)
        self._check_pm_type(ctx)
        return self.list_of(ctx, "payment_method", "/v1/customers/%s/payment_methods" % cid,
                            lambda o: o["customer"] == cid)

    # -- checkout sessions (setup mode) --
    CHECKOUT_CREATE = {
        "mode": Enum("payment", "setup", "subscription", required=True),
        "customer": Str(), "customer_email": Email(), "success_url": Url(max_len=5000),
        "cancel_url": Url(max_len=5000), "currency": Str(max_len=3),
        "payment_method_types": List(), "metadata": Meta(), "client_reference_id": Str(
            max_len=200), "locale": Str(), "expires_at": Int(),
        "billing_address_collection": Enum("auto", "required"),
        "setup_intent_data": Hash({"description": Str(), "metadata": Meta(),
                                   "on_behalf_of": Str()}),
        "ui_mode": Enum("hosted", "embedded"), **EXPAND}

    def checkout_create(self, ctx):
        p = ctx.params
        ds = ctx.ds
        if p["mode"] != "setup":
            raise invalid("The stand-in implements Checkout in setup mode only (mode=%s)"
                          % p["mode"], param="mode", complaint="not_implemented")
        if p.get("ui_mode", "hosted") != "hosted":
            raise invalid("The stand-in implements hosted Checkout only", param="ui_mode",
                          complaint="not_implemented")
        if not p.get("success_url"):
            raise ApiError(400, "Missing required param: success_url.",
                           code="parameter_missing", param="success_url",
                           complaint="missing_parameter")
        if p.get("customer") and p.get("customer_email"):
            raise invalid("You may only specify one of these parameters: customer, "
                          "customer_email.", param="customer_email")
        customer = None
        if p.get("customer"):
            customer = self.find(ds, p["customer"], "customer", "customer", "customer")
        types = p.get("payment_method_types") or []
        for i, t in enumerate(types):
            if t != "card":
                raise invalid("The stand-in implements card payment methods only (%s)" % t,
                              param="payment_method_types[%d]" % i,
                              complaint="not_implemented")
        currency = p.get("currency")
        if not types and not currency:
            raise ApiError(400, "currency is required in setup mode when "
                           "payment_method_types is not set (dynamic payment methods)",
                           code="parameter_missing", param="currency",
                           complaint="missing_parameter")
        if currency and currency not in SUPPORTED_CURRENCIES:
            raise invalid("Invalid currency: %s" % currency, param="currency",
                          complaint="amount")
        created = now()
        expires = p.get("expires_at", created + 86400)
        if not created + 1800 <= expires <= created + 86400:
            raise invalid("The expires_at timestamp must be between 30 minutes and 24 hours "
                          "from Checkout Session creation.", param="expires_at")
        cs_id = "cs_%s_a1%s" % (ds.mode, rand(40))
        cs = {"id": cs_id, "object": "checkout.session", "after_expiration": None,
              "allow_promotion_codes": None, "amount_subtotal": None, "amount_total": None,
              "automatic_tax": {"enabled": False, "liability": None, "status": None},
              "billing_address_collection": p.get("billing_address_collection"),
              "cancel_url": p.get("cancel_url") or None,
              "client_reference_id": p.get("client_reference_id") or None,
              "client_secret": None, "consent": None, "consent_collection": None,
              "created": created, "currency": currency or None, "custom_fields": [],
              "custom_text": {"after_submit": None, "shipping_address": None,
                              "submit": None, "terms_of_service_acceptance": None},
              "customer": customer["id"] if customer else None,
              "customer_creation": None, "customer_details": None,
              "customer_email": p.get("customer_email") or None,
              "expires_at": expires, "invoice": None, "invoice_creation": None,
              "livemode": ds.livemode, "locale": p.get("locale") or None,
              "metadata": merge_metadata({}, p.get("metadata", {})), "mode": "setup",
              "payment_intent": None, "payment_link": None,
              "payment_method_collection": "always",
              "payment_method_configuration_details": None,
              "payment_method_options": {}, "payment_method_types": types or ["card"],
              "payment_status": "no_payment_required", "phone_number_collection": {
                  "enabled": False},
              "recovered_from": None, "setup_intent": None, "shipping_address_collection": None,
              "shipping_cost": None, "shipping_details": None, "shipping_options": [],
              "status": "open", "submit_type": None, "subscription": None,
              "success_url": p["success_url"], "total_details": None, "ui_mode": "hosted",
              "url": "%s/checkout/pay/%s" % (self.pages_url or self.url, cs_id)}
        self.store(ds, cs)
        ds.private[cs_id] = {"setup_intent_data": p.get("setup_intent_data") or {}}
        return cs

    def checkout_get(self, ctx, cs_id):
        return self.find(ctx.ds, cs_id, "checkout.session", "checkout.session", post=False)

    def checkout_expire_api(self, ctx, cs_id):
        cs = self.find(ctx.ds, cs_id, "checkout.session", "checkout.session")
        if cs["status"] != "open":
            raise invalid("Only Checkout Sessions with a status of open can be expired.",
                          complaint="unexpected_state")
        self._expire(ctx.ds, cs, ctx)
        return cs

    def _expire(self, ds, cs, ctx=None):
        cs["status"] = "expired"
        cs["url"] = None
        self.event(ds, "checkout.session.expired", cs, ctx)

    def complete_checkout(self, cs_id, card_name, three_d_secure="approve"):
        """The customer picks a card on the hosted page. Returns {status, redirect, ...}."""
        with self.lock:
            ds = self.index.get(cs_id)
            if ds is None or ds.objects[cs_id].get("object") != "checkout.session":
                raise KeyError("no such checkout session")
            cs = ds.objects[cs_id]
            if cs["status"] != "open":
                raise ValueError("this Checkout Session is %s" % cs["status"])
            if time.time() > cs["expires_at"]:
                self._expire(ds, cs)
                raise ValueError("this Checkout Session has expired")
            if card_name not in TEST_CARDS:
                raise ValueError("unknown test card %r" % card_name)
            if three_d_secure not in ("approve", "fail"):
                raise ValueError("three_d_secure is approve or fail")
            card = TEST_CARDS[card_name]
            pm = self.new_pm(ds, card_name)
            sid = ds.private[cs_id]["setup_intent_data"]
            seti = ds.objects.get(cs["setup_intent"]) if cs["setup_intent"] else None
            if seti is None:
                seti = {"id": new_id("seti"), "object": "setup_intent", "application": None,
                        "automatic_payment_methods": None, "cancellation_reason": None,
                        "client_secret": None, "created": now(), "customer": cs["customer"],
                        "description": sid.get("description") or None,
                        "flow_directions": None, "last_setup_error": None,
                        "latest_attempt": None, "livemode": ds.livemode, "mandate": None,
                        "metadata": merge_metadata({}, sid.get("metadata") or {}),
                        "next_action": None, "on_behalf_of": None, "payment_method": None,
                        "payment_method_configuration_details": None,
                        "payment_method_options": {"card": {"mandate_options": None,
                                                            "network": None,
                                                            "request_three_d_secure":
                                                                "automatic"}},
                        "payment_method_types": ["card"], "single_use_mandate": None,
                        "status": "requires_payment_method", "usage": "off_session"}
                seti["client_secret"] = "%s_secret_%s" % (seti["id"], rand(24))
                self.store(ds, seti)
                cs["setup_intent"] = seti["id"]
                self.event(ds, "setup_intent.created", seti)
            seti["payment_method"] = pm["id"]
            failure = None
            if card.attach_fails:
                d = card.decline
                failure = {"code": d[0], "decline_code": d[1], "message": d[2],
                           "doc_url": DOC + d[0].replace("_", "-"),
                           "payment_method": copy.deepcopy(pm), "type": "card_error"}
            elif card.auth and three_d_secure == "fail":
                failure = {"code": "setup_intent_authentication_failure",
                           "doc_url": DOC + "setup-intent-authentication-failure",
                           "message": "The latest attempt to set up the payment method has "
                                      "failed because authentication failed.",
                           "payment_method": copy.deepcopy(pm),
                           "type": "invalid_request_error"}
            if failure:
                seti.update(status="requires_payment_method", last_setup_error=failure,
                            payment_method=None)
                self.event(ds, "setup_intent.setup_failed", seti)
                return {"status": "failed", "error": failure, "session": copy.deepcopy(cs)}
            if cs["customer"]:
                self.attach(ds, pm, ds.objects[cs["customer"]], None)
            ds.private[pm["id"]]["set_up"] = True
            seti.update(status="succeeded", last_setup_error=None)
            cust = ds.objects.get(cs["customer"]) if cs["customer"] else None
            cs.update(status="complete", url=None, customer_details={
                "address": (cust or {}).get("address"),
                "email": (cust or {}).get("email") or cs["customer_email"],
                "name": (cust or {}).get("name"), "phone": None, "tax_exempt": "none",
                "tax_ids": []})
            self.event(ds, "setup_intent.succeeded", seti)
            self.event(ds, "checkout.session.completed", cs)
            redirect = cs["success_url"].replace("{CHECKOUT_SESSION_ID}", cs_id)
            return {"status": "complete", "redirect": redirect, "session": copy.deepcopy(cs),
                    "setup_intent": copy.deepcopy(seti), "payment_method": copy.deepcopy(pm)}

    def expire_checkout(self, cs_id):
        with self.lock:
            ds = self.index.get(cs_id)
            if ds is None or ds.objects[cs_id].get("object") != "checkout.session":
                raise KeyError("no such checkout session")
            cs = ds.objects[cs_id]
            if cs["status"] != "open":
                raise ValueError("this Checkout Session is %s" % cs["status"])
            self._expire(ds, cs)
            return copy.deepcopy(cs)

    def seti_get(self, ctx, sid):
        return self.find(ctx.ds, sid, "setupintent", "setup_intent", post=False)

    # -- payment methods --
    def _check_pm_type(self, ctx):
        t = ctx.params.get("type")
        if t not in (None, "card"):
            raise invalid("The stand-in implements card payment methods only (type=%s)" % t,
                          param="type", complaint="not_implemented")

    def pm_list(self, ctx):
        cid = ctx.params["customer"]
        self.find(ctx.ds, cid, "customer", "customer", "customer", post=False)
        self._check_pm_type(ctx)
        return self.list_of(ctx, "payment_method", "/v1/payment_methods",
                            lambda o: o["customer"] == cid)

    def pm_get(self, ctx, pm_id):
        return self.find(ctx.ds, pm_id, "PaymentMethod", "payment_method", post=False)

    def _check_attachable(self, ctx, pm):
        if ctx.ds.private[pm["id"]]["detached"] or ctx.ds.private[pm["id"]].get("used_alone"):
            raise invalid("This PaymentMethod was previously used without being attached to a "
                          "Customer or was detached from a Customer, and may not be used "
                          "again.", param="payment_method", complaint="unexpected_state")
        if pm["customer"] is not None:
            raise invalid("The payment method you provided has already been attached to a "
                          "customer.", param="payment_method", complaint="unexpected_state")
        card, _ = self.card_of(ctx.ds, pm)
        if card.attach_fails:
            d = card.decline
            raise ApiError(402, d[2], type_="card_error", code=d[0], param="",
                           executed=True, complaint=None,
                           extra={"decline_code": d[1]})

    def pm_attach(self, ctx, pm_id):
        c = self.find(ctx.ds, ctx.params["customer"], "customer", "customer", "customer")
        pm = self.resolve_pm(ctx.ds, pm_id, "payment_method")
        self._check_attachable(ctx, pm)
        self.attach(ctx.ds, pm, c, ctx)
        return pm

    def pm_detach(self, ctx, pm_id):
        pm = self.find(ctx.ds, pm_id, "PaymentMethod", "payment_method")
        if pm["customer"] is None:
            raise invalid("The payment method %s is not attached to a customer so detachment "
                          "is impossible." % pm_id, param="payment_method",
                          complaint="unexpected_state")
        cid = pm["customer"]
        c = ctx.ds.objects[cid]
        if c["invoice_settings"]["default_payment_method"] == pm_id:
            c["invoice_settings"]["default_payment_method"] = None
        pm["customer"] = None
        ctx.ds.private[pm_id]["detached"] = True
        self.event(ctx.ds, "payment_method.detached", pm, ctx, {"customer": cid})
        return pm

    def set_decline(self, pm_id, decline_code):
        with self.lock:
            ds = self.index.get(pm_id)
            if ds is None or ds.objects[pm_id].get("object") != "payment_method":
                raise KeyError("no such payment method")
            if decline_code is not None and decline_code not in DECLINES:
                raise ValueError("decline_code is one of %s" % ", ".join(sorted(DECLINES)))
            ds.private[pm_id]["decline"] = decline_code
            return {"id": pm_id, "decline_code": decline_code}

    # -- payment intents --
    PI_CREATE = {"amount": Int(required=True), "currency": Str(required=True, max_len=3),
                 "customer": Str(), "payment_method": Str(), "confirm": Bool(),
                 "off_session": Bool(), "return_url": Url(), "metadata": Meta(),
                 "description": Str(max_len=1000), "receipt_email": Email(),
                 "payment_method_types": List(),
                 "automatic_payment_methods": Hash({"enabled": Bool(required=True),
                                                    "allow_redirects": Enum("always",
                                                                            "never")}),
                 "setup_future_usage": Enum("off_session", "on_session"),
                 "statement_descriptor": Str(max_len=22),
                 "statement_descriptor_suffix": Str(max_len=22),
                 "capture_method": Enum("automatic", "automatic_async", "manual"),
                 "error_on_requires_action": Bool(), **EXPAND}
    PI_UPDATE = {"metadata": Meta(), "description": Str(max_len=1000, unset=True),
                 "payment_method": Str(), "receipt_email": Email(unset=True), **EXPAND}
    PI_CONFIRM = {"payment_method": Str(), "off_session": Bool(), "return_url": Url(),
                  "receipt_email": Email(), "error_on_requires_action": Bool(),
                  "setup_future_usage": Enum("off_session", "on_session"), **EXPAND}

    def pi_create(self, ctx):
        p = ctx.params
        ds = ctx.ds
        currency = p["currency"]
        if currency != currency.lower():
            raise invalid("Invalid currency: %s. Currencies are lower-case three-letter ISO "
                          "codes." % currency, param="currency", complaint="amount")
        prob = amount_problem(p["amount"], currency)
        if prob:
            raise invalid(prob[1], param=prob[0], complaint="amount",
                          code="amount_too_small" if "at least" in prob[1] else
                          "amount_too_large" if "no more than" in prob[1] else None)
        if p.get("capture_method", "automatic") != "automatic":
            raise invalid("The stand-in implements capture_method=automatic only",
                          param="capture_method", complaint="not_implemented")
        if "off_session" in p and not p.get("confirm"):
            raise invalid("You can only pass in `off_session` when `confirm` is set to true.",
                          param="off_session")
        if "return_url" in p and not p.get("confirm"):
            raise invalid("You can only pass in `return_url` when `confirm` is set to true.",
                          param="return_url")
        types = p.get("payment_method_types") or []
        apm = p.get("automatic_payment_methods")
        if types and apm and apm.get("enabled"):
            raise invalid("You may only specify one of these parameters: "
                          "automatic_payment_methods, payment_method_types.",
                          param="automatic_payment_methods")
        for i, t in enumerate(types):
            if t != "card":
                raise invalid("The stand-in implements card payment methods only (%s)" % t,
                              param="payment_method_types[%d]" % i,
                              complaint="not_implemented")
        customer = None
        if p.get("customer"):
            customer = self.find(ds, p["customer"], "customer", "customer", "customer")
        pm = None
        if p.get("payment_method"):
            pm = self.resolve_pm(ds, p["payment_method"])
            self._check_pm_for(ctx, pm, customer)
        if not types:
            apm = {"allow_redirects": (apm or {}).get("allow_redirects", "always"),
                   "enabled": True} if apm is None or apm.get("enabled") else None
        else:
            apm = None
        pi = {"id": new_id("pi"), "object": "payment_intent", "amount": p["amount"],
              "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 0,
              "application": None, "application_fee_amount": None,
              "automatic_payment_methods": apm, "canceled_at": None,
              "cancellation_reason": None, "capture_method": "automatic",
              "client_secret": None, "confirmation_method": "automatic", "created": now(),
              "currency": currency, "customer": customer["id"] if customer else None,
              "description": p.get("description") or None, "invoice": None,
              "last_payment_error": None, "latest_charge": None, "livemode": ds.livemode,
              "metadata": merge_metadata({}, p.get("metadata", {})), "next_action": None,
              "on_behalf_of": None, "payment_method": pm["id"] if pm else None,
              "payment_method_configuration_details": None,
              "payment_method_options": {"card": {"installments": None,
                                                  "mandate_options": None, "network": None,
                                                  "request_three_d_secure": "automatic"}},
              "payment_method_types": types or ["card"], "processing": None,
              "receipt_email": p.get("receipt_email") or None, "review": None,
              "setup_future_usage": p.get("setup_future_usage"), "shipping": None,
              "source": None, "statement_descriptor": p.get("statement_descriptor") or None,
              "statement_descriptor_suffix": p.get("statement_descriptor_suffix") or None,
              "status": "requires_confirmation" if pm else "requires_payment_method",
              "transfer_data": None, "transfer_group": None}
        pi["client_secret"] = "%s_secret_%s" % (pi["id"], rand(24))
        if p.get("confirm"):
            self._check_confirmable(ctx, pi, pm, p)
        self.store(ds, pi)
        self.event(ds, "payment_intent.created", pi, ctx)
        if p.get("confirm"):
            self._confirm(ctx, pi, pm, p)
        return pi

    def _check_pm_for(self, ctx, pm, customer):
        priv = ctx.ds.private[pm["id"]]
        if priv["detached"]:
            raise invalid("This PaymentMethod was previously used without being attached to a "
                          "Customer or was detached from a Customer, and may not be used "
                          "again.", param="payment_method", complaint="unexpected_state")
        if pm["customer"] and (customer is None or pm["customer"] != customer["id"]):
            raise invalid("The provided PaymentMethod belongs to a Customer (%s); pass that "
                          "customer to use it." % pm["customer"], param="payment_method")

    def _check_confirmable(self, ctx, pi, pm, p):
        if pm is None:
            raise invalid("You cannot confirm this PaymentIntent because it's missing a "
                          "payment method. To confirm the PaymentIntent with %s, specify a "
                          "payment method attached to this customer along with the customer "
                          "ID." % (pi["customer"] or "a customer"), param="payment_method",
                          code="payment_intent_unexpected_state")
        apm = pi["automatic_payment_methods"]
        if apm and apm["enabled"] and apm["allow_redirects"] == "always" and \
                not p.get("return_url"):
            raise invalid("This PaymentIntent is configured to accept payment methods enabled "
                          "in your Dashboard. Because some of these payment methods might "
                          "redirect your customer off of your page, you must provide a "
                          "`return_url`. If you don't want to accept redirect-based payment "
                          "methods, set `automatic_payment_methods[enabled]` to `true` and "
                          "`automatic_payment_methods[allow_redirects]` to `never` when "
                          "creating Setup Intents and Payment Intents.", param="return_url")
        if p.get("off_session") and not pi["customer"]:
            raise invalid("off_session payments need a customer whose saved payment method "
                          "is used", param="customer")

    def _confirm(self, ctx, pi, pm, p):
        """Runs a payment attempt; raises the 402 for declines (saved under the key)."""
        ds = ctx.ds
        off = bool(p.get("off_session"))
        pi["payment_method"] = pm["id"]
        if p.get("setup_future_usage"):
            pi["setup_future_usage"] = p["setup_future_usage"]
        if pm["customer"] is None:
            ds.private[pm["id"]]["used_alone"] = True
        if self.needs_auth(ds, pm, off):
            if off:
                raise self.fail_pi(ds, pi, pm, AUTH_REQUIRED, ctx)
            if p.get("return_url"):
                pi["next_action"] = {"type": "redirect_to_url", "redirect_to_url": {
                    "return_url": p["return_url"],
                    "url": "%s/3ds/%s" % (self.pages_url or self.url, pi["id"])}}
            else:
                self.complain("use_stripe_sdk", "an on-session confirm without return_url: "
                              "Stripe answers next_action use_stripe_sdk, which needs "
                              "Stripe.js; Portald's pages confirm with a return_url",
                              ctx.method, ctx.path, ctx.request_id)
                pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {
                    "type": "three_d_secure_redirect", "stripe_js": ""}}
            pi["status"] = "requires_action"
            ds.private.setdefault(pi["id"], {})["return_url"] = p.get("return_url")
            self.event(ds, "payment_intent.requires_action", pi, ctx)
            return
        decline = self.decline_of(ds, pm)
        if decline:
            raise self.fail_pi(ds, pi, pm, decline, ctx)
        self.succeed_pi(ds, pi, pm, ctx)

    def pi_get(self, ctx, pi_id):
        return self.find(ctx.ds, pi_id, "payment_intent", "payment_intent", post=False)

    def pi_list(self, ctx):
        cid = ctx.params.get("customer")
        return self.list_of(ctx, "payment_intent", "/v1/payment_intents",
                            lambda o: cid is None or o["customer"] == cid)

    def pi_update(self, ctx, pi_id):
        pi = self.find(ctx.ds, pi_id, "payment_intent", "payment_intent")
        p = ctx.params
        if pi["status"] in ("succeeded", "canceled", "processing") and "payment_method" in p:
            raise invalid("This PaymentIntent's payment_method could not be updated because "
                          "it has a status of %s." % pi["status"],
                          code="payment_intent_unexpected_state", complaint="unexpected_state")
        if "metadata" in p:
            pi["metadata"] = merge_metadata(pi["metadata"], p["metadata"])
        for f in ("description", "receipt_email"):
            if f in p:
                pi[f] = p[f] or None
        if p.get("payment_method"):
            pm = self.resolve_pm(ctx.ds, p["payment_method"])
            self._check_pm_for(ctx, pm, ctx.ds.objects.get(pi["customer"]))
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        return pi

    def pi_confirm(self, ctx, pi_id):
        ds = ctx.ds
        pi = self.find(ds, pi_id, "payment_intent", "payment_intent")
        p = ctx.params
        allowed = ("requires_payment_method", "requires_confirmation", "requires_action")
        if pi["status"] not in allowed:
            raise ApiError(400, "This PaymentIntent's status is %s, but it was expected to be "
                           "one of %s." % (pi["status"], ", ".join(allowed)),
                           code="payment_intent_unexpected_state", param="",
                           complaint="unexpected_state",
                           extra={"payment_intent": copy.deepcopy(pi)})
        pm = None
        if p.get("payment_method"):
            pm = self.resolve_pm(ds, p["payment_method"])
            self._check_pm_for(ctx, pm, ds.objects.get(pi["customer"]))
        elif pi["payment_method"]:
            pm = ds.objects[pi["payment_method"]]
        self._check_confirmable(ctx, pi, pm, p)
        self._confirm(ctx, pi, pm, p)
        return pi

    def pi_cancel(self, ctx, pi_id):
        pi = self.find(ctx.ds, pi_id, "payment_intent", "payment_intent")
        if pi["status"] in ("succeeded", "canceled"):
            raise invalid("You cannot cancel this PaymentIntent because it has a status of %s."
                          % pi["status"], code="payment_intent_unexpected_state",
                          complaint="unexpected_state")
        pi.update(status="canceled", canceled_at=now(), next_action=None,
                  cancellation_reason=ctx.params.get("cancellation_reason"))
        self.event(ctx.ds, "payment_intent.canceled", pi, ctx)
        return pi

    def authenticate(self, pi_id, action):
        """The customer passes or fails 3D Secure on the bank's page."""
        with self.lock:
            ds = self.index.get(pi_id)
            if ds is None or ds.objects[pi_id].get("object") != "payment_intent":
                raise KeyError("no such payment intent")
            pi = ds.objects[pi_id]
            if pi["status"] != "requires_action":
                raise ValueError("this PaymentIntent is %s, not requires_action" % pi["status"])
            if action not in ("approve", "fail"):
                raise ValueError("action is approve or fail")
            pm = ds.objects[pi["payment_method"]]
            ret = ds.private.get(pi_id, {}).get("return_url")
            if action == "fail":
                err = {"code": "payment_intent_authentication_failure",
                       "doc_url": DOC + "payment-intent-authentication-failure",
                       "message": "The provided PaymentMethod has failed authentication. You "
                                  "can provide payment_method_data or a new PaymentMethod to "
                                  "attempt to fulfill this PaymentIntent again.",
                       "payment_method": copy.deepcopy(pm), "type": "invalid_request_error"}
                pi.update(status="requires_payment_method", last_payment_error=err,
                          next_action=None, payment_method=None)
                self.event(ds, "payment_intent.payment_failed", pi)
            else:
                decline = self.decline_of(ds, pm)
                if decline:
                    self.fail_pi(ds, pi, pm, decline, None)
                else:
                    self.succeed_pi(ds, pi, pm, None)
            status = "succeeded" if pi["status"] == "succeeded" else "failed"
            redirect = None
            if ret:
                sep = "&" if "?" in ret else "?"
                redirect = "%s%spayment_intent=%s&payment_intent_client_secret=%s&" \
                           "redirect_status=%s" % (ret, sep, pi_id, pi["client_secret"], status)
            return {"status": pi["status"], "redirect": redirect,
                    "payment_intent": copy.deepcopy(pi)}

    # -- charges, refunds, disputes --
    REFUND_CREATE = {"payment_intent": Str(), "charge": Str(), "amount": Int(),
                     "reason": Enum("duplicate", "fraudulent", "requested_by_customer"),
                     "metadata": Meta(), **EXPAND}

    def _charge_for(self, ds, p, post=True):
        if bool(p.get("charge")) == bool(p.get("payment_intent")):
            raise invalid("You must pass either a charge or a payment_intent (one of them).",
                          param="charge" if p.get("charge") else "payment_intent")
        if p.get("charge"):
            return self.find(ds, p["charge"], "charge", "charge", "charge", post)
        pi = self.find(ds, p["payment_intent"], "payment_intent", "payment_intent",
                       "payment_intent", post)
        ch = ds.objects.get(pi["latest_charge"]) if pi["latest_charge"] else None
        if ch is None or ch["status"] != "succeeded":
            raise invalid("This PaymentIntent (%s) does not have a successful charge to refund."
                          % pi["id"], param="payment_intent", complaint="unexpected_state")
        return ch

    def refund(self, ds, p, ctx):
        ch = self._charge_for(ds, p)
        if ch["status"] != "succeeded":
            raise invalid("Charge %s has not succeeded; there is nothing to refund." % ch["id"],
                          param="charge", complaint="unexpected_state")
        if ch["disputed"]:
            raise invalid("Charge %s has been charged back; cannot issue a refund." % ch["id"],
                          code="charge_disputed", complaint="unexpected_state")
        left = ch["amount"] - ch["amount_refunded"]
        if left == 0:
            raise invalid("Charge %s has already been refunded." % ch["id"],
                          code="charge_already_refunded", complaint="unexpected_state")
        amount = p.get("amount", left)
        if amount < 1:
            raise invalid("Invalid positive integer", param="amount")
        if amount > left:
            raise invalid("Refund amount (%d) is greater than unrefunded amount on charge (%d)"
                          % (amount, left), param="amount", code="amount_too_large")
        re_ = {"id": new_id("re"), "object": "refund", "amount": amount,
               "balance_transaction": new_id("txn"), "charge": ch["id"], "created": now(),
               "currency": ch["currency"],
               "destination_details": {"card": {"reference": None,
                                                "reference_status": "pending",
                                                "reference_type": "acquirer_reference_number",
                                                "type": "refund"}, "type": "card"},
               "metadata": merge_metadata({}, p.get("metadata", {})),
               "payment_intent": ch["payment_intent"], "reason": p.get("reason"),
               "receipt_number": None, "source_transfer_reversal": None,
               "status": "succeeded", "transfer_reversal": None}
        self.store(ds, re_)
        prev = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] == ch["amount"]
        self.event(ds, "charge.refunded", ch, ctx, prev)
        self.event(ds, "refund.created", re_, ctx)
        return re_

    def refund_create(self, ctx):
        return self.refund(ctx.ds, ctx.params, ctx)

    def dashboard_refund(self, spec):
        with self.lock:
            oid = spec.get("charge") or spec.get("payment_intent")
            ds = self.index.get(oid)
            if ds is None:
                raise KeyError("no such charge or payment intent")
            p = {k: spec[k] for k in ("charge", "payment_intent", "amount", "reason")
                 if spec.get(k) is not None}
            return copy.deepcopy(self.refund(ds, p, None))

    def dispute(self, spec):
        with self.lock:
            oid = spec.get("charge") or spec.get("payment_intent")
            ds = self.index.get(oid)
            if ds is None:
                raise KeyError("no such charge or payment intent")
            ch = self._charge_for(ds, {k: spec[k] for k in ("charge", "payment_intent")
                                       if spec.get(k)})
            dp = {"id": new_id("dp"), "object": "dispute",
                  "amount": ch["amount"] - ch["amount_refunded"], "balance_transactions": [],
                  "charge": ch["id"], "created": now(), "currency": ch["currency"],
                  "evidence": {"customer_name": None, "product_description": None,
                               "uncategorized_text": None},
                  "evidence_details": {"due_by": now() + 7 * 86400, "has_evidence": False,
                                       "past_due": False, "submission_count": 0},
                  "is_charge_refundable": False, "livemode": ds.livemode, "metadata": {},
                  "payment_intent": ch["payment_intent"],
                  "payment_method_details": {"card": {"brand": ch["payment_method_details"][
                      "card"]["brand"], "network_reason_code": "10.4"}, "type": "card"},
                  "reason": spec.get("reason") or "fraudulent", "status": "needs_response"}
            self.store(ds, dp)
            ch["disputed"] = True
            self.event(ds, "charge.dispute.created", dp)
            return copy.deepcopy(dp)

    def refund_get(self, ctx, rid):
        return self.find(ctx.ds, rid, "refund", "refund", post=False)

    def refund_list(self, ctx):
        p = ctx.params
        return self.list_of(ctx, "refund", "/v1/refunds", lambda o: (
            (not p.get("charge") or o["charge"] == p["charge"]) and
            (not p.get("payment_intent") or o["payment_intent"] == p["payment_intent"])))

    def charge_get(self, ctx, cid):
        return self.find(ctx.ds, cid, "charge", "charge", post=False)

    def charge_list(self, ctx):
        p = ctx.params
        return self.list_of(ctx, "charge", "/v1/charges", lambda o: (
            (not p.get("customer") or o["customer"] == p["customer"]) and
            (not p.get("payment_intent") or o["payment_intent"] == p["payment_intent"])))

    def dispute_get(self, ctx, did):
        return self.find(ctx.ds, did, "dispute", "dispute", post=False)

    def event_get(self, ctx, eid):
        return self.find(ctx.ds, eid, "event", "event", post=False)

    def event_list(self, ctx):
        t = ctx.params.get("type")
        return self.list_of(ctx, "event", "/v1/events",
                            lambda o: t is None or o["type"] == t or
                            (t.endswith(".*") and o["type"].startswith(t[:-1])))

    # -- control endpoints and pages --
    def handle_control(self, h, method, path, query, body):
        try:
            spec = json.loads(body) if body else {}
        except ValueError:
            return Answer(400, {"error": "the control body must be JSON"})
        q = dict(urllib.parse.parse_qsl(query))
        seg = path.split("/")[2:]       # after /_standin/
        try:
            out = self._control(method, seg, spec, q)
        except KeyError as e:
            return Answer(404, {"error": str(e).strip("'\"")})
        except (ValueError, TypeError) as e:
            return Answer(400, {"error": str(e)})
        if isinstance(out, Answer):
            return out
        return Answer(200, out)

    def _control(self, method, seg, spec, q):
        name = seg[0] if seg else ""
        if method == "GET" and name == "health":
            return {"ok": True, "api_version": self.api_version, "url": self.url}
        if name == "accounts" and method == "POST":
            return self.add_account(spec.get("test_key"), spec.get("live_key"))
        if name == "webhook_endpoints":
            if method == "POST":
                return self.add_webhook_endpoint(spec["key"], spec["url"], spec.get("secret"),
                                                 spec.get("enabled_events"))
            if method == "DELETE" and len(seg) == 2:
                self.remove_webhook_endpoint(seg[1])
                return {"deleted": True}
        if name == "complaints":
            if method == "GET":
                return {"complaints": self.complaints()}
            if method == "DELETE":
                return {"cleared": self.clear_complaints()}
        if name == "requests":
            if method == "GET":
                return {"requests": self.requests()}
            if method == "DELETE":
                self.clear_requests()
                return {"cleared": True}
        if name == "faults":
            if method == "POST":
                return self.add_fault(spec)
            if method == "GET":
                with self.lock:
                    return {"faults": [f.view() for f in self.faults]}
            if method == "DELETE":
                self.clear_faults()
                return {"cleared": True}
        if name == "checkout" and len(seg) == 3 and method == "POST":
            if seg[2] == "complete":
                return self.complete_checkout(seg[1], spec["payment_method"],
                                              spec.get("three_d_secure", "approve"))
            if seg[2] == "expire":
                return self.expire_checkout(seg[1])
        if name == "payment_intents" and len(seg) == 3 and seg[2] == "authenticate" and \
                method == "POST":
            return self.authenticate(seg[1], spec.get("action", "approve"))
        if name == "payment_methods" and len(seg) == 3 and seg[2] == "decline" and \
                method == "POST":
            return self.set_decline(seg[1], spec.get("decline_code", "generic_decline"))
        if name == "refunds" and method == "POST":
            return self.dashboard_refund(spec)
        if name == "disputes" and method == "POST":
            return self.dispute(spec)
        if name == "events":
            if method == "GET" and len(seg) == 1:
                return {"events": self.events(q.get("key") or spec.get("key"))}
            if method == "POST" and len(seg) == 3 and seg[2] == "resend":
                return {"deliveries": self.resend(seg[1], spec)}
        if name == "webhooks" and method == "POST" and len(seg) == 2:
            if seg[1] == "hold":
                self.hold(spec["key"])
                return {"held": True}
            if seg[1] == "release":
                return {"released": self.release(spec["key"], spec.get("order", "fifo"))}
            if seg[1] == "drain":
                return {"pending": self.drain(float(spec.get("timeout", 10)))}
        if name == "objects" and method == "GET" and len(seg) == 2:
            o = self.obj(seg[1])
            if o is None:
                raise KeyError("no such object")
            return o
        raise KeyError("no such control endpoint: %s /_standin/%s" % (method, "/".join(seg)))

    def handle_page(self, h, method, path, body):
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"))) if body else {}
        m = re.fullmatch(r"/checkout/pay/([A-Za-z0-9_]+)", path)
        if m:
            cs_id = m.group(1)
            cs = self.obj(cs_id)
            if cs is None or cs.get("object") != "checkout.session":
                return page(404, "No such Checkout Session")
            if method == "GET":
                return page(200, checkout_html(cs))
            pmname = form.get("payment_method", "")
            try:
                card = TEST_CARDS[pmname]
            except KeyError:
                return page(400, "Unknown test card")
            if card.auth and "three_d_secure" not in form:
                return page(200, challenge_html("/checkout/pay/" + cs_id, {
                    "payment_method": pmname}))
            try:
                r = self.complete_checkout(cs_id, pmname, form.get("three_d_secure", "approve"))
            except (KeyError, ValueError) as e:
                return page(400, html.escape(str(e)))
            if r["status"] != "complete":
                return page(200, checkout_html(self.obj(cs_id), r["error"]["message"]))
            return Answer(303, None, [("Location", r["redirect"])], raw=b"",
                          content_type="text/html")
        m = re.fullmatch(r"/3ds/([A-Za-z0-9_]+)", path)
        if m:
            pi_id = m.group(1)
            pi = self.obj(pi_id)
            if pi is None or pi.get("object") != "payment_intent":
                return page(404, "No such PaymentIntent")
            if method == "GET":
                if pi["status"] != "requires_action":
                    return page(409, "Nothing to authenticate")
                return page(200, challenge_html("/3ds/" + pi_id, {}, pi))
            try:
                r = self.authenticate(pi_id, form.get("action", ""))
            except (KeyError, ValueError) as e:
                return page(400, html.escape(str(e)))
            if r["redirect"]:
                return Answer(303, None, [("Location", r["redirect"])], raw=b"",
                              content_type="text/html")
            return page(200, "<p>Authentication %s.</p>" % html.escape(r["status"]))
        return page(404, "Not found")


def merge_metadata(old, new):
    """Stripe's metadata update: '' clears it all, key='' removes one key, others set."""
    if new == "":
        return {}
    out = dict(old)
    for k, v in new.items():
        if v == "":
            out.pop(k, None)
        else:
            out[k] = v
    return out


def page(status, body):
    doc = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Stripe stand-in"
           "</title></head><body>%s</body></html>" % body)
    return Answer(status, None, raw=doc.encode(), content_type="text/html; charset=utf-8")


def checkout_html(cs, error=None):
    rows = []
    for name in sorted(TEST_CARDS):
        c = TEST_CARDS[name]
        rows.append('<form method=post><input type=hidden name=payment_method value="%s">'
                    '<button type=submit>%s ending %s (%s)</button></form>'
                    % (html.escape(name), c.brand, c.last4, html.escape(name)))
    err = "<p role=alert>%s</p>" % html.escape(error) if error else ""
    cancel = ('<p><a href="%s">Cancel</a></p>' % html.escape(cs["cancel_url"])
              if cs.get("cancel_url") else "")
    return ("<h1>Set up a card</h1><p>Checkout Session %s (%s)</p>%s%s%s"
            % (html.escape(cs["id"]), html.escape(cs["status"]), err, "".join(rows), cancel))


def challenge_html(action, hidden, pi=None):
    fields = "".join('<input type=hidden name="%s" value="%s">' % (html.escape(k),
                                                                  html.escape(v))
                     for k, v in hidden.items())
    field = "action" if pi is not None else "three_d_secure"
    what = ("a payment of %d %s" % (pi["amount"], pi["currency"].upper())
            if pi is not None else "saving this card")
    return ("<h1>3D Secure</h1><p>Your bank asks you to authenticate %s.</p>"
            '<form method=post action="%s">%s<button name=%s value=approve>Complete '
            'authentication</button> <button name=%s value=fail>Fail authentication</button>'
            "</form>" % (html.escape(what), html.escape(action), fields, field, field))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _dispatch(self, method):
        s = self.server.standin
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding"):
            s.complain("encoding", "a chunked request body", method, self.path)
            self.close_connection = True
            return self._send(Answer(400, {"error": {"message": "Invalid request: chunked "
                                                                 "bodies are not accepted",
                                                     "type": "invalid_request_error"}}))
        if n > 1 << 20:
            self.close_connection = True
            return self._send(Answer(413, {"error": {"message": "Request too large",
                                                     "type": "invalid_request_error"}}))
        body = self.rfile.read(n) if n else b""
        path, _, query = self.path.partition("?")
        if path.startswith("/v1/"):
            ans = s.handle_api(self, method, path, query, body)
        elif path.startswith("/_standin/"):
            ans = s.handle_control(self, method, path, query, body)
        else:
            ans = s.handle_page(self, method, path, body)
        if isinstance(ans, tuple):
            if ans[0] == "hang":
                s.stopping.wait(ans[1])
            self._reset()
            return
        self._send(ans)

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()     # in this connection's thread, not the acceptor's
        super().setup()

    def _reset(self):
        """Closes with a TCP reset: the client sees its connection die, no answer. The
        descriptor really closes (and the RST goes out) when finish() closes the files."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send(self, ans):
        payload = ans.payload()
        self.send_response(ans.status)
        for k, v in ans.headers:
            self.send_header(k, v)
        self.send_header("Content-Type", ans.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")


def make_test_cert(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key), the cert
    doubling as the CA file clients must trust."""
    cert = os.path.join(directory, "standin-cert.pem")
    key = os.path.join(directory, "standin-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def main():
    ap = argparse.ArgumentParser(description="Stripe stand-in for Portald's tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-dir", help="serve HTTPS with a fresh certificate made here")
    ap.add_argument("--api-version", default=API_VERSION)
    args = ap.parse_args()
    tls = make_test_cert(args.tls_dir) if args.tls_dir else None
    s = StandIn(port=args.port, tls=tls, api_version=args.api_version).start()
    print(json.dumps({"url": s.url, "ca_file": tls[0] if tls else None, "pid": os.getpid()}),
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    s.stop()


if __name__ == "__main__":
    main()
