"""A Locust listener in `make verify`'s load step (`locust -f loadtest/,local/verify_load_hooks.py`).

After every request, what the answer created (found by the contract's links) is recorded for the step
to delete at its end (local.verify.record_created); outside verify this records nothing. The load
scenarios name each request by its path template, which is how the answer's operation is found.
Nothing here is a User class: the scenarios stay loadtest/'s.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Locust imports this file by its path
    sys.path.insert(0, str(ROOT))

from locust import events  # noqa: E402

from local.verify import CREATED_STATUS, record_created  # noqa: E402


def record(request_type: str, name: str, response: Any = None, **_: Any) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    if status != CREATED_STATUS:
        return
    headers = getattr(response, "headers", None) or {}
    record_created(request_type, name, status, headers.get, getattr(response, "content", b"") or b"")


requests: Any = events.request  # Locust's events are untyped
requests.add_listener(record)
