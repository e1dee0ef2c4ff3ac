"""infra's sections of settings.yaml (`lambda`, `api`, `alarms`, `deploy`, `auth`, `clients`, `tags`),
validated where infra uses them.

The service validates only its own section at cold start (service.settings); these are checked
when a stack is built, by the same rules (`build_section`). `auth` and `clients` are read by
service.settings' own loaders (the local issuer reads them too), with the contract's scopes as the
only scopes a client may hold; what only infra cares about is checked here: a consumer's usage
plan never promises more than the stage gives (its throttle within the stage's, the consumers'
daily quotas together within `api.quota_per_day`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Annotated, Any

from service.contract import Contract, get_contract
from service.deploy_check import read_scopes
from service.repository import (
    ANSWER_RESERVE_SECONDS,
    TRANSACTION_ATTEMPTS,
    attempt_reserve_seconds,
    dynamodb_limits,
)
from service.settings import (
    NON_NEGATIVE,
    PERCENT,
    POSITIVE,
    AuthSettings,
    ClientSettings,
    ServiceSettings,
    SettingsError,
    between,
    build_section,
    check,
    load_auth,
    load_clients,
    load_settings,
    one_of,
    stage_document,
)


@dataclasses.dataclass(frozen=True)
class LambdaSettings:
    runtime: Annotated[str, check(lambda v: v.startswith("python3."), "must be a pythonX.Y runtime")]
    architecture: Annotated[str, one_of(("arm64", "x86_64"))]
    memory_mb: Annotated[int, between(128, 10240)]
    timeout_seconds: Annotated[int, between(1, 900)]
    snapstart: bool
    log_retention_days: Annotated[int, POSITIVE]
    reserved_concurrency: Annotated[int, NON_NEGATIVE]


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    """The stage's own limits: its throttle (every request, whoever sends it) and its daily budget,
    which the consumers' usage-plan quotas share."""

    throttle_rate_per_second: Annotated[float, POSITIVE]
    throttle_burst: Annotated[int, POSITIVE]
    quota_per_day: Annotated[int, POSITIVE]


# An address SNS can mail: one "@", a dot in the domain, no spaces (SNS checks the rest when it sends).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email_addresses(addresses: tuple[str, ...]) -> bool:
    return all(_EMAIL.fullmatch(address) for address in addresses) and len(set(addresses)) == len(addresses)


@dataclasses.dataclass(frozen=True)
class AlarmSettings:
    """CloudWatch alarm thresholds (loadtest judges its runs by the same numbers) and who they page."""

    error_rate_percent: Annotated[float, PERCENT]
    p95_latency_ms: Annotated[float, POSITIVE]
    p99_latency_ms: Annotated[float, POSITIVE]
    five_xx_count: Annotated[int, NON_NEGATIVE]
    throttle_count: Annotated[int, NON_NEGATIVE]
    four_xx_rate_percent: Annotated[float, PERCENT]
    lambda_p99_duration_ms: Annotated[float, POSITIVE]
    period_seconds: Annotated[int, POSITIVE]
    evaluation_periods: Annotated[int, POSITIVE]
    datapoints_to_alarm: Annotated[int, POSITIVE]
    min_requests: Annotated[int, POSITIVE]
    notify: Annotated[tuple[str, ...], check(_email_addresses, "must be distinct email addresses")]


# CloudWatch: an alarm's evaluation periods together span at most a day.
MAX_ALARM_EVALUATION_SECONDS = 86400


def check_alarms(alarms: AlarmSettings) -> None:
    """An alarm breaches on `datapoints_to_alarm` of its last `evaluation_periods` periods: M of N."""
    if alarms.datapoints_to_alarm > alarms.evaluation_periods:
        raise SettingsError(
            f"setting alarms.datapoints_to_alarm: {alarms.datapoints_to_alarm} is more than "
            f"alarms.evaluation_periods ({alarms.evaluation_periods}): no alarm could ever breach"
        )
    if alarms.evaluation_periods * alarms.period_seconds > MAX_ALARM_EVALUATION_SECONDS:
        raise SettingsError(
            f"setting alarms.evaluation_periods: {alarms.evaluation_periods} periods of "
            f"alarms.period_seconds ({alarms.period_seconds} s) span more than the day CloudWatch allows"
        )


STRATEGIES = ("all_at_once", "canary", "linear")


@dataclasses.dataclass(frozen=True)
class DeploySettings:
    """How CodeDeploy moves the `live` alias to a new version, and what brakes it."""

    strategy: Annotated[str, one_of(STRATEGIES)]
    traffic_percent: Annotated[int, between(1, 99)]
    interval_minutes: Annotated[int, between(1, 2880, "CodeDeploy's limit")]
    # AWS/Lambda and AWS/ApiGateway publish one datapoint a minute: a shorter period would leave most
    # of a brake's evaluations without data, which does not breach, and a bad canary could go on.
    alarm_period_seconds: Annotated[
        int,
        check(
            lambda v: v > 0 and v % 60 == 0,
            "must be a positive multiple of 60 (AWS/Lambda and AWS/ApiGateway publish 1-minute metrics: "
            "a shorter period leaves most evaluations without data, which does not stop a deploy)",
        ),
    ]
    check_consumer: Annotated[str, check(bool, "must name a consumer of `clients`")]

    @property
    def shifts(self) -> bool:
        """Whether traffic moves in steps (a canary or linear), with a window for the alarms to act."""
        return self.strategy != "all_at_once"


def check_deploy(deploy: DeploySettings, clients: Mapping[str, ClientSettings], contract: Contract) -> None:
    """The bake window holds two alarm periods (one breach is seen before traffic moves on), and the
    hook's consumer may read everything the hook reads."""
    if deploy.shifts and deploy.interval_minutes * 60 < 2 * deploy.alarm_period_seconds:
        raise SettingsError(
            f"setting deploy.interval_minutes: {deploy.interval_minutes} minute(s) hold fewer than two "
            f"deploy.alarm_period_seconds ({deploy.alarm_period_seconds} s): the alarms could not stop a "
            "bad version before it takes more traffic"
        )
    if deploy.check_consumer not in clients:
        raise SettingsError(
            f"setting deploy.check_consumer: {deploy.check_consumer!r} is not a consumer of `clients` "
            f"({', '.join(sorted(clients))})"
        )
    lacking = sorted(set(read_scopes(contract)) - set(clients[deploy.check_consumer].scopes))
    if lacking:
        raise SettingsError(
            f"setting deploy.check_consumer: {deploy.check_consumer!r} lacks {', '.join(lacking)}, "
            "the scope(s) of read operations the pre-traffic hook checks"
        )


# Stages that only exist on a developer's machine (`make run`, uvicorn: no Lambda, no timeout of its
# own): infra refuses to build them (infra.config), and their DynamoDB timeouts suit the local engine.
LOCAL_ONLY_STAGES = frozenset({"local"})
# API Gateway gives up on a Lambda integration after 29 s (its default integration timeout) and
# answers 504; a function killed by its own timeout first gets the client a 502.
API_GATEWAY_INTEGRATION_SECONDS = 29
# The longest chain of DynamoDB calls one request makes one after the other: update and delete read
# the user, then write one transaction, which the repository tries again on a conflict.
SEQUENTIAL_DYNAMODB_CALLS = 1 + TRANSACTION_ATTEMPTS


def dynamodb_call_seconds(service: ServiceSettings) -> float:
    """The longest one DynamoDB call can take in a brownout: each attempt waits out its connect and
    read timeouts, and botocore waits its longest backoff before each retry. Not counted: the up to
    5 s more an answer may ask for (x-amz-retry-after); when those would not fit, the repository's
    deadline guard answers 503 before the timeout (service.repository, `_refuse_late_attempt`)."""
    return dynamodb_limits(service).longest_seconds_of(asked_waits=False)


def request_seconds(service: ServiceSettings) -> float:
    """The longest a request can spend in DynamoDB: SEQUENTIAL_DYNAMODB_CALLS calls at their longest.
    (A write not tied to one version, a delete without If-Match or a change under If-Match: *, that
    loses to a concurrent write reads and writes again, up to service.users.WRITE_ATTEMPTS times:
    that needs writers racing on the same user during a brownout, and is not counted; the deadline
    guard bounds it too.)"""
    return SEQUENTIAL_DYNAMODB_CALLS * dynamodb_call_seconds(service)


def check_time_budget(service: ServiceSettings, lambda_: LambdaSettings) -> None:
    """In a DynamoDB brownout the function must give up and answer the contract's 503 before Lambda
    kills it (API Gateway would answer 502), and Lambda's timeout must come before API Gateway's."""
    timeout = lambda_.timeout_seconds
    if timeout >= API_GATEWAY_INTEGRATION_SECONDS:
        raise SettingsError(
            f"setting lambda.timeout_seconds: {timeout} s is not below API Gateway's "
            f"{API_GATEWAY_INTEGRATION_SECONDS} s integration timeout: the gateway would answer 504 "
            "while the function still runs"
        )
    call = dynamodb_call_seconds(service)
    worst = request_seconds(service)
    if worst + ANSWER_RESERVE_SECONDS > timeout:
        raise SettingsError(
            f"setting lambda.timeout_seconds: {timeout} s does not hold the slowest request plus "
            f"{ANSWER_RESERVE_SECONDS:g} s to answer it: {SEQUENTIAL_DYNAMODB_CALLS} DynamoDB calls "
            f"in a row (a read, then a transaction tried up to {TRANSACTION_ATTEMPTS} times) of up to "
            f"{call:.2f} s each (service.dynamodb_max_attempts {service.dynamodb_max_attempts} x "
            f"(service.dynamodb_connect_timeout_seconds {service.dynamodb_connect_timeout_seconds:g} + "
            f"service.dynamodb_read_timeout_seconds {service.dynamodb_read_timeout_seconds:g}) + botocore's "
            f"backoff) = {worst:.2f} s. In a DynamoDB brownout Lambda would kill the function and API "
            "Gateway answer 502 instead of the contract's 503: shorten the DynamoDB timeouts or attempts"
        )
    reserve = attempt_reserve_seconds(dynamodb_limits(service))
    if reserve >= timeout:
        raise SettingsError(
            f"setting lambda.timeout_seconds: {timeout} s leaves no DynamoDB attempt sendable: the "
            f"repository sends one only with {reserve:.2f} s left (the attempt at its longest, botocore's "
            "longest wait before another, the 503), so every request would answer 503: lengthen the "
            "timeout or shorten the DynamoDB timeouts or attempts"
        )


@dataclasses.dataclass(frozen=True)
class InfraSettings:
    stage: str
    service: ServiceSettings
    lambda_: LambdaSettings
    api: ApiSettings
    alarms: AlarmSettings
    deploy: DeploySettings
    auth: AuthSettings
    clients: dict[str, ClientSettings]
    tags: dict[str, str]


def check_clients_within_the_stage(clients: Mapping[str, ClientSettings], api: ApiSettings) -> None:
    """A consumer's plan above the stage's throttle would never take effect, and quotas adding up to
    more than `api.quota_per_day` would promise the consumers more than the stage is sized for."""
    for name, client in clients.items():
        if client.throttle_rate_per_second > api.throttle_rate_per_second:
            raise SettingsError(
                f"setting clients.{name}.throttle_rate_per_second: {client.throttle_rate_per_second:g} is "
                f"above the stage's api.throttle_rate_per_second ({api.throttle_rate_per_second:g})"
            )
        if client.throttle_burst > api.throttle_burst:
            raise SettingsError(
                f"setting clients.{name}.throttle_burst: {client.throttle_burst} is above the stage's "
                f"api.throttle_burst ({api.throttle_burst})"
            )
    total = sum(client.quota_per_day for client in clients.values())
    if total > api.quota_per_day:
        raise SettingsError(
            f"setting clients.*.quota_per_day: together {total} a day, above the stage's api.quota_per_day "
            f"({api.quota_per_day})"
        )


def load_infra_settings(
    stage: str, document: Mapping[str, Any] | None = None, contract: Contract | None = None
) -> InfraSettings:
    """The stage's settings as infra needs them (the environment is ignored: a synth is reproducible);
    `contract` (default: openapi.yaml) declares the scopes a client may hold."""
    raw = stage_document(stage, document)
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise SettingsError("setting tags: must be a mapping")
    api = build_section(ApiSettings, "api", raw.get("api"))
    contract = contract if contract is not None else get_contract()
    clients = load_clients(stage, document, known_scopes=contract.scopes)
    check_clients_within_the_stage(clients, api)
    deploy = build_section(DeploySettings, "deploy", raw.get("deploy"))
    check_deploy(deploy, clients, contract)
    alarms = build_section(AlarmSettings, "alarms", raw.get("alarms"))
    check_alarms(alarms)
    service = load_settings(stage, environ={}, document=document).service
    lambda_ = build_section(LambdaSettings, "lambda", raw.get("lambda"))
    if stage not in LOCAL_ONLY_STAGES:
        check_time_budget(service, lambda_)
    return InfraSettings(
        stage=stage,
        service=service,
        lambda_=lambda_,
        api=api,
        alarms=alarms,
        deploy=deploy,
        auth=load_auth(stage, document),
        clients=clients,
        tags={str(k): str(v) for k, v in tags.items()},
    )
