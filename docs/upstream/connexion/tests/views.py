"""View and security functions the test specifications point at (by operationId)."""

from __future__ import annotations

import asyncio
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


GOOD_TOKEN = "good"  # noqa: S105 - the one token the test token-info functions accept


def _token_info(token: str) -> dict[str, Any] | None:
    return {"sub": "ada", "scope": "read"} if token == GOOD_TOKEN else None


def token_info(token: str) -> dict[str, Any] | None:
    return _token_info(token)


def token_info_in_executor(token: str) -> Any:
    """A token info function that verifies off the event loop: it answers with a Future."""
    return asyncio.get_running_loop().run_in_executor(None, _token_info, token)


async def _api_key_info_async(key: str) -> dict[str, Any] | None:
    return api_key_info(key)


def api_key_info_task(key: str, required_scopes: Any = None) -> Any:
    """An API key function that answers with a Task."""
    return asyncio.ensure_future(_api_key_info_async(key))


def refuse_scopes_later(required_scopes: Any, token_scopes: Any) -> Any:
    """A scope validation function that answers False, through a Future."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(False)
    return future


async def hello_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"hello": "from a coroutine"}
