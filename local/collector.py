"""Keeping the garbage collector's full passes short in the local stage's long-lived processes.

A full (generation 2) collection walks every object the collector tracks. The app process holds a
few hundred thousand that live as long as it does (connexion, its validators, botocore's models),
and the engine holds more with every item of its tables. Measured during `make load
PROFILE=capacity` (gc.callbacks timing each pass): full collections of 90 to 220 ms every 10 to 30 s in
both the app and the engine from about 50 requests/s, each one a stall of every request in flight
and so of the p99. The Lambda entry already freezes what start-up built (service/lambda_handler.py);
these processes keep building long-lived objects as they warm up and as the tables grow.

`Freezer` moves the survivors to the permanent generation (`gc.freeze()`) after a full collection,
at the first request, then every `every` requests, when no other request is in flight (or, under
load with no quiet moment, a quarter of `every` requests later). Frozen
objects are still freed by reference counting as soon as nothing refers to them; the collector only
stops looking for reference cycles among them. So what is frozen must be garbage-free: the full
collection first (short once the survivors are frozen: it walks only what is not), and no request's
own objects (a cycle of an exception and its frames, say), which would never be freed. A cycle that
becomes garbage after its freeze stays until the process ends: none of the app's or the engine's
long-lived objects are known to form one, and the engine's memory figures (`make bench`) would show
it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

EVERY_REQUESTS = 1000


class Freezer:
    """Counts requests; at the first and every `every` after it, freezes what survived (as soon as
    no request is in flight)."""

    def __init__(self, every: int = EVERY_REQUESTS) -> None:
        self.every = every
        self.requests = 0
        self.freezes = 0
        self.due = False
        self.deferred = 0  # requests ended, with others in flight, since a freeze fell due

    def request_done(self, in_flight: int = 0) -> None:
        self.requests += 1
        self.due = self.due or self.requests == 1 or self.requests % self.every == 0
        if not self.due:
            return
        # Under load with no quiet moment (a capacity ramp near its knee) a freeze waits a quarter
        # of `every` requests at most: what the requests in flight hold then is frozen too.
        if in_flight and self.deferred < max(1, self.every // 4):
            self.deferred += 1
            return
        gc.collect()  # every generation's garbage first: none of it is to be frozen
        gc.freeze()
        self.freezes += 1
        self.due, self.deferred = False, 0


class FreezeSurvivorsASGI:
    """ASGI middleware of the local stage's app: a `Freezer` after each HTTP request."""

    def __init__(self, app: ASGIApp, every: int = EVERY_REQUESTS) -> None:
        self.app = app
        self.freezer = Freezer(every)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.freezer.request_done(self.in_flight)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FreezeSurvivorsWSGI:
    """WSGI middleware of the engine (moto server): a `Freezer` after each request."""

    def __init__(self, app: WSGIApp, every: int = EVERY_REQUESTS) -> None:
        self.app = app
        self.freezer = Freezer(every)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        finally:
            self.freezer.request_done()
