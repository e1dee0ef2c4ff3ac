"""The service's own health: is its table reachable."""

from __future__ import annotations

from service.dependencies import current
from service.handlers.users import Response


def getHealth() -> Response:  # named by its operationId
    current().users.ping()
    return {"status": "ok"}, 200
