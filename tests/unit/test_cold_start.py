"""What a cold start loads and prints, in a fresh interpreter as Lambda would start one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.app import middlewares

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import sys, service.lambda_handler; "
    "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('aws_xray_sdk', 'connexion'))}))"
)


def cold_start(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("USERS_API_", "PYTHONWARNINGS", "POWERTOOLS_"))
    }
    env.update({"STAGE": "dev", "AWS_DEFAULT_REGION": "eu-west-1", **settings})
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_a_cold_start_prints_no_warning() -> None:
    started = cold_start()
    assert started.stderr == ""


def test_with_tracing_off_the_xray_sdk_is_not_even_imported() -> None:
    assert "aws_xray_sdk" in cold_start(USERS_API_TRACING="true").stdout
    assert "aws_xray_sdk" not in cold_start(USERS_API_TRACING="false").stdout


def test_the_lambda_middleware_list_leaves_out_what_behind_the_gateway_does_nothing() -> None:
    lean = {cls.__name__ for cls in middlewares(swagger_ui=False, validate_responses=False)}
    full = {cls.__name__ for cls in middlewares(swagger_ui=True, validate_responses=True)}
    assert full - lean == {"SwaggerUIMiddleware", "ResponseValidationMiddleware"}
    assert {"RoutingMiddleware", "SecurityMiddleware", "RequestValidationMiddleware"} <= lean
