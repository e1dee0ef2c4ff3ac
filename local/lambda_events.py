"""API Gateway REST (v1) proxy events and Lambda contexts shaped like the runtime's.

The one builder for the Lambda-path tests and the benchmarks' child processes. Standard library
only: the benchmarks build events before they time a cold start, and importing Powertools (even
its typing module) would load 38 ms of the handler's own imports ahead of the clock. The context is
typed as Powertools' `LambdaContext`; its object is a plain one, as the runtime's own is.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ACCOUNT = "123456789012"
API_ID = "abc123"


class RuntimeContext:
    """The attributes and method of the context object the Python runtime passes to a handler."""

    def __init__(self, function_name: str, region: str, memory_mb: int, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(
    function_name: str = "users-api-local",
    region: str = "eu-west-1",
    memory_mb: int = 512,
    timeout_seconds: float = 10.0,
) -> LambdaContext:
    """A fresh context, as for one invocation (a new request id, a deadline `timeout_seconds` away)."""
    return cast("LambdaContext", RuntimeContext(function_name, region, memory_mb, timeout_seconds))


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
    claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A proxy event as API Gateway sends it. `content_length=False` leaves Content-Length out, as
    `sam local generate-event` does and as a chunked client request arrives. `claims`: the token's
    claims as a Cognito authorizer passes them (`requestContext.authorizer.claims`, every value a
    string), for a method the gateway authorized."""
    raw = body.encode() if isinstance(body, str) else body
    host = f"{API_ID}.execute-api.{region}.amazonaws.com"
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
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "users-api-local", "apiKey": "key"},
            "domainName": host,
            "requestTimeEpoch": int(time.time() * 1000),
            **({"authorizer": {"claims": gateway_claims(claims)}} if claims is not None else {}),
        },
        "body": event_body,
        "isBase64Encoded": base64_body,
    }


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Token claims as API Gateway's Cognito authorizer hands them to the function: each value a
    string, times (`exp`, `iat`, `auth_time`) written as dates."""
    written: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("exp", "iat", "auth_time") and isinstance(value, int):
            written[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        else:
            written[name] = str(value)
    return written
