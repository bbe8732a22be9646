"""Cybersource simulator: the Simulator state object. simkit.BaseSim (lock, seed, config, fault
rules, stop event) with the ledger, payments, TMS and notification parts mixed in; fault rules keyed
by operation; the state dump and signed webhook notifications.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import simkit
from cybs_common import OPERATIONS, fmt_amount, ts_ms, utc_now
from cybs_ledger import LedgerMixin, Txn
from cybs_payments import PaymentsMixin
from cybs_routing import RoutingModel
from cybs_signing import js_json, sign_webhook
from cybs_tokens import TokensMixin


class FaultRule(simkit.FaultRule):
    """simkit's fault rule keyed by `operation` (one of OPERATIONS or `*`), default status 502,
    with an optional errorInformation `reason` for the injected error. No Retry-After."""

    def __init__(self, spec: dict, seed: int, serial: int):
        super().__init__({"status": 502, **spec, "route": spec["operation"], "retry_after_s": None}, seed, serial)
        self.operation = spec["operation"]
        self.reason = spec.get("reason")

    def as_dict(self) -> dict:
        return {"operation": self.operation, "error_rate": self.error_rate, "status": self.status,
                "reason": self.reason, "latency_ms": self.latency_ms,
                "lost_response_rate": self.lost_response_rate, "lost_mode": self.lost_mode,
                "hang_ms": self.hang_ms, "times": self.times, "fired": self.fired}


class Simulator(LedgerMixin, PaymentsMixin, TokensMixin, simkit.BaseSim):
    name = "cybersource"
    routes = OPERATIONS

    def __init__(self, creds: dict, seed: int, config: dict, merchants: dict[str, dict] | None = None):
        self.creds = creds  # the primary merchant (CybersourceSecret): default for admin-made effects
        # every merchant id the simulator serves (payment routes) -> its credentials, primary first
        self.merchants = {creds["merchant_id"]: creds, **(merchants or {})}
        self.routing: RoutingModel | None = None
        self.soft_exempt: set[str] = set()
        super().__init__(seed, config)  # lock, config, faults, started; then reset()

    # ---------------------------------------------------------------- bookkeeping
    def reset(self, keep_faults: bool = False, keep_model: bool = True):
        with self.lock:
            super().reset(keep_faults)  # a fresh RNG from the seed, faults cleared unless kept
            # the model's config survives a reset (like a fault rule with keep_faults); its
            # counters and RNG start over so a run after reset replays the same outcomes
            if keep_model and self.routing is not None:
                self.routing.reset()
            elif not keep_model:
                self.routing = None
                self.soft_exempt = set()
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

    def set_faults(self, body: dict) -> list[dict]:
        """POST /__admin/faults: one rule per `operation` (a name, a list, `*` or `all`)."""
        ops = body.get("operation")
        ops = ops if isinstance(ops, list) else [ops]
        rules = []
        with self.lock:
            for op in ops:
                op = "*" if op in ("*", "all") else op
                if op != "*" and op not in OPERATIONS:
                    raise ValueError(f"operation must be one of {', '.join(OPERATIONS)} or *")
                self.fault_serial += 1
                rule = FaultRule({**body, "operation": op}, self.seed, self.fault_serial)
                self.faults[op] = rule
                rules.append(rule.as_dict())
        return rules

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _digits(self, n: int) -> str:
        return str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(n - 1))

    def _alnum(self, n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032X}"

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
                      "review": t.review, "riskDecision": t.risk_decision, "card": t.card, "tokens": t.tokens,
                      "merchantDefinedInformation": t.mdd})
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

