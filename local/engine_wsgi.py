"""What the engine process puts around moto server's WSGI app (development tooling only).

- `ClientRequestTokens`: TransactWriteItems' `ClientRequestToken`, which moto ignores, honoured
  as DynamoDB documents it: a repeat of a completed successful transaction with the same token
  and the same parameters within 10 minutes succeeds again without writing anything; the same
  token with other parameters is refused with IdempotentParameterMismatchException (HTTP 400).
  A transaction that failed leaves no token behind (the documentation promises replay only for
  a successful one), so a retry of it runs again.
- `ReleaseTrackedInstances`: after each request, moto's own `reset_model_data()` drops the
  references moto keeps to every model instance for its dashboard (`instances_tracked`), which
  otherwise grow without bound. The dashboard (/moto-api/) then shows only the last request's
  instances; the data itself is untouched.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

TRANSACT_WRITE_TARGET = "DynamoDB_20120810.TransactWriteItems"
IDEMPOTENCY_WINDOW_SECONDS = 600.0  # "valid for 10 minutes after the first request that uses it is completed"
MISMATCH_MESSAGE = (
    "One or more parameter values were invalid: The request uses the same client token as a previous,"
    " but non-identical request. Do not reuse a client token with different requests,"
    " unless the requests are identical."
)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/")


@dataclasses.dataclass(frozen=True)
class _Completed:
    fingerprint: str
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    completed_at: float


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _fingerprint(request: dict[str, Any]) -> str:
    """Every parameter of the request but the token, canonically serialised."""
    others = {name: value for name, value in request.items() if name != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(others, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _caller(environ: dict[str, Any]) -> tuple[str, str]:
    """The (access key, region) of the SigV4 signature: tokens are scoped per account and region."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (match.group(1), match.group(2)) if match else ("", "")


class ClientRequestTokens:
    """WSGI middleware: DynamoDB's idempotency of TransactWriteItems by ClientRequestToken."""

    def __init__(
        self,
        app: WSGIApp,
        window_seconds: float = IDEMPOTENCY_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.window_seconds = window_seconds
        self.clock = clock
        # Insertion order is completion order (the engine serves one request at a time).
        self._completed: collections.OrderedDict[tuple[str, str, str], _Completed] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._completed)

    def _expire(self, now: float) -> None:
        while self._completed:
            oldest = next(iter(self._completed.values()))
            if now - oldest.completed_at < self.window_seconds:
                return
            self._completed.popitem(last=False)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") != TRANSACT_WRITE_TARGET or not environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)  # (SDKs send a length; a chunked body passes as is)
        body = _read_body(environ)
        try:
            request = json.loads(body)
        except ValueError:
            return self.app(environ, start_response)
        token = request.get("ClientRequestToken") if isinstance(request, dict) else None
        if not isinstance(token, str):
            return self.app(environ, start_response)

        self._expire(self.clock())
        key = (*_caller(environ), token)
        fingerprint = _fingerprint(request)
        previous = self._completed.get(key)
        if previous is not None:
            if previous.fingerprint != fingerprint:
                return _error(start_response, "IdempotentParameterMismatchException", MISMATCH_MESSAGE)
            start_response(previous.status, list(previous.headers))
            return [previous.body]

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        chunks = self.app(environ, capture)
        try:
            response = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if str(captured.get("status", "")).startswith("200"):
            self._completed[key] = _Completed(
                fingerprint, captured["status"], list(captured["headers"]), response, self.clock()
            )
        return [response]


def _error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]


class ReleaseTrackedInstances:
    """WSGI middleware: moto's `reset_model_data()` after every request (flat memory)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        from moto.core.model_instances import reset_model_data

        try:
            chunks = self.app(environ, start_response)
            body = b"".join(chunks)
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            return [body]
        finally:
            reset_model_data()
