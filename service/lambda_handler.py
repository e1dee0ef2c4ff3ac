"""The Lambda entry point: API Gateway (REST, v1 proxy events) -> Mangum -> the connexion app."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

# Start-up creates a few hundred thousand objects that live as long as the process: with the
# collector on, each of its passes walks them all again, for nothing (see README, Performance).
gc.disable()
try:
    from service.app import create_asgi_app
    from service.lambda_adapter import adapter_for
    from service.observability import logger, make_tracer
    from service.settings import get_settings

    # Built once per execution environment (cold start), reused by every invocation.
    # One event at a time: the handlers run inline, with no worker thread.
    _adapter = adapter_for(create_asgi_app(inline_handlers=True))

    def _invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = _adapter(event, context)
        return response

    _traced: Callable[[dict[str, Any], Any], dict[str, Any]] = _invoke
    if get_settings().service.tracing:
        _traced = make_tracer().capture_lambda_handler(_invoke, capture_response=False)
    handler = logger.inject_lambda_context(_traced, clear_state=True)
finally:
    # What start-up built moves to the permanent generation: later collections skip it.
    gc.freeze()
    gc.enable()
