#!/usr/bin/env bash
# Start the local AWS endpoint (moto server on 127.0.0.1) and provision it from template.yaml.
#   MOTO_PORT   port to listen on (default 4566)
#   STACK_NAME  stands in for ${AWS::StackName} (default o2c-local)
#   STAGE       template parameter Stage (default dev)
# State (pid, port, log, resources.json, local.env) lives in infra/local/.state/.
# Already running: no restart, just re-provision (idempotent). Stop with infra/local/down.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
infra/bootstrap.sh

venv="$repo/infra/.venv"
state="$repo/infra/local/.state"
mkdir -p "$state"
pidfile="$state/moto.pid"
portfile="$state/moto.port"
log="$state/moto.log"
port="${MOTO_PORT:-4566}"

moto_alive() { # pid -> true if it is a live moto_server we started
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server
}

ready() { # port -> true once moto answers
  "$venv/bin/python" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

pid="$(cat "$pidfile" 2>/dev/null || true)"
if moto_alive "$pid"; then
  running_port="$(cat "$portfile" 2>/dev/null || echo "$port")"
  if [[ "$running_port" != "$port" && -n "${MOTO_PORT:-}" ]]; then
    echo "moto already running (pid $pid) on port $running_port, not $port; run down.sh first to move it" >&2
  fi
  port="$running_port"
  echo "moto already running: pid $pid, http://127.0.0.1:$port"
else
  rm -f "$pidfile" "$portfile"
  if ready "$port"; then
    echo "port $port already answers but is not our moto (no live pid in $pidfile); set MOTO_PORT" >&2
    exit 1
  fi
  nohup "$repo/infra/local/moto-server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  echo "$port" >"$portfile"
  for _ in $(seq 1 150); do
    ready "$port" && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto_server exited during start-up; log: $log" >&2
      tail -n 20 "$log" >&2
      rm -f "$pidfile" "$portfile"
      exit 1
    fi
    sleep 0.2
  done
  if ! ready "$port"; then
    echo "moto_server not ready after 30 s; log: $log" >&2
    exit 1
  fi
  echo "moto started: pid $pid, http://127.0.0.1:$port (log $log)"
fi

"$venv/bin/python" infra/local/provision.py \
  --endpoint "http://127.0.0.1:$port" \
  --stack-name "${STACK_NAME:-o2c-local}" \
  --stage "${STAGE:-dev}" \
  --out "$state/resources.json" \
  --env-out "$state/local.env"

echo
echo "env for the functions/tests: infra/local/.state/local.env  (set -a; . infra/local/.state/local.env; set +a)"
sed 's/^/  /' "$state/local.env"
