"""The embedded DynamoDB-compatible engine: moto server, single-threaded, on 127.0.0.1.

Single-threaded because moto 5.2.x answers concurrent TransactWriteItems with HTTP 500
(see ../shared/design.md). Run it as its own process: `python -m local.engine --port N`;
`LocalEngine` starts and stops that process for the local stage and the tests.

At start-up the engine process makes moto fit for a day of traffic, at its own boundary
(development tooling; nothing here ships):
- transactions keep an undo log instead of deep-copying each table they touch
  (local/moto_undo.py, the patch proposed upstream in docs/upstream/moto/);
- queries read their partition in an order kept per secondary index, instead of sorting the
  whole table for every page (local/moto_index.py, the second patch proposed upstream);
- moto's dashboard references to every model instance are released after each request
  (moto's own `reset_model_data()`), so memory stays flat;
- TransactWriteItems' ClientRequestToken is honoured as DynamoDB does (local/engine_wsgi.py).
- answers write one-scalar attribute values directly instead of through every member of the
  generic serializer (local/moto_responses.py).
- what survives is frozen out of the collector's full passes as the tables grow
  (local/collector.py).
`--stock` serves moto exactly as installed (the conformance tests compare the two).

Readiness and reset go through the DynamoDB API only (local/dynamodb_admin.py), so the tests
treat this engine and any other one (DYNAMODB_ENDPOINT) the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from local.readiness import NotReady, wait_until

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HOST = "127.0.0.1"
LISTENING = b"listening\n"  # what the engine writes on --ready-fd once it holds its port


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def application(stock: bool = False) -> Any:
    """moto server's WSGI app; unless `stock`, with the engine's fixes installed around it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app: Any = DomainDispatcherApplication(create_backend_app)
    if stock:
        return app
    from local import moto_index
    from local.collector import FreezeSurvivorsWSGI
    from local.engine_wsgi import ClientRequestTokens, ReleaseTrackedInstances

    moto_index.install()
    return FreezeSurvivorsWSGI(ReleaseTrackedInstances(ClientRequestTokens(app)))


def exit_when_orphaned(parent: int, interval: float = 0.5) -> None:
    """End this process as a SIGTERM does once `parent` is no longer its parent: the process that
    started the engine died without stopping it (a session of its own gets no signal of its group)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(port: int, stock: bool = False, parent: int | None = None, ready_fd: int | None = None) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server(  # binds the port, or exits with code 1 if another process holds it
        HOST,
        port,
        application(stock),
        threaded=False,
        request_handler=MotoRequestHandler,
    )
    if ready_fd is not None:  # LocalEngine.start(): the port is ours
        os.write(ready_fd, LISTENING)
        os.close(ready_fd)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if parent is not None:
        exit_when_orphaned(parent)
    kind = "stock moto" if stock else "moto with undo-log transactions and ordered indexes"
    print(f"engine ({kind}) listening on http://{HOST}:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _await_listening(
    ready: int, process: subprocess.Popen[bytes], what: str, port: int, deadline: float
) -> None:
    """Wait until the engine writes LISTENING on `ready` (it has bound its port), or fail: an engine
    that exits first could not bind it, as when another process holds the port."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotReady(f"{what} did not listen on port {port} in time")  # still importing moto
        readable, _, _ = select.select([ready], [], [], remaining)
        if not readable:
            continue
        if os.read(ready, len(LISTENING)) == LISTENING:
            return
        try:  # the pipe closed unwritten: the engine is exiting
            code: int | str = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = "unknown"
        raise NotReady(f"{what} exited with code {code} before it could listen: is port {port} in use?")


class Engine(Protocol):
    """What the tests need of an engine, whoever runs it."""

    @property
    def endpoint(self) -> str: ...

    @property
    def ssm_endpoint(self) -> str | None: ...


class ExternalEngine:
    """An engine someone else runs (by hand, or real DynamoDB), named by DYNAMODB_ENDPOINT.

    Never started nor stopped here. It serves SSM only if AWS_ENDPOINT_URL_SSM says where.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    @property
    def ssm_endpoint(self) -> str | None:
        return os.environ.get("AWS_ENDPOINT_URL_SSM") or None


class LocalEngine:
    """Start the engine in a child process (a session of its own, which exits by itself if this process
    dies), wait until it answers, stop it by its PID."""

    def __init__(self, port: int | None = None, *, stock: bool = False) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.stock = stock
        self._process: subprocess.Popen[bytes] | None = None
        self._client: DynamoDBClient | None = None

    @property
    def ssm_endpoint(self) -> str | None:
        """moto serves SSM on the same endpoint."""
        return self.endpoint

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from local.dynamodb_admin import admin_client

            self._client = admin_client(self.endpoint, timeout=1.0)
        return self._client

    def start(self, timeout: float = 30.0) -> LocalEngine:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "local.engine", "--port", str(self.port)]
        command += ["--parent", str(os.getpid())]  # it exits if this process dies without stopping it
        what = f"the local engine on {self.endpoint}"
        deadline = time.monotonic() + timeout
        # The engine says on this pipe that it holds its port: until then, whatever answers on the
        # port is another process (free_port() let the port go before the engine could bind it).
        ready, ready_in_child = os.pipe()
        try:
            try:
                self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [*command, "--ready-fd", str(ready_in_child), *(["--stock"] if self.stock else [])],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    pass_fds=(ready_in_child,),
                    # Not in our process group: a terminal's Ctrl-C signals its whole foreground group,
                    # and the engine must outlive the app's drain of its requests in flight; whoever
                    # started it stops it (the stage's finally, `with LocalEngine()`).
                    start_new_session=True,
                )
            finally:
                os.close(ready_in_child)
            _await_listening(ready, self._process, what, self.port, deadline)
            wait_until(
                self.answers,
                what=what,
                timeout=max(deadline - time.monotonic(), 0.0),
                process=self._process,
            )
            if self._process.poll() is not None:  # ready means: it answers, and it is ours and alive
                raise NotReady(f"{what} exited with code {self._process.returncode}")
        except BaseException:  # NotReady, and a signal's SystemExit or KeyboardInterrupt while it starts
            self.stop()
            raise
        finally:
            os.close(ready)
        return self

    def answers(self) -> bool:
        """The engine answers a DynamoDB call (no engine-specific API)."""
        from local.dynamodb_admin import answers

        return answers(self.client)

    def reset(self) -> None:
        """Drop every table (DynamoDB DeleteTable on each listed table)."""
        from local.dynamodb_admin import drop_tables

        drop_tables(self.client)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stock", action="store_true", help="moto exactly as installed (no engine fixes)")
    parser.add_argument(
        "--parent", type=int, default=None, help="exit once this process is no longer the parent (it died)"
    )
    parser.add_argument(
        "--ready-fd", type=int, default=None, help="write 'listening' to this file descriptor once bound"
    )
    args = parser.parse_args()
    serve(args.port or free_port(), stock=args.stock, parent=args.parent, ready_fd=args.ready_fd)


if __name__ == "__main__":
    main()
