"""Shared helpers for the template checks: load a CloudFormation/SAM template with its short-form
tags (!Ref, !GetAtt, !Sub, ...) as plain long-form dicts, and small accessors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Tag value` into `{"Fn::Tag": value}` (`!Ref` into `{"Ref": ...}`)."""


def _cfn_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load(path: Path) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise SystemExit(f"{path}: not a template (no Resources)")
    return doc


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ref_target(value: Any) -> str | None:
    """Logical id named by `!Ref X` or `!GetAtt X.Attr` (else None)."""
    if isinstance(value, dict) and len(value) == 1:
        (key, val), = value.items()
        if key == "Ref" and isinstance(val, str):
            return val
        if key == "Fn::GetAtt" and isinstance(val, list) and val:
            return str(val[0])
    return None
