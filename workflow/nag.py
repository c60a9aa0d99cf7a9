"""Acknowledging a cdk-nag finding, always with its reason (cdk-nag 3 uses CDK's own Validations API)."""

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

# The plugin prefix cdk-nag gives its findings; an ID without a known prefix would be taken for an annotation.
PLUGIN_PREFIX = "AwsSolutions::"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept the finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and what it contains."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PLUGIN_PREFIX}{rule}", reason=reason))
