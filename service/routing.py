"""From operationId to handler, and from the handler's result to the response the contract declares.

Routing uses connexion's own rule (the default Resolver: `<x-openapi-router-controller>.<operationId>`).
What connexion cannot know is which of an operation's media types a response has: the responses
declare `application/json` for success and `application/problem+json` for errors, and connexion
answers 500 when a handler does not say which. So each handler is wrapped once, at start-up, with
what the contract declares per status: its one media type, or no body and no Content-Type at all
(204, 304).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.resolver import Resolution, Resolver
from starlette.responses import Response as StarletteResponse

from service.contract import Contract, Operation

Handler = Callable[..., Any]


def routed_operation_id(scope: Any) -> str | None:
    """The contract's operationId of the request connexion routed (None before routing or if none).

    connexion records the resolved name (`<controller>.<operationId>`); the contract's id is its
    last part.
    """
    routing = (scope.get("extensions") or {}).get("connexion_routing") or {}
    resolved = routing.get("operation_id")
    return str(resolved).rsplit(".", 1)[-1] if resolved else None


def shape(operation: Operation, result: Any) -> Any:
    """The handler's (body, status[, headers]) with the media type the contract declares for status."""
    if not isinstance(result, tuple):
        return result
    body, status, *rest = result
    headers = dict(rest[0]) if rest else {}
    declared = operation.response(status)
    if declared is not None and not declared.has_body:
        # No body, so no Content-Type: a framework response, which connexion passes through as is.
        return StarletteResponse(status_code=status, headers=headers)
    if declared is not None and len(declared.media_types) == 1:
        headers.setdefault("Content-Type", declared.media_types[0])
    return body, status, headers


class ContractResolver(Resolver):  # type: ignore[misc]
    """connexion's Resolver, with each handler's result shaped by `shape`.

    `inline`: run the (blocking) handlers on the event loop's thread instead of connexion's
    thread pool. Lambda hands an environment one event at a time, so a worker thread buys no
    concurrency there and costs a thread start per invocation (Mangum runs each event in its own
    loop); a server with concurrent requests (uvicorn) keeps the thread pool.
    """

    def __init__(self, contract: Contract, *, inline: bool = False) -> None:
        super().__init__()
        self._contract = contract
        self._inline = inline
        self._resolved: dict[str, Resolution] = {}

    def resolve(self, operation: Any) -> Resolution:
        """The handler of `operation`, wrapped once: connexion asks for it from each of its
        middlewares (six times per operation), and the start-up cost grows with the contract."""
        found = self._resolved.get(operation.operation_id)
        if found is None:
            resolution = super().resolve(operation)
            declared = self._contract.operation(operation.operation_id)
            found = Resolution(self._wrap(resolution.function, declared), resolution.operation_id)
            self._resolved[operation.operation_id] = found
        return found

    def _wrap(self, function: Handler, operation: Operation) -> Handler:
        if self._inline:

            @functools.wraps(function)
            async def inline_handler(*args: Any, **kwargs: Any) -> Any:
                return shape(operation, function(*args, **kwargs))

            return inline_handler

        @functools.wraps(function)
        def threaded_handler(*args: Any, **kwargs: Any) -> Any:
            return shape(operation, function(*args, **kwargs))

        return threaded_handler
