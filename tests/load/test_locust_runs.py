"""Locust runs of loadtest/ against local stages: the smoke profile passes the alarm thresholds on a
healthy stage, the same run fails the gate on a stage whose engine is down, a short capacity ramp
(worker processes) judges its steps and stops itself, and a mix that lacks an operation of the
contract stops Locust at init, naming it."""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.token import credential_variables, full_access_client, local_credentials
from loadtest._settings import load_run_settings as load_settings
from local.dynamodb_admin import admin_client
from local.engine import LocalEngine, free_port
from local.invariants import violations
from local.with_stage import running_stage
from service.contract import get_contract

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_SECONDS = 90


def locust_command(
    host: str, reports: Path, *extra: str, root: Path = ROOT, profile: str = "smoke"
) -> tuple[list[str], dict[str, str]]:
    """`locust -f loadtest/ --headless --profile smoke` as a developer runs it, and its environment."""
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
    return command, env


def run_locust(
    host: str, reports: Path, *extra: str, cwd: Path = ROOT, root: Path = ROOT, profile: str = "smoke"
) -> subprocess.CompletedProcess[str]:
    """`locust_command`, run to its end, bounded in time."""
    command, env = locust_command(host, reports, *extra, root=root, profile=profile)
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )


def worker_processes(count: int, port: int) -> list[str]:
    """What `make load PROFILE=capacity` adds (Makefile, LOAD_PROCESS_ARGS): Locust's worker processes,
    their master on the loopback only, on a free port its workers are told."""
    return [
        *("--processes", str(count), "--master-bind-host", "127.0.0.1"),
        *("--master-bind-port", str(port), "--master-port", str(port)),
    ]


TCP_LISTEN = "0A"  # the `st` of a listening socket in /proc/net/tcp


def listening(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on `port` (Linux: /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == TCP_LISTEN and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)  # in 32-bit words, each little-endian
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


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
    port = free_port()
    bound: set[str] = set()
    with running_stage(env={"DYNAMODB_ENDPOINT": engine.endpoint}) as base:
        command, env = locust_command(
            base, tmp_path, *worker_processes(2, port), root=project, profile="capacity"
        )
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
            while process.poll() is None and not bound and time.monotonic() < deadline:
                bound = listening(port)  # the master's port, while it runs
                time.sleep(0.1)
            stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    run = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    output = run.stdout + run.stderr
    assert bound == {"127.0.0.1"}, (bound, output)  # its workers' port, on the loopback only
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


def make_load_command(*variables: str) -> list[str]:
    """The Locust command line `make load` runs, as `make -n` prints it (nothing is run)."""
    run = subprocess.run(
        ["make", "-n", "--no-print-directory", "load", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    script = run.stdout.replace("\\\n", " ")
    line = next(line for line in script.splitlines() if "/locust " in line)
    return shlex.split(line)


@pytest.mark.parametrize("host", ["", "https://api.example/dev"])
def test_make_load_capacity_binds_its_workers_port_to_the_loopback_on_a_free_port(host: str) -> None:
    words = make_load_command("PROFILE=capacity", f"HOST={host}")
    assert words[words.index("--master-bind-host") + 1] == "127.0.0.1"
    bind_port, master_port = (
        words[words.index("--master-bind-port") + 1],
        words[words.index("--master-port") + 1],
    )
    assert bind_port == master_port == "$LOAD_MASTER_PORT"  # one port, picked once
    assert words[0] == "LOAD_MASTER_PORT=$(.venv/bin/python" and "free_port()" in " ".join(words[:6])
    assert "--processes" in words


def test_make_load_of_a_single_process_profile_runs_no_workers() -> None:
    words = make_load_command("PROFILE=daily")
    assert "--processes" not in words and "--master-bind-port" not in words


def test_the_locustfile_binds_what_locust_serves_to_the_loopback_by_default() -> None:
    """Without --web-host or --master-bind-host (a run by hand), the web UI and a --processes master
    listen on 127.0.0.1, not on every interface (Locust's own default)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import locust.main; import loadtest.locustfile; "
        "from locust.argument_parser import parse_options; "
        "o = parse_options(['-f', sys.argv[1] + '/loadtest']); print('bound', o.web_host, o.master_bind_host)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    run = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    bound = next(line for line in run.stdout.splitlines() if line.startswith("bound "))
    assert bound.split() == ["bound", "127.0.0.1", "127.0.0.1"], run.stdout + run.stderr
