"""The contract lint: each rule fires on a crafted copy of the contract, and the contract itself is clean."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from infra.api import build_body
from infra.config import load_stage
from infra.contract_lint import UnimportableContract, lint_contract
from service.contract import Contract, get_contract

pytestmark = pytest.mark.infra

OK = {"200": {"description": "OK."}}


def _get(operation_id: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "parameters": list(parameters), "responses": OK}}


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _add_path(path: str, item: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["paths"].update({path: item})


def _add_schema(name: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["components"]["schemas"].update({name: schema})


def _on_first_operation(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        operation = get_contract().operations[0]
        document["paths"][operation.path][operation.method.lower()][key] = value

    return change


def _oauth2_name() -> str:
    found = get_contract().oauth2_scheme
    assert found is not None, "the contract declares an oauth2 scheme"
    return found[0]


def _key_name() -> str:
    [name] = [n for n, s in get_contract().security_schemes.items() if s["type"] == "apiKey"]
    return name


def _secured_security(requirements: Callable[[str, str, list[str]], Any]) -> Callable[[dict[str, Any]], None]:
    """Set the `security` of the first operation that needs authorization to
    requirements(key scheme, oauth2 scheme, the contract's scopes)."""

    def change(document: dict[str, Any]) -> None:
        operation = next(op for op in get_contract().operations if op.needs_auth)
        raw = document["paths"][operation.path][operation.method.lower()]
        raw["security"] = requirements(_key_name(), _oauth2_name(), list(get_contract().scopes))

    return change


def _without_own_security(document: dict[str, Any]) -> None:
    operation = next(op for op in get_contract().operations if op.needs_auth)
    raw = document["paths"][operation.path][operation.method.lower()]
    document["security"] = [raw.pop("security")[0]]  # a top-level default still covers it


def _oauth2_scheme(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda document: change(document["components"]["securitySchemes"][_oauth2_name()])


def _add_scope(scope: str) -> Callable[[dict[str, Any]], None]:
    return _oauth2_scheme(lambda scheme: scheme["flows"]["clientCredentials"]["scopes"].update({scope: "x"}))


# (rule, change to a copy of the contract, a fragment of the message it must produce)
RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("openapi-3.1", lambda d: d.update(openapi="3.1.0"), "OpenAPI 3.0.x only"),
    (
        "external-ref",
        _add_schema("Remote", {"$ref": "https://example.com/schemas.yaml#/Remote"}),
        "external; the gateway imports one document",
    ),
    ("invalid-openapi", _add_path("/broken", {"get": {"operationId": "broken"}}), "not valid OpenAPI 3.0"),
    ("server-base-path", lambda d: d.update(servers=[{"url": "https://api.example.com/v1"}]), "base path"),
    (
        "security-scheme",
        lambda d: d["components"]["securitySchemes"].update(bearer={"type": "http", "scheme": "bearer"}),
        "only an apiKey in the 'x-api-key' header and an oauth2 scheme",
    ),
    (
        "api-key-in-query",
        lambda d: d["components"]["securitySchemes"][_key_name()].update({"in": "query"}),
        "only in the 'x-api-key' header",
    ),
    (
        "second-oauth2-scheme",
        lambda d: d["components"]["securitySchemes"].update(
            partner=copy.deepcopy(d["components"]["securitySchemes"][_oauth2_name()])
        ),
        "2 OAuth 2.0 schemes",
    ),
    (
        "other-oauth2-flow",
        _oauth2_scheme(
            lambda scheme: scheme["flows"].update(
                authorizationCode={
                    "authorizationUrl": "/oauth2/authorize",
                    "tokenUrl": "/oauth2/token",
                    "scopes": {},
                }
            )
        ),
        "clientCredentials only",
    ),
    ("scope-without-identifier", _add_scope("users.admin"), "not <resource server identifier>/<name>"),
    ("scope-with-empty-name", _add_scope("users-api/"), "not <resource server identifier>/<name>"),
    ("scopes-of-two-servers", _add_scope("billing-api/invoices.read"), "scopes of 2 resource servers"),
    ("no-scope", _secured_security(lambda key, oauth2, scopes: [{key: [], oauth2: []}]), "0 scopes"),
    (
        "several-scopes",
        _secured_security(lambda key, oauth2, scopes: [{key: [], oauth2: scopes[:2]}]),
        "2 scopes",
    ),
    (
        "undeclared-scope",
        _secured_security(lambda key, oauth2, scopes: [{key: [], oauth2: ["users-api/users.admin"]}]),
        "is not one the",
    ),
    (
        "token-without-key",
        _secured_security(lambda key, oauth2, scopes: [{oauth2: scopes[:1]}]),
        "must name the API key and the OAuth 2.0 scheme together",
    ),
    (
        "key-without-token",
        _secured_security(lambda key, oauth2, scopes: [{key: []}]),
        "must name the API key and the OAuth 2.0 scheme together",
    ),
    (
        "key-or-token",
        _secured_security(lambda key, oauth2, scopes: [{key: []}, {oauth2: scopes[:1]}]),
        "2 alternative security requirements",
    ),
    (
        "optional-credentials",
        _secured_security(lambda key, oauth2, scopes: [{}]),
        "makes credentials optional",
    ),
    (
        "scoped-api-key",
        _secured_security(lambda key, oauth2, scopes: [{key: scopes[:1], oauth2: scopes[:1]}]),
        "takes no scopes",
    ),
    ("no-security-of-its-own", _without_own_security, "no `security` of its own"),
    ("model-name", _add_schema("New_User", {"type": "object"}), "must be alphanumeric"),
    (
        "injected-extension",
        _on_first_operation("x-amazon-apigateway-integration", {"type": "mock"}),
        "is written by infra",
    ),
    (
        "oneOf",
        _add_schema("Either", {"oneOf": [{"type": "string"}, {"type": "integer"}]}),
        "'oneOf' is refused",
    ),
    (
        "nullable-in-a-parameter",
        _add_path(
            "/things",
            _get("listThings", {"name": "q", "in": "query", "schema": {"type": "string", "nullable": True}}),
        ),
        "'nullable' is refused",
    ),
    (
        "discriminator-in-a-property",
        _add_schema(
            "Pet",
            {
                "type": "object",
                "properties": {"kind": {"type": "object", "discriminator": {"propertyName": "k"}}},
            },
        ),
        "'discriminator' is refused",
    ),
    ("type-list", _add_schema("Maybe", {"type": ["string", "null"]}), "a list of types is OpenAPI 3.1"),
    ("lookbehind", _add_schema("Code", {"type": "string", "pattern": "(?<=a)b"}), "do not read alike"),
    ("bad-pattern", _add_schema("Bad", {"type": "string", "pattern": "([a-z]"}), "does not compile"),
    (
        "unchecked-format",
        _add_schema("Ref", {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}),
        "format 'uuid' alone is not checked",
    ),
    (
        "partial-segment",
        _add_path("/files/{fileId}.json", _get("getFile", _path_parameter("fileId"))),
        "neither a literal",
    ),
    ("trailing-slash", _add_path("/things/", _get("listThings")), "no trailing '/'"),
    (
        "greedy-not-last",
        _add_path("/files/{path+}/meta", _get("getMeta", _path_parameter("path+"))),
        "must be the last segment",
    ),
    (
        "same-shape",
        lambda d: d["paths"].update(
            {
                "/boxes/{boxId}": _get("getBox", _path_parameter("boxId")),
                "/boxes/{id}": {
                    "put": {"operationId": "putBox", "parameters": [_path_parameter("id")], "responses": OK}
                },
            }
        ),
        "other parameter names",
    ),
    ("reserved-path", _add_path("/ping", _get("ping")), "reserved by API Gateway"),
    (
        "trace",
        _add_path("/echo", {"trace": {"operationId": "traceEcho", "responses": OK}}),
        "API Gateway has no TRACE method",
    ),
    (
        "cookie",
        _add_path(
            "/prefs", _get("getPrefs", {"name": "session", "in": "cookie", "schema": {"type": "string"}})
        ),
        "in 'cookie'",
    ),
    (
        "undeclared-scheme",
        _on_first_operation("security", [{"oauth": []}]),
        "security scheme 'oauth' is not declared",
    ),
    ("no-operation-id", _add_path("/anon", {"get": {"responses": OK}}), "operations cannot be read"),
]


def test_the_contract_lints_clean() -> None:
    assert lint_contract(get_contract()) == []


@pytest.mark.parametrize(
    ("change", "expected"), [rule[1:] for rule in RULES], ids=[rule[0] for rule in RULES]
)
def test_each_rule_fires_on_a_contract_that_breaks_it(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    document = copy.deepcopy(dict(get_contract().document))
    change(document)
    problems = lint_contract(get_contract().with_document(document))
    assert any(expected in problem for problem in problems), problems


def test_a_contract_the_gateway_would_refuse_stops_the_build_with_every_problem() -> None:
    document = copy.deepcopy(dict(get_contract().document))
    document["paths"]["/ping"] = _get("ping", {"name": "s", "in": "cookie", "schema": {"type": "string"}})
    with pytest.raises(UnimportableContract) as error:
        build_body(Contract(document), load_stage("dev"), "arn:fn")
    assert "reserved by API Gateway" in str(error.value)
    assert "in 'cookie'" in str(error.value)
