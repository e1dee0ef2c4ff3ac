"""SnapStart: the hooks run as the managed runtime runs them (init, before-snapshot, restores).

tests/lambda_path/snapstart_probe.py drives one interpreter through init (settings read from SSM
in the local engine), the before-snapshot hooks, a change of an SSM parameter while the snapshot
waits past the cache's age, and three restores (forks of the snapshotted process) that run the
after-restore hooks and serve two events each: two that reach SSM, and one that cannot (its
endpoint's port is closed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.engine import Engine, free_port
from service.settings import Settings
from service.snapstart import HOOKS_SECONDS

pytestmark = pytest.mark.lambda_path

PROBE = Path(__file__).resolve().with_name("snapstart_probe.py")
ROOT = Path(__file__).resolve().parents[2]
# What SSM holds at init: not the settings file's value, so that the init's figure shows SSM was read.
INIT_MAX_BODY_BYTES = 12288


@pytest.fixture(scope="module")
def snapshot_and_restores(engine: Engine, local_settings: Settings, tmp_path_factory: Any) -> dict[str, Any]:
    if engine.ssm_endpoint is None:
        pytest.skip(f"the engine at {engine.endpoint} may not serve SSM (set AWS_ENDPOINT_URL_SSM)")
    path = f"/users-api/snapstart-{uuid.uuid4().hex[:8]}"
    ssm = boto3.client("ssm", endpoint_url=engine.ssm_endpoint, region_name="eu-west-1")
    for key, value in {"max_body_bytes": str(INIT_MAX_BODY_BYTES), "log_level": "INFO"}.items():
        ssm.put_parameter(Name=f"{path}/{key}", Value=value, Type="String", Overwrite=True)
    result = tmp_path_factory.mktemp("snapstart") / "result.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("USERS_API_", "POWERTOOLS_", "AWS_LAMBDA_"))
    }
    env.update(
        {
            "STAGE": "dev",
            "USERS_API_SSM_PATH": path,
            "USERS_API_SSM_MAX_AGE_SECONDS": "1",
            "AWS_ENDPOINT_URL_SSM": engine.ssm_endpoint,
            "DYNAMODB_ENDPOINT": engine.endpoint,
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_REGION": "eu-west-1",
            "AWS_LAMBDA_FUNCTION_NAME": "users-api-snapstart",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port()}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_SERVICE_NAME": "users-api",
            "POWERTOOLS_METRICS_NAMESPACE": "UsersApi",
            "USERS_API_CLIENT_IDS": json.dumps({"snapstart-probe": "probe"}),  # as infra sets it
        }
    )
    completed = subprocess.run(
        [sys.executable, str(PROBE), str(result)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    found: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    found["logs"] = [line for line in lines if line.get("message") == "request"]
    found["warnings"] = [line for line in lines if line.get("level") == "WARNING"]
    found["cold_start_metrics"] = [
        line
        for line in lines
        if any(
            m["Name"] == "ColdStart"
            for d in line.get("_aws", {}).get("CloudWatchMetrics", [])
            for m in d["Metrics"]
        )
    ]
    return found


def test_no_connection_goes_into_the_snapshot_and_a_restore_opens_its_own(
    snapshot_and_restores: dict[str, Any],
) -> None:
    init = snapshot_and_restores["init"]
    assert init["ssm_pools_after_init"] == 1, "init read the settings from SSM"
    assert init["ssm_pools_after_before_snapshot"] == 0
    for restore in snapshot_and_restores["restores"]:
        assert restore["snapshot_pools_kept"] == []
    for restore in snapshot_and_restores["restores"][:2]:
        assert restore["ssm_client_pools"] == 1, "the settings were read again on a new connection"


def test_the_dynamodb_clients_connections_stay_out_of_the_snapshot_and_the_restores(
    snapshot_and_restores: dict[str, Any],
) -> None:
    init = snapshot_and_restores["init"]
    assert init["dynamodb_pools_after_init"] == 1, "init called DynamoDB"
    assert init["dynamodb_pools_after_before_snapshot"] == 0
    for restore in snapshot_and_restores["restores"]:
        assert restore["snapshot_dynamodb_pools_after_hooks"] == 0
        assert restore["dynamodb_snapshot_pools_kept"] == []


def test_after_a_restore_expired_ssm_settings_are_read_again_and_applied(
    snapshot_and_restores: dict[str, Any],
) -> None:
    assert snapshot_and_restores["init"]["max_body_bytes"] == INIT_MAX_BODY_BYTES
    for restore in snapshot_and_restores["restores"][:2]:
        assert restore["max_body_bytes"] == 4096
        assert restore["statuses"] == [413, 413], "the rebuilt app enforces the new limit"


def test_a_restore_that_cannot_reach_ssm_serves_with_the_snapshots_settings(
    snapshot_and_restores: dict[str, Any],
) -> None:
    unreachable = snapshot_and_restores["restores"][2]
    assert unreachable["max_body_bytes"] == INIT_MAX_BODY_BYTES
    assert unreachable["serving_max_body_bytes"] == INIT_MAX_BODY_BYTES
    # The 5 kB body is within the snapshot's limit: the contract's validation answers (unknown `bio`).
    assert unreachable["statuses"] == [400, 400]
    assert unreachable["hooks_seconds"] < HOOKS_SECONDS
    (warning,) = snapshot_and_restores["warnings"]
    assert warning["message"] == "settings not read again after a restore: serving with the snapshot's"
    assert warning["error"].startswith("GetParameterError: ")
    assert "127.0.0.1" in warning["error"], "the error names the endpoint it could not reach"


def test_each_restored_environment_draws_its_own_random_numbers(
    snapshot_and_restores: dict[str, Any],
) -> None:
    first, *others = snapshot_and_restores["restores"]
    assert not first["random_state_was_the_snapshots"]
    assert len({restore["random"] for restore in [first, *others]}) == 3


def test_powertools_reports_each_restore_once_as_a_cold_start(snapshot_and_restores: dict[str, Any]) -> None:
    cold = {line["function_request_id"]: line["cold_start"] for line in snapshot_and_restores["logs"]}
    assert cold == {f"restore-{number}-{request}": request == 1 for number in (1, 2, 3) for request in (1, 2)}
    metrics = snapshot_and_restores["cold_start_metrics"]
    assert len(metrics) == 3
    assert {metric["init_type"] for metric in metrics} == {"snap-start"}
    assert {metric["function_name"] for metric in metrics} == {"users-api-snapstart"}
