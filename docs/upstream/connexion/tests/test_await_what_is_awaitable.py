"""Patch 0005: a security function's result is awaited when it is awaitable, and only then.

Upstream home: tests/test_security.py (tests/decorators/test_security.py for the handlers).
connexion 3.3.0 awaits a security function's result while `asyncio.iscoroutine` says it is a
coroutine. Any other awaitable is taken as the result itself: a token info function that answers
with the Future of `loop.run_in_executor` (verifying a token off the event loop) or a Task gets a
500, and a scope validation function whose Future resolves to False lets the request through (a
Future is truthy). A plain result, what nearly every security function returns, goes through the
`Coroutine` ABC's isinstance check each time, on every request.
"""

from __future__ import annotations

import abc
import collections.abc
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import secured_spec, spec
from connexion import AsyncApp
from starlette.testclient import TestClient


def oauth_spec(token_info: str, scope_validate: str | None = None) -> dict[str, Any]:
    """GET /me behind an OAuth 2.0 scope, `token_info` named as its x-tokenInfoFunc."""
    scheme: dict[str, Any] = {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {"read": "read"}}},
        "x-tokenInfoFunc": token_info,
    }
    if scope_validate:
        scheme["x-scopeValidateFunc"] = scope_validate
    operation = {
        "operationId": "views.whoami",
        "security": [{"oauth": ["read"]}],
        "responses": {"200": {"description": "ok"}},
    }
    return spec({"/me": {"get": operation}}, components={"securitySchemes": {"oauth": scheme}})


def client(document: dict[str, Any]) -> TestClient:
    app = AsyncApp(__name__)
    app.add_api(document)
    return TestClient(app, raise_server_exceptions=False)


def test_a_token_info_function_may_answer_with_a_future() -> None:
    api = client(oauth_spec("views.token_info_in_executor"))

    granted = api.get("/me", headers={"Authorization": "Bearer good"})
    refused = api.get("/me", headers={"Authorization": "Bearer bad"})

    assert granted.status_code == 200, granted.text
    assert granted.json()["user"] == "ada"
    assert refused.status_code == 401, refused.text


def test_an_api_key_function_may_answer_with_a_task() -> None:
    document = secured_spec(operation_id="views.whoami")
    document["components"]["securitySchemes"]["key"]["x-apikeyInfoFunc"] = "views.api_key_info_task"
    api = client(document)

    granted = api.get("/hello", headers={"X-Key": "secret"})
    refused = api.get("/hello", headers={"X-Key": "wrong"})

    assert granted.status_code == 200, granted.text
    assert granted.json()["user"] == "ada"
    assert refused.status_code == 401, refused.text


def test_a_scope_validation_answering_false_through_a_future_refuses_the_request() -> None:
    api = client(oauth_spec("views.token_info", scope_validate="views.refuse_scopes_later"))

    response = api.get("/me", headers={"Authorization": "Bearer good"})

    assert response.status_code == 403, response.text


@pytest.fixture
def coroutine_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[type]]:
    """The types of the values checked against the Coroutine ABC (isinstance through its metaclass)."""
    checked: list[type] = []
    original = abc.ABCMeta.__instancecheck__

    def counting(cls: abc.ABCMeta, instance: Any) -> bool:
        if cls is collections.abc.Coroutine:
            checked.append(type(instance))
        return original(cls, instance)

    monkeypatch.setattr(abc.ABCMeta, "__instancecheck__", counting)
    yield checked


def test_plain_results_are_not_checked_against_the_coroutine_abc(coroutine_checks: list[type]) -> None:
    api = client(oauth_spec("views.token_info"))
    keyed = client(secured_spec())
    assert api.get("/me", headers={"Authorization": "Bearer good"}).status_code == 200
    assert keyed.get("/hello", headers={"X-Key": "secret"}).status_code == 200
    coroutine_checks.clear()

    assert api.get("/me", headers={"Authorization": "Bearer good"}).status_code == 200
    assert keyed.get("/hello", headers={"X-Key": "secret"}).status_code == 200

    # The security functions answered a dict each (the API key's and the token's info).
    assert dict not in coroutine_checks


def test_coroutine_results_are_still_awaited() -> None:
    document = secured_spec(operation_id="views.whoami")
    document["components"]["securitySchemes"]["key"]["x-apikeyInfoFunc"] = "views._api_key_info_async"
    api = client(document)

    assert api.get("/hello", headers={"X-Key": "secret"}).json()["user"] == "ada"
    assert api.get("/hello", headers={"X-Key": "wrong"}).status_code == 401
