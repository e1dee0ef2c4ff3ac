"""How API Gateway proxy events reach an ASGI app: Mangum, configured once for every caller
(the Lambda entry point, and tests that serve apps of their own)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum


def adapter_for(app: Any) -> Mangum:
    return Mangum(
        app,
        lifespan="off",  # "auto" would run start-up on every invocation
        api_gateway_base_path="/",  # Mangum strips a plain prefix; only a custom domain needs one
        # Bodies returned as text, not base64 (Mangum matches by substring): JSON and any +json type.
        text_mime_types=["application/json", "+json", "text/"],
    )
