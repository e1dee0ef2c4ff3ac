"""make deploy without credentials: non-zero within seconds, one line, no traceback, no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from infra.config import ROOT
from infra.preflight import NO_CREDENTIALS, credentials_problem

pytestmark = pytest.mark.infra


def test_no_credentials_anywhere_is_a_problem(tmp_path: Path) -> None:
    assert credentials_problem({}, home=tmp_path) == NO_CREDENTIALS


def test_a_key_pair_in_the_environment_is_enough(tmp_path: Path) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    assert credentials_problem(environ, home=tmp_path) is None


def test_half_a_key_pair_is_named(tmp_path: Path) -> None:
    problem = credentials_problem({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, home=tmp_path)
    assert problem is not None
    assert "AWS_SECRET_ACCESS_KEY" in problem


def test_a_profile_from_the_shared_files_is_enough(tmp_path: Path) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[profile work]\nsso_session = corp\nregion = eu-west-1\n")
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
    )
    assert credentials_problem({"AWS_PROFILE": "work"}, home=tmp_path) is None
    assert credentials_problem({}, home=tmp_path) is None


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    problem = credentials_problem({"AWS_PROFILE": "missing"}, home=tmp_path)
    assert problem is not None
    assert "'missing'" in problem


def _clean_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["HOME"] = str(home)
    return env


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_deploy_without_credentials_fails_fast_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "deploy", "STAGE=dev"],
        cwd=ROOT,
        env=_clean_env(tmp_path),
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
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "local-only stage" in lines[0]
