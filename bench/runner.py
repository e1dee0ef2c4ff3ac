"""Runs every figure of `make bench`, prints the table and writes reports/bench.json."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import importlib.metadata
import json
import os
import platform
import py_compile
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from bench import contract_scale, whatif
from bench.engine_scale import CREATES as ENGINE_CREATES
from bench.engine_scale import SIZES as ENGINE_SIZES
from bench.engine_scale import TARGETS as ENGINE_TARGETS
from bench.engine_scale import engine_scale
from bench.engine_scale import rows as engine_rows
from local.engine import HOST, LocalEngine, free_port
from local.readiness import http_ok, wait_until
from local.stage import LOCAL_CREDENTIALS
from local.tables import ensure_table
from service.contract import get_contract

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = ROOT / "build" / "bench"
REPORT_FILE = ROOT / "reports" / "bench.json"
CHILD = BENCH_DIR / "child.py"
OURS = "service.lambda_handler"
BASELINE = "baseline_handler"
TABLE = "users-local"  # settings.yaml, stages.local.service.table_name
API_KEY = "local-dev-key"  # settings.yaml, stages.local.service.api_key
# The claims API Gateway's authorizer passes with an event: an access token holding every scope.
BENCH_CLAIMS = {
    "token_use": "access",
    "client_id": "bench",
    "sub": "bench",
    "scope": " ".join(get_contract().scopes),
}
# What the Lambda runtime provides next to the bundle (/var/runtime): boto3 and its dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
TARGETS = {
    "cold_start_ratio": 1.75,
    "cold_start_whatif_ratio": whatif.TARGET,  # bench/whatif.py: connexion with the upstream patches
    # Warm overhead over the baseline, divided by the baseline's own per-request time.
    "warm_overhead_ratio": 1.0,
    "bundle_zipped_mb": 5.0,
    "peak_rss_mib": 128.0,
    "local_journey_ratio": 0.8,
    **ENGINE_TARGETS,  # bench/engine_scale.py: create latency ratio and RSS as the table grows
}


@dataclasses.dataclass(frozen=True)
class Counts:
    cold_runs: int = 21
    warm_pairs: int = 1000  # POST + GET each: 2,000 invocations of each handler
    warm_block: int = 100
    local_journeys: int = 100
    local_rounds: int = 3
    health_requests: int = 500
    engine_sizes: tuple[int, ...] = ENGINE_SIZES  # users in the engine's table (bench/engine_scale.py)
    engine_creates: int = ENGINE_CREATES  # timed creates at each size
    scale_runs: int = 7  # fresh processes per synthetic contract size (bench/contract_scale.py)


TINY = Counts(
    cold_runs=1,
    warm_pairs=4,
    warm_block=2,
    local_journeys=3,
    local_rounds=1,
    health_requests=5,
    engine_sizes=(10, 20),
    engine_creates=3,
    scale_runs=1,
)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a child process finds the handler's code, and the interpreter flags to run it with."""

    name: str
    sys_path: tuple[str, ...]
    flags: tuple[str, ...]
    task_root: str


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


# ---------------------------------------------------------------------------------------------
# Where the code comes from: the Lambda bundle (built by infra/bundle.py) or this checkout.


def local_architecture() -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]


def _copy_fresh(source: Path, name: str) -> Path:
    """A private copy under build/bench (infra prunes its own cache while others build)."""
    destination = BUILD_DIR / name
    if not destination.exists():
        scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD_DIR))
        shutil.copytree(source, scratch, dirs_exist_ok=True, symlinks=True)
        scratch.rename(destination)
    prefix = name.split("-", 1)[0] + "-"
    for old in BUILD_DIR.glob(prefix + "*"):
        if old != destination and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return destination


def runtime_dir() -> Path:
    """boto3 and its dependencies, with bytecode, as the Lambda runtime provides them."""
    versions = "-".join(importlib.metadata.version(name) for name in RUNTIME_DISTRIBUTIONS)
    destination = BUILD_DIR / f"runtime-{sys.version_info.major}{sys.version_info.minor}-{versions}"
    if destination.exists():
        return destination
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
    compileall = [sys.executable, "-m", "compileall", "-q", "-q", "-j", "0"]
    subprocess.run(  # noqa: S603 - our own interpreter
        [*compileall, "--invalidation-mode", "unchecked-hash", str(scratch)], check=True
    )
    scratch.rename(destination)
    return destination


def bundle_sources() -> tuple[Source, Source, dict[str, Any]]:
    """The Lambda bundle built for this machine (its platform and Python), with and without `.pyc`.

    infra/bundle.py builds it as for deployment (same dependencies, pins and layout); only the
    platform and the bytecode's interpreter are this machine's, so that it can run here.
    """
    from infra.bundle import build_bundle

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    architecture = local_architecture()
    compiled = build_bundle(version, architecture, "auto", python=sys.executable)
    plain = build_bundle(version, architecture, "none")
    runtime = str(runtime_dir())
    with_pyc = _copy_fresh(compiled.path, f"pyc-{compiled.key}")
    without = _copy_fresh(plain.path, f"nopyc-{plain.key}")
    for leftover in without.rglob("__pycache__"):
        shutil.rmtree(leftover)
    info = {"platform": architecture, "python": version, "with_pyc": compiled.key, "without_pyc": plain.key}
    # -S: no site-packages (only the bundle and the runtime's boto3); -B: Lambda's code is read-only.
    flags = ("-S", "-B")
    return (
        Source("bundle", (str(with_pyc), runtime), flags, str(with_pyc)),
        Source("bundle-no-pyc", (str(without), runtime), flags, str(without)),
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
    from infra.bundle import build_bundle, layer_dir

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    architecture = local_architecture()
    bundle = build_bundle(version, architecture, "auto", python=sys.executable, layer=True)
    with_pyc = _copy_fresh(bundle.path, f"layerbundle-{bundle.key}")
    sources = layer_dir(version, architecture)
    compiled = layer_dir(version, architecture, python=sys.executable)
    runtime = str(runtime_dir())
    flags = ("-S", "-B")
    return (
        Source("bundle+layer", (str(with_pyc), str(sources), runtime), flags, str(with_pyc)),
        Source("bundle+layer-pyc", (str(with_pyc), str(compiled), runtime), flags, str(with_pyc)),
        {"layer_bundle": bundle.key, "layer": sources.name},
    )


def checkout_source() -> Source:
    """This checkout and the venv (quick runs: no bundle to build)."""
    return Source("checkout", (str(ROOT),), ("-B",), str(ROOT))


def compile_baseline() -> None:
    py_compile.compile(
        str(BENCH_DIR / "baseline_handler.py"),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        doraise=True,
    )


def _prod_switches() -> dict[str, str]:
    from service.settings import load_settings

    prod = load_settings("prod", environ={}).service
    return {
        "USERS_API_VALIDATE_RESPONSES": str(prod.validate_responses).lower(),
        "USERS_API_TRACING": str(prod.tracing).lower(),
    }


PROD_SWITCHES = _prod_switches()


def lambda_environment(source: Source, endpoint: str, user_id: str) -> dict[str, str]:
    """The environment of a Lambda execution environment, production observability included."""
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
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
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
            # The per-stage switches as the prod stage ships them (settings.yaml): response validation
            # off, tracing on. The rest is the local stage's (its table and API key).
            **PROD_SWITCHES,
            "BENCH_SYS_PATH": os.pathsep.join(source.sys_path),
            "BENCH_API_KEY": API_KEY,
            "BENCH_CLAIMS": json.dumps(BENCH_CLAIMS),
            "USERS_API_CLIENT_IDS": json.dumps({BENCH_CLAIMS["client_id"]: "bench"}),
            "BENCH_USER_ID": user_id,
            # The routes, as API Gateway knows them: from the contract.
            "BENCH_CREATE_PATH": get_contract().operation("createUser").path,
            "BENCH_GET_PATH": get_contract().operation("getUser").path,
            "BENCH_HEALTH_PATH": get_contract().operation("getHealth").path,
        }
    )
    return env


# ---------------------------------------------------------------------------------------------
# Cold start: fresh processes, interleaved, against the same engine.


RESULT_FILE = "{result-file}"  # in run_for_json's argv: where the child writes its JSON


def run_for_json(source: Source, argv: Sequence[str], env: dict[str, str], timeout: float = 120) -> Any:
    """Run `python <source's flags> *argv` in a fresh process, RESULT_FILE in argv replaced by a
    temporary file's path; the JSON the child wrote there."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_file = Path(handle.name)
    try:
        subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, *source.flags, *(str(result_file) if a == RESULT_FILE else a for a in argv)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=timeout,
        )
        return json.loads(result_file.read_text(encoding="utf-8"))
    finally:
        result_file.unlink(missing_ok=True)


def _cold_once(source: Source, module: str, env: dict[str, str], user_id: str) -> dict[str, Any]:
    result: dict[str, Any] = run_for_json(source, [str(CHILD), "cold", module, RESULT_FILE, user_id], env)
    if result["status"] != 200:
        raise RuntimeError(f"cold start of {module} from {source.name} answered {result['status']}")
    return result


def _seed_user(endpoint: str) -> str:
    """The table and one user, written through the service's own repository."""
    import boto3

    from service.repository import DynamoUserRepository
    from service.users import new_user

    os.environ.update(LOCAL_CREDENTIALS)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    ensure_table(client, TABLE)
    repository = DynamoUserRepository(client, TABLE)
    user = new_user("Ada Lovelace", "ada@example.com")
    repository.add(user)
    return user.user_id


def cold_start(variants: dict[str, tuple[Source, str]], runs: int, seed: int = 6) -> dict[str, Any]:
    """Each variant `runs` times in fresh processes, in a shuffled order per round (round 0 discarded)."""
    rng = random.Random(seed)  # noqa: S311 - an order, not a secret
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with LocalEngine() as engine:
        user_id = _seed_user(engine.endpoint)
        envs = {
            name: lambda_environment(src, engine.endpoint, user_id) for name, (src, _) in variants.items()
        }
        for round_number in range(runs + 1):
            order = list(variants)
            rng.shuffle(order)
            for name in order:
                source, module = variants[name]
                result = _cold_once(source, module, envs[name], user_id)
                if round_number:
                    samples[name].append(result)
            _log(f"cold start round {round_number}/{runs}")
    return {
        name: {
            "total_ms": summary([s["total_ms"] for s in values]),
            "init_ms": summary([s["init_ms"] for s in values]),
            "first_invocation_ms": summary([s["first_ms"] for s in values]),
            "modules_loaded": values[-1]["modules"],
        }
        for name, values in samples.items()
    }


# ---------------------------------------------------------------------------------------------
# Warm overhead and memory: two long-lived handler processes against a canned DynamoDB endpoint.


@contextlib.contextmanager
def fake_dynamodb() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.fake_dynamodb", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_until(http_ok(endpoint), what="the fake DynamoDB endpoint", timeout=30, process=process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


class HandlerProcess:
    """A child in `serve` mode: one handler module imported once, invoked on request."""

    def __init__(self, source: Source, module: str, env: dict[str, str]) -> None:
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, *source.flags, str(CHILD), "serve", module, str(write_fd)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self.results: TextIO = os.fdopen(read_fd, encoding="utf-8")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.results.readline()
        if not line:
            raise RuntimeError(f"the handler process exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait(timeout=30)
        self.results.close()


def interleaved_blocks(
    processes: dict[str, HandlerProcess], pairs: int, block: int, on_block: Any = None
) -> dict[str, dict[str, list[float]]]:
    """Blocks of `block` POST+GET pairs sent to each process in turn, the order flipping every block
    so a busy machine slows both alike; block 0 warms up and is discarded. Timings per process."""
    names = list(processes)
    timings: dict[str, dict[str, list[float]]] = {name: {"POST": [], "GET": []} for name in names}
    blocks = -(-pairs // block)
    for number in range(blocks + 1):
        for name in names if number % 2 else list(reversed(names)):
            answer = processes[name].ask(f"run {block}")
            if answer["statuses"] != [200, 201]:
                raise RuntimeError(f"{name} answered {answer['statuses']} (expected 200 and 201)")
            if number:
                for method, values in answer["timings"].items():
                    timings[name][method].extend(values)
        if on_block is not None:
            on_block(number, blocks)
    return timings


def warm(source: Source, pairs: int, block: int) -> dict[str, Any]:
    """Blocks of `block` POST+GET pairs, alternating between ours and the baseline (block 0 discarded)."""
    with fake_dynamodb() as endpoint:
        from bench.fake_dynamodb import USER_ID

        processes = {
            "ours": HandlerProcess(source, OURS, lambda_environment(source, endpoint, USER_ID)),
            "baseline": HandlerProcess(source, BASELINE, lambda_environment(source, endpoint, USER_ID)),
        }
        try:

            def progress(number: int, blocks: int) -> None:
                if number % 5 == 0:
                    _log(f"warm block {number}/{blocks}")

            timings = interleaved_blocks(processes, pairs, block, progress)
            rss = {name: process.ask("rss")["peak_rss_mib"] for name, process in processes.items()}
        finally:
            for process in processes.values():
                process.close()
    result: dict[str, Any] = {"per_request_ms": {}, "overhead_ms": {}}
    for name, by_method in timings.items():
        result["per_request_ms"][name] = {method: summary(values) for method, values in by_method.items()}
    for method in ("POST", "GET"):
        ours = statistics.median(timings["ours"][method])
        base = statistics.median(timings["baseline"][method])
        result["overhead_ms"][method] = round(ours - base, 4)
    result["overhead_ms"]["mixed"] = round(statistics.fmean(result["overhead_ms"].values()), 4)
    baseline_ms = statistics.fmean(statistics.median(timings["baseline"][m]) for m in ("POST", "GET"))
    result["baseline_per_request_ms"] = round(baseline_ms, 4)
    result["overhead_ratio"] = round(result["overhead_ms"]["mixed"] / baseline_ms, 3)
    invocations = sum(len(values) for values in timings["ours"].values())
    result["memory"] = {
        "peak_rss_mib": {name: round(value, 1) for name, value in rss.items()},
        "invocations_per_process": invocations + 2 * block,
    }
    return result


# ---------------------------------------------------------------------------------------------
# Bundle size: the asset as built for deployment.


def _mb(size: int) -> float:
    return round(size / 1e6, 2)


def bundle_size(stage: str = "dev") -> dict[str, Any]:
    from infra.bundle import build_bundle, dependency_sources, distribution_sizes, sizes
    from infra.config import load_stage

    config = load_stage(stage)
    architecture = config.settings.lambda_.architecture
    deployed = build_bundle(config.runtime_version, architecture, "auto")
    unzipped, zipped = sizes(deployed.path)
    result: dict[str, Any] = {
        "stage": stage,
        "runtime": config.runtime_version,
        "architecture": architecture,
        "bytecode": deployed.bytecode_version,
        "unzipped_mb": round(unzipped / 1e6, 2),
        "zipped_mb": round(zipped / 1e6, 2),
    }
    if deployed.bytecode_version is None:
        # No interpreter of the runtime's version here: the same bundle with this Python's
        # bytecode stands in for the size of the deployed one (.pyc sizes differ little across versions).
        proxy = build_bundle(config.runtime_version, architecture, "auto", python=sys.executable)
        unzipped, zipped = sizes(proxy.path)
        result["with_pyc_proxy"] = {
            "bytecode": proxy.bytecode_version,
            "unzipped_mb": round(unzipped / 1e6, 2),
            "zipped_mb": round(zipped / 1e6, 2),
        }
    # With bytecode (this Python's where the runtime's is missing), as deployed or with the layer.
    python = None if deployed.bytecode_version else sys.executable
    compiled = build_bundle(config.runtime_version, architecture, "auto", python=python)
    layered = build_bundle(config.runtime_version, architecture, "auto", python=python, layer=True)
    result["largest_distributions_mb"] = {
        name: _mb(size) for name, size in list(distribution_sizes(compiled.path).items())[:8]
    }
    result["dependency_sources_zipped_mb"] = _mb(sizes(compiled.path, dependency_sources)[1])
    unzipped, zipped = sizes(layered.path)
    result["with_powertools_layer"] = {"unzipped_mb": _mb(unzipped), "zipped_mb": _mb(zipped)}
    return result


# ---------------------------------------------------------------------------------------------
# Local stage: uvicorn + the app against moto server, and the same journey as direct boto3 calls.


def _request(
    connection: http.client.HTTPConnection, method: str, path: str, token: str, body: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-api-key": API_KEY, "Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _app_journeys(port: int, count: int) -> float:
    from consumers.token import full_access_client, local_credentials, request_token

    credentials = local_credentials(full_access_client(), f"http://{HOST}:{port}")
    token = str(request_token(credentials)["access_token"])
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    create_path = get_contract().operation("createUser").path
    started = time.perf_counter()
    for _ in range(count):
        body = json.dumps({"name": "Ada Lovelace", "email": f"j-{uuid.uuid4().hex[:16]}@example.com"})
        status, headers, _ = _request(connection, "POST", create_path, token, body)
        if status != 201:
            raise RuntimeError(f"createUser answered {status}")
        status, _, _ = _request(connection, "GET", headers["location"], token)
        if status != 200:
            raise RuntimeError(f"GET {headers['location']} answered {status}")
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def _direct_journeys(client: Any, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        user_id = str(uuid.uuid4())
        email = f"j-{uuid.uuid4().hex[:16]}@example.com"
        now = "2025-11-25T10:00:00.000Z"
        item = {
            "pk": {"S": f"USER#{user_id}"},
            "sk": {"S": "PROFILE"},
            "userId": {"S": user_id},
            "name": {"S": "Ada Lovelace"},
            "email": {"S": email},
            "createdAt": {"S": now},
            "updatedAt": {"S": now},
        }
        guard = {"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"}, "userId": {"S": user_id}}
        condition = "attribute_not_exists(pk)"
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": condition}},
                {"Put": {"TableName": TABLE, "Item": guard, "ConditionExpression": condition}},
            ]
        )
        got = client.get_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)
        if "Item" not in got:
            raise RuntimeError("direct read-after-write found nothing")
    return count / (time.perf_counter() - started)


def local_stage(counts: Counts) -> dict[str, Any]:
    import boto3

    app_rates: list[float] = []
    direct_rates: list[float] = []
    with LocalEngine() as engine:
        os.environ.update(LOCAL_CREDENTIALS)
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=engine.endpoint)
        ensure_table(client, TABLE)
        port = free_port()
        health_path = get_contract().operation("getHealth").path
        env = {k: v for k, v in os.environ.items() if not k.startswith(("USERS_API_", "POWERTOOLS_"))}
        env.update({"STAGE": "local", "DYNAMODB_ENDPOINT": engine.endpoint, "PORT": str(port)})
        stage = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local.stage", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                http_ok(f"http://{HOST}:{port}{health_path}", timeout=5),
                what="the local stage",
                timeout=60,
                process=stage,
            )
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            started = time.perf_counter()
            for _ in range(counts.health_requests):
                if _request(connection, "GET", health_path, "")[0] != 200:
                    raise RuntimeError("getHealth failed")
            health_rate = counts.health_requests / (time.perf_counter() - started)
            connection.close()
            for number in range(counts.local_rounds):
                order = ("app", "direct") if number % 2 == 0 else ("direct", "app")
                for kind in order:
                    # Each measurement starts from an empty table: moto's transactions slow as it grows.
                    engine.reset()
                    ensure_table(client, TABLE)
                    if kind == "app":
                        app_rates.append(_app_journeys(port, counts.local_journeys))
                    else:
                        direct_rates.append(_direct_journeys(client, counts.local_journeys))
                _log(f"local stage round {number + 1}/{counts.local_rounds}")
        finally:
            stage.terminate()
            stage.wait(timeout=30)
    return {
        "health_rps": round(health_rate, 1),
        "journey_app_per_s": summary(app_rates),
        "journey_direct_per_s": summary(direct_rates),
        "journey_ratio": round(statistics.median(app_rates) / statistics.median(direct_rates), 3),
        "journeys_per_round": counts.local_journeys,
    }


# ---------------------------------------------------------------------------------------------
# The report.


def versions() -> dict[str, str]:
    names = ("connexion", "mangum", "aws-lambda-powertools", "aws-xray-sdk", "boto3", "botocore", "moto")
    found = {name: importlib.metadata.version(name) for name in names}
    found["python"] = platform.python_version()
    return found


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


LAYER_LABELS = {
    "ours_layer": "  cold start, Powertools from the managed layer (no .pyc, as AWS ships it)",
    "ours_layer_pyc": "  cold start, Powertools layer given .pyc (not what AWS ships)",
}


def _verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "MISSED"


def table(report: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    cold = report.get("cold_start")
    if cold:
        ours, base = cold["ours"]["total_ms"], cold["baseline"]["total_ms"]
        ratio = report["figures"]["cold_start_ratio"]
        rows.append(
            (
                "cold start (import + first GET)",
                f"{ours['median']:.0f} ms vs baseline {base['median']:.0f} ms = {ratio:.2f}x "
                f"(best round {report['figures']['cold_start_best_ratio']:.2f}x)",
                f"<= {TARGETS['cold_start_ratio']}x",
                _verdict(ratio, TARGETS["cold_start_ratio"]),
            )
        )
        if "ours_no_pyc" in cold:
            plain = cold["ours_no_pyc"]["total_ms"]
            rows.append(
                (
                    "cold start without bytecode",
                    f"{plain['median']:.0f} ms = {report['figures']['cold_start_no_pyc_ratio']:.2f}x",
                    "reported",
                    "-",
                )
            )
        for name, label in LAYER_LABELS.items():
            if name in cold:
                total, best = cold[name]["total_ms"], report["figures"][f"{name}_best_ratio"]
                more = total["min"] - cold["ours"]["total_ms"]["min"]
                measured = (
                    f"{total['median']:.0f} ms = {report['figures'][f'{name}_ratio']:.2f}x "
                    f"(best round {best:.2f}x, {more:+.0f} ms vs ours' best)"
                )
                rows.append((label, measured, "reported", "-"))
    rows += whatif.rows(report)
    warm_figures = report.get("warm")
    if warm_figures:
        overhead = warm_figures["overhead_ms"]
        rows.append(
            (
                "warm overhead per request / baseline's own (prod switches)",
                f"{overhead['mixed']:.3f} ms (POST {overhead['POST']:.3f}, GET {overhead['GET']:.3f}) / "
                f"{warm_figures['baseline_per_request_ms']:.3f} ms = {warm_figures['overhead_ratio']:.2f}",
                f"<= {TARGETS['warm_overhead_ratio']}",
                _verdict(warm_figures["overhead_ratio"], TARGETS["warm_overhead_ratio"]),
            )
        )
        rss = warm_figures["memory"]["peak_rss_mib"]
        rows.append(
            (
                f"peak RSS after {warm_figures['memory']['invocations_per_process']} invocations",
                f"{rss['ours']:.1f} MiB (baseline {rss['baseline']:.1f} MiB)",
                "<= 128 MiB",
                _verdict(rss["ours"], TARGETS["peak_rss_mib"]),
            )
        )
    size = report.get("bundle")
    if size:
        text = f"{size['zipped_mb']:.2f} MB zipped, {size['unzipped_mb']:.2f} MB unzipped"
        if "with_pyc_proxy" in size:
            proxy = size["with_pyc_proxy"]
            text += f" (sources only; with .pyc: {proxy['zipped_mb']:.2f} / {proxy['unzipped_mb']:.2f} MB)"
        worst = size.get("with_pyc_proxy", size)["zipped_mb"]
        rows.append(("bundle", text, "<= 5 MB zipped", _verdict(worst, TARGETS["bundle_zipped_mb"])))
        if "with_powertools_layer" in size:
            layer = size["with_powertools_layer"]
            largest = ", ".join(f"{name} {mb:.2f}" for name, mb in size["largest_distributions_mb"].items())
            rows += [
                (
                    "  bundle with the Powertools layer",
                    f"{layer['zipped_mb']:.2f} MB zipped, {layer['unzipped_mb']:.2f} MB unzipped",
                    "reported",
                    "-",
                ),
                ("  bundle: largest distributions (MB zipped)", largest, "reported", "-"),
                (
                    "  bundle: the dependencies' .py sources",
                    f"{size['dependency_sources_zipped_mb']:.2f} MB zipped",
                    "reported",
                    "-",
                ),
            ]
    if size and "whatif" in size:
        rows.append(
            (
                "  what-if: bundle if connexion imported lazily (0001)",
                f"{size['whatif']['zipped_mb']:.2f} MB zipped, without "
                + ", ".join(size["whatif"]["not_imported"]),
                "reported",
                "-",
            )
        )
    stage = report.get("local_stage")
    if stage:
        rows.append(("local GET /health", f"{stage['health_rps']:.0f} req/s", "reported", "-"))
        rows.append(
            (
                "local create+read journey",
                f"{stage['journey_app_per_s']['median']:.1f}/s via app vs "
                f"{stage['journey_direct_per_s']['median']:.1f}/s direct = {stage['journey_ratio']:.2f}x",
                ">= 0.8x",
                _verdict(stage["journey_ratio"], TARGETS["local_journey_ratio"], higher_is_better=True),
            )
        )
    if report.get("contract_scale"):
        rows += contract_scale.rows(report["contract_scale"])
    scale = report.get("engine_scale")
    if scale:
        for figure, measured, target, met in engine_rows(scale):
            rows.append((figure, measured, target, "met" if met else "MISSED"))
    header = ("figure", "measured", "target", "")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines)


def cold_ratios(cold: dict[str, Any]) -> dict[str, float]:
    """Each cold-start variant's median over the baseline's (same rounds)."""
    base = cold["baseline"]["total_ms"]
    names = {"ours": "cold_start", "ours_no_pyc": "cold_start_no_pyc"}
    names.update({name: name for name in LAYER_LABELS})
    figures = {}
    for name, figure in names.items():
        if name in cold:
            figures[f"{figure}_ratio"] = round(cold[name]["total_ms"]["median"] / base["median"], 3)
            # Fastest round of each side: on a busy machine, the least disturbed estimate.
            figures[f"{figure}_best_ratio"] = round(cold[name]["total_ms"]["min"] / base["min"], 3)
    return figures


def _bundle_whatif(report: dict[str, Any], source: Source) -> None:
    """The deployed bundle's size if connexion imported lazily (bench/whatif.py)."""
    from infra.bundle import build_bundle
    from infra.config import load_stage

    config = load_stage(report["bundle"]["stage"])
    python = None if report["bundle"]["bytecode"] else sys.executable
    architecture = config.settings.lambda_.architecture
    deployed = build_bundle(config.runtime_version, architecture, "auto", python=python)
    with fake_dynamodb() as endpoint:
        from bench.fake_dynamodb import USER_ID

        report["bundle"]["whatif"] = whatif.bundle_effect(
            source, lambda src: lambda_environment(src, endpoint, USER_ID), deployed.path
        )


def _contract_scale(report: dict[str, Any], source: Source, runs: int) -> None:
    """Cold init at 3, 30 and 150 operations (bench/contract_scale.py), ours and the what-if."""
    scale = report["contract_scale"] = contract_scale.contract_scale(
        {"ours": source, "whatif": whatif.headline_source(source)},
        # No DynamoDB call: the health check's repository is a stand-in that answers at once.
        lambda src: lambda_environment(src, f"http://{HOST}:{free_port()}", "unused"),
        runs,
        log=_log,
    )
    report["figures"]["cold_init_ms_per_operation"] = scale["ours"]["ms_per_operation"]
    report["figures"]["cold_init_ms_per_operation_whatif"] = scale["whatif"]["ms_per_operation"]


def run(
    counts: Counts = Counts(),
    *,
    use_bundle: bool = True,
    only: Sequence[str] = ("cold", "warm", "bundle", "scale", "local", "engine"),
    report_file: Path | None = REPORT_FILE,
) -> dict[str, Any]:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    compile_baseline()
    report: dict[str, Any] = {"figures": {}, "targets": TARGETS, "counts": dataclasses.asdict(counts)}
    if use_bundle:
        source, plain, report["sources"] = bundle_sources()
    else:
        source, plain = checkout_source(), None
        report["sources"] = {"checkout": str(ROOT)}
    started = time.time()
    if "cold" in only or "whatif" in only:
        variants = {"baseline": (source, BASELINE), "ours": (source, OURS)}
        if plain is not None and "cold" in only:
            variants["ours_no_pyc"] = (plain, OURS)
            layer, layer_pyc, report["sources"]["layer"] = layer_sources()
            variants["ours_layer"] = (layer, OURS)
            variants["ours_layer_pyc"] = (layer_pyc, OURS)
        variants.update(whatif.cold_variants(source, OURS, each="whatif" in only))
        cold = report["cold_start"] = cold_start(variants, counts.cold_runs)
        report["figures"].update(whatif.cold_figures(cold))
        report["figures"].update(cold_ratios(cold))
    if "whatif" in only:
        report["whatif_warm"] = whatif.warm_effect(source, OURS, counts.warm_pairs, counts.warm_block)
    if "warm" in only:
        report["warm"] = warm(source, counts.warm_pairs, counts.warm_block)
        report["figures"]["warm_overhead_ms"] = report["warm"]["overhead_ms"]["mixed"]
        report["figures"]["warm_overhead_ratio"] = report["warm"]["overhead_ratio"]
        report["figures"]["peak_rss_mib"] = report["warm"]["memory"]["peak_rss_mib"]["ours"]
    if "bundle" in only:
        report["bundle"] = bundle_size()
        report["figures"]["bundle_zipped_mb"] = report["bundle"]["zipped_mb"]
        if use_bundle:
            _bundle_whatif(report, source)
    if "scale" in only:
        _contract_scale(report, source, counts.scale_runs)
    if "local" in only:
        report["local_stage"] = local_stage(counts)
        report["figures"]["local_journey_ratio"] = report["local_stage"]["journey_ratio"]
    if "engine" in only:
        scale = report["engine_scale"] = engine_scale(counts.engine_sizes, counts.engine_creates, log=_log)
        report["figures"]["engine_create_ratio"] = scale["create_ratio"]
        report["figures"]["engine_rss_mb"] = scale["rss_mb_at_largest"]
    report["duration_s"] = round(time.time() - started, 1)
    report["versions"] = versions()
    report["machine"] = machine()
    report["command"] = "make bench"
    report["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["table"] = table(report)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
