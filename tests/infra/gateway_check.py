"""Reusable checks of a gateway body against the contract it was made from, and a grown contract to try.

`gateway_mismatches(contract, body)` lists every way the body fails to carry the contract's
operations to API Gateway (route, aws_proxy integration, validator, request models per media type,
parameters, responses, security with its Cognito authorizer and the one scope of each operation,
nothing meant for other tools). It names no operation, so any test (infra's, or one that grows the
contract) can call it on any contract and the body made from it.

`with_two_new_operations(contract)` is a copy of the contract with two operations added the way a
developer adds them (a contract entry naming its handler module and its security, nothing else):
one answering 204 on a new path under a new scope, and a second method on an existing path with an
application/merge-patch+json body and precondition headers under the scope its path already uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from infra.gateway import (
    AUTHORIZER,
    AUTHTYPE,
    COGNITO,
    INTEGRATION,
    MODEL_REF,
    TOKEN_HEADER,
    VALIDATOR,
    VALIDATORS,
    gateway_operations,
    required_at_gateway,
    validator_for,
)
from service.contract import Contract, Operation

# What a path item may hold besides its methods (OpenAPI 3.0's Path Item Object).
PATH_ITEM_FIELDS = frozenset({"summary", "description", "servers", "parameters", "$ref"})
# Extensions API Gateway reads; anything else starting with x- is meant for another tool.
GATEWAY_EXTENSION = "x-amazon-apigateway-"
# Maps whose keys are names, not keywords (a property or header may be called x-something).
_NAME_MAPS = frozenset(
    {"properties", "paths", "responses", "content", "headers", "schemas", "securitySchemes"}
)


def gateway_mismatches(contract: Contract, body: Mapping[str, Any]) -> list[str]:
    """What of `contract` the gateway `body` does not carry; empty when the body is faithful."""
    problems: list[str] = []
    routed = {(path, method): operation for path, method, operation in gateway_operations(body)}
    expected = {(operation.path, operation.method) for operation in contract.operations}
    problems.extend(
        f"{m} {p}: routed by the gateway, not in the contract" for p, m in sorted(routed.keys() - expected)
    )
    # A path item holds methods (and OpenAPI's own fields): API Gateway would route an ANY method, or
    # any other key it reads, beside them.
    problems.extend(
        f"{path}: {key} is not an HTTP method of the contract"
        for path, item in (body.get("paths") or {}).items()
        for key in item
        if key not in PATH_ITEM_FIELDS and (path, key.upper()) not in expected
    )
    validators = body.get(VALIDATORS) or {}
    models = (body.get("components") or {}).get("schemas") or {}
    for operation in contract.operations:
        where = f"{operation.method} {operation.path} ({operation.operation_id})"
        gateway = routed.get((operation.path, operation.method))
        if gateway is None:
            problems.append(f"{where}: no route in the gateway body")
            continue
        problems.extend(
            f"{where}: {problem}" for problem in _operation_mismatches(operation, gateway, validators, models)
        )
    problems.extend(
        f"{where}: {key} is meant for another tool" for where, key in _foreign_extensions(body, "#")
    )
    problems.extend(_scheme_mismatches(contract, body))
    return problems


def _scheme_mismatches(contract: Contract, body: Mapping[str, Any]) -> Iterator[str]:
    """The body's schemes: the API key as declared, the oauth2 scheme as a Cognito authorizer."""
    carried = (body.get("components") or {}).get("securitySchemes") or {}
    if set(carried) != set(contract.security_schemes):
        yield f"security schemes {sorted(carried)} != the contract's {sorted(contract.security_schemes)}"
    for name, scheme in contract.security_schemes.items():
        found = carried.get(name) or {}
        if scheme.get("type") == "oauth2":
            authorizer = found.get(AUTHORIZER) or {}
            if (
                found.get("type") != "apiKey"
                or found.get("in") != "header"
                or found.get("name") != TOKEN_HEADER
                or found.get(AUTHTYPE) != COGNITO
                or authorizer.get("type") != COGNITO
                or authorizer.get("identitySource") != f"method.request.header.{TOKEN_HEADER}"
                or len(authorizer.get("providerARNs") or []) != 1
            ):
                yield f"securitySchemes.{name}: not a Cognito authorizer on {TOKEN_HEADER} with one user pool"
        elif {key: found.get(key) for key in ("type", "in", "name")} != {
            key: scheme.get(key) for key in ("type", "in", "name")
        }:
            yield f"securitySchemes.{name}: {found!r} is not the contract's {scheme!r}"


def _operation_mismatches(
    operation: Operation, gateway: Mapping[str, Any], validators: Mapping[str, Any], models: Mapping[str, Any]
) -> Iterator[str]:
    integration = gateway.get(INTEGRATION) or {}
    if integration.get("type") != "aws_proxy" or integration.get("httpMethod") != "POST":
        yield f"integration {integration!r} is not an aws_proxy POST"
    if "/invocations" not in str(integration.get("uri")):
        yield "integration does not invoke a function"
    validator = str(gateway.get(VALIDATOR))
    if validator != validator_for(operation) or validator not in validators:
        yield f"request validator {validator!r} (expected {validator_for(operation)!r}, declared in the body)"
    settings = validators.get(validator) or {}
    if settings.get("validateRequestParameters") is not True:
        yield "parameters are not validated"
    if operation.body is not None:
        if settings.get("validateRequestBody") is not True:
            yield "the body is not validated"
        request = gateway.get("requestBody") or {}
        if bool(request.get("required")) != operation.body.required:
            yield "requestBody.required differs from the contract"
        content = request.get("content") or {}
        for media_type in operation.body.media_types:
            schema = (content.get(media_type) or {}).get("schema")
            if not schema:
                yield f"no request model for {media_type}"
            elif "$ref" in schema and str(schema["$ref"]).removeprefix(MODEL_REF) not in models:
                yield f"the model of {media_type} ({schema['$ref']}) is not in components.schemas"
        if set(content) != set(operation.body.media_types):
            yield f"body media types {sorted(content)} != {sorted(operation.body.media_types)}"
    elif "requestBody" in gateway:
        yield "a requestBody the contract does not declare"
    declared = {(p["name"], p["in"]): p for p in gateway.get("parameters") or []}
    for parameter in operation.parameters:
        found = declared.get((parameter.name, parameter.location))
        if found is None:
            yield f"parameter {parameter.name!r} in {parameter.location} is not passed"
        elif bool(found.get("required")) != required_at_gateway(operation, parameter):
            yield f"parameter {parameter.name!r}: required={found.get('required')!r} at the gateway"
    if len(declared) != len(operation.parameters):
        yield f"parameters {sorted(declared)} are not the contract's"
    if set(gateway.get("responses") or {}) != set(operation.responses):
        yield f"responses {sorted(gateway.get('responses') or {})} != {sorted(operation.responses)}"
    security = [{name: tuple(scopes) for name, scopes in r.items()} for r in gateway.get("security") or []]
    if "security" not in gateway or security != [dict(requirement) for requirement in operation.security]:
        yield f"security {gateway.get('security')!r} is not the contract's {operation.security!r}"
    elif operation.needs_auth and len(operation.scopes) != 1:
        yield f"scopes {list(operation.scopes)}: the authorizer needs exactly one per method"


def _foreign_extensions(node: Any, where: str, names: bool = False) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not names and str(key).startswith("x-") and not str(key).startswith(GATEWAY_EXTENSION):
                yield where, str(key)
            if str(key).startswith(GATEWAY_EXTENSION):
                continue  # the gateway's own extensions hold free-form values (VTL templates, ...)
            yield from _foreign_extensions(value, f"{where}/{key}", names=not names and key in _NAME_MAPS)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _foreign_extensions(value, f"{where}/{index}")


# ---- a contract grown by two operations ---------------------------------------------------------

CONTROLLER = "service.handlers.probes"  # a handler module the copy names (the gateway never imports it)
MERGE_PATCH = "application/merge-patch+json"


def _free(name: str, taken: set[str]) -> str:
    candidate, index = name, 1
    while candidate in taken:
        index += 1
        candidate = f"{name}{index}"
    return candidate


def _declared(document: dict[str, Any], statuses: tuple[str, ...]) -> dict[str, Any]:
    """How the contract's own operations declare these statuses (the first one declaring them all)."""
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if responses and all(status in responses for status in statuses):
                return {status: copy.deepcopy(responses[status]) for status in statuses}
    raise AssertionError(f"no operation of the contract declares {', '.join(statuses)}")


def with_two_new_operations(contract: Contract) -> tuple[Contract, Operation, Operation]:
    """A copy of `contract` with (a) a DELETE answering 204 on a new path, with an optional If-Match and
    Idempotency-Key, and (b) a second method on an existing path with a merge-patch body under a
    required If-Match (428 when missing, 412 when stale); each needs the API key and a scope added
    to the oauth2 scheme for it. Returns the copy and the two operations."""
    document = copy.deepcopy(dict(contract.document))
    [key_scheme] = [name for name, s in contract.security_schemes.items() if s.get("type") == "apiKey"]
    oauth2 = contract.oauth2_scheme
    assert oauth2 is not None, "the contract declares an oauth2 scheme"
    scopes = document["components"]["securitySchemes"][oauth2[0]]["flows"]["clientCredentials"]["scopes"]
    identifier = next(iter(contract.scopes)).rpartition("/")[0]
    new_scope = _free(f"{identifier}/probes.delete", set(scopes))
    scopes[new_scope] = "Delete probes."
    write_scope = _free(f"{identifier}/probes.write", set(scopes))
    scopes[write_scope] = "Change probes."
    paths: dict[str, Any] = document.setdefault("paths", {})
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    ids = set(contract.operation_ids)
    model = _free("ProbePatch", set(schemas))
    schemas[model] = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 50, "example": "x"}},
    }
    if_match = {"name": "If-Match", "in": "header", "schema": {"type": "string", "minLength": 1}}
    idempotency_key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    }
    preconditions = {
        "412": {"description": "The If-Match tag is stale."},
        "428": {"description": "If-Match is required."},
    }
    # The problems any secured request can meet, declared as the contract's own operations declare
    # them (redocly.yaml requires them of every operation); 413 and 415 for a body.
    problems = _declared(document, ("400", "401", "403", "404", "405", "429", "500", "503"))
    body_problems = _declared(document, ("413", "415"))

    new_path = _free("/probes/{probeId}", set(paths))
    delete_id = _free("deleteProbe", ids)
    paths[new_path] = {
        "delete": {
            "operationId": delete_id,
            "summary": "Delete a probe",
            "x-openapi-router-controller": CONTROLLER,
            "parameters": [
                {
                    "name": "probeId",
                    "in": "path",
                    "required": True,
                    # An id as the contract's own ids are declared: `format: uuid` alone is an
                    # annotation connexion does not check (schemathesis finds "null,null" accepted).
                    "schema": dict(next(p.schema for op in contract.operations for p in op.path_parameters)),
                },
                {**if_match, "required": False},
                idempotency_key,
            ],
            "responses": {
                "204": {"description": "Deleted."},
                **preconditions,
                **problems,
            },
            "security": [{key_scheme: [], oauth2[0]: [new_scope]}],
        }
    }

    existing, method = next(
        (template, candidate)
        for template, methods in contract.paths.items()
        for candidate in ("PATCH", "PUT", "POST", "DELETE")
        if candidate not in methods
    )
    update_id = _free("updateProbe", ids | {delete_id})
    sibling = next(operation for operation in contract.operations if operation.path == existing)
    paths[existing][method.lower()] = {
        "operationId": update_id,
        "summary": "Change a probe",
        "security": [{key_scheme: [], oauth2[0]: [write_scope]}],
        "x-openapi-router-controller": CONTROLLER,
        "parameters": [
            *(
                {"name": p.name, "in": "path", "required": True, "schema": dict(p.schema)}
                for p in sibling.path_parameters
            ),
            {**if_match, "required": True},
        ],
        "requestBody": {
            "required": True,
            "content": {MERGE_PATCH: {"schema": {"$ref": f"{MODEL_REF}{model}"}}},
        },
        "responses": {
            "200": {
                "description": "Updated.",
                "content": {"application/json": {"schema": {"$ref": f"{MODEL_REF}{model}"}}},
            },
            "304": {"description": "Not modified."},
            **preconditions,
            **problems,
            **body_problems,
        },
    }
    grown = contract.with_document(document)
    return grown, grown.operation(delete_id), grown.operation(update_id)
