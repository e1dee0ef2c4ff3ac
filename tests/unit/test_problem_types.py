"""Every problem `type` the function answers is one the contract names, with its status, in the
description of a response of that status; and every header the problem carries is declared there.
Clients tell a 409's causes apart by `type`: a type the contract does not name is one they cannot
program against."""

from __future__ import annotations

import inspect
import json
import re
from types import SimpleNamespace
from typing import Any

from service.contract import get_contract
from service.errors import HANDLED, method_not_allowed_handler, unavailable_handler
from service.problems import PROBLEM_BASE
from service.users import StorageUnavailable
from service.validation import PreconditionRequiredProblem

NAMED = re.compile(r"`([a-z-]+)` \((\d{3})\)")


def _emitted() -> set[tuple[int, str, frozenset[str]]]:
    """(status, type, headers) of every problem the function's own error handlers answer."""
    answers = []
    for error_type, handler in HANDLED.items():
        arguments = ["x"] * (len(inspect.signature(error_type.__init__).parameters) - 1)
        answers.append(handler(None, error_type(*arguments)))
    answers.append(unavailable_handler(1)(None, StorageUnavailable("x")))
    found = {
        (answer.status_code, json.loads(answer.body)["type"], frozenset(answer.headers) - {"Content-Type"})
        for answer in answers
    }
    required = PreconditionRequiredProblem("If-Match")
    found.add((required.status, required.type, frozenset()))
    return found


def _responses(status: int) -> list[dict[str, Any]]:
    """Every response of that status the contract's operations declare, $refs resolved."""
    document = get_contract().document
    found = []
    for item in document["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            response = operation["responses"].get(str(status))
            if response is None:
                continue
            while "$ref" in response:
                response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
            found.append(response)
    return found


def test_every_problem_type_the_function_answers_is_named_by_the_contract_with_its_status() -> None:
    document = get_contract().document
    named = {
        (int(status), PROBLEM_BASE + slug)
        for slug, status in NAMED.findall(
            document["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
        )
    }
    emitted = _emitted()
    assert {(status, kind) for status, kind, _ in emitted} == named
    for status, kind, headers in emitted:
        slug = kind.removeprefix(PROBLEM_BASE)
        responses = [response for response in _responses(status) if f"`{slug}`" in response["description"]]
        assert responses, f"no {status} response of the contract describes `{slug}`"
        for response in responses:
            assert headers <= set(response.get("headers", {})), f"{slug}: {headers} not all declared"


def test_the_allow_header_of_a_405_is_declared_by_the_contract() -> None:
    request = SimpleNamespace(scope={"path": "/users/00000000-0000-4000-8000-000000000000"})
    answer = method_not_allowed_handler(get_contract())(request, Exception())
    assert answer.headers["Allow"] == "GET, PATCH, DELETE"
    responses = _responses(405)
    assert responses
    for response in responses:
        assert "Allow" in response.get("headers", {})
