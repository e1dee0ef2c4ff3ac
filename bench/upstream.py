"""Copies of connexion 3.3.0 with the patches of docs/upstream/connexion applied, and their check.

    python -m bench.upstream check        `make upstream-check`: each patch applies to 3.3.0 on
                                          its own and in series (no fuzz), its tests pass on the
                                          patched copy, and fail on stock 3.3.0
    python -m bench.upstream lint         `make upstream-lint`: the patched copy passes upstream's own
                                          pre-commit linters (black, isort, flake8, mypy, at the
                                          versions and with the options of its .pre-commit-config)
    python -m bench.upstream path [N ...] build a copy (all patches, or those numbered) and print it

The copies live under build/upstream/ (throw-away, keyed by the patches' content). connexion
comes from PyPI as the 3.3.0 wheel, checked against its hash; its sdist holds the same
`connexion/` files and, like the wheel, none of upstream's tests, so the tests of the patches are
standalone files (docs/upstream/connexion/tests) run with the copy first on PYTHONPATH. Nothing
here touches the venv's own connexion, and nothing built here is shipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_DOCS = ROOT / "docs" / "upstream" / "connexion"
PATCH_DIR = UPSTREAM_DOCS / "patches"
TESTS_DIR = UPSTREAM_DOCS / "tests"
BUILD_DIR = ROOT / "build" / "upstream"

VERSION = "3.3.0"
WHEEL = f"connexion-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "4ed0b1a90f5a39f58e984b270b3e945c5038a1d064748a23478833027428102c"
COMPILEALL = (sys.executable, "-m", "compileall", "-q", "-q", "--invalidation-mode", "unchecked-hash")
PYTEST = (sys.executable, "-m", "pytest", "-q", "-c", str(TESTS_DIR / "pytest.ini"), f"--rootdir={TESTS_DIR}")


@dataclasses.dataclass(frozen=True)
class Patch:
    number: str
    name: str
    tests: str  # the test file in TESTS_DIR that covers it

    @property
    def path(self) -> Path:
        return PATCH_DIR / f"{self.number}-{self.name}.patch"


PATCHES = (
    Patch("0001", "lazy-imports", "test_lazy_imports.py"),
    Patch("0002", "validate-spec", "test_validate_spec.py"),
    Patch("0003", "cached-per-request-decoration", "test_cached_decoration.py"),
)


def _log(message: str) -> None:
    print(f"[upstream] {message}", file=sys.stderr, flush=True)


def wheel() -> Path:
    """connexion's 3.3.0 wheel from the package index (pip, hash-checked), cached in build/."""
    destination = BUILD_DIR / "dist" / WHEEL
    if destination.exists():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(f"connexion=={VERSION} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
        subprocess.run(  # noqa: S603 - our interpreter's pip, a pinned and hashed requirement
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
                "-r",
                str(requirements),
                "-d",
                scratch,
            ],
            check=True,
        )
        shutil.move(str(Path(scratch) / WHEEL), destination)
    return destination


def _digest(patches: Sequence[Patch], extra: bytes = b"") -> str:
    digest = hashlib.sha256(WHEEL_SHA256.encode() + extra)
    for patch in patches:
        digest.update(patch.path.read_bytes())
    return digest.hexdigest()[:12]


def apply_patch(patch_file: Path, directory: Path) -> str:
    """Apply one patch with no fuzz (offsets are fine): `patch -p1 --fuzz=0`, or `git apply`."""
    env = dict(os.environ)
    if shutil.which("patch"):
        command = ["patch", "-p1", "--fuzz=0", "--forward", "--no-backup-if-mismatch", "-d", str(directory)]
    else:
        # git apply: exact context, offsets allowed. Outside any repository, or it would resolve the
        # paths against this checkout's top level (build/ lies inside it) and skip them.
        command = ["git", "-C", str(directory), "apply", "-p1", "-"]
        env["GIT_CEILING_DIRECTORIES"] = str(directory.parent)
    completed = subprocess.run(  # noqa: S603 - patch(1) or git on our own files
        command,
        env=env,
        stdin=patch_file.open("rb"),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        raise RuntimeError(f"{patch_file.name} does not apply to connexion {VERSION}:\n{output}")
    return completed.stdout


def patched_copy(patches: Sequence[Patch] = PATCHES, *, extra: Sequence[Path] = (), name: str = "") -> Path:
    """A directory holding `connexion/` 3.3.0 with `patches` (then `extra` patch files) applied.

    Compiled to unchecked-hash `.pyc` like the Lambda bundle, so that a child process run with
    -B from it pays what the bundle pays.
    """
    extra_bytes = b"".join(path.read_bytes() for path in extra)
    label = name or ("stock" if not patches else "+".join(p.number for p in patches))
    destination = BUILD_DIR / f"connexion-{VERSION}-{label}-{_digest(patches, extra_bytes)}"
    if destination.exists():
        return destination
    source = wheel()
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD_DIR))
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.namelist() if m.startswith("connexion/")]
            archive.extractall(scratch, members=members)
        for patch_file in [p.path for p in patches] + list(extra):
            apply_patch(patch_file, scratch)
        subprocess.run(  # noqa: S603 - our own interpreter
            [*COMPILEALL, str(scratch / "connexion")],
            check=True,
        )
        try:
            scratch.rename(destination)
        except OSError:
            if not destination.exists():  # another run built the same copy meanwhile: use it
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for stale in BUILD_DIR.glob(f"connexion-{VERSION}-{label}-*"):
        if stale != destination:
            shutil.rmtree(stale, ignore_errors=True)
    return destination


def run_tests(copy: Path, test_files: Sequence[str]) -> tuple[int, str]:
    """pytest on `test_files` with `copy` first on the path: (exit code, last line of output)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update({"UPSTREAM_CONNEXION_DIR": str(copy), "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"})
    completed = subprocess.run(  # noqa: S603 - our own interpreter and test files
        [*PYTEST, *(str(TESTS_DIR / name) for name in test_files)],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS_DIR,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, lines[-1] if lines else completed.stderr.strip()[-300:]


def check() -> int:
    """What `make upstream-check` verifies; prints one line per expectation, returns the exit code."""
    started = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    failures = 0

    def expect(ok: bool, what: str, detail: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}", flush=True)

    print(f"connexion {VERSION} ({WHEEL}, sha256 {WHEEL_SHA256[:12]}...) and {len(PATCHES)} patches")
    stock = patched_copy(())
    for patch in PATCHES:
        try:
            alone = patched_copy((patch,))
        except RuntimeError as error:
            expect(False, f"{patch.path.name} applies to {VERSION} on its own", str(error))
            continue
        expect(True, f"{patch.path.name} applies to {VERSION} on its own", "no fuzz")
        code, last = run_tests(alone, [patch.tests])
        expect(code == 0, f"{patch.tests} on {VERSION} + {patch.number}", last)
        code, last = run_tests(stock, [patch.tests])
        expect(code == 1, f"{patch.tests} on stock {VERSION} fails", last)
    try:
        series = patched_copy(PATCHES)
    except RuntimeError as error:
        expect(False, "the series applies in order", str(error))
    else:
        code, last = run_tests(series, [patch.tests for patch in PATCHES])
        expect(code == 0, f"all tests on {VERSION} + {'+'.join(p.number for p in PATCHES)}", last)
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
    """Upstream's linters on stock 3.3.0 and on the patched copy; both must be clean."""
    venv = BUILD_DIR / "lint-venv"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *LINTERS], check=True)  # noqa: S603 - pinned linters from the index
        stamp.touch()
    tools = venv / "bin"
    checks = (
        ("black", [str(tools / "black"), "--check", "--quiet", "connexion"]),
        (
            "isort",
            [
                str(tools / "isort"),
                "--profile",
                "black",
                "--project",
                "connexion",
                "--check-only",
                "connexion",
            ],
        ),
        ("flake8", [str(tools / "flake8"), *FLAKE8, "--exclude", "connexion/__init__.py", "connexion"]),
        ("mypy", [str(tools / "mypy"), "--ignore-missing-imports", "--no-incremental", "connexion"]),
    )
    failures = 0
    for label, copy in (("stock 3.3.0", patched_copy(())), ("3.3.0 + all patches", patched_copy(PATCHES))):
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
