#!/usr/bin/env python3
"""A minimal local AWS Lambda: the Runtime API a function process polls, plus the Invoke API and
function URLs in front of it. Stdlib only; loopback only. Used by scripts/bench.sh.

- `RuntimeApi`: one per function process (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>). Implements
  GET  /2018-06-01/runtime/invocation/next            (long poll; records when it first came)
  POST /2018-06-01/runtime/invocation/<id>/response | /error
  POST /2018-06-01/runtime/init/error
- `coldstart` (CLI): for each case, N times: start the process, time process start → first
  GET /next, read its peak RSS (wait4 rusage), kill it. Writes JSON.
- `serve` (CLI, and `Emulator` in-process): long-running functions behind
  POST /2015-03-31/functions/<name>/invocations       (what the SQS bridge calls)
  ANY  /lambda-url/<name>/<path>                        (API Gateway HTTP API v2 event; webhooks)
  GET  /__stats | POST /__stats/reset                   (invocations and durations per function)
  One process per function and one invocation at a time per function (a reserved concurrency
  of 1, where Lambda would start more execution environments under load).

Reference: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_a):  # no access log
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        try:
            self.end_headers()
            if body:
                self.wfile.write(body)
        except OSError:  # the caller went away (killed at the end of a cold start or a run)
            self.close_connection = True


class RuntimeApi:
    """The Runtime API of one function process."""

    def __init__(self, name: str, timeout_s: float = 30.0):
        self.name = name
        self.timeout_s = timeout_s
        self.first_next_at: float | None = None
        self.first_next = threading.Event()
        self.init_error: bytes | None = None
        self.failed = threading.Event()  # init error reported
        self.pending: queue.Queue = queue.Queue()
        self.results: dict[str, tuple[str, bytes]] = {}
        self.cond = threading.Condition()
        api = self

        class H(_Quiet):
            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._send(404)
                if api.first_next_at is None:
                    api.first_next_at = time.perf_counter()
                    api.first_next.set()
                item = api.pending.get()
                if item is None:  # shutting down
                    return self._send(503)
                rid, event = item
                deadline = int((time.time() + api.timeout_s) * 1000)
                self._send(200, event, {
                    "content-type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": rid,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:us-east-1:123456789012:function:{api.name}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                body = self._body()
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = body
                    api.failed.set()
                    return self._send(202, b'{"status":"OK"}')
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api.cond:
                        api.results[parts[1]] = (parts[2], body)
                        api.cond.notify_all()
                    return self._send(202, b'{"status":"OK"}')
                return self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def invoke(self, event: bytes, timeout: float = 120.0) -> tuple[str, bytes]:
        """Queue one invocation and wait for its outcome ("response" | "error", body)."""
        rid = str(uuid.uuid4())
        self.pending.put((rid, event))
        with self.cond:
            ok = self.cond.wait_for(lambda: rid in self.results or self.failed.is_set(), timeout)
            if rid in self.results:
                return self.results.pop(rid)
        return ("error", b'{"errorMessage":"function did not answer (init error or timeout)"}' if not ok
                else (self.init_error or b"{}"))

    def close(self):
        for _ in range(4):
            self.pending.put(None)
        self.server.shutdown()
        self.server.server_close()


def lambda_env(name: str, memory_mb: int, runtime_api: str) -> dict[str, str]:
    """The reserved variables Lambda sets for a function."""
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }


def load_env_file(path: str) -> dict[str, str]:
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


# ---------------------------------------------------------------------------- cold start


def cold_start_once(case: dict, base_env: dict[str, str], timeout: float = 30.0) -> dict:
    api = RuntimeApi(case["name"])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(base_env)
    env.update(case.get("env", {}))
    env.update(lambda_env(case["name"], case.get("memory_mb", 256), api.address))
    log = open(case.get("log", os.devnull), "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(case["cmd"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = t0 + timeout
    got = False
    while time.perf_counter() < deadline:
        if api.first_next.wait(0.005):
            got = True
            break
        # exited (init failed)? WNOWAIT: leave it to wait4 below, which reads its rusage
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
    t1 = api.first_next_at
    # Peak RSS of the program itself: VmHWM is reset by exec (rusage's ru_maxrss is not, so it
    # would report the forking Python parent's size), read before the kill.
    hwm_kb = None
    try:
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as st:
            for line in st:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = status  # reaped here; keep Popen from waiting again
    log.close()
    api.close()
    if not got or t1 is None or api.init_error:
        detail = (api.init_error or b"").decode(errors="replace")[:500]
        raise RuntimeError(f"{case['label']}: no /next within {timeout}s (wait status {status}; "
                           f"log {case.get('log', 'none')}) {detail}")
    del rusage
    return {"ms": (t1 - t0) * 1000.0, "peak_rss_kb": hwm_kb}


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def run_coldstart(cases: list[dict], base_env: dict[str, str], runs: int, warmup: int,
                  interleave: bool = True) -> dict:
    """Runs every case `runs` times, interleaved round by round (case A, B, C, A, B, C, ...) so
    that machine noise hits every case alike. `warmup` discarded rounds first (page cache, .pyc)."""
    samples: dict[str, list[dict]] = {c["label"]: [] for c in cases}
    for r in range(warmup + runs):
        for c in cases:
            s = cold_start_once(c, base_env)
            if r >= warmup:
                samples[c["label"]].append(s)
        print(f"  round {r + 1}/{warmup + runs}" + (" (warm-up)" if r < warmup else ""), file=sys.stderr)
    out = {}
    for c in cases:
        ms = [s["ms"] for s in samples[c["label"]]]
        rss = [s["peak_rss_kb"] for s in samples[c["label"]]]
        out[c["label"]] = {
            "kind": c.get("kind", ""), "runs": len(ms),
            "median_ms": statistics.median(ms), "p90_ms": pct(ms, 90),
            "min_ms": min(ms), "max_ms": max(ms),
            "peak_rss_kb_median": statistics.median(rss),
            "samples_ms": [round(x, 3) for x in ms],
        }
    return out


# ---------------------------------------------------------------------------- serve


class Emulator:
    """Long-running functions behind the Invoke API and function URLs."""

    def __init__(self, functions: list[dict], base_env: dict[str, str], log_dir: str):
        self.apis: dict[str, RuntimeApi] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.invocations: dict[str, int] = {}
        self.durations_ms: dict[str, list[float]] = {}
        for f in functions:
            api = RuntimeApi(f["name"], f.get("timeout_s", 30))
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
            env.update(base_env)
            env.update(f.get("env", {}))
            env.update(lambda_env(f["name"], f.get("memory_mb", 256), api.address))
            log = open(os.path.join(log_dir, f"{f['name']}.log"), "ab")
            self.procs[f["name"]] = subprocess.Popen(f["cmd"], env=env, stdin=subprocess.DEVNULL,
                                                     stdout=log, stderr=log, start_new_session=True)
            self.apis[f["name"]] = api
            self.locks[f["name"]] = threading.Lock()  # one concurrent execution per function
            self.invocations[f["name"]] = 0
            self.durations_ms[f["name"]] = []
        for name, api in self.apis.items():
            if not api.first_next.wait(60) or api.failed.is_set():
                self.close()
                raise RuntimeError(f"{name} did not start: {(api.init_error or b'').decode(errors='replace')}")

    def invoke(self, name: str, event: bytes) -> tuple[str, bytes]:
        with self.locks[name]:
            self.invocations[name] += 1
            t0 = time.perf_counter()
            out = self.apis[name].invoke(event)
            self.durations_ms[name].append((time.perf_counter() - t0) * 1000.0)
            return out

    def stats(self) -> dict:
        return {"invocations": dict(self.invocations),
                "durations_ms": {k: list(v) for k, v in self.durations_ms.items()},
                "pids": {k: p.pid for k, p in self.procs.items()}}

    def reset_stats(self):
        for name in self.invocations:
            with self.locks[name]:
                self.invocations[name] = 0
                self.durations_ms[name].clear()

    def serve(self, port: int) -> ThreadingHTTPServer:
        emu = self

        class H(_Quiet):
            def _any(self):
                body = self._body()
                path, _, query = self.path.partition("?")
                if path.startswith("/__stats"):
                    if self.command == "POST":
                        emu.reset_stats()
                    return self._send(200, json.dumps(emu.stats()).encode(), {"content-type": "application/json"})
                if self.command == "POST" and path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"):
                    name = path.split("/")[3]
                    if name not in emu.apis:
                        return self._send(404, b'{"Message":"function not found"}')
                    kind, out = emu.invoke(name, body)
                    hdr = {"content-type": "application/json"}
                    if kind == "error":
                        hdr["X-Amz-Function-Error"] = "Unhandled"
                    return self._send(200, out, hdr)
                if path.startswith("/lambda-url/"):
                    rest = path[len("/lambda-url/"):]
                    name, _, sub = rest.partition("/")
                    if name not in emu.apis:
                        return self._send(404)
                    sub = "/" + sub
                    try:
                        text, b64 = body.decode("utf-8"), False
                    except UnicodeDecodeError:
                        text, b64 = base64.b64encode(body).decode(), True
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    event = {
                        "version": "2.0", "routeKey": "$default", "rawPath": sub, "rawQueryString": query,
                        "headers": headers, "body": text, "isBase64Encoded": b64,
                        "requestContext": {
                            "accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1",
                            "domainPrefix": "local", "requestId": str(uuid.uuid4()), "routeKey": "$default",
                            "stage": "$default", "time": "", "timeEpoch": int(time.time() * 1000),
                            "http": {"method": self.command, "path": sub, "protocol": "HTTP/1.1",
                                     "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")},
                        },
                    }
                    kind, out = emu.invoke(name, json.dumps(event).encode())
                    if kind == "error":
                        return self._send(502, b'{"message":"Internal Server Error"}')
                    r = json.loads(out or b"{}")
                    rb = r.get("body") or ""
                    rb = base64.b64decode(rb) if r.get("isBase64Encoded") else rb.encode()
                    return self._send(int(r.get("statusCode", 200)), rb, r.get("headers") or {})
                return self._send(404)

            do_POST = do_GET = do_PUT = _any

        srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
        for p in self.procs.values():
            p.wait()
        for a in self.apis.values():
            a.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("coldstart", help="time process start → first /next")
    c.add_argument("--cases", required=True, help="JSON file: [{label, kind, name, cmd[], env{}, memory_mb}]")
    c.add_argument("--env-file", help="KEY=VALUE lines given to every case (local.env)")
    c.add_argument("--runs", type=int, default=20)
    c.add_argument("--warmup", type=int, default=2)
    c.add_argument("--out", required=True)
    s = sub.add_parser("serve", help="functions behind the Invoke API and function URLs, until SIGTERM")
    s.add_argument("--config", required=True,
                   help='JSON file: {"base_env": {}, "functions": [{name, cmd[], env{}, memory_mb, timeout_s}]}')
    s.add_argument("--port", type=int, required=True, help="Invoke API / function URL port on 127.0.0.1")
    s.add_argument("--log-dir", required=True, help="one <function>.log per function process")
    s.add_argument("--ready-file", help="written once every function polls /next: {port, pids: {name: pid}}")
    a = ap.parse_args()
    if a.cmd == "coldstart":
        cases = json.load(open(a.cases, encoding="utf-8"))
        base = load_env_file(a.env_file) if a.env_file else {}
        res = run_coldstart(cases, base, a.runs, a.warmup)
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    elif a.cmd == "serve":
        return serve_main(a)
    return 0


def serve_main(a: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(a.config, encoding="utf-8") as f:
        cfg = json.load(f)
    emu = Emulator(cfg["functions"], cfg.get("base_env") or {}, a.log_dir)
    srv = emu.serve(a.port)
    try:
        if a.ready_file:
            tmp = a.ready_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"port": a.port, "pids": emu.stats()["pids"]}, f)
            os.replace(tmp, a.ready_file)
        print(f"lambda_stub: {len(emu.procs)} functions on 127.0.0.1:{a.port}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        srv.shutdown()
        srv.server_close()
        emu.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
