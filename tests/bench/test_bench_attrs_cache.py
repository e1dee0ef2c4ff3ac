"""bench/attrs_cache.py's stock copy: the bundle with the stock attrs release and no code cache, which
compiles at import what the bundle as built does not (a bundle built for this machine and Python)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import attrs_cache
from bench.common import Source
from infra.bundle import build_bundle, local_architecture

LOCAL_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.infra
def test_the_stock_copy_compiles_what_the_bundle_ships_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = build_bundle(LOCAL_VERSION, local_architecture(), "required", python=sys.executable)
    source = Source("bundle", (str(bundle.path),), ("-S", "-B"), str(bundle.path), sys.executable)
    monkeypatch.setattr(attrs_cache, "BUILD_DIR", tmp_path / "build")

    stock = attrs_cache.stock_copy(source)

    assert not (Path(stock.task_root) / "attr" / "_code_cache.py").exists()
    assert list(Path(stock.task_root).rglob("*.attrs")) == []
    assert (bundle.path / "attr" / "_code_cache.py").is_file()  # the bundle itself is left as it was
    # jsonschema's import creates every attrs class made at import (infra.bundle.CODE_CACHE_IMPORTS).
    assert attrs_cache.compiled_at_import(source, "jsonschema") == 0
    assert attrs_cache.compiled_at_import(stock, "jsonschema") > 40
