"""The service's two documents, openapi.yaml and settings.yaml, and their JSON copies in the bundle.

The YAML files are the only sources. infra/bundle.py writes each one as JSON beside it in the
Lambda bundle (`json_copy`), made from the whole document at build time, and ships the JSON alone:
the function parses JSON with the standard library and never imports PyYAML. A checkout has only
the YAML files, so everything else (the local stage, infra, the tests) reads those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def json_copy(source: Path) -> Path:
    """Where the bundle holds the JSON copy of `source` (openapi.yaml -> openapi.json)."""
    return source.with_suffix(".json")


def deployed(source: Path) -> Path:
    """The document to read: the bundle's JSON copy where it exists, else the YAML source."""
    copy = json_copy(source)
    return copy if copy.exists() else source


def read(path: Path) -> Any:
    """A document as Python data: JSON by the standard library, YAML by PyYAML (imported only here,
    with libyaml's loader when the wheel has it)."""
    if path.suffix == ".json":
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader


def as_json(source: Path) -> bytes:
    """The JSON copy of a YAML document, as the bundle carries it (the whole document, in order)."""
    return json.dumps(read(source), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
