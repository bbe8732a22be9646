#!/usr/bin/env python3
"""A counting reverse proxy in front of the local AWS endpoint (moto server). Stdlib only.

Every request is forwarded unchanged; the proxy records the API call it carried, by listening
port ("who": one port per kind of caller, e.g. the functions vs the SQS bridge that stands in
for Lambda's event source mapping):

  JSON protocol:  X-Amz-Target: DynamoDB_20120810.GetItem | AmazonSQS.SendMessage | secretsmanager.GetSecretValue
  query protocol: Action=... in the form body or query string (older SDKs)

ReceiveMessage calls that return no message are counted apart ("ReceiveMessage(empty)").
DynamoDB writes keep their key and, for PutItem, the written item, so the cost model can turn
requests into request units. `GET /__counts` returns the tallies; `POST /__counts/reset`
clears them. moto's own request log cannot do this: it prints `POST / HTTP/1.1` for every call.

Used in-process by run_stack.py (`serve`), or as its own process (so its CPU time can be read
apart from the harness's):

    python aws_counter.py --upstream http://127.0.0.1:5000 --listen functions=5001 --listen esm-bridge=5002
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE_PREFIX = {
    "DynamoDB_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
}
DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


class Counter_:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.counts: Counter = Counter()
            self.ddb_writes: list[dict] = []
            self.ddb_reads: list[dict] = []
            self.sqs_bytes: list[int] = []

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "counts": [{"who": w, "service": s, "action": a, "n": n}
                           for (w, s, a), n in sorted(self.counts.items())],
                "ddb_writes": list(self.ddb_writes),
                "ddb_reads": list(self.ddb_reads),
                "sqs_send_bytes": list(self.sqs_bytes),
            }


def classify(headers, path: str, body: bytes) -> tuple[str, str]:
    target = headers.get("x-amz-target")
    if target and "." in target:
        prefix, action = target.split(".", 1)
        return SERVICE_PREFIX.get(prefix, prefix), action
    form = {}
    if body and "x-www-form-urlencoded" in (headers.get("content-type") or ""):
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
    form.update(dict(urllib.parse.parse_qsl(urllib.parse.urlparse(path).query)))
    action = form.get("Action", "?")
    service = "sqs" if "Queue" in str(form) or "Message" in action else "?"
    return service, action


def serve(upstream: str, ports: dict[str, int], counter: Counter_) -> dict[str, ThreadingHTTPServer]:
    """Start one listener per caller tag on 127.0.0.1; returns {tag: server}."""
    u = urllib.parse.urlparse(upstream)
    local = threading.local()

    def conn() -> http.client.HTTPConnection:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        return c

    servers = {}
    for tag, port in ports.items():
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            who = tag

            def log_message(self, *_a):
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("content-length") or 0)
                return self.rfile.read(n) if n else b""

            def _any(self):
                if self.path.startswith("/__counts"):
                    if self.command == "POST":
                        counter.reset()
                        payload = b'{"reset":true}'
                    else:
                        payload = json.dumps(counter.snapshot()).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                body = self._read_body()
                service, action = classify(self.headers, self.path, body)
                fwd = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("transfer-encoding", "connection", "content-length")}
                fwd["content-length"] = str(len(body))
                for attempt in (0, 1):
                    try:
                        c = conn()
                        c.request(self.command, self.path, body=body, headers=fwd)
                        r = c.getresponse()
                        data = r.read()
                        break
                    except (http.client.HTTPException, OSError):
                        local.c = None
                        if attempt:
                            raise
                label = action
                if service == "sqs" and action == "ReceiveMessage" and r.status == 200:
                    try:
                        if not json.loads(data or b"{}").get("Messages"):
                            label = "ReceiveMessage(empty)"
                    except ValueError:
                        if b"<Message>" not in data:
                            label = "ReceiveMessage(empty)"
                with counter.lock:
                    counter.counts[(self.who, service, label)] += 1
                    # failed conditional writes consume write units too: keep every status
                    if service == "dynamodb":
                        try:
                            req = json.loads(body or b"{}")
                        except ValueError:
                            req = {}
                        if action in DDB_WRITES:
                            counter.ddb_writes.append({"action": action, "key": req.get("Key"),
                                                       "item": req.get("Item"), "status": r.status})
                        elif action in ("GetItem", "Query", "Scan"):
                            counter.ddb_reads.append({"action": action, "key": req.get("Key"),
                                                      "consistent": bool(req.get("ConsistentRead"))})
                    if service == "sqs" and action in ("SendMessage", "SendMessageBatch"):
                        counter.sqs_bytes.append(len(body))
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller went away (e.g. stopped at the end of a run)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers[tag] = srv
    return servers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="the moto endpoint, e.g. http://127.0.0.1:5000")
    ap.add_argument("--listen", action="append", required=True, metavar="TAG=PORT",
                    help="one listener on 127.0.0.1:PORT whose requests are counted as TAG (repeatable)")
    a = ap.parse_args()
    ports = {}
    for item in a.listen:
        tag, _, port = item.partition("=")
        if not tag or not port.isdigit():
            ap.error(f"--listen wants TAG=PORT, got {item!r}")
        ports[tag] = int(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = serve(a.upstream, ports, Counter_())
    print(f"aws_counter: {ports} -> {a.upstream}", file=sys.stderr, flush=True)
    stop.wait()
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
