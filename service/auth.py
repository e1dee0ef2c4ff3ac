"""API key check (securitySchemes.api_key.x-apikeyInfoFunc in openapi.yaml).

On AWS the gateway checks keys (usage plan) before the function runs, so the stage's
`api_key` setting is empty and this accepts what the gateway let through. A local stage
sets `api_key` so that it behaves like the gateway. The key is the one of the app serving
the request (service.dependencies), not a process-wide global.
"""

from __future__ import annotations

import hmac
from typing import Any

from service.dependencies import current


def check_api_key(token: str, required_scopes: Any = None) -> dict[str, Any] | None:
    expected = current().settings.api_key
    if not expected or hmac.compare_digest(token.encode(), expected.encode()):
        return {"sub": "api-key"}
    return None
