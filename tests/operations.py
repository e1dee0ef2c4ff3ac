"""Requests built from the contract, for the tests of behaviour every operation shares.

Nothing here names an operation: each helper takes a `service.contract.Operation` and builds what
a well-behaved client would send (path, headers, an example body), so a test parametrised over
`get_contract().operations` covers an operation the day it enters the contract.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from service.contract import Contract, Operation, Parameter

# Methods the app can route (and API Gateway can import).
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    resource: str  # the path template, as API Gateway puts it in `resource`
    path_parameters: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | None


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def sample(schema: Mapping[str, Any], example: Any = None) -> Any:
    """A value valid for a parameter schema: its example (with any UUID in it made fresh, so an
    identifier such as an Idempotency-Key is not shared by two requests), else one built."""
    if example is None:
        example = schema.get("example")
    if isinstance(example, str):
        return UUID.sub(lambda _m: str(uuid.uuid4()), example)
    if example is not None:
        return example
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return schema.get("minimum", 1)
    return "x" * int(schema.get("minLength", 1))


def unique(body: Any) -> Any:
    """The example body with every email made unique (emails are unique per user)."""
    if isinstance(body, dict):
        return {key: _unique_value(key, value) for key, value in body.items()}
    return body


def _unique_value(key: str, value: Any) -> Any:
    if isinstance(value, str) and "email" in key.lower() and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local}+{uuid.uuid4().hex[:12]}@{domain}"
    return unique(value)


def example_body(operation: Operation) -> tuple[str, bytes] | None:
    """(media type, body) from the contract's example for the operation's first media type."""
    if operation.body is None:
        return None
    media = operation.body.media_types[0]
    example = operation.body.examples.get(media)
    if example is None:
        raise AssertionError(f"{operation.operation_id}: the contract has no example body for {media}")
    return media, json.dumps(unique(example)).encode()


def valid_request(
    operation: Operation,
    *,
    credentials: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    with_body: bool = True,
) -> Request:
    """A request the contract accepts; `credentials` are the headers a consumer authenticates with
    (API key, Authorization), sent when the operation needs them; `values` fills parameters by
    name (else examples)."""
    values = values or {}

    def value(parameter: Parameter) -> str:
        return str(values.get(parameter.name, sample(parameter.schema, parameter.example)))

    path_parameters = {p.name: value(p) for p in operation.path_parameters}
    query = {p.name: value(p) for p in operation.parameters_in("query") if p.required or p.name in values}
    # Every header the operation declares (preconditions such as If-Match are optional in the
    # contract but expected by the operation); query parameters only when required or given.
    headers = {p.name: value(p) for p in operation.parameters_in("header")}
    if credentials is not None and operation.needs_auth:
        headers.update(credentials)
    body = None
    found = example_body(operation) if with_body else None
    if found is not None:
        headers["Content-Type"], body = found
    return Request(
        method=operation.method,
        path=operation.url(**path_parameters),
        resource=operation.path,
        path_parameters=path_parameters,
        query=query,
        headers=headers,
        body=body,
    )


def unrouted_path(contract: Contract) -> str:
    """A path no template of the contract matches (generated, so it cannot collide with a real one)."""
    while True:
        path = f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}"
        if contract.template_of(path) is None:
            return path


def unused_method(contract: Contract, template: str) -> str | None:
    """A method the contract does not have on `template`, or None if it has them all."""
    used = set(contract.paths[template])
    return next((method for method in METHODS if method not in used), None)


def concrete(template: str) -> str:
    """The template with each parameter replaced by a syntactically plain value."""
    return re.sub(r"\{[^{}]+\}", lambda _m: str(uuid.uuid4()), template)


def gateway_event(request: Request, **variant: Any) -> dict[str, Any]:
    """The API Gateway proxy event of `request` (local.lambda_events' builder; `variant` passes its
    options: content_length=False, base64_body=True, stage=..., region=...)."""
    from local.lambda_events import api_gateway_event

    return api_gateway_event(
        request.method,
        request.path,
        resource=request.resource,
        path_parameters=request.path_parameters or None,
        query=request.query or None,
        headers=request.headers,
        body=request.body,
        **variant,
    )
