"""The Lambda bundle: contents, pins, and hash-based bytecode of the right Python version."""

from __future__ import annotations

import importlib.util
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import bundle as bundle_module
from infra.bundle import (
    LAMBDA_TASK_ROOT,
    Bundle,
    BundleError,
    build_bundle,
    check_pinned,
    find_interpreter,
    installed_distributions,
    read_constraints,
    remove_distributions,
)
from infra.config import ROOT, load_stage
from service import documents
from upstream.wheel import build_wheel, local_version

pytestmark = pytest.mark.infra

LOCAL_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def runtime() -> tuple[str, str]:
    settings = load_stage("dev").settings.lambda_
    return settings.runtime.removeprefix("python"), settings.architecture


@pytest.fixture(scope="module")
def compiled_locally(runtime: tuple[str, str]) -> Bundle:
    """The compile path, exercised with this interpreter (the runtime's may not exist here)."""
    return build_bundle(*runtime, "required", python=sys.executable)


def _pyc_header(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()
    return data[:4], int.from_bytes(data[4:8], "little")


def test_bundle_holds_the_service_the_contract_and_the_settings_at_its_root(compiled_locally: Bundle) -> None:
    root = compiled_locally.path
    assert (root / "service" / "lambda_handler.py").is_file()
    assert (root / "service" / "settings.py").is_file()
    assert (root / "openapi.json").is_file()
    assert (root / "settings.json").is_file()
    assert not (root / "service" / "local").exists()


def test_the_bundle_carries_the_yaml_documents_as_equal_json_and_no_yaml(compiled_locally: Bundle) -> None:
    """openapi.yaml and settings.yaml stay the only sources: the bundle's JSON is each whole document."""
    root = compiled_locally.path
    for source in ("openapi.yaml", "settings.yaml"):
        copy = json.loads((root / source).with_suffix(".json").read_text(encoding="utf-8"))
        assert copy == documents.read(ROOT / source)
        assert not (root / source).exists()
    assert not list(root.rglob("*.yaml")) + list(root.rglob("*.yml"))


def test_the_bundle_ships_the_carried_connexion_build(compiled_locally: Bundle) -> None:
    assert installed_distributions(compiled_locally.path)["connexion"] == local_version()
    wheel = build_wheel()
    with zipfile.ZipFile(wheel) as archive:
        for member in (m for m in archive.namelist() if m.startswith("connexion/")):
            assert (compiled_locally.path / member).read_bytes() == archive.read(member), member


def test_bundle_leaves_boto3_and_botocore_to_the_runtime(compiled_locally: Bundle) -> None:
    names = installed_distributions(compiled_locally.path)
    assert "connexion" in names
    assert "mangum" in names
    assert "aws-lambda-powertools" in names
    for provided in ("boto3", "botocore", "s3transfer"):
        assert provided not in names
        assert not (compiled_locally.path / provided).exists()


def test_every_bundled_distribution_is_pinned_by_constraints(compiled_locally: Bundle) -> None:
    check_pinned(compiled_locally.path, read_constraints())
    with pytest.raises(BundleError, match="does not pin"):
        check_pinned(compiled_locally.path, {})


def test_bundle_has_native_wheels_for_the_function_platform(compiled_locally: Bundle) -> None:
    extensions = [path.name for path in compiled_locally.path.rglob("*.so")]
    assert extensions
    assert all("aarch64" in name or "abi3" in name for name in extensions), extensions


def test_every_module_has_unchecked_hash_bytecode_of_the_compiling_interpreter(
    compiled_locally: Bundle,
) -> None:
    root = compiled_locally.path
    assert compiled_locally.bytecode_version == LOCAL_VERSION
    tag = sys.implementation.cache_tag
    sources = [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 100
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    assert missing == []
    for source in sources[:200]:
        magic, flags = _pyc_header(source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc")
        assert magic == importlib.util.MAGIC_NUMBER
        assert flags == 0b01, f"{source}: not unchecked-hash (flags={flags:#b})"


def test_bytecode_names_the_paths_lambda_will_see(compiled_locally: Bundle) -> None:
    pyc = compiled_locally.path / "service" / "__pycache__" / f"settings.{sys.implementation.cache_tag}.pyc"
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == f"{LAMBDA_TASK_ROOT}/service/settings.py"


def test_required_bytecode_is_compiled_by_an_interpreter_of_the_target_version(
    runtime: tuple[str, str],
) -> None:
    """`required` finds an interpreter of the target version and its .pyc carry that version's magic.

    The runtime's own version (settings) has no interpreter on these machines (the next test shows
    the build then refuses), so the target here is the local version, for the runtime's architecture:
    the same lookup and compile path as a deploy with python3.13 installed.
    """
    _, architecture = runtime
    python = find_interpreter(LOCAL_VERSION)
    assert python is not None
    bundle = build_bundle(LOCAL_VERSION, architecture, "required")
    assert bundle.bytecode_version == LOCAL_VERSION
    magic = subprocess.run(
        [python, "-c", "import importlib.util,sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tag = f"cpython-{LOCAL_VERSION.replace('.', '')}"
    pycs = list((bundle.path / "service").rglob(f"*.{tag}.pyc"))
    assert pycs
    for pyc in pycs:
        header_magic, flags = _pyc_header(pyc)
        assert header_magic.hex() == magic
        assert flags == 0b01


def test_required_bytecode_without_an_interpreter_stops_with_the_version_and_the_way_out(
    monkeypatch: pytest.MonkeyPatch, runtime: tuple[str, str]
) -> None:
    monkeypatch.setattr(bundle_module, "find_interpreter", lambda version, environ=None: None)
    with pytest.raises(BundleError) as error:
        build_bundle(*runtime, "required")
    message = str(error.value)
    assert f"python{runtime[0]}" in message
    assert "USERS_API_BYTECODE_PYTHON" in message
    assert "SOURCES_ONLY=1" in message
    assert "cold start" in message


def test_auto_mode_without_an_interpreter_builds_sources_only_and_says_so(
    monkeypatch: pytest.MonkeyPatch, runtime: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bundle_module, "find_interpreter", lambda version, environ=None: None)
    bundle = build_bundle(*runtime, "auto")
    assert bundle.bytecode_version is None
    assert not list((bundle.path / "service").rglob("*.pyc"))
    assert "without bytecode" in capsys.readouterr().err


def test_an_interpreter_of_another_version_is_not_taken_for_the_runtime(tmp_path: Path) -> None:
    assert find_interpreter("2.7", environ={"PATH": str(tmp_path)}) is None


def _fake_python(path: Path, version: str) -> Path:
    """An executable that answers interpreter_version's question with `version`."""
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_pyenv_versions_are_found_when_its_shims_do_not_answer(tmp_path: Path) -> None:
    """pyenv's shim for python3.13 fails unless 3.13 is selected; the version's own binary answers.
    The newest patch release of that minor version is taken."""
    root = tmp_path / "pyenv"
    _fake_python(root / "versions" / "3.13.0" / "bin" / "python3.13", "3.13")
    newest = _fake_python(root / "versions" / "3.13.10" / "bin" / "python3.13", "3.13")
    _fake_python(root / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    environ = {"PATH": str(tmp_path / "nothing"), "PYENV_ROOT": str(root)}
    assert find_interpreter("3.13", environ=environ) == str(newest)


def _fake_distribution(target: Path, name: str, version: str, files: dict[str, str]) -> None:
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    (target / info).mkdir(parents=True)
    (target / info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for relative, text in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text)
    record = [*files, f"{info}/METADATA", f"{info}/RECORD", "../../bin/tool"]
    (target / info / "RECORD").write_text("".join(f"{line},,\n" for line in record))


def test_distributions_are_read_and_removed_by_their_metadata_and_record(tmp_path: Path) -> None:
    _fake_distribution(tmp_path, "Runtime-Lib", "1.0", {"runtime_lib/__init__.py": "", "runtime_top.py": ""})
    _fake_distribution(tmp_path, "kept", "2.0", {"kept/__init__.py": ""})
    (tmp_path / "unrelated.py").write_text("")
    assert installed_distributions(tmp_path) == {"runtime-lib": "1.0", "kept": "2.0"}
    remove_distributions(tmp_path, ["runtime_lib"])
    assert installed_distributions(tmp_path) == {"kept": "2.0"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept", "kept-2.0.dist-info", "unrelated.py"]
