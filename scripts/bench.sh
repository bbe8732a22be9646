#!/usr/bin/env bash
# The bench command: measures, side by side in one run, and (re)writes BENCHMARKS.md.
#   1. cold start (process start → first Runtime API /next poll) of every function binary vs a
#      Python handler importing Cybersource's official SDK, under one local Runtime API stub
#   2. Cybersource HTTP Signature signing: ours (criterion) vs the official Python SDK's signer,
#      on the golden vectors (shared/connectors/tests/vectors/, or $CYBS_VECTORS_DIR)
#   3. billable DynamoDB + SQS requests per happy-path order and the cost per million orders
#   4. throughput and p50/p99 latency, webhook → Clarity payment_received, of N orders submitted
#      concurrently, with the CPU time of every process of the run by group (ours, local AWS,
#      simulators, the Lambda runtime stub)
# Not run by CI (release builds are heavy). Loopback only; stops everything it starts.
#
#   BENCH_RUNS               cold starts per case (default 20)
#   BENCH_ORDERS             measured orders for the request counts (default 50)
#   BENCH_THROUGHPUT_ORDERS  orders in the throughput run (default 1000; 0 skips it; ~10+ min at 1000)
#   BENCH_PROFILE            cargo profile the function binaries and the bridge are built with
#                            (default release; binaries in target/<profile>, target/debug for dev);
#                            BENCHMARKS.md's header records it with its Cargo.toml settings
#   BENCH_JITTER             1 (default): also cold-start authorize built WITH aws-lc's CPU-jitter
#                            entropy (AWS_LC_SYS_NO_JITTER_ENTROPY=0, a second build of that profile
#                            in target/bench-jitter) against the shipped build, which turns it off
#                            (.cargo/config.toml); 0 to skip
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
throughput_orders="${BENCH_THROUGHPUT_ORDERS:-1000}"
profile="${BENCH_PROFILE:-release}"
case "$profile" in  # cargo's output folder: target/<profile>, except for its built-in profiles
  dev | test) profile_dir=debug ;;
  bench) profile_dir=release ;;
  *) profile_dir="$profile" ;;
esac
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
step "$profile build: $(( ${#functions[@]} / 2 )) functions + the SQS bridge"
cargo build --profile "$profile" --quiet "${functions[@]}" -p o2c-local-bridge

extra=()
if [[ "$jitter" == 1 ]]; then
  step "$profile build of authorize with jitter entropy, AWS_LC_SYS_NO_JITTER_ENTROPY=0 (target/bench-jitter)"
  AWS_LC_SYS_NO_JITTER_ENTROPY=0 CARGO_TARGET_DIR="$target/bench-jitter" \
    cargo build --profile "$profile" --quiet -p authorize
  extra=(--extra-rust "authorize@jitter=$target/bench-jitter/$profile_dir/authorize")
fi

step "criterion bench build"
cargo bench --quiet -p o2c-connectors --bench cybs_signing --no-run

step "signing: ours (criterion)"
rm -rf "$target/criterion/cybs_http_signature"
cargo bench --quiet -p o2c-connectors --bench cybs_signing >"$out/criterion.txt"

step "signing: official Python SDK"
"$sdk_venv/bin/python" infra/bench/sdk_sign_bench.py >"$out/sdk.json"

step "local stack: cold starts ($runs per case), $orders happy-path orders, throughput ($throughput_orders orders)"
infra/.venv/bin/python infra/bench/run_stack.py --release-dir "$target/$profile_dir" \
  --runs "$runs" --orders "$orders" --throughput-orders "${BENCH_THROUGHPUT_ORDERS:-1000}" \
  "${extra[@]}" --out "$out/stack.json"

step "BENCHMARKS.md"
infra/.venv/bin/python infra/bench/report.py --stack "$out/stack.json" --sdk "$out/sdk.json" \
  --criterion "$target/criterion/cybs_http_signature" --started "$started" --profile "$profile"
