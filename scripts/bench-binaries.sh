#!/usr/bin/env bash
# Binary size and cold start of some functions, built from two commits side by side in one run:
#   scripts/bench-binaries.sh BEFORE_REF [AFTER_REF=HEAD] [functions, default authorize,clarity-order-webhook,dlq-redrive]
# Each commit is checked out in a git worktree under target/bench-binaries/ and built with the
# `release` profile (fat LTO: ~10-20 min per commit on 2 cores), each in its own target dir (the
# two commits' feature sets differ). The cold starts then run interleaved, round by round, under
# infra/bench/run_stack.py's local Runtime API (process start -> first /next poll, secrets read
# from the local stack). Writes BENCHMARKS.md §6 (infra/bench/binaries_report.py; scripts/bench.sh
# keeps it); raw results in target/bench-binaries/stack.json.
# Not run by CI. Loopback only; stops everything it starts.
#   BENCH_RUNS  cold starts per binary (default 20)
#   BENCH_NO_REPORT  set: only target/bench-binaries/stack.json (scripts/bench-spec.sh reports it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
before="${1:?usage: scripts/bench-binaries.sh BEFORE_REF [AFTER_REF] [functions]}"
after="${2:-HEAD}"
functions="${3:-authorize,clarity-order-webhook,dlq-redrive}"
runs="${BENCH_RUNS:-20}"
out="${CARGO_TARGET_DIR:-$repo/target}/bench-binaries"
mkdir -p "$out"
infra/bootstrap.sh >/dev/null

build() { # label ref
  local label="$1" ref="$2" tree="$out/$1-tree"
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
  git worktree add --quiet --detach "$tree" "$ref"
  local pkgs=()
  IFS=, read -ra names <<<"$functions"
  for f in "${names[@]}"; do pkgs+=(-p "$f"); done
  echo "==> release build of $ref ($label): ${names[*]}" >&2
  (cd "$tree" && CARGO_TARGET_DIR="$out/$label-target" cargo build --release --quiet "${pkgs[@]}")
  git worktree remove --force "$tree"
}
build before "$before"
build after "$after"

extra=()
IFS=, read -ra names <<<"$functions"
for f in "${names[@]}"; do extra+=(--extra-rust "$f@before=$out/before-target/release/$f"); done
infra/.venv/bin/python infra/bench/run_stack.py --only coldstart --no-python --functions "$functions" \
  --release-dir "$out/after-target/release" --runs "$runs" "${extra[@]}" --out "$out/stack.json"

# BENCH_NO_REPORT=1: leave BENCHMARKS.md alone (scripts/bench-spec.sh reads stack.json for §7).
[ -n "${BENCH_NO_REPORT:-}" ] && exit 0
infra/.venv/bin/python infra/bench/binaries_report.py --stack "$out/stack.json" --after "$after" \
  --build "before=$before"
