"""The load pages of the guide (Load testing, Capacity) name only files the project holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("docs/load-testing.md", "docs/capacity.md")
FILE_NAME = re.compile(r"[A-Za-z0-9_./-]+\.(?:md|py|yaml|toml|mk|patch|json)\b")


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_load_page_names_exists(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    missing = sorted(
        name
        for name in set(FILE_NAME.findall(text))
        if not any((base / name).exists() for base in (ROOT, ROOT / "docs", (ROOT / page).parent))
    )
    assert missing == [], f"{page} names files the project does not hold: {missing}"
