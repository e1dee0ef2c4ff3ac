from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.lambda_events import api_gateway_event, lambda_context
from service.settings import Settings

Invoke = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def lambda_handler_module(local_settings: Settings) -> Any:
    """service.lambda_handler imported as Lambda would, with settings from the environment."""
    return importlib.import_module("service.lambda_handler")


@pytest.fixture(scope="session")
def invoke(lambda_handler_module: Any, api_headers: dict[str, str]) -> Invoke:
    def call(method: str, path: str, *, resource: str, auth: bool = True, **kwargs: Any) -> dict[str, Any]:
        headers = {**(api_headers if auth else {}), **kwargs.pop("headers", {})}
        event = api_gateway_event(method, path, resource=resource, headers=headers, **kwargs)
        response: dict[str, Any] = lambda_handler_module.handler(event, lambda_context())
        return response

    return call


def body_of(response: dict[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False, "JSON and problem+json must not be base64-encoded"
    return json.loads(response["body"])
