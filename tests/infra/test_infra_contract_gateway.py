"""The contract lint: what API Gateway would refuse at import, which neither CDK nor cfn-lint look at."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.openapi_gateway import (
    INTEGRATION,
    gateway_body,
    lint_gateway_body,
    load_contract,
    operations,
)

pytestmark = pytest.mark.infra


def _body(contract: dict[str, Any]) -> dict[str, Any]:
    return gateway_body(contract, function_arn="arn:fn", api_name="users-api-test", retry_after_seconds=1)


def test_the_contract_is_valid_openapi_3_0() -> None:
    from openapi_spec_validator import validate

    contract = load_contract()
    validate(contract)
    assert contract["openapi"].startswith("3.0.")


def test_the_gateway_body_of_the_contract_lints_clean() -> None:
    assert lint_gateway_body(_body(load_contract())) == []


def test_the_raw_contract_would_be_refused_which_is_why_it_is_transformed() -> None:
    problems = "\n".join(lint_gateway_body(load_contract()))
    assert "no aws_proxy integration" in problems
    assert "x-apikeyInfoFunc" in problems


def test_transform_strips_what_the_gateway_must_not_see_and_leaves_the_contract_alone() -> None:
    contract = load_contract()
    before = copy.deepcopy(contract)
    text = repr(_body(contract))
    assert contract == before
    for needle in (
        "x-apikeyInfoFunc",
        "'format'",
        "'example'",
        "'links'",
        "'servers'",
        "#/components/responses/",
    ):
        assert needle not in text, needle


def test_transform_keeps_the_validation_the_gateway_can_do() -> None:
    body = _body(load_contract())
    new_user = body["components"]["schemas"]["NewUser"]
    assert new_user["required"] == ["name", "email"]
    assert new_user["additionalProperties"] is False
    assert new_user["properties"]["email"]["maxLength"] == 254


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(openapi="3.1.0"), "OpenAPI 3.0.x only"),
        (
            lambda c: c["components"]["schemas"]["NewUser"]["properties"].update(
                nick={"oneOf": [{"type": "string"}, {"type": "integer"}]}
            ),
            "'oneOf' is refused",
        ),
        (lambda c: c["components"]["schemas"].update({"New_User": {"type": "object"}}), "alphanumeric"),
        (lambda c: c["paths"].update({"/users/{userId}.json": {"get": {"responses": {}}}}), "segment"),
        (lambda c: c["paths"].update({"/users/": {"get": {"responses": {}}}}), "trailing"),
        (lambda c: c["paths"]["/health"].update(trace={"responses": {}}), "TRACE is not supported"),
        (
            lambda c: c["paths"]["/health"]["get"].update(
                parameters=[{"name": "s", "in": "cookie", "schema": {"type": "string"}}]
            ),
            "'cookie' is not supported",
        ),
        (
            lambda c: c["components"]["schemas"]["NewUser"]["properties"]["name"].update(pattern="(?<=a)b"),
            "common regex subset",
        ),
        (
            lambda c: c["components"]["schemas"]["NewUser"]["properties"]["name"].update(
                type=["string", "null"]
            ),
            "3.1",
        ),
    ],
    ids=[
        "openapi-3.1",
        "oneOf",
        "model-name",
        "partial-segment",
        "trailing-slash",
        "trace",
        "cookie",
        "lookbehind",
        "type-list",
    ],
)
def test_lint_fails_on_what_the_gateway_refuses(change: Any, expected: str) -> None:
    contract = load_contract()
    change(contract)
    problems = lint_gateway_body(_body(contract))
    assert any(expected in problem for problem in problems), problems


def test_a_new_operation_gets_an_integration_with_no_change_to_infra() -> None:
    contract = load_contract()
    contract["paths"]["/users/{userId}"]["delete"] = {
        "operationId": "deleteUser",
        "parameters": [{"$ref": "#/components/parameters/UserId"}],
        "responses": {"204": {"description": "Deleted."}},
    }
    body = _body(contract)
    assert lint_gateway_body(body) == []
    added = body["paths"]["/users/{userId}"]["delete"]
    assert added[INTEGRATION]["type"] == "aws_proxy"
    assert added["security"] == [{"api_key": []}]
    assert len(list(operations(body))) == len(list(operations(load_contract()))) + 1
