"""The contract lint: Redocly's recommended ruleset, 0 errors and 0 warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from consumers.lint import lint
from consumers.tools import CONTRACT

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
