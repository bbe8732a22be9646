#!/usr/bin/env bash
# The bench command: measures, side by side in one run, and (re)writes BENCHMARKS.md.
#   1. cold start (process start → first Runtime API /next poll) of every function binary vs a
#      Python handler importing Cybersource's official SDK, under one local Runtime API stub
#   2. Cybersource HTTP Signature signing: ours (criterion) vs the official Python SDK's signer,
#      on the golden vectors (read from $CYBS_VECTORS_DIR, default ../shared/vectors)
#   3. billable DynamoDB + SQS requests per happy-path order and the cost per million orders
# Not run by CI (release builds are heavy). Loopback only; stops everything it starts.
#
#   BENCH_RUNS    cold starts per case (default 20)
#   BENCH_ORDERS  measured orders (default 50)
#   BENCH_JITTER  1 (default): also cold-start authorize built with AWS_LC_SYS_NO_JITTER_ENTROPY=1
#                 (a second release build in target/bench-nojitter); 0 to skip
# Raw results: target/bench-run/ (under $CARGO_TARGET_DIR when set). Needs Rust (stable), Python 3.11 and PyPI (first run only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
started="$(date +%s.%N)"
target="${CARGO_TARGET_DIR:-$repo/target}"
out="$target/bench-run"
mkdir -p "$out"
runs="${BENCH_RUNS:-20}"
orders="${BENCH_ORDERS:-50}"
jitter="${BENCH_JITTER:-1}"

step() { echo "==> $* ($(date +%H:%M:%S))"; }

step "tools (infra/.venv)"
infra/bootstrap.sh >/dev/null

step "official Cybersource Python SDK (infra/bench/.venv, pinned by infra/bench/requirements-sdk.txt)"
sdk_venv="$repo/infra/bench/.venv"
if ! "$sdk_venv/bin/python" -c 'import CyberSource' 2>/dev/null; then
  rm -rf "$sdk_venv"
  python3.11 -m venv "$sdk_venv"
  "$sdk_venv/bin/pip" install --quiet --disable-pip-version-check -r infra/bench/requirements-sdk.txt
fi
"$sdk_venv/bin/python" -W ignore -c 'from CyberSource.api_client import ApiClient; ApiClient()'

functions=()
for d in functions/*/; do functions+=(-p "$(basename "$d")"); done
step "release build: $(( ${#functions[@]} / 2 )) functions + the SQS bridge"
cargo build --release --quiet "${functions[@]}" -p o2c-local-bridge

extra=()
if [[ "$jitter" == 1 ]]; then
  step "release build of authorize with AWS_LC_SYS_NO_JITTER_ENTROPY=1 (target/bench-nojitter)"
  AWS_LC_SYS_NO_JITTER_ENTROPY=1 CARGO_TARGET_DIR="$target/bench-nojitter" \
    cargo build --release --quiet -p authorize
  extra=(--extra-rust "authorize@no-jitter=$target/bench-nojitter/release/authorize")
fi

step "criterion bench build"
cargo bench --quiet -p o2c-connectors --bench cybs_signing --no-run

step "signing: ours (criterion)"
rm -rf "$target/criterion/cybs_http_signature"
cargo bench --quiet -p o2c-connectors --bench cybs_signing >"$out/criterion.txt"

step "signing: official Python SDK"
"$sdk_venv/bin/python" infra/bench/sdk_sign_bench.py >"$out/sdk.json"

step "local stack: cold starts ($runs per case) and $orders happy-path orders"
infra/.venv/bin/python infra/bench/run_stack.py --release-dir "$target/release" \
  --runs "$runs" --orders "$orders" \
  "${extra[@]}" --out "$out/stack.json"

step "BENCHMARKS.md"
infra/.venv/bin/python infra/bench/report.py --stack "$out/stack.json" --sdk "$out/sdk.json" \
  --criterion "$target/criterion/cybs_http_signature" --started "$started"
