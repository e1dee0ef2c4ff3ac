"""The gateway's own answers (no API key, throttled, no route, invalid body, ...), in the contract's shape.

Every gateway response type answers an application/problem+json Problem (the contract's `Problem`
schema) with a status the contract documents, so a client, and schemathesis, sees only documented
answers whether the gateway or the function replied.

The Cognito authorizer refuses with UNAUTHORIZED (401) whatever the reason: no token, a token that
is not valid here, or a valid one without the method's scope (the gateway has no separate answer
for the last one; the function, which answers 403 for it, never sees such a request). Its 401
carries `WWW-Authenticate: Bearer` (RFC 6750), as the contract's Unauthorized response declares.
"""

from __future__ import annotations

import json
from typing import Any

from service.problems import status_title

# Every gateway response type -> the status it answers with.
GATEWAY_RESPONSE_STATUSES: dict[str, int] = {
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
    "BAD_REQUEST_BODY": 400,
    "BAD_REQUEST_PARAMETERS": 400,
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "EXPIRED_TOKEN": 403,
    "WAF_FILTERED": 403,
    # What the gateway answers for a path or method it has no route for.
    "MISSING_AUTHENTICATION_TOKEN": 404,
    "RESOURCE_NOT_FOUND": 404,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "THROTTLED": 429,
    "QUOTA_EXCEEDED": 429,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "INTEGRATION_FAILURE": 503,
    "INTEGRATION_TIMEOUT": 503,
}
# The `detail` of a type: a JSON string, or `$context.error.messageString` (the gateway's message,
# which it substitutes already quoted; the default). Gateway response templates get simple variable
# substitution only, no VTL (API Gateway's x-amazon-apigateway-gateway-responses.responseTemplates),
# so `$util` is not available and a variable that is not quoted and escaped, such as
# `$context.error.validationErrorString`, cannot go into a JSON document.
_DETAILS: dict[str, str] = {
    "INVALID_API_KEY": '"A valid API key is required in the x-api-key header."',
    "UNAUTHORIZED": (
        '"A valid access token with the scope of this operation is required (Authorization: Bearer <token>)."'
    ),
    "MISSING_AUTHENTICATION_TOKEN": '"No such route."',
    # The function's own words for the same refusal (its field list needs the function).
    "BAD_REQUEST_BODY": '"The request body does not match the contract."',
}
RETRY_AFTER_TYPES = frozenset({"THROTTLED", "QUOTA_EXCEEDED", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT"})
# Types answered with a challenge: the scheme to authenticate with (RFC 6750).
BEARER_CHALLENGE_TYPES = frozenset({"UNAUTHORIZED"})
BEARER_CHALLENGE = "Bearer"


def problem_template(response_type: str, status: int) -> str:
    title = status_title(status)
    detail = _DETAILS.get(response_type, "$context.error.messageString")
    return (
        '{"type":"about:blank",'
        f'"title":{json.dumps(title)},'
        f'"status":{status},'
        f'"detail":{detail},'
        '"requestId":"$context.requestId"}'
    )


def gateway_responses(retry_after_seconds: int) -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`: each type a Problem with a documented status."""
    responses: dict[str, Any] = {}
    for response_type, status in GATEWAY_RESPONSE_STATUSES.items():
        parameters = {"gatewayresponse.header.Content-Type": "'application/problem+json'"}
        if response_type in RETRY_AFTER_TYPES:
            parameters["gatewayresponse.header.Retry-After"] = f"'{retry_after_seconds}'"
        if response_type in BEARER_CHALLENGE_TYPES:
            parameters["gatewayresponse.header.WWW-Authenticate"] = f"'{BEARER_CHALLENGE}'"
        responses[response_type] = {
            "statusCode": str(status),
            "responseParameters": parameters,
            "responseTemplates": {"application/json": problem_template(response_type, status)},
        }
    return responses
