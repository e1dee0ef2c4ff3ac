"""The Lambda entry point: API Gateway (REST, v1 proxy events) -> Mangum -> the connexion app."""

from __future__ import annotations

import gc
from typing import Any

# Start-up creates a few hundred thousand objects that live as long as the process: with the
# collector on, each of its passes walks them all again, for nothing (see README, Performance).
gc.disable()
try:
    from mangum import Mangum

    from service.app import create_asgi_app
    from service.observability import logger, tracer

    def adapter_for(app: Any) -> Mangum:
        """How Lambda events reach an ASGI app (also used by tests on apps of their own)."""
        return Mangum(
            app,
            lifespan="off",  # "auto" would run start-up on every invocation
            api_gateway_base_path="/",  # Mangum strips a plain prefix; only a custom domain needs one
            text_mime_types=["application/json", "application/problem+json", "text/"],
        )

    # Built once per execution environment (cold start), reused by every invocation.
    # One event at a time: the handlers run inline, with no worker thread.
    _adapter = adapter_for(create_asgi_app(inline_handlers=True))
finally:
    # What start-up built moves to the permanent generation: later collections skip it.
    gc.freeze()
    gc.enable()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _adapter(event, context)
    return response
