"""Two engines side by side: moto exactly as installed, and the project's engine (local/engine.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.dynamodb_admin import admin_client
from local.engine import LocalEngine


@pytest.fixture(scope="session")
def stock_engine() -> Iterator[LocalEngine]:
    with LocalEngine(stock=True) as engine:
        yield engine


@pytest.fixture(scope="session")
def undo_engine() -> Iterator[LocalEngine]:
    with LocalEngine() as engine:
        yield engine


@pytest.fixture(scope="session")
def engines(stock_engine: LocalEngine, undo_engine: LocalEngine) -> dict[str, LocalEngine]:
    return {"stock": stock_engine, "engine": undo_engine}


@pytest.fixture(scope="session")
def engine_client(undo_engine: LocalEngine) -> object:
    return admin_client(undo_engine.endpoint)
