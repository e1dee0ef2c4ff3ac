"""A fake of any contract's service for the load scenarios, and contract copies that grow.

`FakeService` answers a scenario's calls the way a resource API does, from the contract alone:
an operation without path parameters that writes creates a resource (its id in every field a 2xx
link reads with `$response.body#/...`, a version in every header a link reads); one with path
parameters finds the resource by them (404 if unknown, 412 if a header a link filled is stale),
reads it, changes it (PUT/PATCH: merge, new version) or removes it (DELETE). It knows no route.
Its answers keep to the contract, as the load test checks them: the declared media type, the
required properties of the declared schema filled in (`conform`), every header it marks required.
`break_answers` rewrites each answer before it is judged, to test those checks.

`with_added_operations` copies a contract and adds a second method answering 204 on an existing
path and a new path, with the links that feed them: what a developer adding operations writes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from loadtest._scenarios import Call, Judge, Reply
from service.contract import Contract, Operation, is_json

Rewrite = Callable[[Operation, Reply], Reply]


@dataclasses.dataclass
class Record:
    body: dict[str, Any]
    version: int = 1


class FakeService:
    """A Transport answering from `contract`; keeps every call it was sent in `calls`."""

    def __init__(
        self, contract: Contract, corrupt_reads: bool = False, break_answers: Rewrite | None = None
    ) -> None:
        self.contract = contract
        self.records: dict[tuple[str, ...], Record] = {}
        self.calls: list[Call] = []
        self.failures: list[str] = []
        self.corrupt_reads = corrupt_reads
        self.break_answers = break_answers

    def operation(self, call: Call) -> Operation:
        path = self.contract.template_of(call.url)
        return next(o for o in self.contract.operations if (o.method, o.path) == (call.method, path))

    def send(self, call: Call, judge: Judge) -> Reply | None:
        self.calls.append(call)
        operation = self.operation(call)
        reply = self.answer(operation, call)
        if self.break_answers is not None:
            reply = self.break_answers(operation, reply)
        problem = judge(reply)
        if problem is not None:
            self.failures.append(problem)
            return None
        return reply

    def fail(self, method: str, name: str, message: str) -> None:
        self.failures.append(message)

    def answer(self, operation: Operation, call: Call) -> Reply:
        success = int(operation.success.status)
        pointers, headers = _linked_fields(operation)
        if not operation.path_parameters:
            if operation.method in ("GET", "HEAD"):
                return _answer(operation, success, {})
            made = str(uuid.uuid4())
            body = {**json.loads(call.body or b"{}"), **{p: made for p in pointers}}
            record = self.records[(made,)] = Record(conform(body, _schema(operation, success)))
            return _answer(operation, success, record.body, {h: _tag(record) for h in headers}, made)
        key = tuple(_segments(operation.path, call.url))
        found = self.records.get(key)
        if found is None:
            return _answer(operation, 404, {"title": "Not Found", "status": 404})
        record = found
        for name, value in call.headers.items():
            if name.lower() == "if-match" and value != _tag(record):
                return _answer(operation, 412, {"title": "Precondition Failed", "status": 412})
        if operation.method == "DELETE":
            del self.records[key]
            return _answer(operation, success, None)
        if operation.method in ("PUT", "PATCH"):
            record.body = {**record.body, **json.loads(call.body or b"{}")}
            record.version += 1
        body = dict(record.body)
        if self.corrupt_reads and operation.method == "GET":
            body["name"] = "someone else"
        return _answer(operation, success, body, {"ETag": _tag(record)}, key[-1])


def _schema(operation: Operation, status: int) -> Mapping[str, Any]:
    response = operation.response(status)
    media = next((m for m in response.media_types if is_json(m)), None) if response is not None else None
    return (response.schemas.get(media) or {}) if response is not None and media is not None else {}


def _answer(
    operation: Operation,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    made: str = "",
) -> Reply:
    """The answer the contract declares for `status`: its first media type and a body of its schema
    (none when it declares none), and every header it marks required."""
    response = operation.response(status)
    out = dict(headers or {})
    if response is None:
        return Reply(status, out, b"")
    for name in response.required_headers:
        out.setdefault(name, f"{operation.path}/{made}" if name.lower() == "location" else '"0"')
    if not response.media_types:
        return Reply(status, out, b"")
    document = conform(body if body is not None else {}, _schema(operation, status))
    return Reply(status, {"Content-Type": response.media_types[0], **out}, json.dumps(document).encode())


def conform(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` with every required property its schema lacks filled in (enum's first, a uuid, a
    date-time, a string of minLength, a number at its minimum, an empty array or object)."""
    if not isinstance(value, Mapping):
        return value
    properties = schema.get("properties") or {}
    filled = dict(value)
    for name in schema.get("required") or ():
        if name not in filled:
            filled[name] = _example(properties.get(name) or {})
    return filled


def _example(schema: Mapping[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        return "x" * max(1, int(schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return conform({}, schema)


def _tag(record: Record) -> str:
    return f'"{record.version}"'


def _linked_fields(operation: Operation) -> tuple[list[str], list[str]]:
    """Body fields (top level) and headers that the operation's 2xx links read from its response."""
    pointers, headers = [], []
    for status, response in operation.responses.items():
        if not status.startswith("2"):
            continue
        for link in response.links:
            for expression in link.parameters.values():
                if expression.startswith("$response.body#/"):
                    pointers.append(expression.split("#/", 1)[1].split("/")[0])
                elif expression.startswith("$response.header."):
                    headers.append(expression.split(".", 2)[2])
    return pointers, headers


def _segments(template: str, url: str) -> list[str]:
    """The values of the template's parameters in a concrete path."""
    return [
        value for part, value in zip(template.split("/"), url.split("/"), strict=True) if part.startswith("{")
    ]


# --- contract copies with more operations ---

NO_CONTENT = {"description": "Done."}


def with_added_operations(document: Mapping[str, Any]) -> tuple[dict[str, Any], str, str]:
    """A copy of the contract plus (a) a second method answering 204 on an existing path with path
    parameters, fed by the links that feed that path's first operation, and (b) a new path with a
    GET returning JSON. Returns (document, id of (a), id of (b)); neither id nor path collides."""
    grown = copy.deepcopy(dict(document))
    contract = Contract(grown)
    taken = set(contract.operation_ids)
    target = next(o for o in contract.operations if o.path_parameters and _fed(contract, o.operation_id))
    item = grown["paths"][target.path]
    method = next(m for m in ("delete", "put", "patch", "post") if m not in item)
    second = _fresh("loadProbe" + method.title(), taken)
    item[method] = {
        "operationId": second,
        "parameters": copy.deepcopy(item[target.method.lower()].get("parameters", [])),
        "responses": {"204": NO_CONTENT, "404": {"description": "No such resource."}},
    }
    for operation in contract.operations:
        raw = grown["paths"][operation.path][operation.method.lower()]
        for response in list(raw["responses"].values()):
            links: dict[str, Any] = (response.get("links") if isinstance(response, dict) else None) or {}
            for name, link in list(links.items()):
                if link.get("operationId") == target.operation_id:
                    links[_fresh(name + "Probe", set(links))] = {**link, "operationId": second}
    new_path = f"/load-probe-{uuid.uuid4().hex[:8]}"
    third = _fresh("getLoadProbe", taken | {second})
    grown["paths"][new_path] = {
        "get": {
            "operationId": third,
            "responses": {
                "200": {
                    "description": "A probe.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return grown, second, third


def _fed(contract: Contract, operation_id: str) -> bool:
    return any(link.operation_id == operation_id for o in contract.operations for link in o.links)


def _fresh(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}{number}"
    return candidate
