#!/usr/bin/env bash
# Create infra/.venv and install infra/requirements-dev.txt into it (SAM CLI, cfn-lint, moto
# server, cargo-lambda, PyYAML, boto3). Idempotent: a stamp file holding the requirements hash
# makes re-runs a no-op. Quiet on success; prints the pip log on failure.
#   PYTHON=python3.12 infra/bootstrap.sh   # choose the interpreter (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements-dev.txt"
stamp="$venv/.requirements.sha256"
log="$venv/.bootstrap.log"

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi

if ! {
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
} >"$log" 2>&1; then
  echo "infra/bootstrap.sh: pip install failed; log follows ($log)" >&2
  cat "$log" >&2
  exit 1
fi

for tool in moto_server cfn-lint sam; do
  [[ -x "$venv/bin/$tool" ]] || { echo "infra/bootstrap.sh: $tool missing from $venv/bin" >&2; exit 1; }
done
echo "$want" >"$stamp"
