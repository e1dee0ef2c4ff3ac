"""The synthesized stacks (dev, prod) have every property issue 4 names, from the settings and contract."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.config import StageError, deployable_stages, load_stage
from infra.function import HANDLER, SSM_ACTIONS
from infra.gateway import INTEGRATION, gateway_operations
from infra.gateway_responses import GATEWAY_RESPONSE_STATUSES
from infra.monitoring import LATENCY_ALARM_WIDGETS, cloudwatch_operation
from service.contract import get_contract
from service.observability import METRIC_DIMENSIONS
from service.repository import ACCESS, INDEXES, KEY_SCHEMA, TRANSACTION_ATTEMPTS, TTL_ATTRIBUTE
from service.settings import read_file
from service.validation import PayloadTooLarge
from tests.infra.conftest import Synth
from tests.infra.gateway_check import gateway_mismatches

pytestmark = pytest.mark.infra


def _flatten(value: Any) -> str:
    """A CloudFormation value (string or Fn::Join) as text, tokens shown as their Ref/GetAtt."""
    return json.dumps(value, sort_keys=True)


# ---- DynamoDB -------------------------------------------------------------------------------


def test_table_is_on_demand_encrypted_with_pitr(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    each.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": settings.service.table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_table_keys_indexes_and_ttl_are_the_ones_the_repository_declares(each: Synth) -> None:
    _, table = each.one("AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": n, "KeyType": t} for n, t in KEY_SCHEMA]
    indexes = {index["IndexName"]: index for index in properties.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == set(INDEXES)
    for name, keys in INDEXES.items():
        assert indexes[name]["KeySchema"] == [{"AttributeName": n, "KeyType": t} for n, t in keys]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    key_names = {n for n, _ in KEY_SCHEMA} | {n for keys in INDEXES.values() for n, _ in keys}
    assert {
        d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]
    } == dict.fromkeys(key_names, "S")
    if TTL_ATTRIBUTE:
        assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in properties


def test_dev_table_is_destroyed_with_the_stack(dev: Synth) -> None:
    _, table = dev.one("AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"].get("DeletionProtectionEnabled") in (None, False)


def test_prod_table_is_protected_and_retained(prod: Synth) -> None:
    _, table = prod.one("AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


# ---- Lambda ---------------------------------------------------------------------------------


def test_function_runtime_memory_timeout_tracing_come_from_settings(each: Synth) -> None:
    settings = load_stage(each.stage).settings.lambda_
    each.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"users-api-{each.stage}",
            "Handler": HANDLER,
            "Runtime": settings.runtime,
            "Architectures": ["arm64"],
            "MemorySize": settings.memory_mb,
            "Timeout": settings.timeout_seconds,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )


def test_function_environment_points_at_its_stage(each: Synth) -> None:
    _, function = each.function()
    variables = function["Properties"]["Environment"]["Variables"]
    table_id, _ = each.one("AWS::DynamoDB::Table")
    assert variables["STAGE"] == each.stage
    assert variables["USERS_API_SSM_PATH"] == f"/users-api/{each.stage}"
    assert variables["TABLE_NAME"] == {"Ref": table_id}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "users-api"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "UsersApi"
    assert variables["POWERTOOLS_LOG_LEVEL"] == load_stage(each.stage).settings.service.log_level


def _slowest_request_seconds(stage: str) -> float:
    """A read then a transaction tried TRANSACTION_ATTEMPTS times, each call at its longest: every
    botocore attempt waits out both timeouts, with botocore's longest backoff (1 s, 2 s, ...) between."""
    service = load_stage(stage).settings.service
    attempts = service.dynamodb_max_attempts
    timeouts = service.dynamodb_connect_timeout_seconds + service.dynamodb_read_timeout_seconds
    call = attempts * timeouts + sum(min(2.0**retry, 20) for retry in range(attempts - 1))
    return (1 + TRANSACTION_ATTEMPTS) * call


def test_every_stage_answers_a_dynamodb_brownout_before_lambda_or_the_gateway_give_up() -> None:
    """A function killed by its timeout gets the client a 502, not the contract's 503."""
    for stage in deployable_stages():
        timeout = load_stage(stage).settings.lambda_.timeout_seconds
        assert _slowest_request_seconds(stage) + 1 <= timeout < 29, stage


def _with(stage: str, **sections: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(read_file())
    for section, values in sections.items():
        document["stages"][stage][section] = {**(document["stages"][stage].get(section) or {}), **values}
    return document


@pytest.mark.parametrize(
    ("change", "says"),
    [
        # The values this project had: one call could take 3 x (1 + 2) s, plus backoff.
        (
            {
                "service": {
                    "dynamodb_max_attempts": 3,
                    "dynamodb_connect_timeout_seconds": 1.0,
                    "dynamodb_read_timeout_seconds": 2.0,
                },
                "lambda": {"timeout_seconds": 10},
            },
            r"lambda\.timeout_seconds: 10 s does not hold the slowest request.*502",
        ),
        ({"service": {"dynamodb_read_timeout_seconds": 2.0}}, r"service\.dynamodb_read_timeout_seconds 2"),
        ({"lambda": {"timeout_seconds": 29}}, r"lambda\.timeout_seconds: 29 s is not below API Gateway"),
        # The chain fits without the waits an answer may ask for, but no attempt would ever be sent.
        (
            {
                "service": {
                    "dynamodb_max_attempts": 2,
                    "dynamodb_connect_timeout_seconds": 0.1,
                    "dynamodb_read_timeout_seconds": 0.1,
                },
                "lambda": {"timeout_seconds": 7},
            },
            r"lambda\.timeout_seconds: 7 s leaves no DynamoDB attempt sendable",
        ),
    ],
)
def test_a_stage_whose_timeouts_do_not_fit_is_refused_at_synth(change: dict[str, Any], says: str) -> None:
    with pytest.raises(StageError, match=says):
        load_stage("prod", _with("prod", **change))


def test_the_local_stage_keeps_timeouts_for_its_engine() -> None:
    """`make run` has no Lambda timeout; its engine may take seconds on a transaction."""
    from infra.settings import load_infra_settings

    local = load_infra_settings("local")
    assert local.service.dynamodb_read_timeout_seconds >= 1


def test_log_group_retention_comes_from_settings(each: Synth) -> None:
    days = load_stage(each.stage).settings.lambda_.log_retention_days
    each.template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": f"/aws/lambda/users-api-{each.stage}", "RetentionInDays": days},
    )


def test_snapstart_follows_settings_per_stage(dev: Synth, prod: Synth) -> None:
    assert load_stage("dev").settings.lambda_.snapstart is False
    assert load_stage("prod").settings.lambda_.snapstart is True
    _, dev_function = dev.function()
    assert "SnapStart" not in dev_function["Properties"]
    prod.template.has_resource_properties(
        "AWS::Lambda::Function", {"SnapStart": {"ApplyOn": "PublishedVersions"}}
    )


def test_api_invokes_an_alias_of_a_published_version(each: Synth) -> None:
    version_id, _ = each.one("AWS::Lambda::Version")
    alias_id, alias = each.one("AWS::Lambda::Alias")
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    for _, _, operation in gateway_operations(each.body):
        assert alias_id in _flatten(operation[INTEGRATION]["uri"])


def test_invoke_permission_is_scoped_to_this_api_stage(each: Synth) -> None:
    api_id, _ = each.one("AWS::ApiGateway::RestApi")
    alias_id, _ = each.one("AWS::Lambda::Alias")
    _, permission = each.one("AWS::Lambda::Permission")
    properties = permission["Properties"]
    assert properties["Principal"] == "apigateway.amazonaws.com"
    assert properties["Action"] == "lambda:InvokeFunction"
    assert properties["FunctionName"] == {"Ref": alias_id}
    source = _flatten(properties["SourceArn"])
    assert api_id in source
    assert f"/{each.stage}/*/*" in source


# ---- IAM ------------------------------------------------------------------------------------


def _role_statements(synth: Synth) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    _, function = synth.function()
    function_role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": function_role} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_function_role_has_only_what_the_function_uses(each: Synth) -> None:
    _, function = each.function()
    role = each.json["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    assert "ManagedPolicyArns" not in role["Properties"]
    table_id, _ = each.one("AWS::DynamoDB::Table")
    actions: dict[str, list[str]] = {}
    for statement in _role_statements(each):
        assert statement["Effect"] == "Allow"
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            actions.setdefault(action, []).extend(_flatten(resource) for resource in resources)
    table_actions = set(ACCESS.iam_actions())
    expected = {
        *table_actions,
        *SSM_ACTIONS,
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert set(actions) == expected
    table_arn = _flatten({"Fn::GetAtt": [table_id, "Arn"]})
    for action in table_actions:
        assert actions[action][0] == table_arn
        # Its indexes, if the repository queries one; never another table.
        assert all(table_id in resource for resource in actions[action])
        assert len(actions[action]) == (2 if ACCESS.indexes else 1)
    for action in SSM_ACTIONS:
        assert all(f":parameter/users-api/{each.stage}" in resource for resource in actions[action])
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert all(f"log-group:/aws/lambda/users-api-{each.stage}:" in r for r in actions[action])
    assert actions["xray:PutTraceSegments"] == ['"*"']


# ---- SSM ------------------------------------------------------------------------------------


def test_ssm_parameters_hold_the_service_settings_but_no_secret_and_no_empty_value(each: Synth) -> None:
    config = load_stage(each.stage)
    written = {
        parameter["Properties"]["Name"]: parameter["Properties"]["Value"]
        for parameter in each.resources("AWS::SSM::Parameter").values()
    }
    expected = {f"/users-api/{each.stage}/{key}": value for key, value in config.ssm_parameters().items()}
    assert written == expected
    assert f"/users-api/{each.stage}/api_key" not in written
    # Set in the function's environment from the Cognito clients (tests/infra/test_infra_authorization.py).
    assert f"/users-api/{each.stage}/client_ids" not in written
    assert f"/users-api/{each.stage}/dynamodb_endpoint" not in written
    assert written[f"/users-api/{each.stage}/table_name"] == config.settings.service.table_name
    assert all(value != "" for value in written.values())


# ---- API Gateway ----------------------------------------------------------------------------


def test_api_name_is_the_contract_title_with_the_stage(each: Synth) -> None:
    _, api = each.one("AWS::ApiGateway::RestApi")
    assert api["Properties"]["Name"] == f"{get_contract().title}-{each.stage}"
    assert each.body["info"]["title"] == api["Properties"]["Name"]
    assert api["Properties"]["FailOnWarnings"] is True


def test_the_synthesized_body_carries_every_contract_operation_and_nothing_else(each: Synth) -> None:
    assert gateway_mismatches(get_contract(), each.body) == []
    assert _flatten(each.body).count(f'"{INTEGRATION}"') == len(get_contract().operations)


def test_gateway_responses_are_problems_with_documented_statuses(each: Synth) -> None:
    responses = each.body["x-amazon-apigateway-gateway-responses"]
    for required in ("DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "THROTTLED", "INVALID_API_KEY"):
        assert required in responses
    documented = {
        int(status) for op in get_contract().operations for status in op.responses if status.isdigit()
    }
    retry_after = load_stage(each.stage).settings.service.retry_after_seconds
    for kind, response in responses.items():
        status = int(response["statusCode"])
        assert status == GATEWAY_RESPONSE_STATUSES[kind]
        assert status in documented, kind
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        template = response["responseTemplates"]["application/json"]
        # Substitute the gateway's variables as it would: simple substitution, no VTL, so nothing
        # else may be left (messageString comes quoted, with quotes inside it escaped).
        rendered = template.replace("$context.error.messageString", '"Say \\"hi\\""').replace(
            "$context.requestId", "r-1"
        )
        assert "$" not in rendered, f"{kind}: {rendered}"
        problem = json.loads(rendered)
        assert problem["type"] == "about:blank"
        assert problem["status"] == status
        assert problem["title"]
        if status == 413:  # a body the gateway refuses is titled as one the function refuses
            assert problem["title"] == PayloadTooLarge(1).title == "Content Too Large"
        if kind in ("THROTTLED", "QUOTA_EXCEEDED"):
            assert headers["gatewayresponse.header.Retry-After"] == f"'{retry_after}'"
        # RFC 6750's challenge on the authorizer's refusal, as the contract's Unauthorized declares.
        assert ("gatewayresponse.header.WWW-Authenticate" in headers) == (status == 401), kind
        if status == 401:
            assert headers["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"


def test_stage_is_named_after_stage_with_metrics_and_json_access_logs(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    _, stage = each.one("AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == each.stage
    # The gateway's X-Ray segment would record every URL with its query string: emails, for
    # find-by-email. The function traces (test_function_runtime_memory_timeout_tracing_...).
    assert properties.get("TracingEnabled") is not True
    # The stage-wide setting; public operations have their own (tests/infra/test_infra_gateway_hardening.py).
    [method_settings] = [s for s in properties["MethodSettings"] if s["ResourcePath"] == "/*"]
    assert method_settings["MetricsEnabled"] is True
    assert method_settings["LoggingLevel"] == "ERROR"
    assert method_settings["DataTraceEnabled"] is False
    assert method_settings["ThrottlingRateLimit"] == settings.api.throttle_rate_per_second
    assert method_settings["ThrottlingBurstLimit"] == settings.api.throttle_burst
    access = json.loads(properties["AccessLogSetting"]["Format"])
    assert access["requestId"] == "$context.requestId"
    assert access["status"] == "$context.status"


def test_outputs_give_the_stage_url(each: Synth) -> None:
    outputs = each.json["Outputs"]
    stage_id, _ = each.one("AWS::ApiGateway::Stage")
    url = _flatten(outputs["ApiUrl"]["Value"])
    assert url.startswith('{"Fn::Join": ["", ["https://"')
    assert f'{{"Ref": "{stage_id}"}}' in url


# ---- CloudWatch -----------------------------------------------------------------------------


def test_alarms_use_the_settings_thresholds_and_notify_the_encrypted_topic(each: Synth) -> None:
    alarms_settings = load_stage(each.stage).settings.alarms
    topic_id, topic = each.one("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic["Properties"]
    key_id, key = each.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    # The stage's own alarms; those that brake a deploy are tests/infra/test_infra_deploys.py's.
    alarms = {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in each.resources("AWS::CloudWatch::Alarm").values()
        if not alarm["Properties"]["AlarmName"].startswith("users-api-deploy-")
    }
    s = each.stage
    # A latency alarm's threshold is the share of requests (%) a pN leaves above it; the setting in ms
    # is the percentile rank it reads (PR(<ms>:), the share of the period's requests slower than that).
    latencies = {
        f"users-api-lambda-p99-duration-{s}": (1, alarms_settings.lambda_p99_duration_ms),
        f"users-api-api-p99-latency-{s}": (1, alarms_settings.p99_latency_ms),
        f"users-api-api-p95-latency-{s}": (5, alarms_settings.p95_latency_ms),
    }
    for name, (_, threshold_ms) in latencies.items():
        stats = {q["MetricStat"]["Stat"] for q in alarms[name]["Metrics"] if "MetricStat" in q}
        assert stats == {f"PR({threshold_ms:g}:)", "SampleCount"}, name
    expected = {
        f"users-api-lambda-error-rate-{s}": alarms_settings.error_rate_percent,
        f"users-api-lambda-throttles-{s}": alarms_settings.throttle_count,
        f"users-api-lambda-p99-duration-{s}": latencies[f"users-api-lambda-p99-duration-{s}"][0],
        f"users-api-api5xx-{s}": alarms_settings.five_xx_count,
        f"users-api-api-error-rate-{s}": alarms_settings.error_rate_percent,
        f"users-api-api4xx-rate-{s}": alarms_settings.four_xx_rate_percent,
        f"users-api-api-p99-latency-{s}": latencies[f"users-api-api-p99-latency-{s}"][0],
        f"users-api-api-p95-latency-{s}": latencies[f"users-api-api-p95-latency-{s}"][0],
        f"users-api-table-throttles-{s}": alarms_settings.throttle_count,
        f"users-api-table-system-errors-{s}": alarms_settings.five_xx_count,
    }
    index_alarms = {name: alarm for name, alarm in alarms.items() if "-index-throttles-" in name}
    others = {name: alarm["Threshold"] for name, alarm in alarms.items() if name not in index_alarms}
    assert others == expected
    # One alarm per index the table has, on that index's throttle events.
    watched = {
        dimension["Value"]
        for alarm in index_alarms.values()
        for query in alarm["Metrics"]
        for dimension in (query.get("MetricStat") or {}).get("Metric", {}).get("Dimensions", [])
        if dimension["Name"] == "GlobalSecondaryIndexName"
    }
    assert watched == set(INDEXES)
    assert len(index_alarms) == len(INDEXES)
    assert all(alarm["Threshold"] == alarms_settings.throttle_count for alarm in index_alarms.values())
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["EvaluationPeriods"] == alarms_settings.evaluation_periods
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    del key_id


def test_api_alarms_watch_the_api_by_its_name(each: Synth) -> None:
    text = _flatten(each.resources("AWS::CloudWatch::Alarm"))
    assert f'"Name": "ApiName", "Value": "users-api-{each.stage}"' in text
    assert f'"Stat": "PR({load_stage(each.stage).settings.alarms.p99_latency_ms:g}:)"' in text


def test_dashboard_shows_lambda_api_dynamodb_and_service_metrics(each: Synth) -> None:
    _, dashboard = each.one("AWS::CloudWatch::Dashboard")
    body = _flatten(dashboard["Properties"]["DashboardBody"])
    for needle in ("AWS/Lambda", "AWS/ApiGateway", "AWS/DynamoDB", "UsersApi"):
        assert needle in body, needle
    # The latency alarms as they judge (the share of requests over the threshold): an alarm widget,
    # titled, drawing that alarm (the status widget names every alarm, but draws none).
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    alarm_ids = list(each.resources("AWS::CloudWatch::Alarm"))
    for alarm_id, title in LATENCY_ALARM_WIDGETS:
        (logical_id,) = [i for i in alarm_ids if i.startswith(f"Monitoring{alarm_id}")]
        (start,) = [
            k for k, part in enumerate(parts) if isinstance(part, str) and f'"title":"{title}"' in part
        ]
        widget = parts[start : start + 4]
        assert any(isinstance(part, str) and part.endswith('"annotations":{"alarms":["') for part in widget)
        assert {"Fn::GetAtt": [logical_id, "Arn"]} in widget, alarm_id
    # The service's EMF metrics: one SEARCH per set of dimensions it writes (a SEARCH matches one set).
    for dimensions in METRIC_DIMENSIONS:
        assert f"SEARCH('{{UsersApi,{','.join(dimensions)}}} " in body, dimensions
    # DynamoDB latency per declared operation, under CloudWatch's own operation names (GetItem, not GET_ITEM).
    for operation in ACCESS.operations:
        assert f'\\"Operation\\",\\"{operation}\\"' in body, operation
        assert f'\\"{cloudwatch_operation(operation).value}\\"' not in body, "CDK enum value"


# ---- Tags and names -------------------------------------------------------------------------


def test_resources_carry_project_stage_and_owner_tags(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    expected = {**settings.tags, "stage": each.stage}
    for kind in ("AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::SNS::Topic"):
        for resource in each.resources(kind).values():
            tags = {tag["Key"]: tag["Value"] for tag in resource["Properties"]["Tags"]}
            assert expected.items() <= tags.items(), kind


def test_every_physical_name_carries_the_stage(each: Synth) -> None:
    name_keys = (
        "TableName",
        "FunctionName",
        "RoleName",
        "TopicName",
        "AlarmName",
        "DashboardName",
        "LogGroupName",
        "AliasName",
        "UsagePlanName",
        "Name",
    )
    for logical_id, resource in each.json["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Alias":
            continue  # an alias name lives inside its function, whose name has the stage
        for key in name_keys:
            value = resource.get("Properties", {}).get(key)
            if isinstance(value, str):
                assert each.stage in value, (logical_id, key, value)
