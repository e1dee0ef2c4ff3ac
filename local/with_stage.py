"""Run a command against a local stage started for it, then stop the stage.

    python -m local.with_stage -- schemathesis run ... '$STAGE_URL'

The stage (`python -m local.stage`, what `make run` runs) gets a free port; the command
sees its base URL in $STAGE_URL, its API key in $API_KEY, the stage's process id in $STAGE_PID
(the load summary reports the stage's CPU from it) and, for a client of the stage holding every
scope of the contract, an access token in $ACCESS_TOKEN and the client's credentials in
$TOKEN_URL, $CLIENT_ID and $CLIENT_SECRET. The exit code is the command's. A SIGTERM stops the
command, then the stage and its engine (exit code 143).
`running_stage()` does the same for Python callers (tests).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import FrameType

from local.engine import HOST, free_port
from local.readiness import http_ok, wait_until
from service.contract import get_contract

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@contextlib.contextmanager
def running_stage(
    env: dict[str, str] | None = None, port: int | None = None, on_start: Callable[[int], None] | None = None
) -> Iterator[str]:
    """Start `python -m local.stage` on a free port, yield its base URL, stop it by PID.

    `on_start` gets the stage's PID (the app's process; the engine and any app workers are its children)."""
    port = port or free_port()
    base = f"http://{HOST}:{port}"
    health = base + get_contract().operation("getHealth").path
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.stage", "--port", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
    )
    try:
        if on_start is not None:
            on_start(process.pid)
        wait_until(
            http_ok(health), what=f"the local stage on {base}", timeout=READY_TIMEOUT_SECONDS, process=process
        )
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a process to stop (SIGTERM), give it time to stop what it started, then kill it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def stop_on_sigterm() -> None:
    """From now on a SIGTERM (a timeout's, CI's, make's) raises SystemExit(143) in the main thread, as
    Ctrl-C raises KeyboardInterrupt: the `finally` blocks run and stop what this process started (a
    command, the stage and its engine). Python's default would end this process alone and leave
    them running."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = [part for part in args.command if part != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    from consumers.token import credential_variables, full_access_client, local_credentials, request_token
    from service.settings import load_settings

    api_key = load_settings("local").service.api_key
    stop_on_sigterm()  # a SIGTERM stops the command, then the stage and its engine
    started: list[int] = []
    with running_stage(on_start=started.append) as base:
        # A consumer allowed every operation: its credentials (Locust refreshes its tokens) and a token.
        credentials = local_credentials(full_access_client(), base)
        env = {
            **os.environ,
            "STAGE_URL": base,
            "STAGE_PID": str(started[0]),
            "API_KEY": os.environ.get("API_KEY", api_key),
            **credential_variables(credentials),
            "ACCESS_TOKEN": request_token(credentials)["access_token"],
        }
        command = [part.replace("$STAGE_URL", base) for part in command]
        print(f"local stage on {base}", flush=True)
        process = subprocess.Popen(command, env=env)  # noqa: S603 - the developer's own command
        try:
            return process.wait()
        finally:
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
