"""Which consumer called: the token info the function builds from verified claims, the access log
line and the per-consumer EMF metrics (pure logic: no engine, no HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from service import module_logger
from service.auth import consumer_in, consumer_of, gateway_claims
from service.observability import (
    METRIC_DIMENSIONS,
    AccessLog,
    consumer_metrics,
    count,
    logger,
    metrics,
    name_consumer_in_logs,
    record_cold_start,
)
from service.settings import load_settings

SETTINGS = load_settings("local", environ={}).service._replace(client_ids={"id-123": "billing"})


def test_token_info_names_the_consumer_and_keeps_the_scope() -> None:
    info = consumer_of({"token_use": "access", "client_id": "id-123", "scope": "a/b c/d"}, SETTINGS)
    assert info == {"sub": "id-123", "client_id": "id-123", "consumer": "billing", "scope": "a/b c/d"}


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "id", "client_id": "id-123", "scope": "a/b"},
        {"client_id": "id-123", "scope": "a/b"},
        {"token_use": "access", "client_id": "someone-else", "scope": "a/b"},
        {"token_use": "access", "scope": "a/b"},
    ],
    ids=["id token", "no token_use", "undeclared client", "no client"],
)
def test_claims_that_are_not_an_access_token_of_a_declared_client_are_refused(claims: dict[str, Any]) -> None:
    assert consumer_of(claims, SETTINGS) is None


@pytest.mark.parametrize(
    ("scope", "expected"),
    [(["a/b", "c/d"], "a/b c/d"), (None, ""), ("", "")],
    ids=["a list (RFC 9068 allows either)", "none", "empty"],
)
def test_a_scope_claim_as_a_list_or_absent_is_read_as_scopes(scope: Any, expected: str) -> None:
    claims = {"token_use": "access", "client_id": "id-123", "scope": scope}
    info = consumer_of(claims, SETTINGS)
    assert info is not None and info["scope"] == expected


@pytest.mark.parametrize("scope", [5, [1], {"a/b": 1}, ["a/b", None], True], ids=repr)
def test_a_scope_claim_of_another_type_refuses_the_token(scope: Any) -> None:
    """A signed token with an odd `scope` is a 401, never a 500 nor the keys of a dict as scopes."""
    assert consumer_of({"token_use": "access", "client_id": "id-123", "scope": scope}, SETTINGS) is None


def test_claims_come_only_from_the_authorizer_part_of_the_event() -> None:
    claims = {"client_id": "id-123"}
    assert gateway_claims({"aws.event": {"requestContext": {"authorizer": {"claims": claims}}}}) == claims
    assert gateway_claims({"aws.event": {"requestContext": {}}}) is None
    assert gateway_claims({"aws.event": {"headers": {"claims": "x"}}}) is None
    assert gateway_claims({}) is None


def test_the_consumer_is_read_from_connexions_request_context() -> None:
    assert consumer_in({"extensions": {"connexion_context": {"consumer": "billing"}}}) == "billing"
    assert consumer_in({"extensions": {}}) is None
    assert consumer_in({}) is None


def test_each_request_of_a_consumer_is_counted_with_the_consumer_as_a_dimension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    before = int(time.time() * 1000)
    requests = [("billing", 200), ("billing", 403), ("signup", 201)]
    # As the access line carries them: serialised with the line.
    blobs = [json.loads(json.dumps(consumer_metrics(consumer, status))) for consumer, status in requests]
    # Each request's own metrics, as EMF fields of its access line (a JSON document like any other).
    names = [[metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for blob in blobs]
    assert names == [["ConsumerRequests"], ["ConsumerRequests", "ConsumerClientErrors"], ["ConsumerRequests"]]
    assert [blob["consumer"] for blob in blobs] == ["billing", "billing", "signup"]
    for blob, blob_names in zip(blobs, names, strict=True):
        assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "consumer"]]
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "UsersApi"
        assert blob["_aws"]["Timestamp"] >= before
        assert blob["service"] == "users-api"
        assert all(blob[name] == [1.0] for name in blob_names)


def test_a_request_gets_its_own_timestamp_and_never_shares_another_requests_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    first = consumer_metrics("billing", 200)
    first["_aws"]["Timestamp"] = 0
    first["consumer"] = "someone else"
    with pytest.raises(AttributeError):  # the part every request shares cannot be changed
        first["_aws"]["CloudWatchMetrics"].append("changed by the first request's logger")
    second = consumer_metrics("billing", 200)
    assert second["_aws"]["Timestamp"] > 0
    assert second["consumer"] == "billing"
    assert len(second["_aws"]["CloudWatchMetrics"]) == 1


def test_when_the_access_line_is_not_written_the_metrics_go_out_on_their_own(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert consumer_metrics("billing", 404, written=False) == {}
    (blob,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert blob["consumer"] == "billing"
    assert [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "ConsumerRequests",
        "ConsumerClientErrors",
    ]


def _access_line(consumer: str | None, status: int) -> dict[str, Any]:
    """The access line AccessLog writes for one request answered `status`, by `consumer`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if consumer:
            scope["extensions"]["connexion_context"] = {"consumer": consumer}
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    access_log = AccessLog(app)  # built when the test's environment is set, as an app at cold start
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        asyncio.run(access_log({"type": "http", "method": "GET", "headers": []}, receive, send))
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    found: dict[str, Any] = json.loads(line)
    return found


def test_the_access_line_carries_the_consumers_metrics_when_metrics_are_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    line = _access_line("billing", 404)
    assert line["consumer"] == "billing"
    assert [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "ConsumerRequests",
        "ConsumerClientErrors",
    ]
    assert "_aws" not in _access_line(None, 200)  # no consumer (an unprotected operation)


def test_nothing_is_emitted_when_metrics_are_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    line = _access_line("billing", 200)
    assert line["consumer"] == "billing"
    assert "_aws" not in line and "ConsumerRequests" not in line
    assert consumer_metrics("billing", 200, written=False) == {}
    assert capsys.readouterr().out == ""


class _NamesTheTask(logging.Filter):
    """What logging does on Python 3.12+ (the Lambda runtime's) for a record made in an asyncio task."""

    named = 0

    def filter(self, record: logging.LogRecord) -> bool:
        record.taskName = "Task-7"
        self.named += 1
        return True


def test_the_access_line_holds_the_request_s_keys_and_not_the_asyncio_task_s_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mangum runs each request in an asyncio task: the carried Powertools reserves `taskName` like
    `threadName` (docs/upstream/aws-lambda-powertools 0001), so no line grows a changing task counter."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    names_the_task = _NamesTheTask()
    logging.getLogger(logger.name).addFilter(names_the_task)
    try:
        line = _access_line("billing", 201)
    finally:
        logging.getLogger(logger.name).removeFilter(names_the_task)
    assert names_the_task.named == 1  # the line's record was named for its task
    assert "taskName" not in line
    # Powertools' own keys and the request's (Lambda context keys join them inside an invocation)
    assert {"level", "location", "message", "timestamp", "service"} <= set(line)
    assert {"method", "route", "status", "latency_ms", "request_id", "consumer"} <= set(line)
    assert line["message"] == "request" and line["status"] == 201


def test_the_dimension_sets_the_service_writes_are_the_ones_it_declares(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashboard draws one SEARCH per declared set (a SEARCH matches exactly one): a metric
    written with another set would be on no graph."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    count("ProbeCount")
    documents = [metrics.serialize_metric_set(), consumer_metrics("billing", 403)]
    metrics.clear_metrics()
    record_cold_start(SimpleNamespace(function_name="users-api-test"))
    documents += [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    written = {
        tuple(sorted(dimensions))
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
    }
    assert len(documents) == 3
    assert written == {tuple(sorted(dimensions)) for dimensions in METRIC_DIMENSIONS}


def test_a_requests_consumer_is_on_its_lines_and_leaves_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests one after the other in one asyncio context (as one task serving them would): the
    first's lines, a module's included, name its consumer; none of the second's does."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    module_log = module_logger("probe")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        consumer = scope["consumer"]
        if consumer:  # what service.auth does once the claims name a declared client
            scope["extensions"]["connexion_context"] = {"consumer": consumer}
            name_consumer_in_logs(consumer)
        module_log.warning("handled")
        if scope["fail"]:
            raise RuntimeError("the handler failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    access_log = AccessLog(app)

    async def requests() -> None:
        for consumer, fail in (("billing", True), (None, False), ("signup", False), (None, False)):
            with contextlib.suppress(RuntimeError):
                scope: Scope = {
                    "type": "http",
                    "method": "GET",
                    "headers": [],
                    "consumer": consumer,
                    "fail": fail,
                }
                await access_log(scope, receive, send)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        asyncio.run(requests())
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line.get("consumer")) for line in lines] == [
        ("handled", "billing"),
        ("request", "billing"),
        ("handled", None),
        ("request", None),
        ("handled", "signup"),
        ("request", "signup"),
        ("handled", None),
        ("request", None),
    ]
