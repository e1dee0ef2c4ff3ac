"""Patch 0007: a request's media type is matched case-insensitively, as HTTP defines it.

Upstream home: tests/test_utils.py (split_content_type) and tests/api/test_bootstrap.py or
tests/test_validation.py (the request through an app).
connexion 3.3.0 accepts `Content-Type: Application/JSON` for an operation that consumes
`application/json` (`validate_mime_type` compares in lower case), then looks the body's schema up
with the header's own spelling, which matches nothing on POSIX (`fnmatch` is case-sensitive there,
case-insensitive on Windows): the body goes unvalidated and the view gets the raw bytes instead of
the parsed JSON. RFC 9110, section 8.3.1: "The type and subtype tokens are case-insensitive", and so
are parameter names; whitespace may surround a parameter.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import spec
from connexion import AsyncApp
from connexion.utils import is_json_mimetype, split_content_type
from starlette.testclient import TestClient

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}},
    "additionalProperties": False,
}


def echo_spec(media_type: str) -> dict[str, Any]:
    """POST /echo (views.echo answers the body it is given) with a JSON body of SCHEMA."""
    operation = {
        "operationId": "views.echo",
        "requestBody": {"required": True, "content": {media_type: {"schema": SCHEMA}}},
        "responses": {"201": {"description": "the body"}},
    }
    return spec({"/echo": {"post": operation}})


def client(document: dict[str, Any]) -> TestClient:
    app = AsyncApp(__name__)
    app.add_api(document)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", ("application/json", None)),
        ("Application/JSON", ("application/json", None)),
        ("application/json; charset=utf-8", ("application/json", "utf-8")),
        ("APPLICATION/MERGE-PATCH+JSON;Charset=UTF-8", ("application/merge-patch+json", "UTF-8")),
        (' application/json ; charset="utf-8"', ("application/json", "utf-8")),
        (None, (None, None)),
    ],
)
def test_split_content_type_lowers_the_media_type_and_finds_the_charset(
    header: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert split_content_type(header) == expected


@pytest.mark.parametrize("header", ["Application/JSON", "APPLICATION/JSON; Charset=utf-8"])
def test_a_body_sent_with_another_spelling_of_the_media_type_is_validated(header: str) -> None:
    api = client(echo_spec("application/json"))

    refused = api.post("/echo", content=b'{"name": 1}', headers={"Content-Type": header})
    accepted = api.post("/echo", content=b'{"name": "Ada"}', headers={"Content-Type": header})

    assert refused.status_code == 400, refused.text
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"name": "Ada"}


def test_a_media_type_range_still_matches_whatever_the_spelling() -> None:
    api = client(echo_spec("application/*+json"))

    refused = api.post("/echo", content=b"{}", headers={"Content-Type": "Application/Merge-Patch+JSON"})

    assert refused.status_code == 400, refused.text


@pytest.mark.parametrize(
    ("mimetype", "expected"),
    [
        ("Application/JSON", True),
        ("application/Problem+JSON; charset=utf-8", True),
        ("application/json ; charset=utf-8", True),
        ('application/json; profile="https://example.com/schemas/echo"', True),
        ("Text/Plain", False),
        ("nonsense", False),
    ],
)
def test_is_json_mimetype_whatever_the_spelling(mimetype: str, expected: bool) -> None:
    assert is_json_mimetype(mimetype) is expected


def test_a_parameter_holding_a_slash_is_a_parameter() -> None:
    """3.3.0 split the whole header on "/": a profile URI made get_body raise (a 500)."""
    api = client(echo_spec("application/json"))
    header = 'application/json; profile="https://example.com/schemas/echo"'

    accepted = api.post("/echo", content=b'{"name": "Ada"}', headers={"Content-Type": header})

    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"name": "Ada"}


def test_a_charset_no_codec_knows_is_an_unsupported_media_type() -> None:
    """Found now that `; charset=...` is read: decoding with an unknown codec must not be a 500."""
    api = client(echo_spec("application/json"))

    refused = api.post(
        "/echo", content=b'{"name": "Ada"}', headers={"Content-Type": "application/json; charset=bogus"}
    )
    accepted = api.post(
        "/echo", content=b'{"name": "Ada"}', headers={"Content-Type": "application/json; charset=UTF-8"}
    )

    assert refused.status_code == 415, refused.text
    assert accepted.status_code == 201, accepted.text
