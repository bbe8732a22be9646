#!/usr/bin/env python3
"""Tests for infra/local/cardscan.py: the rule on the shared cases (the same file the Rust
cross-check reads), and a scan of a real moto server (a table, a FIFO queue with more than ten
messages in one group, a DLQ) plus log files, with and without a card number. Run with the venv
python:

    infra/.venv/bin/python infra/local/test_cardscan.py [-v]

MOTO_SERVER_BIN overrides the moto executable (default: infra/local/moto-server, moto with atomic DynamoDB writes).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import boto3

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cardscan  # noqa: E402
import motoproc  # noqa: E402

PAN = "4111111111111111"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cardscan.main(list(argv))
    return code, out.getvalue()


class RuleTest(unittest.TestCase):
    def test_shared_cases(self):
        cases = json.loads((HERE / "cardscan_cases.json").read_text())["cases"]
        self.assertGreater(len(cases), 100)
        for c in cases:
            self.assertEqual(cardscan.case_result(c), cardscan.case_expected(c),
                             f"{c.get('note', '')}: {c['text']!r}")

    def test_table_mode(self):
        code, out = run("--table")
        self.assertEqual(code, 0, out)
        self.assertIn(" 0 mismatches", out.splitlines()[-1])
        self.assertNotIn("BAD", out)

    def test_digit_table_matches_unicodedata(self):
        """Every decimal digit this Python knows (Nd) is in the shared table with its value; every
        table range this Python knows is ten Nd digits 0-9 (newer ones it may not know yet)."""
        import unicodedata
        for cp in range(0x110000):
            ch = chr(cp)
            if unicodedata.category(ch) == "Nd":
                self.assertEqual(cardscan.decimal_value(ch), unicodedata.decimal(ch), hex(cp))
            elif cp > 0x7F:
                self.assertIsNone(cardscan.decimal_value(ch)
                                  if unicodedata.category(ch) != "Cn" else None, hex(cp))
        for zero in cardscan.DECIMAL_ZEROS:
            if unicodedata.category(chr(zero)) != "Cn":
                self.assertEqual([unicodedata.decimal(chr(zero + k), None) for k in range(10)],
                                 list(range(10)), hex(zero))

    def test_separator_and_ignorable_tables_match_unicodedata(self):
        import unicodedata
        for cp in range(0x80, 0x110000):
            cat = unicodedata.category(chr(cp))
            if cat == "Zs":
                self.assertIn(cp, cardscan._SPACES, hex(cp))
            if cat == "Pd":
                self.assertIn(cp, cardscan._DASHES, hex(cp))

    def test_every_hit_is_counted(self):
        text = f"a {PAN} b 5555-5555-5555-4444 c 4111111111111112".encode()
        self.assertEqual(len(list(cardscan.find_card_numbers(text))), 2)

    def test_luhn(self):
        self.assertTrue(cardscan.luhn([int(c) for c in PAN]))
        self.assertFalse(cardscan.luhn([int(c) for c in "4111111111111112"]))

    def test_check_texts_mode(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(["x", f"é{PAN}"], f)
        try:
            code, out = run("--check-texts", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), [[None, None], [[2, 18], "byte 2"]])


class ScanTest(unittest.TestCase):
    moto: subprocess.Popen | None = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="o2c-cardscan-test-")
        cls.moto_log = open(Path(cls.tmp.name) / "moto.log", "w")  # noqa: SIM115
        try:
            cls.moto, cls.endpoint = motoproc.start(log=cls.moto_log)
        except RuntimeError:
            cls.tearDownClass()
            raise
        cls.env_file = Path(cls.tmp.name) / "local.env"
        cls.env_file.write_text(f"AWS_ENDPOINT_URL={cls.endpoint}\nAWS_REGION=us-east-1\n"
                                "AWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\n")
        kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.ddb = boto3.client("dynamodb", **kw)
        cls.sqs = boto3.client("sqs", **kw)
        cls.ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                   {"AttributeName": "sk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}])
        for i in range(30):
            cls.ddb.put_item(TableName="t", Item={
                "pk": {"S": f"ORDER#ORD-{i}"}, "sk": {"S": "META"},
                "doc": {"S": json.dumps({"total": "107.99", "ts": "2026-01-20T10:00:00Z"})},
                "expires_at": {"N": "1795711029"}})
        dlq = cls.sqs.create_queue(QueueName="orders-dlq.fifo", Attributes={"FifoQueue": "true"})
        cls.dlq = dlq["QueueUrl"]
        arn = cls.sqs.get_queue_attributes(QueueUrl=cls.dlq, AttributeNames=["QueueArn"])
        cls.fifo = cls.sqs.create_queue(QueueName="orders.fifo", Attributes={
            "FifoQueue": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn["Attributes"]["QueueArn"],
                                         "maxReceiveCount": "5"})})["QueueUrl"]
        # Twelve messages in one group: more than one receive's worth.
        for i in range(12):
            cls.sqs.send_message(QueueUrl=cls.fifo, MessageBody=json.dumps({"order_id": "ORD-1", "n": i}),
                                 MessageGroupId="ORD-1", MessageDeduplicationId=f"d{i}")
        cls.std = cls.sqs.create_queue(QueueName="plain")["QueueUrl"]
        cls.log = Path(cls.tmp.name) / "fn.log"
        cls.log.write_text('{"level":"INFO","msg":"order ORD-1 captured 107.99"}\n' * 50)

    @classmethod
    def tearDownClass(cls) -> None:
        motoproc.stop(cls.moto)
        cls.moto_log.close()
        cls.tmp.cleanup()

    def scan_json(self, *extra: str) -> tuple[int, dict]:
        code, out = run("--env-file", str(self.env_file), "--json", *extra)
        return code, json.loads(out)

    def test_1_clean_then_dirty(self):
        code, rep = self.scan_json(str(self.log))
        self.assertEqual(code, 0, rep)
        self.assertEqual(rep["total_hits"], 0)
        by = {(s["kind"], s["name"]): s for s in rep["sources"]}
        self.assertEqual(by[("table", "t")]["read"], 30)
        self.assertEqual(by[("queue", "orders.fifo")]["read"], 12)
        self.assertEqual(by[("queue", "orders-dlq.fifo")]["read"], 0)
        self.assertEqual(by[("log", str(self.log))]["read"], 50)
        # Peeking deleted nothing and moved nothing to the DLQ.
        a = self.sqs.get_queue_attributes(QueueUrl=self.fifo, AttributeNames=["All"])["Attributes"]
        self.assertEqual(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]), 12)

        # Now a card number in each kind of source.
        self.ddb.put_item(TableName="t", Item={"pk": {"S": "ORDER#X"}, "sk": {"S": "META"},
                                               "note": {"S": f"card {PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]}"}})
        # A card number in a key: the printed location is redacted too.
        self.ddb.put_item(TableName="t", Item={"pk": {"S": f"ORDER#{PAN}"}, "sk": {"S": "META"}})
        self.sqs.send_message(QueueUrl=self.dlq, MessageBody=json.dumps({"pan": PAN}),
                              MessageGroupId="X", MessageDeduplicationId="x")
        self.sqs.send_message(QueueUrl=self.std, MessageBody="{}", MessageAttributes={
            "note": {"DataType": "String", "StringValue": f"5555-5555-5555-4444"}})
        dirty = Path(self.tmp.name) / "dirty.log"
        dirty.write_text(f"ok\nrefused payload {PAN}\nok\n")
        code, rep = self.scan_json(str(self.log), str(dirty))
        self.assertEqual(code, 1)
        self.assertEqual(rep["total_hits"], 5)
        by = {(s["kind"], s["name"]): s for s in rep["sources"]}
        self.assertEqual(by[("table", "t")]["hits"], 2)
        self.assertIn('item {"pk": {"S": "ORDER#****"}', json.dumps(by[("table", "t")]["examples"]).replace('\\"', '"'))
        self.assertEqual(by[("queue", "orders-dlq.fifo")]["hits"], 1)
        self.assertEqual(by[("queue", "plain")]["hits"], 1)
        self.assertEqual(by[("log", str(dirty))]["hits"], 1)
        self.assertEqual(by[("log", str(dirty))]["examples"], ["line 2 @16 ****(16 digits)"])
        # A disguised one in a log line: JSON-escaped digits, NBSP groups, glued to letters.
        disguised = Path(self.tmp.name) / "disguised.log"
        disguised.write_text(json.dumps({"msg": "order", "name": "Mug \u00a0"}).replace(
            "\\u00a0", "\\u0034\\u0031\\u0031\\u0031111111111111") + "\n"
            + "name 4111\u00a01111\u00a01111\u00a01111\nref PAN4012888888881881\n")
        code, out = run("--no-aws", "--json", str(disguised))
        rep = json.loads(out)
        self.assertEqual((code, rep["total_hits"]), (1, 3), rep)
        self.assertEqual(rep["sources"][0]["examples"][0], "line 1 $.name ****(16 digits)")
        # The report never holds the number.
        self.assertNotIn(PAN, json.dumps(rep))
        self.assertNotIn("5555", json.dumps(rep))
        # The text report too, and it is one line per source.
        code, out = run("--env-file", str(self.env_file), str(dirty))
        self.assertEqual(code, 1)
        self.assertNotIn(PAN, out)
        self.assertIn("card-number hits: 5", out)

    def test_2_ignored_fields(self):
        # An EMF metric line: its epoch-milliseconds Timestamp passes Luhn.
        ts = 1795713278000
        digits = [int(c) for c in str(ts)]
        while not cardscan.luhn(digits):
            ts += 1
            digits = [int(c) for c in str(ts)]
        log = Path(self.tmp.name) / "emf.log"
        log.write_text(json.dumps({"CardDataRefused": 1, "_aws": {"Timestamp": ts}}) + "\n"
                       + json.dumps({"msg": "x", "Timestamp": ts, "note": PAN}) + "\nplain text\n")
        code, out = run("--no-aws", "--json", str(log))
        self.assertEqual((code, json.loads(out)["total_hits"]), (1, 3))
        code, out = run("--no-aws", "--json", "--ignore-field", "Timestamp", str(log))
        rep = json.loads(out)
        self.assertEqual((code, rep["total_hits"], rep["ignored_hits"]), (1, 1, 2))
        [example] = rep["sources"][0]["examples"]
        self.assertEqual(example, "line 2 $.note ****(16 digits)")
        log.write_text(json.dumps({"_aws": {"Timestamp": ts}}) + "\n")
        code, out = run("--no-aws", "--ignore-field", "Timestamp", str(log))
        self.assertEqual(code, 0, out)
        self.assertIn("1 more inside ignored fields ['Timestamp']", out)

    def test_3_usage_errors(self):
        code, out = run("--env-file", str(Path(self.tmp.name) / "missing.env"))
        self.assertEqual(code, 2, out)
        code, out = run("--endpoint", "http://10.1.2.3:4566")
        self.assertEqual(code, 2, out)
        self.assertIn("non-loopback", out)
        code, out = run("--no-aws", str(Path(self.tmp.name) / "nope.log"))
        self.assertEqual(code, 2, out)
        code, out = run("--no-aws", str(self.log))
        self.assertEqual(code, 0, out)
        # A dead endpoint is an error (2), not a clean scan (0).
        code, out = run("--endpoint", f"http://127.0.0.1:{motoproc.free_port()}")
        self.assertEqual(code, 2, out)


if __name__ == "__main__":
    unittest.main()
