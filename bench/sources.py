"""Where the measured code comes from, and the environment it runs in.

The Lambda bundle as infra/bundle.py builds it (for this machine's platform, so that it runs here),
with and without `.pyc`, or with the Powertools layer standing in; or this checkout (quick runs).
boto3 and its dependencies come from a separate folder, as from Lambda's runtime. A bundle runs on
the Lambda runtime's Python (settings.yaml's `lambda.runtime`) where this machine has it, else on
this one, and the report says which (`bench_python`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import API_KEY, BENCH_DIR, BUILD_DIR, ROOT, TABLE, Source, log
from local.engine import HOST, free_port
from local.stage import LOCAL_CREDENTIALS

BENCH_CLIENT = "bench"  # the consumer the benchmarks' events come from
BENCH_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench"

# What the Lambda runtime provides next to the bundle (/var/runtime): boto3 and its dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# -S: no site-packages (only the bundle and the runtime's boto3); -B: Lambda's code is read-only.
BUNDLE_FLAGS = ("-S", "-B")


def _local_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@functools.cache
def lambda_python_version() -> str:
    """The Lambda runtime's Python version ("3.13"), from settings.yaml's `lambda.runtime` (prod's)."""
    from infra.config import load_stage

    return load_stage("prod").runtime_version


@functools.cache
def bench_python() -> tuple[str, str]:
    """The interpreter a bundle is measured on, and its version: the Lambda runtime's (an import or
    a class costs differently from one Python to the next), else this one, logged."""
    from infra.bundle import find_interpreter

    version = lambda_python_version()
    found = find_interpreter(version)
    if found is not None:
        return found, version
    log(f"no Python {version} here (the Lambda runtime's): the bundle runs on this Python {_local_version()}")
    return sys.executable, _local_version()


def _copy_fresh(source: Path, name: str) -> Path:
    """A private copy under build/bench (infra prunes its own cache while others build)."""
    destination = BUILD_DIR / name
    if not destination.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD_DIR))
        shutil.copytree(source, scratch, dirs_exist_ok=True, symlinks=True)
        scratch.rename(destination)
    prefix = name.split("-", 1)[0] + "-"
    for old in BUILD_DIR.glob(prefix + "*"):
        if old != destination and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return destination


def runtime_dir(python: str = sys.executable) -> Path:
    """boto3 and its dependencies, with `python`'s bytecode, as the Lambda runtime provides them."""
    from infra.bundle import interpreter_version

    version = interpreter_version(python)
    if version is None:
        raise RuntimeError(f"interpreter {python} does not run")
    versions = "-".join(importlib.metadata.version(name) for name in RUNTIME_DISTRIBUTIONS)
    destination = BUILD_DIR / f"runtime-{version.replace('.', '')}-{versions}"
    if destination.exists():
        return destination
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD_DIR))
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            if "__pycache__" in file.parts or file.parts[0].startswith("..") or file.suffix == ".pyc":
                continue
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                target = scratch / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    compileall = [python, "-m", "compileall", "-q", "-q", "-j", "0"]
    subprocess.run(  # noqa: S603 - our own interpreter
        [*compileall, "--invalidation-mode", "unchecked-hash", str(scratch)], check=True
    )
    try:
        scratch.rename(destination)
    except OSError:
        if not destination.exists():  # another run built the same folder meanwhile: use it
            raise
        shutil.rmtree(scratch, ignore_errors=True)
    return destination


def bundle_sources() -> tuple[Source, Source, dict[str, Any]]:
    """The Lambda bundle built for this machine's platform and the bench's Python, with and without
    `.pyc`.

    infra/bundle.py builds it as for deployment (same dependencies, pins and layout); only the
    platform is this machine's, and the Python too where the runtime's is missing here.
    """
    from infra.bundle import build_bundle, local_architecture

    python, version = bench_python()
    architecture = local_architecture()
    compiled = build_bundle(version, architecture, "auto", python=python)
    plain = build_bundle(version, architecture, "none")
    runtime = str(runtime_dir(python))
    with_pyc = _copy_fresh(compiled.path, f"pyc-{compiled.key}")
    without = _copy_fresh(plain.path, f"nopyc-{plain.key}")
    for leftover in without.rglob("__pycache__"):
        shutil.rmtree(leftover)
    info = {
        "platform": architecture,
        "python": version,
        "lambda_python": lambda_python_version(),
        "interpreter": python,
        "with_pyc": compiled.key,
        "without_pyc": plain.key,
    }
    return (
        Source("bundle", (str(with_pyc), runtime), BUNDLE_FLAGS, str(with_pyc), python),
        Source("bundle-no-pyc", (str(without), runtime), BUNDLE_FLAGS, str(without), python),
        info,
    )


def layer_sources() -> tuple[Source, Source, dict[str, Any]]:
    """The bundle built for the AWS-managed Powertools layer, with the layer's content standing in.

    The managed layer cannot be downloaded here: the same pinned Powertools (and its Tracer extra)
    stands in, after the bundle and before the runtime, as Lambda orders /var/task, /opt/python and
    /var/runtime. The managed layer ships sources only (its build deletes every `.pyc`), so the
    first Source compiles Powertools at each cold start as Lambda would; the second gives the layer
    bytecode, to tell that cost from the layer's other effects.
    """
    from infra.bundle import build_bundle, layer_dir, local_architecture

    python, version = bench_python()
    architecture = local_architecture()
    bundle = build_bundle(version, architecture, "auto", python=python, layer=True)
    with_pyc = _copy_fresh(bundle.path, f"layerbundle-{bundle.key}")
    sources = layer_dir(version, architecture)
    compiled = layer_dir(version, architecture, python=python)
    runtime = str(runtime_dir(python))
    return (
        Source("bundle+layer", (str(with_pyc), str(sources), runtime), BUNDLE_FLAGS, str(with_pyc), python),
        Source(
            "bundle+layer-pyc", (str(with_pyc), str(compiled), runtime), BUNDLE_FLAGS, str(with_pyc), python
        ),
        {"layer_bundle": bundle.key, "layer": sources.name},
    )


def checkout_source() -> Source:
    """This checkout and the venv (quick runs: no bundle to build)."""
    return Source("checkout", (str(ROOT),), ("-B",), str(ROOT))


def compile_baseline(python: str = sys.executable) -> None:
    """The baseline's hash-based `.pyc` for `python` (children run with -B: without it, each cold
    start of the baseline would compile it, and ours would not)."""
    source = str(BENCH_DIR / "baseline_handler.py")
    compileall = [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", source]
    subprocess.run(compileall, check=True)  # noqa: S603 - our own interpreter or bench_python's, no shell


@functools.cache
def prod_switches() -> dict[str, str]:
    """The per-stage switches as the prod stage ships them (settings.yaml), as environment variables."""
    from service.settings import load_settings

    prod = load_settings("prod", environ={}).service
    return {
        "USERS_API_VALIDATE_RESPONSES": str(prod.validate_responses).lower(),
        "USERS_API_TRACING": str(prod.tracing).lower(),
    }


def lambda_environment(source: Source, endpoint: str, user_id: str) -> dict[str, str]:
    """The environment of a Lambda execution environment, production observability included."""
    from service.contract import get_contract
    from service.gateway_events import authorizer_claims

    contract = get_contract()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POWERTOOLS_", "PYTHON", "USERS_API_", "AWS_"))
    }
    env.update(LOCAL_CREDENTIALS)
    env.update(
        {
            "STAGE": "local",
            "DYNAMODB_ENDPOINT": endpoint,
            "TABLE_NAME": TABLE,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": "users-api-bench",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": source.task_root,
            # X-Ray active tracing: segments go by UDP to a port nobody listens on.
            "AWS_XRAY_DAEMON_ADDRESS": f"{HOST}:{free_port()}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_SERVICE_NAME": "users-api",
            "POWERTOOLS_METRICS_NAMESPACE": "UsersApi",
            # Response validation and tracing as prod ships them; the rest is the local stage's
            # (its table and API key).
            **prod_switches(),
            "BENCH_SYS_PATH": os.pathsep.join(source.sys_path),
            "BENCH_API_KEY": API_KEY,
            # What API Gateway's Cognito authorizer passes with each event: the verified claims of
            # a client holding every scope; the function knows that client (USERS_API_CLIENT_IDS).
            "BENCH_CLAIMS": json.dumps(
                authorizer_claims(client_id=BENCH_CLIENT, scopes=contract.scopes, issuer=BENCH_ISSUER)
            ),
            "USERS_API_CLIENT_IDS": json.dumps({BENCH_CLIENT: BENCH_CLIENT}),
            "BENCH_USER_ID": user_id,
            # The routes, as API Gateway knows them: from the contract.
            "BENCH_CREATE_PATH": contract.operation("createUser").path,
            "BENCH_GET_PATH": contract.operation("getUser").path,
            "BENCH_HEALTH_PATH": contract.operation("getHealth").path,
        }
    )
    return env
