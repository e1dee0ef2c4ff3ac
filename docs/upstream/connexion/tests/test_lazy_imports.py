"""Patch 0001: optional dependencies are imported where they are used.

Upstream home: tests/test_lazy_imports.py (new). The first test fails on connexion 3.3.0;
the others pin down that each moved import still works when its feature is used.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import secured_spec, spec
from connexion import AsyncApp
from connexion.security import OAuthSecurityHandler
from connexion.spec import Specification

HERE = Path(__file__).resolve().parent

# What an AsyncApp serving requests must not import (connexion installed without the flask extra).
OPTIONAL = ("starlette.testclient", "httpx", "requests", "jinja2", "werkzeug", "yaml")

SERVE_ONE_REQUEST = textwrap.dedent(
    """
    import asyncio, json, sys

    sys.modules["flask"] = None  # connexion installed without its "flask" extra

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
    print(json.dumps({"status": status, "modules": sorted(set(sys.modules) & set(sys.argv[1:]))}))
    """
)


def serve_one_request(*modules: str) -> dict[str, Any]:
    """An AsyncApp serving one request in a fresh interpreter: its status, and which of `modules` it
    imported by then."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", SERVE_ONE_REQUEST, *modules],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_async_app_serving_requests_imports_no_optional_dependency() -> None:
    result = serve_one_request(*OPTIONAL)
    assert result["status"] == 200
    assert result["modules"] == []


def test_test_client_still_available() -> None:
    app = AsyncApp(__name__)
    app.add_api(spec())
    response = app.test_client().get("/hello")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}


def test_swagger_ui_still_rendered() -> None:
    pytest.importorskip("swagger_ui_bundle")
    app = AsyncApp(__name__)
    app.add_api(spec())
    response = app.test_client().get("/ui/")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


def test_spec_file_still_rendered_with_jinja2_arguments(tmp_path: Path) -> None:
    document = spec()
    document["info"]["title"] = "{{ title }}"
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    loaded = Specification.load(path, arguments={"title": "rendered"})
    assert loaded.raw["info"]["title"] == "rendered"


def test_yaml_spec_file_and_its_file_refs_still_loaded(tmp_path: Path) -> None:
    (tmp_path / "greeting.yaml").write_text(
        "type: object\nproperties:\n  hello: {type: string}\n", encoding="utf-8"
    )
    path = tmp_path / "openapi.yaml"
    path.write_text(
        textwrap.dedent(
            """
            openapi: 3.0.3
            info: {title: from yaml, version: "1"}
            paths:
              /hello:
                get:
                  operationId: views.hello
                  responses:
                    "200":
                      description: ok
                      content:
                        application/json:
                          schema: {$ref: "greeting.yaml"}
            """
        ),
        encoding="utf-8",
    )
    loaded = Specification.load(path)
    schema = loaded["paths"]["/hello"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"] == {"hello": {"type": "string"}}


def test_spec_still_served_as_yaml_and_the_loader_still_importable() -> None:
    from connexion.json_schema import ExtendedSafeLoader  # type: ignore[attr-defined,unused-ignore]
    from connexion.utils import yamldumper

    app = AsyncApp(__name__)
    app.add_api(spec())
    response = app.test_client().get("/openapi.yaml")
    assert response.status_code == 200
    assert "title: patch tests" in response.text
    assert "hello: world" in yamldumper({"hello": "world"})
    assert issubclass(ExtendedSafeLoader, __import__("yaml").SafeLoader)


class _Handler(http.server.BaseHTTPRequestHandler):
    body: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        payload = json.dumps(self.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"body": {}})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_spec_still_loaded_from_url(http_server: tuple[str, type[_Handler]]) -> None:
    url, handler = http_server
    handler.body = spec()
    loaded = Specification.load(f"{url}/openapi.json")
    assert loaded.version == (3, 0, 3)


def test_remote_token_info_still_fetched(http_server: tuple[str, type[_Handler]]) -> None:
    url, handler = http_server
    handler.body = {"sub": "ada", "scope": ["read"]}
    token_info = OAuthSecurityHandler().get_token_info_remote(f"{url}/tokeninfo")
    assert asyncio.run(token_info("a-token")) == {"sub": "ada", "scope": ["read"]}


def test_context_proxy_outside_of_a_request_raises() -> None:
    from connexion.context import context, operation

    with pytest.raises(RuntimeError, match="outside of operation context"):
        context["user"]
    with pytest.raises(RuntimeError, match="outside of operation context"):
        operation.method  # noqa: B018 - the access is the test
    assert not context
    assert "unbound" in repr(context)


def test_context_proxy_forwards_to_the_current_value() -> None:
    from connexion.context import ContextProxy  # type: ignore[attr-defined,unused-ignore]

    var: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("test")
    proxy: Any = ContextProxy(var)

    def inside() -> None:
        var.set({"user": "ada"})
        assert proxy["user"] == "ada"
        proxy["scope"] = "read"
        assert "scope" in proxy
        assert len(proxy) == 2
        assert sorted(proxy) == ["scope", "user"]
        assert proxy.get("missing", 1) == 1
        assert isinstance(proxy, dict)
        assert proxy == {"user": "ada", "scope": "read"}
        assert bool(proxy)
        del proxy["scope"]
        assert repr(proxy) == repr({"user": "ada"})
        copied = copy.copy(proxy)
        assert type(copied) is dict
        assert copied == {"user": "ada"}
        assert type(copy.deepcopy(proxy)) is dict

    contextvars.copy_context().run(inside)
    with pytest.raises(RuntimeError):
        proxy["user"]


def test_context_and_request_available_in_views() -> None:
    app = AsyncApp(__name__)
    app.add_api(secured_spec("/whoami", "views.whoami"))
    response = app.test_client().get("/whoami", headers={"X-Key": "secret"})
    assert response.status_code == 200
    assert response.json() == {"user": "ada", "method": "GET"}
