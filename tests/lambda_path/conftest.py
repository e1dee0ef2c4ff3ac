from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.issuer import LocalIssuer
from local.lambda_events import api_gateway_event, lambda_context
from service.contract import get_contract
from service.settings import Settings, get_settings
from tests.tokens import claims, full_access_client

Invoke = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def lambda_handler_module(local_settings: Settings) -> Any:
    """service.lambda_handler imported as Lambda would, with settings from the environment, as
    behind API Gateway: no token issuer (`token_issuer` empty), so the function takes the claims
    the gateway's authorizer verified from the event."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("USERS_API_TOKEN_ISSUER", "")
        get_settings.cache_clear()
        module = importlib.import_module("service.lambda_handler")
    get_settings.cache_clear()
    assert callable(module.handler)
    return module


@pytest.fixture(scope="session")
def authorizer_claims(issuer: LocalIssuer) -> dict[str, Any]:
    """The claims a Cognito authorizer passes for the token of a client with every scope."""
    contract = get_contract()
    return claims(issuer, full_access_client(issuer, contract), tuple(contract.scopes))


@pytest.fixture(scope="session")
def invoke(
    lambda_handler_module: Any, api_headers: dict[str, str], authorizer_claims: dict[str, Any]
) -> Invoke:
    """An event through the handler: with `auth`, the consumer's headers and the authorizer's claims."""

    def call(
        method: str,
        path: str,
        *,
        resource: str,
        auth: bool = True,
        timeout_seconds: float = 20.0,
        **kwargs: Any,
    ) -> dict[str, Any]:
        headers = {**(api_headers if auth else {}), **kwargs.pop("headers", {})}
        event = api_gateway_event(
            method,
            path,
            resource=resource,
            headers=headers,
            claims=authorizer_claims if auth else None,
            **kwargs,
        )
        context = lambda_context(timeout_seconds=timeout_seconds)
        response: dict[str, Any] = lambda_handler_module.handler(event, context)
        return response

    return call


def body_of(response: dict[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False, "JSON and problem+json must not be base64-encoded"
    return json.loads(response["body"])
