"""loadtest's section of settings.yaml (`load`), validated where it is used, plus the numbers it
shares with infra: the gateway's throttle (`api`), the alarm thresholds (`alarms`) and the usage
plan of the load client (`clients.<name>`, the client holding every scope of the contract: every
simulated consumer sends its API key, so its plan's throttle bounds the whole run)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

from consumers.token import client_with_scopes
from infra.settings import AlarmSettings, ApiSettings
from service.contract import get_contract
from service.settings import (
    NON_NEGATIVE,
    POSITIVE,
    ClientSettings,
    ServiceSettings,
    SettingsError,
    between,
    build_section,
    check,
    load_clients,
    load_settings,
    stage_document,
)


@dataclasses.dataclass(frozen=True)
class LoadSettings:
    requests_per_day: Annotated[int, POSITIVE]
    peak_to_average: Annotated[float, check(lambda v: v >= 1, "must be >= 1")]
    night_to_average: Annotated[float, between(0, 1)]
    daily_run_seconds: Annotated[int, POSITIVE]
    peak_run_seconds: Annotated[int, POSITIVE]
    peak_throttle_fraction: Annotated[float, check(lambda v: 0 < v <= 1, "must be > 0 and <= 1")]
    smoke_run_seconds: Annotated[int, POSITIVE]
    smoke_users: Annotated[int, POSITIVE]
    think_time_min_seconds: Annotated[float, NON_NEGATIVE]
    think_time_max_seconds: Annotated[float, NON_NEGATIVE]
    # Weight of each operation of the contract, by operationId (0: no task of its own in the run).
    # That every operation has one and every key is one is checked against the contract
    # (loadtest._scenarios.check_mix), not here.
    mix: Annotated[dict[str, int], check(lambda m: all(w >= 0 for w in m.values()), "weights must be >= 0")]
    unknown_id_reads: Annotated[int, NON_NEGATIVE]
    capacity_step_rate: Annotated[float, POSITIVE]
    capacity_step_seconds: Annotated[int, POSITIVE]
    capacity_max_rate: Annotated[float, POSITIVE]


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a load run reads: its own section, the stage's throttle and alarm thresholds, and the
    load client's usage plan."""

    stage: str
    service: ServiceSettings
    api: ApiSettings
    alarms: AlarmSettings
    load: LoadSettings
    client: ClientSettings  # the load client (consumers.token.full_access_client): its plan's throttle

    @property
    def sustained_limit(self) -> tuple[float, str]:
        """The rate the run may send without a 429 and the setting that sets it: the lower of the
        stage's throttle and the load client's usage plan (one API key for every simulated consumer)."""
        own = f"clients.{self.client.name}.throttle_rate_per_second"
        if self.client.throttle_rate_per_second < self.api.throttle_rate_per_second:
            return self.client.throttle_rate_per_second, own
        return self.api.throttle_rate_per_second, "api.throttle_rate_per_second"


def load_client(stage: str, document: Mapping[str, Any] | None = None) -> ClientSettings:
    """The client of `stage` holding every scope of the contract: the one `make load` and `make verify`
    run as (consumers.token.full_access_client)."""
    clients = load_clients(stage, document)
    try:
        return clients[client_with_scopes(clients, get_contract().scopes)]
    except KeyError as error:
        raise SettingsError(f"setting clients: {error.args[0]}") from None


def load_run_settings(stage: str, document: Mapping[str, Any] | None = None) -> RunSettings:
    raw = stage_document(stage, document)
    return RunSettings(
        stage=stage,
        service=load_settings(stage, environ={}, document=document).service,
        api=build_section(ApiSettings, "api", raw.get("api")),
        alarms=build_section(AlarmSettings, "alarms", raw.get("alarms")),
        load=build_section(LoadSettings, "load", raw.get("load")),
        client=load_client(stage, document),
    )
