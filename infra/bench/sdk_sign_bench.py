#!/usr/bin/env python3
"""The official Cybersource Python SDK's HTTP Signature signer, timed on the golden vectors
(read at run time from $CYBS_VECTORS_DIR, default shared/connectors/tests/vectors/). Run with
infra/bench/.venv/bin/python (the SDK is installed there; nothing of it is in this repository).

Two SDK paths, each checked against the vector's expected Signature before it is timed:
  sdk_headers  ApiClient.set_query_params + ApiClient.call_authentication_header: what the SDK
               runs for every request (v-c-merchant-id, Date, Host, Digest, Signature, ...)
  sdk_token    HTTPSignatureToken.get_token: the Signature header value alone (its digest,
               signing string and HMAC), the SDK's narrowest signing function
Like the vectors' generator, MerchantConfiguration.get_time is replaced on the instance by the
vector's date. Prints JSON: {path: {vector id: ns/op, "all": mean ns/op over all vectors}}.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")  # pkg_resources deprecation noise from the SDK

from CyberSource.api_client import ApiClient  # noqa: E402
from authenticationsdk.http.HTTPSignatureToken import HTTPSignatureToken  # noqa: E402


def vectors_dir() -> Path:
    d = os.environ.get("CYBS_VECTORS_DIR")
    if d:
        return Path(d)
    return Path(__file__).resolve().parents[2] / "shared" / "connectors" / "tests" / "vectors"


def load() -> list[dict]:
    out = []
    for f in sorted(vectors_dir().glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        if doc.get("kind") == "cybersource-http-signature":
            out.extend(doc["vectors"])
    if not out:
        sys.exit(f"no cybersource-http-signature vectors in {vectors_dir()}")
    return out


def make_client(inp: dict) -> ApiClient:
    c = ApiClient()
    c.set_configuration({
        "authentication_type": "http_signature",
        "merchantid": inp["merchant_id"],
        "run_environment": inp["host"],
        "merchant_keyid": inp["key_id"],
        "merchant_secretkey": inp["shared_secret_b64"],
    })
    date = inp["date"]
    c.mconfig.get_time = lambda: date
    return c


def prepare(v: dict):
    inp = v["input"]
    client = make_client(inp)
    method, body = inp["method"], inp["body"]
    query = [tuple(p) for p in inp["query_params"]]
    path = inp["path"]
    mconfig = client.mconfig
    date = inp["date"]

    def sdk_headers():
        target = client.set_query_params(path, query)
        headers: dict = {}
        client.call_authentication_header(method, headers, body, target)
        return headers["Signature"]

    def sdk_token():
        target = client.set_query_params(path, query)
        t = HTTPSignatureToken()
        t.http_signature_token(mconfig, date, method, target, body)
        return t.get_token()

    expected = v["output"]["headers"]["Signature"]
    for name, fn in (("sdk_headers", sdk_headers), ("sdk_token", sdk_token)):
        got = fn()
        if got != expected:
            sys.exit(f"{v['id']} {name}: SDK signature {got!r} != vector {expected!r}")
    return {"sdk_headers": sdk_headers, "sdk_token": sdk_token}


def time_ns_per_op(fn, min_time: float = 0.2, repeats: int = 5) -> float:
    """Median over `repeats` of (loop time / loops), loops calibrated to about `min_time` s."""
    n = 1
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        dt = time.perf_counter_ns() - t0
        if dt >= min_time * 1e9 * 0.5:
            break
        n *= 2
    n = max(1, int(n * (min_time * 1e9) / max(dt, 1)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(samples)


def main() -> int:
    vectors = load()
    fns = {v["id"]: prepare(v) for v in vectors}
    out: dict = {"vectors": len(vectors)}
    for path in ("sdk_headers", "sdk_token"):
        res = {vid: time_ns_per_op(f[path]) for vid, f in fns.items()}
        all_fns = [f[path] for f in fns.values()]

        def every():
            for f in all_fns:
                f()

        res["all"] = time_ns_per_op(every, min_time=0.5) / len(all_fns)
        out[path] = res
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
