"""Typed settings, loaded once from the one settings file (settings.yaml).

Order of precedence, lowest first: `defaults`, the stage's section, SSM Parameter Store
(on AWS, when USERS_API_SSM_PATH is set; service keys only), environment variables
(`USERS_API_<KEY>` for service keys, plus DYNAMODB_ENDPOINT and TABLE_NAME).
A missing or malformed value stops start-up with a SettingsError naming it.

infra/ and loadtest/ read the same file through `load_settings`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "settings.yaml"
ENV_PREFIX = "USERS_API_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _positive(value: float) -> bool:
    return value > 0


def _non_negative(value: float) -> bool:
    return value >= 0


def _check(rule: typing.Callable[[Any], bool], text: str) -> dict[str, Any]:
    return {"rule": rule, "text": text}


POSITIVE = _check(_positive, "must be > 0")
NON_NEGATIVE = _check(_non_negative, "must be >= 0")
PERCENT = _check(lambda v: 0 <= v <= 100, "must be between 0 and 100")


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    table_name: str = dataclasses.field(metadata=_check(bool, "must not be empty"))
    log_level: str = dataclasses.field(
        metadata=_check(lambda v: v in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}")
    )
    max_body_bytes: int = dataclasses.field(metadata=POSITIVE)
    retry_after_seconds: int = dataclasses.field(metadata=NON_NEGATIVE)
    api_key: str
    dynamodb_endpoint: str
    dynamodb_region: str = dataclasses.field(metadata=_check(bool, "must not be empty"))
    dynamodb_connect_timeout_seconds: float = dataclasses.field(metadata=POSITIVE)
    dynamodb_read_timeout_seconds: float = dataclasses.field(metadata=POSITIVE)
    dynamodb_max_attempts: int = dataclasses.field(
        metadata=_check(lambda v: 1 <= v <= 10, "must be between 1 and 10")
    )
    ssm_max_age_seconds: int = dataclasses.field(metadata=NON_NEGATIVE)


@dataclasses.dataclass(frozen=True)
class LambdaSettings:
    runtime: str = dataclasses.field(
        metadata=_check(lambda v: v.startswith("python3."), "must be a pythonX.Y runtime")
    )
    architecture: str = dataclasses.field(
        metadata=_check(lambda v: v in ("arm64", "x86_64"), "must be arm64 or x86_64")
    )
    memory_mb: int = dataclasses.field(
        metadata=_check(lambda v: 128 <= v <= 10240, "must be between 128 and 10240")
    )
    timeout_seconds: int = dataclasses.field(
        metadata=_check(lambda v: 1 <= v <= 900, "must be between 1 and 900")
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
class LoadSettings:
    requests_per_day: int = dataclasses.field(metadata=POSITIVE)
    peak_to_average: float = dataclasses.field(metadata=_check(lambda v: v >= 1, "must be >= 1"))
    night_to_average: float = dataclasses.field(
        metadata=_check(lambda v: 0 <= v <= 1, "must be between 0 and 1")
    )
    daily_run_seconds: int = dataclasses.field(metadata=POSITIVE)
    peak_run_seconds: int = dataclasses.field(metadata=POSITIVE)
    peak_throttle_fraction: float = dataclasses.field(
        metadata=_check(lambda v: 0 < v <= 1, "must be > 0 and <= 1")
    )
    smoke_run_seconds: int = dataclasses.field(metadata=POSITIVE)
    smoke_users: int = dataclasses.field(metadata=POSITIVE)
    think_time_min_seconds: float = dataclasses.field(metadata=NON_NEGATIVE)
    think_time_max_seconds: float = dataclasses.field(metadata=NON_NEGATIVE)
    mix: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Settings:
    stage: str
    service: ServiceSettings
    lambda_: LambdaSettings
    api: ApiSettings
    alarms: AlarmSettings
    load: LoadSettings
    tags: dict[str, str]


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """Convert a raw value (YAML scalar or env/SSM string) to `kind`, or raise naming it."""
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is str:
            if value is None:
                return ""
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(value)
            return str(value)
        origin = typing.get_origin(kind)
        if origin is dict and isinstance(value, Mapping):
            _, value_kind = typing.get_args(kind)
            return {str(k): _coerce(f"{name}.{k}", value_kind, v) for k, v in value.items()}
    except (TypeError, ValueError):
        pass
    raise SettingsError(f"setting {name}: {value!r} is not a valid {getattr(kind, '__name__', kind)}")


def _build(cls: type, section: str, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"setting {section}: must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise SettingsError(f"setting {section}.{unknown[0]}: unknown key")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        full = f"{section}.{name}"
        if name not in raw:
            raise SettingsError(f"setting {full}: missing")
        value = _coerce(full, hints[name], raw[name])
        rule = field.metadata.get("rule")
        if rule is not None and not rule(value):
            raise SettingsError(f"setting {full}: {value!r} {field.metadata['text']}")
        values[name] = value
    return cls(**values)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_file(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    """The settings file as a mapping (yaml is imported only here)."""
    import yaml

    from service.contract import safe_loader

    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=safe_loader())  # noqa: S506 - a safe loader
    if not isinstance(document, Mapping) or "defaults" not in document:
        raise SettingsError(f"settings file {path}: needs a 'defaults' mapping")
    return dict(document)


def stages(document: Mapping[str, Any] | None = None) -> list[str]:
    """The stage names the settings file declares."""
    document = document if document is not None else read_file()
    return sorted(document.get("stages") or {})


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    names = {f.name for f in dataclasses.fields(ServiceSettings)}
    overrides = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names
    }
    # Conventional names, kept for tools that expect them.
    if "DYNAMODB_ENDPOINT" in environ:
        overrides.setdefault("dynamodb_endpoint", environ["DYNAMODB_ENDPOINT"])
    if "TABLE_NAME" in environ:
        overrides.setdefault("table_name", environ["TABLE_NAME"])
    return overrides


def _ssm_overrides(path: str, max_age: int) -> dict[str, str]:
    """Service keys from SSM Parameter Store, through Powertools' cached provider."""
    from aws_lambda_powertools.utilities import parameters

    values = parameters.get_parameters(path, max_age=max_age, recursive=False)
    names = {f.name for f in dataclasses.fields(ServiceSettings)}
    return {key: str(value) for key, value in values.items() if key in names}


def load_settings(
    stage: str | None = None,
    environ: Mapping[str, str] | None = None,
    document: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the settings of `stage` (default: $STAGE, else "local")."""
    environ = os.environ if environ is None else environ
    document = read_file() if document is None else document
    stage = stage or environ.get("STAGE") or "local"
    declared = document.get("stages") or {}
    if stage not in declared:
        raise SettingsError(f"setting STAGE: unknown stage {stage!r} (known: {', '.join(sorted(declared))})")
    raw = _merge(document["defaults"], declared[stage] or {})
    service = dict(raw.get("service") or {})
    ssm_path = environ.get(f"{ENV_PREFIX}SSM_PATH", "")
    if ssm_path:
        max_age = int(_coerce("service.ssm_max_age_seconds", int, service.get("ssm_max_age_seconds", 300)))
        service.update(_ssm_overrides(ssm_path, max_age))
    service.update(_env_overrides(environ))
    if isinstance(service.get("table_name"), str):
        service["table_name"] = service["table_name"].replace("{stage}", stage)
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise SettingsError("setting tags: must be a mapping")
    return Settings(
        stage=stage,
        service=_build(ServiceSettings, "service", service),
        lambda_=_build(LambdaSettings, "lambda", raw.get("lambda")),
        api=_build(ApiSettings, "api", raw.get("api")),
        alarms=_build(AlarmSettings, "alarms", raw.get("alarms")),
        load=_build(LoadSettings, "load", raw.get("load")),
        tags={str(k): str(v) for k, v in tags.items()},
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, loaded once (cold start)."""
    return load_settings()


def as_flat_service_parameters(settings: Settings) -> dict[str, str]:
    """Service settings as SSM parameter values (name -> string), for infra."""
    return {
        field.name: _to_text(getattr(settings.service, field.name))
        for field in dataclasses.fields(ServiceSettings)
    }


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = [
    "AlarmSettings",
    "ApiSettings",
    "LambdaSettings",
    "LoadSettings",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "as_flat_service_parameters",
    "get_settings",
    "load_settings",
    "stages",
]
