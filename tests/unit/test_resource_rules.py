"""The pure rules of the users resource: ETags, cursors, idempotency keys, validators per media type."""

from __future__ import annotations

import copy

import pytest

from service.app import body_validators
from service.contract import get_contract
from service.users import (
    WRITE_ATTEMPTS,
    CursorCodec,
    InvalidCursor,
    StorageUnavailable,
    User,
    WriteConflict,
    delete_user,
    fingerprint,
    idempotency_key_value,
    idempotent_request,
    is_not_modified,
    matches,
    new_user,
    update_user,
)
from service.validation import StrictJSONBodyValidator


def test_if_match_compares_strongly_and_accepts_a_list_and_star() -> None:
    assert matches('"v2"', '"v2"')
    assert matches('"v1", "v2"', '"v2"')
    assert matches("*", '"v2"')
    assert not matches('W/"v2"', '"v2"')
    assert not matches('"v1"', '"v2"')


@pytest.mark.parametrize(
    "header",
    [
        '"x,"v2"',  # one tag `"x,"` (a comma may be quoted), then text that is no tag
        '"v2", *',  # `*` stands alone or not at all
        "v2",  # unquoted
        '"v1""v2"',  # two tags without a comma between them
    ],
)
def test_a_field_that_is_no_list_of_entity_tags_matches_nothing(header: str) -> None:
    assert not matches(header, '"v2"')
    assert not is_not_modified(header, '"v2"')


def test_a_comma_inside_an_entity_tag_is_part_of_the_tag() -> None:
    assert matches('"a,b", "v2"', '"v2"')
    assert matches('"a,b"', '"a,b"')
    assert matches(' ,"v1" , , "v2",', '"v2"')  # empty list elements are allowed (RFC 9110 5.6.1)


def test_if_none_match_compares_weakly() -> None:
    assert is_not_modified('W/"v2"', '"v2"')
    assert is_not_modified('"v2"', '"v2"')
    assert not is_not_modified('"v1"', '"v2"')
    assert not is_not_modified(None, '"v2"')


def test_a_cursor_round_trips_and_refuses_what_it_did_not_issue() -> None:
    codec = CursorCodec("t")
    key = {"pk": "USER#1", "sk": "PROFILE", "listPk": "USERS", "listSk": "2026#1"}
    cursor = codec.encode(key)
    assert codec.decode(cursor) == key
    assert all(c.isalnum() or c in "-_" for c in cursor)  # the contract's pattern
    for bad in (cursor[:-2], cursor[:5], "x" + cursor[1:], "!!", ""):
        with pytest.raises(InvalidCursor):
            codec.decode(bad)
    with pytest.raises(InvalidCursor, match="another query"):
        codec.decode(codec.encode(key, query="other"))
    with pytest.raises(InvalidCursor):
        CursorCodec("another table").decode(cursor)


def test_an_idempotency_key_may_be_a_structured_string_or_a_token() -> None:
    assert idempotency_key_value('"abc"') == "abc"
    assert idempotency_key_value("abc") == "abc"
    quoted, bare = idempotent_request('"k-1"', {}, 60, now=0), idempotent_request("k-1", {}, 60, now=0)
    assert quoted == bare and quoted.expires_at == 60
    assert "k-1" not in quoted.key_hash
    mine, theirs = (idempotent_request("k-1", {}, 60, consumer=name) for name in ("billing", "signup"))
    assert mine.key_hash != theirs.key_hash, "a key is its consumer's own"


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint({"name": "A", "email": "a@b.c"}) == fingerprint({"email": "a@b.c", "name": "A"})
    assert fingerprint({"name": "A", "email": "a@b.c"}) != fingerprint({"name": "A", "email": "A@b.c"})


def test_every_request_media_type_of_the_contract_has_a_validator() -> None:
    contract = get_contract()
    validators = body_validators(contract)
    for operation in contract.operations:
        for media_type in operation.body.media_types if operation.body else ():
            assert validators[media_type] is StrictJSONBodyValidator


def test_a_media_type_without_a_validator_stops_the_start_up() -> None:
    document = copy.deepcopy(dict(get_contract().document))
    create = document["paths"]["/users"]["post"]
    create["requestBody"]["content"]["text/csv"] = {"schema": {"type": "string"}}
    with pytest.raises(ValueError, match="text/csv"):
        body_validators(get_contract().with_document(document))


def test_a_path_the_client_addresses_carries_the_stage_behind_the_default_endpoint() -> None:
    from service.gateway_events import api_gateway_event, public_path

    event = api_gateway_event("POST", "/users", resource="/users", stage="prod")
    assert public_path({"aws.event": event}, "/users/1") == "/prod/users/1"
    at_root = {**event, "requestContext": {**event["requestContext"], "path": "/users"}}  # a custom domain
    assert public_path({"aws.event": at_root}, "/users/1") == "/users/1"
    assert public_path({}, "/users/1") == "/users/1"  # the local stage
    assert public_path({"aws.event": {**event, "requestContext": None}}, "/users/1") == "/users/1"


class HeldOnceRepository:
    """A user that another request's transaction holds for the first `held` writes, then frees
    unchanged (that transaction failed): the ETag in If-Match stays current throughout."""

    def __init__(self, held: int) -> None:
        self.user = new_user("Ada", "ada@example.com")
        self.held = held
        self.writes = 0

    def get(self, user_id: str) -> User | None:
        return self.user

    def update(self, current: User, changed: User) -> None:
        self._write()
        self.user = changed

    def remove(self, user: User) -> None:
        self._write()

    def _write(self) -> None:
        self.writes += 1
        if self.writes <= self.held:
            raise WriteConflict()


@pytest.mark.parametrize("write", ["update", "delete"])
def test_a_write_meeting_another_requests_transaction_reads_again_and_keeps_its_current_etag(
    write: str,
) -> None:
    """Not a 412: the transaction that held the user may fail and leave the ETag current."""
    repository = HeldOnceRepository(held=2)
    etag = repository.user.etag
    if write == "update":
        changed = update_user(repository, repository.user.user_id, {"name": "Ada King"}, etag)  # type: ignore[arg-type]
        assert changed.name == "Ada King"
    else:
        delete_user(repository, repository.user.user_id, etag)  # type: ignore[arg-type]
    assert repository.writes == 3
    always = HeldOnceRepository(held=WRITE_ATTEMPTS)
    with pytest.raises(StorageUnavailable):
        if write == "update":
            update_user(always, always.user.user_id, {"name": "Ada King"}, always.user.etag)  # type: ignore[arg-type]
        else:
            delete_user(always, always.user.user_id, always.user.etag)  # type: ignore[arg-type]
    assert always.writes == WRITE_ATTEMPTS
