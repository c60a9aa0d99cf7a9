"""The email templates, deployed from their files, and the two functions that send them."""

from pathlib import Path
from typing import Final

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from lambdas.shared import contract
from workflow.functions import LAMBDAS_DIR, BookingFunction, FunctionSpec
from workflow.settings import BookingSettings

TEMPLATES_DIR: Final[Path] = LAMBDAS_DIR / "emails" / "templates"
RESTAURANT_TEMPLATE: Final[str] = "restaurant_booking_request"
GUEST_TEMPLATE: Final[str] = "guest_booking_confirmed"
EMAIL_TIMEOUT: Final[Duration] = Duration.seconds(15)


def template_name(stack: Stack, folder: str) -> str:
    """The SES name of the template kept in ``templates/<folder>``: one set of templates per stack."""
    return f"{stack.stack_name}-{folder}"


def template_folders() -> list[Path]:
    """Every template folder, in a stable order."""
    return sorted(path for path in TEMPLATES_DIR.iterdir() if path.is_dir())


class EmailSenders(Construct):
    """One SES template per folder of ``lambdas/emails/templates`` and the restaurant and guest email functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: BookingSettings,
        reservations: dynamodb.ITable,
        idempotency: dynamodb.ITable,
        api_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.templates = {folder.name: self._template(stack, folder) for folder in template_folders()}
        for required in (RESTAURANT_TEMPLATE, GUEST_TEMPLATE):
            if required not in self.templates:
                raise FileNotFoundError(f"Email template folder missing: {TEMPLATES_DIR / required}")

        shared_environment = {
            contract.EnvVar.TABLE_NAME: reservations.table_name,
            contract.EnvVar.IDEMPOTENCY_TABLE_NAME: idempotency.table_name,
            contract.EnvVar.SENDER_EMAIL: settings.sender_email,
            contract.EnvVar.RESTAURANT_NAME: settings.restaurant_name,
        }
        self.restaurant = BookingFunction(
            self,
            "RestaurantEmail",
            FunctionSpec(
                handler="emails.restaurant.handler",
                service="restaurant_email",
                description="Sends the restaurant a new booking request with its confirmation link",
                timeout=EMAIL_TIMEOUT,
                environment={
                    **shared_environment,
                    contract.EnvVar.RESTAURANT_EMAIL: settings.restaurant_email,
                    contract.EnvVar.TEMPLATE_NAME: template_name(stack, RESTAURANT_TEMPLATE),
                    contract.EnvVar.API_URL: api_url,
                },
            ),
        )
        self.guest = BookingFunction(
            self,
            "GuestEmail",
            FunctionSpec(
                handler="emails.guest.handler",
                service="guest_email",
                description="Tells the guest that the restaurant confirmed the booking",
                timeout=EMAIL_TIMEOUT,
                environment={
                    **shared_environment,
                    contract.EnvVar.TEMPLATE_NAME: template_name(stack, GUEST_TEMPLATE),
                },
            ),
        )

        sender_identity = stack.format_arn(
            service="ses",
            resource="identity",
            resource_name=settings.sender_email,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for sender, folder in ((self.restaurant, RESTAURANT_TEMPLATE), (self.guest, GUEST_TEMPLATE)):
            # SES v2 SendEmail with a template is authorized on the From identity and on the template.
            # NOTE: while the account is in the SES sandbox, SES also checks the recipients' identities; the
            # recipients must then be verified and this statement widened to them, which production does not need.
            template_arn = stack.format_arn(
                service="ses",
                resource="template",
                resource_name=template_name(stack, folder),
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            sender.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["ses:SendEmail"], resources=[sender_identity, template_arn])
            )
            sender.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[reservations.table_arn]
                )
            )
            # What the Powertools idempotency utility does with its records: read, claim, complete, release.
            sender.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[idempotency.table_arn],
                )
            )
            sender.function.node.add_dependency(self.templates[folder])

    def _template(self, stack: Stack, folder: Path) -> ses.CfnTemplate:
        return ses.CfnTemplate(
            self,
            f"Template-{folder.name}",
            template=ses.CfnTemplate.TemplateProperty(
                template_name=template_name(stack, folder.name),
                subject_part=(folder / "subject.txt").read_text(encoding="utf-8").strip(),
                html_part=(folder / "body.html").read_text(encoding="utf-8"),
                text_part=(folder / "body.txt").read_text(encoding="utf-8"),
            ),
        )
