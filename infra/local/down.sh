#!/usr/bin/env bash
# Stop the moto server started by infra/local/up.sh (by the pid it recorded). moto keeps state in
# memory, so the next up.sh starts from an empty endpoint and provisions it again.
set -euo pipefail

state="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.state"
pidfile="$state/moto.pid"
pid="$(cat "$pidfile" 2>/dev/null || true)"

if [[ -z "$pid" ]]; then
  echo "moto not running (no $pidfile)"
  exit 0
fi
if ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server; then
  echo "moto not running (stale pid $pid)"
  rm -f "$pidfile" "$state/moto.port"
  exit 0
fi

kill "$pid"
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
  kill -9 "$pid"
fi
rm -f "$pidfile" "$state/moto.port" "$state/local.env" "$state/resources.json"
echo "moto stopped (pid $pid)"
