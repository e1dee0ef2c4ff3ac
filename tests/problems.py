"""Assertions shared by the tiers: a response is a problem+json document of the contract's shape."""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import Draft4Validator

from service.contract import get_contract

PROBLEM_TYPE = "application/problem+json"


@functools.cache
def _schema_validator(name: str) -> Draft4Validator:
    contract = get_contract().document
    return Draft4Validator({"$ref": f"#/components/schemas/{name}", "components": contract["components"]})


def assert_matches_schema(document: Any, name: str) -> None:
    errors = list(_schema_validator(name).iter_errors(document))
    assert not errors, [e.message for e in errors]


def assert_problem(status: int, headers: Any, body: Any, expected_status: int) -> dict[str, Any]:
    """The response is a problem+json of `expected_status`, with no traceback or internals."""
    assert status == expected_status, body
    assert headers["content-type"].startswith(PROBLEM_TYPE)
    assert_matches_schema(body, "Problem")
    assert body["status"] == expected_status
    text = str(body)
    for leak in ("Traceback", "botocore", 'File "', "USER#", "EMAIL#", "pk", "Exception"):
        assert leak not in text, f"{leak!r} leaked into {body}"
    return dict(body)


def assert_answered(operation: Any, status: int, body: Any, context: str = "") -> None:
    """A request that passed authentication and authorization got an answer of the operation's own:
    a status it declares, neither 401/403 nor a server error (every operation declares 500 and 503,
    so "declared" alone would let a crash through)."""
    where = f"{operation.operation_id}{context}: {status} {body}"
    assert status not in (401, 403), where
    assert status < 500, where
    assert operation.response(status) is not None, f"{where}: not declared"
