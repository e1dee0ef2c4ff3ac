"""The decisive test of what the bundle ships: the function, run from the bundle alone, serves every
operation of the contract.

A fresh interpreter (`-S -I`: no site-packages, no script directory, no PYTHON* variables) gets on
its path only the bundle and what the Lambda runtime provides (boto3 and its dependencies, as
`make bench` emulates them: bench.sources.RUNTIME_DISTRIBUTIONS), plus, for the layer variant, the
pinned Powertools wheel standing in for the AWS-managed layer. It imports the handler as infra names
it and serves one API Gateway event per operation, with the stage's environment as infra sets it
(SSM parameters included) against the session's engine. A distribution the bundle leaves out but
the function imports shows up as an import error or a 500; every answer must be a status the
contract declares for its operation. The modules it loaded are then mapped back to distributions:
everything the bundle ships is imported, and nothing comes from outside the path it was given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench.sources import runtime_dir
from infra.bundle import (
    Bundle,
    build_bundle,
    installed_distributions,
    layer_dir,
    local_architecture,
    module_owners,
    not_imported_distributions,
    remove_distributions,
)
from infra.config import deployable_stages, load_stage
from infra.function import HANDLER
from local.engine import Engine
from service.contract import get_contract
from service.settings import Settings
from tests.infra.function_environment import REGION, function_environment
from tests.operations import gateway_event, valid_request

pytestmark = pytest.mark.infra

SERVE = Path(__file__).resolve().with_name("bundle_serve.py")
LOCAL_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
API_KEY = "bundle-test-key"
# What the gateway's Cognito authorizer passes for a token of a declared client (USERS_API_CLIENT_IDS).
CLIENT_ID = "bundle-test-client"
CLAIMS = {"token_use": "access", "client_id": CLIENT_ID, "sub": CLIENT_ID, "iss": "https://issuer.example"}

NEVER_ON_THE_LAMBDA_PATH = ("yaml", "jinja2", "werkzeug", "httpx", "requests")


def _bundle(layer: bool) -> Bundle:
    """The bundle as infra builds it, for this machine's platform and Python (so that it runs here)."""
    return build_bundle(LOCAL_VERSION, local_architecture(), "required", python=sys.executable, layer=layer)


@pytest.fixture(scope="module")
def plain_bundle() -> Bundle:
    return _bundle(layer=False)


@pytest.fixture(scope="module")
def layer_bundle() -> Bundle:
    return _bundle(layer=True)


@pytest.fixture(scope="module")
def layer_stand_in() -> Path:
    """What the AWS-managed Powertools layer provides, from the same pins (it cannot be downloaded here)."""
    return layer_dir(LOCAL_VERSION, local_architecture(), python=sys.executable)


def _seed(engine: Engine, table: str, ssm_path: str, parameters: dict[str, str]) -> str:
    """The stage's table with one user, and its SSM parameters as infra writes them."""
    import boto3

    from local.tables import ensure_table
    from service.repository import DynamoUserRepository
    from service.users import new_user

    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=engine.endpoint)
    ensure_table(client, table)
    user = new_user("Ada Lovelace", f"ada-{uuid.uuid4().hex}@example.com")
    DynamoUserRepository(client, table).add(user)
    assert engine.ssm_endpoint is not None
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=engine.ssm_endpoint)
    for key, value in parameters.items():
        ssm.put_parameter(Name=f"{ssm_path}/{key}", Value=value, Type="String", Overwrite=True)
    return user.user_id


def _events(user_id: str) -> list[dict[str, Any]]:
    contract = get_contract()
    header = contract.api_key_header
    assert header is not None
    events = []
    for operation in contract.operations:
        credentials = {header: API_KEY, "Authorization": "Bearer verified-by-the-gateway"}
        request = valid_request(operation, credentials=credentials, values={"userId": user_id})
        claims = {**CLAIMS, "scope": " ".join(operation.scopes)} if operation.needs_auth else None
        event = gateway_event(request, stage="bundle-test", region=REGION, claims=claims)
        events.append({"name": operation.operation_id, "event": event})
    return events


def _environment(stage: str, engine: Engine, table: str) -> dict[str, str]:
    """The function's environment as infra.function sets it, pointed at the session's engine and SSM."""
    assert engine.ssm_endpoint is not None
    return function_environment(
        stage,
        engine,
        table,
        {CLIENT_ID: "bundle-test"},
        AWS_ENDPOINT_URL_SSM=engine.ssm_endpoint,
        USERS_API_SSM_PATH=load_stage(stage).ssm_path,
    )


def serve_from(
    sys_path: list[str],
    stage: str,
    engine: Engine,
    tmp_path: Path,
    overrides: dict[str, str] | None = None,
    *,
    must_import: bool = True,
) -> dict[str, Any]:
    config = load_stage(stage)
    table = f"users-api-bundle-{stage}-{uuid.uuid4().hex[:8]}"
    user_id = _seed(engine, table, config.ssm_path, config.ssm_parameters())
    module, _, handler = HANDLER.rpartition(".")
    request = tmp_path / f"request-{stage}.json"
    result = tmp_path / f"result-{stage}.json"
    request.write_text(
        json.dumps({"sys_path": sys_path, "module": module, "handler": handler, "events": _events(user_id)}),
        encoding="utf-8",
    )
    environment = {**_environment(stage, engine, table), **(overrides or {})}
    completed = subprocess.run(
        [sys.executable, "-S", "-I", "-B", str(SERVE), str(request), str(result)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    found: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    if must_import:
        assert found["import_error"] is None, found["import_error"]
    return found


def check_answers(found: dict[str, Any]) -> None:
    contract = get_contract()
    answered = {item["name"]: item for item in found["responses"]}
    assert sorted(answered) == sorted(op.operation_id for op in contract.operations)
    for operation in contract.operations:
        status = answered[operation.operation_id]["status"]
        assert status < 500, f"{operation.operation_id}: {status} {answered[operation.operation_id]['body']}"
        assert operation.response(status) is not None, f"{operation.operation_id}: {status} is not declared"


def check_nothing_from_elsewhere(found: dict[str, Any], sys_path: list[str]) -> None:
    """Every module came from the standard library or from an entry of the given path."""
    stdlib = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    allowed = tuple(str(Path(p)) + os.sep for p in [*sys_path, *stdlib])
    strays = {
        name: file
        for name, file in found["modules"].items()
        if file and Path(file) != SERVE and not str(Path(file)).startswith(allowed)
    }
    assert strays == {}


@pytest.fixture(scope="module")
def seeded_engine(engine: Engine, local_settings: Settings) -> Engine:
    """The session's engine, with the session's dummy credentials in the environment (local_settings)."""
    if engine.ssm_endpoint is None:
        pytest.skip(f"the engine at {engine.endpoint} may not serve SSM (set AWS_ENDPOINT_URL_SSM)")
    return engine


@pytest.mark.parametrize("stage", deployable_stages())
def test_the_bundle_alone_serves_every_operation_and_ships_only_what_it_imports(
    plain_bundle: Bundle, seeded_engine: Engine, stage: str, tmp_path: Path
) -> None:
    sys_path = [str(plain_bundle.path), str(runtime_dir())]
    found = serve_from(sys_path, stage, seeded_engine, tmp_path)
    check_answers(found)
    check_nothing_from_elsewhere(found, sys_path)
    shipped = installed_distributions(plain_bundle.path)
    imported = module_owners(plain_bundle.path, found["modules"])
    assert set(shipped) - imported == set(), "shipped but never imported: leave it out (infra/bundle.py)"
    # No YAML parser, template engine, WSGI toolkit or HTTP client on the Lambda path (issue 18).
    top_level = {name.split(".")[0] for name in found["modules"]}
    assert top_level & set(NEVER_ON_THE_LAMBDA_PATH) == set()
    # The carried jsonschema imports them where they are used (docs/upstream/jsonschema).
    assert top_level & {"fractions", "idna"} == set()


def test_with_tracing_and_response_validation_off_it_still_serves_every_operation(
    plain_bundle: Bundle, seeded_engine: Engine, tmp_path: Path
) -> None:
    sys_path = [str(plain_bundle.path), str(runtime_dir())]
    overrides = {"USERS_API_TRACING": "false", "USERS_API_VALIDATE_RESPONSES": "false"}
    found = serve_from(sys_path, deployable_stages()[0], seeded_engine, tmp_path, overrides)
    check_answers(found)
    assert not any(name.startswith("aws_xray_sdk") for name in found["modules"])


@pytest.mark.parametrize("stage", deployable_stages())
def test_the_layer_bundle_serves_every_operation_with_the_layer_standing_in(
    layer_bundle: Bundle, layer_stand_in: Path, seeded_engine: Engine, stage: str, tmp_path: Path
) -> None:
    """Lambda puts /opt/python (the layer) after /var/task (the bundle) and before the runtime."""
    sys_path = [str(layer_bundle.path), str(layer_stand_in), str(runtime_dir())]
    found = serve_from(sys_path, stage, seeded_engine, tmp_path)
    check_answers(found)
    check_nothing_from_elsewhere(found, sys_path)
    shipped = installed_distributions(layer_bundle.path)
    assert "aws-lambda-powertools" not in shipped
    imported = module_owners(layer_bundle.path, found["modules"])
    assert set(shipped) - imported == set()


# The classes connexion makes at start-up with jsonschema's `extend()`, after jsonschema's import:
# the carried attrs compiles those as before (docs/upstream/attrs).
MADE_AFTER_IMPORT = "<attrs generated methods jsonschema.validators.create.<locals>.Validator>"


def test_the_handler_compiles_none_of_the_code_attrs_generates_at_import(
    plain_bundle: Bundle, seeded_engine: Engine, tmp_path: Path
) -> None:
    """The bundle ships attrs' code caches (written at build time): importing the handler compiles
    only what is made after its module's import; without the caches, every class is compiled."""
    sys_path = [str(plain_bundle.path), str(runtime_dir())]
    found = serve_from(sys_path, deployable_stages()[0], seeded_engine, tmp_path)
    assert set(found["attrs_compiled"]) == {MADE_AFTER_IMPORT}

    copy = tmp_path / "bundle"
    shutil.copytree(plain_bundle.path, copy)
    caches = sorted(copy.rglob("*.attrs"))
    assert {path.parent.parent.name for path in caches} == {"attr", "referencing", "jsonschema"}
    for path in caches:
        path.unlink()
    uncached = serve_from([str(copy), str(runtime_dir())], deployable_stages()[0], seeded_engine, tmp_path)
    assert len(uncached["attrs_compiled"]) > 40


def test_the_bundle_checks_the_formats_the_tests_check(plain_bundle: Bundle) -> None:
    """JSON Schema formats are checked only where their checker's library is installed: the function
    validates `format`s in Lambda exactly as it does in every test tier (dev/prod parity)."""
    from jsonschema import Draft4Validator

    script = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); from jsonschema import Draft4Validator; "
        "print(json.dumps(sorted(Draft4Validator.FORMAT_CHECKER.checkers)))"
    )
    sys_path = json.dumps([str(plain_bundle.path), str(runtime_dir())])
    completed = subprocess.run(
        [sys.executable, "-S", "-I", "-B", "-c", script, sys_path],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(completed.stdout) == sorted(Draft4Validator.FORMAT_CHECKER.checkers)


def test_distributions_left_out_are_named_with_a_reason_and_none_is_shipped(plain_bundle: Bundle) -> None:
    """What NOT_IMPORTED names is out of the bundle; the tests above prove the function runs without it."""
    left_out = not_imported_distributions()
    assert left_out, "infra/bundle.py names what it leaves out"
    assert all(reason for reason in left_out.values())
    assert not set(left_out) & set(installed_distributions(plain_bundle.path))


def test_a_bundle_missing_an_imported_distribution_fails_the_check(
    plain_bundle: Bundle, seeded_engine: Engine, tmp_path: Path
) -> None:
    """The check has teeth: without one distribution the function imports, the handler does not load."""
    copy = tmp_path / "bundle"
    shutil.copytree(plain_bundle.path, copy)
    remove_distributions(copy, ["mangum"])
    found = serve_from([str(copy), str(runtime_dir())], "dev", seeded_engine, tmp_path, must_import=False)
    assert found["import_error"] is not None
    assert "mangum" in found["import_error"]
