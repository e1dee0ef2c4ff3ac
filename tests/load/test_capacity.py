"""The capacity profile's measurements: requests filed per second, steps judged, the knee."""

from __future__ import annotations

import pytest

from infra.settings import AlarmSettings
from loadtest._capacity import Step, Timeline, knee, measure, percentile, report
from loadtest._settings import load_run_settings

pytestmark = pytest.mark.load


@pytest.fixture
def alarms() -> AlarmSettings:
    return load_run_settings("local").alarms


def step(target: float, p99_ms: float, requests: int | None = None, failures: int = 0) -> Step:
    """A step of 10 judged seconds that sent its target rate unless told otherwise."""
    return Step(target, 10.0, int(target * 10) if requests is None else requests, failures, p99_ms)


def test_the_knee_is_the_last_step_holding_the_p99_before_the_first_that_does_not(
    alarms: AlarmSettings,
) -> None:
    limit = alarms.p99_latency_ms
    steps = [
        step(5, limit / 10),
        step(10, limit / 2),
        step(15, limit),
        step(20, limit + 1),
        step(25, limit / 2),
    ]
    found = knee(steps, alarms)
    assert found.held == steps[2]  # exactly at the limit holds
    assert found.breached == steps[3]  # a later step that holds again does not count


def test_no_knee_when_the_first_step_already_breaches(alarms: AlarmSettings) -> None:
    found = knee([step(5, alarms.p99_latency_ms * 3), step(10, 1)], alarms)
    assert found.held is None
    assert "capacity knee: none" in report([step(5, alarms.p99_latency_ms * 3)], alarms)


def test_a_ramp_that_never_breaches_has_its_last_step_as_the_knee(alarms: AlarmSettings) -> None:
    steps = [step(5, 10), step(10, 12)]
    assert knee(steps, alarms).held == steps[1] and knee(steps, alarms).breached is None
    assert "reached load.capacity_max_rate without a breach" in report(steps, alarms)


def test_failures_above_the_error_rate_or_a_rate_not_held_breach_too(alarms: AlarmSettings) -> None:
    fast_failures = step(10, 5, requests=100, failures=int(alarms.error_rate_percent) + 5)
    assert any("alarms.error_rate_percent" in b for b in fast_failures.breaches(alarms))
    too_slow = step(10, 5, requests=50)  # 5 requests/s of a 10/s target: clients waited on the server
    assert too_slow.breaches(alarms) == ["sent 5.0 requests/s < 80% of the target"]
    assert knee([step(5, 5), too_slow], alarms).held == step(5, 5)


def test_the_report_names_the_knee_rate_and_each_step(alarms: AlarmSettings) -> None:
    steps = [step(5, 40), step(10, 60, requests=97), step(15, alarms.p99_latency_ms * 2)]
    lines = report(steps, alarms).splitlines()
    assert lines[0] == "capacity ramp:"
    assert lines[1].startswith("  step  1: target    5.0/s  sent    5.0/s") and lines[1].endswith("holds")
    assert "BREACH p99" in lines[3]
    assert lines[-1] == (
        f"capacity knee: 9.7 requests/s (step target 10/s, p99 60 ms, limit {alarms.p99_latency_ms:g} ms)"
    )


def test_a_step_is_judged_on_the_requests_started_in_it_after_its_settling_time() -> None:
    timeline = Timeline()
    for second in range(100, 110):  # one request a second, 10 ms, except a slow one
        timeline.add(second + 0.5, 500.0 if second == 101 else 10.0, failed=second == 109)
    timeline.add(110.2, 9000.0, failed=True)  # the next step's

    judged = measure(timeline, target_rate=1.0, start=100.0, end=110.0)

    assert judged.seconds == pytest.approx(8.0)  # the first 20 % settle
    assert judged.requests == 8 and judged.failures == 1
    assert judged.p99_ms == 10.0  # the slow request was in the settling time


def test_timelines_of_worker_processes_merge_into_the_masters() -> None:
    master, worker_a, worker_b = Timeline(), Timeline(), Timeline()
    worker_a.add(200.1, 5.0, failed=False)
    worker_b.add(200.7, 7.0, failed=True)
    worker_b.add(201.0, 9.0, failed=False)
    master.merge(worker_a.take())
    master.merge(worker_b.take())
    assert worker_a.seconds == {} and worker_b.seconds == {}  # taken once, sent once
    assert master.window(200, 202) == ([5.0, 7.0, 9.0], 1)
    assert master.window(201, 202) == ([9.0], 0)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.99) == 0.0
