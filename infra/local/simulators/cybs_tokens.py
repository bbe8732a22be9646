"""Cybersource simulator: TMS (Token Management) -- customers, payment instruments, instrument
identifiers, tokenize -- and the card view behind a payment source. Card numbers are refused (a
token only) by the shared rule, simkit.find_pan.

Part of the Cybersource simulator (cybersource.py is the entry point). Standard library only.
"""

from __future__ import annotations

from cybs_common import ApiError, dig, invalid, missing, not_found
from cybs_signing import card_from_jwt, transient_token
from simkit import cardscan, find_pan


class TokensMixin:
    """TMS methods of the Simulator (cybs_sim.py): the card behind a payment source, customers,
    payment instruments, instrument identifiers (never Luhn-valid) and transient tokens."""

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

    card_from_jwt = staticmethod(card_from_jwt)

    def mint_transient_token(self, spec: dict) -> dict:
        return transient_token(spec, f"1E{self._alnum(30)}")

    def new_identifier(self, card: dict) -> str:
        while True:
            ii = "7010000000" + self._digits(9)
            if not cardscan.luhn_ok(ii) and ii not in self.identifiers:  # never looks like a PAN
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
