#!/usr/bin/env bash
# The project's test command: Rust workspace tests (the moto-backed ones start their own moto
# server on a free loopback port via MOTO_SERVER_BIN) and the local-stack provisioner test.
#   scripts/test.sh [extra cargo test args, e.g. -- --nocapture]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

timings=()
stage() { # name cmd... : run one stage, print its duration
  local name="$1" start end
  shift
  echo "==> $name"
  start=$(date +%s%N)
  "$@"
  end=$(date +%s%N)
  timings+=("$(printf '%-28s %6.1fs' "$name" "$(((end - start) / 1000000))e-3")")
}

stage "bootstrap venv" infra/bootstrap.sh
stage "chromium (Debian)" infra/install-chromium.sh
export MOTO_SERVER_BIN="$PWD/infra/local/moto-server"
stage "cargo test --workspace" cargo test --workspace "$@"
stage "provisioner test" infra/.venv/bin/python infra/local/test_provision.py
stage "template checks test" infra/.venv/bin/python infra/checks/test_checks.py
stage "cybersource simulator test" infra/.venv/bin/python infra/local/simulators/test_cybersource_sim.py
stage "sandbox simulators test" infra/.venv/bin/python infra/local/simulators/test_sandbox.py
stage "card-scan test" infra/.venv/bin/python infra/local/test_cardscan.py
stage "spec schema test" infra/.venv/bin/python infra/checks/test_spec_schema.py
stage "assistant corpus check" infra/.venv/bin/python infra/bench/assistant/check.py
stage "assistant held-out corpus check" infra/.venv/bin/python infra/bench/assistant/check.py infra/bench/assistant/heldout
stage "atomic moto test" infra/.venv/bin/python infra/local/test_moto_atomic.py

echo "==> test timings"
printf '  %s\n' "${timings[@]}"
