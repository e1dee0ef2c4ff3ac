"""`make verify STAGE=…`: a stage checked against its contract and its load gate, in one command.

    python -m local.verify --stage dev          (a deployed stage: URL and credentials through AWS)
    python -m local.verify --stage local        (a local stage started for the run, then stopped)

1. contract: schemathesis on the stage (schemathesis.toml: every check), the examples and coverage
   phases only, bounded in examples and time, rate-limited to what the stage and the verifying
   client may send (`api` throttle, the client's usage plan); JUnit in reports/.
2. load: Locust's smoke profile with the load gate (the stage's `alarms`); HTML in reports/.

The verifying consumer is a client of settings.yaml holding every scope of the contract. A deployed
stage's URL, the client's id and its API key id come from the stack's outputs (`make deploy` writes
cdk.out/outputs-<stage>.json), the secret and the key's value through AWS; with no AWS credentials it
stops at once with the same message as `make deploy`. A local stage's come from settings.yaml and
the stage's own token endpoint. Everything after that is the same code path.
One summary at the end; the exit code is non-zero when any step failed (or could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from consumers.token import ClientCredentials, credential_variables, full_access_client, request_token

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
LOCAL = "local"
MAX_EXAMPLES = 10  # per operation and phase: a check after a deploy, not a fuzzing campaign
CONTRACT_MAX_SECONDS = 300
STEP_TIMEOUT_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class Target:
    """Where and as whom the checks run."""

    stage: str
    url: str
    api_key: str
    credentials: ClientCredentials
    rate_per_second: float


@dataclasses.dataclass(frozen=True)
class StepResult:
    name: str
    passed: bool
    seconds: float
    detail: str
    report: Path


def rate_limit(stage: str, client: str) -> float:
    """What the stage lets the verifying client send: the lower of the stage's and its usage plan's."""
    from infra.settings import load_infra_settings
    from service.settings import load_clients

    stage_rate = load_infra_settings(stage).api.throttle_rate_per_second
    return min(stage_rate, load_clients(stage)[client].throttle_rate_per_second)


@contextlib.contextmanager
def local_target(stage: str = LOCAL) -> Iterator[Target]:
    from consumers.token import local_credentials
    from local.with_stage import running_stage
    from service.settings import load_settings

    client = full_access_client(stage)
    with running_stage() as base:
        yield Target(
            stage=stage,
            url=base,
            api_key=load_settings(stage, environ={}).service.api_key,
            credentials=local_credentials(client, base, stage),
            rate_per_second=rate_limit(stage, client),
        )


@contextlib.contextmanager
def deployed_target(stage: str) -> Iterator[Target]:
    from consumers.stage_access import api_key_value, api_url, aws_client_credentials, require_credentials

    require_credentials()  # before anything else: the same fast, clear failure as `make deploy`
    client = full_access_client(stage)
    yield Target(
        stage=stage,
        url=api_url(stage),
        api_key=api_key_value(stage, client),
        credentials=aws_client_credentials(stage, client),
        rate_per_second=rate_limit(stage, client),
    )


def _run(name: str, command: list[str], env: Mapping[str, str], report: Path) -> StepResult:
    print(f"verify: {name}: {' '.join(command[:6])} ...", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 - our own tools, from the venv
            command, env={**os.environ, **env}, cwd=ROOT, timeout=STEP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return StepResult(
            name, False, time.monotonic() - started, f"no result in {STEP_TIMEOUT_SECONDS} s", report
        )
    seconds = time.monotonic() - started
    return StepResult(name, done.returncode == 0, seconds, f"exit {done.returncode}", report)


def contract_step(target: Target, env: Mapping[str, str], reports: Path) -> StepResult:
    report = reports / f"verify-{target.stage}-schemathesis.xml"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        target.url,
        "--phases",
        "examples,coverage",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(CONTRACT_MAX_SECONDS),
        "--rate-limit",
        f"{max(1, int(target.rate_per_second))}/s",
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return _run("contract", command, env, report)


def load_step(target: Target, env: Mapping[str, str], reports: Path) -> StepResult:
    html = reports / f"verify-{target.stage}-load.html"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "loadtest"),
        "--host",
        target.url,
        "--headless",
        "--only-summary",
        "--profile",
        "smoke",
        "--stage",
        target.stage,
        "--html",
        str(html),
        "--csv",
        str(reports / f"verify-{target.stage}-load"),
    ]
    return _run("load", command, {**env, "STAGE": target.stage}, html)


def verify(target: Target, reports: Path = REPORTS) -> list[StepResult]:
    reports.mkdir(parents=True, exist_ok=True)
    env = {
        "API_KEY": target.api_key,
        "ACCESS_TOKEN": str(request_token(target.credentials)["access_token"]),
        **credential_variables(target.credentials),
        "PYTHONUNBUFFERED": "1",
    }
    return [contract_step(target, env, reports), load_step(target, env, reports)]


def summary(stage: str, url: str, results: list[StepResult]) -> str:
    verdict = "PASS" if results and all(result.passed for result in results) else "FAIL"
    lines = [f"verify, stage {stage} ({url}): {verdict}"]
    for result in results:
        mark = "ok  " if result.passed else "FAIL"
        relative = result.report.relative_to(ROOT) if result.report.is_relative_to(ROOT) else result.report
        lines.append(f"  {mark} {result.name:<9} {result.seconds:6.1f} s  {result.detail:<8}  {relative}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default=os.environ.get("STAGE", LOCAL))
    parser.add_argument("--reports", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    from consumers.stage_access import StageAccessError
    from consumers.token import TokenRequestFailed

    target_of = local_target if args.stage == LOCAL else deployed_target
    try:
        with target_of(args.stage) as target:
            results = verify(target, args.reports)
            print(summary(target.stage, target.url, results), flush=True)
    except (StageAccessError, TokenRequestFailed, KeyError) as error:
        print(f"verify, stage {args.stage}: FAIL (cannot start: {error})", file=sys.stderr)
        return 1
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
