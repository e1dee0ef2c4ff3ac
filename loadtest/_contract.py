"""What the load test sends, read from the contract (openapi.yaml): no second list of routes."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from service.contract import get_contract

CREATE_USER = "createUser"
GET_USER = "getUser"
GET_HEALTH = "getHealth"


class ContractError(ValueError):
    """The contract lacks something the load test relies on; the message names it."""


@dataclasses.dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # the template, e.g. with {userId}: also the name the reports group by


@dataclasses.dataclass(frozen=True)
class Traffic:
    """The operations a client calls, the API key header and the body of a new user."""

    create_user: Operation
    get_user: Operation
    get_health: Operation
    api_key_header: str
    new_user_schema: dict[str, Any]
    user_id_parameter: str
    user_id_pattern: str

    def user_path(self, user_id: str) -> str:
        """The getUser path of one user."""
        return self.get_user.path.format(**{self.user_id_parameter: user_id})

    def new_user(self) -> dict[str, str]:
        """A NewUser body from the schema's examples, with an email no other request uses."""
        properties = self.new_user_schema["properties"]
        name = str(properties["name"]["example"])
        local, _, domain = str(properties["email"]["example"]).partition("@")
        body = {"name": name, "email": f"{local}+load-{uuid.uuid4().hex}@{domain}"}
        check_against_schema(body, self.new_user_schema)
        return body

    def unknown_user_id(self) -> str:
        """A well-formed user id (it matches the contract's pattern) that no user has."""
        user_id = str(uuid.uuid4())
        if not re.search(self.user_id_pattern, user_id):
            raise ContractError(f"a random uuid {user_id} does not match the userId pattern")
        return user_id


def check_against_schema(body: dict[str, str], schema: dict[str, Any]) -> None:
    """The constraints of a flat string-property schema (required, extra keys, lengths, patterns)."""
    missing = set(schema.get("required", [])) - set(body)
    extra = set(body) - set(schema["properties"])
    if missing or (extra and schema.get("additionalProperties") is False):
        raise ContractError(f"body {body} misses {sorted(missing)} or has extra {sorted(extra)}")
    for key, value in body.items():
        rules = schema["properties"][key]
        if not rules.get("minLength", 0) <= len(value) <= rules.get("maxLength", len(value)):
            raise ContractError(f"body field {key}={value!r}: length outside the contract's bounds")
        if "pattern" in rules and not re.search(rules["pattern"], value):
            raise ContractError(f"body field {key}={value!r}: does not match {rules['pattern']!r}")


def _resolve(contract: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = contract
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation(contract: dict[str, Any], operation_id: str) -> Operation:
    paths = {
        op.operation_id: (op.method, op.path) for op in get_contract().with_document(contract).operations
    }
    if operation_id not in paths:
        raise ContractError(f"the contract has no operation {operation_id!r}")
    method, path = paths[operation_id]
    return Operation(operation_id, method, path)


def _operation_object(contract: dict[str, Any], operation: Operation) -> dict[str, Any]:
    node: dict[str, Any] = contract["paths"][operation.path][operation.method.lower()]
    return node


def read_traffic(contract: dict[str, Any] | None = None) -> Traffic:
    contract = contract if contract is not None else dict(get_contract().document)
    create_user = _operation(contract, CREATE_USER)
    get_user = _operation(contract, GET_USER)
    body = _operation_object(contract, create_user)["requestBody"]["content"]["application/json"]
    new_user_schema = _resolve(contract, body["schema"])
    parameters = [_resolve(contract, p) for p in _operation_object(contract, get_user)["parameters"]]
    user_id = next((p for p in parameters if p["in"] == "path"), None)
    if user_id is None:
        raise ContractError(f"{GET_USER} has no path parameter")
    schemes = contract["components"]["securitySchemes"].values()
    headers = [s["name"] for s in schemes if s.get("type") == "apiKey" and s.get("in") == "header"]
    if not headers:
        raise ContractError("the contract declares no API key header")
    return Traffic(
        create_user=create_user,
        get_user=get_user,
        get_health=_operation(contract, GET_HEALTH),
        api_key_header=headers[0],
        new_user_schema=new_user_schema,
        user_id_parameter=str(user_id["name"]),
        user_id_pattern=str(user_id["schema"]["pattern"]),
    )
