#!/usr/bin/env bash
# Fuzz every cargo-fuzz target (fuzz/fuzz_targets/) for N seconds each, seeded from the committed
# fuzz/seeds/<target>/ and growing fuzz/corpus/<target>/ (git-ignored, kept between runs).
#
#   scripts/fuzz.sh                 # 20 s per target (what CI runs)
#   scripts/fuzz.sh 3600            # an hour per target: the long run
#   scripts/fuzz.sh 600 clarity_webhook cybersource_notification   # some targets only
#   FUZZ_JOBS=2 scripts/fuzz.sh 3600   # libFuzzer workers per target (default 1)
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz --locked`); with FUZZ_INSTALL=1 (CI) the script installs what is
# missing and reports how long that took. A crash stops that target, leaves the input in
# fuzz/artifacts/<target>/ and makes the script exit 1 after the other targets ran; reproduce with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<crash-file>`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secs="${1:-20}"
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2; exit 2; }
shift || true
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi

start=$(date +%s)
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  if [ "${FUZZ_INSTALL:-0}" != 1 ]; then
    echo "cargo-fuzz (nightly) not found: rustup toolchain install nightly && cargo install cargo-fuzz --locked (or FUZZ_INSTALL=1)" >&2
    exit 2
  fi
  echo "==> installing the nightly toolchain and cargo-fuzz"
  rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
  cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  echo "    install: $(($(date +%s) - start)) s"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

build_start=$(date +%s)
echo "==> cargo +nightly fuzz build (${#targets[@]} targets)"
for t in "${targets[@]}"; do cargo +nightly fuzz build "$t"; done
built=$(date +%s)
echo "    build: $((built - build_start)) s"

logs=fuzz/artifacts/logs
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  echo "==> $t: ${secs} s"
  t0=$(date +%s)
  set +e
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${parallel[@]}" >"$logs/$t.log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s)
  # With FUZZ_JOBS > 1 each worker logs to ./fuzz-<n>.log.
  execs=$(grep -h 'stat::number_of_executed_units' "$logs/$t.log" fuzz-*.log 2>/dev/null \
    | awk '{s += $2} END {print s + 0}' || true)
  cov=$( (grep -oE 'cov: [0-9]+' "$logs/$t.log" || true) | tail -1 | awk '{print $2}')
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    status="CRASH (exit $rc; see $logs/$t.log and fuzz/artifacts/$t/)"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$logs/$t.log" | head -5 | sed 's/^/    /' || true
  else
    status="ok"
  fi
  rm -f fuzz-*.log
  summary+=("$(printf '%-26s %5ss %10s execs  cov %-5s corpus %-5s %s' "$t" "$((t1 - t0))" \
    "$execs" "${cov:-?}" "$corpus" "$status")")
done

echo "==> fuzz summary (${secs} s per target, build $((built - build_start)) s, total $(( $(date +%s) - start )) s)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "crashes in: ${failed[*]}" >&2
  exit 1
fi
