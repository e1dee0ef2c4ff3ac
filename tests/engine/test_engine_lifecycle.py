"""The engine's process (local.engine's LocalEngine, started by the local stage or the tests): it
lives exactly as long as whoever started it, whatever signal arrives and whenever."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.token import full_access_client, local_credentials, request_token
from loadtest._host import children, command_line, stage_role
from local.engine import HOST, LocalEngine, free_port
from local.readiness import NotReady, http_ok, wait_until
from service.settings import load_settings
from tests.processes import alive

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

        # The engine's stop waits up to 10 s for it before killing it; a loaded machine adds to that.
        stage.process.wait(timeout=60)
        assert not alive([engine])


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
        assert not alive(started)
    finally:
        for pid in alive(started, wait_seconds=0):
            os.kill(pid, signal.SIGKILL)


def test_the_engine_runs_in_a_process_group_of_its_own() -> None:
    """A terminal's Ctrl-C signals its foreground process group: the engine is not in its starter's."""
    with LocalEngine() as engine:
        assert engine.pid is not None
        assert os.getpgid(engine.pid) != os.getpgid(0)
        assert os.getsid(engine.pid) != os.getsid(0)


def test_ctrl_c_to_the_stage_lets_the_requests_in_flight_reach_the_engine() -> None:
    """Ctrl-C signals the terminal's whole foreground group; uvicorn then answers the requests in flight
    before it stops, and only then does the stage stop its engine: none of them answers 503."""
    with _stage(start_new_session=True) as stage:  # its own group, as a terminal's foreground job
        base = f"http://{HOST}:{stage.port}"
        wait_until(http_ok(f"{base}/health"), what="the stage", timeout=60, process=stage.process)
        engine = stage.engine()
        token = request_token(local_credentials(full_access_client(), base))["access_token"]
        body = json.dumps({"name": "Ada", "email": f"ctrl-c-{uuid.uuid4()}@example.com"}).encode()
        head = (
            f"POST /users HTTP/1.1\r\nHost: {HOST}:{stage.port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"x-api-key: {load_settings('local').service.api_key}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        with socket.create_connection((HOST, stage.port), timeout=30) as request:
            request.sendall(head + body[:1])  # in flight: the app waits for the rest of the body
            time.sleep(0.5)
            assert os.getpgid(stage.process.pid) == stage.process.pid  # never our own group
            os.killpg(stage.process.pid, signal.SIGINT)
            alive([engine], wait_seconds=1.5)  # an engine that got the Ctrl-C is gone by then
            request.sendall(body[1:])
            answer = b"".join(iter(lambda: request.recv(65536), b""))

        assert answer.split(b" ", 2)[1] == b"201", answer.decode(errors="replace")
        stage.process.wait(timeout=30)
        assert not alive([engine])


def test_an_engine_whose_starter_dies_exits() -> None:
    """In a session of its own, the engine gets no signal meant for its starter's group (a `timeout`'s,
    a terminal's): when its starter dies without stopping it (SIGKILL), it exits by itself."""
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER],
        cwd=Path(__file__).resolve().parents[2],
        env=STAGE_ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = 0
    try:
        assert starter.stdout is not None
        engine = int(starter.stdout.readline())
        assert alive([engine], wait_seconds=0)

        starter.kill()
        starter.wait()

        assert not alive([engine])
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        for pid in alive([engine] if engine else [], wait_seconds=0):
            os.kill(pid, signal.SIGKILL)


STARTER = """
import time
from local.engine import LocalEngine
print(LocalEngine().start().pid, flush=True)
time.sleep(300)
"""


def test_an_engine_whose_port_is_taken_fails_to_start_instead_of_using_the_other() -> None:
    """free_port() lets the port go before the engine binds it, and another process may take it:
    the engine then cannot listen, and start() says so instead of returning an engine whose endpoint
    answers with the other process's tables."""
    with LocalEngine() as first:
        second = LocalEngine(port=first.port)
        try:
            with pytest.raises(NotReady, match=f"port {first.port}"):
                second.start()
            assert not second.running
        finally:
            second.stop()
        assert first.running and first.answers()


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
        for pid in alive(stage.started, wait_seconds=0):  # what a failed test left behind
            os.kill(pid, signal.SIGKILL)
