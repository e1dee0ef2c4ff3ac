"""Builds the connexion AsyncApp from the contract: the same app in Lambda and on the local stage."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from connexion import AsyncApp
from connexion.jsonifier import Jsonifier
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.utils import is_json_mimetype

from service import errors
from service.contract import Contract, get_contract
from service.dependencies import Dependencies, Provide
from service.observability import AccessLog, logger
from service.repository import DynamoUserRepository, make_client
from service.routing import ContractResolver
from service.settings import Settings, get_settings
from service.users import StorageUnavailable, UserRepository
from service.validation import FieldParameterValidator, RequestGuard, StrictJSONBodyValidator


def _json_default(value: Any) -> Any:
    """Numbers from DynamoDB arrive as Decimal: integers stay integers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def body_validators(contract: Contract) -> dict[str, type]:
    """A validator for every request media type of the contract.

    connexion looks validators up by exact media type and, when none is registered, skips
    validation (it only logs it): an `application/merge-patch+json` body would reach its handler
    unchecked. So each JSON media type the contract uses (application/json, any +json) is mapped
    here, and a media type with no validator stops the start-up instead.
    """
    validators: dict[str, type] = {}
    for operation in contract.operations:
        for media_type in operation.body.media_types if operation.body else ():
            if not is_json_mimetype(media_type):  # connexion's own test of what it parses as JSON
                raise ValueError(f"{operation.operation_id}: no request validator for {media_type}")
            validators[media_type] = StrictJSONBodyValidator
    return validators


def middlewares(*, swagger_ui: bool, validate_responses: bool) -> list[type]:
    """connexion's own middleware list, less what this app does not use.

    Behind API Gateway nothing reaches a Swagger UI (only the local stage serves one), and
    response validation is a per-stage setting: a middleware that would do nothing still costs
    every request its pass through the stack.
    """
    unused = set()
    if not swagger_ui:
        unused.add(SwaggerUIMiddleware)
    if not validate_responses:
        unused.add(ResponseValidationMiddleware)
    return [middleware for middleware in ConnexionMiddleware.default_middlewares if middleware not in unused]


def create_app(
    settings: Settings | None = None,
    *,
    repository: UserRepository | None = None,
    contract: Contract | None = None,
    swagger_ui: bool = False,
    inline_handlers: bool = False,
) -> AsyncApp:
    """The app for `settings` (default: the process's), its repository and its contract."""
    settings = settings or get_settings()
    contract = contract or get_contract()
    logger.setLevel(settings.service.log_level)
    # connexion logs every 4xx problem it raises; the access log already has one line per request.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    if repository is None:
        repository = DynamoUserRepository(make_client(settings.service), settings.service.table_name)

    validate_responses = settings.service.validate_responses
    app = AsyncApp(
        __name__,
        middlewares=middlewares(swagger_ui=swagger_ui, validate_responses=validate_responses),
        jsonifier=Jsonifier(json, default=_json_default),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=swagger_ui, spec_path="/openapi.json"),
    )
    app.add_api(
        # The contract as connexion's Specification, already read and resolved (service.contract):
        # connexion neither renders nor parses a file, nor copies, resolves or validates the
        # document again (tests/unit/test_contract.py and the contract lint validate it, once).
        contract.specification,
        validate_spec=False,
        resolver=ContractResolver(contract, inline=inline_handlers),
        strict_validation=True,
        pythonic_params=True,
        validate_responses=validate_responses,
        validator_map={"body": body_validators(contract), "parameter": FieldParameterValidator},
    )
    app.add_middleware(
        Provide,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        dependencies=Dependencies(contract=contract, settings=settings.service, users=repository),
    )
    app.add_middleware(
        RequestGuard,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        max_body_bytes=settings.service.max_body_bytes,
        operations_with_body=frozenset(op.operation_id for op in contract.operations if op.body),
    )
    for kind, handler in errors.HANDLED.items():
        app.add_error_handler(kind, handler)
    app.add_error_handler(
        StorageUnavailable, errors.unavailable_handler(settings.service.retry_after_seconds)
    )
    app.add_error_handler(401, errors.unauthorized_handler(contract))
    app.add_error_handler(403, errors.forbidden)
    app.add_error_handler(405, errors.method_not_allowed_handler(contract))
    # Status 500 catches connexion's own server problems (response validation) before their
    # detail reaches the body; Exception catches everything else.
    app.add_error_handler(500, errors.unexpected)
    app.add_error_handler(Exception, errors.unexpected)
    return app


def create_asgi_app(
    settings: Settings | None = None,
    *,
    repository: UserRepository | None = None,
    contract: Contract | None = None,
    swagger_ui: bool = False,
    inline_handlers: bool = False,
) -> AccessLog:
    """The app wrapped in the access log: what Lambda (through Mangum) and uvicorn serve."""
    return AccessLog(
        create_app(
            settings,
            repository=repository,
            contract=contract,
            swagger_ui=swagger_ui,
            inline_handlers=inline_handlers,
        )
    )
