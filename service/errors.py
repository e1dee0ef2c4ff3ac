"""Every error becomes one shape: RFC 7807 application/problem+json, declared in openapi.yaml.

Registered on the app in service.app; connexion's own problems (400 validation, 401, 404,
405, 415) already have this shape, the handlers here cover the domain and the unexpected.
"""

from __future__ import annotations

import logging

from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem

from service.observability import count
from service.users import EmailAlreadyUsed, StorageUnavailable, UserNotFound

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://users-api.example.com/problems/"


def not_found(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    assert isinstance(error, UserNotFound)
    return problem(404, "Not Found", str(error), type=PROBLEM_BASE + "user-not-found")


def email_conflict(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    return problem(409, "Conflict", str(error), type=PROBLEM_BASE + "email-already-used")


def unavailable_handler(retry_after_seconds: int) -> object:
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


def unexpected(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    """Anything unforeseen: full detail in the log, none in the body."""
    logger.error("unhandled error", exc_info=error)
    return problem(500, "Internal Server Error", "The server could not complete the request.")


HANDLED = {UserNotFound: not_found, EmailAlreadyUsed: email_conflict}
__all__ = ["HANDLED", "StorageUnavailable", "unavailable_handler", "unexpected"]
