"""`make verify STAGE=local`: schemathesis (examples, coverage) and the Locust smoke gate on a local
stage started for the run. It passes on this tree and fails on a copy whose handler answers 500 for
one operation (the one the load mix weighs most, so the load gate sees it too)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from consumers.token import request_token
from loadtest._host import children, command_line, stage_role
from loadtest._settings import load_run_settings
from local.verify import Target, deletion_of, local_target
from local.verify import verify as verify_steps
from service.contract import get_contract
from tests.processes import alive, stop_left_behind

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


def listed_users(target: Target) -> list[dict[str, Any]]:
    """The first page of the stage's users, as the verifying client sees them."""
    contract = get_contract()
    headers = {"Authorization": f"Bearer {request_token(target.credentials)['access_token']}"}
    if contract.api_key_header is not None:
        headers[contract.api_key_header] = target.api_key
    request = urllib.request.Request(target.url + contract.operation("listUsers").url(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        items: list[dict[str, Any]] = json.loads(response.read())["items"]
    return items


def _send(target: Target, method: str, path: str, body: Any = None) -> Any:
    contract = get_contract()
    headers = {"Authorization": f"Bearer {request_token(target.credentials)['access_token']}"}
    if contract.api_key_header is not None:
        headers[contract.api_key_header] = target.api_key
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(target.url + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_verify_deletes_every_user_its_steps_created_and_changes_no_other(tmp_path: Path) -> None:
    with local_target() as target:
        # Users verify did not create: on a deployed stage, real ones. schemathesis reuses what answers
        # show (a listed user's id, its ETag) unless verify stops it; verify must leave them as they are.
        create = get_contract().operation("createUser").url()
        others = [
            _send(
                target,
                "POST",
                create,
                {"name": "Someone", "email": f"someone-{uuid.uuid4().hex[:12]}@example.com"},
            )
            for _ in range(5)
        ]
        # The stage may share the session's engine and table: what verify leaves is compared with
        # what was there (a user it left would be among the newest, on the first page).
        before = listed_users(target)
        results = verify_steps(target, tmp_path)
        after = listed_users(target)
        read = get_contract().operation("getUser")
        assert [_send(target, "GET", read.url(userId=user["userId"])) for user in others] == others
    assert [result.name for result in results] == ["contract", "load"]
    assert all(result.passed for result in results), results
    left = [user["email"] for user in after if user not in before]
    assert after == before, f"{len(left)} users left behind: {left}"


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
    # Failed steps delete what they created all the same (the load step always creates users; what
    # the contract step creates depends on the examples its answers allow).
    assert "verify: load: deleted" in run.stdout, run.stdout
    assert "left behind" not in run.stdout


def test_a_sigterm_stops_the_running_step_the_stage_and_its_engine(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "local.verify", "--stage", "local", "--reports", str(tmp_path)]
    log = tmp_path / "verify.log"
    # Its output goes to a file: a pipe would stay open as long as anything it left behind runs.
    with log.open("w", encoding="utf-8") as output:
        run = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    processes: list[int] = []
    try:
        deadline = time.monotonic() + 90
        # The stage is up and the contract step's tool running.
        while "verify: contract:" not in log.read_text(encoding="utf-8") or not any(
            "schemathesis" in command_line(pid) for pid in children(run.pid)
        ):
            assert run.poll() is None and time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)
        processes = children(run.pid)
        roles = [stage_role(command_line(pid)) for pid in processes]
        assert roles.count("engine") == (0 if os.environ.get("DYNAMODB_ENDPOINT") else 1)

        run.send_signal(signal.SIGTERM)
        run.wait(timeout=90)

        assert not alive(processes), [command_line(pid) for pid in alive(processes, wait_seconds=0)]
        assert run.returncode == 128 + signal.SIGTERM, log.read_text(encoding="utf-8")[-3000:]
    finally:
        stop_left_behind(run, processes)


USER_ID = "5df22dc0-0eff-44b5-87d6-eb5097272330"
CREATED = json.dumps({"userId": USER_ID, "name": "Ada Lovelace", "email": "ada@example.com"}).encode()


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "deletion"),
    [
        ("POST", "/users", 201, CREATED, f"/users/{USER_ID}"),
        ("post", "/users", 201, CREATED, f"/users/{USER_ID}"),
        ("POST", "/users", 409, b'{"status": 409}', None),
        ("POST", "/users", 201, b"not json", None),
        ("GET", f"/users/{USER_ID}", 200, CREATED, None),
        ("PATCH", "/users/{userId}", 200, CREATED, None),
        ("POST", "/unknown", 201, CREATED, None),
    ],
)
def test_what_an_answer_created_is_found_by_the_contracts_links(
    method: str, path: str, status: int, body: bytes, deletion: str | None
) -> None:
    found = deletion_of(
        get_contract(), method=method, path=path, status=status, header=lambda _name: None, body=body
    )
    assert found == deletion


def test_the_contract_step_reuses_no_answer_and_writes_only_to_what_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """schemathesis fills requests with values from earlier answers by default (a listed user's id,
    and every new user's ETag is "v1"): on a deployed stage it would change real users. verify turns
    that off, and its hook sends a write to anything it did not create to a resource that is not."""
    import tomllib

    from local import verify_contract_hooks
    from local.verify import CREATED, foreign_write, verify_config

    config = tomllib.loads(verify_config(tmp_path).read_text(encoding="utf-8"))
    for phase in ("examples", "coverage"):
        assert config["phases"][phase]["extra-data-sources"]["responses"] is False

    record = tmp_path / "created"
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    record.write_text(get_contract().operation("deleteUser").url(userId=mine) + "\n", encoding="utf-8")
    monkeypatch.setenv(CREATED, str(record))
    template = get_contract().operation("updateUser").path
    assert foreign_write("PATCH", template, {"userId": theirs})
    assert not foreign_write("PATCH", template, {"userId": mine})
    assert not foreign_write("GET", template, {"userId": theirs})

    case = SimpleNamespace(
        operation=SimpleNamespace(method="PATCH", path=template), path_parameters={"userId": theirs}
    )
    verify_contract_hooks.before_call(None, case)
    assert case.path_parameters["userId"] not in (theirs, mine)
