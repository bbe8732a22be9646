#!/usr/bin/env python3
"""Write the sample events in events/ (stdlib only).

The two API Gateway (HTTP API, payload 2.0) webhook events are signed with the LOCAL SANDBOX
secrets of infra/local/secrets.local.json and a fresh timestamp:

  * apigw-clarity-order-webhook.json: `X-Clarity-Signature: v1=hex(HMAC-SHA256(webhook_secret,
    timestamp + "." + raw body))` (CLARITY_ASSUMED.md §4.9; accepted for 300 s either side of now);
  * apigw-cybersource-notification.json: `v-c-signature: t=<ms>;keyId=<webhook_key_id>;sig=
    base64(HMAC-SHA256(b64decode(webhook_secret_b64), t + "." + compact JSON of body.payload))`
    (docs/cybersource.md §3.4; the receiver accepts signatures up to one hour old).

Signatures expire, so regenerate right before invoking:

    python3 events/generate.py                  # all events (only the signed two change)
    cargo lambda invoke clarity-order-webhook --data-file events/apigw-clarity-order-webhook.json

The other events (SQS for every consumer, EventBridge schedules for the pollers, the dlq-redrive
direct invocation) are deterministic: re-running rewrites them byte for byte. All of them are
about the sample order ORD-1001 (the id Clarity's order.created carries; the integration keeps
Clarity's order id as its own).

Options: --event-id (reuse to exercise the duplicate path; default evt_local_0001), --order-id,
--secrets, --out-dir, --check (verify the signers against the reference vectors and the
signatures in the written files, write nothing).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECRETS = REPO / "infra" / "local" / "secrets.local.json"
ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
STACK = "o2c-local"
# Fixed time for the deterministic events (SQS/schedule): 2026-11-26T16:00:00Z.
FIXED_MS = 1795708800000


def compact(value) -> str:
    """JSON.stringify equivalent (member order kept, no spaces, non-ASCII as is)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- signers
def clarity_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def cybersource_signature(key_b64: str, key_id: str, t_ms: int, payload) -> str:
    message = f"{t_ms}.{compact(payload)}".encode()
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), message, hashlib.sha256).digest())
    return f"t={t_ms};keyId={key_id};sig={sig.decode()}"


# --------------------------------------------------------------------------- shapes
def apigw_v2(path: str, headers: dict[str, str], body: str, now_ms: int, request_id: str) -> dict:
    when = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "local")},
            "requestId": request_id,
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sqs_event(queue: str, records: list[tuple[str, str, str]]) -> dict:
    """records: (body, group id, dedup id) on <stack>-<queue>.fifo."""
    out = []
    for i, (body, group, dedup) in enumerate(records):
        out.append({
            "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{queue}/{dedup}")),
            "receiptHandle": f"local-receipt-{queue}-{i + 1}",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(FIXED_MS),
                "SequenceNumber": str(18849496460467696128 + i),
                "MessageGroupId": group,
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "MessageDeduplicationId": dedup,
                "ApproximateFirstReceiveTimestamp": str(FIXED_MS + 20),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own digest
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{queue}.fifo",
            "awsRegion": REGION,
        })
    return {"Records": out}


def schedule_event(rule: str) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"schedule/{rule}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.fromtimestamp(FIXED_MS / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-{rule}"],
        "detail": {},
    }


def clarity_order(order_id: str, created: str) -> dict:
    """A full Clarity Order (CLARITY_ASSUMED.md §4.4): 2 x 12.50 + 2.00 tax + 5.00 shipping = 32.00 USD.
    Sandbox identities only; the instrument is a Cybersource transient token, never a PAN."""
    address = {"firstName": "Pat", "lastName": "Buyer", "line1": "1 Main St", "city": "Austin",
               "region": "TX", "postalCode": "78701", "countryCode": "US",
               "phone": "+1 512 555 0100", "email": "buyer1@example.test"}
    return {
        "id": order_id, "orderNumber": "100001", "status": "pending_payment", "currency": "USD",
        "customer": {"id": "CUST-1", "email": "buyer1@example.test", "firstName": "Pat", "lastName": "Buyer"},
        "billingAddress": address,
        "shippingAddress": address,
        "lineItems": [{"id": f"{order_id}-L1", "sku": "SKU-MUG-RED", "name": "Red mug", "quantity": 2,
                       "unitPrice": "12.50", "discountTotal": "0.00", "taxTotal": "2.00", "lineTotal": "27.00"}],
        "totals": {"subtotal": "25.00", "discountTotal": "0.00", "shippingTotal": "5.00",
                   "taxTotal": "2.00", "grandTotal": "32.00"},
        "payment": {"processor": "cybersource", "status": "none",
                    "instrumentToken": "eyJraWQiOiJsb2NhbCJ9.eyJqdGkiOiJvMmMtbG9jYWwtMSJ9.c2FuZGJveA"},
        "metadata": {"channel": "web"},
        "createdAt": created, "updatedAt": created, "version": 1,
    }


# --------------------------------------------------------------------------- events
def signed_events(secrets: dict, order_id: str, event_id: str, now_ms: int) -> dict[str, dict]:
    now_s = now_ms // 1000
    iso = datetime.fromtimestamp(now_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Clarity order.created (CLARITY_ASSUMED.md §4.9)
    clar = secrets["ClaritySecret"]
    envelope = {"id": event_id, "type": "order.created", "occurredAt": iso,
                "payload": {"order": clarity_order(order_id, iso)}}
    raw = compact(envelope)
    ts = str(now_s)
    clarity = apigw_v2("/webhooks/clarity", {
        "Content-Type": "application/json; charset=utf-8",
        "X-Clarity-Event-Id": event_id,
        "X-Clarity-Event-Type": "order.created",
        "X-Clarity-Timestamp": ts,
        "X-Clarity-Signature": clarity_signature(clar["webhook_secret"], ts, raw.encode()),
        "X-Clarity-Delivery-Attempt": "1",
        "User-Agent": "clarity-sim-webhooks/1.0",
    }, raw, now_ms, f"local-{event_id}")

    # Cybersource Decision Manager case accepted (docs/cybersource.md §3.3/§3.4)
    cybs = secrets["CybersourceSecret"]
    org = cybs["merchant_id"]
    payload = {"data": {"id": "7000000000000000001001", "type": "decision", "version": "1.0",
                        "decision": "ACCEPT", "status": "AUTHORIZED",
                        "referenceNumber": order_id,
                        "clientReferenceInformation": {"code": order_id},
                        "riskInformation": {"profile": {"decision": "ACCEPT"}},
                        "_links": {"self": {"href": "/tss/v2/transactions/7000000000000000001001",
                                            "method": "GET"}}},
               "organizationId": org}
    notification = {"eventType": "risk.casemanagement.decision.accept",
                    "webhookId": "5e5a5f0e-3c1d-4b7a-9f4e-0c2b6d7a8e91", "productId": "decisionManager",
                    "organizationId": org, "eventDate": iso,
                    "transactionTraceId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"trace/{event_id}")),
                    "retryNumber": 0, "payload": payload, "requestType": "NEW"}
    cybersource = apigw_v2("/webhooks/cybersource", {
        "Content-Type": "application/json",
        "v-c-signature": cybersource_signature(cybs["webhook_secret_b64"], cybs["webhook_key_id"],
                                               now_ms, payload),
        "User-Agent": "Cybersource-Webhooks/2.0",
    }, compact(notification), now_ms, f"local-cybs-{event_id}")
    return {"apigw-clarity-order-webhook.json": clarity,
            "apigw-cybersource-notification.json": cybersource}


def static_events(order_id: str) -> dict[str, dict]:
    o = order_id

    def cmd(body: dict, cause: str, what: str) -> tuple[str, str, str]:
        return compact(body), o, f"{o}-{cause}-{what}"  # dedup id as shared/pipeline builds it

    return {
        "sqs-orders.json": sqs_event("orders", [cmd({"type": "authorize", "order_id": o}, "webhook", "authorize")]),
        "sqs-captures.json": sqs_event("captures", [cmd({"type": "capture", "order_id": o}, "authorize", "capture")]),
        "sqs-refunds.json": sqs_event("refunds", [cmd(
            {"type": "void", "order_id": o, "reason": "customer cancelled before shipment"}, "webhook", "void")]),
        "sqs-refunds-refund.json": sqs_event("refunds", [cmd(
            {"type": "refund", "order_id": o, "refund_id": "RET-1", "amount": {"amount": "12.50", "currency": "USD"},
             "reason": "returned one mug"}, "webhook", "refund-RET-1")]),
        "sqs-clarity-sync.json": sqs_event("clarity-sync", [
            cmd({"order_id": o, "cause": "authorize.recorded"}, "authorize.recorded", "clarity-sync"),
            cmd({"order_id": o, "cause": "capture.recorded"}, "capture.recorded", "clarity-sync")]),
        "sqs-erp-sync.json": sqs_event("erp-sync", [
            cmd({"order_id": o, "cause": "capture.recorded"}, "capture.recorded", "erp-sync")]),
        "schedule-chargeback-poller.json": schedule_event("chargeback-poll"),
        "schedule-erp-poller.json": schedule_event("erp-poll"),
        "schedule-clarity-catchup.json": schedule_event("clarity-catchup"),
        "dlq-redrive-list.json": {"action": "list", "queue": "orders", "dry_run": True},
    }


# --------------------------------------------------------------------------- self-check
CLARITY_VECTOR = (  # CLARITY_ASSUMED.md §4.9 signature check value
    "whsec_test_clarity_0123456789abcdef", "1717243200",
    '{"id":"evt_0001","type":"order.created","occurredAt":"2024-06-01T12:00:00Z",'
    '"payload":{"order":{"id":"ORD-1001","status":"pending_payment"}}}',
    "v1=5472097cb2bd49fd471b405784b7162bc089db8e0c508111ed3c9846eab6d3ab")


def check(secrets: dict, out_dir: Path) -> list[str]:
    problems = []
    secret, ts, body, want = CLARITY_VECTOR
    if clarity_signature(secret, ts, body.encode()) != want:
        problems.append("clarity signer disagrees with the CLARITY_ASSUMED.md §4.9 vector")
    vectors = REPO.parent / "shared" / "vectors" / "cybersource-webhook-signature.json"
    if vectors.exists():
        for v in json.loads(vectors.read_text())["vectors"]:
            inp, out = v["input"], v["output"]
            if not out.get("valid_payload_member"):
                continue
            t = int(out["parsed"]["t"])
            got = cybersource_signature(inp["security_key_b64"], inp["security_key_id"], t,
                                        json.loads(inp["raw_body"])["payload"])
            if got.split("sig=")[1] != out["parsed"]["sig"]:
                problems.append(f"cybersource signer disagrees with vector {v['id']}")
    now_ms = int(time.time() * 1000)
    clar = json.loads((out_dir / "apigw-clarity-order-webhook.json").read_text())
    h = clar["headers"]
    if clarity_signature(secrets["ClaritySecret"]["webhook_secret"], h["x-clarity-timestamp"],
                         clar["body"].encode()) != h["x-clarity-signature"]:
        problems.append("apigw-clarity-order-webhook.json: signature does not verify")
    elif abs(now_ms // 1000 - int(h["x-clarity-timestamp"])) > 300:
        problems.append("apigw-clarity-order-webhook.json: timestamp outside the 300 s window; regenerate")
    cy = json.loads((out_dir / "apigw-cybersource-notification.json").read_text())
    parts = dict(p.split("=", 1) for p in cy["headers"]["v-c-signature"].split(";"))
    c = secrets["CybersourceSecret"]
    if cybersource_signature(c["webhook_secret_b64"], c["webhook_key_id"], int(parts["t"]),
                             json.loads(cy["body"])["payload"]) != cy["headers"]["v-c-signature"]:
        problems.append("apigw-cybersource-notification.json: signature does not verify")
    elif now_ms - int(parts["t"]) > 3600 * 1000:
        problems.append("apigw-cybersource-notification.json: older than one hour; regenerate")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=HERE)
    ap.add_argument("--secrets", type=Path, default=SECRETS)
    ap.add_argument("--order-id", default="ORD-1001")
    ap.add_argument("--event-id", default="evt_local_0001")
    ap.add_argument("--check", action="store_true", help="verify signers and written files; write nothing")
    args = ap.parse_args(argv)
    secrets = json.loads(args.secrets.read_text())
    if args.check:
        problems = check(secrets, args.out_dir)
        for p in problems:
            print(f"events/generate.py: {p}", file=sys.stderr)
        print("events: signatures ok" if not problems else "events: FAILED")
        return 1 if problems else 0
    events = {**signed_events(secrets, args.order_id, args.event_id, int(time.time() * 1000)),
              **static_events(args.order_id)}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, event in events.items():
        (args.out_dir / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(events)} events to {args.out_dir} (webhook signatures valid for the local "
          "sandbox secrets; Clarity accepts them for 5 minutes, Cybersource for 1 hour)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
