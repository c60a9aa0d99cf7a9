"""Acknowledging a cdk-nag finding, always with its reason (cdk-nag 3 uses CDK's own Validations API)."""

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept the finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and what it contains."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
