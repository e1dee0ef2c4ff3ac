"""The gateway's own hardening (docs/infrastructure.md, "Gateway hardening"), read back from the
synthesized dev and prod templates: one section per concern."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.api import (
    ACCESS_LOG_FIELDS,
    ENDPOINT_ACCESS_MODE,
    PUBLIC_BURST,
    PUBLIC_RATE_PER_SECOND,
    SECURITY_POLICY,
    method_options_path,
    public_operations,
)
from infra.config import load_stage
from infra.nag import acknowledgments
from service.contract import get_contract
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CONTRACT = get_contract()


def _stage(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.one("AWS::ApiGateway::Stage")


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends = resource.get("DependsOn") or []
    return [depends] if isinstance(depends, str) else list(depends)


# ---- 1. TLS -------------------------------------------------------------------------------------

# API Gateway's legacy policies (TLS_1_0 is a Regional REST API's default, without a custom domain).
LEGACY_POLICIES = frozenset({"TLS_1_0", "TLS_1_2"})


def test_the_api_refuses_tls_below_1_2_with_an_enhanced_policy_in_strict_mode(each: Synth) -> None:
    _, api = each.one("AWS::ApiGateway::RestApi")
    properties = api["Properties"]
    assert properties["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    policy = properties.get("SecurityPolicy")
    assert policy == SECURITY_POLICY
    assert policy not in LEGACY_POLICIES
    # Enhanced policies (SecurityPolicy_*) need an endpoint access mode; STRICT also checks SNI = Host.
    assert policy.startswith("SecurityPolicy_TLS13_")
    assert properties.get("EndpointAccessMode") == ENDPOINT_ACCESS_MODE == "STRICT"


def test_the_body_does_not_set_a_second_policy_beside_the_apis_own(each: Synth) -> None:
    text = json.dumps(each.body)
    assert "x-amazon-apigateway-security-policy" not in text
    assert "x-amazon-apigateway-endpoint-access-mode" not in text


# ---- 2. execution logs --------------------------------------------------------------------------


def _execution_log_group(synth: Synth) -> tuple[str, dict[str, Any]]:
    api_id, _ = synth.one("AWS::ApiGateway::RestApi")
    expected = {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{synth.stage}"]]}
    found = {
        key: value
        for key, value in synth.resources("AWS::Logs::LogGroup").items()
        if value["Properties"].get("LogGroupName") == expected
    }
    assert len(found) == 1, f"expected the execution log group {expected}, found {sorted(found)}"
    return next(iter(found.items()))


def test_the_execution_log_group_is_the_stacks_with_the_access_logs_retention_and_removal(
    each: Synth,
) -> None:
    _, group = _execution_log_group(each)
    access_name = f"/aws/apigateway/users-api-{each.stage}/access"
    _, access = each.named("AWS::Logs::LogGroup", "LogGroupName", access_name)
    days = load_stage(each.stage).settings.lambda_.log_retention_days
    assert group["Properties"]["RetentionInDays"] == access["Properties"]["RetentionInDays"] == days
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        assert group.get(policy) == access.get(policy), policy
    assert group.get("DeletionPolicy") == ("Delete" if each.stage == "dev" else "Retain")


def test_the_stage_waits_for_its_execution_log_group(each: Synth) -> None:
    """API Gateway makes the group itself when the stage first logs: the stack's must exist first."""
    group_id, _ = _execution_log_group(each)
    _, stage = _stage(each)
    assert group_id in _depends_on(stage)


# ---- 3. public operations -----------------------------------------------------------------------


def test_public_operations_are_those_the_contract_leaves_without_security() -> None:
    public = public_operations(CONTRACT)
    assert public, "the contract has a public operation (GET /health)"
    assert all(not operation.needs_auth for operation in public)
    assert {op.operation_id for op in CONTRACT.operations} - {op.operation_id for op in public} == {
        op.operation_id for op in CONTRACT.operations if op.needs_auth
    }


def test_a_grown_contracts_public_operation_gets_the_same_setting() -> None:
    document = json.loads(json.dumps(CONTRACT.document))
    document["paths"]["/status/{component}"] = {
        "get": {**document["paths"]["/health"]["get"], "operationId": "getStatus", "security": []}
    }
    public = {op.operation_id: op for op in public_operations(CONTRACT.with_document(document))}
    assert "getStatus" in public
    assert method_options_path(public["getStatus"]) == "/status/{component}/GET"


def _method_settings(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    _, stage = _stage(synth)
    return {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["Properties"]["MethodSettings"]}


def test_every_public_operation_has_a_low_throttle_of_its_own(each: Synth) -> None:
    settings = _method_settings(each)
    default = settings[("/*", "*")]
    public = public_operations(CONTRACT)
    for operation in public:
        # CloudFormation's ResourcePath: the path with each "/" written "~1", after a leading "/".
        resource_path = "/" + operation.path.replace("/", "~1")
        own = settings.get((resource_path, operation.method))
        assert own is not None, f"{operation.method} {operation.path} ({resource_path}) has no method setting"
        assert own["ThrottlingRateLimit"] == PUBLIC_RATE_PER_SECOND
        assert own["ThrottlingBurstLimit"] == PUBLIC_BURST
        assert own["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
        assert own["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
        # A method's own setting replaces the stage's for that method: it keeps the rest of it.
        for key in ("LoggingLevel", "MetricsEnabled", "DataTraceEnabled"):
            assert own[key] == default[key], key
    # Every setting is the stage's own or a public operation's: nothing else is singled out.
    assert len(settings) == 1 + len(public)


def test_the_public_operations_together_stay_well_within_every_consumers_throttle() -> None:
    """Anonymous callers share the public operations' buckets; together they stay below what the
    smallest consumer may send, so they cannot spend more of the function than any one consumer."""
    public = public_operations(CONTRACT)
    for stage in ("dev", "prod"):
        settings = load_stage(stage).settings
        clients = settings.clients.values()
        assert len(public) * PUBLIC_RATE_PER_SECOND <= min(c.throttle_rate_per_second for c in clients), stage
        assert len(public) * PUBLIC_BURST <= min(c.throttle_burst for c in clients), stage


def test_the_waf_acknowledgment_names_the_public_operations_and_their_throttle() -> None:
    config = load_stage("prod")
    [ack] = [a for a in acknowledgments(config) if a.finding == "AwsSolutions-APIG3"]
    for operation in public_operations(CONTRACT):
        assert f"{operation.method} {operation.path}" in ack.reason
    assert f"{PUBLIC_RATE_PER_SECOND:g} requests/s" in ack.reason
    # What no longer holds for every operation is not claimed for all of them.
    assert "API keys, the usage plan's throttle and quota and stage throttling bound abuse" not in ack.reason


# ---- 4. the access log --------------------------------------------------------------------------

# API Gateway does not document escaping a variable's value in an access log format, so a value a
# client chooses (a header, the raw path) could end the JSON string early. These are the variables
# the log may hold, each with what bounds its value.
SAFE_ACCESS_LOG_VARIABLES = {
    "$context.requestId": "a UUID: API Gateway replaces a client's non-UUID x-amzn-RequestId",
    "$context.extendedRequestId": "generated by API Gateway; a client cannot set it",
    "$context.identity.sourceIp": "the connection's address",
    "$context.requestTime": "API Gateway's clock",
    "$context.httpMethod": "a method the API routes (an HTTP token: no quote, no backslash)",
    "$context.resourcePath": "the matched route template, from the contract",
    "$context.protocol": "HTTP/1.1 or HTTP/2",
    "$context.status": "a number",
    "$context.responseLength": "a number",
    "$context.responseLatency": "a number",
    "$context.integration.latency": "a number",
    "$context.integration.status": "a number",
    "$context.error.responseType": "one of API Gateway's gateway response types",
    "$context.error.message": "API Gateway's own message for the refusal",
    "$context.identity.apiKeyId": "the id of a key this stack made",
    "$context.authorizer.claims.client_id": "a Cognito app client id, from a token the authorizer verified",
    "$context.xrayTraceId": "generated by X-Ray",
}


def test_the_access_log_holds_no_value_a_client_writes_freely(each: Synth) -> None:
    _, stage = _stage(each)
    fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    assert fields == ACCESS_LOG_FIELDS
    unsafe = {name: value for name, value in fields.items() if value not in SAFE_ACCESS_LOG_VARIABLES}
    assert unsafe == {}
    assert "$context.identity.userAgent" not in fields.values()
    assert "$context.path" not in fields.values()
