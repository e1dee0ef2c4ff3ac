"""The guide: built offline and strict from docs/ (a broken link, a page out of the nav, a nav entry
without its page fail the build), with the API reference and the generated settings reference in it;
then every page opened in Chromium with no network (consumers/site_check.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from consumers import docs, site_check
from consumers.settings_reference import SETTINGS
from consumers.tools import ROOT
from service.contract import get_contract

pytestmark = pytest.mark.consumers


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide as `make docs` builds it, into a temporary folder."""
    root = tmp_path_factory.mktemp("guide")
    reference = docs.build(root / "reference.html")
    return docs.build_guide(root / "site", reference)


def _nav_pages(nav: list[object]) -> list[str]:
    found: list[str] = []
    for entry in nav:
        target = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += _nav_pages(target) if isinstance(target, list) else [str(target)]
    return found


def _html_of(page: str) -> str:
    return page.removesuffix(".md") + ".html" if page.endswith(".md") else page


def test_every_nav_entry_is_a_page_of_the_built_site(site: Path) -> None:
    config = yaml.safe_load(docs.MKDOCS_CONFIG.read_text(encoding="utf-8"))

    pages = _nav_pages(config["nav"])

    assert "reference/index.html" in pages
    for page in pages:
        html = _html_of(page).replace("/README.html", "/index.html")
        assert (site / html).is_file(), page


def test_the_reference_page_is_part_of_the_site_and_documents_every_operation(site: Path) -> None:
    html = (site / "reference" / "index.html").read_text(encoding="utf-8")

    for operation in get_contract().operations:
        assert operation.operation_id in html, operation.operation_id
    assert docs.external_fetches(html) == []


def test_the_settings_page_is_generated_from_settings_yaml(site: Path) -> None:
    document = yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))
    page = (site / "settings.html").read_text(encoding="utf-8")

    for section, values in document["defaults"].items():
        for key in values:
            # a key, or the keys of a mapping (`clients.billing.scopes`)
            assert f"{section}.{key}</code>" in page or f"{section}.{key}." in page, f"{section}.{key}"
    assert "settings reference: generated" not in page  # the marker was replaced


def test_no_page_fetches_anything_from_elsewhere(site: Path) -> None:
    assert docs.site_fetches(site) == {}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the guide's sources (mkdocs.yml, docs/) to break on purpose."""
    shutil.copy(docs.MKDOCS_CONFIG, tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    for watched in ("settings.yaml", "openapi.yaml", "consumers"):  # mkdocs.yml's `watch` must exist
        (tmp_path / watched).symlink_to(ROOT / watched)
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        ("broken link", "no-such-page.md"),
        ("broken anchor", "#no-such-heading"),
        ("page out of the nav", "stray.md"),
        ("nav entry without its page", "missing.md"),
        ("fetch from elsewhere", "https://images.example.com/logo.png"),
    ],
)
def test_a_broken_guide_fails_the_build_and_names_what_broke(
    project: Path, tmp_path: Path, breakage: str, named: str
) -> None:
    index, config = project / "docs" / "index.md", project / "mkdocs.yml"
    if breakage == "broken link":
        _append(index, "\nSee [the missing page](no-such-page.md).\n")
    elif breakage == "broken anchor":
        _append(index, "\nSee [a heading](architecture.md#no-such-heading).\n")
    elif breakage == "page out of the nav":
        (project / "docs" / "stray.md").write_text("# Stray\n", encoding="utf-8")
    elif breakage == "nav entry without its page":
        _append(config, "  - Missing: missing.md\n")
    else:
        _append(index, '\n<img src="https://images.example.com/logo.png" alt="logo">\n')

    with pytest.raises(docs.DocsFailed) as failure:
        docs.build_guide(tmp_path / "site", docs.reference_page(), config=config)

    assert named in str(failure.value)


def test_every_page_renders_offline_search_finds_and_nothing_leaves_the_machine(site: Path) -> None:
    searches = site_check.default_searches()

    report = site_check.check(site, searches)

    assert report.problems(searches) == []
    assert sorted(page["page"] for page in report.pages) == sorted(site_check.pages_of(site))
    assert report.outside() == []
    assert {request["url"] for request in report.requests} >= {report.base + "search/search_index.json"}
    assert all(search["results"] for search in report.searches)


def test_the_browser_check_catches_a_fetch_an_error_and_a_search_that_finds_nothing(tmp_path: Path) -> None:
    # Given a page that loads an image from elsewhere, logs an error, throws, and has no search box
    (tmp_path / "index.html").write_text(
        "<html><head><title>t</title></head><body><p>text</p>"
        '<img src="https://images.example.com/logo.png">'
        "<script>console.error('boom'); throw new Error('uncaught');</script></body></html>",
        encoding="utf-8",
    )
    searches = [site_check.Search(query="anything")]

    # When the browser check opens it
    report = site_check.check(tmp_path, searches, timeout_ms=3_000)

    # Then each of them is a problem, and the image's request never left the machine
    problems = "\n".join(report.problems(searches))
    assert "https://images.example.com/logo.png: a request left the served site" in problems
    assert "console error: boom" in problems
    assert "uncaught: Error: uncaught" in problems
    assert "search 'anything': no result" in problems
    assert {blocked["url"] for blocked in report.blocked} == {"https://images.example.com/logo.png"}
