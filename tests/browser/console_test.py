#!/usr/bin/env python3
"""The operator console in a real browser (Debian's Chromium, driven by Playwright).

Run by tests/tests/console_browser.rs, which starts the local stack, submits the orders and
quarantines the event this script expects, then checks what happened after it. Usage:

    console_test.py --base http://127.0.0.1:PORT/console --order ORD-B-1 --event evt_b_2 \
        [--screenshots docs/screenshots]

Prints one JSON object of findings; exit 0 when every check passed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def sign_in(page, base: str, user: str, role: str) -> None:
    page.goto(base)  # the redirect to index.html
    expect(page.locator(".dev-banner")).to_contain_text("DEV LOGIN")
    page.fill("#dev-user", user)
    page.select_option("#dev-role", role)
    page.click("#dev-login-button")
    expect(page.locator("#who")).to_contain_text(f"{user} ({role}")


def post_from_page(page, path: str, body: dict, csrf: bool) -> int:
    """A state change sent by the page's own origin, with or without the CSRF token."""
    return page.evaluate(
        """async ([path, body, csrf]) => {
            const s = await (await fetch("api/session")).json();
            const headers = {"content-type": "application/json"};
            if (csrf) headers["x-csrf-token"] = s.csrf;
            const r = await fetch("api" + path, {method: "POST", headers, body: JSON.stringify(body)});
            return r.status;
        }""",
        [path, body, csrf],
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--event", required=True)
    ap.add_argument("--dead-order", required=True, help="the order whose capture is dead-lettered")
    ap.add_argument("--screenshots", type=Path)
    args = ap.parse_args()
    shots = args.screenshots
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    found: dict = {}
    failures: list[str] = []

    def check(name: str, ok: bool, detail: object = "") -> None:
        found[name] = ok if not detail else {"ok": ok, "detail": detail}
        if not ok:
            failures.append(f"{name}: {detail}")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("O2C_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        errors: list[str] = []
        ctx = browser.new_context(viewport={"width": 1280, "height": 860})
        page = ctx.new_page()
        # Script exceptions and console errors; refused requests (the 401 before signing in,
        # the 403s this script provokes) are expected and show as "Failed to load resource".
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
                and errors.append(m.text))

        # The login page.
        page.goto(args.base)
        expect(page.locator("#dev-login")).to_be_visible()
        if shots:
            page.screenshot(path=str(shots / "console-login.png"))

        # Orders: find the order, open its timeline.
        sign_in(page, args.base, "olga", "operator")
        page.fill("#search-value", args.order)
        page.click("#order-search button")
        row = page.locator("#orders-table tbody tr", has_text=args.order)
        expect(row).to_have_count(1)
        check("order found by id", "Captured" in row.inner_text(), row.inner_text())
        row.click()
        timeline = page.locator("#order-timeline")
        expect(timeline).to_contain_text("order.received")
        check("timeline shows the capture", "Captured" in timeline.inner_text())
        check("ids shown", "cybersource" in page.locator("#order-ids").inner_text())
        if shots:
            page.screenshot(path=str(shots / "console-orders.png"), full_page=True)

        # Quarantine: the class and the suggested fix, a dry run, the replay.
        page.click("a[data-view=quarantine]")
        qrow = page.locator("#quarantine-table tbody tr", has_text=args.event)
        expect(qrow).to_have_count(1)
        check("quarantine shows the class", "missing_field" in qrow.inner_text(), qrow.inner_text())
        qrow.click()
        expect(page.locator("#quarantine-fix")).to_contain_text("customer.emailAddress")
        check("suggestion shown", "map customer.emailAddress -> customer.email"
              in page.locator("#quarantine-fix").inner_text())
        # No CSRF token, no change (the operator's own session).
        check("replay without CSRF refused",
              post_from_page(page, f"/quarantine/{args.event}/replay", {"dry_run": False}, False) == 403)
        check("logout without CSRF refused", post_from_page(page, "/logout", {}, False) == 403)
        page.click("#quarantine-dry-run")
        expect(page.locator("#quarantine-result")).to_contain_text("would_succeed")
        if shots:
            page.screenshot(path=str(shots / "console-quarantine.png"), full_page=True)
        page.click("#quarantine-replay")
        expect(page.locator("#quarantine-result")).to_contain_text("replayed")
        check("replayed", '"status":"accepted"' in page.locator("#quarantine-result").inner_text(),
              page.locator("#quarantine-result").inner_text())

        # Dead letters: the class, the suggested patch as a diff, a dry run, the replay.
        page.click("a[data-view=dead-letters]")
        drow = page.locator("#dlq-table tbody tr", has_text=args.dead_order)
        # A listing long-polls each of the five DLQs for a second (a short poll may miss
        # messages on SQS).
        expect(drow).to_have_count(1, timeout=20_000)
        check("dead letter class shown", "captures" in drow.inner_text() and "mapping" in drow.inner_text(),
              drow.inner_text())
        drow.click()
        diff = page.locator("#dlq-diff")
        expect(diff).to_contain_text('"capture"')
        check("patch shown as a diff",
              page.locator("#dlq-diff .del").count() >= 1 and page.locator("#dlq-diff .add").count() >= 1,
              diff.inner_text())
        page.click("#dlq-dry-run")
        expect(page.locator("#dlq-result")).to_contain_text("would-replay", timeout=20_000)
        if shots:
            page.screenshot(path=str(shots / "console-dead-letters.png"), full_page=True)
        page.click("#dlq-replay")
        expect(page.locator("#dlq-result")).to_contain_text("replayed", timeout=20_000)

        # The audit trail has both replays.
        page.click("a[data-view=audit]")
        expect(page.locator("#audit-table tbody tr").first).to_contain_text("dead-letters.replay")
        check("audit has the quarantine replay",
              "quarantine.replay" in page.locator("#audit-table").inner_text())
        if shots:
            page.screenshot(path=str(shots / "console-audit.png"), full_page=True)

        # A viewer: the button is disabled, and the server refuses the call anyway.
        vctx = browser.new_context(viewport={"width": 1280, "height": 860})
        vpage = vctx.new_page()
        sign_in(vpage, args.base, "vic", "viewer")
        vpage.click("a[data-view=quarantine]")
        vpage.locator("#quarantine-table tbody tr", has_text=args.event).click()
        expect(vpage.locator("#quarantine-replay")).to_be_disabled()
        check("viewer replay refused by the server",
              post_from_page(vpage, f"/quarantine/{args.event}/replay", {"dry_run": True}, True) == 403)
        vctx.close()
        check("no script errors on the page", not errors, errors)
        browser.close()

    print(json.dumps({"checks": found, "failures": failures}, indent=2))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
