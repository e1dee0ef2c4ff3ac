"""CloudWatch alarms (thresholds from settings.yaml, the numbers the load tests use) -> an encrypted SNS
topic that mails `alarms.notify`, and a dashboard with the function, the API, the table and the
service's own EMF metrics.

The stage alarms are built for little traffic: each pages when `alarms.datapoints_to_alarm` of its
last `alarms.evaluation_periods` periods breach (one bad period is noise), and a rate counts only
periods with at least `alarms.min_requests` requests. No alarm reads a percentile: CloudWatch either
ignores a pN while a period holds fewer than 10/(1-p) samples (1,000 for p99: every period at this
traffic) or judges it on any sample at all. "pN above T" is alarmed as "more than (100 - N) % of the
requests slower than T" instead: CloudWatch's percentile rank PR(T:), a share it computes at any
sample count, gated on volume like the rates.

The alarms that brake a deploy (infra/deploys.py) page nobody: CodeDeploy acts on them, and the stage
alarms already page for what they see (one 5XX would otherwise page twice). They sit next to the
stage's own on the dashboard, with the function's traffic and errors per version (a canary shows there)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, StageConfig
from service.observability import METRIC_DIMENSIONS
from service.repository import ACCESS, INDEXES, TableAccess

# The ids of a latency alarm's metrics (`slower_than`): the share of requests above the threshold, and
# how many requests there were.
SLOW = "slow"
REQUESTS = "requests"


class UnknownOperation(ValueError):
    """The repository declares a DynamoDB operation CloudWatch has no per-operation metrics for."""


def cloudwatch_operation(name: str) -> dynamodb.Operation:
    """The CDK's name of a DynamoDB operation ("TransactWriteItems" -> Operation.TRANSACT_WRITE_ITEMS)."""
    member = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
    operation = getattr(dynamodb.Operation, member, None)
    if not isinstance(operation, dynamodb.Operation):
        raise UnknownOperation(
            f"service.repository.ACCESS declares DynamoDB {name}, which has no CloudWatch operation metrics "
            "(aws_cdk.aws_dynamodb.Operation)"
        )
    return operation


def table_operations(access: TableAccess) -> list[dynamodb.Operation]:
    """The operations the repository declares, for the per-operation throttle and error metrics."""
    return [cloudwatch_operation(name) for name in sorted(access.operations)]


def index_throttles(table: dynamodb.ITable, index: str, period: Duration) -> cloudwatch.MathExpression:
    """Read and write throttle events of one global secondary index (a hot index key shows here first)."""

    def events(name: str) -> cloudwatch.Metric:
        return table.metric(
            name,
            dimensions_map={"TableName": table.table_name, "GlobalSecondaryIndexName": index},
            statistic="Sum",
            period=period,
        )

    return cloudwatch.MathExpression(
        expression="reads + writes",
        using_metrics={"reads": events("ReadThrottleEvents"), "writes": events("WriteThrottleEvents")},
        label=f"{index} throttle events",
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        function: lambda_.IFunction,
        api: apigateway.SpecRestApi,
        table: dynamodb.ITable,
        access: TableAccess = ACCESS,
        deployment_alarms: Mapping[str, cloudwatch.Alarm] | None = None,
    ) -> None:
        """`deployment_alarms`: the alarms that brake a deploy, shown beside the others (they page nobody:
        CodeDeploy acts on them)."""
        super().__init__(scope, construct_id)
        operations = table_operations(access)
        thresholds = config.settings.alarms
        period = Duration.seconds(thresholds.period_seconds)
        removal = RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN

        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            alias=f"alias/{config.name('alarms')}",
            description=f"users-api {config.stage}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        stack = Stack.of(self)
        cloudwatch_alarms = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # CloudWatch encrypts its notifications for the topic with this key, on behalf of this account only.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch_alarms],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.name("alarms"),
            display_name=f"users-api {config.stage} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl leaves the topic policy with its deny only: without this allow, CloudWatch's
        # publish is refused ("not authorized to perform: SNS:Publish", in the alarm's history).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch_alarms],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stack, config)},
                },
            )
        )
        # Who gets paged: each address must confirm AWS's subscription mail before anything arrives.
        for address in thresholds.notify:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        alarm_action = actions.SnsAction(self.topic)

        def api_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return stage_api_metric(config, name, statistic, period)

        invocations = function.metric_invocations(statistic="Sum", period=period)
        errors = function.metric_errors(statistic="Sum", period=period)
        minimum = thresholds.min_requests
        lambda_error_rate = cloudwatch.MathExpression(
            expression=gated_rate("errors", "invocations", minimum),
            using_metrics={"errors": errors, "invocations": invocations},
            label=f"Lambda error rate (%; 0 under {minimum} invocations)",
            period=period,
        )
        api_5xx = api_metric("5XXError", "Sum")
        api_4xx = api_metric("4XXError", "Sum")
        requests = api_metric("Count", "SampleCount")
        api_error_rate = cloudwatch.MathExpression(
            expression=gated_rate("errors", "requests", minimum),
            using_metrics={"errors": api_5xx, "requests": requests},
            label=f"API 5XX rate (%; 0 under {minimum} requests)",
            period=period,
        )
        api_4xx_rate = cloudwatch.MathExpression(
            expression=gated_rate("client_errors", "requests", minimum),
            using_metrics={"client_errors": api_4xx, "requests": requests},
            label=f"API 4XX rate (%; 0 under {minimum} requests)",
            period=period,
        )

        # "pN above T" as "more than (100 - N) % of the period's requests slower than T".
        slow = functools.partial(
            slower_than,
            expression=gated_share(SLOW, REQUESTS, minimum),
            gate=f"0 under {minimum} requests",
            period=period,
        )

        def duration(statistic: str) -> cloudwatch.Metric:
            return function.metric_duration(statistic=statistic, period=period)

        def latency(statistic: str) -> cloudwatch.Metric:
            return api_metric("Latency", statistic)

        # (id, metric, threshold, what it means); every alarm breaches when the value is > threshold.
        specs: list[tuple[str, cloudwatch.IMetric, float, str]] = [
            (
                "LambdaErrorRate",
                lambda_error_rate,
                thresholds.error_rate_percent,
                "Lambda errors exceed alarms.error_rate_percent of invocations",
            ),
            (
                "LambdaThrottles",
                function.metric_throttles(statistic="Sum", period=period),
                thresholds.throttle_count,
                "Lambda throttled more invocations than alarms.throttle_count (concurrency limit)",
            ),
            (
                "LambdaP99Duration",
                slow(duration, thresholds.lambda_p99_duration_ms, "Lambda invocations"),
                tail_share(99),
                "Lambda p99 duration above alarms.lambda_p99_duration_ms "
                f"({thresholds.lambda_p99_duration_ms:g} ms): more than 1 % of the invocations slower",
            ),
            ("Api5xx", api_5xx, thresholds.five_xx_count, "API 5XX count above alarms.five_xx_count"),
            (
                "ApiErrorRate",
                api_error_rate,
                thresholds.error_rate_percent,
                "API 5XX share above alarms.error_rate_percent",
            ),
            (
                "Api4xxRate",
                api_4xx_rate,
                thresholds.four_xx_rate_percent,
                "API 4XX share above alarms.four_xx_rate_percent",
            ),
            (
                "ApiP99Latency",
                slow(latency, thresholds.p99_latency_ms, "API requests"),
                tail_share(99),
                f"API p99 latency above alarms.p99_latency_ms ({thresholds.p99_latency_ms:g} ms): "
                "more than 1 % of the requests slower",
            ),
            (
                "ApiP95Latency",
                slow(latency, thresholds.p95_latency_ms, "API requests"),
                tail_share(95),
                f"API p95 latency above alarms.p95_latency_ms ({thresholds.p95_latency_ms:g} ms): "
                "more than 5 % of the requests slower",
            ),
            (
                "TableThrottles",
                table.metric_throttled_requests_for_operations(operations=operations, period=period),
                thresholds.throttle_count,
                "DynamoDB throttled more requests than alarms.throttle_count",
            ),
            (
                "TableSystemErrors",
                table.metric_system_errors_for_operations(operations=operations, period=period),
                thresholds.five_xx_count,
                "DynamoDB system errors above alarms.five_xx_count",
            ),
            *(
                (
                    f"IndexThrottles{_pascal(index)}",
                    index_throttles(table, index, period),
                    thresholds.throttle_count,
                    f"DynamoDB index {index} throttled more events than alarms.throttle_count",
                )
                for index in sorted(INDEXES)
            ),
        ]
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for alarm_id, metric, threshold, meaning in specs:
            alarm = threshold_alarm(
                self,
                alarm_id,
                name=config.name(kebab(alarm_id)),
                description=f"users-api {config.stage}: {meaning} (threshold {threshold:g})",
                metric=metric,
                threshold=threshold,
                evaluation_periods=thresholds.evaluation_periods,
                datapoints_to_alarm=thresholds.datapoints_to_alarm,
            )
            alarm.add_alarm_action(alarm_action)
            alarm.add_ok_action(alarm_action)
            self.alarms[alarm_id] = alarm
        # Shown on the dashboard only: CodeDeploy acts on them, nobody is paged by them.
        self.deployment_alarms = dict(deployment_alarms or {})

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.name("dashboard"),
            default_interval=Duration.hours(3),
        )
        alarm_widgets: list[cloudwatch.IWidget] = [
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=list(self.alarms.values()),
                width=16 if self.deployment_alarms else 24,
                height=3,
            )
        ]
        if self.deployment_alarms:
            alarm_widgets.append(
                cloudwatch.AlarmStatusWidget(
                    title="Deploy brakes (roll a deploy back)",
                    alarms=list(self.deployment_alarms.values()),
                    width=8,
                    height=3,
                )
            )
        self.dashboard.add_widgets(*alarm_widgets)
        # What the latency alarms judge: the share of requests slower than their threshold, with the
        # threshold, as each alarm reads it (a percentile graph would not show what pages).
        self.dashboard.add_widgets(
            *(
                cloudwatch.AlarmWidget(alarm=self.alarms[alarm_id], title=title, width=8)
                for alarm_id, title in LATENCY_ALARM_WIDGETS
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api_metric("Count", "SampleCount"), api_metric("4XXError", "Sum"), api_5xx],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                left=[
                    api_metric("Latency", "p50"),
                    api_metric("Latency", "p95"),
                    api_metric("Latency", "p99"),
                    api_metric("IntegrationLatency", "p99"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=thresholds.p99_latency_ms, label="p99 alarm")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(title="API error rates (%)", left=[api_error_rate, api_4xx_rate], width=8),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda invocations, errors, throttles",
                left=[invocations, errors, function.metric_throttles(statistic="Sum", period=period)],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration (ms)",
                left=[
                    function.metric_duration(statistic="p50", period=period),
                    function.metric_duration(statistic="p99", period=period),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda concurrency",
                left=[function.metric("ConcurrentExecutions", statistic="Maximum", period=period)],
                width=8,
            ),
        )
        if self.deployment_alarms:
            # Traffic and errors per version that ran behind the alias: a canary, and a rollback, show here.
            self.dashboard.add_widgets(
                *(
                    cloudwatch.GraphWidget(
                        title=f"Lambda {metric.lower()} by version (alias {config.base_name}:live)",
                        left=[
                            cloudwatch.MathExpression(
                                expression=(
                                    "SEARCH('{AWS/Lambda,FunctionName,Resource,ExecutedVersion} "
                                    f'FunctionName="{config.base_name}" MetricName="{metric}"\', \'Sum\', 60)'
                                ),
                                label="",
                                period=Duration.minutes(1),
                            )
                        ],
                        width=12,
                    )
                    for metric in ("Invocations", "Errors")
                )
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DynamoDB capacity consumed",
                left=[
                    table.metric_consumed_read_capacity_units(period=period),
                    table.metric_consumed_write_capacity_units(period=period),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB latency (ms)",
                left=[
                    table.metric_successful_request_latency(
                        dimensions_map={"TableName": table.table_name, "Operation": name},
                        period=period,
                    )
                    for name in sorted(access.operations)
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DynamoDB throttled requests (table and indexes)",
                left=[
                    table.metric_throttled_requests_for_operations(operations=operations, period=period),
                    *(index_throttles(table, index, period) for index in sorted(INDEXES)),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB system errors",
                left=[table.metric_system_errors_for_operations(operations=operations, period=period)],
                width=12,
            ),
        )
        # The service's own metrics (Powertools EMF): every metric of the namespace, whatever its name,
        # one search per set of dimensions the service writes (a SEARCH matches exactly one set).
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Service metrics ({METRICS_NAMESPACE}) by {', '.join(dimensions)}",
                    left=[
                        cloudwatch.MathExpression(
                            expression=(
                                f"SEARCH('{{{METRICS_NAMESPACE},{','.join(dimensions)}}} "
                                f"service=\"{POWERTOOLS_SERVICE_NAME}\"', 'Sum', {thresholds.period_seconds})"
                            ),
                            label="",
                            period=period,
                        )
                    ],
                    width=8,
                )
                for dimensions in METRIC_DIMENSIONS
            )
        )


def alarm_arn_pattern(stack: Stack, config: StageConfig) -> str:
    """The ARNs of the stage's alarms, whose names are all config.name(...): users-api-*-<stage>."""
    return stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=config.name("*"),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def stage_api_metric(config: StageConfig, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A metric of the stage's REST API (AWS/ApiGateway, by API name and stage)."""
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=name,
        dimensions_map={"ApiName": config.api_name, "Stage": config.stage},
        statistic=statistic,
        period=period,
    )


# The latency alarms drawn on the dashboard as their alarms read them: (alarm id, widget title).
LATENCY_ALARM_WIDGETS = (
    ("ApiP99Latency", "API requests slower than the p99 threshold (%)"),
    ("ApiP95Latency", "API requests slower than the p95 threshold (%)"),
    ("LambdaP99Duration", "Invocations slower than the p99 duration threshold (%)"),
)


def gated_rate(part: str, whole: str, minimum: int) -> str:
    """Metric math: `part` as a percentage of `whole`, or 0 in a period with fewer than `minimum` of
    `whole` (a rate of three requests is not a rate), never a division by zero."""
    return f"IF({whole} >= {minimum}, 100 * {part} / {whole}, 0)"


def gated_share(share: str, whole: str, minimum: int) -> str:
    """Metric math: `share` (already a percentage, e.g. a percentile rank), or 0 in a period with fewer
    than `minimum` of `whole`: one slow request among three is not 1 % of anything."""
    return f"IF({whole} >= {minimum}, {share}, 0)"


def counted_share(share: str, whole: str, minimum: int) -> str:
    """Metric math: `share` (a percentage of `whole`), or 0 unless it stands for at least `minimum` of
    them. `share * whole / 100` is a count computed in floats: it is compared with the half-way point
    below `minimum` (1.5 for 2), so that 1.9999 counts as 2 and 1.0001 as 1."""
    return f"IF({share} * {whole} / 100 >= {minimum - 0.5:g}, {share}, 0)"


def tail_share(percentile: float) -> float:
    """The share (%) of values a pN leaves above itself: "pN above T" is "more than (100 - N) % above T"
    (exactly, for the nearest-rank percentile the load tests judge by)."""
    return 100 - percentile


def percentile_rank_above(threshold: float) -> str:
    """CloudWatch's percentile rank of the values above `threshold`: PR(T:) is the percentage of the
    period's data points greater than T (the lower bound is exclusive; no upper bound)."""
    return f"PR({_number(threshold)}:)"


def slower_than(
    metric: Callable[[str], cloudwatch.Metric],
    threshold_ms: float,
    what: str,
    *,
    expression: str,
    gate: str,
    period: Duration,
) -> cloudwatch.MathExpression:
    """Metric math on one metric (`metric(statistic)`: a latency or a duration) reading SLOW, the
    percentage of the period's data points above `threshold_ms` (CloudWatch computes a percentile rank
    at any sample count), and REQUESTS, their number: `expression` gates the first on volume, `gate`
    says how in the label."""
    return cloudwatch.MathExpression(
        expression=expression,
        using_metrics={
            SLOW: metric(percentile_rank_above(threshold_ms)),
            REQUESTS: metric("SampleCount"),
        },
        label=f"{what} slower than {threshold_ms:g} ms (%; {gate})",
        period=period,
    )


class PercentileAlarm(ValueError):
    """An alarm would read a percentile, which CloudWatch does not judge usefully at this traffic."""


def is_percentile(metric: cloudwatch.IMetric) -> bool:
    """Whether `metric`, or a metric an expression reads, is a percentile (p99, p95.5, ...)."""
    if isinstance(metric, cloudwatch.MathExpression):
        return any(is_percentile(used) for used in metric.using_metrics.values())
    statistic = metric.to_metric_config().metric_stat
    return statistic is not None and re.fullmatch(r"[pP]\d+(\.\d+)?", statistic.statistic) is not None


def threshold_alarm(
    scope: Construct,
    alarm_id: str,
    *,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    evaluation_periods: int,
    datapoints_to_alarm: int,
) -> cloudwatch.Alarm:
    """An alarm that breaches when the value is above its threshold (alarms.*) in `datapoints_to_alarm`
    of its last `evaluation_periods` periods; no data is no breach. It refuses a percentile: CloudWatch
    either ignores one while a period holds fewer than 10/(1-p) samples (every period at 2,000 requests
    a day) or judges it on a single sample; alarm on the share above the threshold (`slower_than`)."""
    if is_percentile(metric):
        raise PercentileAlarm(
            f"alarm {name} reads a percentile: alarm on the share of values above the threshold instead "
            "(infra.monitoring.slower_than)"
        )
    return cloudwatch.Alarm(
        scope,
        alarm_id,
        alarm_name=name,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def _number(value: float) -> str:
    """A threshold as CloudWatch's statistics read it: 1000.0 -> "1000", 1000.5 -> "1000.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))


def kebab(name: str) -> str:
    out = ""
    for index, char in enumerate(name):
        if char.isupper() and index and not name[index - 1].isupper():
            out += "-"
        out += char.lower()
    return out
