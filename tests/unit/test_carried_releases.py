"""connexion, attrs, jsonschema and aws-lambda-powertools as shipped: the pinned releases rebuilt
with the carried patches (upstream/, docs/upstream)."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import pytest

from upstream.check import installed_matches
from upstream.patches import (
    ATTRS,
    CARRIED,
    NAME,
    PATCHES,
    ROOT,
    SERIES,
    VERSION,
    Carried,
    PatchError,
    series_digest,
    unpack_patched,
)
from upstream.wheel import build_wheel, check_series_recorded, local_version, wheel_bytes


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


def test_the_installed_connexion_is_the_carried_build_not_the_registry_release(wheel: Path) -> None:
    assert local_version().startswith(f"{VERSION}+users."), "a local version of the pinned release"
    assert importlib.metadata.version(NAME) == local_version()
    assert installed_matches(wheel) == []


@pytest.mark.parametrize("carried", CARRIED, ids=lambda carried: carried.name)
def test_each_carried_release_is_installed_as_its_build(carried: Carried, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, carried=carried)
    version = local_version(carried=carried)
    assert version.startswith(f"{carried.version}+users.")
    assert wheel.name == f"{carried.dist}-{version}-py3-none-any.whl"
    assert importlib.metadata.version(carried.name) == version
    assert installed_matches(wheel, carried) == []


def test_the_attrs_wheel_holds_its_packages_patched_and_none_of_the_patch_s_other_files(
    tmp_path: Path,
) -> None:
    """The patch is upstream's commit: its test and changelog files are not part of the package."""
    wheel = build_wheel(tmp_path, carried=ATTRS)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert {name.split("/", 1)[0] for name in names} == {
            "attr",
            "attrs",
            f"attrs-{local_version(carried=ATTRS)}.dist-info",
        }
        assert "attr/_code_cache.py" in names
        assert "_code_cache.compile_cached" in archive.read("attr/_make.py").decode()


def test_the_wheel_carries_the_local_version_and_a_record_of_its_patched_files(wheel: Path) -> None:
    assert wheel.name == f"{NAME}-{local_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = f"{NAME}-{local_version()}.dist-info"
        assert f"\nVersion: {local_version()}\n" in archive.read(f"{info}/METADATA").decode()
        record = list(csv.reader(io.StringIO(archive.read(f"{info}/RECORD").decode())))
        assert {row[0] for row in record} == set(archive.namelist())
        for name, digest, size in record:
            if name.endswith("RECORD"):
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, size) == (f"sha256={expected}", str(len(data)))
        # The patches are in it: 0001 moved the test client's import into test_client().
        abstract = archive.read(f"{NAME}/apps/abstract.py").decode()
        assert "\nfrom starlette.testclient import TestClient" not in abstract


@pytest.mark.parametrize("carried", CARRIED, ids=lambda carried: carried.name)
def test_the_same_inputs_give_the_same_bytes(carried: Carried, monkeypatch: pytest.MonkeyPatch) -> None:
    def build() -> tuple[str, bytes]:
        return wheel_bytes(local_version(carried=carried), carried.patches, carried=carried)

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build()
    assert first[0] == f"{carried.dist}-{local_version(carried=carried)}-py3-none-any.whl"
    assert build() == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    name, data = build()
    assert data != first[1]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
    assert build() == (name, data)


def test_a_patch_that_does_not_apply_stops_the_build_and_names_itself(tmp_path: Path) -> None:
    broken = tmp_path / "0009-broken.patch"
    broken.write_text(
        "--- a/connexion/spec.py\n+++ b/connexion/spec.py\n@@ -1,3 +1,3 @@\n"
        "-no such line\n+a replacement\n context\n context\n",
        encoding="utf-8",
    )
    with pytest.raises(PatchError, match=r"0009-broken\.patch does not apply to connexion 3\.3\.0"):
        unpack_patched(tmp_path / "tree", [broken])


def test_a_changed_series_without_a_new_local_version_stops_the_build(tmp_path: Path) -> None:
    check_series_recorded()  # the committed series records the committed patches
    stale = tmp_path / "series"
    stale.write_text(SERIES.read_text(encoding="utf-8").replace(series_digest(), "0" * 64), encoding="utf-8")
    with pytest.raises(PatchError, match="new local version") as error:
        check_series_recorded(PATCHES, stale)
    assert series_digest() in str(error.value)


def test_the_carried_releases_are_the_patch_folders_the_makefile_installs() -> None:
    """make install reinstalls each docs/upstream/<distribution>/patches folder's release: the same set
    as upstream/patches.py carries (and builds wheels for)."""
    folders = {series.parent.parent.name for series in (ROOT / "docs" / "upstream").glob("*/patches/series")}
    assert folders == {carried.name for carried in CARRIED}
    assert all(carried.series.is_file() for carried in CARRIED)
