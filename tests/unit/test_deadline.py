"""A request's deadline bounds its DynamoDB attempts: botocore may wait up to 5 s more between two
attempts when an answer asks for it (x-amz-retry-after), so a chain of calls could outlast the
Lambda timeout; the repository gives up with a 503 while there is still time to answer it."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from local.stage import LOCAL_CREDENTIALS
from service.repository import (
    ANSWER_RESERVE_SECONDS,
    DynamoUserRepository,
    attempt_reserve_seconds,
    make_client,
)
from service.settings import get_settings
from service.time_limits import CallLimits, deadline, seconds_left
from service.users import StorageUnavailable

RETRY_AFTER_MS = 5000  # botocore waits min(this, 5 s + its own backoff) before the next attempt


class Throttling(http.server.BaseHTTPRequestHandler):
    """DynamoDB throttling every call, asking for RETRY_AFTER_MS before the next attempt."""

    attempts: list[float]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).attempts.append(time.monotonic())
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amz-retry-after", str(RETRY_AFTER_MS))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[tuple[str, list[float]]]:
    class Handler(Throttling):
        attempts: list[float] = []  # noqa: RUF012 - this server's own record

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Handler.attempts
    finally:
        server.shutdown()
        server.server_close()


def test_no_attempt_is_sent_that_the_deadline_could_cut_short(
    throttling_endpoint: tuple[str, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, attempts = throttling_endpoint
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    service = get_settings().service._replace(
        dynamodb_endpoint=endpoint,
        dynamodb_connect_timeout_seconds=0.2,
        dynamodb_read_timeout_seconds=0.3,
        dynamodb_max_attempts=3,
    )
    repository = DynamoUserRepository(make_client(service), service.table_name)
    reserve = attempt_reserve_seconds(CallLimits(0.2, 0.3, 3))
    budget = reserve + 0.5  # room for the first attempt only: botocore then waits 5 s
    started = time.monotonic()
    with deadline(budget), pytest.raises(StorageUnavailable, match="before the function's timeout"):
        repository.get("00000000-0000-4000-8000-000000000000")
    elapsed = time.monotonic() - started
    # Without the guard botocore sends all three attempts, 5 s apart: 10 s, past the deadline.
    assert len(attempts) == 1
    assert elapsed <= budget - ANSWER_RESERVE_SECONDS


def test_without_a_deadline_nothing_is_refused() -> None:
    assert seconds_left() is None
    with deadline(3.0):
        left = seconds_left()
        assert left is not None and 2.9 < left <= 3.0
    assert seconds_left() is None
