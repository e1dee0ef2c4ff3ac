"""The load test's parts without a stage: profiles from settings and the contract, the gate."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from consumers.token import full_access_client
from loadtest._gate import Measured, evaluate, measured, verdict
from loadtest._profiles import Dither, ProfileError, build_profile, client_of
from loadtest._scenarios import ScenarioError, requests_per_action, scenarios
from loadtest._settings import RunSettings, load_run_settings
from service.contract import Contract, get_contract
from service.settings import load_clients
from tests.load.fakes import with_added_operations

pytestmark = pytest.mark.load

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"


def load_settings(stage: str) -> RunSettings:
    """The stage's settings, with a weight of 1 for an operation load.mix lacks: these tests are about
    the profiles; the one about the mix itself is in test_scenarios.py and names what is missing."""
    settings = load_run_settings(stage)
    mix = {key: settings.load.mix.get(key, 1) for key in get_contract().operation_ids}
    return dataclasses.replace(settings, load=dataclasses.replace(settings.load, mix=mix))


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
    plan = scenarios(get_contract(), settings.load.mix)
    assert client.requests_per_action == pytest.approx(
        requests_per_action(plan, settings.load.unknown_id_reads)
    )
    pacing = (settings.load.think_time_min_seconds + settings.load.think_time_max_seconds) / 2
    assert client.pacing_seconds == pytest.approx(pacing)
    daily = build_profile("daily", settings)
    assert daily.users_at(120) * client.requests_per_second == pytest.approx(daily.rate(120))


def test_the_profiles_follow_a_grown_contract_from_its_weights_alone() -> None:
    """Added operations change the client only through load.mix: more deletes, more requests per action."""
    settings = load_settings("local")
    document, added, new_path = with_added_operations(get_contract().document)
    grown = Contract(document)
    mix = {**settings.load.mix, added: 0, new_path: 1}
    load = dataclasses.replace(settings.load, mix=mix)
    assert client_of(load, grown).requests_per_action == pytest.approx(1.0)
    daily = build_profile("daily", dataclasses.replace(settings, load=load), grown)
    assert integrate(daily.rate, daily.duration_seconds) == pytest.approx(load.requests_per_day, rel=0.01)
    with pytest.raises(ScenarioError, match=rf"load\.mix\.{added}: missing"):
        client_of(settings.load, grown)


def test_peak_profile_holds_its_share_of_the_lower_of_the_stage_and_load_client_throttles() -> None:
    for stage in ("dev", "prod"):
        settings = load_settings(stage)
        peak = build_profile("peak", settings)
        plan = load_clients(stage)[full_access_client(stage)].throttle_rate_per_second
        limit = min(settings.api.throttle_rate_per_second, plan)
        assert peak.rate(peak.duration_seconds - 1) == pytest.approx(
            limit * settings.load.peak_throttle_fraction
        )
        assert peak.rate(0) == 0
        assert peak.duration_seconds == settings.load.peak_run_seconds


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
@pytest.mark.parametrize("profile", ["daily", "peak", "smoke"])
def test_no_profile_sends_more_than_the_load_clients_usage_plan_allows(stage: str, profile: str) -> None:
    """Every simulated consumer sends the API key of the client holding every scope: its usage plan's
    throttle bounds the whole run (above it a healthy stage answers 429s and the gate fails)."""
    plan = load_clients(stage)[full_access_client(stage)]
    assert build_profile(profile, load_settings(stage)).peak_rate <= plan.throttle_rate_per_second


def test_a_daily_run_above_the_load_clients_plan_is_refused_naming_the_setting_to_raise() -> None:
    settings = load_settings("dev")
    low = settings.client._replace(throttle_rate_per_second=20.0)
    with pytest.raises(
        ProfileError,
        match=rf"above the 16\.0 the run may send \(clients\.{low.name}\.throttle_rate_per_second 20,.*"
        rf"raise clients\.{low.name}\.throttle_rate_per_second to >= 42",
    ):
        build_profile("daily", dataclasses.replace(settings, client=low))
    # A plan above the stage's throttle: the stage's is the limit, and the setting named.
    high = settings.client._replace(throttle_rate_per_second=settings.api.throttle_rate_per_second * 2)
    low_stage = dataclasses.replace(settings.api, throttle_rate_per_second=20.0)
    with pytest.raises(ProfileError, match=r"raise api\.throttle_rate_per_second to >= 42"):
        build_profile("daily", dataclasses.replace(settings, client=high, api=low_stage))


def test_smoke_profile_is_a_few_seconds_of_a_few_clients() -> None:
    settings = load_settings("local")
    smoke = build_profile("smoke", settings)
    assert settings.load.smoke_run_seconds <= smoke.duration_seconds <= 15
    assert smoke.users_at(1) == pytest.approx(settings.load.smoke_users)
    assert smoke.max_requests > smoke.expected_requests


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_smoke_profile_expects_more_requests_than_the_alarms_judge(stage: str) -> None:
    """The gate judges no run under alarms.min_requests: smoke lasts long enough to send them."""
    settings = load_settings(stage)
    smoke = build_profile("smoke", settings)
    assert smoke.expected_requests >= 1.5 * settings.alarms.min_requests
    assert smoke.min_requests == settings.alarms.min_requests
    more = dataclasses.replace(settings, alarms=dataclasses.replace(settings.alarms, min_requests=100))
    longer = build_profile("smoke", more)
    assert longer.expected_requests >= 150 and longer.users_at(1) == smoke.users_at(1)


def test_a_gated_run_runs_on_past_its_end_until_it_has_min_requests_up_to_twice_its_duration() -> None:
    settings = load_settings("local")
    for name in ("smoke", "peak", "daily"):
        profile = build_profile(name, settings)
        end, judged = profile.duration_seconds, settings.alarms.min_requests
        assert profile.runs_on(end + 1, judged - 1)
        assert not profile.runs_on(end + 1, judged)
        assert not profile.runs_on(2 * end, judged - 1)  # then the gate says too few
    assert build_profile("capacity", settings).min_requests == 0  # judged per step


def test_a_daily_run_compressed_past_the_designed_peak_rate_is_refused_naming_the_setting() -> None:
    settings = load_settings("local")
    squeezed = dataclasses.replace(settings, load=dataclasses.replace(settings.load, daily_run_seconds=60))
    with pytest.raises(ValueError, match=r"load\.daily_run_seconds: 60 s .* make it >= \d+ s"):
        build_profile("daily", squeezed)


def test_capacity_profile_steps_up_to_the_maximum_rate() -> None:
    settings = load_settings("local")
    load = dataclasses.replace(
        settings.load, capacity_step_rate=5, capacity_step_seconds=30, capacity_max_rate=22
    )
    capacity = build_profile("capacity", dataclasses.replace(settings, load=load))
    assert capacity.duration_seconds == 5 * 30  # 5, 10, 15, 20, 25: the last step reaches past 22
    assert [capacity.rate(t) for t in (0, 29.9, 30, 89, 90, 149.9)] == [5, 5, 10, 15, 20, 25]
    assert capacity.peak_rate == 25
    assert integrate(capacity.rate, capacity.duration_seconds) == pytest.approx(
        capacity.expected_requests, rel=0.01
    )


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
    alarms = load_settings("local").alarms
    assert [str(b) for b in evaluate(empty, alarms)] == [
        f"too few requests to judge: 0 < alarms.min_requests ({alarms.min_requests}); "
        "the alarms read 0 below it"
    ]


def test_gate_judges_no_run_with_fewer_requests_than_the_alarms_do() -> None:
    """The stage's rate and latency alarms read 0 below alarms.min_requests requests: a run with
    fewer fails, however good its figures, and its figures are not judged."""
    alarms = load_settings("local").alarms
    fine = Measured(
        requests=alarms.min_requests - 1, failures=0, p50_ms=5, p95_ms=9, p99_ms=9, five_xx=0, four_xx=0
    )
    lines = verdict(fine, evaluate(fine, alarms), "gate").splitlines()
    assert lines[0] == "gate: FAIL"
    needed = alarms.min_requests
    assert lines[2:] == [
        f"  too few requests to judge: {needed - 1} < alarms.min_requests ({needed}); "
        "the alarms read 0 below it"
    ]
    slow = dataclasses.replace(fine, p99_ms=alarms.p99_latency_ms * 3, failures=3)
    assert [b.threshold for b in evaluate(slow, alarms)] == ["alarms.min_requests"]  # nothing else judged
    enough = dataclasses.replace(fine, requests=alarms.min_requests)
    assert evaluate(enough, alarms) == []


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


def test_gate_judges_the_exact_latencies_not_locusts_rounded_ones() -> None:
    """Locust files 504 ms under 500 and 1,049 ms under 1,000: a run 4 ms over its p95 limit and
    49 ms over its p99 one would pass on Locust's percentiles."""
    alarms = load_settings("local").alarms
    over_p95 = alarms.p95_latency_ms + 4
    times = [20.0] * 94 + [over_p95] * 6
    run = measured(100, 0, times, five_xx=0, four_xx=0, throttled=0)
    assert run.p95_ms == over_p95 and run.p50_ms == 20.0
    assert [b.threshold for b in evaluate(run, alarms)] == ["alarms.p95_latency_ms"]
    within = measured(100, 0, [20.0] * 95 + [over_p95] * 5, five_xx=0, four_xx=0, throttled=0)
    assert evaluate(within, alarms) == []
