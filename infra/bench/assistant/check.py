#!/usr/bin/env python3
"""Consistency check for the assistant benchmark corpus (stdlib only).

For every platform directory: truth.json has the 33 canonical targets in
order, every non-null source resolves to at least one non-null value in
sample.json, and no digit run in sample.json looks like a full card number
(13-19 digits passing the Luhn check).
"""
import json
import re
import sys
from pathlib import Path

TARGETS = [
    "id", "customer.id", "customer.email", "customer.first_name", "customer.last_name", "customer.phone",
    "bill_to.first_name", "bill_to.last_name", "bill_to.line1", "bill_to.line2", "bill_to.city",
    "bill_to.region", "bill_to.postal_code", "bill_to.country", "bill_to.phone",
    "ship_to.first_name", "ship_to.last_name", "ship_to.line1", "ship_to.line2", "ship_to.city",
    "ship_to.region", "ship_to.postal_code", "ship_to.country",
    "lines[].sku", "lines[].name", "lines[].quantity", "lines[].unit_price", "lines[].tax",
    "lines[].discount", "shipping", "total", "currency", "created_at",
]
STEP = re.compile(r"^([^\[\]]+)((?:\[\d*\])*)$")


def resolve(node, path):
    """Yield every value reached by a dotted path with [] / [N] steps."""
    nodes = [node]
    for part in path.split("."):
        m = STEP.match(part)
        if not m:
            raise ValueError(f"bad path step {part!r} in {path!r}")
        key, idx = m.group(1), re.findall(r"\[(\d*)\]", m.group(2))
        nxt = []
        for n in nodes:
            if isinstance(n, dict) and key in n:
                nxt.append(n[key])
        for i in idx:
            expanded = []
            for n in nxt:
                if not isinstance(n, list):
                    continue
                if i == "":
                    expanded.extend(n)
                elif int(i) < len(n):
                    expanded.append(n[int(i)])
            nxt = expanded
        nodes = nxt
    return nodes


def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def main():
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent
    failures = 0
    for d in sorted(p for p in root.iterdir() if (p / "truth.json").exists()):
        truth = json.loads((d / "truth.json").read_text())
        raw = (d / "sample.json").read_text()
        sample = json.loads(raw)
        problems = []
        if [e["target"] for e in truth] != TARGETS:
            problems.append("targets missing, extra or out of order")
        for e in truth:
            if not {"target", "source"} <= set(e) <= {"target", "source", "also"}:
                problems.append(f"{e.get('target')}: unexpected keys {sorted(e)}")
            src = e["source"]
            if src is None:
                if e.get("also"):
                    problems.append(f"{e['target']}: `also` without a source")
                continue
            for path in [src, *e.get("also", [])]:
                vals = [v for v in resolve(sample, path) if v not in (None, "")]
                if not vals:
                    problems.append(f"{e['target']}: {path} resolves to nothing")
        for run in re.findall(r"\d{13,19}", raw):
            if luhn(run):
                problems.append(f"card-like digit run {run}")
        present = sum(1 for e in truth if e["source"])
        status = "ok" if not problems else "FAIL"
        print(f"{d.name:14} {present:2}/33 non-null  {status}")
        for p in problems:
            print(f"    - {p}")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
