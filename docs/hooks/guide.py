"""MkDocs hook of the guide (mkdocs.yml `hooks:`): the two pages that are built, not written.

- `settings.md`: its marker is replaced by the settings reference generated from settings.yaml
  (consumers/settings_reference.py), so every key, default, stage value and comment is written once,
  in settings.yaml, and searched like any page.
- `reference/index.html`: the API reference, one self-contained Redoc page built from openapi.yaml
  by Redocly CLI (consumers/docs.py), rebuilt when the contract or redocly.yaml is newer than it.

The logic lives in consumers/ (typed, tested); this file only plugs it into MkDocs' events.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `mkdocs serve` run as a script: the project's packages first
    sys.path.insert(0, str(ROOT))

from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402

from consumers import docs, settings_reference  # noqa: E402

SETTINGS_PAGE = "settings.md"
SETTINGS_MARKER = "<!-- settings reference: generated from settings.yaml -->"
REFERENCE_URI = "reference/index.html"


def on_files(files: Files, config: Any, **_: Any) -> Files:
    try:
        page = docs.reference_page()
    except docs.DocsFailed as error:
        raise PluginError(str(error)) from error
    files.append(File.generated(config, REFERENCE_URI, abs_src_path=str(page)))
    return files


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != SETTINGS_PAGE:
        return markdown
    if SETTINGS_MARKER not in markdown:
        raise PluginError(f"docs/{SETTINGS_PAGE} lost its marker {SETTINGS_MARKER!r}")
    text = settings_reference.SETTINGS.read_text(encoding="utf-8")
    return markdown.replace(SETTINGS_MARKER, settings_reference.render(text))
