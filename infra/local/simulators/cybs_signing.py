"""Cybersource simulator: signing. HTTP Signature verification of API requests, webhook
notification signatures (v-c-signature over JSON.stringify output), and the transient-token JWTs
(decoded and minted; their RS256 signature is not simulated). See docs/cybersource.md.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from cybs_common import CARD_TYPES, card_type_from_bin, invalid, utc_now

# --------------------------------------------------------------------------------------------
# HTTP Signature verification (docs/cybersource.md §1)
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
    """v-c-signature value `t=<ms>;keyId=<id>;sig=<b64>` (docs/cybersource.md §3.4). The signed message is
    t + "." + compact JSON of the payload member (official plugins) or, with content="raw_body",
    t + "." + the raw body."""
    message = f"{t_ms}." + (raw_body if content == "raw_body" else js_json(payload))
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), message.encode(), hashlib.sha256).digest())
    return f"t={t_ms};keyId={key_id};sig={sig.decode()}"



# --------------------------------------------------------------------------------------------
# JSON as JavaScript writes it (the signed webhook payload) and base64url
# --------------------------------------------------------------------------------------------

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



# --------------------------------------------------------------------------------------------
# transient tokens (Flex JWTs)
# --------------------------------------------------------------------------------------------

def card_from_jwt(jwt: str) -> dict:
    """The card view {type, suffix, prefix, expirationMonth, expirationYear} of a transient token.
    400 INVALID_DATA when it is no JWT or has expired; the signature is not checked."""
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


def transient_token(spec: dict, jti: str) -> dict:
    """A transient token for the admin API: {transientTokenJwt, jti, maskedNumber}."""
    ctype = str(spec.get("type", "001"))
    suffix = str(spec.get("suffix", "1111"))
    prefix = CARD_TYPES.get(ctype, ("", "411111"))[1]
    length = 15 if ctype == "003" else 16
    masked = prefix + "X" * (length - len(prefix) - len(suffix)) + suffix
    now = int(time.time())
    header = {"kid": "sim-flex", "alg": "RS256"}
    claims = {"iss": "Flex/08", "exp": now + int(spec.get("ttl_s", 900)), "type": "mf-2.0.0",
              "iat": now, "jti": jti,
              "data": {"expirationYear": str(spec.get("expirationYear", "2031")), "number": masked,
                       "expirationMonth": str(spec.get("expirationMonth", "12")), "type": ctype}}
    token = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                      b64url(b"simulator-signature-not-verified")])
    return {"transientTokenJwt": token, "jti": jti, "maskedNumber": masked}
