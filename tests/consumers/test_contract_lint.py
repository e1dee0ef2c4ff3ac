"""The contract lint: Redocly's recommended ruleset, 0 errors and 0 warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from consumers.lint import lint
from consumers.tools import CONTRACT
from service.contract import get_contract
from tests.infra.gateway_check import with_two_new_operations

pytestmark = pytest.mark.consumers


def test_the_contract_lints_with_no_error_and_no_warning() -> None:
    problems = lint()
    assert problems == [], "\n".join(map(str, problems))


def test_the_lint_reports_what_a_consumer_would_miss(tmp_path: Path) -> None:
    # Given the contract without its licence and with an operation that lost its summary
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    del document["info"]["license"]
    document["paths"]["/health"]["get"].pop("summary")
    document["paths"]["/health"]["get"]["responses"].pop("200")
    broken = tmp_path / "openapi.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    # When it is linted
    rules = {problem.rule for problem in lint(broken)}

    # Then each gap is named by its rule
    assert {"info-license", "operation-2xx-response"} <= rules


def test_an_operation_that_declares_none_of_its_problems_is_named_by_each_rule(tmp_path: Path) -> None:
    # Given the contract with an operation that needs credentials and takes a body, declaring only
    # its successes (what an added operation would look like if its author forgot the problems)
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    operation = next(op for op in get_contract().operations if op.needs_auth and op.body is not None)
    responses = document["paths"][operation.path][operation.method.lower()]["responses"]
    for status in [status for status in responses if not status.startswith("2")]:
        del responses[status]
    broken = tmp_path / "openapi.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    # When it is linted
    pointer = f"/{operation.method.lower()}/responses"
    rules = {problem.rule for problem in lint(broken) if problem.where.endswith(pointer)}

    # Then each of the project's rules names what it is missing
    assert rules >= {
        "rule/operation-declares-the-problems-of-any-request",
        "rule/operation-with-security-declares-401-and-403",
        "rule/operation-with-a-body-declares-413-and-415",
    }


def test_a_contract_grown_by_two_operations_lints_clean(tmp_path: Path) -> None:
    # The operations tests/integration/test_adding_an_operation.py adds, declared as the README says
    grown, *_ = with_two_new_operations(get_contract())
    contract = tmp_path / "openapi.yaml"
    document = json.loads(json.dumps(grown.document))
    contract.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    problems = lint(contract)
    assert problems == [], "\n".join(map(str, problems))
