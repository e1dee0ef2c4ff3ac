"""Locust runs of loadtest/ against local stages: the smoke profile passes the alarm thresholds on a
healthy stage, the same run fails the gate on a stage whose engine is down, a short capacity ramp
(worker processes) judges its steps and stops itself, and a mix that lacks an operation of the
contract stops Locust at init, naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.token import credential_variables, full_access_client, local_credentials
from loadtest._settings import load_run_settings as load_settings
from local.dynamodb_admin import admin_client
from local.engine import LocalEngine
from local.invariants import violations
from local.with_stage import running_stage
from service.contract import get_contract

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_SECONDS = 90


def run_locust(
    host: str, reports: Path, *extra: str, cwd: Path = ROOT, root: Path = ROOT, profile: str = "smoke"
) -> subprocess.CompletedProcess[str]:
    """`locust -f loadtest/ --headless --profile smoke` as a developer runs it, bounded in time."""
    env = {
        **os.environ,
        "API_KEY": load_settings("local").service.api_key,
        **credential_variables(local_credentials(full_access_client(), host)),
        "STAGE": "local",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "locust", "-f", str(root / "loadtest"), "--host", host]
    command += ["--headless", "--profile", profile, "--only-summary"]
    command += ["--html", str(reports / f"{profile}.html"), "--csv", str(reports / profile), *extra]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )


def project_copy(target: Path, edit_load: Callable[[dict[str, Any]], None]) -> Path:
    """What loadtest/ reads (service, infra, consumers, loadtest, the contract), with settings.yaml's
    `load` edited."""
    for folder in ("service", "infra", "consumers", "loadtest"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "openapi.yaml", target / "openapi.yaml")
    settings = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    edit_load(settings["defaults"]["load"])
    (target / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return target


@pytest.fixture
def engine() -> Iterator[LocalEngine]:
    """An engine of the test's own, so the stage does not share the session's table."""
    with LocalEngine() as own:
        yield own


def test_smoke_run_on_the_local_stage_passes_every_alarm_threshold(
    engine: LocalEngine, tmp_path: Path
) -> None:
    with running_stage(env={"DYNAMODB_ENDPOINT": engine.endpoint}) as base:
        run = run_locust(base, tmp_path, cwd=tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "load gate, profile smoke, stage local: PASS" in run.stdout
    assert "BREACH" not in run.stdout
    summary = next(line for line in run.stdout.splitlines() if line.strip().startswith("requests "))
    requests = int(summary.split()[1].rstrip(","))
    assert requests >= load_settings("local").alarms.min_requests, summary  # what the alarms judge
    assert "failures 0 (0.00%), 5XX 0" in summary
    assert (tmp_path / "smoke.html").stat().st_size > 0
    assert (tmp_path / "smoke_stats.csv").read_text().count("\n") > 2
    # What the run wrote leaves the table consistent (one email guard per user, none orphaned,
    # no idempotency record of a deleted user).
    table = load_settings("local").service.table_name
    assert violations(admin_client(engine.endpoint), table) == []


def test_smoke_run_on_a_stage_whose_engine_is_down_breaches_the_thresholds_and_exits_non_zero(
    engine: LocalEngine, tmp_path: Path
) -> None:
    alarms = load_settings("local").alarms
    with running_stage(env={"DYNAMODB_ENDPOINT": engine.endpoint}) as base:
        engine.stop()  # the stage is up, its table is gone: every request gets 503
        run = run_locust(base, tmp_path)

    assert run.returncode != 0, run.stdout + run.stderr
    assert "load gate, profile smoke, stage local: FAIL" in run.stdout
    assert f"BREACH alarms.error_rate_percent: measured 100 %, limit {alarms.error_rate_percent:g} %" in (
        run.stdout
    )
    assert "BREACH alarms.five_xx_count: measured " in run.stdout
    assert f"limit {alarms.five_xx_count}\n" in run.stdout


def test_a_short_capacity_ramp_judges_each_step_from_its_workers_and_stops_itself(
    engine: LocalEngine, tmp_path: Path
) -> None:
    def two_short_steps(load: dict[str, Any]) -> None:
        load.update(capacity_step_rate=2, capacity_step_seconds=3, capacity_max_rate=4)

    project = project_copy(tmp_path / "project", two_short_steps)
    with running_stage(env={"DYNAMODB_ENDPOINT": engine.endpoint}) as base:
        run = run_locust(base, tmp_path, "--processes", "2", cwd=tmp_path, root=project, profile="capacity")

    output = run.stdout + run.stderr
    steps = [line.split() for line in run.stdout.splitlines() if line.startswith("  step ")]
    assert all(int(step[step.index("requests") + 1]) > 0 for step in steps), output  # workers' requests
    knee = next(line for line in run.stdout.splitlines() if line.startswith("capacity knee: "))
    if knee == "capacity knee: none, the first step already breaches":
        # A busy machine can keep a 3 s first step (workers starting, tokens fetched) under its rate:
        # then the ramp stops there, judged, and says so by its exit code.
        assert [step[3] for step in steps] == ["2.0/s"] and "BREACH" in steps[0], output
        assert run.returncode == 1, output
    else:
        assert [step[3] for step in steps] == ["2.0/s", "4.0/s"], output
        assert run.returncode == 0, output
    assert "load gate" not in run.stdout  # a ramp is meant to breach at its end: no alarm gate


def test_a_mix_without_a_weight_for_an_operation_stops_locust_at_init_naming_it(tmp_path: Path) -> None:
    """On a copy of the project whose settings.yaml lacks one operation's weight (as after adding
    an operation to the contract and nothing else): exit code 2, no request sent."""
    dropped = get_contract().operations[-1]
    project = project_copy(tmp_path, lambda load: load["mix"].pop(dropped.operation_id))

    run = run_locust("http://127.0.0.1:9", tmp_path, cwd=tmp_path, root=project)

    assert run.returncode == 2, run.stdout + run.stderr
    assert f"setting load.mix.{dropped.operation_id}: missing" in run.stderr
    assert f"({dropped.method} {dropped.path} has none" in run.stderr
    assert "load gate" not in run.stdout
