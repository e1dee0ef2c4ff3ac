"""Builds the connexion AsyncApp from openapi.yaml: the same app in Lambda and on the local stage."""

from __future__ import annotations

import functools
import json
import logging
import re
from decimal import Decimal
from typing import Any

from connexion import AsyncApp
from connexion.jsonifier import Jsonifier
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver

from service import errors
from service.contract import load_contract, operation_paths, operations_with_body
from service.handlers.users import UserHandlers
from service.observability import AccessLog, logger
from service.repository import DynamoUserRepository, make_client
from service.settings import Settings, get_settings
from service.users import StorageUnavailable, UserRepository
from service.validation import FieldParameterValidator, RequestGuard, StrictJSONBodyValidator

JSON = "application/json"
LINKED_READ = "getUser"  # the operation createUser's Location header points at


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def _json_default(value: Any) -> Any:
    """Numbers from DynamoDB arrive as Decimal: integers stay integers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OperationResolver(Resolver):  # type: ignore[misc]
    """operationId -> method of the handlers object (createUser -> create_user).

    Handlers return (body, status[, headers]); the responses declare application/json and
    application/problem+json, so the JSON content type is set here, once, for all of them.

    `inline`: run the (blocking) handlers on the event loop's thread instead of connexion's
    thread pool. Lambda hands an environment one event at a time, so a worker thread buys no
    concurrency there and costs a thread start per invocation (Mangum runs each event in its own
    loop); a server with concurrent requests (uvicorn) keeps the thread pool.
    """

    def __init__(self, handlers: object, inline: bool = False) -> None:
        self._handlers = handlers
        self._inline = inline
        super().__init__(function_resolver=self._find)

    def _find(self, operation_id: str) -> Any:
        function = getattr(self._handlers, _snake(operation_id))

        def with_json(result: Any) -> Any:
            body, status, *rest = result
            headers = {"Content-Type": JSON, **(rest[0] if rest else {})}
            return body, status, headers

        if self._inline:

            @functools.wraps(function)
            async def inline_with_content_type(*args: Any, **kwargs: Any) -> Any:
                return with_json(function(*args, **kwargs))

            return inline_with_content_type

        @functools.wraps(function)
        def with_content_type(*args: Any, **kwargs: Any) -> Any:
            return with_json(function(*args, **kwargs))

        return with_content_type


def create_app(
    settings: Settings | None = None,
    repository: UserRepository | None = None,
    contract: dict[str, Any] | None = None,
    swagger_ui: bool = False,
    inline_handlers: bool = False,
) -> AsyncApp:
    settings = settings or get_settings()
    contract = contract or load_contract()
    logger.setLevel(settings.service.log_level)
    # connexion logs every 4xx problem it raises; the access log already has one line per request.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    if repository is None:
        repository = DynamoUserRepository(make_client(settings.service), settings.service.table_name)
    handlers = UserHandlers(repository, user_location=operation_paths(contract)[LINKED_READ][1])

    app = AsyncApp(
        __name__,
        jsonifier=Jsonifier(json, default=_json_default),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=swagger_ui, spec_path="/openapi.json"),
    )
    app.add_api(
        contract,
        resolver=OperationResolver(handlers, inline=inline_handlers),
        strict_validation=True,
        pythonic_params=True,
        validate_responses=True,
        validator_map={
            "body": {
                "application/json": StrictJSONBodyValidator,
                "application/*+json": StrictJSONBodyValidator,
            },
            "parameter": FieldParameterValidator,
        },
    )
    app.add_middleware(
        RequestGuard,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        max_body_bytes=settings.service.max_body_bytes,
        operations_with_body=operations_with_body(contract),
    )
    for kind, handler in errors.HANDLED.items():
        app.add_error_handler(kind, handler)
    app.add_error_handler(
        StorageUnavailable, errors.unavailable_handler(settings.service.retry_after_seconds)
    )
    app.add_error_handler(Exception, errors.unexpected)
    return app


def create_asgi_app(settings: Settings | None = None, **kwargs: Any) -> AccessLog:
    """The app wrapped in the access log: what Lambda (through Mangum) and uvicorn serve."""
    return AccessLog(create_app(settings, **kwargs))
