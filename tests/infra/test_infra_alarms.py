"""The stage alarms reach people: CloudWatch may publish to the encrypted topic (for this stage's alarms
only), and the topic mails the addresses of `alarms.notify`."""

from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any

import pytest

from infra.config import load_stage
from infra.settings import load_infra_settings
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
PERCENTILES = {"lambda-p99-duration": "p99", "api-p99-latency": "p99", "api-p95-latency": "p95"}


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


def test_a_stage_alarm_pages_on_m_of_its_last_n_periods_not_on_one(each: Synth) -> None:
    settings = load_stage(each.stage).settings.alarms
    assert 1 < settings.datapoints_to_alarm <= settings.evaluation_periods
    for name, alarm in _stage_alarms(each).items():
        assert alarm["EvaluationPeriods"] == settings.evaluation_periods, name
        assert alarm["DatapointsToAlarm"] == settings.datapoints_to_alarm, name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_percentile_stage_alarms_keep_their_state_until_the_sample_means_something(each: Synth) -> None:
    alarms = _stage_alarms(each)
    percentiles = {name: alarm for name, alarm in alarms.items() if "ExtendedStatistic" in alarm}
    assert {name: alarm["ExtendedStatistic"] for name, alarm in percentiles.items()} == {
        f"users-api-{name}-{each.stage}": statistic for name, statistic in PERCENTILES.items()
    }
    for name, alarm in alarms.items():
        expected = "ignore" if name in percentiles else None
        assert alarm.get("EvaluateLowSampleCountPercentile") == expected, name


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
