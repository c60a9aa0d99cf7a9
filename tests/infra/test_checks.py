"""The template passes the linters: cfn-lint, and cdk-nag's AwsSolutions pack with every exception explained."""

import json
from pathlib import Path
from typing import Any

from aws_cdk import Validations
from aws_cdk.assertions import Annotations, Match
from cfnlint.api import ManualArgs, lint_file
from infra_support import Synthesized

# NOTE: CDK makes each function and the state machine depend on their role as well as on its policy; cfn-lint
# finds the role dependency redundant. Harmless, and not ours to change.
CDK_OWN_WARNINGS = {"W3005"}


def test_cfn_lint_reports_nothing_but_cdk_own_warnings(synthesized: Synthesized) -> None:
    # Given the synthesized template on disk
    template_file = synthesized.outdir / "RestaurantBooking.template.json"

    # When cfn-lint checks it for a real region
    matches = lint_file(Path(template_file), ManualArgs(regions=["eu-west-1"]))

    # Then there is no error, and no warning but the ones CDK writes itself
    assert [str(m) for m in matches if m.rule.severity == "error"] == []
    assert [str(m) for m in matches if m.rule.id not in CDK_OWN_WARNINGS] == []


def test_cdk_nag_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    # Given the validation report that the synthesis wrote (cdk-nag 3 reports there, and fails the synthesis)
    report = json.loads((synthesized.outdir / "validation-report.json").read_text(encoding="utf-8"))

    # When its violations are gathered
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]

    # Then there are none
    assert violations == []


def test_cdk_reports_no_error_or_warning_annotation(synthesized: Synthesized) -> None:
    # Given the stack's annotations
    annotations = Annotations.from_stack(synthesized.stack)

    # When errors and warnings of any origin are looked for
    errors = annotations.find_error("*", Match.any_value())
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))

    # Then there are none
    assert errors == []
    assert warnings == []


def test_every_acknowledged_finding_carries_a_reason_and_names_one_rule(synthesized: Synthesized) -> None:
    # Given every acknowledgment recorded in the construct tree
    acknowledged = _acknowledgments(synthesized)

    # When their rules and reasons are read
    rules = [entry["id"] for entry in acknowledged]

    # Then each is a single AwsSolutions rule with a written reason, and IAM wildcards name the finding
    assert acknowledged
    for entry in acknowledged:
        assert entry["id"].startswith("AwsSolutions::AwsSolutions-")
        assert len(entry["reason"].split()) >= 5, entry
    assert not [rule for rule in rules if rule.endswith("AwsSolutions-IAM5")]
    assert not [rule for rule in rules if "AwsSolutions-IAM4" in rule and "[Policy::" not in rule]


def _acknowledgments(synthesized: Synthesized) -> list[dict[str, Any]]:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found: list[dict[str, Any]] = []
    for construct in synthesized.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                found.extend({"id": rule, "reason": reason} for rule, reason in entry.data.items())
    return found
