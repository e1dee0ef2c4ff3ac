"""The local stage: the embedded engine + the same app as in Lambda, served by uvicorn.

    python -m local.stage --port 8000 [--workers N]     (what `make run` does)

DYNAMODB_ENDPOINT points it at another engine instead of starting one. STAGE defaults to "local"
(settings.yaml's `stages.local`: table name, API key, timeouts, the clients' local secrets).
The stage also serves its OAuth 2.0 token issuer (local.issuer) at its own URL, as the contract's
relative `tokenUrl` says: `POST /oauth2/token`, and its keys at `/.well-known/jwks.json`.

The app is stateless, so it may run in several uvicorn worker processes (`--workers`, default
$STAGE_WORKERS, else 1); each builds it with `app()`. The engine stays one single-threaded process
(moto answers concurrent transactions with HTTP 500). What every worker must share comes from this
parent process through the environment they inherit: the issuer's signing key and URL, and the
clients the service accepts (`prepare_issuer`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from local.collector import FreezeSurvivorsASGI
from local.engine import HOST, LocalEngine
from local.issuer import KEY_ENV, LocalIssuer, beside, generate_key, key_from_environment, key_to_pem

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
ISSUER_ENV = "USERS_API_TOKEN_ISSUER"
DEFAULT_PORT = 8000  # the Makefile's PORT default too: `make token` asks the stage there


def prepare_environment(endpoint: str) -> None:
    """Settings come from the environment: point them at the engine (credentials are dummies)."""
    os.environ.setdefault("STAGE", "local")
    os.environ["DYNAMODB_ENDPOINT"] = endpoint
    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def prepare_issuer(base: str) -> LocalIssuer:
    """The stage's token issuer, served at the stage's own URL. The service is told to verify tokens
    against it and which clients it knows (USERS_API_TOKEN_ISSUER, USERS_API_CLIENT_IDS); the key
    goes in the environment too, so that every worker process signs and verifies alike."""
    if not os.environ.get(KEY_ENV):
        os.environ[KEY_ENV] = key_to_pem(generate_key())
    issuer = _issuer(base)
    os.environ[ISSUER_ENV] = issuer.url
    os.environ["USERS_API_CLIENT_IDS"] = json.dumps(issuer.client_ids)
    return issuer


def _issuer(base: str) -> LocalIssuer:
    return LocalIssuer.for_stage(base, os.environ.get("STAGE", "local"), key_from_environment())


def ensure_table() -> None:
    from local.tables import ensure_table
    from service.repository import make_client
    from service.settings import get_settings

    service = get_settings().service
    ensure_table(make_client(service), service.table_name)


def app() -> Any:
    """The ASGI app of one worker process (uvicorn's factory): the same app as in Lambda, with the
    stage's issuer beside it (built from what `prepare_issuer` put in the environment)."""
    from service.app import create_asgi_app
    from service.settings import get_settings

    app = beside(create_asgi_app(get_settings(), swagger_ui=True), _issuer(os.environ[ISSUER_ENV]))
    return FreezeSurvivorsASGI(app)  # local.collector: short full collections as the process warms up


def serve(port: int, issuer: LocalIssuer, workers: int = 1) -> None:
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
    # `make token` asks the stage on $(PORT): another port must be named to it too.
    prefix = "" if port == DEFAULT_PORT else f"PORT={port} "
    print(f"  token URL:   {issuer.token_url}  ({prefix}make token CLIENT=<name>)", flush=True)
    # The local stage's own credentials, like its API key: what Swagger UI's Authorize form asks for.
    for name, client in issuer.clients.items():
        print(f"  client:      {name} / {client.secret}  {' '.join(client.scopes)}", flush=True)
    if workers > 1:  # each worker process imports this module and calls app()
        print(f"  app workers: {workers}", flush=True)
        uvicorn.run(
            "local.stage:app", factory=True, workers=workers, host=HOST, port=port, log_level="warning"
        )
    else:
        uvicorn.run(app(), host=HOST, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
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
    engine = None if external else LocalEngine()
    try:  # a SIGTERM while the engine starts stops it too
        if engine is not None:
            engine.start()
        prepare_environment(external or (engine.endpoint if engine else ""))
        issuer = prepare_issuer(f"http://{HOST}:{args.port}")
        ensure_table()
        serve(args.port, issuer, args.workers)
    finally:
        if engine is not None:
            engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
