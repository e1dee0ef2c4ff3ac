"""The stage alarms reach people: CloudWatch may publish to the encrypted topic (for this stage's alarms
only), and the topic mails the addresses of `alarms.notify`."""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from infra.config import load_stage
from infra.monitoring import PercentileAlarm, threshold_alarm
from infra.settings import load_infra_settings
from loadtest._capacity import percentile
from service.contract import get_contract
from service.settings import SettingsError, read_file
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
ACCOUNT = {"Ref": "AWS::AccountId"}


def _topic_statements(synth: Synth) -> list[dict[str, Any]]:
    topic_id, _ = synth.one("AWS::SNS::Topic")
    _, policy = synth.one("AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _source_arn_pattern(statement: dict[str, Any]) -> str:
    """The alarm ARN pattern of an ArnLike aws:SourceArn condition, with the account left as "*"."""
    value = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    return "".join(part if isinstance(part, str) else "*" for part in parts)


# ---- CloudWatch may publish --------------------------------------------------------------------------


def test_cloudwatch_may_publish_to_the_topic_for_this_stages_alarms_in_this_account(each: Synth) -> None:
    topic_id, _ = each.one("AWS::SNS::Topic")
    allows = [s for s in _topic_statements(each) if s["Effect"] == "Allow"]
    assert len(allows) == 1, allows
    [allow] = allows
    assert allow["Principal"] == CLOUDWATCH
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic_id}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    region = load_stage(each.stage).region
    assert _source_arn_pattern(allow) == f"arn:aws:cloudwatch:{region}:*:alarm:users-api-*-{each.stage}"


def test_the_topic_still_refuses_publishing_without_tls(each: Synth) -> None:
    denies = [s for s in _topic_statements(each) if s["Effect"] == "Deny"]
    assert [(d["Action"], d["Principal"], d["Condition"]) for d in denies] == [
        ("sns:Publish", "*", {"Bool": {"aws:SecureTransport": "false"}})
    ]


def test_every_alarm_that_notifies_is_one_cloudwatch_may_publish_for(each: Synth) -> None:
    [allow] = [s for s in _topic_statements(each) if s["Effect"] == "Allow"]
    names = _source_arn_pattern(allow).rsplit(":alarm:", 1)[1]
    notifying = [
        alarm["Properties"]["AlarmName"]
        for alarm in each.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("AlarmActions")
    ]
    assert notifying
    assert [name for name in notifying if not fnmatch.fnmatchcase(name, names)] == []


def test_cloudwatch_may_use_the_topic_key_on_behalf_of_this_account_only(each: Synth) -> None:
    _, key = each.one("AWS::KMS::Key")
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == CLOUDWATCH]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# ---- who gets the mail -------------------------------------------------------------------------------


def test_the_topic_mails_the_addresses_of_the_stages_settings(each: Synth) -> None:
    topic_id, _ = each.one("AWS::SNS::Topic")
    subscriptions = [s["Properties"] for s in each.resources("AWS::SNS::Subscription").values()]
    assert all(s["TopicArn"] == {"Ref": topic_id} and s["Protocol"] == "email" for s in subscriptions)
    notify = load_stage(each.stage).settings.alarms.notify
    assert sorted(s["Endpoint"] for s in subscriptions) == sorted(notify)


def test_prod_pages_the_contracts_contact_and_dev_pages_nobody(dev: Synth, prod: Synth) -> None:
    contact = get_contract().document["info"]["contact"]["email"]
    assert load_stage("prod").settings.alarms.notify == (contact,)
    assert load_stage("dev").settings.alarms.notify == ()


@pytest.mark.parametrize(
    "notify",
    [["platform-team"], ["platform team@example.com"], ["a@example.com", "a@example.com"], "a@example.com"],
)
def test_notify_takes_distinct_email_addresses_only(notify: Any) -> None:
    document = copy.deepcopy(read_file())
    document["stages"]["dev"].setdefault("alarms", {})["notify"] = notify
    with pytest.raises(SettingsError, match=r"alarms\.notify"):
        load_infra_settings("dev", document=document)


# ---- how the stage alarms judge little traffic --------------------------------------------------------

# Rate alarm -> (the failures, the requests) it divides, by CloudWatch metric name.
RATES = {
    "lambda-error-rate": ("Errors", "Invocations"),
    "api-error-rate": ("5XXError", "Count"),
    "api4xx-rate": ("4XXError", "Count"),
}
# Latency alarm -> (the metric it reads, the setting of its threshold in ms, the percentile it stands for).
LATENCIES = {
    "lambda-p99-duration": ("Duration", "lambda_p99_duration_ms", 99),
    "api-p99-latency": ("Latency", "p99_latency_ms", 99),
    "api-p95-latency": ("Latency", "p95_latency_ms", 95),
}


def _stage_alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    """Name -> properties of the stage's own alarms (not the deploy brakes)."""
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if not alarm["Properties"]["AlarmName"].startswith("users-api-deploy-")
    }


def _rate(expression: str, counts: dict[str, float]) -> float:
    """Evaluates a gated rate, IF(<whole> >= <n>, 100 * <part> / <whole>, 0), as CloudWatch would."""
    match = re.fullmatch(r"IF\((\w+) >= (\d+), 100 \* (\w+) / (\w+), 0\)", expression)
    assert match, expression
    whole, minimum, part, divisor = match.groups()
    assert divisor == whole, expression
    return 100 * counts[part] / counts[whole] if counts[whole] >= int(minimum) else 0.0


def evaluate_share(expression: str, values: dict[str, float]) -> float:
    """Evaluates a latency alarm's metric math as CloudWatch would: a share gated on the period's
    requests, IF(<requests> >= <n>, <share>, 0), or on its slow requests,
    IF(<share> * <requests> / 100 >= <n>, <share>, 0)."""
    if match := re.fullmatch(r"IF\((\w+) >= (\d+), (\w+), 0\)", expression):
        whole, minimum, share = match.groups()
        return values[share] if values[whole] >= int(minimum) else 0.0
    match = re.fullmatch(r"IF\((\w+) \* (\w+) / 100 >= (\d+(?:\.\d+)?), (\w+), 0\)", expression)
    assert match, expression
    share, whole, minimum, returned = match.groups()
    assert returned == share, expression
    return values[share] if values[share] * values[whole] / 100 >= float(minimum) else 0.0


def latency_query(alarm: dict[str, Any], threshold_ms: float) -> tuple[str, dict[str, str], Any]:
    """(the expression, {"slow" | "requests": its metric's id}, the metric read) of a latency alarm:
    the share of data points above `threshold_ms` (PR(T:)) and their count, of one metric."""
    assert "ExtendedStatistic" not in alarm and "Statistic" not in alarm
    assert "EvaluateLowSampleCountPercentile" not in alarm
    [expression] = [query for query in alarm["Metrics"] if "Expression" in query]
    assert expression["ReturnData"] is True
    stats = {query["MetricStat"]["Stat"]: query for query in alarm["Metrics"] if "MetricStat" in query}
    limit = int(threshold_ms) if float(threshold_ms).is_integer() else threshold_ms
    assert set(stats) == {f"PR({limit}:)", "SampleCount"}
    slow, requests = stats[f"PR({limit}:)"], stats["SampleCount"]
    assert slow["MetricStat"]["Metric"] == requests["MetricStat"]["Metric"]
    assert slow["MetricStat"]["Period"] == requests["MetricStat"]["Period"]
    ids = {"slow": slow["Id"], "requests": requests["Id"]}
    return expression["Expression"], ids, slow["MetricStat"]["Metric"]


def period_of(latencies: Sequence[float], threshold_ms: float, ids: dict[str, str]) -> dict[str, float]:
    """What CloudWatch reads of one period's latencies: PR(T:), the percentage of them above T (the lower
    bound is exclusive), and SampleCount."""
    above = sum(1 for value in latencies if value > threshold_ms)
    return {ids["slow"]: 100 * above / len(latencies) if latencies else 0.0, ids["requests"]: len(latencies)}


def reads(expression: str, ids: dict[str, str], threshold_ms: float, latencies: Sequence[float]) -> float:
    """The value a latency alarm's expression takes on a period of these latencies."""
    return evaluate_share(expression, period_of(latencies, threshold_ms, ids))


def test_a_stage_alarm_pages_on_m_of_its_last_n_periods_not_on_one(each: Synth) -> None:
    settings = load_stage(each.stage).settings.alarms
    assert 1 < settings.datapoints_to_alarm <= settings.evaluation_periods
    for name, alarm in _stage_alarms(each).items():
        assert alarm["EvaluationPeriods"] == settings.evaluation_periods, name
        assert alarm["DatapointsToAlarm"] == settings.datapoints_to_alarm, name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_no_stage_alarm_reads_a_percentile(each: Synth) -> None:
    """CloudWatch ignores a p99 under 1,000 samples a period ("ignore"): every period at this traffic."""
    for name, alarm in _stage_alarms(each).items():
        assert "ExtendedStatistic" not in alarm, name
        assert "EvaluateLowSampleCountPercentile" not in alarm, name
        for query in alarm.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Stat", "")
            assert not re.fullmatch(r"[pP]\d+(\.\d+)?", stat), (name, stat)


def test_latency_alarms_count_the_share_of_slow_requests_in_periods_with_enough_requests(
    each: Synth,
) -> None:
    """pN above T is more than (100 - N) % of the requests slower than T, read while a period has at least
    alarms.min_requests requests."""
    settings = load_stage(each.stage).settings.alarms
    alarms = _stage_alarms(each)
    for name, (metric, setting, nth) in LATENCIES.items():
        alarm = alarms[f"users-api-{name}-{each.stage}"]
        threshold_ms = getattr(settings, setting)
        expression, ids, read = latency_query(alarm, threshold_ms)
        assert read["MetricName"] == metric, name
        assert expression == f"IF({ids['requests']} >= {settings.min_requests}, {ids['slow']}, 0)", name
        assert alarm["Threshold"] == 100 - nth, name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        tail = 100 - nth
        fast, slow = threshold_ms / 10, threshold_ms + 1

        # A quiet period reads 0, however slow its few requests.
        assert reads(expression, ids, threshold_ms, [slow] * (settings.min_requests - 1)) == 0, name
        assert reads(expression, ids, threshold_ms, []) == 0, name
        # A value equal to the threshold is not above it (PR's lower bound is exclusive).
        assert reads(expression, ids, threshold_ms, [float(threshold_ms)] * 200) == 0, name
        # With enough requests, just more than the tail share slower breaches; the tail share does not.
        many = max(settings.min_requests, 1000)
        at_tail = int(many * tail / 100)
        at_the_tail = [slow] * at_tail + [fast] * (many - at_tail)
        assert reads(expression, ids, threshold_ms, at_the_tail) == tail <= alarm["Threshold"], name
        past_the_tail = [slow] * (at_tail + 1) + [fast] * (many - at_tail - 1)
        assert reads(expression, ids, threshold_ms, past_the_tail) > alarm["Threshold"], name


@pytest.mark.parametrize("nth", [99, 95])
def test_a_latency_alarm_breaches_exactly_when_the_load_tests_percentile_does(dev: Synth, nth: int) -> None:
    """On every period it reads (at least alarms.min_requests requests), the share alarm breaches exactly
    when the nearest-rank pN the load tests judge by is above the same threshold."""
    settings = load_stage(dev.stage).settings.alarms
    name = {99: "api-p99-latency", 95: "api-p95-latency"}[nth]
    _, setting, _ = LATENCIES[name]
    threshold_ms = getattr(settings, setting)
    alarm = _stage_alarms(dev)[f"users-api-{name}-{dev.stage}"]
    expression, ids, _ = latency_query(alarm, threshold_ms)
    for requests in range(settings.min_requests, 301):
        for slow in range(requests + 1):
            latencies = [threshold_ms + 1] * slow + [threshold_ms / 2] * (requests - slow)
            breaches = reads(expression, ids, threshold_ms, latencies) > alarm["Threshold"]
            assert breaches == (percentile(latencies, nth / 100) > threshold_ms), (requests, slow)


def test_an_alarm_on_a_percentile_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Refuses")
    latency = cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="Latency", statistic="p99")
    within = cloudwatch.MathExpression(expression="IF(l > 0, l, 0)", using_metrics={"l": latency})
    metrics: list[cloudwatch.IMetric] = [latency, within]
    for index, metric in enumerate(metrics):
        with pytest.raises(PercentileAlarm, match="percentile"):
            threshold_alarm(
                stack,
                f"Alarm{index}",
                name=f"alarm-{index}",
                description="",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                datapoints_to_alarm=1,
            )


def test_rate_alarms_count_only_periods_with_enough_requests(each: Synth) -> None:
    settings = load_stage(each.stage).settings.alarms
    alarms = _stage_alarms(each)
    for name, (part, whole) in RATES.items():
        alarm = alarms[f"users-api-{name}-{each.stage}"]
        [expression] = [query for query in alarm["Metrics"] if "Expression" in query]
        assert expression["ReturnData"] is True
        ids = {
            query["MetricStat"]["Metric"]["MetricName"]: query["Id"]
            for query in alarm["Metrics"]
            if "MetricStat" in query
        }
        assert set(ids) == {part, whole}, name
        text = expression["Expression"]
        assert text == f"IF({ids[whole]} >= {settings.min_requests}, 100 * {ids[part]} / {ids[whole]}, 0)"
        threshold = alarm["Threshold"]
        # One failure among a handful of requests is not a rate: the alarm reads 0.
        assert _rate(text, {ids[part]: 1, ids[whole]: 3}) == 0 <= threshold, name
        assert _rate(text, {ids[part]: 0, ids[whole]: 0}) == 0, name
        # With enough requests, a share above the threshold breaches.
        many = max(settings.min_requests, 100)
        failing = many * threshold / 100 + 1
        assert _rate(text, {ids[part]: failing, ids[whole]: many}) > threshold, name


def test_no_alarm_divides_by_a_max_of_its_count(each: Synth) -> None:
    for alarm in each.resources("AWS::CloudWatch::Alarm").values():
        for query in alarm["Properties"].get("Metrics", []):
            assert "MAX(" not in query.get("Expression", ""), alarm["Properties"]["AlarmName"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"evaluation_periods": 2, "datapoints_to_alarm": 3}, "alarms.datapoints_to_alarm"),
        ({"evaluation_periods": 300, "period_seconds": 300}, "alarms.evaluation_periods"),
        ({"min_requests": 0}, "alarms.min_requests"),
    ],
)
def test_alarm_evaluation_settings_infra_refuses(change: dict[str, Any], named: str) -> None:
    document = copy.deepcopy(read_file())
    document["stages"]["dev"]["alarms"] = {**(document["stages"]["dev"].get("alarms") or {}), **change}
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        load_infra_settings("dev", document=document)
