"""What a handler needs besides its request: the contract, the settings and the repository.

`create_app` builds one `Dependencies` and the `Provide` middleware binds it to each request (a
context variable, copied into connexion's worker threads), so handlers are plain module functions
that connexion's own resolver finds, and two apps in one process (tests) never share a repository.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send

from service.contract import Contract
from service.settings import ServiceSettings
from service.users import UserRepository


class Dependencies(NamedTuple):
    contract: Contract
    settings: ServiceSettings
    users: UserRepository


_current: ContextVar[Dependencies] = ContextVar("users_api_dependencies")


def current() -> Dependencies:
    """The dependencies of the app serving this request."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no app is serving a request here: build it with service.app.create_app") from None


class Provide:
    """ASGI middleware (outermost): binds the app's dependencies for the duration of a request."""

    def __init__(self, app: ASGIApp, dependencies: Dependencies) -> None:
        self.app = app
        self.dependencies = dependencies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _current.set(self.dependencies)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
