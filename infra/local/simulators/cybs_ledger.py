"""Cybersource simulator: the ledger. Transactions (payments, captures, refunds, reversals,
voids) with the money rules -- captured <= authorized, refunded <= captured, no capture after a
reversal or void -- plus Decision Manager review decisions, chargebacks and settlement. Every
effect appends a ledger entry (GET /__admin/ledger).

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import time
from datetime import timedelta

from cybs_common import (CAPTURABLE, HELD, ApiError, card_name, check_currency, dig, fmt_amount, invalid,
                         missing, not_found, parse_amount, parse_iso, ts, ts_ms, utc_now)


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
        self.mdd: list = []  # merchantDefinedInformation of an authorization
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



class LedgerMixin:
    """Ledger operations of the Simulator (cybs_sim.py): uses its lock-held state (`txns`,
    `order`, `ledger`, `chargebacks`, `events`, `config`, `creds`) and id generators."""

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
