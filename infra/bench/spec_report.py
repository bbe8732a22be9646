#!/usr/bin/env python3
"""Writes BENCHMARKS.md §7 (the integration spec's costs against hard-coded mappings) from
scripts/bench-spec.sh's results and, when given, bench-binaries.sh's stack.json (binary size and
cold start of the same two commits).

    spec_report.py --mappings mappings.jsonl --spec spec.json --before REF --after REF [--binaries stack.json]
"""
import argparse
import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

from report import SPEC_END as END, SPEC_START as START, place_block

REPO = Path(__file__).resolve().parents[2]
TITLE = "## 7. The integration spec: compile, evaluation, binary size and cold start against hard-coded mappings"
NOTES = REPO / "infra/bench/spec_notes.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mappings", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--binaries")
    ap.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    a = ap.parse_args()
    rows = [json.loads(l) for l in Path(a.mappings).read_text().splitlines() if l.strip()]
    med = {b: statistics.median(r["order_all_mappings_us_median"] for r in rows if r["build"] == b)
           for b in ("before", "after")}
    spec = json.loads(Path(a.spec).read_text().strip().splitlines()[-1])
    out = [START, TITLE, "",
           f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `scripts/bench-spec.sh {a.before} {a.after}`. "
           f"**before** = `{a.before}` (mappings in Rust), **after** = `{a.after}` (the bundled spec). "
           "Profile: the functions' `release` (opt-level \"z\"), LTO off on both sides.", "",
           "| measure | before | after | after / before | goal |", "|---|---:|---:|---:|---|",
           f"| one order through every outbound mapping (8 calls, `benches/mappings.rs`), µs, median of {len(rows) // 2} alternations | "
           f"{med['before']:.1f} | {med['after']:.1f} | {med['after'] / med['before']:.1f}× | ≤ 50 µs |",
           f"| compile the bundled spec (cold start), ms, median of {spec['rounds']} | — | {spec['compile_ms_median']:.2f} | | ≤ 2 ms |",
           f"| validate the bundled spec (push, CLI), ms | — | {spec['validate_ms_median']:.2f} | | |",
           f"| engine only: every mapping ({spec['mappings']}) and rule ({spec['rules']}) of the spec on its samples, µs | — | "
           f"{spec['order_all_mappings_us_median']:.1f} | | |"]
    if a.binaries and Path(a.binaries).exists():
        res = json.loads(Path(a.binaries).read_text())["coldstart"]
        out += ["", "Binary size and cold start (`scripts/bench-binaries.sh` with `BENCH_NO_REPORT=1`: stripped fat-LTO "
                "`release` binaries, started interleaved round by round under `infra/bench/lambda_stub.py`, process start "
                "→ first `/next`, the local stack's secrets and table):", "",
                "| function | before bytes | after bytes | Δ MB | before cold start median ms | after ms | Δ ms |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for f in sorted(k for k in res if "@" not in k):
            b, x = res.get(f"{f}@before"), res[f]
            if b is None:
                continue
            out.append(f"| {f} | {b['binary_bytes']:,} | {x['binary_bytes']:,} | "
                       f"{(x['binary_bytes'] - b['binary_bytes']) / 1e6:+.2f} | {b['median_ms']:.1f} | {x['median_ms']:.1f} | "
                       f"{x['median_ms'] - b['median_ms']:+.1f} |")
    if NOTES.exists():
        out += ["", NOTES.read_text().strip()]
    out.append(END)
    block = "\n".join(out)
    place_block(Path(a.out), START, END, block)
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
