#!/usr/bin/env python3
"""The console page's load in Chromium (Navigation Timing), for tests/examples/console_bench.rs:
a fresh browser context each round (cold cache), signed in once per context; prints the median
and worst time to the load event and to the orders view shown after sign-in."""
from __future__ import annotations

import argparse
import os
import statistics
import time

from playwright.sync_api import expect, sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    load, ready = [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("O2C_CHROMIUM", "/usr/bin/chromium"),
                              args=ARGS)
        for _ in range(a.rounds):
            ctx = b.new_context()
            page = ctx.new_page()
            page.goto(a.base + "/index.html")
            load.append(page.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd"))
            page.fill("#dev-user", "bench")
            t = time.perf_counter()
            page.click("#dev-login-button")
            expect(page.locator("#view-orders")).to_be_visible()
            ready.append((time.perf_counter() - t) * 1000)
            ctx.close()
        b.close()
    print(f"| Chromium: first load of the page, to the load event (fresh context) | "
          f"{statistics.median(load):.1f} | | {max(load):.1f} |")
    print(f"| Chromium: sign-in click to the orders view | {statistics.median(ready):.1f} | | "
          f"{max(ready):.1f} |")


if __name__ == "__main__":
    main()
