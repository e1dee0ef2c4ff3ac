"""Who may call what, on the local stage's app: it verifies each token itself against the local
issuer, and connexion requires the operation's one scope from the contract (tests.authorization)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_asgi_app
from service.contract import Operation
from service.settings import Settings
from tests.authorization import Answer, Call, TokenMatrix
from tests.operations import valid_request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def app_client(local_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_asgi_app(local_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def call(app_client: TestClient) -> Call:
    def send(operation: Operation, headers: Mapping[str, str], claims: Mapping[str, Any] | None) -> Answer:
        assert claims is None, "nothing but API Gateway passes claims"
        request = valid_request(operation, credentials=headers)
        response = app_client.request(
            request.method, request.path, params=request.query, headers=request.headers, content=request.body
        )
        body = response.json() if response.content else None
        return response.status_code, dict(response.headers), body

    return send


class TestTheLocalStageVerifiesTokens(TokenMatrix):
    pass
