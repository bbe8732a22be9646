#!/usr/bin/env python3
"""Benchmarks that need the local stack (run by scripts/bench.sh with infra/.venv's python).

Starts its own moto server (infra/local/moto-server: moto with atomic DynamoDB conditional
writes, free loopback port), the four sandbox simulators (free ports) and provisions moto from
template.yaml with infra/local/provision.py, exactly as the local run and the e2e tests do, into
a private state folder; stops all of it at the end. Nothing is shared with a running
`scripts/run-local.sh` (which owns infra/local/.state and port 4566).

  coldstart  every function binary (release) and the Python SDK handler under the Runtime API
             stub (lambda_stub.py), interleaved round by round; plus one run per Rust function
             through the counting proxy to prove its cold start read its secrets from the local
             Secrets Manager.
  orders     N happy-path orders through the release binaries (behind lambda_stub's Invoke API
             and function URL), the SQS bridge (release) standing in for the event source
             mappings, and the counting proxy (aws_counter.py) in front of moto; counts billable
             DynamoDB / SQS requests per order, by API and by caller.
  throughput N accepted orders (--throughput-orders, default 1000) submitted by a pool of senders
             through the Clarity simulator's signed order.created webhook, against the same
             release binaries and bridge, with the stub and the counting proxy in processes of
             their own; per order, webhook sent → Clarity status `payment_received` (both
             timestamps taken by the Clarity simulator), throughput, and the CPU time (utime +
             stime from /proc/<pid>/stat) of every process of the run, grouped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "infra/checks"))
import cfn  # noqa: E402  (the shared CloudFormation YAML loader)

import aws_counter  # noqa: E402
import lambda_stub  # noqa: E402

QUEUES = ["ORDERS", "CAPTURES", "REFUNDS", "CLARITY_SYNC", "ERP_SYNC"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 60) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


# ---------------------------------------------------------------------------- template


def template_functions() -> dict[str, dict]:
    """{binary name: {memory_mb, timeout_s, arch, env (literal strings), batch_size}} from template.yaml."""
    t = cfn.load(REPO / "template.yaml")
    g = (t.get("Globals") or {}).get("Function") or {}
    genv = ((g.get("Environment") or {}).get("Variables") or {})
    out = {}
    for res in (t.get("Resources") or {}).values():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        p = res.get("Properties") or {}
        code = str(p.get("CodeUri") or "")
        if not code.startswith("functions/"):
            continue
        name = code.split("/", 1)[1].strip("/")
        env = {k: str(v) for k, v in {**genv, **((p.get("Environment") or {}).get("Variables") or {})}.items()
               if isinstance(v, (str, int, float)) and v is not None}
        batch = None
        for ev in (p.get("Events") or {}).values():
            if isinstance(ev, dict) and ev.get("Type") == "SQS":
                batch = (ev.get("Properties") or {}).get("BatchSize", 10)
        out[name] = {
            "memory_mb": int(p.get("MemorySize") or g.get("MemorySize") or 128),
            "timeout_s": int(p.get("Timeout") or g.get("Timeout") or 3),
            "arch": (p.get("Architectures") or g.get("Architectures") or ["x86_64"])[0],
            "env": env,
            "batch_size": batch,
        }
    return out


# For a function the template does not (yet) declare: the template's usual settings.
DEFAULT_FN = {"memory_mb": 256, "timeout_s": 30, "arch": "arm64", "env": {}, "batch_size": 10,
              "not_in_template": True}


def fn_settings(fns: dict[str, dict], name: str) -> dict:
    return fns.get(name) or DEFAULT_FN


# ---------------------------------------------------------------------------- stack


class Stack:
    def __init__(self, state: Path, python: str):
        self.state = state
        self.procs: list[subprocess.Popen] = []
        try:
            self._start(state, python)
        except BaseException:
            self.close()  # what started before the failure
            raise

    def _start(self, state: Path, python: str):
        self.moto_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        # the local stack's launcher (bash exec's python: the pid stays moto's)
        moto = str(REPO / "infra/local/moto-server")
        self.moto = self._spawn([moto, "-H", "127.0.0.1", "-p", str(self.moto_port)], "moto.log")
        self._wait(lambda: urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close(), "moto", 60)
        ports_file = state / "sandbox-ports.json"
        self.sandbox = self._spawn([python, str(REPO / "infra/local/simulators/sandbox.py"), "--base-port", "0",
                                    "--quiet", "--ports-file", str(ports_file), "--secrets-file",
                                    str(REPO / "infra/local/secrets.local.json")], "sandbox.log")
        self._wait(lambda: json.loads(ports_file.read_text()), "sandbox", 60)
        self.sims = json.loads(ports_file.read_text())
        env = dict(os.environ)
        env.update({"CYBERSOURCE_BASE_URL": self.sims["cybersource"].rstrip("/"),
                    "CLARITY_BASE_URL": self.sims["clarity"].rstrip("/"),
                    "ERP_BASE_URL": self.sims["netsuite"].rstrip("/"),
                    "CRM_BASE_URL": self.sims["salesforce"].rstrip("/")})
        self.env_file = state / "local.env"
        subprocess.run([python, str(REPO / "infra/local/provision.py"), "--endpoint", self.endpoint, "--quiet",
                        "--env-out", str(self.env_file)], env=env, cwd=REPO, check=True)
        self.env = lambda_stub.load_env_file(str(self.env_file))

    def _spawn(self, cmd: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        f = open(self.state / log, "ab")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f, start_new_session=True, cwd=REPO,
                             env=env)
        self.procs.append(p)
        return p

    def _wait(self, probe, what: str, timeout: float, proc: subprocess.Popen | None = None):
        """Until probe() passes; fails early if `proc` (default: the last process started) exits."""
        proc = proc or self.procs[-1]
        deadline = time.time() + timeout
        while True:
            try:
                probe()
                return
            except Exception:  # noqa: BLE001 — any failure means "not yet"
                if time.time() > deadline:
                    raise RuntimeError(f"{what} did not start; logs in {self.state}")
                if proc.poll() is not None:
                    raise RuntimeError(f"{what} exited during start-up; logs in {self.state}")
                time.sleep(0.1)

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# ---------------------------------------------------------------------------- cold start


def coldstart(stack: Stack, a, fns: dict[str, dict]) -> dict:
    bins = sorted(d.name for d in (REPO / "functions").iterdir() if (d / "Cargo.toml").exists())
    if a.functions:  # a subset (e.g. a before/after comparison of a few binaries)
        bins = [b for b in bins if b in a.functions.split(",")]
    cases = []
    for name in bins:
        exe = Path(a.release_dir) / name
        if not exe.exists():
            raise SystemExit(f"missing release binary {exe}")
        f = fn_settings(fns, name)
        cases.append({"label": name, "kind": "rust", "name": name, "cmd": [str(exe)],
                      "env": dict(f["env"]), "memory_mb": f["memory_mb"],
                      "log": str(stack.state / f"cold-{name}.log")})
    for extra in a.extra_rust or []:  # label=path (e.g. the no-jitter build)
        label, path = extra.split("=", 1)
        base = label.split("@", 1)[0]
        f = fn_settings(fns, base)
        cases.append({"label": label, "kind": "rust-variant", "name": base, "cmd": [path],
                      "env": dict(f["env"]), "memory_mb": f["memory_mb"],
                      "log": str(stack.state / f"cold-{label}.log")})
    py = [str(a.sdk_python), str(HERE / "python_handler.py")]
    for variant, label in () if a.no_python else (
            ("bare", "python (no import; interpreter floor)"),
            ("import", "python + import CyberSource"),
            ("client", "python + import CyberSource + ApiClient")):
        cases.append({"label": label, "kind": "python", "name": "python-sdk", "cmd": py,
                      "env": {"BENCH_PY_VARIANT": variant, "PYTHONDONTWRITEBYTECODE": "1"}, "memory_mb": 256,
                      "log": str(stack.state / f"cold-python-{variant}.log")})

    # Proof that the Rust cold starts read their secrets: one run each through the counting proxy.
    counter = aws_counter.Counter_()
    pport = free_port()
    servers = aws_counter.serve(stack.endpoint, {"fn": pport}, counter)
    secrets_read = {}
    for c in cases:
        if c["kind"] != "rust":
            continue
        counter.reset()
        lambda_stub.cold_start_once(c, {**stack.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{pport}"})
        snap = counter.snapshot()["counts"]
        secrets_read[c["label"]] = sum(x["n"] for x in snap if x["action"] == "GetSecretValue")
    for s in servers.values():
        s.shutdown()
        s.server_close()

    res = lambda_stub.run_coldstart(cases, stack.env, a.runs, a.warmup)
    sizes = {}
    for c in cases:
        if c["kind"].startswith("rust"):
            sizes[c["label"]] = os.path.getsize(c["cmd"][0])
    for label, r in res.items():
        r["secrets_read_at_init"] = secrets_read.get(label)
        r["binary_bytes"] = sizes.get(label)
        fn = next(c for c in cases if c["label"] == label)["name"]
        r["memory_mb"] = fn_settings(fns, fn)["memory_mb"] if fn != "python-sdk" else None
    return res


# ---------------------------------------------------------------------------- orders


def queue_depths(sqs, env: dict) -> dict[str, int]:
    out = {}
    for q in QUEUES:
        for suffix in ("QUEUE_URL", "DLQ_URL"):
            url = env.get(f"{q}_{suffix}")
            if not url:
                continue
            at = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            out[f"{q}_{suffix}"] = sum(int(v) for v in at.values())
    return out


def ddb_size(value) -> int:
    """DynamoDB's item-size rules (approximate for numbers)."""
    (t, v), = value.items()
    if t == "S":
        return len(v.encode())
    if t == "N":
        digits = len(v.lstrip("-").replace(".", "").strip("0")) or 1
        return (digits + 1) // 2 + 1
    if t == "B":
        return len(v) * 3 // 4
    if t in ("BOOL", "NULL"):
        return 1
    if t in ("SS",):
        return sum(len(x.encode()) for x in v)
    if t in ("NS",):
        return sum(ddb_size({"N": x}) for x in v)
    if t == "L":
        return 3 + sum(1 + ddb_size(x) for x in v)
    if t == "M":
        return 3 + sum(len(k.encode()) + 1 + ddb_size(x) for k, x in v.items())
    return 0


def item_size(item: dict) -> int:
    return sum(len(k.encode()) + ddb_size(v) for k, v in item.items())


def epoch(rfc3339: str) -> float:
    """The simulators' RFC 3339 UTC timestamps (`...T12:00:00.123Z`) as epoch seconds."""
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def submit_order(cybs: str, clarity: str, oid: str) -> dict:
    """One accepted-path order: a Cybersource transient token (the checkout's card step), then the
    order created in the Clarity simulator, which signs its order.created webhook and delivers it
    before answering (sync). Returns the webhook's final status and when it was first sent."""
    token = http("POST", f"{cybs}/__admin/transient-tokens", {})["transientTokenJwt"]
    submitted_at = time.time()
    out = http("POST", f"{clarity}/__admin/orders", {
        "id": oid, "currency": "USD", "customer": {"email": f"buyer+{oid.lower()}@example.test"},
        "payment": {"instrumentToken": token}, "sync": True}, timeout=120)
    attempts = (out.get("webhook", {}).get("deliveries") or [{}])[0].get("attempts") or [{}]
    return {"submitted_at": submitted_at, "answered_at": time.time(), "status": attempts[-1].get("status"),
            "webhook_at": epoch(attempts[0]["at"]) if attempts[0].get("at") else None, "out": out}


def orders(stack: Stack, a, fns: dict[str, dict]) -> dict:
    env = stack.env
    counter = aws_counter.Counter_()
    fport, eport = free_port(), free_port()
    servers = aws_counter.serve(stack.endpoint, {"functions": fport, "esm-bridge": eport}, counter)
    names = ["clarity-order-webhook", "authorize", "capture", "refund", "clarity-sync", "erp-sync"]
    functions = [{"name": n, "cmd": [str(Path(a.release_dir) / n)], "memory_mb": fn_settings(fns, n)["memory_mb"],
                  "timeout_s": fn_settings(fns, n)["timeout_s"], "env": dict(fn_settings(fns, n)["env"])}
                 for n in names]
    emu = lambda_stub.Emulator(functions, {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{fport}"},
                               str(stack.state))
    iport = free_port()
    isrv = emu.serve(iport)
    invoke = f"http://127.0.0.1:{iport}"
    bridge_env = {**os.environ, **env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{eport}",
                  "LAMBDA_INVOKE_URL": invoke, "BRIDGE_BATCH_SIZE": str(a.batch_size),
                  "BRIDGE_RETRY_DELAY_SECS": "2", "RUST_LOG": "warn"}
    blog = open(stack.state / "bridge.log", "ab")
    bridge = subprocess.Popen([str(Path(a.release_dir) / "o2c-local-bridge")], env=bridge_env,
                              stdin=subprocess.DEVNULL, stdout=blog, stderr=blog, start_new_session=True)
    stack.procs.append(bridge)

    cybs, clarity = stack.sims["cybersource"].rstrip("/"), stack.sims["clarity"].rstrip("/")
    http("POST", f"{clarity}/__admin/config",
         {"webhook_url": f"{invoke}/lambda-url/clarity-order-webhook/webhooks/clarity"})
    creds = dict(region_name=env.get("AWS_REGION", "us-east-1"), endpoint_url=stack.endpoint,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
    table = boto3.resource("dynamodb", **creds).Table(env["TABLE_NAME"])
    sqs = boto3.client("sqs", **creds)
    run = f"B{int(time.time()) % 100000}"

    def submit(oid: str):
        r = submit_order(cybs, clarity, oid)
        if r["status"] not in (200, 202):
            raise RuntimeError(f"{oid}: webhook answered {r['status']}: {r['out']}")

    def settle(ids: list[str], timeout: float) -> dict:
        deadline = time.time() + timeout
        pending = set(ids)
        while pending and time.time() < deadline:
            for oid in list(pending):
                it = table.get_item(Key={"pk": f"ORDER#{oid}", "sk": "ORDER"}, ConsistentRead=True).get("Item")
                if it and it.get("state") == "Captured":
                    st = http("GET", f"{clarity}/__admin/orders/{oid}")["order"]["status"]
                    if st == "payment_received":
                        pending.discard(oid)
            time.sleep(0.5)
        quiet_since = None
        while time.time() < deadline:  # every queue empty for 4 s in a row
            if sum(queue_depths(sqs, env).values()) == 0:
                quiet_since = quiet_since or time.time()
                if time.time() - quiet_since >= 4:
                    break
            else:
                quiet_since = None
            time.sleep(0.5)
        return {"not_settled": sorted(pending), "depths": queue_depths(sqs, env)}

    try:
        warm = [f"{run}-W{i}" for i in range(2)]
        for oid in warm:
            submit(oid)
        w = settle(warm, 120)
        if w["not_settled"]:
            raise RuntimeError(f"warm-up orders did not settle: {w}")
        counter.reset()
        for k in emu.durations_ms:
            emu.durations_ms[k].clear()
            emu.invocations[k] = 0
        ids = [f"{run}-{i:04d}" for i in range(a.orders)]
        t0 = time.time()
        for oid in ids:
            submit(oid)
        s = settle(ids, max(180, a.orders * 3))
        elapsed = time.time() - t0
        snap = counter.snapshot()
        # item sizes (read directly from moto, not through the proxy)
        sizes = {}
        client = boto3.client("dynamodb", **creds)
        pager = client.get_paginator("scan").paginate(TableName=env["TABLE_NAME"])
        for page in pager:
            for it in page["Items"]:
                sizes[(it["pk"]["S"], it["sk"]["S"])] = item_size(it)
        states = {}
        for oid in ids:
            it = table.get_item(Key={"pk": f"ORDER#{oid}", "sk": "ORDER"}, ConsistentRead=True).get("Item") or {}
            states[it.get("state", "(missing)")] = states.get(it.get("state", "(missing)"), 0) + 1
    finally:
        bridge.terminate()
        try:
            bridge.wait(10)
        except subprocess.TimeoutExpired:
            bridge.kill()
        emu.close()
        isrv.shutdown()
        for srv in servers.values():
            srv.shutdown()

    # request units: writes by item size (PutItem: the item sent; UpdateItem/DeleteItem: the
    # item's final size, an upper bound since items only grow on the happy path)
    wru = 0
    for w in snap["ddb_writes"]:
        if w["item"]:
            size = item_size(w["item"])
        else:
            k = w["key"] or {}
            size = sizes.get((k.get("pk", {}).get("S"), k.get("sk", {}).get("S")), 1024)
        wru += max(1, -(-size // 1024))
    rru = 0.0
    for r in snap["ddb_reads"]:
        k = r["key"] or {}
        size = sizes.get((k.get("pk", {}).get("S"), k.get("sk", {}).get("S")), 4096)
        units = max(1, -(-size // 4096))
        rru += units if r["consistent"] else units / 2
    order_sizes = [v for (pk, sk), v in sizes.items() if sk == "ORDER" and pk[6:] in ids]
    return {
        "orders": a.orders, "elapsed_s": elapsed, "final_states": states, "not_settled": s["not_settled"],
        "queue_depths_after": s["depths"], "counts": snap["counts"],
        "ddb_write_request_units": wru, "ddb_read_request_units": rru,
        "order_item_bytes_max": max(order_sizes) if order_sizes else None,
        "order_item_bytes_median": sorted(order_sizes)[len(order_sizes) // 2] if order_sizes else None,
        "sqs_send_bytes_max": max(snap["sqs_send_bytes"] or [0]),
        "invocations": dict(emu.invocations),
        "invocation_ms": {k: sorted(v) for k, v in emu.durations_ms.items()},
        "functions": {n: {k: fn_settings(fns, n)[k] for k in ("memory_mb", "arch", "batch_size")}
                      for n in names},
        "bridge_batch_size": a.batch_size,
    }


# ---------------------------------------------------------------------------- throughput

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROBE_ORDERS = 5  # one at a time before the load: the unloaded latency, for comparison
IDLE_S = 5.0  # CPU of the idle stack (pollers, long polls) just before the load, for comparison


def _proc_table() -> dict[int, tuple[int, int, int, str]]:
    """{pid: (ppid, own ticks = utime + stime of all its threads, reaped children's ticks = cutime +
    cstime, comm)} for every process on the machine (/proc/<pid>/stat, proc(5))."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:  # exited meanwhile
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
        out[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), comm)
    return out


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all CPUs (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)  # user nice system irq softirq steal
    return busy, busy + v[3] + v[4]


def cpu_sample(roots: dict[str, list[int]]) -> dict:
    """CPU ticks of every process of the run: each group's root pids and their descendants (a
    descendant that is itself a root belongs to its own group)."""
    table = _proc_table()
    kids: dict[int, list[int]] = {}
    for pid, row in table.items():
        kids.setdefault(row[0], []).append(pid)
    explicit = {pid for pids in roots.values() for pid in pids}
    procs: dict[int, dict] = {}
    for group, pids in roots.items():
        todo = list(pids)
        while todo:
            pid = todo.pop()
            if pid in procs or pid not in table:
                continue
            _ppid, own, reaped, comm = table[pid]
            procs[pid] = {"group": group, "own": own, "reaped": reaped, "comm": comm}
            todo += [k for k in kids.get(pid, []) if k not in explicit]
    return {"t": time.time(), "procs": procs, "machine": _machine_ticks()}


def cpu_delta(s0: dict, s1: dict, labels: dict[int, str]) -> dict:
    """CPU seconds per group and per process between two samples. A process's delta is its own
    utime + stime plus what its reaped children added to cutime + cstime meanwhile."""
    groups: dict[str, float] = {}
    rows = []
    for pid, p in s1["procs"].items():
        q = s0["procs"].get(pid)
        ticks = p["own"] + p["reaped"] - ((q["own"] + q["reaped"]) if q else 0)
        groups[p["group"]] = groups.get(p["group"], 0.0) + ticks / CLK_TCK
        rows.append({"pid": pid, "group": p["group"], "name": labels.get(pid, p["comm"]), "cpu_s": ticks / CLK_TCK})
    for pid, q in s0["procs"].items():
        groups.setdefault(q["group"], 0.0)
    (b0, t0), (b1, t1) = s0["machine"], s1["machine"]
    return {
        "window_s": s1["t"] - s0["t"], "ncpu": os.cpu_count(), "clk_tck": CLK_TCK,
        "groups_s": groups, "processes": sorted(rows, key=lambda r: (r["group"], -r["cpu_s"])),
        "exited_during": sorted(set(s0["procs"]) - set(s1["procs"])),
        "machine_busy_s": (b1 - b0) / CLK_TCK, "machine_total_s": (t1 - t0) / CLK_TCK,
    }


def pct(values: list[float], p: float) -> float | None:
    return lambda_stub.pct(values, p) if values else None


def stop_proc(p: subprocess.Popen, timeout: float = 10):
    """SIGTERM to that one pid, then SIGKILL if it has not exited within `timeout`."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def throughput(stack: Stack, a, fns: dict[str, dict]) -> dict:
    n = a.throughput_orders
    env = stack.env
    py = sys.executable
    rel = Path(a.release_dir)
    fport, eport, iport = free_port(), free_port(), free_port()
    invoke = f"http://127.0.0.1:{iport}"
    started: list[subprocess.Popen] = []
    fn_pids: dict[str, int] = {}
    names = ["clarity-order-webhook", "authorize", "capture", "refund", "clarity-sync", "erp-sync"]
    functions = [{"name": f, "cmd": [str(rel / f)], "memory_mb": fn_settings(fns, f)["memory_mb"],
                  "timeout_s": fn_settings(fns, f)["timeout_s"], "env": dict(fn_settings(fns, f)["env"])}
                 for f in names]
    cybs, clarity = stack.sims["cybersource"].rstrip("/"), stack.sims["clarity"].rstrip("/")
    creds = dict(region_name=env.get("AWS_REGION", "us-east-1"), endpoint_url=stack.endpoint,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
    sqs = boto3.client("sqs", **creds)
    run = f"T{int(time.time()) % 100000}"

    def paid_at(view: dict) -> float | None:
        for h in view.get("statusHistory") or []:
            if h.get("to") == "payment_received":
                return epoch(h["at"])
        return None

    def wait_paid(oid: str, timeout: float) -> float | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = paid_at(http("GET", f"{clarity}/__admin/orders/{oid}"))
            if t is not None:
                return t
            time.sleep(0.05)
        return None

    def wait_quiet(timeout: float, quiet_s: float) -> dict[str, int]:
        deadline, since = time.time() + timeout, None
        while time.time() < deadline:
            if sum(queue_depths(sqs, env).values()) == 0:
                since = since or time.time()
                if time.time() - since >= quiet_s:
                    break
            else:
                since = None
            time.sleep(0.5)
        return queue_depths(sqs, env)

    try:
        # The counting proxy and the Lambda stub run as processes of their own here, so that their
        # CPU time is read apart from this driver's (and they do not share its GIL).
        proxy = stack._spawn([py, str(HERE / "aws_counter.py"), "--upstream", stack.endpoint,
                              "--listen", f"functions={fport}", "--listen", f"esm-bridge={eport}"], "tp-proxy.log")
        started.append(proxy)
        stack._wait(lambda: http("GET", f"http://127.0.0.1:{fport}/__counts", timeout=2), "counting proxy", 30)
        cfg = stack.state / "tp-functions.json"
        cfg.write_text(json.dumps({"base_env": {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{fport}"},
                                   "functions": functions}), encoding="utf-8")
        ready = stack.state / "tp-stub-ready.json"
        logs = stack.state / "throughput"
        logs.mkdir(exist_ok=True)
        stub = stack._spawn([py, str(HERE / "lambda_stub.py"), "serve", "--config", str(cfg), "--port", str(iport),
                             "--log-dir", str(logs), "--ready-file", str(ready)], "tp-stub.log")
        started.append(stub)
        stack._wait(lambda: json.loads(ready.read_text()), "Lambda stub", 120)
        fn_pids = json.loads(ready.read_text())["pids"]
        bridge = stack._spawn([str(rel / "o2c-local-bridge")], "tp-bridge.log", env={
            **os.environ, **env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{eport}", "LAMBDA_INVOKE_URL": invoke,
            "BRIDGE_BATCH_SIZE": str(a.batch_size), "BRIDGE_RETRY_DELAY_SECS": "2", "RUST_LOG": "warn"})
        started.append(bridge)
        http("POST", f"{clarity}/__admin/config",
             {"webhook_url": f"{invoke}/lambda-url/clarity-order-webhook/webhooks/clarity"})

        # warm-up (cold starts, OAuth tokens, secret caches), then the unloaded latency, one order at a time
        probe = []
        for i in range(2 + PROBE_ORDERS):
            oid = f"{run}-W{i}"
            r = submit_order(cybs, clarity, oid)
            t = wait_paid(oid, 120) if r["status"] in (200, 202) else None
            if t is None:
                raise RuntimeError(f"warm-up order {oid} did not reach payment_received (webhook {r['status']})")
            if i >= 2:
                probe.append((t - r["webhook_at"]) * 1000.0)
        wait_quiet(120, 2)
        http("POST", f"http://127.0.0.1:{fport}/__counts/reset", {})
        http("POST", f"{invoke}/__stats/reset", {})

        roots = {"ours": [bridge.pid, *fn_pids.values()], "aws": [stack.moto.pid, proxy.pid],
                 "sims": [stack.sandbox.pid], "stub": [stub.pid], "driver": [os.getpid()]}
        labels = {bridge.pid: "o2c-local-bridge", stack.moto.pid: "moto", proxy.pid: "aws_counter.py (proxy)",
                  stack.sandbox.pid: "sandbox.py (4 simulators)", stub.pid: "lambda_stub.py",
                  os.getpid(): "run_stack.py", **{pid: name for name, pid in fn_pids.items()}}
        ids = [f"{run}-{i:05d}" for i in range(n)]
        sub: dict[str, dict] = {}
        rejected: dict[str, str] = {}
        idle0 = cpu_sample(roots)
        time.sleep(IDLE_S)
        c0 = cpu_sample(roots)
        idle = cpu_delta(idle0, c0, labels)
        print(f"  throughput: submitting {n} orders ({a.throughput_senders} senders)", file=sys.stderr)
        with ThreadPoolExecutor(a.throughput_senders) as pool:
            futs = {pool.submit(submit_order, cybs, clarity, oid): oid for oid in ids}
            for f in as_completed(futs):
                oid = futs[f]
                try:
                    r = f.result()
                except Exception as e:  # noqa: BLE001 — counted and reported, not fatal
                    rejected[oid] = f"{type(e).__name__}: {e}"
                    continue
                r.pop("out")
                sub[oid] = r
                if r["status"] not in (200, 202):
                    rejected[oid] = f"webhook answered {r['status']}"
        first = min((r["submitted_at"] for r in sub.values()), default=time.time())
        deadline = first + a.throughput_timeout
        pending = sorted((o for o in sub if o not in rejected), key=lambda o: sub[o]["submitted_at"])
        paid: dict[str, float] = {}
        print(f"  throughput: all submitted in {time.time() - first:.1f} s; waiting for payment_received",
              file=sys.stderr)
        last_full = last_note = time.time()
        # Completion is read per order (small answers, roughly in submission order) and, every 30 s,
        # from the full order list; the timestamps themselves are the simulator's, so how often
        # this polls changes no latency.
        while pending and time.time() < deadline:
            if time.time() - last_full >= 30:
                for view in http("GET", f"{clarity}/__admin/orders", timeout=120)["orders"]:
                    oid = view["order"]["id"]
                    t = paid_at(view)
                    if t is not None and oid in sub:
                        paid[oid] = t
                last_full = time.time()
            else:
                misses = 0
                for oid in pending:
                    t = paid_at(http("GET", f"{clarity}/__admin/orders/{oid}"))
                    if t is None:
                        misses += 1
                        if misses >= 8:
                            break
                    else:
                        paid[oid], misses = t, 0
            pending = [o for o in pending if o not in paid]
            if time.time() - last_note >= 30:
                print(f"  throughput: {len(paid)}/{n} payment_received", file=sys.stderr)
                last_note = time.time()
            if pending:
                time.sleep(1.0)
        # the rest of each order's work (ERP sync) finishes after payment_received: the CPU window
        # closes once every queue has been empty for 4 s
        depths = wait_quiet(120 if not pending else 10, 4)
        c1 = cpu_sample(roots)
        counts = http("GET", f"http://127.0.0.1:{fport}/__counts", timeout=120)["counts"]
        stats = http("GET", f"{invoke}/__stats")
        for view in http("GET", f"{clarity}/__admin/orders", timeout=120)["orders"]:
            oid = view["order"]["id"]
            t = paid_at(view)
            if oid in sub and oid not in rejected and t is not None and t <= deadline:
                paid[oid] = t
        table = boto3.resource("dynamodb", **creds).Table(env["TABLE_NAME"])
        states: dict[str, int] = {}
        for oid in ids:
            it = table.get_item(Key={"pk": f"ORDER#{oid}", "sk": "ORDER"}, ConsistentRead=True).get("Item") or {}
            st = it.get("state", "(missing)")
            states[st] = states.get(st, 0) + 1
    finally:
        for p in reversed(started):  # bridge, stub (stops its function processes), proxy
            stop_proc(p)
        for name, pid in fn_pids.items():  # in case the stub could not stop them
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    mine = f.read().split(b"\0")[0] == str(rel / name).encode()
            except OSError:
                mine = False
            if mine:
                os.kill(pid, signal.SIGKILL)

    done = sorted(paid)
    lat = sorted((paid[o] - sub[o]["webhook_at"]) * 1000.0 for o in done)
    lat_submit = sorted((paid[o] - sub[o]["submitted_at"]) * 1000.0 for o in done)
    last = max(paid.values(), default=first)
    wall = last - first
    cpu = cpu_delta(c0, c1, labels)

    def dist(v: list[float]) -> dict:
        return {"p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99), "max": max(v, default=None),
                "min": min(v, default=None), "mean": sum(v) / len(v) if v else None}

    return {
        "orders": n, "senders": a.throughput_senders, "timeout_s": a.throughput_timeout,
        "submitted": len(sub), "rejected": len(rejected), "rejected_sample": dict(sorted(rejected.items())[:10]),
        "completed": len(done), "not_completed": sorted(set(ids) - set(done))[:50],
        "wall_s": wall, "throughput_per_s": len(done) / wall if wall > 0 else None,
        "submit_span_s": max((r["answered_at"] for r in sub.values()), default=first) - first,
        "latency_ms": dist(lat), "latency_from_submit_ms": dist(lat_submit),
        "unloaded_latency_ms": probe,
        "cpu": cpu, "cpu_idle": idle,
        "our_cpu_ms_per_order": cpu["groups_s"].get("ours", 0.0) * 1000.0 / len(done) if done else None,
        "final_states": states, "queue_depths_after": depths,
        "counts": counts, "invocations": stats["invocations"],
        "invocation_ms_p50": {k: pct(v, 50) for k, v in stats["durations_ms"].items()},
        "functions": {f: {k: fn_settings(fns, f)[k] for k in ("memory_mb", "arch", "batch_size")} for f in names},
        "bridge_batch_size": a.batch_size,
        "per_order": [[o, round(sub[o]["submitted_at"], 3), sub[o]["webhook_at"], paid.get(o)]
                      for o in ids if o in sub],  # id, submitted, webhook sent, payment_received (epoch s)
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--release-dir", default=str(REPO / "target/release"),
                    help="the built function binaries and o2c-local-bridge (target/<profile>)")
    ap.add_argument("--sdk-python", default=str(HERE / ".venv/bin/python"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--orders", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--extra-rust", action="append", help="label=path of another build to cold-start")
    ap.add_argument("--throughput-orders", type=int, default=1000,
                    help="orders in the throughput phase (0 skips it)")
    ap.add_argument("--throughput-senders", type=int, default=12, help="concurrent webhook senders")
    ap.add_argument("--throughput-timeout", type=float, default=1200,
                    help="seconds from the first submit until unfinished orders are given up")
    ap.add_argument("--only", choices=["coldstart", "orders", "throughput"])
    ap.add_argument("--functions", help="cold start: only these functions (comma-separated)")
    ap.add_argument("--no-python", action="store_true", help="cold start: skip the Python SDK cases")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    # SIGTERM (e.g. bench.sh interrupted) unwinds like Ctrl-C, so `finally` stops what we started.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    fns = template_functions()
    state = Path(tempfile.mkdtemp(prefix="o2c-bench-"))
    print(f"bench state and logs: {state}", file=sys.stderr)
    out: dict = {"template_functions": fns, "bin_dir": a.release_dir}
    stack = Stack(state, str(REPO / "infra/.venv/bin/python"))
    try:
        if a.only in (None, "coldstart"):
            print("cold start ...", file=sys.stderr)
            out["coldstart"] = coldstart(stack, a, fns)
        if a.only in (None, "orders"):
            print(f"orders ({a.orders}) ...", file=sys.stderr)
            out["orders"] = orders(stack, a, fns)
        if a.only in (None, "throughput") and a.throughput_orders > 0:
            print(f"throughput ({a.throughput_orders}) ...", file=sys.stderr)
            out["throughput"] = throughput(stack, a, fns)
    finally:
        stack.close()
    Path(a.out).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
