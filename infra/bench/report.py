#!/usr/bin/env python3
"""Writes BENCHMARKS.md from one scripts/bench.sh run: run_stack.py's JSON (cold start, orders,
throughput), sdk_sign_bench.py's JSON (the official Python SDK's signer) and criterion's estimates for our
signer (target/criterion/cybs_http_signature/*/new/estimates.json). Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Published prices, us-east-1, as the bench states them. Sources and dates are printed with them.
PRICES = {
    "sqs_fifo_per_million": 0.50,
    "ddb_wru_per_million": 0.625,
    "ddb_rru_per_million": 0.125,
    "lambda_requests_per_million": 0.20,
    "lambda_gb_s": {"arm64": 0.0000133334, "x86_64": 0.0000166667},
}
PRICE_SOURCES = [
    ("Amazon SQS FIFO: $0.50 per million requests (each 64 KB chunk of a payload is one request; "
     "first 1 million requests a month free)",
     "AWS What's New, 2016-11-17, \"Amazon SQS introduces FIFO queues ... $0.50 per million API requests\"; "
     "unchanged on third-party summaries of aws.amazon.com/sqs/pricing dated 2026-03 and 2026-06"),
    ("Amazon DynamoDB on-demand, standard table class: $0.625 per million write request units, "
     "$0.125 per million read request units",
     "aws.amazon.com/dynamodb/pricing/on-demand (unit definitions: 1 WRU = one write of up to 1 KB; "
     "1 RRU = one strongly consistent read of up to 4 KB); figures after the 2024-11-01 50 % on-demand "
     "price cut, as quoted by third-party summaries dated 2025-07-21 and 2025-08-19 (the AWS page renders "
     "its rates client-side, so the search tool could not read them there)"),
    ("AWS Lambda: $0.20 per million requests; duration $0.0000133334 per GB-s (arm64) / "
     "$0.0000166667 per GB-s (x86_64), first tier",
     "aws.amazon.com/lambda/pricing (US East, N. Virginia; same figures in artillery's Lambda price table "
     "and a 2024 third-party breakdown)"),
    ("Event source mapping polls are billed to you as SQS requests (ReceiveMessage, DeleteMessage, "
     "empty receives included)",
     "AWS Knowledge Center, \"Why are my Amazon SQS charges higher than expected?\" (last updated "
     "2021-07-23): with an SQS queue configured to invoke Lambda, \"the Lambda long polls the queue\" "
     "and the empty receives are charged per Amazon SQS pricing"),
]
PRICES_AS_OF = "prices as published on the pages above; read 2026 (this run's date is in the header)"


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {"nproc": sh("nproc"), "memory": mem, "cpu": cpu, "kernel": platform.release(),
            "arch": platform.machine(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def lock_version(name: str) -> str:
    text = (REPO / "Cargo.lock").read_text(encoding="utf-8")
    m = re.search(r'name = "' + re.escape(name) + r'"\nversion = "([^"]+)"', text)
    return m.group(1) if m else "?"


def profile_description(name: str) -> str:
    """The cargo profile the binaries were built with, and its settings as Cargo.toml declares them
    ([profile.<name>] and the profiles it inherits from; the rest are Cargo's defaults)."""
    try:
        profiles = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8")).get("profile", {})
    except (OSError, tomllib.TOMLDecodeError):
        return f"cargo profile `{name}`"
    chain: list[str] = []
    settings: dict = {}
    cur: str | None = name
    while cur and cur not in chain:
        chain.append(cur)
        prof = profiles.get(cur, {})
        for k, v in prof.items():
            if k not in ("inherits", "package", "build-override"):
                settings.setdefault(k, v)
        cur = prof.get("inherits") or {"bench": "release", "test": "dev"}.get(cur)
    declared = [f"[profile.{c}]" for c in chain if c in profiles]
    if not declared:
        return f"cargo profile `{name}` (Cargo's defaults; Cargo.toml declares no [profile.{name}])"
    values = ", ".join(f"{k} {json.dumps(v)}" for k, v in settings.items())
    return (f"cargo profile `{name}` (Cargo.toml {' + '.join(declared)}: {values}; anything else Cargo's "
            f"`{chain[-1]}` defaults)")


def criterion_ns(crit_dir: Path) -> dict[str, float]:
    out = {}
    for est in sorted(crit_dir.glob("*/new/estimates.json")):
        d = json.loads(est.read_text())
        out[est.parent.parent.name] = d["median"]["point_estimate"]
    return out


def fmt_ms(x: float | None) -> str:
    return "—" if x is None else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def fmt_ns(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def section_coldstart(cs: dict, lines: list[str]):
    base_label = "python + import CyberSource"
    base = cs.get(base_label, {}).get("median_ms")
    lines += [
        "## 1. Cold start: process start → first `GET /2018-06-01/runtime/invocation/next`",
        "",
        "Each binary runs under a minimal local Lambda Runtime API (`infra/bench/lambda_stub.py`), with "
        "the function's template environment and the provisioned local stack's variables; the Rust "
        "functions build their AWS SDK clients and read their secrets from the local Secrets Manager "
        "(moto) before they poll. Cases run interleaved round by round (A, B, C, …, A, B, C, …) so the "
        "machine's noise hits all of them alike; warm-up rounds are discarded. The Python side is a "
        "minimal runtime client that imports the official SDK (`import CyberSource`, "
        "cybersource-rest-client-python 0.0.80) and then polls the same stub; it reads no secret, so "
        "the comparison leans in Python's favour.",
        "",
        "| binary | median ms | p90 ms | × faster than Python+SDK (median) | peak RSS at first /next (MiB) | "
        "binary (MiB) | secrets read at init | memory in template (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in cs.items():
        ratio = f"{base / r['median_ms']:.1f}×" if base and r["kind"] != "python" else (
            "1.0× (baseline)" if label == base_label else f"{base / r['median_ms']:.2f}×" if base else "—")
        rss = f"{r['peak_rss_kb_median'] / 1024:.1f}" if r.get("peak_rss_kb_median") else "—"
        size = f"{r['binary_bytes'] / 1048576:.1f}" if r.get("binary_bytes") else "—"
        sec = "—" if r.get("secrets_read_at_init") is None else str(r["secrets_read_at_init"])
        lines.append(f"| {label} | {fmt_ms(r['median_ms'])} | {fmt_ms(r['p90_ms'])} | {ratio} | {rss} | "
                     f"{size} | {sec} | {r.get('memory_mb') or '—'} |")
    rust = [r["median_ms"] for r in cs.values() if r["kind"] == "rust"]
    if rust and base:
        lines += ["", f"Across the {len(rust)} functions the median cold start is {min(rust):.1f}–"
                      f"{max(rust):.1f} ms against {base:.0f} ms for Python + the SDK import "
                      f"({base / max(rust):.0f}–{base / min(rust):.0f}× faster). Runs per case: "
                      f"{next(iter(cs.values()))['runs']}."]
    variants = {k: v for k, v in cs.items() if v["kind"] == "rust-variant"}
    for label, v in variants.items():
        fn = label.split("@", 1)[0]
        if fn in cs:
            d = v["median_ms"] - cs[fn]["median_ms"]
            lines += ["", f"`{label}` (aws-lc with its CPU-jitter entropy source, "
                          f"`AWS_LC_SYS_NO_JITTER_ENTROPY=0`) vs `{fn}` (the shipped build: "
                          f"`.cargo/config.toml` turns jitter entropy off), same run: median "
                          f"{v['median_ms']:.1f} vs {cs[fn]['median_ms']:.1f} ms ({abs(d):.1f} ms "
                          f"{'more' if d >= 0 else 'less'} with jitter entropy). The cost lands where "
                          f"the process first draws random bytes: here the secret read is plain HTTP "
                          f"to moto, on AWS it is the first TLS handshake during init, so this local "
                          f"figure understates it (a direct measurement of the first random bytes: "
                          f"~57 ms with, ~0.05 ms without, README \"Function binaries\")."]
    lines.append("")


def section_signing(ours: dict[str, float], sdk: dict, lines: list[str]):
    n = sdk["vectors"]
    all_key = next((k for k in ours if k.startswith("all_")), None)
    lines += [
        "## 2. Cybersource HTTP Signature: ours vs the official Python SDK, same vectors",
        "",
        f"All {n} vectors of `shared/connectors/tests/vectors/cybersource-http-signature.json` "
        "(or of `CYBS_VECTORS_DIR`), read at run time; before timing, both sides reproduce every vector's "
        "`Signature` byte for byte. One operation = build the request target from path + query and "
        "sign. Ours: `o2c_connectors::cybersource::HttpSignatureSigner::sign` (criterion, median; "
        "`shared/connectors/benches/cybs_signing.rs`). SDK: `ApiClient.set_query_params` + "
        "`ApiClient.call_authentication_header` (every header the SDK sends, its per-request path) and "
        "`authenticationsdk.http.HTTPSignatureToken.get_token` (the `Signature` value alone), median "
        "of 5 calibrated loops (`infra/bench/sdk_sign_bench.py`).",
        "",
        "| vector | ours ns/op | SDK headers ns/op | × | SDK Signature only ns/op | × |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    if all_key:
        o = ours[all_key] / n
        h, t = sdk["sdk_headers"]["all"], sdk["sdk_token"]["all"]
        lines.append(f"| **mean over all {n}** | **{fmt_ns(o)}** | **{fmt_ns(h)}** | **{h / o:.0f}×** | "
                     f"**{fmt_ns(t)}** | **{t / o:.0f}×** |")
    for vid in sorted(k for k in sdk["sdk_headers"] if k != "all"):
        if vid not in ours:
            continue
        o, h, t = ours[vid], sdk["sdk_headers"][vid], sdk["sdk_token"][vid]
        lines.append(f"| {vid} | {fmt_ns(o)} | {fmt_ns(h)} | {h / o:.0f}× | {fmt_ns(t)} | {t / o:.0f}× |")
    lines.append("")


def section_orders(o: dict, lines: list[str], profile: str = "release"):
    n = o["orders"]
    counts = o["counts"]
    per: dict[tuple, float] = {}
    for c in counts:
        per[(c["who"], c["service"], c["action"])] = c["n"] / n
    lines += [
        "## 3. Billable DynamoDB and SQS requests per order (happy path) and cost per million orders",
        "",
        f"{n} accepted orders (Decision Manager ACCEPT → authorize → capture → Clarity and ERP sync) "
        f"through the `{profile}`-profile binaries: each function behind `lambda_stub.py`'s Invoke API / "
        f"function URL, the SQS bridge (`o2c-local-bridge`, `{profile}`) in the role of Lambda's event source "
        "mappings, and "
        "a counting proxy (`infra/bench/aws_counter.py`) in front of moto that reads the API name "
        "from each request (moto's own log shows only `POST /`). The functions and the bridge talk to "
        "the proxy on separate ports, so every request is attributed. Two warm-up orders settle first "
        "(cold starts, OAuth tokens, secret cache), then the counters are reset. Final states: "
        + ", ".join(f"{k} {v}" for k, v in o["final_states"].items())
        + (f"; not settled: {o['not_settled']}" if o["not_settled"] else "")
        + f"; every queue and DLQ empty at the end: {'yes' if not any(o['queue_depths_after'].values()) else 'NO ' + str(o['queue_depths_after'])}.",
        "",
        "| caller | service | API | requests per order |",
        "|---|---|---|---:|",
    ]
    for (who, svc, act), v in sorted(per.items()):
        who_label = "bridge = event source mapping" if who == "esm-bridge" else "our functions"
        lines.append(f"| {who_label} | {svc} | {act} | {v:.2f} |")
    fn_sqs = sum(v for (w, s, a), v in per.items() if w == "functions" and s == "sqs")
    esm_sqs = sum(v for (w, s, a), v in per.items() if w == "esm-bridge" and s == "sqs" and "empty" not in a)
    ddb_req = sum(v for (w, s, a), v in per.items() if s == "dynamodb")
    wru, rru = o["ddb_write_request_units"] / n, o["ddb_read_request_units"] / n
    inv = o["invocations"]
    inv_total = sum(inv.values()) / n
    gb_s = 0.0
    for fn, ms in o["invocation_ms"].items():
        mem = o["functions"][fn]["memory_mb"]
        gb_s += sum(-(-x // 1) for x in ms) / 1000.0 * mem / 1024.0
    gb_s /= n
    arch = next(iter(o["functions"].values()))["arch"]
    p = PRICES
    c_sqs = (fn_sqs + esm_sqs) * p["sqs_fifo_per_million"]
    c_ddb = wru * p["ddb_wru_per_million"] + rru * p["ddb_rru_per_million"]
    c_lreq = inv_total * p["lambda_requests_per_million"]
    c_ldur = gb_s * 1e6 * p["lambda_gb_s"].get(arch, p["lambda_gb_s"]["x86_64"])
    lines += [
        "",
        f"DynamoDB: {ddb_req:.2f} requests per order = {wru:.2f} write request units + {rru:.2f} read "
        f"request units. Units follow item size: the order item (state + timeline) is "
        f"{o['order_item_bytes_median']} bytes (median at the end, max {o['order_item_bytes_max']}), so each "
        f"conditional UpdateItem on it costs {-(-o['order_item_bytes_median'] // 1024)} WRU; PutItems are "
        f"sized from the item sent, UpdateItems from the item's final size (an upper bound: items only "
        f"grow on this path). SQS messages are at most {o['sqs_send_bytes_max']} bytes per request "
        f"(one 64 KB chunk each).",
        "",
        f"SQS: {fn_sqs:.2f} SendMessage per order from our functions and {esm_sqs:.2f} requests per order "
        f"from the event source mapping's side (ReceiveMessage that returned messages, DeleteMessage, "
        f"ChangeMessageVisibility). In AWS the mapping's polls are billed to you as SQS requests (source "
        f"below). The local bridge deletes message by message; the real mapping deletes in batches "
        f"(DeleteMessageBatch), so its share here is an upper bound. Empty receives are not per order: "
        f"they cost per queue and per unit of time (each mapping long-polls, 20 s), whatever the volume.",
        "",
        f"Lambda: {inv_total:.2f} invocations per order ("
        + ", ".join(f"{k} {v / n:.2f}" for k, v in inv.items() if v)
        + f"), {gb_s * 1000:.2f} GB-ms per order at the template's memory sizes "
        f"({', '.join(sorted({str(f['memory_mb']) + ' MB' for f in o['functions'].values()}))}, {arch}), "
        f"from durations measured here (each rounded up to 1 ms). Those durations are local: moto and the "
        f"Python simulators answer in a few ms, where the real Cybersource, NetSuite and Salesforce "
        f"answer in hundreds, so on AWS the duration share is dominated by those calls' latency.",
        "",
        "| cost per 1,000,000 orders | requests / units per order | USD |",
        "|---|---:|---:|",
        f"| SQS FIFO requests (functions + event source mapping) | {fn_sqs + esm_sqs:.2f} | {c_sqs:,.2f} |",
        f"| DynamoDB on-demand (WRU + RRU) | {wru:.2f} + {rru:.2f} | {c_ddb:,.2f} |",
        f"| Lambda requests | {inv_total:.2f} | {c_lreq:,.2f} |",
        f"| Lambda duration (local durations, see above) | {gb_s * 1000:.2f} GB-ms | {c_ldur:,.2f} |",
        f"| **total** | | **{c_sqs + c_ddb + c_lreq + c_ldur:,.2f}** |",
        "",
        "Not in the table: API Gateway (one HTTP API request per order for the webhook), Secrets Manager "
        "(read at cold start and every `SECRET_CACHE_TTL_SECS`, not per order: no GetSecretValue was made "
        "during the measured orders), CloudWatch logs and metrics, free tiers.",
        "",
    ]


CPU_GROUPS = [  # run_stack.py's group keys, in table order
    ("ours", "our processes: the Rust function binaries + `o2c-local-bridge`"),
    ("aws", "local AWS: moto + the counting proxy (`aws_counter.py`)"),
    ("sims", "simulators: Cybersource, Clarity, NetSuite, Salesforce (`sandbox.py`, one Python process)"),
    ("stub", "Lambda runtime stub (`lambda_stub.py`, Python): stands in for the Lambda service"),
    ("driver", "bench driver (`run_stack.py`: the senders, the completion poller)"),
]


def fmt_lat(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def section_throughput(t: dict, lines: list[str], profile: str = "release"):
    n, done = t["orders"], t["completed"]
    lat, lat_sub = t["latency_ms"], t["latency_from_submit_ms"]
    cpu, idle = t["cpu"], t.get("cpu_idle") or {}
    groups = cpu["groups_s"]
    run_cpu = sum(groups.values())
    idle_rate = {g: v / idle["window_s"] for g, v in (idle.get("groups_s") or {}).items()} if idle else {}
    probe = t.get("unloaded_latency_ms") or []
    probe_med = sorted(probe)[len(probe) // 2] if probe else None
    tp = t["throughput_per_s"]
    lines += [
        f"## 4. Throughput and latency: {n:,} orders, webhook → Clarity `payment_received`",
        "",
        f"{n:,} accepted orders submitted by {t['senders']} concurrent senders, in the same stack run as "
        f"section 3 and through the same `{profile}`-profile binaries and bridge. Each sender asks the Clarity "
        "simulator (admin API) to create an order; the simulator signs its `order.created` webhook and POSTs "
        "it to `clarity-order-webhook`'s function URL, and answers once the webhook is answered, so each "
        "sender has one webhook in flight at a time. From there the pipeline runs on its own (SQS → "
        "authorize → capture → clarity-sync, which PATCHes the Clarity order to `payment_received`, and "
        "erp-sync). **Latency** runs from the simulator's timestamp of the webhook's first delivery attempt "
        "to its timestamp of the order's status change to `payment_received` (the `statusHistory` entry, "
        "ms resolution): both are taken by the simulator on one clock, so how often the harness polls "
        "changes nothing. **Throughput** = orders completed / (first submit → last `payment_received`). "
        "Two warm-up orders settle first, then "
        f"{len(probe)} orders go one at a time (the unloaded latency below), then the load.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| orders submitted / reached `payment_received` | {t['submitted']:,} / **{done:,}**"
        + (f" ({t['rejected']} webhook(s) not accepted)" if t["rejected"] else "") + " |",
        f"| wall time, first submit → last `payment_received` | {t['wall_s']:.1f} s |",
        f"| **throughput** | **{tp:.1f} orders/s** |" if tp else "| throughput | — |",
        f"| all {t['submitted']:,} webhooks answered after | {t['submit_span_s']:.1f} s |",
        f"| latency webhook → `payment_received`: **p50** / p90 / **p99** / max | **{fmt_lat(lat['p50'])}** / "
        f"{fmt_lat(lat['p90'])} / **{fmt_lat(lat['p99'])}** / {fmt_lat(lat['max'])} ms |",
        f"| same from the sender's submit (includes creating the order) p50 / p99 | "
        f"{fmt_lat(lat_sub['p50'])} / {fmt_lat(lat_sub['p99'])} ms |",
        f"| unloaded latency, {len(probe)} orders one at a time: median (min–max) | {fmt_lat(probe_med)} "
        f"({fmt_lat(min(probe, default=None))}–{fmt_lat(max(probe, default=None))}) ms |",
        "",
        (f"Under this load orders wait: the loaded p50 is {lat['p50'] / probe_med:.0f}× the unloaded median "
         "(the senders' last webhook was answered "
         f"{t['submit_span_s']:.0f} s into the {t['wall_s']:.0f} s), so the loaded latency is mostly time spent "
         "queued (in SQS and for a function's turn): it measures this run's backlog, not what one order takes "
         "(that is the unloaded line). "
         if lat["p50"] and probe_med and lat["p50"] > 3 * probe_med else
         "The loaded latency stays close to the unloaded one: the pipeline kept up with the senders. ")
        + "The stub runs one process per function and one invocation at a time "
        "per function (as with a reserved concurrency of 1), where Lambda would add execution environments "
        "under load; everything, the functions, moto and the simulators, shares this machine's "
        f"{cpu['ncpu']} CPUs, so the throughput is this machine's, not the integration's ceiling.",
        "",
        f"CPU: utime + stime (`/proc/<pid>/stat`, every thread; children reaped meanwhile included) of "
        f"every process of the run, sampled right before the first submit and again once every queue had "
        f"been empty for 4 s after the last order (so each order's ERP sync is in): a window of "
        f"{cpu['window_s']:.1f} s. Share = of all the run's CPU time. The idle column is the same stack "
        f"measured for {idle.get('window_s', 0):.0f} s with no order in flight just before (pollers, long "
        "polls): that much of each group's time is there whatever the volume.",
        "",
        "| process group | CPU s | share | CPU ms per order | idle: CPU ms per s |",
        "|---|---:|---:|---:|---:|",
    ]
    def row(label: str, v: float, idle_ms_per_s: float | None, bold: bool = False) -> str:
        b = "**" if bold else ""
        share = f"{v / run_cpu:.1%}" if run_cpu else "—"
        per_order = f"{v * 1000 / done:.1f}" if done else "—"
        idle_col = "—" if idle_ms_per_s is None else f"{idle_ms_per_s:.0f}"
        return f"| {b}{label}{b} | {b}{v:.1f}{b} | {b}{share}{b} | {b}{per_order}{b} | {idle_col} |"

    for key, label in CPU_GROUPS:
        if key in groups:
            lines.append(row(label, groups[key], idle_rate[key] * 1000 if key in idle_rate else None, key == "ours"))
    other = max(0.0, cpu["machine_busy_s"] - run_cpu)
    lines += [
        row("all processes of the run", run_cpu, sum(idle_rate.values()) * 1000 if idle_rate else None),
        f"| (not this run: the machine's other processes) | {other:.1f} | — | — | — |",
        "",
    ]
    procs = {r["name"]: r["cpu_s"] for r in cpu["processes"] if r["group"] == "ours"}
    others = {r["name"]: r["cpu_s"] for r in cpu["processes"] if r["group"] != "ours"}
    fn_only = sum(v for k, v in procs.items() if k != "o2c-local-bridge")
    top = max(((r["name"], r["cpu_s"], r["group"]) for r in cpu["processes"]), key=lambda x: x[1], default=None)
    inv = t.get("invocations") or {}
    per = {}
    for c in t.get("counts") or []:
        per[(c["who"], c["service"])] = per.get((c["who"], c["service"]), 0) + c["n"]
    if done:
        lines += [
            "Our processes by binary: " + ", ".join(f"{k} {v:.2f} s" for k, v in
                                                    sorted(procs.items(), key=lambda kv: -kv[1]))
            + "; the others: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(others.items(), key=lambda kv: -kv[1]))
            + f". The function binaries alone: {fn_only * 1000 / done:.1f} CPU ms per order; the bridge does "
            "what Lambda's event source mappings do on AWS, so there its share is not ours to run. The stub "
            "is not our code either: it plays the Lambda service (Runtime API, Invoke API, function URLs: "
            "HTTP ↔ event JSON), work that on AWS is Lambda's own and not billed as function time. moto, the "
            "proxy and the simulators stand in for DynamoDB/SQS and the third-party APIs.",
            "",
            (f"The largest single consumer was {top[0]} ({top[1]:.0f} s, {top[1] / run_cpu:.0%} of the run's CPU)"
             + (": a stand-in, not our code, so this local throughput is bounded by it rather than by our "
                "binaries. " if top[2] != "ours" else ". ") if top and run_cpu else "")
            + f"During the window the machine's CPUs were busy {cpu['machine_busy_s']:.0f} of "
            f"{cpu['machine_total_s']:.0f} CPU-s ({cpu['machine_busy_s'] / max(cpu['machine_total_s'], 1e-9):.0%}); "
            f"this run used {run_cpu:.0f} of them"
            + (", the rest went to other processes on this shared machine, so the wall-clock figures (throughput, "
               "latency) are pessimistic; CPU seconds suffer less from it" if other > 0.25 * run_cpu else "")
            + f". Under this load: {sum(inv.values()) / done:.2f} Lambda "
            f"invocations per order ("
            + ", ".join(f"{k} {v / done:.2f}" for k, v in inv.items() if v)
            + f"), {per.get(('functions', 'dynamodb'), 0) / done:.2f} DynamoDB and "
            f"{per.get(('functions', 'sqs'), 0) / done:.2f} SQS requests per order from the functions, "
            f"{per.get(('esm-bridge', 'sqs'), 0) / done:.2f} SQS requests per order from the bridge (empty "
            "receives included). Final order states: "
            + ", ".join(f"{k} {v:,}" for k, v in t["final_states"].items())
            + f"; every queue and DLQ empty at the end: "
            + ("yes" if not any(t["queue_depths_after"].values()) else "NO " + str(t["queue_depths_after"]))
            + (f"; not at `payment_received` within {t['timeout_s']:.0f} s: {n - done}" if done < n else "")
            + ".",
            "",
        ]


ROUTING_START = "<!-- routing: written by scripts/bench-routing.sh -->"
ROUTING_END = "<!-- /routing -->"


BINARIES_START = "<!-- binaries: written by scripts/bench-binaries.sh -->"
BINARIES_END = "<!-- /binaries -->"


SPEC_START = "<!-- spec: written by scripts/bench-spec.sh -->"
SPEC_END = "<!-- /spec -->"


def place_block(out: Path, start_mark: str, end_mark: str, block: str) -> None:
    """Write `block` (which starts with `start_mark` and ends with `end_mark`) into `out`: in place
    of the old one, else before "## Prices used", else at the end. For the sections that other
    scripts write (bench-routing.sh, bench-binaries.sh); this file's main() keeps them."""
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n"
    if start_mark in text and end_mark in text:
        text = text[:text.index(start_mark)] + block + text[text.index(end_mark) + len(end_mark):]
    elif "## Prices used" in text:
        i = text.index("## Prices used")
        text = text[:i] + block + "\n\n" + text[i:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    out.write_text(text, encoding="utf-8")


def kept_block(out: Path, start_mark: str, end_mark: str) -> list[str]:
    """A section another script writes (between its two markers), kept from the current file."""
    try:
        text = out.read_text(encoding="utf-8")
    except OSError:
        return []
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        return []
    return text[start:end + len(end_mark)].split("\n") + [""]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--started", type=float, required=True, help="epoch seconds when bench.sh started")
    ap.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    ap.add_argument("--note", default=os.environ.get("BENCH_NOTE", ""), help="one line for the header")
    ap.add_argument("--profile", default="release", help="the cargo profile the binaries were built with")
    a = ap.parse_args()
    stack = json.loads(Path(a.stack).read_text())
    sdk = json.loads(Path(a.sdk).read_text())
    ours = criterion_ns(Path(a.criterion))
    m = machine()
    now = datetime.now(timezone.utc)
    dirty = " (uncommitted changes)" if sh("git", "status", "--porcelain", "--untracked-files=no") else ""
    sdk_py = REPO / "infra/bench/.venv/bin/python"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench.sh` — do not edit by hand. Every comparison below is measured side "
        "by side in one run on one machine; the machine is shared and noisy, so read the **ratios**, not "
        "the absolute numbers.",
        "",
        f"- date: {now:%Y-%m-%d %H:%M} UTC; commit `{sh('git', 'rev-parse', '--short', 'HEAD')}`{dirty}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}, {m['arch']}), {m['memory']} RAM, kernel {m['kernel']}; "
        f"load average at the end {m['load']}",
        f"- tools: {sh('rustc', '--version')}; {sh('cargo', '--version')}; functions and bridge built with "
        f"{profile_description(a.profile)}, host target; criterion "
        f"{lock_version('criterion')}; {sh(str(sdk_py), '--version')} with cybersource-rest-client-python "
        f"0.0.80 (`infra/bench/requirements-sdk.txt`); moto "
        f"{sh(str(REPO / 'infra/.venv/bin/python'), '-c', 'import moto; print(moto.__version__)')}",
        f"- bench.sh wall time: {(time.time() - a.started) / 60:.1f} min (including the `{a.profile}` build)",
    ]
    if a.note:
        lines.append(f"- note: {a.note}")
    lines.append("")
    missing = [k for k in stack["coldstart"] if stack["coldstart"][k]["kind"] == "rust"
               and k not in stack.get("template_functions", {})]
    if missing:
        lines[-1:] = [f"- note: the template of this commit declares none of {', '.join(missing)}; those "
                      f"ran with 256 MB / arm64 / timeout 30 s, the template's usual settings", ""]
    section_coldstart(stack["coldstart"], lines)
    section_signing(ours, sdk, lines)
    section_orders(stack["orders"], lines, a.profile)
    if stack.get("throughput"):
        section_throughput(stack["throughput"], lines, a.profile)
    # Sections other scripts write (they need no full run): kept as they are.
    lines += kept_block(Path(a.out), ROUTING_START, ROUTING_END)
    lines += kept_block(Path(a.out), BINARIES_START, BINARIES_END)
    lines += kept_block(Path(a.out), SPEC_START, SPEC_END)
    lines += ["## Prices used", "", f"us-east-1, {PRICES_AS_OF}.", ""]
    for what, src in PRICE_SOURCES:
        lines.append(f"- {what}. Source: {src}.")
    lines += [
        "",
        "## Not measured here",
        "",
    ]
    if not stack.get("throughput"):
        lines.append("- Throughput and p50/p99 webhook → `payment_received` latency with the CPU share of our "
                     "processes: skipped in this run (`BENCH_THROUGHPUT_ORDERS=0`).")
    lines += [
        "- The template deploys arm64; these binaries are x86_64 builds for this host (no cross "
        "toolchain needed), so cold start and peak RSS are indicative for arm64 too, not identical.",
        "",
    ]
    Path(a.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
