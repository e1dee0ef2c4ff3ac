"""Patch 0004: a request's headers and scope are read without the proxy's miss path.

Upstream home: tests/test_lifecycle.py. `ConnexionRequest` proxies unknown attributes to the
Starlette request it wraps. On connexion 3.3.0 `headers` and `scope`, which every middleware reads
on every request, are among them: each read fails normal lookup first, then `__getattr__` tests
the wrapped request for truth (`len()` of its scope); building a request from a scope misses twice
through `hasattr`. Behaviour (what is proxied, what raises) stays covered alongside.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import secured_spec
from connexion import AsyncApp
from connexion.lifecycle import ConnexionRequest
from starlette.requests import Request as StarletteRequest
from starlette.testclient import TestClient

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/items/7",
    "query_string": b"",
    "headers": [(b"content-type", b"application/json"), (b"x-key", b"secret")],
}


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The attributes read through ConnexionRequest.__getattr__ (its miss path)."""
    names: list[str] = []
    original = ConnexionRequest.__getattr__

    def counting(self: ConnexionRequest, item: str) -> Any:
        names.append(item)
        return original(self, item)

    monkeypatch.setattr(ConnexionRequest, "__getattr__", counting)
    yield names


def test_headers_and_scope_are_read_without_the_proxy(proxied: list[str]) -> None:
    request = ConnexionRequest(dict(SCOPE))
    assert request.headers["x-key"] == "secret"
    assert request.scope["path"] == "/items/7"
    assert request.content_type == "application/json"
    assert request.context == {}
    assert proxied == []


def test_the_wrapped_request_is_not_tested_for_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    lengths: list[int] = []
    original = StarletteRequest.__len__

    def counting(self: StarletteRequest) -> int:
        lengths.append(1)
        return original(self)

    monkeypatch.setattr(StarletteRequest, "__len__", counting)
    request = ConnexionRequest(dict(SCOPE))
    assert request.method == "POST"
    assert request.url.path == "/items/7"
    assert lengths == []


def test_a_request_behind_an_api_key_reads_headers_and_scope_directly(proxied: list[str]) -> None:
    app = AsyncApp(__name__)
    app.add_api(secured_spec())
    client = TestClient(app)
    assert client.get("/hello", headers={"X-Key": "secret"}).status_code == 200
    proxied.clear()
    assert client.get("/hello", headers={"X-Key": "secret"}).status_code == 200
    assert {"headers", "scope", "_starlette_request"}.isdisjoint(proxied)


def test_other_attributes_are_still_proxied_to_the_starlette_request() -> None:
    request = ConnexionRequest(dict(SCOPE))
    assert request.method == "POST"
    assert request.url.path == "/items/7"
    assert request.client is None


def test_a_request_made_from_a_starlette_request_keeps_it() -> None:
    starlette = StarletteRequest(dict(SCOPE))
    request = ConnexionRequest.from_starlette_request(starlette)
    assert request._starlette_request is starlette
    assert request.headers is starlette.headers
    assert request.scope is starlette.scope


def test_a_request_without_a_starlette_request_raises_attribute_error() -> None:
    request = ConnexionRequest.__new__(ConnexionRequest)
    with pytest.raises(AttributeError):
        _ = request.method
    assert not hasattr(request, "headers")
