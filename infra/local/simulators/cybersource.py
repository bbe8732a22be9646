#!/usr/bin/env python3
"""Cybersource REST API sandbox simulator (loopback only, standard library only).

Speaks the wire contract in the project's Cybersource reference (HTTP Signature auth, PTS
payments/captures/refunds/reversals/voids, TSS details + search, TMS tokens, Decision Manager
outcomes, chargeback-details report, signed webhook notifications) and keeps thread-safe
in-memory state with the money rules (captured <= authorized, refunded <= captured, no capture
after a reversal or void). Serves several merchant ids (payment routes, one per Cybersource*Secret),
each seeing only its own transactions. Test hooks live under /__admin/ (no signature, loopback
only): ledger, state, reset, fault injection, review decisions, notifications, chargebacks,
settlement, and a per-merchant/segment approval model with drift and soft declines (routing-model).

    python3 infra/local/simulators/cybersource.py [--port 4571] [--seed 1] \
        [--secrets-file infra/local/secrets.local.json] [--notify-url http://127.0.0.1:9000/hook]

Prints exactly one line on stdout once it listens:
    cybersource-sim listening on http://127.0.0.1:PORT
Access/diagnostic logs go to stderr (no request bodies, no PII). See infra/README.md,
section "Cybersource simulator", for triggers, admin API, fault modes and assumptions.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import ipaddress
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_PORT = 4571
DEFAULT_DATE_WINDOW_S = 15 * 60
DEFAULT_SECRETS = Path(__file__).resolve().parent.parent / "secrets.local.json"
PTS_CT = "application/hal+json;charset=utf-8"
ADMIN_CT = "application/json"
AUTH_FAILED_BODY = {"response": {"rmsg": "Authentication Failed"}}  # reference §1.4

OPERATIONS = ("authorize", "capture", "refund", "reversal", "void", "details", "search", "tms",
              "report", "decision")

# ISO 4217 minor-unit exponents that differ from 2; any other [A-Z]{3} code is taken as 2.
CURRENCY_EXPONENT = {
    **{c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                      "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
    **{c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
    "CLF": 4, "UYW": 4,
}
AMOUNT_RE = re.compile(r"^\d{1,15}(\.\d{1,8})?$")

# Cybersource card type codes -> (name, masked-number prefix used when minting tokens)
CARD_TYPES = {
    "001": ("Visa", "411111"), "002": ("Mastercard", "555555"), "003": ("American Express", "378282"),
    "004": ("Discover", "601111"), "005": ("Diners Club", "305693"), "007": ("JCB", "353011"),
}
# Card type code -> the lower-case brand used in routing-model segment keys ("USD|visa").
CARD_BRANDS = {"001": "visa", "002": "mastercard", "003": "amex", "004": "discover", "005": "diners",
               "007": "jcb"}

# Statuses where the issuer approved and an authorization hold exists.
HELD = {"AUTHORIZED", "PARTIAL_AUTHORIZED", "AUTHORIZED_PENDING_REVIEW", "PENDING_REVIEW",
        "AUTHORIZED_RISK_DECLINED"}
CAPTURABLE = {"AUTHORIZED", "PARTIAL_AUTHORIZED"}
REVIEW_STATUSES = {"AUTHORIZED_PENDING_REVIEW", "PENDING_REVIEW"}

# Decision Manager / processor triggers: billTo.email local part (before any "+tag"), lower case.
#   key -> (status, errorInformation.reason, processor responseCode, DM decision, TSS reasonCode)
TRIGGERS = {
    "review": ("PENDING_REVIEW", "DECISION_PROFILE_REVIEW", "00", "REVIEW", "480"),
    "authreview": ("AUTHORIZED_PENDING_REVIEW", "DECISION_PROFILE_REVIEW", "00", "REVIEW", "480"),
    "reject": ("AUTHORIZED_RISK_DECLINED", "DECISION_PROFILE_REJECT", "00", "REJECT", "481"),
    "dmdecline": ("DECLINED", "DECISION_PROFILE_REJECT", None, "REJECT", "481"),
    "decline": ("DECLINED", "PROCESSOR_DECLINED", "05", "ACCEPT", "203"),
    "nsf": ("DECLINED", "INSUFFICIENT_FUND", "51", "ACCEPT", "204"),
    "expired": ("DECLINED", "EXPIRED_CARD", "54", "ACCEPT", "202"),
    "3ds": ("PENDING_AUTHENTICATION", "CONSUMER_AUTHENTICATION_REQUIRED", None, None, "475"),
    "partial": ("PARTIAL_AUTHORIZED", None, "10", "ACCEPT", "100"),
    # soft decline (retry elsewhere may succeed); merchants on the soft-decline-exempt list ignore it
    "soft": ("DECLINED", "ISSUER_UNAVAILABLE", "91", "ACCEPT", "207"),
}
DM_TRIGGERS = {"review", "authreview", "reject", "dmdecline"}  # skipped with DECISION_SKIP
# Every local part with a fixed outcome; the routing model never overrides these, so trigger-based
# tests stay deterministic while a model is set.
EMAIL_TRIGGERS = frozenset(TRIGGERS) | {"invalid", "servererror", "timeout"}

# Decline reasons (reference §2.3 errorInformation.reason) the routing model can return:
#   reason -> (processor responseCode, TSS reasonCode, errorInformation.message)
DECLINE_REASONS = {
    "ISSUER_UNAVAILABLE": ("91", "207", "Decline - The issuing bank is unavailable."),
    "PROCESSOR_ERROR": ("96", "236", "Decline - Processor failure."),
    "PROCESSOR_DECLINED": ("05", "203", "Decline - General decline of the card."),
    "INSUFFICIENT_FUND": ("51", "204", "Decline - Insufficient funds in the account."),
    "EXPIRED_CARD": ("54", "202", "Decline - Expired card."),
    "STOLEN_LOST_CARD": ("43", "205", "Decline - The card was reported stolen or lost."),
    "EXCEEDS_CREDIT_LIMIT": ("61", "210", "Decline - The card has reached its credit limit."),
    "INVALID_ACCOUNT": ("14", "231", "Decline - Invalid account number."),
    "CONTACT_PROCESSOR": ("01", "201", "Decline - The issuing bank has questions about the request."),
    "GENERAL_DECLINE": ("05", "233", "Decline - General decline by the processor."),
}
# Codes for a reason the table does not know, by kind of decline.
SOFT_FALLBACK = ("91", "207", "Decline - Temporary decline; a retry may succeed.")
HARD_FALLBACK = ("05", "233", "Decline - General decline by the processor.")
DEFAULT_SOFT_REASONS = ["ISSUER_UNAVAILABLE", "PROCESSOR_ERROR"]
DEFAULT_HARD_REASONS = ["PROCESSOR_DECLINED", "INSUFFICIENT_FUND"]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------

def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def ts(dt: datetime) -> str:
    """PTS timestamp format YYYY-MM-DDThh:mm:ssZ."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_ms(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def dig(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_pan(obj, path="") -> str | None:
    """Path of the first value that looks like a card number (13-19 digits passing Luhn).
    Members named `id` are skipped (TMS instrument identifier ids are long digit strings)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "id":
                continue
            hit = find_pan(v, f"{path}.{k}" if path else k)
            if hit:
                return hit
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            hit = find_pan(v, f"{path}[{i}]")
            if hit:
                return hit
    elif isinstance(obj, (str, int)) and not isinstance(obj, bool):
        s = str(obj).replace(" ", "").replace("-", "")
        if 13 <= len(s) <= 19 and s.isdigit() and luhn_ok(s):
            return path
    return None


def js_number(v: float) -> str:
    """ECMAScript Number::toString for a finite float (what JSON.stringify writes)."""
    if v != v or v in (float("inf"), float("-inf")):
        return "null"
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    r = repr(abs(v))
    mant, _, exp = r.partition("e")
    exp_i = int(exp) if exp else 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    n = len(ip) + exp_i - lead_zeros  # decimal point position relative to the digit string
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def js_json(v) -> str:
    """Compact JSON as JavaScript's JSON.stringify writes it (key order kept, no ASCII escaping)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + js_json(x)
                              for k, x in v.items()) + "}"
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def card_name(card_type: str | None) -> str:
    return CARD_TYPES.get(card_type or "", ("Unknown", ""))[0]


def card_type_from_bin(number: str) -> str:
    if number.startswith("4"):
        return "001"
    if number[:2] in ("51", "52", "53", "54", "55") or number[:1] == "2":
        return "002"
    if number[:2] in ("34", "37"):
        return "003"
    if number.startswith("6"):
        return "004"
    if number[:2] in ("30", "36", "38"):
        return "005"
    if number.startswith("35"):
        return "007"
    return "001"


# --------------------------------------------------------------------------------------------
# money
# --------------------------------------------------------------------------------------------

class ApiError(Exception):
    """An HTTP error answer with a Cybersource-shaped body."""

    def __init__(self, http_status: int, body: dict):
        super().__init__(f"{http_status} {body.get('reason') or body.get('status')}")
        self.http_status = http_status
        self.body = body


def invalid(reason: str, message: str, field: str | None = None, field_reason: str = "INVALID",
            http_status: int = 400) -> ApiError:
    body = {"submitTimeUtc": ts(utc_now()), "status": "INVALID_REQUEST", "reason": reason,
            "message": message}
    if field:
        body["details"] = [{"field": field, "reason": field_reason}]
    return ApiError(http_status, body)


def missing(field: str) -> ApiError:
    return invalid("MISSING_FIELD", f"Declined - The request is missing one or more fields",
                   field, "MISSING")


def not_found(message: str) -> ApiError:
    return ApiError(404, {"submitTimeUtc": ts(utc_now()), "status": "NOT_FOUND", "reason": "NOT_FOUND",
                          "message": message})


def server_error(reason: str = "SYSTEM_ERROR", status: int = 502) -> ApiError:
    return ApiError(status, {"submitTimeUtc": ts(utc_now()), "status": "SERVER_ERROR", "reason": reason,
                             "message": "Error - General system failure."})


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENT.get(currency, 2)


def check_currency(currency, field: str) -> str:
    if currency is None:
        raise missing(field)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                      field)
    return currency


def parse_amount(value, currency: str, field: str, allow_zero: bool = True) -> int:
    """Decimal string in major units -> integer minor units, exactly. Errors are 400s."""
    if value is None:
        raise missing(field)
    if not isinstance(value, str) or not AMOUNT_RE.match(value):
        raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                      field)
    exp = exponent(currency)
    whole, _, frac = value.partition(".")
    if len(frac) > exp:
        raise invalid("INVALID_DATA",
                      f"Declined - {field} has more fraction digits than {currency} allows ({exp})", field)
    minor = int(whole) * 10 ** exp + (int(frac.ljust(exp, "0")) if exp else 0)
    if minor == 0 and not allow_zero:
        raise invalid("INVALID_AMOUNT", "Declined - The amount must be greater than zero", field)
    return minor


def fmt_amount(minor: int, currency: str) -> str:
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    q, r = divmod(abs(minor), 10 ** exp)
    return f"{sign}{q}.{r:0{exp}d}"


# --------------------------------------------------------------------------------------------
# HTTP Signature verification (reference §1)
# --------------------------------------------------------------------------------------------

SIG_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*"([^"]*)"')


def verify_http_signature(method: str, raw_target: str, headers, body: bytes, creds: dict,
                          window_s: float, now: datetime | None = None) -> str | None:
    """Return None when the request is authentic, else a short reason (for logs only).

    `headers` is a case-insensitive mapping (email.message.Message). The signing string is
    rebuilt from the names listed in the Signature header's `headers=` parameter, in that order:
    `request-target` (SDK) and `(request-target)` (older docs / Hyperswitch) both map to
    "<lower-case method> <path[?query] exactly as received>"; every other name maps to the
    received header value. Required names: host, date, request-target, v-c-merchant-id, and
    digest for POST/PUT/PATCH (whose value must equal SHA-256 of the received body)."""
    sig_header = headers.get("Signature")
    if not sig_header:
        return "no Signature header" + (" (JWT Bearer auth is not simulated)"
                                        if (headers.get("Authorization") or "").lower().startswith("bearer")
                                        else "")
    params = {k.lower(): v for k, v in SIG_PARAM_RE.findall(sig_header)}
    for p in ("keyid", "headers", "signature"):
        if p not in params:
            return f"Signature header lacks {p}"
    if not hmac.compare_digest(params["keyid"].encode(), creds["key_id"].encode()):
        return "unknown keyid"
    if params.get("algorithm", "HmacSHA256").lower() != "hmacsha256":
        return "unsupported algorithm"
    names = params["headers"].lower().split()
    required = {"host", "date", "v-c-merchant-id"}
    if method in ("POST", "PUT", "PATCH"):
        required.add("digest")
    lacking = sorted(required - set(names))
    if lacking or not ({"request-target", "(request-target)"} & set(names)):
        return "signed headers incomplete: " + (", ".join(lacking) or "request-target")
    mid = headers.get("v-c-merchant-id")
    if mid is None or not hmac.compare_digest(mid.encode(), creds["merchant_id"].encode()):
        return "v-c-merchant-id does not match the key's merchant"
    date_value = headers.get("Date")
    try:
        sent = parsedate_to_datetime(date_value) if date_value else None
    except (TypeError, ValueError):
        sent = None
    if sent is None:
        return "Date header missing or not RFC 1123"
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=timezone.utc)
    if abs(((now or utc_now()) - sent).total_seconds()) > window_s:
        return "Date outside the allowed window"
    if "digest" in names or method in ("POST", "PUT", "PATCH"):
        got = headers.get("Digest")
        want = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        if got is None or not hmac.compare_digest(got.strip().encode(), want.encode()):
            return "Digest does not match the body"
    lines = []
    for name in names:
        if name in ("request-target", "(request-target)"):
            lines.append(f"{name}: {method.lower()} {raw_target}")
            continue
        value = headers.get(name)
        if value is None:
            return f"signed header {name} not sent"
        lines.append(f"{name}: {value}")
    try:
        key = base64.b64decode(creds["shared_secret_b64"])
    except (ValueError, TypeError):
        return "simulator shared secret is not base64"
    want_sig = base64.b64encode(hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want_sig, params["signature"].encode()):
        return "signature mismatch"
    return None


def authenticate(method: str, raw_target: str, headers, body: bytes, merchants: dict[str, dict],
                 window_s: float, now: datetime | None = None) -> tuple[str | None, str | None]:
    """(merchant id, None) when the request is authentic, else (None, reason for logs).

    The key is chosen by the request's v-c-merchant-id: every key belongs to one merchant, so a
    request signed with merchant B's key but naming merchant A fails like a bad signature, and an
    unknown merchant id is refused with the same 401."""
    mid = headers.get("v-c-merchant-id")
    creds = merchants.get(mid) if mid is not None else None
    if creds is None:
        if not headers.get("Signature"):  # keep the more useful "no Signature header" reason
            return None, verify_http_signature(method, raw_target, headers, body,
                                               next(iter(merchants.values())), window_s, now)
        return None, "v-c-merchant-id names no configured merchant" if mid else "no v-c-merchant-id header"
    reason = verify_http_signature(method, raw_target, headers, body, creds, window_s, now)
    return (None, reason) if reason else (mid, None)


def sign_webhook(payload, key_b64: str, key_id: str, t_ms: int, content: str = "payload",
                 raw_body: str | None = None) -> str:
    """v-c-signature value `t=<ms>;keyId=<id>;sig=<b64>` (reference §3.4). The signed message is
    t + "." + compact JSON of the payload member (official plugins) or, with content="raw_body",
    t + "." + the raw body."""
    message = f"{t_ms}." + (raw_body if content == "raw_body" else js_json(payload))
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), message.encode(), hashlib.sha256).digest())
    return f"t={t_ms};keyId={key_id};sig={sig.decode()}"


# --------------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------------

class Txn:
    """Any transaction resource: payment (auth or sale), capture, refund, reversal, void."""

    def __init__(self, kind: str, tid: str, code: str | None, client_txn_id: str | None,
                 currency: str, amount: int, status: str, parent: "Txn | None" = None,
                 merchant_id: str = ""):
        self.kind = kind
        self.id = tid
        # Cybersource scopes transactions to the merchant that created them; follow-ons inherit it
        self.merchant_id = parent.merchant_id if parent is not None else merchant_id
        self.code = code
        self.client_txn_id = client_txn_id
        self.currency = currency
        self.amount = amount
        self.status = status
        self.parent = parent
        self.created = utc_now()
        self.created_mono = time.monotonic()
        self.reconciliation_id = ""
        self.response: dict = {}
        self.children: list[Txn] = []
        # payment
        self.sale = False
        self.authorized = 0
        self.reversed = 0
        self.fully_reversed = False
        self.sale_captured = 0
        self.review: str | None = None  # pending | accepted | rejected
        self.risk_decision: str | None = None
        self.reason_code = "100"
        self.error_reason: str | None = None
        self.card: dict = {}
        self.tokens: dict = {}
        self.bill_to: dict = {}
        self.processor: dict = {}
        # capture / refund / sale-capture
        self.voided = False
        self.settled = False
        self.capture_ref: Txn | None = None  # refund: the capture it refunds (None = payment level)

    # --- money views (payments) ---
    def held(self) -> int:
        return self.authorized - self.reversed

    def captures(self) -> list["Txn"]:
        return [c for c in self.children if c.kind == "capture" and not c.voided]

    def captured_total(self) -> int:
        own = self.sale_captured if (self.sale and not self.voided) else 0
        return own + sum(c.amount for c in self.captures())

    def refunds(self) -> list["Txn"]:
        out = [r for r in self.children if r.kind == "refund" and not r.voided]
        for c in self.children:
            if c.kind == "capture":
                out += [r for r in c.children if r.kind == "refund" and not r.voided]
        return out

    def refunded_total(self) -> int:
        return sum(r.amount for r in self.refunds())

    def root(self) -> "Txn":
        t = self
        while t.parent is not None:
            t = t.parent
        return t


class FaultRule:
    def __init__(self, spec: dict, seed: int, serial: int):
        self.operation = spec["operation"]
        self.error_rate = float(spec.get("error_rate", 0))
        self.status = int(spec.get("status", 502))
        self.reason = spec.get("reason")
        self.latency_ms = int(spec.get("latency_ms", 0))
        self.lost_response_rate = float(spec.get("lost_response_rate", 0))
        self.lost_mode = str(spec.get("lost_mode", "502"))
        self.hang_ms = int(spec.get("hang_ms", 30000))
        self.times = spec.get("times")
        self.times = None if self.times is None else int(self.times)
        self.fired = 0
        self.rng = random.Random(f"{seed}:{self.operation}:{serial}")
        if self.lost_mode not in ("502", "drop", "hang"):
            raise ValueError("lost_mode must be 502, drop or hang")
        if not (0 <= self.error_rate <= 1 and 0 <= self.lost_response_rate <= 1
                and self.error_rate + self.lost_response_rate <= 1):
            raise ValueError("rates must be in [0,1] and error_rate + lost_response_rate <= 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")

    def roll(self) -> str:
        """'error' (before the effect), 'lost' (after the effect) or 'ok'."""
        if self.times is not None and self.fired >= self.times:
            return "ok"
        r = self.rng.random()
        if r < self.error_rate:
            outcome = "error"
        elif r < self.error_rate + self.lost_response_rate:
            outcome = "lost"
        else:
            return "ok"
        self.fired += 1
        return outcome

    def as_dict(self) -> dict:
        return {"operation": self.operation, "error_rate": self.error_rate, "status": self.status,
                "reason": self.reason, "latency_ms": self.latency_ms,
                "lost_response_rate": self.lost_response_rate, "lost_mode": self.lost_mode,
                "hang_ms": self.hang_ms, "times": self.times, "fired": self.fired}


# --------------------------------------------------------------------------------------------
# routing model: approval rate per merchant and segment, drifting during a run
# --------------------------------------------------------------------------------------------

class AdminFieldError(ValueError):
    """A 400 from an admin endpoint that names the offending field of the request body."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def field_path(parent: str, key) -> str:
    return f"{parent}.{key}" if parent else str(key)


def check_keys(obj, field: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(obj, dict):
        raise AdminFieldError(field or "body", "must be a JSON object")
    for key in obj:
        if key not in allowed:
            raise AdminFieldError(field_path(field, key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in obj:
            raise AdminFieldError(field_path(field, key), "is required")
    return obj


def check_probability(value, field: str) -> float:
    # bool is an int in Python; NaN fails the range test
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise AdminFieldError(field, "must be a number in [0, 1]")
    return float(value)


def valid_segment(key: str) -> bool:
    """"*", "<CURRENCY>", "<brand>" or "<CURRENCY>|<brand>" (brand as in CARD_BRANDS)."""
    if key == "*":
        return True
    currency, sep, brand = key.partition("|")
    if sep:
        return bool(re.fullmatch(r"[A-Z]{3}", currency)) and brand in CARD_BRANDS.values()
    return bool(re.fullmatch(r"[A-Z]{3}", key)) or key in CARD_BRANDS.values()


def check_approval(obj, field: str, need_fallback: bool) -> dict[str, float]:
    if not isinstance(obj, dict) or not obj:
        raise AdminFieldError(field, "must be a non-empty object of segment -> probability")
    out = {}
    for key, value in obj.items():
        if not valid_segment(key):
            raise AdminFieldError(field_path(field, key),
                                  'segment must be "*", "<CURRENCY>", "<brand>" or "<CURRENCY>|<brand>" '
                                  f"(brands: {', '.join(CARD_BRANDS.values())})")
        out[key] = check_probability(value, field_path(field, key))
    if need_fallback and "*" not in out:
        raise AdminFieldError(field_path(field, "*"), "is required (the segment every card falls back to)")
    return out


def check_reasons(obj, field: str) -> list[str]:
    if not isinstance(obj, list) or not obj:
        raise AdminFieldError(field, "must be a non-empty list of errorInformation.reason strings")
    for i, reason in enumerate(obj):
        if not isinstance(reason, str) or not reason.strip():
            raise AdminFieldError(f"{field}[{i}]", "must be a non-empty string")
    return list(obj)


class MerchantModel:
    """One merchant's approval model. Its RNG is its own (seeded from the model seed and the
    merchant id), so outcomes depend only on the sequence of this merchant's model-decided
    authorizations, not on ids, faults or other merchants' traffic."""

    KEYS = {"approval", "soft_decline_share", "soft_decline_reasons", "hard_decline_reasons", "drift"}

    def __init__(self, merchant_id: str, spec, field: str, seed: int):
        check_keys(spec, field, self.KEYS, {"approval"})
        self.merchant_id = merchant_id
        self.base_approval = check_approval(spec["approval"], f"{field}.approval", need_fallback=True)
        self.soft_share = check_probability(spec.get("soft_decline_share", 0.5), f"{field}.soft_decline_share")
        self.soft_reasons = check_reasons(spec.get("soft_decline_reasons", DEFAULT_SOFT_REASONS),
                                          f"{field}.soft_decline_reasons")
        self.hard_reasons = check_reasons(spec.get("hard_decline_reasons", DEFAULT_HARD_REASONS),
                                          f"{field}.hard_decline_reasons")
        drift = spec.get("drift", [])
        if not isinstance(drift, list):
            raise AdminFieldError(f"{field}.drift", "must be a list of {after, approval} steps")
        steps = []
        for i, step in enumerate(drift):
            step_field = f"{field}.drift[{i}]"
            check_keys(step, step_field, {"after", "approval"}, {"after", "approval"})
            after = step["after"]
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                raise AdminFieldError(f"{step_field}.after", "must be an integer >= 0")
            steps.append((after, check_approval(step["approval"], f"{step_field}.approval", need_fallback=False)))
        self.drift = sorted(steps, key=lambda st: st[0])  # stable: equal `after` apply in list order
        self.reset(seed)

    def reset(self, seed: int):
        self.rng = random.Random(f"{seed}:routing:{self.merchant_id}")
        self.approval = dict(self.base_approval)
        self.steps_applied = 0
        self.authorizations = self.approved = self.soft_declined = self.hard_declined = 0
        self.reasons: dict[str, int] = {}
        self.apply_due_steps()

    def apply_due_steps(self):
        """Merge every drift step whose `after` has been reached, so `approval` is always the map
        the next authorization uses (what GET /__admin/routing-model shows)."""
        while self.steps_applied < len(self.drift) and self.drift[self.steps_applied][0] <= self.authorizations:
            self.approval.update(self.drift[self.steps_applied][1])
            self.steps_applied += 1

    def probability(self, currency: str, brand: str | None) -> float:
        """Most specific segment first: CURRENCY|brand, CURRENCY, brand, then "*"."""
        keys = ([f"{currency}|{brand}"] if brand else []) + [currency] + ([brand] if brand else [])
        return next((self.approval[k] for k in keys if k in self.approval), self.approval["*"])

    def decide(self, currency: str, brand: str | None) -> tuple[str, str | None]:
        """("approved", None), ("soft", reason) or ("hard", reason) for the next authorization."""
        p = self.probability(currency, brand)
        self.authorizations += 1
        try:
            if self.rng.random() < p:
                self.approved += 1
                return "approved", None
            if self.rng.random() < self.soft_share:
                self.soft_declined += 1
                kind, reason = "soft", self.rng.choice(self.soft_reasons)
            else:
                self.hard_declined += 1
                kind, reason = "hard", self.rng.choice(self.hard_reasons)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
            return kind, reason
        finally:
            self.apply_due_steps()

    def config(self) -> dict:
        return {"approval": dict(self.base_approval), "soft_decline_share": self.soft_share,
                "soft_decline_reasons": list(self.soft_reasons), "hard_decline_reasons": list(self.hard_reasons),
                "drift": [{"after": after, "approval": dict(m)} for after, m in self.drift]}

    def counters(self) -> dict:
        return {"authorizations": self.authorizations, "approved": self.approved,
                "soft_declined": self.soft_declined, "hard_declined": self.hard_declined,
                "approval": dict(self.approval), "drift_steps_applied": self.steps_applied,
                "reasons": dict(self.reasons)}


class RoutingModel:
    """The PUT /__admin/routing-model body, validated: {"seed", "merchants": {id: model}}."""

    def __init__(self, spec, default_seed: int, known_merchants):
        check_keys(spec, "", {"seed", "merchants"}, {"merchants"})
        seed = spec.get("seed", default_seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise AdminFieldError("seed", "must be an integer")
        merchants = spec["merchants"]
        if not isinstance(merchants, dict) or not merchants:
            raise AdminFieldError("merchants", "must be a non-empty object of merchant id -> model")
        self.seed = seed
        self.merchants: dict[str, MerchantModel] = {}
        for mid, mspec in merchants.items():
            if mid not in known_merchants:
                raise AdminFieldError(f"merchants.{mid}", "unknown merchant id (configured: "
                                      f"{', '.join(known_merchants)})")
            self.merchants[mid] = MerchantModel(mid, mspec, f"merchants.{mid}", seed)

    def reset(self):
        for m in self.merchants.values():
            m.reset(self.seed)

    def view(self) -> dict:
        return {"model": {"seed": self.seed, "merchants": {mid: m.config() for mid, m in self.merchants.items()}},
                "counters": {mid: m.counters() for mid, m in self.merchants.items()}}


def decline_codes(reason: str, soft: bool) -> tuple[str, str, str]:
    """(processor responseCode, TSS reasonCode, message) for a model-chosen decline reason."""
    return DECLINE_REASONS.get(reason, SOFT_FALLBACK if soft else HARD_FALLBACK)


class Simulator:
    def __init__(self, creds: dict, seed: int, config: dict, merchants: dict[str, dict] | None = None):
        self.creds = creds  # the primary merchant (CybersourceSecret): default for admin-made effects
        # every merchant id the simulator serves (payment routes) -> its credentials, primary first
        self.merchants = {creds["merchant_id"]: creds, **(merchants or {})}
        self.seed = seed
        self.config = config
        self.lock = threading.RLock()
        self.started = time.monotonic()
        self.fault_serial = 0
        self.faults: dict[str, FaultRule] = {}
        self.routing: RoutingModel | None = None
        self.soft_exempt: set[str] = set()
        self.reset()

    # ---------------------------------------------------------------- bookkeeping
    def reset(self, keep_faults: bool = False, keep_model: bool = True):
        with self.lock:
            # the model's config survives a reset (like a fault rule with keep_faults); its
            # counters and RNG start over so a run after reset replays the same outcomes
            if keep_model and self.routing is not None:
                self.routing.reset()
            elif not keep_model:
                self.routing = None
                self.soft_exempt = set()
            self.rng = random.Random(self.seed)
            self.txns: dict[str, Txn] = {}
            self.order: list[Txn] = []
            self.ledger: list[dict] = []
            self.customers: dict[str, dict] = {}
            self.instruments: dict[str, dict] = {}
            self.identifiers: dict[str, dict] = {}
            self.chargebacks: list[dict] = []
            self.searches: dict[str, dict] = {}
            self.notifications: list[dict] = []
            self.events: list[dict] = []
            self.webhook_id = str(self._uuid())
            if not keep_faults:
                self.faults = {}

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _digits(self, n: int) -> str:
        return str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(n - 1))

    def _alnum(self, n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032X}"

    def new_txn(self, kind: str, merchant_id: str | None = None, **kw) -> Txn:
        tid = self._digits(22)
        while tid in self.txns:
            tid = self._digits(22)
        t = Txn(kind, tid, merchant_id=merchant_id or self.creds["merchant_id"], **kw)
        t.reconciliation_id = self._alnum(16)
        self.txns[tid] = t
        self.order.append(t)
        if t.parent is not None:
            t.parent.children.append(t)
        return t

    def record(self, t: Txn, ltype: str, source: str = "api", amount: int | None = None) -> dict:
        entry = {
            "seq": len(self.ledger) + 1, "time": ts_ms(utc_now()), "type": ltype, "id": t.id,
            "parentId": t.parent.id if t.parent else None, "rootId": t.root().id,
            "code": t.code, "transactionId": t.client_txn_id,
            "amount": fmt_amount(t.amount if amount is None else amount, t.currency),
            "currency": t.currency, "status": t.status, "source": source, "response": "delivered",
            "merchant_id": t.merchant_id,
        }
        self.ledger.append(entry)
        return entry

    def visible(self, t: Txn) -> bool:
        lag = self.config.get("tss_lag_ms", 0) / 1000.0
        return time.monotonic() - t.created_mono >= lag

    # ---------------------------------------------------------------- lookups
    def lookup(self, tid: str, mid: str | None) -> Txn | None:
        """The transaction, or None when unknown or another merchant's: a merchant cannot tell the
        two apart (mid None = admin view, unscoped)."""
        t = self.txns.get(tid)
        return t if t is not None and (mid is None or t.merchant_id == mid) else None

    def merchant_txns(self, mid: str | None) -> list[Txn]:
        return [t for t in self.order if mid is None or t.merchant_id == mid]

    def get_txn(self, tid: str, kinds: tuple[str, ...], mid: str | None = None) -> Txn:
        t = self.lookup(tid, mid)
        if t is None or t.kind not in kinds:
            raise invalid("INVALID_PAYMENT_ID", f"Declined - The {'/'.join(kinds)} id {tid} is not valid",
                          "id")
        return t

    def check_dup_txn_id(self, body: dict, mid: str | None = None):
        tx = dig(body, "clientReferenceInformation", "transactionId")
        if tx and self.config.get("duplicate_transaction_id") == "reject":
            if any(t.client_txn_id == tx for t in self.merchant_txns(mid)):
                raise invalid("INVALID_DATA", "Declined - clientReferenceInformation.transactionId was already used",
                              "clientReferenceInformation.transactionId")

    # ---------------------------------------------------------------- payment source / tokens
    def token_card(self, body: dict) -> tuple[dict, dict]:
        """Card view {type, suffix, prefix, expirationMonth, expirationYear} and TMS references
        from the payment source. Raises 400 when no source or an unknown token is given."""
        ti = body.get("tokenInformation") or {}
        pi = body.get("paymentInformation") or {}
        refs: dict = {}
        jwt = ti.get("transientTokenJwt")
        if jwt:
            return self.card_from_jwt(jwt), refs
        if ti.get("jti"):
            return {"type": "001", "suffix": "1111", "prefix": "411111"}, refs
        pi_id = dig(pi, "paymentInstrument", "id")
        cust_id = dig(pi, "customer", "id")
        ii_id = dig(pi, "instrumentIdentifier", "id")
        if pi_id:
            inst = self.instruments.get(pi_id)
            if inst is None or inst.get("_deleted"):
                raise invalid("INVALID_DATA", "Declined - paymentInformation.paymentInstrument.id is not valid",
                              "paymentInformation.paymentInstrument.id")
            refs = {"paymentInstrument": pi_id, "customer": inst.get("_customer")}
            return dict(inst["_card"]), refs
        if cust_id:
            cust = self.customers.get(cust_id)
            if cust is None or cust.get("_deleted"):
                raise invalid("INVALID_DATA", "Declined - paymentInformation.customer.id is not valid",
                              "paymentInformation.customer.id")
            default_pi = dig(cust, "defaultPaymentInstrument", "id")
            if not default_pi:
                raise invalid("INVALID_DATA", "Declined - the customer has no default payment instrument",
                              "paymentInformation.customer.id")
            refs = {"customer": cust_id, "paymentInstrument": default_pi}
            return dict(self.instruments[default_pi]["_card"]), refs
        if ii_id:
            ii = self.identifiers.get(ii_id)
            if ii is None:
                raise invalid("INVALID_DATA", "Declined - paymentInformation.instrumentIdentifier.id is not valid",
                              "paymentInformation.instrumentIdentifier.id")
            refs = {"instrumentIdentifier": ii_id}
            return dict(ii["_card"]), refs
        raise missing("tokenInformation.transientTokenJwt")

    @staticmethod
    def card_from_jwt(jwt: str) -> dict:
        parts = jwt.split(".")
        if len(parts) != 3:
            raise invalid("INVALID_DATA", "Declined - tokenInformation.transientTokenJwt is not a JWT",
                          "tokenInformation.transientTokenJwt")
        try:
            claims = json.loads(b64url_decode(parts[1]))
        except (ValueError, TypeError):
            raise invalid("INVALID_DATA", "Declined - tokenInformation.transientTokenJwt is not a JWT",
                          "tokenInformation.transientTokenJwt") from None
        if isinstance(claims.get("exp"), (int, float)) and claims["exp"] < time.time():
            raise invalid("INVALID_DATA", "Declined - the transient token has expired",
                          "tokenInformation.transientTokenJwt")
        data = claims.get("data") or {}
        number = str(data.get("number") or "")
        digits = re.sub(r"\D", "", number)
        ctype = str(data.get("type") or (card_type_from_bin(digits) if digits else "001"))
        return {"type": ctype, "suffix": digits[-4:] if len(digits) >= 4 else "1111",
                "prefix": digits[:6] if len(number) >= 6 else CARD_TYPES.get(ctype, ("", "411111"))[1],
                "expirationMonth": data.get("expirationMonth"), "expirationYear": data.get("expirationYear")}

    def mint_transient_token(self, spec: dict) -> dict:
        ctype = str(spec.get("type", "001"))
        suffix = str(spec.get("suffix", "1111"))
        prefix = CARD_TYPES.get(ctype, ("", "411111"))[1]
        length = 15 if ctype == "003" else 16
        masked = prefix + "X" * (length - len(prefix) - len(suffix)) + suffix
        now = int(time.time())
        jti = f"1E{self._alnum(30)}"
        header = {"kid": "sim-flex", "alg": "RS256"}
        claims = {"iss": "Flex/08", "exp": now + int(spec.get("ttl_s", 900)), "type": "mf-2.0.0",
                  "iat": now, "jti": jti,
                  "data": {"expirationYear": str(spec.get("expirationYear", "2031")), "number": masked,
                           "expirationMonth": str(spec.get("expirationMonth", "12")), "type": ctype}}
        token = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                          b64url(b"simulator-signature-not-verified")])
        return {"transientTokenJwt": token, "jti": jti, "maskedNumber": masked}

    def new_identifier(self, card: dict) -> str:
        while True:
            ii = "7010000000" + self._digits(9)
            if not luhn_ok(ii) and ii not in self.identifiers:  # never looks like a PAN
                break
        self.identifiers[ii] = {"_card": dict(card), "id": ii, "object": "instrumentIdentifier",
                                "state": "ACTIVE", "card": {"number": card.get("prefix", "411111")
                                                            + "XXXXXX" + card.get("suffix", "1111")}}
        return ii

    def new_customer(self, body: dict, mid: str | None = None) -> dict:
        cid = self._hex32()
        cust = {
            "_links": {"self": {"href": f"/tms/v2/customers/{cid}"},
                       "paymentInstruments": {"href": f"/tms/v2/customers/{cid}/payment-instruments"},
                       "shippingAddress": {"href": f"/tms/v2/customers/{cid}/shipping-addresses"}},
            "id": cid,
            "buyerInformation": body.get("buyerInformation") or {},
            "clientReferenceInformation": body.get("clientReferenceInformation") or {},
            "metadata": {"creator": mid or self.creds["merchant_id"]},
        }
        if body.get("merchantDefinedInformation"):
            cust["merchantDefinedInformation"] = body["merchantDefinedInformation"]
        self.customers[cid] = cust
        return cust

    def new_instrument(self, card: dict, customer_id: str | None, body: dict | None = None,
                       mid: str | None = None) -> dict:
        pid = self._hex32()
        ii = self.new_identifier(card)
        base = f"/tms/v2/customers/{customer_id}/payment-instruments/{pid}" if customer_id \
            else f"/tms/v1/paymentinstruments/{pid}"
        inst = {
            "_links": {"self": {"href": base}},
            "id": pid, "object": "paymentInstrument", "default": False, "state": "ACTIVE",
            "card": {"expirationMonth": card.get("expirationMonth"), "expirationYear": card.get("expirationYear"),
                     "type": card.get("type")},
            "billTo": (body or {}).get("billTo") or {},
            "instrumentIdentifier": {"id": ii},
            "metadata": {"creator": mid or self.creds["merchant_id"]},
            "_embedded": {"instrumentIdentifier": {"id": ii, "object": "instrumentIdentifier", "state": "ACTIVE",
                                                   "card": {"number": card.get("prefix", "411111") + "XXXXXX"
                                                            + card.get("suffix", "1111")}}},
            "_card": dict(card), "_customer": customer_id,
        }
        if customer_id:
            inst["_links"]["customer"] = {"href": f"/tms/v2/customers/{customer_id}"}
            cust = self.customers[customer_id]
            if not dig(cust, "defaultPaymentInstrument", "id"):
                cust["defaultPaymentInstrument"] = {"id": pid}
                inst["default"] = True
        self.instruments[pid] = inst
        return inst

    # ---------------------------------------------------------------- PTS: authorization
    def authorize(self, body: dict, mid: str | None = None) -> tuple[int, dict, list[dict], dict | None]:
        """Returns (http status, body, ledger entries, special) — special carries trigger effects."""
        mid = mid or self.creds["merchant_id"]
        code = dig(body, "clientReferenceInformation", "code")
        if not code:
            raise missing("clientReferenceInformation.code")
        currency = check_currency(dig(body, "orderInformation", "amountDetails", "currency"),
                                  "orderInformation.amountDetails.currency")
        amount = parse_amount(dig(body, "orderInformation", "amountDetails", "totalAmount"), currency,
                              "orderInformation.amountDetails.totalAmount")
        self.check_dup_txn_id(body, mid)
        card, refs = self.token_card(body)
        proc = body.get("processingInformation") or {}
        actions = [str(a).upper() for a in (proc.get("actionList") or [])]
        sale = bool(proc.get("capture"))
        email = str(dig(body, "orderInformation", "billTo", "email", default="") or "")
        local = email.split("@", 1)[0].split("+", 1)[0].strip().lower()
        if local == "invalid":
            raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                          "orderInformation.billTo.email")
        if local == "servererror":
            raise server_error("SYSTEM_ERROR")
        status, err_reason, resp_code, decision, reason_code = self.auth_outcome(local, actions, mid, currency,
                                                                                 card)
        if "DECISION_SKIP" in actions and decision in ("ACCEPT",):
            decision = None
        t = self.new_txn("payment", merchant_id=mid,
                         code=code, client_txn_id=dig(body, "clientReferenceInformation", "transactionId"),
                         currency=currency, amount=amount, status=status)
        t.sale = sale
        t.card = card
        t.bill_to = dig(body, "orderInformation", "billTo", default={}) or {}
        t.risk_decision = decision
        t.reason_code = reason_code
        t.error_reason = err_reason
        if status in HELD:
            t.authorized = amount // 2 if status == "PARTIAL_AUTHORIZED" else amount
        if status in REVIEW_STATUSES:
            t.review = "pending"
        if sale and status in CAPTURABLE:
            t.sale_captured = t.authorized
        t.processor = self.processor_info(resp_code)
        # TMS token creation (approved or held outcomes only)
        if "TOKEN_CREATE" in actions and status in HELD:
            types = [str(x) for x in (proc.get("actionTokenTypes") or ["customer", "paymentInstrument"])]
            cust_id = refs.get("customer") or dig(body, "paymentInformation", "customer", "id")
            tok: dict = {}
            if "customer" in types and not cust_id:
                cust = self.new_customer({"buyerInformation": {"email": email} if email else {},
                                          "clientReferenceInformation": {"code": code}}, mid)
                cust_id = cust["id"]
                tok["customer"] = {"id": cust_id}
            if "paymentInstrument" in types:
                inst = self.new_instrument(card, cust_id, {"billTo": t.bill_to}, mid)
                tok["paymentInstrument"] = {"id": inst["id"]}
                tok["instrumentIdentifier"] = {"id": inst["instrumentIdentifier"]["id"], "state": "ACTIVE"}
                tok["instrumentidentifierNew"] = True
                if cust_id and "customer" not in tok:
                    tok["customer"] = {"id": cust_id}
            elif "instrumentIdentifier" in types:
                tok["instrumentIdentifier"] = {"id": self.new_identifier(card), "state": "ACTIVE"}
                tok["instrumentidentifierNew"] = True
            t.tokens = tok
        elif refs:
            t.tokens = {k: {"id": v} for k, v in refs.items() if v}
        t.response = self.payment_response(t, body)
        entry = self.record(t, "sale" if sale else "authorization")
        special = {"timeout": True} if local == "timeout" else None
        return 201, t.response, [entry], special

    def auth_outcome(self, local: str, actions: list[str], mid: str, currency: str,
                     card: dict) -> tuple[str, str | None, str | None, str | None, str]:
        """(status, errorInformation.reason, processor responseCode, DM decision, TSS reasonCode).

        Precedence: e-mail triggers (deterministic tests keep working while a model is set), then
        the merchant's routing model when one is configured, else the approval default."""
        trigger = local if local in TRIGGERS else None
        if trigger == "soft" and mid in self.soft_exempt:
            trigger = None  # the exempt route treats `soft` as an ordinary buyer
        if trigger in DM_TRIGGERS and "DECISION_SKIP" in actions:
            trigger = None
        if trigger:
            return TRIGGERS[trigger]
        approved = ("AUTHORIZED", None, "00", "ACCEPT" if "DECISION_SKIP" not in actions else None, "100")
        model = self.routing.merchants.get(mid) if self.routing else None
        if model is None or (local in EMAIL_TRIGGERS and not (local == "soft" and mid in self.soft_exempt)):
            return approved
        kind, reason = model.decide(currency, CARD_BRANDS.get(card.get("type") or ""))
        if kind == "approved":
            return approved
        resp_code, reason_code, _ = decline_codes(reason, soft=kind == "soft")
        return "DECLINED", reason, resp_code, "ACCEPT", reason_code

    def processor_info(self, resp_code: str | None) -> dict:
        if resp_code is None:
            return {}
        info = {"transactionId": self._digits(15), "networkTransactionId": self._digits(15),
                "responseCode": resp_code}
        if resp_code in ("00", "10"):
            info.update({"approvalCode": self._digits(6), "avs": {"code": "Y", "codeRaw": "Y"},
                         "retrievalReferenceNumber": self._digits(12),
                         "systemTraceAuditNumber": self._digits(6)})
        return info

    def payment_links(self, t: Txn) -> dict:
        base = f"/pts/v2/payments/{t.id}"
        links = {"self": {"href": base, "method": "GET"}}
        if t.status in CAPTURABLE and not t.sale:
            links["capture"] = {"href": f"{base}/captures", "method": "POST"}
        if t.status in HELD and not t.sale:
            links["authReversal"] = {"href": f"{base}/reversals", "method": "POST"}
        if t.sale and t.status in CAPTURABLE:
            links["refund"] = {"href": f"{base}/refunds", "method": "POST"}
            links["void"] = {"href": f"{base}/voids", "method": "POST"}
        return links

    def risk_info(self, t: Txn) -> dict | None:
        if t.risk_decision is None:
            return None
        rule = {"ACCEPT": "IGNORE", "REVIEW": "REVIEW", "REJECT": "REJECT"}[t.risk_decision]
        score = {"ACCEPT": "12", "REVIEW": "68", "REJECT": "94"}[t.risk_decision]
        return {"profile": {"name": "Simulator DM profile", "selectorRule": "Default Active Profile",
                            "decision": t.risk_decision},
                "rules": [{"name": "Simulator email trigger", "decision": rule}],
                "score": {"result": score, "factorCodes": ["H"] if rule != "IGNORE" else []},
                "localTime": t.created.strftime("%H:%M:%S")}

    def payment_response(self, t: Txn, body: dict) -> dict:
        cri = {"code": t.code}
        if t.client_txn_id:
            cri["transactionId"] = t.client_txn_id
        amount_details = {"totalAmount": fmt_amount(t.amount, t.currency), "currency": t.currency}
        if t.status in HELD:
            amount_details["authorizedAmount"] = fmt_amount(t.authorized, t.currency)
        resp = {
            "_links": self.payment_links(t), "id": t.id, "submitTimeUtc": ts(t.created), "status": t.status,
            "reconciliationId": t.reconciliation_id, "clientReferenceInformation": cri,
        }
        if t.processor:
            resp["processorInformation"] = t.processor
        resp["paymentInformation"] = {"card": {"type": t.card.get("type"), "suffix": t.card.get("suffix")},
                                      "tokenizedCard": {"type": t.card.get("type")}}
        resp["paymentAccountInformation"] = {"card": {"type": t.card.get("type")}}
        resp["orderInformation"] = {"amountDetails": amount_details}
        risk = self.risk_info(t)
        if risk:
            resp["riskInformation"] = risk
        if t.error_reason:
            messages = {
                "DECISION_PROFILE_REVIEW": "Decision Manager: the order is marked for review",
                "DECISION_PROFILE_REJECT": "Decision Manager: the order was rejected",
                "PROCESSOR_DECLINED": "Decline - General decline of the card.",
                "INSUFFICIENT_FUND": "Decline - Insufficient funds in the account.",
                "EXPIRED_CARD": "Decline - Expired card.",
                "CONSUMER_AUTHENTICATION_REQUIRED": "The cardholder is enrolled in Payer Authentication",
            }
            message = messages.get(t.error_reason) or DECLINE_REASONS.get(t.error_reason, ("", "", ""))[2]
            resp["errorInformation"] = {"reason": t.error_reason, "message": message}
        if t.tokens:
            resp["tokenInformation"] = t.tokens
        if t.status == "PENDING_AUTHENTICATION":
            resp["consumerAuthenticationInformation"] = {
                "acsUrl": "https://127.0.0.1/simulated-acs", "authenticationTransactionId": self._alnum(20),
                "pareq": base64.b64encode(b"simulated-pareq").decode(), "veresEnrolled": "Y",
                "stepUpUrl": "https://127.0.0.1/simulated-step-up", "accessToken": self._alnum(32)}
        return resp

    # ---------------------------------------------------------------- PTS: follow-ons
    def follow_on_amount(self, body: dict, parent: Txn, path: tuple[str, ...], allow_zero=False) -> tuple[int, str]:
        field = ".".join(path)
        cur = dig(body, *path[:-1], "currency")
        if cur is None:
            cur = parent.currency
        cur = check_currency(cur, ".".join(path[:-1] + ("currency",)))
        if cur != parent.currency:
            raise invalid("INVALID_DATA", "Declined - the currency differs from the original transaction",
                          ".".join(path[:-1] + ("currency",)))
        return parse_amount(dig(body, *path), cur, field, allow_zero=allow_zero), cur

    def child_code(self, body: dict, parent: Txn) -> tuple[str | None, str | None]:
        return (dig(body, "clientReferenceInformation", "code") or parent.root().code,
                dig(body, "clientReferenceInformation", "transactionId"))

    def cri(self, t: Txn) -> dict:
        out = {"code": t.code}
        if t.client_txn_id:
            out["transactionId"] = t.client_txn_id
        return out

    def capture(self, pid: str, body: dict, mid: str | None = None):
        p = self.get_txn(pid, ("payment",), mid)
        amount, cur = self.follow_on_amount(body, p, ("orderInformation", "amountDetails", "totalAmount"))
        self.check_dup_txn_id(body, mid)
        if p.fully_reversed:
            raise invalid("AUTH_ALREADY_REVERSED", "Declined - The authorization has already been reversed")
        if p.voided:
            raise invalid("TRANSACTION_ALREADY_REVERSED_OR_SETTLED", "Declined - The payment has been voided")
        if p.status not in HELD:
            raise invalid("MISSING_AUTH", f"Declined - There is no authorization to capture (status {p.status})")
        if p.status not in CAPTURABLE:
            raise invalid("NOT_SUPPORTED",
                          f"Declined - The authorization cannot be captured while its status is {p.status}")
        if p.captured_total() + amount > p.held():
            raise invalid("EXCEEDS_AUTH_AMOUNT",
                          "Declined - The capture amount exceeds the remaining authorized amount",
                          "orderInformation.amountDetails.totalAmount")
        code, ctx = self.child_code(body, p)
        c = self.new_txn("capture", code=code, client_txn_id=ctx, currency=cur, amount=amount,
                         status="PENDING", parent=p)
        c.response = {
            "_links": {"self": {"href": f"/pts/v2/captures/{c.id}", "method": "GET"},
                       "refund": {"href": f"/pts/v2/captures/{c.id}/refunds", "method": "POST"},
                       "void": {"href": f"/pts/v2/captures/{c.id}/voids", "method": "POST"}},
            "id": c.id, "submitTimeUtc": ts(c.created), "status": "PENDING",
            "reconciliationId": c.reconciliation_id, "clientReferenceInformation": self.cri(c),
            "orderInformation": {"amountDetails": {"totalAmount": fmt_amount(amount, cur), "currency": cur}},
        }
        return 201, c.response, [self.record(c, "capture")]

    def refund(self, tid: str, body: dict, of_capture: bool, mid: str | None = None):
        if of_capture:
            target = self.lookup(tid, mid)
            if target is None or not (target.kind == "capture" or (target.kind == "payment" and target.sale)):
                raise invalid("INVALID_PAYMENT_ID", f"Declined - The capture id {tid} is not valid", "id")
            p = target.root()
        else:
            target = p = self.get_txn(tid, ("payment",), mid)
        amount, cur = self.follow_on_amount(body, p, ("orderInformation", "amountDetails", "totalAmount"))
        self.check_dup_txn_id(body, mid)
        if target.kind == "capture" and target.voided:
            raise invalid("CAPTURE_ALREADY_VOIDED", "Declined - The capture has been voided")
        if target.kind == "payment" and target.sale and target.voided and of_capture:
            raise invalid("CAPTURE_ALREADY_VOIDED", "Declined - The sale has been voided")
        captured = p.captured_total()
        if captured == 0:
            raise invalid("INVALID_DATA", "Declined - There is no captured amount to refund")
        remaining = captured - p.refunded_total()
        if target.kind == "capture":
            on_capture = sum(r.amount for r in target.children if r.kind == "refund" and not r.voided)
            remaining = min(remaining, target.amount - on_capture)
        if amount > remaining:
            raise invalid("INVALID_AMOUNT", "Declined - The refund amount exceeds the captured amount not yet refunded",
                          "orderInformation.amountDetails.totalAmount")
        code, ctx = self.child_code(body, p)
        parent = target if target.kind == "capture" else p
        r = self.new_txn("refund", code=code, client_txn_id=ctx, currency=cur, amount=amount,
                         status="PENDING", parent=parent)
        r.processor = {"responseCode": "00", "approvalCode": self._digits(6)}
        r.response = {
            "_links": {"self": {"href": f"/pts/v2/refunds/{r.id}", "method": "GET"},
                       "void": {"href": f"/pts/v2/refunds/{r.id}/voids", "method": "POST"}},
            "id": r.id, "submitTimeUtc": ts(r.created), "status": "PENDING",
            "reconciliationId": r.reconciliation_id, "clientReferenceInformation": self.cri(r),
            "refundAmountDetails": {"refundAmount": fmt_amount(amount, cur), "currency": cur},
            "processorInformation": r.processor,
            "orderInformation": {"amountDetails": {"currency": cur}},
        }
        return 201, r.response, [self.record(r, "refund")]

    def reversal(self, pid: str, body: dict, source: str = "api", mid: str | None = None):
        p = self.get_txn(pid, ("payment",), mid)
        amount, cur = self.follow_on_amount(body, p, ("reversalInformation", "amountDetails", "totalAmount"))
        self.check_dup_txn_id(body, mid)
        return self._reverse(p, amount, body, source)

    def _reverse(self, p: Txn, amount: int, body: dict, source: str):
        if p.fully_reversed:
            raise invalid("AUTH_ALREADY_REVERSED", "Declined - The authorization has already been reversed")
        if p.status not in HELD:
            raise invalid("MISSING_AUTH", f"Declined - There is no authorization to reverse (status {p.status})")
        if p.captured_total() > 0 or p.voided:
            raise invalid("TRANSACTION_ALREADY_REVERSED_OR_SETTLED",
                          "Declined - The authorization has been captured; refund or void the capture instead")
        if amount > p.held():
            raise invalid("INVALID_AMOUNT", "Declined - The reversal amount exceeds the authorized amount",
                          "reversalInformation.amountDetails.totalAmount")
        code, ctx = self.child_code(body, p)
        v = self.new_txn("reversal", code=code, client_txn_id=ctx, currency=p.currency, amount=amount,
                         status="REVERSED", parent=p)
        original = p.held()
        p.reversed += amount
        if p.held() == 0:
            p.fully_reversed = True
        v.processor = {"responseCode": "00", "transactionId": self._digits(15)}
        v.response = {
            "_links": {"self": {"href": f"/pts/v2/reversals/{v.id}", "method": "GET"}},
            "id": v.id, "submitTimeUtc": ts(v.created), "status": "REVERSED",
            "reconciliationId": v.reconciliation_id, "clientReferenceInformation": self.cri(v),
            "reversalAmountDetails": {"reversedAmount": fmt_amount(amount, p.currency),
                                      "originalTransactionAmount": fmt_amount(original, p.currency),
                                      "currency": p.currency},
            "processorInformation": v.processor,
            "orderInformation": {"amountDetails": {"totalAmount": fmt_amount(amount, p.currency),
                                                   "currency": p.currency}},
        }
        return 201, v.response, [self.record(v, "reversal", source)]

    def timeout_reversal(self, body: dict, mid: str | None = None):
        tx = dig(body, "clientReferenceInformation", "transactionId")
        if not tx:
            raise missing("clientReferenceInformation.transactionId")
        cands = [t for t in self.merchant_txns(mid) if t.kind == "payment" and t.client_txn_id == tx]
        if not cands:
            raise invalid("INVALID_DATA", "Declined - No authorization was found for this transactionId",
                          "clientReferenceInformation.transactionId")
        p = next((t for t in reversed(cands) if not t.fully_reversed), cands[-1])
        amount, _ = self.follow_on_amount(body, p, ("reversalInformation", "amountDetails", "totalAmount"))
        # the reversal's own transactionId is the original one; keep it on the record
        return self._reverse(p, amount, {"clientReferenceInformation": {"code": dig(
            body, "clientReferenceInformation", "code"), "transactionId": tx}}, "timeout-reversal")

    def void(self, kind: str, tid: str, body: dict, source: str = "api", mid: str | None = None):
        if kind == "credit":
            raise invalid("INVALID_PAYMENT_ID", "Declined - Stand-alone credits are not simulated", "id")
        if kind == "payment":
            t = self.get_txn(tid, ("payment",), mid)
        elif kind == "capture":
            t = self.lookup(tid, mid)
            if t is None or not (t.kind == "capture" or (t.kind == "payment" and t.sale)):
                raise invalid("INVALID_PAYMENT_ID", f"Declined - The capture id {tid} is not valid", "id")
        else:
            t = self.get_txn(tid, ("refund",), mid)
        self.check_dup_txn_id(body, mid)
        return self._void(t, body, source)

    def _void(self, t: Txn, body: dict, source: str):
        if t.kind == "payment":
            if not t.sale or t.sale_captured == 0:
                raise invalid("NOT_VOIDABLE", "Declined - An authorization cannot be voided; reverse it instead")
            amount = t.sale_captured
        else:
            amount = t.amount
        if t.voided:
            raise invalid("NOT_VOIDABLE", "Declined - The transaction has already been voided")
        if t.settled:
            raise invalid("NOT_VOIDABLE", "Declined - The transaction has already been settled")
        if t.kind in ("capture", "payment"):
            live = [r for r in (t.refunds() if t.kind == "payment" else t.children)
                    if r.kind == "refund" and not r.voided]
            if live:
                raise invalid("NOT_VOIDABLE", "Declined - The capture has refunds; void them first")
        code, ctx = self.child_code(body, t)
        v = self.new_txn("void", code=code, client_txn_id=ctx, currency=t.currency, amount=amount,
                         status="VOIDED", parent=t)
        t.voided = True
        t.status = "VOIDED"
        if t.response:
            t.response["status"] = "VOIDED"
        v.response = {
            "_links": {"self": {"href": f"/pts/v2/voids/{v.id}", "method": "GET"}},
            "id": v.id, "submitTimeUtc": ts(v.created), "status": "VOIDED",
            "clientReferenceInformation": self.cri(v),
            "voidAmountDetails": {"voidAmount": fmt_amount(amount, t.currency),
                                  "originalTransactionAmount": fmt_amount(amount, t.currency),
                                  "currency": t.currency},
        }
        return 201, v.response, [self.record(v, "void", source)]

    def timeout_void(self, body: dict, mid: str | None = None):
        tx = dig(body, "clientReferenceInformation", "transactionId")
        if not tx:
            raise missing("clientReferenceInformation.transactionId")
        cands = [t for t in self.merchant_txns(mid)
                 if t.client_txn_id == tx and t.kind in ("payment", "capture", "refund") and not t.voided]
        if not cands:
            raise invalid("INVALID_DATA", "Declined - No voidable transaction was found for this transactionId",
                          "clientReferenceInformation.transactionId")
        return self._void(cands[-1], {"clientReferenceInformation": {
            "code": dig(body, "clientReferenceInformation", "code"), "transactionId": tx}}, "timeout-void")

    # ---------------------------------------------------------------- Decision Manager review
    def decide_review(self, pid: str, decision: str, capture: bool | None, reverse: bool, source: str,
                      mid: str | None = None):
        p = self.lookup(pid, mid)
        if p is None or p.kind != "payment":
            raise not_found(f"transaction {pid} not found")
        if p.review != "pending":
            raise ApiError(409, {"status": "CONFLICT", "message": f"transaction {pid} is not pending review "
                                                                   f"(status {p.status}, review {p.review})"})
        entries = []
        if decision == "accept":
            p.review, p.risk_decision, p.status = "accepted", "ACCEPT", "AUTHORIZED"
            p.error_reason, p.reason_code = None, "100"
            if capture if capture is not None else p.sale:
                if p.sale:
                    p.sale_captured = p.authorized
                    e = self.record(p, "capture", source, amount=p.sale_captured)
                    entries.append(e)
                else:
                    _, _, es = self.capture(p.id, {"orderInformation": {"amountDetails": {
                        "totalAmount": fmt_amount(p.held(), p.currency), "currency": p.currency}}})
                    for e in es:
                        e["source"] = source
                    entries += es
        else:
            p.review, p.risk_decision, p.status = "rejected", "REJECT", "AUTHORIZED_RISK_DECLINED"
            p.error_reason, p.reason_code = "DECISION_PROFILE_REJECT", "481"
            if reverse:
                _, _, es = self._reverse(p, p.held(), {}, source)
                entries += es
        p.response["status"] = p.status
        p.response["_links"] = self.payment_links(p)
        if p.response.get("riskInformation"):
            p.response["riskInformation"] = self.risk_info(p)
        self.events.append({"time": ts_ms(utc_now()), "type": "review", "id": p.id, "decision": decision,
                            "source": source})
        payload = {
            "data": {
                "id": p.id, "type": "decision", "version": "1.0",
                "decision": p.risk_decision, "status": p.status,
                "clientReferenceInformation": {"code": p.code},
                "riskInformation": {"profile": {"decision": p.risk_decision}},
                "_links": {"self": {"href": f"/tss/v2/transactions/{p.id}", "method": "GET"}},
            },
            "organizationId": p.merchant_id,
        }
        return p, entries, f"risk.casemanagement.decision.{decision}", payload

    # ---------------------------------------------------------------- TSS
    def app_info(self, t: Txn) -> dict:
        names = {"payment": ["ics_auth", "ics_bill"] if t.sale else ["ics_auth"], "capture": ["ics_bill"],
                 "refund": ["ics_credit"], "reversal": ["ics_auth_reversal"], "void": ["ics_void"]}[t.kind]
        if t.kind == "payment" and t.risk_decision is not None:
            names = ["ics_decision"] + names
        ok = t.reason_code == "100"
        rflag = {"100": "SOK", "480": "DREVIEW", "481": "DREJECT", "475": "DAUTHENTICATE"}.get(
            t.reason_code, "DCARDREFUSED")
        apps = [{"name": n, "status": t.status, "reasonCode": t.reason_code if not ok else "100",
                 "rCode": "1" if ok else "0", "rFlag": rflag if not ok else "SOK",
                 "rMessage": "Request was processed successfully." if ok else (t.error_reason or "Declined"),
                 "reconciliationId": t.reconciliation_id, "returnCode": 1010000 if ok else 1020000}
                for n in names]
        return {"status": t.status, "reasonCode": t.reason_code, "rCode": "1" if ok else "0",
                "rFlag": rflag, "applications": apps}

    def tss_status(self, t: Txn) -> str:
        if t.kind == "payment" and t.fully_reversed:
            return "REVERSED"
        return t.status

    def tss_view(self, t: Txn, summary: bool = False) -> dict:
        root = t.root()
        card = root.card
        amount_details = {"totalAmount": fmt_amount(t.amount, t.currency), "currency": t.currency}
        if t.kind == "payment" and t.status in HELD:
            amount_details["authorizedAmount"] = fmt_amount(t.authorized, t.currency)
        cri = {"code": t.code, "applicationName": "REST API", "applicationVersion": "1.0"}
        if t.client_txn_id:
            cri["transactionId"] = t.client_txn_id
        view = {
            "id": t.id,
            ("submitTimeUtc" if summary else "submitTimeUTC"): ts(t.created),
            "merchantId": t.merchant_id,
            "status": self.tss_status(t),
            "applicationInformation": self.app_info(t),
            "clientReferenceInformation": cri,
            "orderInformation": {"amountDetails": amount_details},
            "paymentInformation": {
                "paymentType": {"name": "smartpay", "type": "credit card", "method": card_name(card.get("type"))},
                "card": {"suffix": card.get("suffix"), "prefix": card.get("prefix"), "type": card.get("type"),
                         "expirationMonth": card.get("expirationMonth"),
                         "expirationYear": card.get("expirationYear")},
            },
        }
        if t.processor:
            view["processorInformation"] = t.processor
        if t.kind == "payment":
            if not summary:
                view["rootId"] = t.id
                view["reconciliationId"] = t.reconciliation_id
                if t.bill_to:
                    view["orderInformation"]["billTo"] = t.bill_to
            if t.risk_decision:
                view["riskInformation"] = {"profile": {"name": "Simulator DM profile",
                                                       "decision": t.risk_decision},
                                           "score": {"result": self.risk_info(t)["score"]["result"]}}
            if t.tokens:
                view["tokenInformation"] = t.tokens
            if t.error_reason and not summary:
                view["errorInformation"] = {"reason": t.error_reason}
        elif not summary:
            view["rootId"] = root.id
            view["reconciliationId"] = t.reconciliation_id
        links = {("transactionDetail" if summary else "self"): {"href": f"/tss/v2/transactions/{t.id}",
                                                                 "method": "GET"}}
        if not summary:
            related = [c for c in t.children] + ([t.parent] if t.parent else [])
            if related:
                links["relatedTransactions"] = [{"href": f"/tss/v2/transactions/{r.id}", "method": "GET"}
                                                for r in related]
        view["_links"] = links
        return view

    def details(self, tid: str, mid: str | None = None) -> tuple[int, dict]:
        t = self.lookup(tid, mid)
        if t is None or not self.visible(t):
            raise not_found("The requested resource does not exist")
        return 200, self.tss_view(t)

    TERM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_.]*)\s*:\s*("(?:[^"\\]|\\.)*"|\[[^\]]*[\]}]|\S+)')

    def run_query(self, query: str, mid: str | None = None) -> list[Txn]:
        """Supports `field:value` terms joined by AND (OR between groups). Fields: id,
        clientReferenceInformation.code / .transactionId, status, rootId, submitTimeUtc:[a TO b]."""
        groups = re.split(r"\s+OR\s+", query.strip()) if query.strip() else []
        if not groups:
            raise invalid("MISSING_FIELD", "Declined - query is required", "query", "MISSING")
        parsed = []
        for g in groups:
            terms = []
            for part in re.split(r"\s+AND\s+", g.strip()):
                part = part.strip().strip("()").strip()
                m = self.TERM_RE.fullmatch(part)
                if not m:
                    raise invalid("INVALID_DATA", f"Declined - unsupported query term {part!r}", "query")
                field, value = m.group(1), m.group(2)
                if value.startswith('"') and value.endswith('"'):
                    value = value[1:-1].replace('\\"', '"')
                terms.append((field, value))
            parsed.append(terms)

        def match(t: Txn, field: str, value: str) -> bool:
            if field == "clientReferenceInformation.code":
                return t.code == value
            if field == "clientReferenceInformation.transactionId":
                return t.client_txn_id == value
            if field == "id":
                return t.id == value
            if field == "rootId":
                return t.root().id == value
            if field == "status":
                return self.tss_status(t) == value
            if field in ("submitTimeUtc", "submitTimeUTC"):
                return True  # date ranges accepted, not filtered (see README)
            if field == "merchantId":
                return value == t.merchant_id
            raise invalid("INVALID_DATA", f"Declined - unsupported query field {field}", "query")

        out = []
        for t in self.merchant_txns(mid):  # a merchant's search sees only its own transactions
            if not self.visible(t):
                continue
            if any(all(match(t, f, v) for f, v in terms) for terms in parsed):
                out.append(t)
        return out

    def search(self, body: dict, search_id: str | None = None, mid: str | None = None) -> tuple[int, dict]:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise missing("query")
        try:
            offset = int(body.get("offset", 0))
            limit = int(body.get("limit", 20))
        except (TypeError, ValueError):
            raise invalid("INVALID_DATA", "Declined - offset/limit must be integers", "limit") from None
        if offset < 0 or not 1 <= limit <= 2500:
            raise invalid("INVALID_DATA", "Declined - limit must be 1..2500 and offset >= 0", "limit")
        sort = str(body.get("sort") or "submitTimeUtc:desc")
        hits = self.run_query(query, mid)
        for key in reversed([s.strip() for s in sort.split(",") if s.strip()]):
            fname, _, direction = key.partition(":")
            rev = direction.strip().lower() == "desc"
            if fname.strip() == "id":
                hits.sort(key=lambda t: t.id, reverse=rev)
            elif fname.strip() in ("submitTimeUtc", "submitTimeUTC"):
                hits.sort(key=lambda t: t.created_mono, reverse=rev)
        page = hits[offset:offset + limit]
        sid = search_id or str(self._uuid())
        resp = {
            "searchId": sid, "save": bool(body.get("save", False)), "name": body.get("name", ""),
            "timezone": body.get("timezone", "UTC"), "query": query, "offset": offset, "limit": limit,
            "sort": sort, "count": len(page), "totalCount": len(hits), "submitTimeUtc": ts(utc_now()),
            "_links": {"self": {"href": f"/tss/v2/searches/{sid}", "method": "GET"}},
        }
        if page:
            resp["_embedded"] = {"transactionSummaries": [self.tss_view(t, summary=True) for t in page]}
        if resp["save"] and search_id is None:
            self.searches[sid] = {"merchant_id": mid, "body": dict(body)}
        return 201 if search_id is None else 200, resp

    def get_search(self, sid: str, mid: str | None = None) -> tuple[int, dict]:
        saved = self.searches.get(sid)
        if saved is None or (mid is not None and saved["merchant_id"] != mid):
            raise not_found("The requested resource does not exist")
        return self.search(saved["body"], search_id=sid, mid=saved["merchant_id"])

    # ---------------------------------------------------------------- TMS
    @staticmethod
    def public(obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_") or k in ("_links", "_embedded")}

    def tms_customer(self, cid: str) -> dict:
        cust = self.customers.get(cid)
        if cust is None:
            raise ApiError(404, {"errors": [{"type": "notFound", "message": "Token not found"}]})
        if cust.get("_deleted"):
            raise ApiError(410, {"errors": [{"type": "deleted", "message": "Token has been deleted"}]})
        return cust

    def tms_instrument(self, pid: str, customer_id: str | None = None) -> dict:
        inst = self.instruments.get(pid)
        if inst is None or (customer_id is not None and inst.get("_customer") != customer_id):
            raise ApiError(404, {"errors": [{"type": "notFound", "message": "Token not found"}]})
        if inst.get("_deleted"):
            raise ApiError(410, {"errors": [{"type": "deleted", "message": "Token has been deleted"}]})
        return inst

    def customer_view(self, cust: dict) -> dict:
        view = self.public(cust)
        default = dig(cust, "defaultPaymentInstrument", "id")
        if default and default in self.instruments and not self.instruments[default].get("_deleted"):
            view["_embedded"] = {"defaultPaymentInstrument": self.public(self.instruments[default])}
        return view

    def tms(self, method: str, parts: list[str], body: dict, mid: str | None = None) -> tuple[int, dict | None]:
        # parts: path split after /tms/. The vault is the organisation's: shared by all merchant ids,
        # `mid` only fills metadata.creator.
        if parts[:2] == ["v2", "customers"]:
            if len(parts) == 2 and method == "POST":
                if find_pan(body):
                    raise invalid("INVALID_DATA", "Declined - card numbers are not accepted", find_pan(body))
                cust = self.new_customer(body, mid)
                return 201, self.customer_view(cust)
            if len(parts) >= 3:
                cust = self.tms_customer(parts[2])
                cid = cust["id"]
                if len(parts) == 3:
                    if method == "GET":
                        return 200, self.customer_view(cust)
                    if method == "DELETE":
                        cust["_deleted"] = True
                        for inst in self.instruments.values():
                            if inst.get("_customer") == cid:
                                inst["_deleted"] = True
                        return 204, None
                if len(parts) == 4 and parts[3] == "payment-instruments":
                    if method == "GET":
                        items = [self.public(i) for i in self.instruments.values()
                                 if i.get("_customer") == cid and not i.get("_deleted")]
                        return 200, {"_links": {"self": {"href": f"/tms/v2/customers/{cid}/payment-instruments"}},
                                     "offset": 0, "limit": 20, "count": len(items), "total": len(items),
                                     "_embedded": {"paymentInstruments": items}}
                    if method == "POST":
                        return 201, self.public(self.create_instrument(body, cid, mid))
                if len(parts) == 5 and parts[3] == "payment-instruments":
                    inst = self.tms_instrument(parts[4], cid)
                    if method == "GET":
                        return 200, self.public(inst)
                    if method == "DELETE":
                        if dig(cust, "defaultPaymentInstrument", "id") == inst["id"] and any(
                                i.get("_customer") == cid and not i.get("_deleted") and i["id"] != inst["id"]
                                for i in self.instruments.values()):
                            raise ApiError(409, {"errors": [{"type": "conflict", "message":
                                                             "The default payment instrument cannot be deleted"}]})
                        inst["_deleted"] = True
                        return 204, None
        if parts[:2] == ["v1", "paymentinstruments"]:
            if len(parts) == 2 and method == "POST":
                return 201, self.public(self.create_instrument(body, None, mid))
            if len(parts) == 3:
                inst = self.tms_instrument(parts[2])
                if method == "GET":
                    return 200, self.public(inst)
                if method == "DELETE":
                    inst["_deleted"] = True
                    return 204, None
        if parts[:2] == ["v1", "instrumentidentifiers"] and len(parts) == 3 and method == "GET":
            ii = self.identifiers.get(parts[2])
            if ii is None:
                raise ApiError(404, {"errors": [{"type": "notFound", "message": "Token not found"}]})
            return 200, self.public(ii)
        if parts == ["v2", "tokenize"] and method == "POST":
            return self.tokenize(body, mid)
        raise not_found("The requested resource does not exist")

    def create_instrument(self, body: dict, customer_id: str | None, mid: str | None = None) -> dict:
        if dig(body, "card", "number") is not None or find_pan(body):
            raise invalid("INVALID_DATA", "Declined - card numbers are not accepted (tokens only)",
                          "card.number" if dig(body, "card", "number") is not None else find_pan(body))
        jwt = dig(body, "tokenInformation", "transientTokenJwt")
        ii_id = dig(body, "instrumentIdentifier", "id")
        if jwt:
            card = self.card_from_jwt(jwt)
        elif ii_id and ii_id in self.identifiers:
            card = dict(self.identifiers[ii_id]["_card"])
        else:
            raise missing("instrumentIdentifier.id")
        for k in ("expirationMonth", "expirationYear"):
            if dig(body, "card", k):
                card[k] = dig(body, "card", k)
        return self.new_instrument(card, customer_id, body, mid)

    def tokenize(self, body: dict, mid: str | None = None) -> tuple[int, dict]:
        if find_pan(body):
            raise invalid("INVALID_DATA", "Declined - card numbers are not accepted", find_pan(body))
        actions = [str(a).upper() for a in (dig(body, "processingInformation", "actionList") or [])]
        types = [str(t) for t in (dig(body, "processingInformation", "actionTokenTypes") or [])]
        if "TOKEN_CREATE" not in actions:
            raise missing("processingInformation.actionList")
        ti = body.get("tokenInformation") or {}
        if ti.get("transientTokenJwt"):
            card = self.card_from_jwt(ti["transientTokenJwt"])
        elif ti.get("jti"):
            card = {"type": "001", "suffix": "1111", "prefix": "411111"}
        else:
            raise missing("tokenInformation.transientTokenJwt")
        responses = []
        cust_id = None
        if "customer" in types:
            cust = self.new_customer(ti.get("customer") or {}, mid)
            cust_id = cust["id"]
            responses.append({"resource": "customer", "httpStatus": 201, "id": cust_id})
        if "paymentInstrument" in types:
            inst = self.new_instrument(card, cust_id, ti.get("paymentInstrument") or {}, mid)
            responses.append({"resource": "paymentInstrument", "httpStatus": 201, "id": inst["id"]})
            responses.append({"resource": "instrumentIdentifier", "httpStatus": 201,
                              "id": inst["instrumentIdentifier"]["id"]})
        elif "instrumentIdentifier" in types:
            responses.append({"resource": "instrumentIdentifier", "httpStatus": 201,
                              "id": self.new_identifier(card)})
        return 200, {"responses": responses}

    # ---------------------------------------------------------------- chargebacks
    def add_chargeback(self, spec: dict) -> dict:
        tid = spec.get("transactionId") or spec.get("id")
        t = self.txns.get(str(tid))
        if t is None:
            raise not_found(f"transaction {tid} not found")
        p = t.root()
        captured = t.amount if t.kind == "capture" and not t.voided else p.captured_total()
        if t.kind not in ("payment", "capture") or captured == 0:
            raise ApiError(409, {"status": "CONFLICT", "message": "chargebacks need a captured transaction"})
        amount = spec.get("amount")
        if amount is not None:
            minor = parse_amount(str(amount), p.currency, "amount", allow_zero=False)
            if minor > captured:
                raise ApiError(409, {"status": "CONFLICT", "message": "chargeback exceeds the captured amount"})
        else:
            minor = captured
        when = parse_iso(spec["time"]) if spec.get("time") else utc_now()
        if when is None:
            raise ApiError(400, {"status": "INVALID_REQUEST", "message": "time must be ISO 8601"})
        settle = p.created
        cb = {
            "processorMerchantId": p.merchant_id, "merchantName": "O2C Simulator Merchant",
            "transactionReferenceNumber": t.reconciliation_id, "merchantReferenceNumber": p.code,
            "natureOfDispute": spec.get("natureOfDispute", "Fraud"),
            "alertType": spec.get("alertType", "Chargeback"),
            "amount": fmt_amount(minor, p.currency), "sign": spec.get("sign", "-"),
            "action": spec.get("action", "Chargeback"), "cardType": card_name(p.card.get("type")),
            "originalSettlementTime": ts(settle), "trackingNumber": self._digits(12),
            "currencyCode": p.currency, "requestId": t.id,
            "responseDueTime": ts(when + timedelta(days=int(spec.get("response_due_days", 20)))),
            "time": ts(when), "actionDescription": spec.get("actionDescription", "Chargeback received"),
            "customerId": dig(p.tokens, "customer", "id", default="") or "",
            "reasonCode": str(spec.get("reasonCode", "10.4")),
            "representmentCPTime": spec.get("representmentCPTime", ""),
            "applications": "ics_bill", "eventRequestedTime": ts(when),
            "preDisputeFlag": spec.get("preDisputeFlag", "N"),
        }
        self.chargebacks.append(cb)
        return cb

    def report(self, query: dict, mid: str | None = None) -> tuple[int, dict]:
        start_s = (query.get("startTime") or [None])[0]
        end_s = (query.get("endTime") or [None])[0]
        if not start_s:
            raise missing("startTime")
        if not end_s:
            raise missing("endTime")
        start, end = parse_iso(start_s), parse_iso(end_s)
        if start is None or end is None or end < start:
            raise invalid("INVALID_DATA", "Declined - startTime/endTime must be ISO 8601 and ordered",
                          "startTime" if start is None else "endTime")
        mid = mid or self.creds["merchant_id"]
        rows = [cb for cb in self.chargebacks if start <= parse_iso(cb["time"]) <= end
                and cb["processorMerchantId"] == mid]  # a merchant's report lists its own disputes
        return 200, {"organizationId": (query.get("organizationId") or [mid])[0],
                     "startTime": start_s, "endTime": end_s, "chargebackDetails": rows}

    # ---------------------------------------------------------------- settlement
    def settle(self, tid: str | None) -> int:
        n = 0
        for t in self.order:
            if tid and t.root().id != tid and t.id != tid:
                continue
            if ((t.kind in ("capture", "refund") or (t.kind == "payment" and t.sale and t.sale_captured))
                    and not t.voided and not t.settled):
                t.settled = True
                if t.kind in ("capture", "refund"):
                    t.status = "TRANSMITTED"
                    t.response["status"] = "TRANSMITTED"
                n += 1
        return n

    # ---------------------------------------------------------------- state dump
    def txn_state(self, t: Txn) -> dict:
        d = {"id": t.id, "kind": t.kind, "merchant_id": t.merchant_id, "status": self.tss_status(t),
             "code": t.code,
             "transactionId": t.client_txn_id, "currency": t.currency,
             "amount": fmt_amount(t.amount, t.currency), "parentId": t.parent.id if t.parent else None,
             "created": ts_ms(t.created), "voided": t.voided, "settled": t.settled,
             "children": [c.id for c in t.children]}
        if t.kind == "payment":
            d.update({"sale": t.sale, "authorized": fmt_amount(t.authorized, t.currency),
                      "reversed": fmt_amount(t.reversed, t.currency),
                      "captured": fmt_amount(t.captured_total(), t.currency),
                      "refunded": fmt_amount(t.refunded_total(), t.currency),
                      "review": t.review, "riskDecision": t.risk_decision, "card": t.card, "tokens": t.tokens})
        return d

    def state(self, mid: str | None = None) -> dict:
        """Everything, or (mid) one merchant's transactions, chargebacks and ledger size."""
        return {
            "merchant_id": self.creds["merchant_id"],
            "merchant_ids": list(self.merchants),
            "config": self.config,
            "transactions": [self.txn_state(t) for t in self.merchant_txns(mid)],
            "customers": [self.public(c) | {"deleted": bool(c.get("_deleted"))} for c in self.customers.values()],
            "paymentInstruments": [self.public(i) | {"deleted": bool(i.get("_deleted"))}
                                   for i in self.instruments.values()],
            "chargebacks": [cb for cb in self.chargebacks if mid is None or cb["processorMerchantId"] == mid],
            "faults": [f.as_dict() for f in self.faults.values()],
            "events": self.events,
            "notifications": [self.notification_view(n) for n in self.notifications],
            "ledger_size": sum(1 for e in self.ledger if mid is None or e["merchant_id"] == mid),
            "routing_model": self.routing.view() if self.routing else None,
            "soft_decline_exempt": sorted(self.soft_exempt),
        }

    # ---------------------------------------------------------------- notifications
    def build_notification(self, event_type: str, payload, product_id: str | None, tamper,
                           timestamp_ms: int | None, url: str | None, merchant_id: str | None = None) -> dict:
        """A signed notification from `merchant_id` (default the primary): its organizationId and
        webhook key."""
        creds = self.merchants.get(merchant_id or "") or self.creds
        if product_id is None:
            product_id = ("decisionManager" if event_type.startswith("risk.")
                          else "tokenManagement" if event_type.startswith("tms.")
                          else "payments")
        t_ms = int(timestamp_ms if timestamp_ms is not None else time.time() * 1000)
        envelope = {
            "eventType": event_type, "webhookId": self.webhook_id, "productId": product_id,
            "organizationId": creds["merchant_id"], "eventDate": ts_ms(utc_now()),
            "transactionTraceId": str(self._uuid()), "retryNumber": 0, "payload": payload, "requestType": "NEW",
        }
        key_b64, key_id = creds["webhook_secret_b64"], creds["webhook_key_id"]
        mode = self.config.get("webhook_signed_content", "payload")
        tamper = {True: "body", False: None, None: None}.get(tamper, tamper)
        if tamper == "key":
            key_b64 = base64.b64encode(hashlib.sha256(b"wrong-key").digest()).decode()
        if tamper == "keyId":
            key_id = str(self._uuid())
        body = js_json(envelope)
        header = sign_webhook(payload, key_b64, key_id, t_ms, mode, body)
        if tamper == "body":
            tampered = json.loads(body)
            tampered["payload"] = {"tampered": True, **(tampered["payload"] if isinstance(tampered["payload"], dict)
                                                        else {"original": tampered["payload"]})}
            body = js_json(tampered)
        elif tamper == "signature":
            t_part, kid_part, sig_part = header.split(";", 2)
            sig = bytearray(base64.b64decode(sig_part[4:]))
            sig[0] ^= 0x01
            header = f"{t_part};{kid_part};sig={base64.b64encode(bytes(sig)).decode()}"
        elif tamper not in (None, "key", "keyId"):
            raise ValueError("tamper must be true/false or one of body, signature, key, keyId")
        notif = {"id": str(self._uuid()), "eventType": event_type, "url": url or self.config.get("notify_url"),
                 "tamper": tamper, "timestamp_ms": t_ms, "headers": {"v-c-signature": header,
                                                                      "V-C-Transaction-Trace-Id":
                                                                          envelope["transactionTraceId"]},
                 "body": body, "attempts": [], "state": "pending"}
        self.notifications.append(notif)
        return notif

    @staticmethod
    def notification_view(n: dict) -> dict:
        return {k: n[k] for k in ("id", "eventType", "url", "tamper", "timestamp_ms", "headers", "body",
                                  "attempts", "state")}

    def deliver(self, notif: dict):
        url = notif["url"]
        if not url:
            notif["state"] = "no-url"
            return
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        retries = int(self.config.get("notify_retries", 3))
        interval = self.config.get("notify_retry_interval_ms", 1000) / 1000.0
        body_obj = json.loads(notif["body"])
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(interval)
                body_obj["retryNumber"] = attempt
                data = js_json(body_obj).encode()
            else:
                data = notif["body"].encode()
            req = urllib.request.Request(url, data=data, method="POST", headers={
                "Content-Type": "application/json", **notif["headers"]})
            rec = {"at": ts_ms(utc_now()), "retryNumber": attempt}
            try:
                with opener.open(req, timeout=float(self.config.get("notify_timeout_s", 10))) as resp:
                    rec["status"] = resp.status
            except urllib.error.HTTPError as e:
                rec["status"] = e.code
            except (OSError, ValueError) as e:
                rec["error"] = type(e).__name__ + ": " + str(e)
            with self.lock:
                notif["attempts"].append(rec)
            if 200 <= rec.get("status", 0) < 300:
                notif["state"] = "delivered"
                return
        notif["state"] = "failed"

    def dispatch(self, notif: dict, repeat: int = 1, sync: bool = False):
        def run():
            for _ in range(max(1, repeat)):
                self.deliver(notif)
        if sync:
            run()
        else:
            threading.Thread(target=run, daemon=True, name=f"notify-{notif['id'][:8]}").start()


# --------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------

ROUTES = [
    ("POST", re.compile(r"^/pts/v2/payments/?$"), "authorize"),
    ("POST", re.compile(r"^/pts/v2/payments/([^/]+)/captures$"), "capture"),
    ("POST", re.compile(r"^/pts/v2/payments/([^/]+)/refunds$"), "refund_payment"),
    ("POST", re.compile(r"^/pts/v2/captures/([^/]+)/refunds$"), "refund_capture"),
    ("POST", re.compile(r"^/pts/v2/payments/([^/]+)/reversals$"), "reversal"),
    ("POST", re.compile(r"^/pts/v2/reversals$"), "timeout_reversal"),
    ("POST", re.compile(r"^/pts/v2/(payments|captures|refunds|credits)/([^/]+)/voids$"), "void"),
    ("POST", re.compile(r"^/pts/v2/voids$"), "timeout_void"),
    ("GET", re.compile(r"^/tss/v2/transactions/([^/]+)$"), "details"),
    ("POST", re.compile(r"^/tss/v2/searches$"), "search"),
    ("GET", re.compile(r"^/tss/v2/searches/([^/]+)$"), "get_search"),
    ("POST", re.compile(r"^/risk/v1/decisions/([^/]+)/actions$"), "decision"),
    ("GET", re.compile(r"^/reporting/v3/chargeback-details$"), "report"),
    ("*", re.compile(r"^/tms/(.+)$"), "tms"),
]
ROUTE_OPERATION = {"authorize": "authorize", "capture": "capture", "refund_payment": "refund",
                   "refund_capture": "refund", "reversal": "reversal", "timeout_reversal": "reversal",
                   "void": "void", "timeout_void": "void", "details": "details", "search": "search",
                   "get_search": "search", "decision": "decision", "report": "report", "tms": "tms"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per keep-alive request on Linux loopback).
    disable_nagle_algorithm = True
    server_version = "cybersource-sim/1.0"
    sim: Simulator  # set on the class by serve()

    # quieter, PII-free access log on stderr
    def log_message(self, fmt, *args):
        if not self.sim.config.get("quiet"):
            sys.stderr.write("cybersource-sim %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch_request()

    def do_POST(self):
        self.dispatch_request()

    def do_PUT(self):
        self.dispatch_request()

    def do_PATCH(self):
        self.dispatch_request()

    def do_DELETE(self):
        self.dispatch_request()

    # ---------------------------------------------------------------- plumbing
    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, obj, content_type: str = PTS_CT, extra: dict | None = None):
        data = b"" if obj is None else json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("v-c-correlation-id", str(uuid.uuid4()))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch_request(self):
        try:
            client = ipaddress.ip_address(self.client_address[0])
            if not client.is_loopback:
                self.send_json(403, {"message": "loopback clients only"}, ADMIN_CT)
                return
            body = self.read_body()
            split = urllib.parse.urlsplit(self.path)
            if split.path.startswith("/__admin"):
                self.handle_admin(split, body)
            else:
                self.handle_api(split, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a simulator bug must not kill the connection silently
            sys.stderr.write(f"cybersource-sim internal error: {type(e).__name__}: {e}\n")
            try:
                err = server_error("SYSTEM_ERROR")
                self.send_json(err.http_status, err.body)
            except OSError:
                pass

    # ---------------------------------------------------------------- API
    def handle_api(self, split, raw: bytes):
        sim = self.sim
        method = self.command
        mid, reason = authenticate(method, self.path, self.headers, raw, sim.merchants,
                                   float(sim.config.get("date_window_s", DEFAULT_DATE_WINDOW_S)))
        if reason:
            sys.stderr.write(f"cybersource-sim 401 {method} {split.path}: {reason}\n")
            self.send_json(401, AUTH_FAILED_BODY, "application/json",
                           {"v-c-sim-auth-failure": reason} if sim.config.get("explain_401", True) else None)
            return
        route = None
        for m, rx, name in ROUTES:
            mt = rx.match(split.path)
            if mt and (m == "*" or m == method):
                route = (name, mt.groups())
                break
        if route is None:
            err = not_found("The requested resource does not exist")
            self.send_json(404, err.body)
            return
        name, groups = route
        op = ROUTE_OPERATION[name]
        body: dict = {}
        if raw.strip() and method in ("POST", "PUT", "PATCH"):
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                e = invalid("INVALID_DATA", "Declined - The request body is not valid JSON")
                self.send_json(e.http_status, e.body)
                return
            if not isinstance(body, dict):
                e = invalid("INVALID_DATA", "Declined - The request body must be a JSON object")
                self.send_json(e.http_status, e.body)
                return

        with sim.lock:
            rule = sim.faults.get(op) or sim.faults.get("*")
            outcome = rule.roll() if rule else "ok"
        if rule and rule.latency_ms:
            time.sleep(rule.latency_ms / 1000.0)
        if outcome == "error":
            if rule.status == 401:
                self.send_json(401, AUTH_FAILED_BODY, "application/json")
            elif rule.status >= 500:
                err = server_error(rule.reason or "SYSTEM_ERROR", rule.status)
                self.send_json(err.http_status, err.body)
            else:
                err = invalid(rule.reason or "PROCESSOR_UNAVAILABLE", "Declined - injected fault",
                              http_status=rule.status)
                self.send_json(err.http_status, err.body)
            with sim.lock:
                sim.events.append({"time": ts_ms(utc_now()), "type": "fault", "operation": op,
                                   "outcome": "error", "status": rule.status, "path": split.path})
            return

        notify = None
        entries: list[dict] = []
        special = None
        try:
            with sim.lock:
                status, resp, entries, special, notify = self.run_route(name, groups, method, split, body, mid)
        except ApiError as e:
            status, resp = e.http_status, e.body
        if special and special.get("timeout"):
            outcome = "lost"  # the `timeout` trigger: effect applied, answer lost (502 SERVER_TIMEOUT)
            rule_mode = "502"
        else:
            rule_mode = rule.lost_mode if rule else "502"
        if notify is not None:
            sim.dispatch(notify)
        if outcome == "lost":
            with sim.lock:
                for e in entries:
                    e["response"] = f"lost:{rule_mode}"
                sim.events.append({"time": ts_ms(utc_now()), "type": "fault", "operation": op,
                                   "outcome": f"lost:{rule_mode}", "path": split.path,
                                   "effects": [e["id"] for e in entries]})
            if rule_mode == "drop":
                self.drop()
                return
            if rule_mode == "hang":
                time.sleep((rule.hang_ms if rule else 30000) / 1000.0)
                self.drop()
                return
            err = server_error("SERVER_TIMEOUT")
            self.send_json(err.http_status, err.body)
            return
        self.send_json(status, resp)

    def run_route(self, name, groups, method, split, body, mid: str):
        """Run one API operation under the simulator lock, as merchant `mid` (the authenticated
        v-c-merchant-id: it sees and follows on only its own transactions).
        Returns (status, body, ledger entries, special, notification-to-dispatch)."""
        sim = self.sim
        if name in ("authorize", "capture", "refund_payment", "refund_capture", "reversal",
                    "timeout_reversal", "void", "timeout_void", "tms") and method in ("POST", "PATCH", "PUT"):
            pan_field = "paymentInformation.card.number" if dig(body, "paymentInformation", "card", "number") \
                is not None else find_pan(body)
            if pan_field:
                raise invalid("INVALID_DATA",
                              "Declined - card numbers are not accepted by this integration; send a token",
                              pan_field)
        if name == "authorize":
            status, resp, entries, special = sim.authorize(body, mid)
            return status, resp, entries, special, None
        if name == "capture":
            return (*sim.capture(groups[0], body, mid), None, None)
        if name == "refund_payment":
            return (*sim.refund(groups[0], body, of_capture=False, mid=mid), None, None)
        if name == "refund_capture":
            return (*sim.refund(groups[0], body, of_capture=True, mid=mid), None, None)
        if name == "reversal":
            return (*sim.reversal(groups[0], body, mid=mid), None, None)
        if name == "timeout_reversal":
            return (*sim.timeout_reversal(body, mid), None, None)
        if name == "void":
            kind = {"payments": "payment", "captures": "capture", "refunds": "refund", "credits": "credit"}[groups[0]]
            return (*sim.void(kind, groups[1], body, mid=mid), None, None)
        if name == "timeout_void":
            return (*sim.timeout_void(body, mid), None, None)
        if name == "details":
            return (*sim.details(groups[0], mid), [], None, None)
        if name == "search":
            return (*sim.search(body, mid=mid), [], None, None)
        if name == "get_search":
            return (*sim.get_search(groups[0], mid), [], None, None)
        if name == "report":
            return (*sim.report(urllib.parse.parse_qs(split.query), mid), [], None, None)
        if name == "decision":
            decision = str(dig(body, "decisionInformation", "decision", default="") or "").upper()
            if not decision:
                raise missing("decisionInformation.decision")
            if decision not in ("ACCEPT", "REJECT"):
                raise invalid("INVALID_DATA", "Declined - decision must be ACCEPT or REJECT",
                              "decisionInformation.decision")
            actions = [str(a).upper() for a in (dig(body, "processingInformation", "actionList") or [])]
            p, entries, event, payload = sim.decide_review(
                groups[0], decision.lower(), capture=("CAPTURE" in actions) or None,
                reverse="REVERSE" in actions, source="decision-api", mid=mid)
            notif = sim.build_notification(event, payload, None, None, None, None, p.merchant_id)
            resp = {"_links": {"self": {"href": f"/risk/v1/decisions/{p.id}/actions", "method": "POST"}},
                    "id": p.id, "submitTimeUtc": ts(utc_now()),
                    "status": "ACCEPTED" if decision == "ACCEPT" else "REJECTED",
                    "clientReferenceInformation": {"code": p.code}}
            return 201, resp, entries, None, notif
        if name == "tms":
            status, resp = sim.tms(method, groups[0].strip("/").split("/"), body, mid)
            return status, resp, [], None, None
        raise not_found("The requested resource does not exist")

    # ---------------------------------------------------------------- admin
    def admin_json(self, status: int, obj):
        self.send_json(status, obj, ADMIN_CT)

    def handle_admin(self, split, raw: bytes):
        sim = self.sim
        method = self.command
        path = split.path.rstrip("/")
        query = urllib.parse.parse_qs(split.query)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            self.admin_json(400, {"error": "body is not JSON"})
            return
        if not isinstance(body, dict):
            self.admin_json(400, {"error": "body must be a JSON object"})
            return
        try:
            self.route_admin(method, path, query, body)
        except ApiError as e:
            self.admin_json(e.http_status, e.body)
        except AdminFieldError as e:
            self.admin_json(400, {"error": str(e), "field": e.field})
        except (ValueError, TypeError, KeyError) as e:
            self.admin_json(400, {"error": f"{type(e).__name__}: {e}"})

    def route_admin(self, method, path, query, body):
        sim = self.sim
        mid_filter = query["merchant_id"][0] if "merchant_id" in query else None
        if path == "/__admin/health" and method == "GET":
            self.admin_json(200, {"status": "ok", "merchant_id": sim.creds["merchant_id"],
                                  "merchant_ids": list(sim.merchants),
                                  "uptime_s": round(time.monotonic() - sim.started, 3)})
        elif path == "/__admin/state" and method == "GET":
            with sim.lock:
                self.admin_json(200, sim.state(mid_filter))
        elif path == "/__admin/reset" and method == "POST":
            sim.reset(keep_faults=admin_flag(body, query, "keep_faults", False),
                      keep_model=admin_flag(body, query, "keep_model", True))
            self.admin_json(200, {"reset": True})
        elif path == "/__admin/ledger" and method == "GET":
            with sim.lock:
                rows = list(sim.ledger)
            for key in ("code", "type", "status", "id", "rootId", "transactionId", "merchant_id"):
                if key in query:
                    rows = [r for r in rows if str(r.get(key)) == query[key][0]]
            self.admin_json(200, {"entries": rows, "count": len(rows)})
        elif path == "/__admin/faults":
            if method == "GET":
                with sim.lock:
                    self.admin_json(200, {"faults": [f.as_dict() for f in sim.faults.values()]})
            elif method == "POST":
                ops = body.get("operation")
                ops = ops if isinstance(ops, list) else [ops]
                rules = []
                with sim.lock:
                    for op in ops:
                        op = "*" if op in ("*", "all") else op
                        if op != "*" and op not in OPERATIONS:
                            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)} or *")
                        sim.fault_serial += 1
                        rule = FaultRule({**body, "operation": op}, sim.seed, sim.fault_serial)
                        sim.faults[op] = rule
                        rules.append(rule.as_dict())
                self.admin_json(200, {"faults": rules})
            elif method == "DELETE":
                with sim.lock:
                    if "operation" in query:
                        for op in query["operation"]:
                            sim.faults.pop(op, None)
                    else:
                        sim.faults.clear()
                self.admin_json(200, {"faults": [f.as_dict() for f in sim.faults.values()]})
            else:
                self.admin_json(405, {"error": "method not allowed"})
        elif path.startswith("/__admin/reviews/") and method == "POST":
            tid = path.rsplit("/", 1)[1]
            decision = str(body.get("decision", "")).lower()
            if decision not in ("accept", "reject"):
                raise ValueError("decision must be accept or reject")
            with sim.lock:
                p, entries, event, payload = sim.decide_review(
                    tid, decision, capture=body.get("capture"), reverse=bool(body.get("reverse", False)),
                    source="admin-review")
                notif = None
                if body.get("notify", True):
                    notif = sim.build_notification(event, payload, None, body.get("tamper"), None,
                                                   body.get("url"), p.merchant_id)
                view = sim.txn_state(p)
            if notif:
                sim.dispatch(notif, sync=bool(body.get("sync", False)))
            self.admin_json(200, {"transaction": view, "effects": entries,
                                  "notification": sim.notification_view(notif) if notif else None})
        elif path == "/__admin/notify" and method == "POST":
            if not body.get("eventType"):
                raise ValueError("eventType is required")
            if body.get("merchant_id") is not None and body["merchant_id"] not in sim.merchants:
                raise AdminFieldError("merchant_id", "unknown merchant id")
            with sim.lock:
                notif = sim.build_notification(str(body["eventType"]), body.get("payload", {}),
                                               body.get("productId"), body.get("tamper"),
                                               body.get("timestamp_ms"), body.get("url"), body.get("merchant_id"))
            sim.dispatch(notif, repeat=int(body.get("repeat", 1)), sync=bool(body.get("sync", False)))
            self.admin_json(200, {"notification": sim.notification_view(notif)})
        elif path == "/__admin/notifications" and method == "GET":
            with sim.lock:
                self.admin_json(200, {"notifications": [sim.notification_view(n) for n in sim.notifications]})
        elif path == "/__admin/config":
            if method == "POST":
                allowed = {"notify_url", "date_window_s", "tss_lag_ms", "duplicate_transaction_id",
                           "notify_retries", "notify_retry_interval_ms", "notify_timeout_s",
                           "webhook_signed_content", "quiet", "explain_401"}
                unknown = set(body) - allowed
                if unknown:
                    raise ValueError(f"unknown config keys: {sorted(unknown)}")
                if body.get("duplicate_transaction_id", "allow") not in ("allow", "reject"):
                    raise ValueError("duplicate_transaction_id must be allow or reject")
                if body.get("webhook_signed_content", "payload") not in ("payload", "raw_body"):
                    raise ValueError("webhook_signed_content must be payload or raw_body")
                with sim.lock:
                    sim.config.update(body)
            self.admin_json(200, {"config": sim.config})
        elif path == "/__admin/chargebacks":
            if method == "POST":
                with sim.lock:
                    cb = sim.add_chargeback(body)
                self.admin_json(201, {"chargeback": cb})
            else:
                with sim.lock:
                    self.admin_json(200, {"chargebacks": sim.chargebacks})
        elif path == "/__admin/settle" and method == "POST":
            with sim.lock:
                n = sim.settle(body.get("id"))
            self.admin_json(200, {"settled": n})
        elif path == "/__admin/transient-tokens" and method == "POST":
            with sim.lock:
                self.admin_json(201, sim.mint_transient_token(body))
        elif path == "/__admin/routing-model":
            self.routing_model_admin(method, body)
        elif path == "/__admin/soft-decline-exempt":
            if method == "PUT":
                check_keys(body, "", {"merchant_ids"}, {"merchant_ids"})
                ids = body["merchant_ids"]
                if not isinstance(ids, list):
                    raise AdminFieldError("merchant_ids", "must be a list of merchant ids")
                for i, mid in enumerate(ids):
                    if mid not in sim.merchants:
                        raise AdminFieldError(f"merchant_ids[{i}]", "unknown merchant id (configured: "
                                              f"{', '.join(sim.merchants)})")
                with sim.lock:
                    sim.soft_exempt = set(ids)
            elif method != "GET":
                self.admin_json(405, {"error": "method not allowed"})
                return
            with sim.lock:
                self.admin_json(200, {"merchant_ids": sorted(sim.soft_exempt)})
        else:
            self.admin_json(404, {"error": f"no admin endpoint {method} {path}"})


    def routing_model_admin(self, method: str, body: dict):
        """PUT sets (replaces) the model and zeroes its counters; GET shows config + counters;
        DELETE removes it (back to approve-unless-triggered)."""
        sim = self.sim
        if method == "PUT":
            model = RoutingModel(body, sim.seed, list(sim.merchants))  # validates before replacing
            with sim.lock:
                sim.routing = model
        elif method == "DELETE":
            with sim.lock:
                sim.routing = None
        elif method != "GET":
            self.admin_json(405, {"error": "method not allowed"})
            return
        with sim.lock:
            self.admin_json(200, sim.routing.view() if sim.routing else {"model": None, "counters": {}})


def admin_flag(body: dict, query: dict, name: str, default: bool) -> bool:
    """A boolean admin option from the JSON body ({"keep_model": false}) or the query string
    (?keep_model=0); the body wins."""
    if name in body:
        return bool(body[name])
    if name in query:
        return query[name][0].strip().lower() not in ("0", "false", "no", "off", "")
    return default


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

CRED_FIELDS = ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64")
PRIMARY_SECRET = "CybersourceSecret"
ROUTE_SECRET_RE = re.compile(r"^Cybersource[A-Za-z0-9]*Secret$")  # CybersourceRouteBSecret, ...


def secrets_path(args) -> str | None:
    """--secrets-file, else the default file unless every primary credential came as a flag."""
    if args.secrets_file is None and DEFAULT_SECRETS.exists() and not all(getattr(args, k) for k in CRED_FIELDS):
        return str(DEFAULT_SECRETS)
    return args.secrets_file


def load_creds(args) -> dict:
    """The primary merchant: CybersourceSecret from the secrets file, single fields overridden by flags."""
    creds: dict = {}
    secrets = secrets_path(args)
    if secrets:
        doc = json.loads(Path(secrets).read_text())
        cs = doc.get(PRIMARY_SECRET, doc)
        creds.update({k: cs[k] for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id",
                                          "webhook_secret_b64") if k in cs})
    for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64"):
        if getattr(args, k):
            creds[k] = getattr(args, k)
    lacking = [k for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64")
               if not creds.get(k)]
    if lacking:
        raise SystemExit(f"cybersource-sim: missing credentials: {', '.join(lacking)} "
                         "(use --secrets-file or the flags)")
    for k in ("shared_secret_b64", "webhook_secret_b64"):
        try:
            base64.b64decode(creds[k], validate=True)
        except ValueError:
            raise SystemExit(f"cybersource-sim: {k} is not standard base64") from None
    return creds


def load_routes(args, primary: dict) -> dict[str, dict]:
    """Further merchant ids (payment routes): every other `Cybersource*Secret` member of the
    secrets file, e.g. CybersourceRouteBSecret. Webhook fields default to the primary's."""
    secrets = secrets_path(args)
    doc = json.loads(Path(secrets).read_text()) if secrets else {}
    routes: dict[str, dict] = {}
    for key, value in doc.items():
        if key == PRIMARY_SECRET or not ROUTE_SECRET_RE.match(key) or not isinstance(value, dict):
            continue
        creds = {k: value[k] for k in CRED_FIELDS if value.get(k)}
        lacking = [k for k in ("merchant_id", "key_id", "shared_secret_b64") if k not in creds]
        if lacking:
            raise SystemExit(f"cybersource-sim: {key} lacks {', '.join(lacking)}")
        for k in ("webhook_key_id", "webhook_secret_b64"):
            creds.setdefault(k, primary[k])
        for k in ("shared_secret_b64", "webhook_secret_b64"):
            try:
                base64.b64decode(creds[k], validate=True)
            except ValueError:
                raise SystemExit(f"cybersource-sim: {key}.{k} is not standard base64") from None
        if creds["merchant_id"] == primary["merchant_id"] or creds["merchant_id"] in routes:
            raise SystemExit(f"cybersource-sim: {key}.merchant_id {creds['merchant_id']} is already served")
        routes[creds["merchant_id"]] = creds
    return routes


def build_server(argv=None):
    """Parse the CLI arguments and build the (not yet serving) simulator server.

    Used by main() and by sandbox.py, which runs all simulators in one process.
    """
    ap = argparse.ArgumentParser(description="Cybersource REST API sandbox simulator (loopback only)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = pick a free one and print it)")
    ap.add_argument("--secrets-file", help="JSON with a CybersourceSecret member (the primary merchant) and "
                    "optionally more Cybersource*Secret members (further merchant ids; "
                    "infra/local/secrets.local.json)")
    ap.add_argument("--merchant-id")
    ap.add_argument("--key-id")
    ap.add_argument("--shared-secret-b64")
    ap.add_argument("--webhook-key-id")
    ap.add_argument("--webhook-secret-b64")
    ap.add_argument("--notify-url", help="where signed notifications are POSTed")
    ap.add_argument("--seed", type=int, default=0, help="seed for ids and fault rolls (deterministic)")
    ap.add_argument("--date-window-s", type=float, default=DEFAULT_DATE_WINDOW_S,
                    help="accepted clock skew of the Date header, seconds (default 900)")
    ap.add_argument("--tss-lag-ms", type=int, default=0,
                    help="transactions become visible to TSS details/search only after this delay")
    ap.add_argument("--reject-duplicate-transaction-id", action="store_true",
                    help="refuse a reused clientReferenceInformation.transactionId with 400 INVALID_DATA")
    ap.add_argument("--quiet", action="store_true", help="no access log on stderr")
    args = ap.parse_args(argv)

    try:
        if not ipaddress.ip_address("127.0.0.1" if args.host == "localhost" else args.host).is_loopback:
            raise ValueError
    except ValueError:
        ap.error("--host must be a loopback address (the admin API is unauthenticated)")
    creds = load_creds(args)
    config = {"notify_url": args.notify_url, "date_window_s": args.date_window_s, "tss_lag_ms": args.tss_lag_ms,
              "duplicate_transaction_id": "reject" if args.reject_duplicate_transaction_id else "allow",
              "notify_retries": 3, "notify_retry_interval_ms": 1000, "notify_timeout_s": 10,
              "webhook_signed_content": "payload", "quiet": args.quiet, "explain_401": True}
    sim = Simulator(creds, args.seed, config, load_routes(args, creds))
    handler = type("BoundHandler", (Handler,), {"sim": sim})
    server_cls = type("SimServer", (ThreadingHTTPServer,), {
        "daemon_threads": True, "address_family": socket.AF_INET6 if ":" in args.host else socket.AF_INET})
    return server_cls((args.host, args.port), handler)


def main(argv=None) -> int:
    server = build_server(argv)
    host, port = server.server_address[0], server.server_address[1]
    host = host if ":" not in host else f"[{host}]"
    print(f"cybersource-sim listening on http://{host}:{port}", flush=True)

    def stop(signum, frame):  # noqa: ARG001
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
