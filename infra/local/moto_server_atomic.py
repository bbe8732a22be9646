"""moto's server with DynamoDB requests made atomic and SQS receives serialised per queue.

Real DynamoDB evaluates a ConditionExpression and applies the write as one atomic step; that is
what every claim, lease take-over and over-refund guard in this project relies on. moto's
threaded server does not: two concurrent UpdateItem calls on one item can both pass the same
condition (no lock between the check and the write). A CI run caught exactly that — two workers
racing on one message both "won" the claim and authorized twice on moto, a double charge that
real DynamoDB would have refused.

This launcher runs the same moto application with one lock around every DynamoDB request, so the
local stack keeps DynamoDB's guarantee.

SQS has the same gap for receives: moto's ReceiveMessage checks "visible, and its FIFO group has
nothing in flight" and then marks the message received, with no lock between. With several
consumers of one queue (the local stack runs several instances of each function, as Lambda does)
two receives could get the same message, or two messages of one FIFO group, at once — which real
SQS never does. Receives on one queue are therefore serialised (one lock per queue URL; other
queues, sends and deletes stay concurrent). Same command line as `moto_server` (-H host, -p port).

    infra/.venv/bin/python infra/local/moto_server_atomic.py -H 127.0.0.1 -p 5000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterable

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

DYNAMODB_TARGET_PREFIX = "DynamoDB_"
SQS_RECEIVE_TARGET = "AmazonSQS.ReceiveMessage"


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, response body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.queue_locks: dict[str, threading.Lock] = {}
        self.queue_locks_guard = threading.Lock()

    def queue_lock(self, environ: dict[str, Any]) -> threading.Lock:
        """The lock of the queue a ReceiveMessage names (the JSON body is read and put back)."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            url = str(json.loads(raw or b"{}").get("QueueUrl", ""))
        except ValueError:
            url = ""
        name = url.rstrip("/").rsplit("/", 1)[-1]
        with self.queue_locks_guard:
            return self.queue_locks.setdefault(name, threading.Lock())

    def serialised(self, lock: threading.Lock, environ: dict[str, Any],
                   start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            body = self.app(environ, start_response)
            try:
                return list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(DYNAMODB_TARGET_PREFIX):
            return self.serialised(self.lock, environ, start_response)
        if target == SQS_RECEIVE_TARGET:
            return self.serialised(self.queue_lock(environ), environ, start_response)
        return self.app(environ, start_response)  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        AtomicDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
