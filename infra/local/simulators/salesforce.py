#!/usr/bin/env python3
"""Salesforce REST simulator for fraud Cases (shared/connectors/ERP_CRM_ASSUMED.md). Loopback only, stdlib only.

* `POST /services/oauth2/token` — OAuth 2.0 client credentials (`client_id`/`client_secret` form
  fields or HTTP Basic); answers `access_token`, `instance_url`, `id`, `token_type: Bearer`,
  `issued_at` (ms) and `signature` (base64 HMAC-SHA256 of id + issued_at, keyed by the client
  secret) — no `expires_in`, as documented. Sessions expire after `session_ttl_s` (default 2 h);
  then 401 `INVALID_SESSION_ID`.
* `/services/data/vXX.X/sobjects/Case`: POST create (201 `{id,success,errors}`), GET/PATCH/DELETE
  by record id, GET and PATCH upsert by an external-id field
  (`/sobjects/Case/Fraud_Case_Key__c/<value>`): 201 + `created:true` when created; when updated
  200 + `created:false` on API v46.0+, 204 before v46.0; `?updateOnly=true` never creates.
  Errors are Salesforce's `[{"message","errorCode","fields"?}]` arrays.
* `/__admin/`: cases (with create/update counts), faults, config, state, reset, token expiry.

    python3 infra/local/simulators/salesforce.py [--port 4574] [--secrets-file infra/local/secrets.local.json]
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
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import simkit  # noqa: E402
from simkit import AdminError, BaseSim, SimHandler, find_pan, rfc3339  # noqa: E402

DEFAULT_PORT = 4574
ORG_ID = "00D5g000004SIMAEAW"
USER_ID = "0055g00000SIMUSAAA"
ROUTE_NAMES = ("token", "create", "get", "update", "upsert", "delete")
STRING_FIELDS = {"Subject": 255, "Description": 32000, "Status": 40, "Priority": 40, "Origin": 40, "Type": 40,
                 "Reason": 40, "SuppliedEmail": 80, "SuppliedName": 80, "SuppliedPhone": 40, "SuppliedCompany": 80,
                 "Comments": 4000}
ID_FIELDS = {"AccountId": "Account", "ContactId": "Contact", "ParentId": "Case", "OwnerId": "User"}
BOOL_FIELDS = {"IsEscalated"}
READ_ONLY = {"Id", "CaseNumber", "IsClosed", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp",
             "CreatedById", "LastModifiedById", "ClosedDate"}
CUSTOM = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")
SF_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
VERSION = re.compile(r"^/services/data/v(\d{2})\.(\d)(/.*)?$")


def sf_id(prefix: str, n: int) -> str:
    base = f"{prefix}5g{n:010d}"[:15]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(base[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += alphabet[bits]
    return base + suffix


def sf_time() -> str:
    dt = datetime.now(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class SfError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields, self.headers = status, code, message, fields, headers or {}

    def body(self):
        e = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            e["fields"] = self.fields
        return [e]


class SalesforceSim(BaseSim):
    name = "salesforce"
    routes = ROUTE_NAMES
    config_keys = frozenset({"session_ttl_s", "external_id_fields", "custom_fields", "reject_card_numbers", "quiet"})

    def __init__(self, creds: dict, seed: int = 0, config: dict | None = None):
        self.creds = creds
        base = {"session_ttl_s": 7200, "external_id_fields": ["Fraud_Case_Key__c"], "custom_fields": None,
                "reject_card_numbers": True, "quiet": False}
        base.update(config or {})
        self.validate_config(base)
        super().__init__(seed, base)

    def validate_config(self, body: dict):
        ext = body.get("external_id_fields")
        if ext is not None and not (isinstance(ext, list) and all(isinstance(f, str) and CUSTOM.match(f) for f in ext)):
            raise ValueError("external_id_fields must be a list of custom field names (…__c)")
        cf = body.get("custom_fields")
        if cf is not None and not (isinstance(cf, list) and all(isinstance(f, str) and CUSTOM.match(f) for f in cf)):
            raise ValueError("custom_fields must be null (any …__c allowed) or a list of …__c names")

    def reset(self, keep_faults: bool = False):
        with self.lock:
            super().reset(keep_faults)
            self.tokens: dict[str, dict] = {}
            self.cases: dict[str, dict] = {}
            self.counter = 0
            self.writes: list[dict] = []
            self.refused_card_numbers = 0

    def state(self) -> dict:
        now = time.time()
        return {"cases": [self.case_summary(c) for c in self.cases.values()], "counts": self.counts(),
                "writes": list(self.writes),
                "tokens": {"live": sum(1 for t in self.tokens.values() if t["expires_at"] > now),
                           "expired": sum(1 for t in self.tokens.values() if t["expires_at"] <= now)},
                "refusedCardNumbers": self.refused_card_numbers, "faultLog": list(self.fault_log),
                "config": dict(self.config)}

    def counts(self) -> dict:
        ws = [w for c in self.cases.values() for w in c["_writes"]]
        return {"cases": len(self.cases), "creates": sum(w["op"] == "create" for w in ws),
                "updates": sum(w["op"] == "update" for w in ws)}

    @staticmethod
    def case_summary(c: dict) -> dict:
        return {"Id": c["Id"], "creates": sum(w["op"] == "create" for w in c["_writes"]),
                "updates": sum(w["op"] == "update" for w in c["_writes"]), "writes": c["_writes"],
                "record": {k: v for k, v in c.items() if not k.startswith("_")}}

    def find_by(self, field: str, value: str) -> list[dict]:
        return [c for c in self.cases.values() if str(c.get(field)) == value]

    def validate(self, body: dict) -> dict:
        allowed_custom = self.config.get("custom_fields")
        fields = {}
        for k, v in body.items():
            if k == "attributes":
                continue
            if k in READ_ONLY:
                raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                              f"Unable to create/update fields: {k}. Please check the security settings of this field "
                              f"and verify that it is read/write for your profile or permission set.", [k])
            if k in STRING_FIELDS:
                if v is not None and not isinstance(v, str):
                    raise SfError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of string from {type(v).__name__}"
                                                            f" value for field {k}")
                if isinstance(v, str) and len(v) > STRING_FIELDS[k]:
                    raise SfError(400, "STRING_TOO_LONG", f"{k}: data value too large: {v[:40]}… (max length="
                                                          f"{STRING_FIELDS[k]})", [k])
            elif k in ID_FIELDS:
                if v is not None and not (isinstance(v, str) and SF_ID.match(v)):
                    raise SfError(400, "MALFORMED_ID", f"{ID_FIELDS[k]} ID: id value of incorrect type: {v}", [k])
            elif k in BOOL_FIELDS:
                if not isinstance(v, bool):
                    raise SfError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of boolean for field {k}")
            elif CUSTOM.match(k) and (allowed_custom is None or k in allowed_custom
                                      or k in self.config["external_id_fields"]):
                if isinstance(v, (dict, list)):
                    raise SfError(400, "JSON_PARSER_ERROR", f"Cannot deserialize a complex value for field {k}")
            else:
                raise SfError(400, "INVALID_FIELD", f"No such column '{k}' on sobject of type Case", [k])
            fields[k] = v
        if self.config.get("reject_card_numbers", True):
            hit = find_pan(fields)
            if hit:
                self.refused_card_numbers += 1
                raise SfError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                              f"{hit} looks like a card number; the sandbox refuses card data", [hit])
        return fields

    def check_unique(self, fields: dict, own_id: str | None):
        for f in self.config["external_id_fields"]:
            v = fields.get(f)
            if v is None:
                continue
            other = [c for c in self.find_by(f, str(v)) if c["Id"] != own_id]
            if other:
                raise SfError(400, "DUPLICATE_VALUE", f"duplicate value found: {f} duplicates value on record with id: "
                                                      f"{other[0]['Id']}", [f])

    def create(self, fields: dict, via: str) -> dict:
        self.check_unique(fields, None)
        self.counter += 1
        cid = sf_id("500", self.counter)
        now = sf_time()
        case = {"Id": cid, "CaseNumber": f"{1000 + self.counter:08d}", "Status": "New", "Priority": "Medium",
                "Origin": None, "Subject": None, "Description": None, "Type": None, "Reason": None,
                "AccountId": None, "ContactId": None, "SuppliedEmail": None, "SuppliedName": None,
                "SuppliedPhone": None, "SuppliedCompany": None, "IsEscalated": False, "OwnerId": USER_ID}
        case.update(fields)
        case.update({"IsClosed": case.get("Status") == "Closed", "IsDeleted": False, "CreatedDate": now,
                     "LastModifiedDate": now, "SystemModstamp": now, "CreatedById": USER_ID,
                     "LastModifiedById": USER_ID,
                     "_writes": [{"op": "create", "via": via, "at": rfc3339(ms=True)}]})
        self.cases[cid] = case
        self.writes.append({"at": rfc3339(ms=True), "Id": cid, "op": "create", "via": via})
        return case

    def update(self, case: dict, fields: dict, via: str):
        self.check_unique(fields, case["Id"])
        now = sf_time()
        case.update(fields)
        case.update({"IsClosed": case.get("Status") == "Closed", "LastModifiedDate": now, "SystemModstamp": now})
        case["_writes"].append({"op": "update", "via": via, "at": rfc3339(ms=True)})
        self.writes.append({"at": rfc3339(ms=True), "Id": case["Id"], "op": "update", "via": via})


class SalesforceHandler(SimHandler):
    server_version = "salesforce-sim/1.0"
    sim: SalesforceSim

    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or '%s:%d' % self.server.server_address[:2]}"

    def send_sf_error(self, e: SfError):
        self.send_json(e.status, e.body(), "application/json;charset=UTF-8", e.headers)

    def fault_error(self, rule) -> SfError:
        headers = {}
        ra = rule.retry_after_header()
        if ra is not None:
            headers["Retry-After"] = ra
        code = {401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED", 429: "REQUEST_LIMIT_EXCEEDED",
                404: "NOT_FOUND", 503: "SERVER_UNAVAILABLE"}.get(
            rule.status, "UNKNOWN_EXCEPTION" if rule.status >= 500 else "INVALID_INPUT")
        return SfError(rule.status, code, "Injected fault (simulator)", headers=headers)

    def handle_api(self, split, raw: bytes):
        path = split.path
        method = self.command
        if path == "/services/oauth2/token":
            if method != "POST":
                self.send_sf_error(SfError(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed"))
                return
            self.token_endpoint(raw)
            return
        if path.rstrip("/") == "/services/data" and method == "GET":
            self.send_json(200, [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                                 for v in ("58.0", "59.0", "60.0", "61.0", "62.0")])
            return
        sim = self.sim
        try:
            m = VERSION.match(path)
            if not m:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            version = float(f"{m.group(1)}.{m.group(2)}")
            rest = [urllib.parse.unquote(p) for p in (m.group(3) or "").strip("/").split("/") if p]
            self.authenticate()
            if len(rest) < 2 or rest[0] != "sobjects" or rest[1] != "Case" or len(rest) > 4:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            if len(rest) == 2:
                route = {"POST": "create"}.get(method)
            elif len(rest) == 3:
                route = {"GET": "get", "PATCH": "update", "DELETE": "delete"}.get(method)
            else:
                route = {"GET": "get", "PATCH": "upsert"}.get(method)
            if route is None:
                raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are "
                                                         f"{'POST' if len(rest) == 2 else 'GET,PATCH,DELETE'}")
            rule, outcome = sim.roll_fault(route)
            if outcome == "error":
                self.fault_latency(rule)
                raise self.fault_error(rule)
            body = None
            if method in ("POST", "PATCH"):
                try:
                    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                except (ValueError, UnicodeDecodeError):
                    raise SfError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of Case from a non-object")
            self.fault_latency(rule)
            q = urllib.parse.parse_qs(split.query)
            with sim.lock:
                status, obj = self.operate(route, rest[2:], body, version, q)
        except SfError as e:
            self.send_sf_error(e)
            return
        if outcome == "lost":
            self.lose_response(rule, lambda: self.send_sf_error(
                SfError(502, "UNKNOWN_EXCEPTION", "Injected fault: the write was applied but the answer was lost")))
            return
        self.send_json(status, obj, "application/json;charset=UTF-8")

    def authenticate(self):
        scheme, _, tok = (self.headers.get("Authorization") or "").partition(" ")
        tok = tok.strip() if scheme.lower() in ("bearer", "oauth") else ""
        with self.sim.lock:
            info = self.sim.tokens.get(tok)
            ok = info is not None and info["expires_at"] > time.time()
        if not ok:
            raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def case_view(self, c: dict, version: float) -> dict:
        out = {"attributes": {"type": "Case", "url": f"/services/data/v{version:.1f}/sobjects/Case/{c['Id']}"}}
        out.update({k: v for k, v in c.items() if not k.startswith("_")})
        return out

    def operate(self, route, args, body, version, q):
        sim = self.sim
        if route == "create":
            fields = sim.validate(body)
            c = sim.create(fields, "post")
            return 201, {"id": c["Id"], "success": True, "errors": []}
        if len(args) == 1:  # by record id
            c = sim.cases.get(args[0]) or next((x for x in sim.cases.values() if x["Id"][:15] == args[0]), None)
            if c is None:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            if route == "get":
                return 200, self.case_view(c, version)
            if route == "delete":
                del sim.cases[c["Id"]]
                sim.writes.append({"at": rfc3339(ms=True), "Id": c["Id"], "op": "delete", "via": "delete"})
                return 204, None
            sim.update(c, sim.validate(body), "patch")
            return 204, None
        field, value = args
        if field not in sim.config["external_id_fields"]:
            raise SfError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}")
        matches = sim.find_by(field, value)
        if len(matches) > 1:
            return 300, [f"/services/data/v{version:.1f}/sobjects/Case/{c['Id']}" for c in matches]
        if route == "get":
            if not matches:
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            return 200, self.case_view(matches[0], version)
        fields = sim.validate(body)
        if field in fields and str(fields[field]) != value:
            raise SfError(400, "INVALID_FIELD", f"The external ID field {field} in the body does not match the URL", [field])
        fields[field] = value
        if not matches:
            if (q.get("updateOnly") or ["false"])[-1].lower() == "true":
                raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
            c = sim.create(fields, "upsert")
            out = {"id": c["Id"], "success": True, "errors": []}
            if version >= 46.0:
                out["created"] = True
            return 201, out
        sim.update(matches[0], fields, "upsert")
        if version >= 46.0:
            return 200, {"id": matches[0]["Id"], "success": True, "errors": [], "created": False}
        return 204, None

    def token_endpoint(self, raw: bytes):
        sim = self.sim

        def err(status, error, desc):
            self.send_json(status, {"error": error, "error_description": desc}, "application/json;charset=UTF-8")

        rule, outcome = sim.roll_fault("token")
        if outcome == "error":
            self.fault_latency(rule)
            e = self.fault_error(rule)
            self.send_json(e.status, {"error": "unknown_error", "error_description": "retry your request"},
                           "application/json;charset=UTF-8", e.headers)
            return
        self.fault_latency(rule)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            err(400, "invalid_request", "invalid content type")
            return
        try:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("ascii"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            err(400, "invalid_request", "malformed request")
            return
        cid, csecret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                cid, _, csecret = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                err(400, "invalid_client", "invalid client credentials")
                return
        if form.get("grant_type") != "client_credentials":
            err(400, "unsupported_grant_type", "grant type not supported")
            return
        if not cid or not hmac.compare_digest(cid.encode(), sim.creds["client_id"].encode()):
            err(400, "invalid_client_id", "client identifier invalid")
            return
        if not hmac.compare_digest((csecret or "").encode(), sim.creds["client_secret"].encode()):
            err(400, "invalid_client", "invalid client credentials")
            return
        issued = str(int(time.time() * 1000))
        ident = f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}"
        tok = f"{ORG_ID[:15]}!{pysecrets.token_urlsafe(48)}"
        with sim.lock:
            now = time.time()
            sim.tokens = {k: v for k, v in sim.tokens.items() if v["expires_at"] > now - 3600}
            sim.tokens[tok] = {"issued_at": now, "expires_at": now + float(sim.config["session_ttl_s"])}
        sig = base64.b64encode(hmac.new(sim.creds["client_secret"].encode(), (ident + issued).encode(),
                                        hashlib.sha256).digest()).decode()
        if outcome == "lost":
            self.lose_response(rule, lambda: err(502, "unknown_error", "retry your request"))
            return
        self.send_json(200, {"access_token": tok, "signature": sig, "scope": "api", "instance_url": self.base_url(),
                             "id": ident, "token_type": "Bearer", "issued_at": issued},
                       "application/json;charset=UTF-8", {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"})

    def route_admin(self, method, path, query, body):
        sim = self.sim
        parts = path.split("/")[2:]
        if parts == ["tokens", "expire"] and method == "POST":
            with sim.lock:
                for t in sim.tokens.values():
                    t["expires_at"] = time.time() - 1
                return 200, {"expired": len(sim.tokens)}
        if parts == ["cases"] and method == "GET":
            with sim.lock:
                rows = [sim.case_summary(c) for c in sim.cases.values()]
                for f, vals in query.items():
                    rows = [r for r in rows if str(r["record"].get(f)) == vals[0]]
                return 200, {**sim.counts(), "count": len(rows), "records": rows}
        if len(parts) == 2 and parts[0] == "cases" and method == "GET":
            with sim.lock:
                c = sim.cases.get(parts[1])
                if c is None:
                    raise AdminError(404, f"no case {parts[1]}")
                return 200, sim.case_summary(c)
        return None


def build(secrets_file=None, host="127.0.0.1", port=DEFAULT_PORT, seed=0, **config):
    creds = simkit.load_secret(secrets_file, "CrmSecret", ("client_id", "client_secret"))
    sim = SalesforceSim(creds, seed, {k: v for k, v in config.items() if v is not None})
    return simkit.make_server(SalesforceHandler, sim, host, port), sim


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Salesforce REST (Case) simulator (loopback only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 = a free port")
    ap.add_argument("--secrets-file", help="default infra/local/secrets.local.json (key CrmSecret)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--external-id-fields", help="comma separated (default Fraud_Case_Key__c)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    ext = [f.strip() for f in a.external_id_fields.split(",")] if a.external_id_fields else None
    server, _ = build(a.secrets_file, a.host, a.port, a.seed, quiet=a.quiet, external_id_fields=ext)
    return simkit.serve_standalone("salesforce", server)


if __name__ == "__main__":
    sys.exit(main())
