"""The patched wheels (connexion, attrs, jsonschema, aws-lambda-powertools) that `.venv` and the Lambda
bundle install, built reproducibly.

    python -m upstream.wheel [--out build/wheels]     prints the wheels' paths

Each release wheel (hash-checked) with the series of docs/upstream/<name>/patches applied, under
the PEP 440 local version that pyproject.toml pins (`3.3.0+users.1`): the same files, the same
metadata but for the version, a RECORD made again with the patched files' hashes. The same
inputs give the same bytes: entries in a fixed order, every timestamp SOURCE_DATE_EPOCH (default:
the release's own newest entry), fixed permissions and compression. A patch that does not apply
stops the build with its name; a series that changed without a new local version stops it too.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from upstream.patches import (
    CARRIED,
    CONNEXION,
    PATCHES,
    ROOT,
    SERIES,
    Carried,
    Patch,
    PatchError,
    pinned_version,
    read_series,
    release_wheel,
    series_digest,
    unpack_patched,
)

WHEEL_DIR = ROOT / "build" / "wheels"
FILE_MODE = 0o644 << 16


def local_version(root: Path = ROOT, carried: Carried = CONNEXION) -> str:
    """The pinned version, which must be the release's with a local label (3.3.0+users.N)."""
    version = pinned_version(root, carried)
    public, _, label = version.partition("+")
    if public != carried.version or not label:
        raise PatchError(
            f"pyproject.toml pins {carried.name}=={version}: the carried build is {carried.version}+<label> "
            f"(the release the patches apply to, with a local version such as {carried.version}+users.1)"
        )
    return version


def check_series_recorded(
    patches: Sequence[Patch] = PATCHES, series: Path = SERIES, carried: Carried = CONNEXION
) -> None:
    """The series file records the digest of the patches the local version was given to."""
    _, recorded = read_series(series)
    actual = series_digest(patches, carried)
    if recorded != actual:
        raise PatchError(
            f"the patches changed since {series.name} recorded them under {local_version(carried=carried)}: "
            f"give the build a new local version (bump the last number in pyproject.toml and "
            f"constraints.txt) and record `# series-digest: {actual}` in {series}"
        )


def _epoch(release: zipfile.ZipFile) -> tuple[int, int, int, int, int, int]:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = time.gmtime(max(int(os.environ["SOURCE_DATE_EPOCH"]), 315532800))  # zip starts in 1980
        return stamp[:6]
    return max(info.date_time for info in release.infolist())


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def wheel_bytes(
    version: str,
    patches: Sequence[Patch] = PATCHES,
    release: Path | None = None,
    carried: Carried = CONNEXION,
) -> tuple[str, bytes]:
    """(file name, bytes) of the release rebuilt with `patches` under `version`: its packages
    patched (a patch's other files, such as upstream's tests, are left out), its metadata."""
    release = release or release_wheel(carried)
    dist, public = carried.dist, carried.version
    old_info = f"{dist}-{public}.dist-info/"
    new_info = f"{dist}-{version}.dist-info/"
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(release) as archive, tempfile.TemporaryDirectory() as scratch:
        date_time = _epoch(archive)
        tree = unpack_patched(Path(scratch), [patch.path for patch in patches], release, carried)
        for package in carried.packages:
            for path in sorted(p for p in (tree / package).rglob("*") if p.is_file()):
                files[path.relative_to(tree).as_posix()] = path.read_bytes()
        for member in sorted(archive.namelist()):
            if not member.startswith(old_info) or member == f"{old_info}RECORD":
                continue
            data = archive.read(member)
            if member == f"{old_info}METADATA":
                text = data.decode("utf-8")
                if f"\nVersion: {public}\n" not in text:
                    raise PatchError(f"{release.name}: METADATA does not hold Version: {public}")
                data = text.replace(f"\nVersion: {public}\n", f"\nVersion: {version}\n", 1).encode()
            files[new_info + member[len(old_info) :]] = data
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        writer.writerow(_record_line(name, data))
    writer.writerow([f"{new_info}RECORD", "", ""])
    files[f"{new_info}RECORD"] = record.getvalue().encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in files.items():  # the package in order, then the metadata, RECORD last
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data, compresslevel=6)
    return f"{dist}-{version}-py3-none-any.whl", buffer.getvalue()


def build_wheel(out: Path = WHEEL_DIR, *, check_series: bool = True, carried: Carried = CONNEXION) -> Path:
    """The patched wheel in `out` (written only when its bytes change; older builds removed)."""
    version = local_version(carried=carried)
    patches = carried.patches
    if check_series:
        check_series_recorded(patches, carried.series, carried)
    name, data = wheel_bytes(version, patches, carried=carried)
    out.mkdir(parents=True, exist_ok=True)
    destination = out / name
    if not destination.exists() or destination.read_bytes() != data:
        scratch = destination.with_suffix(".tmp")
        scratch.write_bytes(data)
        scratch.replace(destination)
    for stale in out.glob(f"{carried.dist}-*.whl"):
        if stale != destination:
            stale.unlink()
    return destination


def build_wheels(out: Path = WHEEL_DIR) -> list[Path]:
    """Every carried release's patched wheel in `out`."""
    return [build_wheel(out, carried=carried) for carried in CARRIED]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=WHEEL_DIR)
    args = parser.parse_args(argv)
    try:
        for wheel in build_wheels(args.out):
            print(wheel)
    except PatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
