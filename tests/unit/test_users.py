from __future__ import annotations

import base64
import json
import re
from decimal import Decimal

import pytest

from service.app import _json_default
from service.repository import email_key, user_key
from service.users import LIST_QUERY, CursorCodec, InvalidCursor, User, new_user, normalise_email

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_emails_are_compared_case_insensitively_without_surrounding_blanks() -> None:
    assert normalise_email("  Ada@Example.COM ") == normalise_email("ada@example.com")
    assert email_key("Ada@Example.com") == email_key("ada@example.com")


def test_new_users_get_a_uuid_and_rfc3339_utc_timestamps() -> None:
    user = new_user("Ada", "ada@example.com")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", user.user_id)
    assert RFC3339_UTC.match(user.created_at)
    assert user.created_at == user.updated_at
    assert new_user("Ada", "ada@example.com").user_id != user.user_id


def test_the_public_representation_holds_no_storage_keys() -> None:
    user = User("id-1", "Ada", "ada@example.com", "t1", "t2")
    assert user.to_json() == {
        "userId": "id-1",
        "name": "Ada",
        "email": "ada@example.com",
        "createdAt": "t1",
        "updatedAt": "t2",
    }
    assert "pk" not in user.to_json() and user_key("id-1")["pk"]["S"] == "USER#id-1"


@pytest.mark.parametrize(
    ("value", "expected"), [(Decimal("3"), 3), (Decimal("2.5"), 2.5), (Decimal("1E+2"), 100)]
)
def test_dynamodb_numbers_serialise_as_json_numbers(value: Decimal, expected: float) -> None:
    result = _json_default(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    "payload",
    [b"x", b"[]", b"\xff", b"1" * 5000, b"[" * 5000, json.dumps({"q": LIST_QUERY, "k": []}).encode()],
    ids=["not JSON", "not an object", "not UTF-8", "digits", "nesting", "no key"],
)
def test_a_cursor_whose_mac_holds_but_whose_payload_is_not_a_page_is_refused(payload: bytes) -> None:
    """The MAC key is not a secret, so a cursor with a valid MAC may hold anything: refused, not a 500."""
    codec = CursorCodec("users-api-prod")
    forged = base64.urlsafe_b64encode(codec._mac(payload) + payload).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        codec.decode(forged)
