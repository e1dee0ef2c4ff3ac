"""bench/attrs_cache.py's copy: the attrs patch applied to a bundle's attr/, its caches written by one
import, and nothing of attrs' generated code compiled by the next import (tiny stand-in bundle)."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path

import pytest

from bench import attrs_cache
from bench.common import Source

MODULE = """
import attrs


@attrs.frozen
class Point:
    x: int
    y: int = 0


@attrs.define
class Named:
    name: str = attrs.field(validator=attrs.validators.instance_of(str))
"""


def test_the_patched_copy_compiles_nothing_attrs_generates_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    distribution = importlib.metadata.distribution("attrs")
    for package in ("attr", "attrs"):
        shutil.copytree(
            Path(str(distribution.locate_file(package))),
            bundle / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    (bundle / "classes.py").write_text(MODULE, encoding="utf-8")
    source = Source("bundle", (str(bundle),), ("-S", "-B"), str(bundle), sys.executable)
    monkeypatch.setattr(attrs_cache, "BUILD_DIR", tmp_path / "build")

    copy = attrs_cache.patched_copy(source, "classes")

    assert (Path(copy.task_root) / "attr" / "_code_cache.py").is_file()
    assert not (bundle / "attr" / "_code_cache.py").exists()  # the bundle itself is left as it was
    # Beside the bytecode of each module that created classes at import: ours, and attrs' own.
    assert {p.name.split(".")[0] for p in Path(copy.task_root).rglob("*.attrs")} >= {"classes", "validators"}
    assert attrs_cache.compiled_at_import(source, "classes") >= 2  # Point, Named and attrs' own classes
    assert attrs_cache.compiled_at_import(copy, "classes") == 0
