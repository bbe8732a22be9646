#!/usr/bin/env python3
"""The Python side of the cold-start comparison: a tiny Lambda runtime client that imports
Cybersource's official SDK (`cybersource-rest-client-python`, package `CyberSource`) at init,
then polls the Runtime API's /next and answers `{}` to every event.

  BENCH_PY_VARIANT=bare      no SDK import (the interpreter's floor)
  BENCH_PY_VARIANT=import    `import CyberSource` (default)
  BENCH_PY_VARIANT=client    import + an ApiClient configured for HTTP Signature (ready to sign)
"""

import http.client
import os

variant = os.environ.get("BENCH_PY_VARIANT", "import")
if variant in ("import", "client"):
    import CyberSource  # noqa: F401  (the official SDK, cold-start cost under test)
if variant == "client":
    from CyberSource.api_client import ApiClient

    client = ApiClient()
    client.set_configuration({
        "authentication_type": "http_signature",
        "merchantid": "bench_merchant",
        "run_environment": "apitest.cybersource.com",
        "merchant_keyid": "00000000-0000-0000-0000-000000000000",
        "merchant_secretkey": "YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE=",
    })

conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=b"{}")
    conn.getresponse().read()
