#!/usr/bin/env python3
"""Tests for sandbox.py and the Clarity, NetSuite and Salesforce simulators.

Starts sandbox.py as a subprocess on free loopback ports (--base-port 0) with the Clarity webhook
sender pointed at a receiver run by this test, and talks to it over HTTP only (the simulators are
not imported). Webhook signatures and NetSuite JWT assertions are produced/checked here,
independently of the simulators' code. Standard library + `cryptography` (for the RSA JWT):

    infra/.venv/bin/python infra/local/simulators/test_sandbox.py -v
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
SANDBOX = HERE / "sandbox.py"
SECRETS_FILE = HERE.parent / "secrets.local.json"
SECRETS = json.loads(SECRETS_FILE.read_text())
CLARITY = SECRETS["ClaritySecret"]
ERP = SECRETS["ErpSecret"]
CRM = SECRETS["CrmSecret"]

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402


# ------------------------------------------------------------------------------------------
# independent helpers
# ------------------------------------------------------------------------------------------

def clarity_signature(secret: str, timestamp: str, raw: bytes) -> str:
    """shared/connectors/CLARITY_ASSUMED.md (webhook signatures): hex(HMAC-SHA256(secret, ASCII(timestamp) || "." || raw body))."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


def verify_clarity_webhook(headers: dict, raw: bytes, secret: str, now: float) -> str | None:
    """The receiver's checks of CLARITY_ASSUMED.md §4.9 steps 2-4; None when valid, else the reason."""
    ts = headers.get("x-clarity-timestamp")
    if not ts or not ts.isdigit() or abs(int(ts) - now) > 300:
        return "timestamp"
    want = clarity_signature(secret, ts, raw)
    entries = [e.strip() for e in (headers.get("x-clarity-signature") or "").split(",")]
    if not any(e.startswith("v1=") and hmac.compare_digest(e[3:], want) for e in entries):
        return "signature"
    body = json.loads(raw)
    if headers.get("x-clarity-event-id") != body.get("id"):
        return "event id"
    return None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


ERP_KEY = serialization.load_pem_private_key(ERP["private_key_pem"].encode(), password=None)


def jwt_assertion(aud: str, *, key=None, alg="PS256", kid=None, iss=None, iat=None, exp=None,
                  scope=("rest_webservices",)) -> str:
    now = int(time.time())
    header = {"typ": "JWT", "alg": alg, "kid": ERP["certificate_id"] if kid is None else kid}
    claims = {"iss": ERP["client_id"] if iss is None else iss, "scope": list(scope), "aud": aud,
              "iat": now if iat is None else iat, "exp": (now + 300) if exp is None else exp}
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    key = key or ERP_KEY
    if alg == "HS256":
        sig = hmac.new(b"secret", signing_input, hashlib.sha256).digest()
    else:
        h = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()
        pad = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        sig = key.sign(signing_input, pad, h)
    return signing_input.decode() + "." + b64url(sig)


class Resp:
    def __init__(self, status, headers, body: bytes):
        self.status, self.headers, self.raw = status, headers, body

    def header(self, name: str):
        return self.headers.get(name.lower())

    @property
    def json(self):
        return json.loads(self.raw) if self.raw else None


def call(base: str, method: str, path: str, body=None, headers: dict | None = None, form: dict | None = None,
         timeout: float = 10) -> Resp:
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------
# webhook receiver
# ------------------------------------------------------------------------------------------

class Receiver:
    """Records every delivery; answers 500 to the first attempt of events whose order id is in
    `fail_first`, 202 otherwise."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.fail_first: set[str] = set()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                try:
                    oid = ((json.loads(raw).get("payload") or {}).get("order") or {}).get("id")
                except ValueError:
                    oid = None
                with rec.lock:
                    seen = sum(1 for r in rec.requests if r["headers"].get("x-clarity-event-id")
                               == hdrs.get("x-clarity-event-id"))
                    rec.requests.append({"headers": hdrs, "raw": raw, "at": time.time()})
                status = 500 if oid in rec.fail_first and seen == 0 else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/clarity"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def for_event(self, event_id: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["headers"].get("x-clarity-event-id") == event_id]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------

class SandboxTest(unittest.TestCase):
    proc: subprocess.Popen
    urls: dict[str, str]

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.proc = subprocess.Popen(
            [sys.executable, str(SANDBOX), "--base-port", "0", "--secrets-file", str(SECRETS_FILE), "--quiet",
             "--clarity-webhook-url", cls.receiver.url, "--clarity-webhook-retry-schedule", "0,0.3,0.6"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cls.urls = {}
        deadline = time.time() + 20
        lines = []
        while time.time() < deadline:
            line = cls.proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.strip() == "sandbox ready":
                break
            name, _, rest = line.partition("-sim listening on ")
            if rest:
                cls.urls[name] = rest.strip()
        if lines[-1:] != ["sandbox ready"]:
            cls.proc.kill()
            raise RuntimeError(f"sandbox did not start: {lines} {cls.proc.stderr.read()}")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            rc = cls.proc.wait(timeout=10)
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
            cls.proc.stdout.close()
            cls.proc.stderr.close()
            cls.receiver.stop()
        assert rc == 0, f"sandbox exited with {rc} on SIGTERM"

    # ---------------------------------------------------------------- clarity helpers
    def clarity_token(self, scope: str | None = None) -> str:
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        basic = base64.b64encode(f"{CLARITY['client_id']}:{CLARITY['client_secret']}".encode()).decode()
        r = call(self.urls["clarity"], "POST", "/oauth/token", form=form, headers={"Authorization": f"Basic {basic}"})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json["token_type"], "Bearer")
        return r.json["access_token"]

    def clarity(self, method, path, token=None, body=None, headers=None) -> Resp:
        h = {"Authorization": f"Bearer {token or self.clarity_token()}", **(headers or {})}
        return call(self.urls["clarity"], method, path, body=body, headers=h)

    def admin(self, sim: str, method: str, path: str, body=None) -> Resp:
        r = call(self.urls[sim], method, "/__admin/" + path, body=body if body is not None or method == "GET" else {})
        self.assertLess(r.status, 300, r.raw)
        return r

    def new_order(self, **spec) -> dict:
        spec.setdefault("emit", False)
        return self.admin("clarity", "POST", "orders", spec).json["order"]

    def assert_problem(self, r: Resp, status: int, code: str):
        self.assertEqual(r.status, status, r.raw)
        self.assertTrue(r.header("content-type").startswith("application/problem+json"), r.headers)
        self.assertEqual(r.json["code"], code)
        self.assertEqual(r.json["status"], status)
        self.assertEqual(r.json["type"], f"https://errors.clarity.example/{code}")
        self.assertEqual(r.json["requestId"], r.header("x-request-id"))

    # ---------------------------------------------------------------- sandbox
    def test_every_simulator_answers_admin_health(self):
        self.assertEqual(set(self.urls), {"cybersource", "clarity", "netsuite", "salesforce"})
        for name, url in self.urls.items():
            r = call(url, "GET", "/__admin/health")
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.json["status"], "ok")

    def test_cybersource_in_sandbox_is_configured_like_standalone(self):
        """sandbox.py builds the Cybersource server itself (cybersource.py builds it inside main()):
        its config must equal what cybersource.py's own main() produces."""
        proc = subprocess.Popen([sys.executable, str(HERE / "cybersource.py"), "--port", "0", "--quiet",
                                 "--secrets-file", str(SECRETS_FILE)], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("cybersource-sim listening on "), line)
            standalone = call(line.rsplit(" ", 1)[1].strip(), "GET", "/__admin/config").json["config"]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
            proc.stdout.close()
        in_sandbox = call(self.urls["cybersource"], "GET", "/__admin/config").json["config"]
        self.assertEqual(in_sandbox, standalone)

    # ---------------------------------------------------------------- clarity
    def test_clarity_signature_matches_reference_vector(self):
        body = (b'{"id":"evt_0001","type":"order.created","occurredAt":"2024-06-01T12:00:00Z",'
                b'"payload":{"order":{"id":"ORD-1001","status":"pending_payment"}}}')
        self.assertEqual(len(body), 141)
        secret = "whsec_test_clarity_0123456789abcdef"
        self.assertEqual(clarity_signature(secret, "1717243200", body),
                         "5472097cb2bd49fd471b405784b7162bc089db8e0c508111ed3c9846eab6d3ab")
        self.assertEqual(clarity_signature(secret, "1717243200", body.replace(b"ORD-1001", b"ORD-1002")),
                         "995470aa83d7e030222e3d38895a330afbeeb715ef1ae4b07ead112a8873e5d5")

    def test_clarity_token_lifecycle(self):
        base = self.urls["clarity"]
        bad = base64.b64encode(f"{CLARITY['client_id']}:wrong".encode()).decode()
        r = call(base, "POST", "/oauth/token", form={"grant_type": "client_credentials"},
                 headers={"Authorization": f"Basic {bad}"})
        self.assertEqual((r.status, r.json["error"]), (401, "invalid_client"))
        self.assertTrue(r.header("www-authenticate").startswith("Basic"))
        r = call(base, "POST", "/oauth/token", form={"grant_type": "password", "client_id": CLARITY["client_id"],
                                                     "client_secret": CLARITY["client_secret"]})
        self.assertEqual((r.status, r.json["error"]), (400, "unsupported_grant_type"))
        r = call(base, "POST", "/oauth/token", form={"grant_type": "client_credentials", "scope": "orders:admin",
                                                     "client_id": CLARITY["client_id"],
                                                     "client_secret": CLARITY["client_secret"]})
        self.assertEqual((r.status, r.json["error"]), (400, "invalid_scope"))

        order = self.new_order()
        path = f"/api/v1/orders/{order['id']}"
        self.assert_problem(call(base, "GET", path), 401, "unauthorized")
        r = self.clarity("GET", path, token="not-a-token")
        self.assert_problem(r, 401, "unauthorized")
        self.assertIn('error="invalid_token"', r.header("www-authenticate"))

        self.admin("clarity", "POST", "config", {"token_ttl_s": 1})
        try:
            r = call(base, "POST", "/oauth/token", form={"grant_type": "client_credentials",
                                                         "client_id": CLARITY["client_id"],
                                                         "client_secret": CLARITY["client_secret"]})
            self.assertEqual(r.json["expires_in"], 1)
            token = r.json["access_token"]
            self.assertEqual(self.clarity("GET", path, token=token).status, 200)
            time.sleep(1.3)
            r = self.clarity("GET", path, token=token)
            self.assert_problem(r, 401, "unauthorized")
            self.assertTrue(r.header("www-authenticate").startswith("Bearer"))
            self.assertIn('error="invalid_token"', r.header("www-authenticate"))
        finally:
            self.admin("clarity", "POST", "config", {"token_ttl_s": 3600})
        # a fresh token works again; a token without the scope gets 403
        self.assertEqual(self.clarity("GET", path).status, 200)
        r = self.clarity("PATCH", path, token=self.clarity_token("orders:read"), body={"status": "on_hold"})
        self.assert_problem(r, 403, "insufficient_scope")
        # expiry by admin call
        token = self.clarity_token()
        self.admin("clarity", "POST", "tokens/expire", {"token": token})
        self.assert_problem(self.clarity("GET", path, token=token), 401, "unauthorized")

    def test_clarity_if_match_conflict(self):
        order = self.new_order()
        path = f"/api/v1/orders/{order['id']}"
        token = self.clarity_token()
        r = self.clarity("GET", path, token)
        self.assertEqual(r.header("etag"), '"1"')
        r = self.clarity("PATCH", path, token, {"status": "payment_received"}, {"If-Match": '"7"'})
        self.assert_problem(r, 412, "precondition_failed")
        self.assertEqual(self.clarity("GET", path, token).json["status"], "pending_payment")
        r = self.clarity("PATCH", path, token, {"status": "payment_received", "payment": {
            "status": "captured", "amount": "27.00", "currency": "USD", "transactionId": "7012345678901234567890"}},
            {"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual((r.header("etag"), r.json["version"], r.json["payment"]["status"]), ('"2"', 2, "captured"))
        self.assertEqual(r.json["payment"]["processor"], "cybersource")
        r = self.clarity("PATCH", path, token, {"status": "processing"}, {"If-Match": '"1"'})
        self.assert_problem(r, 412, "precondition_failed")
        self.assertEqual(self.clarity("PATCH", path, token, {"status": "processing"}, {"If-Match": 'W/"2"'}).status, 412)
        self.admin("clarity", "POST", "config", {"require_if_match": ["patch_order"]})
        try:
            self.assert_problem(self.clarity("PATCH", path, token, {"status": "processing"}), 428,
                                "precondition_required")
        finally:
            self.admin("clarity", "POST", "config", {"require_if_match": []})
        self.assertEqual(self.clarity("PATCH", path, token, {"status": "processing"}, {"If-Match": '"2"'}).status, 200)
        # customers: 201 then 200, ETag, If-Match on a missing one is 412
        cpath = "/api/v1/customers/CUST-IFM"
        cust = {"email": "a@example.test", "firstName": "Ann", "lastName": "Lee"}
        r = self.clarity("PUT", cpath, token, cust)
        self.assertEqual((r.status, r.header("etag")), (201, '"1"'), r.raw)
        r = self.clarity("PUT", cpath, token, {**cust, "phone": "+1 555 0100"}, {"If-Match": '"1"'})
        self.assertEqual((r.status, r.header("etag")), (200, '"2"'), r.raw)
        self.assertEqual(self.clarity("PUT", cpath, token, {**cust, "phone": "+1 555 0100"}).json["version"], 2)
        self.assert_problem(self.clarity("PUT", "/api/v1/customers/NOPE", token, cust, {"If-Match": '"1"'}), 412,
                            "precondition_failed")

    def test_card_number_rule_is_the_shared_table(self):
        """Clarity refuses (422, the field named) exactly the texts the shared card-number rule calls
        a card number: every plain-text case of infra/local/cardscan_cases.json, the table
        shared/domain/src/card.rs and infra/local/cardscan.py pass. NetSuite and Salesforce use the
        same finder (simkit.find_pan)."""
        cases = [c for c in json.loads((HERE.parent / "cardscan_cases.json").read_text())["cases"]
                 if not c.get("json")]
        self.assertGreater(len(cases), 100)
        order = self.new_order()
        path = f"/api/v1/orders/{order['id']}"
        token = self.clarity_token()
        for n, case in enumerate(cases):
            label = f"case {n} {case.get('note', '')}: {case['text']!r}"
            r = self.clarity("PATCH", path, token, {"metadata": {"note": case["text"]}})
            if case["hit"]:
                self.assertEqual(r.status, 422, f"{label}: {r.raw}")
                self.assertEqual([e["field"] for e in r.json["errors"]], ["metadata.note"], label)
            else:
                self.assertEqual(r.status, 200, f"{label}: {r.raw}")

    def test_clarity_status_transitions_and_noop_patch(self):
        order = self.new_order()
        path = f"/api/v1/orders/{order['id']}"
        token = self.clarity_token()
        self.assert_problem(self.clarity("PATCH", path, token, {"status": "shipped"}), 409, "invalid_status_transition")
        r = self.clarity("PATCH", path, token, {"status": "on_hold", "statusReason": "DM REVIEW"})
        self.assertEqual((r.status, r.json["version"], r.json["status"]), (200, 2, "on_hold"), r.raw)
        r = self.clarity("PATCH", path, token, {"status": "on_hold"})  # same status: a no-op
        self.assertEqual((r.status, r.json["version"], r.header("etag")), (200, 2, '"2"'), r.raw)
        self.assertEqual(r.json["statusReason"], "DM REVIEW")
        self.assertEqual(self.clarity("PATCH", path, token, {"status": "cancelled"}).json["version"], 3)
        self.assert_problem(self.clarity("PATCH", path, token, {"status": "pending_payment"}), 409,
                            "invalid_status_transition")
        self.assertEqual(self.clarity("PATCH", path, token, {"status": "cancelled"}).status, 200)
        r = self.clarity("PATCH", path, token, {"orderNumber": "X"})
        self.assert_problem(r, 422, "validation_failed")
        self.assertIn("orderNumber", [e["field"] for e in r.json["errors"]])
        self.assert_problem(self.clarity("PATCH", path, token, {"status": "lost"}), 422, "validation_failed")
        self.assert_problem(self.clarity("PATCH", path, token, b"{not json"), 400, "validation_failed")
        r = self.clarity("PATCH", path, token, {"metadata": {"note": "card 4111111111111111"}})
        self.assert_problem(r, 422, "validation_failed")
        hist = self.admin("clarity", "GET", f"orders/{order['id']}").json["statusHistory"]
        self.assertEqual([(h["from"], h["to"]) for h in hist],
                         [(None, "pending_payment"), ("pending_payment", "on_hold"), ("on_hold", "cancelled")])
        self.assertEqual(self.clarity("GET", "/api/v1/orders/ORD-NOPE", token).status, 404)

    def test_clarity_idempotent_shipment(self):
        order = self.new_order(lineItems=[{"sku": "MUG", "quantity": 2, "unitPrice": "10.00"}])
        line = order["lineItems"][0]["id"]
        path = f"/api/v1/orders/{order['id']}/shipments"
        token = self.clarity_token()
        ship = {"carrier": "UPS", "trackingNumber": "1Z999", "shippedAt": "2024-06-02T10:00:00Z",
                "lines": [{"lineItemId": line, "quantity": 1}]}
        key = {"Idempotency-Key": f"ship:{order['id']}:1Z999"}
        r1 = self.clarity("POST", path, token, ship, key)
        self.assertEqual(r1.status, 201, r1.raw)
        self.assertEqual(r1.header("location"), f"{path}/{r1.json['id']}")
        r2 = self.clarity("POST", path, token, ship, key)
        self.assertEqual((r2.status, r2.header("idempotent-replayed")), (201, "true"))
        self.assertEqual(r2.json, r1.json)
        shipments = [s for s in self.admin("clarity", "GET", "shipments").json["shipments"]
                     if s["orderId"] == order["id"]]
        self.assertEqual(len(shipments), 1)
        self.assert_problem(self.clarity("POST", path, token, {**ship, "carrier": "FedEx"}, key), 422,
                            "idempotency_key_reuse")
        self.assert_problem(self.clarity("POST", path, token, ship), 400, "validation_failed")
        over = {**ship, "lines": [{"lineItemId": line, "quantity": 2}]}
        r = self.clarity("POST", path, token, over, {"Idempotency-Key": "over"})
        self.assert_problem(r, 422, "validation_failed")
        self.assertEqual(self.clarity("POST", path, token, over, {"Idempotency-Key": "over"}).status, 422)  # not stored
        self.assertEqual(self.clarity("GET", f"{path}/{r1.json['id']}", token).json, r1.json)
        # a second request while the first is still running: 409 idempotency_in_progress
        self.admin("clarity", "POST", "faults", {"route": "create_shipment", "latency_ms": 700})
        try:
            results = {}
            k2 = {"Idempotency-Key": "slow"}

            def first():
                results["a"] = self.clarity("POST", path, token, ship, k2)
            t = threading.Thread(target=first)
            t.start()
            time.sleep(0.25)
            results["b"] = self.clarity("POST", path, token, ship, k2)
            t.join()
        finally:
            call(self.urls["clarity"], "DELETE", "/__admin/faults")
        self.assertEqual(results["a"].status, 201, results["a"].raw)
        self.assert_problem(results["b"], 409, "idempotency_in_progress")

    def test_clarity_webhook_signed_and_retried_after_500(self):
        oid = "ORD-WH-1"
        self.receiver.fail_first.add(oid)
        r = self.admin("clarity", "POST", "orders", {"id": oid, "customer": {"id": "CUST-WH", "email": "w@example.test"},
                                                    "payment": {"instrumentToken": "7010000000016241112"}})
        event_id = r.json["webhook"]["eventId"]
        deadline = time.time() + 8
        while time.time() < deadline:
            d = self.admin("clarity", "GET", f"webhooks?eventId={event_id}").json["deliveries"]
            if d and d[0]["state"] != "pending":
                break
            time.sleep(0.1)
        self.assertEqual(d[0]["state"], "delivered", d)
        self.assertEqual([a["status"] for a in d[0]["attempts"]], [500, 202])
        got = self.receiver.for_event(event_id)
        self.assertEqual(len(got), 2)
        self.assertEqual(got[0]["raw"], got[1]["raw"])  # same body and id, fresh signature
        self.assertGreaterEqual(got[1]["at"] - got[0]["at"], 0.25)
        for i, req in enumerate(got, 1):
            h = req["headers"]
            self.assertIsNone(verify_clarity_webhook(h, req["raw"], CLARITY["webhook_secret"], time.time()))
            self.assertIsNotNone(verify_clarity_webhook(h, req["raw"].replace(b"ORD-WH-1", b"ORD-WH-2"),
                                                        CLARITY["webhook_secret"], time.time()))
            self.assertEqual(h["x-clarity-delivery-attempt"], str(i))
            self.assertEqual(h["x-clarity-event-type"], "order.created")
            self.assertTrue(h["content-type"].startswith("application/json"))
            self.assertRegex(h["x-clarity-signature"], r"^v1=[0-9a-f]{64}$")
        env = json.loads(got[0]["raw"])
        self.assertEqual(set(env), {"id", "type", "occurredAt", "payload"})
        self.assertEqual((env["id"], env["type"]), (event_id, "order.created"))
        o = env["payload"]["order"]
        for f in ("id", "orderNumber", "status", "currency", "customer", "billingAddress", "lineItems", "totals",
                  "createdAt", "updatedAt", "version"):
            self.assertIn(f, o)
        self.assertEqual((o["id"], o["status"], o["version"], o["currency"]), (oid, "pending_payment", 1, "USD"))
        self.assertEqual(o["payment"]["instrumentToken"], "7010000000016241112")
        t = o["totals"]
        cents = {k: int(v.replace(".", "")) for k, v in t.items()}
        self.assertEqual(cents["grandTotal"], cents["subtotal"] - cents["discountTotal"] + cents["shippingTotal"]
                         + cents["taxTotal"])

    def test_clarity_cancel_and_return_events(self):
        order = self.new_order(lineItems=[{"sku": "A", "quantity": 2, "unitPrice": "5.00", "taxTotal": "1.00"}])
        path = f"/api/v1/orders/{order['id']}"
        token = self.clarity_token()
        self.assertEqual(self.clarity("PATCH", path, token, {"status": "payment_received"}).status, 200)
        r = self.admin("clarity", "POST", f"orders/{order['id']}/returns",
                       {"lines": [{"lineItemId": order["lineItems"][0]["id"], "quantity": 1}], "reason": "damaged",
                        "sync": True})
        ret = r.json["return"]
        self.assertEqual((ret["refundAmount"], ret["currency"], ret["status"]), ("5.50", "USD", "requested"))
        d = r.json["webhook"]["deliveries"][0]
        self.assertEqual((d["type"], d["state"]), ("return.requested", "delivered"))
        body = json.loads(d["body"])
        self.assertEqual(set(body["payload"]), {"return", "order"})
        r = self.admin("clarity", "POST", f"orders/{order['id']}/returns/{ret['id']}/receive", {"sync": True})
        received = r.json["return"]
        self.assertEqual((received["id"], received["status"]), (ret["id"], "received"))
        self.assertTrue(received["receivedAt"])
        d = r.json["webhook"]["deliveries"][0]
        self.assertEqual((d["type"], d["state"]), ("return.received", "delivered"))
        self.assertEqual(json.loads(d["body"])["payload"]["return"]["receivedAt"], received["receivedAt"])
        again = self.admin("clarity", "POST", f"orders/{order['id']}/returns/{ret['id']}/receive", {"sync": True})
        self.assertEqual(again.json["return"]["receivedAt"], received["receivedAt"])
        missing = call(self.urls["clarity"], "POST", f"/__admin/orders/{order['id']}/returns/RET-nope/receive", body={})
        self.assertEqual(missing.status, 404)
        r = self.admin("clarity", "POST", f"orders/{order['id']}/cancel", {"reason": "customer_request", "sync": True})
        d = r.json["webhook"]["deliveries"][0]
        self.assertEqual((d["type"], d["state"]), ("order.cancelled", "delivered"))
        payload = json.loads(d["body"])["payload"]
        self.assertEqual((payload["order"]["status"], payload["reason"], payload["cancelledBy"]),
                         ("cancelled", "customer_request", "customer"))
        got = self.receiver.for_event(d["eventId"])
        self.assertIsNone(verify_clarity_webhook(got[0]["headers"], got[0]["raw"], CLARITY["webhook_secret"],
                                                 time.time()))
        # tampered delivery fails an honest verifier
        r = self.admin("clarity", "POST", "events", {"type": "order.updated", "payload": {}, "tamper": "bad_signature",
                                                     "sync": True})
        got = self.receiver.for_event(r.json["webhook"]["eventId"])
        self.assertEqual(verify_clarity_webhook(got[0]["headers"], got[0]["raw"], CLARITY["webhook_secret"],
                                                time.time()), "signature")

    def test_clarity_rate_limit_fault(self):
        order = self.new_order()
        path = f"/api/v1/orders/{order['id']}"
        token = self.clarity_token()
        self.admin("clarity", "POST", "faults", {"route": "get_order", "status": 429, "error_rate": 1, "times": 1,
                                                 "retry_after_s": 2})
        try:
            r = self.clarity("GET", path, token)
            self.assert_problem(r, 429, "rate_limited")
            self.assertEqual(r.header("retry-after"), "2")
            self.assertEqual(self.clarity("GET", path, token).status, 200)
            faults = self.admin("clarity", "GET", "faults").json
            self.assertEqual(faults["faults"][0]["fired"], 1)
        finally:
            call(self.urls["clarity"], "DELETE", "/__admin/faults")
        self.admin("clarity", "POST", "faults", {"route": "patch_order", "status": 503, "error_rate": 1, "times": 1})
        try:
            r = self.clarity("PATCH", path, token, {"status": "on_hold"})
            self.assert_problem(r, 503, "unavailable")
            self.assertEqual(r.header("retry-after"), "1")
            self.assertEqual(self.clarity("GET", path, token).json["version"], 1)  # nothing changed
        finally:
            call(self.urls["clarity"], "DELETE", "/__admin/faults")

    # ---------------------------------------------------------------- netsuite
    def ns_token_url(self) -> str:
        return self.urls["netsuite"] + "/services/rest/auth/oauth2/v1/token"

    def ns_token_request(self, assertion: str) -> Resp:
        return call(self.urls["netsuite"], "POST", "/services/rest/auth/oauth2/v1/token", form={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion})

    def ns_token(self) -> str:
        r = self.ns_token_request(jwt_assertion(self.ns_token_url()))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json["token_type"].lower(), "bearer")
        self.assertEqual(int(r.json["expires_in"]), 3600)
        return r.json["access_token"]

    def test_netsuite_upsert_by_external_id_is_idempotent(self):
        token = self.ns_token()
        h = {"Authorization": f"Bearer {token}"}
        base = self.urls["netsuite"]
        p = "/services/rest/record/v1/customer/eid:clr-cust-T1"
        r1 = call(base, "PUT", p, {"companyName": "Acme", "email": "ap@acme.test"}, h)
        self.assertEqual(r1.status, 204, r1.raw)
        r2 = call(base, "PUT", p, {"companyName": "Acme Inc", "email": "ap@acme.test"}, h)
        self.assertEqual(r2.status, 204, r2.raw)
        self.assertEqual(r1.header("location"), r2.header("location"))
        iid = r1.header("location").rsplit("/", 1)[1]
        rec = self.admin("netsuite", "GET", "records/customer/eid:clr-cust-T1").json
        self.assertEqual((rec["id"], rec["creates"], rec["updates"]), (iid, 1, 1))
        listed = [x for x in self.admin("netsuite", "GET", "records/customer").json["records"]
                  if x["externalId"] == "clr-cust-T1"]
        self.assertEqual(len(listed), 1)
        r = call(base, "GET", p, headers=h)
        self.assertEqual((r.status, r.json["id"], r.json["externalId"], r.json["companyName"]),
                         (200, iid, "clr-cust-T1", "Acme Inc"))
        # a sales order and a deposit referencing it by external id, twice each
        so = {"entity": {"externalId": "clr-cust-T1"},
              "item": {"items": [{"item": {"id": "42"}, "quantity": 2, "rate": 10.0}]}}
        for _ in range(2):
            self.assertEqual(call(base, "PUT", "/services/rest/record/v1/salesOrder/eid:clr-so-T1", so, h).status, 204)
            r = call(base, "PUT", "/services/rest/record/v1/customerDeposit/eid:cybs-T1",
                     {"customer": {"id": iid}, "salesOrder": {"externalId": "clr-so-T1"}, "payment": 20.0}, h)
            self.assertEqual(r.status, 204, r.raw)
        counts = self.admin("netsuite", "GET", "records").json["counts"]
        self.assertGreaterEqual(counts["salesOrder"]["updates"], 1)
        r = call(base, "GET", "/services/rest/record/v1/salesOrder/eid:clr-so-T1", headers=h)
        self.assertEqual(r.json["entity"]["id"], iid)
        r = call(base, "PUT", "/services/rest/record/v1/salesOrder/eid:clr-so-T2",
                 {**so, "entity": {"externalId": "nobody"}}, h)
        self.assertEqual(r.status, 400)
        self.assertIn("o:errorDetails", r.json)
        self.assertEqual(call(base, "GET", "/services/rest/record/v1/customer/eid:nobody", headers=h).status, 404)
        self.assertEqual(call(base, "PUT", "/services/rest/record/v1/customer/eid:bad|id", {"companyName": "x"},
                              h).status, 400)
        # seeded fulfilment is readable and filterable by the sales order
        so_id = call(base, "GET", "/services/rest/record/v1/salesOrder/eid:clr-so-T1", headers=h).json["id"]
        self.admin("netsuite", "POST", "fulfillments", {"salesOrder": "eid:clr-so-T1", "trackingNumbers": ["1ZT1"]})
        r = call(base, "GET", "/services/rest/record/v1/itemFulfillment?q="
                 + urllib.parse.quote(f"createdFrom ANY_OF [{so_id}]"), headers=h)
        self.assertEqual(r.json["count"], 1, r.raw)
        f = call(base, "GET", f"/services/rest/record/v1/itemFulfillment/{r.json['items'][0]['id']}", headers=h).json
        self.assertEqual((f["createdFrom"]["id"], f["package"]["items"][0]["packageTrackingNumber"]), (so_id, "1ZT1"))

    def test_netsuite_refuses_bad_assertions(self):
        aud = self.ns_token_url()
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = int(time.time())
        cases = {
            "foreign key": jwt_assertion(aud, key=other),
            "wrong kid": jwt_assertion(aud, kid="not-the-certificate"),
            "expired": jwt_assertion(aud, iat=now - 600, exp=now - 60),
            "wrong aud": jwt_assertion("https://example.test/token"),
            "wrong iss": jwt_assertion(aud, iss="someone-else"),
            "no rest_webservices scope": jwt_assertion(aud, scope=("restlets",)),
            "lifetime over 60 min": jwt_assertion(aud, iat=now, exp=now + 7200),
            "HS256": jwt_assertion(aud, alg="HS256"),
            "tampered payload": (lambda j: j.split(".")[0] + "." + b64url(json.dumps(
                {"iss": ERP["client_id"], "scope": ["rest_webservices"], "aud": aud, "iat": now,
                 "exp": now + 3000}).encode()) + "." + j.split(".")[2])(jwt_assertion(aud)),
            "garbage": "not.a.jwt",
        }
        for name, assertion in cases.items():
            with self.subTest(name):
                r = self.ns_token_request(assertion)
                self.assertIn(r.status, (400, 401), r.raw)
                self.assertIn(r.json["error"], ("invalid_client", "invalid_request"))
                self.assertNotIn("access_token", r.json)
        self.assertEqual(self.ns_token_request(jwt_assertion(aud, alg="RS256")).status, 200)
        self.assertEqual(self.ns_token_request(jwt_assertion(aud, alg="PS512")).status, 200)
        r = call(self.urls["netsuite"], "GET", "/services/rest/record/v1/customer/eid:x",
                 headers={"Authorization": "Bearer nope"})
        self.assertEqual((r.status, r.json["o:errorDetails"][0]["o:errorCode"]), (401, "INVALID_LOGIN"))

    def test_netsuite_stdlib_rsa_fallback_verifies_the_same(self):
        """netsuite.py without `cryptography` (--stdlib-rsa): same accept/refuse decisions."""
        proc = subprocess.Popen([sys.executable, str(HERE / "netsuite.py"), "--port", "0", "--stdlib-rsa", "--quiet",
                                 "--secrets-file", str(SECRETS_FILE)], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("netsuite-sim listening on "), line)
            base = line.rsplit(" ", 1)[1].strip()
            self.assertEqual(call(base, "GET", "/__admin/health").json["jwt_backend"], "stdlib")
            aud = base + "/services/rest/auth/oauth2/v1/token"
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for alg in ("PS256", "PS384", "RS256", "RS512"):
                for key, want in ((None, 200), (other, 401)):
                    with self.subTest(alg=alg, foreign=key is not None):
                        r = call(base, "POST", "/services/rest/auth/oauth2/v1/token", form={
                            "grant_type": "client_credentials",
                            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                            "client_assertion": jwt_assertion(aud, alg=alg, key=key)})
                        self.assertEqual(r.status, want, r.raw)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            proc.stdout.close()

    # ---------------------------------------------------------------- salesforce
    def test_salesforce_case_upsert_is_idempotent(self):
        base = self.urls["salesforce"]
        r = call(base, "POST", "/services/oauth2/token", form={"grant_type": "client_credentials",
                                                               "client_id": CRM["client_id"],
                                                               "client_secret": "wrong"})
        self.assertEqual((r.status, r.json["error"]), (400, "invalid_client"))
        r = call(base, "POST", "/services/oauth2/token", form={"grant_type": "client_credentials",
                                                               "client_id": CRM["client_id"],
                                                               "client_secret": CRM["client_secret"]})
        self.assertEqual(r.status, 200, r.raw)
        tok = r.json
        self.assertEqual((tok["token_type"], tok["instance_url"]), ("Bearer", base))
        self.assertNotIn("expires_in", tok)
        want_sig = base64.b64encode(hmac.new(CRM["client_secret"].encode(), (tok["id"] + tok["issued_at"]).encode(),
                                             hashlib.sha256).digest()).decode()
        self.assertEqual(tok["signature"], want_sig)
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        p = "/services/data/v62.0/sobjects/Case/Fraud_Case_Key__c/cybs-7012345678901234567890"
        case = {"Subject": "Fraud review: ORD-1001", "Origin": "Web", "Priority": "High",
                "Description": "Decision Manager REJECT"}
        r1 = call(base, "PATCH", p, case, h)
        self.assertEqual((r1.status, r1.json["created"], r1.json["success"]), (201, True, True), r1.raw)
        r2 = call(base, "PATCH", p, {**case, "Status": "Working"}, h)
        self.assertEqual((r2.status, r2.json["created"], r2.json["id"]), (200, False, r1.json["id"]), r2.raw)
        r3 = call(base, "PATCH", p.replace("v62.0", "v45.0"), case, h)
        self.assertEqual((r3.status, r3.raw), (204, b""))
        cases = self.admin("salesforce", "GET", "cases?Fraud_Case_Key__c=cybs-7012345678901234567890").json
        self.assertEqual(cases["count"], 1)
        self.assertEqual((cases["records"][0]["creates"], cases["records"][0]["updates"]), (1, 2))
        r = call(base, "GET", p, headers=h)
        self.assertEqual((r.status, r.json["Id"], r.json["Status"], r.json["attributes"]["type"]),
                         (200, r1.json["id"], "Working", "Case"))
        r = call(base, "PATCH", p, {"Bogus": 1}, h)
        self.assertEqual((r.status, r.json[0]["errorCode"]), (400, "INVALID_FIELD"))
        r = call(base, "PATCH", "/services/data/v62.0/sobjects/Case/Other_Key__c/x", case, h)
        self.assertEqual((r.status, r.json[0]["errorCode"]), (404, "NOT_FOUND"))
        r = call(base, "GET", p, headers={"Authorization": "Bearer expired"})
        self.assertEqual((r.status, r.json[0]["errorCode"]), (401, "INVALID_SESSION_ID"))
        r = call(base, "PATCH", p.replace("cybs-7012345678901234567890", "cybs-new") + "?updateOnly=true", case, h)
        self.assertEqual(r.status, 404)


if __name__ == "__main__":
    unittest.main()
