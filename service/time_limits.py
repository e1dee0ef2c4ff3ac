"""How long things may take: one AWS call, under botocore's timeouts and attempts (its "standard"
retry mode) and the waits it puts between attempts; and a request, until its invocation's deadline.

`CallLimits` is shared by the function's DynamoDB client (service.repository, which sends no attempt
the request's deadline could cut short), the pre-traffic hook (service.deploy_check) and infra's
checks of the stages' settings (infra.settings), so that the one model of botocore is written once.

The deadline is set per Lambda invocation from its context (service.lambda_handler) and read by the
repository before each DynamoDB attempt: a context variable, since the handlers run in the
invocation's own context (Mangum's task, inline); a server without a deadline (uvicorn, `make run`)
never sets one.
"""

# No `from __future__ import annotations`: CallLimits' annotations are evaluated once, at import,
# where a string annotation would cost each NamedTuple field a compile at every cold start.

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, NamedTuple

# botocore's "standard" retry mode waits before retry i (1-based) up to min(2 ** (i - 1), 20) s (its
# base for throttling errors, and for every error in older botocore, as the Lambda runtime may
# provide), and newer botocore up to 5 s more when the answer asks for it (x-amz-retry-after).
BOTOCORE_MAX_BACKOFF_SECONDS = 20.0
BOTOCORE_RETRY_AFTER_EXTRA_SECONDS = 5.0


def longest_wait_before_retry(retry: int, *, asked: bool = True) -> float:
    """The longest botocore waits before retry `retry` (1-based: the second attempt is retry 1);
    `asked`: counting what an answer may ask for on top (x-amz-retry-after)."""
    backoff = min(2.0 ** (retry - 1), BOTOCORE_MAX_BACKOFF_SECONDS)
    return backoff + (BOTOCORE_RETRY_AFTER_EXTRA_SECONDS if asked else 0.0)


class CallLimits(NamedTuple):
    """What bounds one AWS call: botocore's connect and read timeouts, per attempt, and its attempts
    (standard retry mode, the first included)."""

    connect_seconds: float
    read_seconds: float
    attempts: int

    @property
    def attempt_seconds(self) -> float:
        """The longest one attempt can take: it waits out both timeouts."""
        return self.connect_seconds + self.read_seconds

    @property
    def longest_wait_seconds(self) -> float:
        """The longest botocore waits between two attempts of this call (0 with one attempt)."""
        return longest_wait_before_retry(self.attempts - 1) if self.attempts > 1 else 0.0

    @property
    def longest_seconds(self) -> float:
        """The longest the call can take: every attempt waits out both timeouts, and each retry waits
        botocore's longest backoff first, and what the answer before it asked for."""
        return self.longest_seconds_of(asked_waits=True)

    def longest_seconds_of(self, *, asked_waits: bool) -> float:
        """`longest_seconds`, counting the waits answers ask for (x-amz-retry-after) or not."""
        waits = sum(longest_wait_before_retry(retry, asked=asked_waits) for retry in range(1, self.attempts))
        return self.attempts * self.attempt_seconds + waits

    def botocore_config(self) -> Any:
        """The botocore client configuration that holds the call to these limits."""
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_seconds,
            read_timeout=self.read_seconds,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
        )


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
