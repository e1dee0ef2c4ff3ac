"""A deployed stage's token and checks need AWS: without credentials, `make token STAGE=dev` and
`make verify STAGE=dev` stop within seconds with the message `make deploy` gives, and touch nothing."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from infra.preflight import NO_CREDENTIALS
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
