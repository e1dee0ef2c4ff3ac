"""Load scenarios from the contract: one per operation, weights from load.mix, bodies from the
contract's examples, ids and ETags chained through its links."""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest

from loadtest._scenarios import (
    Call,
    Exchange,
    Judge,
    Missing,
    Reply,
    ScenarioError,
    Session,
    check_expression,
    evaluate,
    json_pointer,
    requests_per_action,
    scenarios,
    unknown_reads,
)
from loadtest._settings import load_run_settings
from service.contract import Contract, get_contract
from tests.load.fakes import FakeService, with_added_operations

pytestmark = pytest.mark.load


def weights(contract: Contract, weight: int = 1, **overrides: int) -> dict[str, int]:
    return {**dict.fromkeys(contract.operation_ids, weight), **overrides}


# A contract of its own for the engine: things made by POST, read, renamed under If-Match, deleted.
THINGS: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "things", "version": "1"},
    "paths": {
        "/things": {
            "post": {
                "operationId": "makeThing",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name", "ownerEmail"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "example": "kettle"},
                                    "ownerEmail": {
                                        "type": "string",
                                        "pattern": "^[^@]+@[^@]+$",
                                        "example": "ada@example.com",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Made.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                        "links": {
                            "Read": {"operationId": "readThing", "parameters": {"id": "$response.body#/id"}},
                            "Rename": {
                                "operationId": "renameThing",
                                "parameters": {
                                    "id": "$response.body#/id",
                                    "header.If-Match": "$response.header.ETag",
                                },
                            },
                            "Drop": {
                                "operationId": "dropThing",
                                "parameters": {"path.id": "$response.body#/id"},
                            },
                        },
                    }
                },
            }
        },
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "readThing",
                "responses": {
                    "200": {
                        "description": "The thing.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "404": {"description": "None."},
                },
            },
            "patch": {
                "operationId": "renameThing",
                "parameters": [
                    {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/merge-patch+json": {
                            "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                            "example": {"name": "teapot"},
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Renamed.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                        "links": {
                            "Read": {"operationId": "readThing", "parameters": {"id": "$request.path.id"}},
                            "Drop": {"operationId": "dropThing", "parameters": {"id": "$response.body#/id"}},
                        },
                    }
                },
            },
            "delete": {"operationId": "dropThing", "responses": {"204": {"description": "Gone."}}},
        },
        "/ping": {
            "get": {
                "operationId": "ping",
                "responses": {"200": {"description": "Up.", "content": {"application/json": {"schema": {}}}}},
            }
        },
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            }
        }
    },
}


@pytest.fixture
def things() -> Contract:
    return Contract(copy.deepcopy(THINGS))


def session_on(
    contract: Contract, mix: dict[str, int], seed: int = 1, corrupt_reads: bool = False
) -> Session:
    return Session(scenarios(contract, mix), FakeService(contract, corrupt_reads), random.Random(seed))


# --- one scenario per operation ---


def test_every_operation_of_the_contract_gets_one_scenario_named_by_its_path_template() -> None:
    contract = get_contract()
    found = scenarios(contract, weights(contract))
    assert [s.operation_id for s in found] == list(contract.operation_ids)
    for scenario in found:
        assert scenario.name == scenario.operation.path
        assert scenario.weight == 1


def test_the_settings_mix_weighs_every_operation_of_the_contract_and_nothing_else() -> None:
    for stage in ("local", "dev", "prod"):
        mix = load_run_settings(stage).load.mix
        assert [s.operation_id for s in scenarios(get_contract(), mix)] == list(get_contract().operation_ids)


def test_a_contract_with_two_added_operations_gets_their_scenarios_from_their_weights_alone() -> None:
    document, second_method, new_path = with_added_operations(get_contract().document)
    contract = Contract(document)
    mix = weights(contract, 1, **{second_method: 3, new_path: 2})

    found = {s.operation_id: s for s in scenarios(contract, mix)}

    assert (
        set(found)
        == set(contract.operation_ids)
        == set(get_contract().operation_ids) | {second_method, new_path}
    )
    assert found[second_method].weight == 3 and found[new_path].weight == 2
    assert found[second_method].needs_pool and found[second_method].prepare is not None
    assert found[second_method].success_schema is None  # 204: no body expected
    session = Session(found.values(), service := FakeService(contract), random.Random(7))
    assert session.run(second_method) and session.run(new_path)
    assert service.failures == []
    sent = [(c.method, c.name) for c in service.calls[-2:]]
    added = [contract.operation(second_method), contract.operation(new_path)]
    assert sent == [(o.method, o.path) for o in added]


def test_an_operation_without_a_weight_stops_the_run_with_a_message_naming_it() -> None:
    document, second_method, _ = with_added_operations(get_contract().document)
    contract = Contract(document)
    mix = weights(contract)
    del mix[second_method]
    operation = contract.operation(second_method)
    with pytest.raises(ScenarioError, match=rf"load\.mix\.{second_method}: missing.*{operation.method} "):
        scenarios(contract, mix)


def test_a_weight_that_is_not_an_operation_is_refused_naming_it() -> None:
    contract = get_contract()
    with pytest.raises(ScenarioError, match=r"load\.mix\.create_and_read: not an operation of the contract"):
        scenarios(contract, weights(contract, create_and_read=4))


def test_zero_weights_are_allowed_but_not_all_of_them_nor_negative_ones(things: Contract) -> None:
    assert [s.weight for s in scenarios(things, weights(things, 0, ping=1))] == [0, 0, 0, 0, 1]
    with pytest.raises(ScenarioError, match="every weight is 0"):
        scenarios(things, weights(things, 0))
    with pytest.raises(ScenarioError, match=r"load\.mix\.ping: -1 must be >= 0"):
        scenarios(things, weights(things, ping=-1))


# --- bodies ---


def test_every_body_comes_from_the_examples_satisfies_the_schema_and_has_a_unique_email() -> None:
    contract = get_contract()
    with_bodies = [s for s in scenarios(contract, weights(contract)) if s.body is not None]
    assert with_bodies, "the contract has operations with a request body"
    for scenario in with_bodies:
        assert scenario.body is not None
        bodies = [scenario.body.build() for _ in range(50)]
        for body in bodies:
            assert scenario.body.problems(body) == []
            assert set(body) == set(scenario.body.example)
        emails = [v for b in bodies for k, v in b.items() if "email" in k.lower()]
        assert len(set(emails)) == len(emails)


def test_an_email_gets_a_unique_tag_in_its_local_part_and_other_fields_stay_the_example(
    things: Contract,
) -> None:
    make = next(s for s in scenarios(things, weights(things)) if s.operation_id == "makeThing")
    assert make.body is not None
    body = make.body.build("tag1")
    assert body == {"name": "kettle", "ownerEmail": "ada+load-tag1@example.com"}


def test_an_example_that_breaks_its_schema_is_refused_at_init(things: Contract) -> None:
    schema = things.document["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    schema["properties"]["name"]["example"] = ""  # minLength 1
    with pytest.raises(
        ScenarioError, match=r"makeThing: the example body .* does not satisfy the schema: name"
    ):
        scenarios(Contract(things.document), weights(things))


def test_a_required_body_without_an_example_is_refused_naming_the_operation(things: Contract) -> None:
    content = things.document["paths"]["/things/{id}"]["patch"]["requestBody"]["content"]
    del content["application/merge-patch+json"]["example"]
    with pytest.raises(ScenarioError, match=r"renameThing: the request body .* has no example"):
        scenarios(Contract(things.document), weights(things))


def test_a_required_parameter_no_link_fills_and_without_example_is_refused(things: Contract) -> None:
    things.document["paths"]["/ping"]["get"]["parameters"] = [
        {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
    ]
    with pytest.raises(ScenarioError, match="ping: required query parameter 'region' has neither a link"):
        scenarios(Contract(things.document), weights(things))


# --- links ---


def test_a_consumer_on_an_empty_pool_runs_its_producer_and_uses_the_id_it_returned(things: Contract) -> None:
    session = session_on(things, weights(things))
    service = session.transport
    assert isinstance(service, FakeService)

    assert session.run("readThing")

    made, read = service.calls
    assert (made.method, made.name) == ("POST", "/things")
    thing_id = next(iter(service.records))[0]
    assert read.url == things.operation("readThing").url(id=thing_id)
    assert service.failures == []


def test_a_header_parameter_comes_from_the_producers_response_header(things: Contract) -> None:
    session = session_on(things, weights(things))
    assert session.run("renameThing")
    rename = session.transport.calls[-1]  # type: ignore[attr-defined]
    assert rename.headers["If-Match"] == '"1"'
    assert rename.headers["Content-Type"] == "application/merge-patch+json"


def test_a_write_keeps_only_what_its_own_response_links_to(things: Contract) -> None:
    """After a rename the ETag from the create is stale: the next rename needs a new thing."""
    session = session_on(things, weights(things))
    service = session.transport
    assert isinstance(service, FakeService)
    assert session.run("renameThing") and session.run("renameThing")
    assert [c.method for c in service.calls] == ["POST", "PATCH", "POST", "PATCH"]
    assert service.failures == []  # never a 412
    assert session.run("readThing") and service.failures == []


def test_a_delete_takes_its_resource_out_of_the_pool(things: Contract) -> None:
    session = session_on(things, weights(things))
    service = session.transport
    assert isinstance(service, FakeService)
    assert session.run("dropThing")
    assert session.pool == [] and service.records == {}
    assert session.run("readThing")
    assert [c.method for c in service.calls] == ["POST", "DELETE", "POST", "GET"]
    assert service.failures == []


class Cut(BaseException):
    """What Locust does to a client it stops mid-request (gevent's GreenletExit)."""


class CutOff:
    """A transport that is cut off in the middle of its next request."""

    def __init__(self, service: FakeService) -> None:
        self.service = service

    def send(self, call: Call, judge: Judge) -> Reply | None:
        self.service.send(call, judge)  # the service did it; the client never hears back
        raise Cut

    def fail(self, method: str, name: str, message: str) -> None:
        self.service.fail(method, name, message)


def test_a_client_stopped_mid_request_hands_over_its_pool_without_that_resource(things: Contract) -> None:
    session = session_on(things, weights(things))
    service = session.transport
    assert isinstance(service, FakeService)
    assert session.run("makeThing") and session.run("makeThing")
    assert session.handover() == session.pool and len(session.pool) == 2
    session.transport = CutOff(service)
    with pytest.raises(Cut):
        session.run("renameThing")
    renamed = next(r for r in session.pool if r.body != service.records[(r.body["id"],)].body)
    assert session.handover() == [r for r in session.pool if r is not renamed]
    next_client = Session(session.plan.values(), service, random.Random(2))
    next_client.pool = session.handover()
    for _ in range(10):  # every rename and read works: no stale ETag, no stale body
        assert next_client.run("renameThing") and next_client.run("readThing")
    assert service.failures == []


def test_a_read_that_differs_from_the_last_write_is_a_failure(things: Contract) -> None:
    session = session_on(things, weights(things), corrupt_reads=True)
    assert not session.run("readThing")
    failures = session.transport.failures  # type: ignore[attr-defined]
    assert len(failures) == 1 and failures[0].startswith("readThing: read-after-write returned")


def test_an_unexpected_status_is_a_failure_naming_the_declared_one(things: Contract) -> None:
    session = session_on(things, weights(things))
    assert session.run("readThing")
    session.transport.records.clear()  # type: ignore[attr-defined]  # gone behind the client's back
    assert not session.run("readThing")
    assert session.transport.failures == ["readThing: expected 200, got 404"]  # type: ignore[attr-defined]


def test_a_consumer_no_link_fills_is_refused_at_init(things: Contract) -> None:
    del things.document["paths"]["/things"]["post"]["responses"]["201"]["links"]["Read"]
    del things.document["paths"]["/things/{id}"]["patch"]["responses"]["200"]["links"]["Read"]
    with pytest.raises(ScenarioError, match=r"readThing: required path parameter 'id' has neither a link"):
        scenarios(Contract(things.document), weights(things))


def test_consumers_that_only_feed_each_other_are_refused_at_init(things: Contract) -> None:
    links = things.document["paths"]["/things"]["post"]["responses"]["201"]["links"]
    del links["Read"], links["Rename"]
    things.document["paths"]["/things/{id}"]["get"]["responses"]["200"]["links"] = {
        "Rename": {
            "operationId": "renameThing",
            "parameters": {"id": "$request.path.id", "header.If-Match": "$response.header.ETag"},
        }
    }
    with pytest.raises(ScenarioError, match=r"readThing: needs id from a linked response, but no chain"):
        scenarios(Contract(things.document), weights(things))


def test_a_link_to_an_unknown_operation_or_parameter_is_refused(things: Contract) -> None:
    links = things.document["paths"]["/things"]["post"]["responses"]["201"]["links"]
    links["Read"]["parameters"] = {"thingId": "$response.body#/id"}
    with pytest.raises(ScenarioError, match="'thingId' is not a parameter of readThing"):
        scenarios(Contract(copy.deepcopy(things.document)), weights(things))
    links["Read"] = {"operationId": "readThingz", "parameters": {}}
    with pytest.raises(ScenarioError, match="leads to 'readThingz', not an operation"):
        scenarios(Contract(things.document), weights(things))


def test_unknown_id_reads_are_the_gets_of_uuid_ids_that_declare_404() -> None:
    reads = unknown_reads(get_contract())
    assert reads, "the contract has a GET by id"
    for read in reads:
        assert read.operation.method == "GET" and "404" in read.operation.responses
        url = read.url()
        assert get_contract().template_of(url) == read.operation.path
        for parameter in read.operation.path_parameters:
            pattern = parameter.schema.get("pattern")
            value = url.split("/")[read.operation.path.split("/").index("{" + parameter.name + "}")]
            assert pattern is None or re.search(str(pattern), value)


# --- runtime expressions ---


EXCHANGE = Exchange(
    path={"id": "p1"},
    query={"q": "v"},
    request_headers={"X-Req": "rh"},
    request_body={"a": {"b/c": [10, 20]}, "m~n": True},
    status=201,
    response_headers={"ETag": '"7"'},
    response_body={"userId": "u1", "n": 3, "nested": {"x": None}},
)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("$response.body#/userId", "u1"),
        ("$response.body#/n", "3"),
        ("$response.header.ETag", '"7"'),
        ("$response.header.etag", '"7"'),
        ("$request.path.id", "p1"),
        ("$request.query.q", "v"),
        ("$request.header.x-req", "rh"),
        ("$request.body#/a/b~1c/1", "20"),
        ("$request.body#/m~0n", "true"),
        ("$statusCode", "201"),
        ("constant", "constant"),
    ],
)
def test_runtime_expressions_read_the_exchange(expression: str, value: str) -> None:
    check_expression(expression)
    assert evaluate(expression, EXCHANGE) == value


@pytest.mark.parametrize(
    "expression",
    ["$response.body#/missing", "$response.header.Location", "$request.path.other", "$response.body#/nested"],
)
def test_a_runtime_expression_naming_nothing_in_the_exchange_is_missing(expression: str) -> None:
    with pytest.raises(Missing):
        evaluate(expression, EXCHANGE)


@pytest.mark.parametrize(
    "expression", ["$url", "$method", "$response.body", "$response.query.x", "$request.cookie.c"]
)
def test_an_unsupported_runtime_expression_is_refused_naming_it(expression: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(repr(expression))):
        check_expression(expression)


def test_json_pointer_follows_rfc_6901() -> None:
    document = {"": 1, "a/b": 2, "m~n": 3, "list": [4, 5]}
    assert json_pointer(document, "") == document
    assert json_pointer(document, "/") == 1
    assert json_pointer(document, "/a~1b") == 2
    assert json_pointer(document, "/m~0n") == 3
    assert json_pointer(document, "/list/1") == 5
    with pytest.raises(Missing):
        json_pointer(document, "/list/2")


# --- requests per action ---


def simulated_requests_per_action(contract: Contract, mix: dict[str, int], actions: int = 4000) -> float:
    rng = random.Random(3)
    session = Session(scenarios(contract, mix), service := FakeService(contract), rng)
    tasks = [operation_id for operation_id, weight in mix.items() for _ in range(weight)]
    for _ in range(actions):
        session.run(rng.choice(tasks))
    assert service.failures == []
    return len(service.calls) / actions


@pytest.mark.parametrize(
    "mix",
    [
        {"makeThing": 4, "readThing": 4, "renameThing": 0, "dropThing": 0, "ping": 1},  # no deletes: 1
        {"makeThing": 1, "readThing": 5, "renameThing": 0, "dropThing": 3, "ping": 1},  # deletes > makes
        {"makeThing": 0, "readThing": 2, "renameThing": 0, "dropThing": 2, "ping": 1},  # makes on demand only
        {"makeThing": 1, "readThing": 3, "renameThing": 2, "dropThing": 0, "ping": 1},  # renames use up ETags
    ],
)
def test_the_requests_per_action_estimate_matches_a_simulated_run(
    things: Contract, mix: dict[str, int]
) -> None:
    estimate = requests_per_action(scenarios(things, mix))
    assert simulated_requests_per_action(things, mix) == pytest.approx(estimate, rel=0.05)


def test_the_estimate_counts_the_producer_calls_of_consumers(things: Contract) -> None:
    mix = {"makeThing": 1, "readThing": 5, "renameThing": 0, "dropThing": 3, "ping": 1}
    # 3 drops per 10 actions, 1 make of its own: 2 more makes per 10 actions
    assert requests_per_action(scenarios(things, mix)) == pytest.approx(1.2)
    assert requests_per_action(scenarios(things, mix), unknown_id_reads=10) == pytest.approx(1.1)
    assert requests_per_action(scenarios(things, {**mix, "makeThing": 3})) == 1.0
