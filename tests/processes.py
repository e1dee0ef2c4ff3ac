"""Processes the tests start, and whether they still run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


def alive(pids: list[int], wait_seconds: float = 10.0) -> list[int]:
    """The processes still running (not gone, not a zombie) after up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        running = [pid for pid in pids if _state(pid) not in ("", "Z")]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def stop_left_behind(run: subprocess.Popen[Any], processes: list[int]) -> None:
    """After a test of `run`'s shutdown, whatever its outcome: stop `run` and what a failed run left."""
    if run.poll() is None:
        run.kill()
        run.wait()
    for pid in alive(processes, wait_seconds=0):
        os.kill(pid, signal.SIGTERM)
