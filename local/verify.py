"""`make verify STAGE=…`: a stage checked against its contract and its load gate, in one command.

    python -m local.verify --stage dev          (a deployed stage: URL and credentials through AWS)
    python -m local.verify --stage local        (a local stage started for the run, then stopped)

1. contract: schemathesis on the stage (schemathesis.toml: every check), the examples and coverage
   phases only, bounded in examples and time, rate-limited to what the stage and the verifying
   client may send (`api` throttle, the client's usage plan); JUnit in reports/.
2. load: Locust's smoke profile with the load gate (the stage's `alarms`); HTML in reports/.

Each step leaves the stage's table as it found it, as far as its own writes go: a hook in the tool
(local.verify_contract_hooks for schemathesis, local.verify_load_hooks for Locust) records what every
answer created, found by the contract's links (a 201 answer linking to a DELETE operation, as
createUser's links to deleteUser), and at the end of the step, passed, failed or out of time, verify
deletes each through the API with the verifying client's token. What it cannot delete fails the step
and is named. A SIGTERM stops the running step, deletes what it created, then stops a local stage and
its engine (exit code 143).

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
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from consumers.token import (
    ClientCredentials,
    TokenRequestFailed,
    credential_variables,
    full_access_client,
    request_token,
)
from service.contract import Contract, get_contract

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
LOCAL = "local"
MAX_EXAMPLES = 10  # per operation and phase: a check after a deploy, not a fuzzing campaign
CONTRACT_MAX_SECONDS = 300
STEP_TIMEOUT_SECONDS = 600
# The file a step's hooks append what its answers created to: one path to DELETE a line.
CREATED = "USERS_API_VERIFY_CREATED"
CREATED_STATUS = 201
DELETE_ATTEMPTS = 3  # a delete answered 429, 5xx or not at all is sent again, after 1 s, then 2 s
DELETE_TIMEOUT_SECONDS = 10.0


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
    from infra.config import load_stage

    load_stage(stage)  # an unknown or local-only stage is named (StageError) before AWS is asked anything
    require_credentials()  # then the same fast, clear failure as `make deploy`
    client = full_access_client(stage)
    yield Target(
        stage=stage,
        url=api_url(stage),
        api_key=api_key_value(stage, client),
        credentials=aws_client_credentials(stage, client),
        rate_per_second=rate_limit(stage, client),
    )


def _run(name: str, command: list[str], env: Mapping[str, str], report: Path, target: Target) -> StepResult:
    """Run one step's tool, then delete what it created, whether it passed, failed, ran out of time or
    this process was stopped (a SIGTERM: local.with_stage.stop_on_sigterm)."""
    from local.with_stage import stop

    print(f"verify: {name}: {' '.join(command[:6])} ...", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="verify-") as scratch:
        created = Path(scratch) / "created"
        process = subprocess.Popen(  # noqa: S603 - our own tools, from the venv
            command, env={**os.environ, **env, CREATED: str(created)}, cwd=ROOT
        )
        try:
            code = process.wait(timeout=STEP_TIMEOUT_SECONDS)
            passed, detail = code == 0, f"exit {code}"
        except subprocess.TimeoutExpired:
            passed, detail = False, f"no result in {STEP_TIMEOUT_SECONDS} s"
        finally:
            stop(process)
            left = undo(name, target, created)
    if left:
        passed, detail = False, f"{detail}, {len(left)} left"
    return StepResult(name, passed, time.monotonic() - started, detail, report)


# --- what a step created, and deleting it ------------------------------------------------------


def _evaluate(expression: Any, header: Callable[[str], str | None], body: bytes) -> str | None:
    """A link's runtime expression on an answer ($response.body#/pointer, $response.header.Name or a
    constant); None when the answer does not hold it."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        return None if expression is None else str(expression)
    if expression.startswith("$response.header."):
        return header(expression.removeprefix("$response.header."))
    if not expression.startswith("$response.body#"):
        return None
    try:
        node: Any = json.loads(body)
    except ValueError:
        return None
    pointer = expression.partition("#")[2]
    for raw in pointer.split("/")[1:] if pointer else ():
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    if isinstance(node, dict | list):
        return None
    return node if isinstance(node, str) else json.dumps(node)


def deletion_of(
    contract: Contract,
    *,
    method: str,
    path: str,
    status: int,
    header: Callable[[str], str | None],
    body: bytes,
) -> str | None:
    """The path that deletes what one answer created, or None when it created nothing: for a 201
    Created answer of an operation (`path`: its template, or a path under it) whose response links to
    a DELETE operation, that operation's path with the link's path parameters taken from the answer.
    (Other answers may link to a DELETE too, an update's: they created nothing.)"""
    template = path if path in contract.paths else contract.template_of(path)
    operation = next(
        (op for op in contract.operations if op.method == method.upper() and op.path == template), None
    )
    response = operation.response(status) if operation is not None and status == CREATED_STATUS else None
    for link in response.links if response is not None else ():
        target = contract.operation(link.operation_id)
        if target.method != "DELETE":
            continue
        values = {
            p.name: _evaluate(
                link.parameters.get(p.name, link.parameters.get(f"path.{p.name}")), header, body
            )
            for p in target.path_parameters
        }
        if values and all(values.values()):
            return target.url(
                **{key: urllib.parse.quote(str(value), safe="") for key, value in values.items()}
            )
    return None


def record_created(
    method: str, path: str, status: int, header: Callable[[str], str | None], body: bytes
) -> None:
    """The steps' hooks call it for every answer: what the answer created is appended to the file named
    by $USERS_API_VERIFY_CREATED (nothing is recorded when it is unset: the tool runs outside verify)."""
    record = os.environ.get(CREATED)
    if not record:
        return
    contract = get_contract()
    deletion = deletion_of(contract, method=method, path=path, status=status, header=header, body=body)
    if deletion is not None:
        with open(record, "a", encoding="utf-8") as file:
            file.write(deletion + "\n")


def _delete(url: str, headers: Mapping[str, str]) -> str | None:
    """DELETE one resource; None once it is gone (deleted now, or already: 404), else why not."""
    problem = "not sent"
    for attempt in range(DELETE_ATTEMPTS):
        if attempt:
            time.sleep(float(2 ** (attempt - 1)))
        request = urllib.request.Request(url, headers=dict(headers), method="DELETE")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=DELETE_TIMEOUT_SECONDS):  # noqa: S310
                return None
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            problem = f"HTTP {error.code}"
            if error.code != 429 and error.code < 500:
                return problem
        except (urllib.error.URLError, OSError) as error:
            problem = f"unreachable ({error})"
    return problem


def undo(name: str, target: Target, created: Path) -> list[str]:
    """Delete, through the API, every resource a step recorded (each once), as the verifying client (it
    holds every scope), at the rate the stage lets it send. Returns what is left, each with why."""
    paths = list(dict.fromkeys(created.read_text(encoding="utf-8").split())) if created.is_file() else []
    if not paths:
        return []
    contract = get_contract()
    try:
        headers = {"Authorization": f"Bearer {request_token(target.credentials)['access_token']}"}
    except TokenRequestFailed as error:
        left = [f"{path} (no token: {error})" for path in paths]
    else:
        if contract.api_key_header is not None:
            headers[contract.api_key_header] = target.api_key
        left = []
        for index, path in enumerate(paths):
            if index:
                time.sleep(1 / max(target.rate_per_second, 1.0))
            problem = _delete(target.url + path, headers)
            if problem is not None:
                left.append(f"{path} ({problem})")
    print(
        f"verify: {name}: deleted {len(paths) - len(left)} of the {len(paths)} resources it created",
        flush=True,
    )
    for line in left:
        print(f"verify: {name}: left behind: {line}", flush=True)
    return left


# What verify adds to schemathesis.toml: no phase fills a request with values read from earlier
# answers (schemathesis' default reuses, say, a listed user's id for a PATCH or DELETE). On a deployed
# stage those are real users; verify writes only to what it created (`foreign_write`, the hook).
VERIFY_CONFIG = """
[phases.examples.extra-data-sources]
responses = false

[phases.coverage.extra-data-sources]
responses = false
"""
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def verify_config(reports: Path) -> Path:
    """schemathesis.toml with VERIFY_CONFIG appended, for the contract step."""
    config = reports / "verify-schemathesis.toml"
    config.write_text(
        (ROOT / "schemathesis.toml").read_text(encoding="utf-8") + VERIFY_CONFIG, encoding="utf-8"
    )
    return config


def foreign_write(method: str, template: str, parameters: Mapping[str, Any]) -> bool:
    """Whether a request would change a resource this step did not create: a write addressed to one
    (its path has parameters) that is not among the resources recorded as created. The contract
    step's hook sends such a request to a resource that does not exist instead."""
    if method.upper() in READS or not parameters:
        return False
    contract = get_contract()
    operation = next(
        (op for op in contract.operations if op.method == method.upper() and op.path == template), None
    )
    if operation is None:
        return False
    path = operation.url(
        **{key: urllib.parse.quote(str(value), safe="") for key, value in parameters.items()}
    )
    record = os.environ.get(CREATED)
    created = Path(record).read_text(encoding="utf-8").split() if record and Path(record).is_file() else []
    return path not in created


def contract_step(target: Target, env: Mapping[str, str], reports: Path) -> StepResult:
    report = reports / f"verify-{target.stage}-schemathesis.xml"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(verify_config(reports)),
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
    return _run(
        "contract", command, {**env, "SCHEMATHESIS_HOOKS": "local.verify_contract_hooks"}, report, target
    )


def load_step(target: Target, env: Mapping[str, str], reports: Path) -> StepResult:
    html = reports / f"verify-{target.stage}-load.html"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        f"{ROOT / 'loadtest'},{ROOT / 'local' / 'verify_load_hooks.py'}",
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
    return _run("load", command, {**env, "STAGE": target.stage}, html, target)


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
    from infra.config import StageError
    from local.with_stage import stop_on_sigterm
    from service.settings import SettingsError

    stop_on_sigterm()  # a SIGTERM stops the running step, deletes what it created, stops a local stage
    target_of = local_target if args.stage == LOCAL else deployed_target
    try:
        with target_of(args.stage) as target:
            results = verify(target, args.reports)
            print(summary(target.stage, target.url, results), flush=True)
    except (StageAccessError, StageError, SettingsError, TokenRequestFailed, KeyError) as error:
        print(f"verify, stage {args.stage}: FAIL (cannot start: {error})", file=sys.stderr)
        return 1
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
