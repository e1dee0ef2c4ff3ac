"""API Gateway proxy events through the real Lambda handler (Mangum -> connexion -> local engine)."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.lambda_events import api_gateway_event, lambda_context
from service.observability import logger
from service.settings import load_settings
from tests.lambda_path.conftest import Invoke, body_of
from tests.problems import assert_matches_schema, assert_problem

pytestmark = pytest.mark.lambda_path

JSON_HEADERS = {"Content-Type": "application/json"}
MAX_BODY_BYTES = load_settings("local", environ={}).service.max_body_bytes
USER_RESOURCE = "/users/{userId}"


def new_email() -> str:
    return f"lambda-{uuid.uuid4().hex[:12]}@example.com"


def problem(response: dict[str, object], status: int) -> dict[str, object]:
    headers = {k.lower(): v for k, v in response["headers"].items()}  # type: ignore[attr-defined]
    return assert_problem(response["statusCode"], headers, body_of(response), status)  # type: ignore[arg-type]


def create(invoke: Invoke, email: str, **kwargs: Any) -> dict[str, Any]:
    body = json.dumps({"name": "Ada", "email": email})
    return invoke("POST", "/users", resource="/users", body=body, headers=JSON_HEADERS, **kwargs)


def test_create_and_read_through_the_handler(invoke: Invoke) -> None:
    created = create(invoke, new_email(), stage="prod")
    assert created["statusCode"] == 201
    assert created["headers"]["content-type"] == "application/json"
    user = body_of(created)
    assert_matches_schema(user, "User")
    # Behind the gateway's default endpoint the client's path starts with the stage.
    assert created["headers"]["location"] == f"/prod/users/{user['userId']}"

    read = invoke(
        "GET", f"/users/{user['userId']}", resource=USER_RESOURCE, path_parameters={"userId": user["userId"]}
    )
    assert read["statusCode"] == 200
    assert body_of(read) == user


def test_an_invocation_with_no_time_for_a_dynamodb_attempt_answers_503_before_its_timeout(
    invoke: Invoke,
) -> None:
    """The invocation's deadline reaches the repository (through Mangum and connexion): an attempt
    that could outlast the timeout is not sent, and the client gets the contract's 503, not the
    gateway's 502 for a function Lambda killed."""
    user_id = str(uuid.uuid4())
    started = time.monotonic()
    read = invoke(
        "GET",
        f"/users/{user_id}",
        resource=USER_RESOURCE,
        path_parameters={"userId": user_id},
        timeout_seconds=1.0,
    )
    assert time.monotonic() - started < 1.0
    assert str(problem(read, 503)["type"]).endswith("/storage-unavailable")
    assert read["headers"]["retry-after"]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service's loggers write (the Powertools logger and the modules' children), as the
    JSON lines Lambda would get."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger(logger.name).removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    stream.seek(0)
    stream.truncate()
    return lines


def test_every_line_a_request_logs_names_its_consumer_and_no_later_request_s_does(
    invoke: Invoke,
    lambda_handler_module: Any,
    api_headers: dict[str, str],
    authorizer_claims: dict[str, Any],
    log_lines: io.StringIO,
) -> None:
    consumer = lambda_handler_module._function.settings.service.client_ids[authorizer_claims["client_id"]]
    user_id = str(uuid.uuid4())
    path, parameters = f"/users/{user_id}", {"userId": user_id}
    # No time for a DynamoDB attempt: service.errors logs the 503 before the access line.
    response = invoke("GET", path, resource=USER_RESOURCE, path_parameters=parameters, timeout_seconds=1.0)
    assert response["statusCode"] == 503
    lines = _lines(log_lines)
    assert [line["message"].split(":")[0] for line in lines] == ["storage unavailable", "request"]
    assert [line.get("consumer") for line in lines] == [consumer, consumer]
    token = api_headers["Authorization"].removeprefix("Bearer ")
    assert all(token not in json.dumps(line) for line in lines)

    # The next invocations: a token of a client the function does not know (refused, logged by
    # service.auth), and a request with no token at all.
    claims = {**authorizer_claims, "client_id": "unknown"}
    event = api_gateway_event(
        "GET", path, resource=USER_RESOURCE, path_parameters=parameters, headers=api_headers, claims=claims
    )
    assert lambda_handler_module.handler(event, lambda_context())["statusCode"] == 401
    assert invoke("GET", "/health", resource="/health", auth=False)["statusCode"] == 200
    lines = _lines(log_lines)
    assert [line["message"].split(":")[0] for line in lines] == ["token refused", "request", "request"]
    assert all("consumer" not in line for line in lines)


def test_a_base64_encoded_body_is_decoded(invoke: Invoke) -> None:
    email = new_email()
    created = create(invoke, email, base64_body=True)
    assert created["statusCode"] == 201
    assert body_of(created)["email"] == email


def test_health_needs_no_api_key(invoke: Invoke) -> None:
    response = invoke("GET", "/health", resource="/health", auth=False)
    assert response["statusCode"] == 200
    assert body_of(response) == {"status": "ok"}


def test_duplicate_email_is_409(invoke: Invoke) -> None:
    email = new_email()
    body = f'{{"name": "Ada", "email": "{email}"}}'
    assert invoke("POST", "/users", resource="/users", body=body, headers=JSON_HEADERS)["statusCode"] == 201
    shouted = f'{{"name": "Ada", "email": "{email.upper()}"}}'
    again = invoke("POST", "/users", resource="/users", body=shouted, headers=JSON_HEADERS)
    problem(again, 409)


@pytest.mark.parametrize(
    ("case", "raw", "headers", "status"),
    [
        ("malformed JSON", b"{", JSON_HEADERS, 400),
        ("unknown field", b'{"name": "A", "email": "a@b.c", "x": 1}', JSON_HEADERS, 400),
        ("missing content type", b'{"name": "A", "email": "a@b.c"}', {}, 415),
        ("wrong content type", b"name=A", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("over the size limit", b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}', JSON_HEADERS, 413),
    ],
)
def test_bad_bodies_get_problems(
    invoke: Invoke, case: str, raw: bytes, headers: dict[str, str], status: int
) -> None:
    response = invoke("POST", "/users", resource="/users", body=raw.decode(), headers=headers)
    problem(response, status)


def test_non_utf8_bytes_are_400(invoke: Invoke) -> None:
    raw = base64.b64decode(base64.b64encode(b'{"name": "\xff", "email": "a@b.c"}'))
    response = invoke("POST", "/users", resource="/users", body=raw, headers=JSON_HEADERS, base64_body=True)
    problem(response, 400)


def test_unknown_and_malformed_ids(invoke: Invoke) -> None:
    unknown = str(uuid.uuid4())
    problem(
        invoke("GET", f"/users/{unknown}", resource=USER_RESOURCE, path_parameters={"userId": unknown}), 404
    )
    problem(invoke("GET", "/users/nope", resource=USER_RESOURCE, path_parameters={"userId": "nope"}), 400)
