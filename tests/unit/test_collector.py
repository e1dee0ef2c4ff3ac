"""The local stage's collector tuning (local.collector): what it freezes holds no garbage."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from starlette.types import Receive, Scope, Send

from local.collector import Freezer, FreezeSurvivorsASGI


class Node:
    def __init__(self) -> None:
        self.itself = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process's objects go back to the collector


def test_a_garbage_cycle_in_the_oldest_generation_is_not_frozen_for_ever() -> None:
    cycle = Node()
    gone = weakref.ref(cycle)
    gc.collect()  # it survives a full collection: the oldest generation
    del cycle  # garbage now, which only a full collection finds
    Freezer(every=1).request_done()
    gc.collect()
    assert gone() is None


def test_no_freeze_while_another_request_is_in_flight_then_at_the_next_quiet_moment() -> None:
    freezer = Freezer(every=2)
    freezer.request_done(in_flight=1)  # the first request: due, but another one is running
    assert freezer.freezes == 0
    freezer.request_done(in_flight=0)
    assert freezer.freezes == 1
    freezer.request_done(in_flight=0)  # the third: not due
    assert freezer.freezes == 1


def test_the_middleware_counts_the_requests_in_flight() -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(middleware.in_flight)
        if len(seen) == 1:
            await release.wait()

    middleware = FreezeSurvivorsASGI(app, every=1)

    async def two_requests() -> None:
        async def nothing() -> dict[str, object]:
            return {}

        async def ignore(message: object) -> None:
            return None

        first = asyncio.create_task(middleware({"type": "http"}, nothing, ignore))
        await asyncio.sleep(0)
        await middleware({"type": "http"}, nothing, ignore)
        assert middleware.freezer.freezes == 0, "the first request was still in flight"
        release.set()
        await first

    asyncio.run(two_requests())
    assert seen == [1, 2]
    assert middleware.in_flight == 0 and middleware.freezer.freezes == 1


def test_under_load_with_no_quiet_moment_a_freeze_waits_a_quarter_of_its_period_at_most() -> None:
    freezer = Freezer(every=8)
    for _ in range(2):  # the first request and one more, each with another in flight
        freezer.request_done(in_flight=1)
    assert freezer.freezes == 0
    freezer.request_done(in_flight=1)  # deferred twice: 8 // 4
    assert freezer.freezes == 1 and freezer.deferred == 0
