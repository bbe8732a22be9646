#!/usr/bin/env bash
# Set up and run the integration locally: local AWS (moto on 127.0.0.1, provisioned from
# template.yaml), then every function under `cargo lambda watch` with the local environment, and
# one invocation of each function with its sample event to show it is up.
#
#   scripts/run-local.sh            run until Ctrl-C, then stop everything this script started
#   scripts/run-local.sh --smoke    start, invoke each function once, report, stop
#
# Ports: moto 4566 (MOTO_PORT), functions 9000 (LAMBDA_PORT). Logs go to $O2C_LOG_DIR
# (default /tmp/o2c-local), outside the workspace: cargo lambda watch would rebuild forever if
# its log were written inside it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
lambda_port="${LAMBDA_PORT:-9000}"
logdir="${O2C_LOG_DIR:-/tmp/o2c-local}"
mkdir -p "$logdir"
venv="$repo/infra/.venv"

infra/bootstrap.sh
export PATH="$venv/bin:$PATH"

pids=()
moto_started_here=0
cleanup() {
  for pid in "${pids[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  if [[ $moto_started_here == 1 ]]; then infra/local/down.sh >/dev/null || true; fi
}
trap cleanup EXIT INT TERM

if [[ ! -f infra/local/.state/moto.pid ]] || ! kill -0 "$(cat infra/local/.state/moto.pid)" 2>/dev/null; then
  moto_started_here=1
fi
echo "==> local AWS (moto) from template.yaml"
infra/local/up.sh
envfile="$repo/infra/local/.state/local.env"

echo "==> building functions"
cargo build --workspace --bins --quiet

echo "==> cargo lambda watch on 127.0.0.1:$lambda_port (log: $logdir/watch.log)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
  --env-file "$envfile" --ignore-changes >"$logdir/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  (exec 3<>"/dev/tcp/127.0.0.1/$lambda_port") 2>/dev/null && break
  sleep 0.5
done

echo "==> one invocation per function (sample events in events/)"
declare -A event=(
  [clarity-order-webhook]=apigw-clarity-order-webhook.json
  [cybersource-notification]=apigw-cybersource-notification.json
  [authorize]=sqs-orders.json
  [capture]=sqs-captures.json
  [refund]=sqs-refunds.json
  [clarity-sync]=sqs-clarity-sync.json
  [erp-sync]=sqs-erp-sync.json
  [dlq-redrive]=dlq-redrive-list.json
)
failed=0
for fn in clarity-order-webhook cybersource-notification authorize capture refund clarity-sync erp-sync dlq-redrive; do
  if out=$(cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
      --data-file "events/${event[$fn]}" 2>&1); then
    printf '  %-26s %s\n' "$fn" "$(echo "$out" | tr -d '\n' | cut -c1-150)"
  else
    printf '  %-26s FAILED: %s\n' "$fn" "$(echo "$out" | tr -d '\n' | cut -c1-200)"
    failed=1
  fi
done
[[ $failed == 0 ]] || { echo "some functions failed to start; see $logdir/watch.log" >&2; exit 1; }

if [[ $smoke == 1 ]]; then
  echo "==> smoke run done"
  exit 0
fi
echo "==> running; Ctrl-C stops everything started here"
wait
