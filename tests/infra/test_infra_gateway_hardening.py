"""The gateway's own hardening (docs/infrastructure.md, "Gateway hardening"), read back from the
synthesized dev and prod templates: one section per concern."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.api import (
    ENDPOINT_ACCESS_MODE,
    SECURITY_POLICY,
)
from infra.config import load_stage
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


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
