"""Every module of the service logs through the service's Powertools logger: JSON lines with the
service's keys, at the level the settings give (pure logic: no engine, no HTTP)."""

from __future__ import annotations

import ast
import importlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import SERVICE_NAME
from service.app import create_app
from service.observability import logger as service_logger
from service.settings import load_settings

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _modules_with_a_logger() -> list[str]:
    """The service's modules that assign a module-level `logger`."""
    found = []
    for path in sorted(SERVICE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "logger" for target in node.targets
            ):
                parts = path.relative_to(SERVICE.parent).with_suffix("").parts
                found.append(".".join(part for part in parts if part != "__init__"))
    return found


MODULES = [name for name in _modules_with_a_logger() if name != "service.observability"]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(service_logger.registered_formatter)
    parent = logging.getLogger(SERVICE_NAME)
    level = parent.level
    parent.addHandler(handler)
    try:
        yield stream
    finally:
        parent.removeHandler(handler)
        parent.setLevel(level)


class _NoRepository:
    """create_app builds a repository unless given one; these tests make no call."""


def test_the_modules_that_log_are_found() -> None:
    assert {"service.auth", "service.errors", "service.repository"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_a_modules_lines_are_the_services_json_at_the_settings_level(
    module: str, json_lines: io.StringIO
) -> None:
    """`USERS_API_LOG_LEVEL=DEBUG` reaches every module (a module's own `logging.getLogger(__name__)`
    stayed at WARNING, and its INFO lines were lost), and its lines carry the service's keys."""
    logger = importlib.import_module(module).logger
    settings = load_settings("local", environ={"USERS_API_LOG_LEVEL": "DEBUG"})
    create_app(settings, repository=_NoRepository())  # type: ignore[arg-type]
    logger.debug("probe from %s", module)
    settings = load_settings("local", environ={"USERS_API_LOG_LEVEL": "WARNING"})
    create_app(settings, repository=_NoRepository())  # type: ignore[arg-type]
    logger.info("not at WARNING")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [("DEBUG", f"probe from {module}")]
    assert lines[0]["service"] == SERVICE_NAME
