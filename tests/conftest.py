"""Shared fixtures: the real local engine (moto server over HTTP), started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.engine import LocalEngine
from local.stage import LOCAL_CREDENTIALS
from service.settings import Settings, get_settings

API_KEY_HEADER = "x-api-key"


@pytest.fixture(scope="session")
def engine() -> Iterator[LocalEngine]:
    with LocalEngine() as local_engine:
        yield local_engine


@pytest.fixture(scope="session")
def local_settings(engine: LocalEngine) -> Iterator[Settings]:
    """The process's settings pointed at the session's engine, with the table created."""
    from local.tables import ensure_table
    from service.repository import make_client

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE", "local")
        patch.setenv("DYNAMODB_ENDPOINT", engine.endpoint)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        for key, value in LOCAL_CREDENTIALS.items():
            patch.setenv(key, os.environ.get(key, value))
        get_settings.cache_clear()
        settings = get_settings()
        ensure_table(make_client(settings.service), settings.service.table_name)
        yield settings
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def api_headers(local_settings: Settings) -> dict[str, str]:
    return {API_KEY_HEADER: local_settings.service.api_key}
