"""Patch 0003: what depends only on the operation is built once, not on every request.

Upstream home: tests/decorators/test_main.py and tests/test_validation.py. Each test serves
the same operation several times and checks that nothing was rebuilt after the first request;
on connexion 3.3.0 the counts grow with every request. Behaviour stays covered alongside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import connexion.security
import connexion.validators.json
import pytest
from conftest import secured_spec, spec
from connexion import AsyncApp
from connexion.decorators.main import BaseDecorator
from connexion.validators import ParameterValidator
from connexion.validators.json import JSONRequestBodyValidator

REQUESTS = 3

ITEMS = {
    "/items/{item_id}": {
        "post": {
            "operationId": "views.item",
            "parameters": [
                {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string", "minLength": 1}},
                        }
                    }
                },
            },
            "responses": {"200": {"description": "ok"}},
        }
    }
}


def counting(counts: Counter[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return function(*args, **kwargs)

    return wrapper


def growth_over_requests(counts: Counter[str], request: Callable[[], int]) -> Counter[str]:
    """How much each count grew between the first request and REQUESTS more."""
    assert request() in (200, 400)
    after_first = counts.copy()
    for _ in range(REQUESTS):
        assert request() in (200, 400)
    return counts - after_first


def test_view_function_decorated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counts: Counter[str] = Counter()
    monkeypatch.setattr(BaseDecorator, "decorate", counting(counts, "decorate", BaseDecorator.decorate))
    app = AsyncApp(__name__)
    app.add_api(spec())
    client = app.test_client()
    grown = growth_over_requests(counts, lambda: client.get("/hello").status_code)
    assert counts["decorate"] == 1
    assert grown == Counter()


def test_security_function_inspected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counts: Counter[str] = Counter()
    monkeypatch.setattr(
        connexion.security,
        "inspect_function_arguments",
        counting(counts, "inspect", connexion.security.inspect_function_arguments),
    )
    app = AsyncApp(__name__)
    app.add_api(secured_spec())
    client = app.test_client()
    grown = growth_over_requests(
        counts, lambda: client.get("/hello", headers={"X-Key": "secret"}).status_code
    )
    assert grown == Counter()
    assert client.get("/hello", headers={"X-Key": "wrong"}).status_code == 401


class CountingParameterValidator(ParameterValidator):  # type: ignore[misc]
    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)


class CountingBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)


def test_validators_built_and_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counts: Counter[str] = Counter()
    monkeypatch.setattr(CountingParameterValidator, "built", 0)
    monkeypatch.setattr(CountingBodyValidator, "built", 0)
    monkeypatch.setattr(
        connexion.validators.json,
        "Draft4RequestValidator",
        counting(counts, "compile", connexion.validators.json.Draft4RequestValidator),
    )
    app = AsyncApp(__name__)
    app.add_api(
        spec(ITEMS),
        validator_map={
            "parameter": CountingParameterValidator,
            "body": {"application/json": CountingBodyValidator},
        },
    )
    client = app.test_client()
    grown = growth_over_requests(counts, lambda: client.post("/items/7", json={"name": "ada"}).status_code)
    assert grown == Counter()
    assert counts["compile"] == 1
    assert CountingParameterValidator.built == 1
    assert CountingBodyValidator.built == 1


def test_validation_unchanged_across_requests() -> None:
    app = AsyncApp(__name__)
    app.add_api(spec(ITEMS))
    client = app.test_client()
    for _ in range(REQUESTS):
        ok = client.post("/items/7", json={"name": "ada"})
        assert ok.status_code == 200
        assert ok.json() == {"id": 7}
        assert client.post("/items/7", json={"name": ""}).status_code == 400
        assert client.post("/items/7", json={}).status_code == 400
        # Another encoding parameter: another cached body validator, the same behaviour.
        charset = client.post(
            "/items/7",
            content='{"name": "Zürich"}'.encode(),
            headers={"Content-Type": "application/json; charset=UTF-8"},
        )
        assert charset.status_code == 200
