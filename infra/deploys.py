"""How a new version takes the `live` alias: CodeDeploy traffic shifting, braked by alarms on the new
version, after a pre-traffic hook has checked it against the contract.

- The strategy is the stage's `deploy` settings: all at once (dev), a canary or linear (prod), with
  AWS's predefined configuration when one matches and a custom one otherwise.
- The brakes (`alarms`), with the thresholds of `alarms.*` (those the load tests judge by) over
  `deploy.alarm_period_seconds`, short enough to trip inside a canary's window, each on one breaching
  period; they notify nobody (CodeDeploy acts on them; the stage alarms page people):
  the new version's Lambda error rate, throttles and p99 duration, by the alias and the version
  that ran (`Resource=<function>:live`, `ExecutedVersion=<new version>`: the canary's share alone,
  not diluted by the old version's traffic), and the API's 5XX count and p99 latency (the API has
  no per-version metric; a count threshold is not diluted by a canary's small share either).
  A p99 brake reads the share of the period's requests slower than the threshold (CloudWatch's
  percentile rank), and breaches when it is above 1 % and at least `BRAKE_MIN_SLOW_REQUESTS`
  requests were slow: one restore or cold start does not roll a deploy back (docs/deploys.md).
  Any of them in ALARM stops the deployment and moves the alias back. A failed or stopped
  deployment rolls back too.
- The pre-traffic hook (service.deploy_check, shipped in the same bundle) invokes the new version
  with events built from the contract before any traffic moves, and reports to CodeDeploy. Its role
  may invoke this function's versions and report the status of this deployment group's hooks,
  nothing else. Its timeout (`deploy_check.hook_timeout_seconds`) holds every check at its longest
  invoke, then the report; the hook reports in time whatever its timeout.
- An emergency deploy (`make deploy EMERGENCY=1`) moves all traffic at once and does not consult
  the alarms; the hook still runs. It lasts until the next deploy without it (docs/deploys.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundle import Bundle
from infra.config import StageConfig
from infra.function import ALIAS_NAME, architecture, bundle_code, retention, runtime
from infra.monitoring import (
    REQUESTS,
    SLOW,
    counted_share,
    gated_rate,
    kebab,
    slower_than,
    stage_api_metric,
    tail_share,
    threshold_alarm,
)
from infra.settings import DeploySettings
from service import deploy_check
from service.contract import Contract

HOOK_HANDLER = "service.deploy_check.handler"
# A brake stops a deploy on one breaching period: a false stop costs a deploy, not anyone's night (the
# brakes page nobody), while waiting for a second period would let a bad version take more traffic first.
BRAKE_EVALUATION_PERIODS = 1
# A latency brake judges however few requests a step got, but never one slow request alone (a SnapStart
# restore, a cold start): it needs this many requests slower than the threshold in one period, and
# more than the percentile's tail share of them (1 % for p99) (docs/deploys.md, with the arithmetic).
BRAKE_MIN_SLOW_REQUESTS = 2
HOOK_MEMORY_MB = 256
# AWS's predefined configurations: (strategy, percent, minutes) -> the one CodeDeploy already has.
PREDEFINED: dict[tuple[str, int, int], codedeploy.ILambdaDeploymentConfig] = {
    ("canary", 10, 5): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    ("canary", 10, 10): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_10_MINUTES,
    ("canary", 10, 15): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_15_MINUTES,
    ("canary", 10, 30): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_30_MINUTES,
    ("linear", 10, 1): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    ("linear", 10, 2): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_2_MINUTES,
    ("linear", 10, 3): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_3_MINUTES,
    ("linear", 10, 10): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_10_MINUTES,
}


class Deployment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        contract: Contract,
        function: lambda_.Function,
        alias: lambda_.Alias,
        bundle: Bundle,
        check_client: cognito.IUserPoolClient,
        issuer: str,
        emergency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        deploy = config.settings.deploy
        self.version = function.current_version
        self.alarms = self._alarms(config)

        self.hook = self._hook(
            config=config,
            contract=contract,
            function=function,
            bundle=bundle,
            check_client=check_client,
            issuer=issuer,
        )
        self.application = codedeploy.LambdaApplication(
            self, "Application", application_name=config.name("deploys")
        )
        self.config = deployment_config(self, deploy, name=config.name, emergency=emergency)
        self.group = codedeploy.LambdaDeploymentGroup(
            self,
            "Group",
            application=self.application,
            deployment_group_name=config.name("live"),
            alias=alias,
            deployment_config=self.config,
            alarms=list(self.alarms.values()),
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
            ignore_alarm_configuration=emergency,
            pre_hook=self.hook,
        )
        # CloudFormation hands the alias to CodeDeploy only once the hook, its grants and the group
        # (with its alarms on the new version) are in place.
        alias.node.add_dependency(self.group, self.hook, self.hook_policy)

    def _alarms(self, config: StageConfig) -> dict[str, cloudwatch.Alarm]:
        thresholds = config.settings.alarms
        period = Duration.seconds(config.settings.deploy.alarm_period_seconds)
        # Literal names (not the alias construct's tokens): the alias depends on these alarms.
        new_version = {
            "FunctionName": config.base_name,
            "Resource": f"{config.base_name}:{ALIAS_NAME}",
            "ExecutedVersion": self.version.version,
        }

        def lambda_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=name,
                dimensions_map=new_version,
                statistic=statistic,
                period=period,
            )

        def api_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return stage_api_metric(config, name, statistic, period)

        def duration(statistic: str) -> cloudwatch.Metric:
            return lambda_metric("Duration", statistic)

        def latency(statistic: str) -> cloudwatch.Metric:
            return api_metric("Latency", statistic)

        # "p99 above T": more than 1 % of the period's requests slower than T, and at least
        # BRAKE_MIN_SLOW_REQUESTS of them.
        slow = functools.partial(
            slower_than,
            expression=counted_share(SLOW, REQUESTS, BRAKE_MIN_SLOW_REQUESTS),
            gate=f"0 under {BRAKE_MIN_SLOW_REQUESTS} slow",
            period=period,
        )

        # A brake acts on the first evidence: any invocation counts (a canary's share is small).
        error_rate = cloudwatch.MathExpression(
            expression=gated_rate("errors", "invocations", 1),
            using_metrics={
                "errors": lambda_metric("Errors", "Sum"),
                "invocations": lambda_metric("Invocations", "Sum"),
            },
            label="New version's Lambda error rate (%)",
            period=period,
        )
        # (id, metric, threshold, what it means); every alarm breaches when the value is > threshold.
        specs: list[tuple[str, cloudwatch.IMetric, float, str]] = [
            (
                "NewVersionErrorRate",
                error_rate,
                thresholds.error_rate_percent,
                "the new version's Lambda errors exceed alarms.error_rate_percent of its invocations",
            ),
            (
                "NewVersionThrottles",
                lambda_metric("Throttles", "Sum"),
                thresholds.throttle_count,
                "the new version was throttled more than alarms.throttle_count times",
            ),
            (
                "NewVersionP99Duration",
                slow(duration, thresholds.lambda_p99_duration_ms, "New version's invocations"),
                tail_share(99),
                "the new version's p99 duration is above alarms.lambda_p99_duration_ms "
                f"({thresholds.lambda_p99_duration_ms:g} ms): more than 1 % of its invocations, "
                f"and at least {BRAKE_MIN_SLOW_REQUESTS}, slower",
            ),
            (
                "Api5xx",
                api_metric("5XXError", "Sum"),
                thresholds.five_xx_count,
                "the API answered more 5XX than alarms.five_xx_count",
            ),
            (
                "ApiP99Latency",
                slow(latency, thresholds.p99_latency_ms, "API requests"),
                tail_share(99),
                f"the API's p99 latency is above alarms.p99_latency_ms ({thresholds.p99_latency_ms:g} ms): "
                f"more than 1 % of its requests, and at least {BRAKE_MIN_SLOW_REQUESTS}, slower",
            ),
        ]
        alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, metric, threshold, meaning in specs:
            alarms[alarm_id] = threshold_alarm(
                self,
                alarm_id,
                name=config.name(f"deploy-{kebab(alarm_id)}"),
                description=(
                    f"users-api {config.stage}, rollback of a deploy: {meaning} "
                    f"(threshold {threshold:g}, over {period.to_seconds()} s)"
                ),
                metric=metric,
                threshold=threshold,
                evaluation_periods=BRAKE_EVALUATION_PERIODS,
                datapoints_to_alarm=BRAKE_EVALUATION_PERIODS,
            )
        return alarms

    def _hook(
        self,
        *,
        config: StageConfig,
        contract: Contract,
        function: lambda_.Function,
        bundle: Bundle,
        check_client: cognito.IUserPoolClient,
        issuer: str,
    ) -> lambda_.Function:
        stack = Stack.of(self)
        lambda_settings = config.settings.lambda_
        name = config.name("deploy-check")
        log_group_name = f"/aws/lambda/{name}"
        self.hook_logs = logs.LogGroup(
            self,
            "HookLogs",
            log_group_name=log_group_name,
            retention=retention(lambda_settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
        self.hook_role = iam.Role(
            self,
            "HookRole",
            role_name=name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"users-api {config.stage}: the pre-traffic hook invokes new versions and reports",
        )
        log_streams = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group_name}:log-stream:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.hook_policy = iam.Policy(
            self,
            "HookPolicy",
            statements=[
                # The function's versions (the hook is told which one is new); no other function.
                iam.PolicyStatement(
                    sid="InvokeTheFunctionsVersions",
                    actions=["lambda:InvokeFunction"],
                    resources=[f"{function.function_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_streams],
                ),
            ],
        )
        self.hook_role.attach_inline_policy(self.hook_policy)
        checks = len(deploy_check.read_operations(contract))
        hook = lambda_.Function(
            self,
            "Hook",
            function_name=name,
            description=(
                f"users-api {config.stage}: CodeDeploy's pre-traffic hook; invokes the new version with "
                "the contract's read operations before it takes traffic"
            ),
            runtime=runtime(lambda_settings.runtime),
            architecture=architecture(lambda_settings.architecture),
            handler=HOOK_HANDLER,
            code=bundle_code(bundle),
            memory_size=HOOK_MEMORY_MB,
            timeout=Duration.seconds(
                deploy_check.hook_timeout_seconds(lambda_settings.timeout_seconds, checks)
            ),
            role=self.hook_role,
            log_group=self.hook_logs,
            environment={
                deploy_check.TARGET: self.version.function_arn,
                deploy_check.STAGE: config.stage,
                deploy_check.CLIENT_ID: check_client.user_pool_client_id,
                deploy_check.SCOPES: " ".join(deploy_check.read_scopes(contract)),
                deploy_check.ISSUER: issuer,
                deploy_check.INVOKE_TIMEOUT: str(lambda_settings.timeout_seconds),
            },
        )
        hook.node.add_dependency(self.hook_policy)
        return hook


def deployment_config(
    scope: Construct, deploy: DeploySettings, *, name: Callable[[str], str], emergency: bool = False
) -> codedeploy.ILambdaDeploymentConfig:
    """The CodeDeploy configuration of the `deploy` settings: AWS's predefined one when it exists,
    else a custom one named by `name`; all at once for an emergency deploy."""
    if emergency or not deploy.shifts:
        return codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE
    key = (deploy.strategy, deploy.traffic_percent, deploy.interval_minutes)
    if key in PREDEFINED:
        return PREDEFINED[key]
    interval = Duration.minutes(deploy.interval_minutes)
    routing = (
        codedeploy.TrafficRouting.time_based_canary(interval=interval, percentage=deploy.traffic_percent)
        if deploy.strategy == "canary"
        else codedeploy.TrafficRouting.time_based_linear(interval=interval, percentage=deploy.traffic_percent)
    )
    return codedeploy.LambdaDeploymentConfig(
        scope,
        "Config",
        deployment_config_name=name(
            f"{deploy.strategy}-{deploy.traffic_percent}pct-{deploy.interval_minutes}min"
        ),
        traffic_routing=routing,
    )
