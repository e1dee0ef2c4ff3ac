"""Shared fixtures: the session's DynamoDB engine and the settings pointed at it.

The engine is the one DYNAMODB_ENDPOINT names (real DynamoDB, or any DynamoDB-compatible engine
someone runs, e.g. `python -m local.engine --port PORT`), else the embedded engine (moto server
over HTTP) started once per session. Readiness and table set-up use the DynamoDB API only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.engine import Engine, ExternalEngine, LocalEngine
from local.stage import LOCAL_CREDENTIALS
from service.settings import Settings, get_settings

API_KEY_HEADER = "x-api-key"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    endpoint = os.environ.get("DYNAMODB_ENDPOINT")
    if endpoint:
        yield ExternalEngine(endpoint)
        return
    with LocalEngine() as local_engine:
        yield local_engine


@pytest.fixture(scope="session")
def local_settings(engine: Engine) -> Iterator[Settings]:
    """The process's settings pointed at the session's engine, with the table created."""
    from local.dynamodb_admin import wait_until_active, wait_until_ready
    from local.tables import ensure_table
    from service.repository import make_client

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE", "local")
        patch.setenv("DYNAMODB_ENDPOINT", engine.endpoint)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        if "AWS_PROFILE" not in os.environ:  # dummies unless the developer names credentials
            for key, value in LOCAL_CREDENTIALS.items():
                patch.setenv(key, os.environ.get(key, value))
        get_settings.cache_clear()
        settings = get_settings()
        client = make_client(settings.service)
        wait_until_ready(client)
        ensure_table(client, settings.service.table_name)
        wait_until_active(client, settings.service.table_name)
        yield settings
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def api_headers(local_settings: Settings) -> dict[str, str]:
    return {API_KEY_HEADER: local_settings.service.api_key}
