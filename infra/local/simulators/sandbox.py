#!/usr/bin/env python3
"""One process running all four external-API simulators on loopback:

    cybersource-sim  base+0 (4571)   cybersource.py (imported as a module)
    clarity-sim      base+1 (4572)   clarity.py
    netsuite-sim     base+2 (4573)   netsuite.py
    salesforce-sim   base+3 (4574)   salesforce.py

    infra/.venv/bin/python infra/local/simulators/sandbox.py \
        [--secrets-file infra/local/secrets.local.json] [--base-port 4571 | --base-port 0] \
        [--clarity-webhook-url http://127.0.0.1:9000/webhooks/clarity] \
        [--cybersource-notify-url http://127.0.0.1:9000/webhooks/cybersource] \
        [--ports-file infra/local/.state/sandbox.json] [--seed 0] [--quiet]

Prints one `<name>-sim listening on http://127.0.0.1:PORT` line per simulator, then
`sandbox ready`; stops cleanly on SIGTERM/SIGINT. `--base-port 0` picks free ports. Each port
serves its own `/__admin/` (health, state, reset, faults, config, ...). See infra/README.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(HERE))
import simkit  # noqa: E402

ORDER = ("cybersource", "clarity", "netsuite", "salesforce")


def build_cybersource(secrets_file, host: str, port: int, notify_url, seed: int, quiet: bool):
    """The Cybersource simulator's server, built by its own module."""
    import cybersource as cs  # noqa: PLC0415 - imported lazily so the others run without it

    argv = ["--host", host, "--port", str(port), "--seed", str(seed)]
    if secrets_file:
        argv += ["--secrets-file", str(secrets_file)]
    if notify_url:
        argv += ["--notify-url", notify_url]
    if quiet:
        argv.append("--quiet")
    return cs.build_server(argv)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="All four simulators (Cybersource, Clarity, NetSuite, Salesforce) "
                                             "in one loopback process")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--base-port", type=int, default=4571,
                    help="cybersource=base, clarity=base+1, netsuite=base+2, salesforce=base+3; 0 = free ports")
    ap.add_argument("--secrets-file", default=str(simkit.DEFAULT_SECRETS))
    ap.add_argument("--clarity-webhook-url", help="target of Clarity's signed webhooks")
    ap.add_argument("--cybersource-notify-url", help="target of Cybersource's signed notifications")
    ap.add_argument("--clarity-token-ttl-s", type=float, help="Clarity access token lifetime (default 3600)")
    ap.add_argument("--clarity-webhook-retry-schedule", help="attempt offsets in s, comma separated (default 0,1,2,4,8)")
    ap.add_argument("--only", help="comma separated subset of " + ",".join(ORDER))
    ap.add_argument("--ports-file", help="write {name: base URL} JSON here once listening")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true", help="no access logs on stderr")
    a = ap.parse_args(argv)
    simkit.check_loopback(a.host)
    wanted = [n.strip() for n in a.only.split(",")] if a.only else list(ORDER)
    unknown = set(wanted) - set(ORDER)
    if unknown:
        ap.error(f"--only: unknown simulator(s) {sorted(unknown)}")

    def port(i: int) -> int:
        return 0 if a.base_port == 0 else a.base_port + i

    import clarity  # noqa: PLC0415
    import netsuite  # noqa: PLC0415
    import salesforce  # noqa: PLC0415

    builders = {
        "cybersource": lambda: build_cybersource(a.secrets_file, a.host, port(0), a.cybersource_notify_url, a.seed,
                                                 a.quiet),
        "clarity": lambda: clarity.build(a.secrets_file, a.host, port(1), a.seed, webhook_url=a.clarity_webhook_url,
                                         quiet=a.quiet, token_ttl_s=a.clarity_token_ttl_s,
                                         webhook_retry_schedule_s=clarity.schedule_arg(
                                             a.clarity_webhook_retry_schedule))[0],
        "netsuite": lambda: netsuite.build(a.secrets_file, a.host, port(2), a.seed, quiet=a.quiet)[0],
        "salesforce": lambda: salesforce.build(a.secrets_file, a.host, port(3), a.seed, quiet=a.quiet)[0],
    }
    servers: dict[str, object] = {}
    try:
        for name in ORDER:
            if name in wanted:
                servers[name] = builders[name]()
    except OSError as e:
        sys.stderr.write(f"sandbox: cannot listen for {name}: {e}\n")
        for s in servers.values():
            s.server_close()
        return 1

    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = []
    for name, s in servers.items():
        t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, name=f"{name}-sim", daemon=True)
        t.start()
        threads.append(t)
    urls = {name: simkit.server_url(s) for name, s in servers.items()}
    for name, url in urls.items():
        print(f"{name}-sim listening on {url}", flush=True)
    if a.ports_file:
        Path(a.ports_file).parent.mkdir(parents=True, exist_ok=True)
        Path(a.ports_file).write_text(json.dumps(urls, indent=2) + "\n")
    print("sandbox ready", flush=True)

    while not stop.wait(0.5):
        pass
    for s in servers.values():
        sim = getattr(s, "sim", None) or getattr(s.RequestHandlerClass, "sim", None)
        if hasattr(sim, "close"):
            sim.close()
    for s in servers.values():
        s.shutdown()
        s.server_close()
    for t in threads:
        t.join(timeout=5)
    sys.stderr.write("sandbox stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
