#!/usr/bin/env python3
"""Cybersource REST API sandbox simulator (loopback only, standard library only).

Speaks the Cybersource wire contract of docs/cybersource.md (HTTP Signature auth, PTS
payments/captures/refunds/reversals/voids, TSS details + search, TMS tokens, Decision Manager
outcomes, chargeback-details report, signed webhook notifications) and keeps thread-safe
in-memory state with the money rules (captured <= authorized, refunded <= captured, no capture
after a reversal or void). Serves several merchant ids (payment routes, one per Cybersource*Secret),
each seeing only its own transactions. Test hooks live under /__admin/ (no signature, loopback
only): ledger, state, reset, fault injection, review decisions, notifications, chargebacks,
settlement, and a per-merchant/segment approval model with drift and soft declines (routing-model).

    python3 infra/local/simulators/cybersource.py [--port 4571] [--seed 1] \
        [--secrets-file infra/local/secrets.local.json] [--notify-url http://127.0.0.1:9000/hook]

Prints exactly one line on stdout once it listens:
    cybersource-sim listening on http://127.0.0.1:PORT
Access/diagnostic logs go to stderr (no request bodies, no PII). See infra/README.md,
section "Cybersource simulator", for triggers, admin API, fault modes and assumptions.

This file is the entry point (CLI, credentials, server); the simulator lives in sibling modules on
simkit.py (the simulators' shared server/HTTP/JSON/fault plumbing):

    cybs_common.py    constants, helpers, money, Cybersource-shaped errors
    cybs_signing.py   HTTP Signature verification, webhook signatures, transient-token JWTs
    cybs_ledger.py    transactions, captures, refunds, reversals, voids, reviews, chargebacks,
                      settlement
    cybs_payments.py  authorizations (triggers, Decision Manager, routing model) and TSS
    cybs_tokens.py    TMS tokens
    cybs_routing.py   the routing model (approval per merchant/segment, drift, soft declines)
    cybs_sim.py       the Simulator state (simkit.BaseSim + the parts above), notifications
    cybs_http.py      the API routes on simkit.SimHandler
    cybs_admin.py     the /__admin/ API
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import simkit  # noqa: E402
from cybs_common import DEFAULT_DATE_WINDOW_S, DEFAULT_PORT, DEFAULT_SECRETS  # noqa: E402
from cybs_http import Handler  # noqa: E402
from cybs_sim import Simulator  # noqa: E402

# --------------------------------------------------------------------------------------------
# credentials
# --------------------------------------------------------------------------------------------

CRED_FIELDS = ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64")
PRIMARY_SECRET = "CybersourceSecret"
ROUTE_SECRET_RE = re.compile(r"^Cybersource[A-Za-z0-9]*Secret$")  # CybersourceRouteBSecret, ...


def secrets_path(args) -> str | None:
    """--secrets-file, else the default file unless every primary credential came as a flag."""
    if args.secrets_file is None and DEFAULT_SECRETS.exists() and not all(getattr(args, k) for k in CRED_FIELDS):
        return str(DEFAULT_SECRETS)
    return args.secrets_file


def load_creds(args) -> dict:
    """The primary merchant: CybersourceSecret from the secrets file, single fields overridden by flags."""
    creds: dict = {}
    secrets = secrets_path(args)
    if secrets:
        doc = json.loads(Path(secrets).read_text())
        cs = doc.get(PRIMARY_SECRET, doc)
        creds.update({k: cs[k] for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id",
                                          "webhook_secret_b64") if k in cs})
    for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64"):
        if getattr(args, k):
            creds[k] = getattr(args, k)
    lacking = [k for k in ("merchant_id", "key_id", "shared_secret_b64", "webhook_key_id", "webhook_secret_b64")
               if not creds.get(k)]
    if lacking:
        raise SystemExit(f"cybersource-sim: missing credentials: {', '.join(lacking)} "
                         "(use --secrets-file or the flags)")
    for k in ("shared_secret_b64", "webhook_secret_b64"):
        try:
            base64.b64decode(creds[k], validate=True)
        except ValueError:
            raise SystemExit(f"cybersource-sim: {k} is not standard base64") from None
    return creds


def load_routes(args, primary: dict) -> dict[str, dict]:
    """Further merchant ids (payment routes): every other `Cybersource*Secret` member of the
    secrets file, e.g. CybersourceRouteBSecret. Webhook fields default to the primary's."""
    secrets = secrets_path(args)
    doc = json.loads(Path(secrets).read_text()) if secrets else {}
    routes: dict[str, dict] = {}
    for key, value in doc.items():
        if key == PRIMARY_SECRET or not ROUTE_SECRET_RE.match(key) or not isinstance(value, dict):
            continue
        creds = {k: value[k] for k in CRED_FIELDS if value.get(k)}
        lacking = [k for k in ("merchant_id", "key_id", "shared_secret_b64") if k not in creds]
        if lacking:
            raise SystemExit(f"cybersource-sim: {key} lacks {', '.join(lacking)}")
        for k in ("webhook_key_id", "webhook_secret_b64"):
            creds.setdefault(k, primary[k])
        for k in ("shared_secret_b64", "webhook_secret_b64"):
            try:
                base64.b64decode(creds[k], validate=True)
            except ValueError:
                raise SystemExit(f"cybersource-sim: {key}.{k} is not standard base64") from None
        if creds["merchant_id"] == primary["merchant_id"] or creds["merchant_id"] in routes:
            raise SystemExit(f"cybersource-sim: {key}.merchant_id {creds['merchant_id']} is already served")
        routes[creds["merchant_id"]] = creds
    return routes


# --------------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------------

def build_server(argv=None):
    """Parse the CLI arguments and build the (not yet serving) simulator server.

    Used by main() and by sandbox.py, which runs all simulators in one process.
    """
    ap = argparse.ArgumentParser(description="Cybersource REST API sandbox simulator (loopback only)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = pick a free one and print it)")
    ap.add_argument("--secrets-file", help="JSON with a CybersourceSecret member (the primary merchant) and "
                    "optionally more Cybersource*Secret members (further merchant ids; "
                    "infra/local/secrets.local.json)")
    ap.add_argument("--merchant-id")
    ap.add_argument("--key-id")
    ap.add_argument("--shared-secret-b64")
    ap.add_argument("--webhook-key-id")
    ap.add_argument("--webhook-secret-b64")
    ap.add_argument("--notify-url", help="where signed notifications are POSTed")
    ap.add_argument("--seed", type=int, default=0, help="seed for ids and fault rolls (deterministic)")
    ap.add_argument("--date-window-s", type=float, default=DEFAULT_DATE_WINDOW_S,
                    help="accepted clock skew of the Date header, seconds (default 900)")
    ap.add_argument("--tss-lag-ms", type=int, default=0,
                    help="transactions become visible to TSS details/search only after this delay")
    ap.add_argument("--reject-duplicate-transaction-id", action="store_true",
                    help="refuse a reused clientReferenceInformation.transactionId with 400 INVALID_DATA")
    ap.add_argument("--quiet", action="store_true", help="no access log on stderr")
    args = ap.parse_args(argv)

    try:
        simkit.check_loopback(args.host)
    except SystemExit:
        ap.error("--host must be a loopback address (the admin API is unauthenticated)")
    creds = load_creds(args)
    config = {"notify_url": args.notify_url, "date_window_s": args.date_window_s, "tss_lag_ms": args.tss_lag_ms,
              "duplicate_transaction_id": "reject" if args.reject_duplicate_transaction_id else "allow",
              "notify_retries": 3, "notify_retry_interval_ms": 1000, "notify_timeout_s": 10,
              "webhook_signed_content": "payload", "quiet": args.quiet, "explain_401": True}
    sim = Simulator(creds, args.seed, config, load_routes(args, creds))
    return simkit.make_server(Handler, sim, args.host, args.port)


def main(argv=None) -> int:
    return simkit.serve_standalone("cybersource", build_server(argv))


if __name__ == "__main__":
    sys.exit(main())
