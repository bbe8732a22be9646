#!/usr/bin/env python3
"""Provision the local AWS stack (moto server) from template.yaml.

template.yaml is the single source of truth: this script walks its Resources and creates every
AWS::DynamoDB::Table, AWS::SQS::Queue, AWS::SecretsManager::Secret, AWS::KMS::Key (+ Alias) and
AWS::SNS::Topic it finds, resolving the
CloudFormation intrinsics they use (!Ref, !GetAtt, !Sub, !Join, !If, ...). Resources are created
in dependency order (a DLQ before the queue whose RedrivePolicy points at it). There is no second
list of resources here; a new table, queue or secret in the template needs no edit below.

Secret values come from infra/local/secrets.local.json, keyed by the secret's logical id
(sandbox values for the local simulators only). String values there may use ${VAR:-default},
expanded from the environment, e.g. to point base URLs at simulators on other ports.

Re-running against an already provisioned server is safe: existing resources are reconciled
(queue attributes, TTL, PITR, secret value) rather than re-created.

Locally every SNS topic gets one subscriber, the queue <stack>-alerts-sink (ALERTS_SINK_URL):
the "inbox" of the integration team's and the operators' alerts (`o2c alerts` / tests read it).

Outputs (environment variable names are derived from logical ids):
  <LOGICAL>_URL        each queue          OrdersQueue -> ORDERS_QUEUE_URL, OrdersDLQ -> ORDERS_DLQ_URL
  <LOGICAL>_NAME       each table          OrdersTable -> ORDERS_TABLE_NAME (+ TABLE_NAME if only one)
  <LOGICAL>_ID         each secret (name)  CybersourceSecret -> CYBERSOURCE_SECRET_ID
  <LOGICAL>_ARN        each topic          AlertsTopic -> ALERTS_TOPIC_ARN
  the Globals' function variables that are a !Ref of a provisioned resource (TABLE_NAME, ...)
  STAGE, STACK_NAME, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY

Usage (with the venv python):
  infra/.venv/bin/python infra/local/provision.py --endpoint http://127.0.0.1:4566 \
      [--stack-name o2c-local] [--stage dev] [--param Key=Value ...] \
      [--out infra/local/.state/resources.json] [--env-out infra/local/.state/local.env]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

# One CloudFormation YAML loader for the checks, the provisioner and the bench.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))
from cfn import CfnLoader  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO / "template.yaml"
DEFAULT_SECRETS = Path(__file__).resolve().parent / "secrets.local.json"
REGION = "us-east-1"
DUMMY_KEY = "test"

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
SECRET = "AWS::SecretsManager::Secret"
KMS_KEY = "AWS::KMS::Key"
KMS_ALIAS = "AWS::KMS::Alias"
TOPIC = "AWS::SNS::Topic"
SUPPORTED = (TABLE, QUEUE, SECRET, KMS_KEY, KMS_ALIAS, TOPIC)
KEY_TAG = "o2c:logical-id"


class ProvisionError(Exception):
    pass


# --------------------------------------------------------------------------- template loading


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise ProvisionError(f"{path}: no Resources section")
    return doc


# --------------------------------------------------------------------------- intrinsics

_NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def sub_names(template_str: str) -> list[str]:
    return [m.group(1) for m in _SUB_VAR.finditer(template_str) if not m.group(1).startswith("!")]


def dependencies(node: Any) -> set[str]:
    """Logical names (resources, parameters, pseudo parameters) a property tree refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        if len(node) == 1:
            (key, val), = node.items()
            if key == "Ref" and isinstance(val, str):
                return {val}
            if key == "Fn::GetAtt" and isinstance(val, list) and val:
                return {val[0]} | dependencies(val[1:])
            if key == "Fn::Sub":
                text, local = (val, {}) if isinstance(val, str) else (val[0], val[1])
                names = {n.split(".")[0] for n in sub_names(text) if n not in local}
                return names | dependencies(local)
        for val in node.values():
            found |= dependencies(val)
    elif isinstance(node, list):
        for val in node:
            found |= dependencies(val)
    return found


class Resolver:
    def __init__(self, template: dict[str, Any], params: dict[str, str], pseudo: dict[str, str]):
        self.template = template
        self.params = params
        self.pseudo = pseudo
        self.refs: dict[str, Any] = {}  # logical id -> Ref value of a created resource
        self.attrs: dict[str, dict[str, Any]] = {}  # logical id -> GetAtt values
        self.conditions: dict[str, bool] = {}

    # public -----------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        out = self._resolve(node)
        return None if out is _NO_VALUE else out

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise ProvisionError(f"unknown condition {name!r}")
            self.conditions[name] = bool(self._resolve(spec))
        return self.conditions[name]

    # internals --------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.refs:
            return self.refs[name]
        kind = (self.template["Resources"].get(name) or {}).get("Type")
        if kind:
            raise ProvisionError(f"Ref {name} ({kind}): not provisioned locally")
        raise ProvisionError(f"Ref to unknown name {name!r}")

    def _getatt(self, name: str, attribute: str) -> Any:
        if name in self.attrs and attribute in self.attrs[name]:
            return self.attrs[name][attribute]
        kind = (self.template["Resources"].get(name) or {}).get("Type", "unknown")
        raise ProvisionError(f"GetAtt {name}.{attribute} ({kind}): not available locally")

    def _sub(self, text: str, local: dict[str, Any]) -> str:
        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in local:
                value = self._resolve(local[key])
            elif "." in key and key not in self.pseudo:
                resource, _, attribute = key.partition(".")
                value = self._getatt(resource, attribute)
            else:
                value = self._ref(key)
            return str(value)

        return _SUB_VAR.sub(repl, text)

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self._resolve(v) for v in node]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, val), = node.items()
            fn = self._FUNCS.get(key)
            if fn is not None:
                return fn(self, val)
        out = {}
        for key, val in node.items():
            resolved = self._resolve(val)
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def _fn_sub(self, val: Any) -> str:
        if isinstance(val, str):
            return self._sub(val, {})
        return self._sub(val[0], val[1])

    def _fn_if(self, val: list[Any]) -> Any:
        cond, yes, no = val
        return self._resolve(yes if self.condition(cond) else no)

    def _fn_join(self, val: list[Any]) -> str:
        sep, items = val
        return str(sep).join(str(v) for v in self._resolve(items))

    def _fn_select(self, val: list[Any]) -> Any:
        index, items = self._resolve(val)
        return items[int(index)]

    def _fn_split(self, val: list[Any]) -> list[str]:
        sep, text = self._resolve(val)
        return str(text).split(sep)

    def _fn_find_in_map(self, val: list[Any]) -> Any:
        mapping, top, second = self._resolve(val)[:3]
        return self.template["Mappings"][mapping][top][second]

    _FUNCS: dict[str, Callable[["Resolver", Any], Any]] = {
        "Ref": lambda self, v: self._ref(v),
        "Fn::GetAtt": lambda self, v: self._getatt(*self._resolve(v)),
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::GetAZs": lambda self, v: [f"{self.pseudo['AWS::Region']}{z}" for z in "abc"],
        "Fn::Base64": lambda self, v: base64.b64encode(str(self._resolve(v)).encode()).decode(),
        "Fn::Equals": lambda self, v: self._resolve(v[0]) == self._resolve(v[1]),
        "Fn::Not": lambda self, v: not self._resolve(v[0]),
        "Fn::And": lambda self, v: all(self._resolve(x) for x in v),
        "Fn::Or": lambda self, v: any(self._resolve(x) for x in v),
        "Condition": lambda self, v: self.condition(v),
    }


def topo_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Supported resources, dependencies first, otherwise in template order."""
    deps = {
        lid: {d for d in dependencies(res.get("Properties", {})) if d in resources and d != lid}
        | set(_as_list(res.get("DependsOn")))
        for lid, res in resources.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(lid: str, path: list[str]) -> None:
        if state.get(lid) == 2:
            return
        if state.get(lid) == 1:
            raise ProvisionError("dependency cycle: " + " -> ".join(path + [lid]))
        state[lid] = 1
        for dep in sorted(deps[lid] & resources.keys(), key=list(resources).index):
            visit(dep, path + [lid])
        state[lid] = 2
        order.append(lid)

    for lid in resources:
        visit(lid, [])
    return order


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- naming


def env_stem(logical_id: str) -> str:
    """OrdersQueue -> ORDERS_QUEUE, OrdersDLQ -> ORDERS_DLQ, ClaritySyncQueue -> CLARITY_SYNC_QUEUE."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", logical_id)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").upper()


def _str_attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _err_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


# --------------------------------------------------------------------------- provisioners


class Provisioner:
    def __init__(self, endpoint: str, stack: str, resolver: Resolver, seeds: dict[str, Any]):
        cfg = Config(retries={"max_attempts": 3, "mode": "standard"})
        common = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=DUMMY_KEY,
                      aws_secret_access_key=DUMMY_KEY, config=cfg)
        self.ddb = boto3.client("dynamodb", **common)
        self.sqs = boto3.client("sqs", **common)
        self.sm = boto3.client("secretsmanager", **common)
        self.kms = boto3.client("kms", **common)
        self.sns = boto3.client("sns", **common)
        self.stack = stack
        self.r = resolver
        self.seeds = seeds
        self.rows: list[tuple[str, str, str, str]] = []
        self.warnings: list[str] = []

    def ignored(self, lid: str, props: dict[str, Any], handled: set[str]) -> None:
        for key in sorted(set(props) - handled):
            self.warnings.append(f"{lid}: property {key} is not applied locally")

    # DynamoDB -----------------------------------------------------------------
    def table(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        handled = {"TableName", "AttributeDefinitions", "KeySchema", "BillingMode",
                   "ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
                   "StreamSpecification", "SSESpecification", "TimeToLiveSpecification",
                   "PointInTimeRecoverySpecification", "Tags", "TableClass",
                   "DeletionProtectionEnabled"}
        self.ignored(lid, props, handled)
        name = props.get("TableName") or f"{self.stack}-{lid}"
        req: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if req["BillingMode"] == "PROVISIONED":
            req["ProvisionedThroughput"] = props.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "Tags", "TableClass",
                    "DeletionProtectionEnabled"):
            if key in props:
                req[key] = props[key]
        if "StreamSpecification" in props:
            req["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        sse = props.get("SSESpecification")
        if sse:
            api_sse = {"Enabled": bool(sse.get("SSEEnabled"))}
            if sse.get("SSEType"):
                api_sse["SSEType"] = sse["SSEType"]
            if sse.get("KMSMasterKeyId"):
                api_sse["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
            req["SSESpecification"] = api_sse

        status = "created"
        try:
            desc = self.ddb.describe_table(TableName=name)["Table"]
            status = "exists"
            have = sorted((k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"])
            want = sorted((k["AttributeName"], k["KeyType"]) for k in req["KeySchema"])
            if have != want:
                raise ProvisionError(f"{lid}: table {name} exists with key schema {have}, "
                                     f"template wants {want}; reset the local stack (down.sh)")
        except ClientError as err:
            if _err_code(err) != "ResourceNotFoundException":
                raise
            desc = self.ddb.create_table(**req)["TableDescription"]

        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            cur = self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            enabled = cur.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            want_on = bool(ttl.get("Enabled", True))
            if enabled != want_on or (want_on and cur.get("AttributeName") != ttl["AttributeName"]):
                self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": want_on})
                status = "updated" if status == "exists" else status
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            self.ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))})

        self.r.refs[lid] = name
        self.r.attrs[lid] = {"Arn": desc["TableArn"], "StreamArn": desc.get("LatestStreamArn")}
        self.rows.append((lid, "table", name, status))
        return {"type": TABLE, "name": name, "arn": desc["TableArn"], "status": status}

    # SQS ----------------------------------------------------------------------
    SQS_ATTRS = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                 "FifoThroughputLimit", "VisibilityTimeout", "MessageRetentionPeriod",
                 "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds",
                 "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
                 "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")
    SQS_IMMUTABLE = ("FifoQueue",)

    def queue(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        self.ignored(lid, props, set(self.SQS_ATTRS) | {"QueueName", "Tags"})
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or f"{self.stack}-{lid}" + (".fifo" if fifo else "")
        attrs = {k: _str_attr(props[k]) for k in self.SQS_ATTRS if k in props}
        tags = {t["Key"]: str(t["Value"]) for t in props.get("Tags", [])}

        try:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as err:
            if "NonExistentQueue" not in _err_code(err):
                raise
            url = None
        if url is None:
            kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attrs}
            if tags:
                kwargs["tags"] = tags
            url = self.sqs.create_queue(**kwargs)["QueueUrl"]
            status = "created"
        else:
            current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            current = current.get("Attributes", {})
            for key in self.SQS_IMMUTABLE:
                if key in attrs and current.get(key, "false") != attrs[key]:
                    raise ProvisionError(f"{lid}: queue {name} has {key}={current.get(key)}, "
                                         f"template wants {attrs[key]}; reset the local stack")
            mutable = {k: v for k, v in attrs.items() if k not in self.SQS_IMMUTABLE}
            changed = {k: v for k, v in mutable.items() if not _same_attr(current.get(k), v)}
            if changed:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
            if tags:
                self.sqs.tag_queue(QueueUrl=url, Tags=tags)
            status = "updated" if changed else "exists"

        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn = arn["Attributes"]["QueueArn"]
        self.r.refs[lid] = url
        self.r.attrs[lid] = {"Arn": arn, "QueueName": name, "QueueUrl": url}
        self.rows.append((lid, "queue", name, status))
        return {"type": QUEUE, "name": name, "url": url, "arn": arn, "status": status}

    # Secrets Manager ----------------------------------------------------------
    def secret(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        self.ignored(lid, props, {"Name", "Description", "SecretString", "GenerateSecretString",
                                  "KmsKeyId", "Tags", "ReplicaRegions"})
        name = props.get("Name") or f"{self.stack}/{lid}"
        value = self.seed_value(lid, props)
        try:
            desc = self.sm.describe_secret(SecretId=name)
            exists = True
        except ClientError as err:
            if _err_code(err) != "ResourceNotFoundException":
                raise
            exists = False

        if not exists:
            kwargs: dict[str, Any] = {"Name": name}
            if props.get("Description"):
                kwargs["Description"] = props["Description"]
            if props.get("Tags"):
                kwargs["Tags"] = props["Tags"]
            if value is not None:
                kwargs["SecretString"] = value
            arn = self.sm.create_secret(**kwargs)["ARN"]
            status = "created"
        else:
            arn = desc["ARN"]
            status = "exists"
            if props.get("Description") and desc.get("Description") != props["Description"]:
                self.sm.update_secret(SecretId=name, Description=props["Description"])
                status = "updated"
            if value is not None and self._current_value(name) != value:
                self.sm.put_secret_value(SecretId=name, SecretString=value)
                status = "updated"
        if value is None:
            self.warnings.append(f"{lid}: no value in secrets.local.json; secret {name} is empty")

        self.r.refs[lid] = arn
        self.r.attrs[lid] = {"Id": arn}
        self.rows.append((lid, "secret", name, status + ("" if value is not None else " (empty)")))
        return {"type": SECRET, "name": name, "arn": arn, "status": status}

    # KMS ----------------------------------------------------------------------
    def kms_key(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        self.ignored(lid, props, {"Description", "EnableKeyRotation", "KeyPolicy", "KeySpec",
                                  "KeyUsage", "PendingWindowInDays", "Tags", "Enabled"})
        tag = f"{self.stack}/{lid}"
        key_id = None
        for page in self.kms.get_paginator("list_keys").paginate():
            for k in page["Keys"]:
                tags = self.kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags", [])
                if any(t["TagKey"] == KEY_TAG and t["TagValue"] == tag for t in tags):
                    key_id = k["KeyId"]
        status = "exists"
        if key_id is None:
            kwargs: dict[str, Any] = {"Tags": [{"TagKey": KEY_TAG, "TagValue": tag}]}
            if props.get("Description"):
                kwargs["Description"] = props["Description"]
            key_id = self.kms.create_key(**kwargs)["KeyMetadata"]["KeyId"]
            status = "created"
        if props.get("EnableKeyRotation"):
            self.kms.enable_key_rotation(KeyId=key_id)
        arn = self.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        self.r.refs[lid] = key_id
        self.r.attrs[lid] = {"Arn": arn, "KeyId": key_id}
        self.rows.append((lid, "key", key_id, status))
        return {"type": KMS_KEY, "name": key_id, "arn": arn, "status": status}

    def kms_alias(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        self.ignored(lid, props, {"AliasName", "TargetKeyId"})
        name, target = props["AliasName"], props["TargetKeyId"]
        aliases = self.kms.list_aliases().get("Aliases", [])
        have = next((a for a in aliases if a["AliasName"] == name), None)
        if have is None:
            self.kms.create_alias(AliasName=name, TargetKeyId=target)
            status = "created"
        elif have.get("TargetKeyId") != target:
            self.kms.update_alias(AliasName=name, TargetKeyId=target)
            status = "updated"
        else:
            status = "exists"
        self.r.refs[lid] = name
        self.rows.append((lid, "alias", name, status))
        return {"type": KMS_ALIAS, "name": name, "status": status}

    # SNS ----------------------------------------------------------------------
    def topic(self, lid: str, props: dict[str, Any]) -> dict[str, Any]:
        self.ignored(lid, props, {"TopicName", "DisplayName", "KmsMasterKeyId", "Tags"})
        name = props.get("TopicName") or f"{self.stack}-{lid}"
        attrs = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in props}
        existing = {t["TopicArn"].rsplit(":", 1)[-1] for page in
                    self.sns.get_paginator("list_topics").paginate() for t in page["Topics"]}
        arn = self.sns.create_topic(Name=name, Attributes=attrs)["TopicArn"]
        self.r.refs[lid] = arn
        self.r.attrs[lid] = {"TopicArn": arn, "TopicName": name}
        status = "exists" if name in existing else "created"
        self.rows.append((lid, "topic", name, status))
        return {"type": TOPIC, "name": name, "arn": arn, "status": status}

    def alerts_sink(self, topics: list[str]) -> str:
        """The local inbox: one standard queue subscribed (once) to every topic."""
        url = self.sqs.create_queue(QueueName=f"{self.stack}-alerts-sink")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn = arn["Attributes"]["QueueArn"]
        for topic in topics:
            subs = self.sns.list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
            if not any(s["Endpoint"] == arn for s in subs):
                self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return url

    def seed_value(self, lid: str, props: dict[str, Any]) -> str | None:
        if lid in self.seeds:
            seed = _expand_env(self.seeds[lid])
            return seed if isinstance(seed, str) else json.dumps(seed, sort_keys=True)
        if props.get("SecretString") is not None:
            return str(props["SecretString"])
        gen = props.get("GenerateSecretString")
        if gen:
            current = self._current_value(props.get("Name") or f"{self.stack}/{lid}")
            if current is not None:
                return current  # keep the generated value stable across re-runs
            opts = {k: v for k, v in gen.items()
                    if k in ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers",
                             "ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase",
                             "IncludeSpace", "RequireEachIncludedType")}
            pw = self.sm.get_random_password(**opts)["RandomPassword"]
            if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
                doc = json.loads(gen["SecretStringTemplate"])
                doc[gen["GenerateStringKey"]] = pw
                return json.dumps(doc, sort_keys=True)
            return pw
        return None

    def _current_value(self, name: str) -> str | None:
        try:
            return self.sm.get_secret_value(SecretId=name).get("SecretString")
        except ClientError as err:
            if _err_code(err) == "ResourceNotFoundException":
                return None
            raise


def _same_attr(have: str | None, want: str) -> bool:
    if have is None:
        return False
    if want.startswith("{"):
        try:
            a, b = json.loads(have), json.loads(want)
        except ValueError:
            return have == want
        return {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}
    return have.lower() == want.lower()


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


# --------------------------------------------------------------------------- main


def build_env(created: dict[str, dict[str, Any]], endpoint: str, stage: str,
              stack: str, globals_vars: dict[str, Any] | None = None) -> dict[str, str]:
    env: dict[str, str] = {}

    def put(key: str, value: str) -> None:
        if key in env and env[key] != value:
            raise ProvisionError(f"two resources map to env var {key}; rename a logical id")
        env[key] = value

    tables = [lid for lid, c in created.items() if c["type"] == TABLE]
    for lid, c in created.items():
        stem = env_stem(lid)
        if c["type"] == TABLE:
            put(f"{stem}_NAME", c["name"])
        elif c["type"] == QUEUE:
            put(f"{stem}_URL", c["url"])
        elif c["type"] == SECRET:
            put(f"{stem}_ID", c["name"])
        elif c["type"] == TOPIC:
            put(f"{stem}_ARN", c["arn"])
    for var, node in (globals_vars or {}).items():
        lid = node.get("Ref") if isinstance(node, dict) else None
        if lid in created:
            c = created[lid]
            put(var, c.get("url") or c.get("arn") if c["type"] in (QUEUE, TOPIC) else c["name"])
    if len(tables) == 1:
        put("TABLE_NAME", created[tables[0]]["name"])
    put("STAGE", stage)
    put("STACK_NAME", stack)
    put("AWS_ENDPOINT_URL", endpoint)
    put("AWS_REGION", REGION)
    put("AWS_DEFAULT_REGION", REGION)
    put("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    put("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
    return env


def provision(endpoint: str, stack: str, stage: str, template_path: Path = DEFAULT_TEMPLATE,
              secrets_path: Path = DEFAULT_SECRETS, extra_params: dict[str, str] | None = None,
              quiet: bool = False) -> dict[str, Any]:
    template = load_template(template_path)
    params: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if "Default" in spec:
            params[name] = str(spec["Default"])
    if "Stage" in (template.get("Parameters") or {}):
        params["Stage"] = stage
    params.update(extra_params or {})
    for name, spec in (template.get("Parameters") or {}).items():
        if name not in params:
            raise ProvisionError(f"parameter {name} has no default; pass --param {name}=...")
        allowed = spec.get("AllowedValues")
        if allowed and params[name] not in [str(a) for a in allowed]:
            raise ProvisionError(f"parameter {name}={params[name]!r} not in {allowed}")

    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY)
    account = sts.get_caller_identity()["Account"]
    pseudo = {"AWS::StackName": stack, "AWS::Region": REGION, "AWS::AccountId": account,
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
              "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{account}:stack/{stack}/local",
              "AWS::NotificationARNs": []}
    resolver = Resolver(template, params, pseudo)

    seeds: dict[str, Any] = {}
    if secrets_path.exists():
        seeds = {k: v for k, v in json.loads(secrets_path.read_text()).items()
                 if not k.startswith("_")}

    all_resources = template["Resources"]
    wanted = {lid: res for lid, res in all_resources.items() if res.get("Type") in SUPPORTED
              and (not res.get("Condition") or resolver.condition(res["Condition"]))}
    secret_ids = {lid for lid, res in wanted.items() if res["Type"] == SECRET}
    unknown_seeds = set(seeds) - secret_ids
    if unknown_seeds:
        raise ProvisionError(f"{secrets_path.name} has keys that are not secrets in the "
                             f"template: {sorted(unknown_seeds)}")

    p = Provisioner(endpoint, stack, resolver, seeds)
    handlers = {TABLE: p.table, QUEUE: p.queue, SECRET: p.secret, KMS_KEY: p.kms_key,
                KMS_ALIAS: p.kms_alias, TOPIC: p.topic}
    created: dict[str, dict[str, Any]] = {}
    for lid in topo_order(wanted):
        res = wanted[lid]
        props = resolver.resolve(res.get("Properties") or {})
        created[lid] = handlers[res["Type"]](lid, props)
    # keep template order in outputs
    created = {lid: created[lid] for lid in wanted}

    globals_vars = (((template.get("Globals") or {}).get("Function") or {})
                    .get("Environment") or {}).get("Variables") or {}
    env = build_env(created, endpoint, stage, stack, globals_vars)
    topics = [c["arn"] for c in created.values() if c["type"] == TOPIC]
    if topics:
        env["ALERTS_SINK_URL"] = p.alerts_sink(topics)
    skipped = sorted({r.get("Type", "?") for r in all_resources.values()
                      if r.get("Type") not in SUPPORTED})
    off = sorted(lid for lid, r in all_resources.items()
                 if r.get("Type") in SUPPORTED and lid not in wanted)
    if not quiet:
        width = max([len(r[0]) for r in p.rows] + [11])
        nwidth = max([len(r[2]) for r in p.rows] + [4])
        print(f"{'logical id':<{width}}  {'kind':<6}  {'name':<{nwidth}}  status")
        for lid, kind, name, status in sorted(p.rows, key=lambda r: list(wanted).index(r[0])):
            print(f"{lid:<{width}}  {kind:<6}  {name:<{nwidth}}  {status}")
        if off:
            print(f"(condition false, skipped: {', '.join(off)})")
        if skipped:
            print(f"(not provisioned locally: {', '.join(skipped)})")
        for w in p.warnings:
            print(f"warning: {w}", file=sys.stderr)
    return {"endpoint": endpoint, "region": REGION, "account_id": account, "stack_name": stack,
            "stage": stage, "resources": created, "env": env, "warnings": p.warnings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:4566")
    ap.add_argument("--stack-name", default="o2c-local")
    ap.add_argument("--stage", default="dev")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="template parameter override (repeatable)")
    ap.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    ap.add_argument("--secrets", type=Path, default=DEFAULT_SECRETS)
    ap.add_argument("--out", type=Path, help="write a JSON description of the resources here")
    ap.add_argument("--env-out", type=Path, help="write KEY=VALUE lines here")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    extra = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--param {item!r}: expected KEY=VALUE")
        extra[key] = value
    try:
        result = provision(args.endpoint.rstrip("/"), args.stack_name, args.stage, args.template,
                           args.secrets, extra, args.quiet)
    except ProvisionError as err:
        print(f"provision.py: {err}", file=sys.stderr)
        return 1
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if args.env_out:
        args.env_out.parent.mkdir(parents=True, exist_ok=True)
        args.env_out.write_text("".join(f"{k}={v}\n" for k, v in result["env"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
