"""View and security functions the test specifications point at (by operationId)."""

from __future__ import annotations

from typing import Any

from connexion import request
from connexion.context import context


def hello() -> dict[str, Any]:
    return {"hello": "world"}


def echo(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    return body, 201


def whoami() -> dict[str, Any]:
    return {"user": context["user"], "method": request.method}


def item(item_id: int) -> dict[str, Any]:
    return {"id": item_id}


def api_key_info(key: str, required_scopes: Any = None) -> dict[str, Any] | None:
    return {"sub": "ada"} if key == "secret" else None
