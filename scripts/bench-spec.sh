#!/usr/bin/env bash
# The integration spec's costs, side by side in one run with a build whose mappings are
# hard-coded Rust (BENCHMARKS.md §7):
#   scripts/bench-spec.sh BEFORE_REF [AFTER_REF=HEAD]
# * one order through every outbound mapping (shared/connectors/benches/mappings.rs, the same
#   public calls on both commits: the bench file is copied into BEFORE's worktree), the two
#   binaries run alternately, round by round;
# * compiling the bundled spec (a function's cold start) and one order through every mapping
#   and rule of it, straight on the engine (shared/spec/benches/spec.rs), AFTER only.
# Profile: the functions' `release` (opt-level "z") without LTO (shorter builds; the same on
# both sides). Binary size and cold start: scripts/bench-binaries.sh BEFORE_REF HEAD ... with
# BENCH_SECTION=spec. Not run by CI. Raw results in target/bench-spec/.
#   BENCH_ROUNDS  alternations (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
before="${1:?usage: scripts/bench-spec.sh BEFORE_REF [AFTER_REF]}"
after="${2:-HEAD}"
rounds="${BENCH_ROUNDS:-5}"
out="${CARGO_TARGET_DIR:-$repo/target}/bench-spec"
mkdir -p "$out"
export CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16

build() { # label ref -> path of the mappings bench binary
  local label="$1" ref="$2" tree="$out/$1-tree"
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
  git worktree add --quiet --detach "$tree" "$ref"
  cp "$repo/shared/connectors/benches/mappings.rs" "$tree/shared/connectors/benches/mappings.rs"
  grep -q 'name = "mappings"' "$tree/shared/connectors/Cargo.toml" ||
    printf '\n[[bench]]\nname = "mappings"\nharness = false\n' >>"$tree/shared/connectors/Cargo.toml"
  echo "==> bench build of $ref ($label)" >&2
  local flags=""
  [ "$label" = before ] && flags="--cfg o2c_bench_before"
  (cd "$tree" && RUSTFLAGS="$flags" CARGO_TARGET_DIR="$out/$label-target" cargo bench --quiet -p o2c-connectors --bench mappings --no-run \
    --message-format=json 2>/dev/null | "$repo/infra/.venv/bin/python" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "mappings" and m.get("executable"):
        print(m["executable"])' | tail -1) >"$out/$label.bin"
  if [ "$label" = after ]; then
    (cd "$tree" && CARGO_TARGET_DIR="$out/$label-target" cargo bench --quiet -p o2c-spec --bench spec --no-run 2>/dev/null)
    (cd "$tree" && CARGO_TARGET_DIR="$out/$label-target" cargo bench --quiet -p o2c-spec --bench spec -- 15) >"$out/spec.json"
  fi
  cp "$(cat "$out/$label.bin")" "$out/$label-mappings"
  git worktree remove --force "$tree"
}
infra/bootstrap.sh >/dev/null
build before "$before"
build after "$after"
: >"$out/mappings.jsonl"
for i in $(seq 1 "$rounds"); do
  echo "  round $i/$rounds" >&2
  for label in before after; do
    "$out/$label-mappings" 5 | infra/.venv/bin/python -c "import json,sys; d=json.load(sys.stdin); d['build']='$label'; print(json.dumps(d))" >>"$out/mappings.jsonl"
  done
done
infra/.venv/bin/python infra/bench/spec_report.py --mappings "$out/mappings.jsonl" --spec "$out/spec.json" \
  --before "$before" --after "$after" --binaries "${BINARIES_JSON:-$repo/target/bench-binaries/stack.json}"
