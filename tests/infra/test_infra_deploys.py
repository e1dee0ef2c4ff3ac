"""CodeDeploy shifts the `live` alias per stage, braked by alarms on the new version, after the
pre-traffic hook; SnapStart's published versions are what it shifts between."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import load_stage
from infra.deploys import BRAKE_MIN_SLOW_REQUESTS, PREDEFINED, deployment_config
from infra.settings import DeploySettings, load_infra_settings
from loadtest._settings import load_run_settings
from service import deploy_check
from service.contract import get_contract
from service.settings import SettingsError, build_section, read_file
from tests.infra.conftest import Synth, new_app
from tests.infra.test_infra_alarms import latency_query, reads

pytestmark = pytest.mark.infra

# AWS's names of the predefined configurations the stages use.
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"
LINEAR_10_10 = "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"


# p99 brake -> (the metric it reads, the setting of its threshold in ms).
LATENCY_BRAKES = {
    "new-version-p99-duration": ("Duration", "lambda_p99_duration_ms"),
    "api-p99-latency": ("Latency", "p99_latency_ms"),
}


def _group(synth: Synth) -> dict[str, Any]:
    _, group = synth.one("AWS::CodeDeploy::DeploymentGroup")
    properties: dict[str, Any] = group["Properties"]
    return properties


def _deploy_alarms(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Alarm name -> (logical id, properties) of the alarms that brake a deploy."""
    return {
        alarm["Properties"]["AlarmName"]: (logical_id, alarm["Properties"])
        for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"]["AlarmName"].startswith("users-api-deploy-")
    }


def _hook(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.named("AWS::Lambda::Function", "FunctionName", f"users-api-deploy-check-{synth.stage}")


def _dimensions(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The dimensions of every metric an alarm reads (a plain alarm, or each metric of an expression)."""
    if "Dimensions" in alarm:
        return [{d["Name"]: d["Value"] for d in alarm["Dimensions"]}]
    return [
        {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
        for query in alarm["Metrics"]
        if "MetricStat" in query
    ]


# ---- strategy per stage ---------------------------------------------------------------------------


def test_dev_moves_all_traffic_at_once(dev: Synth) -> None:
    assert load_stage("dev").settings.deploy.strategy == "all_at_once"
    assert _group(dev)["DeploymentConfigName"] == ALL_AT_ONCE


def test_prod_shifts_linearly_over_long_enough_for_the_brakes_to_see_traffic(prod: Synth) -> None:
    """At 2,000 requests a day a 10 % 5-minute canary sends the new version under one request; ten
    steps of 10 minutes send it about 60 (docs/deploys.md)."""
    deploy = load_stage("prod").settings.deploy
    assert (deploy.strategy, deploy.traffic_percent, deploy.interval_minutes) == ("linear", 10, 10)
    assert _group(prod)["DeploymentConfigName"] == LINEAR_10_10
    prod.template.resource_count_is("AWS::CodeDeploy::DeploymentConfig", 0)
    per_minute = load_run_settings("prod").load.requests_per_day / (24 * 60)
    steps = range(deploy.traffic_percent, 100, deploy.traffic_percent)
    new_version_requests = sum(share / 100 * deploy.interval_minutes * per_minute for share in steps)
    assert new_version_requests > 30


def test_published_versions_outlive_the_deploy_that_replaced_them(each: Synth) -> None:
    """The alias can go back to the previous version by hand: CloudFormation keeps every version."""
    _, version = each.one("AWS::Lambda::Version")
    assert version["DeletionPolicy"] == "Retain"
    assert version["UpdateReplacePolicy"] == "Retain"


def test_every_stage_rolls_back_on_failure_on_stop_and_on_alarm(each: Synth) -> None:
    group = _group(each)
    assert group["DeploymentGroupName"] == f"users-api-live-{each.stage}"
    assert group["DeploymentStyle"] == {
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        "DeploymentType": "BLUE_GREEN",
    }
    rollback = group["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert set(rollback["Events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_REQUEST",
        "DEPLOYMENT_STOP_ON_ALARM",
    }
    assert group["AlarmConfiguration"]["Enabled"] is True
    braking = {alarm["Name"]["Ref"] for alarm in group["AlarmConfiguration"]["Alarms"]}
    assert braking == {logical_id for logical_id, _ in _deploy_alarms(each).values()}


def test_a_strategy_without_a_predefined_configuration_gets_its_own(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    stack = cdk.Stack(new_app(tmp_path), "Strategies")
    raw = {
        "strategy": "linear",
        "traffic_percent": 20,
        "interval_minutes": 4,
        "alarm_period_seconds": 60,
        "check_consumer": "x",
    }
    chosen = deployment_config(
        stack, build_section(DeploySettings, "deploy", raw), name=lambda w: f"users-api-{w}-t"
    )
    assert chosen not in PREDEFINED.values()
    Template.from_stack(stack).has_resource_properties(
        "AWS::CodeDeploy::DeploymentConfig",
        {
            "ComputePlatform": "Lambda",
            "DeploymentConfigName": "users-api-linear-20pct-4min-t",
            "TrafficRoutingConfig": {
                "Type": "TimeBasedLinear",
                "TimeBasedLinear": {"LinearInterval": 4, "LinearPercentage": 20},
            },
        },
    )
    canary = build_section(
        DeploySettings, "deploy", {**raw, "strategy": "canary", "traffic_percent": 10, "interval_minutes": 10}
    )
    assert deployment_config(stack, canary, name=str) is PREDEFINED[("canary", 10, 10)]
    assert deployment_config(stack, canary, name=str, emergency=True).deployment_config_name == ALL_AT_ONCE


# ---- the alarms that brake a deploy ----------------------------------------------------------------


def test_the_lambda_brakes_watch_the_new_version_behind_the_alias(each: Synth) -> None:
    version_id, _ = each.one("AWS::Lambda::Version")
    new_version = {
        "FunctionName": f"users-api-{each.stage}",
        "Resource": f"users-api-{each.stage}:live",
        "ExecutedVersion": {"Fn::GetAtt": [version_id, "Version"]},
    }
    alarms = _deploy_alarms(each)
    for name in ("new-version-error-rate", "new-version-throttles", "new-version-p99-duration"):
        _, alarm = alarms[f"users-api-deploy-{name}-{each.stage}"]
        assert _dimensions(alarm) and all(d == new_version for d in _dimensions(alarm)), name


def test_the_api_brakes_watch_the_stage(each: Synth) -> None:
    alarms = _deploy_alarms(each)
    for name in ("api5xx", "api-p99-latency"):
        _, alarm = alarms[f"users-api-deploy-{name}-{each.stage}"]
        stage = {"ApiName": f"users-api-{each.stage}", "Stage": each.stage}
        assert _dimensions(alarm) and all(d == stage for d in _dimensions(alarm)), name


def test_the_brakes_use_the_thresholds_the_load_tests_judge_by_over_the_deploy_period(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    thresholds, period = settings.alarms, settings.deploy.alarm_period_seconds
    # A p99 brake breaches on more than 1 % of the requests slower than the threshold in ms.
    expected = {
        "new-version-error-rate": thresholds.error_rate_percent,
        "new-version-throttles": thresholds.throttle_count,
        "new-version-p99-duration": 1,
        "api5xx": thresholds.five_xx_count,
        "api-p99-latency": 1,
    }
    alarms = _deploy_alarms(each)
    assert set(alarms) == {f"users-api-deploy-{name}-{each.stage}" for name in expected}
    for name, threshold in expected.items():
        _, alarm = alarms[f"users-api-deploy-{name}-{each.stage}"]
        assert alarm["Threshold"] == threshold, name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        periods = (
            [alarm["Period"]]
            if "Period" in alarm
            else [q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q]
        )
        assert periods and set(periods) == {period}, name
    # The slow tail, not an average: it is what a bad version shows first.
    for name, (metric, threshold_ms) in LATENCY_BRAKES.items():
        _, alarm = alarms[f"users-api-deploy-{name}-{each.stage}"]
        _, _, read = latency_query(alarm, getattr(thresholds, threshold_ms))
        assert read["MetricName"] == metric, name


def test_the_brakes_stop_a_deploy_on_one_breaching_period_and_page_nobody(each: Synth) -> None:
    """CodeDeploy acts on the brakes; the stage alarms page people, so one 5XX does not page twice."""
    for name, (_, alarm) in _deploy_alarms(each).items():
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1), name
        for actions in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            assert not alarm.get(actions), (name, actions)
        # No percentile: CloudWatch would judge one on a single request, or wait for 1,000 of them.
        assert "ExtendedStatistic" not in alarm, name
        assert "EvaluateLowSampleCountPercentile" not in alarm, name
    _, rate = _deploy_alarms(each)[f"users-api-deploy-new-version-error-rate-{each.stage}"]
    [expression] = [query["Expression"] for query in rate["Metrics"] if "Expression" in query]
    ids = {q["MetricStat"]["Metric"]["MetricName"]: q["Id"] for q in rate["Metrics"] if "MetricStat" in q}
    invocations, errors = ids["Invocations"], ids["Errors"]
    assert expression == f"IF({invocations} >= 1, 100 * {errors} / {invocations}, 0)"


@pytest.mark.parametrize("name", sorted(LATENCY_BRAKES))
def test_a_latency_brake_needs_more_than_one_slow_request_and_more_than_one_percent(
    each: Synth, name: str
) -> None:
    """One restore or cold start (one slow request) never rolls a deploy back; two slow requests among
    the few a step sends do; among many, more than 1 % of them must be slow."""
    thresholds = load_stage(each.stage).settings.alarms
    assert BRAKE_MIN_SLOW_REQUESTS == 2
    _, alarm = _deploy_alarms(each)[f"users-api-deploy-{name}-{each.stage}"]
    threshold_ms = getattr(thresholds, LATENCY_BRAKES[name][1])
    expression, ids, _ = latency_query(alarm, threshold_ms)
    assert expression == f"IF({ids['slow']} * {ids['requests']} / 100 >= 1.5, {ids['slow']}, 0)"
    limit = alarm["Threshold"]

    def value(slow_requests: int, requests: int) -> float:
        latencies = [threshold_ms + 1] * slow_requests + [threshold_ms / 10] * (requests - slow_requests)
        return reads(expression, ids, threshold_ms, latencies)

    assert value(1, 1) == 0 and value(1, 3) == 0 and value(1, 60) == 0
    assert value(0, 500) == 0
    assert value(2, 2) > limit and value(2, 5) > limit and value(3, 14) > limit
    # Among many requests, two slow ones are not more than 1 %: the share decides.
    assert value(2, 200) <= limit and value(2, 300) <= limit
    assert value(3, 200) > limit and value(4, 300) > limit
    # Every count: it breaches exactly on at least 2 slow requests that are also more than 1 % of all.
    for requests in range(1, 301):
        for slow_requests in range(requests + 1):
            expected = slow_requests >= BRAKE_MIN_SLOW_REQUESTS and 100 * slow_requests > limit * requests
            assert (value(slow_requests, requests) > limit) == expected, (slow_requests, requests)


def test_the_dashboard_shows_the_brakes_next_to_the_stage_alarms(each: Synth) -> None:
    _, dashboard = each.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Deploy brakes" in body
    for logical_id, _ in _deploy_alarms(each).values():
        assert logical_id in body
    assert "ExecutedVersion" in body


# ---- the pre-traffic hook -------------------------------------------------------------------------------


def test_the_hook_runs_before_traffic_moves_and_the_alias_waits_for_it(each: Synth) -> None:
    alias_id, alias = each.one("AWS::Lambda::Alias")
    hook_id, hook = _hook(each)
    group_id, _ = each.one("AWS::CodeDeploy::DeploymentGroup")
    application_id, _ = each.one("AWS::CodeDeploy::Application")
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": hook_id}
    assert update["DeploymentGroupName"] == {"Ref": group_id}
    assert update["ApplicationName"] == {"Ref": application_id}
    assert "AfterAllowTrafficHook" not in update
    assert {hook_id, group_id} <= set(alias["DependsOn"])
    assert hook["Properties"]["Handler"] == "service.deploy_check.handler"
    del alias_id


def test_the_hook_is_told_the_new_version_and_a_read_only_consumer(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    _, hook = _hook(each)
    variables = hook["Properties"]["Environment"]["Variables"]
    version_id, _ = each.one("AWS::Lambda::Version")
    assert variables[deploy_check.TARGET] == {"Ref": version_id}
    assert variables[deploy_check.STAGE] == each.stage
    clients = {
        client["Properties"]["ClientName"]: logical_id
        for logical_id, client in each.resources("AWS::Cognito::UserPoolClient").items()
    }
    assert variables[deploy_check.CLIENT_ID] == {"Ref": clients[settings.deploy.check_consumer]}
    scopes = variables[deploy_check.SCOPES].split()
    reads = [op for op in get_contract().operations if op.method in deploy_check.READ_METHODS]
    assert set(scopes) == {scope for op in reads for scope in op.scopes}
    writes = {
        scope for op in get_contract().operations if op.method not in ("GET", "HEAD") for scope in op.scopes
    }
    assert not set(scopes) & writes, "a read-only token"
    pool_id, _ = each.one("AWS::Cognito::UserPool")
    # Cognito's `iss`: https:// and the pool's ProviderURL (which has no scheme).
    assert variables[deploy_check.ISSUER] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [pool_id, "ProviderURL"]}]]
    }
    assert variables[deploy_check.INVOKE_TIMEOUT] == str(settings.lambda_.timeout_seconds)
    # Room for every check at its longest invoke (attempts, timeouts, backoff), then the report.
    assert hook["Properties"]["Timeout"] == deploy_check.hook_timeout_seconds(
        settings.lambda_.timeout_seconds, len(reads)
    )
    longest = deploy_check.invoke_limits(settings.lambda_.timeout_seconds, float("inf"))
    assert longest is not None and longest.attempts == deploy_check.INVOKE_MAX_ATTEMPTS
    assert (
        hook["Properties"]["Timeout"]
        >= len(reads) * longest.longest_seconds + deploy_check.REPORT_LIMITS.longest_seconds
    )


def _statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_hook_may_only_invoke_the_functions_versions_and_report_its_status(each: Synth) -> None:
    _, hook = _hook(each)
    role_id = hook["Properties"]["Role"]["Fn::GetAtt"][0]
    role = each.json["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    function_id, _ = each.function()
    group_id, _ = each.one("AWS::CodeDeploy::DeploymentGroup")
    granted: dict[str, list[str]] = {}
    for statement in _statements(each, role_id):
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            granted.setdefault(action, []).extend(json.dumps(r, sort_keys=True) for r in resources)
    assert set(granted) == {
        "lambda:InvokeFunction",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert granted["lambda:InvokeFunction"] == [
        json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":*"]]}, sort_keys=True)
    ]
    [report] = granted["codedeploy:PutLifecycleEventHookExecutionStatus"]
    assert ":deploymentgroup:" in report and group_id in report
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert all(
            f"/aws/lambda/users-api-deploy-check-{each.stage}:log-stream:*" in r for r in granted[action]
        )


def test_codedeploy_may_invoke_the_hook_and_no_other_function(each: Synth) -> None:
    hook_id, _ = _hook(each)
    group = _group(each)
    role_id = group["ServiceRoleArn"]["Fn::GetAtt"][0]
    invoked = [
        json.dumps(resource)
        for statement in _statements(each, role_id)
        if "lambda:InvokeFunction"
        in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    ]
    assert invoked and all(hook_id in resource for resource in invoked)


# ---- SnapStart and traffic shifting together -------------------------------------------------------------


def test_snapstart_and_traffic_shifting_share_the_published_versions(dev: Synth, prod: Synth) -> None:
    for synth, snapstart in ((dev, False), (prod, True)):
        assert load_stage(synth.stage).settings.lambda_.snapstart is snapstart
        function_id, function = synth.function()
        version_id, version = synth.one("AWS::Lambda::Version")
        assert version["Properties"]["FunctionName"] == {"Ref": function_id}
        _, alias = synth.one("AWS::Lambda::Alias")
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]
        assert ("SnapStart" in function["Properties"]) is snapstart
        if snapstart:
            assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}


# ---- an emergency deploy ---------------------------------------------------------------------------------


def test_an_emergency_deploy_moves_everything_at_once_without_the_alarms_but_with_the_hook(
    tmp_path: Path,
) -> None:
    from aws_cdk.assertions import Template

    from infra.app import add_checks, add_stage

    app = new_app(tmp_path)
    stack = add_stage(app, "prod", emergency=True)
    add_checks(app)
    template = Template.from_stack(stack).to_json()
    [group] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"
    ]
    assert group["DeploymentConfigName"] == ALL_AT_ONCE
    assert group["AlarmConfiguration"]["Enabled"] is False
    assert len(group["AlarmConfiguration"]["Alarms"]) == 5, "kept, for the next normal deploy"
    assert "DEPLOYMENT_FAILURE" in group["AutoRollbackConfiguration"]["Events"]
    [alias] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Alias"]
    assert "BeforeAllowTrafficHook" in alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]


# ---- the deploy settings infra refuses ---------------------------------------------------------------------


@pytest.fixture
def document() -> dict[str, Any]:
    return copy.deepcopy(read_file())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"strategy": "blue_green"}, "deploy.strategy"),
        ({"traffic_percent": 100}, "deploy.traffic_percent"),
        ({"interval_minutes": 0}, "deploy.interval_minutes"),
        ({"alarm_period_seconds": 45}, "deploy.alarm_period_seconds"),
        ({"alarm_period_seconds": 10}, "deploy.alarm_period_seconds: 10 must be a positive multiple of 60"),
        ({"alarm_period_seconds": 30}, "deploy.alarm_period_seconds: 30 must be a positive multiple of 60"),
        ({"alarm_period_seconds": 0}, "deploy.alarm_period_seconds: 0 must be a positive multiple of 60"),
        ({"strategy": "canary", "interval_minutes": 1, "alarm_period_seconds": 60}, "fewer than two"),
        ({"check_consumer": "nobody"}, "is not a consumer"),
    ],
)
def test_deploy_settings_infra_refuses(document: dict[str, Any], change: dict[str, Any], named: str) -> None:
    document["stages"]["prod"]["deploy"] = {**(document["stages"]["prod"].get("deploy") or {}), **change}
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        load_infra_settings("prod", document=document)


def test_the_hooks_consumer_must_hold_every_read_scope(document: dict[str, Any]) -> None:
    reads = deploy_check.read_scopes(get_contract())
    lacking = next(
        name
        for name, client in document["defaults"]["clients"].items()
        if not set(reads) <= set(client["scopes"])
    )
    document["defaults"]["deploy"]["check_consumer"] = lacking
    with pytest.raises(SettingsError, match="lacks"):
        load_infra_settings("prod", document=document)
