"""The engine's process (local.engine's LocalEngine, started by the local stage or the tests): it
lives exactly as long as whoever started it, whatever signal arrives and whenever."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest._host import children, command_line, stage_role
from local.engine import LocalEngine, free_port

pytestmark = pytest.mark.integration

# The stage starts its own engine here, whatever engine the session uses.
STAGE_ENV = {name: value for name, value in os.environ.items() if name != "DYNAMODB_ENDPOINT"}


def test_a_sigterm_while_the_stage_starts_its_engine_stops_the_engine() -> None:
    """The stage's SIGTERM handler raises SystemExit wherever the stage is, also while it waits for its
    engine to answer: that engine must not outlive it."""
    started = time.monotonic()
    with _stage(start_new_session=False) as stage:
        engine = stage.engine()
        # About 0.8 s after the start, and before the engine answers (it imports moto for longer).
        time.sleep(max(0.0, 0.8 - (time.monotonic() - started)))
        stage.process.send_signal(signal.SIGTERM)

        stage.process.wait(timeout=30)
        assert not _alive([engine])


def test_an_engine_interrupted_while_it_starts_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = LocalEngine()
    started: list[int] = []

    def interrupted() -> bool:  # what a signal's handler raises while start() waits for an answer
        assert engine.pid is not None
        started.append(engine.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "answers", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.start()
        assert not engine.running
        assert not _alive(started)
    finally:
        for pid in _alive(started, wait_seconds=0):
            os.kill(pid, signal.SIGKILL)


@dataclasses.dataclass
class Stage:
    process: subprocess.Popen[bytes]
    port: int
    started: list[int] = dataclasses.field(default_factory=list)  # the processes it started, once seen

    def engine(self, timeout: float = 30.0) -> int:
        """The PID of the stage's engine, as soon as the stage has started it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.started += [pid for pid in children(self.process.pid) if pid not in self.started]
            engines = [pid for pid in self.started if stage_role(command_line(pid)) == "engine"]
            if engines:
                return engines[0]
            assert self.process.poll() is None, f"the stage exited with code {self.process.returncode}"
            time.sleep(0.01)
        raise AssertionError(f"the stage started no engine within {timeout:g} s")


@contextlib.contextmanager
def _stage(*, start_new_session: bool) -> Iterator[Stage]:
    """`python -m local.stage` on a free port; afterwards, it and what it started are ended by PID."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stage", "--port", str(port)],
        env=STAGE_ENV,
        stdout=subprocess.DEVNULL,
        start_new_session=start_new_session,
    )
    stage = Stage(process, port)
    try:
        yield stage
    finally:
        stage.started += children(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in _alive(stage.started, wait_seconds=0):  # what a failed test left behind
            os.kill(pid, signal.SIGKILL)


def _alive(pids: list[int], wait_seconds: float = 10.0) -> list[int]:
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
