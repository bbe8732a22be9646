#!/usr/bin/env python3
"""Template <-> crates check: every function in template.yaml has a crate in functions/ and every
crate in functions/ is a function in the template, wired the way its FunctionSpec says.

For each AWS::Serverless::Function / AWS::Lambda::Function:
  * CodeUri is functions/<crate> (a directory with Cargo.toml, a workspace member);
  * Metadata.BuildMethod is rust-cargolambda and BuildProperties.Binary names the crate's bin;
  * Runtime provided.al2023, Architectures [arm64], Handler bootstrap (Globals applied);
  * FUNCTION_TIMEOUT_SECS equals Timeout (claim leases and call budgets derive from it);
  * from the crate's FunctionSpec (the `FunctionSpec { name: "<crate>", ... }` literal in
    shared/*/src, today shared/pipeline/src/specs.rs, or in the crate's own src):
      - STAGE, TABLE_NAME, <QUEUE>_QUEUE_URL for each queue it sends to, <QUEUE>_DLQ_URL of the
        queue it consumes and each secret-id variable are set, each to a !Ref of the resource
        with the matching logical id (CAPTURES_QUEUE_URL -> CapturesQueue, ...);
      - a consumer has exactly one SQS event on its own queue with ReportBatchItemFailures; a
        non-consumer has none;
      - its role grants sqs:SendMessage on each queue it sends to and on its consumed queue's DLQ,
        sqs:ReceiveMessage/DeleteMessage/GetQueueAttributes on the consumed queue and
        secretsmanager:GetSecretValue on each secret (so a missing grant fails here, not at 3 am).
Every functions/*/Cargo.toml must be used by exactly one function.

Usage: infra/.venv/bin/python infra/checks/template_crates.py [--template T] [--root DIR]
Exit status 0 when clean, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn import FUNCTION_TYPES, REPO, as_list, load, ref_target  # noqa: E402

QUEUE_STEM = {"Orders": "ORDERS", "Captures": "CAPTURES", "Refunds": "REFUNDS",
              "ClaritySync": "CLARITY_SYNC", "ErpSync": "ERP_SYNC"}


def env_stem(logical_id: str) -> str:
    """OrdersQueue -> ORDERS_QUEUE, ClaritySyncDLQ -> CLARITY_SYNC_DLQ (as provision.py does)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", logical_id)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").upper()


SPEC_BLOCK = re.compile(r"\bFunctionSpec\s*\{(.*?)\n\s*\}", re.S)


def parse_spec(body: str, where: str) -> dict[str, Any]:
    """name / sends_to / consumes / secrets of one `FunctionSpec { ... }` literal."""

    def field(name: str) -> str:
        fm = re.search(rf"\b{name}\s*:\s*(.*?)(?:,\s*\n\s*\w+\s*:(?!:)|,?\s*$)", body, re.S)
        if not fm:
            raise ValueError(f"{where}: FunctionSpec has no `{name}`")
        return fm.group(1)

    nm = re.fullmatch(r'"([^"]+)"', field("name").strip())
    if not nm:
        raise ValueError(f"{where}: cannot read FunctionSpec name {field('name')!r}")
    sends = re.findall(r"QueueName::(\w+)", field("sends_to"))
    consumes_src = field("consumes").strip()
    cm = re.fullmatch(r"Some\(\s*QueueName::(\w+)\s*\)", consumes_src)
    if not cm and consumes_src != "None":
        raise ValueError(f"{where}: cannot read `consumes: {consumes_src}`")
    secrets = re.findall(r'"([A-Z0-9_]+)"', field("secrets"))
    for q in sends + ([cm.group(1)] if cm else []):
        if q not in QUEUE_STEM:
            raise ValueError(f"{where}: unknown queue QueueName::{q}")
    return {"name": nm.group(1), "sends_to": sends, "consumes": cm.group(1) if cm else None,
            "secrets": secrets, "where": where}


def collect_specs(root: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every `FunctionSpec { name: "...", ... }` literal in functions/*/src and shared/*/src,
    keyed by name (= the crate and bin name). Today they all live in shared/pipeline/src/specs.rs;
    a crate may still define its own."""
    specs: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    files = sorted(root.glob("functions/*/src/**/*.rs")) + sorted(root.glob("shared/*/src/**/*.rs"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "FunctionSpec" not in text:
            continue
        for m in SPEC_BLOCK.finditer(text):
            body = m.group(1)
            if not re.search(r'\bname\s*:\s*"', body):  # the struct definition, not a literal
                continue
            where = f"{path.relative_to(root)}:{text[:m.start()].count(chr(10)) + 1}"
            try:
                spec = parse_spec(body, where)
            except ValueError as err:
                problems.append(str(err))
                continue
            if spec["name"] in specs:
                problems.append(f"{where}: a second FunctionSpec named {spec['name']!r} "
                                f"(first at {specs[spec['name']]['where']})")
            specs[spec["name"]] = spec
    return specs, problems


def crate_bins(cargo_toml: Path) -> set[str]:
    doc = tomllib.loads(cargo_toml.read_text(encoding="utf-8"))
    bins = {b["name"] for b in doc.get("bin", []) if "name" in b}
    if (cargo_toml.parent / "src" / "main.rs").exists() and doc.get("package", {}).get("name"):
        bins.add(doc["package"]["name"])
    return bins


def role_grants(template: dict[str, Any], role_ref: Any) -> list[tuple[set[str], set[str]]] | None:
    """(actions, resource logical ids) per Allow statement of the function's role, or None."""
    role_id = ref_target(role_ref)
    role = template["Resources"].get(role_id or "")
    if not role or role.get("Type") != "AWS::IAM::Role":
        return None
    grants = []
    for pol in as_list(role.get("Properties", {}).get("Policies")):
        for st in as_list((pol.get("PolicyDocument") or {}).get("Statement")):
            if st.get("Effect") != "Allow":
                continue
            actions = {a.lower() for a in as_list(st.get("Action")) if isinstance(a, str)}
            resources = {ref_target(r) for r in as_list(st.get("Resource"))} - {None}
            grants.append((actions, resources))
    return grants


def allowed(grants: list[tuple[set[str], set[str]]], action: str, resource: str) -> bool:
    return any(action.lower() in acts and resource in res for acts, res in grants)


def check(template_path: Path, root: Path) -> list[str]:
    template = load(template_path)
    resources = template["Resources"]
    glob = (template.get("Globals") or {}).get("Function") or {}
    functions_dir = root / "functions"
    crates = {p.parent.name: p for p in sorted(functions_dir.glob("*/Cargo.toml"))}
    members = set(tomllib.loads((root / "Cargo.toml").read_text())["workspace"].get("members", []))
    used: dict[str, str] = {}
    specs, problems = collect_specs(root)

    for lid, res in resources.items():
        if res.get("Type") not in FUNCTION_TYPES:
            continue
        props = res.get("Properties") or {}
        where = f"{lid}"
        code_uri = props.get("CodeUri")
        m = re.fullmatch(r"(?:\./)?functions/([^/]+)/?", code_uri if isinstance(code_uri, str) else "")
        if not m:
            problems.append(f"{where}: CodeUri {code_uri!r} is not functions/<crate>")
            continue
        crate = m.group(1)
        if crate not in crates:
            problems.append(f"{where}: no crate for CodeUri functions/{crate} "
                            f"(functions/{crate}/Cargo.toml missing)")
            continue
        if crate in used:
            problems.append(f"{where}: crate functions/{crate} is already used by {used[crate]}")
        used[crate] = lid
        if f"functions/{crate}" not in members:
            problems.append(f"{where}: functions/{crate} is not a member of the workspace Cargo.toml")

        meta = res.get("Metadata") or {}
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{where}: Metadata.BuildMethod must be rust-cargolambda")
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        bins = crate_bins(crates[crate])
        if binary not in bins:
            problems.append(f"{where}: BuildProperties.Binary {binary!r} is not a bin of "
                            f"functions/{crate} ({', '.join(sorted(bins)) or 'none'})")

        def prop(name: str) -> Any:
            return props.get(name, glob.get(name))

        for name, want in (("Runtime", "provided.al2023"), ("Handler", "bootstrap"),
                           ("Architectures", ["arm64"])):
            if prop(name) != want:
                problems.append(f"{where}: {name} is {prop(name)!r}, want {want!r}")

        env = {**((glob.get("Environment") or {}).get("Variables") or {}),
               **((props.get("Environment") or {}).get("Variables") or {})}
        timeout = prop("Timeout")
        if str(env.get("FUNCTION_TIMEOUT_SECS")) != str(timeout):
            problems.append(f"{where}: FUNCTION_TIMEOUT_SECS={env.get('FUNCTION_TIMEOUT_SECS')!r} "
                            f"must equal Timeout={timeout!r}")

        spec = specs.get(crate)
        if spec is None:
            problems.append(f"{where}: no FunctionSpec named {crate!r} (functions/{crate}/src or "
                            "shared/*/src, e.g. shared/pipeline/src/specs.rs)")
            continue

        # environment: each variable names the resource whose env stem it is
        need = {"STAGE": None, "TABLE_NAME": None}
        for q in spec["sends_to"]:
            need[f"{QUEUE_STEM[q]}_QUEUE_URL"] = f"{q}Queue"
        if spec["consumes"]:
            need[f"{QUEUE_STEM[spec['consumes']]}_DLQ_URL"] = f"{spec['consumes']}DLQ"
        for s in spec["secrets"]:
            need[s] = None
        for var, want_lid in need.items():
            if var not in env:
                problems.append(f"{where}: environment variable {var} is missing "
                                f"({spec['where']} needs it)")
                continue
            target = ref_target(env[var])
            if var in ("STAGE", "TABLE_NAME"):
                continue
            if target is None or target not in resources:
                problems.append(f"{where}: {var} should be a !Ref to a resource, got {env[var]!r}")
            elif want_lid and target != want_lid:
                problems.append(f"{where}: {var} refers to {target}, want {want_lid}")
            elif not want_lid and env_stem(target) + "_ID" != var:
                problems.append(f"{where}: {var} refers to {target} ({env_stem(target)}_ID)")

        # event sources
        events = props.get("Events") or {}
        sqs = [e for e in events.values() if e.get("Type") == "SQS"]
        if spec["consumes"]:
            want_q = f"{spec['consumes']}Queue"
            if len(sqs) != 1:
                problems.append(f"{where}: consumes {want_q} but has {len(sqs)} SQS events (want 1)")
            for e in sqs:
                ep = e.get("Properties") or {}
                if ref_target(ep.get("Queue")) != want_q:
                    problems.append(f"{where}: SQS event reads {ref_target(ep.get('Queue'))}, "
                                    f"FunctionSpec consumes {want_q}")
                if "ReportBatchItemFailures" not in as_list(ep.get("FunctionResponseTypes")):
                    problems.append(f"{where}: SQS event lacks FunctionResponseTypes "
                                    "[ReportBatchItemFailures]")
        elif sqs:
            problems.append(f"{where}: has an SQS event but its FunctionSpec consumes no queue")

        # permissions (only for explicit roles; the IAM check rejects implicit ones)
        grants = role_grants(template, props.get("Role"))
        if grants is None:
            problems.append(f"{where}: Role must be !GetAtt <an AWS::IAM::Role in this template>.Arn")
            continue
        for q in spec["sends_to"]:
            if not allowed(grants, "sqs:SendMessage", f"{q}Queue"):
                problems.append(f"{where}: role lacks sqs:SendMessage on {q}Queue")
        if spec["consumes"]:
            q = spec["consumes"]
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                if not allowed(grants, action, f"{q}Queue"):
                    problems.append(f"{where}: role lacks {action} on {q}Queue")
            if not allowed(grants, "sqs:SendMessage", f"{q}DLQ"):
                problems.append(f"{where}: role lacks sqs:SendMessage on {q}DLQ (non-retryable "
                                "messages are dead-lettered by the function)")
        for s in spec["secrets"]:
            target = ref_target(env.get(s))
            if target and not allowed(grants, "secretsmanager:GetSecretValue", target):
                problems.append(f"{where}: role lacks secretsmanager:GetSecretValue on {target}")

    for crate in crates:
        if crate not in used:
            problems.append(f"functions/{crate}: crate is not a function in {template_path.name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=REPO / "template.yaml")
    ap.add_argument("--root", type=Path, default=REPO, help="workspace root (functions/, Cargo.toml)")
    args = ap.parse_args(argv)
    problems = check(args.template, args.root)
    for p in problems:
        print(f"template_crates: {p}", file=sys.stderr)
    if problems:
        print(f"template_crates: FAILED ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    n = sum(1 for r in load(args.template)["Resources"].values() if r.get("Type") in FUNCTION_TYPES)
    print(f"template_crates: ok ({n} functions, each with its crate, wiring and grants)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
