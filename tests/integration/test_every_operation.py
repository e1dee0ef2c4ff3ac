"""Behaviour every operation shares, checked for each operation of the contract (none named here).

The API key (the access token has its own matrix: test_authorization.py), 405 with the contract's
methods in `Allow`, 404 on a route that does not exist, 413/415 on operations with a body,
statuses and media types as declared, and the shape of every 500.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_asgi_app
from service.contract import Operation, get_contract
from service.settings import Settings
from tests.doubles import SECRET, CorruptRepository, ExplodingRepository
from tests.operations import Request, unrouted_path, unused_method, valid_request
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

CONTRACT = get_contract()
OPERATIONS = CONTRACT.operations
WITH_AUTH = [op for op in OPERATIONS if op.needs_auth]
WITHOUT_AUTH = [op for op in OPERATIONS if not op.needs_auth]
WITH_BODY = [op for op in OPERATIONS if op.body is not None]


def ids(operation: Operation) -> str:
    return operation.operation_id


def send(client: TestClient, request: Request, **overrides: Any) -> Any:
    return client.request(
        overrides.get("method", request.method),
        overrides.get("path", request.path),
        params=request.query,
        headers=overrides.get("headers", request.headers),
        content=overrides.get("body", request.body),
    )


@pytest.fixture(scope="module")
def bare_client(local_settings: Settings) -> Iterator[TestClient]:
    """A client that sends no API key unless a request carries one."""
    with TestClient(create_asgi_app(local_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def key(local_settings: Settings) -> tuple[str, str]:
    header = CONTRACT.api_key_header
    assert header is not None
    return header, local_settings.service.api_key


@pytest.fixture(scope="module")
def credentials(api_headers: dict[str, str]) -> dict[str, str]:
    return api_headers


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_a_valid_request_gets_a_declared_status_and_media_type(
    bare_client: TestClient, credentials: dict[str, str], operation: Operation
) -> None:
    response = send(bare_client, valid_request(operation, credentials=credentials))
    declared = operation.response(response.status_code)
    assert declared is not None, f"{operation.operation_id}: {response.status_code} is not declared"
    media = response.headers.get("content-type")
    if declared.has_body:
        assert media is not None and media.split(";")[0] in declared.media_types
    else:
        assert media is None and response.content == b""
    if response.status_code >= 400:
        assert_problem(response.status_code, response.headers, response.json(), response.status_code)


@pytest.mark.parametrize("operation", WITH_AUTH, ids=ids)
def test_without_a_valid_api_key_it_is_401_even_with_a_good_token(
    bare_client: TestClient, key: tuple[str, str], credentials: dict[str, str], operation: Operation
) -> None:
    request = valid_request(operation, credentials=credentials)
    for headers in (
        {k: v for k, v in request.headers.items() if k != key[0]},
        {**request.headers, key[0]: "not-the-key"},
    ):
        response = send(bare_client, request, headers=headers)
        assert_problem(response.status_code, response.headers, response.json(), 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("operation", WITHOUT_AUTH, ids=ids)
def test_an_open_operation_needs_no_api_key_and_no_token(
    bare_client: TestClient, operation: Operation
) -> None:
    response = send(bare_client, valid_request(operation))
    assert response.status_code not in (401, 403)


@pytest.mark.parametrize("template", list(CONTRACT.paths))
def test_an_undeclared_method_is_405_allowing_every_method_of_the_path(
    bare_client: TestClient, credentials: dict[str, str], template: str
) -> None:
    method = unused_method(CONTRACT, template)
    if method is None:
        pytest.skip(f"{template} has every method")
    any_operation = CONTRACT.operation(next(op.operation_id for op in OPERATIONS if op.path == template))
    request = valid_request(any_operation, credentials=credentials)
    response = send(bare_client, request, method=method)
    assert_problem(response.status_code, response.headers, response.json(), 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed == set(CONTRACT.paths[template])


def test_a_route_that_does_not_exist_is_404(bare_client: TestClient, credentials: dict[str, str]) -> None:
    response = bare_client.get(unrouted_path(CONTRACT), headers=credentials)
    assert_problem(response.status_code, response.headers, response.json(), 404)


@pytest.mark.parametrize("operation", WITH_BODY, ids=ids)
def test_a_body_over_the_limit_is_413(
    bare_client: TestClient, credentials: dict[str, str], local_settings: Settings, operation: Operation
) -> None:
    request = valid_request(operation, credentials=credentials)
    oversized = b'{"name": "' + b"x" * local_settings.service.max_body_bytes + b'"}'
    response = send(bare_client, request, body=oversized)
    assert_problem(response.status_code, response.headers, response.json(), 413)


@pytest.mark.parametrize("operation", WITH_BODY, ids=ids)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None], ids=str)
def test_a_body_of_another_media_type_is_415(
    bare_client: TestClient, credentials: dict[str, str], operation: Operation, content_type: str | None
) -> None:
    request = valid_request(operation, credentials=credentials)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = send(bare_client, request, headers=headers)
    assert_problem(response.status_code, response.headers, response.json(), 415)


@pytest.fixture(scope="module")
def exploding_client(local_settings: Settings) -> Iterator[TestClient]:
    app = create_asgi_app(local_settings, repository=ExplodingRepository())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_an_unexpected_failure_is_a_500_problem_with_the_detail_only_in_the_log(
    exploding_client: TestClient, credentials: dict[str, str], operation: Operation
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("service").addHandler(handler)
    try:
        response = send(exploding_client, valid_request(operation, credentials=credentials))
    finally:
        logging.getLogger("service").removeHandler(handler)
    problem = assert_problem(response.status_code, response.headers, response.json(), 500)
    assert SECRET not in str(problem) and "/var/task" not in str(problem)
    assert SECRET in stream.getvalue()


def test_a_response_that_breaks_the_contract_is_a_generic_500(
    local_settings: Settings, credentials: dict[str, str]
) -> None:
    """connexion's response validation answers 500 with internal text; it goes to the log only."""
    reads = [op for op in OPERATIONS if op.method == "GET" and op.path_parameters]
    assert reads, "the contract has no read of one resource"
    app = create_asgi_app(local_settings, repository=CorruptRepository())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("service").addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = send(client, valid_request(reads[0], credentials=credentials))
    finally:
        logging.getLogger("service").removeHandler(handler)
    problem = assert_problem(response.status_code, response.headers, response.json(), 500)
    assert problem["detail"] == "The server could not complete the request."
    assert "not-a-uuid" in stream.getvalue() or "conform" in stream.getvalue().lower()
