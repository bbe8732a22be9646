#!/usr/bin/env python3
"""IAM wildcard check: fail on any IAM statement in template.yaml that grants a wildcard action.

Looked at: every policy document anywhere in a resource's Properties (AWS::IAM::Role `Policies`
and `AssumeRolePolicyDocument`, AWS::IAM::Policy / ManagedPolicy, queue/topic/bucket/secret
resource policies, ...), and the `Policies` of AWS::Serverless::Function / StateMachine /
Api-style resources, where SAM policy templates (e.g. `SQSSendMessagePolicy: {...}`) are
expanded from the SAM translator's own policy_templates.json before checking.

A statement fails when
  * an Action contains `*` or `?` (`*`, `sqs:*`, `secretsmanager:Get*`, `s3:*Object`, ...);
  * it uses NotAction (allows everything but the list) or NotResource;
  * an Action is not a literal string (a !Ref or !Sub cannot be checked; !If is checked on
    both branches);
  * it is an Allow in an identity policy with `Resource: "*"` (least privilege: exact ARNs).
A resource fails when
  * it attaches managed policies (ManagedPolicyArns, or a managed-policy name/ARN in SAM
    `Policies`): their contents are not in the template, so they cannot be checked;
  * it is an AWS::Serverless::Function without `Role`: SAM would generate a role with
    AWSLambdaBasicExecutionRole (and the event sources' execution roles) on Resource "*".

Usage: infra/.venv/bin/python infra/checks/iam_wildcards.py [--template template.yaml]
Exit status 0 when clean, 1 with one line per finding otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn import REPO, as_list, load  # noqa: E402

SAM_POLICY_RESOURCES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine",
                        "AWS::Serverless::Connector")


def sam_policy_templates() -> dict[str, Any]:
    """SAM's policy templates (name -> Definition), from the installed samtranslator."""
    try:
        import samtranslator  # noqa: PLC0415
    except ImportError:
        return {}
    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    return {k: v["Definition"] for k, v in json.loads(path.read_text())["Templates"].items()}


def literal_options(value: Any) -> Iterator[Any]:
    """All values an intrinsic may take when it is an Fn::If; the value itself otherwise."""
    if isinstance(value, dict) and list(value) == ["Fn::If"] and isinstance(value["Fn::If"], list):
        _, yes, no = (value["Fn::If"] + [None, None, None])[:3]
        for branch in (yes, no):
            yield from literal_options(branch)
    elif isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] == "AWS::NoValue":
        return
    else:
        yield value


def check_statement(st: Any, where: str, identity: bool) -> list[str]:
    if not isinstance(st, dict):
        return [f"{where}: statement is not a mapping: {st!r}"]
    sid = f" (Sid {st['Sid']})" if st.get("Sid") else ""
    out = []
    if "NotAction" in st:
        out.append(f"{where}{sid}: NotAction grants every action but the listed ones")
    if "NotResource" in st:
        out.append(f"{where}{sid}: NotResource applies to every resource but the listed ones")
    for raw in as_list(st.get("Action")):
        for action in literal_options(raw):
            for a in as_list(action):
                if not isinstance(a, str):
                    out.append(f"{where}{sid}: action {a!r} is not a literal (cannot be checked)")
                elif "*" in a or "?" in a:
                    out.append(f"{where}{sid}: wildcard action {a!r}")
    if identity and st.get("Effect") == "Allow" and "Principal" not in st:
        for raw in as_list(st.get("Resource")):
            for r in literal_options(raw):
                if r == "*" or r == ["*"]:
                    out.append(f"{where}{sid}: Allow on Resource '*' (name the exact ARNs)")
    return out


def policy_documents(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping with a Statement key below node (with a readable path)."""
    if isinstance(node, dict):
        if "Statement" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from policy_documents(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from policy_documents(v, f"{path}[{i}]")


def check(template_path: Path) -> list[str]:
    template = load(template_path)
    templates = sam_policy_templates()
    findings: list[str] = []
    for lid, res in template["Resources"].items():
        kind = res.get("Type", "")
        props = res.get("Properties") or {}
        docs: list[tuple[str, dict[str, Any], bool]] = []

        if kind in SAM_POLICY_RESOURCES:
            if kind == "AWS::Serverless::Function" and not props.get("Role"):
                findings.append(f"{lid}: no Role, so SAM generates one with "
                                "AWSLambdaBasicExecutionRole (Resource '*'); give it an explicit role")
            for i, pol in enumerate(as_list(props.get("Policies"))):
                where = f"{lid}.Policies[{i}]"
                if isinstance(pol, str):
                    findings.append(f"{where}: managed policy {pol!r} cannot be checked; "
                                    "use explicit statements")
                elif isinstance(pol, dict) and "Statement" in pol:
                    docs.append((where, pol, True))
                elif isinstance(pol, dict) and len(pol) == 1:
                    (name, _), = pol.items()
                    if name in templates:
                        docs.append((f"{where} (SAM policy template {name})", templates[name], True))
                    else:
                        findings.append(f"{where}: unknown policy entry {name!r} cannot be checked")
                else:
                    findings.append(f"{where}: policy entry {pol!r} cannot be checked")
            rest = {k: v for k, v in props.items() if k != "Policies"}
        else:
            rest = props

        for key in ("ManagedPolicyArns",):
            for arn in as_list(props.get(key)):
                findings.append(f"{lid}.{key}: managed policy {arn!r} cannot be checked; "
                                "use explicit statements")

        for path, doc in policy_documents(rest, lid):
            identity = "AssumeRolePolicyDocument" not in path and kind in (
                "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
                "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::RolePolicy",
                "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy")
            docs.append((path, doc, identity))

        for where, doc, identity in docs:
            for j, st in enumerate(as_list(doc.get("Statement"))):
                findings += check_statement(st, f"{where}.Statement[{j}]", identity)
    return findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=REPO / "template.yaml")
    args = ap.parse_args(argv)
    findings = check(args.template)
    for f in findings:
        print(f"iam_wildcards: {f}", file=sys.stderr)
    if findings:
        print(f"iam_wildcards: FAILED ({len(findings)} finding(s))", file=sys.stderr)
        return 1
    print("iam_wildcards: ok (no wildcard actions, NotAction, Resource '*' or unchecked policies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
