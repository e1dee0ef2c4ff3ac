"""The Lambda function, its role, log group, SSM parameters, and the alias the API invokes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Annotations, ArnFormat, AssetHashType, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.bundle import Bundle
from infra.config import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, StageConfig
from service.repository import ACCESS, TableAccess

HANDLER = "service.lambda_handler.handler"
ALIAS_NAME = "live"
SSM_ACTIONS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath")

# CloudWatch Logs retention is one of a fixed set of values.
_RETENTIONS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTIONS:
        raise ValueError(
            f"setting lambda.log_retention_days: {days} is not a CloudWatch Logs retention "
            f"({', '.join(map(str, _RETENTIONS))})"
        )
    return _RETENTIONS[days]


def runtime(name: str) -> lambda_.Runtime:
    for candidate in lambda_.Runtime.ALL:
        if candidate.name == name:
            return candidate
    return lambda_.Runtime(name, lambda_.RuntimeFamily.PYTHON, supports_snap_start=True)


def architecture(name: str) -> lambda_.Architecture:
    return lambda_.Architecture.ARM_64 if name == "arm64" else lambda_.Architecture.X86_64


def bundle_code(bundle: Bundle) -> lambda_.Code:
    """The Lambda bundle as the function's code, its asset hash the bundle's own key (its inputs)."""
    return lambda_.Code.from_asset(
        str(bundle.path), asset_hash=bundle.key, asset_hash_type=AssetHashType.CUSTOM
    )


def table_statement(access: TableAccess, table_arn: str) -> iam.PolicyStatement:
    """What the function may do with its table: exactly the IAM actions of the repository's declared
    DynamoDB calls (service.repository.ACCESS), on the table, and on its indexes if it queries one."""
    resources = [table_arn]
    if access.indexes:
        resources.append(f"{table_arn}/index/*")
    return iam.PolicyStatement(sid="OwnTable", actions=list(access.iam_actions()), resources=resources)


def _logical(key: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", key))


class UsersFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITable,
        bundle: Bundle,
        access: TableAccess = ACCESS,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`environment`: variables of other constructs (e.g. the consumers' client ids)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        lambda_settings = config.settings.lambda_
        removal = RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN

        self.parameters = [
            ssm.StringParameter(
                self,
                f"Param{_logical(key)}",
                parameter_name=f"{config.ssm_path}/{key}",
                string_value=value,
                description=f"users-api {config.stage}: service setting {key} (from settings.yaml)",
                tier=ssm.ParameterTier.STANDARD,
            )
            for key, value in sorted(config.ssm_parameters().items())
        ]

        log_group_name = f"/aws/lambda/{config.base_name}"
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            retention=retention(lambda_settings.log_retention_days),
            removal_policy=removal,
        )

        self.role = iam.Role(
            self,
            "Role",
            role_name=config.name("function"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"users-api {config.stage}: its table, its parameter path, its logs and traces",
        )
        parameter_path = stack.format_arn(
            service="ssm", resource="parameter", resource_name=config.ssm_path.lstrip("/")
        )
        log_streams = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group_name}:log-stream:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # X-Ray's PutTraceSegments/PutTelemetryRecords are added to this role by the function itself
        # (tracing=ACTIVE), in its default policy.
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                table_statement(access, table.table_arn),
                iam.PolicyStatement(
                    sid="OwnParameters",
                    actions=list(SSM_ACTIONS),
                    resources=[parameter_path, f"{parameter_path}/*"],
                ),
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_streams],
                ),
            ],
        )
        self.role.attach_inline_policy(policy)

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=config.base_name,
            description=f"users-api {config.stage}: the connexion app behind API Gateway",
            runtime=runtime(lambda_settings.runtime),
            architecture=architecture(lambda_settings.architecture),
            handler=HANDLER,
            code=bundle_code(bundle),
            memory_size=lambda_settings.memory_mb,
            timeout=Duration.seconds(lambda_settings.timeout_seconds),
            reserved_concurrent_executions=lambda_settings.reserved_concurrency or None,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if lambda_settings.snapstart else None,
            # Every published version outlives the deploy that replaces it (CloudFormation would delete
            # it otherwise): the alias can be pointed back at the previous one without a redeploy
            # (docs/deploys.md, "When a deploy goes wrong"; it also says how to delete old ones).
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.RETAIN),
            environment={
                "STAGE": config.stage,
                "USERS_API_SSM_PATH": config.ssm_path,
                "TABLE_NAME": table.table_name,
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.settings.service.log_level,
                **(environment or {}),
            },
        )
        # The policy must exist before the function runs (and before SnapStart's snapshot init).
        self.function.node.add_dependency(policy)
        for parameter in self.parameters:
            self.function.node.add_dependency(parameter)

        if lambda_settings.snapstart:
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "The function is only invoked through its alias, which points at a published version.",
            )
        self.alias = lambda_.Alias(
            self,
            "Alias",
            alias_name=ALIAS_NAME,
            version=self.function.current_version,
            description="What API Gateway invokes: the current published version",
        )
