"""The app (the same ASGI app as in Lambda) against the real local engine."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from service.app import create_asgi_app
from service.observability import logger
from service.settings import Settings
from tests.integration.conftest import items_for
from tests.problems import assert_matches_schema, assert_problem

pytestmark = pytest.mark.integration


def problem_of(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(response.status_code, response.headers, response.json(), status)


def test_create_then_read_back_the_user(client: TestClient, email: str) -> None:
    created = client.post("/users", json={"name": "Ada Lovelace", "email": email})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    user = created.json()
    assert_matches_schema(user, "User")
    assert created.headers["location"] == f"/users/{user['userId']}"
    assert (user["name"], user["email"]) == ("Ada Lovelace", email)

    read = client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json() == user


def test_storage_holds_one_user_item_and_one_email_guard(
    client: TestClient, dynamodb: Any, local_settings: Settings, email: str
) -> None:
    user = client.post("/users", json={"name": "Ada", "email": email}).json()
    items = items_for(dynamodb, local_settings.service.table_name, user_id=user["userId"], email=email)
    assert sorted(item["sk"]["S"] for item in items) == ["EMAIL", "PROFILE"]


def test_duplicate_email_differing_only_in_case_returns_409_and_writes_nothing(
    client: TestClient, dynamodb: Any, local_settings: Settings, email: str
) -> None:
    first = client.post("/users", json={"name": "Ada", "email": email})
    assert first.status_code == 201
    again = client.post("/users", json={"name": "Other", "email": email.upper()})
    problem_of(again, 409)
    table = local_settings.service.table_name
    users = [i for i in items_for(dynamodb, table, email=email) if i["sk"]["S"] == "EMAIL"]
    assert len(users) == 1
    assert users[0]["userId"]["S"] == first.json()["userId"]


def test_reading_an_unknown_user_is_404(client: TestClient) -> None:
    problem = problem_of(client.get("/users/00000000-0000-4000-8000-000000000000"), 404)
    assert problem["type"].endswith("user-not-found")


@pytest.mark.parametrize("user_id", ["abc", "00000000-0000-4000-8000-00000000000Z", "x" * 300, "%00"])
def test_a_malformed_user_id_is_400_naming_the_parameter(client: TestClient, user_id: str) -> None:
    problem = problem_of(client.get(f"/users/{user_id}"), 400)
    assert {error["field"] for error in problem["errors"]} == {"path.userId"}


BAD_BODIES: list[tuple[str, dict[str, Any] | list[Any] | str, set[str]]] = [
    ("unknown field", {"name": "Ada", "email": "a@b.c", "admin": True}, {"/admin"}),
    ("wrong types", {"name": 5, "email": ["a@b.c"]}, {"/name", "/email"}),
    ("empty strings", {"name": "", "email": ""}, {"/name", "/email"}),
    ("blank name", {"name": "   ", "email": "a@b.c"}, {"/name"}),
    ("very long strings", {"name": "n" * 5000, "email": "e" * 300 + "@b.c"}, {"/name", "/email"}),
    ("missing fields", {}, {"/name", "/email"}),
    ("one missing field", {"name": "Ada"}, {"/email"}),
    ("not an object", ["name", "email"], {""}),
    ("not an email", {"name": "Ada", "email": "nobody"}, {"/email"}),
    # Python's `$` matches before a final newline; the contract's patterns say where they end.
    ("an email ending with a newline", {"name": "Ada", "email": "ada@example.com\n"}, {"/email"}),
    # Spaces of any kind: a trailing one was stored as sent while the email guard held it stripped.
    ("an email with a no-break space", {"name": "Ada", "email": "ada@example.com\u00a0"}, {"/email"}),
    ("an email with a line separator", {"name": "Ada", "email": "ada\u2028@example.com"}, {"/email"}),
    ("an email with an ideographic space", {"name": "Ada", "email": "ada@exa\u3000mple.com"}, {"/email"}),
    ("an email with a C1 control", {"name": "Ada", "email": "ada\u0085@example.com"}, {"/email"}),
    # A name of spaces, controls and invisible format characters only shows nothing.
    ("a name of no-break spaces", {"name": "\u00a0\u00a0", "email": "a@b.c"}, {"/name"}),
    ("a name of an ideographic space", {"name": "\u3000", "email": "a@b.c"}, {"/name"}),
    ("a name of a C1 control", {"name": "\u0085", "email": "a@b.c"}, {"/name"}),
    ("a name of a line separator", {"name": "\u2028", "email": "a@b.c"}, {"/name"}),
    ("a name of zero-width characters", {"name": "\u200b\ufeff\u2060", "email": "a@b.c"}, {"/name"}),
]


@pytest.mark.parametrize(("case", "body", "fields"), BAD_BODIES, ids=[case for case, _, _ in BAD_BODIES])
def test_invalid_bodies_are_400_listing_every_bad_field(
    client: TestClient, case: str, body: Any, fields: set[str]
) -> None:
    problem = problem_of(client.post("/users", json=body), 400)
    assert {error["field"] for error in problem["errors"]} == fields


@pytest.mark.parametrize(
    ("case", "raw"),
    [
        ("malformed JSON", b'{"name": "Ada", "email": '),
        ("non-UTF-8 bytes", b'{"name": "\xff\xfe", "email": "a@b.c"}'),
        ("lone surrogate", b'{"name": "\\ud800", "email": "a@b.c"}'),
        ("lone surrogate in a key", b'{"\\udfff": 1}'),
        ("empty body", b""),
        ("JSON null", b"null"),
        ("a number longer than Python reads", b'{"n": ' + b"1" * 5000 + b"}"),
        ("nesting deeper than the parser goes", b"[" * 5000 + b"]" * 5000),
        ("nesting the parser takes", b'{"name": ' + b"[" * 950 + b"]" * 950 + b', "email": "a@b.c"}'),
    ],
)
def test_undecodable_bodies_are_400_not_500(client: TestClient, case: str, raw: bytes) -> None:
    response = client.post("/users", content=raw, headers={"content-type": "application/json"})
    problem_of(response, 400)


@pytest.mark.parametrize(
    "media_type",
    [
        "Application/JSON",
        "APPLICATION/JSON; Charset=UTF-8",
        'application/json; profile="https://example.com/user"',
    ],
)
def test_a_media_type_spelled_in_another_case_is_the_same_media_type(
    client: TestClient, media_type: str, email: str
) -> None:
    """RFC 9110 8.3.1: media types are case-insensitive, and a parameter's value may hold a "/"; the
    body is validated and parsed all the same (connexion's patch 0007: 3.3.0 skipped validation and
    handed the handler bytes, or raised on the "/")."""
    headers = {"content-type": media_type}
    refused = problem_of(client.post("/users", content=b'{"name": 1, "email": 2}', headers=headers), 400)
    assert {error["field"] for error in refused["errors"]} == {"/name", "/email"}
    created = client.post("/users", content=json.dumps({"name": "Ada", "email": email}), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email


@pytest.mark.parametrize(
    "headers",
    [{}, {"content-type": "text/plain"}, {"content-type": "application/json; charset=latin-1"}],
    ids=["missing", "text/plain", "latin-1"],
)
def test_a_body_that_is_not_utf8_json_is_415(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/users", content=b'{"name": "Ada", "email": "a@b.c"}', headers=headers)
    problem_of(response, 415)


def test_a_body_over_the_limit_is_413_and_writes_nothing(
    client: TestClient, local_settings: Settings, dynamodb: Any, email: str
) -> None:
    padding = "x" * (local_settings.service.max_body_bytes + 1)
    response = client.post(
        "/users",
        content=f'{{"name": "{padding}", "email": "{email}"}}'.encode(),
        headers={"content-type": "application/json"},
    )
    problem_of(response, 413)
    assert items_for(dynamodb, local_settings.service.table_name, email=email) == []


def test_unknown_query_parameters_are_rejected(client: TestClient) -> None:
    problem = problem_of(client.get("/health?verbose=1"), 400)
    assert problem["errors"] == [{"field": "query.verbose", "message": "unknown parameter"}]


def test_health_is_200_when_the_table_is_reachable(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_each_request_logs_one_line_without_the_email_or_body(client: TestClient, email: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        client.post("/users", json={"name": "Secret Name", "email": email})
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    out = stream.getvalue()
    lines = [line for line in out.splitlines() if '"message":"request"' in line]
    assert len(lines) == 1
    for field in (
        '"method":"POST"',
        '"route":"createUser"',
        '"status":201',
        '"latency_ms":',
        '"request_id":',
    ):
        assert field in lines[0]
    assert email not in out and "Secret Name" not in out


def test_the_access_line_is_the_emf_document_of_the_consumers_metrics(
    local_settings: Settings, api_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # read when the app is built
    client = TestClient(create_asgi_app(local_settings), headers=api_headers)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        client.get("/users/00000000-0000-4000-8000-000000000000")
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines() if '"message":"request"' in line]
    assert line["status"] == 404 and line["consumer"]
    # CloudWatch reads it as EMF: the directive, the dimensions' values and the metrics' on the line.
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "UsersApi"
    assert directive["Dimensions"] == [["service", "consumer"]]
    assert [metric["Name"] for metric in directive["Metrics"]] == ["ConsumerRequests", "ConsumerClientErrors"]
    assert line["service"] == "users-api"
    assert line["ConsumerRequests"] == [1.0] and line["ConsumerClientErrors"] == [1.0]


@pytest.mark.parametrize(
    "length",
    ["\u00b2", "1" * 5000, "0" * 5000 + "99999", "-1", "1e3"],
    ids=["superscript two", "5,000 digits", "leading zeros, over the limit", "negative", "exponent"],
)
def test_a_content_length_that_is_not_a_plain_number_of_bytes_is_a_problem_not_a_500(
    local_settings: Settings, api_headers: dict[str, str], length: str
) -> None:
    """Sent as raw ASGI: HTTP clients refuse to send such headers, a proxy or an event may not."""
    app = create_asgi_app(local_settings)
    headers = [(k.lower().encode(), v.encode()) for k, v in api_headers.items()]
    headers += [(b"content-type", b"application/json"), (b"content-length", length.encode("latin-1"))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/users",
        "raw_path": b"/users",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b'{"name": "Ada", "email": "a@b.c"}', "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    expected = 413 if length.isascii() and length.isdigit() else 400
    assert_problem(start["status"], response_headers, json.loads(body), expected)


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body sent in chunks, without Content-Length (HTTP/1.1 chunked transfer coding)."""
    yield from (data[i : i + size] for i in range(0, len(data), size))


def test_a_chunked_body_is_read_like_any_other(
    client: TestClient, local_settings: Settings, email: str
) -> None:
    headers = {"content-type": "application/json"}
    body = json.dumps({"name": "Ada", "email": email}).encode()
    created = client.post("/users", content=chunks(body, 7), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email
    invalid = client.post("/users", content=chunks(b'{"name": 1, "email": 2}', 5), headers=headers)
    problem_of(invalid, 400)
    oversized = b'{"name": "' + b"x" * local_settings.service.max_body_bytes + b'"}'
    problem_of(client.post("/users", content=chunks(oversized), headers=headers), 413)
