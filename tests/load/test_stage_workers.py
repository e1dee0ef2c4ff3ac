"""The local stage can serve the app from several uvicorn workers, and stops all of them."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest

from loadtest._host import children, command_line, stage_role
from local.with_stage import running_stage

pytestmark = pytest.mark.load


def test_a_stage_with_two_app_workers_serves_and_stops_every_process() -> None:
    started: list[int] = []
    with running_stage(env={"STAGE_WORKERS": "2"}, on_start=started.append) as base:
        for _ in range(4):
            with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
                assert response.status == 200
        processes = children(started[0])
        roles = [stage_role(command_line(pid)) for pid in processes]
        workers = [pid for pid in processes if "multiprocessing.spawn" in command_line(pid)]

    # The stage starts its own engine unless the session points it at one (DYNAMODB_ENDPOINT).
    assert roles.count("engine") == (0 if os.environ.get("DYNAMODB_ENDPOINT") else 1)
    assert len(workers) == 2
    assert not alive([started[0], *processes])


def alive(pids: list[int], wait_seconds: float = 10.0) -> list[int]:
    """The processes still running (not gone, not a zombie) after up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        running = [pid for pid in pids if _state(pid) not in ("", "Z")]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
