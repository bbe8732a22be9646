#!/usr/bin/env bash
# Set up and run the integration locally, with no AWS account and no internet:
#   1. local AWS: moto on 127.0.0.1:4566, provisioned from template.yaml (infra/local/up.sh)
#   2. the sandbox simulators: Cybersource 4571, Clarity 4572, NetSuite 4573, Salesforce 4574
#   3. every function under `cargo lambda watch` on 127.0.0.1:9000 (webhooks reachable as
#      function URLs: /lambda-url/<function>/...)
#   4. the SQS → function bridge (what Lambda's event source mappings do in AWS)
#   5. a demo: accept, review, fraud reject, decline and a JPY order through Clarity's signed
#      webhook; prints each order's timeline and a summary table
# then stays up (Ctrl-C stops everything started here) with curl examples.
#
#   scripts/run-local.sh                  run, demo, stay up
#   scripts/run-local.sh --exit-after-demo   (alias --smoke) run, demo, stop; exit 1 if the demo failed
#
# Logs: $O2C_LOG_DIR (default /tmp/o2c-local), outside the workspace (cargo lambda watch would
# rebuild forever if its log were written inside it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

stay=1
case "${1:-}" in --exit-after-demo | --smoke) stay=0 ;; "") ;; *) echo "unknown flag $1" >&2; exit 2 ;; esac
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

wait_port() { # port what
  for _ in $(seq 1 240); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$2 did not come up on port $1; see $logdir" >&2
  return 1
}

if [[ ! -f infra/local/.state/moto.pid ]] || ! kill -0 "$(cat infra/local/.state/moto.pid)" 2>/dev/null; then
  moto_started_here=1
fi
echo "==> local AWS (moto) from template.yaml"
infra/local/up.sh | grep -vE '^\s+[A-Z_]+=' || true
envfile="$repo/infra/local/.state/local.env"

echo "==> sandbox simulators (log: $logdir/sandbox.log)"
fn_url="http://127.0.0.1:$lambda_port/lambda-url"
setsid "$venv/bin/python" infra/local/simulators/sandbox.py --base-port 4571 --quiet --seed "$(date +%s)" \
  --clarity-webhook-url "$fn_url/clarity-order-webhook/webhooks/clarity" \
  --cybersource-notify-url "$fn_url/cybersource-notification/webhooks/cybersource" \
  >"$logdir/sandbox.log" 2>&1 &
pids+=($!)
wait_port 4574 "sandbox"

echo "==> building functions and the bridge"
cargo build --workspace --bins --quiet

concurrency="${O2C_CONCURRENCY:-4}"
echo "==> cargo lambda watch on 127.0.0.1:$lambda_port (log: $logdir/watch.log)"
# Lambda runs many execution environments of a function at once: so does the local stack
# (O2C_CONCURRENCY instances per function, default 4), so races show up here first.
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
  --concurrency "$concurrency" --env-file "$envfile" --ignore-changes >"$logdir/watch.log" 2>&1 &
pids+=($!)
wait_port "$lambda_port" "cargo lambda watch"

echo "==> SQS → function bridge (log: $logdir/bridge.log)"
(
  set -a
  # shellcheck disable=SC1090
  . "$envfile"
  set +a
  LAMBDA_INVOKE_URL="http://127.0.0.1:$lambda_port" BRIDGE_RETRY_DELAY_SECS=2 \
    BRIDGE_CONCURRENCY="$concurrency" \
    exec setsid target/debug/o2c-local-bridge
) >"$logdir/bridge.log" 2>&1 &
pids+=($!)

echo "==> demo orders"
demo_rc=0
"$venv/bin/python" infra/local/demo.py --env "$envfile" || demo_rc=$?

cat <<EOF2

==> the stack is up
  the operator console (DEV LOGIN: pick a user and a role; never in prod):
    http://127.0.0.1:$lambda_port/lambda-url/console/console/index.html
  quarantined events (orders that did not map), after a spec fix:
    target/debug/o2c quarantine list --stage dev     (with: set -a; . $envfile; set +a)
  submit an order (Clarity signs and sends the webhook):
    curl -s -XPOST localhost:4572/__admin/orders -H 'content-type: application/json' \\
      -d '{"customer":{"email":"review@example.test"},"payment":{"instrumentToken":"'"\$(curl -s -XPOST localhost:4571/__admin/transient-tokens -d '{}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["transientTokenJwt"])')"'"}}'
  decide a Decision Manager review (sends a signed notification):
    curl -s -XPOST localhost:4571/__admin/reviews/<transactionId> -d '{"decision":"accept"}'
  cancel / return an order in Clarity:
    curl -s -XPOST localhost:4572/__admin/orders/<id>/cancel -d '{}'
    curl -s -XPOST localhost:4572/__admin/orders/<id>/returns -d '{}'
  run a scheduled poller (EventBridge schedules in AWS), e.g. the Clarity catch-up, which takes
  in orders whose order.created webhook never arrived:
    cargo lambda invoke clarity-catchup --invoke-address 127.0.0.1 --invoke-port $lambda_port \\
      --data-file events/schedule-clarity-catchup.json
  inspect: Cybersource ledger   curl -s localhost:4571/__admin/ledger
           Clarity order        curl -s localhost:4572/__admin/orders/<id>
           NetSuite records     curl -s localhost:4573/__admin/records
           Salesforce cases     curl -s localhost:4574/__admin/cases
  logs: $logdir/{watch,bridge,sandbox}.log
EOF2

if [[ $stay == 0 ]]; then
  exit "$demo_rc"
fi
echo "==> running; Ctrl-C stops everything started here"
wait
