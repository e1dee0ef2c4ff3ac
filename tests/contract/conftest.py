"""schemathesis against the ASGI app in-process, the app talking to its own real local engine.

The contract tests get an engine of their own (or, with DYNAMODB_ENDPOINT, a table of their own
on that engine) and empty their table before every generated example and every stateful
scenario: each example then starts from the same state, so a run depends only on the seed
(schemathesis.toml). Emptying uses the DynamoDB API only (Scan + BatchWriteItem).

schemathesis authenticates with its own auth configuration (schemathesis.toml: $API_KEY and
$ACCESS_TOKEN), the token obtained as `make contract` obtains it: the full-access client's
client-credentials grant on the stage's token endpoint (the session's issuer, over HTTP).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from consumers.token import full_access_client, local_credentials, request_token
from local.dynamodb_admin import empty_table, wait_until_active
from local.engine import Engine, ExternalEngine, LocalEngine
from local.issuer import LocalIssuer
from local.tables import ensure_table
from service.app import create_asgi_app
from service.contract import Contract, get_contract
from service.repository import make_client
from service.settings import Settings

CONFIG_FILE = Path(__file__).resolve().parents[2] / "schemathesis.toml"
# In-process runs use fewer examples than `make contract`: it fuzzes the whole stack over HTTP.
IN_PROCESS_MAX_EXAMPLES = 150

Reset = Callable[[], None]


@pytest.fixture(scope="session")
def contract_engine(engine: Engine) -> Iterator[Engine]:
    if isinstance(engine, ExternalEngine):
        yield engine
        return
    with LocalEngine() as own:
        yield own


@pytest.fixture(scope="session")
def contract_settings(local_settings: Settings, contract_engine: Engine) -> Settings:
    table = local_settings.service.table_name
    if isinstance(contract_engine, ExternalEngine):  # shared with the other tiers: a table of its own
        table = f"{table}-contract"
    service = local_settings.service._replace(dynamodb_endpoint=contract_engine.endpoint, table_name=table)
    return local_settings._replace(service=service)


@pytest.fixture(scope="session")
def reset_table(contract_settings: Settings) -> Reset:
    client = make_client(contract_settings.service)
    table = contract_settings.service.table_name
    ensure_table(client, table)
    wait_until_active(client, table)

    def reset() -> None:
        empty_table(client, table)

    reset()
    return reset


def in_process_schema(
    contract: Contract,
    settings: Settings,
    access_token: str,
    max_examples: int = IN_PROCESS_MAX_EXAMPLES,
    config_file: Path = CONFIG_FILE,
) -> Any:
    """schemathesis on `contract`, configured by schemathesis.toml, calling the app built from it."""
    with pytest.MonkeyPatch.context() as patch:
        # schemathesis.toml reads the API key from $API_KEY and the access token from $ACCESS_TOKEN.
        patch.setenv("API_KEY", os.environ.get("CONTRACT_API_KEY", settings.service.api_key))
        patch.setenv("ACCESS_TOKEN", access_token)
        config = SchemathesisConfig.from_path(config_file)
    config.projects.override.generation.max_examples = max_examples
    # A copy of its own: schemathesis resolves references in place, and the contract is the process's.
    schema = schemathesis.openapi.from_dict(copy.deepcopy(dict(contract.document)), config=config)
    schema.app = create_asgi_app(settings, contract=contract)
    return schema


@pytest.fixture(scope="session")
def contract_access_token(issuer: LocalIssuer) -> str:
    """The full-access client's token from the stage's token endpoint, as `make contract` gets it
    (local.with_stage): the client's local credentials, then a client-credentials grant over HTTP."""
    return str(request_token(local_credentials(full_access_client(), issuer.url))["access_token"])


@pytest.fixture(scope="session")
def contract_schema(contract_settings: Settings, reset_table: Reset, contract_access_token: str) -> Any:
    return in_process_schema(get_contract(), contract_settings, contract_access_token)
