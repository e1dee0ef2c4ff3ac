"""make deploy without credentials: non-zero within seconds, one line, no traceback, no network."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from infra.config import ROOT
from infra.preflight import NO_CREDENTIALS, credentials_problem
from tests.environments import without_aws

pytestmark = pytest.mark.infra


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment with no AWS variable and an empty home: what botocore's chain sees is ours."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def test_no_credentials_anywhere_is_a_problem(home: Path) -> None:
    assert credentials_problem() == NO_CREDENTIALS


def test_a_key_pair_in_the_environment_is_enough(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert credentials_problem() is None


def test_half_a_key_pair_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    problem = credentials_problem()
    assert problem is not None
    assert "AWS_SECRET_ACCESS_KEY" in problem
    assert "\n" not in problem


def test_a_profile_from_the_shared_files_is_enough(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(
        "[profile work]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n"
        "region = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = eu-west-1\n"
    )
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
    )
    assert credentials_problem() is None  # default profile: the key pair in the credentials file
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert credentials_problem() is None  # SSO: resolved lazily, no call to AWS


def test_an_unknown_profile_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "missing")
    problem = credentials_problem()
    assert problem is not None
    assert "'missing'" in problem


def test_container_credentials_count_without_reaching_the_endpoint(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A listening endpoint that counts connections: the preflight only sees that it is configured.
    with socket.create_server(("127.0.0.1", 0)) as endpoint:
        endpoint.settimeout(0.5)
        port = endpoint.getsockname()[1]
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{port}/credentials")
        assert credentials_problem() is None
        with pytest.raises(TimeoutError):
            endpoint.accept()  # nobody connected


def test_a_credential_process_counts_without_being_run(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    witness = home / "ran"
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(f"[default]\ncredential_process = touch {witness}\n")
    assert credentials_problem() is None
    assert not witness.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_deploy_without_credentials_fails_fast_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "deploy", "STAGE=dev"],
        cwd=ROOT,
        env=without_aws(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 10, elapsed
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "no AWS credentials found" in lines[0]
    assert "AWS_PROFILE" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_deploy_refuses_the_local_stage_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "deploy", "STAGE=local"],
        cwd=ROOT,
        env=without_aws(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "local-only stage" in lines[0]


def _dry_run(tmp_path: Path, target: str, variables: list[str]) -> str:
    """`make -n <target>`: the CDK command line it would run, with key-pair credentials that preflight
    accepts locally (nothing runs, nothing reaches AWS)."""
    env = {
        **without_aws(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", target, *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{target} -c stage=dev" in result.stdout
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("emergency", "expected"),
    [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)],
    ids=["unset", "empty", "0", "1", "yes"],
)
def test_only_an_emergency_value_other_than_0_makes_an_emergency_deploy(
    tmp_path: Path, emergency: str | None, expected: bool
) -> None:
    variables = ["STAGE=dev", "VERIFY=0", "SOURCES_ONLY=1"]
    if emergency is not None:
        variables.append(f"EMERGENCY={emergency}")
    assert ("-c emergency=true" in _dry_run(tmp_path, "deploy", variables)) is expected


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("force", "expected"),
    [(None, False), ("", False), ("0", False), ("1", True)],
    ids=["unset", "empty", "0", "1"],
)
def test_only_a_force_value_other_than_0_skips_the_destroy_prompt(
    tmp_path: Path, force: str | None, expected: bool
) -> None:
    """FORCE=0 keeps CDK's confirmation prompt."""
    variables = ["STAGE=dev"] + ([] if force is None else [f"FORCE={force}"])
    assert ("--force" in _dry_run(tmp_path, "destroy", variables)) is expected
