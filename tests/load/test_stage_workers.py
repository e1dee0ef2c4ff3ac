"""The local stage can serve the app from several uvicorn workers, which share the issuer's key, and
stops all of them; a run against a stage started for it (`local.with_stage`) that is ended by a
SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from consumers.token import full_access_client, local_credentials, request_token
from loadtest._host import children, command_line, stage_role
from local.with_stage import running_stage
from service.settings import load_settings
from tests.processes import alive, stop_left_behind

pytestmark = pytest.mark.load


def test_a_stage_with_two_app_workers_serves_and_stops_every_process() -> None:
    started: list[int] = []
    with running_stage(env={"STAGE_WORKERS": "2"}, on_start=started.append) as base:
        for _ in range(4):
            with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
                assert response.status == 200
        # Tokens from whichever worker answers the token request hold at every other: one key.
        for _ in range(6):
            token = request_token(local_credentials(full_access_client(), base))["access_token"]
            listing = urllib.request.Request(
                f"{base}/users?limit=1",
                headers={
                    "Authorization": f"Bearer {token}",
                    "x-api-key": load_settings("local").service.api_key,
                },
            )
            with urllib.request.urlopen(listing, timeout=10) as response:
                assert response.status == 200
        processes = children(started[0])
        roles = [stage_role(command_line(pid)) for pid in processes]
        workers = [pid for pid in processes if "multiprocessing.spawn" in command_line(pid)]

    # The stage starts its own engine unless the session points it at one (DYNAMODB_ENDPOINT).
    assert roles.count("engine") == (0 if os.environ.get("DYNAMODB_ENDPOINT") else 1)
    assert len(workers) == 2
    assert not alive([started[0], *processes])


def test_a_sigterm_to_a_run_stops_its_command_its_stage_and_the_engine() -> None:
    command = "import os, time; print(os.getpid(), os.environ['STAGE_PID'], flush=True); time.sleep(300)"
    run = subprocess.Popen(
        [sys.executable, "-m", "local.with_stage", "--", sys.executable, "-c", command],
        stdout=subprocess.PIPE,
        text=True,
    )
    processes: list[int] = []
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        while line.startswith("local stage on"):
            line = run.stdout.readline()
        command_pid, stage_pid = (int(part) for part in line.split())
        processes += [command_pid, stage_pid, *children(stage_pid)]
        engines = [pid for pid in processes if stage_role(command_line(pid)) == "engine"]
        assert len(engines) == (0 if os.environ.get("DYNAMODB_ENDPOINT") else 1)

        run.send_signal(signal.SIGTERM)

        assert run.wait(timeout=60) == 128 + signal.SIGTERM
        assert not alive(processes)
    finally:
        stop_left_behind(run, processes)
