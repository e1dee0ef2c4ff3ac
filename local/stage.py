"""The local stage: the embedded engine + the same app as in Lambda, served by uvicorn.

    python -m local.stage --port 8000 [--workers N]     (what `make run` does)

DYNAMODB_ENDPOINT points it at another engine instead of starting one. STAGE defaults to "local"
(settings.yaml's `stages.local`: table name, API key, timeouts).

The app is stateless, so it may run in several uvicorn worker processes (`--workers`, default
$STAGE_WORKERS, else 1); each builds it with `app()`. The engine stays one single-threaded process
(moto answers concurrent transactions with HTTP 500). Anything a worker makes at its start is its
own: state all workers must share (e.g. signing keys) has to come from this parent process, through
the environment they inherit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from local.engine import HOST, LocalEngine

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def prepare_environment(endpoint: str) -> None:
    """Settings come from the environment: point them at the engine (credentials are dummies)."""
    os.environ.setdefault("STAGE", "local")
    os.environ["DYNAMODB_ENDPOINT"] = endpoint
    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def ensure_table() -> None:
    from local.tables import ensure_table
    from service.repository import make_client
    from service.settings import get_settings

    service = get_settings().service
    ensure_table(make_client(service), service.table_name)


def app() -> Any:
    """The ASGI app of one worker process (uvicorn's factory): the same app as in Lambda."""
    from service.app import create_asgi_app
    from service.settings import get_settings

    return create_asgi_app(get_settings(), swagger_ui=True)


def serve(port: int, workers: int = 1) -> None:
    import uvicorn

    from service.settings import get_settings

    settings = get_settings()
    base = f"http://{HOST}:{port}"
    print(f"users-api stage '{settings.stage}' (table {settings.service.table_name})", flush=True)
    print(f"  base URL:    {base}", flush=True)
    print(f"  Swagger UI:  {base}/ui/", flush=True)
    print(f"  engine:      {settings.service.dynamodb_endpoint}", flush=True)
    if settings.service.api_key:
        print(f"  API key:     x-api-key: {settings.service.api_key}", flush=True)
    print(f"  app workers: {workers}", flush=True)
    if workers > 1:  # each worker process imports this module and calls app()
        uvicorn.run(
            "local.stage:app", factory=True, workers=workers, host=HOST, port=port, log_level="warning"
        )
    else:
        uvicorn.run(app(), host=HOST, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("STAGE_WORKERS") or 1),
        help="uvicorn worker processes of the app (the engine stays one process)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    # uvicorn re-raises SIGTERM once it has shut down: turn it into SystemExit so the engine stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    external = os.environ.get("DYNAMODB_ENDPOINT")
    engine = None if external else LocalEngine().start()
    try:
        prepare_environment(external or (engine.endpoint if engine else ""))
        ensure_table()
        serve(args.port, args.workers)
    finally:
        if engine is not None:
            engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
