from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_asgi_app
from service.repository import make_client
from service.settings import Settings


@pytest.fixture(scope="session")
def client(local_settings: Settings, api_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_asgi_app(local_settings), headers=api_headers, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def dynamodb(local_settings: Settings) -> Any:
    return make_client(local_settings.service)


@pytest.fixture
def email() -> str:
    """An email no other test uses: tests share the session's table and isolate by unique keys."""
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def items_for(
    dynamodb: Any, table: str, *, user_id: str | None = None, email: str | None = None
) -> list[Any]:
    """Every item whose key names this user id or this (normalised) email."""
    wanted = set()
    if user_id:
        wanted.add(f"USER#{user_id}")
    if email:
        wanted.add(f"EMAIL#{email.strip().casefold()}")
    found: list[Any] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        found.extend(item for item in page["Items"] if item["pk"]["S"] in wanted)
    return found


def users_with_email(dynamodb: Any, table: str, email: str) -> list[Any]:
    found: list[Any] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        found.extend(
            item
            for item in page["Items"]
            if item["pk"]["S"].startswith("USER#") and item["email"]["S"].casefold() == email.casefold()
        )
    return found
