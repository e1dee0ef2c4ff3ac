"""The contract lint: Redocly CLI (pinned) with redocly.yaml (its `recommended` ruleset).

    python -m consumers.lint [FILE]

Passes with 0 errors and 0 warnings only; Redocly itself exits 0 on warnings. A rule turned off
is turned off in redocly.yaml, with its reason. It runs beside openapi-spec-validator and the API
Gateway import-limits lint (tests/unit, tests/infra), which check other things.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from consumers.tools import CONTRACT, ROOT, node_tool, run_tool

CONFIG = ROOT / "redocly.yaml"


@dataclasses.dataclass(frozen=True)
class Problem:
    rule: str
    severity: str  # error | warn
    message: str
    where: str  # file:line, JSON pointer

    def __str__(self) -> str:
        return f"{self.where}: {self.severity} [{self.rule}] {self.message}"


def lint(contract: Path = CONTRACT) -> list[Problem]:
    """Every error and warning Redocly reports on `contract` (empty: it lints clean)."""
    result = run_tool(
        [str(node_tool("redocly")), "lint", str(contract), "--config", str(CONFIG), "--format", "json"]
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"redocly lint exited {result.returncode} without a report:\n{result.stdout}{result.stderr}"
        ) from None
    problems = []
    for problem in report.get("problems") or []:
        location = (problem.get("location") or [{}])[0]
        line = (location.get("start") or {}).get("line", "?")
        source = (location.get("source") or {}).get("ref", str(contract))
        problems.append(
            Problem(
                rule=str(problem.get("ruleId")),
                severity=str(problem.get("severity")),
                message=str(problem.get("message")),
                where=f"{source}:{line} {location.get('pointer', '')}".strip(),
            )
        )
    totals = report.get("totals") or {}
    if totals.get("errors", 0) + totals.get("warnings", 0) != len(problems):
        raise RuntimeError(f"redocly lint's totals {totals} do not match its {len(problems)} problems")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    contract = Path(args[0]) if args else CONTRACT
    try:
        problems = lint(contract)
    except RuntimeError as error:
        print(f"contract lint: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    errors = sum(problem.severity == "error" for problem in problems)
    print(f"contract lint (Redocly, {CONFIG.name}): {errors} errors, {len(problems) - errors} warnings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
