"""The library fixes proposed upstream and not carried (docs/upstream/jsonschema), checked on the
pinned releases (the carried ones, connexion's and attrs', are checked by `make upstream-check`).

Nothing ships them. Each patch must still apply without fuzz to the release this project installs,
and its tests must pass on that release with the patch and fail on it without, so the patch and its
measured effect stay true until upstream takes it (then: delete the patch, its row in the folder's
README, and its case here).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "docs" / "upstream"


class Proposed(NamedTuple):
    """A patch of docs/upstream/<library>, how it maps onto the installed release, and its tests."""

    distribution: str
    packages: tuple[str, ...]  # the import packages copied from site-packages
    strip: int  # leading path components: 1 for a package at the repository's top, 2 under src/
    test_files: str  # `git apply --include` pattern of the patch's test files, once applied
    node_ids: tuple[str, ...]  # the upstream tests it adds or changes (relative to the copy)


PROPOSED = {
    "jsonschema/0001-import-fractions-lazily.patch": Proposed(
        "jsonschema",
        ("jsonschema",),
        1,
        "*/jsonschema/tests/*",
        (
            "jsonschema/tests/test_import.py",
            "jsonschema/tests/test_validators.py::TestValidationErrorMessages::test_multipleOf_float_overflow",
        ),
    ),
    "jsonschema/0002-import-idna-lazily.patch": Proposed(
        "jsonschema",
        ("jsonschema",),
        1,
        "*/jsonschema/tests/*",
        ("jsonschema/tests/test_format.py::TestOptionalDependencies",),
    ),
}


def installed_copy(proposed: Proposed, target: Path) -> Path:
    """The installed release's packages, copied (without bytecode) into `target`."""
    distribution = importlib.metadata.distribution(proposed.distribution)
    for package in proposed.packages:
        source = Path(str(distribution.locate_file(package)))
        shutil.copytree(source, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return target


def apply(patch: Path, proposed: Proposed, tree: Path, *, only_tests: bool = False) -> None:
    """`git apply` (exact context, offsets allowed); with only_tests, the patch's test files alone.
    Changelog fragments and other documents of the patch are left out."""
    command = [
        "git",
        "apply",
        "--unsafe-paths",
        f"-p{proposed.strip}",
        f"--directory={tree.relative_to(tree.anchor)}",
    ]
    command.append(f"--include={proposed.test_files}" if only_tests else "--exclude=*.md")
    result = subprocess.run(
        [*command, str(patch)], check=False, cwd=tree.anchor, capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"{patch.name} does not apply to the installed {proposed.distribution}: {result.stderr}"
    )


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


def test_every_patch_of_the_folders_is_checked_here() -> None:
    found = sorted(
        str(p.relative_to(UPSTREAM))
        for library in ("jsonschema",)
        for p in (UPSTREAM / library).glob("*.patch")
    )
    assert found == sorted(PROPOSED)


@pytest.mark.parametrize("name", sorted(PROPOSED))
def test_the_patch_applies_and_its_tests_pass_with_it_and_fail_without(name: str, tmp_path: Path) -> None:
    patch, proposed = UPSTREAM / name, PROPOSED[name]
    patched = installed_copy(proposed, tmp_path / "patched")
    apply(patch, proposed, patched)
    with_patch = run_tests(patched, proposed.node_ids)
    assert with_patch.returncode == 0, with_patch.stdout[-3000:]

    stock = installed_copy(proposed, tmp_path / "stock")
    apply(patch, proposed, stock, only_tests=True)
    without = run_tests(stock, proposed.node_ids)
    assert without.returncode == 1, without.stdout[-3000:]  # 1: tests ran and some failed
    assert "failed" in without.stdout.splitlines()[-1]
