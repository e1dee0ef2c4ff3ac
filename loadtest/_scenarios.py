"""Load scenarios from the contract: one per operation, weighted by settings.yaml's `load.mix`.

Nothing here names an operation or a route. For each operation of `service.contract`:
- **weight**: `load.mix[operationId]`. Every operation of the contract needs one and every key must
  be an operation (`ScenarioError` names the offender); 0 means "no task of its own in this run"
  (it still runs as a producer when a consumer needs it).
- **body**: the contract's example for the operation's first JSON media type (the media type's
  `example`, else the schema's, else its properties' examples), with every email made unique (a
  string property of `format: email` or named like `email`: a tag in the local part), checked
  against the schema with jsonschema.
- **parameters**: path, query and header parameters come from the *pool*: values earlier responses
  produced, through the contract's `links` (runtime expressions: `$response.body#/pointer`,
  `$response.header.Name`, `$request.path|query|header.name`, `$request.body#/pointer`, or a
  constant). A required parameter no link provides takes the contract's example.
- **producers**: a consumer whose pool has nothing for it first runs the shortest chain of
  producers (operations whose 2xx response links to it), e.g. createUser before getUser.
- **writes**: a write (any method but GET/HEAD) on a resource leaves on it only what its own response
  links to (an ETag read before it is stale); a DELETE removes the resource from the pool.
- **checks**: every answer against the operation's declared response (`loadtest._answers`: status,
  media type, body schema, the headers of a 2xx), then the status expected, the operation's first
  2xx (`Operation.success`). A GET whose response has the schema of the resource's last write must
  return that body (read-after-write). An answer whose links cannot give a consumer a value it
  needs (no ETag, so no If-Match), and an action that cannot be sent for want of one, are
  failures, never silent skips.

`Session` is one client's state and logic; it sends through a `Transport` (Locust's HTTP client
in locustfile.py, a fake in the tests), so all of it runs without Locust.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from loadtest import _answers
from loadtest._answers import NO_ANSWER, AnswerCheck
from service.contract import Contract, Operation, Parameter

LOCATIONS = ("path", "query", "header", "cookie")
SENT_LOCATIONS = ("path", "query", "header")  # cookies are not part of this API's style
POOL_LIMIT = 100  # resources one client keeps; the oldest is forgotten past this
CONSUMING_METHODS = ("DELETE",)
SAFE_METHODS = ("GET", "HEAD")
UNIQUE_TAG = "load"


class ScenarioError(ValueError):
    """The contract and load.mix cannot make the scenarios; the message names what to change."""


# --- runtime expressions (OpenAPI 3.0 "Runtime Expressions", the subset links need here) ---


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request and its response, as runtime expressions see them."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    request_headers: Mapping[str, str]
    request_body: Any
    status: int
    response_headers: Mapping[str, str]
    response_body: Any


class Missing(LookupError):
    """A runtime expression names something the exchange does not hold."""


def check_expression(expression: Any) -> None:
    """Raise ScenarioError for a runtime expression this engine cannot evaluate."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        return  # a constant
    source, _, rest = expression.partition(".")
    if expression.startswith(("$response.body", "$request.body")):
        before, hash_sign, _ = expression.partition("#")
        if before not in ("$response.body", "$request.body") or not hash_sign:
            raise ScenarioError(f"runtime expression {expression!r}: a body needs #/json-pointer")
        return
    if source in ("$response", "$request"):
        location, _, name = rest.partition(".")
        known = ("header",) if source == "$response" else ("path", "query", "header")
        if location in known and name:
            return
    if expression == "$statusCode":
        return
    raise ScenarioError(
        f"runtime expression {expression!r} is not supported (supported: $response.body#/pointer, "
        "$response.header.Name, $request.path.name, $request.query.name, $request.header.Name, "
        "$request.body#/pointer, $statusCode, constants)"
    )


def evaluate(expression: Any, exchange: Exchange) -> str:
    """The value of a runtime expression (or a constant) in one exchange, as a string."""
    if not isinstance(expression, str) or not expression.startswith("$"):
        return _text(expression)
    if expression == "$statusCode":
        return str(exchange.status)
    if expression.startswith("$response.body#"):
        return _text(json_pointer(exchange.response_body, expression.partition("#")[2]))
    if expression.startswith("$request.body#"):
        return _text(json_pointer(exchange.request_body, expression.partition("#")[2]))
    source, _, rest = expression.partition(".")
    location, _, name = rest.partition(".")
    if source == "$response" and location == "header":
        return _header(exchange.response_headers, name)
    if source == "$request":
        if location == "header":
            return _header(exchange.request_headers, name)
        values = exchange.path if location == "path" else exchange.query
        if name in values:
            return values[name]
        raise Missing(f"{expression}: the request had no {location} parameter {name!r}")
    check_expression(expression)
    raise Missing(expression)  # pragma: no cover - check_expression raised


def json_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901: the value at `pointer` ("/a/0/b", "" for the whole document)."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise Missing(f"JSON pointer {pointer!r} does not start with '/'")
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise Missing(f"JSON pointer {pointer!r}: no {token!r} in the document")
    return node


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise Missing(f"no {name} header")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (Mapping, list)):
        raise Missing(f"{value!r} is not a scalar")
    return json.dumps(value)


# --- bodies from the contract's examples ---


def _is_email(name: str, schema: Mapping[str, Any]) -> bool:
    return schema.get("format") == "email" or "email" in name.casefold()


def make_unique(value: Any, schema: Mapping[str, Any], tag: str) -> Any:
    """`value` with `tag` in the local part of every email property the schema describes."""
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        return {
            key: _unique_property(key, item, properties.get(key) or {}, tag) for key, item in value.items()
        }
    if isinstance(value, list):
        return [make_unique(item, schema.get("items") or {}, tag) for item in value]
    return value


def _unique_property(name: str, value: Any, schema: Mapping[str, Any], tag: str) -> Any:
    if isinstance(value, str) and "@" in value and _is_email(name, schema):
        local, _, domain = value.rpartition("@")
        return f"{local}+{UNIQUE_TAG}-{tag}@{domain}"
    return make_unique(value, schema, tag)


@dataclasses.dataclass(frozen=True)
class BodyTemplate:
    media_type: str
    example: Any
    schema: Mapping[str, Any]

    @functools.cached_property
    def _validator(self) -> Any:
        from jsonschema import Draft4Validator, FormatChecker

        return Draft4Validator(dict(self.schema), format_checker=FormatChecker())

    def problems(self, body: Any) -> list[str]:
        """What is wrong with `body` for the schema (empty: valid)."""
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
            for error in self._validator.iter_errors(body)
        ]

    def build(self, tag: str | None = None) -> Any:
        """A body from the example, its emails made unique; ScenarioError if it breaks the schema."""
        body = make_unique(self.example, self.schema, tag or uuid.uuid4().hex)
        problems = self.problems(body)
        if problems:
            raise ScenarioError(f"the example body {body!r} does not satisfy the schema: {problems[0]}")
        return body


def _body_template(operation: Operation) -> BodyTemplate | None:
    if operation.body is None:
        return None
    media_types = operation.body.media_types
    json_types = [m for m in media_types if m == "application/json" or m.endswith("+json")]
    if not json_types:
        if not operation.body.required:
            return None
        raise ScenarioError(
            f"{operation.operation_id}: the load test sends JSON bodies; the contract offers {media_types}"
        )
    media = json_types[0]
    example = operation.body.examples.get(media)
    if example is None:
        if not operation.body.required:
            return None
        raise ScenarioError(
            f"{operation.operation_id}: the request body ({media}) has no example in the contract "
            "(add `example` to the media type, the schema or its properties)"
        )
    template = BodyTemplate(media, example, operation.body.schemas.get(media) or {})
    try:
        template.build("check")
    except ScenarioError as error:
        raise ScenarioError(f"{operation.operation_id}: {error}") from None
    return template


# --- scenarios ---

Key = tuple[str, str]  # a parameter: (location, name)
Bindings = dict[str, dict[Key, str]]  # what a resource's answers gave: operationId -> parameter -> value


def key_of(parameter: Parameter) -> Key:
    return (parameter.location, parameter.name)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """What one task of the load test does: one operation, with its inputs and its weight."""

    operation: Operation
    weight: int
    body: BodyTemplate | None
    from_pool: tuple[Key, ...]  # required parameters a link provides: they need a resource
    optional_from_pool: tuple[Key, ...]  # optional ones a link provides: sent when known
    from_examples: Mapping[Key, str]  # required, no link provides them: the contract's example
    success_schema: Mapping[str, Any] | None  # JSON schema of the expected response (None: no body)
    producers: tuple[str, ...]  # operations whose 2xx response links here with every from_pool value
    prepare: str | None  # the producer run first when the pool has nothing for this one
    depth: int  # requests needed before this one on an empty pool
    consumes: bool  # a DELETE: its success removes the resource from the pool
    links_to: tuple[str, ...]  # the operations its 2xx responses link to

    @property
    def uses_up(self) -> bool:
        """Each resource serves it once: a DELETE, or a write whose response does not link back to it
        (a write leaves on the resource only what its own response links to, e.g. a fresh ETag)."""
        return self.needs_pool and (
            self.consumes
            or (self.operation.method not in SAFE_METHODS and self.operation_id not in self.links_to)
        )

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id

    @property
    def name(self) -> str:
        """The request name in reports: the path template, so reports group by route."""
        return self.operation.path

    @property
    def needs_pool(self) -> bool:
        return bool(self.from_pool)


def parameter_named(key: str, operation: Operation) -> Parameter | None:
    """The parameter a link's key names: `userId`, or qualified by location, `path.userId`."""
    location, _, bare = key.partition(".")
    if bare and location in LOCATIONS:
        return next((p for p in operation.parameters if key_of(p) == (location, bare)), None)
    return next((p for p in operation.parameters if p.name == key), None)


@dataclasses.dataclass(frozen=True)
class _Feed:
    producer: Operation
    link: str
    parameters: Mapping[str, str]  # link key -> runtime expression


def _feeds(contract: Contract) -> dict[str, list[_Feed]]:
    """operationId -> every 2xx link of the contract leading to it, expressions checked."""
    found: dict[str, list[_Feed]] = {}
    for producer in contract.operations:
        for status, response in producer.responses.items():
            if not status.startswith("2"):
                continue
            for link in response.links:
                where = f"{producer.operation_id}: link {link.name!r}"
                if link.operation_id not in contract.operation_ids:
                    raise ScenarioError(f"{where} leads to {link.operation_id!r}, not an operation")
                target = contract.operation(link.operation_id)
                for key, expression in link.parameters.items():
                    if parameter_named(key, target) is None:
                        raise ScenarioError(f"{where}: {key!r} is not a parameter of {link.operation_id}")
                    try:
                        check_expression(expression)
                    except ScenarioError as error:
                        raise ScenarioError(f"{where}: {error}") from None
                found.setdefault(link.operation_id, []).append(
                    _Feed(producer, link.name, dict(link.parameters))
                )
    return found


def check_mix(contract: Contract, mix: Mapping[str, int]) -> None:
    """Every operation has a weight, every key is an operation, weights >= 0 and not all 0."""
    operations = contract.operation_ids
    for operation in contract.operations:
        if operation.operation_id not in mix:
            raise ScenarioError(
                f"setting load.mix.{operation.operation_id}: missing. Every operation of the contract "
                f"needs a weight ({operation.method} {operation.path} has none; 0 leaves it out of the run)"
            )
    for key, weight in mix.items():
        if key not in operations:
            raise ScenarioError(
                f"setting load.mix.{key}: not an operation of the contract (its operations: "
                f"{', '.join(operations)})"
            )
        if weight < 0:
            raise ScenarioError(f"setting load.mix.{key}: {weight} must be >= 0")
    if not any(mix.values()):
        raise ScenarioError("setting load.mix: every weight is 0, the run would send nothing")


def response_schema(contract: Contract, operation: Operation, status: str) -> Mapping[str, Any] | None:
    """The JSON schema of a declared response ($refs resolved), None when it has no JSON body."""
    response = operation.responses.get(status)
    media = _json_type(response.media_types) if response is not None else None
    if media is None:
        return None
    assert response is not None
    return response.schemas[media]


def scenarios(contract: Contract, mix: Mapping[str, int]) -> list[Scenario]:
    """One scenario per operation of the contract, in its order; ScenarioError names what is wrong."""
    check_mix(contract, mix)
    feeds = _feeds(contract)
    parts: dict[str, dict[str, Any]] = {}
    for operation in contract.operations:
        own_feeds = feeds.get(operation.operation_id, [])
        covered = [
            {key_of(p) for k in feed.parameters if (p := parameter_named(k, operation)) is not None}
            for feed in own_feeds
        ]
        supplied = set().union(*covered)
        sent = [p for p in operation.parameters if p.location in SENT_LOCATIONS]
        from_pool = tuple(key_of(p) for p in sent if p.required and key_of(p) in supplied)
        examples: dict[Key, str] = {}
        for parameter in sent:
            if not parameter.required or key_of(parameter) in supplied:
                continue
            if parameter.example is None:
                raise ScenarioError(
                    f"{operation.operation_id}: required {parameter.location} parameter "
                    f"{parameter.name!r} has neither a link from another operation's response "
                    "nor an example in the contract"
                )
            examples[key_of(parameter)] = _text(parameter.example)
        producers = tuple(
            dict.fromkeys(
                feed.producer.operation_id
                for feed, keys in zip(own_feeds, covered, strict=True)
                if set(from_pool) <= keys and feed.producer.operation_id != operation.operation_id
            )
        )
        parts[operation.operation_id] = {
            "from_pool": from_pool,
            "optional": tuple(key_of(p) for p in sent if not p.required and key_of(p) in supplied),
            "examples": examples,
            "producers": producers,
        }
    depths = _depths(parts)
    built = []
    for operation in contract.operations:
        part = parts[operation.operation_id]
        if operation.operation_id not in depths:
            needed = ", ".join(name for _, name in part["from_pool"])
            raise ScenarioError(
                f"{operation.operation_id}: needs {needed} from a linked response, but no chain of "
                "links starting at an operation that needs nothing produces it (check the contract's links)"
            )
        prepare = (
            min(part["producers"], key=lambda p: (depths.get(p, 1 << 30), p)) if part["from_pool"] else None
        )
        built.append(
            Scenario(
                operation=operation,
                weight=int(mix[operation.operation_id]),
                body=_body_template(operation),
                from_pool=part["from_pool"],
                optional_from_pool=part["optional"],
                from_examples=part["examples"],
                success_schema=response_schema(contract, operation, operation.success.status),
                producers=part["producers"],
                prepare=prepare,
                depth=depths[operation.operation_id],
                consumes=operation.method in CONSUMING_METHODS,
                links_to=tuple(
                    dict.fromkeys(
                        link.operation_id
                        for status, response in operation.responses.items()
                        if status.startswith("2")
                        for link in response.links
                    )
                ),
            )
        )
    return built


def _depths(parts: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Requests needed before each operation on an empty pool (absent: nothing can feed it)."""
    depths = {key: 0 for key, part in parts.items() if not part["from_pool"]}
    changed = True
    while changed:
        changed = False
        for key, part in parts.items():
            options = [depths[p] + 1 for p in part["producers"] if p in depths]
            if part["from_pool"] and options and min(options) < depths.get(key, 1 << 30):
                depths[key] = min(options)
                changed = True
    return depths


# --- requests per action: what the profiles divide a target rate by ---


def requests_per_action(plan: Iterable[Scenario], unknown_id_reads: int = 0) -> float:
    """The expected requests of one action (one weighted task), from the weights alone.

    Each task sends 1 request. A consumer that finds nothing in its pool first runs its producer
    chain (`depth` requests) from the chain's root (an operation that needs nothing, e.g. createUser).
    A resource serves each operation that uses it up (`Scenario.uses_up`: a DELETE, or a write
    whose response does not link back to it) once. So per root R, with W the total weight: the
    resources needed per action are n = max(weight of the operations R's chains feed that use it
    up) / W, R's own task makes p = weight(R) / W, and when n > p the missing n - p cost `depth`
    requests each (the depth of the heaviest such operation).
    Not counted (both fade over a run): the one producer run a client needs before its first
    consumer, and consumers finding only resources already used up by another operation.
    """
    plan = list(plan)
    by_id = {s.operation_id: s for s in plan}
    total = sum(s.weight for s in plan) + unknown_id_reads
    if total <= 0:
        raise ScenarioError("setting load.mix: every weight is 0, the run would send nothing")
    heaviest: dict[str, Scenario] = {}
    for scenario in plan:
        if scenario.uses_up and scenario.weight:
            root = _root(scenario, by_id)
            if root not in heaviest or scenario.weight > heaviest[root].weight:
                heaviest[root] = scenario
    extra = sum(
        max(0, scenario.weight - by_id[root].weight) / total * scenario.depth
        for root, scenario in heaviest.items()
    )
    return 1.0 + extra


def _root(scenario: Scenario, by_id: Mapping[str, Scenario]) -> str:
    current = scenario
    while current.prepare is not None:
        current = by_id[current.prepare]
    return current.operation_id


# --- reads of ids no resource has (load.unknown_id_reads) ---


@dataclasses.dataclass(frozen=True)
class UnknownRead:
    """A GET of a well-formed id that nothing produced: it expects the contract's 404."""

    operation: Operation

    @property
    def name(self) -> str:
        return f"{self.operation.path} (unknown id)"

    def url(self) -> str:
        return self.operation.url(**{p.name: str(uuid.uuid4()) for p in self.operation.path_parameters})


def unknown_reads(contract: Contract) -> list[UnknownRead]:
    """Every GET whose path parameters are all `format: uuid` and that declares 404."""
    return [
        UnknownRead(operation)
        for operation in contract.operations
        if operation.method == "GET"
        and operation.path_parameters
        and "404" in operation.responses
        and all(p.schema.get("format") == "uuid" for p in operation.path_parameters)
    ]


# --- one client's session ---


@dataclasses.dataclass(eq=False)
class Resource:
    """What responses said about one resource: the parameters of each operation linked to it."""

    bindings: Bindings
    schema: Mapping[str, Any] | None = None  # the schema of the body it was made with
    body: Any = None  # the last body a request on it returned with that schema


@dataclasses.dataclass(frozen=True)
class Call:
    """One request to send."""

    method: str
    url: str  # the path, parameters filled in
    name: str  # the path template: reports group by it
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes | None


Reply = _answers.Reply  # what a Transport returns (here too, for its implementations)
Judge = Callable[[Reply], "str | None"]


class Transport(Protocol):
    def send(self, call: Call, judge: Judge) -> Reply | None:
        """Send `call`; count it failed with judge's message if it returns one, else return the reply."""

    def fail(self, method: str, name: str, message: str) -> None:
        """Count a failure of the request `method` `name` that could not be sent (what it needed is
        missing), with `message`."""


def _json_type(media_types: Iterable[str]) -> str | None:
    return next((m for m in media_types if m == "application/json" or m.endswith("+json")), None)


def status_matches(declared: str, status: int) -> bool:
    """`status` is the declared one ("201") or in its range ("2XX")."""
    if declared.upper().endswith("XX"):
        return str(status)[0] == declared[0]
    return str(status) == declared


class Session:
    """One simulated client: runs scenarios, keeps the resources their responses produced."""

    def __init__(
        self,
        plan: Iterable[Scenario],
        transport: Transport,
        rng: random.Random | None = None,
        headers: Mapping[str, str] | None = None,
        check: AnswerCheck | None = None,
    ) -> None:
        self.plan = {s.operation_id: s for s in plan}
        self.transport = transport
        self.rng = rng or random.Random()
        self.headers = dict(headers or {})
        self.check = check if check is not None else AnswerCheck()  # share one: it keeps the validators
        self.pool: list[Resource] = []
        self._in_flight: tuple[Resource | None] | None = None  # set while a request is out

    def handover(self) -> list[Resource]:
        """The pool, for another client to continue with. A client stopped mid-request (Locust kills
        it) leaves out the resource of that request: whether its write happened is unknown."""
        if self._in_flight is None:
            return self.pool
        (cut,) = self._in_flight
        return [r for r in self.pool if r is not cut]

    def run(self, operation_id: str) -> bool:
        """One task: the operation, after its producers when the pool has nothing for it."""
        return self._run(self.plan[operation_id], frozenset())

    def _run(self, scenario: Scenario, chain: frozenset[str]) -> bool:
        resource = None
        if scenario.needs_pool:
            resource = self._pick(scenario)
            if resource is None and scenario.prepare is not None and scenario.prepare not in chain:
                if not self._run(self.plan[scenario.prepare], chain | {scenario.operation_id}):
                    return False  # the producer's own failure is counted
                resource = self._pick(scenario)
            if resource is None:
                # Never a silent skip: an action that cannot be sent is a failure of its own.
                needed = ", ".join(f"{where} {name}" for where, name in scenario.from_pool)
                self.transport.fail(
                    scenario.operation.method,
                    scenario.name,
                    f"{scenario.operation_id}: not sent, no earlier answer gave its {needed} "
                    f"(producer: {scenario.prepare or 'none'})",
                )
                return False
        return self._send(scenario, resource)

    def read_unknown(self, read: UnknownRead) -> bool:
        """load.unknown_id_reads: a GET of a well-formed id nobody has; the contract's 404 expected."""
        operation = read.operation
        call = Call(operation.method, read.url(), read.name, {}, dict(self.headers), None)

        def judge(reply: Reply) -> str | None:
            return _expected(operation, UNKNOWN_ID_STATUS, reply, self.check.problem(operation, reply))

        return self.transport.send(call, judge) is not None

    def _pick(self, scenario: Scenario) -> Resource | None:
        usable = [
            r for r in self.pool if set(scenario.from_pool) <= set(r.bindings.get(scenario.operation_id, {}))
        ]
        return self.rng.choice(usable) if usable else None

    def request(self, scenario: Scenario, resource: Resource | None) -> tuple[Call, Exchange]:
        """The request of `scenario` on `resource` (None: nothing from the pool)."""
        values = dict(scenario.from_examples)
        if resource is not None:
            bound = resource.bindings.get(scenario.operation_id, {})
            values.update(
                {k: bound[k] for k in (*scenario.from_pool, *scenario.optional_from_pool) if k in bound}
            )
        path = {name: v for (where, name), v in values.items() if where == "path"}
        query = {name: v for (where, name), v in values.items() if where == "query"}
        headers = {**self.headers, **{name: v for (where, name), v in values.items() if where == "header"}}
        body, content = None, None
        if scenario.body is not None:
            body = scenario.body.build()
            content = json.dumps(body).encode()
            headers["Content-Type"] = scenario.body.media_type
        operation = scenario.operation
        call = Call(operation.method, operation.url(**path), scenario.name, query, headers, content)
        return call, Exchange(path, query, headers, body, 0, {}, None)

    def _send(self, scenario: Scenario, resource: Resource | None) -> bool:
        operation, schema = scenario.operation, scenario.success_schema
        expected = operation.success.status
        call, exchange = self.request(scenario, resource)
        answered: list[tuple[Exchange, Bindings]] = []

        def judge(reply: Reply) -> str | None:
            problem = _expected(operation, expected, reply, self.check.problem(operation, reply))
            if problem is not None:
                return problem
            try:
                document = reply.document if schema is not None else None
            except ValueError:
                return f"{operation.operation_id}: the {reply.status} body is not JSON"
            if (
                resource is not None
                and operation.method in SAFE_METHODS
                and resource.body is not None
                and resource.schema == schema
                and document != resource.body
            ):
                return (
                    f"{operation.operation_id}: read-after-write returned {document}, "
                    f"the last write returned {resource.body}"
                )
            done = dataclasses.replace(
                exchange, status=reply.status, response_headers=reply.headers, response_body=document
            )
            bindings, missing = self._bindings(scenario, done)
            if missing is not None:
                return missing
            answered.append((done, bindings))
            return None

        self._in_flight = (resource,)
        reply = self.transport.send(call, judge)
        self._in_flight = None
        if reply is None or not answered:
            return False
        self._remember(scenario, resource, *answered[0])
        return True

    def _bindings(self, scenario: Scenario, exchange: Exchange) -> tuple[Bindings, str | None]:
        """The parameters the answer's links give each operation, and a failure message when a link
        cannot give a value its operation needs (e.g. no ETag, so no If-Match for a change)."""
        response = scenario.operation.response(exchange.status)
        bindings: Bindings = {}
        for link in response.links if response is not None else ():
            target = self.plan.get(link.operation_id)
            if target is None:
                continue
            values = bindings.setdefault(link.operation_id, {})
            for key, expression in link.parameters.items():
                parameter = parameter_named(key, target.operation)
                if parameter is None:
                    continue
                try:
                    values[key_of(parameter)] = evaluate(expression, exchange)
                except Missing as missing:
                    if key_of(parameter) in target.from_pool:
                        return bindings, (
                            f"{scenario.operation_id}: the {exchange.status} answer cannot give "
                            f"{link.operation_id} its {parameter.location} parameter {parameter.name} "
                            f"(link {link.name}: {expression}; {missing})"
                        )
        return bindings, None

    def _remember(
        self, scenario: Scenario, resource: Resource | None, exchange: Exchange, bindings: Bindings
    ) -> None:
        """Put what the response links to into the pool (or take the resource out, for a DELETE)."""
        if scenario.consumes and resource is not None:
            self.pool = [r for r in self.pool if r is not resource]
            return
        schema = scenario.success_schema
        if resource is None:
            if not any(bindings.values()):
                return
            resource = Resource({}, schema=schema)
            self.pool.append(resource)
            del self.pool[:-POOL_LIMIT]
        if scenario.operation.method not in SAFE_METHODS:
            # A write leaves only what its own response says (an ETag from before it is stale).
            resource.bindings = bindings
            if not any(bindings.values()):
                self.pool = [r for r in self.pool if r is not resource]
                return
        else:
            for target_id, values in bindings.items():
                resource.bindings.setdefault(target_id, {}).update(values)
        if schema is not None and schema == resource.schema:
            resource.body = exchange.response_body
        elif scenario.operation.method not in SAFE_METHODS:
            resource.body = None  # a write whose answer does not show the resource: stop comparing


UNKNOWN_ID_STATUS = "404"


def _expected(operation: Operation, expected: str, reply: Reply, contract_problem: str | None) -> str | None:
    """The failure message of an answer: the status the load test expects, and the contract's verdict."""
    if status_matches(expected, reply.status) or reply.status == NO_ANSWER:
        return contract_problem
    message = f"{operation.operation_id}: expected {expected}, got {reply.status}"
    if contract_problem is not None:
        message += f"; and the answer breaks the contract: {contract_problem.partition(': ')[2]}"
    return message
