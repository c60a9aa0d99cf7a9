"""One factory for every Lambda function, so that runtime, layer, tracing and logging cannot differ by accident."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION
from constructs import Construct

from workflow.nag import acknowledge

# The code asset of every function: our handlers only, no bundling (the dependencies come from the layer and runtime).
LAMBDAS_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "lambdas"
ASSET_EXCLUDES: Final[list[str]] = ["**/__pycache__", "**/*.pyc"]

# The public Powertools layer that carries exactly the Powertools pinned in requirements.txt (the one the tests and the
# local cloud run). Its ARN is a plain counter, so it is found at deploy time through the public SSM parameter
# Powertools publishes for each release: CloudFormation resolves it, synth stays offline, and there is no counter
# to keep in step by hand.
POWERTOOLS_LAYER_PARAMETER: Final[str] = f"/aws/service/powertools/python/x86_64/python3.12/{POWERTOOLS_VERSION}"
METRICS_NAMESPACE: Final[str] = "RestaurantBooking"

RUNTIME: Final[lambda_.Runtime] = lambda_.Runtime.PYTHON_3_12
LOG_RETENTION: Final[logs.RetentionDays] = logs.RetentionDays.ONE_MONTH


def powertools_layer_arn(stack: Stack) -> str:
    """The ARN of the public Powertools layer in the stack's region, as a deploy-time SSM parameter reference."""
    return ssm.StringParameter.value_for_string_parameter(stack, POWERTOOLS_LAYER_PARAMETER)


@dataclass(frozen=True)
class FunctionSpec:
    """What differs from one function to the next; everything else is a shared default."""

    handler: str
    service: str
    description: str
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_size: int = 256
    timeout: Duration = field(default_factory=lambda: Duration.seconds(10))
    log_level: str = "INFO"
    # Why any action of this function, beyond X-Ray's, must be granted on Resource "*" (empty: none is).
    unscoped_actions_reason: str = ""


class BookingFunction(Construct):
    """A Python function with its own role, its own log group and the shared runtime, layer and tracing settings.

    The role starts with nothing but writing to its log group (instead of the AWSLambdaBasicExecutionRole managed
    policy, which would allow writing to every log group); callers grant the rest.
    """

    def __init__(self, scope: Construct, construct_id: str, spec: FunctionSpec) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=LOG_RETENTION,
            # NOTE: logs are diagnostics, not records; the reservations themselves live in the retained table.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {spec.service} function",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDES),
            handler=spec.handler,
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_layer_arn(stack))],
            memory_size=spec.memory_size,
            timeout=spec.timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            environment={
                "POWERTOOLS_SERVICE_NAME": spec.service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": spec.log_level,
                **spec.environment,
            },
        )

        xray_reason = "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions."
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            f"{xray_reason} {spec.unscoped_actions_reason}".strip(),
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to python3.12 on purpose: the public Powertools layer used is the python312 build and the "
            "handlers are tested on that runtime.",
        )
