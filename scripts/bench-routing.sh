#!/usr/bin/env bash
# The routing benchmark: 10,000 authorizations per strategy (rules-only, dynamic, oracle) through
# the routing logic against the Cybersource simulator's approval model, route A drifting from
# 92 % to 70 % half way while route B holds at 88 % (tests/examples/routing_bench.rs). Writes
# target/bench-run/routing.{json,md} and (re)places the "Dynamic payment routing" section of
# BENCHMARKS.md (scripts/bench.sh keeps it when it rewrites the rest). ~1 minute after the build.
#   scripts/bench-routing.sh [--orders N] [--seed N] [--interval-ms N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
infra/bootstrap.sh >/dev/null
target="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$target/bench-run"
cargo run --quiet -p o2c-e2e --example routing_bench -- \
  --out "$target/bench-run/routing.json" --markdown "$target/bench-run/routing.md" "$@"
infra/.venv/bin/python - "$target/bench-run/routing.md" <<'PY'
import sys
from datetime import datetime, timezone
from pathlib import Path
sys.path.insert(0, "infra/bench")
from report import ROUTING_END, ROUTING_START, place_block
body = Path(sys.argv[1]).read_text(encoding="utf-8").strip()
when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
title = "## 5. Dynamic payment routing: rules-only vs dynamic vs oracle"
place_block(Path("BENCHMARKS.md"), ROUTING_START, ROUTING_END,
            f"{ROUTING_START}\n{title}\n\nMeasured {when}.\n\n{body}\n{ROUTING_END}")
print("wrote the routing section of BENCHMARKS.md")
PY
