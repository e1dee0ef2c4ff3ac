"""Every answer of a load run is checked against its operation's declared response in the contract
(status, media type, body schema, the headers it marks required), and an action that cannot be sent
for want of what an earlier answer should have given is a failure, never a silent skip."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from loadtest._answers import AnswerCheck
from loadtest._scenarios import Reply, Session, scenarios, unknown_reads
from loadtest._settings import load_run_settings
from service.contract import Contract, Operation, get_contract, is_json
from tests.load.fakes import FakeService
from tests.load.test_scenarios import THINGS, weights

pytestmark = pytest.mark.load

Rewrite = Callable[[Operation, Reply], Reply]
USER = {
    "userId": "5df22dc0-0eff-44b5-87d6-eb5097272330",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "createdAt": "2026-12-06T01:58:54.648Z",
    "updatedAt": "2026-12-06T01:58:54.648Z",
}


def users_session(rewrite: Rewrite | None = None, seed: int = 5) -> tuple[Session, FakeService]:
    contract = get_contract()
    service = FakeService(contract, break_answers=rewrite)
    mix = load_run_settings("local").load.mix
    return Session(scenarios(contract, mix), service, random.Random(seed)), service


def on(operation_id: str, rewrite: Callable[[Reply], Reply]) -> Rewrite:
    """Rewrite the answers of one operation only."""
    return lambda operation, reply: rewrite(reply) if operation.operation_id == operation_id else reply


def with_body(reply: Reply, body: Any, media_type: str | None = None) -> Reply:
    headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-type"}
    headers["Content-Type"] = media_type or str(reply.headers.get("Content-Type", "application/json"))
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(reply.status, headers, content)


def without_header(name: str) -> Callable[[Reply], Reply]:
    return lambda reply: Reply(
        reply.status, {k: v for k, v in reply.headers.items() if k.lower() != name.lower()}, reply.content
    )


def test_a_run_of_the_settings_mix_on_a_service_keeping_to_the_contract_has_no_failure() -> None:
    session, service = users_session()
    reads = unknown_reads(get_contract())
    tasks = [op for op, weight in load_run_settings("local").load.mix.items() for _ in range(weight)]
    rng = random.Random(11)
    for _ in range(300):
        session.run(rng.choice(tasks))
    assert service.failures == []
    assert len(service.calls) >= 300
    for read in reads:
        assert session.read_unknown(read)
    assert service.failures == []


BROKEN: list[tuple[str, Rewrite, str]] = [
    (
        "listUsers",
        on("listUsers", lambda r: with_body(r, {"items": [{**USER, "email": 5}]})),
        "listUsers: 200 application/json body at $.items[0].email: breaks type 'string'",
    ),
    (
        "getUser",
        on("getUser", lambda r: with_body(r, {k: v for k, v in r.document.items() if k != "createdAt"})),
        "getUser: 200 application/json body at $: 'createdAt' is a required property",
    ),
    (
        "getUser",
        on("getUser", lambda r: with_body(r, {**r.document, "createdAt": "yesterday"})),
        "getUser: 200 application/json body at $.createdAt: breaks format 'date-time'",
    ),
    (
        "getHealth",
        on("getHealth", lambda r: Reply(418, r.headers, r.content)),
        "418 is not a status the contract declares (it declares 200, 400, 404,",
    ),
    (
        "getHealth",
        on("getHealth", lambda r: with_body(r, b"<p>ok</p>", "text/html")),
        "getHealth: 200 answered text/html, the contract declares application/json",
    ),
    (
        "getHealth",
        on("getHealth", lambda r: with_body(r, b"{ok", "application/json")),
        "getHealth: 200 application/json body is not JSON",
    ),
    (
        "createUser",
        on("createUser", without_header("Location")),
        "createUser: 201 lacks the header location",
    ),
    (
        "createUser",
        on("createUser", without_header("Content-Type")),
        "createUser: 201 has no Content-Type, the contract declares application/json",
    ),
    (
        "deleteUser",
        on("deleteUser", lambda r: with_body(r, {"deleted": True})),
        "deleteUser: 204 has a body (application/json), the contract declares none",
    ),
]


@pytest.mark.parametrize(("operation_id", "rewrite", "message"), BROKEN, ids=[m for _, _, m in BROKEN])
def test_an_answer_that_breaks_the_contract_is_a_failure_naming_the_operation_and_the_path(
    operation_id: str, rewrite: Rewrite, message: str
) -> None:
    session, service = users_session(rewrite)
    assert not session.run(operation_id)
    assert len(service.failures) == 1, service.failures
    assert service.failures[0].startswith(f"{operation_id}: "), service.failures[0]
    assert message in service.failures[0], service.failures[0]


def test_an_unexpected_status_that_also_breaks_the_contract_says_both() -> None:
    session, service = users_session(
        on("getHealth", lambda r: Reply(503, {"Content-Type": "text/plain"}, b"x"))
    )
    assert not session.run("getHealth")
    assert service.failures == [
        "getHealth: expected 200, got 503; and the answer breaks the contract: 503 answered text/plain, "
        "the contract declares application/problem+json"
    ]


def test_media_types_compare_without_parameters_and_case() -> None:
    session, service = users_session(
        on("getHealth", lambda r: with_body(r, r.document, "Application/JSON; charset=utf-8"))
    )
    assert session.run("getHealth")
    assert service.failures == []


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        (lambda r: r, None),
        (lambda r: with_body(r, {"title": "Not Found", "status": 404}, "application/json"), "404 answered"),
        (
            lambda r: with_body(r, {"status": 404}),
            "404 application/problem+json body at $: 'type' is a required",
        ),
        (lambda r: Reply(200, r.headers, r.content), "expected 404, got 200"),
    ],
)
def test_a_read_of_an_unknown_id_expects_the_contracts_404_problem(
    rewrite: Callable[[Reply], Reply], message: str | None
) -> None:
    read = unknown_reads(get_contract())[0]
    session, service = users_session(on(read.operation.operation_id, rewrite))
    assert session.read_unknown(read) is (message is None)
    if message is None:
        assert service.failures == []
    else:
        assert len(service.failures) == 1 and message in service.failures[0], service.failures


# --- what an action needs from earlier answers ---


def things(document: dict[str, Any] | None = None) -> Contract:
    return Contract(copy.deepcopy(document or THINGS))


def test_an_answer_without_the_etag_a_change_needs_is_a_failure_not_a_skip() -> None:
    """The create's answer lacks ETag (its response declares no header): the rename it links to with
    If-Match cannot be sent. The create is the failure, and says why."""
    contract = things()
    service = FakeService(contract, break_answers=on("makeThing", without_header("ETag")))
    session = Session(scenarios(contract, weights(contract)), service, random.Random(1))
    assert not session.run("renameThing")
    assert service.failures == [
        "makeThing: the 201 answer cannot give renameThing its header parameter If-Match "
        "(link Rename: $response.header.ETag; no ETag header)"
    ]
    assert [c.method for c in service.calls] == ["POST"]


def test_a_create_without_its_declared_etag_fails_on_the_users_contract() -> None:
    session, service = users_session(on("createUser", without_header("ETag")))
    assert not session.run("updateUser")
    assert service.failures == ["createUser: 201 lacks the header etag"]


def test_an_action_its_producers_answer_gave_nothing_for_is_a_failure_of_its_own() -> None:
    """The create's links are on a 200 it never answers (it answers 201): what reads, renames or drops
    a thing has no id to send, and each says so instead of sending nothing silently."""
    document = copy.deepcopy(THINGS)
    responses = document["paths"]["/things"]["post"]["responses"]
    responses["200"] = {"description": "Also made.", "links": responses["201"].pop("links")}
    contract = things(document)
    service = FakeService(contract)
    session = Session(scenarios(contract, weights(contract)), service, random.Random(1))
    assert not session.run("readThing")
    assert service.failures == [
        "readThing: not sent, no earlier answer gave its path id (producer: makeThing)"
    ]
    assert [c.method for c in service.calls] == ["POST"]


def _mutations(document: Any) -> list[Any]:
    """Bodies one change away from `document`: each property dropped, given another type, a bad
    date-time or id, or joined by an undeclared one; each list item likewise."""
    found: list[Any] = []
    if isinstance(document, dict):
        for name, value in document.items():
            for changed in ({k: v for k, v in document.items() if k != name}, {**document, name: 5}):
                found.append(changed)
            found.append({**document, name: "yesterday" if isinstance(value, str) else None})
            found.extend({**document, name: inner} for inner in _mutations(value))
        found.append({**document, "undeclared": True})
    elif isinstance(document, list) and document:
        found.extend([inner, *document[1:]] for inner in _mutations(document[0]))
        found.append([*document, "not an object"])
    return found


PAGE = {"items": [USER, {**USER, "userId": "0f8fad5b-d9cb-469f-a165-70867728950e"}], "nextCursor": "c"}
PROBLEM = {
    "type": "https://users-api.example.com/problems/user-not-found",
    "title": "Not Found",
    "status": 404,
    "detail": "no user with id x",
    "errors": [{"field": "body.name", "message": "too long"}],
}
VALID_BODIES = [USER, PAGE, {"status": "ok"}, PROBLEM]


def test_jsonschema_rs_and_the_apps_validator_agree_on_every_body_near_a_valid_one() -> None:
    """The load check decides with jsonschema-rs and describes with the app's validator: on bodies
    one change away from valid ones, for every JSON answer of the contract, both say the same."""
    check = AnswerCheck()
    contract = get_contract()
    compared = 0
    for operation in contract.operations:
        for response in operation.responses.values():
            for media in response.schemas:
                if not is_json(media):
                    continue
                fast = check._fast_validator(operation, response, media)
                slow = check.validator(operation, response, media)
                for body in VALID_BODIES + [m for v in VALID_BODIES for m in _mutations(v)]:
                    assert fast.is_valid(body) == slow.is_valid(body), (operation.operation_id, media, body)
                    compared += 1
    assert compared > 1000


def test_a_header_the_contract_requires_on_an_error_is_checked_too() -> None:
    """`required: true` decides, whatever the status: a 503 without Retry-After breaks the contract."""
    operation = get_contract().operation("getUser")
    problem = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503}).encode()
    unavailable = Reply(503, {"Content-Type": "application/problem+json"}, problem)
    assert AnswerCheck().problem(operation, unavailable) == "getUser: 503 lacks the header retry-after"
    with_it = Reply(503, {"Content-Type": "application/problem+json", "Retry-After": "1"}, problem)
    assert AnswerCheck().problem(operation, with_it) is None
