"""Shared plumbing for the Clarity, NetSuite and Salesforce simulators (standard library only).

Not a simulator itself: clarity.py, netsuite.py, salesforce.py and sandbox.py import it from the
same directory. It holds what the three have in common:

* secrets loading (`secrets.local.json`, with `${VAR:-default}` expanded like provision.py does);
* fault rules per route (error rate + status, latency, lost response after the effect, 429/503
  with `Retry-After`, `times`), the same field names as the Cybersource simulator's rules;
* a loopback-only HTTP handler base: body reading (incl. chunked), JSON replies, connection drop,
  the common `/__admin/` calls (health, state, reset, faults, config);
* server construction on a ThreadingHTTPServer and a standalone `main` runner;
* card-number (PAN) refusal by the one shared rule (infra/local/cardscan.py, the mirror of
  shared/domain/src/card.rs), RFC 3339 helpers.

cybersource.py (with its cybs_*.py modules) builds on it too.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SECRETS = HERE.parent / "secrets.local.json"
ADMIN_CT = "application/json"


def _load_cardscan():
    """infra/local/cardscan.py as the module `cardscan`, whoever imports simkit (a simulator run as a
    script, sandbox.py, a test): loaded by path, so nothing else of infra/local joins sys.path."""
    mod = sys.modules.get("cardscan")
    if mod is None:
        spec = importlib.util.spec_from_file_location("cardscan", HERE.parent / "cardscan.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["cardscan"] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules["cardscan"]
            raise
    return mod


cardscan = _load_cardscan()

# --------------------------------------------------------------------------------------------
# time, secrets, card numbers
# --------------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(dt: datetime | None = None, ms: bool = False) -> str:
    dt = (dt or utc_now()).astimezone(timezone.utc)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value) -> datetime | None:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
                                                   value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value):
    """`${VAR:-default}` → environment value or default (strings only, recursively)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def load_secret(path: str | os.PathLike | None, key: str, required: tuple[str, ...]) -> dict:
    """The `key` member of the secrets file (default infra/local/secrets.local.json), expanded."""
    p = Path(path) if path else DEFAULT_SECRETS
    doc = json.loads(p.read_text())
    secret = expand(doc.get(key) or {})
    lacking = [k for k in required if not secret.get(k)]
    if lacking:
        raise SystemExit(f"{p}: {key} lacks {', '.join(lacking)}")
    return secret


def find_pan(obj) -> str | None:
    """Where the first card number of a parsed JSON body is (`a.b[0].c`, `a.<key>` for a key,
    `$` for a bare scalar), by the shared rule: `cardscan.json_hits`, which walks every key,
    string and number (keys in sorted order) and asks `cardscan.find_hits` of each -- the rule
    of shared/domain/src/card.rs, checked by both sides against infra/local/cardscan_cases.json.
    None when there is none. The path is cardscan's JSON path without its leading `$`."""
    first = next(cardscan.json_hits(obj), None)
    if first is None:
        return None
    path = first[0]
    if path.startswith("$."):
        return path[2:]
    return path[1:] if path.startswith("$[") else path


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------


class FaultRule:
    """One injected fault for a route (or `*`). Fields (all optional except route):

    error_rate (0..1, default 0)      answer `status` before doing anything
    status (default 503)              HTTP status of an injected error
    retry_after_s (default 1)         `Retry-After` on injected 429 and 503
    latency_ms (default 0)            added to every matching request (errors included)
    lost_response_rate (0..1)         do the effect, then lose the answer (lost_mode)
    lost_mode 502|drop|hang           502 error body / close the socket / hang hang_ms then close
    times (default unlimited)         errors + lost answers injected before the rule goes quiet
    """

    def __init__(self, spec: dict, seed: int, serial: int):
        self.route = str(spec.get("route") or spec.get("operation") or "*")
        self.error_rate = float(spec.get("error_rate", 0))
        self.status = int(spec.get("status", 503))
        self.retry_after_s = spec.get("retry_after_s", 1)
        self.latency_ms = int(spec.get("latency_ms", 0))
        self.lost_response_rate = float(spec.get("lost_response_rate", 0))
        self.lost_mode = str(spec.get("lost_mode", "502"))
        self.hang_ms = int(spec.get("hang_ms", 30000))
        self.times = None if spec.get("times") is None else int(spec["times"])
        self.fired = 0
        self.seen = 0
        self.rng = random.Random(f"{seed}:{self.route}:{serial}")
        if self.lost_mode not in ("502", "drop", "hang"):
            raise ValueError("lost_mode must be 502, drop or hang")
        if not (0 <= self.error_rate <= 1 and 0 <= self.lost_response_rate <= 1
                and self.error_rate + self.lost_response_rate <= 1):
            raise ValueError("rates must be in [0,1] and error_rate + lost_response_rate <= 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.retry_after_s is not None and (not isinstance(self.retry_after_s, (int, float))
                                               or self.retry_after_s < 0):
            raise ValueError("retry_after_s must be a non-negative number or null")

    def roll(self) -> str:
        """'error' (before the effect), 'lost' (after the effect) or 'ok'."""
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return "ok"
        r = self.rng.random()
        if r < self.error_rate:
            outcome = "error"
        elif r < self.error_rate + self.lost_response_rate:
            outcome = "lost"
        else:
            return "ok"
        self.fired += 1
        return outcome

    def retry_after_header(self) -> str | None:
        if self.retry_after_s is None or self.status not in (429, 503):
            return None
        v = self.retry_after_s
        return str(int(v)) if float(v).is_integer() else str(v)

    def as_dict(self) -> dict:
        return {"route": self.route, "error_rate": self.error_rate, "status": self.status,
                "retry_after_s": self.retry_after_s, "latency_ms": self.latency_ms,
                "lost_response_rate": self.lost_response_rate, "lost_mode": self.lost_mode,
                "hang_ms": self.hang_ms, "times": self.times, "fired": self.fired, "seen": self.seen}


class BaseSim:
    """State holder every simulator extends: lock, config, faults, reset, stop event."""

    name = "sim"
    routes: tuple[str, ...] = ()          # fault-injectable route names
    config_keys: frozenset[str] = frozenset()

    def __init__(self, seed: int, config: dict):
        self.seed = seed
        self.config = dict(config)
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.started = time.monotonic()
        self.fault_serial = 0
        self.faults: dict[str, FaultRule] = {}
        self.fault_log: list[dict] = []
        self.generation = 0
        self.reset()

    # subclasses extend
    def reset(self, keep_faults: bool = False):
        with self.lock:
            self.generation += 1
            self.rng = random.Random(self.seed)
            self.fault_log = []
            if not keep_faults:
                self.faults = {}

    def state(self) -> dict:
        return {}

    def health(self) -> dict:
        return {"status": "ok", "simulator": self.name, "uptime_s": round(time.monotonic() - self.started, 3)}

    def close(self):
        self.stopping.set()

    # faults
    def match_fault(self, *names: str) -> FaultRule | None:
        for n in (*names, "*"):
            if n in self.faults:
                return self.faults[n]
        return None

    def roll_fault(self, *names: str) -> tuple[FaultRule | None, str]:
        with self.lock:
            rule = self.match_fault(*names)
            outcome = rule.roll() if rule else "ok"
            if outcome != "ok":
                self.fault_log.append({"at": rfc3339(ms=True), "route": names[0] if names else "*",
                                       "rule": rule.route, "outcome": outcome,
                                       "status": rule.status if outcome == "error" else None})
        return rule, outcome

    def set_faults(self, body: dict) -> list[dict]:
        routes = body.get("route", body.get("operation", "*"))
        routes = routes if isinstance(routes, list) else [routes]
        out = []
        with self.lock:
            for r in routes:
                r = "*" if r in ("*", "all", None) else str(r)
                base = r.split(":", 1)[0]
                if r != "*" and base not in self.routes:
                    raise ValueError(f"route must be one of {', '.join(self.routes)} (optionally route:qualifier) or *")
                self.fault_serial += 1
                rule = FaultRule({**body, "route": r}, self.seed, self.fault_serial)
                self.faults[r] = rule
                out.append(rule.as_dict())
        return out

    def update_config(self, body: dict) -> dict:
        unknown = set(body) - set(self.config_keys)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}; known: {sorted(self.config_keys)}")
        with self.lock:
            self.validate_config(body)
            self.config.update(body)
            return dict(self.config)

    def validate_config(self, body: dict):
        pass


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class AdminError(Exception):
    """An admin answer other than 200: `{"error": message, **extra}`, or `body` as given."""

    def __init__(self, status: int, message: str, body: dict | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": message, **extra}


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per keep-alive request on Linux loopback).
    disable_nagle_algorithm = True
    sim: BaseSim  # bound per server by make_server()

    def log_message(self, fmt, *args):
        if not self.sim.config.get("quiet"):
            sys.stderr.write(f"{self.sim.name}-sim {self.address_string()} - {fmt % args}\n")

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    # ---------------------------------------------------------------- plumbing
    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes | None = None, content_type: str | None = None,
             headers: dict | None = None):
        data = body or b""
        self.send_response(status)
        if content_type and data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            if v is not None:
                self.send_header(k, str(v))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status: int, obj, content_type: str = "application/json", headers: dict | None = None):
        data = None if obj is None else json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        self.send(status, data, content_type, headers)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def lose_response(self, rule: FaultRule | None, send_502):
        """Answer a 'lost' fault: the effect happened, the client never learns it."""
        mode = rule.lost_mode if rule else "502"
        if mode == "drop":
            self.drop()
        elif mode == "hang":
            self.sim.stopping.wait((rule.hang_ms if rule else 30000) / 1000.0)
            self.drop()
        else:
            send_502()

    def fault_latency(self, rule: FaultRule | None):
        if rule and rule.latency_ms:
            self.sim.stopping.wait(rule.latency_ms / 1000.0)

    def _dispatch(self):
        try:
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                self.send_forbidden()
                return
            raw = self.read_body()
            split = urllib.parse.urlsplit(self.path)
            if split.path == "/__admin" or split.path.startswith("/__admin/"):
                self._admin(split, raw)
            else:
                self.handle_api(split, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a simulator bug must be visible, not a hung client
            try:
                self.send_internal_error(e)
            except OSError:
                pass

    def send_forbidden(self):
        """The answer to a non-loopback client."""
        self.send_json(403, {"error": "loopback clients only"}, ADMIN_CT)

    def send_internal_error(self, e: Exception):
        """Log a simulator bug and answer it (subclasses may shape the body)."""
        import traceback
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"{self.sim.name}-sim internal error: {type(e).__name__}: {e}\n")
        self.send_json(500, {"error": "simulator internal error", "detail": f"{type(e).__name__}: {e}"})

    # ---------------------------------------------------------------- admin
    def _admin(self, split, raw: bytes):
        method = self.command
        path = split.path.rstrip("/")
        query = urllib.parse.parse_qs(split.query)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            self.send_json(400, {"error": "body is not JSON"}, ADMIN_CT)
            return
        if not isinstance(body, dict):
            self.send_json(400, {"error": "body must be a JSON object"}, ADMIN_CT)
            return
        try:
            status, obj = self.route_admin_common(method, path, query, body)
        except AdminError as e:
            status, obj = e.status, e.body
        except (ValueError, TypeError, KeyError) as e:
            status, obj = 400, {"error": f"{type(e).__name__}: {e}"}
        self.send_json(status, obj, ADMIN_CT)

    def route_admin_common(self, method, path, query, body):
        sim = self.sim
        if path == "/__admin/health" and method == "GET":
            return 200, sim.health()
        if path == "/__admin/state" and method == "GET":
            with sim.lock:
                return 200, sim.state()
        if path == "/__admin/reset" and method == "POST":
            sim.reset(keep_faults=bool(body.get("keep_faults", False)))
            return 200, {"reset": True}
        if path == "/__admin/faults":
            if method == "GET":
                with sim.lock:
                    return 200, {"faults": [f.as_dict() for f in sim.faults.values()], "log": list(sim.fault_log)}
            if method == "POST":
                return 200, {"faults": sim.set_faults(body)}
            if method == "DELETE":
                with sim.lock:
                    if "route" in query:
                        for r in query["route"]:
                            sim.faults.pop(r, None)
                    else:
                        sim.faults.clear()
                    return 200, {"faults": [f.as_dict() for f in sim.faults.values()]}
            raise AdminError(405, "method not allowed")
        if path == "/__admin/config":
            if method == "POST":
                return 200, {"config": sim.update_config(body)}
            if method == "GET":
                with sim.lock:
                    return 200, {"config": dict(sim.config)}
            raise AdminError(405, "method not allowed")
        out = self.route_admin(method, path, query, body)
        if out is None:
            raise AdminError(404, f"no admin endpoint {method} {path}")
        return out

    # subclasses
    def route_admin(self, method, path, query, body):  # -> (status, obj) | None
        return None

    def handle_api(self, split, raw: bytes):
        self.send_json(404, {"error": "not found"})


def make_server(handler_cls: type[SimHandler], sim: BaseSim, host: str = "127.0.0.1", port: int = 0):
    """A ThreadingHTTPServer bound to loopback serving `handler_cls` with `sim`."""
    check_loopback(host)
    handler = type(f"Bound{handler_cls.__name__}", (handler_cls,), {"sim": sim})
    server_cls = type("SimServer", (ThreadingHTTPServer,), {
        "daemon_threads": True, "allow_reuse_address": True,
        "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    server = server_cls((host, port), handler)
    server.sim = sim
    return server


def check_loopback(host: str):
    try:
        ok = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit("--host must be a loopback address (the admin API is unauthenticated)")


def server_url(server) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def serve_standalone(name: str, server) -> int:
    """Print the listening line, serve until SIGTERM/SIGINT, stop cleanly."""
    print(f"{name}-sim listening on {server_url(server)}", flush=True)

    def stop(signum, frame):  # noqa: ARG001
        server.sim.close()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.sim.close()
        server.server_close()
    return 0
