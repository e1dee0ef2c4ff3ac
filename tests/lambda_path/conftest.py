from __future__ import annotations

import base64
import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from service.settings import Settings

Invoke = Callable[..., dict[str, Any]]


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the fields Powertools reads)."""

    function_name: str = "users-api-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:users-api-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    log_group_name: str = "/aws/lambda/users-api-test"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def api_gateway_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    stage: str = "dev",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event shaped like a real one, Content-Length included."""
    raw = body.encode() if isinstance(body, str) else body
    all_headers = {
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "User-Agent": "pytest",
        **(headers or {}),
    }
    if raw is not None:
        all_headers["Content-Length"] = str(len(raw))
    request_id = str(uuid.uuid4())
    event_body: str | None = None
    if raw is not None:
        event_body = base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "surrogateescape")
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "accountId": "123456789012",
            "apiId": "abc123",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "pytest", "apiKey": "key"},
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "requestTimeEpoch": 1764000000000,
        },
        "body": event_body,
        "isBase64Encoded": base64_body,
    }


@pytest.fixture(scope="session")
def lambda_handler_module(local_settings: Settings) -> Any:
    """service.lambda_handler imported as Lambda would, with settings from the environment."""
    return importlib.import_module("service.lambda_handler")


@pytest.fixture(scope="session")
def invoke(lambda_handler_module: Any, api_headers: dict[str, str]) -> Invoke:
    def call(method: str, path: str, *, resource: str, auth: bool = True, **kwargs: Any) -> dict[str, Any]:
        headers = {**(api_headers if auth else {}), **kwargs.pop("headers", {})}
        event = api_gateway_event(method, path, resource=resource, headers=headers, **kwargs)
        response: dict[str, Any] = lambda_handler_module.handler(
            event, LambdaContext(aws_request_id=str(uuid.uuid4()))
        )
        return response

    return call


def body_of(response: dict[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False, "JSON and problem+json must not be base64-encoded"
    return json.loads(response["body"])
