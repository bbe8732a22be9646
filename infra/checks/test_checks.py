#!/usr/bin/env python3
"""Tests for the template checks: each passes on the real template and fails, naming the problem,
on a deliberately broken temporary copy (template text edits; a copied workspace skeleton for the
crate side). Run with the venv python (PyYAML, samtranslator):

    infra/.venv/bin/python infra/checks/test_checks.py [-v]
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import iam_wildcards  # noqa: E402
import template_crates  # noqa: E402
from cfn import REPO  # noqa: E402

TEMPLATE = REPO / "template.yaml"
REAL = TEMPLATE.read_text(encoding="utf-8")

CAPTURE_SEND = """              - Sid: SendDownstream
                Effect: Allow
                Action: sqs:SendMessage
                Resource:
                  - !GetAtt RefundsQueue.Arn
                  - !GetAtt ClaritySyncQueue.Arn
                  - !GetAtt ErpSyncQueue.Arn
"""
EXTRA_FUNCTION = """
  GhostFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: ghost
    Properties:
      CodeUri: functions/ghost
      Timeout: 10
{policies}
"""


def edit(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, f"fixture drift: {old[:60]!r} not in template.yaml"
    return text.replace(old, new, count)


class ChecksTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="o2c-checks-")
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def write(self, text: str) -> Path:
        path = self.dir / "template.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def run_main(self, module, *args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = module.main(list(args))
        return rc, out.getvalue() + err.getvalue()

    # ------------------------------------------------------------------ real template passes
    def test_real_template_passes_both_checks(self) -> None:
        for module in (iam_wildcards, template_crates):
            rc, out = self.run_main(module)
            self.assertEqual(rc, 0, out)
            self.assertIn(": ok", out)

    def test_scripts_run_standalone(self) -> None:
        for script in ("iam_wildcards.py", "template_crates.py"):
            done = subprocess.run([sys.executable, str(HERE / script)], capture_output=True,
                                  text=True, check=False)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    # ------------------------------------------------------------------ IAM: broken copies
    def assert_iam_fails(self, text: str, *needles: str) -> None:
        rc, out = self.run_main(iam_wildcards, "--template", str(self.write(text)))
        self.assertEqual(rc, 1, out)
        for needle in needles:
            self.assertIn(needle, out)

    def test_service_wildcard_in_role_fails(self) -> None:
        broken = edit(REAL, "Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]",
                      "Action: [sqs:*]")
        self.assert_iam_fails(broken, "AuthorizeRole", "(Sid ConsumeQueue)", "wildcard action 'sqs:*'")

    def test_bare_star_and_prefix_wildcard_fail(self) -> None:
        broken = edit(REAL, "Action: [secretsmanager:GetSecretValue, secretsmanager:DescribeSecret]",
                      "Action: [secretsmanager:Get*, \"*\"]")
        self.assert_iam_fails(broken, "ClarityOrderWebhookRole", "'secretsmanager:Get*'",
                              "wildcard action '*'")

    def test_not_action_and_resource_star_fail(self) -> None:
        broken = edit(REAL, CAPTURE_SEND, """              - Sid: SendDownstream
                Effect: Allow
                NotAction: iam:*
                Resource: "*"
""")
        self.assert_iam_fails(broken, "CaptureRole", "(Sid SendDownstream)",
                              "NotAction grants every action", "Allow on Resource '*'")

    def test_inline_function_policy_and_sam_template_fail(self) -> None:
        policies = """      Role: !GetAtt CaptureRole.Arn
      Policies:
        - Statement:
            - Effect: Allow
              Action: dynamodb:Batch*
              Resource: !GetAtt OrdersTable.Arn
        - SQSSendMessagePolicy:
            QueueName: !GetAtt OrdersQueue.QueueName"""
        broken = edit(REAL, "\n  # ---------------------------------------------------------------- Alarms",
                      EXTRA_FUNCTION.format(policies=policies)
                      + "\n  # ---------------------------------------------------------------- Alarms")
        self.assert_iam_fails(broken, "GhostFunction.Policies[0]", "'dynamodb:Batch*'",
                              "SAM policy template SQSSendMessagePolicy", "'sqs:SendMessage*'")

    def test_managed_policies_and_implicit_role_fail(self) -> None:
        broken = edit(REAL, "      Policies:\n        - PolicyName: least-privilege",
                      "      ManagedPolicyArns:\n"
                      "        - arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole\n"
                      "      Policies:\n        - PolicyName: least-privilege")
        broken = edit(broken, "      Role: !GetAtt RefundRole.Arn\n", "")
        self.assert_iam_fails(broken, "ClarityOrderWebhookRole.ManagedPolicyArns",
                              "RefundFunction: no Role")

    # ------------------------------------------------------------------ crates: broken copies
    def skeleton(self, template_text: str) -> Path:
        """A workspace skeleton: root Cargo.toml, functions/*/{Cargo.toml,src/main.rs}, template."""
        root = self.dir / "ws"
        (root / "functions").mkdir(parents=True)
        shutil.copy(REPO / "Cargo.toml", root / "Cargo.toml")
        for cargo in (REPO / "functions").glob("*/Cargo.toml"):
            dest = root / "functions" / cargo.parent.name
            (dest / "src").mkdir(parents=True)
            shutil.copy(cargo, dest / "Cargo.toml")
            shutil.copy(cargo.parent / "src" / "main.rs", dest / "src" / "main.rs")
        for rs in (REPO / "shared").glob("*/src/**/*.rs"):  # where the FunctionSpecs live
            if "FunctionSpec" in rs.read_text(encoding="utf-8"):
                dest = root / rs.relative_to(REPO)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(rs, dest)
        (root / "template.yaml").write_text(template_text, encoding="utf-8")
        return root

    def assert_crates_fail(self, root: Path, *needles: str) -> None:
        rc, out = self.run_main(template_crates, "--template", str(root / "template.yaml"),
                                "--root", str(root))
        self.assertEqual(rc, 1, out)
        for needle in needles:
            self.assertIn(needle, out)

    def test_skeleton_of_real_tree_passes(self) -> None:
        root = self.skeleton(REAL)
        rc, out = self.run_main(template_crates, "--template", str(root / "template.yaml"),
                                "--root", str(root))
        self.assertEqual(rc, 0, out)

    def test_crate_missing_from_template_fails(self) -> None:
        start = REAL.index("  CaptureFunction:\n")
        end = REAL.index("  CaptureLogGroup:\n")
        root = self.skeleton(REAL[:start] + REAL[end:])
        self.assert_crates_fail(root, "functions/capture: crate is not a function")

    def test_new_crate_without_function_fails(self) -> None:
        root = self.skeleton(REAL)
        extra = root / "functions" / "returns-poller"
        shutil.copytree(root / "functions" / "erp-poller", extra)
        self.assert_crates_fail(root, "functions/returns-poller: crate is not a function")

    def test_function_without_spec_fails(self) -> None:
        root = self.skeleton(REAL)
        for p in root.rglob("*.rs"):
            text = p.read_text()
            if 'name: "refund"' in text:
                p.write_text(text.replace('name: "refund"', 'name: "refunds"'))
        self.assert_crates_fail(root, "RefundFunction: no FunctionSpec named 'refund'")

    def test_function_without_crate_fails(self) -> None:
        broken = edit(REAL, "\n  # ---------------------------------------------------------------- Alarms",
                      EXTRA_FUNCTION.format(policies="      Role: !GetAtt CaptureRole.Arn")
                      + "\n  # ---------------------------------------------------------------- Alarms")
        root = self.skeleton(broken)
        self.assert_crates_fail(root, "GhostFunction: no crate for CodeUri functions/ghost")

    def test_wiring_drift_fails(self) -> None:
        # timeout mismatch, a missing queue URL, a wrong Binary and a missing grant
        broken = edit(REAL, '          FUNCTION_TIMEOUT_SECS: "30"\n          CAPTURES_QUEUE_URL: !Ref CapturesQueue\n',
                      '          FUNCTION_TIMEOUT_SECS: "25"\n')
        broken = edit(broken, "        Binary: refund\n", "        Binary: refunds\n")
        broken = edit(broken, CAPTURE_SEND, CAPTURE_SEND.replace("                  - !GetAtt ErpSyncQueue.Arn\n", ""))
        root = self.skeleton(broken)
        self.assert_crates_fail(
            root,
            "AuthorizeFunction: FUNCTION_TIMEOUT_SECS='25' must equal Timeout=30",
            "AuthorizeFunction: environment variable CAPTURES_QUEUE_URL is missing",
            "RefundFunction: BuildProperties.Binary 'refunds' is not a bin of functions/refund",
            "CaptureFunction: role lacks sqs:SendMessage on ErpSyncQueue")

    def test_spec_change_without_template_change_fails(self) -> None:
        root = self.skeleton(REAL)
        spec_files = [p for p in root.rglob("*.rs") if 'name: "erp-poller"' in p.read_text()]
        self.assertEqual(len(spec_files), 1, "one FunctionSpec named erp-poller")
        text = spec_files[0].read_text()
        at = text.index('name: "erp-poller"')
        end = text.index("}", at)
        block = text[at:end]
        self.assertIn("sends_to: &[QueueName::Captures],", block)
        spec_files[0].write_text(text[:at] + block.replace("sends_to: &[QueueName::Captures],",
                                                           "sends_to: &[QueueName::Captures, QueueName::ClaritySync],")
                                 + text[end:])
        self.assert_crates_fail(root, "ErpPollerFunction: environment variable CLARITY_SYNC_QUEUE_URL is missing",
                                "ErpPollerFunction: role lacks sqs:SendMessage on ClaritySyncQueue")


class SampleEventsTest(unittest.TestCase):
    """events/generate.py: its signers match the reference vectors and what it writes verifies."""

    def test_generated_events_verify(self) -> None:
        gen = REPO / "events" / "generate.py"
        with tempfile.TemporaryDirectory(prefix="o2c-events-") as tmp:
            done = subprocess.run([sys.executable, str(gen), "--out-dir", tmp], capture_output=True,
                                  text=True, check=False)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            written = sorted(p.name for p in Path(tmp).glob("*.json"))
            committed = sorted(p.name for p in (REPO / "events").glob("*.json"))
            self.assertEqual(written, committed, "events/ and generate.py disagree on the file set")
            for name in written:
                if not name.startswith("apigw-"):  # deterministic ones are committed as generated
                    self.assertEqual((Path(tmp) / name).read_text(),
                                     (REPO / "events" / name).read_text(), f"{name}: re-run generate.py")
            done = subprocess.run([sys.executable, str(gen), "--out-dir", tmp, "--check"],
                                  capture_output=True, text=True, check=False)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


if __name__ == "__main__":
    unittest.main()
