"""Cybersource simulator: the HTTP layer. The API routes (HTTP Signature checked per request,
fault rules rolled per operation, the ledger run under the simulator lock) on simkit's loopback-only
handler, which also serves /__admin/ (cybs_admin.py).

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
import uuid

from cybs_admin import AdminRoutes
from cybs_common import (ADMIN_CT, AUTH_FAILED_BODY, DEFAULT_DATE_WINDOW_S, PTS_CT, ApiError, dig, invalid,
                         missing, not_found, server_error, ts, ts_ms, utc_now)
from cybs_sim import Simulator
from cybs_signing import authenticate
from simkit import SimHandler, find_pan

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



class Handler(AdminRoutes, SimHandler):
    server_version = "cybersource-sim/1.0"
    sim: Simulator  # bound per server by simkit.make_server()

    # ---------------------------------------------------------------- plumbing
    def send_json(self, status: int, obj, content_type: str = PTS_CT, headers: dict | None = None):
        """JSON (PTS content type unless told) with a fresh v-c-correlation-id, as Cybersource answers."""
        super().send_json(status, obj, content_type, {"v-c-correlation-id": str(uuid.uuid4()), **(headers or {})})

    def send_forbidden(self):
        self.send_json(403, {"message": "loopback clients only"}, ADMIN_CT)

    def send_internal_error(self, e: Exception):
        # a simulator bug must not kill the connection silently: a Cybersource-shaped 502
        sys.stderr.write(f"cybersource-sim internal error: {type(e).__name__}: {e}\n")
        err = server_error("SYSTEM_ERROR")
        self.send_json(err.http_status, err.body)

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

        rule, outcome = sim.roll_fault(op)
        self.fault_latency(rule)
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
            rule = None  # always the 502 mode
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
            timeout = server_error("SERVER_TIMEOUT")
            self.lose_response(rule, lambda: self.send_json(timeout.http_status, timeout.body))
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
