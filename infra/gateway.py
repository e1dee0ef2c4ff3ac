"""The contract -> the body API Gateway imports, by code, for every operation the contract has.

The operations come from `service.contract` (the one reader of openapi.yaml), so an operation added
to the contract reaches the gateway with no change here. Each gets:

- the same `aws_proxy` integration (the function's alias): the function answers every status the
  contract declares (204 and 304 without a body, 412, 428, ...) and the gateway passes it through;
- a request validator: body and parameters when the operation has a body, parameters otherwise.
  Each body media type (application/json, application/merge-patch+json, ...) keeps its schema, which
  is the model the gateway validates that media type against; header, query and path parameters are
  kept as declared, so required ones are checked and all are passed through;
- its own security, as the contract declares it: none (public), or the API key AND the one scope
  of the `oauth2` scheme. The scheme itself is written in API Gateway's form: OpenAPI 3.0 allows
  scopes only on oauth2/openIdConnect schemes, but API Gateway's REST import turns an oauth2 scheme
  into no authorizer at all. So the contract keeps its oauth2 scheme, and the body gets, under the
  same name, an `apiKey`-typed scheme on the Authorization header carrying
  `x-amazon-apigateway-authtype: cognito_user_pools` and `x-amazon-apigateway-authorizer` with the
  stage's user pool: a Cognito authorizer, with each method's scope as its `authorizationScopes`.

What the body keeps is chosen, not what it drops: extensions meant for other tools
(`x-openapi-router-controller`, `x-apikeyInfoFunc`, ...), `links`, `servers`, examples and schema
annotations the gateway's draft-4 models refuse (`format`, `readOnly`, ...) never reach it. `$ref`s are
resolved by connexion's resolver, except those to `#/components/schemas/...`, which stay: they are
the gateway's models. connexion keeps enforcing the full contract inside the function.

One deliberate difference: a precondition header (If-Match, ...) that the contract requires on an
operation that answers 428 is passed through as optional, so its absence reaches the function and
gets the contract's 428 rather than the gateway's 400.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from infra.gateway_responses import gateway_responses
from service.contract import HTTP_METHODS, Contract, Operation, Parameter

INTEGRATION = "x-amazon-apigateway-integration"
VALIDATOR = "x-amazon-apigateway-request-validator"
VALIDATORS = "x-amazon-apigateway-request-validators"
GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"
API_KEY_SOURCE = "x-amazon-apigateway-api-key-source"
BODY_AND_PARAMS = "body-and-params"
PARAMS_ONLY = "params-only"
REQUEST_VALIDATORS = {
    BODY_AND_PARAMS: {"validateRequestBody": True, "validateRequestParameters": True},
    PARAMS_ONLY: {"validateRequestBody": False, "validateRequestParameters": True},
}
MODEL_REF = "#/components/schemas/"
# Schema annotations the gateway's draft-4 models ignore or refuse, with no effect on what it checks.
STRIPPED_SCHEMA_KEYWORDS = frozenset(
    {"format", "example", "examples", "readOnly", "writeOnly", "xml", "externalDocs", "deprecated"}
)
# RFC 9110 precondition headers: their absence is the function's to answer (428) when the contract says so.
PRECONDITION_HEADERS = frozenset({"if-match", "if-none-match", "if-modified-since", "if-unmodified-since"})
PRECONDITION_REQUIRED = "428"
SECURITY_SCHEME_KEYS = ("type", "name", "in", "description")
AUTHTYPE = "x-amazon-apigateway-authtype"
AUTHORIZER = "x-amazon-apigateway-authorizer"
COGNITO = "cognito_user_pools"
TOKEN_HEADER = "Authorization"  # noqa: S105 - a header name
_MODEL_MARK = "x-users-api-model-ref"


def integration_uri(function_arn: str, partition: str = "aws", region: str = "${AWS::Region}") -> str:
    return f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def integration(function_arn: str, partition: str, region: str) -> dict[str, Any]:
    return {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": integration_uri(function_arn, partition, region),
        "passthroughBehavior": "when_no_match",
    }


def validator_for(operation: Operation) -> str:
    return BODY_AND_PARAMS if operation.body is not None else PARAMS_ONLY


def required_at_gateway(operation: Operation, parameter: Parameter) -> bool:
    """Whether the gateway itself refuses a request without the parameter (400)."""
    if (
        parameter.location == "header"
        and parameter.name.lower() in PRECONDITION_HEADERS
        and PRECONDITION_REQUIRED in operation.responses
    ):
        return False
    return parameter.required


def resolve_keeping_models(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its $refs resolved by connexion's resolver, except refs to models."""
    from connexion.json_schema import resolve_refs

    resolved: dict[str, Any] = _unmark(resolve_refs(_mark(document)))
    return resolved


def _mark(node: Any) -> Any:
    if isinstance(node, Mapping):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(MODEL_REF):
            return {_MODEL_MARK: reference}
        return {key: _mark(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_mark(value) for value in node]
    return node


def _unmark(node: Any) -> Any:
    if isinstance(node, Mapping):
        if _MODEL_MARK in node:
            return {"$ref": node[_MODEL_MARK]}
        return {key: _unmark(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_unmark(value) for value in node]
    return node


def clean_schema(schema: Any) -> Any:
    """A schema as a draft-4 model: annotations and extensions dropped, subschemas cleaned alike."""
    if not isinstance(schema, Mapping):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key in STRIPPED_SCHEMA_KEYWORDS or _foreign_extension(key):
            continue
        if key == "properties" and isinstance(value, Mapping):
            cleaned[key] = {name: clean_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            cleaned[key] = clean_schema(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            cleaned[key] = [clean_schema(sub) for sub in value]
        else:
            cleaned[key] = value
    return cleaned


def _foreign_extension(key: str) -> bool:
    """An `x-` extension meant for another tool (x-openapi-router-controller, x-apikeyInfoFunc, ...)."""
    return key.startswith("x-") and not key.startswith("x-amazon-apigateway-")


def _content(content: Any) -> dict[str, Any]:
    return {
        media: {"schema": clean_schema(spec.get("schema") or {})}
        for media, spec in (content or {}).items()
        if isinstance(spec, Mapping)
    }


def _parameter(operation: Operation, parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.location,
        "required": required_at_gateway(operation, parameter),
        "schema": clean_schema(parameter.schema),
    }


def _response(raw: Mapping[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": str(raw.get("description", ""))}
    headers = {
        name: {
            key: clean_schema(value) if key == "schema" else value
            for key, value in header.items()
            if key in ("description", "required", "schema")
        }
        for name, header in (raw.get("headers") or {}).items()
    }
    if headers:
        response["headers"] = headers
    if raw.get("content"):
        response["content"] = _content(raw["content"])
    return response


def gateway_operation(
    operation: Operation, raw: Mapping[str, Any], uri_integration: Mapping[str, Any]
) -> dict[str, Any]:
    """One operation of the body; `raw` is the contract's operation with non-model $refs resolved."""
    body: dict[str, Any] = {"operationId": operation.operation_id}
    for key in ("summary", "description"):
        if key in raw:
            body[key] = raw[key]
    if operation.tags:
        body["tags"] = list(operation.tags)
    if operation.parameters:
        body["parameters"] = [_parameter(operation, parameter) for parameter in operation.parameters]
    if operation.body is not None:
        request = raw.get("requestBody") or {}
        body["requestBody"] = {
            "required": operation.body.required,
            "content": _content(request.get("content")),
        }
    responses = raw.get("responses") or {}
    body["responses"] = {str(status): _response(responses[status]) for status in responses}
    body["security"] = [
        {name: list(scopes) for name, scopes in requirement.items()} for requirement in operation.security
    ]
    body[VALIDATOR] = validator_for(operation)
    body[INTEGRATION] = dict(uri_integration)
    return body


class NoUserPool(ValueError):
    """The contract has an oauth2 scheme but no user pool was given to authorize it."""


def cognito_authorizer(scheme: Mapping[str, Any], user_pool_arn: str) -> dict[str, Any]:
    """The contract's oauth2 scheme as API Gateway's REST import reads a Cognito authorizer."""
    authorizer: dict[str, Any] = {"type": "apiKey", "name": TOKEN_HEADER, "in": "header"}
    if "description" in scheme:
        authorizer["description"] = scheme["description"]
    authorizer[AUTHTYPE] = COGNITO
    authorizer[AUTHORIZER] = {
        "type": COGNITO,
        "providerARNs": [user_pool_arn],
        "identitySource": f"method.request.header.{TOKEN_HEADER}",
    }
    return authorizer


def security_schemes(contract: Contract, user_pool_arn: str | None) -> dict[str, Any]:
    """The body's security schemes: the API key as declared, the oauth2 scheme as a Cognito authorizer."""
    schemes: dict[str, Any] = {}
    for name, scheme in contract.security_schemes.items():
        if scheme.get("type") == "oauth2":
            if user_pool_arn is None:
                raise NoUserPool(f"securitySchemes.{name}: an oauth2 scheme needs the stage's user pool")
            schemes[name] = cognito_authorizer(scheme, user_pool_arn)
        else:
            schemes[name] = {key: scheme[key] for key in SECURITY_SCHEME_KEYS if key in scheme}
    return schemes


def gateway_body(
    contract: Contract,
    *,
    function_arn: str,
    api_name: str,
    retry_after_seconds: int,
    user_pool_arn: str | None = None,
    partition: str = "aws",
    region: str = "${AWS::Region}",
) -> dict[str, Any]:
    """The API Gateway import body of `contract` (which is not modified); `user_pool_arn` is the
    Cognito user pool that authorizes the contract's oauth2 scheme."""
    document = resolve_keeping_models(contract.document)
    uri_integration = integration(function_arn, partition, region)
    info: dict[str, Any] = {"title": api_name, "version": contract.version}
    if "description" in document.get("info", {}):
        info["description"] = document["info"]["description"]
    body: dict[str, Any] = {"openapi": document["openapi"], "info": info}
    if document.get("tags"):
        body["tags"] = [
            {key: value for key, value in tag.items() if key in ("name", "description")}
            for tag in document["tags"]
        ]
    paths: dict[str, dict[str, Any]] = {}
    for operation in contract.operations:
        raw = document["paths"][operation.path][operation.method.lower()]
        paths.setdefault(operation.path, {})[operation.method.lower()] = gateway_operation(
            operation, raw, uri_integration
        )
    body["paths"] = paths
    components = document.get("components") or {}
    body["components"] = {}
    if components.get("schemas"):
        body["components"]["schemas"] = {
            name: clean_schema(schema) for name, schema in components["schemas"].items()
        }
    schemes = security_schemes(contract, user_pool_arn)
    if schemes:
        body["components"]["securitySchemes"] = schemes
    if document.get("security"):
        body["security"] = document["security"]
    body[API_KEY_SOURCE] = "HEADER"
    body[VALIDATORS] = json.loads(json.dumps(REQUEST_VALIDATORS))
    body[GATEWAY_RESPONSES] = gateway_responses(retry_after_seconds)
    return body


def gateway_operations(body: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(path, METHOD, operation) of a gateway body, in its order."""
    for path, item in (body.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                yield path, method.upper(), item[method]


def body_digest(body: Mapping[str, Any]) -> str:
    """A stable hash of the body (key order independent): folded into the deployment's logical id."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
