"""infra's sections of settings.yaml (`lambda`, `api`, `alarms`, `tags`), validated where infra uses them.

The service validates only its own section at cold start (service.settings); these are checked
when a stack is built, by the same rules (`build_section`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from service.settings import (
    NON_NEGATIVE,
    PERCENT,
    POSITIVE,
    ServiceSettings,
    SettingsError,
    build_section,
    check,
    load_settings,
    stage_document,
)


@dataclasses.dataclass(frozen=True)
class LambdaSettings:
    runtime: str = dataclasses.field(
        metadata=check(lambda v: v.startswith("python3."), "must be a pythonX.Y runtime")
    )
    architecture: str = dataclasses.field(
        metadata=check(lambda v: v in ("arm64", "x86_64"), "must be arm64 or x86_64")
    )
    memory_mb: int = dataclasses.field(
        metadata=check(lambda v: 128 <= v <= 10240, "must be between 128 and 10240")
    )
    timeout_seconds: int = dataclasses.field(
        metadata=check(lambda v: 1 <= v <= 900, "must be between 1 and 900")
    )
    snapstart: bool
    log_retention_days: int = dataclasses.field(metadata=POSITIVE)
    reserved_concurrency: int = dataclasses.field(metadata=NON_NEGATIVE)


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    throttle_rate_per_second: float = dataclasses.field(metadata=POSITIVE)
    throttle_burst: int = dataclasses.field(metadata=POSITIVE)
    quota_per_day: int = dataclasses.field(metadata=POSITIVE)


@dataclasses.dataclass(frozen=True)
class AlarmSettings:
    """CloudWatch alarm thresholds; loadtest judges its runs by the same numbers."""

    error_rate_percent: float = dataclasses.field(metadata=PERCENT)
    p95_latency_ms: float = dataclasses.field(metadata=POSITIVE)
    p99_latency_ms: float = dataclasses.field(metadata=POSITIVE)
    five_xx_count: int = dataclasses.field(metadata=NON_NEGATIVE)
    throttle_count: int = dataclasses.field(metadata=NON_NEGATIVE)
    four_xx_rate_percent: float = dataclasses.field(metadata=PERCENT)
    lambda_p99_duration_ms: float = dataclasses.field(metadata=POSITIVE)
    period_seconds: int = dataclasses.field(metadata=POSITIVE)
    evaluation_periods: int = dataclasses.field(metadata=POSITIVE)


@dataclasses.dataclass(frozen=True)
class InfraSettings:
    stage: str
    service: ServiceSettings
    lambda_: LambdaSettings
    api: ApiSettings
    alarms: AlarmSettings
    tags: dict[str, str]


def load_infra_settings(stage: str, document: Mapping[str, Any] | None = None) -> InfraSettings:
    """The stage's settings as infra needs them (the environment is ignored: a synth is reproducible)."""
    raw = stage_document(stage, document)
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise SettingsError("setting tags: must be a mapping")
    return InfraSettings(
        stage=stage,
        service=load_settings(stage, environ={}, document=document).service,
        lambda_=build_section(LambdaSettings, "lambda", raw.get("lambda")),
        api=build_section(ApiSettings, "api", raw.get("api")),
        alarms=build_section(AlarmSettings, "alarms", raw.get("alarms")),
        tags={str(k): str(v) for k, v in tags.items()},
    )
