"""Faults: concurrency on one email, the engine going away, an unexpected error."""

from __future__ import annotations

import asyncio
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from starlette.testclient import TestClient

from local.engine import LocalEngine
from local.tables import ensure_table
from service.app import create_asgi_app
from service.repository import make_client
from service.settings import Settings
from tests.integration.conftest import items_for, users_with_email
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

CONCURRENT_CREATES = 20


def test_concurrent_creates_with_one_email_yield_one_user_and_409s(
    local_settings: Settings, api_headers: dict[str, str], dynamodb: Any, email: str
) -> None:
    app = create_asgi_app(local_settings)

    async def create_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=api_headers
        ) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/users", json={"name": f"racer {i}", "email": email.upper() if i % 2 else email}
                    )
                    for i in range(CONCURRENT_CREATES)
                )
            )

    responses = asyncio.run(create_all())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CONCURRENT_CREATES - 1)
    for response in responses:
        if response.status_code == 409:
            assert_problem(response.status_code, response.headers, response.json(), 409)
    table = local_settings.service.table_name
    winner = next(r for r in responses if r.status_code == 201).json()
    assert [u["userId"]["S"] for u in users_with_email(dynamodb, table, email)] == [winner["userId"]]
    guards = [i for i in items_for(dynamodb, table, email=email) if i["sk"]["S"] == "EMAIL"]
    assert [g["userId"]["S"] for g in guards] == [winner["userId"]]


def test_engine_stopped_mid_run_gives_503_with_retry_after_and_no_partial_user(
    local_settings: Settings, api_headers: dict[str, str]
) -> None:
    engine = LocalEngine().start()
    try:
        service = local_settings.service._replace(dynamodb_endpoint=engine.endpoint)
        settings = local_settings._replace(service=service)
        ensure_table(make_client(service), service.table_name)
        with TestClient(
            create_asgi_app(settings), headers=api_headers, raise_server_exceptions=False
        ) as client:
            before = client.post("/users", json={"name": "Ada", "email": "before@example.com"})
            assert before.status_code == 201
            engine.stop()

            for response in (
                client.post("/users", json={"name": "Bob", "email": "after@example.com"}),
                client.get(before.headers["location"]),
                client.get("/health"),
            ):
                problem = assert_problem(response.status_code, response.headers, response.json(), 503)
                assert response.headers["retry-after"] == str(service.retry_after_seconds)
                assert "storage" in problem["detail"]
    finally:
        engine.stop()


class _AnswerLost(http.server.BaseHTTPRequestHandler):
    """A way to the engine that loses the answer of the first call of `lose` it passes on: the engine
    applies the call, the client sees the connection close (a timeout or a dropped connection on
    AWS), and botocore's retry sends the same call again."""

    engine: ClassVar[str] = ""  # where calls go on to
    endpoint: ClassVar[str] = ""  # where the service sends them
    lose: ClassVar[str] = ""  # the DynamoDB operation whose first answer is lost
    lost: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
        forward = urllib.request.Request(self.engine + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(forward, timeout=10) as answer:
                status, answer_headers, payload = answer.status, answer.headers.items(), answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, payload = error.code, error.headers.items(), error.read()
        target = self.headers.get("x-amz-target", "")
        if target.endswith("." + self.lose) and not self.lost:
            self.lost.append(target)
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in answer_headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding", "server", "date"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def answer_lost(local_settings: Settings) -> Iterator[type[_AnswerLost]]:
    engine = local_settings.service.dynamodb_endpoint
    handler: type[_AnswerLost] = type("AnswerLost", (_AnswerLost,), {"engine": engine, "lost": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_change_whose_answer_was_lost_and_retried_is_the_clients_success_not_a_412(
    local_settings: Settings, api_headers: dict[str, str], email: str, answer_lost: type[_AnswerLost]
) -> None:
    """botocore sends an UpdateItem again when its answer is lost; the second attempt finds the
    version already moved by the first. That is this request's own change: 200, not 412."""
    answer_lost.lose = "UpdateItem"
    assert local_settings.service.dynamodb_max_attempts >= 2
    service = local_settings.service._replace(dynamodb_endpoint=answer_lost.endpoint)
    with TestClient(create_asgi_app(local_settings._replace(service=service)), headers=api_headers) as client:
        created = client.post("/users", json={"name": "Ada", "email": email})
        assert created.status_code == 201
        location, etag = created.headers["location"], created.headers["etag"]
        changed = client.patch(
            location,
            json={"name": "Ada King"},
            headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        )
        assert answer_lost.lost, "no UpdateItem answer was lost: the test did not test anything"
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Ada King"
        now = client.get(location)
        assert now.json()["name"] == "Ada King" and now.headers["etag"] == changed.headers["etag"]
