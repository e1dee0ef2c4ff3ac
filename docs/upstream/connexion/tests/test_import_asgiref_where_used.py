"""Patch 0006: asgiref is imported by the one code path that uses it.

Upstream home: tests/test_lazy_imports.py (with 0001's tests) or tests/decorators/test_main.py.
connexion 3.3.0 imports `asgiref.sync` with `connexion.decorators.main`, for `async_to_sync`,
which only a WSGI app (FlaskApp) calls, to run a view that is a coroutine function. An AsyncApp
imports asgiref at start-up and never uses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

SERVE_ONE_REQUEST = textwrap.dedent(
    """
    import asyncio, json, sys

    from connexion import AsyncApp
    from conftest import spec

    app = AsyncApp(__name__)
    app.add_api(spec())

    async def serve():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/hello", "raw_path": b"/hello", "root_path": "",
            "query_string": b"", "headers": [(b"host", b"test")], "server": ("test", 80),
        }
        await app(scope, receive, send)
        return sent[0]["status"]

    status = asyncio.run(serve())
    asgiref = sorted(name for name in sys.modules if name.startswith("asgiref"))
    print(json.dumps({"status": status, "asgiref": asgiref}))
    """
)


def test_an_async_app_serving_a_request_does_not_import_asgiref() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", SERVE_ONE_REQUEST], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(completed.stdout)
    assert result["status"] == 200
    assert result["asgiref"] == []


def test_a_wsgi_app_still_runs_a_coroutine_view_to_completion() -> None:
    """What FlaskApp's decorator does with a view (a FlaskApp itself needs the flask extra)."""
    import views
    from connexion.decorators.main import WSGIDecorator

    sync_async = WSGIDecorator._sync_async_decorator.fget(None)

    assert sync_async(views.hello_async)() == {"hello": "from a coroutine"}
    assert "asgiref.sync" in sys.modules  # imported by the view's call, where it is used
    assert sync_async(views.hello)() == {"hello": "world"}
