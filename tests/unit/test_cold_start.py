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


def run_probe(probe: str) -> subprocess.CompletedProcess[str]:
    """`probe` in a fresh interpreter, stage dev, no settings from the environment."""
    prefixes = ("USERS_API_", "POWERTOOLS_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update({"STAGE": "dev", "AWS_DEFAULT_REGION": "eu-west-1"})
    command = [sys.executable, "-c", probe]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)


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


def test_without_the_runtimes_hook_library_the_handler_loads_and_registers_no_hook() -> None:
    """snapshot_restore_py exists only in the managed runtime: elsewhere registering is a no-op."""
    probe = (
        "import sys; sys.modules['snapshot_restore_py'] = None; "
        "import service.lambda_handler as f, service.snapstart as s; "
        "print(callable(f.handler), s._runtime is None)"
    )
    found = run_probe(probe)
    assert found.stdout.split() == ["True", "True"]


def test_with_the_runtimes_hook_library_the_handler_registers_its_hooks() -> None:
    probe = (
        "import snapshot_restore_py as r, service.lambda_handler as f; "
        "print([h.__name__ for h, _, _ in r.get_before_snapshot()], "
        "[h.__name__ for h, _, _ in r.get_after_restore()])"
    )
    found = run_probe(probe)
    assert found.stdout.strip() == "['before_snapshot'] ['after_restore']"
