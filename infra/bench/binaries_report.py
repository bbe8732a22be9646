#!/usr/bin/env python3
"""Writes BENCHMARKS.md's "binary size and cold start, before/after" section from run_stack.py's
cold-start JSON (scripts/bench-binaries.sh). Rows: each function's build under test (the plain
label) and every other build of it (`<function>@<build>` labels), measured interleaved in one run.

    binaries_report.py --stack stack.json --after REF --build before=REF [--build NAME=REF ...]
"""
import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from report import BINARIES_END as END, BINARIES_START as START, place_block

REPO = Path(__file__).resolve().parents[2]
TITLE = "## 6. Binary size and cold start, before/after (one TLS stack)"


def section(res: dict, after: str, builds: dict[str, str]) -> str:
    fns = sorted(k for k in res if "@" not in k)
    runs = res[fns[0]]["runs"]
    out = [START, TITLE, "",
           f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Stripped `release` binaries (x86_64), "
           f"each started {runs} times, interleaved round by round with the other builds, under "
           "`infra/bench/lambda_stub.py`'s Runtime API with the local stack's secrets (process start → "
           "first `/next`). Builds: " + ", ".join([f"**after** = `{after}`"] +
                                                 [f"**{n}** = `{r}`" for n, r in builds.items()]) + ".",
           "", "| function | build | binary (bytes) | MB | MiB | cold start median ms | p90 ms | peak RSS MiB |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for f in fns:
        for label, name in [(f, "after")] + [(f"{f}@{n}", n) for n in builds]:
            r = res.get(label)
            if r is None:
                continue
            b = r["binary_bytes"]
            out.append(f"| {f} | {name} | {b:,} | {b / 1e6:.2f} | {b / 2**20:.2f} | {r['median_ms']:.1f} | "
                       f"{r['p90_ms']:.1f} | {r['peak_rss_kb_median'] / 1024:.1f} |")
    out.append(END)
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--build", action="append", default=[], help="NAME=REF of another build")
    ap.add_argument("--notes", help="a Markdown file appended to the section (what the figures show)")
    ap.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    a = ap.parse_args()
    res = json.loads(Path(a.stack).read_text())["coldstart"]
    builds = dict(b.split("=", 1) for b in a.build)
    block = section(res, a.after, builds)
    if a.notes:
        block = block.replace(END, "\n" + Path(a.notes).read_text().strip() + "\n" + END)
    place_block(Path(a.out), START, END, block)
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
