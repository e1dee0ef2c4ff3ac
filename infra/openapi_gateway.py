"""openapi.yaml -> the body API Gateway imports, by code.

The contract stays the only list of routes: every operation found in `paths` gets the same
`aws_proxy` integration (the function's alias), so a new operation reaches the gateway with no
change here. What the gateway must not see is stripped (connexion-only extensions, `links`,
`servers`, schema keywords outside its draft-4 subset such as `format` and `example`); `$ref`s to
reusable parameters, responses and headers are inlined (only schema refs become models). API-key
security, request validators and gateway responses in the contract's Problem shape are added.
connexion keeps enforcing the full contract inside the function.

`lint_gateway_body` is the check CDK and cfn-lint cannot do (they never look inside `Body`): it
fails on what the gateway would refuse at import time.
"""

from __future__ import annotations

import copy
import hashlib
import http
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.config import CONTRACT_FILE

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
GATEWAY_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})
INTEGRATION = "x-amazon-apigateway-integration"
VALIDATOR = "x-amazon-apigateway-request-validator"
VALIDATORS = "x-amazon-apigateway-request-validators"
GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"
API_KEY_SOURCE = "x-amazon-apigateway-api-key-source"
API_KEY_HEADER = "x-api-key"
# Schema keywords the gateway's draft-4 models ignore or refuse, with no effect on what it must check.
STRIPPED_SCHEMA_KEYWORDS = frozenset(
    {"format", "example", "examples", "readOnly", "writeOnly", "xml", "externalDocs", "deprecated"}
)
# Schema keywords the gateway refuses and that cannot be dropped without changing the contract.
REFUSED_SCHEMA_KEYWORDS = frozenset({"oneOf", "anyOf", "not", "discriminator", "nullable", "const"})
_SEGMENT = re.compile(r"^(?:[A-Za-z0-9._:-]+|\{[A-Za-z0-9._-]+\}|\{[A-Za-z0-9._-]+\+\})$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9]+$")
_SCHEMA_REF = "#/components/schemas/"
# A mapping with any of these keys is checked as a schema.
_SCHEMA_KEYS = REFUSED_SCHEMA_KEYWORDS | {"type", "$ref", "properties", "allOf", "items", "pattern"}

# Every gateway response type -> the status it answers with. Statuses are ones the contract declares,
# so a client (and schemathesis) sees only documented answers; each body has the Problem shape.
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
_DETAILS: dict[str, str] = {
    "INVALID_API_KEY": '"A valid API key is required in the x-api-key header."',
    "MISSING_AUTHENTICATION_TOKEN": '"No such route."',
    "BAD_REQUEST_BODY": (
        '"$util.escapeJavaScript($context.error.validationErrorString).replaceAll("\\\\\'","\'")"'
    ),
}
_RETRY_AFTER_TYPES = frozenset({"THROTTLED", "QUOTA_EXCEEDED", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT"})


def load_contract(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not an OpenAPI document")
    return document


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of the document, in document order."""
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield path, method, item[method]


def integration_uri(function_arn: str, partition: str = "aws", region: str = "${AWS::Region}") -> str:
    return f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (non-schema) to its target, repeatedly."""
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and not str(node["$ref"]).startswith(_SCHEMA_REF):
        reference = str(node["$ref"])
        if not reference.startswith("#/"):
            raise ValueError(f"external $ref {reference!r}: the gateway imports one document")
        target: Any = document
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
        if seen > 20:
            raise ValueError(f"$ref loop at {reference!r}")
    return copy.deepcopy(node)


def _clean_schema(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key in STRIPPED_SCHEMA_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, dict):
            cleaned[key] = {name: _clean_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            cleaned[key] = _clean_schema(value)
        elif key == "allOf" and isinstance(value, list):
            cleaned[key] = [_clean_schema(sub) for sub in value]
        else:
            cleaned[key] = value
    return cleaned


def _clean_media(content: Any) -> Any:
    if not isinstance(content, dict):
        return content
    return {
        media: {
            key: _clean_schema(value) if key == "schema" else value
            for key, value in spec.items()
            if key not in ("example", "examples", "encoding")
        }
        for media, spec in content.items()
    }


def _clean_parameter(document: Mapping[str, Any], parameter: Any) -> dict[str, Any]:
    resolved = _resolve(document, parameter)
    resolved.pop("example", None)
    resolved.pop("examples", None)
    if "schema" in resolved:
        resolved["schema"] = _clean_schema(resolved["schema"])
    return dict(resolved)


def _clean_response(document: Mapping[str, Any], response: Any) -> dict[str, Any]:
    resolved = _resolve(document, response)
    resolved.pop("links", None)
    if "content" in resolved:
        resolved["content"] = _clean_media(resolved["content"])
    headers = resolved.get("headers")
    if isinstance(headers, dict):
        cleaned = {}
        for name, raw in headers.items():
            header = _resolve(document, raw)
            header.pop("example", None)
            if "schema" in header:
                header["schema"] = _clean_schema(header["schema"])
            cleaned[name] = header
        resolved["headers"] = cleaned
    return dict(resolved)


def _problem_template(response_type: str, status: int) -> str:
    title = http.HTTPStatus(status).phrase
    detail = _DETAILS.get(response_type, "$context.error.messageString")
    return (
        '{"type":"about:blank",'
        f'"title":{json.dumps(title)},'
        f'"status":{status},'
        f'"detail":{detail},'
        '"requestId":"$context.requestId"}'
    )


def gateway_responses(retry_after_seconds: int) -> dict[str, Any]:
    """The gateway's own answers, each an application/problem+json Problem with a documented status."""
    responses: dict[str, Any] = {}
    for response_type, status in GATEWAY_RESPONSE_STATUSES.items():
        parameters = {"gatewayresponse.header.Content-Type": "'application/problem+json'"}
        if response_type in _RETRY_AFTER_TYPES:
            parameters["gatewayresponse.header.Retry-After"] = f"'{retry_after_seconds}'"
        responses[response_type] = {
            "statusCode": str(status),
            "responseParameters": parameters,
            "responseTemplates": {"application/json": _problem_template(response_type, status)},
        }
    return responses


def gateway_body(
    contract: Mapping[str, Any],
    *,
    function_arn: str,
    api_name: str,
    retry_after_seconds: int,
    partition: str = "aws",
    region: str = "${AWS::Region}",
) -> dict[str, Any]:
    """The API Gateway import body for `contract` (which is not modified)."""
    document = copy.deepcopy(dict(contract))
    top_security = document.get("security", [])
    body: dict[str, Any] = {
        "openapi": document.get("openapi"),
        "info": {**document.get("info", {}), "title": api_name},
    }
    if "tags" in document:
        body["tags"] = document["tags"]
    paths: dict[str, Any] = {}
    for path, item in (document.get("paths") or {}).items():
        shared = [_clean_parameter(document, p) for p in item.get("parameters", [])]
        new_item: dict[str, Any] = {}
        if shared:
            new_item["parameters"] = shared
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            new_op = {key: value for key, value in operation.items() if not _foreign_extension(key)}
            new_op.pop("callbacks", None)
            new_op.pop("servers", None)
            if "parameters" in new_op:
                new_op["parameters"] = [_clean_parameter(document, p) for p in new_op["parameters"]]
            if "requestBody" in new_op:
                request = _resolve(document, new_op["requestBody"])
                request["content"] = _clean_media(request.get("content"))
                new_op["requestBody"] = request
            new_op["responses"] = {
                code: _clean_response(document, response)
                for code, response in (new_op.get("responses") or {}).items()
            }
            new_op["security"] = copy.deepcopy(operation.get("security", top_security))
            new_op[VALIDATOR] = "body-and-params" if "requestBody" in new_op else "params-only"
            new_op[INTEGRATION] = {
                "type": "aws_proxy",
                "httpMethod": "POST",
                "uri": integration_uri(function_arn, partition, region),
                "passthroughBehavior": "when_no_match",
            }
            new_item[method] = new_op
        paths[path] = new_item
    body["paths"] = paths
    components = document.get("components") or {}
    new_components: dict[str, Any] = {}
    if components.get("schemas"):
        new_components["schemas"] = {
            name: _clean_schema(schema) for name, schema in components["schemas"].items()
        }
    schemes = {}
    for name, scheme in (components.get("securitySchemes") or {}).items():
        schemes[name] = {key: value for key, value in scheme.items() if not _foreign_extension(key)}
    if schemes:
        new_components["securitySchemes"] = schemes
    body["components"] = new_components
    if top_security:
        body["security"] = top_security
    body[API_KEY_SOURCE] = "HEADER"
    body[VALIDATORS] = {
        "body-and-params": {"validateRequestBody": True, "validateRequestParameters": True},
        "params-only": {"validateRequestBody": False, "validateRequestParameters": True},
    }
    body[GATEWAY_RESPONSES] = gateway_responses(retry_after_seconds)
    return body


def _foreign_extension(key: str) -> bool:
    """An `x-` extension meant for another tool (e.g. connexion's x-apikeyInfoFunc)."""
    return key.startswith("x-") and not key.startswith("x-amazon-apigateway-")


def body_digest(body: Mapping[str, Any]) -> str:
    """A stable hash of the body (key order independent): folded into the deployment's logical id."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def api_key_schemes(body: Mapping[str, Any]) -> set[str]:
    return {
        name
        for name, scheme in ((body.get("components") or {}).get("securitySchemes") or {}).items()
        if scheme.get("type") == "apiKey"
        and scheme.get("in") == "header"
        and scheme.get("name") == API_KEY_HEADER
    }


def requires_api_key(body: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    names = api_key_schemes(body)
    return any(names.intersection(requirement) for requirement in operation.get("security", []))


def _walk_schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if _SCHEMA_KEYS.intersection(node):
            yield where, node
        for key, value in node.items():
            yield from _walk_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_schemas(value, f"{where}/{index}")


def lint_gateway_body(body: Mapping[str, Any]) -> list[str]:
    """What API Gateway would refuse (or silently drop) at import: one message per problem."""
    problems: list[str] = []
    version = str(body.get("openapi", ""))
    if not re.fullmatch(r"3\.0\.\d+", version):
        problems.append(f"openapi {version!r}: API Gateway imports OpenAPI 3.0.x only")
    if "servers" in body:
        problems.append("servers: the stage gives the URL; remove it from the gateway body")
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        if name not in api_key_schemes(body):
            problems.append(
                f"securitySchemes.{name}: only an apiKey in the {API_KEY_HEADER!r} header maps to the gateway"
            )
        for key in scheme:
            if key.startswith("x-") and _foreign_extension(key):
                problems.append(f"securitySchemes.{name}.{key}: extension the gateway does not know")
    for name in (body.get("components") or {}).get("schemas") or {}:
        if not _MODEL_NAME.fullmatch(name):
            problems.append(f"components.schemas.{name}: model names must be alphanumeric")
    seen_paths: set[str] = set()
    for path, item in (body.get("paths") or {}).items():
        problems.extend(_lint_path(path, seen_paths))
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            if method not in GATEWAY_METHODS:
                problems.append(f"{where}: method {method.upper()} is not supported by API Gateway")
            integration = operation.get(INTEGRATION)
            if not isinstance(integration, dict) or integration.get("type") != "aws_proxy":
                problems.append(f"{where}: no aws_proxy integration")
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                if "$ref" in parameter:
                    problems.append(f"{where}: parameter $ref left in the body")
                elif parameter.get("in") not in ("path", "query", "header"):
                    problems.append(f"{where}: parameter in {parameter.get('in')!r} is not supported")
            for requirement in operation.get("security", []):
                unknown = set(requirement) - set(schemes)
                if unknown:
                    problems.append(f"{where}: security scheme {sorted(unknown)[0]!r} is not declared")
    for where, schema in _walk_schemas(body, "#"):
        problems.extend(_lint_schema(where, schema))
    return problems


def _lint_path(path: str, seen: set[str]) -> list[str]:
    problems: list[str] = []
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        problems.append(f"path {path!r}: must start with '/', with no empty segment or trailing '/'")
        return problems
    segments = [segment for segment in path.split("/")[1:] if segment]
    for index, segment in enumerate(segments):
        if not _SEGMENT.fullmatch(segment):
            problems.append(
                f"path {path!r}: segment {segment!r} is not a literal [A-Za-z0-9._:-]+ nor a whole {{param}}"
            )
        elif segment.endswith("+}") and index != len(segments) - 1:
            problems.append(f"path {path!r}: a greedy {segment} must be the last segment")
    shape = "/".join("{}" if segment.startswith("{") else segment for segment in segments)
    if shape in seen:
        problems.append(f"path {path!r}: same resource as another path with other parameter names")
    seen.add(shape)
    return problems


def _lint_schema(where: str, schema: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{where}: schema keyword {key!r} is refused by API Gateway models (draft-4 subset)"
        for key in schema
        if key in REFUSED_SCHEMA_KEYWORDS
    ]
    problems.extend(
        f"{where}: schema keyword {key!r} must be stripped for the gateway"
        for key in schema
        if key in STRIPPED_SCHEMA_KEYWORDS and isinstance(schema.get("type"), str)
    )
    reference = schema.get("$ref")
    if isinstance(reference, str) and not reference.startswith(_SCHEMA_REF):
        problems.append(f"{where}: $ref {reference!r} is not a model (#/components/schemas/...)")
    if isinstance(schema.get("type"), list):
        problems.append(f"{where}: a list of types is OpenAPI 3.1, not 3.0")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        if "(?<" in pattern or "(?P" in pattern or "\\p{" in pattern or "\\Z" in pattern:
            problems.append(f"{where}: pattern {pattern!r} uses a construct outside the common regex subset")
        else:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.append(f"{where}: pattern {pattern!r} does not compile ({error})")
    return problems
