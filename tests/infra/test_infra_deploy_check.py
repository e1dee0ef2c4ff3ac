"""The pre-traffic hook (service.deploy_check) against the real bundle, on the local path.

The new version is the Lambda bundle as infra builds it, served by a separate interpreter that sees
only the bundle and what the Lambda runtime provides (`bundle_invoke.py`: imported once, then one
event per invocation), with the stage's environment pointed at the session's engine. The hook's
Lambda client invokes it there; its CodeDeploy client is botocore's, stubbed: the test asserts the
one PutLifecycleEventHookExecutionStatus call and its status. A copy of the bundle whose read handler
raises (a broken build answering 500) must fail the hook, and nothing the hook sends may write.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.sources import runtime_dir
from infra.bundle import Bundle, build_bundle, local_architecture
from infra.config import load_stage
from infra.function import HANDLER
from local.engine import Engine
from local.stage import LOCAL_CREDENTIALS
from service import deploy_check
from service.contract import get_contract
from service.time_limits import CallLimits
from tests.infra.function_environment import REGION, function_environment

pytestmark = pytest.mark.infra

INVOKE = Path(__file__).resolve().with_name("bundle_invoke.py")
LOCAL_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

STAGE = "dev"
TARGET = f"arn:aws:lambda:{REGION}:123456789012:function:users-api-{STAGE}:7"
CLIENT_ID = "4example0client0id0deploycheck"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_example"
DEPLOYMENT_ID = "d-EXAMPLE123"
EXECUTION_ID = "hook-execution-1"


class LocalVersion:
    """A Lambda client whose `invoke` runs the bundle's handler in its own interpreter."""

    def __init__(self, sys_path: list[str], environment: dict[str, str], tmp_path: Path) -> None:
        module, _, handler = HANDLER.rpartition(".")
        request = tmp_path / f"invoke-{uuid.uuid4().hex}.json"
        request.write_text(json.dumps({"sys_path": sys_path, "module": module, "handler": handler}))
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-I", "-B", str(INVOKE), str(request), str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self.answers = os.fdopen(read_fd, encoding="utf-8")
        self.events: list[dict[str, Any]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert FunctionName == TARGET
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.events.append(event)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        line = self.answers.readline()
        if not line:
            raise RuntimeError(
                f"the version exited: {self.process.stderr.read() if self.process.stderr else ''}"
            )
        answer = json.loads(line)
        if "error" in answer:
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(answer["error"]).encode()),
            }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer["payload"]).encode())}

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.answers.close()


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    """The bundle as infra builds it, for this machine's platform and Python (so that it runs here)."""
    return build_bundle(LOCAL_VERSION, local_architecture(), "required", python=sys.executable)


def _table(engine: Engine) -> str:
    from local.tables import ensure_table

    table = f"users-api-deploy-check-{uuid.uuid4().hex[:8]}"
    ensure_table(_client("dynamodb", engine.endpoint), table)
    return table


def _client(service: str, endpoint: str | None = None) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _items(engine: Engine, table: str) -> int:
    client = _client("dynamodb", engine.endpoint)
    return int(client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"])


def _environment(engine: Engine, table: str) -> dict[str, str]:
    """The function's environment as infra sets it on AWS (no SSM here), pointed at the engine; the
    hook's consumer is one of the Cognito clients infra names in USERS_API_CLIENT_IDS."""
    config = load_stage(STAGE)
    return function_environment(
        STAGE,
        engine,
        table,
        {CLIENT_ID: config.settings.deploy.check_consumer},
        AWS_LAMBDA_FUNCTION_VERSION=TARGET.rsplit(":", 1)[1],
        POWERTOOLS_LOG_LEVEL="WARNING",
    )


def _hook_environment() -> dict[str, str]:
    return {
        deploy_check.TARGET: TARGET,
        deploy_check.STAGE: STAGE,
        deploy_check.CLIENT_ID: CLIENT_ID,
        deploy_check.SCOPES: " ".join(deploy_check.read_scopes(get_contract())),
        deploy_check.ISSUER: ISSUER,
        deploy_check.INVOKE_TIMEOUT: str(load_stage(STAGE).settings.lambda_.timeout_seconds),
    }


def _codedeploy(expected_status: str | None) -> Any:
    """botocore's CodeDeploy client, stubbed: expects one status report (or none)."""
    from botocore.stub import Stubber

    client = _client("codedeploy")
    stubber = Stubber(client)
    if expected_status is not None:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EXECUTION_ID},
            {
                "deploymentId": DEPLOYMENT_ID,
                "lifecycleEventHookExecutionId": EXECUTION_ID,
                "status": expected_status,
            },
        )
    stubber.activate()
    client.stubber = stubber
    return client


CODEDEPLOY_EVENT = {"DeploymentId": DEPLOYMENT_ID, "LifecycleEventHookExecutionId": EXECUTION_ID}


@pytest.fixture
def version_of(engine: Engine, tmp_path: Path) -> Iterator[Any]:
    started: list[LocalVersion] = []

    def start(bundle_path: Path, table: str) -> LocalVersion:
        version = LocalVersion([str(bundle_path), str(runtime_dir())], _environment(engine, table), tmp_path)
        started.append(version)
        return version

    yield start
    for version in started:
        version.close()


def _run(
    version: LocalVersion, codedeploy: Any, event: Mapping[str, Any] = CODEDEPLOY_EVENT
) -> dict[str, Any]:
    return deploy_check.run_hook(
        event,
        lambda_clients=lambda _limits: version,
        codedeploy_client=codedeploy,
        environ=_hook_environment(),
        remaining_seconds=lambda: 600.0,
    )


def test_a_sound_version_passes_and_the_hook_reports_succeeded(
    bundle: Bundle, engine: Engine, version_of: Any
) -> None:
    table = _table(engine)
    version = version_of(bundle.path, table)
    codedeploy = _codedeploy(deploy_check.SUCCEEDED)
    findings = _run(version, codedeploy)
    assert findings["status"] == deploy_check.SUCCEEDED, findings
    codedeploy.stubber.assert_no_pending_responses()
    reads = [op.operation_id for op in deploy_check.read_operations(get_contract())]
    assert findings["checked"] == reads
    assert len(reads) >= 2, "getHealth and at least one read of the users"


def test_the_hook_sends_reads_built_from_the_contract_with_a_read_only_consumers_claims(
    bundle: Bundle, engine: Engine, version_of: Any
) -> None:
    table = _table(engine)
    version = version_of(bundle.path, table)
    _run(version, _codedeploy(deploy_check.SUCCEEDED))
    contract = get_contract()
    reads = deploy_check.read_operations(contract)
    assert [(event["httpMethod"], event["resource"]) for event in version.events] == [
        (op.method, op.path) for op in reads
    ]
    read_scopes = set(deploy_check.read_scopes(contract))
    for operation, event in zip(reads, version.events, strict=True):
        assert event["httpMethod"] in ("GET", "HEAD"), "the hook writes nothing"
        if not operation.needs_auth:
            assert "authorizer" not in event["requestContext"], operation.operation_id
            continue
        claims = event["requestContext"]["authorizer"]["claims"]
        assert claims["client_id"] == CLIENT_ID
        assert claims["token_use"] == "access"
        assert claims["iss"] == ISSUER
        assert set(claims["scope"].split()) == read_scopes
        assert all(isinstance(value, str) for value in claims.values()), "the gateway passes strings"
        assert event["headers"]["Authorization"].startswith("Bearer ")
        assert contract.api_key_header in event["headers"]
    assert _items(engine, table) == 0, "nothing was written"


def test_a_version_that_answers_500_fails_the_hook(
    bundle: Bundle, engine: Engine, version_of: Any, tmp_path: Path
) -> None:
    # A broken build: the handler of the first read with a path parameter raises (connexion answers 500).
    target = next(op for op in deploy_check.read_operations(get_contract()) if op.path_parameters)
    module, _, function = target.handler.rpartition(".")
    broken = tmp_path / "broken-bundle"
    shutil.copytree(bundle.path, broken, symlinks=True)
    source = broken.joinpath(*module.split(".")).with_suffix(".py")
    source.write_text(
        source.read_text(encoding="utf-8")
        + f"\n\ndef {function}(*args, **kwargs):\n    raise RuntimeError('a broken build')\n",
        encoding="utf-8",
    )
    shutil.rmtree(source.parent / "__pycache__")  # its bytecode would still be the sound build's
    version = version_of(broken, _table(engine))
    codedeploy = _codedeploy(deploy_check.FAILED)
    findings = _run(version, codedeploy)
    assert findings["status"] == deploy_check.FAILED
    assert findings["failed"] == [target.operation_id]
    codedeploy.stubber.assert_no_pending_responses()


def test_a_version_that_cannot_start_fails_the_hook(
    bundle: Bundle, engine: Engine, version_of: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "no-start-bundle"
    shutil.copytree(bundle.path, broken, symlinks=True)
    module = HANDLER.rpartition(".")[0]
    source = broken.joinpath(*module.split(".")).with_suffix(".py")
    source.write_text("raise ImportError('a module the build forgot')\n", encoding="utf-8")
    shutil.rmtree(source.parent / "__pycache__")
    version = version_of(broken, _table(engine))
    codedeploy = _codedeploy(deploy_check.FAILED)
    findings = _run(version, codedeploy)
    assert findings["status"] == deploy_check.FAILED
    assert findings["failed"] == findings["checked"]
    codedeploy.stubber.assert_no_pending_responses()


# ---- the hook's own failures are reported too ------------------------------------------------------


class Answers:
    """A Lambda client answering every invocation with `answer` (or raising it)."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.calls = 0

    def invoke(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}


def test_a_hook_without_its_configuration_still_reports_failed() -> None:
    codedeploy = _codedeploy(deploy_check.FAILED)
    environ = {k: v for k, v in _hook_environment().items() if k != deploy_check.TARGET}
    findings = deploy_check.run_hook(
        CODEDEPLOY_EVENT,
        lambda_clients=lambda _limits: Answers({}),
        codedeploy_client=codedeploy,
        environ=environ,
        remaining_seconds=lambda: 600.0,
    )
    assert deploy_check.TARGET in str(findings["error"])
    codedeploy.stubber.assert_no_pending_responses()


def _returning(value: float) -> Any:
    return lambda: value


def _hook(client: Answers, remaining: float, codedeploy: Any, event: dict[str, Any]) -> dict[str, Any]:
    return deploy_check.run_hook(
        event,
        lambda_clients=lambda _limits: client,
        codedeploy_client=codedeploy,
        environ=_hook_environment(),
        remaining_seconds=_returning(remaining),
    )


def test_an_invoke_that_fails_fails_its_check_and_the_hook() -> None:
    client, codedeploy = Answers(ConnectionError("no route")), _codedeploy(deploy_check.FAILED)
    findings = _hook(client, 600.0, codedeploy, CODEDEPLOY_EVENT)
    assert findings["status"] == deploy_check.FAILED
    assert findings["error"] is None, "the checks ran: each invoke failed, nothing else"
    assert findings["checked"] and findings["failed"] == findings["checked"]
    assert client.calls == len(findings["checked"])
    codedeploy.stubber.assert_no_pending_responses()


def test_a_hook_out_of_time_sends_nothing_more_and_fails() -> None:
    client, codedeploy = Answers(ConnectionError("never sent")), _codedeploy(deploy_check.FAILED)
    findings = _hook(client, 1.0, codedeploy, CODEDEPLOY_EVENT)
    assert findings["status"] == deploy_check.FAILED
    assert findings["error"] is None
    assert client.calls == 0, "no invoke starts without the time to finish it"
    assert len(findings["checked"]) == 1 and findings["failed"] == findings["checked"]
    codedeploy.stubber.assert_no_pending_responses()


def test_run_by_hand_it_reports_nothing_and_returns_its_findings() -> None:
    codedeploy = _codedeploy(None)
    client = Answers(ConnectionError("x"))
    findings = _hook(client, 600.0, codedeploy, {})
    assert findings["status"] == deploy_check.FAILED and findings["error"] is None
    assert findings["failed"] == findings["checked"] and client.calls == len(findings["checked"])
    codedeploy.stubber.assert_no_pending_responses()


# ---- the hook reports before its own timeout, however long the invokes take ------------------------


class Clock:
    """The hook's time: its Lambda timeout, and the seconds spent so far."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.now = 0.0

    def remaining(self) -> float:
        return self.timeout - self.now


class NeverAnswers:
    """A Lambda client whose invokes take as long as its limits let botocore wait: every attempt waits
    out its connect and read timeouts, every retry its longest backoff, then the call fails."""

    def __init__(self, clock: Clock, limits: CallLimits, calls: list[CallLimits]) -> None:
        self.clock, self.limits, self.calls = clock, limits, calls

    def invoke(self, **_: Any) -> dict[str, Any]:
        self.calls.append(self.limits)
        self.clock.now += self.limits.longest_seconds
        raise TimeoutError(f"Read timeout on endpoint URL (after {self.limits.attempts} attempts)")


class SlowCodeDeploy:
    """A CodeDeploy client whose report takes as long as REPORT_LIMITS let it: when does it end?"""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.reported: list[tuple[str, float]] = []

    def put_lifecycle_event_hook_execution_status(self, **request: Any) -> dict[str, Any]:
        self.clock.now += deploy_check.REPORT_LIMITS.longest_seconds
        self.reported.append((request["status"], self.clock.now))
        return {"lifecycleEventHookExecutionId": request["lifecycleEventHookExecutionId"]}


def _checks() -> int:
    return len(deploy_check.read_operations(get_contract()))


def _function_timeout() -> int:
    return load_stage(STAGE).settings.lambda_.timeout_seconds


@pytest.mark.parametrize(
    "timeout",
    [
        deploy_check.hook_timeout_seconds(_function_timeout(), _checks()),
        120.0,
        60.0,
        45.0,
        30.0,
        deploy_check.REPORT_RESERVE_SECONDS,
    ],
)
def test_invokes_that_never_answer_still_leave_the_hook_time_to_report_failed(timeout: float) -> None:
    clock = Clock(timeout)
    calls: list[CallLimits] = []
    codedeploy = SlowCodeDeploy(clock)
    findings = deploy_check.run_hook(
        CODEDEPLOY_EVENT,
        lambda_clients=lambda limits: NeverAnswers(clock, limits, calls),
        codedeploy_client=codedeploy,
        environ=_hook_environment(),
        remaining_seconds=clock.remaining,
    )
    assert findings["status"] == deploy_check.FAILED
    assert codedeploy.reported == [(deploy_check.FAILED, clock.now)]
    assert clock.now <= timeout, f"reported at {clock.now:.1f} s, after the hook's {timeout:.1f} s timeout"
    assert all(limits.attempts >= 1 for limits in calls)


def test_the_hooks_timeout_holds_every_check_at_its_longest() -> None:
    clock = Clock(deploy_check.hook_timeout_seconds(_function_timeout(), _checks()))
    calls: list[CallLimits] = []
    findings = deploy_check.run_hook(
        CODEDEPLOY_EVENT,
        lambda_clients=lambda limits: NeverAnswers(clock, limits, calls),
        codedeploy_client=SlowCodeDeploy(clock),
        environ=_hook_environment(),
        remaining_seconds=clock.remaining,
    )
    assert len(calls) == _checks() == len(findings["checked"]), "every check was sent"
    assert {limits.attempts for limits in calls} == {deploy_check.INVOKE_MAX_ATTEMPTS}
    assert all(limits.read_seconds > _function_timeout() for limits in calls)


def test_call_limits_are_botocores_configuration() -> None:
    limits = CallLimits(connect_seconds=3.0, read_seconds=25.0, attempts=2)
    config = limits.botocore_config()
    assert (config.connect_timeout, config.read_timeout) == (3.0, 25.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert limits.longest_seconds == 2 * (3.0 + 25.0) + 1.0 + 5.0


class SilentEndpoint:
    """A TCP endpoint on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                self.held.append(self.server.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in [*self.held, self.server]:
            connection.close()


class CodeDeployEndpoint(http.server.ThreadingHTTPServer):
    """CodeDeploy's JSON protocol on 127.0.0.1: records each call with the time it arrived."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        super().__init__(("127.0.0.1", 0), CodeDeployCall)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class CodeDeployCall(http.server.BaseHTTPRequestHandler):
    server: CodeDeployEndpoint

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.calls.append((time.monotonic(), self.headers["X-Amz-Target"], request))
        answer = json.dumps({"lifecycleEventHookExecutionId": request["lifecycleEventHookExecutionId"]})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *_: Any) -> None:
        pass


def test_the_handler_reports_failed_before_its_timeout_when_the_version_never_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """botocore's own timeouts and retries, through the handler's clients, against endpoints on
    127.0.0.1: Lambda's never answers, CodeDeploy's records when the report arrives."""
    lambda_endpoint, codedeploy_endpoint = SilentEndpoint(), CodeDeployEndpoint()
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    environment = {
        **_hook_environment(),
        deploy_check.INVOKE_TIMEOUT: "1",  # a version whose timeout is 1 s: reads time out after 6 s
        "AWS_ENDPOINT_URL_LAMBDA": lambda_endpoint.url,
        "AWS_ENDPOINT_URL_CODEDEPLOY": codedeploy_endpoint.url,
        "AWS_DEFAULT_REGION": REGION,
        **LOCAL_CREDENTIALS,  # the local engine's: nothing here reaches AWS
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    timeout = 30.0
    deadline = time.monotonic() + timeout

    class Context:
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return int((deadline - time.monotonic()) * 1000)

    try:
        findings = deploy_check.handler(dict(CODEDEPLOY_EVENT), Context())
    finally:
        lambda_endpoint.close()
        codedeploy_endpoint.shutdown()
        codedeploy_endpoint.server_close()

    assert findings["status"] == deploy_check.FAILED
    [(arrived, target, request)] = codedeploy_endpoint.calls
    assert target.endswith(".PutLifecycleEventHookExecutionStatus")
    assert request["status"] == deploy_check.FAILED and request["deploymentId"] == DEPLOYMENT_ID
    late = arrived - deadline
    assert late < 0, f"the report arrived {late:.1f} s after the hook's {timeout:.0f} s timeout"


# ---- judging an answer by the contract -----------------------------------------------------------


def _check(status: int, media_types: tuple[str, ...]) -> deploy_check.Check:
    return deploy_check.Check(operation_id="op", event={}, status=status, media_types=media_types)


@pytest.mark.parametrize(
    ("check", "response", "problem"),
    [
        (_check(404, ("application/problem+json",)), {"statusCode": 500, "body": "{}"}, "answered 500"),
        (
            _check(404, ("application/problem+json",)),
            {"statusCode": 404, "headers": {"Content-Type": "text/html"}, "body": "<p>"},
            "Content-Type 'text/html'",
        ),
        (
            _check(404, ("application/problem+json",)),
            {
                "statusCode": 404,
                "headers": {"content-type": "application/problem+json"},
                "body": '{"status": 400}',
            },
            "whose status is not 404",
        ),
        (
            _check(200, ("application/json",)),
            {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": "{",
                "isBase64Encoded": False,
            },
            "not JSON",
        ),
        (
            _check(200, ("application/json",)),
            {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": "e30=",
                "isBase64Encoded": True,
            },
            "base64",
        ),
        (_check(204, ()), {"statusCode": 204, "body": "x"}, "a body where the contract declares none"),
        (_check(200, ("application/json",)), {"body": "{}"}, "not an API Gateway proxy response"),
    ],
)
def test_an_answer_that_is_not_the_contracts_is_named(
    check: deploy_check.Check, response: dict[str, Any], problem: str
) -> None:
    found = deploy_check.judge(check, response)
    assert found is not None and problem in found


def test_the_contracts_answer_passes() -> None:
    assert (
        deploy_check.judge(
            _check(404, ("application/problem+json",)),
            {
                "statusCode": 404,
                "multiValueHeaders": {"Content-Type": ["application/problem+json; charset=utf-8"]},
                "body": '{"type": "about:blank", "title": "Not Found", "status": 404}',
            },
        )
        is None
    )
