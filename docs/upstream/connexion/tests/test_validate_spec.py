"""Patch 0002: add_api(validate_spec=False) skips validating the specification, and add_api
takes a Specification already loaded as it is.

Upstream home: tests/api/test_bootstrap.py (add_api) and tests/test_spec.py (new). The tests
that pass validate_spec or a loaded Specification fail on connexion 3.3.0; the default stays
covered.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import spec
from connexion import AsyncApp
from connexion.exceptions import InvalidSpecification
from connexion.spec import Specification


def invalid_but_usable() -> dict[str, Any]:
    """Routable, but not valid against the OpenAPI 3.0 schema (info.version is required)."""
    document = spec()
    del document["info"]["version"]
    return document


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records every validation of a specification."""
    calls: list[Any] = []
    original = Specification._validate_spec.__func__

    def recording(cls: type[Specification], document: Any) -> None:
        calls.append(document)
        original(cls, document)

    monkeypatch.setattr(Specification, "_validate_spec", classmethod(recording))
    return calls


def test_invalid_spec_rejected_by_default() -> None:
    app = AsyncApp(__name__)
    with pytest.raises(InvalidSpecification):
        app.add_api(invalid_but_usable())


def test_validate_spec_false_skips_validation_in_add_api(validations: list[Any]) -> None:
    app = AsyncApp(__name__)
    app.add_api(invalid_but_usable(), validate_spec=False)
    response = app.test_client().get("/hello")
    assert response.status_code == 200
    assert validations == []


def test_validate_spec_false_also_applies_to_clones(validations: list[Any]) -> None:
    app = AsyncApp(__name__)
    app.add_api(spec(), validate_spec=False)
    # Serving the specification clones it for the request's base path (Specification.clone).
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "patch tests"
    assert validations == []


def test_validated_once_by_default_when_loading(validations: list[Any]) -> None:
    Specification.load(spec())
    assert len(validations) == 1


@pytest.mark.parametrize("validate_spec", [True, False])
def test_load_carries_validate_spec(validate_spec: bool, validations: list[Any]) -> None:
    loaded = Specification.load(spec(), validate_spec=validate_spec)  # type: ignore[call-arg,unused-ignore]
    loaded.clone()
    loaded.with_base_path("/v1")
    assert len(validations) == (3 if validate_spec else 0)


def test_load_from_file_without_validation(tmp_path: Any, validations: list[Any]) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text("openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n", encoding="utf-8")
    loaded = Specification.load(path, validate_spec=False)  # type: ignore[call-arg,unused-ignore]
    assert loaded.raw["info"] == {"title": "t"}
    assert validations == []


def test_a_loaded_specification_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = Specification.load(invalid_but_usable(), validate_spec=False)
    assert Specification.load(loaded) is loaded
    loads: list[Any] = []
    original = Specification.from_dict.__func__  # type: ignore[attr-defined]

    def recording(cls: type[Specification], document: Any, **kwargs: Any) -> Specification:
        loads.append(document)
        return original(cls, document, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Specification, "from_dict", classmethod(recording))
    app = AsyncApp(__name__)
    app.add_api(loaded)
    response = app.test_client().get("/hello")
    assert response.status_code == 200
    assert loads == [], "the document was not loaded, copied or resolved again"
