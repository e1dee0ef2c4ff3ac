"""The users resource on the real local engine: listing, find by email, update under If-Match,
delete, conditional GET and idempotent create. Every test ends with the table's invariants."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from local.invariants import violations
from local.issuer import LocalIssuer
from service.contract import get_contract
from service.repository import TTL_ATTRIBUTE, DynamoUserRepository, make_client
from service.settings import Settings
from service.users import idempotent_request, new_user
from tests.integration.conftest import items_for
from tests.problems import assert_matches_schema, assert_problem
from tests.tokens import full_access_client, token

pytestmark = pytest.mark.integration

CONTRACT = get_contract()
USERS = CONTRACT.operation("listUsers").path
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def user_url(user_id: str) -> str:
    return CONTRACT.operation("getUser").url(userId=user_id)


def problem_of(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(response.status_code, response.headers, response.json(), status)


def new_email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def create(client: TestClient, name: str = "Ada", email: str | None = None, **headers: str) -> Any:
    response = client.post(USERS, json={"name": name, "email": email or new_email()}, headers=headers)
    assert response.status_code == 201, response.text
    return response


def patch(client: TestClient, user_id: str, body: dict[str, Any], if_match: str | None) -> Any:
    headers = {**MERGE_PATCH, **({"If-Match": if_match} if if_match is not None else {})}
    return client.patch(user_url(user_id), json=body, headers=headers)


@pytest.fixture(autouse=True)
def table_stays_consistent(dynamodb: Any, local_settings: Settings) -> Iterator[None]:
    yield
    assert violations(dynamodb, local_settings.service.table_name) == []


# --- list and find --------------------------------------------------------------------------------


def walk(client: TestClient, limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(USERS, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert_matches_schema(page, "UserPage")
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        cursor = page.get("nextCursor")
        if not cursor:
            return seen
    raise AssertionError("the walk did not end")


def test_a_full_walk_lists_every_user_once_newest_first(client: TestClient) -> None:
    mine = [create(client).json()["userId"] for _ in range(7)]
    seen = walk(client, limit=3)
    ids = [user["userId"] for user in seen]
    assert len(ids) == len(set(ids)), "a user appeared twice"
    assert set(mine) <= set(ids)
    positions = [ids.index(user_id) for user_id in mine]
    assert positions == sorted(positions, reverse=True), "not newest first"
    stamps = [user["createdAt"] for user in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_users_created_during_a_walk_do_not_disturb_it(client: TestClient) -> None:
    before = {user["userId"] for user in walk(client, limit=50)}
    first = client.get(USERS, params={"limit": 2}).json()
    seen = [user["userId"] for user in first["items"]]
    cursor = first["nextCursor"]
    created = {create(client).json()["userId"] for _ in range(3)}
    while cursor:
        page = client.get(USERS, params={"limit": 2, "cursor": cursor}).json()
        seen.extend(user["userId"] for user in page["items"])
        cursor = page.get("nextCursor")
    assert len(seen) == len(set(seen))
    assert set(seen) == before, "the walk lost or repeated a user"
    assert not created & set(seen)


LIMIT = next(p for p in CONTRACT.operation("listUsers").parameters if p.name == "limit").schema


@pytest.mark.parametrize("limit", [LIMIT["minimum"] - 1, LIMIT["maximum"] + 1, -1])
def test_a_limit_out_of_range_is_400(client: TestClient, limit: int) -> None:
    problem = problem_of(client.get(USERS, params={"limit": limit}), 400)
    assert problem["errors"][0]["field"] == "query.limit"


def test_a_cursor_that_was_tampered_with_truncated_or_made_up_is_400(client: TestClient) -> None:
    create(client)
    create(client)
    cursor = client.get(USERS, params={"limit": 1}).json()["nextCursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, cursor[: len(cursor) // 2], "AAAA", "x"):
        problem = problem_of(client.get(USERS, params={"cursor": bad}), 400)
        assert "cursor" in problem["detail"]
    assert client.get(USERS, params={"cursor": cursor}).status_code == 200
    # With `email` the page is the whole answer, but a cursor sent with it is still read (the contract).
    problem_of(client.get(USERS, params={"cursor": tampered, "email": new_email()}), 400)
    assert client.get(USERS, params={"cursor": cursor, "email": new_email()}).json() == {"items": []}


def test_a_cursor_made_for_another_query_is_400(client: TestClient, local_settings: Settings) -> None:
    from service.users import CursorCodec

    other = CursorCodec(local_settings.service.table_name).encode({"pk": "USER#x"}, query="groups:oldest")
    problem_of(client.get(USERS, params={"cursor": other}), 400)


def test_find_by_email_is_exact_and_case_insensitive(client: TestClient) -> None:
    email = new_email("Find")
    user = create(client, email=email).json()
    for query in (email, email.upper(), email.lower()):
        page = client.get(USERS, params={"email": query}).json()
        assert page == {"items": [user]}
    assert client.get(USERS, params={"email": "x" + email}).json() == {"items": []}


# --- conditional GET ---------------------------------------------------------------------------------


def test_get_with_the_current_etag_is_304_without_a_body(client: TestClient) -> None:
    created = create(client)
    etag = created.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    url = created.headers["location"]
    assert client.get(url).headers["etag"] == etag
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b"" and "content-type" not in not_modified.headers
    assert not_modified.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": '"v999"'}).status_code == 200


# --- update ------------------------------------------------------------------------------------------


def test_update_needs_if_match_and_refuses_a_stale_one(client: TestClient) -> None:
    created = create(client)
    user_id, etag = created.json()["userId"], created.headers["etag"]
    problem_of(patch(client, user_id, {"name": "Ada King"}, None), 428)
    problem_of(patch(client, user_id, {"name": "Ada King"}, '"v999"'), 412)
    changed = patch(client, user_id, {"name": "Ada King"}, etag)
    assert changed.status_code == 200
    assert changed.json()["name"] == "Ada King"
    assert changed.headers["etag"] != etag
    assert changed.json()["updatedAt"] >= created.json()["updatedAt"]
    problem_of(patch(client, user_id, {"name": "Again"}, etag), 412)  # the first ETag is stale now
    assert client.get(user_url(user_id)).json() == changed.json()


def test_if_match_sent_on_several_lines_is_one_list(client: TestClient) -> None:
    """Repeated field lines mean their comma-joined values (RFC 9110 5.3): the current tag on the
    second line matches, as it does on one line (and as API Gateway joins them for Lambda)."""
    created = create(client)
    user_id, etag = created.json()["userId"], created.headers["etag"]
    lines = [("If-Match", '"v0"'), ("If-Match", etag), ("Content-Type", MERGE_PATCH["Content-Type"])]
    changed = client.patch(user_url(user_id), json={"name": "Ada King"}, headers=lines)
    assert changed.status_code == 200, changed.text
    stale = [("If-Match", '"v0"'), ("If-Match", etag)]
    problem_of(client.delete(user_url(user_id), headers=stale), 412)  # etag is stale now
    fresh = [("If-Match", '"v0"'), ("If-Match", changed.headers["etag"])]
    assert client.delete(user_url(user_id), headers=fresh).status_code == 204


def test_if_none_match_sent_on_several_lines_is_one_list(client: TestClient) -> None:
    created = create(client)
    lines = [("If-None-Match", '"v0"'), ("If-None-Match", created.headers["etag"])]
    assert client.get(created.headers["location"], headers=lines).status_code == 304


@pytest.mark.parametrize("field", ["userId", "createdAt", "updatedAt"])
def test_read_only_fields_cannot_be_patched_and_are_named(client: TestClient, field: str) -> None:
    created = create(client)
    response = patch(client, created.json()["userId"], {field: "x"}, created.headers["etag"])
    problem = problem_of(response, 400)
    assert problem["errors"][0]["field"] == f"/{field}"


def test_a_patch_sent_as_plain_json_is_415(client: TestClient) -> None:
    created = create(client)
    response = client.patch(
        created.headers["location"],
        json={"name": "x"},
        headers={"If-Match": created.headers["etag"], "Content-Type": "application/json"},
    )
    problem_of(response, 415)


def test_an_email_change_moves_the_guard_and_frees_the_old_email(
    client: TestClient, dynamodb: Any, local_settings: Settings
) -> None:
    old, new = new_email("old"), new_email("new")
    created = create(client, email=old)
    user_id = created.json()["userId"]
    changed = patch(client, user_id, {"email": new.upper()}, created.headers["etag"])
    assert changed.status_code == 200
    table = local_settings.service.table_name
    assert items_for(dynamodb, table, email=old) == []
    guards = items_for(dynamodb, table, email=new)
    assert [guard["userId"]["S"] for guard in guards] == [user_id]
    assert create(client, email=old).status_code == 201  # the old email is free again
    assert client.get(USERS, params={"email": new}).json()["items"][0]["userId"] == user_id


def test_an_email_taken_by_another_user_is_409_and_changes_nothing(client: TestClient) -> None:
    taken = create(client).json()["email"]
    created = create(client)
    user_id, etag = created.json()["userId"], created.headers["etag"]
    problem_of(patch(client, user_id, {"email": taken.upper(), "name": "Z"}, etag), 409)
    assert client.get(user_url(user_id)).json() == created.json()
    assert client.get(user_url(user_id)).headers["etag"] == etag


def test_updating_an_unknown_user_is_404(client: TestClient) -> None:
    problem_of(patch(client, str(uuid.uuid4()), {"name": "x"}, '"v1"'), 404)


# --- delete --------------------------------------------------------------------------------------------


def test_delete_removes_the_user_and_its_email_then_404(
    client: TestClient, dynamodb: Any, local_settings: Settings
) -> None:
    email = new_email("gone")
    user_id = create(client, email=email).json()["userId"]
    deleted = client.delete(user_url(user_id))
    assert deleted.status_code == 204 and deleted.content == b""
    assert "content-type" not in deleted.headers
    problem_of(client.get(user_url(user_id)), 404)
    problem_of(client.delete(user_url(user_id)), 404)
    assert items_for(dynamodb, local_settings.service.table_name, user_id=user_id, email=email) == []
    assert create(client, email=email).status_code == 201


def test_delete_with_a_stale_if_match_is_412_and_deletes_nothing(client: TestClient) -> None:
    created = create(client)
    url = created.headers["location"]
    problem_of(client.delete(url, headers={"If-Match": '"v999"'}), 412)
    assert client.get(url).status_code == 200
    assert client.delete(url, headers={"If-Match": created.headers["etag"]}).status_code == 204


# --- idempotent create ------------------------------------------------------------------------------


def idempotency_records(dynamodb: Any, table: str) -> list[Any]:
    return [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
        if item["pk"]["S"].startswith("IDEMPOTENCY#")
    ]


def test_a_repeated_key_with_the_same_body_replays_the_first_answer(
    client: TestClient, dynamodb: Any, local_settings: Settings
) -> None:
    key = f'"{uuid.uuid4()}"'
    body = {"name": "Ada", "email": new_email("idem")}
    first = client.post(USERS, json=body, headers={"Idempotency-Key": key})
    again = client.post(USERS, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    table = local_settings.service.table_name
    records = [r for r in idempotency_records(dynamodb, table) if r["userId"]["S"] == first.json()["userId"]]
    assert len(records) == 1
    record = records[0]
    assert body["email"] not in str(record) and key.strip('"') not in str(record)
    ttl = local_settings.service.idempotency_ttl_hours * 3600
    assert abs(int(record[TTL_ATTRIBUTE]["N"]) - (time.time() + ttl)) < 60
    assert len(client.get(USERS, params={"email": body["email"]}).json()["items"]) == 1


def test_a_repeated_key_with_another_body_is_422(client: TestClient) -> None:
    key = str(uuid.uuid4())
    assert (
        client.post(
            USERS, json={"name": "A", "email": new_email()}, headers={"Idempotency-Key": key}
        ).status_code
        == 201
    )
    other = client.post(USERS, json={"name": "B", "email": new_email()}, headers={"Idempotency-Key": key})
    problem_of(other, 422)


@pytest.mark.parametrize("key", ["", '"unterminated', 'a"b', "x" * 300, "caf\u00e9"])
def test_a_malformed_key_is_400(client: TestClient, key: str) -> None:
    response = client.post(
        USERS, json={"name": "A", "email": new_email()}, headers={b"Idempotency-Key": key.encode()}
    )
    problem_of(response, 400)


def test_an_idempotency_key_sent_twice_is_400_and_creates_nothing(client: TestClient) -> None:
    """Two lines are not one key (a Structured Field Item): taking the first would replay or refuse
    at random. Through API Gateway they arrive joined with ", ", which the key's pattern refuses."""
    email = new_email()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for lines in (
        [("Idempotency-Key", first), ("Idempotency-Key", second)],
        [("Idempotency-Key", f"{first}, {second}")],
    ):
        problem_of(client.post(USERS, json={"name": "A", "email": email}, headers=lines), 400)
    assert client.get(USERS, params={"email": email}).json()["items"] == []


def expire(dynamodb: Any, table: str, record: Any) -> None:
    """What the TTL's clock does to a record after `idempotency_ttl_hours`."""
    dynamodb.update_item(
        TableName=table,
        Key={"pk": record["pk"], "sk": record["sk"]},
        UpdateExpression="SET #expires = :past",
        ExpressionAttributeNames={"#expires": TTL_ATTRIBUTE},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )


def test_a_create_replayed_after_its_user_was_deleted_is_409_and_brings_nothing_back(
    client: TestClient, dynamodb: Any, local_settings: Settings
) -> None:
    """A late retry of a create must not re-create a person whose record was deleted: the key stays
    spent until its record expires, holding only the user's id (the body's fingerprint goes with
    the user)."""
    key, table = str(uuid.uuid4()), local_settings.service.table_name
    body = {"name": "A", "email": new_email("erased")}
    user_id = client.post(USERS, json=body, headers={"Idempotency-Key": key}).json()["userId"]
    (before,) = [r for r in idempotency_records(dynamodb, table) if r["userId"]["S"] == user_id]
    assert client.delete(user_url(user_id)).status_code == 204
    (after,) = [r for r in idempotency_records(dynamodb, table) if r["pk"] == before["pk"]]
    assert "fingerprint" in before and "fingerprint" not in after
    assert after[TTL_ATTRIBUTE] == before[TTL_ATTRIBUTE] and after["userId"]["S"] == user_id
    for replayed in (body, {"name": "B", "email": new_email("other")}):
        problem = problem_of(client.post(USERS, json=replayed, headers={"Idempotency-Key": key}), 409)
        assert problem["type"].endswith("/created-user-deleted") and user_id in problem["detail"]
    assert client.get(USERS, params={"email": body["email"]}).json()["items"] == []
    expire(dynamodb, table, after)
    again = client.post(USERS, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json()["userId"] != user_id


def test_deleting_a_user_whose_record_the_ttl_removed_takes_one_transaction(
    dynamodb: Any, local_settings: Settings
) -> None:
    """The common case a day after an idempotent create: the record is gone. The delete writes an
    expired stand-in for it in the same transaction (the TTL removes it again) rather than failing
    its condition and starting over (a second transaction, against the function's time budget)."""
    table = local_settings.service.table_name
    repository = DynamoUserRepository(make_client(local_settings.service), table)
    body = {"name": "A", "email": new_email("ttl")}
    request = idempotent_request(str(uuid.uuid4()), body, 3600, consumer="tests")
    user = repository.add(
        new_user(body["name"], body["email"])._replace(idempotency_key=request.key_hash), request
    )
    (record,) = [r for r in idempotency_records(dynamodb, table) if r["userId"]["S"] == user.user_id]
    dynamodb.delete_item(TableName=table, Key={"pk": record["pk"], "sk": record["sk"]})  # the TTL's work
    calls: list[str] = []
    repository._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    repository.remove(user)
    assert calls == ["TransactWriteItems"]
    assert repository.get(user.user_id) is None
    (left,) = [r for r in idempotency_records(dynamodb, table) if r["pk"] == record["pk"]]
    assert left["userId"]["S"] == user.user_id and "fingerprint" not in left
    assert int(left[TTL_ATTRIBUTE]["N"]) <= time.time()


def test_a_key_used_again_after_its_record_expired_leaves_both_users_whole(
    client: TestClient, dynamodb: Any, local_settings: Settings
) -> None:
    """The second create takes the expired record over; the first user is still deleted cleanly
    (it used to be refused for ever: its delete required the record to name it)."""
    key, table = str(uuid.uuid4()), local_settings.service.table_name
    first = create(client, **{"Idempotency-Key": key})
    first_id = first.json()["userId"]
    record = next(r for r in idempotency_records(dynamodb, table) if r["userId"]["S"] == first_id)
    expire(dynamodb, table, record)
    body = {"name": "Bob", "email": new_email("again")}
    second = client.post(USERS, json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 201 and second.json()["userId"] != first_id
    assert client.delete(user_url(first_id), headers={"If-Match": first.headers["etag"]}).status_code == 204
    replay = client.post(USERS, json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and replay.json() == second.json()
    assert client.delete(user_url(second.json()["userId"])).status_code == 204
    (left,) = [r for r in idempotency_records(dynamodb, table) if r["pk"] == record["pk"]]
    assert left["userId"]["S"] == second.json()["userId"] and "fingerprint" not in left


def test_a_key_belongs_to_the_consumer_that_sends_it(client: TestClient, issuer: LocalIssuer) -> None:
    """Another consumer's key of the same value is another key: its create is its own, not a 422."""
    key = str(uuid.uuid4())
    mine = create(client, **{"Idempotency-Key": key})
    everyone = full_access_client(issuer, CONTRACT)
    other = next(name for name in issuer.clients if name != everyone)
    bearer = token(issuer, other, CONTRACT.operation("createUser").scopes)
    headers = {"Idempotency-Key": key, "Authorization": f"Bearer {bearer}"}
    theirs = client.post(USERS, json={"name": "Eve", "email": new_email("other")}, headers=headers)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["userId"] != mine.json()["userId"]
