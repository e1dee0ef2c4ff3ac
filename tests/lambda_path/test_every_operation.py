"""Each operation of the contract through the real Lambda handler: status, headers, base64."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from local.lambda_events import lambda_context
from service.app import create_asgi_app
from service.contract import Operation, get_contract
from service.lambda_adapter import adapter_for
from service.settings import Settings
from tests.operations import gateway_event, valid_request
from tests.problems import assert_answered

pytestmark = pytest.mark.lambda_path

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
CONTRACT = get_contract()


def check_operation_events(
    handler: Handler,
    operation: Operation,
    credentials: Mapping[str, str],
    claims: Mapping[str, Any] | None = None,
) -> None:
    """A valid event (with Content-Length, without it, base64-encoded) gets a declared status that
    is neither 401/403 nor a server error, the declared media type (none for a response without
    body) and a text body.
    `credentials` are the consumer's headers; `claims`, what the gateway's authorizer passes with
    the event (None: a handler that verifies tokens itself)."""
    request = valid_request(operation, credentials=credentials)
    variants: list[dict[str, Any]] = [{}]
    if request.body is not None:
        variants += [{"content_length": False}, {"base64_body": True}]
    statuses = set()
    for variant in variants:
        # A fresh request per variant: bodies with unique fields must not collide with each other.
        request = valid_request(operation, credentials=credentials)
        event = gateway_event(request, **variant, claims=claims if operation.needs_auth else None)
        response = handler(event, lambda_context())
        status = response["statusCode"]
        assert_answered(operation, status, response.get("body"), f" {variant}")
        declared = operation.response(status)
        assert declared is not None
        headers = {key.lower(): value for key, value in response["headers"].items()}
        if declared.has_body:
            assert headers["content-type"].split(";")[0] in declared.media_types
            assert response["isBase64Encoded"] is False, "JSON and problem+json go as text"
        else:
            assert "content-type" not in headers and not response.get("body")
        statuses.add(status // 100)
    assert len(statuses) == 1, f"{operation.operation_id}: the variants answered {statuses}"


@pytest.mark.parametrize("operation", CONTRACT.operations, ids=lambda op: op.operation_id)
def test_every_operation_through_the_lambda_handler_behind_the_gateway(
    lambda_handler_module: Any,
    api_headers: dict[str, str],
    authorizer_claims: dict[str, Any],
    operation: Operation,
) -> None:
    check_operation_events(lambda_handler_module.handler, operation, api_headers, authorizer_claims)


@pytest.mark.parametrize("operation", CONTRACT.operations, ids=lambda op: op.operation_id)
def test_every_operation_with_response_validation_off_as_in_prod(
    local_settings: Settings, api_headers: dict[str, str], operation: Operation
) -> None:
    """Through a handler that verifies tokens itself (a local stage's settings), so no claims."""
    service = local_settings.service._replace(validate_responses=False)
    app = create_asgi_app(local_settings._replace(service=service), inline_handlers=True)
    check_operation_events(adapter_for(app), operation, api_headers)
