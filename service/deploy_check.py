"""CodeDeploy's pre-traffic hook: before the `live` alias moves, the new version answers the contract.

CodeDeploy invokes `handler` with {"DeploymentId", "LifecycleEventHookExecutionId"} once the new
version is published and before any traffic shifts to it. The hook sends that version (its ARN is
in DEPLOY_CHECK_TARGET) one API Gateway event per read operation of the contract, built from the
contract (`plan`), and judges each answer by what the contract declares (`judge`):

- a public operation (getHealth): its success response;
- an operation with path parameters (getUser): a fresh, well-formed id nobody has, so its 404;
- any other read (listUsers): its success response, with only its required parameters.

Each answer must have the expected status, one of the media types the contract declares for it,
a JSON body when it declares one (a problem's `status` matching the answer's), and no Lambda error.
Only GET and HEAD operations are sent: the hook writes nothing. A protected operation's event
carries what the gateway would add after its Cognito authorizer let the request through: the
`Authorization` and API key headers, and in `requestContext.authorizer.claims` the verified claims
of a read-only access token of the consumer named by the stage's `deploy.check_consumer` (its
client id, `token_use` access, the read scopes, the pool's issuer). Behind the gateway the function
takes those claims from the event and does not read the token itself, so the event's bearer token
is a placeholder.

Then it reports Succeeded or Failed to CodeDeploy (PutLifecycleEventHookExecutionStatus), whatever
happened: an unreported hook would hold the deployment until CodeDeploy's one-hour timeout.
Invoked by hand (an event without DeploymentId), it reports nothing and returns its findings.

It always reports before its own Lambda timeout, however long the invokes take: every AWS call it
makes is bounded (botocore's connect and read timeouts per attempt, a number of attempts:
`CallLimits`), the report's time is kept in reserve (`REPORT_RESERVE_SECONDS`), and each invoke gets
only the attempts the time left holds (`invoke_limits`); a check no invoke fits in any more fails
unsent. infra gives the hook `hook_timeout_seconds`: room for every check at its longest.

Standard library and the Lambda runtime's boto3 only, plus service.contract, service.time_limits
and service.gateway_events: none of the app is imported.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from service.contract import Contract, Operation, Parameter, get_contract, is_json
from service.gateway_events import api_gateway_event, authorizer_claims
from service.time_limits import CallLimits

READ_METHODS = ("GET", "HEAD")
SUCCEEDED = "Succeeded"
FAILED = "Failed"
# The bearer token of the hook's events: behind the gateway the function reads the claims, never it.
PLACEHOLDER_TOKEN = "deploy-check"  # noqa: S105 - not a credential
PLACEHOLDER_API_KEY = "deploy-check"

# The hook's configuration (infra/deploys.py sets them).
TARGET = "DEPLOY_CHECK_TARGET"  # the new version's ARN
STAGE = "DEPLOY_CHECK_STAGE"
CLIENT_ID = "DEPLOY_CHECK_CLIENT_ID"  # the read-only consumer's app client id
SCOPES = "DEPLOY_CHECK_SCOPES"  # its read scopes, space-separated
ISSUER = "DEPLOY_CHECK_ISSUER"  # the user pool's issuer URL
INVOKE_TIMEOUT = "DEPLOY_CHECK_INVOKE_TIMEOUT_SECONDS"  # the checked function's own timeout
CONFIG_KEYS = (TARGET, STAGE, CLIENT_ID, SCOPES, ISSUER, INVOKE_TIMEOUT)

# An invoke of the new version: a connection to Lambda's regional endpoint within 3 s, and an answer
# within the version's own timeout plus a margin (a cold or restoring version answers later than a
# warm one); a second attempt (a dropped connection, a throttle) when the time left holds it.
INVOKE_CONNECT_SECONDS = 3.0
INVOKE_READ_MARGIN_SECONDS = 5.0
INVOKE_MAX_ATTEMPTS = 2
# The hook's own work outside its AWS calls (the plan, a client's creation, the logs).
HOOK_MARGIN_SECONDS = 2.0
MAX_LAMBDA_TIMEOUT_SECONDS = 900


# The report to CodeDeploy, and the time the hook keeps for it whatever the checks took.
REPORT_LIMITS = CallLimits(connect_seconds=2.0, read_seconds=3.0, attempts=2)
REPORT_RESERVE_SECONDS = REPORT_LIMITS.longest_seconds + HOOK_MARGIN_SECONDS

Invoke = Callable[[Mapping[str, Any], CallLimits], Mapping[str, Any]]


class ConfigError(ValueError):
    """The hook's environment lacks a value; the message names it."""


@dataclasses.dataclass(frozen=True)
class Check:
    """One request to the new version and the answer the contract says it must give."""

    operation_id: str
    event: Mapping[str, Any]
    status: int
    media_types: tuple[str, ...]  # those the contract declares for that answer; empty: no body


@dataclasses.dataclass(frozen=True)
class Outcome:
    operation_id: str
    expected: int
    status: int | None
    problem: str | None  # None: the answer is the contract's

    @property
    def ok(self) -> bool:
        return self.problem is None


def read_operations(contract: Contract) -> tuple[Operation, ...]:
    """The operations the hook may send: reads only, in the contract's order."""
    return tuple(operation for operation in contract.operations if operation.method in READ_METHODS)


def read_scopes(contract: Contract) -> tuple[str, ...]:
    """The scopes of the read operations: what the hook's read-only token holds."""
    found: dict[str, None] = {}
    for operation in read_operations(contract):
        found.update(dict.fromkeys(operation.scopes))
    return tuple(found)


def unknown_value(parameter: Parameter) -> str:
    """A value the parameter's schema accepts that names nothing: a fresh UUID where it is one."""
    schema = parameter.schema
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(schema.get("minimum", 1))
    return uuid.uuid4().hex[: max(1, int(schema.get("minLength", 1)))]


def expected_status(operation: Operation, granted: frozenset[str]) -> int:
    if operation.needs_auth and not set(operation.scopes) <= granted:
        return 403
    if operation.path_parameters and "404" in operation.responses:
        return 404
    return int(operation.success.status)


def plan(
    contract: Contract,
    *,
    stage: str,
    region: str,
    client_id: str,
    scopes: tuple[str, ...],
    issuer: str,
) -> list[Check]:
    """One check per read operation of the contract."""
    claims = authorizer_claims(client_id=client_id, scopes=scopes, issuer=issuer)
    granted = frozenset(scopes)
    api_key_header = contract.api_key_header
    checks: list[Check] = []
    for operation in read_operations(contract):
        path_parameters = {p.name: unknown_value(p) for p in operation.path_parameters}
        query = {p.name: unknown_value(p) for p in operation.parameters_in("query") if p.required}
        headers = {p.name: unknown_value(p) for p in operation.parameters_in("header") if p.required}
        status = expected_status(operation, granted)
        response = operation.response(status)
        media_types = response.media_types if response is not None else ()
        headers["Accept"] = ", ".join(media_types) or "*/*"  # what the contract declares for that answer
        if operation.needs_auth:
            headers["Authorization"] = f"Bearer {PLACEHOLDER_TOKEN}"
            if api_key_header is not None:
                headers[api_key_header] = PLACEHOLDER_API_KEY
        event = api_gateway_event(
            operation.method,
            operation.url(**path_parameters),
            resource=operation.path,
            path_parameters=path_parameters or None,
            query=query or None,
            headers=headers,
            stage=stage,
            region=region,
            claims=claims if operation.needs_auth else None,
        )
        checks.append(
            Check(operation_id=operation.operation_id, event=event, status=status, media_types=media_types)
        )
    return checks


def _header(response: Mapping[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower() and values:
            return str(values[0])
    return None


def judge(check: Check, response: Mapping[str, Any]) -> str | None:
    """None when the proxy response is the one the contract declares, else what is wrong."""
    if "statusCode" not in response:
        return f"not an API Gateway proxy response: {sorted(response)[:5]}"
    status = int(response["statusCode"])
    if status != check.status:
        return f"answered {status}, the contract says {check.status}"
    body = response.get("body") or ""
    if not check.media_types:
        return f"a body where the contract declares none ({len(body)} characters)" if body else None
    content_type = (_header(response, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type not in check.media_types:
        return f"Content-Type {content_type!r}, the contract declares {list(check.media_types)}"
    if response.get("isBase64Encoded"):
        return f"a {content_type} body base64-encoded"
    if is_json(content_type):
        try:
            document = json.loads(body)
        except ValueError:
            return f"a {content_type} body that is not JSON"
        if content_type == "application/problem+json" and (
            not isinstance(document, dict) or document.get("status") != status
        ):
            return f"a problem whose status is not {status}"
    return None


def invoke_limits(function_timeout: float, available_seconds: float) -> CallLimits | None:
    """The limits of one invoke of the new version when `available_seconds` are left for it: as many
    attempts (up to INVOKE_MAX_ATTEMPTS) as fit at their longest; None when not even one does."""
    for attempts in range(INVOKE_MAX_ATTEMPTS, 0, -1):
        limits = CallLimits(INVOKE_CONNECT_SECONDS, function_timeout + INVOKE_READ_MARGIN_SECONDS, attempts)
        if limits.longest_seconds <= available_seconds:
            return limits
    return None


def hook_timeout_seconds(function_timeout: float, checks: int) -> int:
    """The hook's Lambda timeout: every check at its longest invoke, then the report (at most 900 s,
    Lambda's limit; the hook then sends fewer attempts or fewer checks, and still reports)."""
    longest = CallLimits(
        INVOKE_CONNECT_SECONDS, function_timeout + INVOKE_READ_MARGIN_SECONDS, INVOKE_MAX_ATTEMPTS
    )
    return min(
        MAX_LAMBDA_TIMEOUT_SECONDS, math.ceil(checks * longest.longest_seconds + REPORT_RESERVE_SECONDS)
    )


def run(
    checks: list[Check], invoke: Invoke, remaining_seconds: Callable[[], float], function_timeout: float
) -> list[Outcome]:
    """Send each check in the time left, REPORT_RESERVE_SECONDS kept to report; a check no invoke of
    the new version fits in any more fails unsent, and the next ones are not sent."""
    outcomes: list[Outcome] = []
    for check in checks:
        limits = invoke_limits(function_timeout, remaining_seconds() - REPORT_RESERVE_SECONDS)
        if limits is None:
            outcomes.append(Outcome(check.operation_id, check.status, None, "no time left to send it"))
            break
        try:
            response = invoke(check.event, limits)
        except Exception as error:  # any failure to invoke fails the check, with its reason
            outcomes.append(Outcome(check.operation_id, check.status, None, f"invoke failed: {error!r}"))
            continue
        status = response.get("statusCode")
        outcomes.append(
            Outcome(
                check.operation_id,
                check.status,
                int(status) if isinstance(status, int | str) and str(status).isdigit() else None,
                judge(check, response),
            )
        )
    return outcomes


def lambda_invoker(clients: Callable[[CallLimits], Any], target: str) -> Invoke:
    """Invoke `target` (a version ARN) synchronously, through a Lambda client held to the invoke's
    limits (`clients`); a Lambda error (the handler raised or timed out) is raised with the runtime's
    message."""

    def invoke(event: Mapping[str, Any], limits: CallLimits) -> Mapping[str, Any]:
        answer = clients(limits).invoke(
            FunctionName=target, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            detail = payload.get("errorMessage") if isinstance(payload, dict) else payload
            raise RuntimeError(f"{answer['FunctionError']} error: {detail}")
        if not isinstance(payload, dict):
            raise RuntimeError(f"the handler returned {type(payload).__name__}, not a proxy response")
        return payload

    return invoke


def configuration(environ: Mapping[str, str]) -> dict[str, str]:
    missing = [key for key in CONFIG_KEYS if not environ.get(key)]
    if missing:
        raise ConfigError(f"the hook's environment lacks {', '.join(missing)}")
    return {key: environ[key] for key in CONFIG_KEYS}


def log(record: Mapping[str, Any]) -> None:
    print(json.dumps({"service": "users-api-deploy-check", **record}), flush=True)


def run_hook(
    event: Mapping[str, Any],
    *,
    lambda_clients: Callable[[CallLimits], Any],
    codedeploy_client: Any,
    environ: Mapping[str, str],
    remaining_seconds: Callable[[], float],
    contract: Contract | None = None,
) -> dict[str, Any]:
    """Check the new version and report to CodeDeploy; returns the findings. `lambda_clients` gives a
    Lambda client held to the given limits; `codedeploy_client` should be held to REPORT_LIMITS."""
    deployment_id = event.get("DeploymentId")
    execution_id = event.get("LifecycleEventHookExecutionId")
    outcomes: list[Outcome] = []
    error: str | None = None
    try:
        config = configuration(environ)
        region = config[TARGET].split(":")[3] if config[TARGET].count(":") >= 3 else ""
        checks = plan(
            contract if contract is not None else get_contract(),
            stage=config[STAGE],
            region=region,
            client_id=config[CLIENT_ID],
            scopes=tuple(config[SCOPES].split()),
            issuer=config[ISSUER],
        )
        if not checks:
            raise ConfigError("the contract has no read operation to check")
        invoke = lambda_invoker(lambda_clients, config[TARGET])
        outcomes = run(checks, invoke, remaining_seconds, float(config[INVOKE_TIMEOUT]))
    except Exception as failure:  # whatever went wrong, CodeDeploy must hear of it
        error = f"{type(failure).__name__}: {failure}"
    status = SUCCEEDED if error is None and outcomes and all(o.ok for o in outcomes) else FAILED
    for outcome in outcomes:
        log({"check": outcome.operation_id, **dataclasses.asdict(outcome), "ok": outcome.ok})
    findings = {
        "status": status,
        "deploymentId": deployment_id,
        "error": error,
        "failed": [o.operation_id for o in outcomes if not o.ok],
        "checked": [o.operation_id for o in outcomes],
    }
    log(findings)
    if deployment_id and execution_id:
        codedeploy_client.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
        )
    return findings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    @functools.cache
    def lambda_client(limits: CallLimits) -> Any:
        return boto3.client("lambda", config=limits.botocore_config())

    started = time.monotonic()

    def remaining_seconds() -> float:
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return float(context.get_remaining_time_in_millis()) / 1000
        return MAX_LAMBDA_TIMEOUT_SECONDS - (time.monotonic() - started)

    return run_hook(
        event,
        lambda_clients=lambda_client,
        codedeploy_client=boto3.client("codedeploy", config=REPORT_LIMITS.botocore_config()),
        environ=os.environ,
        remaining_seconds=remaining_seconds,
    )
