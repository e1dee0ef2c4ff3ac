"""Patch 0008: an AsyncApp routes the paths its specification declares, and no others.

Upstream home: tests/api/test_bootstrap.py (an app's routing) or tests/test_middleware.py.
connexion 3.3.0 builds its routers with Starlette's default `redirect_slashes=True`: a request for
`/hello/` when the specification declares `/hello` (or the reverse) answers `307 Temporary Redirect`
to the other spelling, with an absolute `Location` built from the request's Host and scheme. The
specification declares neither that status nor that path; behind a proxy or an API gateway that
adds a path prefix (a stage), the Location points somewhere else; and a FlaskApp serving the same
specification answers 404 (werkzeug redirects only to a rule that itself ends with a slash).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import spec
from connexion import AsyncApp
from starlette.testclient import TestClient

OK = {"200": {"description": "ok"}}


def client(document: dict[str, Any], **api: Any) -> TestClient:
    app = AsyncApp(__name__)
    app.add_api(document, **api)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.mark.parametrize("path", ["/hello/", "/hello//"])
def test_a_trailing_slash_the_specification_does_not_declare_is_404(path: str) -> None:
    http = client(spec())
    assert http.get("/hello").status_code == 200
    response = http.get(path)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.headers["content-type"] == "application/problem+json"


def test_a_path_declared_with_a_trailing_slash_is_not_reached_without_it() -> None:
    http = client(spec({"/hello/": {"get": {"operationId": "views.hello", "responses": OK}}}))
    assert http.get("/hello/").json() == {"hello": "world"}
    response = http.get("/hello")
    assert response.status_code == 404
    assert "location" not in response.headers


def test_a_templated_path_is_matched_exactly() -> None:
    document = spec(
        {
            "/items/{item_id}": {
                "get": {
                    "operationId": "views.item",
                    "parameters": [
                        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": OK,
                }
            }
        }
    )
    http = client(document)
    assert http.get("/items/7").json() == {"id": 7}
    assert http.get("/items/7/").status_code == 404


def test_under_a_base_path_too() -> None:
    http = client(spec(), base_path="/v1")
    assert http.get("/v1/hello").status_code == 200
    for path in ("/v1/hello/", "/v1/"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert "location" not in response.headers


@pytest.mark.parametrize("method", ["post", "delete"])
def test_an_undeclared_method_on_a_trailing_slash_is_not_redirected_either(method: str) -> None:
    """A 307 keeps the method and the body: a POST would be sent again, to another path."""
    response = getattr(client(spec()), method)("/hello/")
    assert response.status_code in (404, 405)
    assert "location" not in response.headers
