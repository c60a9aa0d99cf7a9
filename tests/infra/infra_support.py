"""What the infrastructure tests share: the context they synthesize with and ways to read the template."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from workflow.stack import BookingStack

CONTEXT = {
    "restaurantEmail": "bookings@restaurant.test",
    "senderEmail": "no-reply@restaurant.test",
    "restaurantName": "Chez Test",
    "alarmEmail": "oncall@restaurant.test",
}


@dataclass(frozen=True)
class Synthesized:
    """The stack, its template as CDK asserts on it, the raw JSON and where the cloud assembly was written."""

    stack: BookingStack
    template: Template
    json: dict[str, Any]
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Every resource of one type, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def resource(self, resource_type: str, logical_id_part: str) -> dict[str, Any]:
        """The one resource of ``resource_type`` whose logical id contains ``logical_id_part``."""
        matches = [r for lid, r in self.resources(resource_type).items() if logical_id_part in lid]
        assert len(matches) == 1, f"expected one {resource_type} named like {logical_id_part}, got {len(matches)}"
        return matches[0]

    def logical_id(self, resource_type: str, logical_id_part: str) -> str:
        """The logical id of the one resource of ``resource_type`` named like ``logical_id_part``."""
        matches = [lid for lid in self.resources(resource_type) if logical_id_part in lid]
        assert len(matches) == 1, f"expected one {resource_type} named like {logical_id_part}, got {matches}"
        return matches[0]


def policy_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    """Every statement of every IAM policy and role inline policy in the template."""
    statements: list[dict[str, Any]] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for role in synthesized.resources("AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            statements.extend(inline["PolicyDocument"]["Statement"])
    return statements
