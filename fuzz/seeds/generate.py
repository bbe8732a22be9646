#!/usr/bin/env python3
"""Writes the committed fuzz seeds (small, real shapes) under fuzz/seeds/<target>/.

Shapes come from events/ (the sample API Gateway events), shared vectors and the Cybersource
simulator's response builders. Run again after changing a shape: python3 fuzz/seeds/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def compact(v) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def write(target: str, name: str, data) -> None:
    d = HERE / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def head(lines: dict, body: str) -> str:
    return "".join(f"{k}: {v}\n" for k, v in lines.items()) + "\n" + body


# ----------------------------------------------------------------- Clarity shapes
sample = json.loads((ROOT / "events/apigw-clarity-order-webhook.json").read_text())
envelope = json.loads(sample["body"])
order = envelope["payload"]["order"]


def env(eid: str, typ: str, payload: dict) -> str:
    return compact({"id": eid, "type": typ, "occurredAt": "2024-06-01T12:00:00Z", "payload": payload})


def with_(o: dict, **kw) -> dict:
    c = json.loads(json.dumps(o))
    c.update(kw)
    return c


jpy = with_(order, id="ORD-JPY-1", currency="JPY",
            lineItems=[{"id": "L1", "sku": "SKU-TEA", "name": "Tea", "quantity": 3, "unitPrice": "1200",
                        "discountTotal": "100", "taxTotal": "350", "lineTotal": "3850"}],
            totals={"subtotal": "3600", "discountTotal": "100", "shippingTotal": "0", "taxTotal": "350",
                    "grandTotal": "3850"}, shippingAddress=None)
kwd = with_(order, id="ORD-KWD-1", currency="KWD",
            lineItems=[{"id": "L1", "sku": "SKU-OUD", "name": "Oud", "quantity": 1, "unitPrice": "12.345",
                        "discountTotal": "0.000", "taxTotal": "0.617", "lineTotal": "12.962"}],
            totals={"subtotal": "12.345", "discountTotal": "0.000", "shippingTotal": "1.500",
                    "taxTotal": "0.617", "grandTotal": "14.462"})
tms = with_(order, id="ORD-TMS-1",
            payment={"processor": "cybersource", "status": "none", "instrumentToken": "PI-0001",
                     "tmsCustomerId": "CUS-0001"})
ret = {"id": "RET-1", "orderId": "ORD-1001", "status": "requested", "reason": "damaged",
       "lines": [{"lineItemId": "ORD-1001-L1", "sku": "SKU-MUG-RED", "quantity": 1, "amount": "13.50"}],
       "shippingRefund": "5.00", "refundAmount": "18.50", "currency": "USD",
       "requestedAt": "2024-06-02T09:00:00Z"}

created = env("evt_0001", "order.created", {"order": order})
now_sign = {"X-Clarity-Timestamp": "@now", "X-Clarity-Signature": "@sign"}
write("clarity_webhook", "order_created_bare.json", created)
write("clarity_webhook", "order_created_head.txt",
      head({"X-Clarity-Event-Id": "evt_0001", "X-Clarity-Event-Type": "order.created", **now_sign,
            "X-Clarity-Delivery-Attempt": "1"}, created))
write("clarity_webhook", "rotation_two_entries.txt",
      head({"X-Clarity-Event-Id": "evt_0001", "X-Clarity-Timestamp": "@now-299",
            "X-Clarity-Signature": "v1=" + "0" * 64 + ",@sign"}, created))
write("clarity_webhook", "stale.txt", head({"X-Clarity-Event-Id": "evt_0001", "X-Clarity-Timestamp": "@now-301",
                                            "X-Clarity-Signature": "@sign"}, created))
write("clarity_webhook", "unsigned.txt", head({"X-Clarity-Event-Id": "evt_0001", "X-Clarity-Timestamp": "@now"},
                                              created))
write("clarity_webhook", "id_mismatch.txt", head({"X-Clarity-Event-Id": "evt_other", **now_sign}, created))
write("clarity_webhook", "type_mismatch.txt",
      head({"X-Clarity-Event-Id": "evt_0001", "X-Clarity-Event-Type": "order.updated", **now_sign}, created))
write("clarity_webhook", "jpy.json", env("evt_jpy", "order.created", {"order": jpy}))
write("clarity_webhook", "kwd.json", env("evt_kwd", "order.created", {"order": kwd}))
write("clarity_webhook", "tms.json", env("evt_tms", "order.created", {"order": tms}))
write("clarity_webhook", "updated.json",
      env("evt_upd", "order.updated", {"order": order, "changedFields": ["status", "statusReason"]}))
write("clarity_webhook", "cancelled.json",
      env("evt_can", "order.cancelled", {"order": with_(order, status="cancelled"), "reason": "customer_request",
                                         "cancelledBy": "customer"}))
write("clarity_webhook", "return.json", env("evt_ret", "return.requested", {"return": ret, "order": order}))
write("clarity_webhook", "customer.json",
      env("evt_cus", "customer.updated", {"customer": {"id": "CUST-1", "email": "buyer1@example.test",
                                                        "firstName": "Pat", "lastName": "Buyer",
                                                        "createdAt": "2024-06-01T12:00:00Z",
                                                        "updatedAt": "2024-06-01T12:00:00Z", "version": 1}}))
write("clarity_webhook", "inventory.json",
      env("evt_inv", "inventory.updated", {"sku": "SKU-MUG-RED", "locationId": "WH1", "quantityOnHand": 10,
                                           "quantityAvailable": 7}))
write("clarity_webhook", "unknown_type.json", env("evt_unk", "order.teleported", {"x": 1}))
write("clarity_webhook", "card_number.json",
      env("evt_pan", "order.created", {"order": with_(order, metadata={"note": "card 4111 1111 1111 1111"})}))
write("clarity_webhook", "unicode_escapes.json",
      env("evt_\\u00e9", "order.created", {"order": with_(order, metadata={"n": "Zo\u00eb \\ud83d\\ude00 \\\""})}))

write("clarity_mapping", "order.json", compact(order))
write("clarity_mapping", "jpy.json", compact(jpy))
write("clarity_mapping", "kwd.json", compact(kwd))
write("clarity_mapping", "tms.json", compact(tms))
write("clarity_mapping", "no_shipping.json", compact(with_(order, shippingAddress=None)))
write("clarity_mapping", "with_return.json", compact({"order": order, "return": ret}))
write("clarity_mapping", "refund_only.json",
      compact({"order": order, "return": with_(ret, lines=[], shippingRefund=None, refundAmount="32.00")}))

# ----------------------------------------------------------------- Cybersource notifications
# The golden webhook vectors' bodies (in-repo copies, shared/connectors/tests/vectors/); their
# seeds are committed as vector_*.json too, so a missing file only skips them.
VECTORS = ROOT / "shared/connectors/tests/vectors/cybersource-webhook-signature.json"
vectors = json.loads(VECTORS.read_text()) if VECTORS.exists() else {"vectors": []}
for v in vectors.get("vectors", []):
    raw = v.get("input", {}).get("raw_body")
    if raw:
        write("cybersource_notification", f"vector_{v['id']}.json", raw)
cs_sample = json.loads((ROOT / "events/apigw-cybersource-notification.json").read_text())["body"]
write("cybersource_notification", "decision_accept.json", cs_sample)
write("cybersource_notification", "decision_accept_head.txt", head({"v-c-signature": "@sign"}, cs_sample))
write("cybersource_notification", "stale.txt", head({"v-c-signature": "@sign-stale"}, cs_sample))
write("cybersource_notification", "future.txt", head({"v-c-signature": "@sign-future"}, cs_sample))
write("cybersource_notification", "raw_content.txt",
      head({"v-c-signature": "@sign", "X-Fuzz-Content": "raw"}, cs_sample))
write("cybersource_notification", "unknown_key.txt",
      head({"v-c-signature": "t=1768904131000;keyId=someone-else;sig=2e8kfmTylhmYwjX3vnW6AtftIUP3vjzTBeB6N4K2SPM="},
           cs_sample))
write("cybersource_notification", "array_payload.json",
      compact({"eventType": "tms.networktoken.updated", "notificationId": "n-2", "retryNumber": "1",
               "payload": [{"data": {"_links": {"self": {"href": "https://x/tms/v2/tokens/ABC"}}}}]}))
# JavaScript number printing and key order: 1e21, -0, 1.0, 5e-324, 2^53+1, array-index keys,
# duplicate keys (last value wins, first position kept), escapes.
write("cybersource_notification", "js_numbers.json",
      '{"eventType":"risk.profile.decision.reject","payload":{"b":1.0,"a":-0,"17":1e21,"0":5e-324,'
      '"big":9007199254740993,"f":0.1,"e":1E-7,"x":123456789012345680000,"b":"dup","s":"\\u0001\\t\\/\\u2028"}}')
write("cybersource_notification", "chargeback_like.json",
      compact({"eventType": "payments.payments.updated", "webhookId": "w-1", "eventDate": "2026-01-20T10:00:00Z",
               "payload": {"data": {"id": "7000000000000000000555", "transactionId": "t", "requestId": "r"}}}))

# ----------------------------------------------------------------- Cybersource responses
links = {"self": {"href": "/pts/v2/payments/7000000000000000000001", "method": "GET"},
         "capture": {"href": "/pts/v2/payments/7000000000000000000001/captures", "method": "POST"},
         "authReversal": {"href": "/pts/v2/payments/7000000000000000000001/reversals", "method": "POST"}}
auth = {"_links": links, "id": "7000000000000000000001", "submitTimeUtc": "2026-01-20T10:00:00Z",
        "status": "AUTHORIZED", "reconciliationId": "R1",
        "clientReferenceInformation": {"code": "ORD-1001", "transactionId": "ORD-1001-auth-1"},
        "processorInformation": {"approvalCode": "888888", "responseCode": "100", "transactionId": "1",
                                 "avs": {"code": "Y", "codeRaw": "Y"}},
        "paymentInformation": {"card": {"type": "001", "suffix": "1111"}, "tokenizedCard": {"type": "001"}},
        "orderInformation": {"amountDetails": {"authorizedAmount": "107.99", "totalAmount": "107.99",
                                               "currency": "USD"}},
        "tokenInformation": {"customer": {"id": "C1"}, "paymentInstrument": {"id": "PI1"},
                             "instrumentIdentifier": {"id": "II1"}, "instrumentidentifierNew": False}}
review = with_(auth, status="AUTHORIZED_PENDING_REVIEW",
               riskInformation={"profile": {"name": "p", "desinationQueue": "q", "selectorRule": "r"},
                                "rules": [{"name": "velocity", "decision": "REVIEW"}], "score": {"result": "42"}},
               errorInformation={"reason": "DECISION_PROFILE_REVIEW", "message": "review"})
reject = with_(auth, status="AUTHORIZED_RISK_DECLINED",
               errorInformation={"reason": "DECISION_PROFILE_REJECT", "message": "rejected"})
declined = {"id": "7000000000000000000002", "status": "DECLINED",
            "errorInformation": {"reason": "INSUFFICIENT_FUND", "message": "Decline - Insufficient funds"},
            "clientReferenceInformation": {"code": "ORD-1002"}}
capture = {"_links": {"self": {"href": "/pts/v2/captures/7000000000000000000003", "method": "GET"}},
           "id": "7000000000000000000003", "status": "PENDING", "submitTimeUtc": "2026-01-20T10:00:01Z",
           "clientReferenceInformation": {"code": "ORD-1001", "transactionId": "ORD-1001-cap-1"},
           "orderInformation": {"amountDetails": {"totalAmount": "107.99", "currency": "USD"}}}
refund = {"id": "7000000000000000000004", "status": "PENDING",
          "refundAmountDetails": {"refundAmount": "10.00", "currency": "USD"},
          "processorInformation": {"responseCode": "00", "approvalCode": "123456"},
          "orderInformation": {"amountDetails": {"currency": "USD"}}}
reversal = {"id": "7000000000000000000005", "status": "REVERSED",
            "reversalAmountDetails": {"reversedAmount": "1500", "currency": "JPY"},
            "processorInformation": {"responseCode": "00", "transactionId": "123456789012345"}}
void = {"id": "7000000000000000000006", "status": "VOIDED",
        "voidAmountDetails": {"voidAmount": "12.962", "currency": "KWD"}}
error = {"submitTimeUtc": "2026-01-20T10:00:00Z", "status": "INVALID_REQUEST", "reason": "MISSING_FIELD",
         "message": "Declined - The request is missing one or more fields",
         "details": [{"field": "orderInformation.amountDetails.totalAmount", "reason": "MISSING_FIELD"}]}
tss = {"id": "70001", "rootId": "70001", "submitTimeUTC": "2026-01-20T10:00:00Z", "status": "TRANSMITTED",
       "applicationInformation": {"reasonCode": 100, "rCode": "1", "rFlag": "SOK",
                                  "applications": [{"name": "ics_auth", "reasonCode": "100", "rCode": 1,
                                                    "returnCode": 1010000}, {"name": "ics_bill", "rFlag": "SOK"}]},
       "clientReferenceInformation": {"code": "O-auth-1"},
       "orderInformation": {"amountDetails": {"totalAmount": "10.00", "authorizedAmount": "10.00",
                                              "currency": "USD"}},
       "riskInformation": {"profile": {"name": "default", "decision": "ACCEPT"}}}
for name, body in [("authorized", auth), ("pending_review", review), ("risk_declined", reject),
                   ("declined", declined), ("capture_pending", capture), ("refund_pending", refund),
                   ("reversed_jpy", reversal), ("voided_kwd", void), ("error_400", error),
                   ("tss_details", tss), ("auth_error", {"response": {"rmsg": "Authentication Failed"}}),
                   ("tms_error", {"errors": [{"type": "notFound", "message": "Token not found",
                                              "details": [{"name": "id"}]}]})]:
    write("cybersource_response", f"{name}.json", compact(body))
