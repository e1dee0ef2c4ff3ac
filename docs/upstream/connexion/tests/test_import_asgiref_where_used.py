"""Patch 0006: asgiref is imported by the one code path that uses it.

Upstream home: tests/test_lazy_imports.py, beside 0001's tests, whose fresh-process script it uses.
connexion 3.3.0 imports `asgiref.sync` with `connexion.decorators.main`, for `async_to_sync`,
which only a WSGI app (FlaskApp) calls, to run a view that is a coroutine function. An AsyncApp
imports asgiref at start-up and never uses it.
"""

from __future__ import annotations

import sys

from test_lazy_imports import serve_one_request

# asgiref's modules, as 3.3.0 imports them with connexion.decorators.main
ASGIREF = ("asgiref", "asgiref.sync", "asgiref.local", "asgiref.current_thread_executor")


def test_an_async_app_serving_a_request_does_not_import_asgiref() -> None:
    result = serve_one_request(*ASGIREF)
    assert result["status"] == 200
    assert result["modules"] == []


def test_a_wsgi_app_still_runs_a_coroutine_view_to_completion() -> None:
    """What FlaskApp's decorator does with a view (a FlaskApp itself needs the flask extra)."""
    import views
    from connexion.decorators.main import WSGIDecorator

    sync_async = WSGIDecorator._sync_async_decorator.fget(None)

    assert sync_async(views.hello_async)() == {"hello": "from a coroutine"}
    assert "asgiref.sync" in sys.modules  # imported by the view's call, where it is used
    assert sync_async(views.hello)() == {"hello": "world"}
