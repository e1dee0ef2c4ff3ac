"""The contract lint: what in openapi.yaml API Gateway's REST import would refuse, or would read differently.

CDK accepts any inline body and cfn-lint never looks inside `Body`, so without this a contract the
gateway cannot import fails only at deploy time. The lint reads the contract (the input), never the
body infra makes from it: each rule here can fire on a contract someone writes, and tests/infra
makes each one fire on a crafted copy.

The rules are API Gateway's documented import limits for REST APIs ("Amazon API Gateway important
notes for REST APIs") plus openapi-spec-validator, and the authorization model the gateway can
enforce as written: an API key in `x-api-key` (metering) and one OAuth 2.0 scheme (client
credentials) that infra turns into a Cognito authorizer. Every operation declares its own `security`:
`[]` (public), or one requirement naming both schemes with exactly one scope, because the gateway's
Cognito authorizer lets a token through with ANY of a method's scopes while connexion demands ALL of
them; with one scope both agree. Scopes are Cognito's `<resource-server identifier>/<name>`, one
identifier for the whole contract (one resource server). `lint_contract` returns one message per
problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from service.contract import Contract, ContractError

# What API Gateway imports: OpenAPI 3.0.x (and Swagger 2.0, which this project does not use).
OPENAPI_VERSION = re.compile(r"3\.0\.\d+")
# Methods a REST API resource can have (besides its ANY method, which OpenAPI cannot express).
GATEWAY_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"})
PARAMETER_LOCATIONS = frozenset({"path", "query", "header"})
# The only API key the gateway reads: one in its own header.
API_KEY_HEADER = "x-api-key"
# The OAuth 2.0 flow the consumers (services) use, and the one a Cognito app client grants them.
OAUTH2_FLOW = "clientCredentials"
# A Cognito scope: <resource server identifier>/<scope name>. Cognito's character sets: the
# identifier is printable ASCII without '"' and '\', the name the same without '/' either.
SCOPE = re.compile(r"(?P<identifier>[!#-\[\]-~]{1,256})/(?P<name>[!#-.0-\[\]-~]{1,256})")
# Schema keywords API Gateway's draft-4 models refuse, and that cannot be dropped without changing
# what the contract accepts (the transform drops only annotations such as `format` and `example`).
REFUSED_SCHEMA_KEYWORDS = frozenset({"oneOf", "anyOf", "not", "discriminator", "nullable", "const"})
# Extensions infra injects (infra/gateway.py): written in the contract, they would be overwritten.
INJECTED_EXTENSIONS = frozenset(
    {
        "x-amazon-apigateway-integration",
        "x-amazon-apigateway-request-validator",
        "x-amazon-apigateway-request-validators",
        "x-amazon-apigateway-gateway-responses",
        "x-amazon-apigateway-api-key-source",
    }
)
# Root resources API Gateway keeps for its own health check.
RESERVED_PATHS = frozenset({"/ping", "/sping"})
# A path segment: a literal, or a whole {parameter} (greedy {parameter+} only last).
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._:-]+|\{[A-Za-z0-9._-]+\}|\{[A-Za-z0-9._-]+\+\})")
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
# Regex constructs that Python (connexion), ECMA (schemathesis' clients) and Java (the gateway)
# do not read alike.
_PATTERN_CONSTRUCTS = ("(?<", "(?P", "\\p{", "\\P{", "\\Z", "\\A", "(?i", "(?x", "(?s", "(?m")
# Keywords whose value is one subschema / a list of them / a map of them.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


class UnimportableContract(ValueError):
    """The contract has something API Gateway would refuse at import; the message lists every problem."""


def split_scope(scope: str) -> tuple[str, str]:
    """(resource server identifier, scope name) of a Cognito scope; ValueError if it is not one."""
    match = SCOPE.fullmatch(scope)
    if match is None:
        raise ValueError(f"scope {scope!r} is not <identifier>/<name>")
    return match["identifier"], match["name"]


def lint_contract(contract: Contract) -> list[str]:
    """Every reason API Gateway would refuse (or silently change) the contract at import."""
    document = contract.document
    problems: list[str] = []
    version = str(document.get("openapi", ""))
    if not OPENAPI_VERSION.fullmatch(version):
        problems.append(f"openapi {version!r}: API Gateway imports OpenAPI 3.0.x only")
    external = sorted(set(_external_refs(document)))
    problems.extend(f"$ref {ref!r}: external; the gateway imports one document" for ref in external)
    if external or problems:
        # Neither the validator nor the resolver may follow an external ref (no network), and a
        # document of another version would only add the validator's noise.
        return problems
    problems.extend(_spec_errors(document))
    problems.extend(_lint_document(document))
    try:
        operations = contract.operations
    except (ContractError, KeyError, TypeError) as error:
        return [*problems, f"the contract's operations cannot be read: {error}"]
    seen_shapes: dict[str, str] = {}
    for path in contract.paths:
        problems.extend(_lint_path(path, seen_shapes))
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    problems.extend(_lint_scopes(contract))
    for operation in operations:
        where = f"{operation.method} {operation.path}"
        if operation.method not in GATEWAY_METHODS:
            problems.append(f"{where}: API Gateway has no {operation.method} method")
        for parameter in operation.parameters:
            if parameter.location not in PARAMETER_LOCATIONS:
                problems.append(
                    f"{where}: parameter {parameter.name!r} in {parameter.location!r}; the gateway "
                    f"passes only {', '.join(sorted(PARAMETER_LOCATIONS))} parameters"
                )
        undeclared = False
        for requirement in operation.security:
            for name in requirement:
                if name not in schemes:
                    undeclared = True
                    problems.append(f"{where}: security scheme {name!r} is not declared")
        raw = (document.get("paths") or {}).get(operation.path, {}).get(operation.method.lower()) or {}
        if not undeclared:
            problems.extend(f"{where}: {problem}" for problem in _lint_security(raw, schemes, contract))
    return problems


def _scheme_names(schemes: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(API key schemes, OAuth 2.0 schemes) among the declared ones."""
    keys = [name for name, scheme in schemes.items() if scheme.get("type") == "apiKey"]
    oauth2 = [name for name, scheme in schemes.items() if scheme.get("type") == "oauth2"]
    return keys, oauth2


def _lint_security(raw: Mapping[str, Any], schemes: Mapping[str, Any], contract: Contract) -> list[str]:
    """An operation's own `security`: [] (public), or one requirement with the key and one scope."""
    if "security" not in raw:
        return [
            "no `security` of its own: declare [] for a public operation, or its API key and its one "
            "scope (a top-level default is easy to miss when an operation is added)"
        ]
    security = raw["security"] or []
    if not security:
        return []
    keys, oauth2 = _scheme_names(schemes)
    expected = f"{{{', '.join([*keys[:1], *oauth2[:1]])}}}"
    if len(security) != 1:
        return [
            f"{len(security)} alternative security requirements; the gateway enforces one: "
            f"{expected} with one scope"
        ]
    [requirement] = security
    if not requirement:
        return [
            f"an empty security requirement ({{}}) makes credentials optional; use security: [] or {expected}"
        ]
    problems: list[str] = []
    named_keys = [name for name in requirement if name in keys]
    named_oauth2 = [name for name in requirement if name in oauth2]
    if len(named_keys) != 1 or len(named_oauth2) != 1 or len(requirement) != 2:
        problems.append(
            f"security requirement {sorted(requirement)} must name the API key and the OAuth 2.0 scheme "
            f"together ({expected}): the key meters the consumer, the token authorizes it"
        )
    for name in named_keys:
        if requirement[name]:
            problems.append(f"the API key {name!r} takes no scopes")
    for name in named_oauth2:
        scopes = list(requirement[name] or [])
        if len(scopes) != 1:
            problems.append(
                f"{len(scopes)} scopes {scopes}: exactly one (the gateway lets a token through with any "
                "of a method's scopes, connexion only with all of them)"
            )
        problems.extend(
            f"scope {scope!r} is not one the {name!r} scheme declares"
            for scope in scopes
            if scope not in contract.scopes
        )
    return problems


def _lint_scopes(contract: Contract) -> list[str]:
    """The scheme's scopes are Cognito's <identifier>/<name>, all of one resource server."""
    problems: list[str] = []
    identifiers: set[str] = set()
    for scope in contract.scopes:
        try:
            identifier, _ = split_scope(scope)
        except ValueError:
            problems.append(
                f"scope {scope!r}: not <resource server identifier>/<name> (Cognito's form; neither part "
                "empty, no '\"' or '\\', no '/' in the name)"
            )
            continue
        identifiers.add(identifier)
    if len(identifiers) > 1:
        problems.append(
            f"scopes of {len(identifiers)} resource servers ({', '.join(sorted(identifiers))}): one "
            "identifier for every scope (one Cognito resource server)"
        )
    return problems


def check_contract(contract: Contract) -> None:
    """Raise UnimportableContract with every problem, if there is one."""
    problems = lint_contract(contract)
    if problems:
        raise UnimportableContract("openapi.yaml cannot be imported by API Gateway: " + "; ".join(problems))


def _external_refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        reference = node.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#/"):
            yield reference
        for value in node.values():
            yield from _external_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _external_refs(value)


def _spec_errors(document: Mapping[str, Any]) -> list[str]:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    return [
        f"not valid OpenAPI 3.0 at {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in OpenAPIV30SpecValidator(document).iter_errors()
    ]


def _lint_document(document: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for server in document.get("servers") or []:
        url = str(server.get("url", "")) if isinstance(server, Mapping) else ""
        if urlsplit(url).path.strip("/"):
            problems.append(
                f"servers: {url!r} has a base path; the gateway imports paths as written "
                "(the stage is the only prefix) while connexion would route under it"
            )
    components = document.get("components") or {}
    schemes = components.get("securitySchemes") or {}
    for name, scheme in schemes.items():
        problems.extend(f"securitySchemes.{name}: {problem}" for problem in _lint_scheme(scheme))
    keys, oauth2 = _scheme_names(schemes)
    if len(keys) > 1:
        problems.append(
            f"securitySchemes: {len(keys)} API key schemes ({', '.join(keys)}); the gateway reads one"
        )
    if len(oauth2) > 1:
        problems.append(
            f"securitySchemes: {len(oauth2)} OAuth 2.0 schemes ({', '.join(oauth2)}); the gateway gets one "
            "Cognito authorizer"
        )
    for name in components.get("schemas") or {}:
        if not _MODEL_NAME.fullmatch(name):
            problems.append(f"components.schemas.{name}: a model name must be alphanumeric")
    for where, key in _extensions(document, "#"):
        if key in INJECTED_EXTENSIONS:
            problems.append(f"{where}: {key} is written by infra (infra/gateway.py); remove it")
    for where, schema in _schemas(document):
        problems.extend(_lint_schema(where, schema))
    return problems


def _lint_scheme(scheme: Mapping[str, Any]) -> list[str]:
    """A scheme the gateway can enforce: an API key in x-api-key, or OAuth 2.0 client credentials."""
    kind = scheme.get("type")
    if kind == "apiKey":
        if scheme.get("in") == "header" and str(scheme.get("name", "")).lower() == API_KEY_HEADER:
            return []
        return [f"an apiKey maps to the gateway only in the {API_KEY_HEADER!r} header"]
    if kind == "oauth2":
        flows = sorted(scheme.get("flows") or {})
        if flows != [OAUTH2_FLOW]:
            return [
                f"OAuth 2.0 flows {flows}: the consumers are services, each a Cognito app client with the "
                f"client-credentials grant ({OAUTH2_FLOW} only)"
            ]
        return []
    return [
        f"a {kind!r} scheme: only an apiKey in the {API_KEY_HEADER!r} header and an oauth2 scheme "
        "(a Cognito authorizer) map to the gateway"
    ]


def _extensions(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("x-amazon-apigateway-"):
                yield where, key
            yield from _extensions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _extensions(value, f"{where}/{index}")


def _lint_path(path: str, seen: dict[str, str]) -> list[str]:
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        return [f"path {path!r}: must start with '/', with no empty segment and no trailing '/'"]
    problems: list[str] = []
    if path in RESERVED_PATHS:
        problems.append(f"path {path!r}: reserved by API Gateway for its health check")
    segments = [segment for segment in path.split("/")[1:] if segment]
    for index, segment in enumerate(segments):
        if not _SEGMENT.fullmatch(segment):
            problems.append(
                f"path {path!r}: segment {segment!r} is neither a literal [A-Za-z0-9._:-]+ "
                "nor a whole {parameter}"
            )
        elif segment.endswith("+}") and index != len(segments) - 1:
            problems.append(f"path {path!r}: the greedy {segment} must be the last segment")
    shape = "/".join("{}" if segment.startswith("{") else segment for segment in segments)
    if shape in seen:
        problems.append(
            f"path {path!r}: the same resource as {seen[shape]!r} with other parameter names "
            "(the gateway has one resource per shape)"
        )
    seen.setdefault(shape, path)
    return problems


def _schemas(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema of the document, with where it is: components, parameters, bodies, responses, headers."""
    components = document.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        yield from _walk_schema(f"components.schemas.{name}", schema)

    def holders(where: str, node: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if not isinstance(node, Mapping):
            return
        if isinstance(node.get("schema"), Mapping):
            yield from _walk_schema(f"{where}.schema", node["schema"])
        for key in ("content", "headers"):
            for name, value in (node.get(key) or {}).items():
                yield from holders(f"{where}.{key}.{name}", value)

    for kind in ("parameters", "headers", "requestBodies", "responses"):
        for name, node in (components.get(kind) or {}).items():
            yield from holders(f"components.{kind}.{name}", node)
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for index, parameter in enumerate(item.get("parameters") or []):
            yield from holders(f"{path}.parameters.{index}", parameter)
        for method, operation in item.items():
            if not isinstance(operation, Mapping) or method == "parameters":
                continue
            where = f"{method.upper()} {path}"
            for index, parameter in enumerate(operation.get("parameters") or []):
                yield from holders(f"{where} parameters.{index}", parameter)
            yield from holders(f"{where} requestBody", operation.get("requestBody"))
            for status, response in (operation.get("responses") or {}).items():
                yield from holders(f"{where} responses.{status}", response)


def _walk_schema(where: str, schema: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not isinstance(schema, Mapping):
        return
    yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _walk_schema(f"{where}.properties.{name}", sub)
    for key in _SUBSCHEMA:
        yield from _walk_schema(f"{where}.{key}", schema.get(key))
    for key in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key) or []):
            yield from _walk_schema(f"{where}.{key}.{index}", sub)


@functools.cache
def _checked_formats() -> frozenset[str]:
    """The string formats the function validates: connexion checks with JSON Schema draft 4's format
    checker, whose formats depend on the libraries installed (tests/infra checks that the bundle's
    are the test tiers'). The gateway's models drop `format` (infra/gateway.py)."""
    from jsonschema import Draft4Validator

    return frozenset(Draft4Validator.FORMAT_CHECKER.checkers)


def _lint_schema(where: str, schema: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{where}: schema keyword {key!r} is refused by API Gateway models (JSON Schema draft-4 subset)"
        for key in sorted(REFUSED_SCHEMA_KEYWORDS.intersection(schema))
    ]
    if isinstance(schema.get("type"), list):
        problems.append(f"{where}: a list of types is OpenAPI 3.1, not 3.0")
    format_ = schema.get("format")
    if (
        schema.get("type") == "string"
        and isinstance(format_, str)
        and not {"pattern", "enum"} & set(schema)
        and format_ not in (checked := _checked_formats())
    ):
        problems.append(
            f"{where}: format {format_!r} alone is not checked (the function checks "
            f"{', '.join(sorted(checked))}; the gateway none): constrain it with a pattern or an enum"
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        problems.extend(_lint_pattern(where, pattern))
    return problems


def _lint_pattern(where: str, pattern: str) -> list[str]:
    construct = next((c for c in _PATTERN_CONSTRUCTS if c in pattern), None)
    if construct is not None:
        return [
            f"{where}: pattern {pattern!r} uses {construct!r}, which Python, ECMA and Java regexes "
            "(service, clients, gateway) do not read alike"
        ]
    try:
        re.compile(pattern)
    except re.error as error:
        return [f"{where}: pattern {pattern!r} does not compile ({error})"]
    return []
