"""Shared fixtures: the session's DynamoDB engine and the settings pointed at it.

The engine is the one DYNAMODB_ENDPOINT names (real DynamoDB, or any DynamoDB-compatible engine
someone runs, e.g. `python -m local.engine --port PORT`), else the embedded engine (moto server
over HTTP) started once per session. Readiness and table set-up use the DynamoDB API only.
The access tokens' issuer is the local stage's (local.issuer), served for the session; the app
verifies tokens against it, as a local stage does. The served issuer remembers what its token endpoint
issued, so a test can tell a token a consumer obtained through it from one signed in-process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from local.engine import Engine, ExternalEngine, LocalEngine
from local.issuer import LocalIssuer, serving
from local.stage import LOCAL_CREDENTIALS
from service.contract import get_contract
from service.settings import Settings, get_settings
from tests.tokens import full_access_client, token

API_KEY_HEADER = "x-api-key"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    endpoint = os.environ.get("DYNAMODB_ENDPOINT")
    if endpoint:
        yield ExternalEngine(endpoint)
        return
    with LocalEngine() as local_engine:
        yield local_engine


class RecordingIssuer(LocalIssuer):
    """The local issuer, keeping every access token its token endpoint issued (`issued`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issued: list[str] = []

    def issue(self, client_id: str, secret: str, requested: str | None = None) -> dict[str, Any]:
        answer = super().issue(client_id, secret, requested)
        self.issued.append(str(answer["access_token"]))
        return answer


@pytest.fixture(scope="session")
def issuer() -> Iterator[RecordingIssuer]:
    """The session's local OAuth 2.0 issuer (local.issuer), served on a free port of 127.0.0.1."""
    with serving(RecordingIssuer.for_stage) as running:
        assert isinstance(running, RecordingIssuer)
        yield running


@pytest.fixture(scope="session")
def local_settings(engine: Engine, issuer: LocalIssuer) -> Iterator[Settings]:
    """The process's settings pointed at the session's engine and issuer, with the table created."""
    from local.dynamodb_admin import wait_until_active, wait_until_ready
    from local.tables import ensure_table
    from service.repository import make_client

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE", "local")
        patch.setenv("DYNAMODB_ENDPOINT", engine.endpoint)
        patch.setenv("USERS_API_TOKEN_ISSUER", issuer.url)
        patch.setenv("USERS_API_CLIENT_IDS", json.dumps(issuer.client_ids))
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
def full_access_token(issuer: LocalIssuer) -> str:
    """A token of the client that holds every scope of the contract."""
    contract = get_contract()
    client = full_access_client(issuer, contract)
    return token(issuer, client, tuple(contract.scopes))


@pytest.fixture(scope="session")
def api_headers(local_settings: Settings, full_access_token: str) -> dict[str, str]:
    """What a consumer allowed to call every operation sends: its API key and its access token."""
    return {API_KEY_HEADER: local_settings.service.api_key, "Authorization": f"Bearer {full_access_token}"}
