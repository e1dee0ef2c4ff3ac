from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.settings import load_infra_settings
from loadtest._settings import load_run_settings
from service.settings import SettingsError, as_flat_service_parameters, load_settings, read_file, stages


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return read_file()


def test_every_declared_stage_loads_and_validates(document: dict[str, Any]) -> None:
    for stage in stages(document):
        settings = load_settings(stage, environ={}, document=document)
        assert settings.stage == stage
        assert stage in settings.service.table_name or settings.service.table_name == "users-local"


def test_stage_section_overrides_defaults_key_by_key(document: dict[str, Any]) -> None:
    prod = load_infra_settings("prod", document=document)
    dev = load_infra_settings("dev", document=document)
    assert prod.lambda_.memory_mb == document["stages"]["prod"]["lambda"]["memory_mb"]
    assert dev.lambda_.memory_mb == document["defaults"]["lambda"]["memory_mb"]
    assert dev.service.table_name == "users-api-dev"
    assert dev.lambda_.snapstart is False and prod.lambda_.snapstart is True


def test_environment_overrides_service_keys_with_type_conversion(document: dict[str, Any]) -> None:
    environ = {
        "USERS_API_MAX_BODY_BYTES": "2048",
        "DYNAMODB_ENDPOINT": "http://127.0.0.1:1",
        "TABLE_NAME": "t",
    }
    settings = load_settings("dev", environ=environ, document=document)
    assert settings.service.max_body_bytes == 2048
    assert settings.service.dynamodb_endpoint == "http://127.0.0.1:1"
    assert settings.service.table_name == "t"


def test_stage_defaults_to_the_STAGE_variable_then_local(document: dict[str, Any]) -> None:
    assert load_settings(environ={"STAGE": "prod"}, document=document).stage == "prod"
    assert load_settings(environ={}, document=document).stage == "local"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"USERS_API_MAX_BODY_BYTES": "lots"}, "service.max_body_bytes"),
        ({"USERS_API_MAX_BODY_BYTES": "0"}, "service.max_body_bytes"),
        ({"USERS_API_LOG_LEVEL": "LOUD"}, "service.log_level"),
        ({"USERS_API_DYNAMODB_MAX_ATTEMPTS": "99"}, "service.dynamodb_max_attempts"),
        ({"USERS_API_DYNAMODB_READ_TIMEOUT_SECONDS": "-1"}, "service.dynamodb_read_timeout_seconds"),
        ({"STAGE": "nowhere"}, "STAGE"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_setting(
    document: dict[str, Any], environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        load_settings(environ=environ, document=document)


def test_missing_and_unknown_keys_in_the_file_are_named(document: dict[str, Any]) -> None:
    missing = copy.deepcopy(document)
    del missing["defaults"]["alarms"]["p99_latency_ms"]
    with pytest.raises(SettingsError, match=r"alarms\.p99_latency_ms: missing"):
        load_infra_settings("dev", document=missing)
    with pytest.raises(SettingsError, match=r"alarms\.p99_latency_ms: missing"):
        load_run_settings("dev", document=missing)
    unknown = copy.deepcopy(document)
    unknown["stages"]["dev"]["lambda"]["memroy_mb"] = 1
    with pytest.raises(SettingsError, match=r"lambda\.memroy_mb: unknown key"):
        load_infra_settings("dev", document=unknown)


def test_booleans_are_parsed_strictly(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["stages"]["dev"]["lambda"]["snapstart"] = "maybe"
    with pytest.raises(SettingsError, match=r"lambda\.snapstart"):
        load_infra_settings("dev", document=broken)


def test_the_service_validates_only_its_own_section(document: dict[str, Any]) -> None:
    """A broken infra or load section does not stop a cold start: those are checked where used."""
    broken = copy.deepcopy(document)
    broken["stages"]["dev"]["lambda"]["snapstart"] = "maybe"
    broken["defaults"]["load"]["mix"] = "not a mapping"
    assert load_settings("dev", environ={}, document=broken).service.table_name == "users-api-dev"


def test_flat_service_parameters_are_strings_for_ssm(document: dict[str, Any]) -> None:
    flat = as_flat_service_parameters(load_settings("dev", environ={}, document=document).service)
    assert flat["max_body_bytes"] == str(document["defaults"]["service"]["max_body_bytes"])
    assert all(isinstance(value, str) for value in flat.values())


def test_a_local_client_secret_holds_only_unreserved_characters(document: dict[str, Any]) -> None:
    """RFC 6749 2.3.1 form-encodes a secret before HTTP Basic; with unreserved characters only, a
    client that skips that (curl -u, Swagger UI) sends the same bytes as one that does not."""
    from service.settings import load_clients

    odd = copy.deepcopy(document)
    name = next(iter(odd["stages"]["local"]["clients"]))
    odd["stages"]["local"]["clients"][name]["secret"] = "a+b%c"
    with pytest.raises(SettingsError, match=rf"clients\.{name}\.secret"):
        load_clients("local", odd)
    assert all(client.secret for client in load_clients("local", document).values())


def test_the_ssm_read_fits_well_inside_the_snapstart_restore_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The after-restore hook reads the settings again: however SSM fails, the read ends in half
    the time the runtime gives the hooks, so the hook can still log it and keep the snapshot's."""
    from service.settings import SSM_LIMITS, ssm_provider, ssm_read_seconds
    from service.snapstart import HOOKS_SECONDS

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    ssm_provider.cache_clear()
    try:
        config = ssm_provider().client.meta.config
    finally:
        ssm_provider.cache_clear()
    assert (config.connect_timeout, config.read_timeout) == (
        SSM_LIMITS.connect_seconds,
        SSM_LIMITS.read_seconds,
    )
    assert config.retries == {"mode": "standard", "total_max_attempts": SSM_LIMITS.attempts}
    assert ssm_read_seconds() <= HOOKS_SECONDS / 2


def test_settings_that_cannot_be_read_again_leave_the_ones_of_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import settings as module

    first = load_settings("dev", environ={})
    monkeypatch.setattr(module, "load_settings", lambda: first)
    module.get_settings.cache_clear()
    try:
        assert module.get_settings() is first

        def unreachable() -> None:
            raise SettingsError("SSM is unreachable")

        monkeypatch.setattr(module, "load_settings", unreachable)
        with pytest.raises(SettingsError):
            module.reload_settings()
        assert module.get_settings() is first
        second = first._replace(stage="read again")
        monkeypatch.setattr(module, "load_settings", lambda: second)
        assert module.reload_settings() is second
        assert module.get_settings() is second
    finally:
        module.get_settings.cache_clear()
