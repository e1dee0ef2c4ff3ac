"""The `capacity` profile's measurements: requests per step of the ramp, and the knee.

The ramp (loadtest._profiles, profile `capacity`) raises the target rate by load.capacity_step_rate
every load.capacity_step_seconds up to load.capacity_max_rate. Each request is filed under the
wall-clock second it started in (`Timeline`; with `--processes` the workers send theirs to the
master with their stats), so a step is judged on its own requests, whatever the report lag.
A step is judged on its last (1 - SETTLE_SHARE) of seconds, once its clients have spread out.

A step *holds* when its p99 is within alarms.p99_latency_ms, its failures within
alarms.error_rate_percent, and it sent at least HELD_RATE_SHARE of its target rate (clients pace
their actions, so a server slower than the pacing lowers the rate before the p99 shows it).
The knee is the last step that holds before the first one that does not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

from infra.settings import AlarmSettings

SETTLE_SHARE = 0.2  # the first fifth of a step is not judged: its new clients are still spreading
HELD_RATE_SHARE = 0.8  # a step that sent less than this share of its target rate does not hold
REPORT_LAG_SECONDS = 4.0  # workers report every 3 s: a step is judged this long after its end


@dataclasses.dataclass
class Second:
    """The requests that started in one wall-clock second."""

    times_ms: list[float] = dataclasses.field(default_factory=list)
    failures: int = 0


class Timeline:
    """Requests filed by the second they started in; mergeable across processes."""

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = {}

    def add(self, started: float, response_time_ms: float, failed: bool) -> None:
        second = self.seconds.setdefault(int(started), Second())
        second.times_ms.append(response_time_ms)
        second.failures += failed

    def take(self) -> dict[str, list[float | int]]:
        """The seconds recorded since the last take, as plain data for a worker report."""
        data: dict[str, list[float | int]] = {
            str(key): [second.failures, *second.times_ms] for key, second in self.seconds.items()
        }
        self.seconds = {}
        return data

    def merge(self, data: Mapping[str, Sequence[float | int]]) -> None:
        for key, (failures, *times) in data.items():
            second = self.seconds.setdefault(int(key), Second())
            second.failures += int(failures)
            second.times_ms.extend(float(t) for t in times)

    def times(self) -> list[float]:
        """Every response time recorded."""
        return [time for second in self.seconds.values() for time in second.times_ms]

    def window(self, start: float, end: float) -> tuple[list[float], int]:
        """Response times and failures of the requests started in [start, end)."""
        times: list[float] = []
        failures = 0
        for key in range(math.ceil(start), math.ceil(end)):
            second = self.seconds.get(key)
            if second is not None:
                times.extend(second.times_ms)
                failures += second.failures
        return times, failures


def percentile(values: Iterable[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclasses.dataclass(frozen=True)
class Step:
    target_rate: float  # requests/s the ramp asked for
    seconds: float  # the judged part of the step
    requests: int
    failures: int
    p99_ms: float

    @property
    def rate(self) -> float:
        """Requests/s the step sent."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate_percent(self) -> float:
        return 100.0 * self.failures / self.requests if self.requests else 0.0

    def breaches(self, alarms: AlarmSettings) -> list[str]:
        """Why the step does not hold (empty: it holds)."""
        found = []
        if self.p99_ms > alarms.p99_latency_ms:
            found.append(f"p99 {self.p99_ms:.0f} ms > alarms.p99_latency_ms {alarms.p99_latency_ms:g}")
        if self.error_rate_percent > alarms.error_rate_percent:
            found.append(
                f"failures {self.error_rate_percent:.1f} % > alarms.error_rate_percent "
                f"{alarms.error_rate_percent:g}"
            )
        if self.rate < HELD_RATE_SHARE * self.target_rate:
            found.append(f"sent {self.rate:.1f} requests/s < {HELD_RATE_SHARE:.0%} of the target")
        return found

    def line(self, alarms: AlarmSettings) -> str:
        breaches = self.breaches(alarms)
        return (
            f"target {self.target_rate:6.1f}/s  sent {self.rate:6.1f}/s  requests {self.requests:5d}  "
            f"failures {self.failures:4d}  p99 {self.p99_ms:6.0f} ms  "
            + ("BREACH " + "; ".join(breaches) if breaches else "holds")
        )


def measure(timeline: Timeline, target_rate: float, start: float, end: float) -> Step:
    """The step of the ramp that ran from `start` to `end` (wall clock), its settling time skipped."""
    judged_from = start + (end - start) * SETTLE_SHARE
    times, failures = timeline.window(judged_from, end)
    return Step(target_rate, end - judged_from, len(times), failures, percentile(times, 0.99))


@dataclasses.dataclass(frozen=True)
class Knee:
    held: Step | None  # the highest step holding every threshold before the first breach
    breached: Step | None  # the first step that did not hold (None: the ramp reached its maximum)


def knee(steps: Sequence[Step], alarms: AlarmSettings) -> Knee:
    """The last step that holds before the first that does not."""
    held = None
    for step in steps:
        if step.breaches(alarms):
            return Knee(held, step)
        held = step
    return Knee(held, None)


def report(steps: Sequence[Step], alarms: AlarmSettings) -> str:
    """The lines a capacity run prints at its end."""
    lines = ["capacity ramp:"] + [f"  step {i + 1:2d}: {step.line(alarms)}" for i, step in enumerate(steps)]
    found = knee(steps, alarms)
    if found.held is None:
        lines.append("capacity knee: none, the first step already breaches")
    else:
        lines.append(
            f"capacity knee: {found.held.rate:.1f} requests/s (step target {found.held.target_rate:g}/s, "
            f"p99 {found.held.p99_ms:.0f} ms, limit {alarms.p99_latency_ms:g} ms)"
            + ("" if found.breached else "; the ramp reached load.capacity_max_rate without a breach")
        )
    return "\n".join(lines)
