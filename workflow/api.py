"""The public booking API: a REST API whose every method is a proxy to the booking API function."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.shared import contract
from workflow.functions import LOG_RETENTION, BookingFunction, FunctionSpec
from workflow.nag import acknowledge

STAGE_NAME = "prod"
# NOTE: a restaurant takes a handful of bookings a minute; these limits only stop a runaway client.
THROTTLING_RATE_LIMIT = 10
THROTTLING_BURST_LIMIT = 20
RESERVATION_ID_PARAMETER = f"method.request.path.{contract.PARTITION_KEY}"


class BookingApi(Construct):
    """``POST /bookRestaurant`` and ``GET|POST /confirmReservation/{reservationId}`` on the ``prod`` stage."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)

        self.handler = BookingFunction(
            self,
            "Handler",
            FunctionSpec(
                handler="booking_api.handler.handler",
                service="booking_api",
                description="Takes bookings and confirms them",
                environment={contract.EnvVar.TABLE_NAME: table.table_name},
            ),
        )
        self.handler.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[table.table_arn],
            )
        )

        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="Restaurant bookings",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # NOTE: execution logging needs the account-wide API Gateway role; CDK creates it once per account.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Request bodies carry guests' names and addresses and the confirmation token: never logged.
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
            ),
        )
        # The stack states its own ApiUrl output; the one RestApi adds by itself would say the same under another name.
        self.rest_api.node.try_remove_child("Endpoint")

        # NOTE: no method has a request model, so only the path parameter is really checked here: the function
        # validates the body itself and answers with the field errors of the contract, which a model could not.
        path_validator = self.rest_api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(self.handler.function, proxy=True, allow_test_invoke=False)

        self.rest_api.root.add_resource("bookRestaurant").add_method("POST", integration)
        confirm = self.rest_api.root.add_resource("confirmReservation").add_resource(f"{{{contract.PARTITION_KEY}}}")
        for http_method in ("GET", "POST"):
            confirm.add_method(
                http_method,
                integration,
                request_parameters={RESERVATION_ID_PARAMETER: True},
                request_validator=path_validator,
            )

        self._suppress_findings()

    def _suppress_findings(self) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG4",
            "A public booking API: guests are anonymous. The confirm endpoints are protected by the secret token "
            "of the confirmation link, which the function checks against its stored hash.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "No user pool: guests are anonymous (see APIG4); the confirmation token is the secret.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "Stage throttling bounds abuse for a single restaurant's traffic; a WAF web ACL is a deployment choice "
            "of the operator, outside this stack.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-wide API Gateway logging role uses the AWS managed policy made for it.",
        )
