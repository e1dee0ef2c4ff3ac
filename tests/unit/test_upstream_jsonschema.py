"""The jsonschema fixes proposed upstream (docs/upstream/jsonschema), checked on the pinned release.

Not carried: nothing ships them. Each patch must still apply without fuzz to the jsonschema this
project installs, its tests must pass on that release with the patch and fail on it without, so the
patch and its measured effect stay true until upstream takes it (then: delete the patch, its row in
the folder's README, and its case here).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATCH_DIR = ROOT / "docs" / "upstream" / "jsonschema"
# Each patch and the upstream tests it adds or changes (pytest node ids, relative to site-packages).
PATCH_TESTS = {
    "0001-import-fractions-lazily.patch": (
        "jsonschema/tests/test_import.py",
        "jsonschema/tests/test_validators.py::TestValidationErrorMessages::test_multipleOf_float_overflow",
    ),
    "0002-import-idna-lazily.patch": ("jsonschema/tests/test_format.py::TestOptionalDependencies",),
}


def installed_copy(target: Path) -> Path:
    """The installed jsonschema package, copied (without bytecode) into `target`."""
    package = Path(str(importlib.metadata.distribution("jsonschema").locate_file("jsonschema")))
    shutil.copytree(package, target / "jsonschema", ignore=shutil.ignore_patterns("__pycache__"))
    (target / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return target


def apply(patch: Path, tree: Path, *, only_tests: bool = False) -> None:
    """`git apply` (exact context, offsets allowed); with only_tests, the patch's test files alone."""
    command = ["git", "apply", "--unsafe-paths", f"--directory={tree.relative_to(tree.anchor)}"]
    if only_tests:
        command.append("--include=*/jsonschema/tests/*")
    result = subprocess.run(
        [*command, str(patch)], check=False, cwd=tree.anchor, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{patch.name} does not apply to the installed jsonschema: {result.stderr}"


def run_tests(tree: Path, node_ids: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pytest.ini", *node_ids],
        check=False,
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_patch_of_the_folder_is_checked_here() -> None:
    assert sorted(p.name for p in PATCH_DIR.glob("*.patch")) == sorted(PATCH_TESTS)


@pytest.mark.parametrize("name", sorted(PATCH_TESTS))
def test_the_patch_applies_and_its_tests_pass_with_it_and_fail_without(name: str, tmp_path: Path) -> None:
    patch, node_ids = PATCH_DIR / name, PATCH_TESTS[name]
    patched = installed_copy(tmp_path / "patched")
    apply(patch, patched)
    with_patch = run_tests(patched, node_ids)
    assert with_patch.returncode == 0, with_patch.stdout[-3000:]

    stock = installed_copy(tmp_path / "stock")
    apply(patch, stock, only_tests=True)
    without = run_tests(stock, node_ids)
    assert without.returncode == 1, without.stdout[-3000:]  # 1: tests ran and some failed
    assert "failed" in without.stdout.splitlines()[-1]
