#!/usr/bin/env python3
"""Tests for infra/local/provision.py against a real moto server on a free loopback port.

Expectations are read from template.yaml itself, so every table, queue and secret in the template
is checked, plus the invariants the design relies on (FIFO everywhere, redrive after 5 receives,
TTL on expires_at, pk/sk keys). Run with the venv python:

    infra/.venv/bin/python infra/local/test_provision.py [-v]

MOTO_SERVER_BIN overrides the moto executable (default: infra/local/moto-server, moto with atomic DynamoDB writes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import boto3

sys.dont_write_bytecode = True  # keep infra/local free of __pycache__
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import provision  # noqa: E402
import motoproc  # noqa: E402

STACK = "o2c-test"
BRIEF_ENV = [
    "TABLE_NAME", "ORDERS_QUEUE_URL", "CAPTURES_QUEUE_URL", "REFUNDS_QUEUE_URL",
    "CLARITY_SYNC_QUEUE_URL", "ERP_SYNC_QUEUE_URL", "ORDERS_DLQ_URL", "CAPTURES_DLQ_URL",
    "REFUNDS_DLQ_URL", "CLARITY_SYNC_DLQ_URL", "ERP_SYNC_DLQ_URL", "CYBERSOURCE_SECRET_ID",
    "CLARITY_SECRET_ID", "ERP_SECRET_ID", "CRM_SECRET_ID", "STAGE", "AWS_ENDPOINT_URL",
    "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
]


def by_type(template: dict, kind: str) -> dict:
    return {lid: r for lid, r in template["Resources"].items() if r.get("Type") == kind}


class ProvisionTest(unittest.TestCase):
    moto: subprocess.Popen | None = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="o2c-provision-test-")
        cls.moto_log = open(Path(cls.tmp.name) / "moto.log", "w")  # noqa: SIM115
        try:
            cls.moto, cls.endpoint = motoproc.start(log=cls.moto_log)
        except RuntimeError:
            cls.tearDownClass()
            raise

        cls.template = provision.load_template(provision.DEFAULT_TEMPLATE)
        cls.seeds = json.loads(provision.DEFAULT_SECRETS.read_text())
        cls.out = Path(cls.tmp.name) / "resources.json"
        cls.env_out = Path(cls.tmp.name) / "local.env"
        cls.first = cls.run_cli()
        cls.resources = json.loads(cls.out.read_text())
        cls.env = dict(line.split("=", 1) for line in cls.env_out.read_text().splitlines())
        kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
        cls.ddb = boto3.client("dynamodb", **kw)
        cls.sqs = boto3.client("sqs", **kw)
        cls.sm = boto3.client("secretsmanager", **kw)

    @classmethod
    def tearDownClass(cls) -> None:
        motoproc.stop(cls.moto)
        cls.moto_log.close()
        cls.tmp.cleanup()

    @classmethod
    def run_cli(cls) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, str(HERE / "provision.py"), "--endpoint", cls.endpoint,
             "--stack-name", STACK, "--stage", "qa", "--out", str(cls.out),
             "--env-out", str(cls.env_out)],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"provision.py failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def name_of(self, lid: str) -> str:
        return self.resources["resources"][lid]["name"]

    # ------------------------------------------------------------------ naming
    def test_env_stem(self) -> None:
        cases = {"OrdersQueue": "ORDERS_QUEUE", "OrdersDLQ": "ORDERS_DLQ",
                 "ClaritySyncQueue": "CLARITY_SYNC_QUEUE", "ErpSyncDLQ": "ERP_SYNC_DLQ",
                 "CybersourceSecret": "CYBERSOURCE_SECRET", "OrdersTable": "ORDERS_TABLE",
                 "S3Bucket2": "S3_BUCKET2", "APIGatewayRole": "API_GATEWAY_ROLE"}
        for lid, want in cases.items():
            self.assertEqual(provision.env_stem(lid), want, lid)

    def test_env_file(self) -> None:
        for key in BRIEF_ENV:
            self.assertIn(key, self.env)
        self.assertEqual(self.env["STAGE"], "qa")
        self.assertEqual(self.env["AWS_ENDPOINT_URL"], self.endpoint)
        self.assertEqual(self.env["AWS_REGION"], "us-east-1")
        self.assertEqual(self.env["ORDERS_QUEUE_URL"],
                         self.sqs.get_queue_url(QueueName=f"{STACK}-orders.fifo")["QueueUrl"])
        self.assertEqual(self.env["CRM_SECRET_ID"], f"{STACK}/crm")
        # every template resource of a provisioned kind shows up under its derived name
        suffix = {provision.TABLE: "_NAME", provision.QUEUE: "_URL", provision.SECRET: "_ID"}
        for lid, res in self.template["Resources"].items():
            if res["Type"] in suffix:
                self.assertIn(provision.env_stem(lid) + suffix[res["Type"]], self.env, lid)
        self.assertEqual(self.resources["env"], self.env)

    # ------------------------------------------------------------------ tables
    def test_tables(self) -> None:
        tables = by_type(self.template, provision.TABLE)
        self.assertEqual(list(tables), ["OrdersTable", "QuarantineTable"])
        for lid, res in tables.items():
            props = res["Properties"]
            desc = self.ddb.describe_table(TableName=self.name_of(lid))["Table"]
            self.assertEqual(sorted(map(tuple, (d.values() for d in desc["KeySchema"]))),
                             sorted(map(tuple, (d.values() for d in props["KeySchema"]))))
            self.assertEqual(
                sorted((a["AttributeName"], a["AttributeType"]) for a in desc["AttributeDefinitions"]),
                sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]))
            self.assertEqual(desc["BillingModeSummary"]["BillingMode"], props["BillingMode"])
            ttl = self.ddb.describe_time_to_live(TableName=self.name_of(lid))["TimeToLiveDescription"]
            self.assertEqual(ttl["TimeToLiveStatus"], "ENABLED")
            self.assertEqual(ttl["AttributeName"], props["TimeToLiveSpecification"]["AttributeName"])
            pitr = self.ddb.describe_continuous_backups(TableName=self.name_of(lid))
            pitr = pitr["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            self.assertEqual(pitr["PointInTimeRecoveryStatus"], "ENABLED")
        desc = self.ddb.describe_table(TableName=self.env["TABLE_NAME"])["Table"]
        self.assertEqual({(k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"]},
                         {("pk", "HASH"), ("sk", "RANGE")})
        ttl = self.ddb.describe_time_to_live(TableName=self.env["TABLE_NAME"])
        self.assertEqual(ttl["TimeToLiveDescription"]["AttributeName"], "expires_at")

    # ------------------------------------------------------------------ queues
    def test_queues(self) -> None:
        queues = by_type(self.template, provision.QUEUE)
        self.assertEqual(len(queues), 10)
        arn_of = {}
        for lid in queues:
            url = self.sqs.get_queue_url(QueueName=self.name_of(lid))["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            arn_of[lid] = attrs["QueueArn"]
        for lid, res in queues.items():
            props = res["Properties"]
            url = self.sqs.get_queue_url(QueueName=self.name_of(lid))["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertTrue(self.name_of(lid).startswith(f"{STACK}-"), lid)
            self.assertTrue(self.name_of(lid).endswith(".fifo"), lid)
            self.assertEqual(attrs["FifoQueue"], "true", lid)
            self.assertEqual(attrs["ContentBasedDeduplication"], "false", lid)
            for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
                if key in props:
                    self.assertEqual(attrs[key], str(props[key]), f"{lid}.{key}")
            if lid.endswith("DLQ"):
                self.assertNotIn("RedrivePolicy", attrs, lid)
                self.assertEqual(attrs["MessageRetentionPeriod"], str(14 * 24 * 3600), lid)
                continue
            self.assertEqual(attrs["VisibilityTimeout"], "180", lid)
            redrive = json.loads(attrs["RedrivePolicy"])
            self.assertEqual(int(redrive["maxReceiveCount"]), 5, lid)
            dlq_lid = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            self.assertEqual(dlq_lid, lid.replace("Queue", "DLQ"))
            self.assertEqual(redrive["deadLetterTargetArn"], arn_of[dlq_lid], lid)

    def test_redrive_really_dead_letters(self) -> None:
        url = self.env["REFUNDS_QUEUE_URL"]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
        try:
            self.sqs.send_message(QueueUrl=url, MessageBody="{}", MessageGroupId="o-1",
                                  MessageDeduplicationId="d-1")
            for _ in range(6):
                self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
            got = self.sqs.receive_message(QueueUrl=self.env["REFUNDS_DLQ_URL"],
                                           MaxNumberOfMessages=1).get("Messages", [])
            self.assertEqual(len(got), 1)
        finally:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "180"})

    # ------------------------------------------------------------------ secrets
    def test_secrets(self) -> None:
        secrets = by_type(self.template, provision.SECRET)
        self.assertEqual(sorted(secrets),
                         ["ClaritySecret", "ConsoleSecret", "CrmSecret",
                          "CybersourceRouteBSecret", "CybersourceSecret", "ErpSecret"])
        cybersource = {"merchant_id", "key_id", "shared_secret_b64", "webhook_key_id",
                       "webhook_secret_b64", "base_url"}
        shapes = {
            "CybersourceSecret": cybersource,
            "CybersourceRouteBSecret": cybersource,
            "ClaritySecret": {"base_url", "token_url", "client_id", "client_secret",
                              "webhook_secret"},
            "ErpSecret": {"account_id", "base_url", "token_url", "client_id", "certificate_id",
                          "private_key_pem"},
            "CrmSecret": {"instance_url", "token_url", "client_id", "client_secret"},
            "ConsoleSecret": {"session_key", "dev_login"},
        }
        for lid, res in secrets.items():
            props = res["Properties"]
            self.assertNotIn("SecretString", props, f"{lid}: no values in the template")
            if "GenerateSecretString" in props:  # a generated key: no fixed value in it either
                self.assertNotIn(props["GenerateSecretString"]["GenerateStringKey"],
                                 props["GenerateSecretString"]["SecretStringTemplate"])
            name = self.name_of(lid)
            self.assertEqual(self.env[provision.env_stem(lid) + "_ID"], name)
            desc = self.sm.describe_secret(SecretId=name)
            self.assertEqual(desc["Description"], props["Description"])
            value = json.loads(self.sm.get_secret_value(SecretId=name)["SecretString"])
            self.assertEqual(set(value), shapes[lid], lid)
            self.assertTrue(all((isinstance(v, str) and v) or isinstance(v, bool)
                                for v in value.values()), lid)
            self.assertNotIn("${", json.dumps(value), f"{lid}: env placeholders expanded")
        erp = json.loads(self.sm.get_secret_value(SecretId=f"{STACK}/erp")["SecretString"])
        self.assertIn("BEGIN PRIVATE KEY", erp["private_key_pem"])

    # ------------------------------------------------------------------ idempotency
    def test_rerun_is_idempotent_and_reconciles(self) -> None:
        before_env = self.env_out.read_text()
        drifted = self.env["ORDERS_QUEUE_URL"]
        self.sqs.set_queue_attributes(QueueUrl=drifted, Attributes={"VisibilityTimeout": "7"})
        second = self.run_cli()
        third = self.run_cli()
        self.assertEqual(self.env_out.read_text(), before_env)
        self.assertRegex(second.stdout, r"OrdersQueue\s+queue\s+\S+\s+updated")
        attrs = self.sqs.get_queue_attributes(QueueUrl=drifted, AttributeNames=["VisibilityTimeout"])
        self.assertEqual(attrs["Attributes"]["VisibilityTimeout"], "180")
        statuses = [line.split()[-1] for line in third.stdout.splitlines()[1:]
                    if line and not line.startswith("(")]
        self.assertEqual(len(statuses), len(self.resources["resources"]))
        self.assertEqual(set(statuses), {"exists"}, third.stdout)
        # ten from the template, plus the local alerts sink
        self.assertEqual(len(self.sqs.list_queues(QueueNamePrefix=STACK)["QueueUrls"]), 11)
        self.assertEqual(len(self.ddb.list_tables()["TableNames"]), 2)
        kms = boto3.client("kms", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        ours = [k for k in kms.list_keys()["Keys"]
                if kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags")]
        self.assertEqual(len(ours), 1, "re-running must not add keys")
        versions = self.sm.list_secret_version_ids(SecretId=f"{STACK}/cybersource")["Versions"]
        self.assertEqual(len(versions), 1, "re-running must not add secret versions")

    # ------------------------------------------------------------------ quarantine, alerts
    def test_quarantine_table_is_encrypted_with_the_template_key(self) -> None:
        desc = self.ddb.describe_table(TableName=self.env["QUARANTINE_TABLE_NAME"])["Table"]
        key = self.resources["resources"]["QuarantineKey"]
        self.assertEqual(desc["SSEDescription"]["SSEType"], "KMS")
        self.assertIn(key["name"], desc["SSEDescription"]["KMSMasterKeyArn"])
        self.assertEqual([i["IndexName"] for i in desc["GlobalSecondaryIndexes"]], ["by_day"])
        self.assertNotIn("body", desc["GlobalSecondaryIndexes"][0]["Projection"]["NonKeyAttributes"])

    def test_alerts_reach_the_local_sink(self) -> None:
        sns = boto3.client("sns", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        sns.publish(TopicArn=self.env["ALERTS_TOPIC_ARN"], Subject="s", Message="hello team")
        got = self.sqs.receive_message(QueueUrl=self.env["ALERTS_SINK_URL"], WaitTimeSeconds=2)
        body = json.loads(got["Messages"][0]["Body"])
        self.assertEqual((body["Subject"], body["Message"]), ("s", "hello team"))
        self.assertEqual(self.env["TABLE_NAME"], f"{STACK}-OrdersTable")

    def test_first_run_created_everything(self) -> None:
        rows = [line for line in self.first.stdout.splitlines()[1:] if line and line[0] != "("]
        self.assertEqual(len(rows), len(self.resources["resources"]))
        self.assertTrue(all(r.split()[-1] == "created" for r in rows), self.first.stdout)
        self.assertEqual(self.first.stderr, "", "no warnings for the current template")


if __name__ == "__main__":
    unittest.main()
