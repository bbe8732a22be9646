#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/browser/, driven by Playwright from
# infra/.venv). Nothing downloads a browser at run time: this installs the distribution's
# package once. Idempotent; uses sudo when not root.
set -euo pipefail
chromium="${O2C_CHROMIUM:-/usr/bin/chromium}"
[[ -x "$chromium" ]] && exit 0
sudo=""
[[ "$(id -u)" -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! $sudo apt-get install -y --no-install-recommends chromium >"$log" 2>&1; then
  $sudo apt-get update -q >>"$log" 2>&1
  $sudo apt-get install -y --no-install-recommends chromium >>"$log" 2>&1 || {
    echo "infra/install-chromium.sh: apt-get install chromium failed; log follows" >&2
    cat "$log" >&2
    exit 1
  }
fi
[[ -x "$chromium" ]] || { echo "infra/install-chromium.sh: $chromium missing after install" >&2; exit 1; }
