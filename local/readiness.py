"""Wait until a process we started answers: the one readiness loop of the local tooling."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable


class NotReady(RuntimeError):
    """The process exited, or did not answer in time; the message says which."""


def wait_until(
    answers: Callable[[], bool],
    *,
    what: str,
    timeout: float = 60.0,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `answers()` (exceptions count as "not yet") until it is true; fail fast if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise NotReady(f"{what} exited with code {process.returncode}")
        try:
            if answers():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"{what} did not answer within {timeout:g} s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """A probe: GET `url` answers 200."""

    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URLs we built
            return bool(response.status == 200)

    return probe
