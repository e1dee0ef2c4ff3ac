"""API Gateway (REST) imported from the contract, with its stage, access and execution logs, its TLS
security policy, its Cognito authorizer (in the imported body: infra/gateway.py), one API key and usage
plan per consumer, and a throttle of their own on the operations the contract leaves public."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig
from infra.contract_lint import check_contract
from infra.function import retention
from infra.gateway import body_digest, gateway_body
from service.contract import Contract, Operation

# The TLS the endpoint accepts. A Regional REST API without a custom domain gets the legacy TLS_1_0
# policy by default. This enhanced policy accepts TLS 1.3 and TLS 1.2 with forward-secret (ECDHE)
# AES-GCM suites only, and post-quantum hybrid key exchange where the client offers it. An enhanced
# policy needs an endpoint access mode: STRICT refuses a request whose TLS server name (SNI) is not its
# Host, or that comes through another endpoint type than the API's own (Regional).
SECURITY_POLICY = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
ENDPOINT_ACCESS_MODE = "STRICT"

# The throttle of each operation the contract leaves public (`security: []`: no API key, so no usage
# plan meters it). The stage's throttle applies to each method on its own, so a flood of one operation
# does not throttle the others; but every public request still runs the function (and reads the
# table), so anonymous callers could otherwise spend the function's concurrency, and trip the throttle
# alarms, at the stage's full rate. A probe needs a few requests a second. Not a setting: no stage needs
# another value, and settings.yaml's throttles are the consumers'.
PUBLIC_RATE_PER_SECOND = 5
PUBLIC_BURST = 10

# One JSON object per request in the access log. API Gateway does not document escaping the values it
# substitutes, so nothing a client writes freely (User-Agent, the raw path) goes in: a double quote in
# it could end the JSON string. `resourcePath` (the route template) says which operation was called.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    "apiKeyId": "$context.identity.apiKeyId",
    # The consumer, as the Cognito authorizer verified it (never the token).
    "clientId": "$context.authorizer.claims.client_id",
    "xrayTraceId": "$context.xrayTraceId",
}


def public_operations(contract: Contract) -> list[Operation]:
    """The operations a caller may use anonymously: their security is empty (or allows no credentials)."""
    return [operation for operation in contract.operations if not operation.needs_auth]


def method_options_path(operation: Operation) -> str:
    """The CDK's key of an operation's own method setting: its path, then its method (`/health/GET`)."""
    return f"{operation.path.rstrip('/')}/{operation.method}"


def execution_log_group_name(rest_api_id: str, stage: str) -> str:
    """The log group API Gateway writes a stage's execution logs to (and makes itself if it is missing)."""
    return f"API-Gateway-Execution-Logs_{rest_api_id}/{stage}"


def build_body(
    contract: Contract,
    config: StageConfig,
    function_arn: str,
    user_pool_arn: str | None = None,
    *,
    partition: str = Aws.PARTITION,
    region: str = Aws.REGION,
) -> dict[str, Any]:
    """The gateway body for this stage; a contract the gateway would refuse stops the synth (the lint)."""
    check_contract(contract)
    return gateway_body(
        contract,
        function_arn=function_arn,
        api_name=config.api_name,
        retry_after_seconds=config.settings.service.retry_after_seconds,
        user_pool_arn=user_pool_arn,
        partition=partition,
        region=region,
    )


class UsersApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        contract: Contract,
        target: lambda_.IFunction,
        user_pool: cognito.IUserPool,
    ) -> None:
        super().__init__(scope, construct_id)
        api_settings = config.settings.api
        stage = config.stage
        self.body = build_body(contract, config, target.function_arn, user_pool.user_pool_arn)
        # The deployment's logical id follows the body (hashed with placeholders for the tokens,
        # whose text is not stable): a changed contract or gateway setting redeploys the stage.
        self.body_digest = body_digest(
            gateway_body(
                contract,
                function_arn="<function>",
                api_name=config.api_name,
                retry_after_seconds=config.settings.service.retry_after_seconds,
                user_pool_arn="<user-pool>",
                partition="<partition>",
                region="<region>",
            )
        )

        log_retention = retention(config.settings.lambda_.log_retention_days)
        log_removal = RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{config.api_name}/access",
            retention=log_retention,
            removal_policy=log_removal,
        )
        self.api = apigateway.SpecRestApi(
            self,
            "Api",
            api_definition=apigateway.ApiDefinition.from_inline(self.body),
            rest_api_name=config.api_name,
            description=f"users-api {stage}, imported from openapi.yaml",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            fail_on_warnings=True,
            # Execution and access logs need the account-level role API Gateway writes logs with.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy=True,
            retain_deployments=False,
            deploy_options=apigateway.StageOptions(
                stage_name=stage,
                # No X-Ray segment of the gateway's own: it records each request's whole URL, query
                # string included, and find-by-email carries an email there (GET /users?email=).
                # The function's segments (Lambda active tracing, Powertools) carry the trace.
                tracing_enabled=False,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=api_settings.throttle_rate_per_second,
                throttling_burst_limit=api_settings.throttle_burst,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # A method's own setting replaces the stage's for it: all of it is repeated.
                method_options={
                    method_options_path(operation): apigateway.MethodDeploymentOptions(
                        metrics_enabled=True,
                        logging_level=apigateway.MethodLoggingLevel.ERROR,
                        data_trace_enabled=False,
                        throttling_rate_limit=PUBLIC_RATE_PER_SECOND,
                        throttling_burst_limit=PUBLIC_BURST,
                    )
                    for operation in public_operations(contract)
                },
            ),
        )
        self.api.latest_deployment.add_to_logical_id({"body": self.body_digest})  # type: ignore[union-attr]
        self.stage = self.api.deployment_stage

        # The SpecRestApi construct does not expose these (aws/aws-cdk#36663); CloudFormation's RestApi
        # has them, next to the EndpointConfiguration the construct writes (API Gateway refuses an
        # endpoint update without the policy: aws/serverless-application-model#3866).
        rest_api = self.api.node.default_child
        assert isinstance(rest_api, apigateway.CfnRestApi)
        rest_api.security_policy = SECURITY_POLICY
        rest_api.endpoint_access_mode = ENDPOINT_ACCESS_MODE

        # Execution logs (ERROR) go to a group named after the API's id; made here, it has the other log
        # groups' retention and removal policy instead of API Gateway's (no expiry, outlives the stack).
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=execution_log_group_name(self.api.rest_api_id, stage),
            retention=log_retention,
            removal_policy=log_removal,
        )
        self.stage.node.add_dependency(self.execution_logs)

        # SpecRestApi adds no invoke permission: allow this API's stage only.
        target.add_permission(
            "ApiInvoke",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_arn=self.api.arn_for_execute_api(method="*", path="/*", stage=stage),
        )

        # One key and one plan per consumer: its throttle and quota (settings.yaml `clients`); the
        # stage's own throttle (above) bounds them all. A key meters, the token authorizes.
        self.api_keys: dict[str, apigateway.IApiKey] = {}
        self.usage_plans: dict[str, apigateway.UsagePlan] = {}
        for name, client in config.settings.clients.items():
            key = self.api.add_api_key(
                f"ApiKey-{name}",
                api_key_name=config.name(f"key-{name}"),
                description=f"users-api {stage}: API key of the consumer {name} (metering only)",
            )
            plan = self.api.add_usage_plan(
                f"UsagePlan-{name}",
                name=config.name(f"plan-{name}"),
                description=f"users-api {stage}: {name}'s throttle and quota (settings.yaml clients.{name})",
                throttle=apigateway.ThrottleSettings(
                    rate_limit=client.throttle_rate_per_second, burst_limit=client.throttle_burst
                ),
                quota=apigateway.QuotaSettings(limit=client.quota_per_day, period=apigateway.Period.DAY),
                api_stages=[apigateway.UsagePlanPerApiStage(api=self.api, stage=self.stage)],
            )
            plan.add_api_key(key)
            self.api_keys[name] = key
            self.usage_plans[name] = plan
