"""The one reader of the contract (openapi.yaml): typed operations for everyone else.

`get_contract()` parses the file once per process (in the Lambda bundle, its JSON copy:
service/documents.py). Everything that needs to know the routes
(the app, infra's gateway body, the load scenarios, the local tooling, the benchmarks, the tests)
asks this module, so there is one list of operations, in one order: the document's.

`$ref`s are resolved once, by connexion, on first use of `Contract.specification` (a connexion
`Specification`, also `Contract.resolved`): the app hands that object to connexion as it is; the
gateway transform reads the raw document (`Contract.document`).
"""

# No `from __future__ import annotations` here: the records' annotations are evaluated once, at
# import, where a string annotation would cost each NamedTuple field a compile at every cold start.

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from service import documents

CONTRACT_FILE = documents.ROOT / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAMETER = re.compile(r"\{([^{}]+)\}")


def is_json(media_type: str) -> bool:
    """application/json or a structured-syntax +json type (RFC 6839: problem+json, merge-patch+json),
    for code that must not import connexion (the pre-traffic hook judging a response); the app asks
    connexion's own `is_json_mimetype`, which decides what connexion parses as JSON."""
    return media_type == "application/json" or media_type.endswith("+json")


class ContractError(ValueError):
    """The contract lacks something a caller relies on; the message names it."""


class Parameter(NamedTuple):
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: Mapping[str, Any]
    example: Any = None


class Link(NamedTuple):
    """An OpenAPI link: which operation a response leads to, and how its parameters are filled."""

    name: str
    operation_id: str
    parameters: Mapping[str, str]  # parameter name -> runtime expression ($response.body#/userId)
    request_body: Any = None


class Response(NamedTuple):
    status: str  # "201", "4XX" or "default"
    media_types: tuple[str, ...]  # empty: the response has no body (204, 304)
    headers: tuple[str, ...]
    links: tuple[Link, ...]
    schemas: Mapping[str, Mapping[str, Any]] = MappingProxyType({})  # media type -> schema
    required_headers: tuple[str, ...] = ()  # those the contract marks `required: true`

    @property
    def has_body(self) -> bool:
        return bool(self.media_types)


class RequestBody(NamedTuple):
    required: bool
    media_types: tuple[str, ...]
    schemas: Mapping[str, Mapping[str, Any]]  # media type -> schema ($refs resolved)
    examples: Mapping[str, Any]  # media type -> example (the media type's, else the schema's)


class Operation(NamedTuple):
    operation_id: str
    method: str  # upper case: GET, POST, ...
    path: str  # the template, e.g. /users/{userId}
    controller: str | None  # x-openapi-router-controller: the module holding the handler
    parameters: tuple[Parameter, ...]
    body: RequestBody | None
    responses: Mapping[str, Response]
    security: tuple[Mapping[str, tuple[str, ...]], ...]  # the effective requirements
    tags: tuple[str, ...]

    @property
    def handler(self) -> str:
        """The dotted name connexion's Resolver imports: <x-openapi-router-controller>.<operationId>."""
        return f"{self.controller}.{self.operation_id}" if self.controller else self.operation_id

    @property
    def needs_auth(self) -> bool:
        """True when no requirement of the effective security list is the empty (anonymous) one."""
        return bool(self.security) and all(self.security)

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every OAuth 2.0 scope the operation's requirements name, in order, once each (the contract
        lint makes it exactly one for every operation that needs authorization)."""
        found: dict[str, None] = {}
        for requirement in self.security:
            for scopes in requirement.values():
                found.update(dict.fromkeys(scopes))
        return tuple(found)

    @property
    def path_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "path")

    def parameters_in(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)

    def response(self, status: int) -> Response | None:
        """The response the contract declares for `status`: exact, then its range (4XX), then default."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self.responses:
                return self.responses[key]
        return None

    @property
    def success(self) -> Response:
        """The first 2xx response the operation declares."""
        for status, response in self.responses.items():
            if status.startswith("2"):
                return response
        raise ContractError(f"{self.operation_id}: no 2xx response")

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for response in self.responses.values() for link in response.links)

    def url(self, **values: str) -> str:
        """The path with its parameters filled in."""
        return _PARAMETER.sub(lambda m: values[m.group(1)], self.path)


def _media_example(media: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    examples = media.get("examples") or {}
    for example in examples.values():
        if isinstance(example, Mapping) and "value" in example:
            return example["value"]
    if "example" in schema:
        return schema["example"]
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        built = {name: prop["example"] for name, prop in properties.items() if "example" in prop}
        return built or None
    return None


class Contract:
    """The parsed contract and its operations, in document order."""

    def __init__(self, document: Mapping[str, Any], source: Path | None = None) -> None:
        self.document = document
        self.source = source

    @functools.cached_property
    def specification(self) -> Any:
        """connexion's Specification of the document: its $refs resolved once, by connexion's own
        resolver, and not validated against the OpenAPI schema again at every start-up
        (tests/unit/test_contract.py and the contract lint validate the file). The app hands it to
        connexion as it is, which then neither parses, copies nor resolves the document again."""
        from connexion.spec import Specification

        return Specification.from_dict(dict(self.document), validate_spec=False)

    @property
    def resolved(self) -> Mapping[str, Any]:
        """The document with every $ref resolved."""
        resolved: Mapping[str, Any] = self.specification
        return resolved

    @property
    def title(self) -> str:
        return str(self.document["info"]["title"])

    @property
    def version(self) -> str:
        return str(self.document["info"]["version"])

    @functools.cached_property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._read_operations())

    def _read_operations(self) -> list[Operation]:
        document = self.resolved
        top_security = document.get("security") or []
        found: list[Operation] = []
        for path, item in (document.get("paths") or {}).items():
            shared = list(item.get("parameters") or [])
            for method, raw in item.items():
                if method not in HTTP_METHODS or not isinstance(raw, Mapping):
                    continue
                if "operationId" not in raw:
                    raise ContractError(f"{method.upper()} {path}: no operationId")
                own = list(raw.get("parameters") or [])
                names = {(p["name"], p["in"]) for p in own}
                parameters = tuple(
                    Parameter(
                        name=p["name"],
                        location=p["in"],
                        required=bool(p.get("required", p["in"] == "path")),
                        schema=p.get("schema") or {},
                        example=p.get("example", (p.get("schema") or {}).get("example")),
                    )
                    for p in [*own, *(p for p in shared if (p["name"], p["in"]) not in names)]
                )
                body = None
                if "requestBody" in raw:
                    content = raw["requestBody"].get("content") or {}
                    body = RequestBody(
                        required=bool(raw["requestBody"].get("required", False)),
                        media_types=tuple(content),
                        schemas={m: c.get("schema") or {} for m, c in content.items()},
                        examples={m: _media_example(c, c.get("schema") or {}) for m, c in content.items()},
                    )
                responses = {
                    str(status): Response(
                        status=str(status),
                        media_types=tuple(response.get("content") or {}),
                        headers=tuple(response.get("headers") or {}),
                        required_headers=tuple(
                            name
                            for name, header in (response.get("headers") or {}).items()
                            if header.get("required") is True
                        ),
                        schemas={
                            media: content.get("schema") or {}
                            for media, content in (response.get("content") or {}).items()
                        },
                        links=tuple(
                            Link(
                                name=name,
                                operation_id=link["operationId"],
                                parameters=dict(link.get("parameters") or {}),
                                request_body=link.get("requestBody"),
                            )
                            for name, link in (response.get("links") or {}).items()
                            if "operationId" in link
                        ),
                    )
                    for status, response in (raw.get("responses") or {}).items()
                }
                security = raw.get("security", top_security) or []
                found.append(
                    Operation(
                        operation_id=str(raw["operationId"]),
                        method=method.upper(),
                        path=str(path),
                        controller=raw.get("x-openapi-router-controller"),
                        parameters=parameters,
                        body=body,
                        responses=MappingProxyType(responses),
                        security=tuple(
                            {name: tuple(scopes) for name, scopes in requirement.items()}
                            for requirement in security
                        ),
                        tags=tuple(raw.get("tags") or ()),
                    )
                )
        return found

    @functools.cached_property
    def _by_id(self) -> Mapping[str, Operation]:
        return {operation.operation_id: operation for operation in self.operations}

    def operation(self, operation_id: str) -> Operation:
        try:
            return self._by_id[operation_id]
        except KeyError:
            raise ContractError(f"the contract has no operation {operation_id!r}") from None

    @property
    def operation_ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    @functools.cached_property
    def paths(self) -> Mapping[str, tuple[str, ...]]:
        """Path template -> the methods the contract has on it (upper case, document order)."""
        methods: dict[str, list[str]] = {}
        for operation in self.operations:
            methods.setdefault(operation.path, []).append(operation.method)
        return {path: tuple(found) for path, found in methods.items()}

    @functools.cached_property
    def _matchers(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        matchers = []
        for template in self.paths:
            pattern = "".join(
                f"(?P<p{index}>[^/]+)" if part.startswith("{") else re.escape(part)
                for index, part in enumerate(re.split(r"(\{[^{}]+\})", template))
            )
            matchers.append((re.compile(pattern + r"\Z"), template))
        return tuple(matchers)

    def template_of(self, path: str) -> str | None:
        """The path template a concrete path falls under (literal templates win), or None."""
        candidates = [template for pattern, template in self._matchers if pattern.match(path)]
        if not candidates:
            return None
        return min(candidates, key=lambda template: template.count("{"))

    @property
    def api_key_header(self) -> str | None:
        """The header of the contract's apiKey security scheme, if it has one."""
        schemes = (self.resolved.get("components") or {}).get("securitySchemes") or {}
        for scheme in schemes.values():
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return str(scheme["name"])
        return None

    @property
    def security_schemes(self) -> Mapping[str, Mapping[str, Any]]:
        schemes: Mapping[str, Mapping[str, Any]] = (self.resolved.get("components") or {}).get(
            "securitySchemes"
        ) or {}
        return schemes

    @property
    def oauth2_scheme(self) -> tuple[str, Mapping[str, Any]] | None:
        """(name, scheme) of the contract's OAuth 2.0 scheme, if it has one."""
        for name, scheme in self.security_schemes.items():
            if scheme.get("type") == "oauth2":
                return name, scheme
        return None

    @property
    def scopes(self) -> Mapping[str, str]:
        """scope -> description, from the client-credentials flow of the OAuth 2.0 scheme."""
        found = self.oauth2_scheme
        if found is None:
            return {}
        flow = (found[1].get("flows") or {}).get("clientCredentials") or {}
        return {str(scope): str(text) for scope, text in (flow.get("scopes") or {}).items()}

    @property
    def token_url(self) -> str | None:
        """The client-credentials flow's tokenUrl as written (relative: each stage resolves it)."""
        found = self.oauth2_scheme
        if found is None:
            return None
        flow = (found[1].get("flows") or {}).get("clientCredentials") or {}
        return str(flow["tokenUrl"]) if "tokenUrl" in flow else None

    def schema(self, name: str) -> Mapping[str, Any]:
        """A component schema, $refs resolved."""
        schemas = (self.resolved.get("components") or {}).get("schemas") or {}
        if name not in schemas:
            raise ContractError(f"the contract has no schema {name!r}")
        schema: Mapping[str, Any] = schemas[name]
        return schema

    def with_document(self, document: Mapping[str, Any]) -> "Contract":
        return Contract(document, self.source)


def read_document(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    """The contract file as a dict (YAML, or the bundle's JSON copy)."""
    document: dict[str, Any] = documents.read(path)
    return document


def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    return Contract(read_document(path), path)


@functools.cache
def get_contract() -> Contract:
    """The process's contract, parsed once (cold start): the bundle's JSON copy, else openapi.yaml."""
    return load_contract(documents.deployed(CONTRACT_FILE))
