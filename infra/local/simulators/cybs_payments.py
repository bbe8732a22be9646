"""Cybersource simulator: authorizations (PTS payments, with the e-mail triggers, Decision Manager
outcomes and the routing model's decisions) and the TSS views: transaction details and search.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

import base64
import re

from cybs_common import (CAPTURABLE, CARD_BRANDS, DECLINE_REASONS, DM_TRIGGERS, EMAIL_TRIGGERS, HELD,
                         REVIEW_STATUSES, TRIGGERS, card_name, check_currency, dig, fmt_amount, invalid,
                         missing, not_found, parse_amount, server_error, ts, utc_now)
from cybs_ledger import Txn
from cybs_routing import decline_codes


class PaymentsMixin:
    """Authorization and TSS methods of the Simulator (cybs_sim.py)."""

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
        mdd = check_mdd(body.get("merchantDefinedInformation"))
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
        t.mdd = mdd
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
                if t.mdd:
                    view["merchantDefinedInformation"] = t.mdd
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


def check_mdd(mdd) -> list:
    """`merchantDefinedInformation`: a list of {key, value}, the key a field number 0-100 (as the
    REST API reference gives it), the value text; anything else is INVALID_DATA."""
    if mdd is None:
        return []
    ok = isinstance(mdd, list) and all(
        isinstance(m, dict) and set(m) == {"key", "value"} and isinstance(m["value"], str)
        and isinstance(m["key"], str) and m["key"].isdigit() and 0 <= int(m["key"]) <= 100
        for m in mdd)
    if not ok:
        raise invalid("INVALID_DATA", "Declined - One or more fields in the request contains invalid data",
                      "merchantDefinedInformation")
    return mdd
