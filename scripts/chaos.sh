#!/usr/bin/env bash
# The chaos run: N orders (default 1,000) through the whole integration — moto provisioned from
# template.yaml, the four simulators, every handler behind the SQS bridge and the local API
# Gateway — with the full fault mix, then the invariant checker's table.
#   scripts/chaos.sh [orders]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
infra/bootstrap.sh
export MOTO_SERVER_BIN="$PWD/infra/local/moto-server"
export O2C_CHAOS_ORDERS="${1:-1000}"
log="${O2C_LOG_DIR:-/tmp/o2c-local}/chaos-$(date +%Y%m%dT%H%M%S).log"
mkdir -p "$(dirname "$log")"
echo "==> chaos run: $O2C_CHAOS_ORDERS orders (function logs: $log)"
cargo test -p o2c-e2e --test chaos -- --nocapture 2>&1 | tee "$log" | grep -v '^{"timestamp"'
