"""Faults: concurrency on one email, the engine going away, an unexpected error."""

from __future__ import annotations

import asyncio
from typing import Any

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
