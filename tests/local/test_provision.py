"""Provisioning from a cloud assembly: what is created, what is rewritten, and what is listed as skipped."""

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.assembly import AssemblyError, load_stack
from localcloud.provision import Provisioner, local_outputs

TEMPLATE: dict[str, Any] = {
    "Parameters": {"BootstrapVersion": {"Type": "String", "Default": "/cdk-bootstrap/version"}},
    "Conditions": {"InProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "reservationId", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "reservationId", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"S3Bucket": {"Fn::Sub": "assets-${AWS::AccountId}"}, "S3Key": "abc.zip"},
                "Handler": "app.handler",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Timeout": 7,
                "Environment": {
                    "Variables": {
                        "TABLE_NAME": {"Ref": "Table"},
                        "API_URL": {
                            "Fn::Join": ["", ["https://", {"Ref": "Api"}, ".execute-api.us-east-1.amazonaws.com/prod/"]]
                        },
                    }
                },
            },
        },
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "Bookings"}},
        "Widget": {"Type": "AWS::Madeup::Widget", "Properties": {}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {"FunctionName": {"Ref": "Function"}}},
        "ProdOnly": {"Type": "AWS::SQS::Queue", "Condition": "InProd", "Properties": {}},
    },
    "Outputs": {"Url": {"Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/"}}},
}


class FakeClient:
    """Records every call and answers the few fields provisioning reads."""

    def __init__(self, calls: list[tuple[str, str, dict[str, Any]]], service: str) -> None:
        self._calls = calls
        self._service = service

    def __getattr__(self, operation: str) -> Any:
        def call(**arguments: Any) -> dict[str, Any]:
            self._calls.append((self._service, operation, arguments))
            if operation == "create_table":
                name = arguments["TableName"]
                arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}"
                return {"TableDescription": {"TableArn": arn, "LatestStreamArn": f"{arn}/stream/1"}}
            if operation == "create_rest_api":
                return {"id": "abc123"}
            if operation == "get_resources":
                return {"items": [{"id": "root0", "path": "/"}]}
            return {}

        return call


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    (tmp_path / "asset.abc").mkdir()
    (tmp_path / "Stack.template.json").write_text(json.dumps(TEMPLATE))
    assets = {"files": {"abc": {"source": {"path": "asset.abc"}, "destinations": {"d": {"objectKey": "abc.zip"}}}}}
    (tmp_path / "Stack.assets.json").write_text(json.dumps(assets))
    manifest = {
        "artifacts": {
            "Stack.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Stack.assets.json"}},
            "Stack": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": "Stack.template.json"},
                "dependencies": ["Stack.assets"],
            },
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_provisioner_creates_table_with_stream_and_ttl_and_function_from_its_asset(assembly: Path) -> None:
    # Given a cloud assembly with a table, a function using it, and types with no local effect
    calls: list[tuple[str, str, dict[str, Any]]] = []
    stack = load_stack(assembly)

    # When it is provisioned
    result = Provisioner(stack, lambda service: FakeClient(calls, service), "http://127.0.0.1:4566").run()

    # Then the table has its stream and TTL, and the function runs from the asset directory with its settings
    operations = {(service, operation): arguments for service, operation, arguments in calls}
    table = operations[("dynamodb", "create_table")]
    assert table["TableName"] == "Stack-Table"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert operations[("dynamodb", "update_time_to_live")]["TimeToLiveSpecification"] == {
        "Enabled": True,
        "AttributeName": "expiresAt",
    }
    (function,) = result.functions
    assert function.code_dir == assembly / "asset.abc"
    assert function.timeout_s == 7.0
    assert function.environment["TABLE_NAME"] == "Stack-Table"
    assert operations[("lambda", "create_function")]["FunctionName"] == "Stack-Function"


def test_provisioner_rewrites_execute_api_urls_to_the_local_api(assembly: Path) -> None:
    # Given a function and an output that carry the API's execute-api URL
    stack = load_stack(assembly)

    # When it is provisioned
    result = Provisioner(stack, lambda service: FakeClient([], service), "http://127.0.0.1:4566").run()

    # Then both point at the local API under the same stage
    (function,) = result.functions
    assert function.environment["API_URL"] == "http://127.0.0.1:4566/prod/"
    assert result.outputs["Url"] == "http://127.0.0.1:4566/prod/"


def test_provisioner_lists_every_resource_it_does_not_create(assembly: Path) -> None:
    # Given resources of an unknown type, of a type with no local effect, and under a false condition
    stack = load_stack(assembly)

    # When it is provisioned
    result = Provisioner(stack, lambda service: FakeClient([], service), "http://127.0.0.1:4566").run()

    # Then each is listed with its reason
    skipped = {logical_id: (kind, why) for logical_id, kind, why in result.skipped}
    assert skipped["Widget"] == ("AWS::Madeup::Widget", "resource type not supported by the local cloud")
    assert skipped["Permission"][0] == "AWS::Lambda::Permission"
    assert skipped["ProdOnly"] == ("AWS::SQS::Queue", "condition InProd is false")
    assert {logical_id for logical_id, _ in result.created} == {"Table", "Function", "Api"}


def test_provisioner_creates_an_alarm_and_lists_it_as_not_evaluated(assembly: Path) -> None:
    # Given a template with an alarm on a state machine's failed executions
    template = json.loads(json.dumps(TEMPLATE))
    template["Resources"]["FailedAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "MetricName": "ExecutionsFailed",
            "Namespace": "AWS/States",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    }
    (assembly / "Stack.template.json").write_text(json.dumps(template))
    calls: list[tuple[str, str, dict[str, Any]]] = []

    # When it is provisioned
    result = Provisioner(load_stack(assembly), lambda service: FakeClient(calls, service), "http://x:1").run()

    # Then the alarm exists, and is listed as never evaluated, so nobody trusts its OK
    assert ("cloudwatch", "put_metric_alarm") in {(service, operation) for service, operation, _ in calls}
    assert ("FailedAlarm", "AWS::CloudWatch::Alarm") in result.created
    assert ("FailedAlarm", "AWS::CloudWatch::Alarm", "created, but not evaluated locally: alarms stay OK") in (
        result.skipped
    )


def test_load_stack_without_manifest_says_to_synthesize(tmp_path: Path) -> None:
    # Given an empty folder

    # When it is loaded as a cloud assembly, then the error says what to do
    with pytest.raises(AssemblyError, match="synthesize"):
        load_stack(tmp_path)


def test_local_outputs_point_an_aws_console_link_at_the_local_console() -> None:
    # Given the stack's outputs, one a link to the Step Functions console on AWS for a local state machine
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Emails"
    outputs = {
        "StateMachineArn": arn,
        "StateMachineConsoleUrl": f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/statemachines/view/{arn}",
        "ApiUrl": "http://127.0.0.1:4566/prod/",
    }

    # When they are shown by the local cloud
    shown = local_outputs(outputs, "http://127.0.0.1:4566/_localcloud/console/")

    # Then the console link is the local console's executions list, and the rest are as they were
    assert shown == {
        "StateMachineArn": arn,
        "StateMachineConsoleUrl": "http://127.0.0.1:4566/_localcloud/console/executions",
        "ApiUrl": "http://127.0.0.1:4566/prod/",
    }
