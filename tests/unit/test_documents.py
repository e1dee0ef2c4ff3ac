"""openapi.yaml and settings.yaml are the only sources; the bundle reads their JSON copies instead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service import documents
from service.contract import CONTRACT_FILE, get_contract, read_document
from service.settings import SETTINGS_FILE, read_file


def test_the_checkout_reads_the_yaml_sources_and_no_json_copy_shadows_them() -> None:
    for source in (CONTRACT_FILE, SETTINGS_FILE):
        assert source.suffix == ".yaml"
        assert not documents.json_copy(source).exists(), f"a stray copy would shadow {source.name}"
        assert documents.deployed(source) == source
    assert get_contract().source == CONTRACT_FILE


def test_a_json_copy_reads_as_the_same_document_as_its_yaml_source(tmp_path: Path) -> None:
    for source in (CONTRACT_FILE, SETTINGS_FILE):
        copy = documents.json_copy(tmp_path / source.name)
        copy.write_bytes(documents.as_json(source))
        assert documents.deployed(tmp_path / source.name) == copy
        assert json.loads(copy.read_text(encoding="utf-8")) == documents.read(source)
    assert read_document(tmp_path / "openapi.json") == read_document()
    assert read_file(tmp_path / "settings.json") == read_file()


def test_reading_a_json_copy_imports_no_yaml(tmp_path: Path) -> None:
    copy = tmp_path / "settings.json"
    copy.write_bytes(documents.as_json(SETTINGS_FILE))
    probe = (
        "import sys; from pathlib import Path; from service import documents; "
        f"documents.read(Path({str(copy)!r})); print('yaml' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", probe]
    found = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    assert (found.returncode, found.stdout.strip()) == (0, "False")
