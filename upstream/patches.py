"""The pinned releases we carry patches on, and their series (docs/upstream/<name>/patches).

connexion 3.3.0 (its patches' tests are standalone files in docs/upstream/connexion/tests), attrs
26.1.0, jsonschema 4.26.0 and aws-lambda-powertools 3.37.0 (their patches are upstream's commits and
carry their own upstream tests). Each release is the wheel from the package index, checked against
its sha256. Patches apply with no fuzz (offsets are fine): one that does not apply stops the build
and names itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_DOCS = ROOT / "docs" / "upstream" / "connexion"
PATCH_DIR = UPSTREAM_DOCS / "patches"
SERIES = PATCH_DIR / "series"
TESTS_DIR = UPSTREAM_DOCS / "tests"
BUILD_DIR = ROOT / "build" / "upstream"

NAME = "connexion"
VERSION = "3.3.0"
WHEEL = f"{NAME}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "4ed0b1a90f5a39f58e984b270b3e945c5038a1d064748a23478833027428102c"
COMPILEALL = (sys.executable, "-m", "compileall", "-q", "-q", "--invalidation-mode", "unchecked-hash")


class PatchError(RuntimeError):
    """A patch does not apply, or the series and its pins disagree; the message says which."""


@dataclasses.dataclass(frozen=True)
class Carried:
    """A pinned release we carry patches on: its wheel, the packages in it, where its patches live."""

    name: str  # the distribution
    version: str  # the release the patches apply to
    wheel_sha256: str
    packages: tuple[str, ...]  # the wheel's top-level packages
    strip: int = 1  # leading path components of the patches' paths (2: upstream's src/ layout)

    @property
    def dist(self) -> str:
        """The name as wheel and .dist-info names spell it (aws_lambda_powertools)."""
        return self.name.replace("-", "_")

    @property
    def wheel(self) -> str:
        return f"{self.dist}-{self.version}-py3-none-any.whl"

    @property
    def series(self) -> Path:
        return ROOT / "docs" / "upstream" / self.name / "patches" / "series"

    @property
    def patches(self) -> tuple[Patch, ...]:
        return read_series(self.series)[0]


CONNEXION = Carried(NAME, VERSION, WHEEL_SHA256, (NAME,))
# Its patch is upstream's commit (src/attr/..., with tests/ and changelog.d/ files beside).
ATTRS_SHA256 = "c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309"
ATTRS = Carried("attrs", "26.1.0", ATTRS_SHA256, ("attr", "attrs"), strip=2)
# Its patches are upstream's commits too; upstream's tests live inside the package (and the wheel).
JSONSCHEMA_SHA256 = "d489f15263b8d200f8387e64b4c3a75f06629559fb73deb8fdfb525f2dab50ce"
JSONSCHEMA = Carried("jsonschema", "4.26.0", JSONSCHEMA_SHA256, ("jsonschema",))
# Its patches are upstream's commits; their test files (tests/functional/logger/...) land beside the package.
POWERTOOLS_SHA256 = "92df3f790851a30cfb5ed45ff8e11f2de9b74e60aed0169d2a6b6da2362b45fb"
POWERTOOLS = Carried("aws-lambda-powertools", "3.37.0", POWERTOOLS_SHA256, ("aws_lambda_powertools",))
CARRIED = (CONNEXION, ATTRS, JSONSCHEMA, POWERTOOLS)


@dataclasses.dataclass(frozen=True)
class Patch:
    number: str
    name: str
    directory: Path = PATCH_DIR

    @property
    def path(self) -> Path:
        return self.directory / f"{self.number}-{self.name}.patch"

    @property
    def tests(self) -> str:
        """The test file of docs/upstream/connexion/tests that covers this patch."""
        return TESTS.get(self.name, f"test_{self.name.replace('-', '_')}.py")


TESTS = {"lazy-imports": "test_lazy_imports.py", "cached-per-request-decoration": "test_cached_decoration.py"}


def read_series(series: Path = SERIES) -> tuple[tuple[Patch, ...], str | None]:
    """The patches named by the series file, in order, and the digest it records."""
    patches: list[Patch] = []
    recorded = None
    for line in series.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("# series-digest:"):
            recorded = text.split(":", 1)[1].strip()
        if not text or text.startswith("#"):
            continue
        match = re.fullmatch(r"(\d{4})-(.+)\.patch", text)
        if match is None:
            raise PatchError(f"{series}: {text!r} is not NNNN-name.patch")
        patches.append(Patch(match.group(1), match.group(2), series.parent))
    return tuple(patches), recorded


PATCHES, _ = read_series()


def series_digest(patches: Sequence[Patch] = PATCHES, carried: Carried = CONNEXION) -> str:
    """sha256 of the release's hash and every patch's bytes, in order: what the build depends on."""
    digest = hashlib.sha256(carried.wheel_sha256.encode())
    for patch in patches:
        digest.update(patch.path.name.encode() + b"\0" + patch.path.read_bytes())
    return digest.hexdigest()


def pinned_version(root: Path = ROOT, carried: Carried = CONNEXION) -> str:
    """The version of the release that pyproject.toml pins (e.g. 3.3.0+users.1)."""
    with (root / "pyproject.toml").open("rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    for requirement in dependencies:
        match = re.fullmatch(rf"{carried.name}\s*==\s*(\S+)", requirement.strip())
        if match:
            return match.group(1)
    raise PatchError(f"pyproject.toml pins no {carried.name}==<version>")


def release_wheel(carried: Carried = CONNEXION) -> Path:
    """The release wheel from the package index (pip, hash-checked), cached in build/."""
    destination = BUILD_DIR / "dist" / carried.wheel
    if destination.exists():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        requirements = Path(scratch) / "requirements.txt"
        pin = f"{carried.name}=={carried.version} --hash=sha256:{carried.wheel_sha256}\n"
        requirements.write_text(pin, encoding="utf-8")
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
        shutil.move(str(Path(scratch) / carried.wheel), destination)
    return destination


def apply_patch(patch_file: Path, directory: Path, carried: Carried = CONNEXION) -> str:
    """Apply one patch with no fuzz (offsets are fine): `patch -pN --fuzz=0`, or `git apply`."""
    env = dict(os.environ)
    strip = f"-p{carried.strip}"
    if shutil.which("patch"):
        command = ["patch", strip, "--fuzz=0", "--forward", "--no-backup-if-mismatch", "-d", str(directory)]
    else:
        # git apply: exact context, offsets allowed. Outside any repository, or it would resolve the
        # paths against this checkout's top level (build/ lies inside it) and skip them.
        command = ["git", "-C", str(directory), "apply", strip, "-"]
        env["GIT_CEILING_DIRECTORIES"] = str(directory.parent)
    with patch_file.open("rb") as stdin:
        completed = subprocess.run(  # noqa: S603 - patch(1) or git on our own files
            command, env=env, stdin=stdin, capture_output=True, text=True, check=False
        )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise PatchError(
            f"{patch_file.name} does not apply to {carried.name} {carried.version} without fuzz: rebase it "
            f"onto the release, or delete it if the release carries the fix "
            f"(docs/upstream/{carried.name}/README.md).\n{output}"
        )
    return completed.stdout


def unpack_patched(
    directory: Path, patches: Sequence[Path], wheel: Path | None = None, carried: Carried = CONNEXION
) -> Path:
    """The release's packages unpacked into `directory`, with `patches` applied in order (a patch's
    files outside the packages, such as upstream's tests, land beside them)."""
    with zipfile.ZipFile(wheel or release_wheel(carried)) as archive:
        members = [m for m in archive.namelist() if m.split("/", 1)[0] in carried.packages]
        archive.extractall(directory, members=members)
    for patch_file in patches:
        apply_patch(patch_file, directory, carried)
    return directory


def touched_files(patch_file: Path, carried: Carried) -> list[str]:
    """The paths a patch writes, as they land in an unpacked tree (its `strip` components removed)."""
    found = []
    for line in patch_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("+++ ") and not line.startswith("+++ /dev/null"):
            parts = line[4:].split("\t", 1)[0].split("/")
            found.append("/".join(parts[carried.strip :]))
    return found


def _digest(patches: Sequence[Patch], extra: bytes = b"") -> str:
    digest = hashlib.sha256(WHEEL_SHA256.encode() + extra)
    for patch in patches:
        digest.update(patch.path.read_bytes())
    return digest.hexdigest()[:12]


def patched_copy(patches: Sequence[Patch] = PATCHES, *, extra: Sequence[Path] = (), name: str = "") -> Path:
    """A throw-away directory holding `connexion/` with `patches` (then `extra` patch files) applied,
    for the patches' tests and measurements (never shipped: the wheel is).

    Compiled to unchecked-hash `.pyc` like the Lambda bundle, so that a child process run with
    -B from it pays what the bundle pays.
    """
    extra_bytes = b"".join(path.read_bytes() for path in extra)
    label = name or ("stock" if not patches else "+".join(p.number for p in patches))
    destination = BUILD_DIR / f"{NAME}-{VERSION}-{label}-{_digest(patches, extra_bytes)}"
    if destination.exists():
        return destination
    source = release_wheel()
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD_DIR))
    try:
        unpack_patched(scratch, [p.path for p in patches] + list(extra), source)
        subprocess.run([*COMPILEALL, str(scratch / NAME)], check=True)  # noqa: S603 - our interpreter
        try:
            scratch.rename(destination)
        except OSError:
            if not destination.exists():  # another run built the same copy meanwhile: use it
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for stale in BUILD_DIR.glob(f"{NAME}-{VERSION}-{label}-*"):
        if stale != destination:
            shutil.rmtree(stale, ignore_errors=True)
    return destination
