"""Who may call what, through the Lambda handler: behind API Gateway (events with the authorizer's
claims, no token verified again) and in a handler that verifies tokens itself (events without
claims). The matrices are tests.authorization's, derived from the contract."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from local.lambda_events import lambda_context
from service.app import create_asgi_app
from service.contract import Operation
from service.lambda_adapter import adapter_for
from service.settings import Settings
from tests.authorization import Answer, Call, ClaimsMatrix, TokenMatrix
from tests.lambda_path.test_every_operation import Handler
from tests.operations import gateway_event, valid_request

pytestmark = pytest.mark.lambda_path


def caller(handler: Handler) -> Call:
    def send(operation: Operation, headers: Mapping[str, str], claims: Mapping[str, Any] | None) -> Answer:
        event = gateway_event(valid_request(operation, credentials=headers), claims=claims)
        response = handler(event, lambda_context())
        body = json.loads(response["body"]) if response.get("body") else None
        return response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, body

    return send


class TestBehindTheGatewayTheClaimsDecide(ClaimsMatrix):
    @pytest.fixture
    def call(self, lambda_handler_module: Any) -> Call:
        return caller(lambda_handler_module.handler)


class TestAHandlerWithAnIssuerVerifiesTokens(TokenMatrix):
    @pytest.fixture(scope="class")
    def call(self, local_settings: Settings) -> Call:
        return caller(adapter_for(create_asgi_app(local_settings, inline_handlers=True)))
