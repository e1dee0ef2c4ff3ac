"""A deployed stage's token and checks need AWS: without credentials, `make token STAGE=dev` and
`make verify STAGE=dev` stop within seconds with the message `make deploy` gives, and touch nothing."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError
from botocore.session import Session
from botocore.stub import Stubber

from consumers.token import full_access_client
from consumers.token import main as token_main
from infra.outputs import ConsumerOutputs, StageOutputs
from infra.preflight import NO_CREDENTIALS
from local.verify import main as verify_main
from tests.environments import without_aws

pytestmark = pytest.mark.consumers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("target", [["token", "CLIENT=billing"], ["verify"]], ids=["token", "verify"])
def test_without_credentials_it_fails_fast_with_the_deploy_message(tmp_path: Path, target: list[str]) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-o", ".venv/.installed", *target, "STAGE=dev"],
        cwd=ROOT,
        env=without_aws(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 10
    assert result.stdout == ""
    assert NO_CREDENTIALS in result.stderr
    assert "Traceback" not in result.stderr


# What AWS answers once credentials exist: an error is one line on standard error naming the stage and
# what was being read, never a traceback. botocore's Stubber answers for AWS (no request leaves).

POOL = "eu-west-1_Pool0001"
SECRET = "the-client-secret-value"


def _outputs(client: str) -> StageOutputs:
    return StageOutputs(
        api_url="https://api.example.test/v1",
        token_url="https://auth.example.test/oauth2/token",
        user_pool_id=POOL,
        consumers={client: ConsumerOutputs(client, "client-id-1", "key-id-1")},
    )


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = Session().create_client(
        service, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> dict[str, Stubber]:
    """A stage with credentials and outputs whose Cognito and API Gateway answer through stubbers
    (the test adds their answers); the client is the stage's full-access one."""
    import boto3

    import consumers.stage_access
    import infra.preflight

    clients = {service: _stubbed(service) for service in ("cognito-idp", "apigateway")}
    monkeypatch.setattr(infra.preflight, "credentials_problem", lambda: None)
    monkeypatch.setattr(consumers.stage_access, "stage_outputs", lambda stage: _outputs(CLIENT))
    monkeypatch.setattr(boto3, "client", lambda service, **_: clients[service][0])
    stubbers = {service: stubber for service, (_, stubber) in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    return stubbers


CLIENT = full_access_client("dev")


def _one_line_failure(text: str) -> str:
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_make_token_names_the_stage_and_the_secret_it_could_not_read_when_aws_refuses(
    aws: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    aws["cognito-idp"].add_client_error(
        "describe_user_pool_client", "AccessDeniedException", "not authorized to DescribeUserPoolClient"
    )
    assert token_main(["--stage", "dev", "--client", CLIENT]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line_failure(captured.err)
    assert line.startswith("make token: stage 'dev': cannot read ")
    assert f"the secret of client {CLIENT!r}" in line and POOL in line
    assert "AccessDeniedException" in line and "not authorized to DescribeUserPoolClient" in line


def test_verify_names_the_stage_and_the_api_key_it_could_not_read_when_aws_refuses(
    aws: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    aws["apigateway"].add_client_error("get_api_key", "NotFoundException", "Invalid API Key identifier")
    assert verify_main(["--stage", "dev"]) == 1
    line = _one_line_failure(capsys.readouterr().err)
    assert line.startswith("verify, stage dev: FAIL (cannot start: stage 'dev': cannot read ")
    assert f"API key key-id-1 of client {CLIENT!r} (API Gateway)" in line
    assert "NotFoundException" in line and "Invalid API Key identifier" in line


def test_verify_names_what_it_was_reading_when_the_credentials_expire_on_the_way(
    aws: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    """The key is read, then the SSO session ends before the client's secret is (botocore raises one of
    its own errors, not a ClientError); the key's value read before is not printed."""
    aws["apigateway"].add_response("get_api_key", {"id": "key-id-1", "value": SECRET})

    def expired(**_: object) -> None:
        raise NoCredentialsError()

    aws["cognito-idp"].deactivate()
    aws["cognito-idp"].client.meta.events.register("before-call.*.*", expired)
    assert verify_main(["--stage", "dev"]) == 1
    line = _one_line_failure(capsys.readouterr().err)
    assert f"stage 'dev': cannot read the secret of client {CLIENT!r} (Cognito user pool {POOL})" in line
    assert "Unable to locate credentials" in line
    assert SECRET not in line


def test_verify_names_an_unknown_stage_before_asking_aws(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import infra.preflight

    asked: list[str] = []
    monkeypatch.setattr(infra.preflight, "credentials_problem", lambda: asked.append("credentials"))
    assert verify_main(["--stage", "nosuch"]) == 1
    line = _one_line_failure(capsys.readouterr().err)
    assert line.startswith("verify, stage nosuch: FAIL (cannot start: ")
    assert "unknown stage 'nosuch'" in line and "dev" in line
    assert asked == []
