#!/usr/bin/env python3
"""Card-data scan: is a card number anywhere it must never be?

Scans every DynamoDB item (Scan, consistent), every message of every SQS queue and DLQ (peeked:
ReceiveMessage with VisibilityTimeout=0, nothing deleted), and every log file named on the
command line for a run of 13-19 digits that passes Luhn -- the rule of
`o2c_domain::card::find_card_number`, re-implemented here byte for byte (digits may be separated
by single spaces or dashes; the whole run must be 13-19 digits, so a window inside a longer
number is not a match). `tests/tests/bad_input.rs` cross-checks the two implementations on
shared and random cases.

The simulators (infra/local/simulators/simkit.py `find_pan`) refuse request bodies by this same
rule: they import this module, so keep it importable without boto3 (imported lazily below).

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
import bisect
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENV = ROOT / "infra/local/.state/local.env"

# ---------------------------------------------------------------------------------------------
# The rule (mirror of shared/domain/src/card.rs, step for step; read its module docs)
# ---------------------------------------------------------------------------------------------

# The zero of every decimal-digit range (General_Category Nd) up to Unicode 16.0: the same
# table as Rust's `card::DECIMAL_ZEROS` (tests/tests/cardscan.rs compares them; test_cardscan.py
# checks it against `unicodedata`). One shared table, not `unicodedata.decimal`, so the two
# scanners agree whatever Unicode version this Python has.
DECIMAL_ZEROS = (
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10, 0x104A0, 0x10D30, 0x10D40, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450,
    0x114D0, 0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0, 0x11950, 0x11BF0, 0x11C50,
    0x11D50, 0x11DA0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0, 0x1D7CE,
    0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
)

# Default_Ignorable_Code_Point (stable since Unicode 4.0); combining marks are added by category.
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
              (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
              (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
              (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
              (0xE0000, 0xE0FFF))
# General_Category Zs without U+0020 (unchanged since Unicode 4.0).
_SPACES = frozenset([0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000])
# General_Category Pd without U+002D (Unicode 14), plus minus sign and hyphen bullet.
_DASHES = frozenset([0x058A, 0x05BE, 0x1400, 0x1806, *range(0x2010, 0x2016), 0x2E17, 0x2E1A,
                     0x2E3A, 0x2E3B, 0x2E40, 0x2E5D, 0x301C, 0x3030, 0x30A0, 0xFE31, 0xFE32,
                     0xFE58, 0xFE63, 0xFF0D, 0x10EAD, 0x2212, 0x2043])

# Unit kinds: ('d', value) digit, ('l', letter) ASCII letter lower-cased, ('s', dash?) separator,
# ('o', None) anything else. Units are (kind, arg, start, end) with UTF-8 byte offsets.
_OTHER = ("o", None)
# A quick "nothing here" for ASCII text without backslashes (no escapes to decode): a card
# number needs 13 digits with at most one separator between two of them.
_CANDIDATE = re.compile(r"[0-9](?:[ \t-]?[0-9]){12}")


def _surely_clean(text: str) -> bool:
    return text.isascii() and "\\" not in text and not _CANDIDATE.search(text)


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


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of ASCII digits 0-9 (no separators). For code that mints
    identifiers which must never pass it (the simulators); whether a text holds a card number is
    `find_card_number`'s question, not this one's."""
    return luhn([ord(ch) - 48 for ch in digits])


def decimal_value(ch: str) -> int | None:
    u = ord(ch)
    k = bisect.bisect_right(DECIMAL_ZEROS, u)
    if k == 0:
        return None
    off = u - DECIMAL_ZEROS[k - 1]
    return off if off < 10 else None


def _ignorable(ch: str) -> bool:
    u = ord(ch)
    return any(a <= u <= b for a, b in _IGNORABLE) or unicodedata.category(ch)[0] == "M"


def _ascii_kind(b: int) -> tuple:
    if 0x30 <= b <= 0x39:
        return ("d", b - 0x30)
    if 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A:
        return ("l", chr(b).lower())
    if b in (0x20, 0x09):
        return ("s", False)
    if b == 0x2D:
        return ("s", True)
    return _OTHER


def _kind_of(x: str) -> tuple | None:
    u = ord(x)
    if u < 0x80:
        return _ascii_kind(u)
    if _ignorable(x):
        return None
    d = decimal_value(x)
    if d is not None:
        return ("d", d)
    if u in _SPACES:
        return ("s", False)
    if u in _DASHES:
        return ("s", True)
    return _OTHER


_HEX = frozenset(b"0123456789abcdefABCDEF")


def _unicode_escape(text: str, i: int) -> tuple[str, int] | None:
    """A literal \\uXXXX (or surrogate pair) at char index i: (char, chars consumed)."""
    def unit(at: int) -> int | None:
        s = text[at:at + 6]
        if len(s) == 6 and s[0] == "\\" and s[1] == "u" and all(ord(c) in _HEX for c in s[2:]):
            return int(s[2:], 16)
        return None
    hi = unit(i)
    if hi is None:
        return None
    if 0xD800 <= hi < 0xDC00:
        lo = unit(i + 6)
        if lo is None or not 0xDC00 <= lo < 0xE000:
            return None
        return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)), 12
    if 0xDC00 <= hi < 0xE000:
        return None  # a lone low surrogate is no character (Rust: char::from_u32 fails)
    return chr(hi), 6


def _utf8_len(ch: str) -> int:
    u = ord(ch)
    return 1 if u < 0x80 else 2 if u < 0x800 else 3 if u < 0x10000 else 4


def _normalise(text: str) -> list[tuple]:
    out: list[tuple] = []
    i, pos, n = 0, 0, len(text)
    while i < n:
        esc = _unicode_escape(text, i) if text[i] == "\\" else None
        if esc:
            c, used = esc
            blen = used  # the escape is ASCII: one byte a character
        else:
            c, used = text[i], 1
            blen = _utf8_len(c)
        start, end = pos, pos + blen
        u = ord(c)
        if u < 0x80:
            k = _ascii_kind(u)
            out.append((k[0], k[1], start, end))
        elif not _ignorable(c):
            for x in unicodedata.normalize("NFKC", c):
                k = _kind_of(x)
                if k is not None:
                    out.append((k[0], k[1], start, end))
        i += used
        pos = end
    return out


def _is_hex(unit: tuple) -> bool:
    return unit[0] == "d" or (unit[0] == "l" and unit[1] in "abcdef")


def _mask_identifiers(units: list[tuple]) -> None:
    hexr: list[tuple[int, int]] = []
    i, n = 0, len(units)
    while i < n:
        if _is_hex(units[i]):
            s = i
            while i < n and _is_hex(units[i]):
                i += 1
            hexr.append((s, i))
        else:
            i += 1
    masked: list[tuple[int, int]] = []
    for k, (s, e) in enumerate(hexr):
        letter = any(units[j][0] == "l" for j in range(s, e))
        if e - s >= 24 and letter:
            masked.append((s, e))
        elif e - s >= 16 and letter:
            # A shorter hex id: a digit run with a hex letter on both sides is part of it.
            j = s
            while j < e:
                if units[j][0] == "d":
                    d = j
                    while j < e and units[j][0] == "d":
                        j += 1
                    if d > s and j < e:
                        masked.append((d, j))
                else:
                    j += 1
        if e - s == 8 and k + 4 < len(hexr):
            groups = hexr[k:k + 5]
            joined = all(b[0] == a[1] + 1 and units[a[1]][:2] == ("s", True)
                         for a, b in zip(groups, groups[1:]))
            if joined and [b - a for a, b in groups] == [8, 4, 4, 4, 12]:
                masked.append((groups[0][0], groups[4][1]))
    for s, e in masked:
        for j in range(s, e):
            units[j] = ("o", None, units[j][2], units[j][3])


def _runs(units: list[tuple]) -> Iterator[tuple[int, int, int]]:
    i, n = 0, len(units)
    while i < n:
        if units[i][0] != "d":
            i += 1
            continue
        digits: list[int] = []
        last = j = i
        while j < n:
            kind = units[j][0]
            if kind == "d":
                digits.append(units[j][1])
                last = j
                j += 1
            elif kind == "s" and j > i and units[j - 1][0] == "d" and j + 1 < n \
                    and units[j + 1][0] == "d":
                j += 1
            else:
                break
        if 13 <= len(digits) <= 19 and luhn(digits):
            yield (units[i][2], units[last][3], len(digits))
        i = max(j, i + 1)


_UUID = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
                   r"-[0-9a-fA-F]{12}(?![0-9a-fA-F])")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")
_ENCLOSED_DIGITS = re.compile(r"(?<=[a-fA-F])[0-9]+(?=[a-fA-F])")
_RUN = re.compile(r"[0-9](?:[ \t-]?[0-9])*")
_NOT_DIGIT = re.compile(r"[^0-9]")


def _find_hits_ascii(text: str) -> list[tuple[int, int, int]]:
    """`find_hits` for ASCII text without backslashes, with regular expressions (the same
    steps: identifiers masked, then maximal runs); byte offsets are character offsets here."""
    masked = list(text)
    for m in _UUID.finditer(text):
        masked[m.start():m.end()] = "x" * (m.end() - m.start())
    for m in _HEX_RUN.finditer(text):
        if m.group().isdigit():
            continue
        if m.end() - m.start() >= 24:
            masked[m.start():m.end()] = "x" * (m.end() - m.start())
        else:
            for d in _ENCLOSED_DIGITS.finditer(m.group()):
                masked[m.start() + d.start():m.start() + d.end()] = "x" * (d.end() - d.start())
    out = []
    for m in _RUN.finditer("".join(masked)):
        digits = _NOT_DIGIT.sub("", m.group())
        if 13 <= len(digits) <= 19 and luhn([ord(ch) - 48 for ch in digits]):
            out.append((m.start(), m.end(), len(digits)))
    return out


def find_hits(text: str) -> list[tuple[int, int, int]]:
    """Every card-number-like run of the plain text: (start, end, digit count), UTF-8 byte
    offsets into `text`. Mirror of Rust's `card::find_card_numbers`."""
    if _surely_clean(text):
        return []
    if text.isascii() and "\\" not in text:
        return _find_hits_ascii(text)
    units = _normalise(text)
    _mask_identifiers(units)
    return list(_runs(units))


def find_card_numbers(data: bytes | str) -> Iterator[tuple[int, int]]:
    """Byte ranges [start, end) of every card-number-like run of the plain text, left to right."""
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    for s, e, _ in find_hits(text):
        yield (s, e)


def find_card_number(data: bytes | str) -> tuple[int, int] | None:
    """The first hit, as Rust's `find_card_number` (None when there is none)."""
    return next(find_card_numbers(data), None)


def parse_document(text: str):
    """`text` as a JSON document when it is one (an object or array), else None."""
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _key_segment(k: str) -> str:
    return "." + k if _SIMPLE_KEY.match(k) else "[" + json.dumps(k, ensure_ascii=False) + "]"


def _number_text(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def json_hits(doc, path: str = "$", skip: frozenset[str] = frozenset(),
              skipped: list | None = None) -> Iterator[tuple[str, int]]:
    """(JSON path, digit count) of every card number of a parsed document, keys in sorted order
    (a key holding one is `<key>`). Values of keys in `skip` are not scanned; their hits are
    appended to `skipped`."""
    if isinstance(doc, str):
        for _, _, nd in find_hits(doc):
            yield (path, nd)
    elif isinstance(doc, bool) or doc is None:
        return
    elif isinstance(doc, (int, float)):
        for _, _, nd in find_hits(_number_text(doc)):
            yield (path, nd)
    elif isinstance(doc, list):
        for i, x in enumerate(doc):
            yield from json_hits(x, f"{path}[{i}]", skip, skipped)
    elif isinstance(doc, dict):
        for k in sorted(doc):
            for _, _, nd in find_hits(k):
                yield (path + ".<key>", nd)
            if k in skip:
                if skipped is not None:
                    skipped.extend(json_hits(doc[k], path + _key_segment(k)))
                continue
            yield from json_hits(doc[k], path + _key_segment(k), skip, skipped)


def card_number_location(text: str) -> str | None:
    """Where the first card number is, never what it is: a JSON path for a JSON document (or
    `byte N`), as Rust's `card::card_number_location`."""
    doc = parse_document(text)
    if doc is not None:
        first = next(json_hits(doc), None)
        if first:
            return first[0]
    hit = find_card_number(text)
    return f"byte {hit[0]}" if hit else None


def redact(text: str) -> str:
    """`text` with every card-number-like run replaced by `****` (for locations we print)."""
    data = text.encode()
    out, last = [], 0
    for a, b in find_card_numbers(text):
        out += [data[last:a], b"****"]
        last = b
    out.append(data[last:])
    return b"".join(out).decode("utf-8", "replace")


def mask(digits: int) -> str:
    return f"****({digits} digits)"


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


# Field names whose values are not scanned (`--ignore-field`); empty by default.
IGNORED_FIELDS: frozenset[str] = frozenset()


def scan_payload(data: bytes) -> tuple[list[tuple[str, int]], int]:
    """(hits as (location, digit count), hits inside ignored fields) of one payload: a JSON
    document is walked (every key, string and number, `--ignore-field` values skipped) and,
    when the walk finds nothing and nothing is ignored, its raw text scanned too (a duplicated
    key's first value); anything else is scanned as text. Locations are JSON paths or `@N`
    (byte offset)."""
    text = data.decode("utf-8", "replace")
    if _surely_clean(text):
        return [], 0
    doc = parse_document(text)
    if doc is not None:
        skipped: list = []
        hits = list(json_hits(doc, skip=IGNORED_FIELDS, skipped=skipped))
        if hits or skipped:
            return hits, len(skipped)
    return [(f"@{s}", nd) for s, _, nd in find_hits(text)], 0


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
        hits, ignored = scan_payload(data)
        self.ignored += ignored
        for at, digits in hits:
            self.hits += 1
            if len(self.examples) < 5:
                self.examples.append(f"{redact(where)} {at} {mask(digits)}")


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


CASES = Path(__file__).resolve().parent / "cardscan_cases.json"


def case_result(case: dict):
    """This scanner's answer to a case of the shared table, in the case's own terms: the JSON
    location (`"json": true` cases) or the first plain-text hit [start, end]."""
    if case.get("json"):
        return card_number_location(case["text"])
    hit = find_card_number(case["text"])
    return list(hit) if hit else None


def case_expected(case: dict):
    return case["at"] if case.get("json") else case["hit"]


def print_table() -> int:
    """The card-data table: one row per shared case, expected vs this scanner's result."""
    cases = json.loads(CASES.read_text())["cases"]
    bad = 0
    print(f"{'#':>3}  {'mode':<4} {'expect':<7} {'python':<7} {'ok':<3} case")
    for n, c in enumerate(cases, 1):
        got, want = case_result(c), case_expected(c)
        bad += got != want
        show = json.dumps(c["text"], ensure_ascii=True)
        show = show if len(show) <= 60 else show[:57] + "..."
        label = c.get("note") or ""
        print(f"{n:>3}  {'json' if c.get('json') else 'text':<4} "
              f"{'hit' if want else '-':<7} {'hit' if got else '-':<7} "
              f"{'ok' if got == want else 'BAD':<3} {label + ': ' if label else ''}{show}")
    hits = sum(1 for c in cases if case_expected(c))
    print(f"{len(cases)} cases ({hits} card numbers, {len(cases) - hits} not), {bad} mismatches")
    return 1 if bad else 0


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
                    help="(cross-check) read a JSON list of strings, print a JSON list of "
                         "[first plain-text hit [start, end] or null (UTF-8 byte offsets), "
                         "document location or null] for each, exit 0")
    ap.add_argument("--digit-table", action="store_true",
                    help="(cross-check) print DECIMAL_ZEROS as a JSON list, exit 0")
    ap.add_argument("--table", action="store_true",
                    help="print the shared case table (infra/local/cardscan_cases.json) with "
                         "this scanner's result for each case; exit 1 on any mismatch")
    args = ap.parse_args(argv)

    if args.check_texts:
        texts = json.loads(args.check_texts.read_text())
        print(json.dumps([[list(s) if (s := find_card_number(t)) else None,
                           card_number_location(t)] for t in texts]))
        return 0
    if args.digit_table:
        print(json.dumps(list(DECIMAL_ZEROS)))
        return 0
    if args.table:
        return print_table()

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
