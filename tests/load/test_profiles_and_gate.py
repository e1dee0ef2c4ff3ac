"""The load test's parts without a stage: profiles from settings, the gate, requests from the contract."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from loadtest._contract import check_against_schema, read_traffic
from loadtest._gate import Measured, evaluate, verdict
from loadtest._profiles import REQUESTS_PER_BEHAVIOUR, Dither, build_profile, client_of
from loadtest._settings import load_run_settings as load_settings
from service.contract import get_contract, read_document

pytestmark = pytest.mark.load

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"


def integrate(rate: Callable[[float], float], duration: float, step: float = 0.05) -> float:
    return sum(rate(i * step) * step for i in range(int(duration / step)))


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_daily_profile_sends_a_days_requests_with_the_peak_and_night_from_settings(stage: str) -> None:
    settings = load_settings(stage)
    load = settings.load
    daily = build_profile("daily", settings)
    average = load.requests_per_day / load.daily_run_seconds
    rates = [daily.rate(t / 10) for t in range(load.daily_run_seconds * 10)]

    assert daily.duration_seconds == load.daily_run_seconds
    assert integrate(daily.rate, daily.duration_seconds) == pytest.approx(load.requests_per_day, rel=0.01)
    assert max(rates) == pytest.approx(average * load.peak_to_average, rel=0.01)
    assert min(rates) == pytest.approx(average * load.night_to_average, rel=0.01)
    busiest = max(range(len(rates)), key=rates.__getitem__) / len(rates) * 24
    assert 12 <= busiest <= 16  # the afternoon


def test_users_times_the_client_rate_is_the_target_rate() -> None:
    settings = load_settings("local")
    client = client_of(settings.load)
    mix = settings.load.mix
    per_action = sum(REQUESTS_PER_BEHAVIOUR[k] * w for k, w in mix.items()) / sum(mix.values())
    assert client.requests_per_action == pytest.approx(per_action)
    daily = build_profile("daily", settings)
    assert daily.users_at(120) * client.requests_per_second == pytest.approx(daily.rate(120))


def test_peak_profile_holds_its_share_of_the_usage_plan_throttle_per_stage() -> None:
    for stage in ("dev", "prod"):
        settings = load_settings(stage)
        peak = build_profile("peak", settings)
        held = settings.api.throttle_rate_per_second * settings.load.peak_throttle_fraction
        assert peak.rate(peak.duration_seconds - 1) == pytest.approx(held)
        assert peak.rate(0) == 0
        assert peak.duration_seconds == settings.load.peak_run_seconds


def test_smoke_profile_is_a_few_seconds_of_a_few_clients() -> None:
    settings = load_settings("local")
    smoke = build_profile("smoke", settings)
    assert smoke.duration_seconds == settings.load.smoke_run_seconds <= 10
    assert smoke.users_at(1) == pytest.approx(settings.load.smoke_users)
    assert smoke.max_requests > smoke.expected_requests


def test_a_daily_run_compressed_past_the_designed_peak_rate_is_refused_naming_the_setting() -> None:
    settings = load_settings("local")
    squeezed = dataclasses.replace(settings, load=dataclasses.replace(settings.load, daily_run_seconds=60))
    with pytest.raises(ValueError, match=r"load\.daily_run_seconds: 60 s .* make it >= \d+ s"):
        build_profile("daily", squeezed)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown load profile 'soak'"):
        build_profile("soak", load_settings("local"))


def test_dither_sends_fractional_users_as_whole_ones_without_losing_user_seconds() -> None:
    dither = Dither()
    counts = [dither.count(float(t), 0.62) for t in range(200)]
    assert set(counts) == {0, 1}
    assert sum(counts) == pytest.approx(0.62 * 200, abs=1.5)


def test_gate_passes_a_run_within_every_threshold() -> None:
    alarms = load_settings("local").alarms
    measured = Measured(requests=100, failures=0, p50_ms=5, p95_ms=20, p99_ms=40, five_xx=0, four_xx=10)
    assert evaluate(measured, alarms) == []
    assert verdict(measured, [], "gate").startswith("gate: PASS")


def test_gate_names_each_breached_threshold_with_measured_value_and_limit() -> None:
    alarms = load_settings("local").alarms
    measured = Measured(
        requests=100,
        failures=50,
        p50_ms=5,
        p95_ms=alarms.p95_latency_ms + 1,
        p99_ms=alarms.p99_latency_ms * 2,
        five_xx=50,
        four_xx=30,
        throttled=3,
    )
    lines = verdict(measured, evaluate(measured, alarms), "gate").splitlines()
    assert lines[0] == "gate: FAIL"
    breaches = [line.strip() for line in lines[2:]]
    assert breaches == [
        f"BREACH alarms.error_rate_percent: measured 50 %, limit {alarms.error_rate_percent:g} %",
        f"BREACH alarms.p95_latency_ms: measured {alarms.p95_latency_ms + 1:g} ms, "
        f"limit {alarms.p95_latency_ms:g} ms",
        f"BREACH alarms.p99_latency_ms: measured {alarms.p99_latency_ms * 2:g} ms, "
        f"limit {alarms.p99_latency_ms:g} ms",
        f"BREACH alarms.five_xx_count: measured 50, limit {alarms.five_xx_count}",
        f"BREACH alarms.throttle_count: measured 3, limit {alarms.throttle_count}",
        f"BREACH alarms.four_xx_rate_percent: measured 30 %, limit {alarms.four_xx_rate_percent:g} %",
    ]


def test_gate_fails_a_run_that_sent_nothing() -> None:
    empty = Measured(requests=0, failures=0, p50_ms=0, p95_ms=0, p99_ms=0, five_xx=0, four_xx=0)
    assert [str(b) for b in evaluate(empty, load_settings("local").alarms)] == [
        "BREACH requests sent: measured 0, minimum 1"
    ]


def test_requests_come_from_the_contract() -> None:
    contract = read_document()
    traffic = read_traffic(contract)
    paths = {o.operation_id: (o.method, o.path) for o in get_contract().with_document(contract).operations}
    for operation in (traffic.create_user, traffic.get_user, traffic.get_health):
        assert (operation.method, operation.path) == paths[operation.operation_id]
    assert traffic.api_key_header == contract["components"]["securitySchemes"]["api_key"]["name"]
    user_id = traffic.unknown_user_id()
    assert traffic.user_path(user_id) == traffic.get_user.path.replace("{userId}", user_id)


def test_new_user_bodies_satisfy_the_new_user_schema_and_never_repeat_an_email() -> None:
    traffic = read_traffic()
    bodies = [traffic.new_user() for _ in range(50)]
    for body in bodies:
        check_against_schema(body, traffic.new_user_schema)
    assert len({body["email"] for body in bodies}) == len(bodies)
    with pytest.raises(ValueError, match="does not match"):
        check_against_schema({"name": "x", "email": "no-at-sign"}, traffic.new_user_schema)


def test_bodies_follow_a_changed_contract() -> None:
    contract = read_document()
    schema = contract["components"]["schemas"]["NewUser"]["properties"]
    schema["email"] = {**schema["email"], "example": "grace@example.org"}
    traffic = read_traffic(contract)
    assert traffic.new_user()["email"].endswith("@example.org")


def test_loadtest_holds_no_route_of_its_own() -> None:
    routes = {path for _, path in ((o.method, o.path) for o in get_contract().operations)}
    for module in LOADTEST.glob("*.py"):
        literals = {
            node.value
            for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        found = {text for text in literals for route in routes if re.match(rf"{re.escape(route)}\b", text)}
        assert not found, module


def test_every_behaviour_of_the_mix_is_a_task_of_the_client() -> None:
    tree = ast.parse((LOADTEST / "locustfile.py").read_text(encoding="utf-8"))
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UsersApiClient")
    methods = {n.name for n in client.body if isinstance(n, ast.FunctionDef)}
    assert set(REQUESTS_PER_BEHAVIOUR) <= methods
    assert set(load_settings("local").load.mix) <= set(REQUESTS_PER_BEHAVIOUR)
