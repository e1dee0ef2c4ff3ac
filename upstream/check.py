"""`make upstream-check` and `make upstream-lint`: the carried connexion, attrs, jsonschema and
aws-lambda-powertools patches, checked.

    python -m upstream.check check     each patch applies to the release on its own and in series
                                       (no fuzz), its tests pass patched and fail on stock, the
                                       series file records the patches, and the venv runs the
                                       patched build, for each carried release (`make test`
                                       includes this)
    python -m upstream.check lint      upstream's own pre-commit linters (black, isort, flake8,
                                       mypy, at the versions and options of its config) on the
                                       patched copy
    python -m upstream.check path [N]  build a throw-away copy (all patches, or those numbered)

connexion's patches have their tests as standalone files (docs/upstream/connexion/tests), run with
a throw-away copy first on PYTHONPATH: connexion's wheel and sdist ship none of upstream's tests.
attrs', jsonschema's and Powertools' patches are upstream's commits and carry their own test files:
attrs' and Powertools' land beside the unpacked packages, jsonschema's inside its package (where
upstream keeps them); on stock, those files alone are put in the same place in the stock release.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from upstream.patches import (
    ATTRS,
    BUILD_DIR,
    CONNEXION,
    JSONSCHEMA,
    NAME,
    PATCHES,
    POWERTOOLS,
    TESTS_DIR,
    VERSION,
    WHEEL,
    WHEEL_SHA256,
    Carried,
    PatchError,
    patched_copy,
    touched_files,
    unpack_patched,
)
from upstream.wheel import WHEEL_DIR, build_wheel, check_series_recorded, local_version

PYTEST_OPTIONS = ("-c", str(TESTS_DIR / "pytest.ini"), f"--rootdir={TESTS_DIR}")


def _pytest(arguments: Sequence[str], cwd: Path, path: Path, **extra_env: str) -> tuple[int, str]:
    """pytest in a fresh process, `path` first on PYTHONPATH: (exit code, last line of output)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update({"PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1", **extra_env})
    completed = subprocess.run(  # noqa: S603 - our own interpreter and test files
        [sys.executable, "-m", "pytest", "-q", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, lines[-1] if lines else completed.stderr.strip()[-300:]


def run_tests(copy: Path, test_files: Sequence[str]) -> tuple[int, str]:
    """pytest on connexion's patch tests (docs/upstream/connexion/tests) with `copy` first on the path."""
    tests = [str(TESTS_DIR / name) for name in test_files]
    return _pytest([*PYTEST_OPTIONS, *tests], TESTS_DIR, copy, UPSTREAM_CONNEXION_DIR=str(copy))


def installed_matches(wheel: Path, carried: Carried = CONNEXION) -> list[str]:
    """Files of the installed release whose bytes differ from the wheel's (empty: it is that build)."""
    distribution = importlib.metadata.distribution(carried.name)
    differing = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.split("/", 1)[0] in carried.packages:
                installed = Path(str(distribution.locate_file(member)))
                if not installed.is_file() or installed.read_bytes() != archive.read(member):
                    differing.append(member)
    return differing


def run_own_tests(tree: Path, tests: Sequence[str]) -> tuple[int, str]:
    """pytest on the test files a patch wrote (paths relative to `tree`), `tree` first on the path."""
    (tree / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return _pytest(["-p", "no:cacheprovider", "-c", "pytest.ini", *tests], tree, tree)


def check_with_own_tests(carried: Carried, expect: Callable[[bool, str, str], None]) -> None:
    """A release whose patches bring their own upstream tests (attrs, jsonschema, Powertools): each
    applies on its own, the test files it writes pass patched and fail on stock; the series applies
    and, when it has more than one patch, all their tests pass on it; the venv runs the carried build."""
    release = f"{carried.name} {carried.version} ({carried.wheel}, sha256 {carried.wheel_sha256[:12]}...)"
    print(f"{release} and {len(carried.patches)} patches")
    all_tests: list[str] = []
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as scratch:
        # One stock copy for every patch: each puts its own test files in it, just before its run.
        stock = unpack_patched(Path(scratch) / "stock", [], carried=carried)
        for patch in carried.patches:
            patched = Path(scratch) / f"{patch.number}-patched"
            try:
                unpack_patched(patched, [patch.path], carried=carried)
            except PatchError as error:
                expect(False, f"{patch.path.name} applies to {carried.version} on its own", str(error))
                continue
            expect(True, f"{patch.path.name} applies to {carried.version} on its own", "no fuzz")
            tests = [
                path
                for path in touched_files(patch.path, carried)
                if Path(path).name.startswith("test_") and path.endswith(".py")
            ]
            expect(bool(tests), f"{patch.path.name} brings tests", ", ".join(tests) or "none")
            all_tests += [path for path in tests if path not in all_tests]
            code, last = run_own_tests(patched, tests)
            expect(code == 0, f"its tests on {carried.version} + {patch.number}", last)
            for path in tests:
                (stock / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(patched / path, stock / path)
            code, last = run_own_tests(stock, tests)
            expect(code == 1, f"its tests on stock {carried.version} fail", last)
        try:
            series = unpack_patched(
                Path(scratch) / "series", [p.path for p in carried.patches], carried=carried
            )
        except PatchError as error:
            expect(False, "the series applies in order", str(error))
        else:
            expect(True, "the series applies in order", "no fuzz")
            if len(carried.patches) > 1:
                code, last = run_own_tests(series, all_tests)
                numbers = "+".join(p.number for p in carried.patches)
                expect(code == 0, f"all their tests on {carried.version} + {numbers}", last)
    check_build(carried, expect)


def check_build(carried: Carried, expect: Callable[[bool, str, str], None]) -> None:
    """The series file records the patches, the wheel builds, and the venv runs it."""
    try:
        check_series_recorded(carried.patches, carried.series, carried)
        wheel = build_wheel(WHEEL_DIR, carried=carried)
    except PatchError as error:
        expect(False, "the carried build", str(error))
    else:
        expect(True, "the series file records these patches", f"{wheel.name} built")
        installed = importlib.metadata.version(carried.name)
        version = local_version(carried=carried)
        expect(installed == version, f"the venv's {carried.name} is the carried build", installed)
        differing = installed_matches(wheel, carried)
        expect(not differing, "its files are the wheel's", ", ".join(differing[:5]) or "identical")


def check() -> int:
    """What `make upstream-check` verifies; prints one line per expectation, returns the exit code."""
    started = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    failures = 0

    def expect(ok: bool, what: str, detail: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}", flush=True)

    print(f"{NAME} {VERSION} ({WHEEL}, sha256 {WHEEL_SHA256[:12]}...) and {len(PATCHES)} patches")
    stock = patched_copy(())
    for patch in PATCHES:
        try:
            alone = patched_copy((patch,))
        except PatchError as error:
            expect(False, f"{patch.path.name} applies to {VERSION} on its own", str(error))
            continue
        expect(True, f"{patch.path.name} applies to {VERSION} on its own", "no fuzz")
        code, last = run_tests(alone, [patch.tests])
        expect(code == 0, f"{patch.tests} on {VERSION} + {patch.number}", last)
        code, last = run_tests(stock, [patch.tests])
        expect(code == 1, f"{patch.tests} on stock {VERSION} fails", last)
    try:
        series = patched_copy(PATCHES)
    except PatchError as error:
        expect(False, "the series applies in order", str(error))
    else:
        code, last = run_tests(series, [patch.tests for patch in PATCHES])
        expect(code == 0, f"all tests on {VERSION} + {'+'.join(p.number for p in PATCHES)}", last)
    check_build(CONNEXION, expect)
    check_with_own_tests(ATTRS, expect)
    check_with_own_tests(JSONSCHEMA, expect)
    check_with_own_tests(POWERTOOLS, expect)
    verdict = f"{failures} FAILED" if failures else "all expectations met"
    print(f"{verdict} ({time.monotonic() - started:.0f} s)")
    return 1 if failures else 0


# connexion's .pre-commit-config.yaml and tox.ini ([flake8]) on main: tools, versions, options.
LINTERS = (
    "black==22.3.0",
    "isort==5.12.0",
    "flake8==7.1.1",
    "flake8-rst-docstrings==0.2.3",
    "mypy==0.981",
    "types-jsonschema",
    "types-PyYAML",
    "types-requests",
)
FLAKE8 = ("--max-line-length=137", "--extend-ignore=E203,RST303", "--rst-roles=class,mod,obj")


def lint() -> int:
    """Upstream's linters on stock and on the patched copy; both must be clean."""
    venv = BUILD_DIR / "lint-venv"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *LINTERS], check=True)  # noqa: S603 - pinned linters from the index
        stamp.touch()
    tools = venv / "bin"
    isort = [str(tools / "isort"), "--profile", "black", "--project", NAME, "--check-only", NAME]
    checks = (
        ("black", [str(tools / "black"), "--check", "--quiet", NAME]),
        ("isort", isort),
        ("flake8", [str(tools / "flake8"), *FLAKE8, "--exclude", f"{NAME}/__init__.py", NAME]),
        ("mypy", [str(tools / "mypy"), "--ignore-missing-imports", "--no-incremental", NAME]),
    )
    failures = 0
    for label, copy in ((f"stock {VERSION}", patched_copy(())), (f"{VERSION} + all patches", patched_copy())):
        for tool, command in checks:
            completed = subprocess.run(  # noqa: S603 - the linters installed above
                command, cwd=copy, capture_output=True, text=True, check=False
            )
            ok = completed.returncode == 0
            failures += not ok
            detail = "clean" if ok else (completed.stdout + completed.stderr).strip()[-2000:]
            print(f"  {'ok  ' if ok else 'FAIL'} {tool} on {label}: {detail}", flush=True)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("command", choices=("check", "lint", "path"))
    parser.add_argument("numbers", nargs="*", help="patch numbers for `path` (default: all)")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    if args.command == "lint":
        return lint()
    chosen = [p for p in PATCHES if not args.numbers or p.number in args.numbers]
    print(patched_copy(chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
