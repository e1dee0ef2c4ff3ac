"""The gateway body follows the contract for every operation it has, and for operations added to a copy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.gateway import (
    AUTHORIZER,
    AUTHTYPE,
    INTEGRATION,
    MODEL_REF,
    STRIPPED_SCHEMA_KEYWORDS,
    VALIDATOR,
    VALIDATORS,
    NoUserPool,
    body_digest,
    gateway_body,
    gateway_operations,
)
from service.contract import Contract, get_contract, load_contract
from tests.infra.gateway_check import MERGE_PATCH, gateway_mismatches, with_two_new_operations

pytestmark = pytest.mark.infra

CONTRACT = get_contract()


POOL = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_test"


def _body(contract: Contract) -> dict[str, Any]:
    return gateway_body(
        contract, function_arn="arn:fn", api_name="users-api-test", retry_after_seconds=1, user_pool_arn=POOL
    )


@pytest.mark.parametrize("operation", CONTRACT.operations, ids=CONTRACT.operation_ids)
def test_every_operation_reaches_the_gateway_as_the_contract_declares_it(operation: Any) -> None:
    where = f"{operation.method} {operation.path} ({operation.operation_id})"
    problems = gateway_mismatches(CONTRACT, _body(CONTRACT))
    assert [problem for problem in problems if problem.startswith(where)] == []


def test_the_body_routes_nothing_the_contract_does_not_have_and_carries_nothing_for_other_tools() -> None:
    assert gateway_mismatches(CONTRACT, _body(CONTRACT)) == []


def test_the_check_catches_a_body_that_drops_what_the_contract_declares() -> None:
    """gateway_mismatches is what the other tests rely on: it must fail on an unfaithful body."""
    body = _body(CONTRACT)
    path, method, _ = next(gateway_operations(body))
    broken = copy.deepcopy(body)
    operation = broken["paths"][path][method.lower()]
    operation[INTEGRATION]["type"] = "http_proxy"
    operation[VALIDATOR] = "none"
    operation["x-openapi-router-controller"] = "service.handlers.users"
    operation.setdefault("responses", {}).pop(next(iter(operation["responses"])))
    problems = "\n".join(gateway_mismatches(CONTRACT, broken))
    expected = ("not an aws_proxy POST", "request validator", "responses", "x-openapi-router-controller")
    for fragment in expected:
        assert fragment in problems, fragment
    del broken["paths"][path][method.lower()]
    assert "no route in the gateway body" in "\n".join(gateway_mismatches(CONTRACT, broken))


def test_the_check_catches_a_body_that_routes_or_authorizes_more_than_the_contract() -> None:
    body = _body(CONTRACT)
    path, _method, operation = next(gateway_operations(body))
    any_method = "x-amazon-apigateway-any-method"
    beside = copy.deepcopy(body)
    beside["paths"][path][any_method] = operation
    catch_all = copy.deepcopy(body)
    catch_all["paths"]["/{proxy+}"] = {any_method: operation}
    for broken, expected in ((beside, f"{path}: {any_method}"), (catch_all, f"/{{proxy+}}: {any_method}")):
        assert expected in "\n".join(gateway_mismatches(CONTRACT, broken)), expected
    other_source = copy.deepcopy(body)
    for scheme in other_source["components"]["securitySchemes"].values():
        if AUTHORIZER in scheme:
            scheme[AUTHORIZER]["identitySource"] = "method.request.header.X-Anything"
    assert "not a Cognito authorizer" in "\n".join(gateway_mismatches(CONTRACT, other_source))


def test_the_transform_leaves_the_contract_alone_and_drops_what_the_gateway_must_not_see() -> None:
    before = copy.deepcopy(CONTRACT.document)
    text = json.dumps(_body(CONTRACT))
    assert before == CONTRACT.document
    for needle in (
        "x-openapi-router-controller",
        "x-apikeyInfoFunc",
        '"format"',
        '"example"',
        '"links"',
        '"servers"',
        "#/components/responses/",
        "#/components/parameters/",
        "#/components/headers/",
    ):
        assert needle not in text, needle


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            key: {n: _strip(s) for n, s in value.items()} if key == "properties" else _strip(value)
            for key, value in schema.items()
            if key not in STRIPPED_SCHEMA_KEYWORDS
        }
    if isinstance(schema, list):
        return [_strip(item) for item in schema]
    return schema


def test_models_keep_every_validation_keyword_of_the_contract_schemas() -> None:
    models = _body(CONTRACT)["components"]["schemas"]
    raw = CONTRACT.document["components"]["schemas"]
    assert set(models) == set(raw)
    for name, schema in raw.items():
        assert models[name] == _strip(schema), name


def test_request_bodies_are_models_of_the_contract() -> None:
    body = _body(CONTRACT)
    for operation in CONTRACT.operations:
        if operation.body is None:
            continue
        raw = CONTRACT.document["paths"][operation.path][operation.method.lower()]["requestBody"]
        for media_type in operation.body.media_types:
            declared = raw["content"][media_type]["schema"]
            carried = body["paths"][operation.path][operation.method.lower()]["requestBody"]["content"]
            if "$ref" in declared:
                assert carried[media_type]["schema"] == {"$ref": declared["$ref"]}


def test_two_operations_added_to_a_copy_reach_the_gateway_with_no_other_change(tmp_path: Path) -> None:
    grown, deleted, updated = with_two_new_operations(CONTRACT)
    # The copy is a file like openapi.yaml, read by the same reader: nothing else is told about it.
    copy_file = tmp_path / "openapi.yaml"
    copy_file.write_text(yaml.safe_dump(dict(grown.document), sort_keys=False))
    contract = load_contract(copy_file)
    assert len(contract.operations) == len(CONTRACT.operations) + 2
    body = _body(contract)
    assert gateway_mismatches(contract, body) == []

    removal = body["paths"][deleted.path][deleted.method.lower()]
    assert removal[INTEGRATION]["type"] == "aws_proxy"
    assert removal[VALIDATOR] == "params-only"
    assert body[VALIDATORS]["params-only"]["validateRequestParameters"] is True
    assert {"204", "412", "428"} <= set(removal["responses"])
    assert "content" not in removal["responses"]["204"]
    headers = {p["name"]: p for p in removal["parameters"] if p["in"] == "header"}
    assert set(headers) == {"If-Match", "Idempotency-Key"}

    update = body["paths"][updated.path][updated.method.lower()]
    assert updated.path in CONTRACT.paths
    assert update[INTEGRATION]["type"] == "aws_proxy"
    assert update[VALIDATOR] == "body-and-params"
    assert body[VALIDATORS]["body-and-params"]["validateRequestBody"] is True
    model = update["requestBody"]["content"][MERGE_PATCH]["schema"]["$ref"].removeprefix(MODEL_REF)
    assert body["components"]["schemas"][model]["additionalProperties"] is False
    assert "example" not in json.dumps(body["components"]["schemas"][model])
    assert {"200", "304", "412", "428"} <= set(update["responses"])
    assert update["security"] == [{name: list(s) for name, s in r.items()} for r in updated.security]
    # The existing operation on that path is unchanged.
    for operation in CONTRACT.operations:
        if operation.path == updated.path:
            assert (
                body["paths"][operation.path][operation.method.lower()]
                == (_body(CONTRACT)["paths"][operation.path][operation.method.lower()])
            )


def test_a_required_precondition_header_is_left_to_the_function_only_where_the_contract_answers_428() -> None:
    grown, _, updated = with_two_new_operations(CONTRACT)
    [if_match] = [p for p in updated.parameters if p.name == "If-Match"]
    assert if_match.required

    def gateway_if_match(contract: Contract) -> dict[str, Any]:
        operation = _body(contract)["paths"][updated.path][updated.method.lower()]
        found: list[dict[str, Any]] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert len(found) == 1
        return found[0]

    # Missing -> the function's 428, not the gateway's 400.
    assert gateway_if_match(grown)["required"] is False
    document = copy.deepcopy(dict(grown.document))
    del document["paths"][updated.path][updated.method.lower()]["responses"]["428"]
    assert gateway_if_match(grown.with_document(document))["required"] is True


def test_the_digest_follows_the_body_not_its_key_order() -> None:
    body = _body(CONTRACT)
    reordered = json.loads(json.dumps(body, sort_keys=True))
    assert body_digest(reordered) == body_digest(body)
    grown, _, _ = with_two_new_operations(CONTRACT)
    assert body_digest(_body(grown)) != body_digest(body)


# ---- authorization ------------------------------------------------------------------------------


def test_the_oauth2_scheme_becomes_a_cognito_authorizer_and_every_method_keeps_its_one_scope() -> None:
    body = _body(CONTRACT)
    [(name, _)] = [item for item in CONTRACT.security_schemes.items() if item[1]["type"] == "oauth2"]
    scheme = body["components"]["securitySchemes"][name]
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert scheme[AUTHTYPE] == "cognito_user_pools"
    assert scheme[AUTHORIZER] == {
        "type": "cognito_user_pools",
        "providerARNs": [POOL],
        "identitySource": "method.request.header.Authorization",
    }
    assert "flows" not in scheme
    assert "x-tokenInfoFunc" not in json.dumps(body)
    for operation in CONTRACT.operations:
        carried = body["paths"][operation.path][operation.method.lower()]["security"]
        if operation.needs_auth:
            [scope] = operation.scopes
            assert carried == [{"api_key": [], name: [scope]}], operation.operation_id
        else:
            assert carried == [], operation.operation_id


def test_the_contract_keeps_its_oauth2_scheme() -> None:
    _body(CONTRACT)
    schemes = CONTRACT.document["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"apiKey", "oauth2"}


def test_a_contract_with_an_oauth2_scheme_needs_a_user_pool() -> None:
    with pytest.raises(NoUserPool, match="user pool"):
        gateway_body(CONTRACT, function_arn="arn:fn", api_name="users-api-test", retry_after_seconds=1)


def test_the_check_catches_an_authorizer_or_a_scope_that_drifts() -> None:
    body = _body(CONTRACT)
    secured = [op for op in CONTRACT.operations if op.needs_auth]
    first, second, third = secured[:3]

    def operation(broken: dict[str, Any], op: Any) -> dict[str, Any]:
        found: dict[str, Any] = broken["paths"][op.path][op.method.lower()]
        return found

    broken = copy.deepcopy(body)
    [(name, _)] = [item for item in CONTRACT.security_schemes.items() if item[1]["type"] == "oauth2"]
    del broken["components"]["securitySchemes"][name][AUTHTYPE]
    other_scope = next(scope for scope in CONTRACT.scopes if scope not in first.scopes)
    operation(broken, first)["security"] = [{"api_key": [], name: [*first.scopes, other_scope]}]
    operation(broken, second)["security"] = [{name: list(second.scopes)}]
    operation(broken, third)["security"] = []
    problems = "\n".join(gateway_mismatches(CONTRACT, broken))
    assert f"securitySchemes.{name}: not a Cognito authorizer" in problems
    for op in (first, second, third):
        assert f"{op.method} {op.path} ({op.operation_id}): security" in problems, op.operation_id
