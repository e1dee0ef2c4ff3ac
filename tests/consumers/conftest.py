"""The consumers tier: what a team building against the contract gets, checked as they would use it.

The client is generated once per session into a temporary directory (never clients/python, which
belongs to `make client`), and a local stage on the session's engine serves the round trips.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from consumers.client import PACKAGE, build_wheel, generate
from local.engine import Engine
from local.with_stage import running_stage
from service.contract import Contract, get_contract
from service.settings import load_settings


@pytest.fixture(scope="session")
def contract() -> Contract:
    return get_contract()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project directory, wheel) of the client generated from the working tree's contract."""
    root = tmp_path_factory.mktemp("client")
    project = generate(root / "python")
    return project, build_wheel(project, root / "dist")


@pytest.fixture(scope="session")
def client_package(generated: tuple[Path, Path]) -> Iterator[ModuleType]:
    project, _ = generated
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(project))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="session")
def stage_url(engine: Engine) -> Iterator[str]:
    """A local stage (`python -m local.stage`) on the session's engine (tests/conftest.py)."""
    with running_stage(env={"STAGE": "local", "DYNAMODB_ENDPOINT": engine.endpoint}) as base:
        yield base


@pytest.fixture(scope="session")
def api_key() -> str:
    return load_settings("local").service.api_key
