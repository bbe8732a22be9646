#!/usr/bin/env python3
"""Clarity eCommerce simulator: the ASSUMED "Clarity Integration API v1" (shared/connectors/CLARITY_ASSUMED.md).

Loopback only, standard library only. Speaks:

* `POST /oauth/token` — OAuth 2.0 client credentials (HTTP Basic or form fields), opaque bearer
  tokens with a configurable TTL; expired/unknown tokens → 401 `WWW-Authenticate: Bearer
  error="invalid_token"` + problem `unauthorized`; missing scope → 403 `insufficient_scope`.
* orders (E1 GET, E2 PATCH with the CLARITY_ASSUMED.md §4.5 transition rules, E3 list), customers
  (E4 PUT upsert, + GET), shipments (E5 POST with required `Idempotency-Key`, + GET), inventory
  (ASSUMED E6 `PUT|GET /api/v1/inventory/{sku}/locations/{locationId}`,
  `GET /api/v1/inventory/{sku}`); versions + `ETag: "<version>"`, `If-Match` (412; 428 where
  configured as required); `Idempotency-Key` per CLARITY_ASSUMED.md §4.7 (replay with
  `Idempotent-Replayed: true`, 422 reuse, 409 in progress); RFC 9457 problem bodies
  (CLARITY_ASSUMED.md §4.6); `X-Request-Id` echoed or minted on every response.
* a signed webhook sender (CLARITY_ASSUMED.md §4.9): `X-Clarity-*` headers, `v1=` HMAC-SHA256 over
  `timestamp + "." + raw body`, fresh timestamp/signature per attempt, retries on non-2xx or
  timeout at the configured offsets (default 0, 1, 2, 4, 8 s), every attempt recorded.
* test hooks under `/__admin/` (no auth): create orders (→ `order.created`), change status
  (→ `order.updated`), cancel (→ `order.cancelled`), request a return/refund
  (→ `return.requested`), record the returned items' receipt (→ `return.received`), emit any
  event, faults, config, state, reset.

    python3 infra/local/simulators/clarity.py [--port 4572] \
        [--secrets-file infra/local/secrets.local.json] [--webhook-url http://127.0.0.1:9000/webhooks/clarity]

Prints `clarity-sim listening on http://127.0.0.1:PORT` once it listens. See infra/README.md,
section "Clarity, NetSuite and Salesforce simulators".
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import re
import secrets as pysecrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import simkit  # noqa: E402
from simkit import AdminError, BaseSim, SimHandler, find_pan, parse_rfc3339, rfc3339  # noqa: E402

DEFAULT_PORT = 4572
PROBLEM_CT = "application/problem+json"
JSON_CT = "application/json; charset=utf-8"
ERROR_TYPE_BASE = "https://errors.clarity.example/"

STATUSES = ("pending_payment", "payment_received", "payment_failed", "on_hold", "processing", "shipped",
            "completed", "cancelled")
TRANSITIONS = {  # CLARITY_ASSUMED.md §4.5
    "pending_payment": {"payment_received", "payment_failed", "on_hold", "cancelled"},
    "payment_failed": {"pending_payment", "on_hold", "cancelled"},
    "on_hold": {"payment_received", "payment_failed", "cancelled", "pending_payment"},
    "payment_received": {"processing", "on_hold", "cancelled"},
    "processing": {"shipped", "on_hold", "cancelled"},
    "shipped": {"completed"},
    "completed": set(),
    "cancelled": set(),
}
PAYMENT_STATUSES = ("none", "authorized", "captured", "declined", "review", "voided")
PAYMENT_FIELDS = {"processor", "status", "amount", "currency", "transactionId", "reconciliationId",
                  "authorizationCode", "cardBrand", "cardLast4", "instrumentToken", "updatedAt"}
ORDER_FIELDS = {"id", "orderNumber", "status", "currency", "customer", "billingAddress", "shippingAddress",
                "lineItems", "totals", "payment", "statusReason", "metadata", "createdAt", "updatedAt", "version"}
PATCHABLE = {"status", "statusReason", "payment", "metadata"}

# scopes of CLARITY_ASSUMED.md §4.2 plus the ASSUMED read/inventory scopes; no `scope` in the
# token request = all
SCOPES = ("orders:read", "orders:write", "customers:read", "customers:write", "shipments:write",
          "inventory:read", "inventory:write")

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 412: "Precondition Failed", 413: "Content Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 428: "Precondition Required", 429: "Too Many Requests",
          500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
FAULT_CODES = {429: "rate_limited", 500: "internal", 502: "bad_gateway", 503: "unavailable", 504: "timeout",
               401: "unauthorized", 403: "insufficient_scope", 404: "not_found", 409: "conflict"}

# ISO 4217 exponents that differ from 2 (any other code: 2)
EXPONENT = {**{c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                              "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
            **{c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")}}

ROUTES = [  # (method, regex, route name, scopes: any of)
    ("POST", re.compile(r"^/oauth/token$"), "token", ()),
    ("GET", re.compile(r"^/api/v1/orders$"), "list_orders", ("orders:read",)),
    ("GET", re.compile(r"^/api/v1/orders/([^/]+)$"), "get_order", ("orders:read",)),
    ("PATCH", re.compile(r"^/api/v1/orders/([^/]+)$"), "patch_order", ("orders:write",)),
    ("GET", re.compile(r"^/api/v1/customers/([^/]+)$"), "get_customer", ("customers:read", "customers:write")),
    ("PUT", re.compile(r"^/api/v1/customers/([^/]+)$"), "put_customer", ("customers:write",)),
    ("POST", re.compile(r"^/api/v1/orders/([^/]+)/shipments$"), "create_shipment", ("shipments:write",)),
    ("GET", re.compile(r"^/api/v1/orders/([^/]+)/shipments$"), "list_shipments", ("orders:read", "shipments:write")),
    ("GET", re.compile(r"^/api/v1/orders/([^/]+)/shipments/([^/]+)$"), "get_shipment",
     ("orders:read", "shipments:write")),
    ("GET", re.compile(r"^/api/v1/inventory/([^/]+)$"), "get_inventory", ("inventory:read", "inventory:write")),
    ("GET", re.compile(r"^/api/v1/inventory/([^/]+)/locations/([^/]+)$"), "get_inventory_level",
     ("inventory:read", "inventory:write")),
    ("PUT", re.compile(r"^/api/v1/inventory/([^/]+)/locations/([^/]+)$"), "put_inventory", ("inventory:write",)),
]
ROUTE_NAMES = tuple(dict.fromkeys(r[2] for r in ROUTES))
IF_MATCH_ROUTES = ("patch_order", "put_customer", "put_inventory")
MUTATING = {"PATCH", "PUT", "POST"}


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, errors: list | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors, self.headers = status, code, detail, errors, headers or {}


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, headers: dict | None = None):
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers or {}


def validation(errors: list[tuple[str, str]] | list[dict], detail: str = "The request is not valid") -> Problem:
    errs = [e if isinstance(e, dict) else {"field": e[0], "message": e[1]} for e in errors]
    return Problem(422, "validation_failed", detail, errs)


# --------------------------------------------------------------------------------------------
# money
# --------------------------------------------------------------------------------------------

def exponent(currency: str) -> int:
    return EXPONENT.get(currency, 2)


def parse_money(value, currency: str) -> int:
    """Decimal string with exactly the currency's minor digits → integer minor units (ValueError)."""
    e = exponent(currency)
    rx = r"^-?\d{1,15}" + (r"\.\d{%d}$" % e if e else "$")
    if not isinstance(value, str) or not re.match(rx, value):
        raise ValueError(f"must be a decimal string with {e} fraction digits for {currency}")
    neg = value.startswith("-")
    whole, _, frac = value.lstrip("-").partition(".")
    minor = int(whole) * 10 ** e + (int(frac) if frac else 0)
    return -minor if neg else minor


def fmt_money(minor: int, currency: str) -> str:
    e = exponent(currency)
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if not e:
        return f"{sign}{minor}"
    return f"{sign}{minor // 10 ** e}.{minor % 10 ** e:0{e}d}"


# --------------------------------------------------------------------------------------------
# webhook signing (CLARITY_ASSUMED.md §4.9)
# --------------------------------------------------------------------------------------------

def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + raw_body, hashlib.sha256).hexdigest()


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_ok(header: str, version: int | None) -> bool:
    """RFC 9110 If-Match with strong comparison; `version None` = no current representation."""
    header = header.strip()
    if header == "*":
        return version is not None
    if version is None:
        return False
    for m in re.finditer(r'(W/)?"([^"]*)"', header):
        if not m.group(1) and m.group(2) == str(version):
            return True
    return False


# --------------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------------

class ClaritySim(BaseSim):
    name = "clarity"
    routes = ROUTE_NAMES
    config_keys = frozenset({
        "token_ttl_s", "webhook_url", "webhook_retry_schedule_s", "webhook_timeout_s", "webhook_previous_secrets",
        "emit_order_updated_on_api", "emit_inventory_updated_on_api", "require_if_match", "idempotency_ttl_s",
        "reject_card_numbers", "quiet"})

    def __init__(self, creds: dict, seed: int = 0, config: dict | None = None):
        self.creds = creds
        base = {"token_ttl_s": 3600, "webhook_url": None, "webhook_retry_schedule_s": [0, 1, 2, 4, 8],
                "webhook_timeout_s": 10, "webhook_previous_secrets": [], "emit_order_updated_on_api": False,
                "emit_inventory_updated_on_api": False, "require_if_match": [], "idempotency_ttl_s": 86400,
                "reject_card_numbers": True, "quiet": False}
        base.update(config or {})
        self.validate_config(base)
        super().__init__(seed, base)

    def validate_config(self, body: dict):
        if "token_ttl_s" in body and not (isinstance(body["token_ttl_s"], (int, float)) and body["token_ttl_s"] > 0):
            raise ValueError("token_ttl_s must be > 0")
        sched = body.get("webhook_retry_schedule_s")
        if sched is not None and not (isinstance(sched, list) and sched and all(
                isinstance(x, (int, float)) and x >= 0 for x in sched) and sched == sorted(sched)):
            raise ValueError("webhook_retry_schedule_s must be a non-empty ascending list of offsets in seconds")
        rim = body.get("require_if_match")
        if rim is not None and not (isinstance(rim, list) and set(rim) <= set(IF_MATCH_ROUTES)):
            raise ValueError(f"require_if_match must be a list drawn from {IF_MATCH_ROUTES}")
        prev = body.get("webhook_previous_secrets")
        if prev is not None and not (isinstance(prev, list) and all(isinstance(s, str) and s for s in prev)):
            raise ValueError("webhook_previous_secrets must be a list of strings")

    def reset(self, keep_faults: bool = False):
        with self.lock:
            super().reset(keep_faults)
            self.tokens: dict[str, dict] = {}
            self.orders: dict[str, dict] = {}
            self.history: dict[str, list[dict]] = {}
            self.customers: dict[str, dict] = {}
            self.shipments: dict[str, dict] = {}
            self.inventory: dict[tuple[str, str], dict] = {}
            self.returns: dict[str, dict] = {}
            self.idempotency: dict[tuple, dict] = {}
            self.deliveries: list[dict] = []
            self.events: list[dict] = []
            self.counters = {"order": 0, "shipment": 0, "return": 0, "delivery": 0, "request": 0}
            self.refused_card_numbers = 0

    def next_id(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]

    def hex_id(self, n: int = 24) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    # ---------------------------------------------------------------- tokens
    def issue_token(self, client_id: str, scopes: list[str]) -> dict:
        ttl = float(self.config["token_ttl_s"])
        tok = "clr_at_" + pysecrets.token_urlsafe(32)
        with self.lock:
            now = time.time()
            self.tokens = {k: v for k, v in self.tokens.items() if v["expires_at"] > now - 3600}
            self.tokens[tok] = {"client_id": client_id, "scopes": scopes, "issued_at": now, "expires_at": now + ttl}
        return {"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
                "scope": " ".join(scopes)}

    def token_info(self, tok: str) -> dict | None:
        with self.lock:
            info = self.tokens.get(tok)
            if info is None or info["expires_at"] <= time.time():
                return None
            return info

    # ---------------------------------------------------------------- documents
    def record_history(self, oid: str, frm, to, reason, source: str, version: int):
        self.history.setdefault(oid, []).append({"at": rfc3339(ms=True), "from": frm, "to": to, "reason": reason,
                                                 "source": source, "version": version})

    def build_order(self, spec: dict) -> dict:
        n = self.next_id("order")
        oid = str(spec.get("id") or f"ORD-{1000 + n}")
        if oid in self.orders:
            raise AdminError(409, f"order {oid} exists")
        cur = str(spec.get("currency") or "USD")
        if not re.match(r"^[A-Z]{3}$", cur):
            raise AdminError(400, "currency must be ISO 4217 alpha-3")
        now = rfc3339()
        cust = {"id": f"CUST-{n}", "email": f"buyer{n}@example.test", "firstName": "Pat", "lastName": "Buyer"}
        cust.update(spec.get("customer") or {})
        addr = {"firstName": cust.get("firstName") or "Pat", "lastName": cust.get("lastName") or "Buyer",
                "line1": "1 Main St", "city": "Austin", "region": "TX", "postalCode": "78701", "countryCode": "US",
                "email": cust.get("email")}
        billing = {**addr, **(spec.get("billingAddress") or {})}
        lines_in = spec.get("lineItems") or [{"sku": "SKU-MUG-RED", "name": "Red mug", "quantity": 2,
                                              "unitPrice": fmt_money(1250 * 10 ** exponent(cur) // 100, cur),
                                              "taxTotal": fmt_money(200 * 10 ** exponent(cur) // 100, cur)}]
        zero = fmt_money(0, cur)
        lines, sub, disc, tax = [], 0, 0, 0
        try:
            for i, li in enumerate(lines_in, 1):
                li = dict(li)
                li.setdefault("id", f"{oid}-L{i}")
                li.setdefault("sku", f"SKU-{i}")
                li.setdefault("name", li["sku"])
                li.setdefault("quantity", 1)
                li.setdefault("unitPrice", zero)
                li.setdefault("discountTotal", zero)
                li.setdefault("taxTotal", zero)
                q = int(li["quantity"])
                up, d, t = (parse_money(li[k], cur) for k in ("unitPrice", "discountTotal", "taxTotal"))
                li.setdefault("lineTotal", fmt_money(q * up - d + t, cur))
                sub, disc, tax = sub + q * up, disc + d, tax + t
                order_keys = ("id", "sku", "name", "quantity", "unitPrice", "discountTotal", "taxTotal", "lineTotal")
                lines.append({**{k: li[k] for k in order_keys}, **li})
            ship = parse_money(spec.get("shippingTotal") or zero, cur)
        except ValueError as e:
            raise AdminError(400, f"money: {e}") from None
        totals = spec.get("totals") or {"subtotal": fmt_money(sub, cur), "discountTotal": fmt_money(disc, cur),
                                        "shippingTotal": fmt_money(ship, cur), "taxTotal": fmt_money(tax, cur),
                                        "grandTotal": fmt_money(sub - disc + ship + tax, cur)}
        status = spec.get("status") or "pending_payment"
        if status not in STATUSES:
            raise AdminError(400, f"status must be one of {STATUSES}")
        payment = {"processor": "cybersource", "status": "none"}
        payment.update(spec.get("payment") or {})
        order = {"id": oid, "orderNumber": str(spec.get("orderNumber") or 100000 + n), "status": status,
                 "currency": cur,
                 "customer": {k: cust[k] for k in ("id", "email", "firstName", "lastName") if cust.get(k) is not None},
                 "billingAddress": billing}
        if spec.get("shippingAddress", {}) not in (None, False):  # null/false: no shipping address
            order["shippingAddress"] = {**billing, **(spec.get("shippingAddress") or {})}
        order.update({"lineItems": lines, "totals": totals, "payment": payment})
        if spec.get("statusReason"):
            order["statusReason"] = spec["statusReason"]
        order["metadata"] = dict(spec.get("metadata") or {})
        order.update({"createdAt": now, "updatedAt": now, "version": 1})
        return order

    def upsert_customer_doc(self, cid: str, doc: dict) -> tuple[dict, bool, bool]:
        """(customer, created, changed)"""
        now = rfc3339()
        cur = self.customers.get(cid)
        content = {k: v for k, v in doc.items() if k not in ("createdAt", "updatedAt", "version") and v is not None}
        content["id"] = cid
        if cur is None:
            c = {**content, "createdAt": now, "updatedAt": now, "version": 1}
            self.customers[cid] = c
            return c, True, True
        old = {k: v for k, v in cur.items() if k not in ("createdAt", "updatedAt", "version")}
        if old == content:
            return cur, False, False
        c = {**content, "createdAt": cur["createdAt"], "updatedAt": now, "version": cur["version"] + 1}
        self.customers[cid] = c
        return c, False, True

    def order_view(self, oid: str) -> dict:
        o = self.orders[oid]
        return {"order": o, "statusHistory": self.history.get(oid, []),
                "shipments": [s for s in self.shipments.values() if s["orderId"] == oid],
                "returns": [r for r in self.returns.values() if r["orderId"] == oid]}

    def shipped_qty(self, oid: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.shipments.values():
            if s["orderId"] == oid:
                for ln in s["lines"]:
                    out[ln["lineItemId"]] = out.get(ln["lineItemId"], 0) + ln["quantity"]
        return out

    def state(self) -> dict:
        now = time.time()
        return {
            "orders": [self.order_view(oid) for oid in self.orders],
            "customers": list(self.customers.values()),
            "shipments": list(self.shipments.values()),
            "inventory": list(self.inventory.values()),
            "returns": list(self.returns.values()),
            "webhooks": [self.delivery_view(d) for d in self.deliveries],
            "idempotency": [{"clientId": k[0], "method": k[1], "path": k[2], "key": k[3], "state": v["state"],
                             "status": v.get("status")} for k, v in self.idempotency.items()],
            "tokens": {"live": sum(1 for t in self.tokens.values() if t["expires_at"] > now),
                       "expired": sum(1 for t in self.tokens.values() if t["expires_at"] <= now)},
            "refusedCardNumbers": self.refused_card_numbers,
            "faultLog": list(self.fault_log),
            "config": dict(self.config),
        }

    # ---------------------------------------------------------------- webhooks
    def envelope(self, etype: str, payload: dict, event_id: str | None = None) -> dict:
        return {"id": event_id or f"evt_{self.hex_id()}", "type": etype, "occurredAt": rfc3339(), "payload": payload}

    @staticmethod
    def delivery_view(d: dict) -> dict:
        return {k: d[k] for k in ("deliveryId", "eventId", "type", "url", "state", "tamper", "createdAt", "attempts",
                                  "body")}

    def queue_event(self, env: dict, url: str | None = None, tamper: str | None = None,
                    repeat: int = 1) -> list[dict]:
        """Record the event and create its delivery records (call under the lock; send with start_deliveries)."""
        if tamper not in (None, "bad_signature", "stale_timestamp", "future_timestamp", "id_mismatch",
                          "no_signature", "wrong_secret"):
            raise AdminError(400, "tamper must be bad_signature, stale_timestamp, future_timestamp, id_mismatch, "
                                  "no_signature or wrong_secret")
        body = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
        self.events.append({"id": env["id"], "type": env["type"], "occurredAt": env["occurredAt"]})
        out = []
        for _ in range(max(1, int(repeat))):
            d = {"deliveryId": f"dlv_{self.next_id('delivery')}", "eventId": env["id"], "type": env["type"],
                 "url": url or self.config.get("webhook_url"), "state": "pending", "tamper": tamper,
                 "createdAt": rfc3339(ms=True), "attempts": [], "body": body, "generation": self.generation}
            if not d["url"]:
                d["state"] = "no_target"
            self.deliveries.append(d)
            out.append(d)
        return out

    def start_deliveries(self, ds: list[dict], sync: bool = False):
        todo = [d for d in ds if d["state"] == "pending"]

        def run():
            for d in todo:
                self.deliver(d)
        if not todo:
            return
        if sync:
            run()
        else:
            threading.Thread(target=run, daemon=True, name=f"clarity-webhook-{todo[0]['eventId']}").start()

    def signed_headers(self, d: dict, attempt: int) -> tuple[dict, str, str]:
        secret = self.creds["webhook_secret"]
        now = int(time.time())
        tamper = d["tamper"]
        ts = str(now - 600 if tamper == "stale_timestamp" else now + 600 if tamper == "future_timestamp" else now)
        raw = d["body"].encode("utf-8")
        if tamper == "wrong_secret":
            secret = secret + "-wrong"
        sig = sign(secret, ts, raw)
        if tamper == "bad_signature":
            sig = sig[:-4] + ("0000" if not sig.endswith("0000") else "ffff")
        entries = [f"v1={sig}"] + [f"v1={sign(s, ts, raw)}" for s in self.config.get("webhook_previous_secrets") or []]
        header = ",".join(entries)
        h = {"Content-Type": "application/json; charset=utf-8",
             "X-Clarity-Event-Id": d["eventId"] + ("-mismatch" if tamper == "id_mismatch" else ""),
             "X-Clarity-Event-Type": d["type"], "X-Clarity-Timestamp": ts,
             "X-Clarity-Delivery-Attempt": str(attempt), "User-Agent": "clarity-sim-webhooks/1.0"}
        if tamper != "no_signature":
            h["X-Clarity-Signature"] = header
        return h, ts, header

    def deliver(self, d: dict):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        schedule = list(self.config.get("webhook_retry_schedule_s") or [0])
        timeout = float(self.config.get("webhook_timeout_s", 10))
        start = time.monotonic()
        raw = d["body"].encode("utf-8")
        for i, offset in enumerate(schedule):
            wait = start + float(offset) - time.monotonic()
            if wait > 0 and self.stopping.wait(wait):
                d["state"] = "aborted"
                return
            if self.stopping.is_set() or d["generation"] != self.generation:
                d["state"] = "aborted"
                return
            headers, ts, sig = self.signed_headers(d, i + 1)
            rec = {"attempt": i + 1, "at": rfc3339(ms=True), "timestamp": ts, "signature": sig, "status": None,
                   "error": None}
            t0 = time.monotonic()
            try:
                req = urllib.request.Request(d["url"], data=raw, method="POST", headers=headers)
                with opener.open(req, timeout=timeout) as resp:
                    rec["status"] = resp.status
                    resp.read()
            except urllib.error.HTTPError as e:
                rec["status"] = e.code
                try:
                    e.read()
                except OSError:
                    pass
            except (OSError, ValueError) as e:
                rec["error"] = f"{type(e).__name__}: {e}"
            rec["durationMs"] = int((time.monotonic() - t0) * 1000)
            with self.lock:
                d["attempts"].append(rec)
            if rec["status"] is not None and 200 <= rec["status"] < 300:
                d["state"] = "delivered"
                return
        d["state"] = "failed"

    # ---------------------------------------------------------------- idempotency
    def idem_begin(self, key: tuple, fingerprint: str):
        """None → go ahead (reserved); else (status, headers, body) to answer directly."""
        with self.lock:
            now = time.time()
            ttl = float(self.config.get("idempotency_ttl_s", 86400))
            rec = self.idempotency.get(key)
            if rec and rec["created"] + ttl <= now:
                rec = None
            if rec is None:
                self.idempotency[key] = {"fingerprint": fingerprint, "state": "in_progress", "created": now}
                return None
            if rec["fingerprint"] != fingerprint:
                raise Problem(422, "idempotency_key_reuse",
                              "This Idempotency-Key was already used with a different request body")
            if rec["state"] == "in_progress":
                raise Problem(409, "idempotency_in_progress",
                              "A request with this Idempotency-Key is still being processed", headers={"Retry-After": "1"})
            return rec["status"], dict(rec["headers"]), rec["body"]

    def idem_finish(self, key: tuple, status: int, headers: dict, body: bytes | None):
        with self.lock:
            rec = self.idempotency.get(key)
            if rec is None:
                return
            if 200 <= status < 300:
                rec.update(state="done", status=status, headers=headers, body=body)
            else:  # failures are not stored: a retry with the same key runs again (ASSUMED)
                del self.idempotency[key]


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

class ClarityHandler(SimHandler):
    server_version = "clarity-sim/1.0"
    sim: ClaritySim

    # ---------------------------------------------------------------- responses
    def request_id(self) -> str:
        if not getattr(self, "_rid", None):
            rid = self.headers.get("X-Request-Id")
            self._rid = rid if rid and len(rid) <= 200 and rid.isprintable() else f"req_{pysecrets.token_hex(8)}"
        return self._rid

    def reply(self, status: int, obj, headers: dict | None = None, content_type: str = JSON_CT):
        data = None if obj is None else json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        self.send(status, data, content_type, {"X-Request-Id": self.request_id(), **(headers or {})})

    def problem_bytes(self, p: Problem) -> bytes:
        body = {"type": ERROR_TYPE_BASE + p.code, "title": TITLES.get(p.status, "Error"), "status": p.status,
                "detail": p.detail, "code": p.code, "requestId": self.request_id()}
        if p.errors:
            body["errors"] = p.errors
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def send_problem(self, p: Problem):
        self.send(p.status, self.problem_bytes(p), PROBLEM_CT, {"X-Request-Id": self.request_id(), **p.headers})

    def fault_problem(self, rule) -> Problem:
        code = FAULT_CODES.get(rule.status, "internal" if rule.status >= 500 else "injected_fault")
        headers = {}
        ra = rule.retry_after_header()
        if ra is not None:
            headers["Retry-After"] = ra
        if rule.status == 429:
            headers.update({"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": ra or "1"})
        if rule.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="clarity", error="invalid_token"'
        return Problem(rule.status, code, "Injected fault (simulator)", headers=headers)

    # ---------------------------------------------------------------- dispatch
    def handle_api(self, split, raw: bytes):
        sim = self.sim
        method = self.command
        path = split.path
        self._rid = None  # one handler serves every request of a keep-alive connection
        route = None
        allowed_methods = set()
        for m, rx, name, scopes in ROUTES:
            mt = rx.match(path)
            if mt:
                allowed_methods.add(m)
                if m == method:
                    route = (name, [urllib.parse.unquote(g) for g in mt.groups()], scopes)
                    break
        try:
            if route is None:
                if allowed_methods:
                    raise Problem(405, "method_not_allowed", f"{method} is not allowed here",
                                  headers={"Allow": ", ".join(sorted(allowed_methods))})
                raise Problem(404, "not_found", f"No resource at {path}")
            name, args, scopes = route
            if name == "token":
                self.token_endpoint(raw)
                return
            principal = self.authenticate(scopes)
            rule, outcome = sim.roll_fault(name)
            if outcome == "error":
                self.fault_latency(rule)
                raise self.fault_problem(rule)
            if len(raw) > 1024 * 1024:
                raise Problem(413, "payload_too_large", "Request bodies are limited to 1 MiB")
            body = None
            if method in MUTATING:
                try:
                    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                except (ValueError, UnicodeDecodeError):
                    raise Problem(400, "validation_failed", "The request body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise Problem(400, "validation_failed", "The request body must be a JSON object")
            key = self.headers.get("Idempotency-Key")
            if key is not None and method in MUTATING:
                if not (1 <= len(key) <= 255 and all(0x20 <= ord(c) <= 0x7E for c in key)):
                    raise Problem(400, "validation_failed", "Idempotency-Key must be 1-255 printable ASCII characters",
                                  [{"field": "Idempotency-Key", "message": "1-255 printable ASCII characters"}])
            elif name == "create_shipment":
                raise Problem(400, "validation_failed", "Idempotency-Key header is required",
                              [{"field": "Idempotency-Key", "message": "required"}])
            idem_key = None
            if key is not None and method in MUTATING:
                idem_key = (principal["client_id"], method, path, key)
                replay = sim.idem_begin(idem_key, hashlib.sha256(raw).hexdigest())
                if replay is not None:
                    status, headers, data = replay
                    self.send(status, data, headers.pop("Content-Type", JSON_CT),
                              {"X-Request-Id": self.request_id(), **headers, "Idempotent-Replayed": "true"})
                    return
        except Problem as p:
            self.send_problem(p)
            return

        # the effect
        self.fault_latency(rule)
        deliveries: list[dict] = []
        try:
            with sim.lock:
                status, obj, headers, deliveries = getattr(self, "op_" + name)(*args, body=body)
            ctype, data = JSON_CT, (None if obj is None else
                                    json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
        except Problem as p:
            status, headers, ctype, data = p.status, p.headers, PROBLEM_CT, self.problem_bytes(p)
        except BaseException:
            if idem_key:
                sim.idem_finish(idem_key, 500, {}, None)
            raise
        if idem_key:
            sim.idem_finish(idem_key, status, {**headers, "Content-Type": ctype}, data)
        sim.start_deliveries(deliveries)
        if outcome == "lost":
            self.lose_response(rule, lambda: self.send_problem(
                Problem(502, "bad_gateway", "Injected fault: the change was applied but the answer was lost")))
            return
        self.send(status, data, ctype, {"X-Request-Id": self.request_id(), **headers})

    # ---------------------------------------------------------------- auth
    def token_endpoint(self, raw: bytes):
        sim = self.sim
        try:
            rule, outcome = sim.roll_fault("token")
            if outcome == "error":
                self.fault_latency(rule)
                p = self.fault_problem(rule)
                raise OAuthError(p.status, "temporarily_unavailable" if p.status >= 500 else "invalid_request",
                                 "Injected fault (simulator)", p.headers)
            self.fault_latency(rule)
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            try:
                form = urllib.parse.parse_qs(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(400, "invalid_request", "malformed form body") from None
            if any(len(v) > 1 for v in form.values()):
                raise OAuthError(400, "invalid_request", "repeated parameter")
            form = {k: v[0] for k, v in form.items()}
            if not form.get("grant_type"):
                raise OAuthError(400, "invalid_request", "grant_type is required")
            basic = self.headers.get("Authorization") or ""
            cid = csecret = None
            if basic[:6].lower() == "basic ":
                try:
                    dec = base64.b64decode(basic[6:].strip(), validate=True).decode("utf-8")
                    cid, _, csecret = dec.partition(":")
                    cid, csecret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(csecret)
                except (ValueError, UnicodeDecodeError):
                    raise OAuthError(401, "invalid_client", "malformed Basic credentials",
                                     {"WWW-Authenticate": 'Basic realm="clarity"'}) from None
                if "client_secret" in form:
                    raise OAuthError(400, "invalid_request", "use one client authentication method, not two")
            elif "client_id" in form:
                cid, csecret = form.get("client_id"), form.get("client_secret", "")
            if not cid or not (hmac.compare_digest(cid.encode(), sim.creds["client_id"].encode())
                               and hmac.compare_digest((csecret or "").encode(), sim.creds["client_secret"].encode())):
                raise OAuthError(401, "invalid_client", "client authentication failed",
                                 {"WWW-Authenticate": 'Basic realm="clarity"'})
            if form["grant_type"] != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
            requested = form.get("scope", "").split()
            bad = [s for s in requested if s not in SCOPES]
            if bad:
                raise OAuthError(400, "invalid_scope", f"unknown scope(s): {' '.join(bad)}")
            tok = sim.issue_token(cid, requested or list(SCOPES))
            if outcome == "lost":
                self.lose_response(rule, lambda: self.reply(502, {"error": "temporarily_unavailable"}))
                return
            self.reply(200, tok, {"Cache-Control": "no-store", "Pragma": "no-cache"})
        except OAuthError as e:
            self.reply(e.status, {"error": e.error, "error_description": e.description},
                       {"Cache-Control": "no-store", **e.headers})

    def authenticate(self, scopes: tuple[str, ...]) -> dict:
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            raise Problem(401, "unauthorized", "A bearer token is required",
                          headers={"WWW-Authenticate": 'Bearer realm="clarity"'})
        info = self.sim.token_info(auth[7:].strip())
        if info is None:
            raise Problem(401, "unauthorized", "The access token is expired or invalid",
                          headers={"WWW-Authenticate": 'Bearer realm="clarity", error="invalid_token", '
                                                       'error_description="The access token is expired or invalid"'})
        if scopes and not set(scopes) & set(info["scopes"]):
            raise Problem(403, "insufficient_scope", f"This call needs scope {' or '.join(scopes)}",
                          headers={"WWW-Authenticate": f'Bearer realm="clarity", error="insufficient_scope", '
                                                       f'scope="{scopes[0]}"'})
        return info

    # ---------------------------------------------------------------- helpers
    def check_if_match(self, route: str, version: int | None):
        inm = self.headers.get("If-None-Match")
        if inm is not None and inm.strip() == "*" and version is not None:
            raise Problem(412, "precondition_failed", "If-None-Match: * but the resource exists")
        hdr = self.headers.get("If-Match")
        if hdr is None:
            if version is not None and route in (self.sim.config.get("require_if_match") or []):
                raise Problem(428, "precondition_required", "This call requires an If-Match header")
            return
        if not if_match_ok(hdr, version):
            raise Problem(412, "precondition_failed",
                          f"If-Match {hdr} does not match the current version"
                          + (f' ("{version}")' if version is not None else " (no such resource)"))

    def check_card(self, body):
        if self.sim.config.get("reject_card_numbers", True):
            hit = find_pan(body)
            if hit:
                self.sim.refused_card_numbers += 1
                raise validation([(hit, "looks like a card number (PAN); send a token instead")],
                                 "Card numbers are not accepted")

    def emit(self, etype: str, payload: dict) -> list[dict]:
        return self.sim.queue_event(self.sim.envelope(etype, payload))

    # ---------------------------------------------------------------- orders
    def op_get_order(self, oid, body=None):
        o = self.sim.orders.get(oid)
        if o is None:
            raise Problem(404, "not_found", f"Order {oid} not found")
        return 200, o, {"ETag": etag(o["version"])}, []

    def op_list_orders(self, body=None):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        one = {k: v[-1] for k, v in q.items()}
        errors = []
        status = one.get("status")
        if status is not None and status not in STATUSES:
            errors.append(("status", f"must be one of {', '.join(STATUSES)}"))
        since = None
        if "updatedSince" in one:
            since = parse_rfc3339(one["updatedSince"])
            if since is None:
                errors.append(("updatedSince", "must be an RFC 3339 timestamp"))
        try:
            limit = int(one.get("limit", 50))
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            errors.append(("limit", "must be an integer 1-100"))
            limit = 50
        after = None
        if one.get("cursor"):
            try:
                c = json.loads(base64.urlsafe_b64decode(one["cursor"] + "=" * (-len(one["cursor"]) % 4)))
                after = (str(c["u"]), str(c["i"]))
            except (ValueError, KeyError, TypeError):
                errors.append(("cursor", "invalid cursor"))
        if errors:
            raise Problem(400, "validation_failed", "Invalid query parameters",
                          [{"field": f, "message": m} for f, m in errors])
        rows = sorted(self.sim.orders.values(), key=lambda o: (o["updatedAt"], o["id"]))
        rows = [o for o in rows if (status is None or o["status"] == status)
                and (since is None or parse_rfc3339(o["updatedAt"]) >= since)
                and (after is None or (o["updatedAt"], o["id"]) > after)]
        page, more = rows[:limit], len(rows) > limit
        cursor = None
        if more:
            last = page[-1]
            cursor = base64.urlsafe_b64encode(json.dumps({"u": last["updatedAt"], "i": last["id"]}).encode()) \
                .decode().rstrip("=")
        return 200, {"data": page, "nextCursor": cursor}, {}, []

    def op_patch_order(self, oid, body):
        sim = self.sim
        o = sim.orders.get(oid)
        if o is None:
            raise Problem(404, "not_found", f"Order {oid} not found")
        self.check_if_match("patch_order", o["version"])
        errors = [(k, "read-only") for k in body if k in ORDER_FIELDS and k not in PATCHABLE]
        if not any(k in body for k in PATCHABLE):
            errors.append(("", "at least one of status, statusReason, payment, metadata is required"))
        if "status" in body and body["status"] not in STATUSES:
            errors.append(("status", f"must be one of {', '.join(STATUSES)}"))
        if "statusReason" in body and body["statusReason"] is not None and not isinstance(body["statusReason"], str):
            errors.append(("statusReason", "must be a string or null"))
        pay = body.get("payment")
        if "payment" in body:
            if not isinstance(pay, dict):
                errors.append(("payment", "must be an object"))
            else:
                for k, v in pay.items():
                    if k not in PAYMENT_FIELDS or v is None:
                        continue
                    if not isinstance(v, str):
                        errors.append((f"payment.{k}", "must be a string"))
                if pay.get("processor") not in (None, "cybersource"):
                    errors.append(("payment.processor", "must be cybersource"))
                if "status" in pay and pay["status"] not in PAYMENT_STATUSES:
                    errors.append(("payment.status", f"must be one of {', '.join(PAYMENT_STATUSES)}"))
                cur = pay.get("currency") or (o.get("payment") or {}).get("currency") or o["currency"]
                if pay.get("currency") is not None and not re.match(r"^[A-Z]{3}$", str(pay["currency"])):
                    errors.append(("payment.currency", "must be ISO 4217 alpha-3"))
                elif pay.get("amount") is not None:
                    try:
                        if parse_money(pay["amount"], cur) < 0:
                            errors.append(("payment.amount", "must not be negative"))
                    except ValueError as e:
                        errors.append(("payment.amount", str(e)))
                if pay.get("updatedAt") is not None and parse_rfc3339(pay["updatedAt"]) is None:
                    errors.append(("payment.updatedAt", "must be an RFC 3339 timestamp"))
                if pay.get("cardLast4") is not None and not re.match(r"^\d{4}$", str(pay["cardLast4"])):
                    errors.append(("payment.cardLast4", "must be 4 digits"))
        md = body.get("metadata")
        if "metadata" in body and not (isinstance(md, dict) and all(
                isinstance(v, str) or v is None for v in md.values())):
            errors.append(("metadata", "must be an object of string values"))
        if errors:
            raise validation(errors)
        self.check_card({k: body[k] for k in PATCHABLE if k in body})
        new = copy.deepcopy(o)
        frm, to = o["status"], body.get("status", o["status"])
        if to != frm:
            if to not in TRANSITIONS[frm]:
                raise Problem(409, "invalid_status_transition", f"Order {oid} cannot go from {frm} to {to}")
            new["status"] = to
            new.pop("statusReason", None)
        if "statusReason" in body:
            if body["statusReason"] is None:
                new.pop("statusReason", None)
            else:
                new["statusReason"] = body["statusReason"]
        if isinstance(pay, dict):
            merged = dict(new.get("payment") or {"processor": "cybersource", "status": "none"})
            for k, v in pay.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            merged.setdefault("processor", "cybersource")
            merged.setdefault("status", "none")
            new["payment"] = merged
        if isinstance(md, dict):
            meta = dict(new.get("metadata") or {})
            for k, v in md.items():
                if v is None:
                    meta.pop(k, None)
                else:
                    meta[k] = v
            new["metadata"] = meta
        if new == o:  # nothing changed: a no-op, version kept
            return 200, o, {"ETag": etag(o["version"])}, []
        changed = sorted(k for k in set(new) | set(o) if new.get(k) != o.get(k))
        new["version"] = o["version"] + 1
        new["updatedAt"] = rfc3339()
        sim.orders[oid] = new
        if "status" in changed:
            sim.record_history(oid, frm, to, new.get("statusReason"), "api", new["version"])
        ds = []
        if sim.config.get("emit_order_updated_on_api"):
            ds = self.emit("order.updated", {"order": new, "changedFields": changed})
        return 200, new, {"ETag": etag(new["version"])}, ds

    # ---------------------------------------------------------------- customers
    def op_get_customer(self, cid, body=None):
        c = self.sim.customers.get(cid)
        if c is None:
            raise Problem(404, "not_found", f"Customer {cid} not found")
        return 200, c, {"ETag": etag(c["version"])}, []

    def op_put_customer(self, cid, body):
        sim = self.sim
        cur = sim.customers.get(cid)
        self.check_if_match("put_customer", cur["version"] if cur else None)
        errors = []
        if body.get("id") is not None and body["id"] != cid:
            errors.append(("id", "must equal the id in the path or be omitted"))
        if not (isinstance(body.get("email"), str) and re.match(r"^[^@\s]+@[^@\s]+$", body["email"])):
            errors.append(("email", "required, an e-mail address"))
        for f in ("firstName", "lastName"):
            if not (isinstance(body.get(f), str) and body[f].strip()):
                errors.append((f, "required"))
        for f in ("company", "phone"):
            if body.get(f) is not None and not isinstance(body[f], str):
                errors.append((f, "must be a string"))
        for f in ("billingAddress", "shippingAddress"):
            if body.get(f) is not None:
                errors += address_errors(body[f], f)
        ext = body.get("externalIds")
        if ext is not None and not (isinstance(ext, dict) and all(
                k in ("erp", "crm") and (v is None or isinstance(v, str)) for k, v in ext.items())):
            errors.append(("externalIds", "object with optional string members erp, crm"))
        if errors:
            raise validation(errors)
        self.check_card(body)
        known = {"email", "firstName", "lastName", "company", "phone", "billingAddress", "shippingAddress",
                 "externalIds"}
        doc = {k: v for k, v in body.items() if k in known}
        if isinstance(ext, dict):
            doc["externalIds"] = {k: v for k, v in ext.items() if v is not None}
        c, created, changed = sim.upsert_customer_doc(cid, doc)
        ds = []
        headers = {"ETag": etag(c["version"])}
        if created:
            headers["Location"] = f"/api/v1/customers/{urllib.parse.quote(cid, safe='')}"
        return (201 if created else 200), c, headers, ds

    # ---------------------------------------------------------------- shipments
    def op_create_shipment(self, oid, body):
        sim = self.sim
        o = sim.orders.get(oid)
        if o is None:
            raise Problem(404, "not_found", f"Order {oid} not found")
        errors = []
        for f in ("carrier", "trackingNumber"):
            if not (isinstance(body.get(f), str) and body[f].strip()):
                errors.append((f, "required"))
        for f in ("service", "trackingUrl"):
            if body.get(f) is not None and not isinstance(body[f], str):
                errors.append((f, "must be a string"))
        if parse_rfc3339(body.get("shippedAt")) is None:
            errors.append(("shippedAt", "required, an RFC 3339 timestamp"))
        lines = body.get("lines")
        ordered = {li["id"]: int(li.get("quantity", 0)) for li in o["lineItems"]}
        already = sim.shipped_qty(oid)
        want: dict[str, int] = {}
        if not (isinstance(lines, list) and lines):
            errors.append(("lines", "at least one line is required"))
        else:
            for i, ln in enumerate(lines):
                if not isinstance(ln, dict):
                    errors.append((f"lines[{i}]", "must be an object"))
                    continue
                lid, q = ln.get("lineItemId"), ln.get("quantity")
                if lid not in ordered:
                    errors.append((f"lines[{i}].lineItemId", "no such line item on the order"))
                if not (isinstance(q, int) and not isinstance(q, bool) and q >= 1):
                    errors.append((f"lines[{i}].quantity", "must be an integer >= 1"))
                elif lid in ordered:
                    want[lid] = want.get(lid, 0) + q
            for lid, q in want.items():
                if already.get(lid, 0) + q > ordered[lid]:
                    errors.append(("lines", f"line {lid}: {already.get(lid, 0)} shipped + {q} exceeds ordered "
                                            f"{ordered[lid]}"))
        if errors:
            raise validation(errors)
        sid = f"SHP-{sim.next_id('shipment')}"
        s = {"id": sid, "orderId": oid, "carrier": body["carrier"]}
        for f in ("service",):
            if body.get(f) is not None:
                s[f] = body[f]
        s["trackingNumber"] = body["trackingNumber"]
        if body.get("trackingUrl") is not None:
            s["trackingUrl"] = body["trackingUrl"]
        s.update({"shippedAt": body["shippedAt"],
                  "lines": [{"lineItemId": ln["lineItemId"], "quantity": ln["quantity"]} for ln in lines],
                  "createdAt": rfc3339()})
        sim.shipments[sid] = s
        loc = f"/api/v1/orders/{urllib.parse.quote(oid, safe='')}/shipments/{sid}"
        return 201, s, {"Location": loc}, []

    def op_list_shipments(self, oid, body=None):
        if oid not in self.sim.orders:
            raise Problem(404, "not_found", f"Order {oid} not found")
        return 200, {"data": [s for s in self.sim.shipments.values() if s["orderId"] == oid]}, {}, []

    def op_get_shipment(self, oid, sid, body=None):
        s = self.sim.shipments.get(sid)
        if s is None or s["orderId"] != oid:
            raise Problem(404, "not_found", f"Shipment {sid} not found on order {oid}")
        return 200, s, {}, []

    # ---------------------------------------------------------------- inventory (ASSUMED E6)
    def op_get_inventory(self, sku, body=None):
        levels = [v for (s, _), v in self.sim.inventory.items() if s == sku]
        if not levels:
            raise Problem(404, "not_found", f"No inventory for sku {sku}")
        return 200, {"sku": sku, "locations": levels}, {}, []

    def op_get_inventory_level(self, sku, loc, body=None):
        lv = self.sim.inventory.get((sku, loc))
        if lv is None:
            raise Problem(404, "not_found", f"No inventory for sku {sku} at {loc}")
        return 200, lv, {"ETag": etag(lv["version"])}, []

    def op_put_inventory(self, sku, loc, body):
        sim = self.sim
        cur = sim.inventory.get((sku, loc))
        self.check_if_match("put_inventory", cur["version"] if cur else None)
        errors = inventory_errors(body, sku, loc)
        if errors:
            raise validation(errors)
        lv, created, changed = set_inventory(sim, sku, loc, body["quantityOnHand"],
                                             body.get("quantityAvailable", body["quantityOnHand"]))
        ds = []
        if changed and sim.config.get("emit_inventory_updated_on_api"):
            ds = self.emit("inventory.updated", inventory_payload(lv))
        return (201 if created else 200), lv, {"ETag": etag(lv["version"])}, ds

    # ---------------------------------------------------------------- admin
    def route_admin(self, method, path, query, body):
        sim = self.sim
        parts = path.split("/")[2:]  # after /__admin
        send_opts = {"url": body.get("url"), "tamper": body.get("tamper"), "repeat": int(body.get("repeat", 1))}
        sync = bool(body.get("sync", False))

        def emit(etype, payload, event_id=None):
            env = sim.envelope(etype, payload, event_id)
            return sim.queue_event(env, **send_opts)

        def done(status, obj, ds):
            sim.start_deliveries(ds, sync=sync)
            with sim.lock:
                if ds:
                    obj["webhook"] = {"eventId": ds[0]["eventId"], "type": ds[0]["type"],
                                      "deliveries": [sim.delivery_view(d) for d in ds]}
            return status, obj

        if parts == ["tokens"] and method == "GET":
            now = time.time()
            with sim.lock:
                return 200, {"tokens": [{"token": t[:12] + "…", "clientId": v["client_id"], "scopes": v["scopes"],
                                         "expiresIn": round(v["expires_at"] - now, 3)} for t, v in sim.tokens.items()]}
        if parts == ["tokens", "expire"] and method == "POST":
            with sim.lock:
                hit = [t for t in sim.tokens if body.get("token") in (None, t)]
                for t in hit:
                    sim.tokens[t]["expires_at"] = time.time() - 1
            return 200, {"expired": len(hit)}
        if parts == ["orders"] and method == "POST":
            with sim.lock:
                order = sim.build_order(body)
                sim.orders[order["id"]] = order
                sim.record_history(order["id"], None, order["status"], order.get("statusReason"), "admin-create", 1)
                if body.get("createCustomer", True) and order["customer"]["id"] not in sim.customers:
                    c = order["customer"]
                    sim.upsert_customer_doc(c["id"], {"email": c.get("email"), "firstName": c.get("firstName"),
                                                      "lastName": c.get("lastName"),
                                                      "billingAddress": order["billingAddress"]})
                ds = emit("order.created", {"order": order}, body.get("eventId")) if body.get("emit", True) else []
            return done(201, {"order": order}, ds)
        if parts == ["orders"] and method == "GET":
            with sim.lock:
                return 200, {"orders": [sim.order_view(o) for o in sim.orders]}
        if len(parts) >= 2 and parts[0] == "orders":
            oid = urllib.parse.unquote(parts[1])
            with sim.lock:
                if oid not in sim.orders:
                    raise AdminError(404, f"no order {oid}")
                o = sim.orders[oid]
                if len(parts) == 2 and method == "GET":
                    return 200, sim.order_view(oid)
                if parts[2:] == ["status"] and method == "POST":
                    to = body.get("status")
                    if to not in STATUSES:
                        raise AdminError(400, f"status must be one of {STATUSES}")
                    if to != o["status"] and to not in TRANSITIONS[o["status"]] and not body.get("force"):
                        raise AdminError(409, f"{o['status']} -> {to} is not allowed (force: true overrides)")
                    new = self.admin_set_status(o, to, body.get("reason"), "admin")
                    ds = []
                    if new is not o and body.get("emit", True):
                        ds = emit("order.updated", {"order": new, "changedFields": ["status", "statusReason"]})
                    return done(200, {"order": new}, ds)
                if parts[2:] == ["cancel"] and method == "POST":
                    if o["status"] != "cancelled" and "cancelled" not in TRANSITIONS[o["status"]] \
                            and not body.get("force"):
                        raise AdminError(409, f"{o['status']} -> cancelled is not allowed (force: true overrides)")
                    reason = body.get("reason", "customer_request")
                    new = self.admin_set_status(o, "cancelled", reason, "admin-cancel")
                    ds = []
                    if body.get("emit", True):
                        ds = emit("order.cancelled", {"order": new, "reason": reason,
                                                      "cancelledBy": body.get("cancelledBy", "customer")})
                    return done(200, {"order": new}, ds)
                if parts[2:] == ["returns"] and method == "POST":
                    ret = self.admin_return(o, body)
                    ds = emit("return.requested", {"return": ret, "order": o}) if body.get("emit", True) else []
                    return done(201, {"return": ret}, ds)
                if len(parts) == 5 and parts[2] == "returns" and parts[4] == "receive" and method == "POST":
                    ret = sim.returns.get(urllib.parse.unquote(parts[3]))
                    if ret is None or ret["orderId"] != oid:
                        raise AdminError(404, f"no return {parts[3]} on order {oid}")
                    if ret["status"] != "received":  # receiving twice changes nothing
                        ret["status"] = "received"
                        ret["receivedAt"] = rfc3339()
                    ds = emit("return.received", {"return": ret, "order": o}) if body.get("emit", True) else []
                    return done(200, {"return": ret}, ds)
        if parts == ["customers"]:
            with sim.lock:
                if method == "GET":
                    return 200, {"customers": list(sim.customers.values())}
                if method == "POST":
                    cid = body.get("id")
                    if not cid:
                        raise AdminError(400, "id is required")
                    c, created, _ = sim.upsert_customer_doc(str(cid), {k: v for k, v in body.items()
                                                                       if k not in ("id", "emit", "url", "tamper",
                                                                                    "repeat", "sync")})
                    ds = emit("customer.updated", {"customer": c}) if body.get("emit", False) else []
                    return done(201 if created else 200, {"customer": c}, ds)
        if parts == ["shipments"] and method == "GET":
            with sim.lock:
                return 200, {"shipments": list(sim.shipments.values())}
        if parts == ["inventory"]:
            with sim.lock:
                if method == "GET":
                    return 200, {"inventory": list(sim.inventory.values())}
                if method == "POST":
                    sku, loc = body.get("sku"), body.get("locationId")
                    if not sku or not loc:
                        raise AdminError(400, "sku and locationId are required")
                    errs = inventory_errors(body, sku, loc)
                    if errs:
                        raise AdminError(400, "invalid inventory", errors=errs)
                    lv, created, changed = set_inventory(sim, sku, loc, body["quantityOnHand"],
                                                         body.get("quantityAvailable", body["quantityOnHand"]))
                    ds = emit("inventory.updated", inventory_payload(lv)) if body.get("emit", False) and changed else []
                    return done(201 if created else 200, {"inventory": lv}, ds)
        if parts == ["events"] and method == "POST":
            if not body.get("type") or not isinstance(body.get("payload", {}), dict):
                raise AdminError(400, "type (string) and payload (object) are required")
            with sim.lock:
                ds = emit(str(body["type"]), body.get("payload", {}), body.get("id"))
            return done(200, {}, ds)
        if parts == ["webhooks"] and method == "GET":
            with sim.lock:
                rows = [sim.delivery_view(d) for d in sim.deliveries]
            for k in ("eventId", "type", "state"):
                if k in query:
                    rows = [r for r in rows if r[k] == query[k][0]]
            return 200, {"deliveries": rows, "count": len(rows)}
        if len(parts) == 3 and parts[0] == "webhooks" and parts[2] == "redeliver" and method == "POST":
            with sim.lock:
                src = next((d for d in sim.deliveries if d["eventId"] == parts[1]), None)
                if src is None:
                    raise AdminError(404, f"no event {parts[1]}")
                env = json.loads(src["body"])
                ds = sim.queue_event(env, url=body.get("url") or src["url"], tamper=body.get("tamper"),
                                     repeat=int(body.get("repeat", 1)))
                sim.events.pop()  # the same event again, not a new one
            return done(200, {}, ds)
        return None

    def admin_set_status(self, o: dict, to: str, reason, source: str) -> dict:
        sim = self.sim
        if o["status"] == to and o.get("statusReason") == reason:
            return o
        new = copy.deepcopy(o)
        new["status"] = to
        if reason:
            new["statusReason"] = reason
        else:
            new.pop("statusReason", None)
        new["version"] += 1
        new["updatedAt"] = rfc3339()
        sim.orders[o["id"]] = new
        if to != o["status"]:
            sim.record_history(o["id"], o["status"], to, reason, source, new["version"])
        return new

    def admin_return(self, o: dict, body: dict) -> dict:
        sim = self.sim
        cur = o["currency"]
        by_id = {li["id"]: li for li in o["lineItems"]}
        returned: dict[str, int] = {}
        refunded = 0
        for r in sim.returns.values():
            if r["orderId"] == o["id"]:
                refunded += parse_money(r["refundAmount"], cur)
                for ln in r["lines"]:
                    returned[ln["lineItemId"]] = returned.get(ln["lineItemId"], 0) + ln["quantity"]
        spec_lines = body.get("lines")
        if spec_lines is None:
            spec_lines = [{"lineItemId": li["id"], "quantity": int(li["quantity"]) - returned.get(li["id"], 0)}
                          for li in o["lineItems"] if int(li["quantity"]) - returned.get(li["id"], 0) > 0]
        lines, total = [], 0
        try:
            for ln in spec_lines:
                li = by_id.get(ln.get("lineItemId"))
                if li is None:
                    raise AdminError(400, f"no line item {ln.get('lineItemId')}")
                q = int(ln.get("quantity", 0))
                if q < 1 or returned.get(li["id"], 0) + q > int(li["quantity"]):
                    raise AdminError(400, f"line {li['id']}: quantity {q} exceeds what is left to return")
                if ln.get("amount") is not None:
                    amt = parse_money(ln["amount"], cur)
                else:  # pro rata of the line total, rounded half up in minor units
                    lt = parse_money(li["lineTotal"], cur)
                    amt = (lt * q * 2 + int(li["quantity"])) // (2 * int(li["quantity"]))
                lines.append({"lineItemId": li["id"], "sku": li["sku"], "quantity": q, "amount": fmt_money(amt, cur)})
                total += amt
            ship = parse_money(body.get("shippingRefund") or fmt_money(0, cur), cur)
            refund = parse_money(body["refundAmount"], cur) if body.get("refundAmount") else total + ship
        except ValueError as e:
            raise AdminError(400, f"money: {e}") from None
        grand = parse_money(o["totals"]["grandTotal"], cur)
        if refund <= 0 or refunded + refund > grand:
            raise AdminError(400, f"refundAmount must be > 0 and at most {fmt_money(grand - refunded, cur)} "
                                  f"(grand total less earlier returns)")
        rid = f"RET-{sim.next_id('return')}"
        ret = {"id": rid, "orderId": o["id"], "status": "requested", "reason": body.get("reason"), "lines": lines,
               "shippingRefund": fmt_money(ship, cur), "refundAmount": fmt_money(refund, cur), "currency": cur,
               "requestedAt": rfc3339()}
        sim.returns[rid] = ret
        return ret


def address_errors(a, field: str) -> list[tuple[str, str]]:
    if not isinstance(a, dict):
        return [(field, "must be an object")]
    errs = [(f"{field}.{k}", "required") for k in ("firstName", "lastName", "line1", "city", "countryCode")
            if not (isinstance(a.get(k), str) and a[k].strip())]
    if isinstance(a.get("countryCode"), str) and not re.match(r"^[A-Z]{2}$", a["countryCode"]):
        errs.append((f"{field}.countryCode", "ISO 3166-1 alpha-2"))
    for k, v in a.items():
        if v is not None and not isinstance(v, str):
            errs.append((f"{field}.{k}", "must be a string"))
    return errs


def inventory_errors(body: dict, sku: str, loc: str) -> list[tuple[str, str]]:
    errs = []
    for f in ("quantityOnHand", "quantityAvailable"):
        v = body.get(f)
        if (f == "quantityOnHand" or v is not None) and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            errs.append((f, "must be an integer >= 0"))
    if body.get("sku") not in (None, sku):
        errs.append(("sku", "must equal the sku in the path"))
    if body.get("locationId") not in (None, loc):
        errs.append(("locationId", "must equal the location in the path"))
    return errs


def set_inventory(sim: ClaritySim, sku: str, loc: str, on_hand: int, available: int) -> tuple[dict, bool, bool]:
    cur = sim.inventory.get((sku, loc))
    if cur and cur["quantityOnHand"] == on_hand and cur["quantityAvailable"] == available:
        return cur, False, False
    lv = {"sku": sku, "locationId": loc, "quantityOnHand": on_hand, "quantityAvailable": available,
          "updatedAt": rfc3339(), "version": (cur["version"] + 1) if cur else 1}
    sim.inventory[(sku, loc)] = lv
    return lv, cur is None, True


def inventory_payload(lv: dict) -> dict:
    return {k: lv[k] for k in ("sku", "locationId", "quantityOnHand", "quantityAvailable")}


# --------------------------------------------------------------------------------------------
# construction / main
# --------------------------------------------------------------------------------------------

def build(secrets_file=None, host="127.0.0.1", port=DEFAULT_PORT, seed=0, **config):
    """(server, sim) bound but not yet serving. `config` keys: see ClaritySim.config_keys."""
    creds = simkit.load_secret(secrets_file, "ClaritySecret", ("client_id", "client_secret", "webhook_secret"))
    sim = ClaritySim(creds, seed, {k: v for k, v in config.items() if v is not None})
    return simkit.make_server(ClarityHandler, sim, host, port), sim


def add_args(ap: argparse.ArgumentParser, prefix: str = ""):
    ap.add_argument(f"--{prefix}token-ttl-s", type=float, default=None, help="access token lifetime (default 3600)")
    ap.add_argument(f"--{prefix}webhook-retry-schedule", default=None,
                    help="attempt offsets in seconds, comma separated (default 0,1,2,4,8)")


def schedule_arg(value: str | None):
    return None if value is None else [float(x) for x in value.split(",") if x.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Clarity eCommerce simulator (ASSUMED Integration API v1; loopback only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 = a free port")
    ap.add_argument("--secrets-file", help="default infra/local/secrets.local.json (key ClaritySecret)")
    ap.add_argument("--webhook-url", help="where signed webhooks are POSTed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    add_args(ap)
    a = ap.parse_args(argv)
    server, _ = build(a.secrets_file, a.host, a.port, a.seed, webhook_url=a.webhook_url, quiet=a.quiet,
                      token_ttl_s=a.token_ttl_s, webhook_retry_schedule_s=schedule_arg(a.webhook_retry_schedule))
    return simkit.serve_standalone("clarity", server)


if __name__ == "__main__":
    sys.exit(main())
