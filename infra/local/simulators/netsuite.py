#!/usr/bin/env python3
"""NetSuite SuiteTalk REST simulator (shared/connectors/ERP_CRM_ASSUMED.md). Loopback only.

* `POST /services/rest/auth/oauth2/v1/token` — OAuth 2.0 client credentials with a JWT client
  assertion (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`).
  The assertion's signature is verified (PS256/384/512, RS256/384/512) against the public key
  derived from `ErpSecret.private_key_pem`; `kid` must equal `certificate_id`, `iss` the
  `client_id`, `aud` the token URL, `scope` must hold `rest_webservices`, `exp` in the future and
  at most 60 min after `iat`. Uses `cryptography` when importable, else a small stdlib RSA
  verifier in this file (public-key operation + EMSA-PKCS1-v1_5 / EMSA-PSS checks).
* records under `/services/rest/record/v1/`: `customer`, `salesOrder`, `customerDeposit`, `customerRefund`
  (POST create, GET, PATCH update, PUT upsert by `eid:<externalId>`, DELETE, list) and the
  read-only `itemFulfillment` and `inventoryItem` (seeded with admin calls). Writes answer
  204 + `Location`, errors use NetSuite's `o:errorDetails` shape.
* `/__admin/`: records by type (with create/update counts), fulfilments and inventory seeding,
  faults, config, state, reset.

    python3 infra/local/simulators/netsuite.py [--port 4573] [--secrets-file infra/local/secrets.local.json]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets as pysecrets
import sys
import time
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import simkit  # noqa: E402
from simkit import AdminError, BaseSim, SimHandler, find_pan, rfc3339  # noqa: E402

try:  # optional: used when importable (the project venv has it via moto / SAM)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes as _hashes
    from cryptography.hazmat.primitives import serialization as _ser
    from cryptography.hazmat.primitives.asymmetric import padding as _padding
    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - exercised when run with a bare python3
    HAVE_CRYPTOGRAPHY = False

DEFAULT_PORT = 4573
BASE = "/services/rest"
TOKEN_PATH = BASE + "/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ERROR_CT = "application/vnd.oracle.resource+json; type=error"
SINGLE_CT = "application/vnd.oracle.resource+json; type=singular-resource"
COLLECTION_CT = "application/vnd.oracle.resource+json; type=collection"
ALGS = ("PS256", "PS384", "PS512", "RS256", "RS384", "RS512")
HASH = {"256": "sha256", "384": "sha384", "512": "sha512"}

TYPES = {t.lower(): t for t in ("customer", "salesOrder", "customerDeposit", "customerRefund", "itemFulfillment",
                                 "inventoryItem")}
WRITABLE = {"customer", "salesOrder", "customerDeposit", "customerRefund"}
FIRST_ID = {"customer": 1001, "salesOrder": 5001, "customerDeposit": 8001, "customerRefund": 8501,
            "itemFulfillment": 9001, "inventoryItem": 301}
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ROUTE_NAMES = ("token", "list", "create", "get", "upsert", "update", "delete")
STATUS_SECTION = {400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6", 409: "15.5.10",
                  412: "15.5.13", 415: "15.5.16", 500: "15.6.1", 502: "15.6.3", 503: "15.6.4", 504: "15.6.5"}
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
          502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
INVALID_LOGIN = ("Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
                 "Setup > Users/Roles > User Management > View Login Audit Trail.")


class NsError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


# --------------------------------------------------------------------------------------------
# RSA public key + JWS verification (cryptography, or a stdlib fallback)
# --------------------------------------------------------------------------------------------

def _der_read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def _der_seq(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag, val, pos = _der_read(data, pos)
        out.append((tag, val))
    return out


def rsa_public_numbers(pem: str) -> tuple[int, int]:
    """(n, e) from a PKCS#8 / PKCS#1 RSA private key or a SubjectPublicKeyInfo PEM (stdlib only)."""
    m = re.search(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", pem, re.S)
    if not m:
        raise ValueError("no PEM block")
    der = base64.b64decode("".join(m.group(2).split()))
    kind = m.group(1)
    _, body, _ = _der_read(der, 0)
    items = _der_seq(body)
    if kind == "PRIVATE KEY":  # PKCS#8: version, algorithm, OCTET STRING(RSAPrivateKey)
        _, rsa, _ = _der_read(items[2][1], 0)
        ints = _der_seq(rsa)
        return int.from_bytes(ints[1][1], "big"), int.from_bytes(ints[2][1], "big")
    if kind == "RSA PRIVATE KEY":  # PKCS#1
        return int.from_bytes(items[1][1], "big"), int.from_bytes(items[2][1], "big")
    if kind == "PUBLIC KEY":  # SPKI: algorithm, BIT STRING(RSAPublicKey)
        _, pub, _ = _der_read(items[1][1][1:], 0)
        ints = _der_seq(pub)
        return int.from_bytes(ints[0][1], "big"), int.from_bytes(ints[1][1], "big")
    raise ValueError(f"unsupported PEM type {kind}")


_DIGEST_INFO = {  # DER DigestInfo prefixes (RFC 8017 §9.2 note 1)
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _mgf1(seed: bytes, length: int, hname: str) -> bytes:
    out, counter = b"", 0
    while len(out) < length:
        out += hashlib.new(hname, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def stdlib_verify(n: int, e: int, alg: str, data: bytes, sig: bytes) -> bool:
    hname = HASH[alg[2:]]
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    m = pow(s, e, n)
    digest = hashlib.new(hname, data).digest()
    if alg.startswith("RS"):
        t = _DIGEST_INFO[hname] + digest
        expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return hmac.compare_digest(m.to_bytes(k, "big"), expected)
    # EMSA-PSS-VERIFY (RFC 8017 §9.1.2), MGF1 with the same hash, salt length = hash length (RFC 7518 §3.5)
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    if m.bit_length() > em_bits:
        return False
    em = m.to_bytes(em_len, "big")
    h_len = s_len = len(digest)
    if em_len < h_len + s_len + 2 or em[-1] != 0xBC:
        return False
    masked, h = em[:em_len - h_len - 1], em[em_len - h_len - 1:-1]
    zero_bits = 8 * em_len - em_bits
    if masked[0] >> (8 - zero_bits) if zero_bits else 0:
        return False
    db = bytes(a ^ b for a, b in zip(masked, _mgf1(h, em_len - h_len - 1, hname)))
    db = bytes([db[0] & (0xFF >> zero_bits)]) + db[1:]
    ps_len = em_len - h_len - s_len - 2
    if db[:ps_len] != b"\x00" * ps_len or db[ps_len] != 0x01:
        return False
    salt = db[-s_len:]
    return hmac.compare_digest(h, hashlib.new(hname, b"\x00" * 8 + digest + salt).digest())


class Verifier:
    """Verifies JWS signatures for one RSA key; `backend` says which implementation is in use."""

    def __init__(self, pem: str, force_stdlib: bool = False):
        self.n, self.e = rsa_public_numbers(pem)
        self.key = None
        if HAVE_CRYPTOGRAPHY and not force_stdlib:
            self.key = _ser.load_pem_private_key(pem.encode(), password=None).public_key() \
                if "PRIVATE" in pem else _ser.load_pem_public_key(pem.encode())
        self.backend = "cryptography" if self.key is not None else "stdlib"

    def verify(self, alg: str, data: bytes, sig: bytes) -> bool:
        if self.key is None:
            return stdlib_verify(self.n, self.e, alg, data, sig)
        h = {"256": _hashes.SHA256, "384": _hashes.SHA384, "512": _hashes.SHA512}[alg[2:]]()
        pad = _padding.PKCS1v15() if alg.startswith("RS") else \
            _padding.PSS(mgf=_padding.MGF1(h), salt_length=h.digest_size)
        try:
            self.key.verify(sig, data, pad, h)
            return True
        except InvalidSignature:
            return False


def b64url_decode(part: str) -> bytes:
    if not re.match(r"^[A-Za-z0-9_-]*$", part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# --------------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------------

class NetSuiteSim(BaseSim):
    name = "netsuite"
    routes = ROUTE_NAMES
    config_keys = frozenset({"token_ttl_s", "allowed_algs", "clock_skew_s", "max_assertion_lifetime_s",
                             "expires_in_as_string", "extra_audiences", "reject_card_numbers", "quiet"})

    def __init__(self, creds: dict, seed: int = 0, config: dict | None = None, force_stdlib: bool = False):
        self.creds = creds
        self.verifier = Verifier(creds["private_key_pem"], force_stdlib=force_stdlib)
        base = {"token_ttl_s": 3600, "allowed_algs": list(ALGS), "clock_skew_s": 5, "max_assertion_lifetime_s": 3600,
                "expires_in_as_string": True, "extra_audiences": [], "reject_card_numbers": True, "quiet": False}
        base.update(config or {})
        super().__init__(seed, base)

    def validate_config(self, body: dict):
        algs = body.get("allowed_algs")
        if algs is not None and not (isinstance(algs, list) and set(algs) <= set(ALGS)):
            raise ValueError(f"allowed_algs must be a list drawn from {ALGS}")

    def reset(self, keep_faults: bool = False):
        with self.lock:
            super().reset(keep_faults)
            self.tokens: dict[str, dict] = {}
            self.records: dict[str, dict[str, dict]] = {t: {} for t in TYPES.values()}
            self.by_eid: dict[str, dict[str, str]] = {t: {} for t in TYPES.values()}
            self.next_ids = dict(FIRST_ID)
            self.writes: list[dict] = []
            self.assertions: list[dict] = []
            self.refused_card_numbers = 0

    def health(self) -> dict:
        return {**super().health(), "jwt_backend": self.verifier.backend}

    def new_id(self, rtype: str) -> str:
        i = self.next_ids[rtype]
        self.next_ids[rtype] += 1
        return str(i)

    # ---------------------------------------------------------------- JWT client assertion
    def check_assertion(self, jwt: str, audiences: set[str]) -> dict:
        """The claims, or OAuthError. Every refusal is recorded in self.assertions."""
        def refuse(reason: str, status: int = 401, error: str = "invalid_client"):
            self.assertions.append({"at": rfc3339(ms=True), "ok": False, "reason": reason})
            raise OAuthError(status, error, reason)

        parts = jwt.split(".")
        if len(parts) != 3:
            refuse("client_assertion is not a compact JWS", 400, "invalid_request")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            refuse("client_assertion is not valid base64url JSON", 400, "invalid_request")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            refuse("client_assertion header and payload must be JSON objects", 400, "invalid_request")
        alg = header.get("alg")
        if alg not in (self.config.get("allowed_algs") or ALGS):
            refuse(f"alg {alg!r} is not accepted (allowed: {', '.join(self.config.get('allowed_algs') or ALGS)})")
        if header.get("typ") not in (None, "JWT"):
            refuse("typ must be JWT")
        if not hmac.compare_digest(str(header.get("kid", "")).encode(), self.creds["certificate_id"].encode()):
            refuse("kid does not name a certificate mapped to this integration")
        if not self.verifier.verify(alg, (parts[0] + "." + parts[1]).encode("ascii"), sig):
            refuse("signature does not verify against the mapped certificate")
        if claims.get("iss") != self.creds["client_id"]:
            refuse("iss is not the integration's client id")
        scope = claims.get("scope")
        scopes = scope if isinstance(scope, list) else re.split(r"[,\s]+", scope) if isinstance(scope, str) else []
        if "rest_webservices" not in scopes:
            refuse("scope must include rest_webservices")
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in audiences for a in auds):
            refuse(f"aud must be the token endpoint URL ({sorted(audiences)[0]})")
        now = time.time()
        skew = float(self.config.get("clock_skew_s", 5))
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            refuse("exp is required (NumericDate)")
        if not isinstance(iat, (int, float)) or isinstance(iat, bool):
            refuse("iat is required (NumericDate)")
        if exp <= now - skew:
            refuse("the assertion has expired (exp)")
        if iat > now + skew:
            refuse("iat is in the future")
        if exp - iat > float(self.config.get("max_assertion_lifetime_s", 3600)):
            refuse("exp is more than 60 minutes after iat")
        self.assertions.append({"at": rfc3339(ms=True), "ok": True, "alg": alg, "jti": claims.get("jti")})
        return claims

    def issue_token(self) -> dict:
        ttl = float(self.config["token_ttl_s"])
        tok = "ns_at_" + pysecrets.token_urlsafe(40)
        now = time.time()
        self.tokens = {k: v for k, v in self.tokens.items() if v["expires_at"] > now - 3600}
        self.tokens[tok] = {"issued_at": now, "expires_at": now + ttl}
        ttl_v = int(ttl) if float(ttl).is_integer() else ttl
        return {"access_token": tok, "expires_in": str(ttl_v) if self.config.get("expires_in_as_string") else ttl_v,
                "token_type": "bearer"}

    # ---------------------------------------------------------------- records
    def find(self, rtype: str, key: str) -> dict | None:
        if key.startswith("eid:"):
            iid = self.by_eid[rtype].get(key[4:])
            return self.records[rtype].get(iid) if iid else None
        return self.records[rtype].get(key)

    def resolve_ref(self, ref, rtype: str, field: str) -> dict:
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("externalId")):
            raise NsError(400, "USER_ERROR", f"Invalid value for field {field}: a reference {{id}} or "
                                             f"{{externalId}} is required.")
        rec = self.records[rtype].get(str(ref["id"])) if ref.get("id") else \
            self.find(rtype, "eid:" + str(ref["externalId"]))
        if rec is None:
            raise NsError(400, "USER_ERROR", f"Error while accessing a resource. Invalid {field} reference key "
                                             f"{ref.get('id') or ref.get('externalId')}.")
        return {"id": rec["id"], "refName": ref_name(rtype, rec)}

    def write(self, rtype: str, body: dict, existing: dict | None, eid: str | None, via: str) -> tuple[dict, bool]:
        """Validate + apply; (record, created)."""
        now = rfc3339()
        doc = dict(body)
        for ro in ("id", "links", "createdDate", "lastModifiedDate"):
            doc.pop(ro, None)
        if rtype == "salesOrder" and "entity" in doc:
            doc["entity"] = self.resolve_ref(doc["entity"], "customer", "entity")
        if rtype == "customerRefund":
            if "customer" in doc:
                doc["customer"] = self.resolve_ref(doc["customer"], "customer", "customer")
            if not (isinstance(doc.get("total"), (int, float)) and not isinstance(doc.get("total"), bool)
                    and doc["total"] > 0):
                raise NsError(400, "USER_ERROR", "Invalid total: a positive number is required.")
        if rtype == "customerDeposit":
            if "customer" in doc:
                doc["customer"] = self.resolve_ref(doc["customer"], "customer", "customer")
            if "salesOrder" in doc and doc["salesOrder"] is not None:
                doc["salesOrder"] = self.resolve_ref(doc["salesOrder"], "salesOrder", "salesOrder")
            if "payment" in doc and not (isinstance(doc["payment"], (int, float)) and not isinstance(doc["payment"], bool)
                                         and doc["payment"] > 0):
                raise NsError(400, "USER_ERROR", "Invalid payment amount: a positive number is required.")
        if rtype == "salesOrder" and "item" in doc:
            items = doc["item"].get("items") if isinstance(doc["item"], dict) else None
            if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("item"), dict)
                                                      for i in items):
                raise NsError(400, "USER_ERROR", 'Invalid item sublist: expected {"items":[{"item":{"id":..},'
                                                 '"quantity":..,"rate":..}]}.')
        if existing is None:
            missing = []
            if rtype == "customer" and not (doc.get("companyName") or (doc.get("firstName") and doc.get("lastName"))):
                missing.append("Company Name (or First Name and Last Name)")
            if rtype == "salesOrder":
                if "entity" not in doc:
                    missing.append("Customer (entity)")
                if not (doc.get("item") or {}).get("items"):
                    missing.append("Items")
            if rtype == "customerDeposit":
                if "customer" not in doc:
                    missing.append("Customer")
                if "payment" not in doc:
                    missing.append("Payment Amount")
            if missing:
                raise NsError(400, "USER_ERROR", f"Please enter value(s) for: {', '.join(missing)}.")
            iid = self.new_id(rtype)
            rec = {"id": iid}
            if eid:
                rec["externalId"] = eid
            if rtype == "salesOrder":
                rec["tranId"] = f"SO{iid}"
            if rtype == "customerDeposit":
                rec["tranId"] = f"DEP{iid}"
            rec.update(doc)
            rec["createdDate"] = rec["lastModifiedDate"] = now
            rec["_writes"] = [{"op": "create", "via": via, "at": rfc3339(ms=True)}]
            self.records[rtype][iid] = rec
            if rec.get("externalId"):
                self.by_eid[rtype][rec["externalId"]] = iid
            created = True
        else:
            rec = existing
            rec.update(doc)
            rec["lastModifiedDate"] = now
            rec["_writes"].append({"op": "update", "via": via, "at": rfc3339(ms=True)})
            if rec.get("externalId"):
                self.by_eid[rtype][rec["externalId"]] = rec["id"]
            created = False
        self.writes.append({"at": rfc3339(ms=True), "type": rtype, "id": rec["id"], "externalId": rec.get("externalId"),
                            "op": "create" if created else "update", "via": via})
        return rec, created

    def record_summary(self, rtype: str, rec: dict) -> dict:
        ws = rec.get("_writes", [])
        return {"id": rec["id"], "externalId": rec.get("externalId"), "creates": sum(w["op"] == "create" for w in ws),
                "updates": sum(w["op"] == "update" for w in ws), "writes": ws,
                "record": {k: v for k, v in rec.items() if not k.startswith("_")}}

    def counts(self) -> dict:
        out = {}
        for t, recs in self.records.items():
            ws = [w for r in recs.values() for w in r.get("_writes", [])]
            out[t] = {"records": len(recs), "creates": sum(w["op"] == "create" for w in ws),
                      "updates": sum(w["op"] == "update" for w in ws)}
        return out

    def state(self) -> dict:
        now = time.time()
        return {"counts": self.counts(),
                "records": {t: [self.record_summary(t, r) for r in recs.values()] for t, recs in self.records.items()},
                "writes": list(self.writes), "assertions": list(self.assertions),
                "tokens": {"live": sum(1 for t in self.tokens.values() if t["expires_at"] > now),
                           "expired": sum(1 for t in self.tokens.values() if t["expires_at"] <= now)},
                "refusedCardNumbers": self.refused_card_numbers, "faultLog": list(self.fault_log),
                "jwtBackend": self.verifier.backend, "config": dict(self.config)}

    # ---------------------------------------------------------------- seeding
    def seed_fulfillment(self, body: dict) -> dict:
        so_ref = body.get("salesOrder")
        if isinstance(so_ref, str):
            so_ref = {"externalId": so_ref[4:]} if so_ref.startswith("eid:") else {"id": so_ref}
        try:
            so = self.resolve_ref(so_ref, "salesOrder", "salesOrder")
        except NsError as e:
            raise AdminError(400, e.detail) from None
        so_rec = self.records["salesOrder"][so["id"]]
        lines = body.get("items") or body.get("lines")
        if lines is None:  # default: ship every sales order line in full
            lines = [{"item": i.get("item"), "quantity": i.get("quantity", 1)}
                     for i in (so_rec.get("item") or {}).get("items", [])]
        items = []
        for n, ln in enumerate(lines, 1):
            item = ln.get("item") or {}
            if ln.get("sku"):
                item = {**item, "refName": ln["sku"]}
            q = ln.get("quantity", 1)
            if not isinstance(q, (int, float)) or q <= 0:
                raise AdminError(400, f"items[{n - 1}].quantity must be > 0")
            items.append({"line": n, "orderLine": ln.get("orderLine", n), "item": item, "quantity": q,
                          **({"location": {"id": str(ln["location"])}} if ln.get("location") else {})})
        iid = self.new_id("itemFulfillment")
        tracking = body.get("trackingNumbers") or ([body["trackingNumber"]] if body.get("trackingNumber") else [])
        rec = {"id": iid, "tranId": f"IF{iid}", "createdFrom": so, "entity": so_rec.get("entity"),
               "shipStatus": {"id": body.get("shipStatus", "C"),
                              "refName": {"A": "Picked", "B": "Packed", "C": "Shipped"}.get(body.get("shipStatus", "C"),
                                                                                          "Shipped")},
               "tranDate": body.get("tranDate") or rfc3339()[:10],
               "shipMethod": {"refName": body.get("shipMethod") or body.get("carrier") or "UPS Ground"},
               "item": {"items": items},
               "package": {"items": [{"packageTrackingNumber": t, "packageWeight": 1.0} for t in tracking]}}
        if body.get("externalId"):
            rec["externalId"] = body["externalId"]
            self.by_eid["itemFulfillment"][body["externalId"]] = iid
        rec["createdDate"] = rec["lastModifiedDate"] = rfc3339()
        rec["_writes"] = [{"op": "create", "via": "admin", "at": rfc3339(ms=True)}]
        self.records["itemFulfillment"][iid] = rec
        return rec

    def seed_inventory(self, body: dict) -> tuple[dict, bool]:
        sku = body.get("sku") or body.get("itemId")
        if not sku:
            raise AdminError(400, "sku is required")
        locs = body.get("locations")
        if locs is None:
            if body.get("locationId") is None or body.get("quantityOnHand") is None:
                raise AdminError(400, "locationId and quantityOnHand (or locations[]) are required")
            locs = [{k: body[k] for k in ("locationId", "locationName", "quantityOnHand", "quantityAvailable")
                     if k in body}]
        existing = next((r for r in self.records["inventoryItem"].values() if r["itemId"] == sku), None)
        rec = existing or {"id": self.new_id("inventoryItem"), "itemId": sku, "displayName": body.get("displayName", sku),
                           "locations": {"items": []}, "createdDate": rfc3339(), "_writes": []}
        by_loc = {str(x["location"]["id"]): x for x in rec["locations"]["items"]}
        for lv in locs:
            on_hand = lv.get("quantityOnHand")
            if not isinstance(on_hand, (int, float)) or on_hand < 0:
                raise AdminError(400, "quantityOnHand must be >= 0")
            lid = str(lv.get("locationId"))
            by_loc[lid] = {"location": {"id": lid, "refName": lv.get("locationName") or f"Location {lid}"},
                           "quantityOnHand": on_hand, "quantityAvailable": lv.get("quantityAvailable", on_hand),
                           "quantityCommitted": on_hand - lv.get("quantityAvailable", on_hand)}
        rec["locations"]["items"] = list(by_loc.values())
        rec["lastModifiedDate"] = rfc3339()
        if body.get("externalId"):
            rec["externalId"] = body["externalId"]
            self.by_eid["inventoryItem"][body["externalId"]] = rec["id"]
        rec["_writes"].append({"op": "update" if existing else "create", "via": "admin", "at": rfc3339(ms=True)})
        self.records["inventoryItem"][rec["id"]] = rec
        return rec, existing is None


def ref_name(rtype: str, rec: dict) -> str:
    if rtype == "customer":
        return rec.get("companyName") or " ".join(x for x in (rec.get("firstName"), rec.get("lastName")) if x) \
            or rec.get("entityId") or rec["id"]
    return rec.get("tranId") or rec.get("itemId") or rec["id"]


# --------------------------------------------------------------------------------------------
# list filter: a small subset of the REST `q` syntax
# --------------------------------------------------------------------------------------------

_Q = re.compile(r'^\s*(\w+)\s+(IS|EQUAL|ANY_OF|ON_OR_AFTER|AFTER|BEFORE|ON_OR_BEFORE|START_WITH|CONTAIN)\s+'
                r'("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s]+)\s*$', re.I)


def parse_q(q: str):
    conds = []
    for part in re.split(r"\s+AND\s+", q.strip(), flags=re.I):
        m = _Q.match(part)
        if not m:
            raise NsError(400, "INVALID_PARAMETER", f"Invalid query condition: {part}")
        field, op, raw = m.group(1), m.group(2).upper(), m.group(3)
        if raw.startswith("["):
            vals = [v.strip().strip('"') for v in raw[1:-1].split(",") if v.strip()]
        else:
            vals = [raw.strip('"')]
        conds.append((field, op, vals))
    return conds


def q_match(rec: dict, conds) -> bool:
    for field, op, vals in conds:
        v = rec.get(field)
        if isinstance(v, dict):
            v = v.get("id")
        v = "" if v is None else str(v)
        if op in ("IS", "EQUAL", "ANY_OF"):
            ok = v in vals
        elif op == "START_WITH":
            ok = v.startswith(vals[0])
        elif op == "CONTAIN":
            ok = vals[0] in v
        else:
            ok = {"ON_OR_AFTER": v >= vals[0], "AFTER": v > vals[0], "BEFORE": v < vals[0],
                  "ON_OR_BEFORE": v <= vals[0]}[op]
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

RECORD_RX = re.compile(r"^/services/rest/record/v1/([A-Za-z]+)(?:/([^/]+))?/?$")


class NetSuiteHandler(SimHandler):
    server_version = "netsuite-sim/1.0"
    sim: NetSuiteSim

    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or '%s:%d' % self.server.server_address[:2]}"

    def send_error_body(self, e: NsError):
        sec = STATUS_SECTION.get(e.status)
        body = {"type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{sec}" if sec
                else "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
                "title": TITLES.get(e.status, "Error"), "status": e.status,
                "o:errorDetails": [{"detail": e.detail, "o:errorCode": e.code}]}
        self.send_json(e.status, body, ERROR_CT, e.headers)

    def fault_error(self, rule) -> NsError:
        headers = {}
        ra = rule.retry_after_header()
        if ra is not None:
            headers["Retry-After"] = ra
        code = {429: "CONCURRENCY_LIMIT_EXCEEDED", 401: "INVALID_LOGIN", 403: "INSUFFICIENT_PERMISSION",
                404: "NONEXISTENT_ID"}.get(rule.status, "UNEXPECTED_ERROR" if rule.status >= 500 else "USER_ERROR")
        return NsError(rule.status, code, "Injected fault (simulator).", headers)

    def handle_api(self, split, raw: bytes):
        sim = self.sim
        method = self.command
        path = split.path
        if path == TOKEN_PATH:
            if method != "POST":
                self.send_error_body(NsError(405, "INVALID_REQUEST", "Use POST."))
                return
            self.token_endpoint(raw)
            return
        m = RECORD_RX.match(path)
        try:
            if not m:
                raise NsError(404, "NONEXISTENT_ID", f"The resource {path} does not exist.")
            rtype = TYPES.get(m.group(1).lower())
            if rtype is None:
                raise NsError(404, "INVALID_RCRD_TYPE", f"Record type '{m.group(1)}' does not exist.")
            key = urllib.parse.unquote(m.group(2)) if m.group(2) else None
            route = {("GET", False): "list", ("POST", False): "create", ("GET", True): "get",
                     ("PUT", True): "upsert", ("PATCH", True): "update", ("DELETE", True): "delete"}.get(
                (method, key is not None))
            if route is None:
                raise NsError(405, "INVALID_REQUEST", f"{method} is not allowed on this resource.")
            self.authenticate()
            rule, outcome = sim.roll_fault(f"{route}:{rtype}", route)
            if outcome == "error":
                self.fault_latency(rule)
                raise self.fault_error(rule)
            body = None
            if method in ("POST", "PUT", "PATCH"):
                try:
                    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                except (ValueError, UnicodeDecodeError):
                    raise NsError(400, "INVALID_CONTENT", "The request body is not valid JSON.") from None
                if not isinstance(body, dict):
                    raise NsError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
                if sim.config.get("reject_card_numbers", True):
                    hit = find_pan(body)
                    if hit:
                        with sim.lock:
                            sim.refused_card_numbers += 1
                        raise NsError(400, "USER_ERROR", f"Field {hit} looks like a card number; the sandbox refuses "
                                                         f"card data.")
            self.fault_latency(rule)
            with sim.lock:
                status, obj, ctype, headers = getattr(self, "op_" + route)(rtype, key, body, split)
        except NsError as e:
            self.send_error_body(e)
            return
        if outcome == "lost":
            self.lose_response(rule, lambda: self.send_error_body(
                NsError(502, "UNEXPECTED_ERROR", "Injected fault: the write was applied but the answer was lost.")))
            return
        self.send_json(status, obj, ctype, headers)

    def authenticate(self):
        auth = self.headers.get("Authorization") or ""
        ok = False
        if auth[:7].lower() == "bearer ":
            with self.sim.lock:
                info = self.sim.tokens.get(auth[7:].strip())
                ok = info is not None and info["expires_at"] > time.time()
        if not ok:
            raise NsError(401, "INVALID_LOGIN", INVALID_LOGIN)

    def token_endpoint(self, raw: bytes):
        sim = self.sim
        try:
            rule, outcome = sim.roll_fault("token")
            if outcome == "error":
                self.fault_latency(rule)
                e = self.fault_error(rule)
                self.send_json(e.status, {"error": "server_error" if e.status >= 500 else "invalid_request"},
                               "application/json", e.headers)
                return
            self.fault_latency(rule)
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            try:
                form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("ascii"), keep_blank_values=True).items()}
            except UnicodeDecodeError:
                raise OAuthError(400, "invalid_request", "malformed form body") from None
            if form.get("grant_type") != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type" if form.get("grant_type") else "invalid_request",
                                 "grant_type must be client_credentials")
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise OAuthError(400, "invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
            if not form.get("client_assertion"):
                raise OAuthError(400, "invalid_request", "client_assertion is required")
            audiences = {self.base_url() + TOKEN_PATH, *sim.config.get("extra_audiences", [])}
            if sim.creds.get("token_url"):
                audiences.add(sim.creds["token_url"])
            with sim.lock:
                sim.check_assertion(form["client_assertion"], audiences)
                tok = sim.issue_token()
            if outcome == "lost":
                self.lose_response(rule, lambda: self.send_json(502, {"error": "server_error"}))
                return
            self.send_json(200, tok, "application/json", {"Cache-Control": "no-store"})
        except OAuthError as e:
            self.send_json(e.status, {"error": e.error, "error_description": e.description}, "application/json")

    # ---------------------------------------------------------------- record operations
    def record_url(self, rtype: str, iid: str) -> str:
        return f"{self.base_url()}{BASE}/record/v1/{rtype}/{iid}"

    def view(self, rtype: str, rec: dict) -> dict:
        out = {"links": [{"rel": "self", "href": self.record_url(rtype, rec["id"])}]}
        out.update({k: v for k, v in rec.items() if not k.startswith("_")})
        return out

    def get_or_404(self, rtype: str, key: str) -> dict:
        rec = self.sim.find(rtype, key)
        if rec is None:
            raise NsError(404, "NONEXISTENT_ID", f"The record instance does not exist. Invalid record id {key}.")
        return rec

    def op_get(self, rtype, key, body, split):
        return 200, self.view(rtype, self.get_or_404(rtype, key)), SINGLE_CT, {}

    def op_list(self, rtype, key, body, split):
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        try:
            limit = int(q.get("limit", 1000))
            offset = int(q.get("offset", 0))
            if not (1 <= limit <= 1000 and offset >= 0):
                raise ValueError
        except ValueError:
            raise NsError(400, "INVALID_PARAMETER", "limit must be 1-1000 and offset >= 0.") from None
        recs = list(self.sim.records[rtype].values())
        if q.get("q"):
            conds = parse_q(q["q"])
            recs = [r for r in recs if q_match(r, conds)]
        page = recs[offset:offset + limit]
        self_href = f"{self.base_url()}{BASE}/record/v1/{rtype}" + (f"?{split.query}" if split.query else "")
        return 200, {"links": [{"rel": "self", "href": self_href}], "count": len(page),
                     "hasMore": offset + limit < len(recs),
                     "items": [{"links": [{"rel": "self", "href": self.record_url(rtype, r["id"])}], "id": r["id"]}
                               for r in page],
                     "offset": offset, "totalResults": len(recs)}, COLLECTION_CT, {}

    def writable(self, rtype: str):
        if rtype not in WRITABLE:
            raise NsError(405, "INVALID_REQUEST", f"The simulator serves {rtype} read-only (seed it with /__admin/).")

    def check_eid(self, eid: str):
        if not EXTERNAL_ID.match(eid):
            raise NsError(400, "INVALID_ID", f"Invalid external ID '{eid}': use letters, digits, '_' and '-'.")

    def op_create(self, rtype, key, body, split):
        self.writable(rtype)
        eid = body.get("externalId")
        if eid is not None:
            self.check_eid(str(eid))
            if self.sim.find(rtype, f"eid:{eid}"):
                raise NsError(400, "DUP_RCRD", f"A {rtype} record with external ID {eid} already exists.")
        rec, _ = self.sim.write(rtype, body, None, str(eid) if eid is not None else None, "post")
        return 204, None, None, {"Location": self.record_url(rtype, rec["id"])}

    def op_upsert(self, rtype, key, body, split):
        self.writable(rtype)
        if not key.startswith("eid:"):
            raise NsError(400, "USER_ERROR", "Upsert (PUT) needs an external ID key: .../eid:<externalId>.")
        eid = key[4:]
        self.check_eid(eid)
        if "id" in body:
            raise NsError(400, "USER_ERROR", "You cannot set the internal ID with upsert.")
        if body.get("externalId") not in (None, eid):
            raise NsError(400, "USER_ERROR", "externalId in the body differs from the one in the URL.")
        existing = self.sim.find(rtype, key)
        rec, _ = self.sim.write(rtype, body, existing, eid, "upsert")
        return 204, None, None, {"Location": self.record_url(rtype, rec["id"])}

    def op_update(self, rtype, key, body, split):
        self.writable(rtype)
        rec = self.get_or_404(rtype, key)
        eid = body.get("externalId")
        if eid is not None and eid != rec.get("externalId"):
            self.check_eid(str(eid))
            if self.sim.find(rtype, f"eid:{eid}"):
                raise NsError(400, "DUP_RCRD", f"A {rtype} record with external ID {eid} already exists.")
            self.sim.by_eid[rtype].pop(rec.get("externalId"), None)
        self.sim.write(rtype, body, rec, None, "patch")
        return 204, None, None, {"Location": self.record_url(rtype, rec["id"])}

    def op_delete(self, rtype, key, body, split):
        self.writable(rtype)
        rec = self.get_or_404(rtype, key)
        del self.sim.records[rtype][rec["id"]]
        self.sim.by_eid[rtype].pop(rec.get("externalId"), None)
        self.sim.writes.append({"at": rfc3339(ms=True), "type": rtype, "id": rec["id"],
                                "externalId": rec.get("externalId"), "op": "delete", "via": "delete"})
        return 204, None, None, {}

    # ---------------------------------------------------------------- admin
    def route_admin(self, method, path, query, body):
        sim = self.sim
        parts = path.split("/")[2:]
        if parts == ["tokens", "expire"] and method == "POST":
            with sim.lock:
                for t in sim.tokens.values():
                    t["expires_at"] = time.time() - 1
                return 200, {"expired": len(sim.tokens)}
        if parts == ["records"] and method == "GET":
            with sim.lock:
                return 200, {"counts": sim.counts()}
        if len(parts) in (2, 3) and parts[0] == "records" and method == "GET":
            rtype = TYPES.get(parts[1].lower())
            if rtype is None:
                raise AdminError(404, f"unknown record type {parts[1]}; known: {sorted(TYPES.values())}")
            with sim.lock:
                if len(parts) == 3:
                    rec = sim.find(rtype, urllib.parse.unquote(parts[2]))
                    if rec is None:
                        raise AdminError(404, f"no {rtype} {parts[2]}")
                    return 200, sim.record_summary(rtype, rec)
                rows = [sim.record_summary(rtype, r) for r in sim.records[rtype].values()]
                c = sim.counts()[rtype]
                return 200, {"type": rtype, "count": len(rows), "creates": c["creates"], "updates": c["updates"],
                             "records": rows}
        if parts == ["writes"] and method == "GET":
            with sim.lock:
                return 200, {"writes": list(sim.writes)}
        if parts == ["fulfillments"] and method == "POST":
            with sim.lock:
                rec = sim.seed_fulfillment(body)
                return 201, {"itemFulfillment": {k: v for k, v in rec.items() if not k.startswith("_")}}
        if parts == ["inventory"] and method == "POST":
            with sim.lock:
                rec, created = sim.seed_inventory(body)
                return (201 if created else 200), {"inventoryItem": {k: v for k, v in rec.items()
                                                                     if not k.startswith("_")}}
        return None


# --------------------------------------------------------------------------------------------
# construction / main
# --------------------------------------------------------------------------------------------

def build(secrets_file=None, host="127.0.0.1", port=DEFAULT_PORT, seed=0, force_stdlib=False, **config):
    creds = simkit.load_secret(secrets_file, "ErpSecret", ("client_id", "certificate_id", "private_key_pem"))
    sim = NetSuiteSim(creds, seed, {k: v for k, v in config.items() if v is not None}, force_stdlib=force_stdlib)
    return simkit.make_server(NetSuiteHandler, sim, host, port), sim


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="NetSuite SuiteTalk REST simulator (loopback only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 = a free port")
    ap.add_argument("--secrets-file", help="default infra/local/secrets.local.json (key ErpSecret)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--token-ttl-s", type=float)
    ap.add_argument("--stdlib-rsa", action="store_true", help="verify JWTs without the cryptography package")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    server, _ = build(a.secrets_file, a.host, a.port, a.seed, force_stdlib=a.stdlib_rsa, quiet=a.quiet,
                      token_ttl_s=a.token_ttl_s)
    return simkit.serve_standalone("netsuite", server)


if __name__ == "__main__":
    sys.exit(main())
