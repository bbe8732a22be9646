"""moto's server with DynamoDB requests made atomic.

Real DynamoDB evaluates a ConditionExpression and applies the write as one atomic step; that is
what every claim, lease take-over and over-refund guard in this project relies on. moto's
threaded server does not: two concurrent UpdateItem calls on one item can both pass the same
condition (no lock between the check and the write). A CI run caught exactly that — two workers
racing on one message both "won" the claim and authorized twice on moto, a double charge that
real DynamoDB would have refused.

This launcher runs the same moto application with one lock around every DynamoDB request, so the
local stack keeps DynamoDB's guarantee. Other services (SQS long polls, Secrets Manager) stay
concurrent. Same command line as `moto_server` (-H host, -p port).

    infra/.venv/bin/python infra/local/moto_server_atomic.py -H 127.0.0.1 -p 5000
"""

from __future__ import annotations

import argparse
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


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, response body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)  # type: ignore[return-value]
        with self.lock:
            body = self.app(environ, start_response)
            try:
                return list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()


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
