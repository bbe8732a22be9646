#!/usr/bin/env python3
"""Tests for the Cybersource simulator (infra/local/simulators/cybersource.py).

Starts the simulator as a subprocess on a free loopback port (--port 0) and talks to it with a
small HTTP-signature client written here, independently, from docs/cybersource.md §1: it does
not import the simulator. Standard library only:

    python3 infra/local/simulators/test_cybersource_sim.py -v
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
SIM = HERE / "cybersource.py"
SECRETS = HERE.parent / "secrets.local.json"
SECRETS_DOC = json.loads(SECRETS.read_text())
CREDS = SECRETS_DOC["CybersourceSecret"]  # route A, the primary merchant
CREDS_B = SECRETS_DOC["CybersourceRouteBSecret"]  # route B, a second merchant id with its own key
MID_A, MID_B = CREDS["merchant_id"], CREDS_B["merchant_id"]
AS_B = {"merchant_id": MID_B, "key_id": CREDS_B["key_id"], "secret_b64": CREDS_B["shared_secret_b64"]}


# ------------------------------------------------------------------------------------------
# independent client (docs/cybersource.md §1)
# ------------------------------------------------------------------------------------------

def imf_date(dt: datetime | None = None) -> str:
    return format_datetime(dt or datetime.now(timezone.utc), usegmt=True)


def signed_headers(method: str, target: str, body: bytes | None, host: str, *, merchant_id=None,
                   key_id=None, secret_b64=None, date=None, sign_body: bytes | None = None,
                   request_target_name="request-target") -> dict:
    """Headers per docs/cybersource.md §1: host, date, request-target, [digest], v-c-merchant-id."""
    merchant_id = merchant_id or CREDS["merchant_id"]
    key_id = key_id or CREDS["key_id"]
    secret_b64 = secret_b64 or CREDS["shared_secret_b64"]
    date = date or imf_date()
    headers = {"v-c-merchant-id": merchant_id, "Date": date, "Host": host}
    lines = [f"host: {host}", f"date: {date}", f"{request_target_name}: {method.lower()} {target}"]
    names = ["host", "date", request_target_name]
    if method in ("POST", "PUT", "PATCH"):
        digest_of = sign_body if sign_body is not None else (body or b"")
        digest = "SHA-256=" + base64.b64encode(hashlib.sha256(digest_of).digest()).decode()
        headers["Digest"] = digest
        lines.append(f"digest: {digest}")
        names.append("digest")
        headers["Content-Type"] = "application/json;charset=utf-8"
    lines.append(f"v-c-merchant-id: {merchant_id}")
    names.append("v-c-merchant-id")
    mac = hmac.new(base64.b64decode(secret_b64), "\n".join(lines).encode(), hashlib.sha256).digest()
    headers["Signature"] = (f'keyid="{key_id}", algorithm="HmacSHA256", headers="{" ".join(names)}", '
                            f'signature="{base64.b64encode(mac).decode()}"')
    return headers


class Client:
    def __init__(self, port: int):
        self.port = port
        self.host = f"127.0.0.1:{port}"

    def raw(self, method: str, target: str, body: bytes | None, headers: dict, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else None), resp
        finally:
            conn.close()

    def call(self, method: str, path: str, obj=None, query: list | None = None, timeout=10, **sign_kw):
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        body = json.dumps(obj).encode() if obj is not None else (b"{}" if method == "POST" else None)
        headers = signed_headers(method, target, body, self.host, **sign_kw)
        status, data, _ = self.raw(method, target, body, headers, timeout)
        return status, data

    def admin(self, method: str, path: str, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, "/__admin" + path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else None)
        finally:
            conn.close()


def verify_v_c_signature(header: str, raw_body: bytes, key_id: str, key_b64: str) -> bool:
    """docs/cybersource.md §3.4: parts split on ';', each on the first '='; HMAC-SHA256 over
    t + '.' + compact JSON of body.payload (JSON.stringify), keyId must match."""
    parts = dict(p.split("=", 1) for p in header.strip().strip(";").split(";") if "=" in p)
    if parts.get("keyId") != key_id:
        return False
    payload = json.loads(raw_body)["payload"]
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    mac = hmac.new(base64.b64decode(key_b64), f"{parts['t']}.{compact}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), parts.get("sig", ""))


class Receiver:
    """Tiny webhook receiver on a free loopback port."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.cond = threading.Condition()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.cond:
                    outer.received.append(({k.lower(): v for k, v in self.headers.items()}, data))
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cybersource/notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n: int, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} notifications, got {len(self.received)}")
                self.cond.wait(left)
            return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------

def auth_body(code: str, amount="100.00", currency="USD", email="buyer@example.com", capture=False,
              actions=None, tx=None, token=None):
    body = {
        "clientReferenceInformation": {"code": code},
        "processingInformation": {"capture": capture, "commerceIndicator": "internet"},
        "tokenInformation": {"transientTokenJwt": token or TOKEN},
        "orderInformation": {"amountDetails": {"totalAmount": amount, "currency": currency},
                             "billTo": {"firstName": "Ada", "lastName": "L", "country": "US", "email": email}},
    }
    if tx:
        body["clientReferenceInformation"]["transactionId"] = tx
    if actions:
        body["processingInformation"]["actionList"] = actions
    return body


def _jwt(claims: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'RS256', 'kid': 't'})}.{enc(claims)}.c2ln"


TOKEN = _jwt({"jti": "1Etest", "exp": int(time.time()) + 3600,
              "data": {"number": "555555XXXXXX4444", "type": "002", "expirationMonth": "09",
                       "expirationYear": "2030"}})
VISA = _jwt({"jti": "1Evisa", "exp": int(time.time()) + 3600,
             "data": {"number": "411111XXXXXX1111", "type": "001", "expirationMonth": "09",
                      "expirationYear": "2030"}})
AMEX = _jwt({"jti": "1Eamex", "exp": int(time.time()) + 3600,
             "data": {"number": "378282XXXXX0005", "type": "003", "expirationMonth": "09",
                      "expirationYear": "2030"}})


class SimulatorTest(unittest.TestCase):
    proc: subprocess.Popen
    c: Client

    @classmethod
    def setUpClass(cls):
        cls.stderr = open(os.devnull, "w")
        cls.proc = subprocess.Popen([sys.executable, "-B", str(SIM), "--port", "0", "--seed", "7",
                                     "--secrets-file", str(SECRETS), "--quiet"],
                                    stdout=subprocess.PIPE, stderr=cls.stderr, text=True)
        line = cls.proc.stdout.readline().strip()
        if not line.startswith("cybersource-sim listening on http://127.0.0.1:"):
            cls.proc.kill()
            raise RuntimeError(f"simulator did not start: {line!r}")
        cls.c = Client(int(line.rsplit(":", 1)[1]))
        cls.rx = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()
        cls.proc.terminate()
        try:
            cls.proc.wait(5)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait(5)
        cls.proc.stdout.close()
        cls.stderr.close()

    def setUp(self):
        # keep_model false: a routing model or soft-decline exemption must not leak between tests
        status, _ = self.c.admin("POST", "/reset", {"keep_model": False})
        self.assertEqual(status, 200)
        self.c.admin("POST", "/config", {"notify_url": self.rx.url, "notify_retry_interval_ms": 50})
        with self.rx.cond:
            self.rx.received.clear()

    # -------------------------------------------------------------------- helpers
    def authorize(self, code, signer: dict | None = None, **kw):
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body(code, **kw), **(signer or {}))
        self.assertEqual(status, 201, data)
        return data

    def set_model(self, spec: dict) -> dict:
        status, data = self.c.admin("PUT", "/routing-model", spec)
        self.assertEqual(status, 200, data)
        return data

    def model_counters(self, mid: str = MID_A) -> dict:
        status, data = self.c.admin("GET", "/routing-model")
        self.assertEqual(status, 200, data)
        return data["counters"][mid]

    def outcomes(self, n: int, prefix: str, **kw) -> list[tuple[str, str | None]]:
        """(status, errorInformation.reason) of n authorizations."""
        out = []
        for i in range(n):
            data = self.authorize(f"{prefix}-{i}", **kw)
            out.append((data["status"], data.get("errorInformation", {}).get("reason")))
        return out

    def ledger(self, **filters):
        q = ("?" + urllib.parse.urlencode(filters)) if filters else ""
        status, data = self.c.admin("GET", "/ledger" + q)
        self.assertEqual(status, 200)
        return data["entries"]

    def assert_invalid(self, status, data, reason):
        self.assertEqual(status, 400, data)
        self.assertEqual(data["status"], "INVALID_REQUEST", data)
        self.assertEqual(data["reason"], reason, data)

    # -------------------------------------------------------------------- signatures
    def test_good_signature_accepted(self):
        data = self.authorize("SIG-OK")
        self.assertEqual(data["status"], "AUTHORIZED")
        status, _ = self.c.call("GET", f"/tss/v2/transactions/{data['id']}")
        self.assertEqual(status, 200)

    def test_older_request_target_spelling_accepted(self):
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("SIG-PAREN"),
                                   request_target_name="(request-target)")
        self.assertEqual(status, 201, data)

    def test_bad_signature_rejected(self):
        body = json.dumps(auth_body("SIG-BAD")).encode()
        headers = signed_headers("POST", "/pts/v2/payments", body, self.c.host)
        headers["Signature"] = headers["Signature"].replace('signature="', 'signature="AAAA')
        status, data, _ = self.c.raw("POST", "/pts/v2/payments", body, headers)
        self.assertEqual(status, 401)
        self.assertEqual(data, {"response": {"rmsg": "Authentication Failed"}})
        wrong_secret = base64.b64encode(b"\x01" * 32).decode()
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("SIG-BAD"), secret_b64=wrong_secret)
        self.assertEqual(status, 401)
        self.assertEqual(self.ledger(), [])

    def test_wrong_key_id_rejected(self):
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("SIG-KEY"),
                                   key_id="00000000-0000-0000-0000-000000000000")
        self.assertEqual((status, data), (401, {"response": {"rmsg": "Authentication Failed"}}))

    def test_wrong_merchant_rejected(self):
        status, _ = self.c.call("GET", "/tss/v2/transactions/1", merchant_id="someone_else")
        self.assertEqual(status, 401)

    def test_missing_signature_rejected(self):
        status, data, _ = self.c.raw("GET", "/tss/v2/transactions/1", None, {"Host": self.c.host})
        self.assertEqual((status, data), (401, {"response": {"rmsg": "Authentication Failed"}}))

    def test_stale_date_rejected(self):
        stale = imf_date(datetime.now(timezone.utc) - timedelta(minutes=20))
        status, _ = self.c.call("POST", "/pts/v2/payments", auth_body("SIG-STALE"), date=stale)
        self.assertEqual(status, 401)
        future = imf_date(datetime.now(timezone.utc) + timedelta(minutes=20))
        status, _ = self.c.call("GET", "/tss/v2/transactions/1", date=future)
        self.assertEqual(status, 401)
        near = imf_date(datetime.now(timezone.utc) - timedelta(minutes=10))
        status, _ = self.c.call("POST", "/pts/v2/payments", auth_body("SIG-NEAR"), date=near)
        self.assertEqual(status, 201)

    def test_body_digest_mismatch_rejected(self):
        sent = json.dumps(auth_body("SIG-DIGEST", amount="999.00")).encode()
        signed = json.dumps(auth_body("SIG-DIGEST", amount="1.00")).encode()
        headers = signed_headers("POST", "/pts/v2/payments", sent, self.c.host, sign_body=signed)
        status, data, _ = self.c.raw("POST", "/pts/v2/payments", sent, headers)
        self.assertEqual(status, 401, data)
        self.assertEqual(self.ledger(), [])

    def test_query_string_is_part_of_request_target(self):
        q = [("startTime", "2020-01-01T00:00:00.000Z"), ("endTime", "2100-01-01T00:00:00.000Z")]
        status, data = self.c.call("GET", "/reporting/v3/chargeback-details", query=q)
        self.assertEqual(status, 200, data)
        target = "/reporting/v3/chargeback-details?" + urllib.parse.urlencode(q)
        headers = signed_headers("GET", "/reporting/v3/chargeback-details", None, self.c.host)
        status, _, _ = self.c.raw("GET", target, None, headers)
        self.assertEqual(status, 401)

    # -------------------------------------------------------------------- money rules
    def test_authorize_capture_refund_happy_path(self):
        auth = self.authorize("HAPPY-1", amount="107.99", tx="happy-1-auth")
        self.assertEqual(auth["status"], "AUTHORIZED")
        self.assertEqual(auth["orderInformation"]["amountDetails"],
                         {"totalAmount": "107.99", "authorizedAmount": "107.99", "currency": "USD"})
        self.assertEqual(auth["clientReferenceInformation"], {"code": "HAPPY-1", "transactionId": "happy-1-auth"})
        self.assertEqual(auth["paymentInformation"]["card"], {"type": "002", "suffix": "4444"})
        self.assertEqual(auth["riskInformation"]["profile"]["decision"], "ACCEPT")
        self.assertIn("capture", auth["_links"])
        self.assertEqual(len(auth["id"]), 22)
        for key in ("submitTimeUtc", "reconciliationId", "processorInformation"):
            self.assertIn(key, auth)

        status, cap = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures", {
            "clientReferenceInformation": {"code": "HAPPY-1"},
            "orderInformation": {"amountDetails": {"totalAmount": "107.99", "currency": "USD"}}})
        self.assertEqual(status, 201, cap)
        self.assertEqual(cap["status"], "PENDING")
        status, ref = self.c.call("POST", f"/pts/v2/captures/{cap['id']}/refunds", {
            "clientReferenceInformation": {"code": "HAPPY-1"},
            "orderInformation": {"amountDetails": {"totalAmount": "7.99", "currency": "USD"}}})
        self.assertEqual(status, 201, ref)
        self.assertEqual(ref["status"], "PENDING")
        self.assertEqual(ref["refundAmountDetails"], {"refundAmount": "7.99", "currency": "USD"})

        status, det = self.c.call("GET", f"/tss/v2/transactions/{auth['id']}")
        self.assertEqual(status, 200)
        self.assertIn("submitTimeUTC", det)
        self.assertEqual(det["applicationInformation"]["applications"][-1]["name"], "ics_auth")
        self.assertEqual(det["paymentInformation"]["card"]["suffix"], "4444")
        entries = self.ledger(code="HAPPY-1")
        self.assertEqual([(e["type"], e["amount"], e["status"]) for e in entries],
                         [("authorization", "107.99", "AUTHORIZED"), ("capture", "107.99", "PENDING"),
                          ("refund", "7.99", "PENDING")])

    def test_over_capture_refused(self):
        auth = self.authorize("OVERCAP", amount="50.00")
        path = f"/pts/v2/payments/{auth['id']}/captures"
        amt = lambda a: {"orderInformation": {"amountDetails": {"totalAmount": a, "currency": "USD"}}}  # noqa: E731
        self.assertEqual(self.c.call("POST", path, amt("30.00"))[0], 201)
        status, data = self.c.call("POST", path, amt("20.01"))
        self.assert_invalid(status, data, "EXCEEDS_AUTH_AMOUNT")
        self.assertEqual(self.c.call("POST", path, amt("20.00"))[0], 201)
        status, data = self.c.call("POST", path, amt("0.01"))
        self.assert_invalid(status, data, "EXCEEDS_AUTH_AMOUNT")
        self.assertEqual(len(self.ledger(code="OVERCAP", type="capture")), 2)

    def test_parallel_captures_never_exceed_authorization(self):
        auth = self.authorize("PAR-1", amount="50.00")
        results = []

        def capture():
            results.append(self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures", {
                "orderInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}})[0])

        threads = [threading.Thread(target=capture) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [201] * 5 + [400] * 7)
        self.assertEqual(len(self.ledger(code="PAR-1", type="capture")), 5)

    def test_over_refund_refused(self):
        auth = self.authorize("OVERREF", amount="40.00", capture=True)
        self.assertEqual(auth["status"], "AUTHORIZED")
        path = f"/pts/v2/payments/{auth['id']}/refunds"
        amt = lambda a: {"orderInformation": {"amountDetails": {"totalAmount": a, "currency": "USD"}}}  # noqa: E731
        self.assertEqual(self.c.call("POST", path, amt("25.00"))[0], 201)
        status, data = self.c.call("POST", path, amt("15.01"))
        self.assert_invalid(status, data, "INVALID_AMOUNT")
        self.assertEqual(self.c.call("POST", path, amt("15.00"))[0], 201)
        self.assertEqual([e["type"] for e in self.ledger(code="OVERREF")], ["sale", "refund", "refund"])

    def test_refund_without_capture_refused(self):
        auth = self.authorize("NOCAP")
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/refunds",
                                   {"orderInformation": {"amountDetails": {"totalAmount": "1.00", "currency": "USD"}}})
        self.assert_invalid(status, data, "INVALID_DATA")

    def test_capture_after_reversal_refused(self):
        auth = self.authorize("REV-1", amount="12.00")
        status, rev = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/reversals", {
            "clientReferenceInformation": {"code": "REV-1"},
            "reversalInformation": {"amountDetails": {"totalAmount": "12.00", "currency": "USD"}, "reason": "cancel"}})
        self.assertEqual(status, 201, rev)
        self.assertEqual(rev["status"], "REVERSED")
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures",
                                   {"orderInformation": {"amountDetails": {"totalAmount": "12.00", "currency": "USD"}}})
        self.assert_invalid(status, data, "AUTH_ALREADY_REVERSED")
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/reversals", {
            "reversalInformation": {"amountDetails": {"totalAmount": "12.00", "currency": "USD"}}})
        self.assert_invalid(status, data, "AUTH_ALREADY_REVERSED")
        status, det = self.c.call("GET", f"/tss/v2/transactions/{auth['id']}")
        self.assertEqual(det["status"], "REVERSED")

    def test_timeout_reversal_by_transaction_id(self):
        self.authorize("TOREV", amount="9.00", tx="torev-tx-1")
        status, rev = self.c.call("POST", "/pts/v2/reversals", {
            "clientReferenceInformation": {"code": "TOREV", "transactionId": "torev-tx-1"},
            "reversalInformation": {"amountDetails": {"totalAmount": "9.00", "currency": "USD"}}})
        self.assertEqual(status, 201, rev)
        self.assertEqual(rev["status"], "REVERSED")
        status, data = self.c.call("POST", "/pts/v2/reversals", {
            "clientReferenceInformation": {"code": "TOREV", "transactionId": "never-sent"},
            "reversalInformation": {"amountDetails": {"totalAmount": "9.00", "currency": "USD"}}})
        self.assert_invalid(status, data, "INVALID_DATA")

    def test_void_capture_then_refund_refused(self):
        auth = self.authorize("VOID-1", amount="5.00")
        _, cap = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures",
                             {"orderInformation": {"amountDetails": {"totalAmount": "5.00", "currency": "USD"}}})
        status, void = self.c.call("POST", f"/pts/v2/captures/{cap['id']}/voids",
                                   {"clientReferenceInformation": {"code": "VOID-1"}})
        self.assertEqual(status, 201, void)
        self.assertEqual(void["status"], "VOIDED")
        status, data = self.c.call("POST", f"/pts/v2/captures/{cap['id']}/refunds",
                                   {"orderInformation": {"amountDetails": {"totalAmount": "1.00", "currency": "USD"}}})
        self.assert_invalid(status, data, "CAPTURE_ALREADY_VOIDED")
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/voids", {})
        self.assert_invalid(status, data, "NOT_VOIDABLE")

    def test_amount_validation(self):
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("AMT-1", amount="10.5", currency="JPY"))
        self.assert_invalid(status, data, "INVALID_DATA")
        self.assertEqual(data["details"][0]["field"], "orderInformation.amountDetails.totalAmount")
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("AMT-2", amount="1.234", currency="USD"))
        self.assert_invalid(status, data, "INVALID_DATA")
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("AMT-3", amount="12,00"))
        self.assert_invalid(status, data, "INVALID_DATA")
        self.assertEqual(self.authorize("AMT-4", amount="1.234", currency="KWD")["status"], "AUTHORIZED")
        self.assertEqual(self.authorize("AMT-5", amount="1500", currency="JPY")["status"], "AUTHORIZED")
        body = auth_body("AMT-6")
        del body["orderInformation"]["amountDetails"]["totalAmount"]
        status, data = self.c.call("POST", "/pts/v2/payments", body)
        self.assert_invalid(status, data, "MISSING_FIELD")
        self.assertEqual(len(self.ledger()), 2)

    def test_merchant_defined_information_kept_and_checked(self):
        body = auth_body("MDD-1")
        body["merchantDefinedInformation"] = [{"key": "1", "value": "web"}, {"key": "20", "value": "gift"}]
        status, data = self.c.call("POST", "/pts/v2/payments", body)
        self.assertEqual(status, 201, data)
        status, details = self.c.call("GET", f"/tss/v2/transactions/{data['id']}")
        self.assertEqual(status, 200, details)
        self.assertEqual(details["merchantDefinedInformation"], body["merchantDefinedInformation"])
        for bad in ([{"key": "101", "value": "x"}], [{"key": "1", "value": 5}], {"key": "1", "value": "x"},
                    [{"key": "1", "value": "x", "extra": "y"}]):
            body = auth_body("MDD-BAD")
            body["merchantDefinedInformation"] = bad
            status, data = self.c.call("POST", "/pts/v2/payments", body)
            self.assert_invalid(status, data, "INVALID_DATA")
            self.assertEqual(data["details"][0]["field"], "merchantDefinedInformation")
        self.assertEqual(len(self.ledger(code="MDD-BAD")), 0)

    def test_card_number_refused(self):
        body = auth_body("PAN-1")
        body["paymentInformation"] = {"card": {"number": "4111111111111111", "expirationMonth": "12",
                                               "expirationYear": "2031"}}
        status, data = self.c.call("POST", "/pts/v2/payments", body)
        self.assert_invalid(status, data, "INVALID_DATA")
        self.assertEqual(data["details"][0]["field"], "paymentInformation.card.number")
        body = auth_body("PAN-2")
        body["orderInformation"]["billTo"]["address2"] = "4111 1111 1111 1111"
        status, data = self.c.call("POST", "/pts/v2/payments", body)
        self.assert_invalid(status, data, "INVALID_DATA")
        self.assertEqual(self.ledger(), [])

    def test_card_number_rule_is_the_shared_table(self):
        """The simulator refuses exactly what the shared card-number rule calls a card number: every
        case of infra/local/cardscan_cases.json (the table shared/domain/src/card.rs and
        infra/local/cardscan.py pass) sent as a string member, and every JSON-document case as a
        nested member whose expected location becomes the refused field."""
        cases = json.loads((HERE.parent / "cardscan_cases.json").read_text())["cases"]
        checked = refused = 0
        for n, case in enumerate(cases):
            body = auth_body(f"CASE-{n}")
            if case.get("json"):
                if not case["at"] or case["at"].startswith("$"):
                    try:
                        body["x"] = json.loads(case["text"])
                    except ValueError:
                        continue
                    want = None if case["at"] is None else "x" + case["at"][1:]
                else:
                    continue  # a location in the raw text (`byte N`): no parsed member to send
            else:
                body["orderInformation"]["billTo"]["address2"] = case["text"]
                want = "orderInformation.billTo.address2" if case["hit"] else None
            status, data = self.c.call("POST", "/pts/v2/payments", body)
            label = f"case {n} {case.get('note', '')}: {case['text']!r}"
            if want is None:
                self.assertEqual(status, 201, f"{label}: {data}")
            else:
                self.assert_invalid(status, data, "INVALID_DATA")
                self.assertEqual(data["details"][0]["field"], want, label)
                refused += 1
            checked += 1
        self.assertGreater(checked, 140)
        self.assertGreater(refused, 50)
        self.assertLess(refused, checked - 50)

    # -------------------------------------------------------------------- Decision Manager
    def test_dm_triggers(self):
        cases = {
            "buyer@example.com": "AUTHORIZED",
            "review@example.com": "PENDING_REVIEW",
            "authreview+x1@example.com": "AUTHORIZED_PENDING_REVIEW",
            "reject@example.com": "AUTHORIZED_RISK_DECLINED",
            "decline@example.com": "DECLINED",
            "3ds@example.com": "PENDING_AUTHENTICATION",
            "partial@example.com": "PARTIAL_AUTHORIZED",
        }
        for email, want in cases.items():
            with self.subTest(email=email):
                data = self.authorize(f"DM-{email}", email=email)
                self.assertEqual(data["status"], want, data)
        data = self.authorize("DM-review2", email="review@example.com")
        self.assertEqual(data["riskInformation"]["profile"]["decision"], "REVIEW")
        self.assertEqual(data["errorInformation"]["reason"], "DECISION_PROFILE_REVIEW")
        data = self.authorize("DM-reject2", email="reject@example.com")
        self.assertEqual(data["riskInformation"]["profile"]["decision"], "REJECT")
        self.assertEqual(data["errorInformation"]["reason"], "DECISION_PROFILE_REJECT")
        status, cap = self.c.call("POST", f"/pts/v2/payments/{data['id']}/captures",
                                  {"orderInformation": {"amountDetails": {"totalAmount": "100.00", "currency": "USD"}}})
        self.assert_invalid(status, cap, "NOT_SUPPORTED")
        data = self.authorize("DM-decline2", email="decline@example.com")
        self.assertEqual(data["errorInformation"]["reason"], "PROCESSOR_DECLINED")
        self.assertEqual(data["processorInformation"]["responseCode"], "05")
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("DM-invalid", email="invalid@example.com"))
        self.assert_invalid(status, data, "INVALID_DATA")
        data = self.authorize("DM-skip", email="review@example.com", actions=["DECISION_SKIP"])
        self.assertEqual(data["status"], "AUTHORIZED")
        self.assertNotIn("riskInformation", data)

    def test_review_decision_sends_signed_notification(self):
        auth = self.authorize("REVIEW-1", email="review@example.com")
        status, out = self.c.admin("POST", f"/reviews/{auth['id']}", {"decision": "accept"})
        self.assertEqual(status, 200, out)
        self.assertEqual(out["transaction"]["status"], "AUTHORIZED")
        headers, raw = self.rx.wait(1)[0]
        body = json.loads(raw)
        self.assertEqual(body["eventType"], "risk.casemanagement.decision.accept")
        self.assertEqual(body["productId"], "decisionManager")
        self.assertEqual(body["payload"]["data"]["id"], auth["id"])
        for key in ("webhookId", "organizationId", "eventDate", "transactionTraceId", "retryNumber", "requestType"):
            self.assertIn(key, body)
        self.assertTrue(verify_v_c_signature(headers["v-c-signature"], raw, CREDS["webhook_key_id"],
                                             CREDS["webhook_secret_b64"]))
        self.assertFalse(verify_v_c_signature(headers["v-c-signature"], raw, CREDS["webhook_key_id"],
                                              base64.b64encode(b"\x02" * 32).decode()))
        # now capturable
        status, cap = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures",
                                  {"orderInformation": {"amountDetails": {"totalAmount": "100.00", "currency": "USD"}}})
        self.assertEqual(status, 201, cap)
        # a second decision is a conflict
        status, _ = self.c.admin("POST", f"/reviews/{auth['id']}", {"decision": "reject"})
        self.assertEqual(status, 409)

    def test_review_reject_and_tampered_notifications(self):
        auth = self.authorize("REVIEW-2", email="authreview@example.com")
        status, out = self.c.admin("POST", f"/reviews/{auth['id']}", {"decision": "reject", "reverse": True})
        self.assertEqual(status, 200, out)
        self.assertEqual([e["type"] for e in out["effects"]], ["reversal"])
        headers, raw = self.rx.wait(1)[0]
        self.assertEqual(json.loads(raw)["eventType"], "risk.casemanagement.decision.reject")
        self.assertTrue(verify_v_c_signature(headers["v-c-signature"], raw, CREDS["webhook_key_id"],
                                             CREDS["webhook_secret_b64"]))
        for n, tamper in enumerate([True, "signature", "key", "keyId"], start=2):
            status, _ = self.c.admin("POST", "/notify", {"eventType": "tms.networktoken.updated",
                                                         "payload": {"data": {"id": "X"}}, "tamper": tamper})
            self.assertEqual(status, 200)
            headers, raw = self.rx.wait(n)[-1]
            self.assertFalse(verify_v_c_signature(headers["v-c-signature"], raw, CREDS["webhook_key_id"],
                                                  CREDS["webhook_secret_b64"]), tamper)
        status, _ = self.c.admin("POST", "/notify", {"eventType": "tms.networktoken.updated",
                                                     "payload": {"data": {"n": 1.5, "s": "é"}}})
        headers, raw = self.rx.wait(6)[-1]
        self.assertEqual(json.loads(raw)["productId"], "tokenManagement")
        self.assertTrue(verify_v_c_signature(headers["v-c-signature"], raw, CREDS["webhook_key_id"],
                                             CREDS["webhook_secret_b64"]))

    def test_decision_api_accept_with_capture(self):
        auth = self.authorize("REVIEW-3", email="review@example.com")
        status, out = self.c.call("POST", f"/risk/v1/decisions/{auth['id']}/actions", {
            "decisionInformation": {"decision": "ACCEPT", "comments": "ok"},
            "processingInformation": {"actionList": ["CAPTURE"]}})
        self.assertEqual(status, 201, out)
        self.assertEqual([e["type"] for e in self.ledger(code="REVIEW-3")], ["authorization", "capture"])
        self.rx.wait(1)

    # -------------------------------------------------------------------- search / faults
    def test_search_by_reference(self):
        auth = self.authorize("SEARCH-1", amount="3.00")
        self.authorize("SEARCH-OTHER")
        self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures",
                    {"orderInformation": {"amountDetails": {"totalAmount": "3.00", "currency": "USD"}}})
        status, res = self.c.call("POST", "/tss/v2/searches", {
            "save": False, "name": "by ref", "timezone": "UTC",
            "query": "clientReferenceInformation.code:SEARCH-1 AND submitTimeUtc:[NOW/DAY-7DAYS TO NOW/DAY+1DAY}",
            "offset": 0, "limit": 100, "sort": "id:asc, submitTimeUtc:asc"})
        self.assertEqual(status, 201, res)
        self.assertEqual(res["totalCount"], 2)
        summaries = res["_embedded"]["transactionSummaries"]
        self.assertIn(auth["id"], [s["id"] for s in summaries])
        self.assertEqual({s["clientReferenceInformation"]["code"] for s in summaries}, {"SEARCH-1"})
        status, res = self.c.call("POST", "/tss/v2/searches", {"query": 'clientReferenceInformation.code:"NOPE"'})
        self.assertEqual((status, res["count"]), (201, 0))

    def test_lost_response_effect_applied(self):
        auth = self.authorize("LOST-1", amount="20.00")
        status, out = self.c.admin("POST", "/faults", {"operation": "capture", "lost_response_rate": 1.0,
                                                       "times": 1})
        self.assertEqual(status, 200, out)
        body = {"clientReferenceInformation": {"code": "LOST-1", "transactionId": "lost-1-cap-1"},
                "orderInformation": {"amountDetails": {"totalAmount": "20.00", "currency": "USD"}}}
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures", body)
        self.assertEqual(status, 502)
        self.assertEqual(data["status"], "SERVER_ERROR")
        caps = self.ledger(code="LOST-1", type="capture")
        self.assertEqual(len(caps), 1)
        self.assertEqual(caps[0]["response"], "lost:502")
        status, res = self.c.call("POST", "/tss/v2/searches", {"query": "clientReferenceInformation.code:LOST-1"})
        self.assertEqual(status, 201)
        self.assertIn(caps[0]["id"], [s["id"] for s in res["_embedded"]["transactionSummaries"]])
        # times exhausted: a retry gets a real answer, and the money rule now refuses a double capture
        status, data = self.c.call("POST", f"/pts/v2/payments/{auth['id']}/captures", body)
        self.assert_invalid(status, data, "EXCEEDS_AUTH_AMOUNT")

    def test_lost_response_drop_and_hang(self):
        self.c.admin("POST", "/faults", {"operation": "authorize", "lost_response_rate": 1.0,
                                         "lost_mode": "drop", "times": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.c.call("POST", "/pts/v2/payments", auth_body("DROP-1"))
        self.assertEqual(len(self.ledger(code="DROP-1")), 1)
        self.c.admin("POST", "/faults", {"operation": "refund", "lost_response_rate": 1.0,
                                         "lost_mode": "hang", "hang_ms": 800, "times": 1})
        auth = self.authorize("HANG-1", capture=True)
        with self.assertRaises(TimeoutError):
            self.c.call("POST", f"/pts/v2/payments/{auth['id']}/refunds",
                        {"orderInformation": {"amountDetails": {"totalAmount": "1.00", "currency": "USD"}}},
                        timeout=0.3)
        self.assertEqual(len(self.ledger(code="HANG-1", type="refund")), 1)

    def test_error_fault_has_no_effect_and_clears(self):
        self.c.admin("POST", "/faults", {"operation": "authorize", "error_rate": 1.0, "status": 503})
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("ERR-1"))
        self.assertEqual((status, data["status"]), (503, "SERVER_ERROR"))
        self.assertEqual(self.ledger(code="ERR-1"), [])
        self.assertEqual(self.c.admin("DELETE", "/faults")[0], 200)
        self.assertEqual(self.authorize("ERR-1")["status"], "AUTHORIZED")

    def test_timeout_trigger_and_seeded_ids(self):
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("TRIG-T", email="timeout@example.com"))
        self.assertEqual((status, data["reason"]), (502, "SERVER_TIMEOUT"))
        self.assertEqual(len(self.ledger(code="TRIG-T")), 1)
        first = self.ledger()[0]["id"]
        self.c.admin("POST", "/reset")
        status, data = self.c.call("POST", "/pts/v2/payments", auth_body("TRIG-T", email="timeout@example.com"))
        self.assertEqual(self.ledger()[0]["id"], first)  # --seed makes ids reproducible after reset

    # -------------------------------------------------------------------- TMS / report
    def test_tms_tokens_from_transient_token(self):
        auth = self.authorize("TMS-1", actions=["TOKEN_CREATE"], amount="0.00")
        tok = auth["tokenInformation"]
        cust_id, pi_id = tok["customer"]["id"], tok["paymentInstrument"]["id"]
        status, cust = self.c.call("GET", f"/tms/v2/customers/{cust_id}")
        self.assertEqual(status, 200, cust)
        self.assertEqual(cust["defaultPaymentInstrument"]["id"], pi_id)
        status, pi = self.c.call("GET", f"/tms/v2/customers/{cust_id}/payment-instruments/{pi_id}")
        self.assertEqual((status, pi["card"]["type"]), (200, "002"))
        body = auth_body("TMS-2")
        del body["tokenInformation"]
        body["paymentInformation"] = {"customer": {"id": cust_id}}
        status, data = self.c.call("POST", "/pts/v2/payments", body)
        self.assertEqual(status, 201, data)
        self.assertEqual(data["paymentInformation"]["card"]["suffix"], "4444")
        status, cust2 = self.c.call("POST", "/tms/v2/customers", {"buyerInformation": {"merchantCustomerID": "c-9"}})
        self.assertEqual(status, 201)
        status, pi2 = self.c.call("POST", f"/tms/v2/customers/{cust2['id']}/payment-instruments",
                                  {"tokenInformation": {"transientTokenJwt": TOKEN}})
        self.assertEqual(status, 201, pi2)
        self.assertEqual(self.c.call("GET", "/tms/v2/customers/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")[0], 404)
        status, tok = self.c.call("POST", "/tms/v2/tokenize", {
            "processingInformation": {"actionList": ["TOKEN_CREATE"],
                                      "actionTokenTypes": ["customer", "paymentInstrument"]},
            "tokenInformation": {"transientTokenJwt": TOKEN,
                                 "customer": {"buyerInformation": {"merchantCustomerID": "c-10"}}}})
        self.assertEqual(status, 200, tok)
        ids = {r["resource"]: r["id"] for r in tok["responses"]}
        self.assertEqual(set(ids), {"customer", "paymentInstrument", "instrumentIdentifier"})
        status, cust3 = self.c.call("GET", f"/tms/v2/customers/{ids['customer']}")
        self.assertEqual(cust3["defaultPaymentInstrument"]["id"], ids["paymentInstrument"])

    def test_chargeback_report(self):
        auth = self.authorize("CB-1", amount="60.00", capture=True)
        status, out = self.c.admin("POST", "/chargebacks", {"transactionId": auth["id"], "amount": "60.00",
                                                            "reasonCode": "10.4"})
        self.assertEqual(status, 201, out)
        uncaptured = self.authorize("CB-2")
        self.assertEqual(self.c.admin("POST", "/chargebacks", {"transactionId": uncaptured["id"]})[0], 409)
        now = datetime.now(timezone.utc)
        q = [("startTime", (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")),
             ("endTime", (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))]
        status, rep = self.c.call("GET", "/reporting/v3/chargeback-details", query=q)
        self.assertEqual(status, 200, rep)
        [cb] = rep["chargebackDetails"]
        self.assertEqual((cb["requestId"], cb["merchantReferenceNumber"], cb["amount"], cb["currencyCode"]),
                         (auth["id"], "CB-1", "60.00", "USD"))
        status, rep = self.c.call("GET", "/reporting/v3/chargeback-details", query=q[:1])
        self.assertEqual(status, 400)

    # -------------------------------------------------------------------- merchants (payment routes)
    def test_second_merchant_authenticates_with_own_key(self):
        data = self.authorize("ROUTE-B-1", signer=AS_B)
        self.assertEqual(data["status"], "AUTHORIZED")
        status, det = self.c.call("GET", f"/tss/v2/transactions/{data['id']}", **AS_B)
        self.assertEqual((status, det["merchantId"]), (200, MID_B))
        unauth = {"response": {"rmsg": "Authentication Failed"}}
        # B's key naming A, A's key naming B, B's key naming an unknown merchant: all 401, nothing created
        for kw in ({**AS_B, "merchant_id": MID_A}, {"merchant_id": MID_B},
                   {**AS_B, "merchant_id": "o2c_nobody"}):
            with self.subTest(kw=kw):
                status, body = self.c.call("POST", "/pts/v2/payments", auth_body("ROUTE-B-BAD"), **kw)
                self.assertEqual((status, body), (401, unauth))
        self.assertEqual(self.ledger(code="ROUTE-B-BAD"), [])
        status, health = self.c.admin("GET", "/health")
        self.assertEqual((health["merchant_id"], health["merchant_ids"]), (MID_A, [MID_A, MID_B]))

    def test_transactions_are_scoped_to_their_merchant(self):
        a = self.authorize("SCOPE-A", amount="10.00", tx="scope-a-tx")
        amount = {"orderInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}}
        # to B, A's id is indistinguishable from an id that does not exist
        unknown = self.c.call("POST", "/pts/v2/payments/1111111111111111111111/captures", amount, **AS_B)
        foreign = self.c.call("POST", f"/pts/v2/payments/{a['id']}/captures", amount, **AS_B)
        self.assert_invalid(*foreign, "INVALID_PAYMENT_ID")
        self.assertEqual(foreign[1]["reason"], unknown[1]["reason"])
        self.assertEqual(self.c.call("GET", f"/tss/v2/transactions/{a['id']}", **AS_B)[0], 404)
        self.assert_invalid(*self.c.call("POST", f"/pts/v2/payments/{a['id']}/reversals", {
            "reversalInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}}, **AS_B),
            "INVALID_PAYMENT_ID")
        self.assert_invalid(*self.c.call("POST", "/pts/v2/reversals", {
            "clientReferenceInformation": {"code": "SCOPE-A", "transactionId": "scope-a-tx"},
            "reversalInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}}, **AS_B),
            "INVALID_DATA")
        for query in ("clientReferenceInformation.code:SCOPE-A", f"id:{a['id']}", f"merchantId:{MID_A}"):
            with self.subTest(query=query):
                status, res = self.c.call("POST", "/tss/v2/searches", {"query": query}, **AS_B)
                self.assertEqual((status, res["totalCount"]), (201, 0))
                self.assertNotIn("_embedded", res)
        status, res = self.c.call("POST", "/tss/v2/searches", {"query": "clientReferenceInformation.code:SCOPE-A"})
        self.assertEqual(res["totalCount"], 1)
        # a saved search is the saving merchant's
        status, saved = self.c.call("POST", "/tss/v2/searches", {"query": "clientReferenceInformation.code:SCOPE-A",
                                                                  "save": True})
        self.assertEqual(self.c.call("GET", f"/tss/v2/searches/{saved['searchId']}", **AS_B)[0], 404)
        self.assertEqual(self.c.call("GET", f"/tss/v2/searches/{saved['searchId']}")[0], 200)
        # B's probes changed nothing: A captures in full, its capture is A's too
        status, cap = self.c.call("POST", f"/pts/v2/payments/{a['id']}/captures", amount)
        self.assertEqual(status, 201, cap)
        self.assert_invalid(*self.c.call("POST", f"/pts/v2/captures/{cap['id']}/refunds", amount, **AS_B),
                            "INVALID_PAYMENT_ID")
        self.assert_invalid(*self.c.call("POST", f"/pts/v2/captures/{cap['id']}/voids", {}, **AS_B),
                            "INVALID_PAYMENT_ID")
        self.assert_invalid(*self.c.call("POST", "/pts/v2/voids", {
            "clientReferenceInformation": {"transactionId": "scope-a-tx"}}, **AS_B), "INVALID_DATA")
        self.assertEqual({e["merchant_id"] for e in self.ledger(code="SCOPE-A")}, {MID_A})

    def test_ledger_and_state_carry_merchant_id(self):
        self.authorize("MID-A", capture=True)
        b = self.authorize("MID-B", signer=AS_B)
        self.c.call("POST", f"/pts/v2/payments/{b['id']}/reversals", {
            "reversalInformation": {"amountDetails": {"totalAmount": "100.00", "currency": "USD"}}}, **AS_B)
        self.assertEqual([(e["code"], e["type"], e["merchant_id"]) for e in self.ledger()],
                         [("MID-A", "sale", MID_A), ("MID-B", "authorization", MID_B),
                          ("MID-B", "reversal", MID_B)])
        self.assertEqual([e["type"] for e in self.ledger(merchant_id=MID_B)], ["authorization", "reversal"])
        self.assertEqual(self.ledger(merchant_id="o2c_nobody"), [])
        status, state = self.c.admin("GET", f"/state?merchant_id={MID_B}")
        self.assertEqual(status, 200)
        self.assertEqual({t["merchant_id"] for t in state["transactions"]}, {MID_B})
        self.assertEqual((len(state["transactions"]), state["ledger_size"]), (2, 2))
        self.assertEqual(state["merchant_ids"], [MID_A, MID_B])
        self.assertEqual(len(self.c.admin("GET", "/state")[1]["transactions"]), 3)

    # -------------------------------------------------------------------- routing model
    def test_model_approval_rate(self):
        model = self.set_model({"seed": 7, "merchants": {MID_A: {"approval": {"*": 0.9}}}})
        self.assertEqual(model["counters"][MID_A]["authorizations"], 0)
        statuses = [st for st, _ in self.outcomes(2000, "RATE")]
        approved = statuses.count("AUTHORIZED")
        self.assertTrue(0.86 <= approved / 2000 <= 0.94, approved)
        self.assertEqual(set(statuses), {"AUTHORIZED", "DECLINED"})
        counters = self.model_counters()
        self.assertEqual((counters["authorizations"], counters["approved"]), (2000, approved))
        self.assertEqual(counters["soft_declined"] + counters["hard_declined"], 2000 - approved)
        self.assertEqual(len(self.ledger(status="DECLINED")), 2000 - approved)
        # B has no model: default behaviour
        self.assertEqual(self.authorize("RATE-B", signer=AS_B)["status"], "AUTHORIZED")

    def test_model_segment_precedence(self):
        self.set_model({"merchants": {MID_A: {"approval": {
            "*": 0, "USD|visa": 1, "USD": 0, "EUR": 1, "visa": 0, "mastercard": 1}}}})
        cases = [("USD", VISA, "AUTHORIZED"),        # CURRENCY|brand beats CURRENCY and brand
                 ("USD", TOKEN, "DECLINED"),         # CURRENCY (USD 0) beats brand (mastercard 1)
                 ("EUR", VISA, "AUTHORIZED"),        # CURRENCY (EUR 1) beats brand (visa 0)
                 ("GBP", TOKEN, "AUTHORIZED"),       # brand (mastercard 1) beats *
                 ("GBP", VISA, "DECLINED"),          # brand (visa 0)
                 ("GBP", AMEX, "DECLINED")]          # * (0)
        for currency, token, want in cases:
            with self.subTest(currency=currency, token=token[-12:]):
                data = self.authorize(f"SEG-{currency}", currency=currency, token=token)
                self.assertEqual(data["status"], want, data)

    def test_model_drift_merges_after_n(self):
        self.set_model({"merchants": {MID_A: {"approval": {"*": 1, "EUR": 1},
                                              "drift": [{"after": 10, "approval": {"*": 0}}]}}})
        first = [st for st, _ in self.outcomes(10, "DRIFT")]
        self.assertEqual(first, ["AUTHORIZED"] * 10)
        counters = self.model_counters()
        self.assertEqual((counters["approval"], counters["drift_steps_applied"]), ({"*": 0.0, "EUR": 1.0}, 1))
        self.assertEqual([st for st, _ in self.outcomes(5, "DRIFT2")], ["DECLINED"] * 5)
        # merged over, not replaced: the EUR segment is untouched
        self.assertEqual(self.authorize("DRIFT-EUR", currency="EUR")["status"], "AUTHORIZED")

    def test_model_probabilistic_drift(self):
        self.set_model({"seed": 3, "merchants": {MID_A: {"approval": {"*": 0.95},
                                                         "drift": [{"after": 600, "approval": {"*": 0.6}}]}}})
        outcomes = [st == "AUTHORIZED" for st, _ in self.outcomes(1200, "PDRIFT")]
        before, after = sum(outcomes[:600]) / 600, sum(outcomes[600:]) / 600
        self.assertTrue(0.92 <= before <= 0.98, before)
        self.assertTrue(0.54 <= after <= 0.66, after)

    def test_model_soft_and_hard_declines(self):
        self.set_model({"merchants": {MID_A: {"approval": {"*": 0}}}})  # default share 0.5 and reasons
        codes = {"ISSUER_UNAVAILABLE": "91", "PROCESSOR_ERROR": "96", "PROCESSOR_DECLINED": "05",
                 "INSUFFICIENT_FUND": "51"}
        declines = [self.authorize(f"SPLIT-{i}", actions=["TOKEN_CREATE"]) for i in range(400)]
        for d in declines:
            reason = d["errorInformation"]["reason"]
            self.assertEqual((d["status"], d["processorInformation"]["responseCode"]), ("DECLINED", codes[reason]))
            self.assertEqual(d["riskInformation"]["profile"]["decision"], "ACCEPT")
            self.assertNotIn("authorizedAmount", d["orderInformation"]["amountDetails"])
            self.assertNotIn("tokenInformation", d)  # declines create no TMS token
        soft = sum(d["errorInformation"]["reason"] in ("ISSUER_UNAVAILABLE", "PROCESSOR_ERROR") for d in declines)
        self.assertTrue(160 <= soft <= 240, soft)
        counters = self.model_counters()
        self.assertEqual((counters["soft_declined"], counters["hard_declined"]), (soft, 400 - soft))
        self.assertEqual(set(counters["reasons"]), set(codes))
        # no hold: nothing to capture; TSS shows the decline
        status, cap = self.c.call("POST", f"/pts/v2/payments/{declines[0]['id']}/captures",
                                  {"orderInformation": {"amountDetails": {"totalAmount": "100.00", "currency": "USD"}}})
        self.assert_invalid(status, cap, "MISSING_AUTH")
        status, det = self.c.call("GET", f"/tss/v2/transactions/{declines[0]['id']}")
        self.assertEqual(det["errorInformation"]["reason"], declines[0]["errorInformation"]["reason"])
        # share 1 / 0 and custom reasons
        self.set_model({"merchants": {MID_A: {"approval": {"*": 0}, "soft_decline_share": 1,
                                              "soft_decline_reasons": ["PROCESSOR_ERROR"]},
                                      MID_B: {"approval": {"*": 0}, "soft_decline_share": 0,
                                              "hard_decline_reasons": ["EXPIRED_CARD"]}}})
        self.assertEqual(set(self.outcomes(20, "SOFT1")), {("DECLINED", "PROCESSOR_ERROR")})
        hard = self.authorize("HARD0", signer=AS_B)
        self.assertEqual((hard["errorInformation"]["reason"], hard["processorInformation"]["responseCode"]),
                         ("EXPIRED_CARD", "54"))

    def test_model_same_seed_same_sequence(self):
        spec = {"seed": 11, "merchants": {MID_A: {"approval": {"*": 0.5}},
                                          MID_B: {"approval": {"*": 0.5}}}}
        self.set_model(spec)
        first = self.outcomes(60, "SEQ")
        self.assertGreater(len(set(first)), 2)
        self.c.admin("POST", "/reset")  # keeps the model, restarts its RNG and counters
        self.assertEqual(self.model_counters()["authorizations"], 0)
        # B's traffic in between does not shift A's sequence (one RNG per merchant)
        self.outcomes(7, "SEQ-B", signer=AS_B)
        self.assertEqual(self.outcomes(60, "SEQ"), first)
        self.set_model({**spec, "seed": 12})
        self.assertNotEqual(self.outcomes(60, "SEQ"), first)

    def test_triggers_win_over_model(self):
        self.set_model({"merchants": {MID_A: {"approval": {"*": 0}}}})
        self.assertEqual(self.authorize("TW-1", email="review@example.com")["status"], "PENDING_REVIEW")
        self.assertEqual(self.authorize("TW-2", email="review@example.com", actions=["DECISION_SKIP"])["status"],
                         "AUTHORIZED")
        self.assertEqual(self.authorize("TW-3", email="nsf@example.com")["errorInformation"]["reason"],
                         "INSUFFICIENT_FUND")
        self.assertEqual(self.authorize("TW-4", email="partial@example.com")["status"], "PARTIAL_AUTHORIZED")
        self.assertEqual(self.model_counters()["authorizations"], 0)
        self.assertEqual(self.authorize("TW-5")["status"], "DECLINED")
        self.assertEqual(self.model_counters()["authorizations"], 1)

    def test_model_validation_names_the_field(self):
        good = {"approval": {"*": 0.9}}
        cases = [
            ({"merchants": {MID_A: {"approval": {"*": 1.5}}}}, f"merchants.{MID_A}.approval.*"),
            ({"merchants": {MID_A: {"approval": {"*": True}}}}, f"merchants.{MID_A}.approval.*"),
            ({"merchants": {MID_A: {"approval": {"USD": 0.5}}}}, f"merchants.{MID_A}.approval.*"),
            ({"merchants": {MID_A: {"approval": {"*": 1, "usd": 0.5}}}}, f"merchants.{MID_A}.approval.usd"),
            ({"merchants": {MID_A: {"approval": {"*": 1, "USD|maestro": 0.5}}}},
             f"merchants.{MID_A}.approval.USD|maestro"),
            ({"merchants": {MID_A: {**good, "soft_decline_share": -0.1}}}, f"merchants.{MID_A}.soft_decline_share"),
            ({"merchants": {MID_A: {**good, "soft_decline_reasons": ["ISSUER_UNAVAILABLE", ""]}}},
             f"merchants.{MID_A}.soft_decline_reasons[1]"),
            ({"merchants": {MID_A: {**good, "hard_decline_reasons": []}}}, f"merchants.{MID_A}.hard_decline_reasons"),
            ({"merchants": {MID_A: {**good, "drift": [{"after": -1, "approval": {"*": 0.5}}]}}},
             f"merchants.{MID_A}.drift[0].after"),
            ({"merchants": {MID_A: {**good, "drift": [{"after": 5, "approval": {"*": 2}}]}}},
             f"merchants.{MID_A}.drift[0].approval.*"),
            ({"merchants": {MID_A: {**good, "drift": [{"after": 5}]}}}, f"merchants.{MID_A}.drift[0].approval"),
            ({"merchants": {MID_A: {**good, "approvals": {}}}}, f"merchants.{MID_A}.approvals"),
            ({"merchants": {MID_A: {}}}, f"merchants.{MID_A}.approval"),
            ({"merchants": {"o2c_nobody": good}}, "merchants.o2c_nobody"),
            ({"merchants": {}}, "merchants"),
            ({"seed": "7", "merchants": {MID_A: good}}, "seed"),
            ({"merchant": {MID_A: good}}, "merchant"),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                status, data = self.c.admin("PUT", "/routing-model", body)
                self.assertEqual(status, 400, data)
                self.assertEqual(data["field"], field, data)
                self.assertIn(field, data["error"])
        self.assertEqual(self.c.admin("GET", "/routing-model"), (200, {"model": None, "counters": {}}))

    def test_model_get_delete_and_reset(self):
        put = self.set_model({"seed": 7, "merchants": {MID_A: {"approval": {"*": 0.92, "USD|visa": 0.95}}}})
        self.assertEqual(put["model"], {"seed": 7, "merchants": {MID_A: {
            "approval": {"*": 0.92, "USD|visa": 0.95}, "soft_decline_share": 0.5,
            "soft_decline_reasons": ["ISSUER_UNAVAILABLE", "PROCESSOR_ERROR"],
            "hard_decline_reasons": ["PROCESSOR_DECLINED", "INSUFFICIENT_FUND"], "drift": []}}})
        self.assertEqual(set(put["counters"][MID_A]), {"authorizations", "approved", "soft_declined",
                                                      "hard_declined", "approval", "drift_steps_applied",
                                                      "reasons"})
        self.outcomes(3, "GDR")
        self.assertEqual(self.c.admin("POST", "/reset")[0], 200)
        status, got = self.c.admin("GET", "/routing-model")
        self.assertEqual((got["model"], got["counters"][MID_A]["authorizations"]), (put["model"], 0))
        self.assertEqual(self.c.admin("GET", "/state")[1]["routing_model"]["model"], put["model"])
        self.assertEqual(self.c.admin("POST", "/reset?keep_model=0")[0], 200)
        self.assertEqual(self.c.admin("GET", "/routing-model")[1]["model"], None)
        self.set_model({"merchants": {MID_A: {"approval": {"*": 0}}}})
        self.assertEqual(self.c.admin("DELETE", "/routing-model"), (200, {"model": None, "counters": {}}))
        self.assertEqual(self.authorize("GDR-AFTER")["status"], "AUTHORIZED")

    # -------------------------------------------------------------------- `soft` trigger
    def test_soft_trigger_and_exempt_list(self):
        for signer in (None, AS_B):  # default: every merchant soft-declines
            data = self.authorize("SOFT-1", email="soft@example.com", signer=signer)
            self.assertEqual((data["status"], data["errorInformation"]["reason"],
                              data["processorInformation"]["responseCode"]), ("DECLINED", "ISSUER_UNAVAILABLE", "91"))
        status, out = self.c.admin("PUT", "/soft-decline-exempt", {"merchant_ids": [MID_B]})
        self.assertEqual((status, out), (200, {"merchant_ids": [MID_B]}))
        self.assertEqual(self.authorize("SOFT-2", email="soft+o1@example.com")["status"], "DECLINED")
        data = self.authorize("SOFT-2", email="soft+o1@example.com", signer=AS_B)  # cascade to route B
        self.assertEqual((data["status"], data["riskInformation"]["profile"]["decision"]), ("AUTHORIZED", "ACCEPT"))
        self.assertEqual([(e["merchant_id"], e["status"]) for e in self.ledger(code="SOFT-2")],
                         [(MID_A, "DECLINED"), (MID_B, "AUTHORIZED")])
        status, data = self.c.admin("PUT", "/soft-decline-exempt", {"merchant_ids": ["o2c_nobody"]})
        self.assertEqual((status, data["field"]), (400, "merchant_ids[0]"))
        self.assertEqual(self.c.admin("GET", "/soft-decline-exempt"), (200, {"merchant_ids": [MID_B]}))
        self.c.admin("POST", "/reset", {"keep_model": False})
        self.assertEqual(self.c.admin("GET", "/soft-decline-exempt"), (200, {"merchant_ids": []}))


if __name__ == "__main__":
    unittest.main()
