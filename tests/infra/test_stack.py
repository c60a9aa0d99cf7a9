"""Properties of the synthesized RestaurantBooking template, one concern at a time."""

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

from infra_support import CONTEXT, Synthesized, policy_statements

from lambdas.shared import contract
from workflow.emails import TEMPLATES_DIR
from workflow.functions import POWERTOOLS_LAYER_PARAMETER
from workflow.state_machine import ASL_FILE


def test_reservations_table_keys_billing_recovery_stream_ttl_and_retention(synthesized: Synthesized) -> None:
    # Given the reservations table
    table = synthesized.resource("AWS::DynamoDB::Table", "Reservations")

    # When its properties are read
    properties = table["Properties"]

    # Then it matches the contract and is kept when the stack goes
    assert properties["KeySchema"] == [{"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": contract.PARTITION_KEY, "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": contract.TTL_ATTRIBUTE, "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_idempotency_table_keys_ttl_and_removal(synthesized: Synthesized) -> None:
    # Given the idempotency table
    table = synthesized.resource("AWS::DynamoDB::Table", "Idempotency")

    # When its properties are read
    properties = table["Properties"]

    # Then it has the key and TTL attribute the Powertools idempotency utility uses, and is not retained
    assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == "Delete"


def test_api_methods_are_lambda_proxies_to_the_booking_api_function(synthesized: Synthesized) -> None:
    # Given the booking API function and the API's methods
    function_id = synthesized.logical_id("AWS::Lambda::Function", "ApiHandler")
    methods = synthesized.resources("AWS::ApiGateway::Method").values()
    resources = synthesized.resources("AWS::ApiGateway::Resource")

    # When each method is described by its path and verb
    described = {}
    for method in methods:
        properties = method["Properties"]
        path_part = resources[properties["ResourceId"]["Ref"]]["Properties"]["PathPart"]
        described[(path_part, properties["HttpMethod"])] = properties

    # Then the three routes of the contract exist, each a proxy to that function
    assert set(described) == {
        ("bookRestaurant", "POST"),
        (f"{{{contract.PARTITION_KEY}}}", "GET"),
        (f"{{{contract.PARTITION_KEY}}}", "POST"),
    }
    for properties in described.values():
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        assert function_id in json.dumps(integration["Uri"])


def test_api_confirm_resource_sits_under_confirm_reservation(synthesized: Synthesized) -> None:
    # Given the API's resources
    resources = synthesized.resources("AWS::ApiGateway::Resource")

    # When the parent of the path parameter resource is looked up
    by_part = {r["Properties"]["PathPart"]: (lid, r) for lid, r in resources.items()}
    parent = by_part[f"{{{contract.PARTITION_KEY}}}"][1]["Properties"]["ParentId"]

    # Then it is /confirmReservation
    assert parent == {"Ref": by_part["confirmReservation"][0]}


def test_api_stage_is_prod_with_access_logs_tracing_and_throttling(synthesized: Synthesized) -> None:
    # Given the API stage
    stage = synthesized.resource("AWS::ApiGateway::Stage", "")["Properties"]

    # When its settings are read
    method_settings = stage["MethodSettings"][0]

    # Then it is the prod stage, traced, access-logged, throttled and never logs request data
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    assert method_settings["ThrottlingRateLimit"] > 0
    assert method_settings["ThrottlingBurstLimit"] > 0
    assert method_settings["DataTraceEnabled"] is False


def test_stream_mapping_batches_retries_and_filters_as_designed(synthesized: Synthesized) -> None:
    # Given the event source mapping of the table stream
    mapping = synthesized.resource("AWS::Lambda::EventSourceMapping", "")["Properties"]

    # When its filter patterns are parsed
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]

    # Then it reads the reservations stream in small, bounded, bisected batches, reporting item failures
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [synthesized.logical_id("AWS::DynamoDB::Table", "Reservations"), "StreamArn"]
    }
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 5
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [synthesized.logical_id("AWS::SQS::Queue", "StreamTargetFailedRecords"), "Arn"]
    }
    assert patterns == [
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": [contract.STATUS_PENDING]}}}},
        {
            "eventName": ["MODIFY"],
            "dynamodb": {
                "OldImage": {"status": {"S": [contract.STATUS_PENDING]}},
                "NewImage": {"status": {"S": [contract.STATUS_CONFIRMED]}},
            },
        },
    ]


def test_stream_target_parks_unmappable_records_on_its_failed_records_queue_only(synthesized: Synthesized) -> None:
    # Given the stream target function, its role's policy and the queue of its failed records
    function = synthesized.resource("AWS::Lambda::Function", "StreamTargetHandler")["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    queue_id = synthesized.logical_id("AWS::SQS::Queue", "StreamTargetFailedRecords")
    policies = [
        p["Properties"]
        for p in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]

    # When its environment and its SQS statements are read
    variables = function["Environment"]["Variables"]
    sqs_statements = [
        statement
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        if any(action.startswith("sqs:") for action in _as_list(statement["Action"]))
    ]

    # Then it gets that queue's URL, may send to that queue, and to no other
    assert variables[contract.EnvVar.FAILED_RECORDS_QUEUE_URL] == {"Ref": queue_id}
    assert sqs_statements
    assert all(statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for statement in sqs_statements)
    assert "sqs:SendMessage" in {action for s in sqs_statements for action in _as_list(s["Action"])}


def test_dead_letter_queues_are_encrypted_and_refuse_plain_http(synthesized: Synthesized) -> None:
    # Given both dead-letter queues and the queue policies
    queues = synthesized.resources("AWS::SQS::Queue")
    policies = synthesized.resources("AWS::SQS::QueuePolicy").values()

    # When each queue's policy statements are gathered
    denied_without_tls = {
        queue_ref["Ref"]
        for policy in policies
        for queue_ref in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }

    # Then each is encrypted and denies every request made without TLS
    assert set(queues) == denied_without_tls
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_rules_match_the_contract_and_start_the_state_machine_with_retries_and_dlq(
    synthesized: Synthesized,
) -> None:
    # Given the rules on the booking bus
    rules = synthesized.resources("AWS::Events::Rule").values()
    bus_id = synthesized.logical_id("AWS::Events::EventBus", "")
    machine_id = synthesized.logical_id("AWS::StepFunctions::StateMachine", "")
    dlq_id = synthesized.logical_id("AWS::SQS::Queue", "UndeliveredEvents")

    # When their patterns are read
    detail_types = sorted(dt for rule in rules for dt in rule["Properties"]["EventPattern"]["detail-type"])

    # Then one rule per detail-type, each on the bus, for the contract's source, targeting the machine safely
    assert detail_types == sorted([contract.DETAIL_TYPE_BOOKED, contract.DETAIL_TYPE_CONFIRMED])
    for rule in rules:
        properties = rule["Properties"]
        assert properties["EventBusName"] == {"Ref": bus_id}
        assert properties["EventPattern"]["source"] == [contract.EVENT_SOURCE]
        (target,) = properties["Targets"]
        assert target["Arn"] == {"Ref": machine_id}
        assert "Input" not in target and "InputPath" not in target and "InputTransformer" not in target
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 10}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}


def test_state_machine_is_standard_logged_traced_with_substitutions_resolved(synthesized: Synthesized) -> None:
    # Given the state machine and the ASL file it was built from
    properties = synthesized.resource("AWS::StepFunctions::StateMachine", "")["Properties"]
    asl = ASL_FILE.read_text(encoding="utf-8")

    # When the definition staged as an asset and its substitutions are read
    staged = (synthesized.outdir / f"asset.{properties['DefinitionS3Location']['Key']}").read_text(encoding="utf-8")
    substitutions = properties["DefinitionSubstitutions"]

    # Then it is Standard, logs every event without data, is traced, and every placeholder has a value
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert json.loads(staged) == json.loads(asl)
    assert set(re.findall(r"\$\{(\w+)\}", asl)) == set(substitutions)
    assert substitutions["DetailTypeBooked"] == contract.DETAIL_TYPE_BOOKED
    assert substitutions["DetailTypeConfirmed"] == contract.DETAIL_TYPE_CONFIRMED
    assert substitutions["RestaurantEmailFunctionArn"] == {
        "Fn::GetAtt": [synthesized.logical_id("AWS::Lambda::Function", "RestaurantEmail"), "Arn"]
    }
    assert substitutions["GuestEmailFunctionArn"] == {
        "Fn::GetAtt": [synthesized.logical_id("AWS::Lambda::Function", "GuestEmail"), "Arn"]
    }
    assert substitutions["ReservationTableName"] == {"Ref": synthesized.logical_id("AWS::DynamoDB::Table", "Reserv")}


def test_state_machine_role_invokes_only_the_email_functions_and_updates_only_the_table(
    synthesized: Synthesized,
) -> None:
    # Given the state machine role's policy
    role_id = synthesized.logical_id("AWS::IAM::Role", "BookingEmailsStateMachineRole")
    policies = [
        p for p in synthesized.resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]

    # When its invoke and DynamoDB statements are picked out
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    dynamodb = [s for s in statements if str(s["Action"]).startswith("dynamodb:")]

    # Then it names the two functions (no version wildcard) and UpdateItem on the reservations table
    assert invoke == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": [
                {"Fn::GetAtt": [synthesized.logical_id("AWS::Lambda::Function", "RestaurantEmail"), "Arn"]},
                {"Fn::GetAtt": [synthesized.logical_id("AWS::Lambda::Function", "GuestEmail"), "Arn"]},
            ],
        }
    ]
    assert dynamodb == [
        {
            "Action": "dynamodb:UpdateItem",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [synthesized.logical_id("AWS::DynamoDB::Table", "Reservations"), "Arn"]},
        }
    ]


def test_ses_templates_match_their_files(synthesized: Synthesized) -> None:
    # Given the template folders on disk
    folders = sorted(path for path in TEMPLATES_DIR.iterdir() if path.is_dir())

    # When the deployed templates are read by name
    deployed = {
        t["Properties"]["Template"]["TemplateName"]: t["Properties"]["Template"]
        for t in synthesized.resources("AWS::SES::Template").values()
    }

    # Then each folder is one template named after the stack, with the files' exact contents
    assert sorted(deployed) == [f"RestaurantBooking-{folder.name}" for folder in folders]
    for folder in folders:
        template = deployed[f"RestaurantBooking-{folder.name}"]
        assert template["SubjectPart"] == _read(folder / "subject.txt").strip()
        assert template["HtmlPart"] == _read(folder / "body.html")
        assert template["TextPart"] == _read(folder / "body.txt")


def test_email_functions_get_the_environment_of_the_design(synthesized: Synthesized) -> None:
    # Given the two email functions
    restaurant = synthesized.resource("AWS::Lambda::Function", "RestaurantEmail")["Properties"]
    guest = synthesized.resource("AWS::Lambda::Function", "GuestEmail")["Properties"]
    table = {"Ref": synthesized.logical_id("AWS::DynamoDB::Table", "Reservations")}
    idempotency = {"Ref": synthesized.logical_id("AWS::DynamoDB::Table", "Idempotency")}

    # When their variables are read
    restaurant_env = restaurant["Environment"]["Variables"]
    guest_env = guest["Environment"]["Variables"]

    # Then they carry the names of docs/design.md, and the API URL ends with a slash
    assert restaurant["Handler"] == "emails.restaurant.handler"
    assert guest["Handler"] == "emails.guest.handler"
    assert restaurant_env[contract.EnvVar.TABLE_NAME] == table
    assert restaurant_env[contract.EnvVar.IDEMPOTENCY_TABLE_NAME] == idempotency
    assert restaurant_env[contract.EnvVar.SENDER_EMAIL] == CONTEXT["senderEmail"]
    assert restaurant_env[contract.EnvVar.RESTAURANT_EMAIL] == CONTEXT["restaurantEmail"]
    assert restaurant_env[contract.EnvVar.RESTAURANT_NAME] == CONTEXT["restaurantName"]
    assert restaurant_env[contract.EnvVar.TEMPLATE_NAME] == "RestaurantBooking-restaurant_booking_request"
    assert restaurant_env[contract.EnvVar.API_URL]["Fn::Join"][1][-1] == "/"
    assert guest_env[contract.EnvVar.TABLE_NAME] == table
    assert guest_env[contract.EnvVar.IDEMPOTENCY_TABLE_NAME] == idempotency
    assert guest_env[contract.EnvVar.SENDER_EMAIL] == CONTEXT["senderEmail"]
    assert guest_env[contract.EnvVar.RESTAURANT_NAME] == CONTEXT["restaurantName"]
    assert guest_env[contract.EnvVar.TEMPLATE_NAME] == "RestaurantBooking-guest_booking_confirmed"
    assert contract.EnvVar.RESTAURANT_EMAIL not in guest_env


def test_every_function_shares_runtime_layer_tracing_and_powertools_settings(synthesized: Synthesized) -> None:
    # Given every function of the stack
    functions = synthesized.resources("AWS::Lambda::Function").values()

    # When their shared settings are read
    layers = {json.dumps(f["Properties"]["Layers"]) for f in functions}

    # Then all run python3.12 on x86_64 with the layer of the pinned Powertools, traced, logging to their own group
    (layer,) = layers
    (parameter_name,) = (ref["Ref"] for ref in json.loads(layer))
    parameter = synthesized.json["Parameters"][parameter_name]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == POWERTOOLS_LAYER_PARAMETER
    assert POWERTOOLS_LAYER_PARAMETER.endswith(f"/python3.12/{version('aws-lambda-powertools')}")
    for function in functions:
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["x86_64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert "LogGroup" in properties["LoggingConfig"]
        assert properties["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "RestaurantBooking"
        assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"} <= set(properties["Environment"]["Variables"])


def test_iam_never_grants_ses_wildcards_and_scopes_send_email(synthesized: Synthesized) -> None:
    # Given every IAM statement of the stack
    statements = policy_statements(synthesized)

    # When the SES statements are picked out
    actions = [action for s in statements for action in _as_list(s["Action"])]
    send_email = [s for s in statements if "ses:SendEmail" in _as_list(s["Action"])]

    # Then no wildcard SES action exists and SendEmail names the sender identity and one template
    assert not [a for a in actions if a.startswith("ses:") and "*" in a]
    assert "*" not in actions
    assert len(send_email) == 2
    for statement in send_email:
        assert _as_list(statement["Action"]) == ["ses:SendEmail"]
        rendered = json.dumps(statement["Resource"])
        assert f"identity/{CONTEXT['senderEmail']}" in rendered
        assert "template/RestaurantBooking-" in rendered
        assert statement["Resource"] != "*"


def test_iam_wildcard_resources_are_only_where_aws_allows_nothing_narrower(synthesized: Synthesized) -> None:
    # Given every IAM statement of the stack
    statements = policy_statements(synthesized)

    # When the actions granted on Resource "*" are gathered
    on_everything = {a for s in statements if s["Resource"] == "*" for a in _as_list(s["Action"])}

    # Then they are X-Ray, log delivery and ListStreams only, none of which supports resource-level permissions
    allowed = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "dynamodb:ListStreams",
    }
    assert {a for a in on_everything if not a.startswith("logs:")} <= allowed
    assert {a for a in on_everything if a.startswith("logs:")} <= {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }


def test_alarms_watch_the_named_metrics_and_notify_the_encrypted_topic(synthesized: Synthesized) -> None:
    # Given the alarms and the topic
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    topic_id = synthesized.logical_id("AWS::SNS::Topic", "")
    topic = synthesized.resource("AWS::SNS::Topic", "")["Properties"]

    # When each alarm is described by namespace, metric and threshold
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], a["Properties"]["Threshold"]) for a in alarms
    }

    # Then failures, timeouts, dead letters, stream lag and function errors are all alarmed on the topic
    assert ("AWS/States", "ExecutionsFailed", 1) in watched
    assert ("AWS/States", "ExecutionsTimedOut", 1) in watched
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", 1) in watched
    assert ("AWS/Lambda", "IteratorAge", 60_000) in watched
    assert ("AWS/Lambda", "Errors", 1) in watched
    dead_letter_alarms = [a for a in alarms if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert len(dead_letter_alarms) == 2
    error_alarms = [a for a in alarms if a["Properties"]["MetricName"] == "Errors"]
    assert len(error_alarms) == len(synthesized.resources("AWS::Lambda::Function"))
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert "KmsMasterKeyId" in topic
    synthesized.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": CONTEXT["alarmEmail"]}
    )


def test_outputs_name_the_api_url_and_the_state_machine(synthesized: Synthesized) -> None:
    # Given the stack outputs
    outputs = synthesized.json["Outputs"]
    machine_ref = {"Ref": synthesized.logical_id("AWS::StepFunctions::StateMachine", "")}

    # When the console URL is rendered
    console_url = json.dumps(outputs["StateMachineConsoleUrl"]["Value"])

    # Then the API URL, the ARN and a console link to that machine are given
    assert set(outputs) == {"ApiUrl", "StateMachineArn", "StateMachineConsoleUrl"}
    assert outputs["ApiUrl"]["Value"]["Fn::Join"][1][-1] == "/"
    assert outputs["StateMachineArn"]["Value"] == machine_ref
    assert ".console.aws.amazon.com/states/home?region=" in console_url
    assert "#/statemachines/view/" in console_url
    assert json.dumps(machine_ref) in console_url


def test_function_code_is_the_lambdas_folder_without_bytecode(synthesized: Synthesized) -> None:
    # Given the staged code asset of the functions
    function = synthesized.resource("AWS::Lambda::Function", "ApiHandler")
    asset_path = synthesized.outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"

    # When its files are listed
    files = [p.relative_to(asset_path) for p in asset_path.rglob("*") if p.is_file()]

    # Then it holds our handlers and templates and no compiled files
    assert Path("shared/contract.py") in files
    assert Path("emails/templates/restaurant_booking_request/body.html") in files
    assert not [f for f in files if f.suffix == ".pyc" or "__pycache__" in f.parts]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
