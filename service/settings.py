"""The service's settings, loaded once at cold start from the one settings file (settings.yaml).

The service reads and validates only its own section (`service`). Order of precedence, lowest
first: `defaults`, the stage's section, SSM Parameter Store (on AWS, when USERS_API_SSM_PATH is
set), environment variables (`USERS_API_<KEY>`, plus DYNAMODB_ENDPOINT and TABLE_NAME).
A missing or malformed value stops start-up with a SettingsError naming it.

infra/ and loadtest/ validate their own sections where they use them (infra/settings.py,
loadtest/_settings.py), with the same rules: `stage_document` gives a stage's merged sections and
`build_section` validates one of them against a class whose fields' types carry the checks
(`Annotated[int, POSITIVE]`). The service's sections are NamedTuples: a frozen dataclass costs a
cold start ~0.7 ms to create, a NamedTuple ~0.1 (docs/performance.md); infra's and loadtest's
may be dataclasses, read the same way. (A schema library was measured for this: msgspec adds
9.4 ms to a cold start after connexion's imports, for eleven scalar settings; the check below costs
well under a millisecond.)
"""

# No `from __future__ import annotations` here: the records' annotations are evaluated once, at
# import, where a string annotation would cost each NamedTuple field a compile at every cold start.

import functools
import json
import os
import re
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar

from service import documents
from service.time_limits import CallLimits

SETTINGS_FILE = documents.ROOT / "settings.yaml"
ENV_PREFIX = "USERS_API_"
T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _positive(value: float) -> bool:
    return value > 0


def _non_negative(value: float) -> bool:
    return value >= 0


class Check(NamedTuple):
    """A setting's rule, and what the error says of a value that breaks it."""

    rule: typing.Callable[[Any], bool]
    text: str


def check(rule: typing.Callable[[Any], bool], text: str) -> Check:
    """The rule of a field, carried by its type: `name: Annotated[int, check(rule, "must be ...")]`."""
    return Check(rule, text)


def between(low: float, high: float, why: str = "") -> Check:
    """`low <= value <= high`."""
    return check(
        lambda value: low <= value <= high, f"must be between {low} and {high}" + (f" ({why})" if why else "")
    )


def one_of(values: Collection[str]) -> Check:
    """One of `values`. (A rule names what it needs as arguments: the type hints that carry it are
    evaluated in the class's namespace, where a lambda would not see the module's names.)"""
    return check(lambda value: value in values, f"must be one of {', '.join(values)}")


POSITIVE = check(_positive, "must be > 0")
NON_NEGATIVE = check(_non_negative, "must be >= 0")
PERCENT = between(0, 100)


class ServiceSettings(NamedTuple):
    table_name: Annotated[str, check(bool, "must not be empty")]
    log_level: Annotated[str, one_of(LOG_LEVELS)]
    max_body_bytes: Annotated[int, POSITIVE]
    retry_after_seconds: Annotated[int, NON_NEGATIVE]
    api_key: str
    dynamodb_endpoint: str
    dynamodb_region: Annotated[str, check(bool, "must not be empty")]
    dynamodb_connect_timeout_seconds: Annotated[float, POSITIVE]
    dynamodb_read_timeout_seconds: Annotated[float, POSITIVE]
    dynamodb_max_attempts: Annotated[int, between(1, 10)]
    ssm_max_age_seconds: Annotated[int, NON_NEGATIVE]
    idempotency_ttl_hours: Annotated[int, between(1, 720)]
    validate_responses: bool  # connexion checks every response against the contract
    tracing: bool  # X-Ray through Powertools' Tracer; off: the X-Ray SDK is not even imported
    # Empty: the gateway verified each token and the function reads its claims from the event.
    # A URL: the function verifies tokens itself against that issuer's JWKS (a local stage).
    token_issuer: Annotated[
        str, check(lambda v: not v or v.startswith(("http://", "https://")), "must be empty or a URL")
    ]
    token_leeway_seconds: Annotated[int, between(0, 300)]
    # OAuth client id -> consumer name: the clients whose tokens the function accepts.
    client_ids: dict[str, str]


class AuthSettings(NamedTuple):
    """The `auth` section: what the authorization server (Cognito, or the local issuer) issues."""

    access_token_minutes: Annotated[int, between(5, 1440, "Cognito's limits")]


UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")
UNRESERVED_TEXT = "must hold only letters, digits and . _ ~ -"


class ClientSettings(NamedTuple):
    """One consumer of the `clients` section: its OAuth client, API key and usage plan."""

    name: str
    description: Annotated[str, check(bool, "must not be empty")]
    scopes: Annotated[tuple[str, ...], check(bool, "must name at least one scope")]
    throttle_rate_per_second: Annotated[float, POSITIVE]
    throttle_burst: Annotated[int, POSITIVE]
    quota_per_day: Annotated[int, POSITIVE]
    # A local stage's client secret; empty where the authorization server makes one. Unreserved
    # characters only: RFC 6749 2.3.1 form-encodes a secret before HTTP Basic, and clients that
    # skip that (curl -u, Swagger UI) then send the same bytes.
    secret: Annotated[str, check(lambda value: UNRESERVED.fullmatch(value) is not None, UNRESERVED_TEXT)]


class Settings(NamedTuple):
    """What the service reads at cold start: its stage and its own section, nothing else."""

    stage: str
    service: ServiceSettings


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
        if origin in (dict, tuple) and isinstance(value, str):
            value = json.loads(value)  # an environment variable or SSM parameter holds JSON
        if origin is dict and isinstance(value, Mapping):
            _, value_kind = typing.get_args(kind)
            return {str(k): _coerce(f"{name}.{k}", value_kind, v) for k, v in value.items()}
        if origin is tuple and isinstance(value, (list, tuple)):
            item_kind = typing.get_args(kind)[0]
            return tuple(_coerce(f"{name}[{i}]", item_kind, v) for i, v in enumerate(value))
    except (TypeError, ValueError):
        pass
    raise SettingsError(f"setting {name}: {value!r} is not a valid {getattr(kind, '__name__', kind)}")


def build_section(cls: type[T], section: str, raw: Any) -> T:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"setting {section}: must be a mapping")
    hints = typing.get_type_hints(cls, include_extras=True)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise SettingsError(f"setting {section}.{unknown[0]}: unknown key")
    values: dict[str, Any] = {}
    for name, hint in hints.items():
        full = f"{section}.{name}"
        if name not in raw:
            raise SettingsError(f"setting {full}: missing")
        kind, checks = _kind_and_checks(hint)
        value = _coerce(full, kind, raw[name])
        for rule in checks:
            if not rule.rule(value):
                raise SettingsError(f"setting {full}: {value!r} {rule.text}")
        values[name] = value
    return cls(**values)


def _kind_and_checks(hint: Any) -> tuple[Any, list[Check]]:
    """`Annotated[int, POSITIVE]` -> (int, [POSITIVE]); a plain type has no check."""
    if typing.get_origin(hint) is Annotated:
        kind, *extras = typing.get_args(hint)
        return kind, [extra for extra in extras if isinstance(extra, Check)]
    return hint, []


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_file(path: Path | None = None) -> dict[str, Any]:
    """The settings file as a mapping: `path`, else the bundle's JSON copy, else settings.yaml."""
    path = path or documents.deployed(SETTINGS_FILE)
    document = documents.read(path)
    if not isinstance(document, Mapping) or "defaults" not in document:
        raise SettingsError(f"settings file {path}: needs a 'defaults' mapping")
    return dict(document)


def stages(document: Mapping[str, Any] | None = None) -> list[str]:
    """The stage names the settings file declares."""
    document = document if document is not None else read_file()
    return sorted(document.get("stages") or {})


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    names = set(ServiceSettings._fields)
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


# The SSM read runs at init and again in SnapStart's after-restore hook, which must finish within
# 10 s with the runtime's own loading (service/snapstart.py), so each call is bounded: one attempt
# (a second would add botocore's backoff and what the answer asks for: 6 s), short timeouts. The
# read is one GetParametersByPath call per SSM_PAGE_SIZE parameters (`ssm_read_seconds`).
SSM_LIMITS = CallLimits(connect_seconds=1.0, read_seconds=1.5, attempts=1)
SSM_PAGE_SIZE = 10  # the most parameters GetParametersByPath gives a call


def ssm_read_seconds() -> float:
    """The longest the SSM read of the service's settings can take: every page of them at its longest
    (the path holds at most one parameter per service setting)."""
    pages = -(-len(ServiceSettings._fields) // SSM_PAGE_SIZE)
    return pages * SSM_LIMITS.longest_seconds


@functools.cache
def ssm_provider() -> Any:
    """Powertools' SSM provider of this process (built on first use): its cache keeps each value
    `ssm_max_age_seconds`, its client is held to SSM_LIMITS, and its connections can be dropped
    (service/snapstart.py)."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto_config=SSM_LIMITS.botocore_config())


def _ssm_overrides(path: str, max_age: int) -> dict[str, str]:
    """Service keys from SSM Parameter Store, through Powertools' cached provider."""
    values = ssm_provider().get_multiple(path, max_age=max_age, recursive=False)
    names = set(ServiceSettings._fields)
    return {key: str(value) for key, value in values.items() if key in names}


def stage_document(stage: str, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stage's sections: `defaults` overridden key by key by `stages.<stage>` (not validated)."""
    document = read_file() if document is None else document
    declared = document.get("stages") or {}
    if stage not in declared:
        raise SettingsError(f"setting STAGE: unknown stage {stage!r} (known: {', '.join(sorted(declared))})")
    return _merge(document["defaults"], declared[stage] or {})


def stage_from(environ: Mapping[str, str]) -> str:
    return environ.get("STAGE") or "local"


def load_settings(
    stage: str | None = None,
    environ: Mapping[str, str] | None = None,
    document: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the service settings of `stage` (default: $STAGE, else "local")."""
    environ = os.environ if environ is None else environ
    stage = stage or stage_from(environ)
    raw = stage_document(stage, document)
    service = dict(raw.get("service") or {})
    ssm_path = environ.get(f"{ENV_PREFIX}SSM_PATH", "")
    if ssm_path:
        # How long SSM values are cached: the file's, or the environment's where it sets one.
        age = _env_overrides(environ).get("ssm_max_age_seconds", service.get("ssm_max_age_seconds", 300))
        max_age = int(_coerce("service.ssm_max_age_seconds", int, age))
        service.update(_ssm_overrides(ssm_path, max_age))
    service.update(_env_overrides(environ))
    if isinstance(service.get("table_name"), str):
        service["table_name"] = service["table_name"].replace("{stage}", stage)
    return Settings(stage=stage, service=build_section(ServiceSettings, "service", service))


# What `reload_settings` read, handed to `get_settings` to keep (empty the rest of the time).
_reloaded: list[Settings] = []


@functools.cache
def get_settings() -> Settings:
    """The process's settings, loaded once (cold start; again after a SnapStart restore:
    `reload_settings`)."""
    return _reloaded.pop() if _reloaded else load_settings()


def load_auth(stage: str, document: Mapping[str, Any] | None = None) -> AuthSettings:
    """The stage's `auth` section (read by infra and the local issuer)."""
    return build_section(AuthSettings, "auth", stage_document(stage, document).get("auth"))


def load_clients(
    stage: str, document: Mapping[str, Any] | None = None, *, known_scopes: Collection[str] | None = None
) -> dict[str, ClientSettings]:
    """The stage's consumers by name (read by infra, the local stage and loadtest).

    `known_scopes`: the contract's scopes; a client naming another one is refused.
    """
    raw = stage_document(stage, document).get("clients")
    if not isinstance(raw, Mapping) or not raw:
        raise SettingsError("setting clients: must be a mapping with at least one client")
    clients: dict[str, ClientSettings] = {}
    for name, section in raw.items():
        if not isinstance(section, Mapping):
            raise SettingsError(f"setting clients.{name}: must be a mapping")
        if not CLIENT_NAME.fullmatch(str(name)):
            raise SettingsError(f"setting clients.{name}: a name is 1-64 of [a-z0-9-]")
        client = build_section(ClientSettings, f"clients.{name}", {**section, "name": str(name)})
        for scope in client.scopes:
            if known_scopes is not None and scope not in known_scopes:
                raise SettingsError(
                    f"setting clients.{name}.scopes: {scope!r} is not a scope of the contract"
                )
        clients[str(name)] = client
    return clients


def reload_settings() -> Settings:
    """The settings read again: SSM values whose cache expired are fetched, the others kept. When they
    cannot be read (SSM unreachable, a value invalid), the error is raised and `get_settings` keeps
    giving the settings of before."""
    settings = load_settings()
    get_settings.cache_clear()
    _reloaded.append(settings)
    return get_settings()


def as_flat_service_parameters(service: ServiceSettings) -> dict[str, str]:
    """Service settings as SSM parameter values (name -> string), for infra."""
    return {name: _to_text(value) for name, value in service._asdict().items()}


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


__all__ = [
    "AuthSettings",
    "ClientSettings",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "as_flat_service_parameters",
    "build_section",
    "check",
    "get_settings",
    "load_auth",
    "load_clients",
    "load_settings",
    "reload_settings",
    "stage_document",
    "stages",
]
