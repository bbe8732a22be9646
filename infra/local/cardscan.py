#!/usr/bin/env python3
"""Card-data scan: is a card number anywhere it must never be?

Scans every DynamoDB item (Scan, consistent), every message of every SQS queue and DLQ (peeked:
ReceiveMessage with VisibilityTimeout=0, nothing deleted), and every log file named on the
command line for a run of 13-19 digits that passes Luhn -- the rule of
`o2c_domain::card::find_card_number`, re-implemented here byte for byte (digits may be separated
by single spaces or dashes; the whole run must be 13-19 digits, so a window inside a longer
number is not a match). `tests/tests/bad_input.rs` cross-checks the two implementations on
shared and random cases.

    infra/.venv/bin/python infra/local/cardscan.py                      # the local stack
    infra/.venv/bin/python infra/local/cardscan.py --env-file ENV LOG...  # another env, + logs
    infra/.venv/bin/python infra/local/cardscan.py --no-aws LOG...        # logs only
    infra/.venv/bin/python infra/local/cardscan.py --json ...             # machine-readable

Connection: `AWS_ENDPOINT_URL`, `AWS_REGION` and the dummy credentials from the env file
(default infra/local/.state/local.env, written by infra/local/up.sh), or `--endpoint`. Every
table (ListTables) and every queue (ListQueues) on that endpoint is scanned, not only the ones
the env file names. Loopback endpoints only unless `--allow-remote`.

Prints one line per source (table, queue, log file) with what was read and how many card-number
hits were found; for a hit only its location (item key, message id, line number, byte offset)
and its digit count, never a digit of it. Exit status: 0 when nothing is found, 1
when any hit is found, 2 on a usage or connection error.

Queue caveats (printed when they apply): peeking is a receive, so it adds one to each message's
ApproximateReceiveCount (run the scan after a run, not during one); and on a real FIFO queue a
message group whose first messages are in flight hides the rest of the group -- when fewer
messages were seen than the queue reports, the line says `incomplete`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENV = ROOT / "infra/local/.state/local.env"

# ---------------------------------------------------------------------------------------------
# The rule (mirror of shared/domain/src/card.rs)
# ---------------------------------------------------------------------------------------------

_DIGITS = frozenset(b"0123456789")


def luhn(digits: list[int]) -> bool:
    """The Luhn (mod 10) check over digit values 0-9."""
    total = 0
    for k, d in enumerate(reversed(digits)):
        if k % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _alpha(b: int | None) -> bool:
    return b is not None and (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A)


def part_of_identifier(data: bytes, start: int, end: int) -> bool:
    """A run that is a piece of a longer identifier: glued to an ASCII letter on either side (hex
    hashes, TMS ids), or, for a dashed run, continued by '-' and a letter or digit (UUIDs).
    Mirror of Rust's `part_of_identifier`."""
    before = data[start - 1] if start > 0 else None
    after = data[end] if end < len(data) else None
    nxt = data[end + 1] if end + 1 < len(data) else None
    dashed = 0x2D in data[start:end]
    return (_alpha(before) or _alpha(after)
            or (dashed and after == 0x2D and nxt is not None and (_alpha(nxt) or nxt in _DIGITS)))


def find_card_numbers(data: bytes) -> Iterator[tuple[int, int]]:
    """Byte ranges [start, end) of every card-number-like run, left to right.

    The first range is exactly what `find_card_number` in Rust returns (the Rust function stops
    there; this one carries on the same way to count every hit)."""
    n = len(data)
    i = 0
    while i < n:
        if data[i] not in _DIGITS or (i > 0 and data[i - 1] in _DIGITS):
            i += 1
            continue
        digits: list[int] = []
        ends: list[int] = []
        j = i
        while j < n:
            b = data[j]
            if b in _DIGITS:
                digits.append(b - 48)
                ends.append(j + 1)
                j += 1
            elif (b == 0x20 or b == 0x2D) and j + 1 < n and data[j + 1] in _DIGITS \
                    and j > i and data[j - 1] in _DIGITS:
                j += 1
            else:
                break
        if 13 <= len(digits) <= 19 and luhn(digits) and not part_of_identifier(data, i, j):
            yield (i, ends[len(digits) - 1])
        i = max(j, i + 1)


def find_card_number(data: bytes) -> tuple[int, int] | None:
    """The first hit, as Rust's `find_card_number` (None when there is none)."""
    return next(find_card_numbers(data), None)


def redact(text: str) -> str:
    """`text` with every card-number-like run replaced by `****` (for locations we print)."""
    data = text.encode()
    out, last = [], 0
    for a, b in find_card_numbers(data):
        out += [data[last:a], b"****"]
        last = b
    out.append(data[last:])
    return b"".join(out).decode("utf-8", "replace")


def mask(data: bytes, span: tuple[int, int]) -> str:
    run = data[span[0]:span[1]]
    return f"****({sum(1 for b in run if b in _DIGITS)} digits)"


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


# Field names whose values are not scanned (`--ignore-field`); empty by default.
IGNORED_FIELDS: frozenset[str] = frozenset()


def split_ignored(data: bytes) -> tuple[bytes, list[bytes]]:
    """For JSON text: (the text with every value of an ignored field nulled, those values).
    Anything else, or nothing to ignore: (data, [])."""
    if not IGNORED_FIELDS or data.lstrip()[:1] not in (b"{", b"["):
        return data, []
    try:
        doc = json.loads(data)
    except ValueError:
        return data, []
    dropped: list[bytes] = []

    def walk(v):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in IGNORED_FIELDS:
                    dropped.append(json.dumps(x, ensure_ascii=False).encode())
                    out[k] = None
                else:
                    out[k] = walk(x)
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    kept = walk(doc)
    if not dropped:
        return data, []
    return json.dumps(kept, ensure_ascii=False).encode(), dropped


@dataclass
class Source:
    kind: str  # table | queue | log
    name: str
    read: int = 0  # items / messages / lines
    hits: int = 0
    ignored: int = 0  # hits inside --ignore-field values (not counted in hits)
    notes: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # locations, never the number

    def scan(self, data: bytes, where: str) -> None:
        data, dropped = split_ignored(data)
        self.ignored += sum(1 for d in dropped for _ in find_card_numbers(d))
        for span in find_card_numbers(data):
            self.hits += 1
            if len(self.examples) < 5:
                self.examples.append(f"{redact(where)} @{span[0]} {mask(data, span)}")


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v.strip().strip('"').strip("'")
    return env


def _clients(env: dict[str, str], endpoint: str):
    import boto3  # the project venv has it (infra/bootstrap.sh)
    from botocore.config import Config

    kw = dict(
        endpoint_url=endpoint,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                      read_timeout=30),
    )
    return boto3.client("dynamodb", **kw), boto3.client("sqs", **kw)


def scan_tables(ddb) -> list[Source]:
    out = []
    names: list[str] = []
    for page in ddb.get_paginator("list_tables").paginate():
        names += page.get("TableNames", [])
    for name in sorted(names):
        src = Source("table", name)
        for page in ddb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            for item in page.get("Items", []):
                src.read += 1
                # The low-level item (typed attribute values) as JSON: every key and value,
                # numbers as their decimal text.
                text = json.dumps(item, ensure_ascii=False, sort_keys=True, default=_bytes_text)
                key = {k: item[k] for k in ("pk", "sk", "PK", "SK", "id") if k in item}
                src.scan(text.encode(), f"item {json.dumps(key, default=_bytes_text)[:120]}")
        out.append(src)
    return out


def _bytes_text(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    raise TypeError(type(v))


def list_queue_urls(sqs) -> list[str]:
    urls: list[str] = []
    kw: dict = {"MaxResults": 1000}
    while True:
        page = sqs.list_queues(**kw)
        urls += page.get("QueueUrls", [])
        token = page.get("NextToken")
        if not token:
            return sorted(urls)
        kw["NextToken"] = token


def scan_queue(sqs, url: str, max_rounds: int = 200) -> Source:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    src = Source("queue", name)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    reported = sum(int(attrs.get(a, 0)) for a in ("ApproximateNumberOfMessages",
                                                  "ApproximateNumberOfMessagesNotVisible",
                                                  "ApproximateNumberOfMessagesDelayed"))
    seen: set[str] = set()
    idle = 0
    for _ in range(max_rounds):
        if reported and len(seen) >= reported:
            break
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                   WaitTimeSeconds=0, AttributeNames=["All"],
                                   MessageAttributeNames=["All"])
        new = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
        if not new:
            idle += 1
            if idle >= 3:
                break
            continue
        idle = 0
        for m in new:
            seen.add(m["MessageId"])
            src.read += 1
            where = f"message {m['MessageId']}"
            src.scan(m.get("Body", "").encode(), where + " body")
            if m.get("MessageAttributes"):
                text = json.dumps(m["MessageAttributes"], ensure_ascii=False, sort_keys=True,
                                  default=_bytes_text)
                src.scan(text.encode(), where + " attributes")
    if len(seen) < reported:
        src.notes.append(f"incomplete: peeked {len(seen)} of ~{reported} (in flight, delayed or "
                         "hidden behind a FIFO group)")
    return src


def scan_log(path: Path) -> Source:
    src = Source("log", str(path))
    try:
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                src.read += 1
                src.scan(line, f"line {n}")
    except OSError as e:
        src.notes.append(f"unreadable: {e.strerror}")
        src.hits = -1
    return src


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="*", type=Path, help="log files to scan line by line")
    ap.add_argument("--env-file", type=Path, default=None,
                    help=f"KEY=VALUE env file with AWS_ENDPOINT_URL etc. (default {DEFAULT_ENV})")
    ap.add_argument("--endpoint", help="AWS endpoint (overrides the env file's AWS_ENDPOINT_URL)")
    ap.add_argument("--no-aws", action="store_true", help="scan only the log files")
    ap.add_argument("--allow-remote", action="store_true",
                    help="allow a non-loopback endpoint (never needed locally)")
    ap.add_argument("--json", action="store_true", help="print one JSON report instead of a table")
    ap.add_argument("--ignore-field", action="append", default=[], metavar="NAME",
                    help="in JSON (log lines, message bodies, items) do not count hits inside the "
                         "values of fields called NAME; they are reported as `ignored` (e.g. "
                         "Timestamp: the EMF metric lines' epoch milliseconds are 13 digits and "
                         "pass Luhn one time in ten). Repeatable")
    ap.add_argument("--check-texts", type=Path, metavar="FILE",
                    help="(cross-check) read a JSON list of strings, print a JSON list of the "
                         "first hit [start, end] or null for each (UTF-8 byte offsets), exit 0")
    args = ap.parse_args(argv)

    if args.check_texts:
        texts = json.loads(args.check_texts.read_text())
        print(json.dumps([list(s) if (s := find_card_number(t.encode())) else None for t in texts]))
        return 0

    global IGNORED_FIELDS
    IGNORED_FIELDS = frozenset(args.ignore_field)
    sources: list[Source] = []
    if not args.no_aws:
        env_path = args.env_file or DEFAULT_ENV
        env: dict[str, str] = {}
        if env_path.exists():
            env = read_env_file(env_path)
        elif args.env_file is not None or not args.endpoint:
            print(f"cardscan: env file {env_path} not found (start the stack with infra/local/up.sh, "
                  "pass --env-file/--endpoint, or --no-aws)", file=sys.stderr)
            return 2
        endpoint = args.endpoint or env.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            print("cardscan: no AWS_ENDPOINT_URL", file=sys.stderr)
            return 2
        host = urlparse(endpoint).hostname or ""
        if not args.allow_remote and host not in ("127.0.0.1", "localhost", "::1"):
            print(f"cardscan: refusing non-loopback endpoint {endpoint} (--allow-remote)",
                  file=sys.stderr)
            return 2
        try:
            ddb, sqs = _clients(env, endpoint)
            sources += scan_tables(ddb)
            sources += [scan_queue(sqs, u) for u in list_queue_urls(sqs)]
        except Exception as e:  # connection refused, auth, ...: a scan that did not run
            print(f"cardscan: cannot read {endpoint}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
    sources += [scan_log(p) for p in args.logs]

    total = sum(max(s.hits, 0) for s in sources)
    ignored = sum(s.ignored for s in sources)
    unreadable = [s for s in sources if s.hits < 0]
    if args.json:
        print(json.dumps({"total_hits": total, "ignored_hits": ignored,
                          "ignored_fields": sorted(IGNORED_FIELDS),
                          "sources": [s.__dict__ for s in sources]}, indent=1))
    else:
        print(f"{'source':<6} {'name':<44} {'read':>8} {'hits':>5}  notes")
        for s in sources:
            unit = {"table": "items", "queue": "msgs", "log": "lines"}[s.kind]
            notes = s.notes + ([f"{s.ignored} ignored"] if s.ignored else [])
            print(f"{s.kind:<6} {s.name[-44:]:<44} {s.read:>8} {max(s.hits, 0):>5}  "
                  f"{unit}{'; ' + '; '.join(notes) if notes else ''}")
            for e in s.examples:
                print(f"         hit: {e}")
        print(f"card-number hits: {total} in {len(sources)} sources "
              f"({sum(s.kind == 'table' for s in sources)} tables, "
              f"{sum(s.kind == 'queue' for s in sources)} queues, "
              f"{sum(s.kind == 'log' for s in sources)} logs)"
              + (f"; {ignored} more inside ignored fields {sorted(IGNORED_FIELDS)}" if ignored else ""))
    if unreadable:
        return 2
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
