"""The Lambda bundle, built without Docker and cached under build/lambda/.

Contents: the whole `service/` package (only what ships lives there), openapi.yaml and settings.yaml
as JSON at the root (openapi.json, settings.json: each whole document, made at build time from the
YAML, which stays the only source; service/documents.py reads them, so the function never imports
PyYAML), and the runtime dependencies of pyproject.toml (versions from constraints.txt) installed as
wheels for the function's platform and Python version, less whole distributions: those the Lambda
runtime provides (boto3 and its dependencies, RUNTIME_PROVIDED) and those the function never imports
(NOT_IMPORTED, each with its reason; tests/infra/test_infra_bundle_imports.py serves every operation
from the bundle alone and fails if a shipped distribution is not imported or a left-out one is).
`layer=True` builds the variant for the AWS-managed Powertools layer (Powertools and what its
install brings, left to the layer); `make bench` measures both, docs/performance.md has the trade.

Bytecode: Lambda's code directory is read-only, so a bundle without `.pyc` recompiles every module
it imports at every cold start. The bundle is compiled with `--invalidation-mode unchecked-hash`
(timestamp-based `.pyc` go stale once zipped) by an interpreter of the runtime's own version,
because bytecode is version-specific. Modes:

- ``required``: no such interpreter is an error (`make deploy`).
- ``auto``: compile when one is found, otherwise build sources only and say so (synth, tests).
- ``none``: sources only, on purpose (`make deploy SOURCES_ONLY=1`); says what it costs.

attrs' code caches: the compiling interpreter then imports jsonschema once from the bundle, which
writes beside their bytecode the code the carried attrs generates for the classes attrs, referencing
and jsonschema create at import (docs/upstream/attrs); Lambda's read-only /var/task can ship them,
not write them. For a bundle of another architecture, this machine's builds of its compiled
extensions (rpds) stand in for that one import.

Run `python -m infra.bundle --stage dev` to build one and print its sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import importlib.metadata
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from infra.config import ROOT, StageError, load_stage
from service import documents
from upstream.patches import PatchError
from upstream.wheel import build_wheels

BytecodeMode = Literal["required", "auto", "none"]
BYTECODE_MODES: tuple[BytecodeMode, ...] = ("required", "auto", "none")
BUILD_DIR = ROOT / "build" / "lambda"
# Installed by the runtime itself (/var/runtime): boto3 and the distributions it needs. Shipping them
# would only grow the bundle, and copies in /var/task would shadow the runtime's own for botocore.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# Whole distributions that the dependencies declare but the function never imports, each with the
# reason. tests/infra/test_infra_bundle_imports.py decides: the handler, run from the bundle alone,
# serves every operation of the contract, and every distribution the bundle still ships is imported.
# Never a part of a distribution: a package is shipped whole or not at all.
NOT_IMPORTED: dict[str, str] = {
    "httpx": (
        "connexion builds an httpx client only for OAuth token-info URLs and its test client "
        "(imported where used since the carried patch 0001); the function uses neither"
    ),
    "httpcore": "httpx's transport (httpx is left out)",
    "h11": "httpcore's HTTP/1.1 implementation (httpcore is left out)",
    "requests": (
        "connexion fetches a specification or a $ref over HTTP with it (imported where used since "
        "0001); the function hands connexion its contract as a dict"
    ),
    "charset-normalizer": "requests' dependency (requests is left out)",
    "jinja2": (
        "connexion renders specification files and the Swagger UI with it (imported where used "
        "since 0001); the function passes a dict and serves no UI"
    ),
    "markupsafe": "jinja2's and werkzeug's dependency (both are left out)",
    "werkzeug": ("connexion's FlaskApp and, before 0001, its context proxies; an AsyncApp uses neither"),
    "idna": (
        "anyio's, which imports it only to resolve a TLS host name (anyio._core._sockets), never "
        "done by the function; jsonschema imported it at import for its idn-hostname format until "
        "the carried patch docs/upstream/jsonschema 0002, which registers that check only where "
        "idna is installed (the contract declares no such format)"
    ),
    "asgiref": (
        "connexion's, for async_to_sync, which only a WSGI app (FlaskApp) calls to run a coroutine "
        "view; imported there since the carried patch 0006 (3.3.0 imported it with its decorators)"
    ),
    "pyyaml": (
        "the bundle carries openapi.yaml and settings.yaml as JSON (service/documents.py); connexion "
        "imports PyYAML only to load a specification file or to serve it as YAML (0001)"
    ),
}
# What the AWS-managed Powertools layer would provide, for make bench's what-if rows (the function
# ships Powertools in its bundle: the carried build, docs/upstream/aws-lambda-powertools): Powertools
# with its Tracer extra (the layer holds every extra), pinned by constraints.txt like the rest, so the
# stand-in is the carried build (its patches change no import). With the layer, the bundle leaves
# these out; the runtime puts /opt/python after /var/task.
POWERTOOLS = "aws-lambda-powertools"
LAYER_REQUIREMENT = f"{POWERTOOLS}[tracer]"
# Bump when the build steps change, so cached bundles are rebuilt.
BUILDER_VERSION = "5"
# Where Lambda unpacks the code: tracebacks name these paths.
LAMBDA_TASK_ROOT = "/var/task"
PYTHON_ENV = "USERS_API_BYTECODE_PYTHON"
SOURCES_ONLY_COST = (
    "every cold start recompiles every imported module, about twice the cold start with bytecode "
    "(make bench's 'cold start without bytecode' row)"
)
_KEEP_BUNDLES = 8  # a test session or a bench run builds up to 7 variants
_KEEP_DEPS = 2


class BundleError(RuntimeError):
    """The bundle cannot be built; the message is one line for the user."""


@dataclasses.dataclass(frozen=True)
class Bundle:
    path: Path
    key: str
    runtime_version: str
    # The interpreter that compiled the bytecode, or None for a sources-only bundle.
    bytecode_python: str | None
    bytecode_version: str | None


def _log(message: str) -> None:
    print(f"[bundle] {message}", file=sys.stderr)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def platform_tag(architecture: str) -> str:
    return {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}[architecture]


def runtime_requirements(root: Path = ROOT) -> list[str]:
    """`[project].dependencies` of pyproject.toml: what the function imports besides the runtime's."""
    with (root / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return [str(requirement) for requirement in project["dependencies"]]


def read_constraints(root: Path = ROOT) -> dict[str, str]:
    """constraints.txt as {normalised name: version}."""
    pins: dict[str, str] = {}
    for line in (root / "constraints.txt").read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in text:
            name, version = text.split("==", 1)
            pins[_normalise(name.split("[", 1)[0])] = version.strip()
    return pins


# The documents the service reads; the bundle carries each as JSON (service.documents.json_copy).
DOCUMENTS = (Path("openapi.yaml"), Path("settings.yaml"))


def app_files(root: Path = ROOT) -> list[Path]:
    """The service's own files, relative to root: the whole service/ package, plus the two documents
    (as sources: the bundle gets their JSON copies)."""
    files = list(DOCUMENTS)
    service = root / "service"
    for path in sorted(service.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or "__pycache__" in relative.parts:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        files.append(relative)
    return files


def _digest(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:20]


def interpreter_version(python: str) -> str | None:
    """ "3.13" for an interpreter path, or None when it does not run."""
    try:
        result = subprocess.run(  # noqa: S603 (an interpreter path we chose, no shell)
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _patch_level(python: Path) -> tuple[int, ...]:
    """(3, 13, 2) for <pyenv>/versions/3.13.2/bin/python3.13: the newest patch release first."""
    release = python.parent.parent.name
    return tuple(int(part) for part in release.split(".") if part.isdigit())


def find_interpreter(version: str, environ: dict[str, str] | None = None) -> str | None:
    """An interpreter of exactly `version`: $USERS_API_BYTECODE_PYTHON, pythonX.Y, pyenv's, uv's, or
    this one."""
    environ = dict(os.environ) if environ is None else environ
    candidates: list[str] = []
    if environ.get(PYTHON_ENV):
        candidates.append(environ[PYTHON_ENV])
    found = shutil.which(f"python{version}", path=environ.get("PATH"))
    if found:
        candidates.append(found)
    if environ.get("PYENV_ROOT"):
        # pyenv installs versions side by side, and its shims answer only for the selected ones.
        installed = Path(environ["PYENV_ROOT"], "versions").glob(f"{version}.*/bin/python{version}")
        candidates.extend(str(path) for path in sorted(installed, key=_patch_level, reverse=True))
    uv = shutil.which("uv", path=environ.get("PATH")) or str(Path(sys.executable).parent / "uv")
    if Path(uv).exists():
        try:
            result = subprocess.run(  # noqa: S603 (uv from the venv, no shell)
                [uv, "python", "find", "--no-python-downloads", version],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                env={**environ, "UV_PYTHON_DOWNLOADS": "never"},
            )
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(result.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates.append(sys.executable)
    for candidate in candidates:
        if interpreter_version(candidate) == version:
            return candidate
    return None


def missing_interpreter_message(version: str) -> str:
    return (
        f"no Python {version} interpreter to compile the bundle's bytecode (the runtime is python{version}): "
        f"put python{version} on PATH or set {PYTHON_ENV}=/path/to/python{version}, "
        f"or pass SOURCES_ONLY=1 to ship sources only, at a cost: {SOURCES_ONLY_COST}"
    )


def carried_wheels() -> Path:
    """The folder holding the wheels of the releases we carry patches on (connexion 3.3.0+users.N,
    attrs 26.1.0+users.N, jsonschema 4.26.0+users.N), built from docs/upstream by upstream/wheel.py:
    the only place where their versions exist."""
    try:
        return build_wheels()[0].parent
    except PatchError as error:
        raise BundleError(str(error)) from error


def _install_dependencies(
    target: Path, runtime_version: str, platform: str, root: Path, requirements: list[str] | None = None
) -> None:
    """pip-install `requirements` (default: the runtime requirements) as wheels for the function's
    platform, then take out whole distributions: the runtime's own and those never imported."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        runtime_version,
        "--only-binary=:all:",
        "--find-links",
        str(carried_wheels()),
        "-c",
        str(root / "constraints.txt"),
        *(runtime_requirements(root) if requirements is None else requirements),
    ]
    result = subprocess.run(  # noqa: S603 (pip of this venv, fixed arguments, no shell)
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BundleError(f"pip could not install the runtime dependencies for {platform}: {last}")
    remove_distributions(target, RUNTIME_PROVIDED | set(NOT_IMPORTED))
    shutil.rmtree(target / "bin", ignore_errors=True)
    check_pinned(target, read_constraints(root))


def _distributions(target: Path) -> list[importlib.metadata.Distribution]:
    return list(importlib.metadata.distributions(path=[str(target)]))


def installed_distributions(target: Path) -> dict[str, str]:
    """{normalised name: version} of the distributions installed in `target` (their metadata)."""
    return {_normalise(dist.metadata["Name"]): dist.version for dist in _distributions(target)}


def module_owners(target: Path, modules: dict[str, str | None]) -> set[str]:
    """The distributions of `target` (normalised names) that own a file of `modules` ({name: __file__})."""
    owners: dict[Path, str] = {}
    for dist in _distributions(target):
        for file in dist.files or []:
            owners[Path(str(dist.locate_file(file))).resolve()] = _normalise(dist.metadata["Name"])
    found = {owners.get(Path(file).resolve()) for file in modules.values() if file}
    return {name for name in found if name is not None}


def not_imported_distributions() -> dict[str, str]:
    """{normalised name: reason} of the distributions the bundle leaves out as never imported."""
    return {_normalise(name): reason for name, reason in NOT_IMPORTED.items()}


def check_pinned(target: Path, pins: dict[str, str]) -> None:
    """Every installed distribution must be pinned to the same version in constraints.txt."""
    for name, version in sorted(installed_distributions(target).items()):
        if pins.get(name) != version:
            raise BundleError(
                f"the bundle holds {name}=={version}, which constraints.txt does not pin (run make lock)"
            )


def remove_distributions(target: Path, names: Iterable[str]) -> None:
    """Remove the named distributions: every top-level entry their RECORD lists (dist-info included)."""
    wanted = {_normalise(name) for name in names}
    for dist in _distributions(target):
        if _normalise(dist.metadata["Name"]) not in wanted:
            continue
        if dist.files is None:
            raise BundleError(f"{dist.metadata['Name']} has no RECORD: cannot tell which files are its own")
        tops = {file.parts[0] for file in dist.files if file.parts and file.parts[0] != ".."}
        for top in tops:
            path = target / top
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def compile_bytecode(directory: Path, python: str) -> None:
    """Hash-based (unchecked) `.pyc` for every module, named as Lambda will see them (/var/task/...)."""
    result = subprocess.run(  # noqa: S603 (an interpreter path we chose, no shell)
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(directory),
            "-p",
            LAMBDA_TASK_ROOT,
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip().splitlines()
        raise BundleError(f"compileall failed: {detail[-1] if detail else 'no output'}")


# Importing these creates every attrs class the function creates at import (attrs' own, referencing's,
# jsonschema's): one import at build time writes their code caches (tests/infra/test_infra_bundle_imports.py
# checks that the handler's import then compiles none of them).
CODE_CACHE_IMPORTS = ("jsonschema",)


def local_architecture() -> str:
    """This machine's architecture, named as the settings name the function's."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]


def native_stand_ins(directory: Path, python_version: str, root: Path = ROOT) -> Path:
    """This machine's builds of the distributions in `directory` that hold compiled extensions, same
    versions, for Python `python_version` (cached)."""
    native = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in _distributions(directory)
        if any(str(file).endswith(".so") for file in dist.files or [])
    )
    platform_ = platform_tag(local_architecture())
    final = (
        BUILD_DIR
        / f"native-{_digest([python_version.encode(), platform_.encode(), *map(str.encode, native)])}"
    )
    if not final.exists():
        _build_atomically(
            final,
            lambda scratch: _install_dependencies(
                scratch, python_version, platform_, root, requirements=native
            ),
        )
    return final


def write_code_caches(
    directory: Path, python: str, architecture: str, root: Path = ROOT, after: Iterable[Path] = ()
) -> None:
    """Import CODE_CACHE_IMPORTS once from `directory` (then `after`: a layer, as Lambda orders them)
    with `python`, so that the carried attrs writes its code caches there (the `.pyc` are already
    written: nothing else is)."""
    path = [str(directory), *map(str, after)]
    if architecture != local_architecture():
        version = interpreter_version(python)
        if version is None:
            raise BundleError(f"interpreter {python} does not run")
        path.insert(0, str(native_stand_ins(directory, version, root)))
    result = subprocess.run(  # noqa: S603 (an interpreter path we chose, no shell)
        # -P: the working directory is not put first on the path (the stand-ins come first).
        [python, "-S", "-P", "-c", f"import {', '.join(CODE_CACHE_IMPORTS)}"],
        env={"PYTHONPATH": os.pathsep.join(path), "PATH": os.environ.get("PATH", "")},
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise BundleError(f"writing attrs' code caches failed: {detail[-1] if detail else 'no output'}")


def _prune(pattern: str, keep: int, current: Path) -> None:
    paths = sorted(BUILD_DIR.glob(pattern), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in [p for p in paths if p != current][max(keep - 1, 0) :]:
        shutil.rmtree(path, ignore_errors=True)


def _build_atomically(final: Path, fill: Callable[[Path], None]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        fill(scratch)
        try:
            scratch.rename(final)
        except OSError:
            if not final.exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def dependencies_dir(runtime_version: str, architecture: str, root: Path = ROOT) -> Path:
    """The installed runtime dependencies (cached: reinstalled only when the pins or the carried
    wheels change)."""
    platform = platform_tag(architecture)
    carried = sorted(carried_wheels().glob("*.whl"))
    key = _digest(
        [
            BUILDER_VERSION.encode(),
            *(wheel.read_bytes() for wheel in carried),
            runtime_version.encode(),
            platform.encode(),
            "\n".join(runtime_requirements(root)).encode(),
            (root / "constraints.txt").read_bytes(),
            ",".join(sorted(RUNTIME_PROVIDED | set(NOT_IMPORTED))).encode(),
        ]
    )
    final = BUILD_DIR / f"deps-{key}"
    if not final.exists():
        started = time.monotonic()
        _log(f"installing runtime dependencies for {platform}, Python {runtime_version} ...")
        _build_atomically(
            final, lambda scratch: _install_dependencies(scratch, runtime_version, platform, root)
        )
        _log(f"dependencies installed in {time.monotonic() - started:.1f}s")
    os.utime(final)
    _prune("deps-*", _KEEP_DEPS, final)
    return final


def layer_dir(
    runtime_version: str, architecture: str, *, python: str | None = None, root: Path = ROOT
) -> Path:
    """What the AWS-managed Powertools layer provides, from our pins (the layer itself cannot be
    downloaded here): Powertools and its Tracer extra, without the runtime's distributions. Sources
    only, as the managed layer ships them (its build deletes every `.pyc`); `python` compiles a copy
    instead, to measure what that costs."""
    platform = platform_tag(architecture)
    key = _digest(
        [
            BUILDER_VERSION.encode(),
            runtime_version.encode(),
            platform.encode(),
            LAYER_REQUIREMENT.encode(),
            (root / "constraints.txt").read_bytes(),
            ",".join(sorted(RUNTIME_PROVIDED)).encode(),
        ]
    )
    sources = BUILD_DIR / f"layer-{key}"
    if not sources.exists():
        _log(f"installing the Powertools layer's content for {platform}, Python {runtime_version} ...")
        _build_atomically(
            sources,
            lambda scratch: _install_dependencies(
                scratch, runtime_version, platform, root, requirements=[LAYER_REQUIREMENT]
            ),
        )
    os.utime(sources)
    if python is None:
        return sources
    version = interpreter_version(python)
    compiled = BUILD_DIR / f"layer-{key}-pyc{version}"
    if not compiled.exists():

        def fill(scratch: Path) -> None:
            shutil.copytree(sources, scratch, dirs_exist_ok=True)
            compile_bytecode(scratch, python)

        _build_atomically(compiled, fill)
    os.utime(compiled)
    return compiled


def layer_distributions(runtime_version: str, architecture: str, root: Path = ROOT) -> set[str]:
    """The distributions the Powertools layer provides (normalised names)."""
    return set(installed_distributions(layer_dir(runtime_version, architecture, root=root)))


def build_bundle(
    runtime_version: str,
    architecture: str,
    bytecode: BytecodeMode = "auto",
    *,
    python: str | None = None,
    root: Path = ROOT,
    layer: bool = False,
) -> Bundle:
    """Build (or reuse) the bundle. `python` forces the compiling interpreter (tests: this one)."""
    if bytecode not in BYTECODE_MODES:
        raise BundleError(f"bytecode mode {bytecode!r}: expected one of {', '.join(BYTECODE_MODES)}")
    compiler: str | None = None
    compiler_version: str | None = None
    if python is not None:
        compiler, compiler_version = python, interpreter_version(python)
        if compiler_version is None:
            raise BundleError(f"interpreter {python} does not run")
    elif bytecode != "none":
        compiler = find_interpreter(runtime_version)
        compiler_version = runtime_version if compiler else None
        if compiler is None and bytecode == "required":
            raise BundleError(missing_interpreter_message(runtime_version))
        if compiler is None:
            _log(
                f"no Python {runtime_version} interpreter here: bundle without bytecode, fine for synth and "
                f"tests; make deploy will need python{runtime_version} (or {PYTHON_ENV}) or SOURCES_ONLY=1"
            )
    else:
        _log(f"sources only, as asked: {SOURCES_ONLY_COST}")
    deps = dependencies_dir(runtime_version, architecture, root)
    from_layer = sorted(layer_distributions(runtime_version, architecture, root)) if layer else []
    files = app_files(root)
    key = _digest(
        [
            deps.name.encode(),
            f"bytecode={compiler_version}".encode(),
            f"layer={','.join(from_layer)}".encode(),
            *(
                part
                for relative in files
                for part in (str(relative).encode(), (root / relative).read_bytes())
            ),
        ]
    )
    final = BUILD_DIR / f"bundle-{key}"

    def fill(scratch: Path) -> None:
        shutil.copytree(deps, scratch, dirs_exist_ok=True)
        remove_distributions(scratch, from_layer)
        for relative in files:
            if relative in DOCUMENTS:
                documents.json_copy(scratch / relative).write_bytes(documents.as_json(root / relative))
                continue
            destination = scratch / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / relative, destination)
        if compiler is not None:
            compile_bytecode(scratch, compiler)
            layer_path = [layer_dir(runtime_version, architecture, root=root)] if layer else []
            write_code_caches(scratch, compiler, architecture, root, after=layer_path)

    if not final.exists():
        started = time.monotonic()
        _build_atomically(final, fill)
        what = f"bytecode by Python {compiler_version}" if compiler else "sources only"
        _log(f"bundle built ({what}) in {time.monotonic() - started:.1f}s: {final.relative_to(root)}")
    os.utime(final)
    _prune("bundle-*", _KEEP_BUNDLES, final)
    return Bundle(
        path=final,
        key=key,
        runtime_version=runtime_version,
        bytecode_python=compiler,
        bytecode_version=compiler_version,
    )


def sizes(directory: Path, include: Callable[[Path], bool] | None = None) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes), zipped with deflate at the default level as the CDK does.
    `include` keeps only the files it accepts (paths relative to `directory`)."""
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_file() and (include is None or include(relative)):
                unzipped += path.stat().st_size
                archive.write(path, relative.as_posix())
    return unzipped, buffer.tell()


def distribution_sizes(directory: Path) -> dict[str, int]:
    """{normalised name: zipped bytes} of each distribution in `directory` (its RECORD's top-level
    entries, bytecode included), largest first."""
    found: dict[str, int] = {}
    for dist in _distributions(directory):
        tops = frozenset(file.parts[0] for file in dist.files or [] if file.parts and file.parts[0] != "..")
        found[_normalise(dist.metadata["Name"])] = sizes(directory, functools.partial(_under, tops))[1]
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def _under(tops: frozenset[str], relative: Path) -> bool:
    return relative.parts[0] in tops


def dependency_sources(relative: Path) -> bool:
    """A dependency's `.py` source (not the service's own): what a sourceless bundle would drop."""
    return relative.suffix == ".py" and relative.parts[0] != "service"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--bytecode", choices=BYTECODE_MODES, default="auto")
    parser.add_argument("--python", help="compile with this interpreter (whatever its version)")
    args = parser.parse_args(argv)
    try:
        config = load_stage(args.stage)
        bundle = build_bundle(
            config.runtime_version,
            config.settings.lambda_.architecture,
            args.bytecode,
            python=args.python,
        )
    except (StageError, BundleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    unzipped, zipped = sizes(bundle.path)
    print(
        f"{bundle.path.relative_to(ROOT)}: bytecode={bundle.bytecode_version or 'none'} "
        f"unzipped={unzipped / 1e6:.1f} MB zipped={zipped / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
