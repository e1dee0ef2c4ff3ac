"""Shared fixtures for the tests of the connexion patches (docs/upstream/connexion/patches).

They run against the copy of connexion named by UPSTREAM_CONNEXION_DIR (stock 3.3.0 or a copy
with patches applied), and refuse to run against any other copy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    expected = os.environ.get("UPSTREAM_CONNEXION_DIR")
    if not expected:
        raise pytest.UsageError("UPSTREAM_CONNEXION_DIR is not set: run `make upstream-check`")
    import connexion

    found = Path(connexion.__file__).resolve().parent.parent
    if found != Path(expected).resolve():
        raise pytest.UsageError(f"connexion comes from {found}, not from {expected}")


def spec(paths: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A small OpenAPI 3.0 document; `paths` defaults to one GET operation."""
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "patch tests", "version": "1"},
        "paths": paths
        if paths is not None
        else {
            "/hello": {
                "get": {
                    "operationId": "views.hello",
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    document.update(extra)
    return document


def secured_spec(path: str = "/hello", operation_id: str = "views.hello") -> dict[str, Any]:
    """One GET operation behind an API key in the X-Key header (views.api_key_info accepts "secret")."""
    return spec(
        {
            path: {
                "get": {
                    "operationId": operation_id,
                    "security": [{"key": []}],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        components={
            "securitySchemes": {
                "key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Key",
                    "x-apikeyInfoFunc": "views.api_key_info",
                }
            }
        },
    )
