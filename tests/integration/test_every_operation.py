"""Behaviour every operation shares, checked for each operation of the contract (none named here).

The API key (the access token has its own matrix: test_authorization.py), 405 with the contract's
methods in `Allow`, 404 on a route that does not exist, 413/415 on operations with a body,
statuses and media types as declared, and the shape of every 500.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from local.tables import ensure_table
from service import SERVICE_NAME
from service.app import create_asgi_app
from service.contract import Operation, get_contract
from service.repository import DynamoUserRepository, make_client
from service.settings import Settings
from service.users import User, new_user
from tests.operations import Request, unrouted_path, unused_method, valid_request
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

SECRET = "secret internal detail: /var/task/service/repository.py line 42"

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


def success(operation: Operation) -> int:
    """The operation's success status: the first 2xx it declares (201 for a create, 204 for a delete)."""
    return min(int(status) for status in operation.responses if status.isdigit() and status.startswith("2"))


@pytest.fixture
def about_a_user(local_settings: Settings) -> dict[str, str]:
    """Parameter values about a user stored in the engine: its id for every path parameter (every
    path parameter of the contract names a user), its current ETag for a precondition to hold, and
    another tag for a conditional read to answer in full (with the user's own it is rightly 304)."""
    user = new_user("Ada Lovelace", f"ada-{uuid.uuid4().hex[:12]}@example.com")
    DynamoUserRepository(make_client(local_settings.service), local_settings.service.table_name).add(user)
    names = {parameter.name for operation in OPERATIONS for parameter in operation.path_parameters}
    other = f'"{uuid.uuid4().hex}"'
    return {**dict.fromkeys(names, user.user_id), "If-Match": user.etag, "If-None-Match": other}


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_a_valid_request_about_a_stored_user_gets_the_success_status_and_media_type(
    bare_client: TestClient, credentials: dict[str, str], about_a_user: dict[str, str], operation: Operation
) -> None:
    request = valid_request(operation, credentials=credentials, values=about_a_user)
    response = send(bare_client, request)
    assert response.status_code == success(operation), response.text
    declared = operation.response(response.status_code)
    assert declared is not None
    media = response.headers.get("content-type")
    if declared.has_body:
        assert media is not None and media.split(";")[0] in declared.media_types
    else:
        assert media is None and response.content == b""


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
    assert response.status_code == success(operation), response.text


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


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_an_operations_path_with_a_trailing_slash_is_404_not_a_redirect(
    bare_client: TestClient, credentials: dict[str, str], operation: Operation
) -> None:
    """The contract's paths are exact, as API Gateway routes them: `/users/` is no route (a 307 to
    `/users` would be undeclared, and its Location would miss the gateway's stage prefix)."""
    request = valid_request(operation, credentials=credentials)
    response = send(bare_client, request, path=request.path + "/")
    assert_problem(response.status_code, response.headers, response.json(), 404)
    assert "location" not in response.headers


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


class _EngineAnsweringTheUnexpected(http.server.BaseHTTPRequestHandler):
    """A DynamoDB endpoint that answers every call with an error the service has no rule for, its
    message an internal detail (what a misconfigured table or a changed API would look like)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        error = "com.amazonaws.dynamodb.v20120810#ValidationException"
        body = json.dumps({"__type": error, "message": SECRET})
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "unexpected")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def unexpected_client(local_settings: Settings) -> Iterator[TestClient]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EngineAnsweringTheUnexpected)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        service = local_settings.service._replace(dynamodb_endpoint=endpoint)
        app = create_asgi_app(local_settings._replace(service=service))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    # The service's modules log through children of its Powertools logger (SERVICE_NAME).
    logging.getLogger(SERVICE_NAME).addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger(SERVICE_NAME).removeHandler(handler)


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_an_unexpected_failure_is_a_500_problem_with_the_detail_only_in_the_log(
    unexpected_client: TestClient, credentials: dict[str, str], operation: Operation, service_log: io.StringIO
) -> None:
    response = send(unexpected_client, valid_request(operation, credentials=credentials))
    problem = assert_problem(response.status_code, response.headers, response.json(), 500)
    assert SECRET not in str(problem) and "/var/task" not in str(problem)
    assert SECRET in service_log.getvalue()


def test_a_stored_user_that_breaks_the_contract_is_a_generic_500(
    local_settings: Settings, credentials: dict[str, str], service_log: io.StringIO
) -> None:
    """connexion's response validation answers 500 with internal text; the log says where the
    response breaks the contract and which rule, never the values (a person's name and email)."""
    reads = [op for op in OPERATIONS if op.method == "GET" and op.path_parameters]
    assert reads, "the contract has no read of one resource"
    name, email = "Private Person " * 20, f"private-{uuid.uuid4().hex}@example.com"  # name: 300 > 200
    broken = User(str(uuid.uuid4()), name, email, created_at="then", updated_at="now", version=7)
    # A table of its own: the session's table is listed by other tests.
    service = local_settings.service._replace(table_name=f"users-broken-{uuid.uuid4().hex[:8]}")
    ensure_table(make_client(service), service.table_name)
    DynamoUserRepository(make_client(service), service.table_name).add(broken)
    values = {parameter.name: broken.user_id for parameter in reads[0].path_parameters}
    app = create_asgi_app(local_settings._replace(service=service))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = send(client, valid_request(reads[0], credentials=credentials, values=values))
    problem = assert_problem(response.status_code, response.headers, response.json(), 500)
    assert problem["detail"] == "The server could not complete the request."
    log = service_log.getvalue()
    assert "response body does not conform to the contract: $.name breaks properties/name/maxLength" in log
    assert "Private Person" not in log and email not in log
