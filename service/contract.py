"""The contract, openapi.yaml: where it lives and how it is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONTRACT_FILE = Path(__file__).resolve().parent.parent / "openapi.yaml"


def load_contract(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    """The contract as a dict (parsed once by the caller)."""
    import yaml

    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=safe_loader())  # noqa: S506 - a safe loader
    return document


def safe_loader() -> Any:
    """PyYAML's safe loader, in C (libyaml) when the wheel has it: ~10x faster at cold start."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def operations(contract: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation object) for every operation of the contract."""
    for path, item in contract.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def operation_paths(contract: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template), read from the contract."""
    return {operation["operationId"]: (method, path) for method, path, operation in operations(contract)}


def operations_with_body(contract: dict[str, Any]) -> frozenset[str]:
    """The operationIds that declare a requestBody."""
    return frozenset(op["operationId"] for _, _, op in operations(contract) if "requestBody" in op)


def path_of(operation_id: str, contract: dict[str, Any] | None = None) -> str:
    """The path template of one operation, e.g. path_of("getHealth") for the local tooling."""
    return operation_paths(contract if contract is not None else load_contract())[operation_id][1]
