#!/usr/bin/env python3
"""The local stack's moto keeps DynamoDB's one guarantee the recipe relies on: of many concurrent
conditional writes expecting the same version, exactly one succeeds. And SQS's: with several
concurrent consumers of one FIFO queue, no message is handed to two of them and no two messages
of one group are in flight at once. Each round, 12 threads race
an UpdateItem conditioned on `version = :v`; the test asserts exactly one winner in every round
on infra/local/moto-server, and prints (does not assert — a race is not deterministic) how many
rounds plain moto_server let more than one writer through.

    infra/.venv/bin/python infra/local/test_moto_atomic.py [-v]
"""

from __future__ import annotations

import sys
import threading
import time
import unittest
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import motoproc  # noqa: E402
ROUNDS = 30
RACERS = 12


class Server:
    def __init__(self, argv: list[str]) -> None:
        self.proc, self.endpoint = motoproc.start(argv[0])

    def stop(self) -> None:
        motoproc.stop(self.proc)

    def ddb(self):
        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(max_pool_connections=RACERS * 2,
                                          retries={"max_attempts": 1}))


def race(server: Server) -> list[int]:
    """Winners per round."""
    ddb = server.ddb()
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    winners = []
    for round_no in range(ROUNDS):
        pk = {"pk": {"S": f"order-{round_no}"}}
        # An item the size of an order record with its timeline: moto copies and walks it
        # between checking the condition and writing, which is where the race lives.
        timeline = {"L": [{"M": {"what": {"S": f"step.{i}"}, "why": {"S": "x" * 200}}}
                          for i in range(300)]}
        ddb.put_item(TableName="t", Item={**pk, "version": {"N": "0"}, "timeline": timeline})
        barrier = threading.Barrier(RACERS)
        won: list[int] = []
        errors: list[BaseException] = []

        def racer(n: int) -> None:
            barrier.wait()
            try:
                ddb.update_item(TableName="t", Key=pk,
                                UpdateExpression="SET version = version + :one, winner = :me",
                                ConditionExpression="version = :v",
                                ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"N": "0"},
                                                           ":me": {"N": str(n)}})
                won.append(n)
            except ClientError as e:
                if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    errors.append(e)

        threads = [threading.Thread(target=racer, args=(n,)) for n in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        item = ddb.get_item(TableName="t", Key=pk, ConsistentRead=True)["Item"]
        if len(won) == 1:
            assert item["version"]["N"] == "1" and item["winner"]["N"] == str(won[0]), item
        winners.append(len(won))
    return winners


def fifo_consumers(server: Server, consumers: int = 8, groups: int = 6, per_group: int = 20):
    """Concurrent consumers of one FIFO queue. Returns (deliveries per message id, the largest
    number of messages of one group ever in flight at once, messages sent)."""
    sqs = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(max_pool_connections=consumers * 2,
                                     retries={"max_attempts": 1}))
    url = sqs.create_queue(QueueName="q.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
    for i in range(per_group):
        for g in range(groups):
            sqs.send_message(QueueUrl=url, MessageBody=f"{g}-{i}", MessageGroupId=f"g{g}",
                             MessageDeduplicationId=f"{g}-{i}")
    total = groups * per_group
    deliveries: dict[str, int] = {}
    in_flight: dict[str, int] = {}
    worst = [0]
    done = [0]
    guard = threading.Lock()

    def consumer() -> None:
        while True:
            with guard:
                if done[0] >= total:
                    return
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3,
                                      WaitTimeSeconds=0).get("Messages", [])
            groups_here = [m["Body"].split("-")[0] for m in got]
            with guard:
                for m, g in zip(got, groups_here):
                    deliveries[m["MessageId"]] = deliveries.get(m["MessageId"], 0) + 1
                for g in set(groups_here):
                    in_flight[g] = in_flight.get(g, 0) + 1
                    worst[0] = max(worst[0], in_flight[g])
            time.sleep(0.01)  # "processing"
            with guard:
                for g in set(groups_here):
                    in_flight[g] -= 1
            for m in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            with guard:
                done[0] += len(got)

    threads = [threading.Thread(target=consumer) for _ in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return deliveries, worst[0], total


class AtomicConditionalWrites(unittest.TestCase):
    def test_fifo_receives_never_overlap_on_the_local_stack_moto(self):
        server = Server([str(HERE / "moto-server")])
        try:
            deliveries, worst, total = fifo_consumers(server)
        finally:
            server.stop()
        twice = sum(1 for n in deliveries.values() if n > 1)
        print(f"\nlocal-stack moto: {total} FIFO messages, 8 consumers: {len(deliveries)} "
              f"delivered, {twice} delivered twice, at most {worst} in flight per group",
              file=sys.stderr)
        self.assertEqual(len(deliveries), total)
        self.assertEqual(twice, 0)
        self.assertEqual(worst, 1)

    def test_exactly_one_winner_per_round_on_the_local_stack_moto(self):
        server = Server([str(HERE / "moto-server")])
        try:
            winners = race(server)
        finally:
            server.stop()
        print(f"\nlocal-stack moto: {ROUNDS} rounds x {RACERS} racers, winners per round "
              f"min {min(winners)} max {max(winners)}", file=sys.stderr)
        self.assertEqual(winners, [1] * ROUNDS)

    def test_plain_moto_for_comparison(self):
        server = Server([str(Path(sys.executable).parent / "moto_server")])
        try:
            winners = race(server)
        finally:
            server.stop()
        doubled = sum(1 for w in winners if w > 1)
        print(f"\nplain moto_server: {doubled} of {ROUNDS} rounds had more than one winner "
              f"(max {max(winners)})", file=sys.stderr)
        self.assertTrue(all(w >= 1 for w in winners))


if __name__ == "__main__":
    unittest.main()
