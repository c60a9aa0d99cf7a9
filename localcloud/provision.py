"""Creates the resources of a synthesized stack in the local cloud, in dependency order, through boto3.

Each supported resource type is created against the edge endpoint (so moto holds it and the AWS CLI sees
it), and what CloudFormation's ``Ref`` and ``Fn::GetAtt`` would return for it is recorded for the resources
after it. What moto cannot run is collected for the local services instead: the functions' code and settings
(for the Lambda runtime), the REST API's routes, the DynamoDB stream mappings, and the templates' outputs.
Types with no local effect and types this module does not know are listed in ``skipped``, never dropped
silently; so are alarms, which are created but never evaluated.
"""

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from localcloud.apigateway import Route
from localcloud.assembly import Stack
from localcloud.hops import hop
from localcloud.lambda_runtime import FunctionSpec
from localcloud.template import ACCOUNT_ID, REGION, Resolver, dependency_order
from localcloud.types import ClientFactory

# Types that exist on AWS but change nothing in a local run: permissions and metadata.
NO_LOCAL_EFFECT = {
    "AWS::CDK::Metadata": "CDK metadata",
    "AWS::Lambda::Permission": "no resource policies locally: every caller may invoke",
    "AWS::SQS::QueuePolicy": "no resource policies locally",
    "AWS::SNS::TopicPolicy": "no resource policies locally",
    "AWS::ApiGateway::Account": "account-wide logging role",
    "AWS::ApiGateway::Deployment": "the stage serves the template's routes directly",
    "AWS::ApiGateway::RequestValidator": "request validation is not emulated",
    "AWS::ApiGateway::Model": "request models are not emulated",
    "AWS::ApiGateway::GatewayResponse": "custom gateway responses are not emulated",
}

ALARM_NOT_EVALUATED = "created, but not evaluated locally: alarms stay OK"

_AWS_STATES_CONSOLE = re.compile(r"https://([a-z0-9-]+\.)?console\.aws\.amazon\.com/states/")
_API_URL = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/")


class ProvisionError(Exception):
    """A resource could not be created in the local cloud."""


@dataclass
class Provisioned:
    """What the local services need from the provisioned stack."""

    stack_name: str
    functions: list[FunctionSpec] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    event_buses: dict[str, str] = field(default_factory=dict)  # logical id -> name
    stream_mappings: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # properties, function name
    routes: list[Route] = field(default_factory=list)
    api_id: str | None = None
    stage: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)  # logical id, type
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # logical id, type, why


def _name(stack_name: str, logical_id: str, limit: int) -> str:
    """A physical name as CloudFormation makes one when the template gives none (without its random suffix)."""
    return f"{stack_name}-{logical_id}"[:limit]


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _placeholder_zip() -> bytes:
    """A tiny package for moto's Lambda API; the real code runs from the asset directory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The local cloud runs this function from its cdk.out asset directory.\n")
    return buffer.getvalue()


class Provisioner:
    """Creates one stack's resources through boto3 clients pointed at the local endpoint."""

    def __init__(self, stack: Stack, clients: ClientFactory, edge_url: str) -> None:
        """``edge_url`` (``http://127.0.0.1:PORT``) replaces the API's execute-api host wherever it appears."""
        self.stack = stack
        self._clients = clients
        self._edge_url = edge_url.rstrip("/") + "/"
        template = stack.template
        parameters = {name: definition.get("Default") for name, definition in template.get("Parameters", {}).items()}
        self.resolver = Resolver(stack.name, parameters, template.get("Conditions", {}))
        self.result = Provisioned(stack.name)
        self._resource_paths: dict[str, str] = {}

    def run(self) -> Provisioned:
        """Create every resource, then resolve the outputs."""
        resources = self.stack.template.get("Resources", {})
        for logical_id in dependency_order(resources):
            resource = resources[logical_id]
            kind = resource["Type"]
            if "Condition" in resource and not self.resolver.condition(resource["Condition"]):
                self.result.skipped.append((logical_id, kind, f"condition {resource['Condition']} is false"))
                continue
            self._create(logical_id, kind, resource.get("Properties", {}))
        for name, output in self.stack.template.get("Outputs", {}).items():
            if "Condition" not in output or self.resolver.condition(output["Condition"]):
                self.result.outputs[name] = self._local_urls(self.resolver.resolve(output["Value"]))
        return self.result

    def _create(self, logical_id: str, kind: str, raw_properties: dict[str, Any]) -> None:
        creator = getattr(self, "_" + kind.replace("::", "_").lower(), None)
        if creator is None:
            why = NO_LOCAL_EFFECT.get(kind, "resource type not supported by the local cloud")
            self.result.skipped.append((logical_id, kind, why))
            # NOTE: a Ref to a skipped resource still resolves, to a name that says where it comes from.
            self.resolver.refs[logical_id] = f"{self.stack.name}-{logical_id}-local"
            self.resolver.attributes[logical_id] = {}
            return
        properties = self._local_urls(self.resolver.resolve(raw_properties))
        try:
            ref, attributes = creator(logical_id, properties)
        except Exception as error:
            raise ProvisionError(f"{logical_id} ({kind}) could not be created: {error}") from error
        self.resolver.refs[logical_id] = ref
        self.resolver.attributes[logical_id] = attributes
        self.result.created.append((logical_id, kind))
        hop("setup", "created", resource=logical_id, type=kind)

    def _local_urls(self, value: Any) -> Any:
        """The value with every execute-api URL of this stack's API replaced by the local API URL."""
        if isinstance(value, str):
            return _API_URL.sub(self._edge_url, value)
        if isinstance(value, list):
            return [self._local_urls(item) for item in value]
        if isinstance(value, dict):
            return {key: self._local_urls(item) for key, item in value.items()}
        return value

    # One method per resource type: create it, return (what Ref gives, what Fn::GetAtt gives).

    def _aws_dynamodb_table(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        dynamodb = self._clients("dynamodb")
        name = properties.get("TableName") or _name(self.stack.name, logical_id, 255)
        arguments: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        if "ProvisionedThroughput" in properties:
            arguments["ProvisionedThroughput"] = {
                key: int(value) for key, value in properties["ProvisionedThroughput"].items()
            }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in properties:
                arguments[key] = properties[key]
        stream = properties.get("StreamSpecification")
        if stream:
            arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        description = dynamodb.create_table(**arguments)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled", True) in (True, "true"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        self.result.tables[logical_id] = name
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return name, attributes

    def _aws_iam_role(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        iam = self._clients("iam")
        name = properties.get("RoleName") or _name(self.stack.name, logical_id, 64)
        role = iam.create_role(
            RoleName=name,
            Path=properties.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
        )["Role"]
        for policy in properties.get("Policies", []):
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        # NOTE: AWS managed policies (ManagedPolicyArns) are not loaded in moto, so they are not attached.
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def _aws_iam_policy(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        iam = self._clients("iam")
        name = properties.get("PolicyName") or logical_id
        for role in properties.get("Roles", []):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(properties["PolicyDocument"]))
        return name, {}

    def _aws_logs_loggroup(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        logs = self._clients("logs")
        name = properties.get("LogGroupName") or _name(self.stack.name, logical_id, 512)
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in properties:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(properties["RetentionInDays"]))
        return name, {"Arn": _arn("logs", f"log-group:{name}:*")}

    def _aws_sqs_queue(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        sqs = self._clients("sqs")
        fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
        name = properties.get("QueueName") or _name(self.stack.name, logical_id, 75) + (".fifo" if fifo else "")
        attributes = {
            key: json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in properties.items()
            if key in ("DelaySeconds", "MessageRetentionPeriod", "VisibilityTimeout", "RedrivePolicy", "FifoQueue")
        }
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url, {"Arn": _arn("sqs", name), "QueueName": name, "QueueUrl": url}

    def _aws_sns_topic(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        sns = self._clients("sns")
        name = properties.get("TopicName") or _name(self.stack.name, logical_id, 256)
        arn = sns.create_topic(Name=name)["TopicArn"]
        for subscription in properties.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return arn, {"TopicArn": arn, "TopicName": name}

    def _aws_sns_subscription(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        arn = self._clients("sns").subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
        )["SubscriptionArn"]
        return arn, {}

    def _aws_lambda_function(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        name = properties.get("FunctionName") or _name(self.stack.name, logical_id, 64)
        code = properties["Code"]
        if "S3Key" not in code:
            raise ProvisionError("only code assets (Code.S3Key) can run locally")
        code_dir = self.stack.asset_path(code["S3Key"])
        environment = {key: str(value) for key, value in properties.get("Environment", {}).get("Variables", {}).items()}
        spec = FunctionSpec(
            logical_id=logical_id,
            name=name,
            handler=properties["Handler"],
            code_dir=code_dir,
            timeout_s=float(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            environment=environment,
        )
        self._clients("lambda").create_function(
            FunctionName=name,
            Runtime=properties.get("Runtime", "python3.12"),
            Role=properties["Role"],
            Handler=properties["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(spec.timeout_s),
            MemorySize=spec.memory_mb,
            Environment={"Variables": environment},
        )
        self.result.functions.append(spec)
        return name, {"Arn": spec.arn}

    def _aws_lambda_eventsourcemapping(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        # NOTE: not created in moto, whose own mapping would consume the stream; the local poller serves it.
        function_name = properties["FunctionName"].split(":function:")[-1].split(":")[0]
        self.result.stream_mappings.append((properties, function_name))
        return f"{logical_id}-local", {}

    def _aws_events_eventbus(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        name = properties["Name"]
        arn = self._clients("events").create_event_bus(Name=name)["EventBusArn"]
        self.result.event_buses[logical_id] = name
        return name, {"Arn": arn, "Name": name}

    def _aws_events_rule(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        events = self._clients("events")
        name = properties.get("Name") or _name(self.stack.name, logical_id, 64)
        bus = properties.get("EventBusName", "default").split("event-bus/")[-1]
        arguments: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": properties.get("State", "ENABLED")}
        if "EventPattern" in properties:
            arguments["EventPattern"] = json.dumps(properties["EventPattern"])
        if "ScheduleExpression" in properties:
            arguments["ScheduleExpression"] = properties["ScheduleExpression"]
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        arn = events.put_rule(**arguments)["RuleArn"]
        targets = [self._target(target) for target in properties.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return name, {"Arn": arn}

    @staticmethod
    def _target(target: dict[str, Any]) -> dict[str, Any]:
        keys = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig")
        converted = {key: target[key] for key in keys if key in target}
        policy = converted.get("RetryPolicy")
        if policy:
            converted["RetryPolicy"] = {key: int(value) for key, value in policy.items()}
        return converted

    def _aws_ses_template(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        template = properties["Template"]
        name = template.get("TemplateName") or _name(self.stack.name, logical_id, 64)
        self._clients("ses").create_template(
            Template={
                "TemplateName": name,
                "SubjectPart": template.get("SubjectPart", ""),
                "HtmlPart": template.get("HtmlPart", ""),
                "TextPart": template.get("TextPart", ""),
            }
        )
        return name, {}

    def _aws_ses_emailidentity(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        identity = properties["EmailIdentity"]
        self._clients("ses").verify_email_identity(EmailAddress=identity)
        return identity, {}

    def _aws_stepfunctions_statemachine(
        self, logical_id: str, properties: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        name = properties.get("StateMachineName") or _name(self.stack.name, logical_id, 80)
        if "DefinitionString" in properties:
            definition = properties["DefinitionString"]
        elif "Definition" in properties:
            definition = json.dumps(properties["Definition"])
        else:
            location = properties["DefinitionS3Location"]
            definition = self.stack.asset_path(location["Key"]).read_text()
        for key, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        arguments: dict[str, Any] = {"name": name, "definition": definition, "roleArn": properties["RoleArn"]}
        if "StateMachineType" in properties:
            arguments["type"] = properties["StateMachineType"]
        arn = self._clients("stepfunctions").create_state_machine(**arguments)["stateMachineArn"]
        self.result.state_machines[logical_id] = arn
        return arn, {"Arn": arn, "Name": name}

    def _aws_apigateway_restapi(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        apigateway = self._clients("apigateway")
        api = apigateway.create_rest_api(name=properties.get("Name", logical_id))
        resources = apigateway.get_resources(restApiId=api["id"])["items"]
        root = next(item["id"] for item in resources if item["path"] == "/")
        self._resource_paths[root] = "/"
        self.result.api_id = api["id"]
        return api["id"], {"RootResourceId": root, "RestApiId": api["id"]}

    def _aws_apigateway_resource(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        created = self._clients("apigateway").create_resource(
            restApiId=properties["RestApiId"], parentId=properties["ParentId"], pathPart=properties["PathPart"]
        )
        parent_path = self._resource_paths[properties["ParentId"]]
        self._resource_paths[created["id"]] = parent_path.rstrip("/") + "/" + properties["PathPart"]
        return created["id"], {"ResourceId": created["id"]}

    def _aws_apigateway_method(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        apigateway = self._clients("apigateway")
        api_id, resource_id, method = properties["RestApiId"], properties["ResourceId"], properties["HttpMethod"]
        apigateway.put_method(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=method,
            authorizationType=properties.get("AuthorizationType", "NONE"),
        )
        integration = properties.get("Integration", {})
        if integration.get("Type") == "AWS_PROXY" and ":function:" in integration.get("Uri", ""):
            function_arn = integration["Uri"].split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
            self.result.routes.append(Route(resource_id, self._resource_paths[resource_id], method, function_arn))
        elif integration:
            self.result.skipped.append((logical_id, "AWS::ApiGateway::Method", "only Lambda proxy integrations run"))
        return f"{logical_id}-local", {}

    def _aws_apigateway_stage(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self.result.stage = properties["StageName"]
        return properties["StageName"], {}

    def _aws_kms_key(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        key = self._clients("kms").create_key(Description=properties.get("Description", logical_id))["KeyMetadata"]
        return key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}

    def _aws_cloudwatch_alarm(self, logical_id: str, properties: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        name = properties.get("AlarmName") or _name(self.stack.name, logical_id, 255)
        keys = (
            "MetricName",
            "Namespace",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "DatapointsToAlarm",
            "AlarmDescription",
            "AlarmActions",
            "OKActions",
            "Dimensions",
            "Metrics",
        )
        arguments: dict[str, Any] = {key: properties[key] for key in keys if key in properties}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in arguments:
                arguments[key] = int(arguments[key])
        if "Threshold" in arguments:
            arguments["Threshold"] = float(arguments["Threshold"])
        self._clients("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
        # NOTE: moto stores an alarm and never evaluates it, so it stays OK whatever fails; listed, never silent.
        self.result.skipped.append((logical_id, "AWS::CloudWatch::Alarm", ALARM_NOT_EVALUATED))
        return name, {"Arn": _arn("cloudwatch", f"alarm:{name}")}


def local_outputs(outputs: dict[str, Any], console_url: str) -> dict[str, Any]:
    """The stack's outputs as the local cloud shows them: a link to the AWS console would open AWS with a local
    ARN, so a Step Functions console link becomes the local console's executions list (``console_url`` ends
    with ``/``); any other AWS console link is left as it is, because the local console has no page for it.
    """
    return {
        name: f"{console_url}executions" if isinstance(value, str) and _AWS_STATES_CONSOLE.match(value) else value
        for name, value in outputs.items()
    }
