"""The time a request has left: set per Lambda invocation from its context, read by the repository
before each DynamoDB attempt.

A context variable: the handlers run in the invocation's own context (Mangum's task, inline), and a
server without a deadline (uvicorn, `make run`) never sets one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_END: ContextVar[float | None] = ContextVar("users_api_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, the request must be answered `seconds` from now."""
    token = _END.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _END.reset(token)


def seconds_left() -> float | None:
    """The time left before the deadline, or None when the request has none."""
    end = _END.get()
    return None if end is None else end - time.monotonic()
