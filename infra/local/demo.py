#!/usr/bin/env python3
"""Demo orders through the running local stack, then each order's timeline and a summary.

Submits orders through the Clarity simulator's admin API (it sends the signed `order.created`
webhook to the integration), one per Decision Manager outcome plus a JPY order, waits until each
reaches its expected state in DynamoDB, and prints what happened:

    infra/.venv/bin/python infra/local/demo.py --env infra/local/.state/local.env \
        --cybersource http://127.0.0.1:4571 --clarity http://127.0.0.1:4572 \
        --netsuite http://127.0.0.1:4573 --salesforce http://127.0.0.1:4574
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
import uuid

import boto3

DEMO = [
    # (label, email local part = Decision Manager trigger, currency, lines, expected final states)
    ("accept", "buyer", "USD", None, {"Captured"}),
    ("review", "review", "USD", None, {"PendingReview"}),
    ("fraud reject", "reject", "USD", None, {"Voided", "Rejected"}),
    ("decline", "decline", "USD", None, {"Declined"}),
    ("JPY accept", "buyer", "JPY", [{"sku": "SKU-TEA", "name": "Matcha 抹茶", "quantity": 3, "unitPrice": "1500"}],
     {"Captured"}),
]


def call(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def load_env(path: str) -> dict:
    env = {}
    for line in open(path, encoding="utf-8"):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            env[k] = v
    return env


def order_item(table, order_id: str) -> dict | None:
    item = table.get_item(Key={"pk": f"ORDER#{order_id}", "sk": "ORDER"}, ConsistentRead=True).get("Item")
    if not item:
        return None
    return {
        "state": item["state"],
        "order": json.loads(item["order"]),
        "timeline": [json.loads(e) for e in item.get("timeline", [])],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", required=True)
    for name, port in (("cybersource", 4571), ("clarity", 4572), ("netsuite", 4573), ("salesforce", 4574)):
        ap.add_argument(f"--{name}", default=f"http://127.0.0.1:{port}")
    ap.add_argument("--timeout", type=float, default=180)
    a = ap.parse_args()
    env = load_env(a.env)
    ddb = boto3.resource("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                         aws_access_key_id="test", aws_secret_access_key="test")
    table = ddb.Table(env["TABLE_NAME"])

    run = uuid.uuid4().hex[:6].upper()
    orders = []
    for i, (label, local, currency, lines, expect) in enumerate(DEMO, 1):
        oid = f"DEMO-{run}-{i}"
        token = call("POST", f"{a.cybersource}/__admin/transient-tokens", {})["transientTokenJwt"]
        body = {"id": oid, "currency": currency, "customer": {"email": f"{local}+{oid.lower()}@example.test",
                                                               "firstName": "Ada", "lastName": "Lovelace"},
                "payment": {"instrumentToken": token}, "sync": True}
        if lines:
            body["lineItems"] = lines
        out = call("POST", f"{a.clarity}/__admin/orders", body)
        answer = out.get("webhook", {}).get("deliveries", [{}])[0].get("attempts", [{}])[-1].get("status")
        print(f"submitted {oid} ({label}): Clarity webhook answered {answer}")
        orders.append((oid, label, expect))

    deadline = time.time() + a.timeout
    pending = {oid for oid, _, _ in orders}
    while pending and time.time() < deadline:
        for oid, _, expect in orders:
            item = order_item(table, oid)
            if item and item["state"] in expect:
                pending.discard(oid)
        time.sleep(0.5)
    time.sleep(2)  # let the sync consumers finish

    ledger = call("GET", f"{a.cybersource}/__admin/ledger")["entries"]
    rows = []
    for oid, label, expect in orders:
        item = order_item(table, oid) or {"state": "(missing)", "order": {}, "timeline": []}
        print(f"\n== {oid} ({label}) — {item['state']}")
        for e in item["timeline"]:
            states = f" [{e.get('from')} → {e.get('to')}]" if e.get("to") else ""
            ref = f" ref={e['external_ref']}" if e.get("external_ref") else ""
            print(f"  {e['at']}  {e['what']:<22}{states}  {e['why']}{ref}")
        mine = [r for r in ledger if str(r.get("code", "")).startswith(oid + "-")]
        kinds = {}
        for r in mine:
            kinds[r["type"]] = kinds.get(r["type"], 0) + 1
        clarity = call("GET", f"{a.clarity}/__admin/orders/{oid}")["order"]["status"]
        o = item["order"]
        rows.append((oid, label, item["state"], clarity, ",".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "-",
                     (o.get("external") or {}).get("erp") or "-", (o.get("external") or {}).get("crm") or "-",
                     "ok" if item["state"] in expect else "UNEXPECTED"))
    head = ("order", "case", "domain state", "Clarity status", "Cybersource ledger", "ERP sales order", "CRM case",
            "check")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print("\n" + line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    bad = [r for r in rows if r[-1] != "ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
