"""A moto server for the Python tests: start it on a free loopback port, wait until it answers,
stop it. One place for what test_provision, test_cardscan and test_moto_atomic all need."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_binary() -> str:
    """MOTO_SERVER_BIN, else the local stack's moto (atomic DynamoDB writes)."""
    return os.environ.get("MOTO_SERVER_BIN") or str(HERE / "moto-server")


def start(binary: str | None = None, log: IO[str] | None = None,
          timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """(process, endpoint) of a moto server that answers; stopped again if it never does."""
    binary = binary or default_binary()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=out, stderr=subprocess.STDOUT if log is not None else out)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return proc, endpoint
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"{binary} did not start on {endpoint}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
