"""API Gateway REST (v1) proxy events as the gateway sends them to the function, and the claims its
Cognito authorizer puts in them.

Built here, in the code that ships, because the pre-traffic hook (service.deploy_check) sends such
events to a new version before it takes traffic; the local tooling, the Lambda-path tests and the
benchmarks build theirs with the same function (local.lambda_events re-exports it). Standard
library only and importing nothing else of `service`: the benchmarks build events before they time
a cold start.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

ACCOUNT = "123456789012"
API_ID = "abc123"
# How the REST API's Cognito authorizer writes a token's time claims (exp, iat) into the event.
_CLAIM_TIME = "%a %b %d %H:%M:%S UTC %Y"


def authorizer_claims(
    *,
    client_id: str,
    scopes: Iterable[str],
    issuer: str,
    now: float | None = None,
    lifetime_seconds: int = 3600,
) -> dict[str, str]:
    """The verified claims of a client-credentials access token, as a REST API's Cognito authorizer
    passes them in `requestContext.authorizer.claims`: every value a string, the scopes
    space-separated, `exp`/`iat` in the gateway's date format, `auth_time` in epoch seconds."""
    issued = time.time() if now is None else now
    return {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": str(int(issued)),
        "iss": issuer,
        "exp": time.strftime(_CLAIM_TIME, time.gmtime(issued + lifetime_seconds)),
        "iat": time.strftime(_CLAIM_TIME, time.gmtime(issued)),
        "version": "2",
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }


def api_gateway_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    content_length: bool = True,
    stage: str = "dev",
    region: str = "eu-west-1",
    claims: dict[str, str] | None = None,
    api_id: str = API_ID,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """A proxy event as API Gateway sends it. `content_length=False` leaves Content-Length out, as
    `sam local generate-event` does and as a chunked client request arrives. `claims`: what the
    Cognito authorizer verified (see `authorizer_claims`), absent on a public method."""
    raw = body.encode() if isinstance(body, str) else body
    host = f"{api_id}.execute-api.{region}.amazonaws.com"
    all_headers = {
        "Host": host,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "User-Agent": "users-api-local",
        **(headers or {}),
    }
    if raw is not None and content_length:
        all_headers["Content-Length"] = str(len(raw))
    request_id = str(uuid.uuid4())
    event_body: str | None = None
    if raw is not None:
        event_body = base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "surrogateescape")
    request_context: dict[str, Any] = {
        "resourcePath": resource,
        "httpMethod": method,
        "path": f"/{stage}{path}",
        "stage": stage,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "accountId": account,
        "apiId": api_id,
        "protocol": "HTTP/1.1",
        "identity": {"sourceIp": "203.0.113.9", "userAgent": "users-api-local", "apiKey": "key"},
        "domainName": host,
        "requestTimeEpoch": int(time.time() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": dict(claims)}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": event_body,
        "isBase64Encoded": base64_body,
    }


def public_path(scope: Mapping[str, Any], path: str) -> str:
    """`path` (the app's own, as routed) as the client addresses it. Behind API Gateway's default
    endpoint every path starts with the stage (`/prod/users`): the event's `path` lacks it, its
    `requestContext.path` has it, and the difference is the prefix. Served any other way (the
    local stage, a custom domain mapped at its root) the two are the same path, or there is no
    event, and `path` is returned as it is."""
    event = scope.get("aws.event")
    if not isinstance(event, dict):
        return path
    context = event.get("requestContext")
    full = context.get("path") if isinstance(context, dict) else None
    own = event.get("path")
    if isinstance(full, str) and isinstance(own, str) and own and full.endswith(own):
        return full[: len(full) - len(own)] + path
    return path
