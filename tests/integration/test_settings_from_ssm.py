"""On AWS, service settings come from SSM Parameter Store (Powertools parameters) over the file."""

from __future__ import annotations

import boto3
import pytest

from local.engine import Engine
from service.settings import Settings, SettingsError, load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def ssm_endpoint(engine: Engine) -> str:
    if engine.ssm_endpoint is None:
        pytest.skip(
            f"DYNAMODB_ENDPOINT={engine.endpoint} names an engine that may not serve SSM: "
            "set AWS_ENDPOINT_URL_SSM to an SSM endpoint (moto serves both on one port) to run it"
        )
    return engine.ssm_endpoint


@pytest.fixture
def ssm_path(ssm_endpoint: str, local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """A parameter path in the local engine (moto serves SSM too), reached through botocore's
    service-specific endpoint variable, as the function reaches the real one on AWS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ssm_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    path = f"/users-api/test-{id(monkeypatch)}"
    ssm = boto3.client("ssm", endpoint_url=ssm_endpoint, region_name="us-east-1")
    ssm.put_parameter(Name=f"{path}/log_level", Value="WARNING", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{path}/max_body_bytes", Value="4096", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{path}/not_a_setting", Value="ignored", Type="String", Overwrite=True)
    return path


def test_ssm_values_override_the_file_and_env_overrides_ssm(ssm_path: str) -> None:
    settings = load_settings("dev", environ={"USERS_API_SSM_PATH": ssm_path, "USERS_API_LOG_LEVEL": "ERROR"})
    assert settings.service.max_body_bytes == 4096
    assert settings.service.log_level == "ERROR"


def test_a_bad_ssm_value_stops_start_up_naming_it(ssm_path: str, ssm_endpoint: str) -> None:
    ssm = boto3.client("ssm", endpoint_url=ssm_endpoint, region_name="us-east-1")
    ssm.put_parameter(Name=f"{ssm_path}/max_body_bytes", Value="big", Type="String", Overwrite=True)
    with pytest.raises(SettingsError, match=r"service\.max_body_bytes"):
        load_settings("dev", environ={"USERS_API_SSM_PATH": ssm_path})
