"""`make verify STAGE=local`: schemathesis (examples, coverage) and the Locust smoke gate on a local
stage started for the run. It passes on this tree and fails on a copy whose handler answers 500 for
one operation (the one the load mix weighs most, so the load gate sees it too)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest._settings import load_run_settings
from service.contract import get_contract

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("service", "local", "consumers", "loadtest", "infra")
COPIED_FILES = ("openapi.yaml", "settings.yaml", "schemathesis.toml")
TIMEOUT_SECONDS = 600


def verify(root: Path, reports: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local.verify", "--stage", "local", "--reports", str(reports)]
    return subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )


def summary_of(run: subprocess.CompletedProcess[str]) -> str:
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("verify, stage local"))
    return "\n".join(lines[start:])


def test_verify_passes_on_a_healthy_local_stage(tmp_path: Path) -> None:
    run = verify(ROOT, tmp_path)
    summary = summary_of(run)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "): PASS" in summary and "FAIL" not in summary
    assert (tmp_path / "verify-local-schemathesis.xml").is_file()
    assert (tmp_path / "verify-local-load.html").is_file()


def test_verify_fails_when_one_operation_answers_500(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    for folder in COPIED:
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in COPIED_FILES:
        shutil.copy(ROOT / name, copy / name)
    mix = load_run_settings("local").load.mix
    operation = get_contract().operation(max(mix, key=lambda operation_id: mix[operation_id]))
    assert operation.controller is not None
    module = copy / (operation.controller.replace(".", "/") + ".py")
    module.write_text(
        module.read_text(encoding="utf-8")
        + f"\n\ndef _broken(*_args, **_kwargs):\n    raise RuntimeError('broken on purpose')\n\n"
        f"{operation.operation_id} = _broken\n",
        encoding="utf-8",
    )

    run = verify(copy, tmp_path / "reports")

    summary = summary_of(run)
    assert run.returncode == 1, summary
    assert "): FAIL" in summary
    assert "FAIL contract" in summary and "FAIL load" in summary, summary
