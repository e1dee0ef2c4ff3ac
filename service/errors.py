"""Every error becomes one shape: RFC 7807 application/problem+json, declared in openapi.yaml.

Registered on the app in service.app. connexion's own problems (400 validation, 401, 404, 413,
415) already have this shape; the handlers here cover the domain, the 405 (whose `Allow` lists
every method the contract has on the path) and every 500, connexion's own included: the detail
goes to the log, never into the body.
"""

from __future__ import annotations

from collections.abc import Callable

from connexion.exceptions import NonConformingResponse, NonConformingResponseHeaders
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from jsonschema import ValidationError

from service import module_logger
from service.contract import Contract
from service.observability import count
from service.problems import PROBLEM_BASE, status_title
from service.users import (
    CreatedUserDeleted,
    EmailAlreadyUsed,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    PreconditionFailed,
    PreconditionRequired,
    StorageUnavailable,
    UserError,
    UserNotFound,
)

logger = module_logger(__name__)

ErrorHandler = Callable[[ConnexionRequest, Exception], ConnexionResponse]


def _domain(status: int, title: str, slug: str, headers: dict[str, str] | None = None) -> ErrorHandler:
    def handle(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        return problem(status, title, str(error), type=PROBLEM_BASE + slug, headers=headers)

    return handle


def unavailable_handler(retry_after_seconds: int) -> ErrorHandler:
    def unavailable(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        count("StorageUnavailable")
        logger.warning("storage unavailable: %s", error, exc_info=error)
        return problem(
            503,
            "Service Unavailable",
            "The service cannot reach its storage right now; try again later.",
            type=PROBLEM_BASE + "storage-unavailable",
            headers={"Retry-After": str(retry_after_seconds)},
        )

    return unavailable


def method_not_allowed_handler(contract: Contract) -> ErrorHandler:
    """405 with `Allow` listing every method of the path in the contract (connexion lists one route's)."""

    def method_not_allowed(request: ConnexionRequest, _error: Exception) -> ConnexionResponse:
        template = contract.template_of(request.scope.get("path", ""))
        methods = contract.paths.get(template, ()) if template else ()
        return problem(
            405,
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
            headers={"Allow": ", ".join(methods)},
        )

    return method_not_allowed


def unauthorized_handler(contract: Contract) -> ErrorHandler:
    """401: no valid credentials; the detail says which one is missing, `WWW-Authenticate` names
    the scheme to use (RFC 6750)."""
    key_header = contract.api_key_header

    def unauthorized(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
        detail = getattr(error, "detail", None) or "No valid credentials were provided."
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            detail = "No access token: send Authorization: Bearer <token> (OAuth 2.0 client credentials)."
        elif key_header and not request.headers.get(key_header):
            detail = f"No API key: send {key_header}: <key>."
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="users-api"'})

    return unauthorized


def forbidden(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    """403: valid credentials without the operation's scope; the detail names the scope."""
    required = sorted(getattr(error, "required_scopes", None) or ())
    detail = (
        f"The access token does not grant this operation's scope: {', '.join(required)}."
        if required
        else "The credentials do not allow this operation."
    )
    return problem(403, "Forbidden", detail)


def unexpected(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    """Anything unforeseen, connexion's response-validation failures included: the detail in the
    log, none in the body."""
    if isinstance(error, NonConformingResponse):
        logger.error("unhandled error: %s", _nonconformity(error))
    else:
        logger.error("unhandled error: %s", getattr(error, "detail", None) or error, exc_info=error)
    return problem(500, "Internal Server Error", "The server could not complete the request.")


def _nonconformity(error: NonConformingResponse) -> str:
    """What a response breaks in the contract, without the value that breaks it: connexion's detail
    and the jsonschema error it is raised from quote the instance (a user's name or email, or the
    whole record), and personal data stays out of the logs. Where, which rule, and nothing else."""
    cause = error.__context__
    if isinstance(cause, ValidationError):
        rule = "/".join(str(part) for part in cause.relative_schema_path)
        return f"response body does not conform to the contract: {cause.json_path} breaks {rule}"
    if isinstance(error, NonConformingResponseHeaders):
        return str(error.detail)  # header names and media types only
    return f"response body does not conform to the contract: {type(cause).__name__ if cause else 'unknown'}"


HANDLED: dict[type[UserError], ErrorHandler] = {
    UserNotFound: _domain(404, "Not Found", "user-not-found"),
    EmailAlreadyUsed: _domain(409, "Conflict", "email-already-used"),
    IdempotencyKeyInFlight: _domain(409, "Conflict", "idempotency-key-in-flight", {"Retry-After": "1"}),
    CreatedUserDeleted: _domain(409, "Conflict", "created-user-deleted"),
    IdempotencyKeyReused: _domain(422, status_title(422), "idempotency-key-reused"),
    PreconditionFailed: _domain(412, "Precondition Failed", "stale-etag"),
    PreconditionRequired: _domain(428, "Precondition Required", "if-match-required"),
    InvalidCursor: _domain(400, "Bad Request", "invalid-cursor"),
}
__all__ = [
    "HANDLED",
    "StorageUnavailable",
    "forbidden",
    "method_not_allowed_handler",
    "unauthorized_handler",
    "unavailable_handler",
    "unexpected",
]
