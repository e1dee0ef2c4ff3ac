"""The reference page: one HTML file that shows the whole contract and fetches nothing when viewed."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.docs import build, external_fetches
from service.contract import get_contract, read_document

pytestmark = pytest.mark.consumers


def test_the_page_is_self_contained_and_documents_every_operation(tmp_path: Path) -> None:
    page = build(tmp_path / "index.html")

    html = page.read_text(encoding="utf-8")
    assert external_fetches(html) == []
    contract = get_contract()
    for operation in contract.operations:
        assert operation.operation_id in html, operation.operation_id
    assert contract.version in html


def test_the_page_shows_the_oauth2_scheme_and_every_scope(tmp_path: Path) -> None:
    html = build(tmp_path / "index.html").read_text(encoding="utf-8")
    contract = get_contract()
    assert contract.token_url is not None and contract.token_url in html
    for scope, description in contract.scopes.items():
        assert scope in html and description in html, scope


def test_the_page_says_whom_to_ask(tmp_path: Path) -> None:
    html = build(tmp_path / "index.html").read_text(encoding="utf-8")
    contact = read_document()["info"]["contact"]
    assert contact["name"] in html
    assert contact.get("email", contact.get("url")) in html


@pytest.mark.parametrize(
    "fetching",
    [
        '<script src="https://cdn.example.com/redoc.standalone.js"></script>',
        '<link rel="modulepreload" href="https://cdn.example.com/redoc.js" crossorigin>',
        "<link href='//fonts.example.com/css?family=Montserrat' rel='stylesheet'>",
        "<style>@font-face { src: url(https://fonts.example.com/roboto.woff2) }</style>",
        '<style>@import "https://cdn.example.com/theme.css";</style>',
        '<script type="module">import { hydrate } from "https://cdn.example.com/redoc.js";</script>',
        '<img src="https://img.example.com/logo.png">',
    ],
)
def test_anything_fetched_at_view_time_is_found(fetching: str) -> None:
    assert external_fetches(f"<html><head>{fetching}</head><body></body></html>") != []


def test_links_and_strings_are_not_fetches() -> None:
    html = (
        '<a href="https://redocly.com/redoc/">API docs by Redocly</a>'
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
        '<script>const docs = "https://example.com/learn";</script>'
    )
    assert external_fetches(html) == []
